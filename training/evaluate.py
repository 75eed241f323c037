"""Evaluate an exported model through ``fer_core``'s ``predict_proba`` (exactly what ships).

Example::

    python -m training.evaluate --model models/fer_model.onnx \
        --data ../shared/data/fer2013.csv.gz --ferplus ../shared/data/fer2013new.csv --out models/eval

Reports accuracy, macro-F1, per-class precision/recall/F1, the confusion matrix
(numbers and PNG), one-vs-rest ROC AUC and calibration (ECE, reliability PNG) on
PublicTest, PrivateTest, and the PrivateTest rows whose pixels appear in no
Training row; with ``--ferplus`` also PrivateTest against the FER+ majority labels.
Writes ``metrics.json`` and the figures to ``--out``.

Any labelled folder of photos (``DIR/<Class>/*.jpg``, e.g. the real-photo set); the
committed real-photo results (``models/eval/realphoto*.json``) come from::

    python -m training.evaluate --folder ../shared/data/muxspace --out models/eval/realphoto.json
    python -m training.evaluate --folder ../shared/data/muxspace --pipeline --out models/eval/realphoto_pipeline.json

The first runs every stored image, whole, through ``predict_proba``; ``--pipeline`` runs it
through ``analyze`` (face detector, crop, classifier), as the Photo page does, and scores the
best-scoring face. An image with no prediction (no face found with ``--pipeline``; a file that
is not a readable image in either mode) counts as wrong for its true class and as a prediction
of no class; each kind is counted.
Reports accuracy, balanced accuracy (mean recall of the classes present), macro-F1,
per-class precision/recall/F1, the mean recall over ``--classes`` and the confusion matrix
(JSON, PNG with a "none" column for the images without a prediction); ROC AUC and calibration
over the images with a prediction. With ``--folder``, ``--out`` is required: a ``.json`` file
(the confusion PNG goes beside it as ``confusion_<name>.png``) or a folder (``metrics.json``
and ``confusion.png``); it never overwrites a FER2013 ``metrics.json`` such as ``models/eval``'s.
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

import numpy as np

from fer_core.model_card import REAL_PHOTO_CLASSES

log = logging.getLogger("training.evaluate")

#: The shipped model, and where its FER2013 evaluation lives (the model card and README read it).
SHIPPED_MODEL = "models/fer_model.onnx"
SHIPPED_EVAL = "models/eval"


def expected_calibration_error(probs: np.ndarray, y: np.ndarray, bins: int = 15) -> tuple[float, list]:
    """ECE over equal-width confidence bins, and the per-bin (confidence, accuracy, count) table."""
    conf = probs.max(1)
    correct = probs.argmax(1) == y
    edges = np.linspace(0, 1, bins + 1)
    ece, table = 0.0, []
    for lo, hi in zip(edges[:-1], edges[1:]):
        m = (conf > lo) & (conf <= hi)
        if m.any():
            ece += m.mean() * abs(conf[m].mean() - correct[m].mean())
            table.append((float(conf[m].mean()), float(correct[m].mean()), int(m.sum())))
    return float(ece), table


def metrics(probs: np.ndarray, y: np.ndarray, found: np.ndarray | None = None) -> dict:
    """Classification metrics of ``probs`` (N, 7) against ``y``.

    ``found``, a mask of the rows that have a prediction (``None``: all of them): the other rows
    are counted as wrong for their true class and as a prediction of no class (they lower that
    class's recall and F1, never any class's precision), and are left out of the confusion
    matrix's columns (``no_prediction`` counts them per true class), of the ROC AUC and of the
    calibration, which need a probability.
    """
    from sklearn.metrics import confusion_matrix, f1_score, precision_recall_fscore_support, roc_auc_score

    from fer_core.labels import LABELS

    found = np.ones(len(y), bool) if found is None else np.asarray(found, bool)
    pred = np.where(found, probs.argmax(1), -1)  # -1: no prediction, a label sklearn scores as no class
    p, r, f, s = precision_recall_fscore_support(y, pred, labels=range(len(LABELS)), zero_division=0)
    present = np.unique(y)
    auc = {}
    yf, pf = y[found], probs[found]
    for k in present:
        if 0 < (yf == k).sum() < len(yf):
            auc[LABELS[k]] = float(roc_auc_score(yf == k, pf[:, k]))
    ece, table = expected_calibration_error(pf, yf)
    extra = {}
    if not found.all():
        extra["no_prediction"] = [int(((y == k) & ~found).sum()) for k in range(len(LABELS))]
    return {
        "n": int(len(y)),
        "accuracy": float((pred == y).mean()),
        "balanced_accuracy": float(np.mean([r[k] for k in present])),
        "macro_f1": float(f1_score(y, pred, labels=list(present), average="macro", zero_division=0)),
        "per_class": {LABELS[k]: {"precision": float(p[k]), "recall": float(r[k]), "f1": float(f[k]),
                                  "support": int(s[k])} for k in range(len(LABELS))},
        "roc_auc_ovr": auc,
        "roc_auc_macro": float(np.mean(list(auc.values()))) if auc else None,
        "ece": ece,
        "reliability": table,
        "confusion_matrix": confusion_matrix(y, pred, labels=range(len(LABELS))).tolist(),
        **extra,
    }


def plot_confusion(cm: list, title: str, path: Path, no_prediction: list | None = None) -> None:
    """The confusion matrix, rows normalised; ``no_prediction`` (per true class) adds a "none" column."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from fer_core.labels import LABELS

    cm = np.asarray(cm, float)
    columns = list(LABELS)
    if no_prediction is not None:
        cm = np.column_stack([cm, np.asarray(no_prediction, float)])
        columns.append("none")
    norm = cm / np.maximum(cm.sum(1, keepdims=True), 1)
    fig, ax = plt.subplots(figsize=(6.4 + 0.7 * (len(columns) - len(LABELS)), 5.6))
    ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    for i in range(len(LABELS)):
        for j in range(len(columns)):
            ax.text(j, i, f"{int(cm[i, j])}\n{norm[i, j]:.0%}", ha="center", va="center", fontsize=7,
                    color="white" if norm[i, j] > 0.5 else "black")
    ax.set_xticks(range(len(columns)), columns, rotation=40, ha="right")
    ax.set_yticks(range(len(LABELS)), LABELS)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_reliability(table: list, ece: float, title: str, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4.8, 4.4))
    ax.plot([0, 1], [0, 1], "--", color="grey", label="perfect calibration")
    if table:
        conf, acc, n = map(np.asarray, zip(*table))
        ax.scatter(conf, acc, s=10 + 200 * n / n.max(), alpha=0.7, label="bins (size = faces)")
        ax.plot(conf, acc, "-", alpha=0.6)
    ax.set_xlabel("confidence")
    ax.set_ylabel("accuracy")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_title(f"{title}\nECE {ece:.1%}")
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def evaluate(model_path: str | Path, data: str | Path, out: Path, ferplus: str | None = None,
             threads: int = 2, prior_strength: float | None = None) -> dict:
    from training.cli import recognizer
    from training.data import DataError, load_ferplus, load_splits, unseen_mask

    rec = recognizer(model_path, threads=threads, prior_strength=prior_strength)
    splits = load_splits(data)
    empty = [name for name in ("PublicTest", "PrivateTest") if not len(splits[name])]
    if empty:
        raise DataError(f"{data}: no {' and no '.join(empty)} faces (the evaluation scores both)")
    out.mkdir(parents=True, exist_ok=True)
    priv = splits["PrivateTest"]
    unseen = unseen_mask(priv, splits["Training"])
    results: dict = {"model": str(model_path), "model_sha256": rec.card.get("sha256"),
                     "flip_tta": rec.flip_tta, "temperature": rec.temperature,
                     "prior_strength": rec.prior_strength, "splits": {}}
    t0 = time.perf_counter()
    probs_by_split = {name: rec.predict_proba(splits[name].x, source_sides=splits[name].sides)
                      for name in ("PublicTest", "PrivateTest")}
    log.info("predicted %d faces in %.1fs", sum(map(len, probs_by_split.values())), time.perf_counter() - t0)
    views = {"PublicTest": (splits["PublicTest"], probs_by_split["PublicTest"]),
             "PrivateTest": (priv, probs_by_split["PrivateTest"]),
             "PrivateTest_unseen": (priv.subset(unseen), probs_by_split["PrivateTest"][unseen])}
    for name, (fs, probs) in views.items():
        m = metrics(probs, fs.y)
        results["splits"][name] = m
        log.info("%-20s n=%5d acc %.4f macro-F1 %.4f ECE %.3f", name, m["n"], m["accuracy"],
                 m["macro_f1"], m["ece"])
        plot_confusion(m["confusion_matrix"], f"{name} (n={m['n']}, acc {m['accuracy']:.1%})",
                       out / f"confusion_{name}.png")
        plot_reliability(m["reliability"], m["ece"], name, out / f"reliability_{name}.png")
    if ferplus:
        soft, is_face = load_ferplus(ferplus, sum(len(s) for s in splits.values()))
        idx = priv.index
        keep = is_face[idx]
        y_plus = soft[idx].argmax(1)
        m = metrics(probs_by_split["PrivateTest"][keep], y_plus[keep])
        results["splits"]["PrivateTest_FERplus_majority"] = m
        log.info("%-20s n=%5d acc %.4f macro-F1 %.4f", "PrivateTest FER+", m["n"], m["accuracy"], m["macro_f1"])
    (out / "metrics.json").write_text(json.dumps(results, indent=2) + "\n")
    return results


def folder_probs(rec, files, pipeline: bool = False, progress: bool = True, return_unreadable: bool = False):
    """Probabilities for each ``(path, class)`` of :func:`training.data.folder_files`.

    Returns ``(probs, y, found)``: (N, 7) probabilities, labels and a mask of the images
    that gave a prediction (rows without one are zeros). Without ``pipeline`` the whole image
    goes to ``predict_proba`` (``found`` is False only for unreadable files); with it, ``analyze``
    detects the faces and the best-scoring one is scored (``found`` is also False where no face
    was found). ``return_unreadable`` appends a mask of the files that are not readable images.
    """
    from fer_core.labels import NUM_CLASSES
    from fer_core.preprocess import preprocess_face
    from training.data import read_image

    try:
        from tqdm import tqdm
    except ImportError:  # pragma: no cover - tqdm is in the dev requirements
        tqdm = None
    probs = np.zeros((len(files), NUM_CLASSES), np.float32)
    found = np.zeros(len(files), bool)
    unreadable = np.zeros(len(files), bool)
    faces, sides, where = [], [], []
    it = files if not (progress and tqdm) else tqdm(files, desc="images", unit="img", leave=False)
    for i, (path, _) in enumerate(it):
        img = read_image(path)
        if img is None:
            log.warning("%s: not a readable image; counted as wrong", path)
            unreadable[i] = True
            continue
        if pipeline:
            results = rec.analyze(img)
            if results:
                probs[i] = results[0].probabilities
                found[i] = True
        else:
            faces.append(preprocess_face(img))
            sides.append(max(img.shape[:2]))
            where.append(i)
    if faces:
        probs[where] = rec.predict_proba(np.stack(faces), source_sides=np.asarray(sides))
        found[where] = True
    y = np.array([c for _, c in files], np.int64)
    return (probs, y, found, unreadable) if return_unreadable else (probs, y, found)


def folder_outputs(out: str | Path) -> tuple[Path, Path]:
    """Where a folder evaluation writes: ``(metrics JSON, confusion PNG)``. ``out`` is a ``.json``
    file (``X/name.json`` -> ``X/name.json``, ``X/confusion_name.png``, the layout of
    ``models/eval/realphoto*.json``) or a folder (``metrics.json``, ``confusion.png`` in it)."""
    out = Path(out)
    if out.suffix.lower() == ".json":
        return out, out.with_name(f"confusion_{out.stem}.png")
    return out / "metrics.json", out / "confusion.png"


def _check_not_fer2013(path: Path) -> None:
    """Refuse to overwrite a FER2013 evaluation (``training.evaluate --data``) with a folder's."""
    try:
        old = json.loads(path.read_text())
    except (OSError, ValueError):
        return
    if isinstance(old, dict) and "splits" in old:
        raise ValueError(f"{path} holds a FER2013 evaluation (training.evaluate --data), which the model card "
                         "reads; a folder evaluation will not overwrite it: give --out another file or folder, "
                         "e.g. models/eval/realphoto.json (models/eval/realphoto_pipeline.json with --pipeline)")


def _same_path(a: str | Path, b: str | Path) -> bool:
    return Path(a).expanduser().resolve() == Path(b).expanduser().resolve()


def out_problem(out: str | Path, folder: bool, model: str | Path) -> str | None:
    """Why ``--out`` cannot take this evaluation's files, or None: with ``--data`` (``folder``
    False) it is a folder; with ``--folder`` a .json file in a folder, or a folder (see
    :func:`folder_outputs`), and none of its files may be the model or a folder."""
    from fer_core.cli import output_problem
    from training.cli import folder_problem

    out = Path(out)
    if not folder:
        return folder_problem(out)
    json_path, png_path = folder_outputs(out)
    problem = folder_problem(json_path.parent, "--out" if json_path.parent == out else "the folder of --out")
    for path in (json_path, png_path):
        if not problem and path.parent.is_dir():
            clash = output_problem(path, [Path(model)], "inputs")
            problem = clash and f"--out {path} {clash}"
    return problem


def evaluate_folder(model_path: str | Path, folder: str | Path, out: Path, pipeline: bool = False,
                    classes=REAL_PHOTO_CLASSES, threads: int = 2, progress: bool = True,
                    prior_strength: float | None = None) -> dict:
    """Score a model on a labelled folder of images (see the module's docstring); writes the
    metrics JSON and the confusion PNG where :func:`folder_outputs` says for ``out`` and returns
    the metrics. It refuses (``ValueError``) an ``out`` whose JSON is a FER2013 evaluation."""
    from fer_core.detect import still_detector
    from fer_core.labels import LABELS
    from training.cli import card_problem, recognizer
    from training.data import folder_files

    unknown = [c for c in classes if c not in LABELS]
    if unknown:
        raise ValueError(f"--classes: {unknown} are not among {list(LABELS)}")
    json_path, png_path = folder_outputs(out)
    _check_not_fer2013(json_path)
    problem = card_problem(json_path)
    if problem:
        raise ValueError(problem)
    # --pipeline detects as the Photo page does (fer_core.detect.still_detector).
    rec = recognizer(model_path, threads=threads, prior_strength=prior_strength,
                     detector=still_detector() if pipeline else None)
    files = folder_files(folder)
    t0 = time.perf_counter()
    probs, y, found, unreadable = folder_probs(rec, files, pipeline, progress, return_unreadable=True)
    seconds = time.perf_counter() - t0
    # Images without a prediction (zero rows) are wrong for their class and no class's prediction.
    m = metrics(probs, y, found)
    m.setdefault("no_prediction", [0] * len(LABELS))
    scored = [c for c in classes if LABELS.index(c) in set(y.tolist())]
    m["mean_recall_classes"] = scored
    m["mean_recall"] = float(np.mean([m["per_class"][c]["recall"] for c in scored])) if scored else None
    m["found"] = int(found.sum())
    m["not_found"] = int((~found).sum())  # no prediction, for either reason below
    m["unreadable"] = int(unreadable.sum())
    m["no_face"] = int((~found & ~unreadable).sum())
    results = {"model": str(model_path), "model_sha256": rec.card.get("sha256"), "folder": str(folder),
               "mode": "pipeline (analyze: detector + crop)" if pipeline else "whole image (predict_proba)",
               "prior_strength": rec.prior_strength,
               "seconds": round(seconds, 1), "metrics": m}
    title = f"{Path(folder).name}{' (pipeline)' if pipeline else ''}: n={m['n']}, acc {m['accuracy']:.1%}"
    json_path.parent.mkdir(parents=True, exist_ok=True)
    plot_confusion(m["confusion_matrix"], title, png_path, m["no_prediction"] if m["not_found"] else None)
    json_path.write_text(json.dumps(results, indent=2) + "\n")
    log.info("wrote %s and %s", json_path, png_path)
    return results


def summary_line(m: dict) -> str:
    """One line of the headline figures of :func:`evaluate_folder`'s metrics."""
    from fer_core.labels import LABELS

    recalls = " ".join(f"{c} {m['per_class'][c]['recall']:.3f}" for c in LABELS
                       if m["per_class"][c]["support"])
    mr = "" if m["mean_recall"] is None else \
        f" | mean recall ({', '.join(m['mean_recall_classes'])}) {m['mean_recall']:.4f}"
    missing = [f"no face found in {m['no_face']}" if m.get("no_face") else "",
               f"unreadable {m['unreadable']}" if m.get("unreadable") else ""]
    missing = ", ".join(x for x in missing if x)
    return (f"n={m['n']} acc {m['accuracy']:.4f} balanced {m['balanced_accuracy']:.4f} "
            f"macro-F1 {m['macro_f1']:.4f}{mr} | recall {recalls}"
            + (f" | no prediction for {m['not_found']} ({missing})" if m["not_found"] else ""))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m training.evaluate", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default=SHIPPED_MODEL, help="exported ONNX model (its card JSON beside it)")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--data", help="FER2013 CSV (.csv/.csv.gz) or folder with train/ and test/")
    src.add_argument("--folder", help="any labelled folder DIR/<Class>/*.jpg (e.g. the real-photo set)")
    p.add_argument("--pipeline", action="store_true",
                   help="with --folder: detect and crop faces as the app does (analyze) instead of "
                        "classifying the whole stored image")
    p.add_argument("--classes", nargs="+", default=list(REAL_PHOTO_CLASSES),
                   help="with --folder: the classes whose recalls are averaged into 'mean recall'")
    p.add_argument("--ferplus", help="FER+ fer2013new.csv: also score PrivateTest against FER+ majority labels")
    p.add_argument("--out", help="with --data: folder for metrics.json and PNGs (default models/eval, for the "
                                 "shipped model only); with "
                                 "--folder (required): a .json file, its confusion_<name>.png beside it (e.g. "
                                 "models/eval/realphoto.json), or a folder for metrics.json and confusion.png")
    p.add_argument("--prior-strength", type=float, metavar="S",
                   help="class-prior strength instead of the card's (0 = none, 1 = the full move "
                        "to the FER+ class shares; training.prior)")
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    from training.cli import range_problem
    from training.data import DataError

    if args.pipeline and not args.folder:
        p.error("--pipeline goes with --folder")
    if args.folder and not args.out:
        p.error("--folder needs --out, so that it never overwrites the FER2013 models/eval/metrics.json: "
                "a .json file (its confusion PNG goes beside it), e.g. --out models/eval/realphoto.json "
                "(models/eval/realphoto_pipeline.json with --pipeline), or a folder")
    if args.data and not args.out and not _same_path(args.model, SHIPPED_MODEL):
        p.error(f"--out is needed for a model other than the shipped {SHIPPED_MODEL}, so that its figures do "
                f"not replace the shipped model's {SHIPPED_EVAL}/metrics.json: give a folder")
    problem = (range_problem("--threads", args.threads, 1)
               or out_problem(args.out or SHIPPED_EVAL, args.folder is not None, args.model))
    if problem:
        p.error(problem)
    try:
        if args.folder:
            res = evaluate_folder(args.model, args.folder, Path(args.out), args.pipeline, args.classes,
                                  args.threads, prior_strength=args.prior_strength)
            print(f"{res['mode']}: {summary_line(res['metrics'])}")
        else:
            evaluate(args.model, args.data, Path(args.out or SHIPPED_EVAL), args.ferplus, args.threads,
                     args.prior_strength)
    except (DataError, FileNotFoundError, ValueError) as exc:
        log.error("%s", exc)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
