"""What the face mesh's second look at weak detections removes: false faces, and real ones.

    python benchmarks/face_check.py --folder ../shared/data/muxspace

Runs the photo detector (``blazeface-still``) with and without ``face_check`` on

* ``--singles`` single-face photos of the folder (DIR/<Class>/*.jpg): the best detection of a
  photo counts as its face, any other as extra;
* collages of those photos (2x2, 3x3, 4x4, touching or with a margin; 300 px tiles) and
  video-call galleries (3x3 to 5x5 at 960 x 540, 1280 x 720 and 1920 x 1080), ``--collages``
  of each: the first detection centred in a tile is its face, any other is extra
  (``benchmarks/gallery_recall.py``);
* skimage's photos without a human face, whole and as a 3x3 collage, and the tests' synthetic
  3x3 gallery of one face (9 faces), where every detection beyond the faces is extra.

and prints, per set, faces found and extra detections without and with the check, the
median milliseconds per image of each, and the scores of the detections the check removed.
One thread. The photos are drawn with ``--seed``.

``--small-faces`` prints instead how small faces fare (a class filmed from the back of the
room): 12 frames of 1280 x 720 per size, the photos shrunk to 40, 50, 60 and 80 px, each in
the middle of a gray cell 2.2 times its side (detector boxes of about 33, 40, 49 and 67 px).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

from benchmarks.gallery_recall import call_gallery, collage, no_face_images, score_collage  # noqa: E402


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--folder", required=True, help="single-face photos, DIR/<Class>/*.jpg")
    p.add_argument("--singles", type=int, default=4000, help="single photos drawn from the folder")
    p.add_argument("--collages", type=int, default=15, help="collages and call galleries per layout")
    p.add_argument("--seed", type=int, default=2)
    p.add_argument("--small-faces", action="store_true", help="small faces on gray instead (see above)")
    args = p.parse_args(argv)

    import cv2

    from fer_core.detect import FACE_CHECK_BELOW, load_detector
    from tests.scenes import gallery_frame
    from training.data import folder_files

    cv2.setNumThreads(1)
    files = [path for path, _ in folder_files(args.folder)]
    rng = np.random.default_rng(args.seed)
    plain = load_detector("blazeface-still", face_check=False)
    checked = load_detector("blazeface-still", face_check=True)
    checked.detect(np.zeros((480, 640, 3), np.uint8))
    if args.small_faces:
        return small_faces(files, rng, plain, checked)
    removed: list[tuple[str, float]] = []
    # set name -> [faces without, faces with, extra without, extra with, images, ms without, ms with]
    table: dict[str, list] = {}

    def run(name: str, image: np.ndarray, score) -> None:
        row = table.setdefault(name, [0, 0, 0, 0, 0, [], []])
        t = time.perf_counter()
        a = plain.detect(image)
        row[5].append(1000 * (time.perf_counter() - t))
        t = time.perf_counter()
        b = checked.detect(image)
        row[6].append(1000 * (time.perf_counter() - t))
        fa, ea = score(a)
        fb, eb = score(b)
        row[0] += fa
        row[1] += fb
        row[2] += ea
        row[3] += eb
        row[4] += 1
        kept = {d.box for d in b}
        removed.extend((name, d.score) for d in a if d.box not in kept)

    def single(dets) -> tuple[int, int]:
        return min(len(dets), 1), max(len(dets) - 1, 0)

    for i in rng.choice(len(files), min(args.singles, len(files)), replace=False):
        img = cv2.imread(str(files[i]))
        if img is not None:
            run("single photos", img, single)
    for cols in (2, 3, 4):
        for margin in (0.0, 0.2):
            for _ in range(args.collages):
                chosen = [cv2.imread(str(files[i])) for i in rng.choice(len(files), cols * cols, replace=False)]
                image = collage(chosen, cols, 300, margin)
                cell = image.shape[1] // cols
                run(f"collages {cols}x{cols}", image, lambda d, c=cols, s=cell: score_collage(d, c, c, s))
    for n in (3, 4, 5):
        for width, height in ((960, 540), (1280, 720), (1920, 1080)):
            for _ in range(args.collages):
                chosen = [cv2.imread(str(files[i])) for i in rng.choice(len(files), n * n, replace=False)]
                frame = call_gallery(chosen, n, width, height)
                run(
                    f"call galleries {n}x{n}",
                    frame,
                    lambda d, n=n, w=width, h=height: score_collage(d, n, n, w // n, h // n),
                )
    negatives = no_face_images()
    if negatives:
        for img in negatives + [collage([negatives[i % len(negatives)] for i in range(9)], 3, 300, 0.2)]:
            run("photos without a face", img, lambda d: (0, len(d)))
    run("synthetic 3x3 gallery", gallery_frame(3, 3, 1280, 720), lambda d: score_collage(d, 3, 3, 1280 // 3, 720 // 3))

    print(
        f"blazeface-still without / with face_check (detections under {FACE_CHECK_BELOW} confirmed by the "
        f"face mesh); photos from {args.folder}, seed {args.seed}\n"
    )
    print("| set | images | faces found: without / with | extra detections: without / with | ms: without / with |")
    print("|---|---:|---:|---:|---:|")
    for name, (fa, fb, ea, eb, n, ta, tb) in table.items():
        print(f"| {name} | {n} | {fa} / {fb} | {ea} / {eb} | {np.median(ta):.1f} / {np.median(tb):.1f} |")
    tot = np.sum([r[:5] for r in table.values()], axis=0)
    print(f"| all | {tot[4]} | {tot[0]} / {tot[1]} | {tot[2]} / {tot[3]} | |")
    print(
        f"\nremoved by the check: {len(removed)}; scores: "
        + ", ".join(f"{s:.2f} ({name})" for name, s in sorted(removed, key=lambda r: r[1]))
    )
    return 0


def small_faces(files: list, rng: np.random.Generator, plain, checked, frames: int = 12) -> int:
    """The ``--small-faces`` table: each photo centred in a cell 2.2 times its side, so that a
    detection is scored by the cell its centre falls in (:func:`score_collage`)."""
    import cv2

    print("| photo side | faces | found: without / with | extra detections: without / with | median box |")
    print("|---:|---:|---:|---:|---:|")
    for side in (40, 50, 60, 80):
        cell = int(side * 2.2)
        cols, rows = 1280 // cell, 720 // cell
        row = [0, 0, 0, 0]
        boxes: list[int] = []
        for _ in range(frames):
            frame = np.full((720, 1280, 3), 110, np.uint8)
            for r in range(rows):
                for c in range(cols):
                    photo = cv2.imread(str(files[rng.integers(len(files))]))
                    y, x = r * cell + (cell - side) // 2, c * cell + (cell - side) // 2
                    frame[y : y + side, x : x + side] = cv2.resize(photo, (side, side), interpolation=cv2.INTER_AREA)
            for k, det in enumerate((plain, checked)):
                dets = det.detect(frame)
                if k == 0:
                    boxes += [max(d.box[2:]) for d in dets]
                found, extra = score_collage(dets, cols, rows, cell)
                row[k] += found
                row[2 + k] += extra
        faces = frames * cols * rows
        print(f"| {side} px | {faces} | {row[0]} / {row[1]} | {row[2]} / {row[3]} | {np.median(boxes):.0f} px |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
