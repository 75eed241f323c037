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


_FRAGMENT = """
import sys
import numpy as np
from fer_core.memory import rss_mb, tune_allocator
if sys.argv[1] == "tuned":
    print(sorted(tune_allocator(env={"MALLOC_ARENA_MAX": "4"})))
a = np.ones(30_000_000, np.uint8)  # a large photo's buffer: mapped, and freeing it raises
del a                              # glibc's dynamic mmap threshold to 30 MB
base = rss_mb()
bufs, pins = [], []
for _ in range(40):  # the next photo: 2 MB buffers with small long-lived objects in between
    bufs.append(np.ones(2_000_000, np.uint8))
    pins.append(np.ones(100_000, np.uint8))
del bufs
print(rss_mb() - base)
"""


def _run_fragment(mode: str) -> list[str]:
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    out = subprocess.run([sys.executable, "-c", _FRAGMENT, mode], env=env, capture_output=True,
                         text=True, check=True, timeout=60)
    return out.stdout.split("\n")


def test_tune_allocator_gives_freed_large_buffers_back_and_respects_the_environment():
    import ctypes.util

    import pytest

    if "libc.so" not in (ctypes.util.find_library("c") or "") or not hasattr(ctypes.CDLL(None), "mallopt"):
        pytest.skip("not glibc")
    kept_plain = float(_run_fragment("plain")[0])
    names, kept_tuned = _run_fragment("tuned")[:2]
    # Untuned, the 80 MB of freed 2 MB buffers stay resident in a fragmented heap (the premise);
    # tuned, each had its own mapping and went back to the OS.
    assert kept_plain > 40, kept_plain
    assert float(kept_tuned) < 10, kept_tuned
    assert names == "['MALLOC_MMAP_THRESHOLD_']"  # MALLOC_ARENA_MAX was set by the "operator"


_DETECTOR_PEAK = """
import sys
import numpy as np
import fer_core.detect as detect
from fer_core.memory import peak_rss_mb, release_memory, rss_mb, tune_allocator
tune_allocator()
detect.HIRES_STRIPE_PIXELS = int(sys.argv[1])
det = detect.load_detector("blazeface")
det.detect(np.full((480, 640, 3), 120, np.uint8))
image = np.random.default_rng(0).integers(0, 256, (1500, 2000, 3), dtype=np.uint8)
release_memory()
base = rss_mb()
with open("/proc/self/clear_refs", "w") as f:
    f.write("5")  # reset the peak
det.detect(image)
print(peak_rss_mb() - base)
"""


def test_the_photo_path_high_resolution_pass_runs_in_stripes_with_a_lower_peak():
    """A 48-megapixel JPEG is analysed at 2000 x 1500: its high-resolution pass (1200 x 912) in
    stripes must cost well under the one pass it replaced (measured ~61 against ~117 MB)."""
    import os
    import subprocess
    import sys

    import pytest

    if not os.path.exists("/proc/self/clear_refs"):
        pytest.skip("needs Linux /proc peak RSS")

    def peak(stripe_pixels: int) -> float:
        env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
        out = subprocess.run([sys.executable, "-c", _DETECTOR_PEAK, str(stripe_pixels)], env=env,
                             capture_output=True, text=True, check=True, timeout=120)
        return float(out.stdout.split()[-1])

    striped, whole = peak(detect.HIRES_STRIPE_PIXELS), peak(0)
    assert whole > 90, whole  # the premise: one 1200 x 912 pass
    assert striped < 85 and striped < whole - 30, (striped, whole)


def test_start_scripts_set_the_same_mmap_threshold_as_the_entry_point():
    """Frame buffers (640 x 480 BGR: 0.9 MB; 480 x 360: 0.5 MB) get mappings of their own, and
    every way of starting the server agrees with ``tune_allocator`` (the environment wins)."""
    import re
    from pathlib import Path

    from fer_core.memory import MMAP_THRESHOLD

    assert MMAP_THRESHOLD == 512 * 1024 < 640 * 480 * 3
    root = Path(__file__).resolve().parent.parent
    for name in ("Procfile", "scripts/run_app.sh", "deploy/systemd/fer@.service", "deploy/cluster.py",
                 "docs/DEPLOY.md"):
        values = re.findall(r'MALLOC_MMAP_THRESHOLD_\W{0,6}(?:\$\{MALLOC_MMAP_THRESHOLD_:-)?(\d+)',
                            (root / name).read_text())
        assert values and {int(v) for v in values} == {MMAP_THRESHOLD}, (name, values)


def _jemalloc_path():
    from pathlib import Path

    paths = ("/usr/lib/x86_64-linux-gnu/libjemalloc.so.2", "/usr/lib/aarch64-linux-gnu/libjemalloc.so.2",
             "/usr/lib64/libjemalloc.so.2", "/usr/lib/libjemalloc.so.2")  # as scripts/allocator.sh
    return next((p for p in paths if Path(p).is_file()), None)


def test_allocator_is_named_and_glibc_tuning_steps_aside_under_jemalloc():
    import os
    import subprocess
    import sys

    import pytest

    from fer_core.memory import allocator

    if allocator() != "glibc":
        pytest.skip("this process does not run on glibc's allocator")
    lib = _jemalloc_path()
    if lib is None:
        pytest.skip("libjemalloc2 is not installed")
    code = ("from fer_core.memory import allocator, release_memory, tune_allocator; "
            "print(allocator(), tune_allocator(), release_memory())")
    out = subprocess.run([sys.executable, "-c", code], env={**os.environ, "LD_PRELOAD": lib},
                         capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.split() == ["jemalloc", "{}", "False"]


def test_allocator_script_prefers_jemalloc_and_respects_the_operator():
    import subprocess
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent

    def sourced(**env) -> tuple[str, str]:
        show = '. scripts/allocator.sh; printf "%s|%s" "${LD_PRELOAD:-}" "${MALLOC_CONF:-}"'
        out = subprocess.run(["sh", "-c", show], cwd=root, env={"PATH": "/usr/bin:/bin", **env},
                             capture_output=True, text=True, check=True)
        preload, conf = out.stdout.split("|")
        return preload, conf

    lib = _jemalloc_path()
    preload, conf = sourced()
    assert preload == (lib or "")
    assert ("background_thread:true" in conf) == (lib is not None)
    assert sourced(FER_ALLOCATOR="glibc") == ("", "")
    given = {"LD_PRELOAD": "/opt/x/libjemalloc.so", "MALLOC_CONF": "narenas:1"}
    assert sourced(**given) == (given["LD_PRELOAD"], given["MALLOC_CONF"])
    assert sourced(LD_PRELOAD="/opt/x/libother.so")[1] == ""  # another preload: no jemalloc settings
    assert ". scripts/allocator.sh" in (root / "scripts/run_app.sh").read_text()
    # Heroku's slug has no scripts/ (.slugignore): the Procfile must not need it.
    assert "scripts/" not in (root / "Procfile").read_text()
