"""How much fine detail the training augmentation leaves, and what it costs (a script, not a test).

    python benchmarks/augment_detail.py [--data ../shared/data/fer2013.csv.gz] [--n 512]

For each ``--resample`` mode of ``training.augment.augmenter`` (strength 1, no keep-sharp),
and for the default mode with ``--low-res 0.2``:
the detail kept, the mean squared difference of neighbouring pixels after augmentation
over the same before it, on smooth random textures (the measure of
``tests/test_augment.py``) and, with ``--data``, on PublicTest faces. It also prints the
median milliseconds per batch of 128 for the compiled augmentation step on the backend in use.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import cv2  # noqa: E402
import numpy as np  # noqa: E402


def detail(z: np.ndarray) -> float:
    """Fine detail of a batch (N, H, W[, C]): the mean squared difference of neighbouring pixels."""
    z = np.asarray(z, dtype=np.float64)
    return float(np.mean(np.diff(z, axis=1) ** 2) + np.mean(np.diff(z, axis=2) ** 2))


def texture(n: int, seed: int, lo: float = 40, hi: float = 220) -> np.ndarray:
    """Smooth random textures, (n, 48, 48, 1) float32: detail at every scale down to a pixel or two."""
    rng = np.random.default_rng(seed)
    return np.stack([cv2.GaussianBlur(rng.uniform(lo, hi, (48, 48)).astype("float32"), (0, 0), 1.0)
                     for _ in range(n)])[..., None]


#: (label, augmenter keyword arguments) of the rows printed.
CONFIGS = [(mode, {"resample": mode}) for mode in ("chain", "once")] + [
    ("chain + low-res 0.2", {"resample": "chain", "low_res": 0.2})]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", help="FER2013 CSV: also measure on PublicTest faces")
    p.add_argument("--n", type=int, default=512)
    p.add_argument("--repeats", type=int, default=30)
    args = p.parse_args(argv)
    import keras

    from benchmarks.bench_inference import timeit  # imported here: it pins OpenMP to one thread
    from training.augment import augmenter

    sets = {"texture": texture(args.n, 4, 60, 200)}
    if args.data:
        from training.data import load_splits

        sets["PublicTest"] = load_splits(args.data)["PublicTest"].x[:args.n, ..., None].astype("float32")
    print(f"backend {keras.backend.backend()}; detail kept (1 = as sharp as the input)")
    print(f"{'augmentation':20s} " + " ".join(f"{k:>12s}" for k in sets) + f" {'ms/batch128':>12s}")
    for label, kwargs in CONFIGS:
        aug = augmenter(1.0, seed=5, **kwargs)
        kept = [detail(np.asarray(aug(x, training=True))) / detail(x) for x in sets.values()]
        batch = keras.ops.convert_to_tensor(sets["texture"][:128])
        step = lambda t, aug=aug: aug(t, training=True)  # noqa: E731
        if keras.backend.backend() == "tensorflow":
            import tensorflow as tf

            step = tf.function(step)  # as inside model.fit's compiled train step
        ms = timeit(lambda step=step, batch=batch: np.asarray(step(batch)), args.repeats)
        print(f"{label:20s} " + " ".join(f"{k:12.3f}" for k in kept) + f" {ms:12.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
