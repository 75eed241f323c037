"""Drawing results onto images with OpenCV: a box, the label and a confidence bar per face."""
from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, TypeAlias

import cv2
import numpy as np

from fer_core.labels import LABELS

if TYPE_CHECKING:
    from fer_core.recognizer import FaceResult
    from fer_core.tracking import TrackedFace

    #: What the drawing and table functions take: a detection, or a tracked and smoothed one.
    Face: TypeAlias = FaceResult | TrackedFace

#: One BGR colour per expression (colour-blind-friendly Okabe-Ito palette).
LABEL_COLORS_BGR: dict[str, tuple[int, int, int]] = {
    "Angry": (0, 94, 213),       # vermillion
    "Disgust": (115, 158, 0),    # bluish green
    "Fear": (167, 121, 204),     # reddish purple
    "Happy": (66, 228, 240),     # yellow
    "Sad": (178, 114, 0),        # blue
    "Surprise": (0, 159, 230),   # orange
    "Neutral": (200, 200, 200),  # grey
}
#: The same colours as CSS hex strings, for charts.
LABEL_COLORS_HEX: dict[str, str] = {k: f"#{b[2]:02x}{b[1]:02x}{b[0]:02x}" for k, b in LABEL_COLORS_BGR.items()}
_FONT = cv2.FONT_HERSHEY_SIMPLEX


def face_caption(face: Face) -> str:
    """``"#3 Happy 87%"``: id (when tracked), label and confidence."""
    fid = getattr(face, "face_id", None)
    prefix = f"#{fid} " if fid is not None else ""
    return f"{prefix}{face.label} {face.confidence:.0%}"


def annotate(image_bgr: np.ndarray, faces: Sequence[Face], *, copy: bool = True) -> np.ndarray:
    """Draw every face: its box, a caption (id, label, confidence) and a confidence bar.

    ``faces``: objects with ``box`` (x, y, w, h), ``label`` and ``confidence``, and
    optionally ``face_id`` (``FaceResult`` or ``TrackedFace``). Returns the image
    (a copy unless ``copy=False``). Sizes scale with each box so small faces in a
    gallery view stay readable.
    """
    img = np.array(image_bgr, copy=True) if copy else image_bgr
    if img.ndim == 2:
        img = cv2.cvtColor(img, cv2.COLOR_GRAY2BGR)
    h, w = img.shape[:2]
    for face in faces:
        x, y, bw, bh = (int(v) for v in face.box)
        color = LABEL_COLORS_BGR.get(face.label, (255, 255, 255))
        thick = max(1, round(min(bw, bh) / 60))
        cv2.rectangle(img, (x, y), (x + bw, y + bh), color, thick)

        text = face_caption(face)
        scale = float(np.clip(bw / 180.0, 0.35, 0.9))
        tthick = 1 if scale < 0.6 else 2
        (tw, th), base = cv2.getTextSize(text, _FONT, scale, tthick)
        bar_h = max(3, int(th * 0.45))
        block_h = th + base + bar_h + 6
        # Caption above the box, or inside its top when there is no room.
        top = y - block_h if y - block_h >= 0 else y
        left = int(np.clip(x, 0, max(w - tw - 4, 0)))
        cv2.rectangle(img, (left, top), (left + tw + 4, top + block_h), (0, 0, 0), -1)
        cv2.putText(img, text, (left + 2, top + th + 2), _FONT, scale, color, tthick, cv2.LINE_AA)
        # Confidence bar: full width = 100 %.
        by = top + th + base + 3
        cv2.rectangle(img, (left + 2, by), (left + 2 + tw, by + bar_h), (80, 80, 80), -1)
        fill = int(round(tw * float(np.clip(face.confidence, 0.0, 1.0))))
        if fill > 0:
            cv2.rectangle(img, (left + 2, by), (left + 2 + fill, by + bar_h), color, -1)
    return img


def draw_status(image_bgr: np.ndarray, text: str) -> np.ndarray:
    """Write a one-line status (e.g. the frame rate) in the top-left corner, in place."""
    scale = float(np.clip(image_bgr.shape[1] / 1100.0, 0.4, 0.8))
    (tw, th), base = cv2.getTextSize(text, _FONT, scale, 1)
    cv2.rectangle(image_bgr, (0, 0), (tw + 8, th + base + 8), (0, 0, 0), -1)
    cv2.putText(image_bgr, text, (4, th + 4), _FONT, scale, (255, 255, 255), 1, cv2.LINE_AA)
    return image_bgr


def results_table(faces: Sequence[Face]) -> list[dict]:
    """One flat dict per face (for tables, CSV and JSON): id, label, confidence, box, 7 probabilities."""
    rows = []
    for i, face in enumerate(faces, 1):
        x, y, bw, bh = (int(v) for v in face.box)
        fid = getattr(face, "face_id", None)
        row = {"face": int(fid if fid is not None else i), "label": face.label,
               "confidence": round(float(face.confidence), 4), "x": x, "y": y, "w": bw, "h": bh}
        row.update({lab: round(float(p), 4) for lab, p in zip(LABELS, face.probabilities)})
        rows.append(row)
    return rows
