"""Two inference knobs against PublicTest and a labelled folder of real photos: the input blur
and the class prior's strength, negative strengths (away from the FER+ shares) included.

    python benchmarks/real_photo_knobs.py --data ../shared/data/fer2013.csv.gz \\
        --folder ../shared/data/muxspace --model models/fer_model_everyday.onnx

For each input blur (``--blurs``, the card's prior as it is) and each prior strength
(``--strengths``, the card's blur), prints PublicTest accuracy (FER2013 labels) and the
folder's accuracy, mean recall over ``--classes`` and those recalls (whole images through
``predict_proba``). A strength moves the log-probabilities by ``s (log target - log model)``
from the card's ``class_prior``, as ``training.prior`` does; the recognizer takes 0 to 2, this
sweep any value. PrivateTest is not read. models/ablation.md ("Two more one-off checks") has
the figures of 2026-12-06.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

from benchmarks.label_shift import score  # noqa: E402


def strength_shift(card: dict, strength: float) -> np.ndarray:
    """The log-probability offsets of the card's class prior at ``strength`` (any sign)."""
    from training.prior import prior_shift

    prior = card.get("class_prior") or {}
    if "model_prior" not in prior or "target_prior" not in prior:
        raise ValueError("the model card has no class_prior with model_prior and target_prior")
    return strength * prior_shift(np.asarray(prior["model_prior"]), np.asarray(prior["target_prior"]))


def main(argv=None) -> int:
    from fer_core.model_card import REAL_PHOTO_CLASSES

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", required=True, help="FER2013 CSV (PublicTest is read)")
    p.add_argument("--folder", required=True, help="labelled folder DIR/<Class>/*.jpg")
    p.add_argument("--model", default="models/fer_model.onnx")
    p.add_argument("--blurs", type=float, nargs="+", default=[0.0, 0.5, 0.8, 1.1, 1.5])
    p.add_argument("--strengths", type=float, nargs="+", default=[-1.0, -0.8, -0.6, -0.4, -0.2, 0.0, 0.2])
    p.add_argument("--classes", nargs="+", default=list(REAL_PHOTO_CLASSES))
    args = p.parse_args(argv)

    from fer_core.labels import LABELS
    from fer_core.recognizer import Recognizer
    from training.data import folder_files, load_fer2013_csv
    from training.evaluate import folder_probs

    classes = [LABELS.index(c) for c in args.classes]
    public = load_fer2013_csv(args.data)["PublicTest"]
    files = folder_files(args.folder)
    head = " / ".join(LABELS[c][:3] for c in classes)
    print(f"| knob | PublicTest | {Path(args.folder).name}: accuracy | mean recall | recall {head} |")
    print("|---|---:|---:|---:|---|")

    def row(knob: str, rec: Recognizer, shift) -> None:
        pub = score(rec.predict_proba(public.x), public.y, shift, classes)[0]
        probs, y, _ = folder_probs(rec, files, progress=False)
        acc, mean, recalls = score(probs, y, shift, classes)
        print(f"| {knob} | {100 * pub:.2f}% | {100 * acc:.2f}% | {100 * mean:.2f}% | "
              f"{' / '.join(f'{100 * r:.1f}' for r in recalls)} |", flush=True)

    for sigma in args.blurs:  # the card's prior as it is
        row(f"blur {sigma:g} px", Recognizer(args.model, threads=2, input_blur=sigma), 0.0)
    plain = Recognizer(args.model, threads=2, class_prior=False)  # the strengths are applied here
    for s in args.strengths:
        row(f"prior strength {s:+.1f}", plain, strength_shift(plain.card, s))
    return 0


if __name__ == "__main__":
    sys.exit(main())
