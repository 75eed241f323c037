"""Faces with known head pose and closed eyes, made from a real photo (in memory, never saved).

:func:`render_pose` renders the frontal face template (``models/landmarks/face_template.npy``)
turned to a known yaw, pitch and roll, textured with the astronaut photo: every mesh
triangle's pixels are warped from where that triangle lies in the photo to where the
turned template projects it (orthographic camera, far triangles first, back faces
dropped). The true pose of the rendered face is the one asked for, by construction, so
the estimator's error is measured against exact angles.

:func:`close_eyes` paints the astronaut's eyes shut: each eye opening is filled with skin
from just under it and a dark lash line is drawn along the lower lid.
Shared by tests/test_attention.py and benchmarks/pose_accuracy.py.
"""
from __future__ import annotations

import functools

import cv2
import numpy as np

from tests.scenes import astronaut_bgr


@functools.lru_cache(maxsize=1)
def astronaut_mesh():
    """The astronaut photo's mesh (with iris), from the shipped detector's box."""
    from fer_core.detect import load_detector
    from fer_core.landmarks import FaceMesh

    image = astronaut_bgr()
    box = load_detector("blazeface").detect(image)[0].box
    mesh = FaceMesh().landmarks(image, box)
    assert mesh is not None
    return mesh


@functools.lru_cache(maxsize=1)
def _triangles() -> np.ndarray:
    from scipy.spatial import Delaunay

    from fer_core.landmarks import load_template

    return Delaunay(load_template()[:, :2]).simplices


@functools.lru_cache(maxsize=1)
def _head_model() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The template with a head around it, its points in the photo, and its triangles.

    Rings of points outside the face (hair, ears, the sides of the head) on an ellipsoid
    1.2x the face's width, 1.45x its height and 1.1x its half-width deep, whose front meets
    the face's outline; their texture is the photo around the face (placed by the similarity
    that maps the template onto the photo's mesh). A rough head, not a scan: it only gives
    the renders the context a real head has (hair and ears that turn with the face).
    """
    from scipy.spatial import Delaunay

    from fer_core.attention import similarity_fit
    from fer_core.landmarks import load_template

    template = load_template()
    face = astronaut_mesh().points[:, :2].astype(np.float64)
    cx, cy = template[:, 0].mean(), template[:, 1].mean()
    a, b = 1.2 * np.ptp(template[:, 0]) / 2, 1.45 * np.ptp(template[:, 1]) / 2
    c = 1.1 * a
    outline = Delaunay(template[:, :2])
    edge = template[outline.convex_hull.ravel()]
    u_edge = np.hypot((edge[:, 0] - cx) / a, (edge[:, 1] - cy) / b)
    zc = float(np.mean(edge[:, 2] + c * np.sqrt(np.clip(1 - u_edge ** 2, 0, 1))))
    ring = []
    for u in (0.86, 0.92, 0.97, 0.995):
        for t in np.linspace(0, 2 * np.pi, 48, endpoint=False):
            ring.append((cx + u * a * np.cos(t), cy + u * b * np.sin(t), zc - c * np.sqrt(1 - u * u)))
    shell = np.array(ring)
    shell = shell[outline.find_simplex(shell[:, :2]) < 0]  # only outside the face
    model = np.vstack([template, shell])
    flat = np.zeros((len(template), 1))
    s, r, t0 = similarity_fit(np.hstack([template[:, :2], flat]), np.hstack([face, flat]))
    src = (s * np.hstack([model[:, :2], np.zeros((len(model), 1))]) @ r.T + t0)[:, :2]
    src[:len(template)] = face
    return model, src.astype(np.float32), Delaunay(model[:, :2]).simplices


def render_pose(yaw: float, pitch: float, roll: float, *, size: int = 320, face_px: float = 150.0,
                background: int = 110, head: bool = False) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """A (size, size, 3) BGR image of the template at the given angles (degrees, the
    conventions of fer_core.attention) and a face box around it (x, y, w, h).

    ``head``: render a rough head around the face too (:func:`_head_model`: hair and ears
    from the photo, turning with the face); by default only the face's mesh is drawn.
    """
    from fer_core.attention import rotation_matrix
    from fer_core.landmarks import load_template

    template = load_template()
    if head:
        model, src, tris = _head_model()
    else:
        model, src, tris = template, astronaut_mesh().points[:, :2].astype(np.float32), _triangles()
    photo = astronaut_bgr()
    q = model @ rotation_matrix(yaw, pitch, roll).T
    # Scale: the frontal template's width is face_px.
    k = face_px / float(np.ptp(template[:, 0]))
    dst = (q[:, :2] * k + size / 2.0).astype(np.float32)
    out = np.full((size, size, 3), background, np.uint8)
    order = np.argsort(-q[tris].mean(axis=1)[:, 2])  # far (large z) first
    for t in tris[order]:
        d = dst[t]
        area = (d[1, 0] - d[0, 0]) * (d[2, 1] - d[0, 1]) - (d[1, 1] - d[0, 1]) * (d[2, 0] - d[0, 0])
        s = src[t]
        area_src = (s[1, 0] - s[0, 0]) * (s[2, 1] - s[0, 1]) - (s[1, 1] - s[0, 1]) * (s[2, 0] - s[0, 0])
        if area * area_src <= 0:  # turned away from the camera
            continue
        x0, y0 = np.floor(d.min(axis=0)).astype(int)
        x1, y1 = np.ceil(d.max(axis=0)).astype(int) + 1
        x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, size), min(y1, size)
        if x1 <= x0 or y1 <= y0:
            continue
        m = cv2.getAffineTransform(s, d - np.array([x0, y0], np.float32))
        patch = cv2.warpAffine(photo, m, (x1 - x0, y1 - y0), flags=cv2.INTER_LINEAR,
                               borderMode=cv2.BORDER_REFLECT)
        mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
        cv2.fillConvexPoly(mask, np.round(d - [x0, y0]).astype(np.int32), 1)
        cv2.polylines(mask, [np.round(d - [x0, y0]).astype(np.int32)], True, 1)
        region = out[y0:y1, x0:x1]
        region[mask > 0] = patch[mask > 0]
    face = dst[:len(template)]
    lo, hi = face.min(axis=0), face.max(axis=0)
    # A detector-like box: the mesh runs from the forehead to the chin; detectors from the brows.
    w, h = hi - lo
    box = (int(lo[0] + 0.05 * w), int(lo[1] + 0.15 * h), int(0.9 * w), int(0.85 * h))
    return out, box


def close_eyes(image: np.ndarray | None = None, mesh=None) -> np.ndarray:
    """The astronaut photo (or ``image`` with its ``mesh``) with both eyes painted shut."""
    image = astronaut_bgr() if image is None else image
    mesh = astronaut_mesh() if mesh is None else mesh
    out = image.copy()
    for eye in (mesh.left, mesh.right):
        c = eye.contour[:, :2]
        lower, upper = c[:9], c[9:16]
        poly = np.concatenate([lower, upper[::-1]]).astype(np.float32)
        width = float(np.linalg.norm(lower[0] - lower[-1]))
        # Skin from under the lower lid: the colour of a band a quarter eye width below it.
        below = np.round(lower + [0, 0.25 * width]).astype(int)
        colour = np.median(out[np.clip(below[:, 1], 0, out.shape[0] - 1),
                               np.clip(below[:, 0], 0, out.shape[1] - 1)], axis=0)
        mask = np.zeros(out.shape[:2], np.uint8)
        cv2.fillPoly(mask, [np.round(poly).astype(np.int32)], 255)
        mask = cv2.dilate(mask, np.ones((3, 3), np.uint8), iterations=max(1, int(width / 12)))
        soft = cv2.GaussianBlur(mask, (0, 0), max(1.0, width / 15)).astype(np.float32)[..., None] / 255.0
        out = (out * (1 - soft) + colour * soft).astype(np.uint8)
        # A closed upper lid comes down onto the lower one, so the lash line follows the
        # lower lid's curve. (Drawn a quarter of the way up, a straighter line, before
        # 2026-12-05: the iris model then read the eyes 0.0 / 0.32 open; now 0.0 / 0.0.)
        line = lower
        cv2.polylines(out, [np.round(line).astype(np.int32)], False, (30, 25, 25),
                      max(2, int(round(width / 10))), cv2.LINE_AA)
    return out


def turning_head_frames(fps: int = 10, seconds: float = 4.0, width: int = 480, height: int = 360,
                        max_yaw: float = 40.0) -> list[np.ndarray]:
    """A face turning its head from -max_yaw to +max_yaw and back (yaw a sine over the clip),
    rendered on a grey frame: the true yaw of frame i is ``turning_head_yaw(i, fps, seconds, max_yaw)``."""
    frames = []
    for i in range(int(fps * seconds)):
        face, _ = render_pose(turning_head_yaw(i, fps, seconds, max_yaw), 0.0, 0.0, size=height)
        frame = np.full((height, width, 3), 110, np.uint8)
        x0 = (width - height) // 2
        frame[:, x0:x0 + height] = face
        frames.append(frame)
    return frames


def turning_head_yaw(i: int, fps: int, seconds: float, max_yaw: float) -> float:
    return float(max_yaw * np.sin(2 * np.pi * i / (fps * seconds)))
