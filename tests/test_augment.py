"""The training-time augmentation (Keras layers inside the training graph)."""
from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("keras")

from training.augment import augmenter  # noqa: E402


def _untouched_fraction(x: np.ndarray, y: np.ndarray) -> float:
    """Share of outputs that are the input or its mirror up to a brightness/contrast change."""
    def same(i):
        return max(np.corrcoef(z.ravel(), y[i].ravel())[0, 1] for z in (x[i], x[i, :, ::-1])) > 0.999
    return float(np.mean([same(i) for i in range(len(x))]))


@pytest.mark.parametrize("keep_sharp", [0.0, 0.3, 1.0])
def test_keep_sharp_spares_that_fraction_from_resampling(keep_sharp):
    # Mid-grey noise: brightness and contrast changes stay linear (no clipping), while any
    # rotation, zoom or shift of noise destroys the pixel-wise correlation.
    x = np.random.default_rng(0).integers(110, 145, (400, 48, 48, 1)).astype("float32")
    aug = augmenter(1.0, seed=1, keep_sharp=keep_sharp)
    frac = _untouched_fraction(x, np.asarray(aug(x, training=True)))
    assert frac == pytest.approx(keep_sharp, abs=0.08)
    np.testing.assert_allclose(np.asarray(aug(x, training=False)), x)  # inference: identity


@pytest.mark.parametrize("erase", [0.0, 0.5])
def test_erase_boxes_that_fraction_of_faces(erase):
    # Strength 0 leaves only the flip (and identity brightness/contrast), so any other change
    # is an erased box: a rectangle of changed pixels, at most 20% of the face.
    x = np.random.default_rng(1).integers(110, 145, (400, 48, 48, 1)).astype("float32")
    aug = augmenter(0.0, seed=2, erase=erase)
    y = np.asarray(aug(x, training=True))
    changed = np.minimum(np.abs(y - x), np.abs(y - x[:, :, ::-1])).squeeze(-1) > 1e-3
    hit = changed.any(axis=(1, 2))
    assert hit.mean() == pytest.approx(erase, abs=0.08)
    for m in changed[hit][:50]:
        rows, cols = np.flatnonzero(m.any(1)), np.flatnonzero(m.any(0))
        box = m[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
        assert box.mean() > 0.4  # the changed pixels fill a box (noise can match a few by chance)
        assert box.size <= 0.2 * m.size + 2 * 48
    np.testing.assert_allclose(np.asarray(aug(x, training=False)), x)
