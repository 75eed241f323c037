"""Ablation of the inference-side choices, for one or more exported models (prints a Markdown table).

    python benchmarks/ablation.py --data ../shared/data/fer2013.csv.gz \
        --models models/fer_model.onnx [other/fer_model.onnx ...]

For each model (an ``training.export --int8`` output, whose float32 original sits beside it
as ``<stem>.float32.onnx``), the rows add one choice at a time, all made on PublicTest:
float32 plain -> + mirror averaging -> + the input blur from the card -> int8 (the shipped
file). PrivateTest is printed next to PublicTest as the report, never used to choose.
Accuracy and macro-F1 through ``predict_proba`` with the card's temperature.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def rows_for(model: Path):
    """(label, model file, flip_tta, input_blur) for each step of the ablation of one export."""
    from fer_core import load_recognizer

    card = load_recognizer(model).card
    fp32 = model.with_name(model.stem + ".float32.onnx")
    base = fp32 if fp32.is_file() else model
    sigma = float(card.get("input_blur_sigma", 0.0))
    kind = "int8" if "int8" in card else "float32"
    steps = [("float32, single view", base, False, 0.0), ("+ mirror averaging", base, True, 0.0)]
    if sigma > 0:
        steps.append((f"+ input blur sigma {sigma:.1f}", base, True, sigma))
    if base != model:
        steps.append((f"{kind} (shipped file)", model, True, sigma))
    return steps, card


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", required=True, help="FER2013 CSV")
    p.add_argument("--models", nargs="+", default=["models/fer_model.onnx"])
    p.add_argument("--names", nargs="+", help="a label per model for the first column "
                                              "(default: architecture and parameter count)")
    args = p.parse_args(argv)
    if args.names and len(args.names) != len(args.models):
        p.error(f"--names has {len(args.names)} labels for {len(args.models)} models")
    from sklearn.metrics import f1_score

    from fer_core import load_recognizer
    from training.data import load_splits

    splits = load_splits(args.data)
    print("| model | step | PublicTest acc | PublicTest macro-F1 | PrivateTest acc | PrivateTest macro-F1 |")
    print("|---|---|---|---|---|---|")
    for i, m in enumerate(args.models):
        model = Path(m)
        steps, card = rows_for(model)
        arch = args.names[i] if args.names else \
            f"{card.get('architecture', '?')} ({card.get('parameters', 0) / 1e3:.0f} k params)"
        for label, path, tta, sigma in steps:
            rec = load_recognizer(path, threads=2, flip_tta=tta, input_blur=sigma,
                                  temperature=card.get("temperature", 1.0))
            cells = []
            for split in ("PublicTest", "PrivateTest"):
                s = splits[split]
                pred = rec.predict_proba(s.x).argmax(1)
                cells += [f"{(pred == s.y).mean():.2%}", f"{f1_score(s.y, pred, average='macro'):.3f}"]
            print(f"| {arch} | {label} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
