"""Synthetic face-like images for tests and smoke runs (never for reported figures).

Each class gets a drawn cartoon face whose mouth, brows and eyes differ, so a small
model can tell the classes apart and a pipeline can be run end to end without
FER2013. The writers produce the two data layouts the loaders read: the Kaggle CSV
(``emotion,pixels,Usage``) and ``<root>/<class>/*.jpg`` folders.
"""
from __future__ import annotations

import gzip
from pathlib import Path

import cv2
import numpy as np

from fer_core.labels import LABELS, NUM_CLASSES


def _mouth(img, label: int, cx: int, cy: int, w: int, ink, thick: int) -> None:
    name = LABELS[label]
    if name == "Happy":  # smile: lower half of an ellipse
        cv2.ellipse(img, (cx, cy - w // 3), (w, w // 2), 0, 20, 160, ink, thick)
    elif name == "Sad":  # frown: upper half
        cv2.ellipse(img, (cx, cy + w // 3), (w, w // 2), 0, 200, 340, ink, thick)
    elif name == "Surprise":  # big open mouth
        cv2.ellipse(img, (cx, cy), (w // 2, int(w * 0.7)), 0, 0, 360, ink, -1)
    elif name == "Fear":  # small open mouth
        cv2.ellipse(img, (cx, cy), (w // 2, w // 4), 0, 0, 360, ink, -1)
    elif name == "Disgust":  # wavy line
        xs = np.linspace(cx - w, cx + w, 9)
        ys = cy + (w // 5) * np.sin(np.linspace(0, 3 * np.pi, 9))
        cv2.polylines(img, [np.stack([xs, ys], 1).astype(np.int32)], False, ink, thick)
    elif name == "Angry":  # tight line, pulled down at the corners
        pts = np.array([[cx - w, cy + w // 4], [cx - w // 2, cy], [cx + w // 2, cy], [cx + w, cy + w // 4]])
        cv2.polylines(img, [pts.astype(np.int32)], False, ink, thick)
    else:  # Neutral: straight line
        cv2.line(img, (cx - w, cy), (cx + w, cy), ink, thick)


def synthetic_face(label: int, rng: np.random.Generator, size: int | tuple[int, int] = 48,
                   color: bool = False) -> np.ndarray:
    """One drawn face of class ``label``: (H, W) uint8 gray or (H, W, 3) uint8 BGR.

    Head position, size, skin tone, background and noise are jittered by ``rng``.
    ``size`` is the side, or (height, width) for non-square images.
    """
    if not 0 <= label < NUM_CLASSES:
        raise ValueError(f"label {label} is not 0-{NUM_CLASSES - 1}")
    h, w = (size, size) if isinstance(size, int) else size
    s = 256  # draw at a fixed resolution, then resize
    bg = rng.integers(20, 90, 3)
    img = np.empty((s, s, 3), np.uint8)
    img[:] = bg
    skin = rng.integers(150, 235, 3)
    ink = tuple(int(v) for v in rng.integers(10, 60, 3))
    cx, cy = s // 2 + int(rng.integers(-10, 11)), s // 2 + int(rng.integers(-10, 11))
    ax, ay = int(s * rng.uniform(0.30, 0.36)), int(s * rng.uniform(0.40, 0.45))
    cv2.ellipse(img, (cx, cy), (ax, ay), 0, 0, 360, tuple(int(v) for v in skin), -1)
    name = LABELS[label]
    eye_r = ax // 6 if name in ("Surprise", "Fear") else ax // 9
    ex, ey = ax // 2, cy - ay // 4
    for sx in (-1, 1):
        cv2.circle(img, (cx + sx * ex, ey), eye_r, ink, -1)
        # Brows: slanted in towards the nose for Angry, raised for Surprise/Fear.
        inner, outer = (cx + sx * ex // 3, cx + sx * (ex + ax // 4))
        by = ey - ax // 4 - (ax // 8 if name in ("Surprise", "Fear") else 0)
        tilt = ax // 8 if name == "Angry" else (-ax // 10 if name == "Sad" else 0)
        cv2.line(img, (inner, by + tilt), (outer, by - tilt), ink, max(ax // 20, 2))
    _mouth(img, label, cx, cy + ay // 2, ax // 2, ink, max(ax // 18, 2))
    img = cv2.GaussianBlur(img, (5, 5), 0)
    noise = rng.normal(0, 6, img.shape)
    img = np.clip(img.astype(np.float32) + noise, 0, 255).astype(np.uint8)
    img = cv2.resize(img, (w, h), interpolation=cv2.INTER_AREA)
    return img if color else cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)


def write_fer_csv(path: str | Path, per_split: dict[str, int], seed: int = 0) -> list[tuple[int, str]]:
    """Write a FER2013-format CSV (``.gz`` compresses) with ``per_split[split]`` rows per split.

    Labels cycle through the seven classes. Returns ``(label, usage)`` per data row, in file order.
    """
    rng = np.random.default_rng(seed)
    rows, lines = [], ["emotion,pixels,Usage"]
    for usage, n in per_split.items():
        for i in range(n):
            label = i % NUM_CLASSES
            face = synthetic_face(label, rng)
            lines.append(f"{label},{' '.join(map(str, face.ravel()))},{usage}")
            rows.append((label, usage))
    data = ("\n".join(lines) + "\n").encode()
    path = Path(path)
    path.write_bytes(gzip.compress(data) if path.suffix == ".gz" else data)
    return rows


def write_face_folder(root: str | Path, per_class: dict[str, int], seed: int = 0,
                      size: tuple[int, int] = (64, 64)) -> Path:
    """Write ``root/<class>/NNN.jpg`` colour images, ``per_class[class_name]`` of each."""
    rng = np.random.default_rng(seed)
    root = Path(root)
    for name, n in per_class.items():
        label = LABELS.index(name)
        (root / name).mkdir(parents=True, exist_ok=True)
        for i in range(n):
            cv2.imwrite(str(root / name / f"{i:03d}.jpg"), synthetic_face(label, rng, size, color=True))
    return root
