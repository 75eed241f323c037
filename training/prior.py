"""Class-prior correction for an exported model: read fewer expressions into neutral faces.

A classifier's probabilities carry the class frequencies it was trained on. FER2013's
labels (and the class weights of training) make Neutral a rare answer (17% of Training),
while the FER+ crowd votes on the same faces call a third of them neutral, and everyday
photos and webcam frames are mostly neutral. Measured on the real-photo set, the shipped
model called 43% of the neutral photos neutral.

The correction is the standard prior shift (Saerens, Latinne & Decaestecker, "Adjusting
the outputs of a classifier to new a priori probabilities", Neural Computation 2002):
``log p(c | x) += alpha * (log target(c) - log model(c))``, where ``model`` is the model's
own mean predicted probability over the Training faces and ``target`` the mean FER+ vote
shares of the same faces. ``alpha`` in [0, 1] says how far to move; it is chosen on
PublicTest alone by a rule fixed in advance: the largest alpha on a 0.1 grid whose
PublicTest accuracy (against the FER2013 labels) stays within ``--max-drop`` points of
alpha = 0. The real-photo set never chooses anything here.

Example::

    python -m training.prior --model models/fer_model.onnx \\
        --data ../shared/data/fer2013.csv.gz --ferplus ../shared/data/fer2013new.csv

writes ``class_prior`` into the model's card (``models/fer_model.json``), which
``fer_core.Recognizer`` applies after the temperature.
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

import numpy as np

log = logging.getLogger("training.prior")

ALPHAS = tuple(round(0.1 * i, 1) for i in range(11))


def prior_shift(model_prior: np.ndarray, target_prior: np.ndarray) -> np.ndarray:
    """``log target - log model``, per class (the full-strength shift)."""
    return np.log(np.maximum(target_prior, 1e-6)) - np.log(np.maximum(model_prior, 1e-6))


def shifted_accuracy(probs: np.ndarray, y: np.ndarray, shift: np.ndarray) -> float:
    """Accuracy of ``argmax(log probs + shift)``."""
    return float(((np.log(np.maximum(probs, 1e-12)) + shift).argmax(1) == y).mean())


def choose_strength(probs: np.ndarray, y: np.ndarray, shift: np.ndarray, max_drop: float,
                    alphas=ALPHAS) -> tuple[float, list[dict]]:
    """The largest alpha whose accuracy on ``(probs, y)`` is within ``max_drop`` (a fraction) of
    alpha = 0, and the table of every alpha tried."""
    table = [{"alpha": a, "accuracy": shifted_accuracy(probs, y, a * shift)} for a in alphas]
    base = table[0]["accuracy"]
    ok = [r["alpha"] for r in table if r["accuracy"] >= base - max_drop]
    return max(ok), table


def fit_prior(model_path: str | Path, data: str | Path, ferplus: str | Path, max_drop: float = 0.01,
              threads: int = 2) -> dict:
    """Compute the card's ``class_prior`` entry for an exported model (see the module's docstring)."""
    from fer_core.labels import LABELS
    from training.cli import recognizer
    from training.data import DataError, load_splits

    splits = load_splits(data, ferplus)
    train, val = splits["Training"], splits["PublicTest"]
    if train.soft is None or not len(train) or not len(val):
        raise DataError(f"{data}: need Training and PublicTest faces with FER+ votes")
    rec = recognizer(model_path, threads=threads, class_prior=False)
    model_prior = rec.predict_proba(train.x, source_sides=train.sides).mean(0)
    target_prior = train.soft.mean(0)
    shift = prior_shift(model_prior, target_prior)
    alpha, table = choose_strength(rec.predict_proba(val.x, source_sides=val.sides), val.y, shift, max_drop)
    log.info("model prior  %s", " ".join(f"{c} {p:.3f}" for c, p in zip(LABELS, model_prior)))
    log.info("target prior %s", " ".join(f"{c} {p:.3f}" for c, p in zip(LABELS, target_prior)))
    log.info("PublicTest accuracy by strength: %s", ", ".join(f"{r['alpha']:.1f}: {r['accuracy']:.4f}"
                                                             for r in table))
    log.info("strength %.1f (the largest within %.1f points of no correction)", alpha, 100 * max_drop)
    return {
        "method": "prior shift (Saerens et al. 2002): log p += strength * (log target - log model)",
        "target": "mean FER+ vote shares of the FER2013 Training faces",
        "model_prior": [float(v) for v in model_prior],
        "target_prior": [float(v) for v in target_prior],
        "strength": alpha,
        "rule": f"largest strength (0.1 grid) whose PublicTest accuracy is within {100 * max_drop:.1f} "
                "points of no correction",
        "publictest_accuracy_by_strength": table,
        "log_shift": [float(v) for v in alpha * shift],
    }


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m training.prior", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="models/fer_model.onnx", help="exported ONNX model (its card beside it)")
    p.add_argument("--data", required=True, help="FER2013 CSV (.csv or .csv.gz)")
    p.add_argument("--ferplus", required=True, help="FER+ fer2013new.csv (the target prior)")
    p.add_argument("--max-drop", type=float, default=1.0,
                   help="PublicTest accuracy points the correction may cost (the selection rule)")
    p.add_argument("--dry-run", action="store_true", help="print the entry, leave the card alone")
    args = p.parse_args(argv)
    from training.cli import range_problem

    problem = range_problem("--max-drop", args.max_drop, 0.0, 100.0)
    if problem:
        p.error(problem)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    from training.data import DataError

    card_path = Path(args.model).with_suffix(".json")
    if not card_path.is_file():
        log.error("%s: no model card beside the model (export it with training.export)", card_path)
        return 2
    try:
        entry = fit_prior(args.model, args.data, args.ferplus, args.max_drop / 100.0)
    except (DataError, FileNotFoundError, ValueError) as exc:
        log.error("%s", exc)
        return 2
    if args.dry_run:
        print(json.dumps(entry, indent=2))
        return 0
    card = json.loads(card_path.read_text())
    card["class_prior"] = entry
    card_path.write_text(json.dumps(card, indent=2) + "\n")
    log.info("wrote class_prior (strength %.1f) into %s", entry["strength"], card_path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
