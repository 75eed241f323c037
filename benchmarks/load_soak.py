"""Load and soak harness for the live page (a script, not a test): real headless Chromium
sessions with a fake camera against one ``streamlit run`` server, in a private network
namespace with only loopback (as tests/e2e/run.sh; the same server and browser set-up).

    python benchmarks/load_soak.py [--sessions 1,4,8] [--seconds 120] [--cycles 100] [--closes 50]

Scenarios:

* ``--sessions N,...``: N tabs (opened and started one after another) stream at once for
  ``--seconds``; per tab: frames per second
  of the returned (annotated) video, from the <video> element's decoded-frame counter, the
  *fresh* frames per second among them and each fresh frame's latency (below), and the
  page's own "Analyses / s" and "Server busy" state;
* ``--cycles C``: one tab presses START/STOP C times;
* ``--closes K``: K tabs start streaming and are closed without STOP.

Throughout, the server's RSS and thread count are sampled every 0.2 s; each scenario prints
them at its start and end, and the end of the run (once every tab is closed and the TTL has
passed, ``--ttl``) is compared with the baseline taken after the first stream: threads and
RSS within 5% (``--extra-threads``, ``--rss-tolerance``), and every tab's session shut down
(the count ``fer_app.session_reaper`` logs). Any traceback in the server log fails the run.

Frame latency: every frame of the fake camera carries its number (0-4095, with a 4-bit
check) as 16 black or white blocks along its bottom edge. A script injected into the page
wraps ``getUserMedia``: it plays the camera's own stream in a small <video> and notes when
each number was captured (``requestVideoFrameCallback``'s ``captureTime``, or when it appears
there); the returned video is watched the same way (the strip read from a canvas). A
frame's latency is the time from its capture to its number appearing in the returned
video, both on the page's clock; a number seen again (streamlit-webrtc re-sends the last
processed frame when no new one is ready) counts once, so "fresh fps" is the rate of
distinct frames returned.

The table's latency column takes every frame seen and the moment this script's callback ran.
The line below it, and the 500 ms target, take the frames captured within the scenario's
timed seconds (not those captured while the harness reads every tab before and after, which
stalls the pages) and the moment the browser handed the frame to its compositor
(``presentationTime``): what the visitor sees, which on a busy page comes 40-50 ms before the
script's turn. ``--dump-latency DIR`` writes every frame's figures with its capture time.
"""
from __future__ import annotations

import argparse
import collections
import json
import math
import os
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.live_profile import (  # noqa: E402
    CpuMeter,
    breakdown,
    browser_pids,
    format_breakdown,
    start_profile,
    thread_kinds,
)
from benchmarks.server_memory import Sampler, in_private_network, reexec_in_namespace  # noqa: E402
from fer_app.session_reaper import KEEP_LOG_S  # noqa: E402

SIZE_JS = "v => `${v.videoWidth}x${v.videoHeight}`"
VIDEO_FRAMES_JS = "v => v.getVideoPlaybackQuality().totalVideoFrames"
CAMERA_FPS = 15
CAMERA_FRAMES = 150  # a 10 s loop: frame numbers repeat every 10 s
BITS, BLOCK, STRIP = 16, 40, 24  # the frame-number strip: 16 blocks of 40 x 24 pixels at the bottom


def _check(n: int) -> int:
    return (n ^ (n >> 4) ^ (n >> 8)) & 0xF


def stamp(frame: np.ndarray, n: int) -> np.ndarray:
    """``frame`` with its number ``n`` (< 4096) and a 4-bit check drawn as blocks along the
    bottom edge (bit 0 on the left; white = 1)."""
    value = n | (_check(n) << 12)
    for b in range(BITS):
        frame[-STRIP:, b * BLOCK:(b + 1) * BLOCK] = 255 if value >> b & 1 else 0
    return frame


def read_stamp(frame: np.ndarray) -> int:
    """The number :func:`stamp` drew, or -1 if the strip does not check (the page's script
    does the same in JavaScript)."""
    value = 0
    for b in range(BITS):
        if frame[-STRIP // 2, b * BLOCK + BLOCK // 2].mean() > 128:
            value |= 1 << b
    n = value & 0xFFF
    return n if value >> 12 == _check(n) else -1


def fake_camera(path: Path, size: tuple[int, int] = (640, 480)) -> Path:
    """The fake camera's video: 640x480 frames with their numbers, scaled to ``size`` (the
    strip scales with them; the page's script reads it in proportion)."""
    import cv2

    from tests.media import write_y4m
    from tests.scenes import one_face_frame

    base = one_face_frame()
    frames = (stamp(np.roll(base, int(12 * math.sin(i / 30 * 2 * math.pi)), axis=1), i)
              for i in range(CAMERA_FRAMES))
    if size != (640, 480):
        frames = (cv2.resize(f, size, interpolation=cv2.INTER_AREA) for f in frames)
    return write_y4m(path, frames, fps=CAMERA_FPS)


#: Injected into every frame of every page (the streamer lives in an iframe): notes when each
#: frame number shows in the camera's stream and in the returned video (see the docstring).
LATENCY_JS = """
(() => {
  const BITS = __BITS__, BLOCK = __BLOCK__, STRIP = __STRIP__, W = BITS * BLOCK;
  const S = window.__ferLat = {inTimes: new Map(), lat: [], shown: [], at: [], fresh: 0, lastOut: -1};
  const read = (ctx, v) => {
    const w = v.videoWidth, h = v.videoHeight;
    if (!w || !h) return -1;
    const sh = STRIP * h / 480;
    ctx.drawImage(v, 0, h - sh, W * w / 640, sh, 0, 0, W, STRIP);
    const d = ctx.getImageData(0, 0, W, STRIP).data;
    let value = 0;
    for (let b = 0; b < BITS; b++) {
      let sum = 0;
      for (const dx of [-8, 0, 8]) for (const dy of [-4, 0, 4])
        sum += d[4 * ((STRIP / 2 + dy) * W + b * BLOCK + BLOCK / 2 + dx) + 1];
      if (sum / 9 > 128) value |= 1 << b;
    }
    const n = value & 0xFFF;
    return ((n ^ (n >> 4) ^ (n >> 8)) & 0xF) === (value >> 12) ? n : -1;
  };
  const watch = (v, onNumber) => {
    const canvas = document.createElement('canvas');
    canvas.width = W; canvas.height = STRIP;
    const ctx = canvas.getContext('2d', {willReadFrequently: true});
    const step = (now, meta) => {
      const n = read(ctx, v);
      if (n >= 0) onNumber(n, performance.now(), meta);
      v.requestVideoFrameCallback(step);
    };
    v.requestVideoFrameCallback(step);
  };
  const media = navigator.mediaDevices;
  if (media && media.getUserMedia) {
    const original = media.getUserMedia.bind(media);
    media.getUserMedia = async (constraints) => {
      const stream = await original(constraints);
      const v = document.createElement('video');
      v.muted = true; v.playsInline = true; v.srcObject = stream;
      v.style.cssText = 'position:fixed;left:0;bottom:0;width:64px;height:48px;opacity:0.01;pointer-events:none';
      document.body.appendChild(v);
      v.play();
      // The camera's capture time where the browser gives it: a busy page renders the preview late.
      watch(v, (n, t, meta) => S.inTimes.set(n, meta && meta.captureTime > 0 ? meta.captureTime : t));
      return stream;
    };
  }
  // Every peer connection of the frame, for the browser's own WebRTC statistics (RTC_JS).
  const PC = window.RTCPeerConnection;
  if (PC) {
    window.__ferPCs = [];
    window.RTCPeerConnection = class extends PC {
      constructor(...args) { super(...args); window.__ferPCs.push(this); }
    };
  }
  window.__ferWatchOut = (v) => {
    if (v.__ferWatched) return;
    v.__ferWatched = true;
    watch(v, (n, t, meta) => {
      if (n === S.lastOut) return;  // the same frame sent again
      S.lastOut = n;
      S.fresh++;
      const t0 = S.inTimes.get(n);
      if (t0 !== undefined && t >= t0 && t - t0 < 5000) {
        S.lat.push(t - t0);
        // When the browser handed the frame to the compositor (what the visitor sees), which
        // can be earlier than this script's turn on a busy page.
        const shown = meta && meta.presentationTime > 0 ? meta.presentationTime : t;
        S.shown.push(Math.max(shown - t0, 0));
        S.at.push(t0);
      }
    });
  };
})();
""".replace("__BITS__", str(BITS)).replace("__BLOCK__", str(BLOCK)).replace("__STRIP__", str(STRIP))
LATENCY_RESET_JS = ("v => { window.__ferWatchOut(v); const S = window.__ferLat;"
                    " S.lat = []; S.shown = []; S.at = []; S.fresh = 0; }")
LATENCY_READ_JS = ("v => { const S = window.__ferLat;"
                   " return {lat: S.lat, shown: S.shown, at: S.at, origin: performance.timeOrigin, fresh: S.fresh}; }")
#: The browser's side of a frame's latency, from its WebRTC statistics (cumulative counters):
#: the returned video's jitter buffer (seconds held over frames emitted) and the camera's own
#: VP8 encoding, and whether the browser lowered the camera's resolution for lack of CPU.
RTC_JS = """
async v => {
  const out = {jb: 0, jbn: 0, enc: 0, encn: 0, cpu: false};
  for (const pc of (window.__ferPCs || [])) {
    if (pc.connectionState === "closed") continue;
    (await pc.getStats()).forEach(s => {
      if (s.kind !== "video") return;
      if (s.type === "inbound-rtp") { out.jb += s.jitterBufferDelay || 0; out.jbn += s.jitterBufferEmittedCount || 0; }
      if (s.type === "outbound-rtp") {
        out.enc += s.totalEncodeTime || 0; out.encn += s.framesEncoded || 0;
        out.cpu = out.cpu || s.qualityLimitationReason === "cpu";
      }
    });
  }
  return out;
}
"""


def rtc_summary(before: list[dict | None], after: list[dict | None]) -> str:
    """One line from RTC_JS's counters at the start and end of a scenario, per tab."""
    jitter, encode, cpu = [], [], 0
    for a, b in zip(before, after):
        if not a or not b:
            continue
        if b["jbn"] > a["jbn"]:
            jitter.append(1000 * (b["jb"] - a["jb"]) / (b["jbn"] - a["jbn"]))
        if b["encn"] > a["encn"]:
            encode.append(1000 * (b["enc"] - a["enc"]) / (b["encn"] - a["encn"]))
        cpu += bool(b["cpu"])
    if not jitter and not encode:
        return "browsers' WebRTC statistics: none read"

    def med(xs: list[float]) -> str:
        return f"{statistics.median(xs):.0f}" if xs else "-"

    return (f"browsers: returned video held {med(jitter)} ms in the jitter buffer (median of tabs; "
            f"max {max(jitter, default=0):.0f}), camera VP8 encode {med(encode)} ms a frame, camera "
            f"resolution lowered for CPU in {cpu} of {len(after)} tabs")


def per_tab_tail(seen: list[dict]) -> str:
    """Whether the pooled p95 latency comes from a few tabs or from all: each tab's own p95,
    and the share of all frames over 500 ms that each tab contributed."""
    tails = [percentile(s["lat"], 95) for s in seen]
    over = [sum(x > 500 for x in s["lat"]) for s in seen]
    total = max(sum(over), 1)
    return ("per tab: p95 ms " + " ".join(f"{t:.0f}" for t in tails)
            + "; share of the frames over 500 ms " + " ".join(f"{o / total:.0%}" for o in over))


def in_window(seen: list[dict], start_s: float, end_s: float, key: str = "shown") -> list[float]:
    """The latencies (``key``: "shown", to the browser's presentation of the frame, or "lat", to
    this script's turn) of the frames captured between ``start_s`` and ``end_s`` (Unix seconds):
    the steady streaming the scenario times, not the harness's own reads of every tab before and
    after it (those stall the tabs' pages and show as a burst of late frames at either end)."""
    out = []
    for s in seen:
        origin = s.get("origin")
        if origin is None:
            continue
        for at, value in zip(s.get("at") or [], s.get(key) or []):
            if start_s * 1000 <= origin + at <= end_s * 1000:
                out.append(value)
    return out


def is_known_upstream(traceback: str) -> bool:
    """Streamlit 1.67's websocket endpoint (Starlette) logs this pair when a tab's websocket goes
    away abruptly: ``receive_bytes`` raises ``WebSocketDisconnected``, which its handler for
    text frames catches as a ``RuntimeError``, and its ``websocket.close()`` then raises
    again. Nothing of this app is on the stack; seen with and without the session reaper."""
    lines = traceback.splitlines()
    end = next((i for i, line in enumerate(lines[1:], 1) if line and not line.startswith(" ")), len(lines) - 1)
    exception, traceback = lines[end], "\n".join(lines[:end])  # the frames, then what was raised
    return ("streamlit/web/server/starlette/starlette_websocket.py" in traceback
            and exception.startswith("starlette.websockets.WebSocketDisconnected")
            and "fer_app" not in traceback and "fer_core" not in traceback and "app_pages" not in traceback)


def progress(what: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {what}", file=sys.stderr, flush=True)


def renice_browsers(nice: int) -> None:
    """Every thread of every Chromium process at ``nice`` (Linux niceness is per thread; new
    renderers and threads inherit it from the thread that starts them)."""
    if not nice:
        return
    for pid in browser_pids():
        for task in Path(f"/proc/{pid}/task").glob("*"):
            try:
                os.setpriority(os.PRIO_PROCESS, int(task.name), nice)
            except (OSError, ValueError):
                pass


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sessions", default="1,4,8", help="concurrent live tabs per scenario (comma-separated)")
    p.add_argument("--seconds", type=float, default=120.0, help="streaming time per scenario")
    p.add_argument("--cycles", type=int, default=100, help="START/STOP cycles of one tab (0: skip)")
    p.add_argument("--closes", type=int, default=50, help="tabs closed mid-stream without STOP (0: skip)")
    p.add_argument("--settle", type=float, default=10.0, help="seconds to wait before the leak check")
    p.add_argument("--ttl", type=float, default=None,
                   help="the server's server.disconnectedSessionTTL in seconds (default: the app's, 900, "
                        "for tabs that hold a session log; others end after 120 s); the tab-close check waits "
                        "this long plus 15 s, for the closed tabs' sessions to end")
    p.add_argument("--rss-tolerance", type=float, default=5.0,
                   help="percent above the baseline that RSS may end at (default 5, the issue's target)")
    p.add_argument("--extra-threads", type=int, default=0,
                   help="threads the server may end with beyond 5%% over the baseline (default 0): pool threads "
                        "(Python's default executor, anyio's workers) grow with the busiest moment and stay a while")
    p.add_argument("--perf-targets", action=argparse.BooleanOptionalAction, default=True,
                   help="fail when a tab gets under 5 fresh frames/s or p95 latency over 500 ms (the issue's "
                        "targets for 8 sessions on 2 cores); --no-perf-targets only prints them (CI, shared machines)")
    p.add_argument("--profile", type=Path, default=None, metavar="DIR",
                   help="py-spy the server during each scenario (DIR/profile-N.txt) and print where its CPU "
                        "went (benchmarks/live_profile.py; needs `pip install py-spy`)")
    p.add_argument("--camera-size", default="640x480", metavar="WxH",
                   help="the fake camera's frame size (default 640x480; the page asks for 480x360, which "
                        "Chromium scales to; a camera of that size spares the browsers the scaling)")
    p.add_argument("--viewport", default="1280x900", metavar="WxH",
                   help="each tab's window (default 1280x900; smaller: less for the browsers to draw)")
    p.add_argument("--browser-nice", type=int, default=0, metavar="N",
                   help="run the browsers at this niceness (default 0): on a machine shared with the "
                        "server, 10 lets the server have the CPU it needs first, as if the browsers were "
                        "elsewhere (they then decode and render what is left: the figures read lower)")
    p.add_argument("--dump-latency", type=Path, default=None, metavar="DIR",
                   help="write each scenario's frame latencies (per tab: capture time, to this script's "
                        "turn, to presentation; ms) to DIR/latency-N.json")
    p.add_argument("--env", action="append", default=[], metavar="NAME=VALUE",
                   help="extra environment for the server (repeatable)")
    return p.parse_args(argv)


HEADER = (f"{'scenario':<22} {'fps per tab (min/median)':>25} {'fresh fps (min/median)':>23} "
          f"{'latency p50/p95 ms':>19} {'analyses/s':>11} {'busy':>5} "
          f"{'RSS start/peak/end MB':>22} {'threads start/end':>18}")


class Harness:
    """One server, one browser and the failures found; a method per scenario."""

    def __init__(self, args: argparse.Namespace, browser, url: str, proc, log_path: Path):
        from playwright.sync_api import Error as PlaywrightError

        from tests.e2e.test_browser import STREAM_FRAME

        self.args, self.browser, self.url, self.proc, self.log_path = args, browser, url, proc, log_path
        self.playwright_error = PlaywrightError
        self.stream_frame = STREAM_FRAME
        self.ttl = KEEP_LOG_S if args.ttl is None else args.ttl
        self.failures: list[str] = []
        self.tabs_opened = 0
        self.sampler = Sampler(proc.pid, interval=0.2)
        self.sampler.start()
        time.sleep(1.0)

    def now(self) -> tuple[float, int]:
        """The server's latest RSS (MB) and thread count."""
        _, rss, threads = self.sampler.samples[-1]
        return rss, threads

    def open_live(self):
        from tests.e2e.test_browser import goto

        self.tabs_opened += 1
        width, height = (int(v) for v in self.args.viewport.split("x"))
        ctx = self.browser.new_context(viewport={"width": width, "height": height})
        ctx.add_init_script(LATENCY_JS)
        page = ctx.new_page()
        page.set_default_timeout(120_000)
        goto(page, self.url, "live")
        return ctx, page

    def video(self, page):
        return page.frame_locator(self.stream_frame).locator("video").first

    def read(self, n: int, what: str, fn, page):
        """``fn(page)``, or None (and a failure noted) when the tab's page or stream died."""
        try:
            return fn(page)
        except self.playwright_error as e:
            self.failures.append(f"{n} tabs: could not read {what} ({str(e).splitlines()[0]})")
            return None

    def wait_for_sessions_to_end(self) -> None:
        time.sleep(max(self.args.settle, self.ttl + 15))  # a closed tab's session is kept for the TTL

    def row(self, label: str, t0: float, rss0: float, thr0: int) -> None:
        """A memory-only row of the table (START/STOP cycles, tab closes)."""
        rss1, thr1 = self.now()
        print(f"{label:<22} {'':>25} {'':>11} {'':>5} "
              f"{rss0:>8.0f}/{self.sampler.peak_since(t0):.0f}/{rss1:.0f} {thr0:>10}/{thr1}")

    def baseline(self) -> None:
        """One stream started and stopped, so that imports and models are loaded."""
        from tests.e2e.test_browser import start_stream, stop_stream

        print(f"server started: RSS {self.now()[0]:.0f} MB, {self.now()[1]} threads")
        ctx, page = self.open_live()
        start_stream(page)
        time.sleep(3)
        stop_stream(page)
        ctx.close()
        self.wait_for_sessions_to_end()
        self.base_rss, self.base_threads = self.now()
        self.base_kinds = thread_kinds(self.proc.pid)  # py-spy, where installed: which threads there are
        print(f"baseline after one stream: RSS {self.base_rss:.0f} MB, {self.base_threads} threads\n", flush=True)
        print(HEADER)

    def presentation_latency(self, n: int, seen: list[dict], start_s: float, end_s: float) -> list[float]:
        """Print the latency of the frames captured in the timed window, to the browser's
        presentation time (what the visitor sees; see the module docstring) and to this script's
        turn; return the former. With --dump-latency, write every frame's figures."""
        if self.args.dump_latency:
            self.args.dump_latency.mkdir(parents=True, exist_ok=True)
            (self.args.dump_latency / f"latency-{n}.json").write_text(json.dumps(
                [{k: s.get(k) for k in ("origin", "at", "lat", "shown")} for s in seen]))
        shown = in_window(seen, start_s, end_s)
        if shown:
            turn = in_window(seen, start_s, end_s, "lat")
            print(f"{'':<22} frames captured within the {end_s - start_s:.0f} s: latency to the browser's "
                  f"presentation time p50/p95 {percentile(shown, 50):.0f} / {percentile(shown, 95):.0f} ms "
                  f"({len(shown)} frames; to this script's turn {percentile(turn, 50):.0f} / "
                  f"{percentile(turn, 95):.0f} ms)")
        return shown

    def live(self, n: int) -> None:
        """``n`` tabs stream at once for --seconds: their frame rates, latency and the server's cost."""
        from tests.e2e.test_browser import metric, start_stream

        args = self.args
        t0 = time.time()
        rss0, thr0 = self.now()
        progress(f"{n} tab(s): opening")
        # Visitors arrive one after another: each opens the page and starts (the page chooses
        # its camera size from the streams already running, fer_app.support.camera_for, and
        # changes it while the stream runs as the load does, fer_app.support.CaptureFollower).
        tabs = []
        for _ in range(n):
            tabs.append(self.open_live())
            renice_browsers(args.browser_nice)
            start_stream(tabs[-1][1])
        progress(f"{n} tab(s): streaming")
        time.sleep(3.0)
        counts0 = [self.video(page).evaluate(VIDEO_FRAMES_JS) for _, page in tabs]
        for _, page in tabs:
            self.video(page).evaluate(LATENCY_RESET_JS)
        rtc0 = [self.read(n, "WebRTC statistics", lambda pg: self.video(pg).evaluate(RTC_JS), page)
                for _, page in tabs]
        meter = CpuMeter(self.proc.pid)
        profiler = None
        if args.profile:
            args.profile.mkdir(parents=True, exist_ok=True)
            profiler = start_profile(self.proc.pid, args.seconds, args.profile / f"profile-{n}.txt")
        meter.start()
        t_start = time.time()
        time.sleep(args.seconds)
        dt = time.time() - t_start
        server_cpu, browser_cpu = meter.stop()
        for _, page in tabs:  # an overloaded tab may never show a readout: do not wait 2 min each
            page.set_default_timeout(15_000)
        counts1 = [self.read(n, "frames", lambda pg: self.video(pg).evaluate(VIDEO_FRAMES_JS), page)
                   for _, page in tabs]
        seen = [self.read(n, "frame numbers", lambda pg: self.video(pg).evaluate(LATENCY_READ_JS), page)
                or {"fresh": 0, "lat": []} for _, page in tabs]
        sizes = collections.Counter(self.read(n, "video size", lambda pg: self.video(pg).evaluate(SIZE_JS), page)
                                    for _, page in tabs)
        size = ", ".join(f"{k} x{v}" if len(sizes) > 1 else str(k) for k, v in sizes.most_common())
        rtc1 = [self.read(n, "WebRTC statistics", lambda pg: self.video(pg).evaluate(RTC_JS), page)
                for _, page in tabs]
        analyses = [float(self.read(n, "analyses/s", lambda pg: metric(pg, "Analyses / s"), page) or 0)
                    for _, page in tabs]
        busy = sum(page.get_by_text("Server busy").count() > 0 for _, page in tabs)
        self.stop_all(n, tabs)
        fps = [(b - a) / dt if b is not None else 0.0 for a, b in zip(counts0, counts1)]
        fresh = [s["fresh"] / dt for s in seen]
        lat = [x for s in seen for x in s["lat"]]
        p50, p95 = percentile(lat, 50), percentile(lat, 95)
        rss1, thr1 = self.now()
        print(f"{f'{n} live tab(s), {args.seconds:.0f} s':<22} "
              f"{min(fps):>12.1f} / {statistics.median(fps):<10.1f} "
              f"{min(fresh):>10.1f} / {statistics.median(fresh):<10.1f} "
              f"{p50:>9.0f} / {p95:<7.0f} "
              f"{statistics.median(analyses):>11.1f} {busy:>5} "
              f"{rss0:>8.0f}/{self.sampler.peak_since(t0):.0f}/{rss1:.0f} {thr0:>10}/{thr1}")
        frames_fresh = sum(s["fresh"] for s in seen)
        per_frame = 1000 * server_cpu / max(frames_fresh, 1)
        print(f"{'':<22} video {size}; server CPU {server_cpu / dt:.2f} cores, {per_frame:.0f} ms per "
              f"fresh frame ({frames_fresh} fresh frames); browsers {browser_cpu / dt:.2f} cores ("
              + ", ".join(f"{k} {v / dt:.2f}" for k, v in meter.by_type.most_common(4)) + ")")
        print(f"{'':<22} {rtc_summary(rtc0, rtc1)}")
        shown = self.presentation_latency(n, seen, t_start, t_start + dt)
        if n > 1:
            print(f"{'':<22} {per_tab_tail(seen)}")
        if profiler is not None:
            profiler.wait(timeout=60)
            prof = args.profile / f"profile-{n}.txt"
            if prof.exists():
                print(format_breakdown(breakdown(prof.read_text()), server_cpu, frames_fresh))
        if args.perf_targets and min(fresh) < 5:
            self.failures.append(f"{n} tabs: a tab received {min(fresh):.1f} fresh frames/s (< 5)")
        if not lat:
            self.failures.append(f"{n} tabs: no frame number came back (the latency probe failed)")
        elif args.perf_targets and percentile(shown or lat, 95) > 500:
            self.failures.append(f"{n} tabs: p95 frame latency {percentile(shown or lat, 95):.0f} ms over "
                                 f"{len(shown or lat)} frames (> 500)")

    def stop_all(self, n: int, tabs) -> None:
        from tests.e2e.test_browser import stop_stream

        for i, (ctx, page) in enumerate(tabs):
            try:
                page.set_default_timeout(30_000)  # a dead stream's Stop never comes back
                stop_stream(page)
            except self.playwright_error as e:  # the tab's stream or page died: an error, not a crash
                self.failures.append(f"{n} tabs: tab {i + 1} could not be stopped ({str(e).splitlines()[0]})")
            ctx.close()

    def cycles(self, count: int) -> None:
        """One tab presses START/STOP ``count`` times."""
        from tests.e2e.test_browser import start_stream, stop_stream

        t0, (rss0, thr0) = time.time(), self.now()
        ctx, page = self.open_live()
        for _ in range(count):
            start_stream(page)
            time.sleep(0.5)
            stop_stream(page)
        ctx.close()
        time.sleep(self.args.settle)
        self.row(f"{count} START/STOP", t0, rss0, thr0)

    def closes(self, count: int) -> None:
        """``count`` tabs start streaming and are closed without STOP."""
        from tests.e2e.test_browser import start_stream

        t0, (rss0, thr0) = time.time(), self.now()
        for _ in range(count):
            ctx, page = self.open_live()
            start_stream(page)
            time.sleep(1.0)
            ctx.close()  # no STOP
        self.wait_for_sessions_to_end()
        self.row(f"{count} tab closes", t0, rss0, thr0)

    def check_leaks(self) -> None:
        """Every tab is closed: threads and RSS back near the baseline."""
        self.wait_for_sessions_to_end()
        end_rss, end_threads = self.now()
        self.sampler.stop()
        print(f"\nend: RSS {end_rss:.0f} MB ({100 * (end_rss / self.base_rss - 1):+.0f}% of the baseline), "
              f"{end_threads} threads (baseline {self.base_threads})")
        end_kinds = thread_kinds(self.proc.pid)
        if self.base_kinds is not None and end_kinds is not None and end_kinds != self.base_kinds:
            extra, gone = end_kinds - self.base_kinds, self.base_kinds - end_kinds
            print("threads by name against the baseline: "
                  + ", ".join([f"+{n} {k}" for k, n in extra.most_common()]
                              + [f"-{n} {k}" for k, n in gone.most_common()]))
        if end_threads > math.ceil(1.05 * self.base_threads) + self.args.extra_threads:
            self.failures.append(f"threads not back within 5% (+{self.args.extra_threads}) of the baseline: "
                                 f"{end_threads} > {self.base_threads}")
        if end_rss > (1 + self.args.rss_tolerance / 100) * self.base_rss:
            self.failures.append(f"RSS not back within {self.args.rss_tolerance:g}% of the baseline: "
                                 f"{end_rss:.0f} > {self.base_rss:.0f} MB")

    def check_log(self) -> None:
        """Every tab's session shut down (fer_app.session_reaper's running count) and no
        traceback of ours in the server log."""
        log = self.log_path.read_text()
        shut = max((int(m) for m in re.findall(r"closed \d+ session\(s\).*?\((\d+) so far\)", log)), default=0)
        print(f"sessions shut down: {shut} of the {self.tabs_opened} tabs opened")
        if shut < self.tabs_opened:
            self.failures.append(f"only {shut} of {self.tabs_opened} closed tabs' sessions were shut down")
        blocks = ["Traceback" + b for b in log.split("Traceback")[1:]]
        upstream = [b for b in blocks if is_known_upstream(b)]
        ours = [b for b in blocks if not is_known_upstream(b)]
        if upstream:
            print(f"known upstream tracebacks (Streamlit's websocket endpoint on an abrupt close, not "
                  f"counted): {len(upstream)}")
        if ours:
            self.failures.append(f"the server log has {len(ours)} traceback(s)")
            for block in ours[:3]:  # the first three, up to their exception line
                lines = block.splitlines()
                end = next((i for i, line in enumerate(lines[1:], 1) if line and not line.startswith(" ")), 25)
                print("\n".join(lines[:end + 1]))


def main(argv=None) -> int:
    args = parse_args(argv)
    if not in_private_network():
        return reexec_in_namespace(sys.argv[1:] if argv is None else argv, __file__)

    from playwright.sync_api import sync_playwright

    from tests.e2e.conftest import CHROMIUM, CHROMIUM_FLAGS, start_server

    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as pw:
        tmp = Path(tmp)
        camera = fake_camera(tmp / "faces.y4m", tuple(int(v) for v in args.camera_size.split("x")))
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS + [
            "--use-fake-ui-for-media-stream", f"--use-file-for-fake-video-capture={camera}"])
        renice_browsers(args.browser_nice)
        server_args = [] if args.ttl is None else ["--server.disconnectedSessionTTL", f"{args.ttl:g}"]
        with start_server(tmp, env=dict(e.split("=", 1) for e in args.env), args=server_args) as (url, proc):
            h = Harness(args, browser, url, proc, tmp / "streamlit.log")
            h.baseline()
            for n in [int(x) for x in args.sessions.split(",") if x]:
                h.live(n)
            if args.cycles:
                h.cycles(args.cycles)
            if args.closes:
                h.closes(args.closes)
            h.check_leaks()
            h.check_log()
            failures = h.failures
        browser.close()
    print("\n" + ("RESULT ok" if not failures else "RESULT FAILED:\n  " + "\n  ".join(failures)))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
