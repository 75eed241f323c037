"""Robustness of the shipped model to small image changes, on a real face (the figures on
FER2013 come from benchmarks/robustness.py)."""
from __future__ import annotations

import numpy as np
import pytest

from benchmarks.robustness import ENLARGE, PERTURBATIONS, SIDES, side_table, table
from fer_core import LABELS, load_recognizer
from fer_core.preprocess import to_gray
from tests.scenes import ASTRONAUT_FACE, astronaut_bgr


@pytest.fixture(scope="module")
def rec():
    return load_recognizer()


@pytest.fixture(scope="module")
def face(rec):
    """The astronaut's face cropped the way ``analyze`` crops it, as a (1, 48, 48) batch."""
    from fer_core.preprocess import preprocess_face

    crop = rec.crop_faces(to_gray(astronaut_bgr()), [ASTRONAUT_FACE])[0]
    return preprocess_face(crop)[None]


@pytest.mark.parametrize("name", list(PERTURBATIONS))
def test_smile_survives_small_changes(rec, face, name):
    changed = np.asarray(PERTURBATIONS[name](face))
    # Half resolution hands the recognizer the 24 px crops, as a face cut that small reaches it.
    expected = (1, 24, 24) if name == "half resolution" else face.shape
    assert changed.shape == expected and changed.dtype == np.uint8
    if name != "mirror image":
        assert not np.array_equal(changed, face), "the perturbation must change the pixels"
    p = rec.predict_proba(changed)[0]
    assert LABELS[int(p.argmax())] == "Happy", f"{name}: {dict(zip(LABELS, p.round(3)))}"


def test_mirror_image_gives_the_same_probabilities(rec, face):
    np.testing.assert_allclose(rec.predict_proba(face[:, :, ::-1]), rec.predict_proba(face), atol=1e-6)


def test_table_rows(rec, face):
    labels = np.array([LABELS.index("Happy")])
    rows = table(rec, face, labels)
    assert [r[0] for r in rows] == ["clean", *PERTURBATIONS]
    assert rows[0][1:] == (1.0, 0.0, 1.0)
    for _, acc, delta, agree in rows:
        assert acc in (0.0, 1.0) and agree in (0.0, 1.0) and delta == pytest.approx(100 * (acc - 1.0))


def test_small_face_table(rec, face):
    labels = np.array([LABELS.index("Happy")])
    rows = side_table(rec, face, labels)
    assert [r[0] for r in rows] == [48, *SIDES]
    assert rows[0][1:] == (1.0, 0.0)
    for _, acc, delta in rows:
        assert acc in (0.0, 1.0) and delta == pytest.approx(100 * (acc - 1.0))
    # A broad smile is still a smile at 24 px and more.
    assert all(acc == 1.0 for side, acc, _ in rows if side >= 24), rows


def test_small_face_table_enlarge_options(rec, face):
    """Enlarging bicubically first gives the recognizer's own result; every filter gives a row per size."""
    labels = np.array([LABELS.index("Happy")])
    assert side_table(rec, face, labels, enlarge="cubic") == side_table(rec, face, labels)
    for enlarge in ENLARGE:
        assert [r[0] for r in side_table(rec, face, labels, (20, 32), enlarge)] == [48, 20, 32]
