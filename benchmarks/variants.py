"""Accuracy vs speed of the shippable variants, on PublicTest (the selection split) only.

    python benchmarks/variants.py --data ../shared/data/fer2013.csv.gz [--model models/fer_model.onnx]

The shipped model and, when ``training.export --int8`` kept it beside the shipped file,
its float32 original (``<model>.float32.onnx``), each with and without mirror averaging:
PublicTest accuracy, and ms per face at batch 1 and 32 on one thread.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


from benchmarks.bench_inference import timeit  # noqa: E402


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", required=True)
    p.add_argument("--model", default="models/fer_model.onnx")
    args = p.parse_args(argv)
    from fer_core import load_recognizer
    from training.data import load_splits

    val = load_splits(args.data)["PublicTest"]
    model = Path(args.model)
    files = [model] + [f for f in [model.with_name(model.stem + ".float32.onnx")] if f.is_file()]
    shipped = load_recognizer(model)
    print(f"{'variant':28s} {'PublicTest acc':>14s} {'ms/face b1':>11s} {'ms/face b32':>12s}")
    for f in files:
        for tta in (True, False):
            # The float32 file has no card of its own: it shares the shipped model's temperature, input blur
            # and class-prior correction (without the prior it read 0.9 points above the int8 file, which
            # has it: most of that gap was the prior's cost, not quantization's).
            rec = load_recognizer(f, threads=1, flip_tta=tta, temperature=shipped.temperature,
                                  input_blur=shipped.input_blur)
            rec.log_prior_shift, rec.prior_strength = shipped.log_prior_shift, shipped.prior_strength
            acc = (rec.predict_proba(val.x).argmax(1) == val.y).mean()
            b1 = timeit(lambda rec=rec: rec.predict_proba(val.x[:1]), 200)
            b32 = timeit(lambda rec=rec: rec.predict_proba(val.x[:32]), 50) / 32
            kind = ("float32" if f.name.endswith(".float32.onnx")
                    else "int8 (shipped)" if "int8" in rec.card else "float32 (shipped)")
            name = f"{kind}, mirror {'on' if tta else 'off'}"
            print(f"{name:28s} {acc:14.2%} {b1:11.3f} {b32:12.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
