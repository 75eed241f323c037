"""Command line: soft targets from face-api.js's expression net, or its accuracy on a split or folder.

    python -m tools.faceapi_teacher --data ../shared/data/fer2013.csv.gz --out ~/runs/faceapi/train.npz
    python -m tools.faceapi_teacher --data ../shared/data/fer2013.csv.gz --split PublicTest
    python -m tools.faceapi_teacher --folder ../shared/data/muxspace [--folder-input gray48]
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import cv2
import numpy as np

from fer_core.labels import LABELS, NUM_CLASSES
from tools.faceapi_teacher import (
    FaceApiWorker,
    ProbSource,
    ensure_node_modules,
    recall_report,
    soft_targets,
    write_teacher_npz,
)

FOLDER_INPUTS = {
    "rgb": "the stored image as it is, colour (RGB), at its own size",
    "gray": "the stored image turned gray (fer_core.preprocess.to_gray), at its own size",
    "gray48": "our model's input: fer_core.preprocess.preprocess_face (gray, edge-padded square, 48x48)",
}


def folder_image(path: Path, mode: str) -> np.ndarray | None:
    """One folder image as face-api receives it under ``mode`` (see FOLDER_INPUTS); None if unreadable."""
    from fer_core.preprocess import preprocess_face, to_gray
    from training.data import read_image

    img = read_image(path)
    if img is None:
        return None
    if mode == "gray48":
        return preprocess_face(img)
    if mode == "gray":
        return to_gray(img)
    if img.ndim == 2:
        return np.repeat(img[..., None], 3, axis=2)
    code = cv2.COLOR_BGRA2RGB if img.shape[2] == 4 else cv2.COLOR_BGR2RGB
    return cv2.cvtColor(img, code)


def folder_probs(source: ProbSource, folder: str | Path, mode: str, chunk: int = 64
                 ) -> tuple[np.ndarray, np.ndarray]:
    """(probs, labels) for every readable image of ``folder/<Class>/``; images of one shape are batched."""
    from tqdm import tqdm

    from training.data import folder_files

    files = folder_files(folder)
    probs = np.full((len(files), NUM_CLASSES), np.nan, np.float32)
    y = np.array([cls for _, cls in files], np.int64)
    buckets: dict[tuple, list[tuple[int, np.ndarray]]] = {}

    def flush(key: tuple) -> None:
        items = buckets.pop(key)
        probs[[i for i, _ in items]] = source(np.stack([img for _, img in items]))

    for i, (path, _) in enumerate(tqdm(files, unit="img")):
        img = folder_image(path, mode)
        if img is None:
            print(f"skipped, unreadable: {path}", file=sys.stderr)
            continue
        buckets.setdefault(img.shape, []).append((i, img))
        if len(buckets[img.shape]) >= chunk:
            flush(img.shape)
    for key in list(buckets):
        flush(key)
    ok = np.isfinite(probs[:, 0])
    return probs[ok], y[ok]


def print_report(title: str, rep: dict) -> None:
    recalls = " ".join(f"{k} {100 * v:.1f}" for k, v in rep["recall"].items())
    print(f"{title}: n={rep['n']} accuracy {100 * rep['accuracy']:.1f}% | mean recall "
          f"(Angry/Happy/Sad/Surprise/Neutral) {100 * rep['mean_recall_5']:.1f}% | balanced accuracy "
          f"(7) {100 * rep['balanced_accuracy']:.1f}%\n  recall %: {recalls}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m tools.faceapi_teacher",
        description="Run the expression net of @vladmandic/face-api (no detector) over FER2013 faces or a "
                    "<Class>/*.jpg folder: write soft targets for `training.train --teacher X.npz` (--out), "
                    "or print accuracy and per-class recall.")
    p.add_argument("--data", help="FER2013 CSV (fer2013.csv.gz), read with training.data.load_splits")
    p.add_argument("--split", default="Training", choices=("Training", "PublicTest", "PrivateTest"),
                   help="which FER2013 split to run (default Training)")
    p.add_argument("--out", help="write index/probs/metadata to this .npz (e.g. ~/runs/faceapi/train.npz)")
    p.add_argument("--folder", help="a <Class>/*.jpg folder to score instead of --data (whole stored image)")
    p.add_argument("--folder-input", default="rgb", choices=sorted(FOLDER_INPUTS),
                   help="how folder images reach face-api: " + "; ".join(f"{k}: {v}" for k, v in FOLDER_INPUTS.items()))
    p.add_argument("--chunk", type=int, default=256, help="faces per call to the node worker (default 256)")
    p.add_argument("--no-install", action="store_true",
                   help="fail instead of running `npm ci` when node_modules is missing")
    p.add_argument("--json", help="also write the accuracy report to this JSON file")
    args = p.parse_args(argv)
    if bool(args.data) == bool(args.folder):
        p.error("give exactly one of --data or --folder")
    if args.folder and args.out:
        p.error("--out writes FER2013 soft targets; it goes with --data, not --folder")

    ensure_node_modules(install=not args.no_install)
    started = time.time()
    with FaceApiWorker() as worker:
        info = worker.info
        print(f"{info['package']} {info['version']} (tfjs {info['tfjs']}, backend {info['backend']}): "
              "expression net only", flush=True)
        if args.folder:
            probs, y = folder_probs(worker.predict, args.folder, args.folder_input, chunk=min(args.chunk, 64))
            title = f"{args.folder} ({args.folder_input}: {FOLDER_INPUTS[args.folder_input]})"
        else:
            from training.data import load_splits

            faces = load_splits(args.data)[args.split]
            print(f"{args.split}: {len(faces)} faces", flush=True)
            probs = soft_targets(faces.x, worker.predict, chunk=args.chunk)
            y = faces.y
            title = f"FER2013 {args.split}"
    seconds = time.time() - started
    rep = recall_report(probs, y)
    rep.update(source=title, seconds=round(seconds, 1), **{f"faceapi_{k}": v for k, v in info.items()})
    print_report(title, rep)
    print(f"{len(y)} faces in {seconds:.0f} s ({1000 * seconds / max(len(y), 1):.1f} ms/face)")
    if args.out:
        meta = {"teacher": f"{info['package']}@{info['version']} faceExpressionNet", "tfjs": info["tfjs"],
                "backend": info["backend"], "data": str(Path(args.data).resolve()), "split": args.split,
                "input": "48x48 gray FER2013 face, repeated to 3 channels, resized bilinearly to 112x112 by "
                         "face-api's NetInput.toBatchTensor; no mirror averaging, no temperature",
                "columns": ",".join(LABELS), "accuracy_on_split": f"{rep['accuracy']:.4f}",
                "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
        path = write_teacher_npz(args.out, faces.index, probs, meta)
        print(f"wrote {path}: index {faces.index.shape}, probs {probs.shape}")
    if args.json:
        Path(args.json).expanduser().write_text(json.dumps(rep, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
