"""Anonymous face tracking and per-face temporal smoothing.

:class:`IoUTracker` gives each face a stable anonymous id (1, 2, 3, ...) across video
frames by matching boxes on overlap; nothing about the person is stored, only the box.
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


@dataclass
class Track:
    """One tracked face: an anonymous id and where it was last seen."""

    id: int
    box: Box
    hits: int = 1
    missed: int = 0


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
    Not thread-safe by itself: use one tracker per stream (``ExpressionTracker`` locks).
    """

    def __init__(self, iou_threshold: float = 0.3, max_missed: int = 5) -> None:
        if not 0.0 < iou_threshold <= 1.0:
            raise ValueError("iou_threshold must be in (0, 1]")
        if max_missed < 0:
            raise ValueError("max_missed must be >= 0")
        self.iou_threshold = iou_threshold
        self.max_missed = max_missed
        self._tracks: dict[int, Track] = {}
        self._next_id = 1

    @property
    def tracks(self) -> list[Track]:
        return list(self._tracks.values())

    def reset(self) -> list[int]:
        """Forget every track (ids restart at 1); returns the ids that ended."""
        ended = list(self._tracks)
        self._tracks.clear()
        self._next_id = 1
        return ended

    def update(self, boxes: Sequence[Box]) -> TrackUpdate:
        """Assign an id to every box of the current frame."""
        boxes = [as_box(b) for b in boxes]
        track_ids = list(self._tracks)
        ids: list[int | None] = [None] * len(boxes)
        matched: set[int] = set()
        if track_ids and boxes:
            m = iou_matrix([self._tracks[t].box for t in track_ids], boxes)
            # Greedy: best overlapping pair first.
            for flat in np.argsort(-m, axis=None):
                ti, bi = divmod(int(flat), len(boxes))
                if m[ti, bi] < self.iou_threshold:
                    break
                tid = track_ids[ti]
                if tid in matched or ids[bi] is not None:
                    continue
                ids[bi] = tid
                matched.add(tid)
                track = self._tracks[tid]
                track.box, track.hits, track.missed = boxes[bi], track.hits + 1, 0
        for bi, box in enumerate(boxes):
            if ids[bi] is None:
                tid = self._next_id
                self._next_id += 1
                self._tracks[tid] = Track(tid, box)
                ids[bi] = tid
                matched.add(tid)
        ended = []
        for tid in track_ids:
            if tid not in matched:
                track = self._tracks[tid]
                track.missed += 1
                if track.missed > self.max_missed:
                    ended.append(tid)
                    del self._tracks[tid]
        return TrackUpdate(ids=[i for i in ids if i is not None], ended=ended)  # every box has one now


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

    ``update(results)`` takes the recognizer's ``FaceResult`` list for one frame
    (anything with ``box`` and ``probabilities``) and returns :class:`TrackedFace`
    objects in the same order. A face's smoother is discarded when its track ends,
    so a returning face starts fresh. Thread-safe (one lock around each update).
    """

    window: int = 5
    iou_threshold: float = 0.3
    max_missed: int = 5
    _tracker: IoUTracker = field(init=False, repr=False)
    _smoothers: dict[int, ProbabilitySmoother] = field(init=False, repr=False, default_factory=dict)
    _lock: threading.Lock = field(init=False, repr=False, default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self._tracker = IoUTracker(self.iou_threshold, self.max_missed)
        if self.window < 1:
            raise ValueError("window must be >= 1")

    def set_window(self, window: int) -> None:
        """Change the smoothing window; existing per-face histories restart."""
        window = max(1, int(window))
        with self._lock:
            if window != self.window:
                self.window = window
                self._smoothers.clear()

    def reset(self) -> None:
        """Forget all faces (e.g. when the stream ends)."""
        with self._lock:
            self._tracker.reset()
            self._smoothers.clear()

    @property
    def active_ids(self) -> list[int]:
        with self._lock:
            return sorted(t.id for t in self._tracker.tracks)

    def update(self, results: Sequence[FaceResult]) -> list[TrackedFace]:
        with self._lock:
            upd = self._tracker.update([r.box for r in results])
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
