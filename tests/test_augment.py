"""The training-time augmentation (Keras layers inside the training graph)."""
from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("keras")

from benchmarks.augment_detail import detail, texture  # noqa: E402
from training.augment import RandomLowRes, RandomPhotoDegrade, RandomRotateZoomShift, augmenter  # noqa: E402


def _untouched_fraction(x: np.ndarray, y: np.ndarray) -> float:
    """Share of outputs that are the input or its mirror up to a brightness/contrast change."""
    def same(i):
        return max(np.corrcoef(z.ravel(), y[i].ravel())[0, 1] for z in (x[i], x[i, :, ::-1])) > 0.999
    return float(np.mean([same(i) for i in range(len(x))]))


@pytest.mark.parametrize("resample", ["chain", "once"])
@pytest.mark.parametrize("keep_sharp", [0.0, 0.3, 1.0])
def test_keep_sharp_spares_that_fraction_from_resampling(keep_sharp, resample):
    # Mid-grey noise: brightness and contrast changes stay linear (no clipping), while any
    # rotation, zoom or shift of noise destroys the pixel-wise correlation.
    x = np.random.default_rng(0).integers(110, 145, (400, 48, 48, 1)).astype("float32")
    aug = augmenter(1.0, seed=1, keep_sharp=keep_sharp, resample=resample)
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


def test_one_resampling_draws_the_keras_ranges():
    """Channel 0 holds each pixel's x coordinate, channel 1 its y. Bilinear sampling of a linear
    ramp is exact, so in the middle of the face (where no sample reaches the reflected border)
    each output channel is the affine map itself: fitting a plane recovers every face's
    rotation, zoom and shift."""
    n, side = 300, 48
    yy, xx = np.mgrid[0:side, 0:side].astype("float32")
    x = np.broadcast_to(np.stack([xx, yy], -1), (n, side, side, 2)).copy()
    out = np.asarray(RandomRotateZoomShift(0.04, 0.15, 0.1, seed=3)(x, training=True))
    c = (side - 1) / 2
    mid = slice(16, 32)
    design = np.stack([xx[mid, mid].ravel(), yy[mid, mid].ravel(), np.ones(256)], 1)
    a = np.linalg.lstsq(design, out[:, mid, mid, 0].reshape(n, -1).T, rcond=None)[0].T  # (n, 3)
    b = np.linalg.lstsq(design, out[:, mid, mid, 1].reshape(n, -1).T, rcond=None)[0].T
    np.testing.assert_allclose(b[:, 0], -a[:, 1], atol=1e-3)  # a rotation and an even zoom, no shear
    np.testing.assert_allclose(b[:, 1], a[:, 0], atol=1e-3)
    scale = np.hypot(a[:, 0], a[:, 1])
    angle = np.arctan2(b[:, 0], a[:, 0])
    dx = a[:, 2] - (c - a[:, 0] * c - a[:, 1] * c)
    dy = b[:, 2] - (c - b[:, 0] * c - b[:, 1] * c)
    for value, limit in ((scale - 1, 0.15), (angle, 0.04 * 2 * np.pi), (dx, 4.8), (dy, 4.8)):
        assert np.abs(value).max() <= limit + 1e-3
        assert value.min() < -0.8 * limit and value.max() > 0.8 * limit  # the whole range is drawn
    np.testing.assert_array_equal(np.asarray(RandomRotateZoomShift(0.04, 0.15, 0.1)(x, training=False)), x)


def test_one_resampling_keeps_faces_sharper_than_three():
    """The chained Keras layers interpolate each face three times; the fused map once. On a
    smooth random texture the fused output keeps clearly more of the fine detail (mean squared
    difference of neighbouring pixels)."""
    x = texture(256, 4, 60, 200)
    kept = {mode: detail(np.asarray(augmenter(1.0, seed=5, resample=mode)(x, training=True))) / detail(x)
            for mode in ("chain", "once")}
    assert kept["once"] > 1.25 * kept["chain"], kept


def test_unknown_resample_mode_is_refused():
    with pytest.raises(ValueError, match="resample"):
        augmenter(1.0, resample="twice")


def test_low_res_faces_match_a_small_crop_enlarged_as_the_app_does():
    """Every changed face is close to what OpenCV gives for a crop of one of the sizes enlarged
    to 48 px (area shrink, bicubic enlargement, as ``preprocess_face`` does): for each size,
    the faces that drew it are on average within two grey levels of those references and
    several times closer to them than the sharp input is; every size gets drawn."""
    import cv2

    sizes = (16, 24, 32)
    x = texture(300, 6)
    y = np.asarray(RandomLowRes(1.0, sizes=sizes, seed=7)(x, training=True))
    gaps, sharp, drawn = [], [], []
    for face, out in zip(x[..., 0], y[..., 0]):
        refs = [cv2.resize(cv2.resize(face, (s, s), interpolation=cv2.INTER_AREA), (48, 48),
                           interpolation=cv2.INTER_CUBIC) for s in sizes]
        d = [float(np.abs(out - r).mean()) for r in refs]
        k = int(np.argmin(d))
        drawn.append(k)
        gaps.append(d[k])
        sharp.append(float(np.abs(face - refs[k]).mean()))
    drawn, gaps, sharp = np.array(drawn), np.array(gaps), np.array(sharp)
    assert np.bincount(drawn, minlength=len(sizes)).min() > 60  # about 100 each
    for k in range(len(sizes)):
        assert gaps[drawn == k].mean() < 2.0, (sizes[k], gaps[drawn == k].mean())
        assert sharp[drawn == k].mean() > 3 * gaps[drawn == k].mean(), sizes[k]
    assert y.min() >= 0 and y.max() <= 255


@pytest.mark.parametrize("rate", [0.0, 0.3])
def test_low_res_changes_that_fraction_and_leaves_the_rest_bit_identical(rate):
    x = texture(400, 8)
    layer = RandomLowRes(rate, seed=9)
    y = np.asarray(layer(x, training=True))
    changed = np.abs(y - x).reshape(len(x), -1).max(axis=1) > 0
    assert changed.mean() == pytest.approx(rate, abs=0.08)
    np.testing.assert_array_equal(y[~changed], x[~changed])
    np.testing.assert_array_equal(np.asarray(layer(x, training=False)), x)
    # Inside the augmenter, at strength 0 (flip and identity brightness/contrast only).
    z = np.asarray(augmenter(0.0, seed=10, low_res=rate)(x, training=True))
    softened = [min(np.abs(z[i] - x[i]).max(), np.abs(z[i] - x[i, :, ::-1]).max()) > 1e-3 for i in range(len(x))]
    assert np.mean(softened) == pytest.approx(rate, abs=0.08)


def test_low_res_refuses_impossible_sizes():
    with pytest.raises(ValueError, match="sizes"):
        RandomLowRes(0.5, sizes=(1, 24))
    with pytest.raises(ValueError, match="sizes"):
        RandomLowRes(0.5, sizes=())


def _ramp(n: int) -> np.ndarray:
    """n faces, each a left-to-right ramp from 0 to 255."""
    return np.tile(np.linspace(0, 255, 48, dtype=np.float32)[None, :], (48, 1))[None, ..., None].repeat(n, 0)


@pytest.mark.parametrize("rate", [0.0, 0.5])
def test_photo_degrade_changes_that_fraction_and_leaves_the_rest_bit_identical(rate):
    x = np.minimum(_ramp(400) + np.random.default_rng(0).uniform(0, 1, (400, 48, 48, 1)), 255).astype(np.float32)
    layer = RandomPhotoDegrade(rate, seed=5)
    y = np.asarray(layer(x, training=True))
    changed = np.abs(y - x).reshape(400, -1).max(1) > 0
    assert abs(changed.mean() - rate) < 0.08
    assert y.min() >= 0 and y.max() <= 255
    np.testing.assert_array_equal(np.asarray(layer(x, training=False)), x)  # identity at inference


def test_photo_degrade_gamma_stays_in_its_range_and_covers_it():
    x = _ramp(300)
    y = np.asarray(RandomPhotoDegrade(1.0, gamma=1.6, blur=False, noise=0.0, seed=2)(x, training=True))
    # A pixel at grey level v comes out at 255 (v/255)^g: recover g from the middle of the ramp.
    col = 24
    v = x[0, 0, col, 0] / 255.0
    g = np.log(y[:, 0, col, 0] / 255.0) / np.log(v)
    assert g.min() > 1 / 1.6 - 0.02 and g.max() < 1.6 + 0.02
    assert g.min() < 1 / 1.4 and g.max() > 1.4  # the draws reach both ends
    assert 0.3 < (g > 1).mean() < 0.7  # as many darker as brighter faces


def test_photo_degrade_noise_has_the_drawn_strength():
    x = np.full((300, 48, 48, 1), 128.0, np.float32)
    y = np.asarray(RandomPhotoDegrade(1.0, gamma=1.0, blur=False, noise=10.0, seed=4)(x, training=True))
    sd = (y - 255.0 * (128.0 / 255.0 + 1e-6)).reshape(300, -1).std(1)
    assert sd.max() < 10.0 * 1.15  # never beyond the range (sampling error on 2304 pixels ~ 2%)
    assert sd.max() > 8.0 and sd.min() < 2.0  # the standard deviation is drawn over [0, 10]
    assert abs(y.mean() - 128.0) < 0.5


def test_photo_degrade_blurs_with_its_kernels_only():
    x = np.zeros((400, 48, 48, 1), np.float32)
    x[:, 24, 24, 0] = 255.0  # one bright pixel: each output is the blur kernel itself
    y = np.asarray(RandomPhotoDegrade(1.0, gamma=1.0, noise=0.0, seed=6)(x, training=True))
    kernels = [np.asarray(k) for k in RandomPhotoDegrade.kernels()]
    patches = y[:, 22:27, 22:27, 0] / 255.0
    identity = np.zeros((5, 5))
    identity[2, 2] = 1.0
    which = [int(np.argmin([np.abs(p - k).max() for k in [identity, *kernels]])) for p in patches]
    errors = [np.abs(p - [identity, *kernels][w]).max() for p, w in zip(patches, which)]
    assert max(errors) < 1e-3  # every face is untouched or one of the three kernels exactly
    counts = np.bincount(which, minlength=4)
    assert counts[0] > 60 and counts[1] > 60 and counts[2] + counts[3] > 120  # none, Gaussian, streaks
    for k in kernels:
        assert abs(k.sum() - 1.0) < 1e-5


def test_photo_degrade_refuses_impossible_ranges():
    with pytest.raises(ValueError, match="gamma"):
        RandomPhotoDegrade(0.5, gamma=0.8)
    with pytest.raises(ValueError, match="noise"):
        RandomPhotoDegrade(0.5, noise=-1.0)
