"""Eye openness on real photos: how often the "eyes closed" threshold fires, and on what.

The openness mapping (``fer_core.attention``: ``EAR_CLOSED``, ``EAR_OPEN``, ``CLOSED_BELOW``)
was set on one identity, open and painted shut. This runs the app's own path
(``Recognizer.analyze(image, attention=True)``: detector, crop, face mesh and iris) over a
folder of labelled face photos (``<Class>/*.jpg``, e.g. the muxspace set) and prints, per
class, the share of faces with both eyes under ``CLOSED_BELOW`` (what the app would call
"eyes closed") and with one eye under it, and the openness quantiles. Small photos are
enlarged as ``benchmarks/yaw_crosscheck.py`` does (under 120 px: longer side to 320).

With ``--out DIR`` it also writes ``eyes.csv`` (one row per photo: path, class, openness
left/right, yaw, pitch) and two contact sheets for judging the threshold by eye:
``closed.png``, every face the threshold calls closed (up to ``--sheet`` of them, lowest
first), and ``open_sample.png``, a random sample of the faces it calls open, each tile
numbered with its row in ``eyes.csv``. These are copies of the evaluation photos: keep them
outside the repository.

    python benchmarks/eyes_real.py --folder ../shared/data/muxspace --out /tmp/eyes
"""
from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.yaw_crosscheck import photo_files, read_photo  # noqa: E402


def measure(rec, path: Path) -> tuple[float, float, float, float] | None:
    """(open left, open right, yaw, pitch) of the largest face of one photo, or None."""
    image = read_photo(path)
    if image is None:
        return None
    faces = [f for f in rec.analyze(image, attention=True) if f.eyes_open is not None and f.pose is not None]
    if not faces:
        return None
    face = max(faces, key=lambda f: f.box[2] * f.box[3])
    assert face.eyes_open is not None and face.pose is not None
    return face.eyes_open[0], face.eyes_open[1], face.pose[0], face.pose[1]


def tile(path: Path, label: str, size: int = 128):
    import cv2

    image = cv2.imread(str(path))
    image = cv2.resize(image, (size, size), interpolation=cv2.INTER_AREA)
    cv2.rectangle(image, (0, 0), (size, 16), (0, 0, 0), -1)
    cv2.putText(image, label, (2, 12), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (255, 255, 255), 1, cv2.LINE_AA)
    return image


def contact_sheet(tiles: list, columns: int = 10):
    if not tiles:
        return None
    size = tiles[0].shape[0]
    rows = -(-len(tiles) // columns)
    sheet = np.full((rows * size, columns * size, 3), 255, np.uint8)
    for i, t in enumerate(tiles):
        r, c = divmod(i, columns)
        sheet[r * size:(r + 1) * size, c * size:(c + 1) * size] = t
    return sheet


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], epilog=__doc__.split("\n\n", 1)[1],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--folder", type=Path, required=True, help="labelled photos, <Class>/*.jpg")
    p.add_argument("--max-photos", type=int, default=0, help="a random sample of this many (0: all)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, help="write eyes.csv and the contact sheets here")
    p.add_argument("--sheet", type=int, default=200, help="at most this many tiles per contact sheet")
    p.add_argument("--threshold", type=float, default=None,
                   help="openness under which an eye counts as closed (default: the app's CLOSED_BELOW)")
    args = p.parse_args(argv)

    from fer_core import attention, load_recognizer

    closed_below = attention.CLOSED_BELOW if args.threshold is None else args.threshold

    files = photo_files(args.folder)
    if args.max_photos:
        rng = np.random.default_rng(args.seed)
        files = [files[i] for i in sorted(rng.permutation(len(files))[:args.max_photos])]
    rec = load_recognizer()
    rows = []
    for i, path in enumerate(files, 1):
        m = measure(rec, path)
        if m is not None:
            rows.append((path, path.parent.name, *m))
        if i % 1000 == 0:
            print(f"  {i}/{len(files)} photos", file=sys.stderr, flush=True)
    if not rows:
        print("no face with a mesh in these photos")
        return 1
    lo = np.array([min(r[2], r[3]) for r in rows])
    hi = np.array([max(r[2], r[3]) for r in rows])
    classes = sorted({r[1] for r in rows})
    print(f"{len(rows)} of {len(files)} photos with a face mesh; 'closed' = openness under {closed_below}")
    print(f"{'class':<10} {'faces':>6} {'both closed':>12} {'one closed':>11} {'min-eye openness p5/p25/p50':>30}")
    for name in [*classes, "all"]:
        sel = np.ones(len(rows), bool) if name == "all" else np.array([r[1] == name for r in rows])
        both = np.mean(hi[sel] < closed_below)
        one = np.mean((lo[sel] < closed_below) & (hi[sel] >= closed_below))
        q = np.percentile(lo[sel], [5, 25, 50])
        print(f"{name:<10} {sel.sum():>6} {both:>11.1%} {one:>10.1%} {q[0]:>16.2f} / {q[1]:.2f} / {q[2]:.2f}")
    pitch = np.array([r[5] for r in rows])
    closed = hi < closed_below
    if closed.any():
        print(f"pitch of the faces called closed: median {np.median(pitch[closed]):+.1f} deg "
              f"(all faces {np.median(pitch):+.1f}); share with pitch under -10 deg (looking down): "
              f"{np.mean(pitch[closed] < -10):.0%} (all faces {np.mean(pitch < -10):.0%})")
    if args.out:
        import cv2

        args.out.mkdir(parents=True, exist_ok=True)
        with open(args.out / "eyes.csv", "w", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(["row", "path", "class", "open_left", "open_right", "yaw", "pitch"])
            for i, r in enumerate(rows):
                w.writerow([i, r[0], r[1], f"{r[2]:.3f}", f"{r[3]:.3f}", f"{r[4]:.1f}", f"{r[5]:.1f}"])
        order = [int(i) for i in np.argsort(hi) if closed[i]][:args.sheet]
        rng = np.random.default_rng(args.seed)
        opened = np.flatnonzero(~closed)
        sample = sorted(int(i) for i in rng.choice(opened, size=min(args.sheet, len(opened)), replace=False))
        for name, idx in (("closed.png", order), ("open_sample.png", sample)):
            sheet = contact_sheet([tile(rows[i][0], f"{i} {hi[i]:.2f}") for i in idx])
            if sheet is not None:
                cv2.imwrite(str(args.out / name), sheet)
        print(f"wrote {args.out / 'eyes.csv'} and the contact sheets ({len(order)} closed, {len(sample)} open)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
