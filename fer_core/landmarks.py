"""Face mesh (468 points) and iris landmarks behind a small interface, like the detector.

:class:`FaceMesh` runs MediaPipe's face-landmark and iris-landmark models, converted to
ONNX by ``tools/convert_facemesh.py`` (``models/landmarks/``, Apache-2.0, see the NOTICE
there), on onnxruntime. Given a BGR image and a face box (from any detector) it returns a
:class:`Mesh`: 468 points in image pixels, the model's face-presence score, and for each
eye the iris centre and the eyelid contour refined by the iris model.

Eyes are named by the side of the *image* they appear on: ``left`` is the eye on the
image's left (the subject's right eye in an unmirrored photo), mesh points 33 (outer
corner) and 133 (inner corner); ``right`` is the eye on the image's right, points 362
(inner) and 263 (outer).

Crops are affine warps (rotation included), so a tilted head is cropped upright: a first
pass uses the box without rotation; when the mesh says the face is rolled, shifted or
scaled against that crop, a second pass crops again from the mesh (as MediaPipe's
tracking does between frames). Instances are safe to share across threads.

A frame's faces get their iris passes in one batch of up to :data:`IRIS_BATCH_FACES` faces
(:meth:`FaceMesh.landmarks_many`), and a box whose upright crop the detector's face check already
ran through the mesh (:meth:`FaceMesh.check_face`) starts from that run (:class:`FirstPass`):
the same numbers, one model run fewer.
"""
from __future__ import annotations

import functools
import logging
import math
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

MODEL_DIR_ENV = "FER_LANDMARKS_DIR"
DEFAULT_MODEL_DIR = Path(__file__).resolve().parent.parent / "models" / "landmarks"
MESH_FILE = "face_mesh.onnx"
IRIS_FILE = "iris_landmark.onnx"
TEMPLATE_FILE = "face_template.npy"

MESH_SIZE = 192  # face-landmark input side (RGB in [0, 1])
IRIS_SIZE = 64  # iris-landmark input side (RGB in [0, 1])
NUM_POINTS = 468
#: Crop side over the face size, as MediaPipe's face_detection_to_roi / landmarks_to_roi (1.5).
MESH_ROI_SCALE = 1.5
#: Eye crop side over the eye-corner distance (MediaPipe's iris_landmark_landmarks_to_roi: 2.3).
IRIS_ROI_SCALE = 2.3
#: Face-presence probability under which the mesh is rejected (MediaPipe: 0.5).
MIN_PRESENCE = 0.5
#: Faces smaller than this (box side in pixels) get no mesh: below it the 192 px crop is
#: mostly interpolation and the eyes are a few pixels wide.
MIN_FACE_PX = 24
#: Second pass when the first crop is off by more than these (radians, fraction of side).
REFINE_ROLL = math.radians(8.0)
REFINE_SHIFT = 0.08
REFINE_SCALE = 0.15

#: Faces whose eyes go through the iris model in one run (:meth:`FaceMesh.landmarks_many`): same
#: outputs to the bit, and 6-8 eye crops a run cost 1.52-1.56 ms an eye against 1.63-1.87 for two
#: (one face); 16 or more were slower again (1.7-1.9 ms an eye, one thread).
IRIS_BATCH_FACES = 4

#: Mesh indices of the eye corners: (outer, inner) of the image-left eye, (inner, outer) of the image-right eye.
LEFT_EYE_CORNERS = (33, 133)
RIGHT_EYE_CORNERS = (362, 263)


@dataclass(frozen=True)
class Eye:
    """One eye, from the iris model. All coordinates in image pixels (z: same scale as x)."""

    iris: np.ndarray  # (5, 3): centre, then four points on the iris edge
    contour: np.ndarray  # (16, 3): lower lid corner to corner (9 points), then upper lid (7)


@dataclass(frozen=True)
class Mesh:
    """The landmarks of one face."""

    points: np.ndarray  # (468, 3) float32: x, y in image pixels; z relative depth (pixels, smaller = nearer)
    presence: float  # the model's face-presence probability
    left: Eye | None  # the eye on the image's left (None when the iris model was not run)
    right: Eye | None

    @property
    def iris_centres(self) -> np.ndarray | None:
        """(2, 2) x, y of the left and right iris centres, or None."""
        if self.left is None or self.right is None:
            return None
        return np.stack([self.left.iris[0, :2], self.right.iris[0, :2]])


@dataclass(frozen=True)
class FirstPass:
    """The mesh of a face box's upright crop: the first pass of :meth:`FaceMesh.landmarks`, as the
    detector's face check (:meth:`FaceMesh.check_face`) ran it. Valid for that image only."""

    box: tuple[float, float, float, float]  # x, y, w, h, as given
    model_path: Path  # the mesh model that ran it
    points: np.ndarray  # (468, 3) in image pixels
    presence: float


def model_dir() -> Path:
    """The folder holding the landmark models: ``$FER_LANDMARKS_DIR`` or ``models/landmarks``."""
    env = os.environ.get(MODEL_DIR_ENV)
    return Path(env) if env else DEFAULT_MODEL_DIR


def roi_matrix(cx: float, cy: float, side: float, angle: float, size: int, flip: bool = False) -> np.ndarray:
    """2x3 affine map from tensor pixels (0..size) to image pixels for a square crop.

    The crop is centred at (cx, cy), ``side`` pixels wide and rotated by ``angle`` radians
    (clockwise in the image, y pointing down); ``flip`` mirrors it left-right.
    """
    k = side / size
    c, s = math.cos(angle) * k, math.sin(angle) * k
    fx = -1.0 if flip else 1.0
    # image = centre + Rot(angle) @ diag(fx, 1) @ (u - size/2, v - size/2)
    a = np.array([[c * fx, -s], [s * fx, c]])
    t = np.array([cx, cy]) - a @ np.array([size / 2.0, size / 2.0])
    return np.hstack([a, t[:, None]])


def warp_crop(image: np.ndarray, matrix: np.ndarray, size: int, swap_rb: bool = False) -> np.ndarray:
    """The (size, size, 3) float32 crop in [0, 1] that ``matrix`` (tensor -> image) describes;
    ``swap_rb`` turns a BGR image's crop into RGB (cheaper than converting the whole image)."""
    import cv2

    crop = cv2.warpAffine(image, matrix, (size, size), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0))
    if swap_rb:
        crop = cv2.cvtColor(crop, cv2.COLOR_BGR2RGB)
    # One pass to float (astype then a multiply made two arrays: ~0.15 ms more per face crop).
    return np.multiply(crop, np.float32(1.0 / 255.0), dtype=np.float32)


def to_image(points: np.ndarray, matrix: np.ndarray, size: int, side: float) -> np.ndarray:
    """Tensor-pixel points (N, 3) to image pixels with the crop's matrix; z scaled like x."""
    out = np.empty_like(points, dtype=np.float32)
    out[:, :2] = points[:, :2] @ matrix[:, :2].T + matrix[:, 2]
    out[:, 2] = points[:, 2] * (side / size)
    return out


def eye_roi(points: np.ndarray, corners: tuple[int, int]) -> tuple[float, float, float, float]:
    """Centre x, y, side and angle of an eye crop from two mesh corner points (as MediaPipe)."""
    p0, p1 = points[corners[0], :2], points[corners[1], :2]
    centre = 0.5 * (p0 + p1)
    # The crop is square on the corners' longer extent, as bbox_to_roi with SQUARE_LONG.
    side = IRIS_ROI_SCALE * float(max(abs(p1[0] - p0[0]), abs(p1[1] - p0[1])))
    angle = math.atan2(float(p1[1] - p0[1]), float(p1[0] - p0[0]))
    return float(centre[0]), float(centre[1]), side, angle


def mesh_roi(points: np.ndarray) -> tuple[float, float, float, float]:
    """Centre, side and angle of the face crop that the mesh itself implies (MediaPipe's
    landmarks-to-ROI: the points' box, squared on its long side, times 1.5, rotated so
    that the outer eye corners are level)."""
    angle = math.atan2(float(points[263, 1] - points[33, 1]), float(points[263, 0] - points[33, 0]))
    # The box is taken in the face's own frame (a rotated face's image box is too large).
    rot = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    local = points[:, :2] @ rot  # = rot.T @ p for each point
    lo, hi = local.min(axis=0), local.max(axis=0)
    side = MESH_ROI_SCALE * float((hi - lo).max())
    centre = rot @ (0.5 * (lo + hi))
    return float(centre[0]), float(centre[1]), side, angle


def _session(path: Path, threads: int) -> Any:
    import onnxruntime as ort

    if not path.is_file():
        raise FileNotFoundError(f"landmark model not found: {path} (see tools/convert_facemesh.py)")
    from fer_core.runtime import session_options

    return ort.InferenceSession(str(path), session_options(threads), providers=["CPUExecutionProvider"])


class FaceMesh:
    """468-point face mesh and iris landmarks for face boxes. Thread-safe; load once.

    ``max_refine``: how many times at most the face is cropped again from its own mesh
    when the previous crop was rolled, shifted or scaled against it (0: never).
    """

    def __init__(self, model_path: str | Path | None = None, *, iris: bool = True, threads: int = 1,
                 min_face_px: int = MIN_FACE_PX, min_presence: float = MIN_PRESENCE,
                 max_refine: int = 2) -> None:
        folder = model_dir()
        self.model_path = Path(model_path) if model_path else folder / MESH_FILE
        self._mesh = _session(self.model_path, threads)
        self._iris = _session(self.model_path.parent / IRIS_FILE, threads) if iris else None
        self.min_face_px = min_face_px
        self.min_presence = min_presence
        self.max_refine = max_refine

    # -- the models ---------------------------------------------------------------------
    def _run_mesh(self, image: np.ndarray, roi: tuple[float, float, float, float],
                  swap_rb: bool) -> tuple[np.ndarray, float]:
        cx, cy, side, angle = roi
        m = roi_matrix(cx, cy, side, angle, MESH_SIZE)
        x = warp_crop(image, m, MESH_SIZE, swap_rb)[None]
        raw, flag = self._mesh.run(None, {"input": x})
        presence = 1.0 / (1.0 + math.exp(-float(np.ravel(flag)[-1])))
        pts = to_image(raw.reshape(NUM_POINTS, 3), m, MESH_SIZE, side)
        return pts, presence

    def _run_iris(self, image: np.ndarray, points: list[np.ndarray], swap_rb: bool) -> list[tuple[Eye, Eye]]:
        """Both eyes of each face (``points``: their meshes) in one iris-model run."""
        assert self._iris is not None
        # The model is for the image-left eye, so the other is mirrored.
        mats, sides = [], []
        for pts in points:
            for corners, flip in ((LEFT_EYE_CORNERS, False), (RIGHT_EYE_CORNERS, True)):
                # Mirrored, the crop's x axis runs from the outer corner (263) to the inner (362),
                # as for the image-left eye (33 -> 133).
                cx, cy, side, angle = eye_roi(pts, corners)
                mats.append(roi_matrix(cx, cy, side, angle, IRIS_SIZE, flip=flip))
                sides.append(side)
        x = np.stack([warp_crop(image, m, IRIS_SIZE, swap_rb) for m in mats])
        contour, iris = self._iris.run(None, {"input": x})
        eyes = []
        for i in range(len(mats)):
            c = to_image(contour[i].reshape(71, 3), mats[i], IRIS_SIZE, sides[i])
            r = to_image(iris[i].reshape(5, 3), mats[i], IRIS_SIZE, sides[i])
            eyes.append(Eye(iris=r, contour=c[:16]))
        return [(eyes[2 * k], eyes[2 * k + 1]) for k in range(len(points))]

    # -- public -------------------------------------------------------------------------
    def box_problem(self, box: tuple[int, int, int, int], width: int, height: int) -> str | None:
        """Why a face box gets no mesh (a short hint for the user), or None if it may."""
        x, y, bw, bh = (float(v) for v in box)
        if min(bw, bh) < self.min_face_px:
            return f"face too small for attention (under {self.min_face_px} px)"
        # Much of the box outside the image: the mesh would be a guess.
        vis_w = min(x + bw, width) - max(x, 0.0)
        vis_h = min(y + bh, height) - max(y, 0.0)
        if vis_w <= 0 or vis_h <= 0 or vis_w * vis_h < 0.6 * bw * bh:
            return "face partly outside the image: no attention measured"
        return None

    def face_presence(self, image_bgr: np.ndarray, box: tuple[int, int, int, int],
                      eyes: tuple[tuple[float, float], tuple[float, float]] | None = None) -> float | None:
        """The mesh model's face-presence probability for a detector box (x, y, w, h pixels of a
        BGR, gray or BGRA image), or None for a box under ``min_face_px``, too small to judge.

        One mesh pass on the box's crop, upright; if that says "no face" and ``eyes`` (the
        detector's two eye points) are given, a second pass on the crop turned by their line, so
        that a face lying on its side is judged upright. The higher of the two is returned.
        """
        return self.check_face(image_bgr, box, eyes)[0]

    def check_face(self, image_bgr: np.ndarray, box: tuple[int, int, int, int],
                   eyes: tuple[tuple[float, float], tuple[float, float]] | None = None,
                   ) -> tuple[float | None, FirstPass | None]:
        """:meth:`face_presence`, and the upright pass it ran (None when it ran none), which
        :meth:`landmarks` on the same image and box takes as its first pass (``first=``)."""
        x, y, bw, bh = (float(v) for v in box)
        if min(bw, bh) < self.min_face_px:
            return None, None
        if image_bgr.ndim != 3 or image_bgr.shape[2] != 3:  # gray or BGRA, as landmarks() takes
            from fer_core.runtime import as_bgr

            image_bgr = as_bgr(image_bgr)
        image = np.ascontiguousarray(image_bgr)
        roi = (x + bw / 2.0, y + bh / 2.0, MESH_ROI_SCALE * max(bw, bh), 0.0)
        points, presence = self._run_mesh(image, roi, True)
        first = FirstPass((x, y, bw, bh), self.model_path, points, presence)
        if presence < self.min_presence and eyes is not None:
            (x0, y0), (x1, y1) = eyes
            angle = math.atan2(y1 - y0, x1 - x0)
            if abs(angle) > REFINE_ROLL:  # else the upright crop was already close to it
                presence = max(presence, self._run_mesh(image, roi[:3] + (angle,), True)[1])
        return presence, first

    def landmarks(self, image_bgr: np.ndarray, box: tuple[int, int, int, int], *,
                  iris: bool = True, rgb: np.ndarray | None = None,
                  first: FirstPass | None = None) -> Mesh | None:
        """The mesh of the face in ``box`` (x, y, w, h pixels), or None when the face is
        too small, too far outside the image, or the model says it is not a face.

        ``rgb``: the image already converted to RGB, if at hand (else the crops are converted).
        Gray and BGRA images are accepted too. ``first``: the detector's face check's pass on this
        image (:meth:`check_face`), used instead of running the first pass again when it is this
        box's and this model's.
        """
        return self.landmarks_many(image_bgr, [box], iris=iris, rgb=rgb, first=[first])[0]

    def landmarks_many(self, image_bgr: np.ndarray, boxes: list[tuple[int, int, int, int]], *,
                       iris: bool = True, rgb: np.ndarray | None = None,
                       first: list[FirstPass | None] | None = None) -> list[Mesh | None]:
        """:meth:`landmarks` of several faces of one image (``first``: one per box, or None), their
        iris passes batched (:data:`IRIS_BATCH_FACES` faces a run): the same meshes, cheaper."""
        if image_bgr.ndim != 3 or image_bgr.shape[2] != 3:
            from fer_core.runtime import as_bgr

            image_bgr, rgb = as_bgr(image_bgr), None
        swap_rb = rgb is None
        image = np.ascontiguousarray(image_bgr) if rgb is None else rgb
        firsts = first if first is not None else [None] * len(boxes)
        meshes = [self._mesh_points(image, box, swap_rb, f) for box, f in zip(boxes, firsts)]
        if not iris or self._iris is None:
            return [None if m is None else Mesh(points=m[0], presence=m[1], left=None, right=None)
                    for m in meshes]
        found = [(i, m) for i, m in enumerate(meshes) if m is not None]
        out: list[Mesh | None] = [None] * len(boxes)
        for k in range(0, len(found), IRIS_BATCH_FACES):
            group = found[k:k + IRIS_BATCH_FACES]
            eyes = self._run_iris(image, [pts for _, (pts, _) in group], swap_rb)
            for (i, (pts, presence)), (left, right) in zip(group, eyes):
                out[i] = Mesh(points=pts, presence=presence, left=left, right=right)
        return out

    def _mesh_points(self, image: np.ndarray, box: tuple[int, int, int, int], swap_rb: bool,
                     first: FirstPass | None) -> tuple[np.ndarray, float] | None:
        """The mesh points and presence of one box of ``image`` (BGR if ``swap_rb``, else RGB), or
        None (see :meth:`landmarks`)."""
        h, w = image.shape[:2]
        if self.box_problem(box, w, h):
            return None
        x, y, bw, bh = (float(v) for v in box)
        roi = (x + bw / 2.0, y + bh / 2.0, MESH_ROI_SCALE * max(bw, bh), 0.0)
        if first is not None and first.box == (x, y, bw, bh) and first.model_path == self.model_path:
            pts, presence = first.points, first.presence  # the check ran this very pass
        else:
            pts, presence = self._run_mesh(image, roi, swap_rb)
        for _ in range(self.max_refine):
            better = mesh_roi(pts)
            if (abs(better[3] - roi[3]) <= REFINE_ROLL
                    and math.hypot(better[0] - roi[0], better[1] - roi[1]) <= REFINE_SHIFT * roi[2]
                    and abs(better[2] / roi[2] - 1.0) <= REFINE_SCALE):
                break
            roi = better
            pts, presence = self._run_mesh(image, roi, swap_rb)
        if presence < self.min_presence:
            return None
        # Landmarks out of the image (face half out of frame) make the mesh unreliable.
        inside = ((pts[:, 0] >= 0) & (pts[:, 0] < w) & (pts[:, 1] >= 0) & (pts[:, 1] < h)).mean()
        if inside < 0.9:
            return None
        return pts, presence

    def __repr__(self) -> str:
        return f"FaceMesh({self.model_path}, iris={self._iris is not None})"


@functools.lru_cache(maxsize=1)
def load_template() -> np.ndarray:
    """The frontal, mirror-symmetric face template (468, 3) that the pose is measured
    against (``models/landmarks/face_template.npy``, built by tools/convert_facemesh.py)."""
    return np.load(model_dir() / TEMPLATE_FILE).astype(np.float64)


_default: FaceMesh | None = None
_default_lock = threading.Lock()


def default_face_mesh() -> FaceMesh:
    """One shared :class:`FaceMesh` (thread-safe, so one per process is enough), created on first
    use: by the attention option, or by the photo detector's second look at a weak detection."""
    global _default
    if _default is None:
        with _default_lock:  # sessions of the app may ask at once: load the models once
            if _default is None:
                _default = FaceMesh()
    return _default
