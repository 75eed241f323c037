"""Low-level helpers shared by every model of fer_core (detector, expression model, face mesh):
ONNX Runtime session options, its telemetry switched off, and the normalisation of an input
image to BGR uint8.

A leaf module, so that the detector and the face mesh can both use it without importing each
other (the photo detector asks the face mesh about weak detections).
"""

from __future__ import annotations

import os
from collections.abc import MutableMapping
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import onnxruntime as ort

#: ONNX Runtime's switch for its own usage telemetry. Its official Linux builds (1.32 here) keep a
#: device ID and a queue of events in ``~/.cache/Microsoft/DeveloperTools/.onnxruntime`` and
#: upload them to Microsoft; the switch is read once, when onnxruntime is first imported.
ORT_TELEMETRY_ENV = "ORT_DISABLE_TELEMETRY"


def disable_ort_telemetry(env: MutableMapping[str, str] = os.environ) -> bool:
    """Switch ONNX Runtime's telemetry off for this process (and the processes it starts),
    unless ``ORT_DISABLE_TELEMETRY`` is already set in ``env`` (an operator's choice wins).
    Returns whether it switched it off.

    Call once, at a process's entry point, before onnxruntime is imported: the app writes
    nothing to disk and sends no usage data anywhere (docs/DEPLOY.md, "What the server stores").
    """
    if ORT_TELEMETRY_ENV in env:
        return False
    env[ORT_TELEMETRY_ENV] = "1"
    return True


def to_uint8(image: np.ndarray) -> np.ndarray:
    """``image`` as uint8, pixel values kept: 16-bit images scaled down (not saturated at 255),
    floats in [0, 1] scaled up to 0-255, other values clipped to 0-255, NaN read as 0. The
    detector and the expression model both read it, so they see the same picture."""
    img = np.asarray(image)
    if img.dtype == np.uint8:
        return img
    if img.dtype == np.uint16:  # 16-bit PNG/TIFF
        return ((img.astype(np.uint32) + 128) // 257).astype(np.uint8)
    if np.issubdtype(img.dtype, np.floating) and img.size and np.nanmax(img, initial=0.0) <= 1.0:
        img = img * 255.0
    return np.clip(np.nan_to_num(img), 0, 255).astype(np.uint8)


def as_bgr(image: np.ndarray) -> np.ndarray:
    """A (H, W, 3) uint8 BGR view or copy of ``image``.

    Accepts gray (H, W) / (H, W, 1), BGR and BGRA (alpha composited over white), of any
    number type (:func:`to_uint8`). Raises ValueError on other shapes.
    """
    import cv2

    img = np.asarray(image)
    if img.ndim not in (2, 3) or (img.ndim == 3 and img.shape[2] not in (1, 3, 4)):
        raise ValueError(f"expected a gray, BGR or BGRA image, got shape {img.shape}")
    img = to_uint8(img)
    if img.ndim == 3 and img.shape[2] == 1:
        img = img[:, :, 0]
    if img.size == 0:
        return np.zeros((img.shape[0], img.shape[1], 3), np.uint8)
    if img.ndim == 2:
        return cv2.cvtColor(img, cv2.COLOR_GRAY2BGR)
    if img.shape[2] == 4:
        alpha = img[:, :, 3:4].astype(np.float32) * (1.0 / 255.0)
        rgb = img[:, :, :3].astype(np.float32) * alpha + 255.0 * (1.0 - alpha)
        return (rgb + 0.5).astype(np.uint8)
    return img


def session_options(threads: int, arena: bool = True) -> ort.SessionOptions:
    """Single-stream CPU options for every ONNX Runtime session of fer_core (detector, expression
    model, face mesh). ``arena=False``: no memory arena and no memory pattern,
    so a run's activations go back to the C allocator when it ends (for rare, large inputs
    whose activations an arena would keep for the life of the process)."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.log_severity_level = 3
    if not arena:
        opts.enable_cpu_mem_arena = False
        opts.enable_mem_pattern = False
    return opts
