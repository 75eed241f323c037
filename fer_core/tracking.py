"""Anonymous face tracking and per-face temporal smoothing.

:class:`IoUTracker` gives each face a stable anonymous id (1, 2, 3, ...) across video
frames by matching boxes on overlap. Given the frame, it also compares how the faces look
(:func:`appearance`, a 12 x 12 thumbnail kept in memory while the face is tracked, never
logged or written), so that a different person in the same place (a video
call's gallery reordering its tiles) gets a new id instead of the old one's history, and a
face that moved to another place keeps its id. Given the frames in between as well
(:meth:`IoUTracker.watch`, a video's decoded frames), it notices where the picture was replaced
at once (a hard cut: a call's speaker view switching to the next speaker in the same place),
and a face there keeps its id only if it clearly looks like it. Nothing else about the person is kept.
:class:`ProbabilitySmoother` averages one face's expression probabilities over its last
few observations. :class:`ExpressionTracker` combines the two: one smoother per tracked
face, reset when the face leaves.
"""
from __future__ import annotations

import threading
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from fer_core.labels import LABELS, NUM_CLASSES

if TYPE_CHECKING:
    from fer_core.recognizer import FaceResult

Box = tuple[int, int, int, int]  # x, y, w, h


def as_box(values: Sequence[float]) -> Box:
    """Four numbers (x, y, w, h) as a :data:`Box` of ints."""
    x, y, w, h = (int(v) for v in values)
    return x, y, w, h


def iou(a: Box, b: Box) -> float:
    """Intersection over union of two (x, y, w, h) boxes; 0 when either is empty."""
    ax1, ay1, ax2, ay2 = a[0], a[1], a[0] + a[2], a[1] + a[3]
    bx1, by1, bx2, by2 = b[0], b[1], b[0] + b[2], b[1] + b[3]
    iw = min(ax2, bx2) - max(ax1, bx1)
    ih = min(ay2, by2) - max(ay1, by1)
    if iw <= 0 or ih <= 0:
        return 0.0
    inter = float(iw) * float(ih)
    union = float(a[2]) * a[3] + float(b[2]) * b[3] - inter
    return inter / union if union > 0 else 0.0


def iou_matrix(boxes_a: Sequence[Box], boxes_b: Sequence[Box]) -> np.ndarray:
    """Pairwise IoU, shape (len(boxes_a), len(boxes_b))."""
    if not boxes_a or not boxes_b:
        return np.zeros((len(boxes_a), len(boxes_b)), np.float32)
    a = np.asarray(boxes_a, np.float32)
    b = np.asarray(boxes_b, np.float32)
    ax1, ay1, ax2, ay2 = a[:, 0:1], a[:, 1:2], a[:, 0:1] + a[:, 2:3], a[:, 1:2] + a[:, 3:4]
    bx1, by1, bx2, by2 = b[:, 0], b[:, 1], b[:, 0] + b[:, 2], b[:, 1] + b[:, 3]
    iw = np.clip(np.minimum(ax2, bx2) - np.maximum(ax1, bx1), 0, None)
    ih = np.clip(np.minimum(ay2, by2) - np.maximum(ay1, by1), 0, None)
    inter = iw * ih
    union = (a[:, 2:3] * a[:, 3:4]) + (b[:, 2] * b[:, 3]) - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-9), 0.0).astype(np.float32)


#: Side of the appearance thumbnail (px), and its region's side over the face box's: the box
#: itself (1.6 x the box let the black borders of a gallery's tiles make different people look
#: alike: 8% of pairs of different tiles under 0.5 instead of 72%, a one-off on the clips of
#: benchmarks/tracking_reorder.py).
APPEARANCE_SIDE = 12
APPEARANCE_SCALE = 1.0
#: A face that looks like a track at least this much (the correlation of two :func:`appearance`
#: signatures) joins it wherever it is now: the same face, moved (a gallery reordered).
MOVED_FACE = 0.8
#: A box that overlaps a track continues it only if it looks at least this much like it:
#: below, it is someone else in the same place. Both thresholds come from
#: ``benchmarks/tracking_reorder.py`` on real photos (docs/DESIGN.md, "Tracking"): a face
#: jittered, re-lit and re-compressed as between two frames, a rendered head turning between
#: two analysed frames, and two different people.
SAME_FACE = 0.4
#: Where a track's face was, the picture of one decoded frame and the next correlating less than
#: this (:func:`place_change`) was replaced at once: a hard cut (a call's speaker view switching to
#: the next speaker, same place, same size). A face there then continues the track only if it looks
#: like it from ``MOVED_FACE`` on, as a face that moved must: with ``SAME_FACE`` alone a quarter
#: of the cuts between two people passed the first one's number to the second (docs/DESIGN.md,
#: "Tracking"). A face moved 4 px from one frame to the next correlates 0.89 or more there (5th
#: percentile, real photos, faces of 100 and 290 px); two people's faces in one place 0.2 (median),
#: under 0.8 for 98-99% of pairs.
CUT = 0.8
#: The side of the pictures the cut watch compares, over the analysed frame's (a 1280 x 720 frame:
#: 320 x 180 gray; a face of 40 px covers 10 x 10 of it).
PLACE_SCALE = 0.25


def appearance(frame: np.ndarray, box: Box) -> np.ndarray | None:
    """The look of a face, for telling faces apart over a few frames: the square region
    ``APPEARANCE_SCALE`` x the box's longer side (clipped to the frame), shrunk to a 12 x 12
    thumbnail, each channel standardised; a unit vector, so that two signatures' dot product is
    their correlation. ``None`` for a region under 4 px or a flat one."""
    import cv2

    x, y, w, h = box
    side = max(w, h) * APPEARANCE_SCALE
    cx, cy = x + w / 2, y + h / 2
    x0, y0 = int(max(0, cx - side / 2)), int(max(0, cy - side / 2))
    x1, y1 = int(min(frame.shape[1], cx + side / 2)), int(min(frame.shape[0], cy + side / 2))
    if x1 - x0 < 4 or y1 - y0 < 4:
        return None
    thumb = cv2.resize(frame[y0:y1, x0:x1], (APPEARANCE_SIDE, APPEARANCE_SIDE),
                       interpolation=cv2.INTER_AREA).astype(np.float32)
    thumb = thumb.reshape(APPEARANCE_SIDE * APPEARANCE_SIDE, -1)
    thumb = (thumb - thumb.mean(axis=0)) / (thumb.std(axis=0) + 1e-3)
    vec = thumb.ravel()
    norm = float(np.linalg.norm(vec))
    return vec / norm if norm > 1e-6 else None


def place_picture(frame: np.ndarray) -> np.ndarray:
    """What :meth:`IoUTracker.watch` compares from frame to frame: the frame in gray at
    ``PLACE_SCALE`` of its size, blurred a little (:func:`shrink_gray`; a video's decoder gives it
    straight from each decoded frame's luma)."""
    import cv2

    gray = frame if frame.ndim == 2 else cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
    h, w = gray.shape[:2]
    return shrink_gray(gray, place_size(w, h))


def shrink_gray(gray: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """A gray picture (uint8) shrunk to ``size`` (width, height) for :func:`place_picture`:
    bilinear to twice that, then a Gaussian pyramid step and a blur of one pixel, so that a face
    moving a few pixels from one frame to the next still correlates with itself (0.9 or more for a
    face of 100 px moved 4 px; 0.8 unblurred) while a cut to another person's face does not
    (median 0.2). About 0.1 ms for a 1280 x 720 frame."""
    import cv2

    w, h = size
    half = cv2.resize(gray, (2 * w, 2 * h), interpolation=cv2.INTER_LINEAR)
    return cv2.GaussianBlur(cv2.pyrDown(half, dstsize=(w, h)), (0, 0), 1.0)


def place_size(width: int, height: int) -> tuple[int, int]:
    """(width, height) of :func:`place_picture` for a frame of that size."""
    return max(1, round(width * PLACE_SCALE)), max(1, round(height * PLACE_SCALE))


def place_region(box: Box, scale: float, width: int, height: int) -> tuple[int, int, int, int]:
    """A face's ``box`` (frame pixels) on a :func:`place_picture` of ``width`` x ``height``:
    (x0, y0, x1, y1), clipped to it."""
    x, y, w, h = box
    return (max(0, int(x * scale)), max(0, int(y * scale)),
            min(width, int(np.ceil((x + w) * scale))), min(height, int(np.ceil((y + h) * scale))))


def place_change(before: np.ndarray, after: np.ndarray, box: Box, scale: float) -> float:
    """The correlation of two :func:`place_picture` s over a face's ``box`` (in the frame's pixels;
    ``scale``: the pictures' size over the frame's): about 1 where the picture went on (the same face
    moving a little between two decoded frames), low where it was replaced. 1 where the region is too
    small to tell (under 3 x 3) or flat in both (same brightness); 0 where one of them is flat and the
    other not, or both flat but of another brightness."""
    x0, y0, x1, y1 = place_region(box, scale, before.shape[1], before.shape[0])
    if x1 - x0 < 3 or y1 - y0 < 3:
        return 1.0
    a = before[y0:y1, x0:x1].astype(np.float32)
    b = after[y0:y1, x0:x1].astype(np.float32)
    sa, sb = float(a.std()), float(b.std())
    if sa < 2.0 or sb < 2.0:
        return 1.0 if sa < 2.0 and sb < 2.0 and abs(float(a.mean()) - float(b.mean())) < 16.0 else 0.0
    return float(((a - a.mean()) * (b - b.mean())).mean() / (sa * sb))


@dataclass
class Track:
    """One tracked face: an anonymous id, where it was last seen and how it looked, and how
    steadily the picture went on where it was since (``steady``: the lowest :func:`place_change`
    there from one watched frame to the next; 1 when not watched)."""

    id: int
    box: Box
    hits: int = 1
    missed: int = 0
    look: np.ndarray | None = field(default=None, repr=False)
    steady: float = 1.0

    def seen(self, box: Box, look: np.ndarray | None) -> None:
        self.box, self.hits, self.missed, self.steady = box, self.hits + 1, 0, 1.0
        if look is None:
            return
        if self.look is None or self.look.shape != look.shape:
            self.look = look
        else:  # a running mean, so that one odd frame does not replace the reference
            mixed = self.look + look
            self.look = mixed / max(float(np.linalg.norm(mixed)), 1e-6)


def look_matrix(a: Sequence[np.ndarray | None], b: Sequence[np.ndarray | None]) -> np.ndarray:
    """Pairwise correlation of two lists of :func:`appearance` signatures, shape (len(a),
    len(b)); NaN where either is unknown (or one is gray and the other colour)."""
    out = np.full((len(a), len(b)), np.nan, np.float32)
    for size in {v.size for v in a if v is not None} & {v.size for v in b if v is not None}:
        rows = [(i, v) for i, v in enumerate(a) if v is not None and v.size == size]
        cols = [(j, v) for j, v in enumerate(b) if v is not None and v.size == size]
        out[np.ix_([i for i, _ in rows], [j for j, _ in cols])] = (
            np.stack([v for _, v in rows]) @ np.stack([v for _, v in cols]).T)
    return out


@dataclass(frozen=True)
class TrackUpdate:
    """Result of :meth:`IoUTracker.update`."""

    ids: list[int]  # one id per input box, same order
    ended: list[int]  # ids of tracks that were dropped in this update


class IoUTracker:
    """Greedy IoU matching of detections to existing tracks.

    A box joins the track it overlaps most (IoU >= ``iou_threshold``); unmatched boxes
    start new tracks; a track not matched for more than ``max_missed`` consecutive
    updates ends. Ids are never reused within one tracker (until :meth:`reset`).
    With ``looks`` (:func:`appearance` per box), a box that looks like a track from
    ``moved_face`` on joins it first, wherever it is (most alike pairs first), and an overlap
    then only counts if the box looks like the track (``same_face``), or, where the picture was
    replaced at once since the track was last seen (a hard cut, :meth:`watch`), only if it looks
    like it from ``moved_face`` on. Not thread-safe by itself: use one tracker per stream
    (``ExpressionTracker`` locks).
    """

    def __init__(self, iou_threshold: float = 0.3, max_missed: int = 5, same_face: float = SAME_FACE,
                 moved_face: float = MOVED_FACE, cut: float = CUT) -> None:
        if not 0.0 < iou_threshold <= 1.0:
            raise ValueError("iou_threshold must be in (0, 1]")
        if max_missed < 0:
            raise ValueError("max_missed must be >= 0")
        if not -1.0 <= same_face <= moved_face <= 1.0:
            raise ValueError("need -1 <= same_face <= moved_face <= 1")
        if not -1.0 <= cut <= 1.0:
            raise ValueError("cut must be in [-1, 1]")
        self.iou_threshold = iou_threshold
        self.max_missed = max_missed
        self.same_face = same_face
        self.moved_face = moved_face
        self.cut = cut
        self._tracks: dict[int, Track] = {}
        self._next_id = 1
        self._picture: np.ndarray | None = None  # the last watched frame's place_picture

    @property
    def tracks(self) -> list[Track]:
        return list(self._tracks.values())

    def reset(self, restart_ids: bool = True) -> list[int]:
        """Forget every track; returns the ids that ended. Ids restart at 1, or with
        ``restart_ids=False`` go on after the last one given (the same session goes on)."""
        ended = list(self._tracks)
        self._tracks.clear()
        self._picture = None
        if restart_ids:
            self._next_id = 1
        return ended

    def reframe(self, old_size: tuple[int, int], new_size: tuple[int, int]) -> None:
        """The frames changed size from ``old_size`` to ``new_size`` (width, height): a phone turned
        between portrait and landscape, a camera or shared window that switched resolution. The
        tracks' boxes are carried into the new frame, its centre on the old one's and scaled by
        the ratio of the short sides (a phone's picture turns with it at the same scale), so that a
        face keeps its track by overlap as well as by look. Left in the old frame's coordinates,
        no box overlapped (the face moves by a third of the frame when a phone turns): the same
        person got a new number whenever the look alone was not close enough."""
        (ow, oh), (nw, nh) = old_size, new_size
        if (ow, oh) == (nw, nh) or min(ow, oh) <= 0 or min(nw, nh) <= 0:
            return
        k = min(nw, nh) / min(ow, oh)
        for track in self._tracks.values():
            x, y, w, h = track.box
            cx, cy = nw / 2 + (x + w / 2 - ow / 2) * k, nh / 2 + (y + h / 2 - oh / 2) * k
            track.box = as_box((cx - w * k / 2, cy - h * k / 2, w * k, h * k))

    def watch(self, picture: np.ndarray) -> None:
        """The next frame of the video, analysed or not, as :func:`place_picture` gives it (every
        decoded frame in order, the analysed ones included, before their :meth:`update`): each
        track notes how steadily the picture went on where it was last seen (``Track.steady``), so
        that a hard cut there is told from a face moving, which a frame or two apart it never is.
        A picture of another size (the frames changed size) is compared with the next one only."""
        import cv2

        before, self._picture = self._picture, picture
        watched = [t for t in self._tracks.values() if t.steady >= self.cut]  # a cut stays until the face is seen
        if before is None or before.shape != picture.shape or not watched:
            return
        # Most places go on: their mean squared difference is at most (1 - cut^2) of the variance
        # before, which no correlation under ``cut`` allows (whatever the contrast after). Read off
        # two integral images; the correlation itself only where that does not settle it.
        total, squares = cv2.integral2(before)
        _, diff_squares = cv2.integral2(cv2.absdiff(before, picture))
        allowed = 1.0 - max(self.cut, 0.0) ** 2
        height, width = before.shape[:2]
        for track in watched:
            x0, y0, x1, y1 = place_region(track.box, PLACE_SCALE, width, height)
            if x1 - x0 < 3 or y1 - y0 < 3:
                continue
            n = float((x1 - x0) * (y1 - y0))
            mean, square, diff = (float(t[y1, x1] - t[y0, x1] - t[y1, x0] + t[y0, x0]) / n
                                  for t in (total, squares, diff_squares))
            variance = square - mean * mean
            if variance > 4.0 and diff <= allowed * variance * 0.99:
                continue
            track.steady = min(track.steady, place_change(before, picture, track.box, PLACE_SCALE))

    def update(self, boxes: Sequence[Box], looks: Sequence[np.ndarray | None] | None = None) -> TrackUpdate:
        """Assign an id to every box of the current frame (``looks``: :func:`appearance` of
        each box, or None to match on overlap alone)."""
        boxes = [as_box(b) for b in boxes]
        seen: list[np.ndarray | None] = list(looks) if looks is not None else [None] * len(boxes)
        if len(seen) != len(boxes):
            raise ValueError("one look per box")
        track_ids = list(self._tracks)
        ids = self._match(track_ids, boxes, seen)
        matched = {tid for tid in ids if tid is not None}
        for bi, box in enumerate(boxes):
            if ids[bi] is None:
                tid = self._next_id
                self._next_id += 1
                self._tracks[tid] = Track(tid, box, look=seen[bi])
                ids[bi] = tid
        ended = []
        for tid in track_ids:
            if tid not in matched:
                track = self._tracks[tid]
                track.missed += 1
                if track.missed > self.max_missed:
                    ended.append(tid)
                    del self._tracks[tid]
        return TrackUpdate(ids=[i for i in ids if i is not None], ended=ended)  # every box has one now

    def _match(self, track_ids: list[int], boxes: list[Box], seen: list[np.ndarray | None]) -> list[int | None]:
        """The existing track of each box (None: a new face); the matched tracks are updated."""
        ids: list[int | None] = [None] * len(boxes)
        if not track_ids or not boxes:
            return ids
        matched: set[int] = set()
        alike = look_matrix([self._tracks[t].look for t in track_ids], seen)
        iou_m = iou_matrix([self._tracks[t].box for t in track_ids], boxes)
        # First the faces that clearly look like a track, wherever they are now (a gallery
        # reordered its tiles), most alike first; then by overlap, best overlapping pair
        # first, unless the face looks like someone else, or unless the picture there was
        # replaced at once (a hard cut) and the face does not clearly look like the track's:
        # no number passes from one person to the next by place alone. (NaN, no look, sorts last.)
        cut = [self._tracks[t].steady < self.cut for t in track_ids]
        for by_look in (True, False):
            scores = alike if by_look else iou_m
            for flat in np.argsort(-scores, axis=None):
                ti, bi = divmod(int(flat), len(boxes))
                if not scores[ti, bi] >= (self.moved_face if by_look else self.iou_threshold):
                    break
                tid = track_ids[ti]
                if tid in matched or ids[bi] is not None:
                    continue
                if not by_look and alike[ti, bi] < self.same_face:  # False for NaN: overlap decides
                    continue  # someone else in that place
                if not by_look and cut[ti] and not alike[ti, bi] >= self.moved_face:  # NaN too: unknown
                    continue  # the picture there was replaced: a new face unless clearly the same
                ids[bi] = tid
                matched.add(tid)
                self._tracks[tid].seen(boxes[bi], seen[bi])
        return ids


class ProbabilitySmoother:
    """Moving average of one face's class probabilities over its last ``window`` observations."""

    def __init__(self, window: int = 5, num_classes: int = NUM_CLASSES) -> None:
        if window < 1:
            raise ValueError("window must be >= 1")
        self.num_classes = num_classes
        self._buf: deque[np.ndarray] = deque(maxlen=window)

    @property
    def window(self) -> int:
        return int(self._buf.maxlen or 1)

    def __len__(self) -> int:
        return len(self._buf)

    def update(self, probabilities: Sequence[float]) -> np.ndarray:
        """Add one observation and return the smoothed probabilities (sum 1)."""
        p = np.asarray(probabilities, np.float64).reshape(-1)
        if p.shape != (self.num_classes,):
            raise ValueError(f"expected {self.num_classes} probabilities, got {p.shape}")
        self._buf.append(p)
        return self.value

    @property
    def value(self) -> np.ndarray:
        """Current smoothed probabilities (uniform when empty)."""
        if not self._buf:
            return np.full(self.num_classes, 1.0 / self.num_classes)
        mean = np.mean(self._buf, axis=0)
        total = mean.sum()
        return mean / total if total > 0 else mean

    def reset(self) -> None:
        self._buf.clear()


@dataclass(frozen=True)
class TrackedFace:
    """A face with its anonymous id and smoothed expression."""

    face_id: int
    box: Box
    probabilities: tuple[float, ...]  # smoothed, LABELS order
    raw_probabilities: tuple[float, ...]  # this frame's model output
    label: str
    confidence: float
    detector_score: float = 1.0
    # This frame's attention (fer_core.attention), when the recognizer measured it; else None.
    pose: tuple[float, float, float] | None = None
    eyes_open: tuple[float, float] | None = None
    gaze: tuple[float, float] | None = None
    looking_at_camera: bool | None = None

    def as_dict(self) -> dict:
        d = {"face_id": self.face_id, "box": list(self.box), "label": self.label,
             "confidence": self.confidence,
             "probabilities": dict(zip(LABELS, self.probabilities))}
        for key in ("pose", "eyes_open", "gaze", "looking_at_camera"):
            value = getattr(self, key)
            if value is not None:
                d[key] = list(value) if isinstance(value, tuple) else value
        return d


@dataclass
class ExpressionTracker:
    """Tracks faces over frames and smooths each face's probabilities separately.

    ``update(results, frame)`` takes the recognizer's ``FaceResult`` list for one frame
    (anything with ``box`` and ``probabilities``) and, optionally, the frame itself (then
    faces are also told apart by how they look, :class:`IoUTracker`, and followed when the frames
    change size, :meth:`IoUTracker.reframe`), and returns
    :class:`TrackedFace` objects in the same order. A face's smoother is discarded when its track ends,
    so a returning face starts fresh. A video's decoded frames, given to :meth:`watch`, tell a hard
    cut from a face moving. Thread-safe (one lock around each update).
    """

    window: int = 5
    iou_threshold: float = 0.3
    max_missed: int = 5
    _tracker: IoUTracker = field(init=False, repr=False)
    _smoothers: dict[int, ProbabilitySmoother] = field(init=False, repr=False, default_factory=dict)
    _lock: threading.Lock = field(init=False, repr=False, default_factory=threading.Lock)
    _frame_size: tuple[int, int] | None = field(init=False, repr=False, default=None)

    def __post_init__(self) -> None:
        self._tracker = IoUTracker(self.iou_threshold, self.max_missed)
        if self.window < 1:
            raise ValueError("window must be >= 1")

    def watch(self, picture: np.ndarray) -> None:
        """A frame of the video, analysed or not, as :func:`place_picture` gives it: every decoded
        frame in order, an analysed one before its :meth:`update` (:meth:`IoUTracker.watch`: a
        hard cut where a face was is then told from the face moving). Without it, as for live
        frames and photos, faces are matched as before."""
        with self._lock:
            self._tracker.watch(picture)

    def set_window(self, window: int) -> None:
        """Change the smoothing window; existing per-face histories restart."""
        window = max(1, int(window))
        with self._lock:
            if window != self.window:
                self.window = window
                self._smoothers.clear()

    def restart_smoothing(self) -> None:
        """Forget each face's past probabilities but keep the faces: the frames stopped for a
        while (a pause in a live stream) and the next ones show how each face looks now, not
        averaged with how it looked before the pause. A face found again keeps its number."""
        with self._lock:
            self._smoothers.clear()

    def reset(self, restart_ids: bool = True) -> None:
        """Forget all faces (e.g. when the stream ends). ``restart_ids=False``: new faces get
        numbers after the last one given, as for a session that goes on with a new stream."""
        with self._lock:
            self._tracker.reset(restart_ids)
            self._smoothers.clear()
            self._frame_size = None

    @property
    def active_ids(self) -> list[int]:
        with self._lock:
            return sorted(t.id for t in self._tracker.tracks)

    def update(self, results: Sequence[FaceResult], frame: np.ndarray | None = None) -> list[TrackedFace]:
        looks = None if frame is None else [appearance(frame, as_box(r.box)) for r in results]
        with self._lock:
            if frame is not None:  # a frame of another size: the tracks' boxes follow it (IoUTracker.reframe)
                size = (int(frame.shape[1]), int(frame.shape[0]))
                if self._frame_size is not None:
                    self._tracker.reframe(self._frame_size, size)
                self._frame_size = size
            upd = self._tracker.update([r.box for r in results], looks)
            for tid in upd.ended:
                smoother = self._smoothers.pop(tid, None)
                if smoother is not None:
                    smoother.reset()
            out = []
            for tid, r in zip(upd.ids, results):
                smoother = self._smoothers.get(tid)
                if smoother is None:
                    smoother = self._smoothers[tid] = ProbabilitySmoother(self.window)
                p = smoother.update(r.probabilities)
                k = int(np.argmax(p))
                out.append(TrackedFace(face_id=tid, box=as_box(r.box),
                                       probabilities=tuple(float(v) for v in p),
                                       raw_probabilities=tuple(float(v) for v in r.probabilities),
                                       label=LABELS[k], confidence=float(p[k]),
                                       detector_score=float(getattr(r, "detector_score", 1.0)),
                                       pose=getattr(r, "pose", None), eyes_open=getattr(r, "eyes_open", None),
                                       gaze=getattr(r, "gaze", None),
                                       looking_at_camera=getattr(r, "looking_at_camera", None)))
            return out
