"""Alignment: faces turned upright by the eye line (fer_core.preprocess.crop_face, Recognizer.align).

Invariants on a real photo (the astronaut test image, in memory): a face tilted in the picture
comes back upright within a few degrees, and the same face at two image scales gives the same
crop within a pixel or two.
"""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from fer_core.preprocess import INPUT_SIZE, MAX_ROLL, crop_face, eye_roll, preprocess_face
from tests.scenes import astronaut_bgr


def gray_astronaut() -> np.ndarray:
    return cv2.cvtColor(astronaut_bgr(), cv2.COLOR_BGR2GRAY)


@pytest.fixture(scope="module")
def detector():
    from fer_core.detect import load_detector

    return load_detector("blazeface")


def turn(image: np.ndarray, angle: float, centre: tuple[float, float]):
    """``image`` turned ``angle`` degrees counter-clockwise about ``centre``, and the 2x3 map."""
    m = cv2.getRotationMatrix2D(centre, angle, 1.0)
    h, w = image.shape[:2]
    return cv2.warpAffine(image, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE), m


def residual_turn(a: np.ndarray, b: np.ndarray) -> float:
    """The in-plane turn (degrees, 0.5 steps) that best maps crop ``b`` onto crop ``a``,
    compared on the central disc so the corners' fill does not count."""
    yy, xx = np.mgrid[:INPUT_SIZE, :INPUT_SIZE]
    disc = (xx - 23.5) ** 2 + (yy - 23.5) ** 2 < 18 ** 2
    c = ((INPUT_SIZE - 1) / 2.0, (INPUT_SIZE - 1) / 2.0)
    errors = {}
    for ang in np.arange(-45.0, 45.01, 0.5):
        m = cv2.getRotationMatrix2D(c, float(ang), 1.0)
        rb = cv2.warpAffine(b, m, (INPUT_SIZE, INPUT_SIZE), borderMode=cv2.BORDER_REPLICATE)
        errors[float(ang)] = float(np.abs(rb.astype(float) - a)[disc].mean())
    return min(errors, key=errors.get)


def test_eye_roll_sign_and_degenerate_cases():
    assert eye_roll(((0, 0), (10, 0))) == 0.0
    assert eye_roll(((0, 0), (10, 10))) == pytest.approx(45.0)  # right eye lower: clockwise, positive
    assert eye_roll(((0, 10), (10, 0))) == pytest.approx(-45.0)
    assert eye_roll(None) == 0.0
    assert eye_roll(((5, 5), (5, 5))) == 0.0


def test_without_eyes_the_crop_is_the_plain_square():
    gray = gray_astronaut()
    box = (178, 81, 94, 94)
    side = int(round(94 * 1.25))
    cx, cy = 178 + 47, 81 + 47 + 0.05 * 94
    x0, y0 = int(round(cx - side / 2)), int(round(cy - side / 2))
    want = preprocess_face(gray[y0:y0 + side, x0:x0 + side])
    np.testing.assert_array_equal(crop_face(gray, box, 1.25, 0.05), want)


def test_level_eyes_give_the_plain_square_up_to_resampling():
    gray = gray_astronaut()
    box = (178, 81, 94, 94)
    plain = crop_face(gray, box, 1.2, 0.0)
    level = crop_face(gray, box, 1.2, 0.0, eyes=((200.0, 100.0), (250.0, 100.0)))
    assert level.shape == (INPUT_SIZE, INPUT_SIZE) and level.dtype == np.uint8
    # The plain square starts on a whole pixel, the turned one where the box says: they differ by
    # under half an output pixel of position, and by nothing where the two grids coincide.
    (dx, dy), _ = cv2.phaseCorrelate(plain.astype(np.float64), level.astype(np.float64))
    assert np.hypot(dx, dy) < 0.5
    assert np.abs(level.astype(int) - plain).mean() < 6.0
    exact = ((178, 81, 96, 96), 1.0), ((178, 81, 40, 40), 1.2)  # sides 96 and 48, whole-pixel centres
    for b, s in exact:
        np.testing.assert_array_equal(crop_face(gray, b, s, 0.0, ((200.0, 100.0), (250.0, 100.0))),
                                      crop_face(gray, b, s, 0.0))


@pytest.mark.parametrize("angle", [-30.0, -12.0, 20.0])
def test_a_turned_face_with_its_turned_eyes_gives_the_upright_crop(angle):
    """Exact geometry: turn the photo about the face, turn the eye points with it."""
    gray = gray_astronaut()
    box, eyes = (178, 81, 94, 94), ((204.0, 101.0), (248.0, 108.0))
    upright = crop_face(gray, box, 1.2, 0.05, eyes)
    turned, m = turn(gray, angle, (225.0, 128.0))
    moved = tuple(tuple(m @ np.array([x, y, 1.0])) for x, y in eyes)
    assert eye_roll(moved) == pytest.approx(eye_roll(eyes) - angle, abs=1e-6)
    cx, cy = m @ np.array([225.0, 128.0, 1.0])
    again = crop_face(turned, (cx - 47, cy - 47, 94, 94), 1.2, 0.05, moved)
    assert abs(residual_turn(upright, again)) <= 1.0
    assert np.abs(again.astype(int) - upright).mean() < 6.0
    # Without the eyes the crop keeps the photo's tilt plus the turn.
    tilted = crop_face(turned, (cx - 47, cy - 47, 94, 94), 1.2, 0.05)
    assert abs(residual_turn(upright, tilted)) >= 5.0


@pytest.mark.parametrize("angle", [-15.0, 30.0])
def test_with_the_detector_a_tilted_face_comes_back_upright(detector, angle):
    """With the detector's own eye points: the photo turned by ``angle`` is turned back by the
    eye line measured on it, so what is left is the detector's error against the photo's own
    eye line. The photo's face is already tilted ~10 deg, so the turns make about 25 and -20
    deg; BlazeFace's eye line lags by 2-4 deg there (and by ~10 deg at 40: hence MAX_ROLL)."""
    image = astronaut_bgr()
    d0 = detector.detect(image)[0]
    assert d0.eyes is not None
    turned, _ = turn(image, angle, (image.shape[1] / 2.0, image.shape[0] / 2.0))
    d = detector.detect(turned)[0]
    # Counter-clockwise turns lower the eye line's clockwise tilt by the same angle.
    want = eye_roll(d0.eyes) - angle
    assert abs(want) > 15
    assert abs(eye_roll(d.eyes) - want) <= 5.0
    # And the crop the recognizer makes from it is that much turned: levelled to within those degrees.
    gray = cv2.cvtColor(turned, cv2.COLOR_BGR2GRAY)
    aligned = crop_face(gray, d.box, 1.2, 0.05, d.eyes)
    levelled = crop_face(gray, d.box, 1.2, 0.05, ((0.0, 0.0), (np.cos(np.radians(want)), np.sin(np.radians(want)))))
    assert abs(residual_turn(levelled, aligned)) <= 5.0


@pytest.mark.parametrize("factor", [0.75, 1.5])
def test_the_same_face_at_two_scales_gives_the_same_crop(detector, factor):
    image = astronaut_bgr()
    other = cv2.resize(image, None, fx=factor, fy=factor,
                       interpolation=cv2.INTER_CUBIC if factor > 1 else cv2.INTER_AREA)
    crops = []
    for img in (image, other):
        d = detector.detect(img)[0]
        crops.append(crop_face(cv2.cvtColor(img, cv2.COLOR_BGR2GRAY), d.box, 1.2, 0.05, d.eyes))
    (dx, dy), _ = cv2.phaseCorrelate(crops[0].astype(np.float64), crops[1].astype(np.float64))
    assert np.hypot(dx, dy) <= 1.5
    assert abs(residual_turn(crops[0], crops[1])) <= 2.0
    assert np.abs(crops[0].astype(int) - crops[1]).mean() < 8.0


def test_only_the_tilt_beyond_the_tolerance_is_undone():
    gray = gray_astronaut()
    box = (178, 81, 94, 94)

    def eyes_at(deg: float):
        t = np.radians(deg)
        return ((225.0 - 22 * np.cos(t), 110.0 - 22 * np.sin(t)), (225.0 + 22 * np.cos(t), 110.0 + 22 * np.sin(t)))

    level = crop_face(gray, box, 1.2, 0.05, eyes_at(0.0))
    np.testing.assert_array_equal(crop_face(gray, box, 1.2, 0.05, eyes_at(8.0), tolerance=10.0), level)
    np.testing.assert_array_equal(crop_face(gray, box, 1.2, 0.05, eyes_at(-8.0), tolerance=10.0), level)
    for deg in (25.0, -25.0):
        np.testing.assert_array_equal(crop_face(gray, box, 1.2, 0.05, eyes_at(deg), tolerance=10.0),
                                      crop_face(gray, box, 1.2, 0.05, eyes_at(deg - np.sign(deg) * 10.0)))


def test_extreme_tilts_and_faces_off_the_image_do_not_fail():
    gray = gray_astronaut()
    box = (178, 81, 94, 94)
    # An eye line steeper than MAX_ROLL is not trusted: the crop is the upright square.
    steep = ((225.0, 60.0), (226.0, 160.0))
    assert abs(eye_roll(steep)) > MAX_ROLL
    plain = crop_face(gray, box, 1.2, 0.0, ((200.0, 100.0), (250.0, 100.0)))
    np.testing.assert_array_equal(crop_face(gray, box, 1.2, 0.0, steep), plain)
    for b in [(-80, -80, 60, 60), (500, 500, 40, 40), (-2000, 10, 30, 30), (0, 0, 1, 1)]:
        out = crop_face(gray, b, 1.2, 0.05, ((b[0] + 5.0, b[1] + 5.0), (b[0] + 20.0, b[1] + 9.0)))
        assert out.shape == (INPUT_SIZE, INPUT_SIZE) and out.dtype == np.uint8


def test_recognizer_aligns_by_default_and_can_be_told_not_to():
    from fer_core import load_recognizer

    rec = load_recognizer()
    assert rec.align is True
    image = astronaut_bgr()
    turned, _ = turn(image, 20.0, (image.shape[1] / 2.0, image.shape[0] / 2.0))
    a = rec.analyze(turned)[0]
    rec.align = False
    b = rec.analyze(turned)[0]
    assert a.box == b.box
    assert a.probabilities != b.probabilities
    assert a.label == "Happy"
