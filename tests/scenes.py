"""Real-face scenes shared by the tests and the benchmark scripts (built in memory, never saved)."""
from __future__ import annotations

import cv2
import numpy as np

#: The astronaut's face in scikit-image's 512x512 photo (x, y, w, h), checked by eye: x 170-275, y 60-185.
ASTRONAUT_FACE = (170, 60, 105, 125)


def iou(a, b) -> float:
    """Intersection over union of two (x, y, w, h) boxes."""
    iw = max(0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    ih = max(0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    inter = iw * ih
    return inter / float(a[2] * a[3] + b[2] * b[3] - inter)


def astronaut_bgr() -> np.ndarray:
    """scikit-image's astronaut photo (Eileen Collins, smiling), BGR uint8 512x512."""
    from skimage import data

    return cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR)


def no_face_bgr() -> np.ndarray:
    """A real photo with no human face (scikit-image's cat), BGR."""
    from skimage import data

    return cv2.cvtColor(data.chelsea(), cv2.COLOR_RGB2BGR)


def one_face_frame() -> np.ndarray:
    """640x480 frame: the astronaut photo scaled to the frame height, on a grey background."""
    img = cv2.resize(astronaut_bgr(), (480, 480), interpolation=cv2.INTER_AREA)
    frame = np.full((480, 640, 3), 90, np.uint8)
    frame[:, 80:560] = img
    return frame


def gallery_frame(rows: int = 5, cols: int = 5, width: int = 1280, height: int = 720) -> np.ndarray:
    """A video-call gallery: rows x cols tiles of a real face, varied by mirroring and brightness."""
    face = astronaut_bgr()[20:276, 110:366]  # head and shoulders
    th, tw = height // rows, width // cols
    side = min(th, tw)
    frame = np.zeros((height, width, 3), np.uint8)
    rng = np.random.default_rng(0)
    for r in range(rows):
        for c in range(cols):
            tile = cv2.resize(face, (side, side), interpolation=cv2.INTER_AREA)
            if (r + c) % 2:
                tile = tile[:, ::-1]
            tile = np.clip(tile.astype(np.float32) * rng.uniform(0.7, 1.2), 0, 255).astype(np.uint8)
            y0, x0 = r * th + (th - side) // 2, c * tw + (tw - side) // 2
            frame[y0:y0 + side, x0:x0 + side] = tile
    return frame


def astronaut_in_large_photo(width: int = 3000, height: int = 2000, at: tuple[int, int] = (1700, 800),
                             side: int = 1024) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """A photo over the 4-megapixel analysis size (so analysed downscaled): the astronaut photo
    scaled to ``side`` at ``at`` on grey, and where her face is in it (:data:`ASTRONAUT_FACE`
    scaled and moved)."""
    photo = np.full((height, width, 3), 120, np.uint8)
    photo[at[1]:at[1] + side, at[0]:at[0] + side] = cv2.resize(astronaut_bgr(), (side, side),
                                                                interpolation=cv2.INTER_CUBIC)
    k = side / 512
    x, y, w, h = ASTRONAUT_FACE
    return photo, (round(at[0] + x * k), round(at[1] + y * k), round(w * k), round(h * k))
