"""IoU tracking and per-face smoothing (pure logic, no model)."""
from dataclasses import dataclass

import numpy as np
import pytest

from fer_core.labels import LABELS
from fer_core.tracking import ExpressionTracker, IoUTracker, ProbabilitySmoother, iou, iou_matrix


@dataclass
class R:  # a FaceResult stand-in
    box: tuple
    probabilities: tuple


def onehot(k, p=0.9):
    v = np.full(7, (1 - p) / 6)
    v[k] = p
    return tuple(v)


def test_iou_basics():
    assert iou((0, 0, 10, 10), (0, 0, 10, 10)) == 1.0
    assert iou((0, 0, 10, 10), (20, 20, 5, 5)) == 0.0
    assert iou((0, 0, 10, 10), (5, 0, 10, 10)) == pytest.approx(50 / 150)
    assert iou((0, 0, 0, 0), (0, 0, 0, 0)) == 0.0
    m = iou_matrix([(0, 0, 10, 10), (100, 100, 10, 10)], [(5, 0, 10, 10)])
    assert m.shape == (2, 1) and m[0, 0] == pytest.approx(1 / 3) and m[1, 0] == 0


def test_tracker_keeps_ids_for_moving_faces_and_reorders():
    t = IoUTracker(iou_threshold=0.3, max_missed=2)
    a, b = (10, 10, 50, 50), (200, 10, 50, 50)
    assert t.update([a, b]).ids == [1, 2]
    # Moved a little, given in the other order: ids follow the boxes.
    assert t.update([(205, 12, 50, 50), (14, 10, 50, 50)]).ids == [2, 1]


def test_tracker_face_leaves_and_new_face_gets_new_id():
    t = IoUTracker(iou_threshold=0.3, max_missed=1)
    a, b = (10, 10, 50, 50), (200, 10, 50, 50)
    t.update([a, b])
    assert t.update([a]).ended == []          # b missed once: kept
    upd = t.update([a])                         # missed twice: ends
    assert upd.ended == [2]
    assert t.update([a, b]).ids == [1, 3]       # b comes back as a new anonymous face
    assert [tr.id for tr in t.tracks] == [1, 3]


def test_tracker_empty_frames_and_reset():
    t = IoUTracker(max_missed=0)
    assert t.update([]).ids == []
    t.update([(0, 0, 10, 10)])
    assert t.update([]).ended == [1]
    t.update([(0, 0, 10, 10)])
    assert t.reset() == [2]
    assert t.update([(0, 0, 10, 10)]).ids == [1]
    with pytest.raises(ValueError):
        IoUTracker(iou_threshold=0)


def test_smoother_window_and_reset():
    s = ProbabilitySmoother(window=3)
    assert np.allclose(s.value, 1 / 7)
    s.update(onehot(0, 1.0))
    s.update(onehot(3, 1.0))
    v = s.update(onehot(3, 1.0))
    assert v[3] == pytest.approx(2 / 3) and v[0] == pytest.approx(1 / 3) and v.sum() == pytest.approx(1)
    v = s.update(onehot(3, 1.0))  # the first observation fell out of the window
    assert v[3] == pytest.approx(1.0) and len(s) == 3
    s.reset()
    assert len(s) == 0
    with pytest.raises(ValueError):
        s.update([0.5, 0.5])
    with pytest.raises(ValueError):
        ProbabilitySmoother(window=0)


def test_expression_tracker_smooths_each_face_separately():
    et = ExpressionTracker(window=4, max_missed=0)
    a, b = (10, 10, 50, 50), (200, 10, 50, 50)
    out = et.update([R(a, onehot(3)), R(b, onehot(4))])
    assert [f.face_id for f in out] == [1, 2] and [f.label for f in out] == ["Happy", "Sad"]
    # One noisy frame for face 1 does not flip its smoothed label; face 2 is unaffected.
    out = et.update([R(a, onehot(0, 0.6)), R(b, onehot(4))])
    assert out[0].label == "Happy" and out[0].raw_probabilities == pytest.approx(onehot(0, 0.6))
    assert out[1].label == "Sad" and out[1].confidence == pytest.approx(0.9)
    assert out[0].as_dict()["probabilities"].keys() == set(LABELS)


def test_expression_tracker_resets_smoother_when_face_leaves():
    et = ExpressionTracker(window=10, max_missed=0)
    box = (10, 10, 50, 50)
    for _ in range(5):
        et.update([R(box, onehot(3))])
    et.update([])  # the face leaves: track and smoother are dropped
    out = et.update([R(box, onehot(4))])
    assert out[0].face_id == 2
    assert out[0].label == "Sad" and out[0].confidence == pytest.approx(0.9)  # no Happy history
    et.set_window(3)
    assert et.window == 3
    et.reset()
    assert et.active_ids == []
