"""Overload on the live page: the per-session load shedder, driven by a fake clock and a
stand-in recognizer whose analysis 'takes' a set time on that clock."""
import math

import numpy as np
import pytest

from fer_core.live import LiveAnalyzer, LoadShedder


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
