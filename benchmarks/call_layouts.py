"""Faces found on video-call screens as a teacher shares them: galleries of 9, 25 and 49 webcams.

    python benchmarks/call_layouts.py --folder ../shared/data/muxspace

``gallery_recall.py --call`` fills each tile with a face photo. In a real call a tile is a whole
webcam picture: the face is 30-45% of the tile's height for a student at a laptop, less for one
sitting back. This lays out screens of 1920 x 1080 and 2560 x 1440 the way Zoom, Meet and Teams
do: 16:9 tiles with gaps on a dark window (a title bar above, the toolbar below), each webcam a
photo of the folder on a wall or a virtual background, its face ``--shares`` of the tile's
height, a name strip at the foot of every tile, and one camera in eight off (Zoom's name in
large letters, or Meet's coloured circle with an initial). Also the shared-slide layout: a slide
with a strip of 5 webcams above it. Each screen is then scaled to the 1280 x 720 the Live page
captures a shared screen at (and a recorded call is analysed at, ``fer_core.video.iter_frames``);
``--capture 0`` keeps each screen's own size instead (a screenshot on the Photo page, analysed
up to 4 megapixels).

For each detector it prints the faces found (a detection centred on a webcam's face photo), the
extra boxes (centred anywhere else: names, initials, slides, a second box on a face) and the
median thread CPU time per frame, as a ratio to the first detector's, measured in the same run
(the figures of a shared machine vary from run to run; the ratios much less). ``--min-faces``
adds the live shared-screen detector (``blazeface-far``) built with other high-resolution
targets (``min_face``), to compare with what it was. ``--rolling`` adds it as the Live page runs
it on a shared screen (``fer_core.detect.RollingPasses``: one high-resolution stripe a frame, the
other's faces carried from the frame before): each screen is seen first as the frame before,
with a little noise (webcams, compression), then counted and timed.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

Rect = tuple[int, int, int, int]
#: Face box height over photo height in the folder's loose crops (the still detector on 198
#: photos of ../shared/data/muxspace: median 0.85, 10-90% 0.80-0.91).
FACE_IN_PHOTO = 0.85


def grid_tiles(cols: int, rows: int, area: Rect, gap: int) -> list[Rect]:
    """16:9 tiles of a cols x rows grid, as large as fit in ``area`` (x, y, w, h), centred."""
    x0, y0, w, h = area
    tw = min((w - gap * (cols - 1)) / cols, (h - gap * (rows - 1)) / rows * 16 / 9)
    th = tw * 9 / 16
    ox, oy = x0 + (w - cols * tw - gap * (cols - 1)) / 2, y0 + (h - rows * th - gap * (rows - 1)) / 2
    return [
        (int(ox + c * (tw + gap)), int(oy + r * (th + gap)), int(tw), int(th)) for r in range(rows) for c in range(cols)
    ]


def draw_tile(
    screen: np.ndarray,
    tile: Rect,
    photo: np.ndarray | None,
    share: float,
    name: str,
    rng: np.random.Generator,
    style: str = "zoom",
    backdrop: np.ndarray | None = None,
) -> Rect | None:
    """One webcam in ``tile``, in place: ``photo`` (BGR, None: camera off) with its face ``share``
    of the tile's height, on a wall (a gradient) or ``backdrop`` (a virtual background), and the
    name strip. Returns where the photo went (None for a camera off)."""
    import cv2

    font = cv2.FONT_HERSHEY_SIMPLEX
    x, y, w, h = tile
    rect = None
    if photo is None:
        screen[y : y + h, x : x + w] = 38
        if style == "zoom":  # the name, large
            s = max(0.4, h / 90)
            (tw, th), _ = cv2.getTextSize(name, font, s, 1)
            cv2.putText(
                screen,
                name,
                (x + (w - tw) // 2, y + (h + th) // 2),
                font,
                s,
                (255, 255, 255),
                max(1, int(s)),
                cv2.LINE_AA,
            )
        else:  # an initial in a coloured circle
            radius = int(h * 0.22)
            cv2.circle(
                screen,
                (x + w // 2, y + h // 2),
                radius,
                tuple(int(v) for v in rng.integers(60, 200, 3)),
                -1,
                cv2.LINE_AA,
            )
            s = radius / 22
            (tw, th), _ = cv2.getTextSize(name[0], font, s, 2)
            cv2.putText(
                screen, name[0], (x + (w - tw) // 2, y + (h + th) // 2), font, s, (255, 255, 255), 2, cv2.LINE_AA
            )
    else:
        if backdrop is not None:
            screen[y : y + h, x : x + w] = cv2.resize(backdrop, (w, h), interpolation=cv2.INTER_AREA)
        else:
            top, bottom = rng.integers(40, 220, 3).astype(np.float32), rng.integers(40, 220, 3).astype(np.float32)
            t = np.linspace(0, 1, h, dtype=np.float32)[:, None, None]
            screen[y : y + h, x : x + w] = (top * (1 - t) + bottom * t).astype(np.uint8)
        ph = int(round(min(h, share / FACE_IN_PHOTO * h)))
        pw = min(w, int(round(ph * photo.shape[1] / photo.shape[0])))
        slack = w - pw
        px = x + slack // 2 + (int(rng.integers(-slack // 4, slack // 4 + 1)) if slack > 4 else 0)
        py = y + int((h - ph) * 0.55)
        screen[py : py + ph, px : px + pw] = cv2.resize(photo, (pw, ph), interpolation=cv2.INTER_AREA)
        rect = (px, py, pw, ph)
    s = max(0.3, h / 260)
    (tw, th), base = cv2.getTextSize(name, font, s, 1)
    cv2.rectangle(screen, (x + 2, y + h - th - base - 6), (x + tw + 8, y + h - 2), (20, 20, 20), -1)
    cv2.putText(screen, name, (x + 5, y + h - base - 4), font, s, (255, 255, 255), 1, cv2.LINE_AA)
    return rect


def gallery_screen(
    photos: list[np.ndarray | None],
    n: int,
    size: tuple[int, int],
    share: float,
    rng: np.random.Generator,
    style: str = "zoom",
    backdrops: list[np.ndarray | None] | None = None,
) -> tuple[np.ndarray, list[Rect | None]]:
    """An n x n gallery on a ``size`` screen, ``photos[k]`` in tile k (None: camera off); the
    screen and where each photo went."""
    width, height = size
    screen = np.full((height, width, 3), 26, np.uint8)
    top, bottom = int(height * 0.04), int(height * 0.07)  # title bar, toolbar
    tiles = grid_tiles(n, n, (0, top, width, height - top - bottom), max(2, width // 400))
    rects = [
        draw_tile(screen, tile, photo, share, f"Student {k + 1}", rng, style, backdrops[k] if backdrops else None)
        for k, (tile, photo) in enumerate(zip(tiles, photos))
    ]
    return screen, rects


def slide_screen(
    photos: list[np.ndarray], size: tuple[int, int], share: float, rng: np.random.Generator
) -> tuple[np.ndarray, list[Rect | None]]:
    """A shared slide with a strip of webcams above it (Zoom's view while a screen is shared)."""
    import cv2

    width, height = size
    screen = np.full((height, width, 3), 26, np.uint8)
    strip = (int(width * 0.1), int(height * 0.03), int(width * 0.8), int(height * 0.13))
    tiles = grid_tiles(len(photos), 1, strip, 4)
    rects = [draw_tile(screen, t, p, share, f"Student {k + 1}", rng) for k, (t, p) in enumerate(zip(tiles, photos))]
    sy = strip[1] + strip[3] + 10
    cv2.rectangle(
        screen, (int(width * 0.08), sy), (int(width * 0.92), height - int(height * 0.07)), (250, 250, 250), -1
    )
    s = width / 1200
    for i, line in enumerate(["Photosynthesis", "- light reactions", "- the Calvin cycle", "Quiz on Friday"]):
        cv2.putText(
            screen,
            line,
            (int(width * 0.12), sy + int((80 + 70 * i) * s)),
            cv2.FONT_HERSHEY_SIMPLEX,
            (1.6 if i == 0 else 1.1) * s,
            (30, 30, 30),
            2,
            cv2.LINE_AA,
        )
    return screen, rects


def score(dets, rects: list[Rect | None]) -> tuple[int, int]:
    """(faces with a detection centred on their photo, other detections)."""
    seen: set[int] = set()
    extra = 0
    for d in dets:
        x, y, w, h = d.box
        cx, cy = x + w / 2, y + h / 2
        hit = [k for k, r in enumerate(rects) if r and r[0] <= cx < r[0] + r[2] and r[1] <= cy < r[1] + r[3]]
        if hit and hit[0] not in seen:
            seen.add(hit[0])
        else:
            extra += 1
    return len(seen), extra


def captured(screen: np.ndarray, rects: list[Rect | None], width: int = 1280) -> tuple[np.ndarray, list]:
    """The screen as the browser captures it, ``width`` px wide, and the photos' places on it."""
    import cv2

    k = width / screen.shape[1]
    frame = cv2.resize(screen, (width, round(screen.shape[0] * k)), interpolation=cv2.INTER_AREA)
    return frame, [None if r is None else tuple(int(v * k) for v in r) for r in rects]


class Rolling:
    """``detector`` as a shared screen's stream runs it (:class:`fer_core.detect.RollingPasses`):
    :meth:`prime` shows it the frame before, :meth:`detect` the frame counted."""

    def __init__(self, detector) -> None:
        self.detector = detector
        self.passes = None

    def prime(self, frame: np.ndarray) -> None:
        from fer_core.detect import RollingPasses

        noise = np.random.default_rng(int(frame.sum()) % 1000).normal(0, 3, frame.shape)
        self.passes = RollingPasses(self.detector)
        self.passes.detect(np.clip(frame + noise, 0, 255).astype(np.uint8))

    def detect(self, frame: np.ndarray):
        assert self.passes is not None
        return self.passes.detect(frame)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--folder", required=True, help="single-face photos, DIR/<Class>/*.jpg")
    p.add_argument(
        "--detectors",
        nargs="+",
        default=["blazeface-far", "blazeface-still"],
        help="registry names, NAME:key=value to build one otherwise (blazeface-still:min_face=40)",
    )
    p.add_argument(
        "--min-faces",
        nargs="*",
        type=int,
        default=[40],
        help="also blazeface-far with these high-resolution targets (px)",
    )
    p.add_argument(
        "--rolling",
        action="store_true",
        help="also blazeface-far as the Live page runs it on a shared screen (one stripe a frame)",
    )
    p.add_argument("--shares", nargs="+", type=float, default=[0.45, 0.35, 0.28], help="face height over tile height")
    p.add_argument("--screens", type=int, default=3, help="screens per cell")
    p.add_argument(
        "--capture", type=int, default=1280, help="width the screens are captured at (0: their own, a screenshot)"
    )
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)

    import cv2

    from benchmarks.gallery_recall import detector_from_spec, no_face_images, setup
    from fer_core.detect import BlazeFaceDetector

    files, rng, dets = setup(args)
    for m in args.min_faces:
        dets[f"blazeface-far, min_face {m}"] = BlazeFaceDetector(
            "short", score_threshold=0.65, min_face=m, mid_side=256
        )
    if args.rolling:
        dets["blazeface-far, rolling"] = Rolling(detector_from_spec("blazeface-far"))
    backdrops = no_face_images()  # virtual backgrounds: a room, a street, a picture

    def photos(k: int) -> list[np.ndarray]:
        return [cv2.imread(str(files[i])) for i in rng.choice(len(files), k, replace=False)]

    cells: list[tuple[str, list[tuple[np.ndarray, list]]]] = []
    for size in ((1920, 1080), (2560, 1440)):
        for n in (3, 5, 7):
            for share in args.shares:
                shots = []
                for s in range(args.screens):
                    faces: list[np.ndarray | None] = list(photos(n * n))
                    for k in rng.choice(n * n, max(1, n * n // 8), replace=False):
                        faces[k] = None  # cameras off
                    walls = [
                        backdrops[int(rng.integers(len(backdrops)))] if rng.random() < 0.25 else None for _ in faces
                    ]  # a quarter with a virtual background
                    screen, rects = gallery_screen(faces, n, size, share, rng, ("zoom", "meet")[s % 2], walls)
                    shots.append(captured(screen, rects, args.capture or size[0]))
                cells.append((f"{size[0]} x {size[1]} | {n} x {n} | {share:.0%}", shots))
        for share in args.shares:
            shots = [
                captured(*slide_screen(photos(5), size, share, rng), args.capture or size[0])
                for _ in range(args.screens)
            ]
            cells.append((f"{size[0]} x {size[1]} | slide + 5 | {share:.0%}", shots))

    first = next(iter(dets))
    print(
        f"{args.screens} screens per row, photos from {args.folder}, captured "
        + (f"{args.capture} px wide" if args.capture else "at their own size")
        + "; faces found / "
        f"extra boxes / CPU ms per frame relative to {first}\n"
    )
    print("| screen | layout | face / tile height | face px | " + " | ".join(dets) + " |")
    print("|---|---|---:|---:|" + "---:|" * len(dets))
    for label, shots in cells:
        found = {d: [0, 0, []] for d in dets}
        for frame, rects in shots:
            for name, det in dets.items():  # alternately, so that the machine's load falls on all alike
                if isinstance(det, Rolling):
                    det.prime(frame)
                t = time.thread_time()
                out = det.detect(frame)
                found[name][2].append(time.thread_time() - t)
                hit, extra = score(out, rects)
                found[name][0] += hit
                found[name][1] += extra
        total = sum(r is not None for _, rects in shots for r in rects)
        face_px = np.median([r[3] * FACE_IN_PHOTO for _, rects in shots for r in rects if r])
        base = np.median(found[first][2])
        print(
            f"| {label} | {face_px:.0f} | "
            + " | ".join(f"{f}/{total} / {e} / {np.median(ts) / base:.2f}x" for f, e, ts in found.values())
            + " |",
            flush=True,
        )
    print(f"\n{first}: median {1000 * base:.0f} ms CPU on the last row's frames (this machine, this run)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
