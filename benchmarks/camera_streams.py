"""Camera streams of a laptop's user sitting back: the Live page's frame callback with the camera
detector, each analysed frame detected whole (``before``) and with the middle pass first while the
stream's faces are that pass's alone (``after``, ``fer_core.detect.MiddleFirst``), in one run.

    python benchmarks/camera_streams.py --folder ../shared/data/muxspace

Each stream is ``--frames`` frames of one real photo of DIR/<Class>/*.jpg with one sure face
(``tests.scenes.camera_frame``, 40 photos by default), the face a given share of the frame's
height, drifting by a few pixels a frame and resized by about 1%, with sensor noise. For each
camera size the Live page gets (480 x 360, 640 x 480, 640 x 360) and share (15-25%: sitting back;
40%: close) it prints the frames whose face was found (a face of the analysed frame centred in the
photo's face box) and the calling thread's CPU ms a callback, mean and median, before and after,
the two analyzers called in turn on each frame, and the frames the middle pass ran first on.

Then the frames until a face close to the camera is found on a stream of a face of 20% of a
640 x 480 frame: the same person leaning in (to 50-70% of the height), and a second person coming
in beside the first (30-70%), after ``--frames`` to ``--frames`` + 4 frames of the far face (at
each point of the whole-frame pass's round of ``fer_core.detect.MIDDLE_FIRST_REFRESH``); ``at
once`` counts the streams that found it on its first frame. For a second person, also how many of
the frames since showed the far face. ``--no-change-check`` adds the ``after`` without the picture's change check
(the whole-frame pass on one frame in ``fer_core.detect.MIDDLE_FIRST_REFRESH`` only).

Read the CPU figures as ratios: the machines and their loads differ.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

SIZES = ((640, 480), (480, 360), (640, 360))
SHARES = (0.15, 0.2, 0.25, 0.4)
#: The far face of the close-face scenarios, and its frames before the close face comes.
FAR_SHARE = 0.2


def noisy(frame: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``frame`` with a camera's sensor noise (sigma 2 levels)."""
    return np.clip(frame.astype(np.int16) + rng.normal(0, 2, frame.shape).astype(np.int16), 0, 255).astype(np.uint8)


def drifting(photo, size: tuple[int, int], share: float, frames: int, seed: int) -> list:
    """(frame, face box) of a person moving a little in front of the camera."""
    from tests.scenes import camera_frame

    rng = np.random.default_rng(seed)
    sx, sy = float(rng.uniform(-0.4, 0.4)), float(rng.uniform(-0.3, 0.3))
    out = []
    for _ in range(frames):
        sx, sy = sx + float(rng.normal(0, 0.02)), sy + float(rng.normal(0, 0.02))
        frame, box = camera_frame(*size, share * float(1 + rng.normal(0, 0.01)), *photo, shift=(sx, sy), seed=seed)
        out.append((noisy(frame, rng), box))
    return out


def found(faces, box) -> bool:
    fx, fy, fw, fh = box
    return any(fx <= x + w / 2 <= fx + fw and fy <= y + h / 2 <= fy + fh for x, y, w, h in (f.box for f in faces))


def analyzers(rec, attention: bool, variants: dict) -> dict:
    from fer_core.live import LiveAnalyzer

    return {name: LiveAnalyzer(rec, adaptive=False, attention=attention, attention_every=3, middle_first=on)
            for name, on in variants.items()}


def call(analyzer, image: np.ndarray, pts: int) -> tuple[float, tuple]:
    """The thread's CPU ms of one callback, and the faces of the analysed frame."""
    import av

    frame = av.VideoFrame.from_ndarray(image, format="bgr24")
    frame.pts = pts
    c = time.thread_time()
    analyzer.callback(frame)
    return (time.thread_time() - c) * 1000.0, analyzer.snapshot().faces


def far_streams(rec, photos: list, frames: int, attention: bool) -> None:
    print(f"{'camera':<8} {'face':>4}  {'found before':>12} {'after':>5}  {'cpu mean before':>15} {'after':>6} "
          f"{'ratio':>5}  {'median before':>13} {'after':>6}  middle first")
    for size in SIZES:
        for share in SHARES:
            hits = {"before": 0, "after": 0}
            cpu: dict[str, list[float]] = {"before": [], "after": []}
            middle = total = 0
            for k, photo in enumerate(photos):
                runs = analyzers(rec, attention, {"before": False, "after": True})
                seed = 1000 * k + size[0] + round(share * 100)
                for i, (image, box) in enumerate(drifting(photo, size, share, frames, seed)):
                    for name in (("before", "after") if i % 2 else ("after", "before")):  # in turn
                        ms, faces = call(runs[name], image, i)
                        cpu[name].append(ms)
                        hits[name] += found(faces, box)
                    total += 1
                    middle += runs["after"]._rolling is not None and runs["after"]._rolling.last_first == "middle"
            b, a = statistics.fmean(cpu["before"]), statistics.fmean(cpu["after"])
            print(f"{size[0]}x{size[1]:<4} {share:>4.0%}  {hits['before']:>8}/{total:<3} {hits['after']:>5}  "
                  f"{b:>15.2f} {a:>6.2f} {a / b:>5.2f}  {statistics.median(cpu['before']):>13.2f} "
                  f"{statistics.median(cpu['after']):>6.2f}  {middle} of {total}", flush=True)


def close_scenes(photos: list, k: int, kind: str, share: float, frames: int) -> tuple[list, int]:
    """The frames of one close-face scenario, (frame, close face box or None, far face box or None),
    and the first frame of the close face: after ``frames`` to ``frames`` + 4 of the far one, by
    ``k``, so that it comes at each point of the whole-frame pass's round of frames."""
    from fer_core.detect import MIDDLE_FIRST_REFRESH
    from tests.scenes import camera_frame

    rng = np.random.default_rng(k)
    photo = photos[k]
    far, far_box = camera_frame(640, 480, FAR_SHARE, *photo, shift=(-0.8, -0.1) if kind == "beside" else (0.1, -0.1),
                                seed=k)
    if kind == "lean in":
        close, close_box = camera_frame(640, 480, share, *photo, shift=(0.1, 0.0), seed=k)
        keep = None
    else:  # a second person, right of the first
        other, close_box = camera_frame(640, 480, share, *photos[(k + 1) % len(photos)], shift=(0.9, 0.1), seed=k)
        close = far.copy()
        x0 = max(0, close_box[0] - close_box[2] // 3)
        close[:, x0:] = other[:, x0:]
        keep = far_box
    before = frames + k % MIDDLE_FIRST_REFRESH
    return ([(noisy(far, rng), None, far_box) for _ in range(before)]
            + [(noisy(close, rng), close_box, keep) for _ in range(frames)]), before


def close_faces(rec, photos: list, frames: int, no_change_check: bool) -> None:
    from fer_core.detect import MiddleFirst

    variants = {"before": False, "after": True, **({"no change check": True} if no_change_check else {})}
    print(f"\na face close to the camera on a stream of a far one ({FAR_SHARE:.0%} of 640x480): frames until found")
    print(f"{'scenario':<22} {'detection':<16} {'at once':>7} {'1':>3} {'2':>3} {'3':>3} {'4+':>3} "
          f"{'never':>5}  {'far face shown meanwhile':>24}")
    for kind, shares in (("lean in", (0.5, 0.6, 0.7)), ("beside", (0.3, 0.4, 0.5, 0.6, 0.7))):
        for share in shares:
            delays: dict[str, list[int | None]] = {name: [] for name in variants}
            kept = dict.fromkeys(variants, 0)
            shown = 0
            for k in range(len(photos)):
                runs = analyzers(rec, False, variants)
                if no_change_check:
                    runs["no change check"]._rolling = MiddleFirst(rec.detector, max_change=float("inf"))
                first: dict[str, int | None] = dict.fromkeys(variants)
                scenes, arrives = close_scenes(photos, k, kind, share, frames)
                for i, (image, close, far) in enumerate(scenes):
                    for name, analyzer in runs.items():
                        _, faces = call(analyzer, image, i)
                        if close is not None:
                            if first[name] is None and found(faces, close):
                                first[name] = i - arrives
                            if far is not None:
                                kept[name] += found(faces, far)
                    shown += close is not None and far is not None
                for name in variants:
                    delays[name].append(first[name])
            for name in variants:
                d = delays[name]
                counts = [sum(x == n for x in d) for n in range(4)] + [sum(x is not None and x >= 4 for x in d)]
                print(f"{f'{kind} {share:.0%}':<22} {name:<16} "
                      + " ".join(f"{c:>{w}}" for c, w in zip(counts, (7, 3, 3, 3, 3)))
                      + f" {sum(x is None for x in d):>5}  "
                      + (f"{kept[name]:>15} of {shown}" if kind == "beside" else ""),
                      flush=True)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--folder", type=Path, required=True, help="real photos, DIR/<Class>/*.jpg")
    parser.add_argument("--photos", type=int, default=40, help="streams per row (default 40)")
    parser.add_argument("--frames", type=int, default=15, help="frames per stream (default 15)")
    parser.add_argument("--attention", action="store_true", help="attention on, measured on one analysed frame in 3")
    parser.add_argument("--no-change-check", action="store_true",
                        help="also the close faces with the middle pass first and no change check")
    parser.add_argument("--no-pin", action="store_true", help="do not pin the process to one CPU core")
    parser.add_argument("--part", choices=("far", "close", "both"), default="both",
                        help="the far-face streams, the close faces or both (default)")
    args = parser.parse_args(argv)

    import cv2

    if not args.no_pin and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    cv2.setNumThreads(1)

    from benchmarks.bench_webcam import real_photos
    from fer_core import load_recognizer
    from fer_core.detect import CAMERA_DETECTOR, load_detector

    photos = real_photos(args.folder, args.photos)
    if not photos:
        parser.error(f"no photo with one sure face in {args.folder}/<Class>/*.jpg")
    rec = load_recognizer(threads=1, flip_tta=False, detector=load_detector(CAMERA_DETECTOR, threads=1))
    print(f"{len(photos)} streams of {args.frames} frames a row, {rec.detector.name}, attention "
          f"{'1 in 3' if args.attention else 'off'}; load average {os.getloadavg()[0]:.2f}")
    if args.part != "close":
        far_streams(rec, photos, args.frames, args.attention)
    if args.part != "far":
        close_faces(rec, photos, args.frames, args.no_change_check)
    return 0


if __name__ == "__main__":
    sys.exit(main())
