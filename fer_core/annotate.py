"""Drawing results onto images with OpenCV: a box, the label and a confidence bar per face."""
from __future__ import annotations

import dataclasses
import math
import unicodedata
from collections.abc import Sequence
from typing import TYPE_CHECKING, TypeAlias

import cv2
import numpy as np

from fer_core.labels import LABELS

if TYPE_CHECKING:
    from fer_core.recognizer import FaceResult
    from fer_core.review import LoggedFace
    from fer_core.tracking import TrackedFace

    #: What the drawing and table functions take: a detection, a tracked and smoothed one, or one
    #: read back from a session log.
    Face: TypeAlias = FaceResult | TrackedFace | LoggedFace

#: One BGR colour per expression (colour-blind-friendly Okabe-Ito palette). Neutral is a mid grey:
#: the light grey it was (200) printed in black and white as Happy's yellow did (a grey 5 L* apart);
#: Fear's pink a shade bluer than Okabe-Ito's (204, 121, 167), which a deuteranope took for that grey.
LABEL_COLORS_BGR: dict[str, tuple[int, int, int]] = {
    "Angry": (0, 94, 213),       # vermillion
    "Disgust": (115, 158, 0),    # bluish green
    "Fear": (175, 125, 195),     # reddish purple
    "Happy": (66, 228, 240),     # yellow
    "Sad": (178, 114, 0),        # blue
    "Surprise": (0, 159, 230),   # orange
    "Neutral": (170, 170, 170),  # grey
}
#: The same colours as CSS hex strings, for charts.
LABEL_COLORS_HEX: dict[str, str] = {k: f"#{b[2]:02x}{b[1]:02x}{b[0]:02x}" for k, b in LABEL_COLORS_BGR.items()}
_FONT = cv2.FONT_HERSHEY_SIMPLEX


def face_caption(face: Face, number: int | None = None) -> str:
    """``"#3 Happy 87%"``: id (when tracked, else ``number`` when given), label and confidence."""
    fid = getattr(face, "face_id", None)
    fid = number if fid is None else fid
    prefix = f"#{fid} " if fid is not None else ""
    return f"{prefix}{face.label} {face.confidence:.0%}"


def annotate(image_bgr: np.ndarray, faces: Sequence[Face], *, copy: bool = True,
             numbered: bool = False) -> np.ndarray:
    """Draw every face: its box, a caption (id, label, confidence) and a confidence bar.

    ``faces``: objects with ``box`` (x, y, w, h), ``label`` and ``confidence``, and
    optionally ``face_id`` (``FaceResult`` or ``TrackedFace``). ``numbered``: a face without an id
    is captioned with its place in ``faces`` from 1 ("#2 Happy 87%"), the number that
    :func:`results_table` gives it, so that a photo's picture and its table and chart name the
    same face alike. Returns the image
    (a copy unless ``copy=False``), BGR: gray and BGRA images come back as BGR (a new
    array whatever ``copy``). Sizes scale with each box so small faces in a gallery view stay
    readable.
    """
    img = np.array(image_bgr, copy=True) if copy else image_bgr
    if img.ndim == 2:
        img = cv2.cvtColor(img, cv2.COLOR_GRAY2BGR)
    elif img.ndim == 3 and img.shape[2] == 4:  # BGRA: the drawing opaque (3-value colours left alpha 0)
        img = cv2.cvtColor(img, cv2.COLOR_BGRA2BGR)
    h, w = img.shape[:2]
    for number, face in enumerate(faces, 1):
        # Boxes from an edited or damaged log can lie far outside the image (a width of 3e9):
        # OpenCV takes 32-bit coordinates, so they are cut to the image and a margin first.
        x0, y0, x1, y1 = (min(max(int(v), -lim), 2 * lim) for v, lim in zip(
            (face.box[0], face.box[1], face.box[0] + face.box[2], face.box[1] + face.box[3]), (w, h, w, h)))
        x, y, bw, bh = x0, y0, x1 - x0, y1 - y0
        color = LABEL_COLORS_BGR.get(face.label, (255, 255, 255))
        thick = max(1, round(min(bw, bh) / 60))
        cv2.rectangle(img, (x, y), (x + bw, y + bh), color, thick)

        text = face_caption(face, number if numbered else None)
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
        if getattr(face, "pose", None) is not None:
            draw_attention(img, face)
    return img


#: A picture whose longer side is under this many pixels is drawn on an enlarged copy
#: (:func:`enlarged_for_drawing`).
MIN_DRAWN_SIDE = 480


def enlarged_for_drawing(image_bgr: np.ndarray, faces: Sequence[Face], min_side: int = MIN_DRAWN_SIDE
                         ) -> tuple[np.ndarray, list[Face], int]:
    """``image_bgr`` enlarged a whole number of times until its longer side reaches ``min_side``,
    ``faces`` with their boxes moved along, and that factor (1: both as they were). A picture's
    captions are sized for faces of 60 pixels or more: drawn on a 40 x 40 photo, the caption
    ("Sad 46%", 49 pixels at the smallest type) ran off its edge and covered the face, and the
    page then stretched that to a column's width. Faces are dataclasses (``FaceResult``, ...)."""
    h, w = image_bgr.shape[:2]
    factor = math.ceil(min_side / max(h, w, 1)) if max(h, w) < min_side else 1
    if factor == 1:
        return image_bgr, list(faces), 1
    big = cv2.resize(image_bgr, (w * factor, h * factor), interpolation=cv2.INTER_CUBIC)
    moved = []
    for f in faces:
        x, y, bw, bh = (int(v) * factor for v in f.box)
        moved.append(dataclasses.replace(f, box=(x, y, bw, bh)))
    return big, moved, factor


def draw_attention(img: np.ndarray, face: Face) -> None:
    """A head-pose axis from the box centre (x red, y green, the facing direction blue, as
    the head is turned) and, when both eyes are closed, an "eyes closed" marker under the box;
    in place. The axis is drawn yellow-framed when the face looks at the camera."""
    from fer_core.attention import CLOSED_BELOW, rotation_matrix

    x, y, bw, bh = (int(v) for v in face.box)
    yaw, pitch, roll = face.pose  # type: ignore[misc]
    rot = rotation_matrix(yaw, pitch, roll)
    centre = np.array([x + bw / 2.0, y + bh / 2.0])
    length = 0.4 * min(bw, bh)
    thick = max(1, round(min(bw, bh) / 70))
    # Columns of the rotation are the head's axes in image coordinates; the face looks along -z.
    for axis, colour in ((rot[:, 0], (0, 0, 255)), (-rot[:, 1], (0, 200, 0)), (-rot[:, 2], (255, 120, 0))):
        end = centre + length * axis[:2]
        cv2.arrowedLine(img, tuple(int(v) for v in centre), tuple(int(v) for v in end), colour, thick,
                        cv2.LINE_AA, tipLength=0.2)
    if getattr(face, "looking_at_camera", None):
        cv2.circle(img, tuple(int(v) for v in centre), max(3, int(length / 6)), (0, 220, 255), thick, cv2.LINE_AA)
    eyes = getattr(face, "eyes_open", None)
    if eyes is not None and max(eyes) < CLOSED_BELOW:
        scale = float(np.clip(bw / 250.0, 0.35, 0.7))
        text = "eyes closed"
        (tw, th), base = cv2.getTextSize(text, _FONT, scale, 1)
        ty = min(y + bh + th + 4, img.shape[0] - base - 1)
        cv2.rectangle(img, (x, ty - th - 3), (x + tw + 4, ty + base), (0, 0, 0), -1)
        cv2.putText(img, text, (x + 2, ty), _FONT, scale, (0, 220, 255), 1, cv2.LINE_AA)


def pixelate(image_bgr: np.ndarray, boxes: Sequence[tuple[int, int, int, int]], *, grow: float = 0.25,
             blocks: int = 8) -> np.ndarray:
    """Each box, enlarged by ``grow`` of its size on every side (hair, ears, chin), replaced by
    ``blocks`` x ``blocks`` flat squares, for sharing: the face is hard to recognise, while the
    expression label drawn over it stays readable. In place; returns the image."""
    h, w = image_bgr.shape[:2]
    for x, y, bw, bh in boxes:
        x0, y0 = max(0, int(x - grow * bw)), max(0, int(y - grow * bh))
        x1, y1 = min(w, int(math.ceil(x + bw * (1 + grow)))), min(h, int(math.ceil(y + bh * (1 + grow))))
        if x1 - x0 < 2 or y1 - y0 < 2:
            continue
        region = image_bgr[y0:y1, x0:x1]
        small = cv2.resize(region, (min(blocks, x1 - x0), min(blocks, y1 - y0)), interpolation=cv2.INTER_AREA)
        image_bgr[y0:y1, x0:x1] = cv2.resize(small, (x1 - x0, y1 - y0), interpolation=cv2.INTER_NEAREST)
    return image_bgr


def boxes_to_pixelate(image_bgr: np.ndarray, faces: Sequence[Face], detector: object = None
                      ) -> list[tuple[int, int, int, int]]:
    """What to pixelate for sharing: every face's box and, when ``detector`` (the one that found
    the faces) gives its weak detections a second look (``BlazeFaceDetector(face_check=True)``),
    also every box that look set aside. Pixelating a galaxy costs nothing; leaving visible a real
    face that the face mesh doubted (a profile, a face upside down: about 1 in 800) would not.
    Runs the detector once more, without the check."""
    from fer_core.detect import BlazeFaceDetector

    boxes = [(int(x), int(y), int(w), int(h)) for x, y, w, h in (f.box for f in faces)]
    if isinstance(detector, BlazeFaceDetector) and detector.face_check:
        found = set(boxes)
        boxes += [d.box for d in detector.detect(image_bgr, face_check=False) if d.box not in found]
    return boxes


#: Latin letters that Unicode does not decompose into a base letter and an accent.
_LATIN_LETTERS = str.maketrans({"ß": "ss", "æ": "ae", "Æ": "AE", "ø": "o", "Ø": "O", "œ": "oe", "Œ": "OE",
                                "ł": "l", "Ł": "L", "đ": "d", "Đ": "D", "ð": "d", "Ð": "D", "þ": "th", "Þ": "Th"})


def drawable(text: str) -> str:
    """``text`` in the ASCII that OpenCV's fonts draw: letters without their accents ("début" ->
    "debut"), a "?" for a character with no ASCII form ("中文" -> "??"). OpenCV drew a "?" for each
    UTF-8 byte instead: a moment named "début" read "d??but" on the annotated video."""
    out = []
    for ch in text.translate(_LATIN_LETTERS):
        if ch.isascii():
            out.append(ch)
            continue
        base = "".join(c for c in unicodedata.normalize("NFKD", ch) if c.isascii())
        out.append(base or "?")
    return "".join(out)


def draw_status(image_bgr: np.ndarray, text: str) -> np.ndarray:
    """Write a one-line status (e.g. the frame rate, or a named moment) in the top-left corner,
    in place (non-ASCII text as :func:`drawable` gives it)."""
    text = drawable(text)
    scale = float(np.clip(image_bgr.shape[1] / 1100.0, 0.4, 0.8))
    (tw, th), base = cv2.getTextSize(text, _FONT, scale, 1)
    cv2.rectangle(image_bgr, (0, 0), (tw + 8, th + base + 8), (0, 0, 0), -1)
    cv2.putText(image_bgr, text, (4, th + 4), _FONT, scale, (255, 255, 255), 1, cv2.LINE_AA)
    return image_bgr


def attention_columns(face: Face) -> dict:
    """yaw, pitch, roll, eye_left, eye_right, gaze_x, gaze_y, looking_at_camera of a face
    whose attention was measured (``{}`` when it was not; a hint when it could not be)."""
    if getattr(face, "pose", None) is None:
        hint = getattr(face, "attention_hint", None)
        return {"attention_hint": hint} if hint else {}
    yaw, pitch, roll = face.pose  # type: ignore[misc]
    row: dict = {"yaw": round(yaw, 1), "pitch": round(pitch, 1), "roll": round(roll, 1)}
    eyes = face.eyes_open
    if eyes is not None:
        row.update(eye_left=round(eyes[0], 2), eye_right=round(eyes[1], 2))
    gaze = face.gaze
    if gaze is not None:
        row.update(gaze_x=round(gaze[0], 2), gaze_y=round(gaze[1], 2))
    row["looking_at_camera"] = face.looking_at_camera
    return row


def results_table(faces: Sequence[Face]) -> list[dict]:
    """One flat dict per face (for tables, CSV and JSON): id, label, confidence, box, 7 probabilities,
    and the attention columns when measured (:func:`attention_columns`)."""
    rows = []
    for i, face in enumerate(faces, 1):
        x, y, bw, bh = (int(v) for v in face.box)
        fid = getattr(face, "face_id", None)
        row = {"face": int(fid if fid is not None else i), "label": face.label,
               "confidence": round(float(face.confidence), 4), "x": x, "y": y, "w": bw, "h": bh}
        row.update({lab: round(float(p), 4) for lab, p in zip(LABELS, face.probabilities)})
        row.update(attention_columns(face))
        rows.append(row)
    return rows
