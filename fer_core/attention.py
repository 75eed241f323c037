"""Head pose, eye openness and gaze from a face mesh (:mod:`fer_core.landmarks`).

Conventions (image coordinates: x right, y down; angles in degrees):

* ``pose = (yaw, pitch, roll)``, 0 = facing the camera. Yaw is positive when the face
  turns toward the image's right side, pitch positive when it tilts up, roll positive
  when the head tilts clockwise in the image. The rotation is
  ``R = Rz(roll) @ Ry(-yaw) @ Rx(-pitch)`` (pitch first, then yaw, then an in-plane
  roll), fitted as the similarity transform from the frontal template
  (``models/landmarks/face_template.npy``) onto the mesh's 3-D points.
* ``eyes_open = (left, right)``: the eye on the image's left, then the one on its right.
  Each is the eye aspect ratio (EAR: the lid-to-lid distance at three points over the
  corner-to-corner distance, in 3-D) mapped linearly from ``EAR_CLOSED`` -> 0 to
  ``EAR_OPEN`` -> 1 and clipped to [0, 1].
* ``gaze = (x, y)``: the iris centre's offset from the middle of the eye, in half eye
  widths, mean of both eyes: x positive toward the image's right, y positive up. Roughly
  +-0.5 at the extremes.
* ``looking_at_camera``: the eyes are open and the line of sight, head pose plus the
  eye's turn in the head estimated from the gaze, is within ``LOOK_YAW`` / ``LOOK_PITCH``
  of the camera. See docs/ATTENTION.md for how the numbers were measured.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from fer_core.landmarks import LEFT_EYE_CORNERS, RIGHT_EYE_CORNERS, Mesh

#: EAR of a closed eye (openness 0) and of an ordinary open eye (openness 1). The iris model's
#: lids never meet: on the astronaut photo painted shut (tests/posed_faces.py) its EAR is
#: 0.16 / 0.18 against 0.37 open (0.18 / 0.23 with the lash line drawn higher, as at first);
#: see docs/ATTENTION.md.
EAR_CLOSED = 0.18
EAR_OPEN = 0.33
#: Openness under which an eye counts as closed (blinks, eyes shut); a face's eyes are
#: closed when both are under it. 0.2 from labelled real photos (``benchmarks/eyes_real.py``,
#: docs/ATTENTION.md "Eyes on real photos"): at 0.4, half of the faces called closed had an
#: eye open (squinting smiles, glasses, small faces).
CLOSED_BELOW = 0.2
#: Half eye width over eyeball radius: turns the iris offset into an eye rotation (asin).
GAZE_GAIN = 1.2
#: Weight of the mesh's depth (z) against x, y in the head-pose fit (see head_pose, docs/ATTENTION.md).
DEPTH_WEIGHT = 0.25
#: Largest angle between the line of sight and the camera that counts as looking at it.
LOOK_YAW = 20.0
LOOK_PITCH = 20.0

#: Mesh indices of the lids (upper, lower) at three points across each eye, and the corners.
_LID_PAIRS = {"left": ((160, 144), (159, 145), (158, 153)), "right": ((387, 373), (386, 374), (385, 380))}
#: The same lid points in the iris model's 16-point contour (lower lid 0-8, upper lid 9-15).
_CONTOUR_PAIRS = ((11, 3), (12, 4), (13, 5))


@dataclass(frozen=True)
class Attention:
    pose: tuple[float, float, float]
    eyes_open: tuple[float, float]
    gaze: tuple[float, float] | None
    looking_at_camera: bool


def similarity_fit(src: np.ndarray, dst: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """Scale s, rotation R (3x3, det +1) and shift t minimising ||s R src + t - dst||
    over corresponding rows (Umeyama 1991)."""
    mu_s, mu_d = src.mean(axis=0), dst.mean(axis=0)
    a, b = src - mu_s, dst - mu_d
    cov = b.T @ a / len(src)
    u, d, vt = np.linalg.svd(cov)
    s = np.ones(3)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        s[-1] = -1.0
    rot = u @ np.diag(s) @ vt
    var = (a ** 2).sum() / len(src)
    scale = float((d * s).sum() / var)
    return scale, rot, mu_d - scale * rot @ mu_s


def rotation_matrix(yaw: float, pitch: float, roll: float) -> np.ndarray:
    """The rotation (image axes x right, y down, z away from the camera) of a head at
    ``yaw``, ``pitch``, ``roll`` degrees, in this module's conventions."""
    a, b, r = math.radians(-yaw), math.radians(-pitch), math.radians(roll)
    rz = np.array([[math.cos(r), -math.sin(r), 0], [math.sin(r), math.cos(r), 0], [0, 0, 1]])
    ry = np.array([[math.cos(a), 0, math.sin(a)], [0, 1, 0], [-math.sin(a), 0, math.cos(a)]])
    rx = np.array([[1, 0, 0], [0, math.cos(b), -math.sin(b)], [0, math.sin(b), math.cos(b)]])
    return rz @ ry @ rx


def euler_angles(rot: np.ndarray) -> tuple[float, float, float]:
    """(yaw, pitch, roll) in degrees of a rotation built as :func:`rotation_matrix` does."""
    yaw = math.degrees(math.asin(max(-1.0, min(1.0, float(rot[2, 0])))))
    pitch = -math.degrees(math.atan2(float(rot[2, 1]), float(rot[2, 2])))
    roll = math.degrees(math.atan2(float(rot[1, 0]), float(rot[0, 0])))
    return yaw, pitch, roll


def head_pose(points: np.ndarray, template: np.ndarray | None = None, *, depth_weight: float = DEPTH_WEIGHT,
              iters: int = 8, tol: float = 1e-4) -> tuple[float, float, float]:
    """(yaw, pitch, roll) degrees of a mesh's (468, 3) points against the frontal template.

    A least-squares fit of the turned, scaled and shifted template onto the points, with
    the depth residuals weighted by ``depth_weight`` (the mesh's z is its least reliable
    output: 1 trusts it as much as x and y, 0 fits the image positions only). Gauss-Newton
    from the closed-form 3-D fit (Umeyama), until a step turns the head by less than
    ``tol`` radians (0.006 deg; 3-4 steps) or after ``iters`` steps.
    """
    if template is None:
        from fer_core.landmarks import load_template

        template = load_template()
    p = points.astype(np.float64)
    scale, rot, shift = similarity_fit(template, p)
    if depth_weight != 1.0:
        rot, scale, shift = _weighted_steps(template, p, rot, scale, shift, depth_weight, iters, tol)
    return euler_angles(rot)


def _weighted_steps(template: np.ndarray, p: np.ndarray, rot: np.ndarray, scale: float, shift: np.ndarray,
                    depth_weight: float, iters: int, tol: float) -> tuple[np.ndarray, float, np.ndarray]:
    """Gauss-Newton steps of :func:`head_pose`'s weighted fit.

    The residual of point i is ``W (s R T_i + t - p_i)``, W = diag(1, 1, depth_weight); a step
    updates R <- exp([omega]) R, s, t. Each coordinate's Jacobian row is linear in
    (q, 1) with q = R T_i, so the normal equations need only the moments of the template
    and of the points (sums over the 468 points, taken once), not a 1404 x 7 matrix.
    """
    n = len(template)
    w2 = depth_weight * depth_weight
    stt = template.T @ template  # sum T T^T
    st = template.sum(axis=0)
    stp = template.T @ p  # sum T p^T
    sp = p.sum(axis=0)
    for _ in range(iters):
        sqq = rot @ stt @ rot.T  # sum q q^T
        sq = rot @ st
        moments = np.empty((4, 4))
        moments[:3, :3], moments[:3, 3], moments[3, :3], moments[3, 3] = sqq, sq, sq, n
        cross = np.empty((4, 3))  # sum (q, 1) e^T, e = s q + t - p
        cross[:3] = scale * sqq + np.outer(sq, shift) - rot @ stp
        cross[3] = scale * sq + n * shift - sp
        # Jacobian rows of the x, y, z residuals as (q, 1) @ L: columns omega (3), s, t (3).
        lx, ly, lz = np.zeros((4, 7)), np.zeros((4, 7)), np.zeros((4, 7))
        lx[2, 1], lx[1, 2], lx[0, 3], lx[3, 4] = scale, -scale, 1.0, 1.0
        ly[2, 0], ly[0, 2], ly[1, 3], ly[3, 5] = -scale, scale, 1.0, 1.0
        lz[1, 0], lz[0, 1], lz[2, 3], lz[3, 6] = scale, -scale, 1.0, 1.0
        normal = lx.T @ moments @ lx + ly.T @ moments @ ly + w2 * (lz.T @ moments @ lz)
        grad = lx.T @ cross[:, 0] + ly.T @ cross[:, 1] + w2 * (lz.T @ cross[:, 2])
        dx = np.linalg.solve(normal + 1e-9 * np.eye(7), -grad)  # ridge: z shift free at weight 0
        omega = dx[:3]
        angle = float(np.linalg.norm(omega))
        if angle > 0:
            k = omega / angle
            kx = np.array([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]])
            rot = (np.eye(3) + math.sin(angle) * kx + (1 - math.cos(angle)) * kx @ kx) @ rot
        scale += float(dx[3])
        shift = shift + dx[4:7]
        if angle < tol:
            break
    return rot, scale, shift


def eye_aspect_ratio(mesh: Mesh, side: str) -> float:
    """EAR of one eye (``"left"`` or ``"right"`` of the image): the iris model's lid contour
    when there is one, else the mesh's points."""
    eye = mesh.left if side == "left" else mesh.right
    if eye is not None:
        c = eye.contour.astype(np.float64)
        lids = [np.linalg.norm(c[u] - c[lo]) for u, lo in _CONTOUR_PAIRS]
        width = np.linalg.norm(c[0] - c[8])
    else:
        p = mesh.points.astype(np.float64)
        corners = LEFT_EYE_CORNERS if side == "left" else RIGHT_EYE_CORNERS
        lids = [np.linalg.norm(p[u] - p[lo]) for u, lo in _LID_PAIRS[side]]
        width = np.linalg.norm(p[corners[0]] - p[corners[1]])
    return float(np.mean(lids) / max(width, 1e-6))


def openness(ear: float) -> float:
    """EAR mapped to [0, 1]: ``EAR_CLOSED`` and below -> 0, ``EAR_OPEN`` and above -> 1."""
    return float(min(1.0, max(0.0, (ear - EAR_CLOSED) / (EAR_OPEN - EAR_CLOSED))))


def gaze_offset(mesh: Mesh) -> tuple[float, float] | None:
    """The iris centres' offset in the eyes (see the module docstring), or None without iris."""
    if mesh.left is None or mesh.right is None:
        return None
    out = []
    for eye in (mesh.left, mesh.right):
        c = eye.contour[:, :2].astype(np.float64)
        # Corner on the image's left to the one on its right: contour 0 -> 8 for the left
        # eye (33 -> 133); the right eye's contour is mirrored (0 = 263, 8 = 362).
        a, b = (c[0], c[8]) if eye is mesh.left else (c[8], c[0])
        half = 0.5 * np.linalg.norm(b - a)
        if half < 1e-6:
            return None
        u = (b - a) / (2 * half)
        v = np.array([-u[1], u[0]])  # perpendicular, pointing down the image
        iris = eye.iris[0, :2].astype(np.float64)
        mid_x = 0.5 * (a + b)
        mid_y = 0.5 * (c[12] + c[4])  # lid middles
        out.append(((iris - mid_x) @ u / half, -((iris - mid_y) @ v) / half))
    gx, gy = np.mean(out, axis=0)
    return float(gx), float(gy)


def eye_turn(g: float) -> float:
    """Degrees the eye is turned in the head for a gaze offset ``g`` (half eye widths)."""
    return math.degrees(math.asin(max(-1.0, min(1.0, GAZE_GAIN * g))))


def looking_at(pose: tuple[float, float, float], gaze: tuple[float, float] | None,
               eyes_open: tuple[float, float], *, max_yaw: float = LOOK_YAW,
               max_pitch: float = LOOK_PITCH) -> bool:
    """True when the eyes are open and the line of sight (head + eyes) points at the camera."""
    if max(eyes_open) < CLOSED_BELOW:
        return False
    yaw, pitch = pose[0], pose[1]
    if gaze is not None:
        yaw += eye_turn(gaze[0])
        pitch += eye_turn(gaze[1])
    return abs(yaw) <= max_yaw and abs(pitch) <= max_pitch


def measure_pose(mesh: Mesh, template: np.ndarray | None = None) -> tuple[float, float, float]:
    """:func:`head_pose` of one face mesh, rounded to 0.01 deg (as :class:`Attention` carries it)."""
    yaw, pitch, roll = head_pose(mesh.points, template)
    return round(yaw, 2), round(pitch, 2), round(roll, 2)


def attention(mesh: Mesh, template: np.ndarray | None = None) -> Attention:
    """Pose, eye openness, gaze and looking-at-camera of one face mesh."""
    pose = head_pose(mesh.points, template)
    eyes = (openness(eye_aspect_ratio(mesh, "left")), openness(eye_aspect_ratio(mesh, "right")))
    gaze = gaze_offset(mesh)
    return Attention(pose=(round(pose[0], 2), round(pose[1], 2), round(pose[2], 2)),
                     eyes_open=(round(eyes[0], 3), round(eyes[1], 3)),
                     gaze=None if gaze is None else (round(gaze[0], 3), round(gaze[1], 3)),
                     looking_at_camera=looking_at(pose, gaze, eyes))
