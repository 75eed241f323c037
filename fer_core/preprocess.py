"""The one preprocessing function shared by training, evaluation and live inference.

A face crop of any size and colour layout becomes a 48x48 uint8 grayscale image,
the FER2013 format. Scaling to the network's numeric range happens inside the
model itself (its first layer), so nothing else needs to agree on it.
"""
from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

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
    if img.dtype == np.uint16:  # 16-bit PNG/TIFF: rescale, don't saturate at 255
        img = ((img.astype(np.uint32) + 128) // 257).astype(np.uint8)
    if img.dtype != np.uint8:
        if np.issubdtype(img.dtype, np.floating) and img.max(initial=0.0) <= 1.0:
            img = img * 255.0
        img = np.clip(img, 0, 255).astype(np.uint8)
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
