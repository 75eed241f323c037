"""A session log of expression observations, and the class analytics computed from it.

A row is ``(time_s, face_id, x, y, w, h, 7 probabilities)``: when, which anonymous face,
where in the frame, and the model's output; plus head pose, eye openness and looking at
the camera when attention was measured (``ATTENTION_COLUMNS``). No image data is kept. :class:`SessionLog`
is thread-safe: the video thread appends while the page reads.

The analytics are plain functions of the log's DataFrame (``SessionLog.to_frame()``),
so they work the same on a live session, an analysed video or a CSV loaded back in.

A log also holds *markers*: moments the user named while it ran ("quiz starts", "break"),
drawn on the charts and listed in the report. In the CSV they are rows of their own with
``face_id`` -1, no box or probabilities, and the text in a ``marker`` column (present only
when there are markers), after the face rows.

A log of part of a video (analysed from 1:00:00, say) keeps the video's own times and says
where its analysis began: :attr:`SessionLog.start_s`, 0 for a live session or a whole
video. Durations, time grids and comparisons count from there. Its CSV then ends with one
more row, ``face_id`` -2 at that time (:data:`START_ID`); DataFrames from
:meth:`SessionLog.to_frame` carry it in ``df.attrs["start_s"]`` (:func:`log_start`).

A log also knows where its analysis ended and how many frames it analysed, faces or none.
The face rows alone do not tell that when some frames had no face (the class out of view for
the last ten minutes), so the CSV of such a log ends with one more row, ``face_id`` -3 at the
end, the count in its ``marker`` text (:data:`END_ID`); DataFrames carry them in
``df.attrs["end_s"]`` and ``df.attrs["frames"]`` (:func:`log_end`).

A log of photos or a video file also keeps the boxes its analysis found but did not count
(:meth:`SessionLog.add_set_aside`): detections the detector's face check doubted, a profile or
a pattern on a shirt. They are not faces of the log, so no chart sees them, but an annotated
copy pixelated for sharing covers them too (``fer_core.review``). In the CSV they are rows with
``face_id`` -4, a box and no probabilities (:data:`SET_ASIDE_ID`); DataFrames carry them in
``df.attrs["set_aside"]`` (:func:`log_set_aside`).

A log joined from parts of one video (:meth:`SessionLog.join`) keeps which parts were
analysed, so that the frames between them, never analysed, are left out of an annotated
copy: in the CSV one row per part, ``face_id`` -5 at its start, "(an analysed part: from A s to
B s)" in the ``marker`` column (:data:`PART_ID`); in DataFrames ``df.attrs["parts"]``
(:func:`log_parts`). A live session stopped and started again (or whose stream had no frame for
a while, ``fer_core.live``) keeps its streams the same way (:meth:`SessionLog.resume`): its clock
runs on while no stream runs, its analysed time does not; its rows say "(a live stream: ...)"
instead (:data:`STREAM_TEXT`, ``df.attrs["streams"]``), so that a log read back still tells streams
from parts of a video (:attr:`SessionLog.streams`). A live session whose clock started before its
first frame (a moment named before START) keeps its first stream so too, even when it is the only one:
the time before it was not analysed either.

A log also names the expression models that analysed it (:attr:`SessionLog.models`: the
sidebar's choice, or the command line's), so that a log read back, its report and a comparison
still say which model gave its figures: in the CSV one row per model, ``face_id`` -6 at the
log's start, "(expression model: NAME)" in the ``marker`` column (:data:`MODEL_ID`); in
DataFrames ``df.attrs["models"]`` (:func:`log_models`).

A log of a damaged video keeps the stretches that could not be decoded (:meth:`SessionLog.add_damaged`,
``fer_core.video``): a garbled middle, or the end of a file cut short (an unfinished download). Its
frames on either side of a damaged middle are two stretches of the log, as a live session's streams
(:meth:`SessionLog.resume`), so the time analysed leaves it out and the charts shade it; the stretches
themselves are rows ``face_id`` -7 at their start, "(damaged, could not be decoded: from A s to B s)"
in the ``marker`` column (:data:`DAMAGED_ID`); in DataFrames ``df.attrs["damaged"]``
(:func:`log_damaged`). The end of a file cut short, from where its decoding broke off, is such a row too,
"(cut short, could not be decoded: ...)" (:data:`CUT_SHORT_TEXT`; :attr:`SessionLog.cut_short`,
``df.attrs["cut_short"]``, :func:`log_cut_short`), so that a damaged end is not called cut short.
"""
from __future__ import annotations

import dataclasses
import gzip
import io
import math
import re
import threading
import zipfile
import zlib
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import pandas as pd

from fer_core import csvtext, textcut
from fer_core.labels import LABELS, NEGATIVE_LABELS

BOX_COLUMNS = ("x", "y", "w", "h")
#: Changes below this total-variation distance are not reported as "moments of change".
NOTABLE_CHANGE = 0.1
COLUMNS = ("time_s", "face_id", *BOX_COLUMNS, *LABELS)
_LABEL_SLICE = slice(COLUMNS.index(LABELS[0]), COLUMNS.index(LABELS[-1]) + 1)  # the probabilities in a row
#: Optional columns, present when attention was measured (fer_core.attention): head pose in
#: degrees, eye openness of the image-left and image-right eye, looking at the camera (1/0).
#: Empty (NaN) in rows where it was not measured; left out of frames and CSVs without any.
ATTENTION_COLUMNS = ("yaw", "pitch", "roll", "eye_left", "eye_right", "looking")
#: Every column a log's CSV can have; a CSV with more than MAX_CSV_COLUMNS is refused unread.
_CSV_COLUMNS = frozenset((*COLUMNS, "label", "confidence", *ATTENTION_COLUMNS, "marker"))
#: The columns a log is read back from: not its label and confidence, which its probabilities
#: give again. Read, they were a column of a million strings in a full log: 1.7 s more and 170 MB
#: more at the peak of reading it.
_READ_COLUMNS = _CSV_COLUMNS - {"label", "confidence"}
MAX_CSV_COLUMNS = 64
#: The separators of a CSV's cells that a log is read with: the comma it is written with, and the
#: semicolon or tab a spreadsheet may save it with.
_SEPARATORS = (",", ";", "\t")
_NBASE = len(COLUMNS)
_NCOL = _NBASE + len(ATTENTION_COLUMNS)
_NAN_ATTENTION = (float("nan"),) * len(ATTENTION_COLUMNS)
#: A log's rows are kept in blocks: the first of 1024 rows, each next one as large as the log so far,
#: up to this many rows (1.7 MB, 2.5 MB with attention). A block is never grown, widened or copied
#: once allocated: a log kept in one array doubled it when full, a copy of every row so far inside
#: the frame callback (190-440 ms at 524,288 rows, about 3 hours of a class of 30), and widened it for
#: attention switched on late (230-290 ms at 540,000 rows), with the old and the new array in memory.
#: Under 4 MB: numpy asks the kernel for huge pages for larger arrays, and the first row written
#: to a block of 5 MB took 5-11 ms, zeroing 2 MB pages.
_BLOCK_ROWS = 16_384
_FIRST_BLOCK_ROWS = 1024
#: Markers: at most this many per log, each at most this many characters.
MAX_MARKERS = 500
MARKER_CHARS = 80
#: The face_id of a marker's row in the CSV.
MARKER_ID = -1
#: The face_id of the CSV row that says where the analysis began (logs of part of a video).
START_ID = -2
#: The text of that row's ``marker`` field, for people who open the CSV themselves.
START_TEXT = "(the analysis starts here)"
#: The face_id of the CSV row that says where the analysis ended, when the face rows do not.
END_ID = -3
#: That row's ``marker`` field: the frames analysed, with or without faces.
END_TEXT = "(the analysis ends here: {frames} frames analysed)"
_END_FRAMES = re.compile(r"(\d{1,12}) frames")
#: The face_id of a CSV row with a box the analysis found but did not count as a face.
SET_ASIDE_ID = -4
#: That row's ``marker`` field.
SET_ASIDE_TEXT = "(set aside: not counted as a face; pixelated when shared)"
#: The face_id of a CSV row that gives one analysed part of a log joined from parts.
PART_ID = -5
#: That row's ``marker`` field.
PART_TEXT = "(an analysed part: from {start:.3f} s to {end:.3f} s)"
#: The same row for a stream of a live session stopped and started again (:attr:`SessionLog.streams`).
STREAM_TEXT = "(a live stream: from {start:.3f} s to {end:.3f} s)"
#: A live log's first stream that starts more than this many seconds after the log's start (its
#: clock started with a moment named before START) leaves that time out of the time analysed, as a
#: pause: less is the CSV's rounding of times.
LEAD_S = 1e-3
_PART_SPAN = re.compile(r"from (\d+(?:\.\d*)?) s to (\d+(?:\.\d*)?) s")
#: The face_id of a CSV row that names a model that analysed the log.
MODEL_ID = -6
#: That row's ``marker`` field.
MODEL_TEXT = "(expression model: {model})"
_MODEL_NAME = re.compile(r"^\(expression model: (.{1,200})\)$")
#: A CSV's model rows: at most this many are read back.
MAX_MODELS = 8
#: The face_id of a CSV row that gives a stretch of a damaged video that could not be decoded.
DAMAGED_ID = -7
#: That row's ``marker`` field.
DAMAGED_TEXT = "(damaged, could not be decoded: from {start:.3f} s to {end:.3f} s)"
#: The same row for the end of a file cut short (an unfinished download), from where it breaks off
#: (:attr:`SessionLog.cut_short`): read back, it is a damaged stretch too.
CUT_SHORT_TEXT = "(cut short, could not be decoded: from {start:.3f} s to {end:.3f} s)"
#: A log keeps at most this many damaged stretches (a CSV's further rows are not read back).
MAX_DAMAGED = 10_000
#: Times a CSV may hold: up to a week. A log of a live session or a video is far shorter; a
#: larger time is a damaged or edited file, and the charts' time grids would not fit in memory.
MAX_LOG_S = 7 * 24 * 3600.0
#: The largest frame count an end row may claim (a week at 30 frames a second, with room).
MAX_END_FRAMES = 100_000_000
#: A compressed log (``.csv.gz``, or a ``.zip`` holding one CSV) is unpacked up to this many
#: bytes of CSV: a full log (``max_rows``, 1,000,000 observations with attention) is about
#: 125 MB (131 million bytes; MB as Streamlit's uploaders count them, 2**20 bytes).
#: Past it the log is refused before it fills memory: a few kilobytes of gzip can unpack to gigabytes.
MAX_UNPACKED_BYTES = 160 * 1024 * 1024
_GZIP_MAGIC = b"\x1f\x8b"
_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")  # an archive with files; an empty one


def _attention_values(face: object) -> tuple[float, ...]:
    """The ATTENTION_COLUMNS values of a face (NaN where not measured)."""
    pose = getattr(face, "pose", None)
    if pose is None:
        return _NAN_ATTENTION
    eyes = getattr(face, "eyes_open", None) or (float("nan"), float("nan"))
    looking = getattr(face, "looking_at_camera", None)
    return (*map(float, pose), *map(float, eyes), float("nan") if looking is None else float(looking))


class BoxRows:
    """Read-only ``(n, 5)`` rows of ``time_s, x, y, w, h``: a log's boxes set aside, as its
    DataFrame's ``attrs`` carry them. pandas deep-copies a frame's ``attrs`` on every operation,
    which would copy thousands of boxes each time; this object is immutable and returns itself."""

    __slots__ = ("rows",)

    def __init__(self, rows: np.ndarray) -> None:
        arr = np.array(rows, np.float64).reshape(-1, 5)
        arr.setflags(write=False)
        self.rows = arr

    def __len__(self) -> int:
        return len(self.rows)

    def __deepcopy__(self, memo: dict) -> BoxRows:
        return self

    def __repr__(self) -> str:
        return f"BoxRows({len(self.rows)} boxes)"


class LogFormatError(ValueError):
    """A CSV that is not a session log exported by this app."""


@dataclass(frozen=True)
class SessionSummary:
    rows: int
    faces: int  # distinct anonymous face ids
    frames: int  # frames analysed, with or without faces
    duration_s: float  # from start_s to the last analysed frame
    truncated: bool  # rows were dropped because the log reached max_rows
    start_s: float = 0.0  # where the analysis began (0 but for part of a video)
    parts: tuple[tuple[float, float], ...] = ()  # joined parts, or a resumed live log's streams

    @property
    def end_s(self) -> float:
        return self.start_s + self.duration_s

    @property
    def analysed_s(self) -> float:
        """The time the analysis covered: ``duration_s``, less the gaps between joined parts."""
        return sum(b - a for a, b in self.parts) if self.parts else self.duration_s


class SessionLog:
    """Append-only, thread-safe log of (time, face id, box, probabilities) rows.

    ``max_rows`` bounds memory (about 100 bytes a row, 150 once attention is logged: the
    attention columns are only allocated then); once reached, new rows are dropped and
    :attr:`truncated` becomes True. ``start_s``: where the analysis began, for a log of part
    of a video (its rows keep the video's times).

    The rows are kept in blocks (:data:`_BLOCK_ROWS`) that are only ever appended to: a row once
    logged is never moved or changed. So adding a frame costs the same at any length, and a reader
    takes views of the rows under the lock and copies them after releasing it: the dashboard's
    copy of a long log does not hold up the frame callback's next row.
    """

    def __init__(self, max_rows: int = 1_000_000, source: str = "", start_s: float = 0.0) -> None:
        if not (np.isfinite(start_s) and start_s >= 0):
            raise ValueError("start_s must be a time >= 0")
        self.max_rows = int(max_rows)
        self.source = source
        self.start_s = float(start_s)
        #: When the log began (a live session's start, a video's analysis); None for a log read
        #: back from CSV or joined from parts, which do not record it.
        self.started_at: datetime | None = datetime.now(UTC)
        self._lock = threading.Lock()
        self._new_rows()
        # Rows in time order (a live session's, a video's, a log read back): the end of the log is
        # found by a binary search, not by comparing every row's time (to_frame(last_s=...)).
        self._sorted = True
        # label_counts() of the first _counted rows: the rows are never changed once logged, so
        # each call counts only the rows added since the one before.
        self._counts = np.zeros(len(LABELS), np.int64)
        self._counted = 0
        self._frames = 0
        self._last_t = self.start_s
        self._truncated = False
        self._version = 0
        self._models: list[str] = []
        self._markers: list[tuple[float, str]] = []
        self._aside: list[tuple[float, int, int, int, int]] = []
        self._parts: list[tuple[float, float]] = []  # set by join(): the analysed parts, when several
        # A log that resume() split into stretches (a live session stopped and started again):
        # its first frame's time, the start of its current stretch, and whether the next frame
        # starts one. Its _parts then hold the stretches before the current one.
        self._first_t: float | None = None
        self._open: float | None = None
        self._resuming = False
        self._resume_at: float | None = None  # resume(at=...): where the next stretch starts, before its first frame
        self._streams = False  # its parts are live streams (resume() split it), not parts of a video
        self._damaged: list[tuple[float, float]] = []  # stretches of a damaged video not decoded (add_damaged)
        self._cut_short: float | None = None  # where a file cut short breaks off (add_damaged(cut_short=True))

    def _new_rows(self) -> None:
        """No rows: a new or cleared log's (lock held or not yet shared)."""
        # The blocks, in order, each a column of values per row (``block[:, i]`` is a row, as a
        # DataFrame keeps its columns: ``to_frame`` copies the rows' columns whole); each but the
        # last full, the last filled up to _fill. A block sealed before it filled (the first
        # attention row needs a wide one) is kept as a view of its rows. _starts and _firsts: each
        # block's first row's number and time.
        self._blocks: list[np.ndarray] = []
        self._starts: list[int] = []
        self._firsts: list[float] = []
        self._fill = 0
        self._n = 0
        self._width = _NBASE  # _NCOL from the first attention row on
        self._last_row_t = float("-inf")

    def _install(self, block: np.ndarray, n: int) -> None:
        """The log's rows: the first ``n`` of ``block`` (``(columns, rows)``, a block's layout), for
        a new log, not yet shared. ``block`` is the log's own from now on, its rows after ``n`` free
        for the next ones."""
        self._new_rows()
        self._width = len(block)
        if n:
            self._blocks, self._starts, self._firsts = [block], [0], [float(block[0, 0])]
            self._fill = self._n = n
            self._last_row_t = float(block[0, n - 1])

    def _append(self, new: np.ndarray) -> None:
        """Add ``new`` (rows of _NCOL values) in the log's width, in blocks (lock held)."""
        width, done = self._width, 0
        while done < len(new):
            blocks = self._blocks
            if not blocks or self._fill == blocks[-1].shape[1] or len(blocks[-1]) != width:
                if blocks and self._fill < blocks[-1].shape[1]:  # sealed as it is: never widened in place
                    blocks[-1] = blocks[-1][:, :self._fill]
                size = max(1, min(_BLOCK_ROWS, max(_FIRST_BLOCK_ROWS, self._n), self.max_rows - self._n))
                blocks.append(np.empty((width, size), np.float64))  # its pages are touched as it fills
                self._starts.append(self._n)
                self._firsts.append(float(new[done, 0]))
                self._fill = 0
            block = blocks[-1]
            k = min(len(new) - done, block.shape[1] - self._fill)
            block[:, self._fill:self._fill + k] = new[done:done + k, :width].T
            self._fill += k
            self._n += k
            done += k

    def _views(self, start: int = 0, stop: int | None = None) -> list[np.ndarray]:
        """Rows ``start`` to ``stop`` (the end: None) as views of the blocks, ``(columns, rows)``
        (lock held). Rows once logged never change, so the views may be read after the lock is
        released."""
        stop = self._n if stop is None else min(stop, self._n)
        if start >= stop:
            return []
        out = []
        for j in range(bisect_right(self._starts, start) - 1, len(self._blocks)):
            first = self._starts[j]
            if first >= stop:
                break
            block = self._blocks[j] if j < len(self._blocks) - 1 else self._blocks[j][:, :self._fill]
            out.append(block[:, max(start - first, 0):stop - first])
        return out

    def _search(self, t: float, side: str = "left") -> int:
        """The number of the first row at ``t`` or later (``side="right"``: later than ``t``), the
        rows being in time order (lock held): in the blocks' first times, then in one block."""
        find = bisect_left if side == "left" else bisect_right
        j = find(self._firsts, t) - 1  # the block before the first that starts at (after) t
        if j < 0:
            return 0
        block = self._blocks[j] if j < len(self._blocks) - 1 else self._blocks[j][:, :self._fill]
        return self._starts[j] + int(np.searchsorted(block[0], t, side=side))  # type: ignore[call-overload]

    @property
    def nbytes(self) -> int:
        """The bytes allocated for the rows (the blocks', filled or not)."""
        with self._lock:
            return sum((b if b.base is None else b.base).nbytes for b in self._blocks)

    # -- writing -------------------------------------------------------------------------
    def add_frame(self, t: float, faces: Iterable, model: str = "") -> None:
        """Log one analysed frame at time ``t`` (seconds): every face in it, or none.

        ``faces``: objects with ``face_id``, ``box`` and ``probabilities`` (e.g.
        ``TrackedFace``; their attention fields too when measured), or
        ``(face_id, box, probabilities)`` tuples. ``model``: the model that analysed it
        (``fer_core.recognizer.model_label``), kept in :attr:`models` for the report.
        """
        rows = []
        for f in faces:
            if isinstance(f, tuple):
                fid, box, probs = f
                extra = _NAN_ATTENTION
            else:
                fid, box, probs = f.face_id, f.box, f.probabilities
                extra = _attention_values(f)
            rows.append((float(t), float(fid), *map(float, box), *map(float, probs), *extra))
        with self._lock:
            if model and model not in self._models:
                self._models.append(model)
            if self._first_t is None:
                self._first_t = float(t)
            if self._resuming:
                self._open = float(t) if self._resume_at is None else min(float(t), self._resume_at)
                self._resuming, self._resume_at = False, None
            self._frames += 1
            self._last_t = max(self._last_t, float(t))
            self._version += 1
            if not rows:
                return
            room = self.max_rows - self._n
            if room < len(rows):
                self._truncated = True
                rows = rows[:max(room, 0)]
                if not rows:
                    return
            if float(t) < self._last_row_t:
                self._sorted = False
            self._last_row_t = float(t)
            new = np.asarray(rows, np.float64)
            if self._width == _NBASE and np.isfinite(new[:, _NBASE:]).any():
                self._width = _NCOL  # the first row with attention: the blocks from here on have its columns
            self._append(new)

    def resume(self, *, stream: bool = True, at: float | None = None) -> None:
        """The analysis paused after the last frame (a live stream stopped) and the next frame
        goes on after the pause, at the same clock: the log so far is one stretch, from its first
        frame to its last, and the next frame starts another. With two stretches or more,
        :attr:`parts` lists them and the summary's :attr:`~SessionSummary.analysed_s` counts
        their time, not the pauses'. Nothing to do twice in a row.

        Before the first frame (a live session whose clock started with a moment named before its
        stream), the time from :attr:`start_s` to the first frame is a pause too: the log's first
        stretch starts at that frame, and :attr:`parts` lists it alone if it is the only one
        (:data:`LEAD_S`).

        ``stream=False``: the pause is a stretch of a video that could not be decoded (damaged,
        ``fer_core.video``; :meth:`add_damaged` says where), not a live stream stopped: the
        stretches are parts of the video (:attr:`streams` stays False). ``at``: the next stretch
        starts there, not at its first frame (a video's: the time of the analysis's grid that frame
        stands for, as a part of a video analysed from a chosen time starts there, so that the
        frames of the stretch are found again from it: ``fer_core.review``)."""
        with self._lock:
            if self._resuming:
                return
            self._resume_at = None if at is None else float(at)
            if self._first_t is None:
                self._resuming = True
                self._streams = self._streams or stream
                self._version += 1
                return
            if self._open is not None:
                self._parts.append((self._open, float(self._last_t)))
            elif not self._parts:
                self._parts = [(self._first_t, float(self._last_t))]
            else:  # a log joined from parts or read back with them: not one to split further
                return
            self._open, self._resuming = None, True
            self._streams = self._streams or stream
            self._version += 1

    def add_damaged(self, start_s: float, end_s: float, *, cut_short: bool = False) -> None:
        r"""A stretch of the video, ``start_s`` to ``end_s`` seconds, that could not be decoded
        (``fer_core.video``: a garbled middle, or the end of a file cut short). Kept in its CSV
        and in :attr:`damaged`; the analysis :meth:`resume`\ s its log after one between frames, so
        that the time analysed leaves it out. ``cut_short``: the stretch is the end of a file cut short
        (an unfinished download), which breaks off at ``start_s`` (:attr:`cut_short`), not one garbled.
        ValueError for a stretch that is not one."""
        a, b = float(start_s), float(end_s)
        if not (np.isfinite(a) and np.isfinite(b) and 0 <= a <= b):
            raise ValueError("a damaged stretch runs from a time >= 0 to one not before it")
        with self._lock:
            self._damaged = _merged([*self._damaged, (a, b)])[:MAX_DAMAGED]
            if cut_short:
                self._cut_short = a if self._cut_short is None else min(self._cut_short, a)
            self._version += 1

    def _all_parts(self) -> tuple[tuple[float, float], ...]:
        """The parts (lock held): a joined log's, or the stretches of a resumed one, the current
        included; none for a log of one stretch, unless it is a live stream that started after the
        log's clock (:meth:`resume` before the first frame)."""
        parts = self._parts + ([(self._open, float(self._last_t))] if self._open is not None else [])
        late = _late_start(parts, self.start_s, self._streams or bool(self._damaged))
        return tuple(parts) if len(parts) >= 2 or late else ()

    def add_set_aside(self, t: float, boxes: Iterable[Sequence[float]]) -> None:
        """Keep the ``(x, y, w, h)`` boxes that the analysis of the frame at ``t`` found but did
        not count as faces (``Recognizer.analyze(set_aside=...)``), for pixelating them in a
        copy to share. Bounded by ``max_rows`` like the face rows."""
        new = [(float(t), int(b[0]), int(b[1]), int(b[2]), int(b[3])) for b in boxes]
        if not new:
            return
        with self._lock:
            room = self.max_rows - len(self._aside)
            self._aside.extend(new[:max(room, 0)])
            self._version += 1

    def add_marker(self, t: float, text: str) -> bool:
        """Name the moment ``t`` (seconds, the rows' clock). The text is put on one line and
        cut to :data:`MARKER_CHARS`; returns False (and adds nothing) for an empty text or
        once the log holds :data:`MAX_MARKERS`."""
        text = textcut.head(" ".join(str(text).split()), MARKER_CHARS)  # a flag or an accent kept whole
        if not text or not np.isfinite(t):
            return False
        with self._lock:
            if len(self._markers) >= MAX_MARKERS:
                return False
            self._markers.append((max(0.0, float(t)), text))
            self._markers.sort(key=lambda m: m[0])
            self._version += 1
        return True

    def clear(self) -> None:
        with self._lock:
            self._models = []
            self._markers = []
            self._aside = []
            self._parts = []
            self._first_t = self._open = None
            self._resuming = self._streams = False
            self._resume_at = None
            self._damaged = []
            self._cut_short = None
            self._new_rows()  # no attention columns, no blocks kept
            self._sorted = True
            self._counts, self._counted = np.zeros(len(LABELS), np.int64), 0
            self._frames = 0
            self._last_t = self.start_s
            self._truncated = False
            self._version += 1
            self.started_at = datetime.now(UTC)

    # -- reading -------------------------------------------------------------------------
    def __len__(self) -> int:
        with self._lock:
            return self._n

    @property
    def models(self) -> tuple[str, ...]:
        """The models that analysed the logged frames, in the order they were first used (empty
        when not known: a CSV written before logs named them, or a log without a ``model``)."""
        with self._lock:
            return tuple(self._models)

    @property
    def markers(self) -> tuple[tuple[float, str], ...]:
        """The named moments, ``(time_s, text)`` in time order."""
        with self._lock:
            return tuple(self._markers)

    @property
    def set_aside(self) -> BoxRows:
        """The boxes found but not counted as faces, ``(time_s, x, y, w, h)`` rows in time order."""
        with self._lock:
            return BoxRows(np.array(sorted(self._aside), np.float64))

    @property
    def parts(self) -> tuple[tuple[float, float], ...]:
        """The ``(start_s, end_s)`` parts of a video this log was joined from, or the streams of
        a live session stopped and started again (:meth:`resume`), in time order; empty for a
        log of one stretch (a live session streamed once, a whole video or one part)."""
        with self._lock:
            return self._all_parts()

    @property
    def streams(self) -> bool:
        """Its :attr:`parts` are the streams of a live session stopped and started again, not
        parts of a video: kept through its CSV (:data:`STREAM_TEXT`)."""
        with self._lock:
            return self._streams and bool(self._all_parts())

    @property
    def damaged(self) -> tuple[tuple[float, float], ...]:
        """The ``(start_s, end_s)`` stretches of a damaged video that could not be decoded, in time
        order (:meth:`add_damaged`); empty for a whole one, a live session or a log that does not say."""
        with self._lock:
            return tuple(self._damaged)

    @property
    def cut_short(self) -> float | None:
        """Where a file cut short (an unfinished download or copy) breaks off: the start of the last of
        its :attr:`damaged` stretches, the rest up to the length its header gives; None for a file whole
        to its end, or whose end is damaged (garbled), not missing."""
        with self._lock:
            return self._cut_short

    @property
    def version(self) -> int:
        """Changes whenever the log changes (cheap to poll)."""
        with self._lock:
            return self._version

    @property
    def truncated(self) -> bool:
        return self._truncated

    @property
    def end_s(self) -> float:
        """Where the analysis ended (:attr:`SessionSummary.end_s`): its last analysed frame, with a face or
        not; without :meth:`summary`'s count of the face numbers (27-50 ms at a million rows)."""
        with self._lock:
            return float(self._last_t)

    @property
    def analysed_s(self) -> float:
        """The time the analysis covered (:attr:`SessionSummary.analysed_s`: its parts' or streams' time, not
        the pauses between them), without :meth:`summary`'s count of the face numbers, for a caption that
        needs the pace of the log alone (``fer_app.uploads.log_fits``)."""
        with self._lock:
            parts = self._all_parts()
            return sum(b - a for a, b in parts) if parts else float(self._last_t) - self.start_s

    def summary(self) -> SessionSummary:
        with self._lock:
            views = self._views()
            summary = SessionSummary(rows=self._n, faces=0, frames=self._frames,
                                     duration_s=float(self._last_t) - self.start_s, truncated=self._truncated,
                                     start_s=self.start_s, parts=self._all_parts())
        # The face numbers counted after the lock is released (sorting a million took 34-56 ms).
        ids = np.unique(np.concatenate([np.unique(v[1]) for v in views])) if views else ()
        return dataclasses.replace(summary, faces=len(ids))

    def to_frame(self, last_s: float | None = None, *, between: tuple[float, float] | None = None) -> pd.DataFrame:
        """The log as a DataFrame: ``COLUMNS`` plus ``label`` and ``confidence``, and
        ``attrs`` ``start_s``, ``end_s``, ``frames`` and ``set_aside`` (see :func:`log_start`,
        :func:`log_end`, :func:`log_set_aside`). ``last_s``: only the rows of the last that many
        seconds, up to the log's end (the attrs are the whole log's), for views of the end of a
        long log: a million rows take seconds to convert whole. ``between``: only the rows from
        ``a`` to ``b`` seconds, both included, for one moment of a long log."""
        lo, hi = (-np.inf, np.inf) if between is None else (float(between[0]), float(between[1]))
        with self._lock:
            if last_s is not None:
                lo = max(lo, float(self._last_t) - last_s)
            # In time order (a live session's, a video's, a log read back), the rows wanted are
            # found by a binary search: the live page's readout, twice a second, wants the last
            # 10 s only (comparing every row's time took 11 ms at a million rows).
            in_order = self._sorted
            if in_order:
                views = self._views(self._search(lo) if lo > -np.inf else 0,
                                    self._search(hi, "right") if hi < np.inf else None)
            else:
                views = self._views()
            width = self._width
            attrs = {"start_s": self.start_s, "end_s": float(self._last_t), "frames": self._frames,
                     "set_aside": BoxRows(np.array(sorted(self._aside), np.float64)),
                     "parts": self._all_parts(), "streams": self._streams, "models": tuple(self._models),
                     "damaged": tuple(self._damaged), "cut_short": self._cut_short}
        # Copied after the lock is released: a million rows took 30-60 ms to copy, with the frame
        # callback's next row waiting.
        if not in_order and (lo > -np.inf or hi < np.inf):
            views = [v[:, (v[0] >= lo) & (v[0] <= hi)] for v in views]
        df = _frame_from_array(_stacked(views, width))
        df.attrs.update(attrs)
        return df

    def to_csv(self) -> bytes:
        return log_to_csv(self.to_frame(), self.markers)  # its models are in the frame's attrs

    def label_counts(self) -> pd.Series:
        """:func:`label_counts` of the whole log, straight from its rows (no DataFrame). Counted
        as the log grows: each call reads only the rows added since the one before (the live page
        asks every 2 s; counting the whole log took 44 ms at a million rows, with the log locked
        against the frame callback's next row)."""
        with self._lock:
            for rows in self._views(self._counted):
                top = rows[_LABEL_SLICE].argmax(axis=0)
                self._counts = self._counts + np.bincount(top, minlength=len(LABELS))
            self._counted = self._n
            counts = self._counts.copy()  # a Series may share its array (pandas 2): the running counts stay ours
        return pd.Series(counts, index=list(LABELS), name="count")

    @classmethod
    def from_frame(cls, df: pd.DataFrame, source: str = "") -> SessionLog:
        missing = [c for c in COLUMNS if c not in df.columns]
        if missing:
            raise LogFormatError(f"not a session log: missing columns {', '.join(missing)}")
        markers: list[tuple[float, str]] = []
        ids = pd.to_numeric(df["face_id"], errors="coerce")
        if "marker" in df.columns:
            is_marker = (ids == MARKER_ID).to_numpy() & df["marker"].notna().to_numpy()
            times = pd.to_numeric(df.loc[is_marker, "time_s"], errors="coerce")
            markers = [(float(t), csvtext.unescape(str(m))) for t, m in zip(times, df.loc[is_marker, "marker"])
                       if np.isfinite(t)]
        else:
            is_marker = np.zeros(len(df), bool)
        # Every kind of row is picked out of the whole frame, and the face rows are copied once, a
        # column at a time, into the log's buffer: the frame copied per kind of row, then converted,
        # stacked and sorted in whole copies, took 4 times the log's own size at its peak.
        is_start = (ids == START_ID).to_numpy()
        starts = pd.to_numeric(df.loc[is_start, "time_s"], errors="coerce").to_numpy(np.float64)
        starts = starts[np.isfinite(starts) & (starts >= 0)]
        is_end = (ids == END_ID).to_numpy()
        ends = pd.to_numeric(df.loc[is_end, "time_s"], errors="coerce").to_numpy(np.float64)
        ends = ends[np.isfinite(ends) & (ends >= 0)]
        counts = [int(m.group(1)) for text in _texts(df, is_end) if (m := _END_FRAMES.search(text))]
        is_aside = (ids == SET_ASIDE_ID).to_numpy()
        aside = df.loc[is_aside, ["time_s", *BOX_COLUMNS]].apply(pd.to_numeric, errors="coerce").to_numpy(np.float64)
        # A box that cannot be drawn (edited, damaged) is left out; it could not be pixelated anyway.
        aside = aside[np.isfinite(aside).all(axis=1) & (aside[:, 0] >= 0) & (aside[:, 3] > 0) & (aside[:, 4] > 0)]
        is_part = (ids == PART_ID).to_numpy()
        is_damaged = (ids == DAMAGED_ID).to_numpy()
        is_model = (ids == MODEL_ID).to_numpy()
        # Nor a row with every cell empty: one cleared in a spreadsheet, or a blank line it saved again.
        faces = ~(is_marker | is_start | is_end | is_aside | is_part | is_model | is_damaged
                  | (ids.isna() & df.isna().all(axis=1)).to_numpy())
        attention = [c for c in ATTENTION_COLUMNS if c in df.columns]

        def column(name: str) -> np.ndarray:
            return pd.to_numeric(df[name], errors="coerce").to_numpy(np.float64)[faces]

        # The face rows go straight into the log's buffer, in time order, one column at a time.
        face_times = column("time_s")
        order = np.argsort(face_times, kind="stable")
        n = len(order)
        buf = np.full((_NBASE + (len(ATTENTION_COLUMNS) if attention else 0), max(n, 1024)), np.nan)  # a block
        for j, c in enumerate(COLUMNS):
            buf[j, :n] = (face_times if j == 0 else column(c))[order]
        if n and not np.isfinite(buf[:_NBASE, :n]).all():
            raise LogFormatError("not a session log: some values are not numbers")
        times = [*starts, *ends, *(abs(t) for t, _ in markers), *aside[:, 0],
                 float(np.abs(face_times).max()) if n else 0.0]
        latest = max(times)
        if latest > MAX_LOG_S:
            raise LogFormatError(f"not a session log: it has a time of {latest:.3g} s, and a log covers at most "
                                 f"{MAX_LOG_S / 86400:.0f} days")
        if attention:
            for j, c in enumerate(ATTENTION_COLUMNS, start=_NBASE):
                if c in attention:
                    buf[j, :n] = column(c)[order]
            if not np.isfinite(buf[_NBASE:, :n]).any():
                buf = np.ascontiguousarray(buf[:_NBASE])  # attention columns, all empty: none
        start_s = float(starts.min()) if len(starts) else log_start(df)
        if n:  # a face before the start row (a CSV edited by hand) moves the start; never below 0
            start_s = max(0.0, min(start_s, float(buf[0, 0])))  # the first row's time
        log = cls(max_rows=max(n, 1024), source=source, start_s=start_s)
        log.started_at = None  # the CSV does not say when; not the time it was read
        if n:
            log._install(buf, n)
            log._frames = int(len(np.unique(buf[0, :n])))
            log._last_t = max(start_s, float(buf[0, n - 1]))
        # The end row: frames without faces, which have no rows of their own, and where it ended.
        log._last_t = max([log._last_t, *ends])
        log._frames = max([log._frames, *(c for c in counts if c <= MAX_END_FRAMES)])
        for t, text in markers[:MAX_MARKERS]:
            log.add_marker(t, text)
        log._aside = [(float(r[0]), int(r[1]), int(r[2]), int(r[3]), int(r[4])) for r in aside]
        log._damaged = _read_damaged(_texts(df, is_damaged))  # before the parts: a damaged start makes one
        log._cut_short = _read_cut_short(_texts(df, is_damaged), log._damaged)
        log._parts, log._streams = _read_parts(_texts(df, is_part), log)
        log._models = list(dict.fromkeys(csvtext.unescape(m.group(1)) for text in _texts(df, is_model)
                                         if (m := _MODEL_NAME.match(text))))[:MAX_MODELS]
        return log

    @classmethod
    def join(cls, parts: Sequence[SessionLog], source: str = "") -> SessionLog:
        """One log of a recording analysed in parts (the Video file page's *Analyse from* and
        *to*), in time order: every part's rows, frames, markers and models (none when a part
        names none), and the first part's start.

        Tracking starts afresh in every part, so a face cannot be followed from one part into
        the next: each part's face numbers continue after the largest number of the parts
        before it. ValueError when two parts overlap in time (a part analysed twice, or logs
        of different sessions: the Compare page puts those side by side).
        """
        if not parts:
            raise ValueError("no logs to join")
        summaries = sorted(((p.summary(), p) for p in parts), key=lambda sp: (sp[0].start_s, sp[0].end_s))
        ordered = [p for _, p in summaries]
        for (a, _), (b, _) in zip(summaries, summaries[1:]):
            if a.end_s > b.start_s + 1e-6:
                raise ValueError(f"two of the logs overlap: one runs from {format_time(a.start_s)} to "
                                 f"{format_time(a.end_s)}, another starts at {format_time(b.start_s)}")
        arrays, offset = [], 0.0
        for p in ordered:
            with p._lock:
                views, width = p._views(), p._width
            data = _stacked(views, width).T  # as a block: a row of values per column
            if data.shape[1]:
                data[1] += offset
                offset = float(data[1].max())
            arrays.append(data)
        width = max(len(a) for a in arrays)
        block = np.hstack([np.vstack([a, np.full((width - len(a), a.shape[1]), np.nan)]) for a in arrays])
        log = cls(max_rows=max(block.shape[1], 1024), source=source, start_s=ordered[0].start_s)
        log.started_at = ordered[0].started_at
        log._install(block, block.shape[1])
        log._frames = sum(sp.frames for sp, _ in summaries)
        log._last_t = max(sp.end_s for sp, _ in summaries)
        log._truncated = any(p.truncated for p in ordered)
        log._sorted = all(p._sorted for p in ordered)  # the parts do not overlap: in order if each is
        # A part that names no model (a CSV written before logs kept it) may have had any: then
        # the joined log names none, rather than the other parts' for all of it.
        if all(p.models for p in ordered):
            log._models = list(dict.fromkeys(m for p in ordered for m in p.models))
        for t, text in dict.fromkeys(m for p in ordered for m in p.markers):
            log.add_marker(t, text)
        log._aside = [(float(r[0]), int(r[1]), int(r[2]), int(r[3]), int(r[4]))
                      for p in ordered for r in p.set_aside.rows]
        log._parts = [span for sp, p in summaries for span in (p.parts or [(sp.start_s, sp.end_s)])]
        log._damaged = _merged([span for p in ordered for span in p.damaged])[:MAX_DAMAGED]
        log._cut_short = min((c for p in ordered if (c := p.cut_short) is not None), default=None)
        if len(log._parts) < 2 and not _late_start(log._parts, log.start_s, bool(log._damaged)):
            log._parts = []
        return log

    @classmethod
    def from_csv(cls, data: bytes | str, source: str = "", max_unpacked: int = MAX_UNPACKED_BYTES) -> SessionLog:
        """Load a CSV written by :meth:`to_csv`; :class:`LogFormatError` if it is not one.

        Also as a spreadsheet saves it again: cells separated by semicolons or tabs, decimal
        commas (Excel and LibreOffice in most of Europe), UTF-16 ("Unicode text"); and
        compressed (:func:`unpack_log`: gzip, or a zip archive of one CSV), unpacked up to
        ``max_unpacked`` bytes."""
        if isinstance(data, bytes):
            data = unpack_log(data, max_unpacked)
        if isinstance(data, bytes) and data[:2] in (b"\xff\xfe", b"\xfe\xff"):
            data = data.decode("utf-16", errors="replace")  # a spreadsheet's "Unicode text"
        sep, columns = _header_columns(data)
        if columns > MAX_CSV_COLUMNS:
            # pandas would build every column first: a 10 MB header of a million fields took 2.6 GB.
            raise LogFormatError(f"not a session log: {columns:,} columns (a log has at most "
                                 f"{len(_CSV_COLUMNS)})")
        # Bytes are parsed as they are: decoded into a str first, then into StringIO's buffer of 4
        # bytes a character, a 32 MB log (90 minutes of 30 faces) took 250 MB more to read.
        # Not UTF-8: Excel's "CSV (Comma delimited)" saves in Windows' legacy code page, where
        # a moment named "café" read "caf\ufffd".
        for encoding, errors in (("utf-8", "strict"), ("cp1252", "replace")):
            source_io = io.BytesIO(data) if isinstance(data, bytes) else io.StringIO(data)
            try:
                # Only empty fields are missing: a marker may read "NA" or "null". Columns a log
                # does not have (added by hand) are not read, nor its label and confidence. A
                # spreadsheet that separates cells by semicolons or tabs writes decimal commas.
                df = pd.read_csv(source_io, sep=sep, decimal="." if sep == "," else ",", dtype={"marker": str},
                                 keep_default_na=False, na_values=[""], usecols=lambda c: c in _READ_COLUMNS,
                                 encoding=encoding, encoding_errors=errors)
                break
            except UnicodeDecodeError:
                continue
            except (pd.errors.ParserError, pd.errors.EmptyDataError) as e:
                raise LogFormatError(f"not a readable CSV file: {e}") from None
        for c in df.columns:
            if c not in ("label", "marker") and not pd.api.types.is_numeric_dtype(df[c]):
                # Numbers read as text: decimal commas between commas (quoted), or decimal points
                # between semicolons. Never so in a log this app wrote.
                df[c] = df[c].str.replace(",", ".", regex=False)
        del data, source_io  # the CSV a compressed log unpacked to: not held while its rows are copied
        return cls.from_frame(df, source=source)


def _texts(df: pd.DataFrame, rows: np.ndarray) -> list[str]:
    """The ``marker`` texts of a CSV's ``rows`` (a mask), as strings; none without the column."""
    return [str(text) for text in df.loc[rows, "marker"]] if "marker" in df.columns else []


def unpack_log(data: bytes, max_bytes: int = MAX_UNPACKED_BYTES) -> bytes:
    """The CSV of a compressed log: ``data`` gzipped (a ``.csv.gz``), or a zip archive holding one
    CSV (a ``.zip``, as Windows' *Compressed folder* and macOS' *Compress* make it); other bytes as
    they are. :class:`LogFormatError` for a damaged archive, one with no CSV or several, and one
    whose CSV unpacks to more than ``max_bytes``: it is unpacked no further than that."""
    try:
        if data[:2] == _GZIP_MAGIC:
            with gzip.GzipFile(fileobj=io.BytesIO(data)) as gz:
                out = gz.read(max_bytes + 1)
        elif data[:4] in _ZIP_MAGIC:
            with zipfile.ZipFile(io.BytesIO(data)) as z:
                # Not the folders, nor the resource forks macOS' Compress adds (__MACOSX/._NAME).
                names = [i for i in z.infolist() if not i.is_dir() and not i.filename.startswith("__MACOSX/")]
                if len(names) != 1:
                    raise LogFormatError(f"not a session log: the zip archive holds {len(names)} files, "
                                         "and a log's holds one CSV")
                with z.open(names[0]) as member:
                    out = member.read(max_bytes + 1)
        else:
            return data
    except LogFormatError:
        raise
    except (OSError, EOFError, ValueError, zlib.error, zipfile.BadZipFile, NotImplementedError, RuntimeError) as e:
        # Damaged or cut short (a zip's offsets damaged: ValueError, "negative seek value"), an
        # unknown compression, a password (RuntimeError).
        raise LogFormatError(f"not a readable compressed file: {e}") from None
    if len(out) > max_bytes:
        raise LogFormatError(f"it unpacks to more than {max_bytes / 2**20:,.0f} MB of CSV, and a log this app "
                             "writes is at most about 125 MB (a million observations): not read")
    return out


def _header_columns(data: bytes | str) -> tuple[str, int]:
    """The separator of a CSV's cells and how many columns its header has, at most (its first
    line with anything on it, as pandas takes it), without parsing it: a log's header has no
    quotes but a spreadsheet's may, so separators are counted; a header with a quoted field over
    several lines counts as too many to read. The separator is the comma, or a semicolon or tab
    where the header has more of them (a spreadsheet's)."""
    for raw in io.BytesIO(data) if isinstance(data, bytes) else io.StringIO(data):
        line = raw.decode("utf-8", errors="replace") if isinstance(raw, bytes) else raw
        if line.strip():
            sep = max(_SEPARATORS, key=line.count)
            return sep, line.count(sep) + 1 if line.count('"') % 2 == 0 else MAX_CSV_COLUMNS + 1
    return ",", 0


def _stacked(views: Sequence[np.ndarray], width: int) -> np.ndarray:
    """A new array of the rows of ``views`` (blocks of a log, or parts of them, ``(columns,
    rows)``), as ``(rows, width)``: empty (NaN) attention columns for rows of blocks without them.
    Column by column in memory (Fortran order), as the blocks and a DataFrame keep them: the
    DataFrame takes it as it is, where it copied rows into columns (twice the frame at the peak)."""
    out = np.empty((width, sum(v.shape[1] for v in views)), np.float64)
    at = 0
    for v in views:
        k = v.shape[1]
        out[:len(v), at:at + k] = v
        out[len(v):, at:at + k] = np.nan
        at += k
    return out.T


def _frame_from_array(data: np.ndarray) -> pd.DataFrame:
    """The DataFrame of _NBASE (no attention logged) or _NCOL columns of log rows. ``data`` is a
    new array, the frame's own from now on (pandas copied it again: twice the frame at the peak)."""
    df = pd.DataFrame(data, columns=list(COLUMNS) if data.shape[1] == _NBASE else [*COLUMNS, *ATTENTION_COLUMNS],
                      copy=False)
    df["face_id"] = df["face_id"].astype(int)
    for c in BOX_COLUMNS:
        df[c] = df[c].astype(int)
    probs = df[list(LABELS)].to_numpy()
    df["label"] = [LABELS[k] for k in probs.argmax(axis=1)] if len(df) else pd.Series(dtype=str)
    df["confidence"] = probs.max(axis=1) if len(df) else pd.Series(dtype=float)
    return df


def empty_frame() -> pd.DataFrame:
    return _frame_from_array(np.zeros((0, _NBASE)))


def log_start(df: pd.DataFrame) -> float:
    """Where the analysis behind a log's DataFrame began (``attrs["start_s"]``, set by
    :meth:`SessionLog.to_frame`): 0 for a live session, a whole video or a frame without it."""
    start = df.attrs.get("start_s", 0.0)
    return float(start) if isinstance(start, (int, float)) and np.isfinite(start) else 0.0


def log_end(df: pd.DataFrame) -> float:
    """Where the analysis behind a log's DataFrame ended: its last analysed frame, with a face
    or not (``attrs["end_s"]``, set by :meth:`SessionLog.to_frame`); for a DataFrame without it,
    its last row's time, or its start when it has no rows. Never before either of those."""
    last = float(df["time_s"].max()) if len(df) and "time_s" in df.columns else log_start(df)
    end = df.attrs.get("end_s", last)
    return max(float(end), last, log_start(df)) if isinstance(end, (int, float)) and np.isfinite(end) \
        else max(last, log_start(df))


def log_set_aside(df: pd.DataFrame) -> np.ndarray:
    """The boxes a log's DataFrame holds that were found but not counted as faces
    (``attrs["set_aside"]``, set by :meth:`SessionLog.to_frame`): an ``(n, 5)`` array of
    ``time_s, x, y, w, h`` rows, empty when there are none or the frame has no such attribute."""
    rows = df.attrs.get("set_aside")
    if rows is None:
        return np.zeros((0, 5))
    try:
        arr = rows.rows if isinstance(rows, BoxRows) else np.asarray(rows, np.float64).reshape(-1, 5)
    except (TypeError, ValueError):
        return np.zeros((0, 5))
    return arr[np.isfinite(arr).all(axis=1)]


def _late_start(parts: Sequence[tuple[float, float]], start_s: float, paused: bool) -> bool:
    """Whether ``parts`` are one stretch that started after its log's start (``start_s``) and the
    log says why (``paused``): a live stream (:attr:`SessionLog.streams`), or the frames of a damaged
    video after its start could not be decoded (:attr:`SessionLog.damaged`). The time before it was
    not analysed, so the stretch counts as a part of its own. (A video's log joined from parts lists
    them only when they are two or more.)"""
    return paused and len(parts) == 1 and parts[0][0] > start_s + LEAD_S


def _read_parts(texts: Sequence[str], log: SessionLog) -> tuple[list[tuple[float, float]], bool]:
    """The parts a CSV's PART_ID rows give, if they make sense for its log: at least two (or one
    live stream that starts after the log's start, :meth:`SessionLog.resume`), each
    ending at or after its start, in time order without overlap, and every face row inside one
    (so no analysed frame is ever left out of a copy). Otherwise none: the log is one stretch.
    And whether they are live streams (:data:`STREAM_TEXT`) rather than parts of a video."""
    parts = sorted((float(m.group(1)), float(m.group(2))) for text in texts if (m := _PART_SPAN.search(text)))
    streams = bool(texts) and all(text.startswith(STREAM_TEXT.split(":")[0]) for text in texts)
    if ((len(parts) < 2 and not _late_start(parts, log.start_s, streams or bool(log._damaged)))
            or any(b < a or b > MAX_LOG_S for a, b in parts)
            or any(b1 > a2 for (_, b1), (a2, _) in zip(parts, parts[1:]))):
        return [], False
    times = np.concatenate([v[0] for v in log._views()]) if len(log) else np.zeros(0)
    inside = np.zeros(len(times), bool)
    for a, b in parts:
        inside |= (times >= a - 1e-3) & (times <= b + 1e-3)
    if not inside.all():
        return [], False
    return parts, streams


def _read_damaged(texts: Sequence[str]) -> list[tuple[float, float]]:
    """The damaged stretches a CSV's DAMAGED_ID rows give, in time order; a stretch that is not one
    (its end before its start), or past the times a log may hold, is left out (an edited file)."""
    spans = ((float(m.group(1)), float(m.group(2))) for text in texts if (m := _PART_SPAN.search(text)))
    return _merged([(a, b) for a, b in spans if a <= b <= MAX_LOG_S])[:MAX_DAMAGED]


def _read_cut_short(texts: Sequence[str], damaged: Sequence[tuple[float, float]]) -> float | None:
    """Where a CSV's cut-short row (:data:`CUT_SHORT_TEXT`) says its file breaks off, if that is in one of
    its ``damaged`` stretches (:func:`_read_damaged`); None without one."""
    head = CUT_SHORT_TEXT.split(",")[0]
    starts = [float(m.group(1)) for text in texts if text.startswith(head) and (m := _PART_SPAN.search(text))]
    return min((t for t in starts if any(a - LEAD_S <= t <= b for a, b in damaged)), default=None)


def _merged(spans: Iterable[tuple[float, float]]) -> list[tuple[float, float]]:
    """``(start, end)`` spans in time order, those that overlap or touch as one (two parts of a video
    analysed one after the other each keep their share of a damaged stretch that runs across them)."""
    out: list[tuple[float, float]] = []
    for a, b in sorted(spans):
        if out and a <= out[-1][1] + LEAD_S:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


def log_parts(df: pd.DataFrame) -> list[tuple[float, float]]:
    """The ``(start_s, end_s)`` parts a log's DataFrame was joined from, or its live streams
    (``attrs["parts"]``, set by :meth:`SessionLog.to_frame`); empty for a log of one stretch (but
    for a live stream that started after the log's clock: :meth:`SessionLog.resume`)."""
    parts = df.attrs.get("parts", ())
    try:
        return [(float(a), float(b)) for a, b in parts]
    except (TypeError, ValueError):
        return []


def unanalysed(df: pd.DataFrame) -> list[tuple[float, float]]:
    """The ``(start_s, end_s)`` spans between a log's parts (:func:`log_parts`), where nothing was
    analysed: a live stream stopped or without a picture, a video's time between the parts
    analysed, or a stretch of a damaged video that could not be decoded. The charts over time shade
    them: a face seen on both sides was not seen there, nor was anybody found missing. A video's
    parts that follow on (the next part from the frame after the last one analysed: about one step
    of :func:`sample_step` apart, a frame time off the step's grid by less than half a step) leave
    no span: no frame between them went unanalysed. A live log's streams always do (STOP and START,
    or no picture for a while), and so does the time before its first stream when its clock started
    earlier, with a moment named before START; a video's first part, when its start could not be
    decoded. So does the end of a damaged video after the log's last frame, when it could not be
    decoded (:func:`log_damaged`: a file cut short), up to the end the file's header gives."""
    parts, damaged = log_parts(df), log_damaged(df)
    if not parts and not damaged:
        return []
    streams = bool(parts) and bool(df.attrs.get("streams"))
    follow_on = 1.5 * sample_step(df) if not streams else 0.0

    def lost(a: float, b: float, longer: float) -> bool:
        # Longer than parts that follow on, or with a damaged stretch in it: the video's analysis split
        # its log there only where a frame of its grid was lost (fer_core.video), and sample_step, taken
        # from the face rows, is the time between faces found: in a lecture where a face was found in
        # one frame of four (2.0 s at 2 a second), a damaged 2.5 s left out of the time analysed was
        # not shaded.
        return b - a > longer or (b - a > LEAD_S and any(da < b and db > a for da, db in damaged))

    start = log_start(df)
    lead = [(start, parts[0][0])] if parts and lost(start, parts[0][0], max(LEAD_S, follow_on)) else []
    end = log_end(df)
    tail = max((b for a, b in damaged if b > end + max(follow_on, LEAD_S)), default=None)
    return (lead + [(b, a) for (_, b), (a, _) in zip(parts, parts[1:]) if lost(b, a, follow_on)]
            + ([(end, tail)] if tail is not None else []))


def log_damaged(df: pd.DataFrame) -> list[tuple[float, float]]:
    """The ``(start_s, end_s)`` stretches of a damaged video that could not be decoded
    (``attrs["damaged"]``, set by :meth:`SessionLog.to_frame`); empty when none, or not known."""
    try:
        return [(float(a), float(b)) for a, b in df.attrs.get("damaged", ())]
    except (TypeError, ValueError):
        return []


def log_cut_short(df: pd.DataFrame) -> float | None:
    """Where the file behind a log's DataFrame breaks off, cut short (``attrs["cut_short"]``, set by
    :meth:`SessionLog.to_frame`; :attr:`SessionLog.cut_short`); None when it is not, or not known."""
    cut = df.attrs.get("cut_short")
    return float(cut) if isinstance(cut, (int, float)) and np.isfinite(cut) else None


def log_models(df: pd.DataFrame) -> tuple[str, ...]:
    """The expression models that analysed a log's DataFrame (``attrs["models"]``, set by
    :meth:`SessionLog.to_frame`), in the order they were first used; empty when not known."""
    models = df.attrs.get("models", ())
    return tuple(m for m in models if isinstance(m, str) and m) if isinstance(models, (tuple, list)) else ()


def _frames_analysed(df: pd.DataFrame) -> int:
    """The frames analysed for a log's DataFrame (``attrs["frames"]``): never fewer than the
    distinct times of its rows."""
    seen = int(df["time_s"].nunique()) if len(df) and "time_s" in df.columns else 0
    frames = df.attrs.get("frames", seen)
    return max(int(frames), seen) if isinstance(frames, (int, np.integer)) else seen


def log_to_csv(df: pd.DataFrame, markers: Sequence[tuple[float, str]] = ()) -> bytes:
    """CSV bytes with fixed columns and rounded numbers; after the face rows, the boxes set
    aside (:func:`log_set_aside`), ``markers`` as rows of their own, then the parts of a joined
    log and the models that analysed it (:func:`log_models`), then the start row of a
    log of part of a video, then the end row of a log with frames the face rows do not show
    (see the module's docstring)."""
    notes = [(t, text, MARKER_ID) for t, text in markers]
    part_text = STREAM_TEXT if df.attrs.get("streams") else PART_TEXT
    notes += [(a, part_text.format(start=a, end=b), PART_ID) for a, b in log_parts(df)]
    cut = log_cut_short(df)
    for a, b in log_damaged(df):
        if cut is None or not a - LEAD_S <= cut < b:
            notes.append((a, DAMAGED_TEXT.format(start=a, end=b), DAMAGED_ID))
            continue
        if cut > a + LEAD_S:  # garbled up to where the file breaks off: both said, one stretch read back
            notes.append((a, DAMAGED_TEXT.format(start=a, end=cut), DAMAGED_ID))
        notes.append((cut, CUT_SHORT_TEXT.format(start=cut, end=b), DAMAGED_ID))
    notes += [(log_start(df), MODEL_TEXT.format(model=m), MODEL_ID) for m in log_models(df)]
    if log_start(df) > 0:
        notes.append((log_start(df), START_TEXT, START_ID))
    # What the face rows alone would give back (SessionLog.from_frame): their last time and
    # their distinct times. The end row says what they do not.
    last, seen = (float(df["time_s"].max()), int(df["time_s"].nunique())) if len(df) else (log_start(df), 0)
    end, frames = log_end(df), _frames_analysed(df)
    if end > last or frames > seen:
        notes.append((end, END_TEXT.format(frames=frames), END_ID))
    extra = [c for c in ATTENTION_COLUMNS if c in df.columns]
    out = df[list(COLUMNS) + ["label", "confidence"] + extra].copy()
    out["time_s"] = out["time_s"].round(3)
    for c in (*LABELS, "confidence"):
        out[c] = out[c].round(5)
    for c in extra:
        out[c] = out[c].round(2 if c in ("yaw", "pitch", "roll") else 3)
    aside = log_set_aside(df)
    if not notes and not len(aside):
        return out.to_csv(index=False).encode("utf-8")
    out["marker"] = ""
    rows = pd.DataFrame("", index=range(len(aside) + len(notes)), columns=out.columns)
    rows["time_s"] = [round(float(t), 3) for t in aside[:, 0]] + [round(float(t), 3) for t, _, _ in notes]
    rows["face_id"] = [SET_ASIDE_ID] * len(aside) + [face_id for _, _, face_id in notes]
    for j, c in enumerate(BOX_COLUMNS, start=1):
        rows[c] = [int(v) for v in aside[:, j]] + [""] * len(notes)
    # A marker the user named "=SUM(...)" or "-- break" is text to a spreadsheet too (fer_core.csvtext).
    rows["marker"] = [SET_ASIDE_TEXT] * len(aside) + [csvtext.escape(text) for _, text, _ in notes]
    return (out.to_csv(index=False) + rows.to_csv(index=False, header=False)).encode("utf-8")


def format_time(seconds: float) -> str:
    """``m:ss`` (or ``h:mm:ss`` from an hour on) of a time in seconds."""
    whole = int(max(0.0, float(seconds)))
    h, rest = divmod(whole, 3600)
    return f"{h}:{rest // 60:02d}:{rest % 60:02d}" if h else f"{rest // 60}:{rest % 60:02d}"


def length_text(seconds: float) -> str:
    """How long a session or a stretch of it lasted, for people: in seconds under a minute ("12 s",
    "2.5 s"), else in minutes to a tenth ("2.5 min", "90.0 min"). A 12 s clip read "0.2 min"."""
    s = max(0.0, float(seconds))
    whole = math.floor(s + 0.5)  # half up: 16.5 s reads 17 s, not round()'s 16
    if whole >= 60:
        return f"{s / 60:.1f} min"
    return f"{math.floor(s * 10 + 0.5) / 10:g} s" if s < 9.95 else f"{whole} s"


#: The bins over time aim at about this many across a session (:func:`time_bin`).
TIME_BINS = 120


def time_bin(length_s: float, frame_s: float = 0.0, steps: Sequence[float] = (), most: float | None = None) -> float:
    """The time bin (seconds) of the charts over a session ``length_s`` long, analysed a frame every
    ``frame_s`` seconds: about :data:`TIME_BINS` bins, in whole seconds, never shorter than a frame
    (a 12 s clip at 2 frames a second: 0.5 s; an hour: 30 s). ``steps``: the bins a control offers,
    the first of them at least as long (the last when none is); ``most``: at most this long (a
    default that longer sessions keep)."""
    bin_s = max(float(frame_s), float(round(max(float(length_s), 1.0) / TIME_BINS)))
    if steps:
        bin_s = next((float(s) for s in sorted(steps) if s >= bin_s - 1e-9), float(max(steps)))
    if most is not None:
        bin_s = min(bin_s, float(most))
    return bin_s


#: A log's streams or parts are listed one by one up to this many (:func:`parts_text`).
LISTED_PARTS = 6


def parts_text(parts: Sequence[tuple[float, float]], fmt: Callable[[float], str] = format_time,
               most: int = LISTED_PARTS, gaps: Sequence[tuple[float, float]] | None = None) -> str:
    """The ``(start_s, end_s)`` streams or parts of a log (:attr:`SessionLog.parts`) for people:
    "0:00 to 19:59, 30:00 to 59:59"; more than ``most`` from the first start to the last end
    with the three longest times between them, which a list of 40 streams hid in a paragraph.
    ``fmt`` writes a time (the pages' :func:`format_time`, or the report's with tenths).
    ``gaps``: the times not analysed (:func:`unanalysed`), of which those between the parts count;
    by default every time between two parts. A video's parts that follow on have none: a video
    analysed in parts of 7,200 frames read "the longest times between them 4:59 to 5:00, ...",
    one frame apart."""
    spans = ", ".join(f"{fmt(a)} to {fmt(b)}" for a, b in parts)
    if len(parts) <= most:
        return spans
    if gaps is None:
        gaps = [(b, a) for (_, b), (a, _) in zip(parts, parts[1:])]
    between = sorted((g for g in gaps if g[0] >= parts[0][1]), key=lambda g: g[0] - g[1])[:3]
    whole = f"{fmt(parts[0][0])} to {fmt(parts[-1][1])}"
    if not between:
        return f"{whole}, each following on from the one before"
    return f"{whole}, the longest times between them " + ", ".join(f"{fmt(a)} to {fmt(b)}" for a, b in sorted(between))


#: A log's damaged stretches are listed one by one up to this many (:func:`damage_text`).
LISTED_DAMAGE = 4


def damage_text(damaged: Sequence[tuple[float, float]], end_s: float, fmt: Callable[[float], str] = format_time,
                most: int = LISTED_DAMAGE, cut_short: float | None = None) -> str:
    """For people: what of a damaged video could not be decoded (:attr:`SessionLog.damaged`), as a
    sentence without its full stop; "" for none. ``end_s``: where its log ends (:func:`log_end`), after
    which a stretch is the end of what was analysed; ``cut_short``: where the file breaks off, cut short
    as an unfinished download is (:attr:`SessionLog.cut_short`), else None: a stretch after ``end_s`` is
    then damaged (a garbled end, or a part analysed up to a time inside a damaged stretch), which read
    "damaged, or cut short (an unfinished download or copy?)" either way. ``fmt`` writes a time (the
    pages' :func:`format_time`, or the report's with tenths)."""
    inner = [(a, b) for a, b in damaged if a < end_s - LEAD_S]
    after = [(a, b) for a, b in damaged if a >= end_s - LEAD_S and b > end_s]
    said = []
    if inner:
        spans = [f"{fmt(a)} to {fmt(b)}" for a, b in inner[:most]]
        more = len(inner) - len(spans)
        said.append(f"the video could not be decoded from {', '.join(spans)}"
                    + (f" and {more} more stretch{'es' if more != 1 else ''}" if more > 0 else "")
                    + " (damaged): nothing there was analysed")
    if after:
        tail = max(b for _, b in after)
        where = (f"{'nor' if inner else 'the video could not be decoded'} from {fmt(end_s)}, where the analysis "
                 f"ends, to {fmt(tail)}")
        if cut_short is None or not end_s - LEAD_S <= cut_short < tail:
            said.append(f"{where} (damaged)")
        elif cut_short <= min(a for a, _ in after) + LEAD_S:
            said.append(f"{where}: the file is cut short there (an unfinished download or copy?)")
        else:
            said.append(f"{where}: damaged, then the file is cut short from {fmt(cut_short)} (an unfinished "
                        "download or copy?)")
    return "; ".join(said)


def parse_time(text: str) -> float:
    """Seconds of ``"75"``, ``"1:15"``, ``"1:15.5"`` or ``"1:01:15"`` (the inverse of
    :func:`format_time`); ValueError for anything else."""
    bad = ValueError(f"not a time: {text!r} (write seconds, m:ss or h:mm:ss)")
    *upper, last = str(text).strip().split(":")
    try:
        seconds, whole = float(last), [int(p) for p in upper]
    except ValueError:
        raise bad from None
    if len(whole) > 2 or any(v < 0 for v in whole) or not 0 <= seconds < (60 if whole else float("inf")):
        raise bad
    if len(whole) == 2 and whole[1] >= 60:
        raise bad
    return sum(v * 60 ** (len(whole) - i) for i, v in enumerate(whole)) + seconds


def markers_table(markers: Sequence[tuple[float, str]]) -> pd.DataFrame:
    """The markers as a table for the pages and the report: ``time`` (m:ss), ``seconds``, ``marker``.
    The seconds are cut to the tenth as :func:`format_time` cuts to the second: a moment marked
    at 59.96 s read "0:59" beside "60.0"."""
    return pd.DataFrame({"time": [format_time(t) for t, _ in markers],
                         "seconds": [np.floor(max(0.0, float(t)) * 10 + 1e-6) / 10 for t, _ in markers],
                         "marker": [text for _, text in markers]})


# -- analytics --------------------------------------------------------------------------
def expression_mix(df: pd.DataFrame, since_s: float | None = None) -> pd.Series:
    """Mean probability of each expression over the rows (all, or those with time >= since_s).

    The mean of probabilities rather than a count of top labels, so an uncertain face
    counts as uncertain. Sums to 1; all zeros when there are no rows.
    """
    if since_s is not None:
        df = df[df["time_s"] >= since_s]
    if df.empty:
        return pd.Series(0.0, index=list(LABELS))
    return df[list(LABELS)].mean()


def current_mix(df: pd.DataFrame, window_s: float = 10.0) -> pd.Series:
    """Expression mix over the last ``window_s`` seconds of the log, up to its end
    (:func:`log_end`): all zeros when nobody was in view then."""
    if df.empty:
        return expression_mix(df)
    return expression_mix(df, since_s=log_end(df) - window_s)


def label_counts(df: pd.DataFrame) -> pd.Series:
    """How many observations had each expression as their top label (all 7, zeros kept)."""
    return df["label"].value_counts().reindex(list(LABELS), fill_value=0).astype(int)


def most_in_view(df: pd.DataFrame) -> int:
    """The most faces in view at once: the most rows of any one analysed frame (0 without rows).
    1 for a person alone at their laptop, however many face numbers STOP and START gave them."""
    return int(df.groupby("time_s").size().max()) if len(df) else 0


#: Below this probability the model's top expression is read as a guess between expressions.
UNSURE_BELOW = 0.5


def confidence_note(df: pd.DataFrame, counts: str = "the bars of top expressions") -> str:
    """How sure the model was over a log's rows, in plain words, and why its mix (mean
    probabilities) reads lower than the count of top expressions (shown as ``counts``): "How sure
    the model was: its top expression had 64% probability on average, and under 50% in 31% of the
    observations: read those as guesses between expressions. ...". "" without rows. (A person's
    40 minutes read "Neutral 62%" on the mix over time and "Neutral 4,604" of 4,800 on the bars
    beside it, with no word on either.)"""
    if df.empty:
        return ""
    confidence = df[list(LABELS)].to_numpy(np.float64).max(axis=1)
    top = label_counts(df).idxmax()
    shares = (100 * confidence.mean(), 100 * (confidence < UNSURE_BELOW).mean(),
              100 * float((df["label"] == top).mean()), 100 * float(df[top].mean()))
    mean, unsure, counted, mixed = (f"{v:.0f}%" for v in shares)
    return (f"How sure the model was: its top expression had {mean} probability on average, and under "
            f"{UNSURE_BELOW:.0%} in {unsure} of the observations: read those as guesses between expressions. The "
            f"mix charts are mean probabilities, so an unsure reading counts as unsure; {counts} "
            f"count each observation once, under its most probable expression ({top}: {counted} of the "
            f"observations, {mixed} of the mix).")


def binned_mix(df: pd.DataFrame, bin_s: float, *, fill_gaps: bool = False) -> pd.DataFrame:
    """Expression mix per time bin: index = bin start (s), columns = LABELS, rows sum to 1.

    Bins without any face are absent, or with ``fill_gaps`` rows of zeros from the log's
    start (:func:`log_start`) to its end (:func:`log_end`), so a stacked chart drops to 0
    where nobody was in view instead of interpolating across.
    """
    if bin_s <= 0:
        raise ValueError("bin_s must be > 0")
    if df.empty:
        return pd.DataFrame(columns=list(LABELS), dtype=float)
    start = np.round(np.floor(df["time_s"].to_numpy() / bin_s) * bin_s, 6)
    out = df[list(LABELS)].groupby(start).mean()
    if fill_gaps:
        first = np.floor(log_start(df) / bin_s) * bin_s
        last = max(out.index.max(), np.floor(log_end(df) / bin_s) * bin_s)
        full = np.round(np.arange(first, last + bin_s / 2, bin_s), 6)
        out = out.reindex(np.union1d(full, out.index), fill_value=0.0)
    out.index.name = "time_s"
    return out


def face_binned(df: pd.DataFrame, bin_s: float) -> pd.DataFrame:
    """Per face and time bin: mean probabilities, plus ``label`` and ``confidence``.

    Columns: face_id, time_s (bin start), LABELS..., label, confidence.
    """
    if not bin_s > 0:  # as binned_mix: a 0 bin divided by zero and gave empty results silently
        raise ValueError("bin_s must be > 0")
    if df.empty:
        return pd.DataFrame(columns=["face_id", "time_s", *LABELS, "label", "confidence"])
    key = np.floor(df["time_s"].to_numpy() / bin_s) * bin_s
    g = df.assign(time_s=key).groupby(["face_id", "time_s"], sort=True)[list(LABELS)].mean().reset_index()
    probs = g[list(LABELS)].to_numpy()
    g["label"] = [LABELS[k] for k in probs.argmax(axis=1)]
    g["confidence"] = probs.max(axis=1)
    return g


@dataclass(frozen=True)
class NegativeStreak:
    """A face whose expression stayed negative from ``start_s`` to ``end_s``."""

    face_id: int
    start_s: float
    end_s: float
    labels: tuple[str, ...]  # the negative expressions seen, most frequent first
    ongoing: bool  # the streak lasts until the face's last observation

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s


def sample_step(df: pd.DataFrame) -> float:
    """How often the log's frames were analysed: the median time between its rows' distinct
    times (0 for fewer than two). A video analysed at 0.5 frames a second gives 2.0."""
    if df.empty:
        return 0.0
    times = np.unique(df["time_s"].to_numpy(np.float64))
    return float(np.median(np.diff(times))) if len(times) > 1 else 0.0


def stretch_ends(df: pd.DataFrame, times: np.ndarray) -> np.ndarray:
    """Where the analysis that saw each of ``times`` ended: the log's end (:func:`log_end`), or for
    a log joined from parts (:func:`log_parts`) the end of the part each time falls in. No
    observation stands for time after that: nothing was analysed there."""
    times = np.asarray(times, np.float64)
    parts = log_parts(df)
    if not parts:
        return np.full(times.shape, log_end(df))
    starts = np.array([a for a, _ in parts])
    ends = np.array([b for _, b in parts])
    k = np.clip(np.searchsorted(starts, times + 1e-3, side="right") - 1, 0, len(parts) - 1)
    return np.maximum(ends[k], times)


def next_bin(gap: np.ndarray | float, bin_s: float, step: float) -> np.ndarray:
    """Whether bins ``gap`` seconds apart follow each other: the next bin, or one after bins left
    empty only because the frames were analysed less often than ``bin_s`` (rows every 2 s in
    1 s bins) or a little late (a live log's rows about a second apart in 1 s bins)."""
    slack = step if step > bin_s / 2 else 0.0  # frames at least half a bin apart can leave a bin empty
    return np.asarray(gap) <= bin_s + slack + 1e-6


def negative_streaks(df: pd.DataFrame, min_duration_s: float, *, bin_s: float = 5.0,
                     negative: Sequence[str] = NEGATIVE_LABELS) -> list[NegativeStreak]:
    """Faces that stay in a negative expression for at least ``min_duration_s`` seconds.

    Each face's observations are averaged per ``bin_s`` bin (so one odd frame does not
    break or make a streak); a run of consecutive bins whose top expression is in
    ``negative`` is a streak; a bin with no observation of the face ends it, unless the log's
    frames lie further apart than about half a bin (:func:`sample_step`), so that a bin can be
    empty without the face having gone (:func:`next_bin`). Longest first.

    A streak starts at the face's first observation in its first bin and ends one step of the log
    after its last observation in its last bin, as the attention summary counts a face's time
    (``fer_core.engagement``), but never after the analysis ended (:func:`stretch_ends`): a
    face seen from 0 to 120 s at 0.5 s steps of a log that ends there was sad from 0:00 to 2:00.
    (The bins' edges once gave 0:00 to 2:05, after the end of the session, and a part of a video
    analysed from 0:32 had a streak from 0:30.)
    """
    fb = face_binned(df, bin_s)
    if fb.empty:
        return []
    key = np.floor(df["time_s"].to_numpy() / bin_s) * bin_s  # as face_binned: its rows, in its order
    seen = df.assign(time_s=key, t=df["time_s"]).groupby(["face_id", "time_s"], sort=True)["t"].agg(["min", "max"])
    first_t, last_t = seen["min"].to_numpy(np.float64), seen["max"].to_numpy(np.float64)
    # All faces at once (face_binned sorts by face, then time): a loop per face took minutes on
    # a log where every row is another face.
    fid = fb["face_id"].to_numpy()
    times = fb["time_s"].to_numpy(np.float64)
    labels = fb["label"].to_numpy()
    neg = np.isin(labels, list(negative))
    same_face = np.append(False, fid[1:] == fid[:-1])
    follows = same_face & np.append(False, next_bin(np.diff(times), bin_s, sample_step(df)))
    starts = neg & ~(follows & np.append(False, neg[:-1]))  # a negative bin not continuing a run
    run = np.cumsum(starts) - 1  # each negative bin's run number
    pos = np.flatnonzero(neg)
    first = pos[starts[pos]]
    last = pos[np.searchsorted(run[pos], np.arange(len(first)), side="right") - 1]  # each run's last bin
    begin_s = first_t[first]
    end_s = np.minimum(last_t[last] + sample_step(df), stretch_ends(df, last_t[last]))
    keep = np.flatnonzero(end_s - begin_s >= min_duration_s)
    if not len(keep):
        return []
    face_last = np.append(fid[1:] != fid[:-1], True)  # each face's last bin
    kept = np.isin(run[pos], keep)
    # The labels of each kept run, most frequent first (ties: the one seen first).
    seen = (pd.DataFrame({"run": run[pos][kept], "label": labels[pos][kept], "order": pos[kept]})
            .groupby(["run", "label"], sort=False).agg(n=("order", "size"), at=("order", "min"))
            .reset_index().sort_values(["run", "n", "at"], ascending=[True, False, True], kind="stable"))
    runs = seen["run"].to_numpy()
    groups = np.split(seen["label"].to_numpy(), np.flatnonzero(np.diff(runs)) + 1)  # in keep's order
    out = [NegativeStreak(int(fid[first[r]]), float(begin_s[r]), float(end_s[r]), tuple(str(x) for x in g),
                          ongoing=bool(face_last[last[r]])) for r, g in zip(keep, groups)]
    return sorted(out, key=lambda s: -s.duration_s)


def strongest_changes(df: pd.DataFrame, k: int = 5, *, bin_s: float = 2.0,
                      per_face: bool = True, min_change: float = 0.0) -> pd.DataFrame:
    """The ``k`` largest jumps in expression between consecutive time bins.

    The size of a change is the total-variation distance between the two bins' mean
    probabilities (0 = same, 1 = completely different). Per face (only between
    following bins of the same face, as :func:`negative_streaks` counts them), or of the overall
    mix with ``per_face=False``.
    Columns: time_s (start of the later bin), face_id (0 for the overall mix),
    from_label, to_label (the top expressions of the two bins, the same one when only its
    share moved), from_share, to_share (their mean probabilities), other_label (of the other
    expressions, the one whose share moved most: what the face moved away from or towards when
    its top expression stayed), other_from, other_to (its shares), change. Changes smaller
    than ``min_change`` are left out. :func:`changes_table` words them for people.
    """
    cols = ["time_s", "face_id", "from_label", "to_label", "from_share", "to_share", "other_label", "other_from",
            "other_to", "change"]
    if df.empty:
        return pd.DataFrame(columns=cols)
    step = sample_step(df)
    if per_face:
        fb = face_binned(df, bin_s)
    else:
        fb = binned_mix(df, bin_s).reset_index().assign(face_id=0)
    # All faces at once, sorted by face then time (a loop per face took minutes on a log where
    # every row is another face): changes between following bins of one face.
    fb = fb.sort_values(["face_id", "time_s"], kind="stable")
    fid = fb["face_id"].to_numpy()
    t = fb["time_s"].to_numpy(np.float64)
    p = fb[list(LABELS)].to_numpy(np.float64)
    if len(t) < 2:
        return pd.DataFrame(columns=cols)
    tv = 0.5 * np.abs(np.diff(p, axis=0)).sum(axis=1)
    at = np.flatnonzero((fid[1:] == fid[:-1]) & next_bin(np.diff(t), bin_s, step) & (tv >= min_change))
    top = at[np.argsort(-tv[at], kind="stable")[:k]]  # largest first; ties in face, then time order
    top_label = p.argmax(axis=1)
    moved = np.abs(p[top + 1] - p[top])
    rows = np.arange(len(top))
    moved[rows, top_label[top]] = moved[rows, top_label[top + 1]] = -1.0  # the top expressions aside
    other = moved.argmax(axis=1)
    out = pd.DataFrame({"time_s": t[top + 1], "face_id": fid[top].astype(int),
                        "from_label": [LABELS[int(i)] for i in top_label[top]],
                        "to_label": [LABELS[int(i)] for i in top_label[top + 1]],
                        "from_share": p[top, top_label[top]], "to_share": p[top + 1, top_label[top + 1]],
                        "other_label": [LABELS[int(i)] for i in other],
                        "other_from": p[top, other], "other_to": p[top + 1, other],
                        "change": tv[top]},
                       columns=cols)
    return out.reset_index(drop=True)


def changes_table(changes: pd.DataFrame) -> pd.DataFrame:
    """:func:`strongest_changes` for people: ``face`` ("Face 3"), ``before`` and ``after`` (the
    top expression with its share, "Neutral 90%": a face that stays Neutral but drops to 45%
    with Sad close behind is a change too; when the top expression stays, the other expression
    that moved most beside it, "Neutral 90%, Sad 2%" to "Neutral 45%, Sad 40%": "Neutral 24%" to
    "Neutral 60%" alone did not say what the face had moved from) and ``change`` (0 to 1); the
    caller adds the time as it writes times."""
    stays = (changes["from_label"] == changes["to_label"]).to_numpy()

    def worded(labels: pd.Series, shares: pd.Series | None, side: str) -> list[str]:
        if shares is None:
            return [str(label) for label in labels]
        words = [f"{label} {share:.0%}" for label, share in zip(labels, shares)]
        others, other_shares = changes.get("other_label"), changes.get(f"other_{side}")
        if others is None or other_shares is None:
            return words
        return [f"{w}, {o} {share:.0%}" if same else w
                for w, same, o, share in zip(words, stays, others, other_shares)]

    return pd.DataFrame({"face": [f"Face {int(i)}" for i in changes["face_id"]],
                         "before": worded(changes["from_label"], changes.get("from_share"), "from"),
                         "after": worded(changes["to_label"], changes.get("to_share"), "to"),
                         "change": changes["change"].to_numpy(np.float64)}, index=changes.index)
