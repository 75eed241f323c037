"""Face recall on collages of face photos: galleries of portraits, as people upload them.

    python benchmarks/gallery_recall.py --folder ../shared/data/muxspace

Draws ``--collages`` sets of photos from a folder of single-face photos (DIR/<Class>/*.jpg),
and lays each set out as a grid of ``--tile`` px squares: 2x2, 3x3 and 4x4, touching or with a
light margin of a fifth of a tile around each photo. A tile counts as found when a detection's
centre falls inside it; detections centred on no tile, or a second one in a tile, count as
extra. It also counts detections on photos without a human face (skimage's cat, coffee,
rocket and others, whole and as a 3x3 collage) and, with ``--singles N``, the share of N
single photos of the folder in which a face is found. Timings are the median per image
over the collages, one thread.

With ``--call``, the layouts are instead video-call galleries, as the live page's "A shared
screen" source sees them: frames of 960 x 540, 1280 x 720 and 1920 x 1080 split into n x n
tiles of the same 16:9 shape (n = 2..7), each photo as large as its tile's height and
centred on black.

The detectors are compared as registered in ``fer_core.detect.DETECTORS``; nothing is chosen
here (the middle pass of ``blazeface-still`` is an octave above the model's input, 256 px, by
construction, not by this benchmark).
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

#: Photos without a human face (skimage.data), whole and laid out as a collage.
NO_FACE = ("chelsea", "coffee", "rocket", "coins", "hubble_deep_field", "immunohistochemistry",
           "motorcycle_left", "colorwheel", "retina")


def detector_from_spec(spec: str):
    """A detector by registry name, with keyword arguments after a colon to build it otherwise:
    ``blazeface-still:min_face=40`` is the still detector aimed at faces from 40 px (integers,
    floats, true / false; several separated by commas). Compares a detector with what it was,
    in one run."""
    from fer_core.detect import load_detector

    name, _, rest = spec.partition(":")
    kwargs: dict[str, object] = {}
    for item in filter(None, rest.split(",")):
        key, _, value = item.partition("=")
        low = value.strip().lower()
        if low in ("true", "false"):
            kwargs[key.strip()] = low == "true"
        else:
            kwargs[key.strip()] = float(value) if "." in value else int(value)
    return load_detector(name, **kwargs)


def collage(photos: list[np.ndarray], cols: int, tile: int, margin: float) -> np.ndarray:
    """``photos`` (BGR) resized to tiles of ``tile`` px, in a grid ``cols`` wide, each inside a
    light border of ``margin`` x ``tile`` px (0: touching)."""
    import cv2

    pad = int(round(margin * tile))
    cells = [cv2.copyMakeBorder(cv2.resize(p, (tile, tile), interpolation=cv2.INTER_AREA), pad, pad, pad, pad,
                                cv2.BORDER_CONSTANT, value=(235, 235, 235)) for p in photos]
    rows = [np.hstack(cells[i:i + cols]) for i in range(0, len(cells), cols)]
    return np.vstack(rows)


def call_gallery(photos: list[np.ndarray], n: int, width: int, height: int) -> np.ndarray:
    """A video call's gallery view: a ``width`` x ``height`` frame of n x n tiles, each photo
    (BGR) resized to a square as tall as its tile and centred on black."""
    import cv2

    th, tw = height // n, width // n
    frame = np.zeros((height, width, 3), np.uint8)
    for k, photo in enumerate(photos[:n * n]):
        r, c = divmod(k, n)
        x0, y0 = c * tw + (tw - th) // 2, r * th
        frame[y0:y0 + th, x0:x0 + th] = cv2.resize(photo, (th, th), interpolation=cv2.INTER_AREA)
    return frame


def score_collage(dets, cols: int, rows: int, cell: int, cell_h: int | None = None) -> tuple[int, int]:
    """(tiles with a detection centred in them, extra detections) for a ``cols`` x ``rows``
    collage of ``cell`` px cells (``cell`` wide and ``cell_h`` tall, if given)."""
    seen: set[tuple[int, int]] = set()
    extra = 0
    for d in dets:
        x, y, w, h = d.box
        c, r = int((x + w / 2) // cell), int((y + h / 2) // (cell_h or cell))
        if 0 <= c < cols and 0 <= r < rows and (c, r) not in seen:
            seen.add((c, r))
        else:
            extra += 1
    return len(seen), extra


def no_face_images() -> list[np.ndarray]:
    """skimage's photos without a human face (BGR), those that load."""
    import cv2
    from skimage import data

    out = []
    for name in NO_FACE:
        fn = getattr(data, name, None)
        if fn is None:
            continue
        try:
            img = np.asarray(fn())
        except Exception:  # noqa: BLE001 - a dataset skimage must fetch: skip it
            continue
        if img.ndim == 2:
            img = cv2.cvtColor(img.astype(np.uint8), cv2.COLOR_GRAY2BGR)
        elif img.shape[2] == 4:
            img = cv2.cvtColor(img.astype(np.uint8), cv2.COLOR_RGBA2BGR)
        else:
            img = cv2.cvtColor(img.astype(np.uint8), cv2.COLOR_RGB2BGR)
        out.append(img)
    return out


def call_galleries(args, files: list, rng: np.random.Generator, dets: dict) -> int:
    """The ``--call`` table: found / extra per detector, frame size and gallery."""
    import cv2

    sizes = [(960, 540), (1280, 720), (1920, 1080)]
    print(f"{args.collages} video-call galleries per cell, photos from {args.folder}; "
          "faces found / extra boxes, median ms per frame\n")
    print("| detector | frame | " + " | ".join(f"{n} x {n}" for n in range(2, 8)) + " |")
    print("|---|---|" + "---:|" * 6)
    rows: dict[tuple[str, tuple[int, int]], list[str]] = {(d, s): [] for d in dets for s in sizes}
    for n in range(2, 8):
        for width, height in sizes:
            found = {d: [0, 0] for d in dets}
            times: dict[str, list[float]] = {d: [] for d in dets}
            for _ in range(args.collages):
                chosen = [cv2.imread(str(files[i])) for i in rng.choice(len(files), n * n, replace=False)]
                frame = call_gallery(chosen, n, width, height)
                for name, det in dets.items():
                    t = time.perf_counter()
                    out = det.detect(frame)
                    times[name].append(1000 * (time.perf_counter() - t))
                    hit, extra = score_collage(out, n, n, width // n, height // n)
                    found[name][0] += hit
                    found[name][1] += extra
            for name in dets:
                total = n * n * args.collages
                rows[(name, (width, height))].append(
                    f"{found[name][0]}/{total} / {found[name][1]} / {np.median(times[name]):.0f}")
    for (name, (width, height)), cells in rows.items():
        print(f"| {name} | {width} x {height} | " + " | ".join(cells) + " |")
    return 0


def setup(args: argparse.Namespace) -> tuple[list[Path], np.random.Generator, dict]:
    """What a run of this benchmark or of call_layouts.py draws on, from its ``--folder``,
    ``--seed`` and ``--detectors``: the folder's photos, the random generator and the detectors
    by name. OpenCV on one thread, as the server's workers."""
    import cv2

    from training.data import folder_files

    cv2.setNumThreads(1)
    files = [path for path, _ in folder_files(args.folder)]
    return files, np.random.default_rng(args.seed), {name: detector_from_spec(name) for name in args.detectors}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--folder", required=True, help="single-face photos, DIR/<Class>/*.jpg")
    p.add_argument("--detectors", nargs="+", default=["blazeface", "blazeface-still", "blazeface-photo"],
                   help="registry names, NAME:key=value to build one otherwise (blazeface-still:min_face=40)")
    p.add_argument("--collages", type=int, default=20, help="collages per layout")
    p.add_argument("--tile", type=int, default=300, help="side of a photo in the collage (px)")
    p.add_argument("--singles", type=int, default=0, help="also single photos of the folder: how many")
    p.add_argument("--call", action="store_true", help="video-call galleries (16:9 frames) instead")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)

    import cv2

    files, rng, dets = setup(args)
    if args.call:
        return call_galleries(args, files, rng, dets)
    layouts = [(cols, margin) for cols in (2, 3, 4) for margin in (0.0, 0.2)]
    print(f"{args.collages} collages per layout, tiles of {args.tile} px, photos from {args.folder}\n")
    print("| layout | image | " + " | ".join(f"{n}: found / extra / ms" for n in dets) + " |")
    print("|---|---|" + "---:|" * len(dets))
    totals = {n: [0, 0, 0] for n in dets}
    for cols, margin in layouts:
        found = {n: [0, 0] for n in dets}
        times: dict[str, list[float]] = {n: [] for n in dets}
        n_tiles = 0
        for _ in range(args.collages):
            chosen = [cv2.imread(str(files[i])) for i in rng.choice(len(files), cols * cols, replace=False)]
            image = collage(chosen, cols, args.tile, margin)
            cell = image.shape[1] // cols
            n_tiles += cols * cols
            for name, det in dets.items():
                t = time.perf_counter()
                out = det.detect(image)
                times[name].append(1000 * (time.perf_counter() - t))
                hit, extra = score_collage(out, cols, cols, cell)
                found[name][0] += hit
                found[name][1] += extra
        for n in dets:
            totals[n][0] += found[n][0]
            totals[n][1] += found[n][1]
            totals[n][2] += n_tiles
        side = cols * (args.tile + 2 * int(round(margin * args.tile)))
        cells = " | ".join(f"{found[n][0]}/{n_tiles} / {found[n][1]} / {np.median(times[n]):.0f}" for n in dets)
        print(f"| {cols}x{cols}, {'margin' if margin else 'touching'} | {side} px | {cells} |")
    print("| all | | " + " | ".join(f"{100 * totals[n][0] / totals[n][2]:.1f}% / {totals[n][1]}" for n in dets)
          + " |")

    negatives = no_face_images()
    if negatives:
        neg_collage = collage([negatives[i % len(negatives)] for i in range(9)], 3, args.tile, 0.2)
        line = []
        for name, det in dets.items():
            n_fp = sum(len(det.detect(img)) for img in negatives) + len(det.detect(neg_collage))
            line.append(f"{name} {n_fp}")
        print(f"\ndetections on {len(negatives)} photos without a human face and a 3x3 collage of them: "
              + ", ".join(line))
    if args.singles:
        picks = rng.choice(len(files), min(args.singles, len(files)), replace=False)
        photos = [cv2.imread(str(files[i])) for i in picks]
        rates = [f"{name} {100 * np.mean([bool(det.detect(ph)) for ph in photos if ph is not None]):.1f}%"
                 for name, det in dets.items()]
        print(f"\nsingle photos with a face found ({len(picks)} drawn): " + ", ".join(rates))
    return 0


if __name__ == "__main__":
    sys.exit(main())
