"""Invariants of the one preprocessing function shared by training and serving."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from benchmarks.augment_detail import detail
from fer_core.preprocess import INPUT_SIZE, preprocess_batch, preprocess_face, to_gray
from training.synthetic import synthetic_face

SIZES = [(1, 1), (2, 3), (47, 47), (48, 48), (49, 49), (48, 96), (96, 48), (10, 200), (200, 10),
         (37, 53), (480, 640)]


def layouts(h: int, w: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    bgr = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    return {
        "gray": bgr[:, :, 0],
        "gray_hw1": bgr[:, :, :1],
        "bgr": bgr,
        "bgra": np.dstack([bgr, rng.integers(0, 256, (h, w), dtype=np.uint8)]),
        "float01": bgr.astype(np.float32) / 255.0,
        "float255": bgr.astype(np.float64) * 0.9 + 10,
        "uint16": bgr.astype(np.uint16) * 257,
    }


@pytest.mark.parametrize("h, w", SIZES)
def test_output_is_48x48_uint8(h, w):
    rng = np.random.default_rng(h * 1000 + w)
    for name, img in layouts(h, w, rng).items():
        for order in ("bgr", "rgb"):
            out = preprocess_face(img, order)
            assert out.shape == (INPUT_SIZE, INPUT_SIZE), (name, order)
            assert out.dtype == np.uint8, (name, order)
            assert out.flags["C_CONTIGUOUS"]


def test_48x48_gray_is_unchanged():
    img = np.random.default_rng(0).integers(0, 256, (48, 48), dtype=np.uint8)
    assert np.array_equal(preprocess_face(img), img)
    assert np.array_equal(preprocess_face(img[:, :, None]), img)


def test_input_not_modified():
    img = np.random.default_rng(0).integers(0, 256, (30, 70, 4), dtype=np.uint8)
    before = img.copy()
    preprocess_face(img)
    assert np.array_equal(img, before)


def test_bgr_and_rgb_order():
    blue_bgr = np.zeros((48, 48, 3), np.uint8)
    blue_bgr[..., 0] = 255
    gray_if_bgr = int(preprocess_face(blue_bgr, "bgr")[0, 0])
    gray_if_rgb = int(preprocess_face(blue_bgr, "rgb")[0, 0])  # the same array read as RGB is red
    assert abs(gray_if_bgr - round(0.114 * 255)) <= 1
    assert abs(gray_if_rgb - round(0.299 * 255)) <= 1
    face = synthetic_face(3, np.random.default_rng(0), (64, 80), color=True)
    assert np.array_equal(preprocess_face(face, "bgr"), preprocess_face(face[..., ::-1], "rgb"))
    rgba = cv2.cvtColor(face, cv2.COLOR_BGR2RGBA)
    bgra = cv2.cvtColor(face, cv2.COLOR_BGR2BGRA)
    assert np.array_equal(preprocess_face(rgba, "rgb"), preprocess_face(bgra, "bgr"))


def test_alpha_composited_over_white():
    img = np.zeros((20, 20, 4), np.uint8)  # black
    assert (to_gray(img) == 255).all()  # fully transparent -> white
    img[..., 3] = 255
    assert (to_gray(img) == 0).all()  # opaque -> black
    img[..., 3] = 128
    assert abs(int(to_gray(img)[0, 0]) - 127) <= 1  # half -> mid grey


def test_float_and_16_bit_scaling():
    assert (to_gray(np.full((5, 5), 1.0, np.float32)) == 255).all()
    assert (to_gray(np.full((5, 5), 0.5, np.float64)) == 127).all()
    assert (to_gray(np.full((5, 5), 200.0)) == 200).all()  # already 0-255
    assert (to_gray(np.full((5, 5), 300.0)) == 255).all()  # clipped
    assert (to_gray(np.full((5, 5), 65535, np.uint16)) == 255).all()
    assert (to_gray(np.full((5, 5, 3), 128 * 257, np.uint16)) == 128).all()


@pytest.mark.parametrize("h, w", [(1, 1), (30, 70), (70, 30), (48, 48), (333, 100)])
@pytest.mark.parametrize("value", [0, 77, 255])
def test_uniform_stays_uniform(h, w, value):
    out = preprocess_face(np.full((h, w, 3), value, np.uint8))
    assert (out == value).all()


@pytest.mark.parametrize("h, w", [(40, 120), (120, 40), (96, 240)])
def test_non_square_is_padded_not_stretched(h, w):
    img = np.zeros((h, w), np.uint8)
    side = min(h, w) // 2
    top, left = (h - side) // 2, (w - side) // 2
    img[top:top + side, left:left + side] = 255  # a centred square
    out = preprocess_face(img)
    ys, xs = np.nonzero(out > 127)
    box_h, box_w = ys.max() - ys.min() + 1, xs.max() - xs.min() + 1
    assert abs(int(box_h) - int(box_w)) <= 1  # still square
    expected = side / max(h, w) * INPUT_SIZE
    assert abs(box_w - expected) <= 1.5
    assert abs(ys.mean() - 23.5) <= 1 and abs(xs.mean() - 23.5) <= 1  # still centred


def test_upscaling_and_downscaling_keep_content():
    small = np.zeros((12, 12), np.uint8)
    small[:, :6] = 255
    out = preprocess_face(small)
    assert out[:, :20].mean() > 240 and out[:, 28:].mean() < 15
    big = cv2.resize(small, (480, 480), interpolation=cv2.INTER_NEAREST)
    out = preprocess_face(big)
    assert out[:, :23].mean() > 250 and out[:, 25:].mean() < 5


def test_small_crops_are_enlarged_bicubically_and_stay_in_range():
    """Small crops are enlarged with OpenCV's bicubic filter, which keeps edges sharper than
    bilinear (the choice measured on PublicTest faces cut at 16-40 px; see the comment in
    ``preprocess_face``); its overshoot is saturated to 0-255, never wrapped."""
    small = synthetic_face(3, np.random.default_rng(3), size=24)
    gray = to_gray(small)
    out = preprocess_face(small)
    np.testing.assert_array_equal(out, cv2.resize(gray, (48, 48), interpolation=cv2.INTER_CUBIC))
    linear = cv2.resize(gray, (48, 48), interpolation=cv2.INTER_LINEAR)
    assert detail(out[None]) > 1.1 * detail(linear[None])
    edge = np.zeros((12, 12), np.uint8)
    edge[:, 6:] = 255  # a hard edge: bicubic overshoots on both sides
    out = preprocess_face(edge)
    assert out.dtype == np.uint8 and out[:, :20].max() == 0 and out[:, 28:].min() == 255


def test_preprocess_batch_array_and_list():
    rng = np.random.default_rng(0)
    batch = rng.integers(0, 256, (5, 48, 48), dtype=np.uint8)
    out = preprocess_batch(batch)
    assert out.shape == (5, 48, 48) and out.dtype == np.uint8 and np.array_equal(out, batch)
    as_float = preprocess_batch(batch.astype(np.float32))
    assert as_float.dtype == np.uint8 and np.array_equal(as_float, batch)
    mixed = [synthetic_face(c, rng, s, color=bool(c % 2)) for c, s in enumerate([20, (48, 30), 300, 48])]
    out = preprocess_batch(mixed)
    assert out.shape == (4, 48, 48) and out.dtype == np.uint8
    assert np.array_equal(out[2], preprocess_face(mixed[2]))
    colour = rng.integers(0, 256, (3, 60, 60, 3), dtype=np.uint8)
    assert np.array_equal(preprocess_batch(colour, "rgb")[1], preprocess_face(colour[1], "rgb"))
    assert preprocess_batch([]).shape == (0, 48, 48)
    assert preprocess_batch(np.zeros((0, 48, 48), np.uint8)).shape == (0, 48, 48)


@pytest.mark.parametrize("bad", [np.zeros((0, 0), np.uint8), np.zeros((0, 10, 3), np.uint8), np.array([])])
def test_empty_input_errors_clearly(bad):
    with pytest.raises(ValueError, match="empty image"):
        preprocess_face(bad)


@pytest.mark.parametrize("bad", [np.zeros((10, 10, 2), np.uint8), np.zeros(16, np.uint8),
                                 np.zeros((2, 10, 10, 3), np.uint8)])
def test_wrong_layout_errors_clearly(bad):
    with pytest.raises(ValueError, match="expected a gray, 3- or 4-channel image"):
        preprocess_face(bad)


def test_empty_crop_in_batch_errors():
    with pytest.raises(ValueError, match="empty image"):
        preprocess_batch([np.zeros((48, 48), np.uint8), np.zeros((0, 5), np.uint8)])
