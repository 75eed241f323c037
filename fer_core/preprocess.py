"""The one preprocessing function shared by training, evaluation and live inference.

A face crop of any size and colour layout becomes a 48x48 uint8 grayscale image,
the FER2013 format. Scaling to the network's numeric range happens inside the
model itself (its first layer), so nothing else needs to agree on it.
"""
from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from fer_core.runtime import to_uint8

INPUT_SIZE = 48


def to_gray(image: np.ndarray, order: str = "bgr") -> np.ndarray:
    """Return a single-channel uint8 view of ``image``.

    Accepts (H, W), (H, W, 1), (H, W, 3) and (H, W, 4) arrays; ``order`` says
    whether colour images are BGR (OpenCV) or RGB (PIL, browsers). An alpha
    channel is composited over white so transparent margins don't turn black.
    Float images in [0, 1] are scaled to 0-255; 16-bit images are scaled down to 8 bits.
    """
    img = np.asarray(image)
    if img.size == 0:
        raise ValueError("empty image")
    img = to_uint8(img)  # 16-bit rescaled, not saturated at 255; floats in [0, 1] scaled up
    if img.ndim == 3 and img.shape[2] == 1:
        img = img[:, :, 0]
    if img.ndim == 2:
        return img
    if img.ndim != 3 or img.shape[2] not in (3, 4):
        raise ValueError(f"expected a gray, 3- or 4-channel image, got shape {img.shape}")
    if img.shape[2] == 4:
        alpha = img[:, :, 3:4].astype(np.float32) / 255.0
        rgb = img[:, :, :3].astype(np.float32) * alpha + 255.0 * (1.0 - alpha)
        img = rgb.astype(np.uint8)
    code = cv2.COLOR_BGR2GRAY if order == "bgr" else cv2.COLOR_RGB2GRAY
    return cv2.cvtColor(np.ascontiguousarray(img), code)


def preprocess_face(crop: np.ndarray, order: str = "bgr") -> np.ndarray:
    """Turn one face crop into model input: a (48, 48) uint8 grayscale image.

    Any size, gray/BGR/RGB/BGRA. Non-square crops are padded (edge replication)
    to a square around their centre first, so a face is never stretched. Larger crops are
    shrunk by area averaging, smaller ones enlarged bicubically.
    """
    gray = to_gray(crop, order)
    h, w = gray.shape
    if h != w:
        side = max(h, w)
        top, left = (side - h) // 2, (side - w) // 2
        gray = cv2.copyMakeBorder(
            gray, top, side - h - top, left, side - w - left, cv2.BORDER_REPLICATE
        )
    if gray.shape[0] != INPUT_SIZE:
        # Small crops are enlarged bicubically: sharper than bilinear, and measured on
        # PublicTest faces cut small it keeps more of the shipped model's accuracy (faces cut
        # at 16 / 20 / 24 px: 52.4% / 62.1% / 67.0% against 46.6% / 58.3% / 66.1% bilinear;
        # Lanczos was no better than bicubic).
        interp = cv2.INTER_AREA if gray.shape[0] > INPUT_SIZE else cv2.INTER_CUBIC
        gray = cv2.resize(gray, (INPUT_SIZE, INPUT_SIZE), interpolation=interp)
    return np.ascontiguousarray(gray, dtype=np.uint8)


#: Faces whose eye line is tilted by more than this (degrees) are not turned upright: BlazeFace's
#: eye points are unreliable that far from upright, and such faces are rare in front of a camera.
MAX_ROLL = 45.0

#: Tilt (degrees) left as it is when a face is turned upright: only the part beyond it is undone.
#: FER2013's faces are not levelled: the detector's eye line on 1,321 Training faces is tilted by
#: a median 4.9 deg, 9.7 at the 75th percentile, 16.8 at the 90th, and the model learnt them so.
#: Levelling those too moved nothing but noise (benchmarks/alignment.py, docs/DESIGN.md).
TILT_TOLERANCE = 10.0


def eye_roll(eyes: Sequence[Sequence[float]] | None) -> float:
    """The tilt of the line from the image-left eye to the other, in degrees, positive when the
    face is turned clockwise in the image (the right eye lower; image y points down); 0 for
    ``None`` or coincident points."""
    if eyes is None:
        return 0.0
    (x0, y0), (x1, y1) = eyes
    if abs(x1 - x0) + abs(y1 - y0) < 1e-6:
        return 0.0
    return float(np.degrees(np.arctan2(y1 - y0, x1 - x0)))


def crop_face(gray: np.ndarray, box: Sequence[float], scale: float = 1.0, shift: float = 0.0,
              eyes: Sequence[Sequence[float]] | None = None, tolerance: float = 0.0) -> np.ndarray:
    """Cut one face out of a whole gray image, upright, as a (48, 48) uint8 model input.

    The crop is a square ``scale`` times the box's longer side, centred on the box centre moved
    ``shift`` box heights down the face. With ``eyes`` (two (x, y) eye centres, image-left eye
    first) the square is turned with the face, so the eye line comes out level: a head tilted
    in the picture gives the same crop as the upright head (alignment; tilts beyond
    :data:`MAX_ROLL` degrees are left alone). ``tolerance`` (degrees): only the tilt beyond it
    is undone (the recognizer passes :data:`TILT_TOLERANCE`). Parts outside the image are filled by edge
    replication. Used for every face the recognizer analyses, live or not; FER2013's own
    faces are already upright 48x48 crops and go straight to :func:`preprocess_face`.
    """
    h, w = gray.shape[:2]
    x, y, bw, bh = (float(v) for v in box)
    side = max(int(round(max(bw, bh) * scale)), 2)
    roll = eye_roll(eyes)
    if abs(roll) > MAX_ROLL:
        roll = 0.0
    roll = float(np.sign(roll)) * max(abs(roll) - tolerance, 0.0)
    # The face's "down" direction in the image is (-sin, cos); the shift moves along it.
    t = np.radians(roll)
    cx = x + bw / 2.0 - float(np.sin(t)) * shift * bh
    cy = y + bh / 2.0 + float(np.cos(t)) * shift * bh
    if eyes is None:
        x0, y0 = int(round(cx - side / 2.0)), int(round(cy - side / 2.0))
        x1, y1 = x0 + side, y0 + side
        crop = gray[max(y0, 0):min(y1, h), max(x0, 0):min(x1, w)]
        pads = (max(-y0, 0), max(y1 - h, 0), max(-x0, 0), max(x1 - w, 0))
        if any(pads) and crop.size:
            crop = cv2.copyMakeBorder(crop, *pads, cv2.BORDER_REPLICATE)
        if crop.size == 0:
            crop = np.zeros((side, side), np.uint8)
        return preprocess_face(crop)
    return _warp_upright(gray, cx, cy, side, roll)


def _warp_upright(gray: np.ndarray, cx: float, cy: float, side: int, roll: float) -> np.ndarray:
    """The side x side square centred on (cx, cy) (pixel-edge coordinates) with its axes turned
    by ``roll`` degrees, as a 48x48 model input (``crop_face`` with eyes).

    Resampled so that an untilted face gives what the plain square gives: the square is turned
    at (about) its own resolution with bilinear sampling, then reduced by area averaging as
    :func:`preprocess_face` does (faces smaller than 48 px are sampled bicubically straight to
    48x48). Very large faces are first averaged down by a whole factor, keeping that last step
    at least a halving, so the cost stays small."""
    t = np.radians(roll)
    cos, sin = float(np.cos(t)), float(np.sin(t))
    h, w = gray.shape[:2]
    # Only the square's neighbourhood is read: its circumscribed circle plus a margin.
    r = side * 0.7072 + 2.0
    rx0, ry0 = max(int(np.floor(cx - r)), 0), max(int(np.floor(cy - r)), 0)
    rx1, ry1 = min(int(np.ceil(cx + r)), w), min(int(np.ceil(cy + r)), h)
    if rx1 <= rx0 or ry1 <= ry0:  # the square lies wholly outside the image
        return np.zeros((INPUT_SIZE, INPUT_SIZE), np.uint8)
    roi = gray[ry0:ry1, rx0:rx1]
    cx, cy = cx - rx0, cy - ry0
    fx = fy = 1.0
    shrink_by = int(side // (2 * INPUT_SIZE))
    if shrink_by >= 2:
        small = cv2.resize(roi, (max(1, round(roi.shape[1] / shrink_by)), max(1, round(roi.shape[0] / shrink_by))),
                           interpolation=cv2.INTER_AREA)
        fx, fy = small.shape[1] / roi.shape[1], small.shape[0] / roi.shape[0]
        roi = small
    out = INPUT_SIZE if side <= INPUT_SIZE else max(int(round(side * fx)), INPUT_SIZE)
    k = side / out  # image pixels per output pixel
    # Output pixel (u, v) reads the image at  centre + k * (du * right + dv * down),  du = u + 0.5 - out/2,
    # right = (cos, sin) being the eye line and down = (-sin, cos); in the (shrunk) ROI's pixel-centre
    # coordinates.
    c0 = 0.5 - out / 2.0
    m = np.empty((2, 3))
    m[0, 0], m[0, 1] = fx * k * cos, -fx * k * sin
    m[1, 0], m[1, 1] = fy * k * sin, fy * k * cos
    m[0, 2] = fx * cx - 0.5 + (m[0, 0] + m[0, 1]) * c0
    m[1, 2] = fy * cy - 0.5 + (m[1, 0] + m[1, 1]) * c0
    interp = cv2.INTER_CUBIC if side < INPUT_SIZE else cv2.INTER_LINEAR
    square = cv2.warpAffine(np.ascontiguousarray(roi), m, (out, out), flags=interp | cv2.WARP_INVERSE_MAP,
                            borderMode=cv2.BORDER_REPLICATE)
    return preprocess_face(square)


def preprocess_batch(faces: np.ndarray | Sequence[np.ndarray], order: str = "bgr") -> np.ndarray:
    """Stack crops (a list, or an (N,48,48) uint8 array) into an (N,48,48) uint8 batch."""
    if isinstance(faces, np.ndarray) and faces.ndim == 3 and faces.shape[1:] == (INPUT_SIZE, INPUT_SIZE):
        return np.ascontiguousarray(faces, dtype=np.uint8) if faces.dtype == np.uint8 else np.stack(
            [preprocess_face(f, order) for f in faces]
        )
    faces = list(faces)
    if not faces:
        return np.zeros((0, INPUT_SIZE, INPUT_SIZE), np.uint8)
    return np.stack([preprocess_face(f, order) for f in faces])


def smooth_batch(batch: np.ndarray, sigma: float, mask: np.ndarray | None = None) -> np.ndarray:
    """Gaussian low-pass (standard deviation ``sigma`` px, edges replicated) of each 48x48 face
    (only of the faces where ``mask`` is true, when given).

    Not part of :func:`preprocess_face`: it is a property of a trained model, stored in its
    card (``input_blur_sigma``) and applied by the recognizer. Training resamples every face
    (random zoom, rotation and shift with bilinear interpolation), which softens it, so a
    model sees sharper faces at test time than it ever saw in training; a matching blur,
    with sigma chosen on PublicTest by ``training.export``, removes that mismatch. Faces
    that were enlarged to 48x48 are soft already; the recognizer leaves them alone.
    """
    if sigma <= 0 or len(batch) == 0:
        return batch
    todo = np.ones(len(batch), bool) if mask is None else np.asarray(mask, bool)
    if not todo.any():
        return batch
    out = np.array(batch, copy=True)
    for i in np.flatnonzero(todo):
        out[i] = cv2.GaussianBlur(batch[i], (0, 0), sigma, borderType=cv2.BORDER_REPLICATE)
    return out
