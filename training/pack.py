"""Pack FER2013 splits into one small, lossless file, for carrying to a lent GPU machine.

Example (what ``scripts/prepare_device.sh`` runs)::

    python -m training.pack --data ../shared/data/fer2013.csv.gz --out .device/fer_train.npz \
        --splits Training

The device tool carries at most 64 MiB with the working tree; the Kaggle CSV is 94 MB
gzipped and its raw pixels 83 MB. Each face is stored as a lossless WebP (about 71% of its
raw bytes on FER2013), so the Training split packs to about 47 MB. ``training.data.load_splits``
(through ``training.data.load_pack``) reads the file back to exactly the faces, labels and row
numbers it was packed from; splits left out come back empty. With ``--ferplus`` the FER+ vote
shares travel too and the rows FER+ marks as not a face are dropped, as
``load_splits(csv, ferplus)`` does.

The file is for training runs only: never commit it (the project ships no FER2013 data).
"""
from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

import numpy as np

from fer_core.cli import output_problem
from training.data import PACK_FORMAT, SPLITS, DataError, FaceSet, load_pack, load_splits

log = logging.getLogger("training.pack")
_WEBP_LOSSLESS = 101  # OpenCV: a WebP quality above 100 selects lossless coding


def pack(splits: dict[str, FaceSet], out: str | Path, names=("Training",)) -> Path:
    """Write the named splits of ``splits`` to ``out`` (.npz); returns the path."""
    import cv2

    out = Path(out)
    unknown = [n for n in names if n not in SPLITS]
    if unknown:
        raise DataError(f"unknown split(s) {unknown}; choose from {SPLITS}")
    sets = [(SPLITS.index(n), splits[n]) for n in names]
    blobs, usage, ys, rows, soft = [], [], [], [], []
    for code, fs in sets:
        for img in fs.x:
            ok, buf = cv2.imencode(".webp", np.ascontiguousarray(img), [cv2.IMWRITE_WEBP_QUALITY, _WEBP_LOSSLESS])
            if not ok:
                raise DataError("OpenCV could not encode a face as WebP")
            blobs.append(buf.ravel())
        usage.append(np.full(len(fs), code, np.int8))
        ys.append(fs.y.astype(np.int8))
        rows.append(fs.index.astype(np.int32))
        soft.append(fs.soft)
    offsets = np.cumsum([0] + [len(b) for b in blobs]).astype(np.int64)
    arrays = {
        "format": np.array(PACK_FORMAT), "webp": np.concatenate(blobs) if blobs else np.zeros(0, np.uint8),
        "offsets": offsets, "usage": np.concatenate(usage), "y": np.concatenate(ys), "row": np.concatenate(rows),
    }
    if all(s is not None for s in soft) and soft:
        arrays["soft"] = np.concatenate(soft).astype(np.float32)
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "wb") as fh:  # np.savez adds ".npz" to a bare name; writing to a handle keeps ours
        np.savez(fh, **arrays)
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m training.pack", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", required=True, help="FER2013 CSV (.csv or .csv.gz) or a folder with train/ and test/")
    p.add_argument("--out", required=True, help="the .npz file to write")
    p.add_argument("--splits", nargs="+", default=["Training"], choices=SPLITS, help="splits to pack")
    p.add_argument("--ferplus", help="FER+ fer2013new.csv: pack its vote shares and drop non-faces")
    args = p.parse_args(argv)
    out = Path(args.out)
    if out.suffix != ".npz":
        p.error(f"--out {out}: a pack is an .npz file (training.data.load_splits reads it by that suffix)")
    problem = output_problem(out, [Path(args.data)] + ([Path(args.ferplus)] if args.ferplus else []),
                             "--data/--ferplus files") if out.parent.is_dir() else None
    if problem:
        p.error(f"--out {out} {problem}")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    try:
        splits = load_splits(args.data, args.ferplus)
        out = pack(splits, args.out, args.splits)
        back = load_pack(out)  # the file must give back exactly what went in
    except DataError as exc:
        log.error("%s", exc)
        return 2
    for name in args.splits:
        a, b = splits[name], back[name]
        if not (np.array_equal(a.x, b.x) and np.array_equal(a.y, b.y) and np.array_equal(a.index, b.index)):
            log.error("%s: the packed %s split does not read back identically", out, name)
            return 1
    raw = sum(splits[n].x.nbytes for n in args.splits)
    size = out.stat().st_size
    log.info("%s: %s faces (%s), %.1f MB (%.0f%% of the raw pixels), reads back identically%s",
             out, sum(len(splits[n]) for n in args.splits), ", ".join(args.splits), size / 1e6,
             100 * size / max(raw, 1), "; with FER+ votes" if args.ferplus else "")
    return 0


if __name__ == "__main__":
    sys.exit(main())
