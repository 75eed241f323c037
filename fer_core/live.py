"""The live-video frame processor: analyse, track, smooth, annotate, log.

:class:`LiveAnalyzer` is what the webcam page hands to ``streamlit-webrtc`` as its
``video_frame_callback``. The callback runs on the WebRTC worker thread: it is short,
never touches Streamlit, and publishes its results under a lock (the page polls
:meth:`LiveAnalyzer.wait_for_update` with a timeout). One analyzer per browser
session; the recognizer inside may be shared by all sessions.
"""
from __future__ import annotations

import math
import statistics
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from fer_core.annotate import annotate, draw_status
from fer_core.detect import BlazeFaceDetector, MiddleFirst, RollingPasses
from fer_core.recognizer import model_label
from fer_core.session import SessionLog
from fer_core.tracking import ExpressionTracker, TrackedFace

if TYPE_CHECKING:
    from fer_core.recognizer import Recognizer


class _Rate:
    """Events per second, an exponential moving average of the intervals.

    An interval over ``pause_s`` and ten times the average is a pause (a hidden tab, a laptop
    suspended, a camera stalled), not the rate: it is left out, unless the next one is as long
    (then the rate did drop, and is taken from it). Averaged in, a 5-minute pause at 15 fps read
    0.1 fps for a second after the frames came back, and under 8 fps for four."""

    def __init__(self, alpha: float = 0.1, pause_s: float = 2.0) -> None:
        self.alpha, self.pause_s = alpha, pause_s
        self._last: float | None = None
        self._interval: float | None = None
        self._paused = False  # the last interval was left out as a pause

    def tick(self, now: float) -> None:
        if self._last is not None:
            dt = max(now - self._last, 1e-6)
            pause = self._interval is not None and dt > max(self.pause_s, 10 * self._interval)
            if self._interval is None or (pause and self._paused):
                self._interval = dt
            elif not pause:
                self._interval = (1 - self.alpha) * self._interval + self.alpha * dt
            self._paused = pause and not self._paused
        self._last = now

    @property
    def per_second(self) -> float:
        return 1.0 / self._interval if self._interval else 0.0

    def reset(self) -> None:
        self._last = self._interval = None
        self._paused = False


class LoadShedder:
    """Per-session overload control: analyse one frame in ``every`` when analysis cannot
    keep up with the camera, and come back down when it can.

    The frame callback analyses synchronously, so while it analyses, the viewer's video
    stands still and newer frames are dropped upstream (streamlit-webrtc keeps only the
    newest: nothing queues). Its *utilisation*, the share of wall time spent in the callback
    over a period of ``period_s``, is that stall. From the period's mean analysis time ``a``
    and camera frame interval ``dt`` (measured between frames that were not analysed), one
    frame in ``k`` analysed stalls about ``a / (max(a, dt) + (k - 1) dt)``. Above ``high``,
    ``every`` jumps to the smallest ``k`` that brings this to ``target`` (at most
    ``max_every``); when a smaller ``k`` would do, it steps down by one per period, so it
    recovers without oscillating. Frames in between reuse the last analysis: the video keeps
    the camera's rate and a frame's latency stays about one analysis plus one frame interval.
    Times are seconds of any monotonic clock (tests pass a fake one).
    """

    def __init__(self, max_every: int = 8, high: float = 0.5, target: float = 0.3,
                 period_s: float = 1.0) -> None:
        self.max_every = max_every
        self.high, self.target, self.period_s = high, target, period_s
        self.reset()

    def reset(self) -> None:
        """Forget the measurements and the current level (a new stream)."""
        self.every = 1
        self._start: float | None = None
        self._prev: tuple[float, bool] | None = None  # (start, analysed) of the previous frame
        self._busy = self._busy_analysed = 0.0
        self._analysed = 0
        self._intervals: list[float] = []

    def needed(self, a: float, dt: float) -> int:
        """The smallest ``every`` whose stall ``a / (max(a, dt) + (every - 1) dt)`` is at most
        ``target``."""
        k = 1 + max(0.0, a / self.target - max(a, dt)) / dt
        return max(1, min(self.max_every, math.ceil(k - 1e-9)))

    def record(self, start: float, end: float, analysed: bool) -> bool:
        """One frame handled from ``start`` to ``end``; returns whether ``every`` changed."""
        if self._start is None:
            self._start = start
        if self._prev is not None and not self._prev[1]:
            self._intervals.append(start - self._prev[0])  # a light frame's start to the next
        self._prev = (start, analysed)
        self._busy += end - start
        if analysed:
            self._busy_analysed += end - start
            self._analysed += 1
        wall = end - self._start
        if wall < self.period_s:
            return False
        before = self.every
        utilisation = self._busy / wall
        a = self._busy_analysed / self._analysed if self._analysed else 0.0
        dt = statistics.median(self._intervals) if self._intervals else None
        if utilisation > self.high:
            need = self.needed(a, dt) if dt else 2 * self.every  # no light frame yet: double
            self.every = min(self.max_every, max(self.every + 1, need))
        elif self.every > 1 and dt and self.needed(a, dt) < self.every:
            self.every -= 1
        self._start, self._busy, self._busy_analysed, self._analysed = end, 0.0, 0.0, 0
        self._intervals = []
        return self.every != before


def available_cores() -> float:
    """CPU cores this process may use: its affinity mask, or a cgroup v2 quota if lower (a
    container or a hosting platform's dyno)."""
    import os

    cores = float(len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)
    try:
        with open("/sys/fs/cgroup/cpu.max") as f:
            quota, period = f.read().split()[:2]
        if quota != "max":
            cores = min(cores, max(0.1, int(quota) / int(period)))
    except (OSError, ValueError):
        pass
    return cores


class ServerLoad:
    """Process-wide overload control shared by every live session: a fair share of analyses.

    The per-session :class:`LoadShedder` sees only the time inside its own frame callback.
    Most of a live stream's cost lies elsewhere (VP8 decoding and encoding, frame conversion,
    the page's charts; docs/RELIABILITY.md) and is paid by the whole process, so overload is
    judged here, over periods of ``period_s``, from two signals:

    * the process's CPU use (``cpu_clock``: all its threads) against ``cores``;
    * the camera frames that got no fresh annotated frame (:meth:`note_frames`, from the
      encoder's queue in ``fer_app.webrtc_shim``: an annotated frame dropped as stale, or the
      last one handed over again because no newer one was ready): the server is not keeping
      up with the cameras, whatever the reason (its own CPU, or CPU taken by other processes).

    Overloaded (CPU use over ``high`` or over ``drop_high`` of the frames dropped): the budget
    of analyses per second for all sessions together drops to ``decrease`` times what was
    analysed in the period. Comfortable (CPU under ``low`` and under ``drop_low`` dropped; CPU
    under ``high`` will do when dropped frames alone made the last cut): it grows by a tenth (at
    least one analysis a second). It is lifted altogether once it covers
    every session's camera, comfortable or not (between ``low`` and ``high`` it would ration
    nothing). Each session that streamed in the last ``active_s`` gets an equal share of the
    budget and analyses one frame in ``ceil(its frame rate / share)`` (at most ``max_every``),
    so a session with a fast camera cannot take the others' analyses and none is starved.
    Frames in between reuse the last analysis, as with the per-session shedder. Thread-safe;
    times are seconds of any monotonic clock (tests pass fake ones).
    """

    def __init__(self, cores: float | None = None, *, clock: Callable[[], float] = time.monotonic,
                 cpu_clock: Callable[[], float] = time.process_time, period_s: float = 1.0,
                 high: float = 0.9, low: float = 0.7, drop_high: float = 0.1, drop_low: float = 0.02,
                 decrease: float = 0.75, max_every: int = 8, active_s: float = 2.0) -> None:
        self.cores = available_cores() if cores is None else float(cores)
        self.clock, self.cpu_clock = clock, cpu_clock
        self.period_s, self.high, self.low = period_s, high, low
        self.drop_high, self.drop_low, self.decrease = drop_high, drop_low, decrease
        self.max_every, self.active_s = max_every, active_s
        self._lock = threading.Lock()
        self.budget: float | None = None  # analyses per second for all sessions; None: no limit
        self._cut_by_cpu = False  # the last cut was for this process's CPU (not dropped frames alone)
        self.cpu = self.dropped_share = 0.0  # the last period's measurements
        self._sessions: dict[int, tuple[float, float]] = {}  # id -> (last frame time, frames/s)
        self._t0: float | None = None
        self._cpu0 = 0.0
        self._received = self._dropped = self._analyses = 0

    def note_frames(self, received: int, dropped: int) -> None:
        """Camera frames that reached the server, and how many of them were dropped as stale."""
        with self._lock:
            self._received += received
            self._dropped += dropped

    def forget(self, session: int) -> None:
        with self._lock:
            self._sessions.pop(session, None)

    def _update(self, now: float) -> None:
        if self._t0 is None:
            self._t0, self._cpu0 = now, self.cpu_clock()
            return
        wall = now - self._t0
        if wall < self.period_s:
            return
        cpu_now = self.cpu_clock()
        self.cpu = (cpu_now - self._cpu0) / (wall * self.cores)
        self.dropped_share = self._dropped / self._received if self._received else 0.0
        analysed = self._analyses / wall
        active = [rate for t, rate in self._sessions.values() if now - t <= self.active_s]
        demand = sum(active)
        if self.cpu > self.high or self.dropped_share > self.drop_high:
            floor = sum(rate / self.max_every for rate in active)  # the most that shedding can save
            self.budget = max(floor, self.decrease * analysed)
            self._cut_by_cpu = self.cpu > self.high
        elif self.budget is not None:
            # Between ``low`` and ``high`` the budget holds (its own analyses would take the CPU over
            # ``high`` again), unless frames dropped with the CPU under ``high`` cut it last: CPU
            # that others took, not this process's analyses. Held, such a budget never grew back
            # once they gave it up, as long as the process's own work kept it over ``low``.
            comfortable = self.cpu < (self.high if not self._cut_by_cpu else self.low)
            if comfortable and self.dropped_share < self.drop_low:
                self.budget += max(1.0, 0.1 * self.budget)
            # A budget that covers every camera rations nothing, whatever the CPU: lifted. Kept in
            # the band between ``low`` and ``high``, it said "rationed" while every frame was
            # analysed (the cameras lowered to 10 fps asked for less than the budget cut from their
            # 15), and so held every stream on the light camera for as long as the band lasted.
            if self.budget >= demand:
                self.budget = None
        self._t0, self._cpu0 = now, cpu_now
        self._received = self._dropped = self._analyses = 0
        for key in [k for k, (t, _) in self._sessions.items() if now - t > 10 * self.active_s]:
            del self._sessions[key]

    def _idle(self, now: float) -> None:
        """Lift the rationing when no session has streamed for ``active_s`` (lock held): the budget
        is only revised as frames come, so a server overloaded once and then left idle said it was
        busy to the next visitor, hours later, who got the light camera for the whole stream."""
        if self.budget is not None and not self._active(now):
            self.budget, self._t0 = None, None
            self._received = self._dropped = self._analyses = 0

    def every_for(self, session: int, rate: float, now: float | None = None) -> int:
        """One frame in how many this session may analyse now; ``rate``: its frames per second."""
        now = self.clock() if now is None else now
        with self._lock:
            self._idle(now)
            self._sessions[session] = (now, rate)
            self._update(now)
            if self.budget is None or rate <= 0:
                return 1
            share = self.budget / max(1, self._active(now))
            return max(1, min(self.max_every, math.ceil(rate / max(share, 1e-6) - 1e-9)))

    def streams(self, now: float | None = None, exclude: int | None = None) -> tuple[int, bool]:
        """How many sessions streamed in the last ``active_s`` seconds, and whether the
        analyses are rationed now (overloaded, or not yet recovered from it). ``exclude``: a
        session not to count (the asking visitor's own, which counts for up to ``active_s``
        after its stream stopped when the track's end is noticed late)."""
        now = self.clock() if now is None else now
        with self._lock:
            self._idle(now)
            return self._active(now, exclude), self.budget is not None

    def _active(self, now: float, exclude: int | None = None) -> int:
        """Sessions that asked for their level in the last ``active_s`` seconds (lock held)."""
        return sum(1 for k, (t, _) in self._sessions.items() if now - t <= self.active_s and k != exclude)

    def analysed(self) -> None:
        """One analysis done (by any session)."""
        with self._lock:
            self._analyses += 1

    def reset(self) -> None:
        with self._lock:
            self.budget, self._t0 = None, None
            self._sessions.clear()
            self._received = self._dropped = self._analyses = 0


#: The one instance for this process (every session's LiveAnalyzer uses it unless given another).
SERVER_LOAD = ServerLoad()


def to_bgr(frame: Any) -> np.ndarray:
    """An ``av.VideoFrame`` as a BGR array. A decoded VP8 frame is YUV 4:2:0: its planes are
    copied as they are and converted by OpenCV, faster than PyAV's ``bgr24`` (swscale)
    conversion, with the same BT.601 limited-range colours."""
    import cv2

    if frame.format.name == "yuv420p" and frame.width % 2 == 0 and frame.height % 2 == 0:
        return cv2.cvtColor(frame.to_ndarray(format="yuv420p"), cv2.COLOR_YUV2BGR_I420)
    return frame.to_ndarray(format="bgr24")


def from_bgr(image_bgr: np.ndarray, av: Any) -> Any:
    """A BGR array as an ``av.VideoFrame`` in YUV 4:2:0, what the VP8 encoder takes (given a
    ``bgr24`` frame, aiortc converts it with swscale, slower than OpenCV, in its encoder thread).

    Note: streamlit-webrtc sends the last returned frame object again, its pts rewritten,
    when no newer one is ready, possibly while the encoder works on it; aiortc's own
    conversion gave the encoder a copy, and without one libvpx can meet a timestamp going
    backwards and the stream's sender dies. ``fer_app.webrtc_shim`` gives the encoder a copy
    of each YUV frame (a plane copy, cheaper than the conversion)."""
    import cv2

    h, w = image_bgr.shape[:2]
    if h % 2 or w % 2:
        return av.VideoFrame.from_ndarray(image_bgr, format="bgr24")
    return av.VideoFrame.from_ndarray(cv2.cvtColor(image_bgr, cv2.COLOR_BGR2YUV_I420), format="yuv420p")


def carry_eyes(faces: tuple[TrackedFace, ...], previous: tuple[TrackedFace, ...]) -> tuple[TrackedFace, ...]:
    """``faces`` measured without the iris pass (a pose, no eyes) with each face's eye
    openness and gaze taken from the same face id in ``previous``, and looking_at_camera
    worked out again from the new pose with them (left None for a face without earlier eyes)."""
    import dataclasses

    from fer_core.attention import looking_at

    last = {f.face_id: f for f in previous if f.eyes_open is not None}
    out = []
    for f in faces:
        before = last.get(f.face_id)
        if f.pose is None or f.eyes_open is not None or before is None or before.eyes_open is None:
            out.append(f)
            continue
        out.append(dataclasses.replace(f, eyes_open=before.eyes_open, gaze=before.gaze,
                                       looking_at_camera=looking_at(f.pose, before.gaze, before.eyes_open)))
    return tuple(out)


def carry_attention(faces: tuple[TrackedFace, ...], previous: tuple[TrackedFace, ...]) -> tuple[TrackedFace, ...]:
    """``faces`` with each face's attention fields taken from the same face id in ``previous``."""
    import dataclasses

    last = {f.face_id: f for f in previous if f.pose is not None}
    return tuple(dataclasses.replace(f, pose=last[f.face_id].pose, eyes_open=last[f.face_id].eyes_open,
                                     gaze=last[f.face_id].gaze,
                                     looking_at_camera=last[f.face_id].looking_at_camera)
                 if f.pose is None and f.face_id in last else f for f in faces)


#: No frame for this many seconds within one stream is a pause in the log (:class:`LiveAnalyzer`).
#: Measured from the end of the last frame's analysis, so that a slow analysis is not one; well
#: over the live page's 4 s before it says the camera stopped sending.
PAUSE_S = 10.0


#: LiveAnalyzer._attention_plan's answer: attention on, every face measured, with the iris pass,
#: the gallery's turns.
_Plan = tuple[bool, bool, bool, "GalleryAttention | None"]


@dataclass
class _Attended:
    """A gallery face's last attention measurement (:class:`GalleryAttention`)."""

    pose_t: float  # when its pose was last measured (the analyser's clock)
    eyes_t: float  # ... and its eyes (-inf: not yet)
    pose: tuple[float, float, float] | None = None
    eyes_open: tuple[float, float] | None = None
    gaze: tuple[float, float] | None = None
    looking_at_camera: bool | None = None
    look: np.ndarray | None = None  # the face's thumbnail then (:func:`face_thumbnail`)


#: A gallery face whose thumbnail moved by more than this many grey levels (mean absolute difference)
#: since it was last measured is measured before the others (:class:`GalleryAttention`).
GALLERY_CHANGED = 6.0


def face_thumbnail(image_bgr: np.ndarray, box: tuple[int, int, int, int], side: int = 16) -> np.ndarray | None:
    """The face's box as a ``side`` x ``side`` grey thumbnail less its mean (a change of light over
    the whole screen moves it little), for telling whether a face moved; None for an empty box."""
    import cv2

    x, y, w, h = box
    crop = image_bgr[max(0, y):max(0, y + h), max(0, x):max(0, x + w)]
    if crop.shape[0] < 2 or crop.shape[1] < 2:
        return None
    gray = cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY) if crop.ndim == 3 else crop
    thumb = cv2.resize(gray, (side, side), interpolation=cv2.INTER_AREA).astype(np.float32)
    return thumb - thumb.mean()


@dataclass
class GalleryAttention:
    """Attention on a call's gallery, measured face by face in turn. Each analysed frame measures
    the head pose of ``n * dt / ((1 - spare) * pose_s)`` of its ``n`` faces (``dt`` the time since
    the frame before; fractions carried to the next frame), the eyes (the iris pass, twice the
    mesh's cost) of ``n * dt / ((1 - spare) * eyes_s)`` of those, and carries every other face's
    last measurement by track id. Which faces: those whose measurement would be over ``pose_s``
    (``eyes_s``) old by the next frame, always, even past the quota; then those whose picture
    changed since they were measured (a 16 x 16 grey thumbnail of the box, by more than
    ``changed`` grey levels on average: a student turning, closing the eyes), eyes included, so that a change
    shows on the next analysed frame; then the oldest. The rotation alone runs a ``spare`` share
    faster than the periods ask, which leaves the faces that moved a place ahead of it.

    So no pose shown is older than ``pose_s`` (eyes: ``eyes_s``) plus a frame, whatever the
    analysis rate, and the cost per second is that of about ``n / ((1 - spare) * pose_s)`` meshes
    and ``n / ((1 - spare) * eyes_s)`` iris passes, instead of every face on one analysed frame
    in N. A face new to the tracker is measured at once, and a face gone is forgotten with its
    track (ids are not reused). Worker thread only."""

    pose_s: float = 1.0
    eyes_s: float = 2.0
    changed: float = GALLERY_CHANGED
    #: The share of each frame's measurements left over by the rotation, for the faces that moved.
    spare: float = 0.2
    _last: dict[int, _Attended] = field(default_factory=dict)
    _t: float | None = None  # the frame before's time
    _credit: dict[str, float] = field(default_factory=dict)  # quota()'s fractions of a face

    def seed(self, faces: tuple[TrackedFace, ...], now: float, pose_t: float, eyes_t: float) -> None:
        """Start from ``faces`` of the frame analysed at ``now``, whose measurements (every face
        measured at once) date from ``pose_t`` and ``eyes_t``: a gallery that grew from a few faces
        is not measured whole a second time."""
        self._t = now
        self._last = {f.face_id: _Attended(pose_t, eyes_t if f.eyes_open is not None else -math.inf, f.pose,
                                           f.eyes_open, f.gaze, f.looking_at_camera)
                      for f in faces if f.pose is not None}

    def measure(self, recognizer: Any, image_bgr: np.ndarray, faces: tuple[TrackedFace, ...],
                now: float) -> tuple[TrackedFace, ...]:
        """``faces`` (tracked on ``image_bgr`` at ``now``) with their attention fields: measured
        for the faces whose turn it is (``recognizer.measure_attention``), carried for the others."""
        import dataclasses

        dt = math.inf if self._t is None else max(now - self._t, 0.0)
        self._t = now
        self._last = {f.face_id: self._last[f.face_id] for f in faces if f.face_id in self._last}
        looks = {f.face_id: face_thumbnail(image_bgr, f.box) for f in faces}
        eyes, pose_only = self._turns(faces, looks, now, dt)
        for group, iris in ((eyes, True), (pose_only, False)):
            if group:
                fields = recognizer.measure_attention(image_bgr, [f.box for f in group], iris=iris)
                for f, got in zip(group, fields):
                    self._record(f.face_id, got, iris, now, looks[f.face_id])
        out = []
        for f in faces:
            m = self._last.get(f.face_id)
            out.append(f if m is None else dataclasses.replace(
                f, pose=m.pose, eyes_open=m.eyes_open, gaze=m.gaze, looking_at_camera=m.looking_at_camera))
        return tuple(out)

    def _turns(self, faces: tuple[TrackedFace, ...], looks: dict[int, np.ndarray | None], now: float,
               dt: float) -> tuple[list[TrackedFace], list[TrackedFace]]:
        """The faces whose pose and eyes are measured on this frame, and those whose pose only."""
        n = len(faces)

        def age(f: TrackedFace, what: str) -> float:
            m = self._last.get(f.face_id)
            return math.inf if m is None else now - getattr(m, what)

        def quota(what: str, period: float) -> int:
            """The faces to measure for each to be at most ``period`` old, and a ``spare`` share more
            (the fraction of a face left over goes to the next frame)."""
            if dt >= period:
                self._credit[what] = 0.0
                return n
            credit = self._credit.get(what, 0.0) + n * dt / ((1.0 - self.spare) * period)
            count = min(n, int(credit + 1e-9))
            self._credit[what] = min(credit - count, 1.0)
            return count

        def overdue(f: TrackedFace, what: str, period: float) -> bool:  # over the period by the next frame
            return age(f, what) > period - min(dt, period) + 1e-6

        def moved(f: TrackedFace) -> bool:
            m, look = self._last.get(f.face_id), looks[f.face_id]
            if m is None or m.look is None or look is None:
                return True
            return float(np.abs(look - m.look).mean()) > self.changed

        changed = {f.face_id for f in faces if moved(f)}

        def stalest(what: str, period: float, among: list[TrackedFace], count: int) -> list[TrackedFace]:
            # Overdue ones (new faces too) first, then the ones that moved, then the oldest.
            ranked = sorted(among, key=lambda f: (not overdue(f, what, period), f.face_id not in changed,
                                                  -age(f, what), f.face_id))
            late = sum(overdue(f, what, period) for f in ranked)
            return ranked[:max(count, late)]

        # The poses due; the eyes of those of them that moved (the eyes may be what moved) and of
        # those whose eyes are most due (about every other time), and of any other face whose eyes
        # are overdue.
        due = stalest("pose_t", self.pose_s, list(faces), quota("pose", self.pose_s))
        due_ids = {f.face_id for f in due}
        eyes = [f for f in due if f.face_id in changed]
        eyes += stalest("eyes_t", self.eyes_s, [f for f in due if f.face_id not in changed], quota("eyes", self.eyes_s))
        eyes += [f for f in faces if f.face_id not in due_ids and overdue(f, "eyes_t", self.eyes_s)]
        eye_ids = {f.face_id for f in eyes}
        return eyes, [f for f in due if f.face_id not in eye_ids]

    def _record(self, face_id: int, got: dict[str, Any], iris: bool, now: float, look: np.ndarray | None) -> None:
        """Keep a face's new measurement (``got``: ``Recognizer.measure_attention``'s fields)."""
        from fer_core.attention import looking_at

        m = self._last.get(face_id)
        if iris or m is None:
            m = self._last[face_id] = _Attended(pose_t=now, eyes_t=now if iris else -math.inf)
        m.pose_t, m.look, m.pose = now, look, got.get("pose")
        if iris:
            m.eyes_t = now
            m.eyes_open, m.gaze = got.get("eyes_open"), got.get("gaze")
            m.looking_at_camera = got.get("looking_at_camera")
        elif m.pose is None or m.eyes_open is None:
            m.looking_at_camera = None
        else:  # the new pose with the face's last eyes
            m.looking_at_camera = looking_at(m.pose, m.gaze, m.eyes_open)
        if m.pose is None:  # no mesh now (turned away, covered): nothing of before stands
            m.eyes_open = m.gaze = m.looking_at_camera = None


@dataclass(frozen=True)
class LiveStats:
    frames_in: int  # frames received by the callback
    frames_analysed: int
    fps_in: float  # frames per second reaching the callback
    fps_analysed: float  # analyses per second
    ms_per_frame: float  # moving average of the callback's own time
    faces_now: int
    faces_logged: int  # observations in the session log
    #: One frame in this many is analysed: the larger of the page's setting and the load
    #: shedder's level.
    analysing_every: int = 1
    #: The server could not keep up and analyses fewer frames than the page asked for.
    busy: bool = False
    #: (width, height) of the last frame received; None before the first.
    frame_size: tuple[int, int] | None = None
    #: Seconds the frame now in the callback has been in it (its analysis), 0.0 when none is.
    #: No new frame reaches the callback meanwhile: a long one is a slow analysis, not a
    #: camera that stopped.
    analysing_s: float = 0.0


@dataclass(frozen=True)
class LiveSnapshot:
    """What the page shows: the latest faces and the running statistics."""

    faces: tuple[TrackedFace, ...]
    stats: LiveStats
    version: int  # increases with every analysed frame


@dataclass
class LiveAnalyzer:
    """Per-session live processing. ``callback`` is the streamlit-webrtc frame callback.

    ``analyse_every``: analyse one frame in N (the others are annotated with the last
    results), the analysis-rate setting. ``attention``: also measure head pose, eyes and
    gaze of every face on the analysed frames (a face mesh per face; docs/ATTENTION.md).
    ``log_interval_s``: at most one log row per face this often, which bounds the log to a few rows per face and second.
    ``rolling``: run a striped high-resolution detector pass (a shared screen's 1280 x 720 frames
    with the far detector) one stripe an analysed frame, the others' faces carried from the
    frame they last ran on (``fer_core.detect.RollingPasses``). Off by default: a face that moves
    within a carried stripe is seen a frame late, which a gallery of a call bears and a camera
    should not; the Live page turns it on for a shared screen only.
    ``middle_first``: with the camera detector (``mid_if_none``: its middle pass only where the
    whole-frame pass finds no face), run the middle pass first while the stream's faces are that
    pass's alone (a laptop's user sitting back: ``fer_core.detect.MiddleFirst``), which spares the
    whole-frame pass on most of such frames. On by default; off: each analysed frame detected as the
    detector does (to compare).
    ``pause_s``: no frame for longer than this within one stream (a laptop asleep with its lid
    closed, a camera taken by another program, a network that dropped and came back) is a pause
    in the log, as a STOP then START is (``SessionLog.resume``): its time is not analysed time.
    """

    recognizer: Recognizer
    analyse_every: int = 1
    smoothing_window: int = 5
    log_interval_s: float = 0.5
    pause_s: float = PAUSE_S
    show_fps: bool = True
    attention: bool = False
    #: With attention on, measure it on one analysed frame in N and carry each face's last
    #: measurement over the others (the mesh costs more than the rest of the frame).
    attention_every: int = 1
    #: Of those measurements, run the iris model (eye openness, gaze) on one in N; the others
    #: measure the pose only and keep each face's last eyes and gaze (the iris pass costs
    #: about twice the mesh's).
    eyes_every: int = 1
    #: With attention on and more faces than this on the analysed frame before (a call's gallery on
    #: a shared screen), attention is measured face by face in turn (:class:`GalleryAttention`:
    #: each face's pose at most ``gallery_pose_s`` old, its eyes ``gallery_eyes_s``) instead of
    #: every face on one analysed frame in ``attention_every``; up to this many, as set above.
    gallery_faces: int = 3
    gallery_pose_s: float = 1.0
    gallery_eyes_s: float = 2.0
    clock: Callable[[], float] = time.monotonic
    #: Shed load by itself when the callback cannot keep up (see :class:`LoadShedder`).
    adaptive: bool = True
    rolling: bool = False
    middle_first: bool = True
    shedder: LoadShedder = field(default_factory=LoadShedder)
    #: The process-wide fair share of analyses (the app passes :data:`SERVER_LOAD`; None: none).
    #: Its clock must be ``clock``'s kind.
    server: ServerLoad | None = None
    log: SessionLog = field(default_factory=lambda: SessionLog(source="live"))
    tracker: ExpressionTracker = field(init=False)
    _lock: threading.Lock = field(init=False, default_factory=threading.Lock, repr=False)
    _updated: threading.Condition = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.tracker = ExpressionTracker(window=self.smoothing_window, iou_threshold=0.3,
                                         max_missed=5)
        self._updated = threading.Condition(self._lock)
        self._faces: tuple[TrackedFace, ...] = ()
        self._frames_in = 0
        self._size_changed_at = 0  # self._frames_in when the frame size last changed
        self._frame_size: tuple[int, int] | None = None
        self._analysed_size: tuple[int, int] | None = None  # of the frame self._faces were found on
        self._frames_analysed = 0
        self._measured = 0  # analysed frames with attention measured
        self._version = 0
        self._rate_in = _Rate()
        self._rate_analysed = _Rate()
        self._ms = 0.0
        self._t0: float | None = None
        self._last_logged: float | None = None
        self._since_analysis: int | None = None  # frames since the last analysed one
        self._working_since: float | None = None  # when the frame now in process() came in
        self._fair_every = 1  # the server-wide share's level (ServerLoad)
        # Counted up by on_ended() (STOP) and reset() ("Clear session log"). A frame still being
        # analysed then belongs to the stream or session before: its faces must not come back
        # after STOP, nor its rows (at the old clock) go into the cleared log.
        self._stream = 0
        self._session = 0
        self._logged_stream = 0  # the stream of the last row logged
        # Pauses within a stream (no frame for pause_s): counted up by the frame after one, and
        # the count of the last row logged, as for streams.
        self._last_end: float | None = None  # when the last frame's processing ended
        self._pauses = 0
        self._logged_pauses = 0
        self._model = model_label(self.recognizer)  # for the log; set again with the recognizer
        self._rolling: RollingPasses | MiddleFirst | None = None  # this stream's detection (worker thread only)
        self._gallery: GalleryAttention | None = None  # this stream's gallery attention (worker thread only)
        self._last_analysed: float | None = None  # the last analysed frame's time
        self._measured_at = (-math.inf, -math.inf)  # when every face's pose and eyes were last measured
        self._remeasure = False  # a pause ended: the next analysed frame measures every face's attention

    # -- settings (called from the page thread) ------------------------------------------
    def configure(self, analyse_every: int | None = None, smoothing_window: int | None = None,
                  recognizer: Recognizer | None = None, attention: bool | None = None,
                  attention_every: int | None = None, eyes_every: int | None = None,
                  rolling: bool | None = None) -> None:
        """Change settings while streaming (thread-safe; takes effect from the next frame)."""
        with self._lock:
            if rolling is not None:
                self.rolling = bool(rolling)
            if attention is not None:
                self.attention = bool(attention)
            if attention_every is not None:
                self.attention_every = max(1, int(attention_every))
            if eyes_every is not None:
                self.eyes_every = max(1, int(eyes_every))
            if recognizer is not None:
                self.recognizer = recognizer
                self._model = model_label(recognizer)
            if analyse_every is not None:
                self.analyse_every = max(1, int(analyse_every))
            if smoothing_window is not None:
                self.smoothing_window = max(1, int(smoothing_window))
        if smoothing_window is not None:
            self.tracker.set_window(self.smoothing_window)

    # -- the frame path (WebRTC worker thread) -------------------------------------------
    def process(self, image_bgr: np.ndarray) -> np.ndarray:
        """Analyse (or reuse the last analysis of) one frame and return it annotated."""
        try:
            return self._process(image_bgr)
        finally:
            with self._lock:
                self._working_since = None

    def _process(self, image_bgr: np.ndarray) -> np.ndarray:
        start = self.clock()
        with self._lock:
            self._working_since = start
            stream, session = self._stream, self._session
            if self._t0 is None:  # the session's clock starts with its first frame (or mark())
                self._t0 = start
            pauses = self._note_pause(start)
            size = (int(image_bgr.shape[1]), int(image_bgr.shape[0]))
            changed_after = self._frames_in - self._size_changed_at  # frames of one size before this one
            if self._frame_size is not None and size != self._frame_size:
                self._size_changed_at = self._frames_in
            else:
                changed_after = 0
            self._frames_in += 1
            self._frame_size = size
            self._rate_in.tick(start)
            if self.server is not None and self.adaptive:
                self._fair_every = self.server.every_for(id(self), self._rate_in.per_second, start)
            every = self._every()
            # A frame of another size than the last analysed one (a phone turned, a camera that
            # switched resolution) is analysed whatever the rate: the last faces' boxes belong to
            # the other frame and, drawn on this one, stood off the faces until the next analysis.
            # Only when the size before had held for ``every`` frames, though: a size that changed
            # on every frame (a shared window being resized, sizes that alternate) had every frame
            # analysed, 15 analyses a second against a server's share of 2. A frame whose size
            # differs from the analysed one's and is not analysed is drawn without boxes.
            due = self._since_analysis is None or self._since_analysis + 1 >= every
            resized = size != self._analysed_size
            analyse = due or (resized and changed_after >= every)
            self._since_analysis = 0 if analyse else (self._since_analysis or 0) + 1
            faces = self._faces
            shown = faces if analyse or not resized else ()
            attention, measure, eyes, gallery = self._attention_plan(faces)
            recognizer, rolling = self.recognizer, self._rolling_for(self.recognizer)
        if analyse:
            faces = self._analyse(recognizer, rolling, image_bgr, faces, start, (attention, measure, eyes, gallery))
            self._log_frame(start, faces, stream, session, pauses)
        out = annotate(image_bgr, faces if analyse else shown)
        end = self.clock()
        elapsed_ms = (end - start) * 1000.0
        with self._updated:
            self._last_end = end
            if self.adaptive:
                self.shedder.record(start, end, analyse)
            self._ms = elapsed_ms if self._ms == 0.0 else 0.9 * self._ms + 0.1 * elapsed_ms
            stale = stream != self._stream  # STOP (or Clear) came while this frame was analysed
            cleared = session != self._session
            if analyse and not stale:
                if self.server is not None:
                    self.server.analysed()
                self._faces = faces
                self._analysed_size = (int(image_bgr.shape[1]), int(image_bgr.shape[0]))
                self._frames_analysed += 1
                self._measured += int(measure)
                self._last_analysed = start
                if measure:
                    self._measured_at = (start, start if eyes else self._measured_at[1])
                self._rate_analysed.tick(start)
                self._version += 1
                self._updated.notify_all()
            fps = self._rate_in.per_second
        if stale and analyse:  # this frame updated the tracker after on_ended() had emptied it
            self.tracker.reset(restart_ids=cleared)  # after a Clear, numbers start at 1 again
        if self.show_fps:
            draw_status(out, f"{fps:4.1f} fps | {len(faces)} face{'s' if len(faces) != 1 else ''}")
        return out

    def _attention_plan(self, faces: tuple[TrackedFace, ...]) -> _Plan:
        """Under the lock, for the next analysed frame after ``faces``: whether attention is on,
        whether every face's attention is measured on it, whether with the iris pass, and the stream's
        :class:`GalleryAttention` when the faces are a gallery (then measured in turn by it)."""
        # After a pause every face is measured, eyes included: what was carried is from before it.
        fresh, self._remeasure = self._remeasure, False
        measure = self.attention and (fresh or self._frames_analysed % max(1, self.attention_every) == 0)
        eyes = fresh or self._measured % max(1, self.eyes_every) == 0
        if not self.attention or len(faces) <= self.gallery_faces:
            self._gallery = None
            return self.attention, measure, eyes, None
        if self._gallery is None:  # from a few faces to a gallery (or a new stream's second frame)
            self._gallery = GalleryAttention(self.gallery_pose_s, self.gallery_eyes_s)
            if self._last_analysed is not None:
                self._gallery.seed(faces, self._last_analysed, *self._measured_at)
        return True, False, eyes, self._gallery

    def _analyse(self, recognizer: Any, rolling: RollingPasses | MiddleFirst | None, image_bgr: np.ndarray,
                 previous: tuple[TrackedFace, ...], start: float, plan: _Plan) -> tuple[TrackedFace, ...]:
        """The faces of ``image_bgr``, tracked, with attention as :meth:`_attention_plan` said."""
        attention, measure, eyes, gallery = plan
        # The keywords only when needed: stand-in recognizers (tests) take the frame alone.
        kwargs: dict[str, Any] = {} if rolling is None else {"detect": rolling.detect}
        if measure:
            kwargs["attention"] = True
            if not eyes:
                kwargs["iris"] = False
        results = recognizer.analyze(image_bgr, **kwargs)
        faces = tuple(self.tracker.update(results, image_bgr))
        if gallery is not None:
            return gallery.measure(recognizer, image_bgr, faces, start)
        if attention and not measure and gallery is None:
            return carry_attention(faces, previous)
        if measure and not eyes:
            return carry_eyes(faces, previous)
        return faces

    def _note_pause(self, start: float) -> int:
        """The pauses of this stream so far, the one that ends with the frame taken at ``start``
        included when there was one (lock held). The frame after a pause is analysed whatever the
        rate, with every detector pass (the last faces are from before it), and each face found
        again keeps its number but not its expression from before the pause, nor its attention
        (measured again on that frame)."""
        if self._last_end is not None and start - self._last_end > self.pause_s:
            self._pauses += 1
            self._since_analysis = None
            self._remeasure = True  # ... and its attention measured (_attention_plan)
            self._rolling = None  # ... and every detector pass run: no face carried from before it
            self.tracker.restart_smoothing()  # its own lock, never held while this one is taken
        return self._pauses

    def _log_frame(self, start: float, faces: tuple[TrackedFace, ...], stream: int, session: int,
                   pauses: int = 0) -> None:
        """Log the faces of the frame taken at ``start`` (of that stream and session, after that
        many pauses), at most one row per face every ``log_interval_s``."""
        # Under the lock, as reset() clears the log under it: a frame of a cleared session is
        # not logged (its time, at the old clock, would go backwards in the new log).
        with self._lock:
            if session != self._session or self._t0 is None or (
                    self._last_logged is not None and start - self._last_logged < self.log_interval_s - 1e-3):
                return
            first, self._last_logged = self._last_logged is None, start
            # The first row of a new stream: the time since the last one's (STOP, START) is a
            # pause, not analysed time. A row of a frame the STOP caught in the analysis still
            # goes to the stream before.
            # So does the first row after a pause within a stream (no frame for pause_s), and the
            # session's first row after a moment named before START, which started its clock.
            if first or stream > self._logged_stream or pauses > self._logged_pauses:
                self._logged_stream = max(self._logged_stream, stream)
                self._logged_pauses = max(self._logged_pauses, pauses)
                self.log.resume()
            self.log.add_frame(max(0.0, start - self._t0), faces, self._model)

    def process_still(self, image_bgr: np.ndarray) -> tuple[np.ndarray, tuple[TrackedFace, ...]]:
        """A snapshot (the fallback when WebRTC cannot connect): always analysed and logged."""
        start = self.clock()
        with self._lock:
            session = self._session
            if self._t0 is None:
                self._t0 = start
        results = (self.recognizer.analyze(image_bgr, attention=True) if self.attention
                   else self.recognizer.analyze(image_bgr))
        faces = tuple(self.tracker.update(results, image_bgr))
        with self._lock:
            if session == self._session and self._t0 is not None:  # not cleared meanwhile (see process)
                self.log.add_frame(max(0.0, start - self._t0), faces, self._model)
        with self._updated:
            self._faces = faces
            self._frames_in += 1
            self._frames_analysed += 1
            self._version += 1
            self._updated.notify_all()
        return annotate(image_bgr, faces), faces

    def mark(self, text: str) -> float | None:
        """Name this moment of the session ("quiz starts"): a marker in the log at the log's
        clock. Returns its time in seconds, or None when the text is empty or the log is full."""
        now = self.clock()
        with self._lock:  # as process(): a reset() between the clock and the log would mix two sessions
            if self._t0 is None:  # before the first frame: the session starts now
                self._t0 = now
            t = max(0.0, now - self._t0)
            return t if self.log.add_marker(t, text) else None

    def callback(self, frame: Any) -> Any:
        """streamlit-webrtc ``video_frame_callback``: ``av.VideoFrame`` in, annotated frame out."""
        import av

        out = self.process(to_bgr(frame))
        new = from_bgr(out, av)
        new.pts = frame.pts  # streamlit-webrtc copies the timing too; this keeps it standalone
        if frame.time_base is not None:
            new.time_base = frame.time_base
        return new

    def _rolling_for(self, recognizer: Any) -> RollingPasses | MiddleFirst | None:
        """This stream's detection for ``recognizer``'s detector: :class:`RollingPasses` with
        ``rolling``, :class:`MiddleFirst` with ``middle_first`` and a detector that runs its middle
        pass only where the whole-frame one finds no face, else None (the detector's own, as for
        other detectors); under the lock."""
        detector = getattr(recognizer, "detector", None)
        kind: type[RollingPasses] | type[MiddleFirst] | None = None
        if isinstance(detector, BlazeFaceDetector):
            if self.rolling:
                kind = RollingPasses
            elif self.middle_first and detector.mid_if_none:
                kind = MiddleFirst
        if kind is None or detector is None:
            self._rolling = None
        elif not isinstance(self._rolling, kind) or self._rolling.detector is not detector:
            self._rolling = kind(detector)
        return self._rolling

    def on_ended(self) -> None:
        """The camera track ended (stopped, disconnected): forget faces, keep the log. Faces of
        the next stream get numbers after this one's: the log goes on, and one number must not
        name two people in it. Its clock goes on too, but the time until the next stream's first
        row is not counted as analysed (``SessionLog.resume``)."""
        self.tracker.reset(restart_ids=False)
        with self._updated:
            self._stream += 1
            self._faces = ()
            self.shedder.reset()
            self._fair_every = 1
            if self.server is not None:
                self.server.forget(id(self))
            self._since_analysis = None
            self._rolling = None  # the next stream's first frame runs every pass
            self._last_end = None  # the time until the next stream is the STOP's, not a pause
            self._gallery = None  # ... and measures every face
            self._last_analysed = None
            self._measured = 0  # the next stream's first measurement runs the iris pass
            self._rate_in.reset()
            self._rate_analysed.reset()
            self._version += 1
            self._updated.notify_all()

    def reset(self) -> None:
        """Start a new session: forget faces, counters and the log."""
        self.on_ended()
        self.tracker.reset()  # numbers start at 1 again
        with self._lock:  # with process()'s logging under the same lock: no old row after the clear
            self._session += 1
            self.log.clear()
            self._frames_in = self._frames_analysed = 0
            self._ms = 0.0
            self._t0 = self._last_logged = None

    def _every(self) -> int:
        """Analyse one frame in this many: the page's setting, or more under load (this
        session's stall, or the server-wide share); under the lock."""
        if not self.adaptive:
            return self.analyse_every
        return max(self.analyse_every, self.shedder.every, self._fair_every)

    # -- reading (page thread) -----------------------------------------------------------
    def snapshot(self) -> LiveSnapshot:
        with self._lock:
            every = self._every()
            stats = LiveStats(frames_in=self._frames_in, frames_analysed=self._frames_analysed,
                              fps_in=self._rate_in.per_second, fps_analysed=self._rate_analysed.per_second,
                              ms_per_frame=self._ms, faces_now=len(self._faces),
                              faces_logged=len(self.log), analysing_every=every,
                              busy=every > self.analyse_every, frame_size=self._frame_size,
                              analysing_s=(0.0 if self._working_since is None
                                           else max(0.0, self.clock() - self._working_since)))
            return LiveSnapshot(faces=self._faces, stats=stats, version=self._version)

    def wait_for_update(self, after_version: int, timeout: float = 1.0) -> LiveSnapshot:
        """Block until a frame newer than ``after_version`` was analysed, or ``timeout`` s."""
        with self._updated:
            self._updated.wait_for(lambda: self._version > after_version, timeout=timeout)
        return self.snapshot()
