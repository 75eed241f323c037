"""The detector's high-resolution pass in stripes against the one pass it replaced, and against
capping that pass at 1024 px (a script, not a test).

    python benchmarks/detector_stripes.py [--galleries 6] [--photos DIR] [--skip-memory]

Prints, for the default detector (``fer_core.detect.DEFAULT_DETECTOR``) with its
high-resolution pass whole (``hires_stripe_pixels=0``), in stripes (the default,
``HIRES_STRIPE_PIXELS``) and capped at 1024 px:

* recall and false positives on synthetic galleries at photo sizes (``bench_detectors``'s
  ``make_gallery``: faces from the benchmark's photos, 40-250 px brow to chin);
* a sweep of one real face (the astronaut), 40-320 px, centred on the first cut between two
  stripes and up to 200 px either side: the detections of the striped pass must equal the
  whole pass's (same count, IoU > 0.8);
* with ``--photos DIR`` (any folder of face photos, e.g. a sample of ../shared/data/muxspace),
  each photo pasted, resized by 0.5-2x, across a cut of a 2000 x 1500 canvas: faces found by
  each configuration, and on how many photos the stripes' detections equal the whole pass's;
* unless ``--skip-memory``, the peak memory of one detection on a 2000 x 1500 image (a
  48-megapixel JPEG is analysed at that size), each configuration in a fresh process.
"""
from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.bench_detectors import face_samples, make_gallery, match  # noqa: E402
from fer_core import detect  # noqa: E402
from tests.scenes import ASTRONAUT_FACE, astronaut_bgr, iou  # noqa: E402

CONFIGS = {"whole pass": {"hires_stripe_pixels": 0}, "stripes": {},
           "cap 1024": {"hires_stripe_pixels": 0, "hires_max_side": 1024}}

_PEAK = """
import sys
import numpy as np
from fer_core import detect
from fer_core.memory import peak_rss_mb, release_memory, rss_mb, tune_allocator
tune_allocator()
det = detect.load_detector(detect.DEFAULT_DETECTOR, **eval(sys.argv[1]))
det.detect(np.full((480, 640, 3), 120, np.uint8))
image = np.random.default_rng(0).integers(0, 256, (1500, 2000, 3), dtype=np.uint8)
release_memory()
base = rss_mb()
with open("/proc/self/clear_refs", "w") as f:
    f.write("5")
det.detect(image)
print(peak_rss_mb() - base)
"""


def paste(canvas: np.ndarray, img: np.ndarray, cx: float, cy: float) -> np.ndarray:
    h, w = img.shape[:2]
    x0 = int(np.clip(cx - w / 2, 0, canvas.shape[1] - w))
    y0 = int(np.clip(cy - h / 2, 0, canvas.shape[0] - h))
    out = canvas.copy()
    out[y0:y0 + h, x0:x0 + w] = img
    return out


def same(a, b) -> bool:
    return len(a) == len(b) and all(iou(p.box, q.box) > 0.8 for p, q in zip(a, b))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--galleries", type=int, default=6, help="galleries per size (default 6)")
    p.add_argument("--photos", type=Path, default=None, help="folder of face photos to paste across the cuts")
    p.add_argument("--skip-memory", action="store_true")
    args = p.parse_args(argv)
    cv2.setNumThreads(1)
    dets = {k: detect.load_detector(detect.DEFAULT_DETECTOR, **kw) for k, kw in CONFIGS.items()}
    whole, striped = dets["whole pass"], dets["stripes"]
    print(f"{detect.DEFAULT_DETECTOR}: stripes of at most {detect.HIRES_STRIPE_PIXELS} tensor pixels, "
          f"overlap {striped.stripe_overlap} px; 2000 x 1500 passes: "
          f"{[v.tensor_hw for v in striped.views(2000, 1500)]}")

    sources = face_samples()
    for size, face_px, grid in [((2000, 1500), (40, 80), (5, 5)), ((2000, 1500), (80, 250), (5, 4)),
                                ((2309, 1732), (40, 80), (6, 6)), ((1500, 2000), (40, 120), (4, 6))]:
        rng = np.random.default_rng(1)
        galleries = [make_gallery(sources, rng, *grid, size, face_px) for _ in range(args.galleries)]
        n = sum(len(g.faces) for g in galleries)
        cells = []
        for name, det in dets.items():
            tp = fp = 0
            for g in galleries:
                a, b = match(det.detect(g.image), g)
                tp, fp = tp + a, fp + b
            cells.append(f"{name} {tp}/{n} FP {fp}")
        print(f"galleries {size[0]}x{size[1]}, faces {face_px[0]}-{face_px[1]} px: " + " | ".join(cells), flush=True)

    width, height = 2000, 1500
    cuts = [v.own[2] / v.scale for v in striped.views(width, height)[1:-1]]
    rng = np.random.default_rng(0)
    background = cv2.resize(rng.integers(60, 200, (height // 8, width // 8, 3), dtype=np.uint8), (width, height))
    face, (fx, fy, fw, fh) = astronaut_bgr(), ASTRONAUT_FACE
    equal = total = 0
    for px in (40, 60, 100, 150, 200, 250, 280, 320):
        for offset in range(-200, 201, 8):
            z = px / fh
            cx, cy = cuts[0] + offset, height / 2
            m = np.float32([[z, 0, cx - z * (fx + fw / 2)], [0, z, cy - z * (fy + fh / 2)]])
            warped = cv2.warpAffine(face, m, (width, height), flags=cv2.INTER_AREA)
            mask = cv2.warpAffine(np.ones(face.shape[:2], np.uint8), m, (width, height)) > 0
            img = background.copy()
            img[mask] = warped[mask]
            total += 1
            equal += same(whole.detect(img), striped.detect(img))
    print(f"one face 40-320 px across the cut at x={cuts[0]:.0f}: stripes equal to the whole pass "
          f"on {equal} of {total} placements", flush=True)

    if args.photos:
        files = sorted(f for f in args.photos.rglob("*") if f.suffix.lower() in (".jpg", ".jpeg", ".png"))
        found = dict.fromkeys(dets, 0)
        equal = 0
        for f in files:
            img = cv2.imread(str(f))
            if img is None:
                continue
            z = rng.uniform(0.5, 2.0)
            img = cv2.resize(img, None, fx=z, fy=z, interpolation=cv2.INTER_AREA if z < 1 else cv2.INTER_LINEAR)
            img = img[:height, :width]
            cx = cuts[int(rng.integers(len(cuts)))] + rng.uniform(-0.3, 0.3) * img.shape[1]
            canvas = paste(background, img, cx, rng.uniform(img.shape[0] / 2, height - img.shape[0] / 2))
            out = {k: d.detect(canvas) for k, d in dets.items()}
            for k in dets:
                found[k] += len(out[k])
            if same(out["whole pass"], out["stripes"]):
                equal += 1
            else:
                print(f"  {f.name}: whole pass {[(d.box, round(d.score, 2)) for d in out['whole pass']]}, "
                      f"stripes {[(d.box, round(d.score, 2)) for d in out['stripes']]}")
        print(f"{len(files)} photos from {args.photos} pasted across the cuts: faces found "
              + ", ".join(f"{k} {v}" for k, v in found.items())
              + f"; stripes equal to the whole pass on {equal}", flush=True)

    if not args.skip_memory:
        for name, kw in CONFIGS.items():
            out = subprocess.run([sys.executable, "-c", _PEAK, repr(kw)], capture_output=True, text=True,
                                 check=True, cwd=ROOT)
            print(f"peak memory of one 2000 x 1500 detection, {name}: +{float(out.stdout.split()[-1]):.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
