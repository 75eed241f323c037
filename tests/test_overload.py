"""Overload on the live page: the per-session load shedder and the server-wide fair share,
driven by fake clocks (wall time, and the process's CPU time) and a stand-in recognizer whose
analysis 'takes' a set time on that clock."""
import math
from collections.abc import Callable

import numpy as np
import pytest

from fer_core.live import LiveAnalyzer, LoadShedder, ServerLoad


class FakeClock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


class SlowRecognizer:
    """analyze() advances the fake clock by ``cost`` seconds (the server's load)."""

    def __init__(self, clock: FakeClock, cost: float) -> None:
        self.clock, self.cost, self.calls = clock, cost, 0

    def analyze(self, image, **kwargs):
        self.clock.t += self.cost
        self.calls += 1
        return []


def stream(analyzer: LiveAnalyzer, clock: FakeClock, seconds: float, fps: float = 15.0):
    """Play a camera at ``fps`` for ``seconds`` the way streamlit-webrtc's async worker does:
    the callback takes the newest frame; frames that arrive while it is busy are dropped.
    Returns (output times, latency of each output frame: its arrival to its output)."""
    frame = np.zeros((48, 64, 3), np.uint8)
    dt, end = 1.0 / fps, clock.t + seconds
    outputs, latencies = [], []
    next_arrival = math.ceil(clock.t / dt) * dt
    while clock.t < end:
        clock.t = max(clock.t, next_arrival)  # idle until a frame is there
        arrival = math.floor(clock.t / dt + 1e-9) * dt  # the newest frame
        analyzer.process(frame)
        outputs.append(clock.t)
        latencies.append(clock.t - arrival)
        next_arrival = arrival + dt
    return np.array(outputs), np.array(latencies)


def fps_between(outputs, t0, t1) -> float:
    return ((outputs >= t0) & (outputs < t1)).sum() / (t1 - t0)


@pytest.fixture()
def setup():
    clock = FakeClock()
    rec = SlowRecognizer(clock, cost=0.2)  # 200 ms a frame: 5 analyses/s at most
    return clock, rec, LiveAnalyzer(recognizer=rec, clock=clock, show_fps=False)


def test_overload_sheds_frames_keeps_the_video_moving_and_recovers(setup):
    clock, rec, analyzer = setup
    out, lat = stream(analyzer, clock, 10.0)
    snap = analyzer.snapshot()
    # Settled: analyses only every Nth frame, the video back near the camera's 15 fps, and
    # the latency bounded by about one analysis plus a frame interval.
    assert snap.stats.busy and 6 <= snap.stats.analysing_every <= 8
    assert fps_between(out, 5.0, 10.0) >= 11.0
    assert np.percentile(lat[out > 5.0], 95) <= 0.2 + 1 / 15 + 1e-6
    assert rec.calls / 10.0 < 5.0
    # Load goes away: back to analysing every frame within a few seconds, not busy.
    rec.cost = 0.01
    out2, lat2 = stream(analyzer, clock, 8.0)
    snap = analyzer.snapshot()
    assert not snap.stats.busy and snap.stats.analysing_every == 1
    assert fps_between(out2, clock.t - 2.0, clock.t) >= 14.0 and lat2.max() <= 0.01 + 1 / 15 + 1e-6


def test_without_shedding_the_same_load_halves_the_frame_rate(setup):
    clock, rec, analyzer = setup
    analyzer.adaptive = False
    out, lat = stream(analyzer, clock, 6.0)
    # What the shedder prevents: every frame analysed, so 5 frames a second reach the viewer.
    assert fps_between(out, 2.0, 6.0) <= 5.5 and not analyzer.snapshot().stats.busy


def test_page_setting_is_the_floor_and_the_level_has_a_ceiling(setup):
    clock, rec, analyzer = setup
    analyzer.configure(analyse_every=3)
    rec.cost = 0.001
    stream(analyzer, clock, 3.0)
    stats = analyzer.snapshot().stats
    assert stats.analysing_every == 3 and not stats.busy  # the visitor's choice, not overload
    rec.cost = 5.0  # hopeless: each analysis takes longer than a period
    stream(analyzer, clock, 30.0)
    assert analyzer.snapshot().stats.analysing_every == analyzer.shedder.max_every


def test_stream_end_resets_the_level(setup):
    clock, rec, analyzer = setup
    stream(analyzer, clock, 5.0)
    assert analyzer.snapshot().stats.busy
    analyzer.on_ended()
    assert analyzer.shedder.every == 1 and not analyzer.snapshot().stats.busy


def test_shedder_targets_the_stall():
    s = LoadShedder(max_every=8, high=0.5, target=0.3)
    assert s.needed(a=0.2, dt=1 / 15) == 8  # 0.2 / (0.2 + 7/15) = 0.30
    assert s.needed(a=0.1, dt=1 / 15) == 5  # 4: 0.1 / (0.1 + 3/15) = 0.33; 5: 0.27
    assert s.needed(a=0.01, dt=1 / 15) == 1  # faster than the camera: every frame
    assert s.needed(a=2.0, dt=1 / 15) == 8  # capped
    # A first period with every frame analysed back to back: no camera interval known yet,
    # so the level doubles; the next period (with light frames) jumps to what is needed.
    t = 0.0
    while not s.record(t, t + 0.2, analysed=True):
        t += 0.2
    assert s.every == 2


# -- the server-wide fair share (ServerLoad) ----------------------------------------------
class FakeCpu:
    """Process CPU seconds: advanced by the test to play a load."""

    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def play(server: ServerLoad, clock: FakeClock, cpu: FakeCpu, seconds: float, rates: list[float],
         cpu_share: Callable[[float], float], drops: Callable[[float], float] = lambda _: 0.0) -> list[list[int]]:
    """Sessions with cameras at ``rates`` (frames/s) asking ``server`` for their level frame by
    frame, each analysing the frames it is allowed to, for ``seconds`` of the fake clock; the
    process's CPU use (of its cores) is ``cpu_share(analyses per second)`` and the share of
    camera frames dropped as stale ``drops(analyses per second)``. Returns each session's
    level at every whole second."""
    step = 1 / 120
    levels: list[list[int]] = [[] for _ in rates]
    nxt = [clock.t] * len(rates)
    since = [10**9] * len(rates)
    analyses_1s: list[float] = []
    t_end = clock.t + seconds
    last_second = math.floor(clock.t)
    while clock.t < t_end:
        rate_now = len(analyses_1s) / 1.0
        clock.t += step
        cpu.t += cpu_share(rate_now) * server.cores * step
        analyses_1s = [t for t in analyses_1s if t > clock.t - 1.0]
        for i, fps in enumerate(rates):
            if clock.t >= nxt[i]:
                nxt[i] += 1 / fps
                dropped = drops(rate_now)
                server.note_frames(100, round(100 * dropped))
                every = server.every_for(i, fps, clock.t)
                since[i] += 1
                if since[i] >= every:
                    since[i] = 0
                    server.analysed()
                    analyses_1s.append(clock.t)
        if math.floor(clock.t) > last_second:
            last_second = math.floor(clock.t)
            for i in range(len(rates)):
                levels[i].append(server.every_for(i, rates[i], clock.t))
    return levels


def test_server_overload_sheds_analyses_fairly_and_recovers():
    clock, cpu = FakeClock(), FakeCpu()
    server = ServerLoad(cores=2, clock=clock, cpu_clock=cpu)
    # Eight sessions at 15 fps: the process needs 0.5 core-share for decoding/encoding plus
    # 0.01 per analysis per second: 120 analyses/s would be 1.7 of its 1.0 -> overloaded.
    load = {"per_analysis": 0.01}

    def cpu_share(analyses: float) -> float:
        return 0.5 + load["per_analysis"] * analyses

    levels = play(server, clock, cpu, 20.0, [15.0] * 8, cpu_share)
    last = [lv[-1] for lv in levels]
    assert min(last) >= 2 and len(set(last)) == 1  # shed, and the same level for everyone
    assert server.budget is not None and 0.5 + 0.01 * server.budget <= 0.9 + 0.01  # under `high` again
    # The load goes away (analyses cost almost nothing): every session back to every frame.
    load["per_analysis"] = 0.0001
    levels = play(server, clock, cpu, 40.0, [15.0] * 8, cpu_share)
    assert [lv[-1] for lv in levels] == [1] * 8 and server.budget is None


def test_server_fair_share_by_analyses_per_second_not_by_camera_rate():
    clock, cpu = FakeClock(), FakeCpu()
    server = ServerLoad(cores=1, clock=clock, cpu_clock=cpu)
    levels = play(server, clock, cpu, 20.0, [30.0, 15.0, 15.0], lambda a: 0.3 + 0.02 * a)
    fast, slow = levels[0][-1], levels[1][-1]
    # The 30 fps camera analyses one frame in about twice as many: equal analyses per second.
    assert fast > slow and abs(30 / fast - 15 / slow) <= 15 / slow / 2 + 1e-9


def test_server_stale_frames_mean_overload_even_with_cpu_to_spare():
    # Other processes take the CPU: this one uses little, but cameras' frames go stale.
    clock, cpu = FakeClock(), FakeCpu()
    server = ServerLoad(cores=2, clock=clock, cpu_clock=cpu)
    levels = play(server, clock, cpu, 10.0, [15.0] * 4, lambda a: 0.3, drops=lambda a: 0.3 if a > 20 else 0.0)
    assert all(lv[-1] >= 3 for lv in levels)  # 60 analyses/s brought to <= 20


def test_server_lifts_a_budget_that_covers_every_camera_between_low_and_high():
    """Between ``low`` and ``high`` the budget neither grows nor falls (hysteresis), and was lifted
    only from growing: three cameras at 15 fps overloaded the server, the budget fell under their
    45 analyses a second, the cameras were lowered to 10 fps (30 a second, under the budget) and
    with the CPU at 80% the server said it rationed for as long as that lasted (60 s here, every
    frame analysed), which held every stream on the light camera (fer_app.support.CaptureFollower)."""
    clock, cpu = FakeClock(), FakeCpu()
    server = ServerLoad(cores=2, clock=clock, cpu_clock=cpu)
    play(server, clock, cpu, 6.0, [15.0] * 3, lambda a: 0.5 + 0.011 * a)  # 45 analyses/s: 99.5%
    assert server.streams()[1] and server.budget is not None and 30.0 < server.budget < 45.0
    # Still rationing in the band while the budget is under the cameras' demand: the hysteresis holds.
    levels = play(server, clock, cpu, 5.0, [15.0] * 3, lambda a: 0.8)
    assert server.streams()[1] and all(lv[-1] == 2 for lv in levels)
    # The cameras lowered to 10 fps: the budget covers them all, the CPU still in the band.
    levels = play(server, clock, cpu, 60.0, [10.0] * 3, lambda a: 0.8)
    assert server.streams() == (3, False) and server.budget is None
    assert all(lv[3:] == [1] * len(lv[3:]) for lv in levels)


def test_server_budget_cut_for_frames_others_delayed_grows_back_between_low_and_high():
    """Another process took the CPU: frames went stale and the budget was cut, with this process
    under ``high``. Once the frames came in time again the budget stayed where it was as long as
    the process's own work (a video analysed on another page, the codecs of many streams) kept
    its CPU between ``low`` and ``high``: each camera analysed one frame in 7 for as long as that
    lasted (60 s here; simulated, an 8-core server at 73%: 300 s of 300, 4.5 analyses a second per
    visitor instead of 10). A budget the process's own CPU cut still holds there."""
    clock, cpu = FakeClock(), FakeCpu()
    server = ServerLoad(cores=8, clock=clock, cpu_clock=cpu)
    levels = play(server, clock, cpu, 9.0, [10.0] * 3, lambda a: 0.7 + 0.001 * a, drops=lambda a: 0.3)
    assert server.streams()[1] and all(lv[-1] == server.max_every for lv in levels)
    levels = play(server, clock, cpu, 60.0, [10.0] * 3, lambda a: 0.7 + 0.001 * a)
    assert server.streams() == (3, False) and all(lv[-1] == 1 for lv in levels)
    assert all(lv[30:] == [1] * len(lv[30:]) for lv in levels)


def test_server_single_viewer_is_never_shed():
    clock, cpu = FakeClock(), FakeCpu()
    server = ServerLoad(cores=2, clock=clock, cpu_clock=cpu)
    levels = play(server, clock, cpu, 10.0, [15.0], lambda a: 0.1 + 0.005 * a)
    assert levels[0] == [1] * len(levels[0]) and server.budget is None


def test_server_floor_is_max_every_and_forgotten_sessions_free_their_share():
    clock, cpu = FakeClock(), FakeCpu()
    server = ServerLoad(cores=2, clock=clock, cpu_clock=cpu)
    levels = play(server, clock, cpu, 20.0, [15.0] * 4, lambda a: 1.5)  # hopeless whatever is shed
    assert [lv[-1] for lv in levels] == [server.max_every] * 4
    assert server.budget == pytest.approx(4 * 15 / server.max_every)
    for i in range(3):
        server.forget(i)
    assert server.every_for(3, 15.0, clock.t) <= 2  # the whole budget (7.5/s) for the last session


def test_analyzer_reports_busy_from_the_server_share():
    clock = FakeClock()
    server = ServerLoad(cores=2, clock=clock, cpu_clock=lambda: 2 * clock.t)  # both cores busy
    rec = SlowRecognizer(clock, cost=0.001)  # the analyses are cheap: the session's own shedder is idle
    analyzer = LiveAnalyzer(recognizer=rec, clock=clock, show_fps=False, server=server)
    server.every_for(id(analyzer), 15.0, clock.t)  # streaming (an idle server rations nobody)
    server.budget = 3.0  # a server-wide share of 3 analyses/s for this one session
    stream(analyzer, clock, 3.0)
    stats = analyzer.snapshot().stats
    assert stats.busy and stats.analysing_every >= 4 and rec.calls <= 3 * 3 + 2
    analyzer.on_ended()
    assert analyzer.snapshot().stats.analysing_every == 1


def test_a_frame_size_that_keeps_changing_does_not_escape_the_server_share():
    """A frame of a new size is analysed out of turn (its boxes would stand off the faces); a size
    that changed on every frame (a shared window being resized, two sizes in turn) had every frame
    analysed: 15 analyses a second against 4.3 for the same stream at one size. Now as many as at one
    size (the first change still analysed at once)."""
    def analyses_per_second(sizes: list[tuple[int, int]]) -> float:
        clock = FakeClock()
        server = ServerLoad(cores=2, clock=clock, cpu_clock=lambda: 2 * clock.t)  # both cores busy
        rec = SlowRecognizer(clock, cost=0.001)
        analyzer = LiveAnalyzer(recognizer=rec, clock=clock, show_fps=False, server=server)
        for n in range(150):  # 10 s at 15 fps
            clock.t = n / 15
            h, w = sizes[n % len(sizes)]
            analyzer.process(np.zeros((h, w, 3), np.uint8))
        assert analyzer.snapshot().stats.busy
        return rec.calls / 10.0

    steady = analyses_per_second([(48, 64)])
    assert steady < 15 / 3  # rationed
    assert analyses_per_second([(48, 64), (50, 66)]) <= steady + 0.2
    assert analyses_per_second([(48 + 2 * i, 64 + 2 * i) for i in range(150)]) <= steady + 0.2  # a resize


# -- the encoder's queue keeps only the newest frame (fer_app.webrtc_shim) ------------------
def test_newest_frames_queue_drops_stale_frames_but_never_the_end():
    import asyncio

    from fer_app.webrtc_shim import NewestFramesQueue

    seen = []
    q = NewestFramesQueue(keep=1, on_frames=lambda received, dropped: seen.append((received, dropped)))
    for frame in ("f1", "f2", "f3"):  # the encoder is busy: three frames come meanwhile
        q.put_nowait(frame)
    q.put_nowait(None)  # then the stream ends
    got = asyncio.run(_drain(q))
    assert got == ["f3", None] and seen == [(1, 0), (1, 1), (1, 1)]
    q.put_nowait(None)
    q.put_nowait("f5")  # the end marker is never dropped for a frame
    assert asyncio.run(_drain(q)) == [None, "f5"]


def test_newest_frames_queue_skips_a_frame_object_put_again():
    import asyncio

    from fer_app.webrtc_shim import NewestFramesQueue

    class Frame:  # stands for an av.VideoFrame: identity matters, not value
        def __init__(self, n):
            self.n = n

    f1, f2 = Frame(1), Frame(2)
    copies, seen = [], []
    q = NewestFramesQueue(keep=1, on_frames=lambda received, dropped: seen.append((received, dropped)),
                          copy=lambda f: copies.append(f.n) or Frame(f.n), skip_repeats=True)
    q.put_nowait(f1)
    assert [f.n for f in asyncio.run(_drain(q))] == [1]
    for frame in (f1, f1, f2, f2, f1):  # the async worker re-sends its last frame meanwhile
        q.put_nowait(frame)
    # f2 is queued once (the repeat skipped); f1 after f2 is a new put, which replaces f2 as stale.
    assert [f.n for f in asyncio.run(_drain(q))] == [1]
    # A repeat counts as a dropped camera frame (the server had nothing fresh for it).
    assert q.repeats == 3 and copies == [1, 2, 1]
    assert seen == [(1, 0), (1, 1), (1, 1), (1, 0), (1, 1), (1, 1)]
    plain = NewestFramesQueue(keep=2)
    plain.put_nowait(f1)
    plain.put_nowait(f1)
    assert [f.n for f in asyncio.run(_drain(plain))] == [1, 1] and plain.repeats == 0


def test_newest_frames_queue_stamps_its_own_copies_when_the_encoder_takes_them():
    import asyncio
    from fractions import Fraction

    import av
    import numpy as np

    from fer_app.webrtc_shim import NewestFramesQueue, private_frame

    def camera_frame(pts):
        f = av.VideoFrame.from_ndarray(np.zeros((48, 64), np.uint8), format="gray")
        f.pts, f.time_base = pts, Fraction(1, 90_000)
        return f.reformat(format="yuv420p")

    now = [100.0]
    q = NewestFramesQueue(keep=1, copy=private_frame, skip_repeats=True, clock=lambda: now[0])
    handed = camera_frame(5_000)
    q.put_nowait(handed)
    handed.pts = 1  # streamlit-webrtc rewrites the object it handed over: the copy is unaffected
    now[0] = 100.5
    (first,) = asyncio.run(_drain(q))
    assert first is not handed and first.pts == 9_045_000 and first.time_base == Fraction(1, 90_000)
    q.put_nowait(camera_frame(3_000))  # an earlier capture time, the same clock reading:
    (second,) = asyncio.run(_drain(q))
    assert second.pts == first.pts + 1  # still strictly increasing, as the VP8 encoder needs
    other = av.VideoFrame.from_ndarray(np.zeros((48, 64, 3), np.uint8), format="bgr24")
    other.pts = 7
    q.put_nowait(other)  # not copied (the encoder converts it): handed over as it is
    assert asyncio.run(_drain(q)) == [other] and other.pts == 7
    unstamped = NewestFramesQueue(keep=1, copy=private_frame)
    unstamped.put_nowait(camera_frame(5_000))
    assert asyncio.run(_drain(unstamped))[0].pts == 5_000


def test_a_fresh_result_is_queued_when_made_and_counted_once_when_sent():
    import asyncio

    from fer_app.webrtc_shim import NewestFramesQueue

    class Frame:
        def __init__(self, n):
            self.n = n

    seen = []
    q = NewestFramesQueue(keep=1, on_frames=lambda received, dropped: seen.append((received, dropped)),
                          copy=lambda f: Frame(f.n), skip_repeats=True)
    r1, r2 = Frame(1), Frame(2)
    q.put_early(r1)  # the worker made it: queued at once, no camera frame counted yet
    assert [f.n for f in asyncio.run(_drain(q))] == [1] and seen == []
    q.put_nowait(r1)  # then the next camera frame's recv returns it: its fresh result, not queued again
    q.put_nowait(r1)  # and the one after, with nothing newer: a repeat
    assert q.empty() and seen == [(1, 0), (1, 1)]
    q.put_early(r2)
    q.put_early(r2)  # handed over twice: queued once
    q.put_early(Frame(3))  # a newer result while r2 still waits for the encoder: r2 is stale
    assert [f.n for f in asyncio.run(_drain(q))] == [3] and seen[-1] == (0, 1)
    q.put_nowait(r2)  # recv may still return the superseded one later: not sent, its drop counted once
    assert q.empty() and seen[-1] == (1, 0)
    assert sum(r for r, _ in seen) == 3 and sum(d for _, d in seen) == 2  # 3 camera frames; r2 and a repeat
    q.put_nowait(None)
    q.put_early(Frame(4))  # after the end marker: the marker stays
    assert [getattr(f, "n", None) for f in asyncio.run(_drain(q))] == [None, 4]


def test_hand_over_early_hooks_the_async_track_when_it_starts():
    import asyncio
    import threading
    from collections import deque

    from fer_app.webrtc_shim import NewestFramesQueue, hand_over_early

    class Track:  # the part of streamlit-webrtc's AsyncMediaProcessTrack this relies on
        def __init__(self):
            self._thread = None

        def _start(self):
            if self._thread:
                return
            self._out_lock, self._out_deque, self._thread = threading.Lock(), deque(), object()

    async def scenario():
        clock = asyncio.get_running_loop().time
        q, q2 = NewestFramesQueue(keep=1, skip_repeats=True, clock=clock), NewestFramesQueue(keep=1, clock=clock)
        track = Track()
        assert hand_over_early(track, q, asyncio.get_running_loop())
        assert hand_over_early(track, q2, asyncio.get_running_loop())  # a second consumer
        track._start()
        track._start()  # started once
        worker = threading.Thread(target=lambda: track._out_deque.extend(["annotated"]))
        worker.start()
        worker.join()
        got = await asyncio.wait_for(q.get(), 2.0), await asyncio.wait_for(q2.get(), 2.0)
        return got, list(track._out_deque)

    # queued at once for both consumers, and still in the deque for the camera frame that comes next
    assert asyncio.run(scenario()) == (("annotated", "annotated"), ["annotated"])
    started = Track()
    started._thread = object()
    assert not hand_over_early(started, NewestFramesQueue(clock=lambda: 0.0), None)
    assert not hand_over_early(object(), NewestFramesQueue(clock=lambda: 0.0), None)
    assert not hand_over_early(Track(), NewestFramesQueue(), None)  # unstamped: results would have no timing


def test_hand_over_early_fits_the_pinned_streamlit_webrtc_track():
    import asyncio

    from aiortc.mediastreams import VideoStreamTrack
    from streamlit_webrtc.process import AsyncVideoProcessTrack

    from fer_app.webrtc_shim import NewestFramesQueue, _EarlyDeque, hand_over_early

    class Same:
        def recv(self, frame):
            return frame

    async def scenario():
        track = AsyncVideoProcessTrack(VideoStreamTrack(), Same())
        hooked = hand_over_early(track, NewestFramesQueue(keep=1, clock=lambda: 0.0), asyncio.get_running_loop())
        track._start()
        try:
            return hooked, type(track._out_deque)
        finally:
            track.stop()

    assert asyncio.run(scenario()) == (True, _EarlyDeque)


async def _drain(q):
    out = []
    while not q.empty():
        out.append(await q.get())
    return out


def test_bound_video_queues_wraps_the_relay_once_for_the_annotated_video_only():
    import asyncio
    from types import SimpleNamespace

    from fer_app.webrtc_shim import NewestFramesQueue, bound_video_queues

    class Relay:
        def subscribe(self, track, buffered=True):
            return SimpleNamespace(_queue=asyncio.Queue(), kind=track.kind, buffered=buffered)

    class RemoteStreamTrack(SimpleNamespace):  # aiortc's name for a track from the browser
        pass

    relay = Relay()
    assert bound_video_queues(relay) == "bounded" and bound_video_queues(relay) == "kept"
    annotated = relay.subscribe(SimpleNamespace(kind="video"))
    camera = relay.subscribe(RemoteStreamTrack(kind="video"))
    audio = relay.subscribe(SimpleNamespace(kind="audio"))
    unbuffered = relay.subscribe(SimpleNamespace(kind="video"), buffered=False)
    assert isinstance(annotated._queue, NewestFramesQueue)
    assert not any(isinstance(t._queue, NewestFramesQueue) for t in (camera, audio, unbuffered))


def test_server_streams_counts_recent_sessions_and_rationing():
    clock, cpu = FakeClock(), FakeCpu()
    server = ServerLoad(cores=2, clock=clock, cpu_clock=cpu, active_s=2.0)
    assert server.streams() == (0, False)
    for i in range(3):
        server.every_for(i, 15.0, clock.t)
    assert server.streams() == (3, False)
    assert server.streams(exclude=1) == (2, False)  # the asking visitor's own stream
    clock.t += 1.5
    server.every_for(0, 15.0, clock.t)
    clock.t += 1.0  # sessions 1 and 2 sent nothing for 2.5 s: no longer streaming
    assert server.streams() == (1, False)
    server.forget(0)
    assert server.streams() == (0, False)
    # Overloaded: eight sessions, analyses too dear -> a budget, reported as rationing.
    play(server, clock, cpu, 10.0, [15.0] * 8, lambda a: 0.5 + 0.01 * a)
    assert server.streams() == (8, True)


def test_server_overloaded_then_left_idle_is_not_busy_for_the_next_visitor():
    """Eight streams overloaded the server, then all stopped: the budget is revised only as frames
    come, so it stayed, and the next visitor (a minute or hours later) was told the server was busy
    and given the light 320 x 240 camera for the whole stream (a browser test caught it after a
    heavy one); that visitor's frames were rationed from the start too."""
    clock, cpu = FakeClock(), FakeCpu()
    server = ServerLoad(cores=2, clock=clock, cpu_clock=cpu, active_s=2.0)
    play(server, clock, cpu, 10.0, [15.0] * 8, lambda a: 0.5 + 0.01 * a)
    assert server.streams() == (8, True)
    clock.t += 1.0  # within active_s of the last frames: still rationed
    assert server.streams() == (8, True)
    clock.t += 60.0
    cpu.t += 0.01
    assert server.streams() == (0, False)
    assert server.every_for(99, 15.0, clock.t) == 1 and server.budget is None
