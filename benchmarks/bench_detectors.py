"""Compare the face detectors of fer_core: recall, false positives, speed, size.

    python benchmarks/bench_detectors.py                   # all candidates, writes the table
    python benchmarks/bench_detectors.py --repeats 7 --candidates haar blazeface-short --out /tmp/detectors.md

For each candidate it prints and writes to ``benchmarks/results/detectors.md`` (a table of
only some candidates must go elsewhere: ``--out``):

* recall and false positives on real photos: skimage's astronaut, and (if Debian's
  ``opencv-doc`` package is installed) messi5.jpg and the face photos of OpenCV's
  tutorials; false positives also on photos without any human face;
* recall and false positives on synthetic 1280x720 video-call galleries: 5x5 tiles cut
  from those face photos (zoomed so faces are 36-80 px tall, flipped, brightness changed);
* median milliseconds per 640x480 frame with one face and per 1280x720 25-face gallery,
  on one CPU thread (``cv2.setNumThreads(1)``, onnxruntime with one thread); with the
  expression model ``models/fer_model.onnx`` present, also detection + classification;
* the bytes on disk the detector needs (model file or cascade XML).

Install the photos with ``apt-get install opencv-doc``; without them only skimage's
images are used. Timings depend on the machine's load: the load average is printed.
"""
from __future__ import annotations

import argparse
import os
import platform
import shlex
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from fer_core.detect import (  # noqa: E402
    DEFAULT_DETECTOR,
    DETECTORS,
    STILL_DETECTOR,
    BlazeFaceDetector,
    Detection,
    FaceDetector,
    HaarDetector,
    _letterbox_view,
    as_bgr,
)

OPENCV_DOC = Path("/usr/share/doc/opencv-doc")
DATA = OPENCV_DOC / "examples" / "data"
HTML = OPENCV_DOC / "opencv4" / "html"

#: Face photos and their faces (x, y, w, h), boxes drawn by hand around brow-to-chin.
FACE_PHOTOS: dict[str, tuple[str, list[tuple[int, int, int, int]]]] = {
    "astronaut": ("skimage:astronaut", [(172, 65, 105, 115)]),
    "messi5": (str(DATA / "messi5.jpg"), [(224, 92, 34, 36)]),
    "facereg": (str(HTML / "facereg.jpg"), [(17, 112, 71, 71), (117, 113, 66, 67),
                                            (116, 15, 68, 67), (14, 12, 65, 65)]),
    "man1": (str(HTML / "227943776_1.jpg"), [(116, 105, 179, 179)]),
    "man2": (str(HTML / "230501201_1.jpg"), [(140, 240, 330, 340)]),
    "lena": (str(HTML / "blurred.png"), [(195, 195, 205, 205)]),
    "glasses3": (str(HTML / "example.jpg"), [(17, 198, 334, 334), (402, 192, 340, 340),
                                             (790, 195, 340, 340)]),
    "oldphoto4": (str(HTML / "inpaint_basics.jpg"), [(127, 20, 50, 51), (53, 89, 51, 51),
                                                     (355, 23, 48, 48), (279, 94, 47, 47)]),
}
#: Photos with no human face.
NEGATIVE_PHOTOS: dict[str, str] = {
    "chelsea": "skimage:chelsea", "coffee": "skimage:coffee", "rocket": "skimage:rocket",
    **{n: str(DATA / f"{n}.jpg") for n in
       ("baboon", "fruits", "building", "home", "starry_night", "board", "aero1", "orange")},
}


class TiledBlazeFace(BlazeFaceDetector):
    """The alternative to the high-resolution pass that was measured and not chosen: the
    whole-frame pass plus the model on ``cols`` x ``rows`` overlapping tiles (each
    letterboxed to the model input), all boxes merged with weighted NMS."""

    def __init__(self, variant: str = "full", grid: tuple[int, int] = (5, 3),
                 overlap: float = 0.25, **kwargs) -> None:
        super().__init__(variant, **kwargs)
        self.grid, self.overlap = grid, overlap

    def detect(self, image_bgr: np.ndarray) -> list[Detection]:
        image = as_bgr(image_bgr)
        height, width = image.shape[:2]
        size = self.spec.input_size
        parts = [self._candidates(image, _letterbox_view(width, height, size))]
        cols, rows = self.grid
        tw = int(np.ceil(width / (cols - (cols - 1) * self.overlap)))
        th = int(np.ceil(height / (rows - (rows - 1) * self.overlap)))
        for r in range(rows):
            y0 = round(r * (height - th) / max(rows - 1, 1))
            for c in range(cols):
                x0 = round(c * (width - tw) / max(cols - 1, 1))
                crop = image[y0:y0 + th, x0:x0 + tw]
                boxes, scores = self._candidates(crop, _letterbox_view(crop.shape[1], crop.shape[0], size))
                boxes[:, 0::2] += x0
                boxes[:, 1::2] += y0
                parts.append((boxes, scores))
        return self.merge(parts, width, height)


#: Extra configurations measured besides the registry's (name -> factory).
EXTRA_CANDIDATES = {
    "blazeface-full+hires": lambda: BlazeFaceDetector("full", min_face=40),
    "blazeface-full-tiled5x3": lambda: TiledBlazeFace("full", (5, 3)),
}


def load(source: str) -> np.ndarray | None:
    """A BGR image from ``skimage:<name>`` or a file path; None if the file is missing."""
    if source.startswith("skimage:"):
        from skimage import data

        return cv2.cvtColor(getattr(data, source.split(":", 1)[1])(), cv2.COLOR_RGB2BGR)
    return cv2.imread(source) if Path(source).is_file() else None


@dataclass
class Sample:
    name: str
    image: np.ndarray
    faces: list[tuple[float, float, float, float]]  # x, y, w, h
    ignore: list[tuple[float, float, float, float]]  # partly visible faces: neither TP nor FP


def face_samples() -> list[Sample]:
    out = []
    for name, (src, faces) in FACE_PHOTOS.items():
        img = load(src)
        if img is not None:
            out.append(Sample(name, img, [tuple(map(float, f)) for f in faces], []))
    return out


def negative_samples() -> list[Sample]:
    return [Sample(n, img, [], []) for n, src in NEGATIVE_PHOTOS.items() if (img := load(src)) is not None]


def make_gallery(sources: list[Sample], rng: np.random.Generator, cols: int = 5, rows: int = 5,
                 size: tuple[int, int] = (1280, 720), face_px: tuple[int, int] = (36, 80)) -> Sample:
    """A video-call gallery: ``cols`` x ``rows`` tiles, each a zoomed view of one face of
    a random source photo (random flip and brightness), so one face per tile. Other
    faces of the same photo that show in the tile are marked 'ignore'."""
    width, height = size
    tw, th = width // cols, height // rows
    canvas = np.zeros((height, width, 3), np.uint8)
    faces, ignore = [], []
    for r in range(rows):
        for c in range(cols):
            src = sources[rng.integers(len(sources))]
            chosen = int(rng.integers(len(src.faces)))
            fx, fy, fw, fh = src.faces[chosen]
            z = rng.uniform(*face_px) / fh
            # Face centre lands at a random place in the middle part of the tile.
            cx, cy = tw * rng.uniform(0.35, 0.65), th * rng.uniform(0.4, 0.6)
            m = np.float32([[z, 0, cx - z * (fx + fw / 2)], [0, z, cy - z * (fy + fh / 2)]])
            tile = cv2.warpAffine(src.image, m, (tw, th), flags=cv2.INTER_AREA,
                                  borderMode=cv2.BORDER_REPLICATE)
            flip = rng.random() < 0.5
            if flip:
                tile = tile[:, ::-1]
            gain, bias = rng.uniform(0.6, 1.3), rng.uniform(-25, 25)
            tile = np.clip(tile.astype(np.float32) * gain + bias, 0, 255).astype(np.uint8)
            canvas[r * th:(r + 1) * th, c * tw:(c + 1) * tw] = tile
            for i, (x, y, w, h) in enumerate(src.faces):
                x0, y0 = m[0, 0] * x + m[0, 2], m[1, 1] * y + m[1, 2]
                x1, y1 = x0 + z * w, y0 + z * h
                if flip:
                    x0, x1 = tw - x1, tw - x0
                vis_w = max(0.0, min(x1, tw) - max(x0, 0))
                vis_h = max(0.0, min(y1, th) - max(y0, 0))
                frac = vis_w * vis_h / max((x1 - x0) * (y1 - y0), 1e-6)
                box = (max(x0, 0) + c * tw, max(y0, 0) + r * th, vis_w, vis_h)
                if i == chosen:
                    faces.append(box)
                elif frac >= 0.05:
                    ignore.append(box)
    return Sample("gallery", canvas, faces, ignore)


def make_negative_gallery(sources: list[Sample], rng: np.random.Generator, cols: int = 5,
                          rows: int = 5, size: tuple[int, int] = (1280, 720)) -> Sample:
    """A 1280x720 gallery of random crops of photos without faces (false-positive check
    at the resolution where the high-resolution pass runs)."""
    width, height = size
    tw, th = width // cols, height // rows
    canvas = np.zeros((height, width, 3), np.uint8)
    for r in range(rows):
        for c in range(cols):
            img = sources[rng.integers(len(sources))].image
            z = rng.uniform(0.4, 1.0) * min(img.shape[1] / tw, img.shape[0] / th)
            cw, ch = int(tw * z), int(th * z)
            x0 = int(rng.integers(0, img.shape[1] - cw + 1))
            y0 = int(rng.integers(0, img.shape[0] - ch + 1))
            canvas[r * th:(r + 1) * th, c * tw:(c + 1) * tw] = cv2.resize(
                img[y0:y0 + ch, x0:x0 + cw], (tw, th), interpolation=cv2.INTER_AREA)
    return Sample("no-face gallery", canvas, [], [])


def iou(a, b) -> float:
    ax1, ay1, bx1, by1 = a[0] + a[2], a[1] + a[3], b[0] + b[2], b[1] + b[3]
    iw = max(0.0, min(ax1, bx1) - max(a[0], b[0]))
    ih = max(0.0, min(ay1, by1) - max(a[1], b[1]))
    inter = iw * ih
    union = a[2] * a[3] + b[2] * b[3] - inter
    return inter / union if union > 0 else 0.0


def match(dets, sample: Sample, min_iou: float = 0.3) -> tuple[int, int]:
    """(true positives, false positives): detections, best first, each take the unmatched
    face they overlap most (IoU >= min_iou); those overlapping an 'ignore' face don't count."""
    taken = [False] * len(sample.faces)
    tp = fp = 0
    for d in dets:
        ious = [iou(d.box, f) if not taken[i] else 0.0 for i, f in enumerate(sample.faces)]
        best = int(np.argmax(ious)) if ious else -1
        if best >= 0 and ious[best] >= min_iou:
            taken[best] = True
            tp += 1
        elif not any(iou(d.box, g) >= min_iou * 0.5 for g in sample.ignore):
            fp += 1
    return tp, fp


class Timer:
    """Wall-clock milliseconds per call of ``fn``, measured in rounds; each round makes as
    many calls as fit in about ``budget_s`` (at least one)."""

    def __init__(self, fn, budget_s: float = 0.25) -> None:
        self.fn, self.rounds = fn, []
        t = time.perf_counter()
        fn()  # warm-up, and the size of a round
        self.inner = int(min(50, max(1, budget_s / max(time.perf_counter() - t, 1e-6))))

    def round(self) -> None:
        t = time.perf_counter()
        for _ in range(self.inner):
            self.fn()
        self.rounds.append((time.perf_counter() - t) * 1000.0 / self.inner)

    def median(self) -> float:
        return statistics.median(self.rounds)


def disk_bytes(det: FaceDetector) -> int:
    if isinstance(det, BlazeFaceDetector):
        return det.model_path.stat().st_size
    if isinstance(det, HaarDetector):
        return Path(cv2.data.haarcascades, "haarcascade_frontalface_default.xml").stat().st_size
    return 0


def webcam_frame() -> np.ndarray:
    """640x480 frame with the astronaut's face (about 100 px), like a webcam image."""
    img = load("skimage:astronaut")
    img = cv2.resize(img, (480, 480), interpolation=cv2.INTER_AREA)
    return cv2.copyMakeBorder(img, 0, 0, 80, 80, cv2.BORDER_REFLECT)


#: The committed table of every candidate.
RESULTS = ROOT / "benchmarks" / "results" / "detectors.md"


def command_line(args: argparse.Namespace, names: list[str]) -> str:
    """The command that reproduces a table: every option that changes it, the candidates when
    not all of ``names``."""
    cmd = ["python", "benchmarks/bench_detectors.py"]
    if list(args.candidates) != names:
        cmd += ["--candidates", *args.candidates]
    cmd += ["--repeats", str(args.repeats), "--galleries", str(args.galleries), "--seed", str(args.seed)]
    return shlex.join(cmd)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                epilog=__doc__.split("\n\n", 1)[1],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    names = list(DETECTORS) + list(EXTRA_CANDIDATES)
    p.add_argument("--candidates", nargs="+", default=names, choices=names, metavar="NAME",
                   help=f"detectors to measure (default: all of {', '.join(names)})")
    p.add_argument("--galleries", type=int, default=4, help="synthetic 5x5 galleries to score")
    p.add_argument("--repeats", type=int, default=5, help="timing rounds (the median is kept)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=str(RESULTS),
                   help="Markdown table to write ('' to skip; default benchmarks/results/detectors.md, "
                        "for all candidates only)")
    args = p.parse_args(argv)
    if args.out and Path(args.out).resolve() == RESULTS and list(args.candidates) != names:
        p.error("a table of only some candidates would replace benchmarks/results/detectors.md, the table "
                "of all of them: write it elsewhere with --out FILE (or --out '' for none)")

    cv2.setNumThreads(1)
    faces, negatives = face_samples(), negative_samples()
    rng = np.random.default_rng(args.seed)
    galleries = [make_gallery(faces, rng) for _ in range(args.galleries)]
    negatives += [make_negative_gallery(negatives, rng) for _ in range(args.galleries)]
    frame = webcam_frame()
    n_faces = sum(len(s.faces) for s in faces)
    n_gallery = sum(len(g.faces) for g in galleries)
    with_fer = (ROOT / "models" / "fer_model.onnx").is_file()

    load_before = os.getloadavg()[0]
    print(f"{len(faces)} face photos ({n_faces} faces), {len(negatives)} no-face images, "
          f"{len(galleries)} galleries ({n_gallery} faces); load average {load_before:.2f} "
          f"on {os.cpu_count()} CPUs")
    rows, timed = [], []
    for name in args.candidates:
        det = EXTRA_CANDIDATES[name]() if name in EXTRA_CANDIDATES else DETECTORS[name]()
        tp = fp = 0
        for s in faces:
            a, b = match(det.detect(s.image), s)
            tp, fp = tp + a, fp + b
        neg_fp = sum(match(det.detect(s.image), s)[1] for s in negatives)
        gtp = gfp = 0
        for g in galleries:
            a, b = match(det.detect(g.image), g)
            gtp, gfp = gtp + a, gfp + b
        rows.append(dict(name=name, recall=f"{tp}/{n_faces}", fp=fp, neg_fp=neg_fp,
                         g_recall=f"{gtp}/{n_gallery}", g_fp=gfp, bytes=disk_bytes(det)))
        tasks = {"ms_frame": lambda d=det: d.detect(frame),
                 "ms_gallery": lambda d=det: d.detect(galleries[0].image)}
        if with_fer:
            from fer_core.recognizer import load_recognizer

            rec = load_recognizer(detector=det)
            tasks["e2e_frame"] = lambda r=rec: r.analyze(frame)
            tasks["e2e_gallery"] = lambda r=rec: r.analyze(galleries[0].image)
        timed.append({k: Timer(fn) for k, fn in tasks.items()})
        print(f"{name:24s} photos: recall {tp}/{n_faces}, FP {fp}; no-face images: FP {neg_fp}; "
              f"galleries: recall {gtp}/{n_gallery}, FP {gfp}", flush=True)
    # Timing rounds go round-robin over the candidates, so that changes in the machine's
    # load affect all of them alike; each figure is the median of the rounds.
    for _ in range(args.repeats):
        for timers in timed:
            for t in timers.values():
                t.round()
    for row, timers in zip(rows, timed):
        row.update({k: t.median() for k, t in timers.items()})
        row.setdefault("e2e_frame", float("nan"))
        row.setdefault("e2e_gallery", float("nan"))
        print(f"{row['name']:24s} ms per 640x480 frame {row['ms_frame']:7.2f}, per gallery "
              f"{row['ms_gallery']:7.1f}; with FER {row['e2e_frame']:7.2f} / {row['e2e_gallery']:7.1f}; "
              f"{row['bytes'] / 1e6:.2f} MB on disk")
    load_after = os.getloadavg()[0]

    if args.out:
        head = ("| detector | face photos: recall | FP | no-face images: FP | 5x5 galleries: recall "
                "| FP | ms / 640x480 frame | ms / 1280x720 gallery | + FER model: frame / gallery ms "
                "| on disk |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
        body = "".join(
            f"| {r['name']} | {r['recall']} | {r['fp']} | {r['neg_fp']} | {r['g_recall']} | {r['g_fp']} "
            f"| {r['ms_frame']:.2f} | {r['ms_gallery']:.1f} | {r['e2e_frame']:.2f} / {r['e2e_gallery']:.1f} "
            f"| {r['bytes'] / 1e6:.2f} MB |\n" for r in rows)
        note = (f"\n{len(faces)} face photos ({n_faces} faces); {len(negatives)} images without a "
                f"human face ({len(negatives) - args.galleries} photos, {args.galleries} 1280x720 "
                f"galleries of their crops); {len(galleries)} synthetic 1280x720 5x5 galleries "
                f"({n_gallery} faces, 36-80 px brow to chin). A detection is a hit at IoU >= 0.3 with a "
                f"hand-drawn face box; FP = detections that are no hit. Times: "
                f"median of {args.repeats} rounds (round-robin over the detectors), one CPU thread, "
                f"{platform.processor() or platform.machine()}, "
                f"{os.cpu_count()} CPUs, load average {load_before:.2f} -> {load_after:.2f}. "
                f"'+ FER model': Recognizer.analyze with models/fer_model.onnx "
                f"(flip TTA as in its card).\n\nThe default detector (fer_core.detect.DEFAULT_DETECTOR, "
                f"live frames) is `{DEFAULT_DETECTOR}`; photos and video files use `{STILL_DETECTOR}` "
                f"(fer_core.detect.STILL_DETECTOR).\n\nCommand: `{command_line(args, names)}`\n")
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text("# Face detectors\n\n" + head + body + note)
        print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
