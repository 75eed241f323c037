"""Weight-space interpolation between two models of one architecture (WiSE-FT).

    python -m training.interpolate --base models/fer_model.keras --tuned ~/runs/r1/last.keras \
        --alpha 0.5 --out ~/runs/w50/fer_model.keras

Writes ``(1 - alpha) * base + alpha * tuned`` for every weight, batch-norm statistics
included. It only makes sense when ``tuned`` was trained starting from ``base`` (``--init``):
the two then sit in one basin and the straight line between them stays a good model.
Wortsman et al. (2022, "Robust fine-tuning of zero-shot models") found that such a mix
keeps most of the fine-tuned model's gain on the new target while giving back less of the
original model's accuracy than either end. Here ``base`` is the model that is best on
FER2013's own labels and ``tuned`` the cycle trained towards the FER+ votes, which is better
on real photos; alpha trades one for the other. Training files (with the augmentation
wrapper) are unwrapped to the classifier first, as ``training.export`` does.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

import numpy as np

log = logging.getLogger("training.interpolate")


def mix_weights(base: list[np.ndarray], tuned: list[np.ndarray], alpha: float) -> list[np.ndarray]:
    """``(1 - alpha) * base + alpha * tuned``, array by array; shapes must match one to one."""
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be in [0, 1], not {alpha}")
    if len(base) != len(tuned):
        raise ValueError(f"the models have {len(base)} and {len(tuned)} weight arrays: not one architecture")
    mixed = []
    for i, (a, b) in enumerate(zip(base, tuned, strict=True)):
        if a.shape != b.shape:
            raise ValueError(f"weight {i}: shapes {a.shape} and {b.shape} differ: not one architecture")
        if np.issubdtype(a.dtype, np.floating):
            mixed.append(((1.0 - alpha) * a.astype(np.float64) + alpha * b.astype(np.float64)).astype(a.dtype))
        else:  # integer state (e.g. a step counter) is taken from the tuned model
            mixed.append(b.copy())
    return mixed


def interpolate(base_path: str | Path, tuned_path: str | Path, alpha: float, out: str | Path):
    """Load both models, write the mixed one to ``out`` (.keras) and return it."""
    from training.export import load_core

    base, tuned = load_core(base_path), load_core(tuned_path)
    base.set_weights(mix_weights(base.get_weights(), tuned.get_weights(), alpha))
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    base.save(out)
    return base


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m training.interpolate", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--base", required=True, help=".keras model at alpha 0 (the starting point of --tuned)")
    p.add_argument("--tuned", required=True, help=".keras model at alpha 1 (trained with --init BASE)")
    p.add_argument("--alpha", required=True, type=float, help="share of --tuned, in [0, 1]")
    p.add_argument("--out", required=True, help=".keras file to write")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    if not 0.0 <= args.alpha <= 1.0:
        p.error(f"--alpha must be in [0, 1], not {args.alpha}")
    if Path(args.out).suffix != ".keras":
        p.error(f"--out {args.out}: the mixed model is saved as a .keras file")
    try:
        interpolate(args.base, args.tuned, args.alpha, args.out)
    except (FileNotFoundError, ValueError) as e:
        log.error("%s", e)
        return 1
    log.info("wrote %s: %.2f x %s + %.2f x %s", args.out, 1 - args.alpha, args.base, args.alpha, args.tuned)
    return 0


if __name__ == "__main__":
    sys.exit(main())
