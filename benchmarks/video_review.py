"""How fast the Video file page shows a moment and makes an annotated copy, and how large the copy is.

    python benchmarks/video_review.py [--minutes 5] [--rate 2] [--video LECTURE.mp4]

Without ``--video`` it generates a recording like a video call: a 3 x 3 gallery of real faces
(tests/scenes.py) at 1280 x 720 and 25 frames a second, H.264 with a keyframe every 2 s, each
tile moving a little and carrying a little sensor noise, so the encoder has real work to do.
The recording is analysed as the page does (``analyze_video`` at ``--rate``); then:

- a part of it analysed on its own (the last fifth, ``analyze_video(start_s=...)``, as the page's
  From/To do): seconds taken, and whether its face rows are the whole run's rows there;
- a moment (``fer_core.review.moment``: seek, decode, draw) at ten times spread over the video;
- the annotated copy of the whole analysed part (``annotated_video``), faces shown and pixelated:
  seconds taken, and size in MB per minute of video.
"""
from __future__ import annotations

import argparse
import io
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fer_core import load_recognizer  # noqa: E402
from fer_core.detect import still_detector  # noqa: E402
from fer_core.review import annotated_video, moment  # noqa: E402
from fer_core.video import analyze_video, probe  # noqa: E402
from tests.media import write_swaying_video  # noqa: E402
from tests.scenes import gallery_frame  # noqa: E402


def call_recording(path: Path, minutes: float, fps: int = 25) -> None:
    """A 3 x 3 gallery call, written to ``path`` frame by frame (never all in memory)."""
    write_swaying_video(str(path), gallery_frame(3, 3, 1280, 720), minutes * 60, fps)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--minutes", type=float, default=5.0, help="length of the generated recording")
    ap.add_argument("--rate", type=float, default=2.0, help="frames analysed per second of video")
    ap.add_argument("--video", type=Path, help="a recording of your own instead of the generated one")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = args.video
        if path is None:
            path = Path(tmp) / "call.mp4"
            t0 = time.perf_counter()
            call_recording(path, args.minutes)
            print(f"generated {args.minutes:g} min of a 3 x 3 call at 1280 x 720, 25 fps "
                  f"({path.stat().st_size / 1e6:.0f} MB) in {time.perf_counter() - t0:.0f} s")
        data = path.read_bytes()  # as the page holds an upload
        info = probe(data)
        rec = load_recognizer(detector=still_detector())
        t0 = time.perf_counter()
        result = analyze_video(rec, io.BytesIO(data), rate=args.rate)
        analysis_s = time.perf_counter() - t0
        df = result.log.to_frame()
        minutes = result.seconds_analysed / 60
        print(f"video {info.width} x {info.height}, {info.duration_s or 0:.0f} s; analysed at {result.rate:g} "
              f"frames/s: {result.frames_analysed} frames, {len(df)} face rows in {analysis_s:.0f} s")

        start = round(0.8 * result.seconds_analysed)
        t0 = time.perf_counter()
        part = analyze_video(rec, io.BytesIO(data), rate=args.rate, start_s=start)
        part_s = time.perf_counter() - t0
        key = ["time_s", "x", "y", "w", "h"]  # not the face numbers: a part's tracking starts afresh
        there = df[df["time_s"] >= start - 1e-6].sort_values(key).reset_index(drop=True)
        rows = part.log.to_frame().sort_values(key).reset_index(drop=True)
        same = len(rows) == len(there) and np.allclose(rows[key], there[key])
        print(f"the part from {start} s analysed on its own: {part.frames_analysed} frames in {part_s:.1f} s "
              f"({part_s / analysis_s:.0%} of the whole run's time); its {len(rows)} face rows "
              f"{'are' if same else 'are NOT'} the whole run's rows there")

        times = np.linspace(0, result.seconds_analysed, 10)
        took = []
        for t in times:
            t1 = time.perf_counter()
            shown = moment(io.BytesIO(data), df, float(t), rate=result.rate)
            took.append(time.perf_counter() - t1)
            assert shown is not None
        print(f"moment (seek, decode, draw): median {statistics.median(took) * 1000:.0f} ms, "
              f"max {max(took) * 1000:.0f} ms over 10 times from 0 to {result.seconds_analysed:.0f} s")

        print("| annotated copy | seconds | x real time | MB | MB per minute of video |")
        print("|---|---:|---:|---:|---:|")
        for anonymise in (False, True):
            t1 = time.perf_counter()
            clip = annotated_video(io.BytesIO(data), df, rate=result.rate, anonymise=anonymise)
            dt = time.perf_counter() - t1
            mb = len(clip.data) / 1e6
            print(f"| {'faces pixelated' if anonymise else 'faces shown'} | {dt:.1f} | "
                  f"{result.seconds_analysed / dt:.0f} | {mb:.1f} | {mb / minutes:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
