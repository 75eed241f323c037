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
