"""benchmarks/real_photo_knobs.py: its prior strengths are the recognizer's own correction."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from benchmarks.label_shift import score
from benchmarks.real_photo_knobs import strength_shift
from fer_core.recognizer import EVERYDAY_MODEL, Recognizer
from tests.scenes import astronaut_bgr


def faces() -> list[np.ndarray]:
    """Crops of a real face, shifted, scaled and lit differently, so the predictions vary."""
    img = astronaut_bgr()
    out = []
    for dx, size, gain in [(0, 120, 1.0), (10, 140, 0.6), (-8, 100, 1.3), (5, 160, 0.8), (-12, 130, 1.1)]:
        crop = img[20:20 + size, 160 + dx:160 + dx + size]
        out.append(np.clip(crop.astype(np.float32) * gain, 0, 255).astype(np.uint8))
        out.append(cv2.flip(out[-1], 1))
    return out


@pytest.mark.parametrize("strength", [0.2, 0.6, 1.0, 1.5])
def test_a_strength_moves_the_decisions_as_the_recognizer_does(strength):
    plain = Recognizer(EVERYDAY_MODEL, class_prior=False)
    corrected = Recognizer(EVERYDAY_MODEL, prior_strength=strength)
    x = faces()
    shift = strength_shift(plain.card, strength)
    np.testing.assert_allclose(shift, corrected.log_prior_shift, rtol=1e-6, atol=1e-9)
    probs = plain.predict_proba(x)
    want = corrected.predict_proba(x).argmax(1)
    acc, _, _ = score(probs, want, shift, [0, 3, 6])
    assert acc == 1.0  # the same decisions, face by face


def test_negative_strengths_move_the_other_way_and_a_card_without_a_prior_is_refused():
    card = Recognizer(EVERYDAY_MODEL, class_prior=False).card
    np.testing.assert_allclose(strength_shift(card, -0.4), -strength_shift(card, 0.4))
    with pytest.raises(ValueError, match="class_prior"):
        strength_shift({}, 0.5)
