"""The label-shift estimators of benchmarks/label_shift.py on data whose shift is known."""
from __future__ import annotations

import numpy as np

from benchmarks.label_shift import bbse_prior, em_prior, score

MEANS = np.array([-2.0, 0.0, 2.0])  # three classes, unit-variance Gaussians on a line
TRAIN = np.array([0.5, 0.3, 0.2])


def sample(prior, n, rng):
    y = rng.choice(len(prior), size=n, p=prior)
    x = rng.normal(MEANS[y], 1.0)
    return x, y


def posteriors(x, prior):
    """Exact posteriors under ``prior`` (a calibrated classifier)."""
    lik = np.exp(-0.5 * (x[:, None] - MEANS[None, :]) ** 2)
    post = lik * prior
    return post / post.sum(1, keepdims=True)


def test_em_and_bbse_recover_a_known_class_mix():
    rng = np.random.default_rng(0)
    target = np.array([0.1, 0.2, 0.7])
    x, y = sample(target, 20000, rng)
    probs = posteriors(x, TRAIN)
    q = em_prior(probs, TRAIN)
    assert np.abs(q - target).max() < 0.02
    vx, vy = sample(TRAIN, 20000, rng)
    q = bbse_prior(posteriors(vx, TRAIN), vy, probs)
    assert np.abs(q - target).max() < 0.03
    # Re-weighting to the estimate beats the training prior's decisions on the shifted faces.
    acc_before = score(probs, y, 0.0, [0, 1, 2])[0]
    acc_after = score(probs, y, np.log(em_prior(probs, TRAIN) / TRAIN), [0, 1, 2])[0]
    assert acc_after > acc_before + 0.02


def test_em_without_a_shift_stays_put_and_pseudo_counts_pull_towards_training():
    rng = np.random.default_rng(1)
    x, _ = sample(TRAIN, 20000, rng)
    assert np.abs(em_prior(posteriors(x, TRAIN), TRAIN) - TRAIN).max() < 0.02
    x, _ = sample(np.array([0.1, 0.2, 0.7]), 2000, rng)
    probs = posteriors(x, TRAIN)
    free, held = em_prior(probs, TRAIN), em_prior(probs, TRAIN, pseudo_counts=2000)
    # The held estimate lies between the free one and the training mix, class by class.
    lo, hi = np.minimum(free, TRAIN), np.maximum(free, TRAIN)
    assert np.all((held > lo) & (held < hi))
    assert np.abs(held - TRAIN).sum() < 0.8 * np.abs(free - TRAIN).sum()
    assert np.isclose(held.sum(), 1.0)
