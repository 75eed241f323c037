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


def webcam_gallery_frame(rows: int = 7, cols: int = 7, width: int = 1280, height: int = 720,
                         face_share: float = 0.35, gap: int = 3) -> tuple[np.ndarray, list[tuple[int, int, int, int]]]:
    """A video call's gallery as a shared screen arrives: rows x cols 16:9 tiles, each a webcam
    picture of the astronaut whose face is ``face_share`` of the tile's height (a student at a
    laptop: 0.3-0.45; :func:`gallery_frame` fills the tile with the face instead), with a dark
    name strip at its foot, mirrored and re-lit from tile to tile. Returns the frame and where
    each face is (:data:`ASTRONAUT_FACE` scaled and moved)."""
    photo = astronaut_bgr()
    gw, gh = width - gap * (cols + 1), height - gap * (rows + 1)
    tw = min(gw // cols, gh * 16 // (9 * rows))
    th = tw * 9 // 16
    x_off, y_off = (width - cols * tw - (cols - 1) * gap) // 2, (height - rows * th - (rows - 1) * gap) // 2
    k = face_share * th / ASTRONAUT_FACE[3]
    big = cv2.resize(photo, (round(512 * k), round(512 * k)), interpolation=cv2.INTER_AREA)
    fx, fy, fw, fh = (round(v * k) for v in ASTRONAUT_FACE)
    # The tile's window on the scaled photo: the face a little above the middle, as webcams frame it.
    wx, wy = fx + fw // 2 - tw // 2, fy + fh // 2 - int(0.45 * th)
    # A wall behind, where the photo ends.
    canvas = cv2.copyMakeBorder(big, th, th, tw, tw, cv2.BORDER_CONSTANT, value=(70, 90, 110))
    tile = canvas[wy + th:wy + 2 * th, wx + tw:wx + 2 * tw]
    face_in_tile = (fx - wx, fy - wy, fw, fh)
    frame = np.full((height, width, 3), 26, np.uint8)
    rng = np.random.default_rng(0)
    faces = []
    for r in range(rows):
        for c in range(cols):
            t = tile[:, ::-1] if (r + c) % 2 else tile
            t = np.clip(t.astype(np.float32) * rng.uniform(0.7, 1.2), 0, 255).astype(np.uint8)
            x0, y0 = x_off + c * (tw + gap), y_off + r * (th + gap)
            frame[y0:y0 + th, x0:x0 + tw] = t
            frame[y0 + th - th // 7:y0 + th, x0:x0 + tw // 2] = 30  # the name strip (no text: none is read)
            fx0 = tw - face_in_tile[0] - fw if (r + c) % 2 else face_in_tile[0]
            faces.append((x0 + fx0, y0 + face_in_tile[1], fw, fh))
    return frame, faces


def camera_frame(width: int = 1280, height: int = 720, face_share: float = 0.3, photo: np.ndarray | None = None,
                 face: tuple[int, int, int, int] | None = None, shift: tuple[float, float] = (0.0, 0.0),
                 seed: int = 0) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """A camera's picture of one person: ``photo`` (default: the astronaut) scaled so that its
    ``face`` box (default :data:`ASTRONAUT_FACE`) is ``face_share`` of the frame's height (a
    laptop at 50-80 cm: 0.25-0.4), centred but for ``shift`` (shares of the room left on either
    side, -1 to 1), in front of a blurred, blotchy wall. Returns the frame and the face's box."""
    if photo is None:
        photo, face = astronaut_bgr(), ASTRONAUT_FACE
    assert face is not None, "a photo needs its face box"
    x, y, w, h = face
    k = face_share * height / h
    big = cv2.resize(photo, (max(1, round(photo.shape[1] * k)), max(1, round(photo.shape[0] * k))),
                     interpolation=cv2.INTER_AREA if k < 1 else cv2.INTER_LINEAR)
    rng = np.random.default_rng(seed)
    wall = cv2.GaussianBlur(rng.integers(40, 200, (height // 8 + 1, width // 8 + 1, 3), dtype=np.uint8), (5, 5), 0)
    frame = cv2.resize(wall, (width, height), interpolation=cv2.INTER_LINEAR)
    fw, fh = w * k, h * k
    cx = width / 2 + shift[0] * max(0.0, width - fw) / 2
    cy = height / 2 + shift[1] * max(0.0, height - fh) / 2
    ox, oy = round(cx - (x + w / 2) * k), round(cy - (y + h / 2) * k)
    x0, y0 = max(0, ox), max(0, oy)
    x1, y1 = min(width, ox + big.shape[1]), min(height, oy + big.shape[0])
    frame[y0:y1, x0:x1] = big[y0 - oy:y1 - oy, x0 - ox:x1 - ox]
    return frame, (round(cx - fw / 2), round(cy - fh / 2), round(fw), round(fh))
