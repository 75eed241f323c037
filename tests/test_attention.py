"""Tests of fer_core.landmarks and fer_core.attention: the converted models, the angle
conventions, pose accuracy on faces with known angles, mirror symmetry, open and closed
eyes, bad input, and the attention fields of Recognizer.analyze."""
from __future__ import annotations

import hashlib
import math
import re
from pathlib import Path

import cv2
import numpy as np
import pytest

from benchmarks.bench_webcam import CountedRuns
from fer_core import attention as att
from fer_core.landmarks import NUM_POINTS, FaceMesh, load_template, model_dir
from tests.posed_faces import astronaut_mesh, close_eyes, render_pose
from tests.scenes import ASTRONAUT_FACE, astronaut_bgr, no_face_bgr, one_face_frame

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def mesh_model() -> FaceMesh:
    return FaceMesh()


@pytest.fixture(scope="module")
def photo_box() -> tuple[int, int, int, int]:
    from fer_core.detect import load_detector

    return load_detector("blazeface").detect(astronaut_bgr())[0].box


# -- the converted models ----------------------------------------------------------------
def test_models_are_small_and_match_their_notice():
    notice = (model_dir() / "NOTICE.md").read_text()
    assert "Apache License 2.0" in notice
    for name in ("face_mesh.onnx", "iris_landmark.onnx"):
        path = model_dir() / name
        size = path.stat().st_size
        assert size < 3_000_000, f"{name}: {size} bytes"
        row = re.search(rf"\| `{re.escape(name)}` \| (\d+) \| `([0-9a-f]+)`", notice)
        assert row, f"{name} missing from NOTICE.md"
        assert int(row.group(1)) == size
        assert row.group(2) == hashlib.sha256(path.read_bytes()).hexdigest()


def test_model_inputs_outputs_and_batch(mesh_model):
    x = np.random.default_rng(0).random((3, 192, 192, 3), np.float32)
    pts, flag = mesh_model._mesh.run(None, {"input": x})
    assert pts.reshape(3, -1).shape == (3, 1404) and flag.size == 3
    single = mesh_model._mesh.run(None, {"input": x[1:2]})[0]
    np.testing.assert_allclose(single.ravel(), pts[1].ravel(), atol=1e-3)
    contour, iris = mesh_model._iris.run(None, {"input": x[:2, :64, :64]})
    assert contour.shape == (2, 213) and iris.shape == (2, 15)


def test_template_is_symmetric_and_frontal():
    t = load_template()
    assert t.shape == (NUM_POINTS, 3)
    # Mirror image (x negated) of the template is the template with its points re-paired.
    mirrored = t * [-1, 1, 1]
    d = np.linalg.norm(mirrored[:, None] - t[None], axis=2).min(axis=1)
    assert d.max() < 1e-4
    # Facing the camera: the nose tip (1) is nearest (smallest z), on the midline.
    assert t[1, 2] < t[:, 2].mean() - 0.5 and abs(t[1, 0]) < 1e-6


# -- conventions -------------------------------------------------------------------------
def test_rotation_conventions():
    t = load_template()
    nose, left_outer, right_outer = 1, 33, 263  # eye corners on the image's left / right
    q = t @ att.rotation_matrix(30, 0, 0).T
    assert q[nose, 0] > t[nose, 0] + 0.3  # yaw > 0: the face turns toward the image's right
    q = t @ att.rotation_matrix(0, 30, 0).T
    assert q[nose, 1] < t[nose, 1] - 0.3  # pitch > 0: the face tilts up (y points down)
    q = t @ att.rotation_matrix(0, 0, 20).T
    assert q[right_outer, 1] > q[left_outer, 1] + 0.3  # roll > 0: clockwise in the image
    rng = np.random.default_rng(1)
    for yaw, pitch, roll in rng.uniform([-80, -60, -170], [80, 60, 170], (20, 3)):
        got = att.euler_angles(att.rotation_matrix(yaw, pitch, roll))
        np.testing.assert_allclose(got, (yaw, pitch, roll), atol=1e-6)


@pytest.mark.parametrize("weight", [1.0, att.DEPTH_WEIGHT, 0.0])
def test_head_pose_recovers_exact_rotations(weight):
    t = load_template()
    for angles in ((25, -10, 5), (-40, 20, -15), (0, 0, 0)):
        points = 80 * t @ att.rotation_matrix(*angles).T + [200, 150, 0]
        np.testing.assert_allclose(att.head_pose(points, depth_weight=weight), angles, atol=0.05)


@pytest.mark.parametrize("weight", [att.DEPTH_WEIGHT, 0.0])
def test_weighted_fit_agrees_with_a_general_solver(mesh_model, weight):
    """head_pose's normal equations from moments give the minimum that a general
    least-squares solver finds for the same weighted residuals (a real, imperfect mesh)."""
    from scipy.optimize import least_squares
    from scipy.spatial.transform import Rotation

    t = load_template()
    points = mesh_model.landmarks(*render_pose(35, -15, 10)).points.astype(np.float64)
    w = np.array([1.0, 1.0, weight])

    def residuals(x: np.ndarray) -> np.ndarray:
        rot = Rotation.from_rotvec(x[:3]).as_matrix()
        return ((x[3] * t @ rot.T + x[4:] - points) * w).ravel()

    scale, rot, shift = att.similarity_fit(t, points)
    start = np.concatenate([Rotation.from_matrix(rot).as_rotvec(), [scale], shift])
    best = least_squares(residuals, start, xtol=1e-12, ftol=1e-12).x
    expected = att.euler_angles(Rotation.from_rotvec(best[:3]).as_matrix())
    np.testing.assert_allclose(att.head_pose(points, depth_weight=weight), expected, atol=0.01)


def test_keypoint_yaw_of_the_cross_check_recovers_known_turns():
    """benchmarks/yaw_crosscheck.py's independent estimate: exact keypoints of the canonical
    face turned to a known yaw and pitch give that yaw back."""
    from benchmarks.yaw_crosscheck import CANONICAL_KEYPOINTS, keypoint_yaw

    for yaw, pitch in ((-40, 0), (-15, 10), (0, -20), (30, 15), (45, 0)):
        k = 12 * CANONICAL_KEYPOINTS @ att.rotation_matrix(yaw, pitch, 0).T + [160, 140, 0]
        assert abs(keypoint_yaw(k[:, :2]) - yaw) < 0.1, (yaw, pitch)


def test_renders_with_a_head_turn_the_right_way(mesh_model):
    """render_pose(head=True): hair and ears around the face; the mesh finds the face and
    reads the turn's sign (its size is compressed as on the face-only renders; docs/ATTENTION.md)."""
    for yaw in (-30, 30):
        image, box = render_pose(yaw, 0, 0, head=True)
        mesh = mesh_model.landmarks(image, box)
        assert mesh is not None
        est = att.head_pose(mesh.points)[0]
        assert 15 < np.sign(yaw) * est < 35, (yaw, est)


# -- accuracy on real and rendered faces ---------------------------------------------------
def test_mesh_on_the_photo(mesh_model, photo_box):
    mesh = mesh_model.landmarks(astronaut_bgr(), photo_box)
    assert mesh is not None and mesh.presence > 0.9
    x, y, w, h = ASTRONAUT_FACE
    inside = ((mesh.points[:, 0] > x - 10) & (mesh.points[:, 0] < x + w + 10)
              & (mesh.points[:, 1] > y - 10) & (mesh.points[:, 1] < y + h + 10))
    assert inside.mean() > 0.95
    # The iris centres lie between their eye's corners, the image-left eye on the left.
    lc, rc = mesh.iris_centres
    assert mesh.points[33, 0] < lc[0] < mesh.points[133, 0]
    assert mesh.points[362, 0] < rc[0] < mesh.points[263, 0]
    a = att.attention(mesh)
    assert max(abs(v) for v in a.pose[:2]) < 8 and a.looking_at_camera


@pytest.mark.parametrize("angle", [-30, -15, 15, 30])
def test_in_plane_roll_of_a_real_face(mesh_model, photo_box, angle):
    """The photo rotated clockwise by ``angle`` changes the roll by ``angle`` (within 3 deg)."""
    from fer_core.detect import load_detector

    photo = astronaut_bgr()
    base = att.head_pose(mesh_model.landmarks(photo, photo_box).points)
    rotated = cv2.warpAffine(photo, cv2.getRotationMatrix2D((222.0, 125.0), -angle, 1.0), (512, 512),
                             borderMode=cv2.BORDER_REPLICATE)
    mesh = mesh_model.landmarks(rotated, load_detector("blazeface").detect(rotated)[0].box)
    pose = att.head_pose(mesh.points)
    assert abs(pose[2] - base[2] - angle) < 3.0, pose
    assert abs(pose[0] - base[0]) < 4.0 and abs(pose[1] - base[1]) < 4.0, pose


def test_pose_on_rendered_faces(mesh_model):
    """Known angles within +-30 deg: mean abs error <= 6 deg yaw, <= 6 pitch, <= 3 roll
    (docs/ATTENTION.md has the full grid to +-45 from benchmarks/pose_accuracy.py)."""
    cases = [(y, p, 0) for y in (-30, 0, 30) for p in (-15, 15)] + [(20, 0, 25), (-20, 0, -25)]
    errors = []
    for truth in cases:
        image, box = render_pose(*truth)
        mesh = mesh_model.landmarks(image, box)
        assert mesh is not None, truth
        est = att.head_pose(mesh.points)
        assert all(np.sign(e) == np.sign(t) for e, t in zip(est, truth) if abs(t) >= 15), (truth, est)
        errors.append(np.abs(np.subtract(est, truth)))
    mae = np.mean(errors, axis=0)
    assert mae[0] <= 6 and mae[1] <= 6 and mae[2] <= 3, mae


@pytest.mark.parametrize("yaw", [-25, 20])
def test_yaw_is_mirror_symmetric(mesh_model, yaw):
    image, (x, y, w, h) = render_pose(yaw, 5, 0)
    a = mesh_model.landmarks(image, (x, y, w, h))
    b = mesh_model.landmarks(image[:, ::-1].copy(), (image.shape[1] - x - w, y, w, h))
    ya, yb = att.head_pose(a.points)[0], att.head_pose(b.points)[0]
    assert abs(ya) > 10 and abs(ya + yb) < 3.0, (ya, yb)


def test_yaw_of_the_mirrored_photo(mesh_model, photo_box):
    photo = astronaut_bgr()
    x, y, w, h = photo_box
    a = att.attention(mesh_model.landmarks(photo, photo_box))
    b = att.attention(mesh_model.landmarks(photo[:, ::-1].copy(), (512 - x - w, y, w, h)))
    assert abs(a.pose[0] + b.pose[0]) < 3.0 and abs(a.pose[2] + b.pose[2]) < 3.0
    # Gaze x mirrors too, and the image-left eye of one is the image-right eye of the other.
    assert abs(a.gaze[0] + b.gaze[0]) < 0.05
    assert abs(a.eyes_open[0] - b.eyes_open[1]) < 0.15


def test_turned_away_faces_are_not_looking_at_the_camera(mesh_model):
    for yaw, expected in ((0, True), (45, False), (-45, False)):
        image, box = render_pose(yaw, 0, 0)
        a = att.attention(mesh_model.landmarks(image, box))
        assert a.looking_at_camera is expected, (yaw, a)


# -- eyes ---------------------------------------------------------------------------------
def test_open_and_closed_eyes(mesh_model):
    from fer_core.detect import load_detector

    open_ = att.attention(astronaut_mesh())
    shut_image = close_eyes()
    shut = att.attention(mesh_model.landmarks(shut_image, load_detector("blazeface").detect(shut_image)[0].box))
    assert min(open_.eyes_open) > 0.8, open_
    assert max(shut.eyes_open) < att.CLOSED_BELOW, shut
    assert not shut.looking_at_camera


def test_openness_mapping():
    assert att.openness(att.EAR_CLOSED - 0.05) == 0.0 and att.openness(att.EAR_OPEN + 0.1) == 1.0
    mid = 0.5 * (att.EAR_CLOSED + att.EAR_OPEN)
    assert math.isclose(att.openness(mid), 0.5)


# -- bad input ----------------------------------------------------------------------------
def test_bad_boxes_give_none_never_an_exception(mesh_model):
    photo = astronaut_bgr()
    assert mesh_model.landmarks(photo, (10, 10, 12, 12)) is None  # too small
    assert mesh_model.landmarks(photo, (480, 60, 105, 125)) is None  # mostly outside
    assert mesh_model.landmarks(photo, (-200, -200, 50, 50)) is None  # entirely outside
    assert mesh_model.box_problem((10, 10, 12, 12), 512, 512).startswith("face too small")
    assert "outside" in mesh_model.box_problem((480, 60, 105, 125), 512, 512)
    # A box on no face at all: the model's presence score rejects it.
    assert mesh_model.landmarks(no_face_bgr(), (20, 20, 150, 150)) is None
    assert mesh_model.landmarks(np.zeros((240, 320, 3), np.uint8), (100, 60, 100, 100)) is None


def test_half_out_of_frame_face_gets_none_fields():
    from fer_core import load_recognizer

    rec = load_recognizer()
    frame = one_face_frame()
    # Shift the face so that its left half leaves the frame.
    faces = rec.analyze(frame, attention=True)
    x = faces[0].box[0] + faces[0].box[2] // 2
    cut = np.full_like(frame, 90)
    cut[:, : frame.shape[1] - x] = frame[:, x:]
    for r in rec.analyze(cut, attention=True):
        assert r.pose is None and r.eyes_open is None and r.looking_at_camera is None
        assert r.attention_hint
    tiny = cv2.resize(frame, (80, 60), interpolation=cv2.INTER_AREA)
    for r in rec.analyze(tiny, attention=True):  # a face of about 20 px
        assert r.pose is None and "small" in r.attention_hint


# -- the recognizer -----------------------------------------------------------------------
def test_analyze_attention_is_opt_in():
    from fer_core import load_recognizer

    rec = load_recognizer()
    frame = one_face_frame()
    plain = rec.analyze(frame)
    assert plain and plain[0].pose is None and "pose" not in plain[0].as_dict()
    with_att = rec.analyze(frame, attention=True)
    r = with_att[0]
    assert r.probabilities == plain[0].probabilities and r.box == plain[0].box
    assert len(r.pose) == 3 and len(r.eyes_open) == 2 and len(r.gaze) == 2
    assert isinstance(r.looking_at_camera, bool) and r.attention_hint is None
    d = r.as_dict()
    assert set(d) >= {"pose", "eyes_open", "gaze", "looking_at_camera"} and "attention_hint" not in d
    rec_on = load_recognizer(attention=True)
    assert rec_on.analyze(frame)[0].pose == r.pose


# -- live, drawing, tables ----------------------------------------------------------------
class _CountingRecognizer:
    """The real recognizer, counting the analyses made with attention."""

    def __init__(self) -> None:
        from fer_core import load_recognizer

        self.rec = load_recognizer()
        self.with_attention = self.with_iris = 0

    def analyze(self, image: np.ndarray, attention: bool = False, iris: bool = True) -> list:
        self.with_attention += bool(attention)
        self.with_iris += bool(attention and iris)
        return self.rec.analyze(image, attention=attention, iris=iris)


def test_live_attention_every_n_frames_carries_the_last_measurement():
    from fer_core.live import LiveAnalyzer

    rec = _CountingRecognizer()
    analyzer = LiveAnalyzer(rec, attention=True, attention_every=3)  # type: ignore[arg-type]
    frame = one_face_frame()
    poses = []
    for _ in range(6):
        analyzer.process(frame)
        faces = analyzer.snapshot().faces
        assert len(faces) == 1
        poses.append(faces[0].pose)
    assert rec.with_attention == 2
    assert all(p is not None for p in poses) and poses[1] == poses[0]
    analyzer.configure(attention=False)
    analyzer.process(frame)
    assert analyzer.snapshot().faces[0].pose is None and rec.with_attention == 2


def test_live_eyes_every_n_measurements_keeps_the_last_eyes():
    """Pose on every frame, the iris pass on one in 3: the frames in between carry the last
    eyes and gaze, and looking_at_camera follows the new pose with them."""
    from fer_core.live import LiveAnalyzer, carry_eyes
    from fer_core.tracking import TrackedFace

    rec = _CountingRecognizer()
    analyzer = LiveAnalyzer(rec, attention=True, eyes_every=3)  # type: ignore[arg-type]
    frame = one_face_frame()
    seen = []
    for _ in range(6):
        analyzer.process(frame)
        seen.append(analyzer.snapshot().faces[0])
    assert rec.with_attention == 6 and rec.with_iris == 2
    assert all(f.pose is not None and f.eyes_open is not None and f.gaze is not None for f in seen)
    assert seen[1].eyes_open == seen[0].eyes_open and seen[2].gaze == seen[0].gaze
    assert all(f.looking_at_camera for f in seen)
    pose_only = rec.rec.analyze(frame, attention=True, iris=False)[0]
    assert pose_only.pose is not None and pose_only.eyes_open is None and pose_only.looking_at_camera is None
    # A face turned far away keeps its eyes but is no longer looking at the camera.
    before = TrackedFace(1, (0, 0, 9, 9), (1.0,), (1.0,), "Happy", 1.0, pose=(0.0, 0.0, 0.0),
                         eyes_open=(1.0, 1.0), gaze=(0.0, 0.0), looking_at_camera=True)
    now = TrackedFace(1, (0, 0, 9, 9), (1.0,), (1.0,), "Happy", 1.0, pose=(50.0, 0.0, 0.0))
    new_face = TrackedFace(2, (0, 0, 9, 9), (1.0,), (1.0,), "Happy", 1.0, pose=(0.0, 0.0, 0.0))
    turned, unknown = carry_eyes((now, new_face), (before,))
    assert turned.eyes_open == (1.0, 1.0) and turned.looking_at_camera is False
    assert unknown.eyes_open is None and unknown.looking_at_camera is None


class _GalleryRecognizer:
    """A stand-in for a call's gallery: faces in a grid of ``rows`` x ``cols`` tiles, each with a
    head pose and eyes that the test sets (``state[tile] = (yaw, eyes)``; None: the tile is empty),
    counting the faces whose attention is measured on each analysed frame."""

    def __init__(self, rows: int = 5, cols: int = 5) -> None:
        self.boxes = [(40 + 240 * c, 30 + 140 * r, 60, 60) for r in range(rows) for c in range(cols)]
        self.state: dict[int, tuple[float, float] | None] = {i: (0.0, 1.0) for i in range(len(self.boxes))}
        self.measured: list[int] = []  # faces measured, one count per analysed frame
        self.which: list[set[int]] = []  # ... the tiles whose pose was measured on each (eyes: below)
        self.eyes: list[set[int]] = []

    def _fields(self, i: int, iris: bool) -> dict:
        yaw, eyes = self.state[i] or (0.0, 1.0)
        if not iris:
            return {"pose": (yaw, 0.0, 0.0)}
        return {"pose": (yaw, 0.0, 0.0), "eyes_open": (eyes, eyes), "gaze": (0.0, 0.0),
                "looking_at_camera": abs(yaw) <= 20 and eyes >= 0.2}

    def analyze(self, image: np.ndarray, attention: bool = False, iris: bool = True) -> list:
        from fer_core.recognizer import FaceResult

        out = []
        for i, box in enumerate(self.boxes):
            if self.state[i] is None:
                continue
            fields = self._fields(i, iris) if attention else {}
            out.append(FaceResult(box=box, probabilities=(0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0), label="Happy",
                                  confidence=1.0, detector_score=0.9, **fields))
        self.measured.append(len(out) if attention else 0)
        self.which.append({i for i in range(len(self.boxes)) if attention and self.state[i] is not None})
        self.eyes.append(set(self.which[-1]) if iris else set())
        return out

    def measure_attention(self, image: np.ndarray, boxes: list, iris: bool = True) -> list:
        self.measured[-1] += len(boxes)
        self.which[-1].update(self.boxes.index(tuple(b)) for b in boxes)
        if iris:
            self.eyes[-1].update(self.boxes.index(tuple(b)) for b in boxes)
        return [self._fields(self.boxes.index(tuple(b)), iris) for b in boxes]


class _Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def _run_gallery(analyzer, rec: _GalleryRecognizer, clock: _Clock, frames: int, fps: float = 5.0,
                 frame: np.ndarray | None = None) -> list:
    """``frames`` analysed frames (``frame``, default black) at ``fps``; each frame's faces by tile."""
    frame = np.zeros((720, 1280, 3), np.uint8) if frame is None else frame
    seen = []
    for _ in range(frames):
        clock.t += 1.0 / fps
        analyzer.process(frame)
        seen.append({rec.boxes.index(tuple(f.box)): f for f in analyzer.snapshot().faces})
    return seen


def test_live_gallery_measures_its_faces_in_turn():
    """A shared screen of 25 faces with attention: after the first frame, each analysed frame
    measures a few faces (the stalest first) instead of all of them on one frame in three, every
    face's pose stays at most a second old and its eyes two, and every face shows a measurement."""
    from fer_core.live import LiveAnalyzer

    rec, clock = _GalleryRecognizer(), _Clock()
    analyzer = LiveAnalyzer(rec, attention=True, attention_every=3, clock=clock)  # type: ignore[arg-type]
    seen = _run_gallery(analyzer, rec, clock, 41)
    assert rec.measured[0] == 25  # the first frame: every face
    # 25 faces at 5 frames a second, each pose at most 1 s old with a fifth spare: 6.25 a frame.
    assert all(n <= 7 for n in rec.measured[1:]), rec.measured
    assert sum(rec.measured[1:41]) == 250
    # Every face's pose measured within every 5 frames (1 s), its eyes within every 10 (2 s).
    assert all(set().union(*rec.which[i:i + 5]) == set(range(25)) for i in range(len(rec.which) - 4))
    assert all(set().union(*rec.eyes[i:i + 10]) == set(range(25)) for i in range(len(rec.eyes) - 9))
    assert all(len(faces) == 25 and all(f.pose is not None and f.eyes_open is not None for f in faces.values())
               for faces in seen)


def test_live_gallery_shows_a_student_turning_away_within_a_second():
    """A face of the gallery that turns away (or closes its eyes) shows it within a second of
    analysed frames, a new face is measured on its first frame, a gone face leaves with its
    measurement, and a face never comes back with the pose it had before it left."""
    from fer_core.live import LiveAnalyzer

    rec, clock = _GalleryRecognizer(), _Clock()
    analyzer = LiveAnalyzer(rec, attention=True, attention_every=3, clock=clock)  # type: ignore[arg-type]
    _run_gallery(analyzer, rec, clock, 12)
    rec.state[7] = (60.0, 1.0)  # turns away
    rec.state[8] = (0.0, 0.0)  # closes the eyes
    rec.state[9] = None  # camera off
    seen = _run_gallery(analyzer, rec, clock, 11)
    turned = next(i for i, faces in enumerate(seen) if faces[7].pose[0] == 60.0)
    assert turned <= 4 and all(faces[7].looking_at_camera is False for faces in seen[turned:])
    closed = next(i for i, faces in enumerate(seen) if faces[8].eyes_open == (0.0, 0.0))
    assert closed <= 9 and not seen[-1][8].looking_at_camera
    assert all(9 not in faces for faces in seen)
    rec.state[9] = (-45.0, 1.0)  # a new face there: measured at once, not with the old one's pose
    seen = _run_gallery(analyzer, rec, clock, 1)
    assert seen[0][9].pose == (-45.0, 0.0, 0.0) and seen[0][9].looking_at_camera is False
    # The summary the page shows ("N look at the camera") follows: 25 faces, 3 not looking.
    assert sum(bool(f.looking_at_camera) for f in seen[0].values()) == 22


def test_live_gallery_measures_a_face_that_moved_first():
    """A face whose picture changed since it was measured (a student turning, closing the eyes) is
    measured on the next analysed frame, ahead of its turn; the others are not measured more."""
    from fer_core.live import LiveAnalyzer

    rec, clock = _GalleryRecognizer(), _Clock()
    analyzer = LiveAnalyzer(rec, attention=True, attention_every=3, clock=clock)  # type: ignore[arg-type]
    frame = np.zeros((720, 1280, 3), np.uint8)
    _run_gallery(analyzer, rec, clock, 12, frame=frame)
    changed = frame.copy()
    for tile, state in ((7, (60.0, 1.0)), (8, (0.0, 0.0))):
        x, y, w, h = rec.boxes[tile]
        changed[y:y + h // 2, x:x + w] = 200  # its picture changes with it
        rec.state[tile] = state
    before = len(rec.measured)
    seen = _run_gallery(analyzer, rec, clock, 1, frame=changed)
    assert seen[0][7].pose[0] == 60.0 and seen[0][7].looking_at_camera is False
    assert seen[0][8].eyes_open == (0.0, 0.0) and seen[0][8].looking_at_camera is False
    assert rec.measured[before] <= 7 and {7, 8} <= rec.eyes[before]
    # The same picture again: nothing moved. The faces whose turn the two took are measured on the
    # next frames, before they are a second old: at most those two more than the rotation's 7.
    _run_gallery(analyzer, rec, clock, 10, frame=changed)
    assert all(n <= 7 + 2 for n in rec.measured[before + 1:]) and all(n <= 7 for n in rec.measured[-4:])
    assert all(set().union(*rec.which[i:i + 5]) == set(range(25)) for i in range(len(rec.which) - 4))


def test_live_gallery_rotation_keeps_up_when_frames_are_analysed_further_apart():
    """Frames analysed 2 s apart (a busy server): every face is measured on each, none keeps a
    measurement older than the limit."""
    from fer_core.live import LiveAnalyzer

    rec, clock = _GalleryRecognizer(), _Clock()
    analyzer = LiveAnalyzer(rec, attention=True, clock=clock)  # type: ignore[arg-type]
    _run_gallery(analyzer, rec, clock, 3, fps=0.5)
    assert rec.measured == [25, 25, 25]
    rec.state[3] = (50.0, 0.0)
    seen = _run_gallery(analyzer, rec, clock, 1, fps=0.5)
    assert seen[0][3].pose[0] == 50.0 and seen[0][3].eyes_open == (0.0, 0.0)


def test_live_few_faces_keep_measuring_every_face_on_one_frame_in_n():
    """Up to three faces (a camera): attention as before, every face on one analysed frame in
    ``attention_every``, carried in between; no face measured on its own."""
    from fer_core.live import LiveAnalyzer

    rec, clock = _GalleryRecognizer(1, 3), _Clock()
    analyzer = LiveAnalyzer(rec, attention=True, attention_every=3, clock=clock)  # type: ignore[arg-type]
    seen = _run_gallery(analyzer, rec, clock, 6)
    assert rec.measured == [3, 0, 0, 3, 0, 0]
    assert all(f.pose == (0.0, 0.0, 0.0) for faces in seen for f in faces.values())


def test_live_attention_after_a_pause_is_measured_not_carried_from_before_it():
    """A camera's two faces, attention on one analysed frame in 3 and the eyes on one measurement in
    2; the laptop asleep for 5 minutes, a student turned away meanwhile. The first frame after the
    pause showed and logged the pose and eyes of 5 minutes before ("looking at the camera") for up
    to two more analysed frames, although the expression restarts there. It is measured on it now."""
    from fer_core.live import LiveAnalyzer

    rec, clock = _GalleryRecognizer(1, 2), _Clock()
    analyzer = LiveAnalyzer(rec, attention=True, attention_every=3, eyes_every=2, clock=clock,  # type: ignore[arg-type]
                            adaptive=False)
    _run_gallery(analyzer, rec, clock, 4)
    assert rec.measured == [2, 0, 0, 2] and [bool(e) for e in rec.eyes] == [True, False, False, False]
    clock.t += 300.0
    rec.state[0] = (70.0, 0.0)
    seen = _run_gallery(analyzer, rec, clock, 1)
    assert rec.measured[-1] == 2 and rec.eyes[-1] == {0, 1}
    assert seen[0][0].pose == (70.0, 0.0, 0.0) and seen[0][0].eyes_open == (0.0, 0.0)
    assert seen[0][0].looking_at_camera is False and seen[0][1].looking_at_camera is True
    df = analyzer.log.to_frame()
    row = df[(df["time_s"] == df["time_s"].max()) & (df["face_id"] == seen[0][0].face_id)].iloc[0]
    assert row["time_s"] == pytest.approx(300.8) and row["yaw"] == 70.0 and not row["looking"]
    # Then on one analysed frame in 3 again, carried in between.
    _run_gallery(analyzer, rec, clock, 3)
    assert sorted(rec.measured[-3:]) == [0, 0, 2]


def test_annotate_draws_the_pose_axis_and_closed_eyes():
    from fer_core import load_recognizer
    from fer_core.annotate import annotate, results_table

    rec = load_recognizer()
    frame = one_face_frame()
    plain = rec.analyze(frame)
    faces = rec.analyze(frame, attention=True)
    a, b = annotate(frame, plain), annotate(frame, faces)
    x, y, w, h = faces[0].box
    inner = (slice(y + h // 4, y + 3 * h // 4), slice(x + w // 4, x + 3 * w // 4))
    assert np.abs(a[inner].astype(int) - b[inner]).sum() > 0  # the axis is drawn inside the box
    assert "yaw" not in results_table(plain)[0]
    row = results_table(faces)[0]
    assert {"yaw", "pitch", "roll", "eye_left", "eye_right", "gaze_x", "gaze_y", "looking_at_camera"} <= set(row)
    shut = close_eyes()
    marked = annotate(shut, rec.analyze(shut, attention=True))
    unmarked = annotate(shut, rec.analyze(shut))
    fx, fy, fw, fh = rec.analyze(shut)[0].box
    below = (slice(fy + fh, min(fy + fh + 30, shut.shape[0])), slice(fx, fx + fw))
    assert np.abs(marked[below].astype(int) - unmarked[below]).sum() > 0  # "eyes closed" under the box


def test_video_with_attention_follows_a_turning_head():
    from fer_core import load_recognizer
    from fer_core.engagement import attention_summary
    from fer_core.video import analyze_video
    from tests.media import encode_video
    from tests.posed_faces import turning_head_frames, turning_head_yaw

    data = encode_video(turning_head_frames(fps=4, seconds=4.0), fps=4)
    result = analyze_video(load_recognizer(), data, rate=4.0, attention=True)
    df = result.log.to_frame()
    assert len(df) >= 14 and df["yaw"].notna().mean() > 0.9
    truth = np.array([turning_head_yaw(round(t * 4), 4, 4.0, 40.0) for t in df["time_s"]])
    est = df["yaw"].to_numpy()
    ok = ~np.isnan(est)
    assert np.corrcoef(truth[ok], est[ok])[0, 1] > 0.95  # the yaw follows the turn
    assert np.sign(est[ok & (np.abs(truth) > 20)]).tolist() == np.sign(truth[ok & (np.abs(truth) > 20)]).tolist()
    assert attention_summary(df)[0].measured_s > 0
    plain = analyze_video(load_recognizer(), data, rate=4.0)
    assert "yaw" not in plain.log.to_frame().columns


def test_command_line_attention(tmp_path, capsys):
    from fer_core.__main__ import main

    photo = tmp_path / "astronaut.png"
    cv2.imwrite(str(photo), astronaut_bgr())
    assert main([str(photo), "--attention"]) == 0
    out = capsys.readouterr().out
    assert "pose yaw" in out and "looking at camera: yes" in out
    assert main([str(photo), "--json", "--attention"]) == 0
    import json

    face = json.loads(capsys.readouterr().out)[0]["faces"][0]
    assert len(face["pose"]) == 3 and face["looking_at_camera"] is True
    assert main([str(photo), "--json"]) == 0
    assert "pose" not in json.loads(capsys.readouterr().out)[0]["faces"][0]


def test_gray_and_bgra_images(mesh_model, photo_box):
    photo = astronaut_bgr()
    colour = att.head_pose(mesh_model.landmarks(photo, photo_box).points)
    gray = mesh_model.landmarks(cv2.cvtColor(photo, cv2.COLOR_BGR2GRAY), photo_box)
    bgra = mesh_model.landmarks(cv2.cvtColor(photo, cv2.COLOR_BGR2BGRA), photo_box)
    assert gray is not None and bgra is not None
    assert np.abs(np.subtract(att.head_pose(gray.points), colour)).max() < 3
    assert np.abs(np.subtract(att.head_pose(bgra.points), colour)).max() < 0.5


# -- fewer model runs, the same meshes -----------------------------------------------------
def counted_mesh() -> FaceMesh:
    model = FaceMesh()
    model._mesh, model._iris = CountedRuns(model._mesh), CountedRuns(model._iris)
    return model


def assert_same_mesh(a, b) -> None:
    assert (a is None) == (b is None)
    if a is not None:
        assert a.presence == b.presence
        np.testing.assert_array_equal(a.points, b.points)
        for eye_a, eye_b in ((a.left, b.left), (a.right, b.right)):
            np.testing.assert_array_equal(eye_a.iris, eye_b.iris)
            np.testing.assert_array_equal(eye_a.contour, eye_b.contour)


def test_a_frames_faces_share_their_iris_runs():
    from fer_core.detect import load_detector
    from fer_core.landmarks import IRIS_BATCH_FACES
    from tests.scenes import gallery_frame

    frame = gallery_frame(2, 3, 1280, 720)
    boxes = [d.box for d in load_detector("blazeface").detect(frame)] + [(10, 10, 12, 12)]  # + a box too small
    assert len(boxes) == 7
    model = counted_mesh()
    one_by_one = [model.landmarks(frame, box) for box in boxes]
    assert model._iris.runs == 6
    model._iris.runs = 0
    together = model.landmarks_many(frame, boxes)
    assert model._iris.runs == math.ceil(6 / IRIS_BATCH_FACES) < 6
    assert together[-1] is None and all(m is not None for m in together[:-1])
    for a, b in zip(together, one_by_one):
        assert_same_mesh(a, b)  # to the bit
    pose_only = model.landmarks_many(frame, boxes, iris=False)
    assert all(m is None or m.left is None for m in pose_only)
    np.testing.assert_array_equal(pose_only[0].points, one_by_one[0].points)


def test_the_face_checks_mesh_pass_is_not_run_again():
    from fer_core import load_recognizer
    from fer_core.detect import Detection, FaceDetector, load_detector

    image = one_face_frame()
    found = load_detector("blazeface").detect(image)[0]
    model = counted_mesh()
    presence, first = model.check_face(image, found.box, found.eyes)
    assert presence == model.face_presence(image, found.box) > 0.9 and first is not None
    model._mesh.runs = 0
    plain = model.landmarks(image, found.box)
    plain_runs = model._mesh.runs
    assert_same_mesh(model.landmarks(image, found.box, first=first), plain)
    assert model._mesh.runs - plain_runs == plain_runs - 1
    # Another box's pass, or another model's, is not taken for this one.
    x, y, w, h = found.box
    assert_same_mesh(model.landmarks(image, (x + 9, y, w, h), first=first), model.landmarks(image, (x + 9, y, w, h)))
    from dataclasses import replace

    before = model._mesh.runs
    assert_same_mesh(model.landmarks(image, found.box, first=replace(first, model_path=Path("other.onnx"))), plain)
    assert model._mesh.runs - before == plain_runs

    # A weak detection the face check kept carries its pass to the attention's mesh.
    weak = Detection(found.box, 0.7, found.eyes)
    checked = load_detector("blazeface").confirmed(image, [weak])
    assert len(checked) == 1 and checked[0].mesh is not None and checked[0] == weak

    class Fixed(FaceDetector):
        def __init__(self, detections) -> None:
            self.detections = detections

        def detect(self, image_bgr):
            return list(self.detections)

    results = {}
    for name, dets in (("plain", [weak]), ("checked", checked)):
        model._mesh.runs = 0
        rec = load_recognizer(detector=Fixed(dets), face_mesh=model)
        results[name] = (rec.analyze(image, attention=True), model._mesh.runs)
    assert results["checked"][0] == results["plain"][0] and results["plain"][0][0].pose is not None
    assert results["checked"][1] == results["plain"][1] - 1
