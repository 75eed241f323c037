"""Peak memory of decoding and analysing one large photo (a script, not a test).

    python benchmarks/memory.py [--megapixels 48] [--format JPEG] [--keep DIR] [--stripe-pixels N]

Writes a photo of the given size (a real face tiled over a textured background, so the
file has realistic entropy and the analysis finds faces) into a temporary folder, then in
a fresh child process: loads the shipped model, runs one small analysis (the server's
state after its first visitor), and then reads the file, ``decode_image`` and ``analyze``
exactly as the Photo page does. It prints the process's resident memory (RSS) after each
step and the peak (``ru_maxrss``), plus the peak of Python-tracked allocations
(``tracemalloc``, which also sees NumPy buffers) inside ``decode_image`` alone.

A fresh child per measurement keeps the file's creation out of the figures. Peaks are
``/proc/self/status`` VmHWM (``getrusage`` would report the parent's peak after exec).
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def rss_mb() -> float:
    from fer_core.memory import rss_mb as rss

    return rss()


def peak_mb() -> float:
    """Peak RSS of this process image: ``/proc`` VmHWM, not ``getrusage``'s ru_maxrss,
    which carries over the parent's peak through fork + exec."""
    from fer_core.memory import peak_rss_mb

    return peak_rss_mb()


def make_photo(path: Path, megapixels: float, fmt: str, progressive: bool = False) -> tuple[int, int]:
    """A 4:3 photo of about ``megapixels`` with faces tiled over noise-textured background."""
    import cv2
    import numpy as np

    from tests.scenes import astronaut_bgr

    w = int((megapixels * 1e6 * 4 / 3) ** 0.5)
    h = int(w * 3 / 4)
    rng = np.random.default_rng(0)
    small = rng.integers(60, 200, (h // 8 + 1, w // 8 + 1, 3), dtype=np.uint8)
    img = cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
    del small
    side = h // 3
    face = cv2.resize(astronaut_bgr()[0:400, 60:460], (side, side), interpolation=cv2.INTER_AREA)
    for x in range(side // 4, w - side, side + side // 2):
        img[h // 3:h // 3 + side, x:x + side] = face
    ext = {"JPEG": ".jpg", "PNG": ".png", "WEBP": ".webp", "BMP": ".bmp"}[fmt]
    params = [cv2.IMWRITE_JPEG_QUALITY, 92, cv2.IMWRITE_JPEG_PROGRESSIVE, int(progressive)] \
        if fmt == "JPEG" else []
    ok, buf = cv2.imencode(ext, img, params)
    assert ok
    path.write_bytes(buf.tobytes())
    return w, h


def measure(path: str, trim: bool = False, stripe_pixels: int | None = None, tune: bool = True) -> None:
    """Child process: model first, then read + decode + analyse as the Photo page does (with the
    allocator settings the app's entry point sets, unless ``tune`` is false)."""
    import tracemalloc

    import numpy as np

    if tune:
        from fer_core.memory import tune_allocator

        print(f"  allocator settings: {tune_allocator() or 'from the environment'}")

    if stripe_pixels is not None:
        import fer_core.detect

        fer_core.detect.HIRES_STRIPE_PIXELS = stripe_pixels

    from fer_core import load_recognizer
    from fer_core.imageio import decode_image

    print(f"  start (imports)            RSS {rss_mb():6.0f} MB")
    rec = load_recognizer()
    rec.analyze(np.full((480, 640, 3), 120, np.uint8))
    base = rss_mb()
    print(f"  model loaded, one analysis RSS {base:6.0f} MB   peak so far {peak_mb():6.0f} MB")
    data = Path(path).read_bytes()
    print(f"  file read ({len(data) / 1e6:.1f} MB)       RSS {rss_mb():6.0f} MB")
    tracemalloc.start()
    image = decode_image(data)
    _, traced_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(f"  decoded {image.bgr.shape[1]}x{image.bgr.shape[0]} ({image.format}, "
          f"scale {image.scale:.3f})  RSS {rss_mb():6.0f} MB   peak {peak_mb():6.0f} MB   "
          f"traced peak inside decode_image {traced_peak / 1e6:.0f} MB")
    faces = rec.analyze(image.bgr)
    print(f"  analysed: {len(faces)} faces            RSS {rss_mb():6.0f} MB   peak {peak_mb():6.0f} MB")
    del image, data
    if trim:
        from fer_core.memory import release_memory

        release_memory()
        print(f"  upload freed, release_memory() RSS {rss_mb():6.0f} MB")
    print(f"RESULT peak RSS {peak_mb():.0f} MB (model-loaded baseline {base:.0f} MB, "
          f"+{peak_mb() - base:.0f} MB for this photo)")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--megapixels", type=float, default=48.0, help="photo size (default 48)")
    p.add_argument("--format", default="JPEG", choices=["JPEG", "PNG", "WEBP", "BMP"])
    p.add_argument("--keep", type=Path, default=None, help="write the photo here instead of a temp folder")
    p.add_argument("--progressive", action="store_true", help="progressive JPEG (libjpeg buffers all coefficients)")
    p.add_argument("--trim", action="store_true", help="call fer_core.memory.release_memory() after the analysis")
    p.add_argument("--untuned", action="store_true",
                   help="leave glibc's allocator as it is (the app sets it: fer_core.memory.tune_allocator)")
    p.add_argument("--stripe-pixels", type=int, default=None,
                   help="the detector's fer_core.detect.HIRES_STRIPE_PIXELS for this run (0: one "
                        "high-resolution pass, as before the stripes)")
    p.add_argument("--measure", default=None, help=argparse.SUPPRESS)  # child mode
    p.add_argument("--make", default=None, help=argparse.SUPPRESS)  # child mode
    args = p.parse_args(argv)
    if args.measure:
        measure(args.measure, args.trim, args.stripe_pixels, not args.untuned)
        return 0
    if args.make:
        w, h = make_photo(Path(args.make), args.megapixels, args.format, args.progressive)
        print(f"{args.format} {w}x{h} ({w * h / 1e6:.1f} MP{', progressive' if args.progressive else ''}), "
              f"{Path(args.make).stat().st_size / 1e6:.1f} MB on disk")
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"big_{args.megapixels:g}mp{'_prog' if args.progressive else ''}.{args.format.lower()}"
        common = ["--megapixels", str(args.megapixels), "--format", args.format]
        if not path.exists():
            subprocess.check_call([sys.executable, __file__, "--make", str(path), *common]
                                  + (["--progressive"] if args.progressive else []), cwd=ROOT)
        env = dict(os.environ, OMP_NUM_THREADS=os.environ.get("OMP_NUM_THREADS", "1"))
        return subprocess.call([sys.executable, __file__, "--measure", str(path), *common]
                               + (["--trim"] if args.trim else []) + (["--untuned"] if args.untuned else [])
                               + ([f"--stripe-pixels={args.stripe_pixels}"] if args.stripe_pixels is not None else []),
                               env=env, cwd=ROOT)


if __name__ == "__main__":
    sys.exit(main())
