"""Can the class mix of a set of unlabelled faces be estimated, and the model re-weighted to it?

    python benchmarks/label_shift.py --data ../shared/data/fer2013.csv.gz \\
        --ferplus ../shared/data/fer2013new.csv --folder ../shared/data/muxspace

The card's class prior moves every prediction towards one fixed mix (the FER+ vote shares).
The textbook alternative estimates the mix of the faces at hand from the model's own outputs
on them, without labels, and re-weights the predictions to it:

* **EM** (Saerens, Latinne & Decaestecker, Neural Computation 2002): alternate re-weighting the
  posteriors by ``q / p_train`` and setting ``q`` to their mean. ``--pseudo-counts N`` adds N
  faces' worth of the training mix to every update (a Dirichlet prior; 0 = plain EM).
* **BBSE** (Lipton, Wang & Smola, ICML 2018): solve ``C w = mu`` for the class weights ``w``,
  where ``C`` is the joint (prediction, label) matrix on PublicTest and ``mu`` the share of each
  predicted class on the new faces.

Both assume that only the class mix changed (label shift), not how each class looks. Prints,
for PublicTest and the labelled folder (whole images through ``predict_proba``, without the
card's prior): the estimated mix, accuracy, mean recall over ``--classes`` and their recalls,
beside no correction and the card's fixed prior. The folder's labels are used only to score.
PrivateTest is not read.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402


def em_prior(probs: np.ndarray, train_prior: np.ndarray, *, pseudo_counts: float = 0.0,
             iters: int = 200, tol: float = 1e-8) -> np.ndarray:
    """The class mix of ``probs``' faces by Saerens et al.'s EM: ``probs`` are posteriors under
    ``train_prior``; returns the estimated mix (sums to 1)."""
    probs = np.asarray(probs, np.float64)
    base = np.asarray(train_prior, np.float64)
    q = base.copy()
    for _ in range(iters):
        w = probs * (q / base)
        w /= w.sum(1, keepdims=True)
        new = (w.sum(0) + pseudo_counts * base) / (len(probs) + pseudo_counts)
        done = np.abs(new - q).max() < tol
        q = new
        if done:
            break
    return q


def bbse_prior(val_probs: np.ndarray, val_y: np.ndarray, probs: np.ndarray) -> np.ndarray:
    """The class mix of ``probs``' faces by black-box shift estimation, from a labelled
    validation set's joint (prediction, label) matrix; negative weights are clipped to 0."""
    k = val_probs.shape[1]
    joint = np.zeros((k, k))
    np.add.at(joint, (val_probs.argmax(1), val_y), 1.0)
    joint /= len(val_y)
    mu = np.bincount(probs.argmax(1), minlength=k) / len(probs)
    w = np.clip(np.linalg.lstsq(joint, mu, rcond=None)[0], 0.0, None)
    q = w * np.bincount(val_y, minlength=k) / len(val_y)
    return q / q.sum()


def score(probs: np.ndarray, y: np.ndarray, log_shift, classes: list[int]) -> tuple[float, float, list[float]]:
    """Accuracy, mean recall over ``classes`` and those recalls of ``argmax(log probs + shift)``."""
    pred = (np.log(np.maximum(probs, 1e-12)) + log_shift).argmax(1)
    recalls = [float((pred[y == c] == c).mean()) if (y == c).any() else float("nan") for c in classes]
    return float((pred == y).mean()), float(np.nanmean(recalls)), recalls


def main(argv=None) -> int:
    from fer_core.model_card import REAL_PHOTO_CLASSES

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", required=True, help="FER2013 CSV (Training and PublicTest are read)")
    p.add_argument("--ferplus", required=True, help="FER+ votes (the card prior's target mix)")
    p.add_argument("--folder", required=True, help="labelled folder DIR/<Class>/*.jpg")
    p.add_argument("--model", default="models/fer_model.onnx")
    p.add_argument("--pseudo-counts", type=float, nargs="+", default=[0.0, 1000.0, 5000.0])
    p.add_argument("--classes", nargs="+", default=list(REAL_PHOTO_CLASSES))
    args = p.parse_args(argv)

    from fer_core.labels import LABELS
    from fer_core.recognizer import Recognizer
    from training.data import folder_files, load_splits
    from training.evaluate import folder_probs
    from training.prior import prior_shift

    classes = [LABELS.index(c) for c in args.classes]
    rec = Recognizer(args.model, threads=2, class_prior=False)
    splits = load_splits(args.data, args.ferplus)
    train, val = splits["Training"], splits["PublicTest"]
    train_prior = rec.predict_proba(train.x, source_sides=train.sides).mean(0)
    card_strength = float((rec.card.get("class_prior") or {}).get("strength", 0.0))
    fixed = card_strength * prior_shift(train_prior, train.soft.mean(0))
    val_probs = rec.predict_proba(val.x, source_sides=val.sides)
    files = folder_files(args.folder)
    probs, y, found = folder_probs(rec, files, progress=False)
    probs, y = probs[found], y[found]

    def mix(q):
        return " ".join(f"{LABELS[i][:3]} {v:.3f}" for i, v in enumerate(q))

    print(f"model's mean prediction on Training: {mix(train_prior)}")
    print(f"true mix of {Path(args.folder).name}: {mix(np.bincount(y, minlength=len(LABELS)) / len(y))}")
    head = " / ".join(LABELS[c][:3] for c in classes)
    print(f"\n| set | correction | estimated mix | accuracy | mean recall | recall {head} |")
    print("|---|---|---|---:|---:|---|")
    for name, pr, yy in (("PublicTest", val_probs, val.y), (Path(args.folder).name, probs, y)):
        rows = [("none", None, 0.0), (f"card prior {card_strength:.1f}", None, fixed)]
        for n0 in args.pseudo_counts:
            q = em_prior(pr, train_prior, pseudo_counts=n0)
            rows.append((f"EM, {n0:g} pseudo-counts", q, np.log(np.maximum(q, 1e-6) / train_prior)))
        if name != "PublicTest":  # BBSE's matrix comes from PublicTest itself
            q = bbse_prior(val_probs, val.y, pr)
            rows.append(("BBSE", q, np.log(np.maximum(q, 1e-6) / train_prior)))
        for label, q, shift in rows:
            acc, mean, rec_ = score(pr, yy, shift, classes)
            print(f"| {name} | {label} | {mix(q) if q is not None else '-'} | {100 * acc:.2f}% | "
                  f"{100 * mean:.2f}% | {' / '.join(f'{100 * r:.0f}' for r in rec_)} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
