"""Mixup and CutMix batches (training/mixing.py)."""
from __future__ import annotations

import numpy as np
import pytest

from training.mixing import mix_batch


def _batch(n=64, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 256, (n, 48, 48)).astype(np.float32)
    y = np.eye(7, dtype=np.float32)[rng.integers(0, 7, n)]
    w = rng.uniform(0.5, 2.0, n).astype(np.float32)
    return x, y, w


def test_mixup_blends_faces_targets_and_weights_with_one_lambda():
    x, y, w = _batch()
    mx, my, mw = mix_batch(x, y, w, np.random.default_rng(1), mixup=0.4, prob=1.0)
    np.testing.assert_allclose(my.sum(1), 1.0, atol=1e-5)  # still distributions
    changed = 0
    for i in range(len(x)):
        if np.array_equal(mx[i], x[i]):
            continue
        changed += 1
        # The partner is the face whose blend with x[i] reproduces mx[i] exactly.
        fits = []
        for j in range(len(x)):
            if j == i:
                continue
            d = (x[i] - x[j]).ravel()
            lam = float(d @ (mx[i] - x[j]).ravel() / (d @ d))
            err = np.abs(lam * x[i] + (1 - lam) * x[j] - mx[i]).max()
            fits.append((err, j, lam))
        err, j, lam = min(fits)
        assert err < 1e-2 and 0.0 <= lam <= 1.0
        np.testing.assert_allclose(my[i], lam * y[i] + (1 - lam) * y[j], atol=1e-4)
        np.testing.assert_allclose(mw[i], lam * w[i] + (1 - lam) * w[j], atol=1e-4)
    assert changed >= len(x) - 2  # a face may draw itself as partner, nothing more
    assert np.array_equal(x, _batch()[0])  # the input batch is not modified


def test_cutmix_pastes_one_box_and_weights_targets_by_its_area():
    x, y, w = _batch()
    mx, my, mw = mix_batch(x, y, w, np.random.default_rng(2), cutmix=1.0, prob=1.0)
    boxes = 0
    for i in range(len(x)):
        diff = mx[i] != x[i]
        if not diff.any():
            continue
        rows, cols = np.flatnonzero(diff.any(1)), np.flatnonzero(diff.any(0))
        box = (slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1))
        # Outside the box: the face itself. Inside: one other face of the batch, pixel for pixel.
        outside = np.ones_like(diff)
        outside[box] = False
        assert np.array_equal(mx[i][outside], x[i][outside])
        donors = [j for j in range(len(x)) if j != i and np.array_equal(mx[i][box], x[j][box])]
        assert len(donors) == 1
        j = donors[0]
        area = (rows[-1] - rows[0] + 1) * (cols[-1] - cols[0] + 1) / (48 * 48)
        np.testing.assert_allclose(my[i], (1 - area) * y[i] + area * y[j], atol=1e-5)
        np.testing.assert_allclose(mw[i], (1 - area) * w[i] + area * w[j], atol=1e-5)
        boxes += 1
    assert boxes >= len(x) // 2


@pytest.mark.parametrize("prob", [0.0, 0.5])
def test_mix_prob_leaves_the_other_faces_untouched(prob):
    x, y, w = _batch(n=400)
    mx, my, mw = mix_batch(x, y, w, np.random.default_rng(3), mixup=0.4, cutmix=1.0, prob=prob)
    untouched = np.mean([np.array_equal(mx[i], x[i]) and np.array_equal(my[i], y[i]) for i in range(len(x))])
    assert untouched == pytest.approx(1 - prob, abs=0.07)


def test_no_mixing_without_an_alpha():
    x, y, w = _batch()
    mx, my, mw = mix_batch(x, y, w, np.random.default_rng(4))
    assert np.array_equal(mx, x) and np.array_equal(my, y) and np.array_equal(mw, w)


def _faces(n: int, seed: int):
    """n random 48x48 faces, one-hot targets cycling through the classes, unit weights."""
    faces = np.random.default_rng(seed).integers(0, 256, (n, 48, 48)).astype(np.uint8)
    return faces, np.eye(7, dtype=np.float32)[np.arange(n) % 7], np.ones(n, np.float32)


def test_batches_are_reproducible_and_change_every_epoch():
    pytest.importorskip("keras")
    from training.mixing import mixed_batches

    faces, targets, weights = _faces(100, seed=5)
    a = mixed_batches(faces, targets, weights, 32, mixup=0.4, seed=9)
    b = mixed_batches(faces, targets, weights, 32, mixup=0.4, seed=9)
    assert len(a) == 4
    xa, ya, wa = a[0]
    assert xa.shape == (32, 48, 48, 1) and xa.dtype == np.float32 and ya.shape == (32, 7) and wa.shape == (32,)
    np.testing.assert_array_equal(xa, b[0][0])
    assert sum(len(a[k][0]) for k in range(len(a))) == 100  # every face once per epoch
    a.on_epoch_end()
    assert not np.array_equal(a[0][0], xa)


def test_a_resumed_run_gets_the_batches_of_an_uninterrupted_one():
    pytest.importorskip("keras")
    from training.mixing import mixed_batches

    faces, targets, weights = _faces(70, seed=6)
    straight = mixed_batches(faces, targets, weights, 32, mixup=0.4, seed=9)
    for _ in range(2):
        straight.on_epoch_end()
    resumed = mixed_batches(faces, targets, weights, 32, mixup=0.4, seed=9, start_epoch=2)
    fresh = mixed_batches(faces, targets, weights, 32, mixup=0.4, seed=9)
    for k in range(len(straight)):
        np.testing.assert_array_equal(resumed[k][0], straight[k][0])
        np.testing.assert_array_equal(resumed[k][1], straight[k][1])
    assert not np.array_equal(resumed[0][0], fresh[0][0])
