"""Live visitors under a load that swings, on simulated clocks (a script, not a test): does the
capture flap, is any row of a visitor's log lost, are analyses shared fairly, does a visitor stay
on the light camera after the load has gone?

    python benchmarks/load_swings.py                 # every scenario, one line each
    python benchmarks/load_swings.py --scenario band-8core --visitors   # one, each visitor too

No browser and no model: the real ``fer_core.live.ServerLoad`` and ``LiveAnalyzer`` (a stand-in
recognizer that finds one face) and ``fer_app.support.CaptureFollower``, stepped every 0.5 s (1.5 s
while busy) as the live page's readout loop does, with the browser taking ``APPLY_S`` to send the
capture asked. The process's CPU is a model: the codecs cost 6.3 ms per 480 x 360 frame and scale
with the pixels, an analysis 10 ms, the page 0.02 cores per stream (docs/RELIABILITY.md), plus
``--bg-cores`` of other work in the process (a video analysed on another page); a hog process
(``--hog-cores``, switching on and off every 5-30 s) takes its share of the cores, which the
process sees as stale frames. Visitors who stay (s0, s1, ...) and visitors who come and go every
5-30 s (c0, ...); from ``quiet_from`` the comers and the hog are gone (and ``spike_at`` plays one
5 s hog spike later). Printed: capture changes per minute while the load swings, the longest the
stayers stayed on the light camera after the load ended, analyses per second per visitor, the
seconds rationed after the load ended, the longest gap in a stayer's log.
"""
from __future__ import annotations

import argparse
import random
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from fer_app import support  # noqa: E402
from fer_core.live import LiveAnalyzer, ServerLoad  # noqa: E402
from fer_core.recognizer import FaceResult  # noqa: E402

CODEC_MS_FULL = 6.3  # per 480 x 360 frame: VP8 decode, the frame callback, VP8 encode
ANALYSIS_MS = 10.0
PAGE_CORES = 0.02
APPLY_S = 0.4  # applyConstraints to the first frame of the new capture
STEP_S = 1 / 120

SCENARIOS: dict[str, dict] = {
    "churn": dict(stable=3, churners=3, seconds=600, quiet_from=480),
    "churn-threshold": dict(stable=3, churners=1, seconds=600, quiet_from=480),
    "churn-fast": dict(stable=3, churners=2, churn=(2, 8), seconds=600, quiet_from=480),
    "hog": dict(stable=3, hog_cores=1.5, seconds=600, quiet_from=480),
    "hog+churn": dict(stable=2, churners=2, hog_cores=1.5, seconds=600, quiet_from=480),
    "band-2core": dict(stable=3, hog_cores=1.5, bg_cores=1.1, seconds=600, quiet_from=300),
    "band-8core": dict(stable=3, cores=8, hog_cores=3, bg_cores=5.6, seconds=600, quiet_from=300),
    "spike": dict(stable=3, hog_cores=1.5, seconds=900, quiet_from=300, spike_at=700),
}


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


class OneFace:
    def analyze(self, image, **kwargs):
        h, w = image.shape[:2]
        s = w // 4
        return [FaceResult((w // 2 - s // 2, h // 2 - s // 2, s, s), (0.1, 0.1, 0.1, 0.4, 0.1, 0.1, 0.1),
                           "Happy", 0.4, 0.9)]


FRAMES = {(480, 360): np.zeros((360, 480, 3), np.uint8), (320, 240): np.zeros((240, 320, 3), np.uint8)}


@dataclass
class Visitor:
    name: str
    churn: tuple[float, float] | None
    analyzer: LiveAnalyzer
    on: bool = False
    follower: support.CaptureFollower | None = None
    sent: dict = field(default_factory=lambda: support.CAMERA)  # the capture the browser sends
    pending: tuple[float, dict] | None = None
    next_frame: float = 0.0
    next_toggle: float = 0.0
    next_step: float = 0.0
    changes: list[float] = field(default_factory=list)
    light_since: float | None = None
    light: list[tuple[float, float]] = field(default_factory=list)
    started: float = 0.0
    streamed_s: float = 0.0
    analyses: int = 0

    def lighten(self, now: float, light: bool) -> None:
        if light and self.light_since is None:
            self.light_since = now
        elif not light and self.light_since is not None:
            self.light.append((self.light_since, now))
            self.light_since = None


def size_of(capture: dict) -> tuple[int, int]:
    return (320, 240) if capture["width"].get("max") == 320 else (480, 360)


def fps_of(capture: dict) -> float:
    return float(capture["frameRate"].get("max", capture["frameRate"].get("ideal")))


class Swings:
    """One scenario played step by step (see the module's docstring)."""

    def __init__(self, stable: int = 3, churners: int = 0, churn: tuple[float, float] = (5, 30),
                 cores: float = 2.0, hog_cores: float = 0.0, bg_cores: float = 0.0, seconds: float = 600,
                 quiet_from: float = 480, spike_at: float | None = None, seed: int = 1) -> None:
        self.rnd = random.Random(seed)
        self.clock, self.cpu = Clock(), Clock()
        self.server = ServerLoad(cores=cores, clock=self.clock, cpu_clock=self.cpu)
        self.cores, self.hog_cores, self.bg_cores = cores, hog_cores, bg_cores
        self.seconds, self.quiet_from, self.spike_at = seconds, quiet_from, spike_at
        self.visitors = [self._visitor(f"s{i}", None, 0.0) for i in range(stable)]
        self.visitors += [self._visitor(f"c{i}", churn, self.rnd.uniform(0, 5)) for i in range(churners)]
        self.hog_on, self.next_hog = False, self.rnd.uniform(5, 30) if hog_cores else float("inf")
        self.received, self.dropped, self.asked_cores = 0, 0.0, 0.0
        self.rationed: list[bool] = []  # whether the server rationed, each second

    def _visitor(self, name: str, churn: tuple[float, float] | None, first: float) -> Visitor:
        analyzer = LiveAnalyzer(OneFace(), clock=self.clock, show_fps=False, server=self.server)
        return Visitor(name, churn, analyzer, next_toggle=first)

    def run(self) -> Swings:
        while self.clock.t < self.seconds:
            now = self.clock.t
            self._hog(now)
            for v in self.visitors:
                self._come_and_go(v, now)
            self._frames(now)
            if int(now + STEP_S) > int(now):
                self.rationed.append(self.server.streams(now)[1])
            for v in self.visitors:
                self._readout(v, now)
            self.clock.t = now + STEP_S
        for v in self.visitors:
            if v.on:
                v.streamed_s += self.clock.t - v.started
                v.lighten(self.clock.t, False)
        return self

    def _hog(self, now: float) -> None:
        if now >= self.quiet_from:
            self.hog_on = self.spike_at is not None and self.spike_at <= now < self.spike_at + 5.0
        elif now >= self.next_hog:
            self.hog_on, self.next_hog = not self.hog_on, now + self.rnd.uniform(5, 30)

    def _come_and_go(self, v: Visitor, now: float) -> None:
        quiet = now >= self.quiet_from
        start = False
        if v.churn is None:
            start = not v.on
        elif now >= v.next_toggle:
            if v.on:
                v.on = False
                v.analyzer.on_ended()
                v.streamed_s += now - v.started
                v.lighten(now, False)
            else:
                start = not quiet
            v.next_toggle = now + self.rnd.uniform(*v.churn) if not quiet else float("inf")
        if start:  # the capture the page picks at START
            v.on, v.started = True, now
            capture, note = support.camera_for(*self.server.streams(now, exclude=id(v.analyzer)))
            v.follower = support.CaptureFollower("camera", capture, note, now)
            v.sent, v.pending, v.next_frame, v.next_step = capture, None, now, now + 0.5
            v.lighten(now, capture is support.LIGHT_CAMERA)

    def _frames(self, now: float) -> None:
        work, frames = self.bg_cores * STEP_S, 0
        for v in self.visitors:
            if not v.on:
                continue
            if v.pending and now >= v.pending[0]:
                v.sent, v.pending = v.pending[1], None
            work += PAGE_CORES * STEP_S
            if now >= v.next_frame:
                size = size_of(v.sent)
                v.next_frame += 1 / fps_of(v.sent)
                before = v.analyzer.snapshot().stats.frames_analysed
                v.analyzer.process(FRAMES[size])
                frames += 1
                work += CODEC_MS_FULL / 1000 * size[0] * size[1] / (480 * 360)
                if v.analyzer.snapshot().stats.frames_analysed > before:
                    work += ANALYSIS_MS / 1000
                    v.analyses += 1
        # The cores the process asks for, over about 0.4 s, and its share of them beside the hog:
        # the rest of its frames go stale.
        self.asked_cores = 0.98 * self.asked_cores + 0.02 * work / STEP_S
        others = self.hog_cores if self.hog_on else 0.0
        share = min(1.0, self.cores / (self.asked_cores + others)) if self.asked_cores else 1.0
        self.cpu.t += work * share
        self.received += frames
        self.dropped += frames * (1 - share)
        if self.received >= 50:
            self.server.note_frames(self.received, round(self.dropped))
            self.received, self.dropped = 0, 0.0

    def _readout(self, v: Visitor, now: float) -> None:
        """The live page's readout loop: the capture follower, every 0.5 s (1.5 s while busy)."""
        if not v.on or now < v.next_step or v.follower is None:
            return
        snap = v.analyzer.snapshot()
        before = v.follower.asked
        asked, _ = v.follower.step(now, *self.server.streams(now, exclude=id(v.analyzer)),
                                   snap.stats.frame_size, snap.stats.fps_in)
        if asked is not before:
            v.changes.append(now)
            v.pending = (now + APPLY_S, asked)
            v.lighten(now, asked is support.LIGHT_CAMERA)
        v.next_step = now + (1.5 if snap.stats.busy else 0.5)


def log_gap(v: Visitor) -> float:
    times = np.unique(v.analyzer.log.to_frame()["time_s"].to_numpy()) if len(v.analyzer.log) else np.zeros(1)
    return float(np.diff(times).max()) if len(times) > 1 else 0.0


def summary(name: str, params: dict, visitors: list[Visitor], rationed: list[bool], each: bool) -> str:
    quiet_from = params.get("quiet_from", 480)
    ended = params["spike_at"] + 5.0 if params.get("spike_at") is not None else quiet_from
    per_min = max(sum(t < quiet_from for t in v.changes) / (quiet_from / 60) for v in visitors)
    stayers = [v for v in visitors if v.churn is None]
    after = max((e - ended for v in stayers for s, e in v.light if e > ended), default=0.0)
    rates = [v.analyses / v.streamed_s for v in visitors if v.streamed_s]
    held = sum(rationed[int(quiet_from):])
    line = (f"{name:16s} changes/min {per_min:4.1f}  light after the load {after:6.1f} s  analyses/s "
            f"{min(rates):5.1f}-{max(rates):5.1f}  rationed after {held:3d} of {len(rationed) - int(quiet_from)} s"
            f"  longest log gap {max(log_gap(v) for v in stayers):.2f} s")
    if each:
        for v in visitors:
            light = sum(e - s for s, e in v.light)
            wait = v.follower.restore_after if v.follower else 0.0
            line += (f"\n  {v.name}: streamed {v.streamed_s:5.0f} s, {len(v.changes)} capture changes, light "
                     f"{light:5.0f} s, {v.analyses / max(v.streamed_s, 1e-9):5.2f} analyses/s, "
                     f"{len(v.analyzer.log)} log rows, restore wait {wait:.0f} s")
    return line


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--scenario", choices=sorted(SCENARIOS), action="append", help="repeatable; default: all")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--visitors", action="store_true", help="a line for each visitor too")
    args = p.parse_args(argv)
    for name in args.scenario or list(SCENARIOS):
        params = SCENARIOS[name]
        run = Swings(**params, seed=args.seed).run()
        print(summary(name, params, run.visitors, run.rationed, args.visitors), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
