"""The reordering-gallery benchmark's scoring and clips (benchmarks/tracking_reorder.py)."""
from __future__ import annotations

import cv2
import numpy as np

from benchmarks.tracking_reorder import jitter, reorder_clip, score_ids
from tests.scenes import astronaut_bgr


def test_score_ids_counts_splits_and_mixed_people():
    # Person 0 always under id 1; person 1 under ids 2 and 3; id 3 also holds person 2 once.
    obs = [(1, 0)] * 4 + [(2, 1)] * 3 + [(3, 1)] * 3 + [(3, 2)]
    per_person, impure, ids = score_ids(obs)
    assert per_person == (1 + 2 + 1) / 3 and ids == 3
    assert impure == 1 / len(obs)  # id 3's odd observation: person 2 under person 1's id


def test_jitter_stays_within_its_ranges():
    rng = np.random.default_rng(0)
    img = astronaut_bgr()[:256, :256]
    out = jitter(img, rng, shift=0.0, scale=0.0)
    assert out.shape == img.shape
    # No shift or scale: only light, noise and JPEG, so the picture is still close.
    assert np.abs(out.astype(float) - img).mean() < 0.2 * img.mean()


def test_reorder_clip_shuffles_tiles_on_schedule(tmp_path):
    face = astronaut_bgr()[20:276, 110:366]
    for k in range(9):
        d = tmp_path / "Happy"
        d.mkdir(exist_ok=True)
        cv2.imwrite(str(d / f"{k}.jpg"), np.clip(face.astype(int) + 10 * k, 0, 255).astype(np.uint8))
    from training.data import folder_files

    files = [p for p, _ in folder_files(str(tmp_path))]
    clip = reorder_clip(files, np.random.default_rng(1), frames=9, every=4)
    assert len(clip) == 9 and clip[0][0].shape == (720, 1280, 3)
    orders = [tuple(order) for _, order in clip]
    assert orders[0] == tuple(range(9)) and len(set(orders[:4])) == 1 and len(set(orders[4:8])) == 1
    assert sorted(orders[4]) == list(range(9)) and orders[4] != orders[0]
