"""A live session of hours, fast-forwarded: what one frame, one refresh of the Live page's readout
and the dashboard at the end cost as the session's log grows.

    python benchmarks/long_live.py                          # one face, 3 hours at 15 frames a second
    python benchmarks/long_live.py --faces 30 --fps 5       # a class of 30 on a shared screen
    python benchmarks/long_live.py --faces 30 --fps 5 --attention-at 150   # attention on late

A stand-in recognizer gives ``--faces`` faces with random probabilities (no model: the figures are
the pipeline's own, around the analysis), and a fake clock runs the session at ``--fps`` analysed
frames a second through ``fer_core.live.LiveAnalyzer``: tracking, smoothing, the annotated frame and
the log's 2 rows a face and second. At each checkpoint it prints ``process()``'s median over the last
minute of frames, what the page's readout does with the log (``to_frame(last_s=10)``, the counts of
top labels, the two bar charts and their JSON), the log's buffer and the process's peak RSS; at the
end the dashboard's charts in 1 s and 10 s bins, the HTML report and the CSV. Over the whole
session it times every ``SessionLog.add_frame`` (the log's part of the frame callback, under the
analyzer's lock: its median, 99th percentile and worst, and the row count at the worst), and at the
end how long a frame's row waits while the dashboard reads the log in another thread
(``to_frame()`` and ``summary()``). ``--attention-at``: the minute at which attention is switched
on (the log's attention columns then). The figures it prints are for docs/RELIABILITY.md, "A live
session of hours".
"""

from __future__ import annotations

import argparse
import resource
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from fer_core import charts  # noqa: E402
from fer_core.engagement import valence_arousal_timeline  # noqa: E402
from fer_core.labels import LABELS  # noqa: E402
from fer_core.live import LiveAnalyzer  # noqa: E402
from fer_core.recognizer import FaceResult  # noqa: E402
from fer_core.report import ReportOptions, build_html_report  # noqa: E402
from fer_core.session import (  # noqa: E402
    NOTABLE_CHANGE,
    binned_mix,
    current_mix,
    face_binned,
    label_counts,
    negative_streaks,
    strongest_changes,
)


class StandIn:
    """``faces`` faces in a gallery's places, with random probabilities."""

    def __init__(self, faces: int, seed: int = 0) -> None:
        self.faces, self.rng = faces, np.random.default_rng(seed)

    def analyze(self, image: np.ndarray, **kwargs: object) -> list[FaceResult]:
        out = []
        for i, p in enumerate(self.rng.dirichlet(np.ones(len(LABELS)), self.faces)):
            k = int(p.argmax())
            box = (10 + (i % 6) * 200, 10 + (i // 6) * 140, 80, 80)
            fields = self._attention() if kwargs.get("attention") else {}
            out.append(FaceResult(box, tuple(float(v) for v in p), LABELS[k], float(p[k]), 0.9, **fields))
        return out

    def measure_attention(self, image: np.ndarray, boxes: Sequence[object], *, iris: bool = True) -> list[dict]:
        """Random attention fields, as ``Recognizer.measure_attention`` gives them (a gallery's turns)."""
        return [self._attention() if iris else {"pose": self._attention()["pose"]} for _ in boxes]

    def _attention(self) -> dict:
        yaw, pitch, roll, left, right = self.rng.uniform(-1, 1, 5)
        return {"pose": (30 * yaw, 20 * pitch, 10 * roll), "eyes_open": (abs(left), abs(right)),
                "gaze": (0.0, 0.0), "looking_at_camera": bool(abs(yaw) < 0.5)}


def best_ms(fn: Callable[[], object], repeats: int = 5) -> float:
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times) * 1e3


def readout(analyzer: LiveAnalyzer) -> tuple[float, float, float, int]:
    """One refresh of the Live page's readout as ``app_pages/live_webcam.py`` draws it: the last
    10 s and the counts (ms each, the log locked meanwhile), the whole refresh with the charts'
    JSON (ms), and that JSON's bytes. The counts are asked after a new row, as on the page."""
    log = analyzer.log
    recent_ms = best_ms(lambda: log.to_frame(last_s=10.0))
    counts_ms = best_ms(log.label_counts)
    size = 0

    def refresh() -> None:
        nonlocal size
        mix = charts.mix_bars(current_mix(log.to_frame(last_s=10.0), 10.0), "Expression mix, last 10 s")
        counts = charts.count_bars(log.label_counts())
        size = len(mix.to_json()) + len(counts.to_json())

    return recent_ms, counts_ms, best_ms(refresh, 3), size


class Timed:
    """Every call of a log's ``add_frame`` timed (s), with the log's rows before it: the wall clock,
    and the thread's CPU time (its own work, page faults included; not the time a machine shared
    with other work gave to others)."""

    def __init__(self, log: object) -> None:
        self.add, self.spent, self.cpu, self.rows = log.add_frame, [], [], []  # type: ignore[attr-defined]
        self.log = log

    def __call__(self, *args: object, **kwargs: object) -> None:
        rows = len(self.log)  # type: ignore[arg-type]
        t, c = time.perf_counter(), time.thread_time()
        self.add(*args, **kwargs)
        self.spent.append(time.perf_counter() - t)
        self.cpu.append(time.thread_time() - c)
        self.rows.append(rows)


def waits_while_read(analyzer: LiveAnalyzer, faces: int, tries: int = 5) -> tuple[float, float]:
    """How long one frame's rows wait (ms, worst of ``tries``) while the dashboard reads the whole
    log in another thread, ``to_frame()`` then ``summary()``; and how long that read took (ms)."""
    log, worst, read = analyzer.log, 0.0, 0.0
    row = [(i + 1, (0, 0, 9, 9), [1.0] + [0.0] * 6) for i in range(faces)]
    t_log = analyzer.log.summary().end_s

    def reader(started: threading.Event) -> None:
        nonlocal read
        started.set()
        t = time.perf_counter()
        log.to_frame()
        log.summary()
        read = max(read, time.perf_counter() - t)

    for k in range(tries):
        started = threading.Event()
        th = threading.Thread(target=reader, args=(started,))
        th.start()
        started.wait()
        time.sleep(0.002)  # the reader is in: copying the rows, or sorting the face numbers
        t = time.perf_counter()
        log.add_frame(t_log + 0.5 * (k + 1), row)
        worst = max(worst, time.perf_counter() - t)
        th.join()
    return worst * 1e3, read * 1e3


def dashboard(analyzer: LiveAnalyzer, bin_s: float) -> tuple[float, list[int]]:
    """The dashboard's analytics and charts of the log in ``bin_s`` bins: seconds, JSON bytes."""
    t = time.perf_counter()
    df = analyzer.log.to_frame()
    span = analyzer.log.summary().duration_s
    changes = strongest_changes(df, 5, bin_s=bin_s, min_change=NOTABLE_CHANGE)
    marks_s = charts.timeline_bin(bin_s, span)
    figs = [
        charts.mix_bars(current_mix(df, 10.0)),
        charts.count_bars(label_counts(df)),
        charts.mix_area(binned_mix(df, bin_s, fill_gaps=True), changes),
        charts.face_timeline(face_binned(df, marks_s)),
        charts.valence_arousal_path(valence_arousal_timeline(df, marks_s)),
    ]
    negative_streaks(df, 120.0, bin_s=min(bin_s, 5.0))
    sizes = [len(f.to_json()) for f in figs]
    return time.perf_counter() - t, sizes


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--hours", type=float, default=3.0)
    ap.add_argument("--faces", type=int, default=1)
    ap.add_argument("--fps", type=float, default=15.0, help="analysed frames a second (default 15)")
    ap.add_argument(
        "--checkpoints",
        type=float,
        nargs="+",
        default=[1, 60, 120, 180],
        help="minutes into the session at which to measure (default 1 60 120 180)",
    )
    ap.add_argument("--attention-at", type=float, default=None, metavar="MIN",
                    help="switch attention on at this minute of the session (default: never)")
    args = ap.parse_args(argv)

    now = [1000.0]
    analyzer = LiveAnalyzer(StandIn(args.faces), clock=lambda: now[0], adaptive=False)
    timed = Timed(analyzer.log)
    analyzer.log.add_frame = timed  # type: ignore[method-assign]
    attention_at = None if args.attention_at is None else round(args.attention_at * 60 * args.fps)
    image = np.zeros((720, 1280, 3) if args.faces > 1 else (360, 480, 3), np.uint8)
    frames = round(args.hours * 3600 * args.fps)
    marks = sorted({min(frames, round(m * 60 * args.fps)) for m in args.checkpoints if m > 0})
    per_minute = max(1, round(60 * args.fps))
    spent: list[float] = []
    print(f"{args.faces} face(s), {args.fps:g} frames a second analysed, {args.hours:g} h")
    for k in range(1, frames + 1):
        if k == attention_at:
            analyzer.configure(attention=True)
            print(f"attention on at {k / args.fps / 60:.1f} min, {len(analyzer.log):,} rows")
        t = time.perf_counter()
        analyzer.process(image)
        spent.append(time.perf_counter() - t)
        now[0] += 1.0 / args.fps
        if k in marks:
            last = np.array(spent[-per_minute:]) * 1e3
            recent_ms, counts_ms, refresh_ms, size = readout(analyzer)
            rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            print(
                f"{k / args.fps / 60:6.1f} min {len(analyzer.log):>9,} rows: frame {np.median(last):.2f} ms "
                f"(p99 {np.percentile(last, 99):.2f}); readout: last 10 s {recent_ms:.2f} ms, counts "
                f"{counts_ms:.2f} ms, refresh with charts {refresh_ms:.0f} ms, {size / 1024:.0f} kB of charts; "
                f"log blocks {analyzer.log.nbytes / 2**20:.1f} MB, peak RSS {rss:.0f} MB"
            )
    at_rows = np.array(timed.rows)
    for what, ms in (("wall clock", np.array(timed.spent) * 1e3), ("CPU time", np.array(timed.cpu) * 1e3)):
        worst = np.argsort(-ms)[:5]
        print(f"add_frame over the session, {what} ({len(ms):,} calls): median {np.median(ms):.3f} ms, "
              f"p99 {np.percentile(ms, 99):.3f}, p99.9 {np.percentile(ms, 99.9):.3f}; the worst: "
              + ", ".join(f"{ms[k]:.1f} ms at {at_rows[k]:,} rows" for k in worst))
    print(f"process() over the session: p99 {np.percentile(np.array(spent) * 1e3, 99):.2f} ms, "
          f"worst {max(spent) * 1e3:.1f} ms; peak RSS "
          f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
    analyzer.log.add_frame = timed.add  # type: ignore[method-assign]
    waited, read = waits_while_read(analyzer, args.faces)
    print(f"a frame's rows while the dashboard reads the log ({len(analyzer.log):,} rows; to_frame and summary "
          f"{read:.0f} ms): waited {waited:.1f} ms")
    for bin_s in (1.0, 10.0):
        seconds, sizes = dashboard(analyzer, bin_s)
        print(
            f"dashboard, {bin_s:g} s bins: {seconds:.2f} s, charts {sum(sizes) / 2**20:.2f} MB "
            f"(mix {sizes[2] / 2**20:.2f}, per-face {sizes[3] / 2**20:.2f}, valence {sizes[4] / 2**20:.2f})"
        )
        t = time.perf_counter()
        page = build_html_report(analyzer.log, ReportOptions(bin_s=bin_s))
        print(f"report, {bin_s:g} s bins: {time.perf_counter() - t:.2f} s, {len(page) / 2**20:.1f} MB")
    t = time.perf_counter()
    csv = analyzer.log.to_csv()
    print(f"CSV log: {time.perf_counter() - t:.2f} s, {len(csv) / 2**20:.1f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
