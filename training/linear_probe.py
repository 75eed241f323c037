"""Refit a trained model's classifier head on frozen features (a linear probe).

    python -m training.linear_probe --model ~/runs/r1/last.keras --out ~/runs/lp_r1/last.keras \
        --data ../shared/data/fer2013.csv.gz --ferplus ../shared/data/fer2013new.csv

Everything up to the pooled features (the ``gap`` layer) stays as it is; the softmax layer
``probs`` is fitted again, by L-BFGS from its current weights, to the Training faces without
augmentation. The target is the shipped recipe's: ``1 - ferplus_mix`` FER2013 one-hot plus
``ferplus_mix`` FER+ vote shares, each face weighted by ``class_weights(power)``; the loss is
the weighted mean cross-entropy plus ``l2 * ||W||^2``. Kumar et al. (2022, "Fine-tuning can
distort pretrained features and underperform out-of-distribution") found that a linear probe
keeps features that transfer; here it was measured as a way to move the head towards the
FER+ votes without touching the backbone (models/ablation.md: it cost about half a point of
PublicTest on every backbone tried and did not pass the real-photo bar).
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

import numpy as np

from fer_core.cli import output_problem
from training.cli import first_problem, range_problem

log = logging.getLogger("training.linear_probe")


def head_loss(theta: np.ndarray, x: np.ndarray, targets: np.ndarray, weights: np.ndarray,
              l2: float) -> tuple[float, np.ndarray]:
    """Weighted mean cross-entropy of ``softmax(x @ W + b)`` against ``targets`` plus
    ``l2 * ||W||^2``, and its gradient; ``theta`` is ``W`` (d x k) flattened, then ``b``."""
    d, k = x.shape[1], targets.shape[1]
    w_mat, bias = theta[: d * k].reshape(d, k), theta[d * k:]
    z = x @ w_mat + bias
    z -= z.max(axis=1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    total = weights.sum()
    loss = -(weights * (targets * logp).sum(axis=1)).sum() / total + l2 * (w_mat**2).sum()
    g = weights[:, None] * (np.exp(logp) - targets) / total
    grad = np.concatenate([(x.T @ g + 2 * l2 * w_mat).ravel(), g.sum(axis=0)])
    return float(loss), grad


def fit_head(x: np.ndarray, targets: np.ndarray, weights: np.ndarray, w0: np.ndarray, b0: np.ndarray,
             l2: float = 1e-4, max_iter: int = 500) -> tuple[np.ndarray, np.ndarray, dict]:
    """L-BFGS from ``(w0, b0)``; returns the new weights and a summary of the fit."""
    from scipy.optimize import minimize

    x, targets, weights = (np.asarray(a, np.float64) for a in (x, targets, weights))
    theta0 = np.concatenate([np.asarray(w0, np.float64).ravel(), np.asarray(b0, np.float64)])
    start = head_loss(theta0, x, targets, weights, l2)[0]
    res = minimize(head_loss, theta0, args=(x, targets, weights, l2), jac=True, method="L-BFGS-B",
                   options={"maxiter": max_iter})
    d, k = np.shape(w0)
    w_new, b_new = res.x[: d * k].reshape(d, k), res.x[d * k:]
    info = {"loss_start": start, "loss_end": float(res.fun), "iterations": int(res.nit), "message": str(res.message)}
    return w_new.astype(np.float32), b_new.astype(np.float32), info


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m training.linear_probe", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", required=True, help="a trained .keras model (the training wrapper is unwrapped)")
    p.add_argument("--out", required=True, help="where the refitted .keras model goes")
    p.add_argument("--data", required=True, help="FER2013 CSV or folder (its Training split is used)")
    p.add_argument("--ferplus", help="FER+ fer2013new.csv (needed for --ferplus-mix > 0)")
    p.add_argument("--ferplus-mix", type=float, default=0.3, help="weight of the FER+ votes in the target")
    p.add_argument("--class-weight-power", type=float, default=0.3)
    p.add_argument("--l2", type=float, default=1e-4, help="weight of ||W||^2 in the loss")
    p.add_argument("--max-iter", type=int, default=500)
    args = p.parse_args(argv)
    problem = first_problem([
        range_problem("--ferplus-mix", args.ferplus_mix, 0.0, 1.0),
        range_problem("--class-weight-power", args.class_weight_power),
        range_problem("--l2", args.l2, 0.0),
        range_problem("--max-iter", args.max_iter, 1),
    ])
    out = Path(args.out).expanduser()
    if problem:
        p.error(problem)
    if out.suffix != ".keras":
        p.error(f"--out {out}: the refitted model is saved as a .keras file")
    if out.parent.is_dir():
        problem = output_problem(out, [Path(args.model).expanduser(), Path(args.data).expanduser()],
                                 "--model/--data files")
        if problem:
            p.error(f"--out {out} {problem}")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    import keras

    from training.data import DataError, load_splits
    from training.export import load_core
    from training.train import class_weights, make_targets

    try:
        train = load_splits(args.data, args.ferplus)["Training"]
        if not len(train):
            raise DataError(f"{args.data}: no Training faces (the head is refitted on them)")
        if args.ferplus_mix > 0 and train.soft is None:
            raise DataError("--ferplus-mix needs --ferplus (the FER+ votes)")
        model = load_core(args.model)
        if not {"gap", "probs"} <= {layer.name for layer in model.layers}:
            raise DataError(f"{args.model}: no 'gap' and 'probs' layers (one classifier of training.models, "
                            "not an ensemble)")
    except (DataError, FileNotFoundError, ValueError) as exc:
        log.error("%s", exc)
        return 2
    features = keras.Model(model.inputs, model.get_layer("gap").output)
    x = features.predict(train.x[..., None].astype(np.float32), batch_size=256, verbose=0)
    head = model.get_layer("probs")
    w0, b0 = head.get_weights()
    w_new, b_new, info = fit_head(x, make_targets(train, args.ferplus_mix),
                                  class_weights(train.y, args.class_weight_power)[train.y], w0, b0,
                                  l2=args.l2, max_iter=args.max_iter)
    log.info("head refit on %d Training faces: loss %.4f -> %.4f in %d iterations (%s)", len(train),
             info["loss_start"], info["loss_end"], info["iterations"], info["message"])
    head.set_weights([w_new, b_new])
    out = Path(args.out).expanduser()
    out.parent.mkdir(parents=True, exist_ok=True)
    model.save(out)
    log.info("saved %s", out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
