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


# -- appearance: telling faces apart when they change places ------------------------------
def _unit(*values):
    v = np.asarray(values, np.float32)
    return v / np.linalg.norm(v)


A, B, C = _unit(1, 0, 0), _unit(0, 1, 0), _unit(0, 0, 1)


def test_someone_else_in_the_same_place_gets_a_new_id():
    t = IoUTracker()
    first = t.update([(0, 0, 50, 50)], [A]).ids
    assert t.update([(2, 0, 50, 50)], [A]).ids == first  # the same face, barely moved
    # Another person in that place (correlation 0 < SAME_FACE): a new id, the old one waits.
    other = t.update([(2, 0, 50, 50)], [B]).ids
    assert other != first and t.tracks[0].missed == 1
    # Without looks the tracker matches on overlap alone, as before.
    t2 = IoUTracker()
    assert t2.update([(0, 0, 50, 50)]).ids == t2.update([(2, 0, 50, 50)]).ids


def test_faces_that_swap_places_keep_their_ids():
    t = IoUTracker()
    left, right = (0, 0, 50, 50), (200, 0, 50, 50)
    ids = t.update([left, right], [A, B]).ids
    # A gallery reorders: each face moved to the other's place; the ids follow the faces.
    assert t.update([left, right], [B, A]).ids == ids[::-1]
    # A third face where the second one was; the second, now elsewhere again, keeps its id.
    new, moved = t.update([left, (400, 0, 50, 50)], [C, B]).ids
    assert moved == ids[1] and new not in ids


def test_look_thresholds_are_checked():
    t = IoUTracker(same_face=0.4, moved_face=0.8)
    ids = t.update([(0, 0, 50, 50)], [_unit(1, 0)]).ids
    # Correlation 0.6 with the track: enough to continue in place (>= 0.4), not to jump.
    sixty = _unit(0.6, 0.8)
    assert t.update([(300, 0, 50, 50)], [sixty]).ids != ids  # far away and not alike enough
    t = IoUTracker(same_face=0.4, moved_face=0.8)
    ids = t.update([(0, 0, 50, 50)], [_unit(1, 0)]).ids
    assert t.update([(1, 0, 50, 50)], [sixty]).ids == ids
    with pytest.raises(ValueError):
        IoUTracker(same_face=0.9, moved_face=0.8)
    with pytest.raises(ValueError):
        IoUTracker().update([(0, 0, 5, 5)], [A, B])


def test_appearance_signatures_of_real_pictures():
    from fer_core.tracking import appearance
    from tests.scenes import astronaut_bgr

    face = astronaut_bgr()
    box = (170, 40, 120, 140)  # the astronaut's face
    a = appearance(face, box)
    assert a is not None and a.shape == (12 * 12 * 3,) and np.linalg.norm(a) == pytest.approx(1, abs=1e-5)
    # The next frame of a video: a little brighter, noisier, re-encoded, moved by 3 px.
    import cv2
    rng = np.random.default_rng(0)
    moved = np.clip(np.roll(face, 3, axis=1) * 1.1 + rng.normal(0, 3, face.shape), 0, 255).astype(np.uint8)
    moved = cv2.imdecode(cv2.imencode(".jpg", moved, [cv2.IMWRITE_JPEG_QUALITY, 50])[1], cv2.IMREAD_COLOR)
    assert float(a @ appearance(moved, (173, 40, 120, 140))) > 0.9
    # Elsewhere in the picture (the flag, the suit): not alike.
    for other in [(0, 0, 120, 140), (150, 300, 120, 140)]:
        assert float(a @ appearance(face, other)) < 0.4
    # Gray frames work too; a box off the picture or a flat region has no signature.
    gray = cv2.cvtColor(face, cv2.COLOR_BGR2GRAY)
    assert appearance(gray, box).shape == (144,)
    assert appearance(face, (-100, -100, 50, 50)) is None
    assert appearance(np.full((100, 100, 3), 80, np.uint8), (10, 10, 50, 50)) is None


def test_expression_tracker_follows_faces_across_a_reordered_gallery():
    """Two tiles of a call swap: with the frame the ids (and each face's smoothing) follow the
    people; on overlap alone they stay with the places and mix the people's histories."""
    from tests.scenes import astronaut_bgr

    face = astronaut_bgr()[20:276, 110:366]
    other = np.ascontiguousarray(face[::-1, ::-1])  # another "person": the same pixels upside down
    def frame(left, right):  # noqa: E306
        return np.hstack([left, np.zeros((256, 64, 3), np.uint8), right])
    boxes = [(50, 30, 150, 170), (370, 30, 150, 170)]
    happy, sad = onehot(LABELS.index("Happy")), onehot(LABELS.index("Sad"))
    tracker = ExpressionTracker(window=5)
    first = tracker.update([R(boxes[0], happy), R(boxes[1], sad)], frame(face, other))
    swapped = tracker.update([R(boxes[0], sad), R(boxes[1], happy)], frame(other, face))
    assert [f.face_id for f in swapped] == [first[1].face_id, first[0].face_id]
    assert [f.label for f in swapped] == ["Sad", "Happy"] and swapped[0].confidence > 0.85
    plain = ExpressionTracker(window=5)
    first = plain.update([R(boxes[0], happy), R(boxes[1], sad)])
    mixed = plain.update([R(boxes[0], sad), R(boxes[1], happy)])
    assert [f.face_id for f in mixed] == [f.face_id for f in first] and mixed[0].confidence < 0.6


def test_look_matrix_correlates_known_looks_only():
    from fer_core.tracking import look_matrix

    gray = _unit(*range(1, 145))  # a gray frame's signature is shorter than a colour one's
    m = look_matrix([A, None, gray], [B, A, gray, None])
    assert m.shape == (3, 4)
    assert m[0, 0] == pytest.approx(0) and m[0, 1] == pytest.approx(1) and m[2, 2] == pytest.approx(1)
    assert np.isnan(m[1]).all() and np.isnan(m[:, 3]).all()  # unknown
    assert np.isnan(m[0, 2]) and np.isnan(m[2, 0])  # colour against gray
    assert look_matrix([], [A]).shape == (0, 1)


def test_faces_keep_their_ids_when_the_frames_change_size():
    """A phone turned from portrait (480 x 640) to landscape (640 x 480): the picture turns with it
    at the same scale, so a face near the top of the tall frame is a third of the frame higher in
    the wide one. Measured with the tracks' boxes left in the old frame's coordinates, the overlap
    was 0.22 and the student got a new number (a second 'face' on the dashboard)."""
    tracker = ExpressionTracker(window=3)
    portrait, landscape = np.zeros((640, 480, 3), np.uint8), np.zeros((480, 640, 3), np.uint8)  # flat: no look
    assert [f.face_id for f in tracker.update([R((140, 100, 200, 200), onehot(3))], portrait)] == [1]
    turned = tracker.update([R((225, 25, 200, 200), onehot(3))], landscape)
    assert [f.face_id for f in turned] == [1]
    # Back to portrait, and two people in front of a laptop whose camera drops from 1280 x 720 to
    # 640 x 360 (the same picture at half the scale): each keeps their own number.
    assert [f.face_id for f in tracker.update([R((142, 98, 200, 200), onehot(3))], portrait)] == [1]
    hd, small = np.zeros((720, 1280, 3), np.uint8), np.zeros((360, 640, 3), np.uint8)
    two = tracker.update([R((200, 200, 160, 160), onehot(0)), R((900, 220, 150, 150), onehot(4))], hd)
    assert [f.face_id for f in two] == [2, 3]
    assert [f.face_id for f in tracker.update([R((452, 112, 75, 75), onehot(4)), R((100, 100, 80, 80), onehot(0))],
                                              small)] == [3, 2]


def test_reframe_carries_boxes_into_the_new_frame():
    t = IoUTracker()
    t.update([(140, 100, 200, 200)])
    t.reframe((480, 640), (480, 640))  # the same size: nothing moves
    assert t.tracks[0].box == (140, 100, 200, 200)
    t.reframe((480, 640), (640, 480))  # centred on the new frame's centre, same scale
    assert t.tracks[0].box == (220, 20, 200, 200)
    t.reframe((640, 480), (1280, 960))  # twice the scale
    assert t.tracks[0].box == (440, 40, 400, 400)
    t.reframe((1280, 960), (0, 0))  # no frame: left alone
    assert t.tracks[0].box == (440, 40, 400, 400)


# -- hard cuts: a call's speaker view switching to the next speaker in the same place --------
def _pictures(rng, changed_box=None):
    """Two place pictures (PLACE_SCALE of a 400 x 200 frame): the second the first with a little
    noise, or with ``changed_box`` (frame pixels) replaced by another picture."""
    before = rng.integers(0, 255, (50, 100)).astype(np.uint8)
    after = np.clip(before + rng.normal(0, 3, before.shape), 0, 255).astype(np.uint8)
    if changed_box is not None:
        x, y, w, h = (v // 4 for v in changed_box)
        after[y:y + h, x:x + w] = rng.integers(0, 255, (h, w))
    return before, after


def test_a_hard_cut_where_a_face_was_passes_its_number_on_only_to_the_same_face():
    """Speaker view: B replaces A in one frame, same place, same size. B's look correlates 0.6 with
    A's (a quarter of pairs of different people correlate 0.4 or more): by place and look alone B
    took A's number, history and smoothing. Seen as a hard cut (the picture there replaced from one
    decoded frame to the next), B needs MOVED_FACE to continue A's number."""
    rng = np.random.default_rng(0)
    box, sixty = (40, 40, 120, 120), _unit(0.6, 0.8)
    t = IoUTracker()
    first = t.update([box], [_unit(1, 0)]).ids
    before, after = _pictures(rng, changed_box=box)
    t.watch(before)
    t.watch(after)
    assert t.tracks[0].steady < 0.5
    new = t.update([box], [sixty]).ids
    assert new != first and t.tracks[0].missed == 1  # A's number waits for A
    # The same face (look 0.9) across a cut, as a view switching to the same speaker: kept.
    t = IoUTracker()
    first = t.update([box], [_unit(1, 0)]).ids
    t.watch(before)
    t.watch(after)
    assert t.update([box], [_unit(0.9, 0.436)]).ids == first
    # No cut (the picture went on, a face turning its head between two analysed frames): 0.6 is
    # enough to continue in place, as before; and unwatched frames (live, photos) are matched as before.
    for watched in (True, False):
        t = IoUTracker()
        first = t.update([box], [_unit(1, 0)]).ids
        if watched:
            for picture in _pictures(rng):
                t.watch(picture)
            assert t.tracks[0].steady > 0.9
        assert t.update([box], [sixty]).ids == first


def test_a_cut_elsewhere_or_in_another_size_leaves_a_track_alone_and_is_kept_until_it_is_seen():
    rng = np.random.default_rng(1)
    a, b = (20, 20, 80, 80), (260, 20, 80, 80)
    t = IoUTracker()
    ids = t.update([a, b], [_unit(1, 0, 0), _unit(0, 1, 0)]).ids
    before, after = _pictures(rng, changed_box=b)  # only the right-hand face's place changed
    t.watch(before)
    t.watch(after)
    t.watch(np.zeros((90, 160), np.uint8))  # the frames changed size: nothing to compare
    steady = {tr.id: tr.steady for tr in t.tracks}
    assert steady[ids[0]] > 0.9 and steady[ids[1]] < 0.5
    # Nobody at the cut place in the next analysed frame: it stays cut until the track is seen.
    assert t.update([a], [_unit(1, 0, 0)]).ids == ids[:1]
    assert {tr.id: tr.steady < 0.5 for tr in t.tracks} == {ids[0]: False, ids[1]: True}
    assert t.update([a, b], [_unit(1, 0, 0), _unit(0, 0.6, 0.8)]).ids[1] not in ids
    # Unknown looks across a cut: no number by place alone either.
    t = IoUTracker()
    first = t.update([a]).ids
    before, after = _pictures(rng, changed_box=a)
    t.watch(before)
    t.watch(after)
    assert t.update([a]).ids != first
    with pytest.raises(ValueError):
        IoUTracker(cut=1.5)


def test_place_change_of_flat_and_tiny_regions():
    from fer_core.tracking import place_change

    grey, lighter = np.full((50, 50), 100, np.uint8), np.full((50, 50), 140, np.uint8)
    box = (40, 40, 80, 80)
    assert place_change(grey, grey, box, 0.25) == 1.0
    assert place_change(grey, lighter, box, 0.25) == 0.0  # a flat wall replaced by another
    rng = np.random.default_rng(2)
    texture = rng.integers(0, 255, (50, 50)).astype(np.uint8)
    assert place_change(grey, texture, box, 0.25) == 0.0
    assert place_change(texture, texture, box, 0.25) == pytest.approx(1.0)
    assert place_change(texture, grey, (0, 0, 8, 8), 0.25) == 1.0  # 2 x 2: too small to tell


def test_expression_tracker_starts_afresh_after_a_cut_to_someone_else():
    """The smoothed label is the face's own from the first frame after a cut: with A's number B
    was shown with A's expression for the frames of the smoothing window."""
    from fer_core.tracking import place_picture
    from tests.scenes import astronaut_bgr

    face = astronaut_bgr()[20:276, 110:366]
    # Another "person" whose look correlates about 0.6 with the astronaut's: half her face, half another.
    other = cv2_blend(face)
    box = (50, 30, 150, 170)
    happy, sad = onehot(LABELS.index("Happy")), onehot(LABELS.index("Sad"))
    for watched in (False, True):
        tracker = ExpressionTracker(window=5)
        first = tracker.update([R(box, happy)], face)
        if watched:
            tracker.watch(place_picture(face))
            tracker.watch(place_picture(other))
        after = tracker.update([R(box, sad)], other)
        if watched:
            assert after[0].face_id != first[0].face_id and after[0].label == "Sad"
            assert after[0].confidence == pytest.approx(0.9)
        else:  # the frames in between unseen: the numbers (and smoothing) go on, as before
            assert after[0].face_id == first[0].face_id and after[0].label == "Happy"


def cv2_blend(face):
    """The face blended half and half with itself upside down and mirrored: a look that
    correlates with the face's between SAME_FACE and MOVED_FACE."""
    from fer_core.tracking import MOVED_FACE, SAME_FACE, appearance

    other = np.ascontiguousarray((face.astype(np.float32) * 0.5 + face[::-1, ::-1] * 0.5).astype(np.uint8))
    box = (50, 30, 150, 170)
    alike = float(appearance(face, box) @ appearance(other, box))
    assert SAME_FACE <= alike < MOVED_FACE, alike
    return other


def test_the_watch_flags_exactly_the_places_whose_correlation_fell_under_the_cut():
    """The watch settles most places from two integral images and correlates only the rest: its
    verdict is place_change's, from a picture barely changed to one replaced, at any contrast."""
    from fer_core.tracking import CUT, place_change

    rng = np.random.default_rng(3)
    box = (40, 40, 120, 120)
    for k in range(200):
        before = rng.integers(0, 255, (60, 60)).astype(np.uint8)
        other = rng.integers(0, 255, (60, 60)).astype(np.float32)
        mix = rng.uniform(0, 1)
        contrast, light = rng.uniform(0.3, 1.5), rng.uniform(-40, 40)
        after = np.clip((before * (1 - mix) + other * mix - 128) * contrast + 128 + light, 0, 255).astype(np.uint8)
        t = IoUTracker()
        t.update([box])
        t.watch(before)
        t.watch(after)
        assert (t.tracks[0].steady < CUT) == (place_change(before, after, box, 0.25) < CUT), k
