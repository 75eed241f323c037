"""Logs of whole classes, without the model: CSV size, reading back, the dashboard's charts, the
report and a comparison of several sessions.

    python benchmarks/class_logs.py                        # a 90-minute live class of 30 faces
    python benchmarks/class_logs.py --minutes 60 --faces 20 --no-attention --bin 1 --sessions 8

A class as the live page logs it: a 1280 x 720 gallery of ``--faces`` tiles, a row per face every
``--step`` seconds (the live page's log interval, with the jitter of frames at 5 a second), a face
missed now and then, people who leave for 1-15 minutes and come back under a new face number,
a few named moments, and (unless ``--no-attention``) head pose, eyes and looking at the camera.
Expressions drift per face, with a wave of smiles at 60% of the session. The figures it prints
are for docs/RELIABILITY.md, "CSV logs of a whole class".
"""

from __future__ import annotations

import argparse
import sys
import time
import tracemalloc
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from fer_core import charts  # noqa: E402
from fer_core.labels import LABELS  # noqa: E402
from fer_core.session import SessionLog  # noqa: E402


@dataclass
class Face:
    """A tracked face as the session log reads it (``fer_core.tracking.TrackedFace``'s fields)."""

    face_id: int
    box: tuple[int, int, int, int]
    probabilities: tuple[float, ...]
    pose: tuple[float, float, float] | None = None
    eyes_open: tuple[float, float] | None = None
    looking_at_camera: bool | None = None


def class_log(
    seed: int,
    minutes: float,
    faces: int,
    step_s: float = 0.5,
    attention: bool = True,
    leave_per_hour: float = 1.5,
    miss: float = 0.04,
) -> SessionLog:
    """One synthetic class (see the module's docstring)."""
    rng = np.random.default_rng(seed)
    log = SessionLog(source="live")
    cols = 6
    tile_w, tile_h = 1280 // cols, 720 // int(np.ceil(faces / cols))
    lean = rng.normal(0.0, 0.6, (faces, len(LABELS)))
    lean[:, LABELS.index("Neutral")] += 2.0
    lean[:, LABELS.index("Disgust")] -= 2.0
    drift = np.zeros((faces, len(LABELS)))
    ids = np.arange(1, faces + 1)
    next_id = faces + 1
    back_at = np.full(faces, -1.0)  # away until then; -1: in view
    end = minutes * 60.0
    t = 0.0
    while t < end:
        drift = 0.97 * drift + rng.normal(0.0, 0.15, drift.shape)
        logits = lean + drift
        logits[:, LABELS.index("Happy")] += 2.0 * np.exp(-(((t / end - 0.6) / 0.08) ** 2))
        p = np.exp(logits - logits.max(axis=1, keepdims=True)).astype(np.float32)
        p /= p.sum(axis=1, keepdims=True)
        leaving = (back_at < 0) & (rng.random(faces) < leave_per_hour / 3600.0 * step_s)
        back_at[leaving] = t + rng.uniform(60, 900, int(leaving.sum()))
        returning = (back_at >= 0) & (t >= back_at)
        ids[returning] = np.arange(next_id, next_id + int(returning.sum()))
        next_id += int(returning.sum())
        back_at[returning] = -1.0
        seen = np.flatnonzero((back_at < 0) & (rng.random(faces) >= miss))
        rows = []
        for i in seen:
            w = int(tile_w * 0.45) + int(rng.integers(-3, 4))
            box = (
                (i % cols) * tile_w + tile_w // 4 + int(rng.integers(-4, 5)),
                (i // cols) * tile_h + tile_h // 5,
                w,
                w,
            )
            face = Face(int(ids[i]), box, tuple(p[i]))
            if attention:
                face.pose = (rng.normal(0, 12), rng.normal(-5, 8), rng.normal(0, 4))
                face.eyes_open = (rng.uniform(0.1, 0.5), rng.uniform(0.1, 0.5))
                face.looking_at_camera = bool(rng.random() < 0.6)
            rows.append(face)
        log.add_frame(round(t, 3), rows, "Standard")
        t += step_s * rng.uniform(0.92, 1.12)
    for k in range(6):
        log.add_marker((k + 0.5) * end / 6, f"part {k + 1}")
    return log


def dashboard_charts(log: SessionLog, bin_s: float) -> dict[str, int]:
    """The dashboard's time charts for ``log`` in ``bin_s`` bins: points per chart."""
    from fer_core.engagement import attention_timeline, has_attention, valence_arousal_timeline
    from fer_core.session import binned_mix, face_binned

    df = log.to_frame()
    timeline_s = charts.timeline_bin(bin_s, log.summary().duration_s)
    figs = {
        "mix over time": charts.mix_area(binned_mix(df, bin_s, fill_gaps=True)),
        "per-face timeline": charts.face_timeline(face_binned(df, timeline_s)),
        "valence/arousal": charts.valence_arousal_path(valence_arousal_timeline(df, bin_s)),
    }
    if has_attention(df):
        figs["attention"] = charts.attention_timeline(attention_timeline(df, bin_s))
    return {name: sum(len(tr.x) for tr in fig.data if tr.x is not None) for name, fig in figs.items()}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--minutes", type=float, default=90.0, help="length of each class (default 90)")
    parser.add_argument("--faces", type=int, default=30, help="faces in the gallery (default 30)")
    parser.add_argument("--step", type=float, default=0.5, help="seconds between a face's rows (default 0.5)")
    parser.add_argument("--no-attention", action="store_true", help="log expressions only")
    parser.add_argument("--bin", type=float, default=10.0, help="the dashboard's time bin in seconds (default 10)")
    parser.add_argument("--sessions", type=int, default=1, help="classes to build; 2 or more are compared too")
    args = parser.parse_args(argv)
    from fer_core.compare import compare_sessions
    from fer_core.report import ReportOptions, build_comparison_report, build_html_report

    frames = {}
    for k in range(args.sessions):
        log = class_log(k, args.minutes, args.faces, args.step, attention=not args.no_attention)
        csv = log.to_csv()
        tracemalloc.start()
        t0 = time.perf_counter()
        back = SessionLog.from_csv(csv, source=f"class {k + 1}")
        read_s = time.perf_counter() - t0
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        summary = back.summary()
        print(
            f"class {k + 1}: {summary.rows:,} rows, {summary.faces} face numbers, CSV {len(csv) / 1e6:.1f} MB "
            f"({len(csv) / max(summary.rows, 1):.0f} bytes a row); read back in {read_s:.2f} s, "
            f"peak {peak / 1e6:.0f} MB traced"
        )
        if k == 0:
            t0 = time.perf_counter()
            points = dashboard_charts(back, args.bin)
            print(
                f"  dashboard charts in {time.perf_counter() - t0:.1f} s, points: "
                + ", ".join(f"{name} {n:,}" for name, n in points.items())
            )
            t0 = time.perf_counter()
            html = build_html_report(back, ReportOptions(bin_s=args.bin))
            print(f"  report in {time.perf_counter() - t0:.1f} s, {len(html.encode()) / 1e6:.1f} MB")
        frames[f"class {k + 1}"] = back.to_frame()
    if len(frames) > 1:
        t0 = time.perf_counter()
        table = compare_sessions(frames)
        html = build_comparison_report(frames)
        print(
            f"comparison of {len(table)} sessions in {time.perf_counter() - t0:.1f} s, report "
            f"{len(html.encode()) / 1e6:.1f} MB"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
