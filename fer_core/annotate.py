"""Drawing results onto images with OpenCV: a box, the label and a confidence bar per face."""
from __future__ import annotations

import dataclasses
import math
import unicodedata
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, NamedTuple, TypeAlias

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


#: A rectangle as (x0, y0, x1, y1), the far corner excluded.
_Rect: TypeAlias = tuple[int, int, int, int]
#: The smallest type a caption is shrunk to where its face's neighbours leave no room for it
#: (cap height 7 pixels: "#12 Surprise 99%" 86 pixels wide); one face alone keeps its size.
_TIGHT_SCALE = 0.3
#: What a caption's place costs per pixel it covers: another caption or an "eyes closed" marker
#: more than another face's box.
_ON_CAPTION, _ON_FACE = 10, 1


class _Caption(NamedTuple):
    """A caption's text, type and size (its black block: the text, then the confidence bar) and
    its block's top-left corner."""
    text: str
    scale: float
    thick: int
    tw: int
    th: int
    base: int
    bar_h: int
    width: int
    height: int
    left: int = 0
    top: int = 0

    @property
    def rect(self) -> _Rect:
        return self.left, self.top, self.left + self.width, self.top + self.height


def _sized(text: str, scale: float) -> _Caption:
    thick = 1 if scale < 0.6 else 2
    (tw, th), base = cv2.getTextSize(text, _FONT, scale, thick)
    bar_h = max(3, int(th * 0.45))
    return _Caption(text, scale, thick, tw, th, base, bar_h, tw + 4, th + base + bar_h + 6)


def _places(box: _Rect, cap: _Caption, w: int, h: int) -> tuple[list[_Rect], list[_Rect]]:
    """Where ``cap`` may go within the picture, best first: out of the box (above it, below it),
    and in it (inside its top, its bottom); each at the box's left edge, its right edge, then
    centred."""
    x0, y0, x1, y1 = box
    cw, ch = cap.width, cap.height
    right = max(w - cw, 0)
    lefts = list(dict.fromkeys(min(max(v, 0), right) for v in (x0, x1 - cw, (x0 + x1 - cw) // 2)))
    out = [t for t in (y0 - ch, y1) if 0 <= t <= h - ch]
    inside = [t for t in dict.fromkeys((max(y0, 0), y1 - ch)) if 0 <= t <= h - ch]
    if not out and not inside:  # a picture lower than the caption: at its top, as high as it goes
        inside = [min(max(y0, 0), max(h - ch, 0))]
    return ([(left, top, left + cw, top + ch) for top in out for left in lefts],
            [(left, top, left + cw, top + ch) for top in inside for left in lefts])


def _candidates(box: _Rect, cap: _Caption, crowded: bool, w: int, h: int) -> Iterator[tuple[_Caption, _Rect]]:
    """A caption's candidate sizes and places, best first: out of the box in its own type, then
    (``crowded``: other faces near) in smaller type, as wide as the box; then inside the box's top
    or bottom (over its own forehead or chin) in those; then, crowded, anywhere in the smallest
    type (:data:`_TIGHT_SCALE`). Each size is measured when it is first needed."""
    left, top = min(max(box[0], 0), max(w - cap.width, 0)), box[1] - cap.height
    if 0 <= top <= h - cap.height:  # the usual place, before the others are worked out
        yield cap, (left, top, left + cap.width, box[1])
    out, inside = _places(box, cap, w, h)
    for rect in out[1:] if 0 <= top <= h - cap.height else out:
        yield cap, rect
    tight = None
    if crowded:
        scale = max(_TIGHT_SCALE, min(0.8 * cap.scale, cap.scale * (box[2] - box[0] - 4) / max(cap.tw, 1)))
        if scale < cap.scale:
            tight = _sized(cap.text, scale)
            tight_places = _places(box, tight, w, h)
            for rect in tight_places[0]:
                yield tight, rect
    for rect in inside:
        yield cap, rect
    if tight is not None:
        for rect in tight_places[1]:
            yield tight, rect
    if crowded and (tight.scale if tight is not None else cap.scale) > _TIGHT_SCALE:
        small = _sized(cap.text, _TIGHT_SCALE)
        small_out, small_in = _places(box, small, w, h)
        for rect in small_out + small_in:
            yield small, rect


def _place_captions(texts: Sequence[str], boxes: Sequence[_Rect], marks: Sequence[_Rect | None],
                    w: int, h: int) -> list[_Caption]:
    """Each face's caption, sized by its box and placed, face after face, at the first place that
    covers no other caption, "eyes closed" mark (``marks``) nor face (:func:`_candidates`: above
    its box, below it, the same in smaller type, inside its box's top or bottom, ...); where none
    is free, the place that covers least (:data:`_ON_CAPTION`). On a group photo of six faces side
    by side the captions, each wider than its face and all above the faces, covered each other
    and the faces in the row above. A face with room above it is captioned there, as it always
    was, and a face with no other near keeps its type size."""
    n = len(boxes)
    first = [_sized(t, min(max((b[2] - b[0]) / 180.0, 0.35), 0.9)) for t, b in zip(texts, boxes)]
    # A caption lies within its box grown by its size: only faces whose grown boxes meet matter.
    mw, mh = max((c.width for c in first), default=0), max((c.height for c in first), default=0)
    if n <= 8:
        neighbours = [[j for j, b in enumerate(boxes) if j != i and a[0] - 2 * mw < b[2] and b[0] < a[2] + 2 * mw
                       and a[1] - 2 * mh < b[3] and b[1] < a[3] + 2 * mh] for i, a in enumerate(boxes)]
    else:
        g = np.asarray(boxes, np.int64) + np.array([-mw, -mh, mw, mh])
        near = ((g[:, None, 0] < g[None, :, 2]) & (g[None, :, 0] < g[:, None, 2])
                & (g[:, None, 1] < g[None, :, 3]) & (g[None, :, 1] < g[:, None, 3]))
        np.fill_diagonal(near, False)
        neighbours = [np.flatnonzero(row).tolist() for row in near]
    placed: list[_Rect | None] = [None] * n
    out = []
    for i, box in enumerate(boxes):
        obstacles = [(_ON_FACE, boxes[j]) for j in neighbours[i]]
        obstacles += [(_ON_CAPTION, r) for j in neighbours[i] for r in (placed[j], marks[j]) if r is not None]
        own_mark = marks[i]
        if own_mark is not None:
            obstacles.append((_ON_CAPTION, own_mark))
        best: tuple[int, _Caption, _Rect] | None = None
        for cap, rect in _candidates(box, first[i], bool(neighbours[i]), w, h):
            covered = 0
            x0, y0, x1, y1 = rect
            for weight, (a0, b0, a1, b1) in obstacles:
                if a0 < x1 and x0 < a1 and b0 < y1 and y0 < b1:  # they meet: add the area they share
                    covered += weight * (min(x1, a1) - max(x0, a0)) * (min(y1, b1) - max(y0, b0))
            if best is None or covered < best[0]:
                best = (covered, cap, rect)
                if covered == 0:
                    break
        assert best is not None
        out.append(best[1]._replace(left=best[2][0], top=best[2][1]))
        placed[i] = best[2]
    return out


def _closed_eyes_mark(box: _Rect, img_h: int) -> tuple[_Rect, int, float]:
    """An "eyes closed" marker's block under ``box``, its text's baseline y and type size."""
    x, y, x1, y1 = box
    scale = float(np.clip((x1 - x) / 250.0, 0.35, 0.7))
    (tw, th), base = cv2.getTextSize("eyes closed", _FONT, scale, 1)
    ty = min(y1 + th + 4, img_h - base - 1)
    return (x, ty - th - 3, x + tw + 4, ty + base), ty, scale


def _eyes_closed(face: Face) -> bool:
    if getattr(face, "pose", None) is None:
        return False
    from fer_core.attention import CLOSED_BELOW

    eyes = getattr(face, "eyes_open", None)
    return eyes is not None and max(eyes) < CLOSED_BELOW


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
    readable. Each caption goes above its box, or where the other faces leave room for it
    (below, inside its top or bottom, smaller type): :func:`_place_captions`.
    """
    img = np.array(image_bgr, copy=True) if copy else image_bgr
    if img.ndim == 2:
        img = cv2.cvtColor(img, cv2.COLOR_GRAY2BGR)
    elif img.ndim == 3 and img.shape[2] == 4:  # BGRA: the drawing opaque (3-value colours left alpha 0)
        img = cv2.cvtColor(img, cv2.COLOR_BGRA2BGR)
    h, w = img.shape[:2]
    boxes: list[_Rect] = []
    for face in faces:
        # Boxes from an edited or damaged log can lie far outside the image (a width of 3e9):
        # OpenCV takes 32-bit coordinates, so they are cut to the image and a margin first.
        x0, y0, x1, y1 = (min(max(int(v), -lim), 2 * lim) for v, lim in zip(
            (face.box[0], face.box[1], face.box[0] + face.box[2], face.box[1] + face.box[3]), (w, h, w, h)))
        boxes.append((x0, y0, x1, y1))
    marks = [_closed_eyes_mark(b, h)[0] if _eyes_closed(f) else None for f, b in zip(faces, boxes)]
    texts = [face_caption(face, number if numbered else None) for number, face in enumerate(faces, 1)]
    captions = _place_captions(texts, boxes, marks, w, h)
    for face, (x0, y0, x1, y1) in zip(faces, boxes):  # every box first, the captions over them
        color = LABEL_COLORS_BGR.get(face.label, (255, 255, 255))
        thick = max(1, round(min(x1 - x0, y1 - y0) / 60))
        cv2.rectangle(img, (x0, y0), (x1, y1), color, thick)
    for face, cap in zip(faces, captions):
        color = LABEL_COLORS_BGR.get(face.label, (255, 255, 255))
        left, top, right, bottom = cap.rect
        cv2.rectangle(img, (left, top), (right, bottom), (0, 0, 0), -1)
        cv2.putText(img, cap.text, (left + 2, top + cap.th + 2), _FONT, cap.scale, color, cap.thick, cv2.LINE_AA)
        # Confidence bar: full width = 100 %.
        by = top + cap.th + cap.base + 3
        cv2.rectangle(img, (left + 2, by), (left + 2 + cap.tw, by + cap.bar_h), (80, 80, 80), -1)
        fill = int(round(cap.tw * float(np.clip(face.confidence, 0.0, 1.0))))
        if fill > 0:
            cv2.rectangle(img, (left + 2, by), (left + 2 + fill, by + cap.bar_h), color, -1)
    for face in faces:
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
    from fer_core.attention import rotation_matrix

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
    if _eyes_closed(face):
        (mx0, my0, mx1, my1), ty, scale = _closed_eyes_mark((x, y, x + bw, y + bh), img.shape[0])
        cv2.rectangle(img, (mx0, my0), (mx1, my1), (0, 0, 0), -1)
        cv2.putText(img, "eyes closed", (x + 2, ty), _FONT, scale, (0, 220, 255), 1, cv2.LINE_AA)


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
