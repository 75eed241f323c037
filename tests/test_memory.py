"""Memory helpers, and the detector's arena-free session for large passes."""
import threading

import numpy as np

import fer_core.detect as detect
from fer_core.memory import peak_rss_mb, release_memory, rss_mb, thread_count
from tests.scenes import gallery_frame


def test_process_figures():
    assert 10 < rss_mb() <= peak_rss_mb()
    assert thread_count() >= threading.active_count() >= 1
    assert rss_mb(999_999_999) == 0.0  # no such process: 0, no exception
    assert isinstance(release_memory(collect=True), bool)


def test_large_views_use_the_arena_free_session_with_the_same_results(monkeypatch):
    det = detect.load_detector("blazeface")
    frame = gallery_frame()  # 1280 x 720: whole-frame pass plus a 768 x 432 high-resolution pass
    views = det.views(frame.shape[1], frame.shape[0])
    assert len(views) == 2 and all(det._session_for(v) is det._session for v in views)
    with_arena = det.detect(frame)
    assert det._big_session is None
    monkeypatch.setattr(detect, "ARENA_MAX_PIXELS", 128 * 128)
    assert det._session_for(views[1]) is not det._session
    without = det.detect(frame)
    assert len(without) == len(with_arena) >= 20
    assert np.allclose([d.box for d in without], [d.box for d in with_arena], atol=1)
