"""Mixup and CutMix: training batches that blend pairs of faces and their targets.

Mixing needs the targets, which the in-graph augmentation layers never see, so it happens
where the batches are made: a ``keras.utils.PyDataset`` over the uint8 faces (backend-agnostic).
The augmentation layers then run on the mixed faces inside the training graph as usual.

- Mixup: ``x = lam * x_a + (1 - lam) * x_b``, same for the targets and the sample weights.
- CutMix: a box of ``x_b`` pasted into ``x_a``; ``lam`` is the share of ``x_a`` left visible.

``lam`` is drawn per face from Beta(alpha, alpha); the partner is another face of the batch.
Keras 3's ``MixUp`` and ``CutMix`` layers mix every face of a batch and only images and labels;
these batches also mix the class-balancing sample weights and leave a chosen share of faces
unmixed (``prob``), so the net still sees single faces like the ones it will be shown.
"""
from __future__ import annotations

import numpy as np


def mix_batch(x: np.ndarray, y: np.ndarray, w: np.ndarray, rng: np.random.Generator, *,
              mixup: float = 0.0, cutmix: float = 0.0, prob: float = 1.0):
    """Mix a batch. ``x``: (B, H, W[, C]) float32; ``y``: (B, K) targets; ``w``: (B,) weights.

    ``mixup``/``cutmix``: the Beta alpha of each (0: off). When both are on, each mixed face
    gets one of the two at random. ``prob``: the share of faces that are mixed at all.
    Returns new arrays; the inputs are left unchanged.
    """
    xa, ya, wa = (np.asarray(a, np.float32) for a in (x, y, w))  # every face blends with these originals
    x, y, w = xa.copy(), ya.copy(), wa.copy()
    n = len(x)
    kinds = [k for k, a in (("mixup", mixup), ("cutmix", cutmix)) if a > 0]
    if n < 2 or not kinds or prob <= 0:
        return x, y, w
    partner = rng.permutation(n)
    chosen = np.flatnonzero(rng.random(n) < prob)
    h, wd = x.shape[1], x.shape[2]
    for i in chosen:
        j = partner[i]
        if j == i:
            continue
        if kinds[rng.integers(len(kinds))] == "mixup":
            lam = float(rng.beta(mixup, mixup))
            x[i] = lam * xa[i] + (1 - lam) * xa[j]
        else:
            lam = float(rng.beta(cutmix, cutmix))
            # A box covering 1 - lam of the face, centred anywhere and clipped to the image;
            # lam is then recomputed from the box actually pasted.
            bh, bw = int(round(h * np.sqrt(1 - lam))), int(round(wd * np.sqrt(1 - lam)))
            cy, cx = int(rng.integers(h)), int(rng.integers(wd))
            y0, y1 = max(cy - bh // 2, 0), min(cy - bh // 2 + bh, h)
            x0, x1 = max(cx - bw // 2, 0), min(cx - bw // 2 + bw, wd)
            x[i, y0:y1, x0:x1] = xa[j, y0:y1, x0:x1]
            lam = 1.0 - (y1 - y0) * (x1 - x0) / (h * wd)
        y[i] = lam * ya[i] + (1 - lam) * ya[j]
        w[i] = lam * wa[i] + (1 - lam) * wa[j]
    return x, y, w


def mixed_batches(faces: np.ndarray, targets: np.ndarray, weights: np.ndarray, batch_size: int, *,
                  mixup: float = 0.0, cutmix: float = 0.0, prob: float = 1.0, seed: int = 0,
                  start_epoch: int = 0):
    """A ``keras.utils.PyDataset`` of shuffled, mixed batches of ``(faces[..., None], targets, weights)``.

    ``faces``: (N, 48, 48) uint8, kept as uint8 and converted per batch. The order and the
    mixing change every epoch and are reproducible from ``seed``. The dataset counts epochs
    itself from ``start_epoch``: a run resumed by ``BackupAndRestore`` after E epochs passes
    ``start_epoch=E`` and gets the batches an uninterrupted run would have had.
    """
    import keras

    class MixedBatches(keras.utils.PyDataset):
        def __init__(self):
            super().__init__()
            self.epoch = start_epoch
            self.order = np.random.default_rng([seed, start_epoch]).permutation(len(faces))

        def __len__(self):
            return int(np.ceil(len(faces) / batch_size))

        def __getitem__(self, index):
            idx = self.order[index * batch_size:(index + 1) * batch_size]
            rng = np.random.default_rng([seed, self.epoch, index])
            x, y, w = mix_batch(faces[idx].astype(np.float32), targets[idx], weights[idx], rng,
                                mixup=mixup, cutmix=cutmix, prob=prob)
            return x[..., None], y, w

        def on_epoch_end(self):
            self.epoch += 1
            self.order = np.random.default_rng([seed, self.epoch]).permutation(len(faces))

    return MixedBatches()
