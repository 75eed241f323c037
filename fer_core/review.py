"""Looking back at an analysed video: a frame at a chosen moment with its faces drawn, and an
annotated copy of the video to download.

Nothing is analysed again. The boxes, anonymous face numbers, expressions and head poses
come from the session log of the analysis (``SessionLog.to_frame()``), so the picture shows
exactly what the charts count. Frames are decoded again from the video (seeking, so a
moment late in a long lecture takes milliseconds) at the analysis's rate and size: the
frame shown for a time is the frame that was analysed for it (``fer_core.video.iter_frames``
gives the first frame at or after each multiple of ``1 / rate``). Nothing is written to
disk: the annotated video is encoded into memory, for the caller to hand over.
"""
from __future__ import annotations

import io
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import BinaryIO

import cv2
import numpy as np
import pandas as pd

from fer_core.annotate import annotate, draw_status, pixelate
from fer_core.cli import output_problem, rate_argument
from fer_core.labels import LABELS
from fer_core.session import BOX_COLUMNS, SessionLog, format_time, log_set_aside
from fer_core.video import analysis_rate, frame_at, iter_frames, probe

#: Log times are rounded to the millisecond in a CSV; rows this close to a frame's time belong to it.
TIME_TOLERANCE_S = 0.002
#: A named moment's text stays on the annotated video for this long.
MARKER_SHOWN_S = 3.0
#: The encoder's quality: x264's constant rate factor (23 is its default; higher is smaller). At 30 a
#: 1280 x 720 call analysed at 2 frames a second takes about 1 MB a minute and its labels stay
#: sharp (benchmarks/video_review.py).
VIDEO_CRF = 30
#: The annotated video's time stamps count in milliseconds.
_TIME_BASE = Fraction(1, 1000)


@dataclass(frozen=True)
class LoggedFace:
    """A face as the log holds it: what :func:`fer_core.annotate.annotate` draws."""

    face_id: int
    box: tuple[int, int, int, int]
    probabilities: tuple[float, ...]
    label: str
    confidence: float
    pose: tuple[float, float, float] | None = None
    eyes_open: tuple[float, float] | None = None
    looking_at_camera: bool | None = None
    gaze: tuple[float, float] | None = None  # not logged: always None


@dataclass(frozen=True)
class Moment:
    time_s: float  # the analysed frame's time
    image: np.ndarray  # BGR, the faces drawn
    faces: tuple[LoggedFace, ...]


@dataclass(frozen=True)
class AnnotatedVideo:
    data: bytes  # an MP4 file (H.264)
    frames: int
    start_s: float  # video time of the first and last frame written
    end_s: float
    stopped_early: bool  # max_bytes was reached before end_s
    faces_drawn: int  # boxes drawn over all frames: the log's rows in the range, when the rate is the log's
    set_aside_pixelated: int = 0  # boxes pixelated that the analysis did not count as faces (anonymise only)


def analysed_time(t: float, rate: float) -> float:
    """The time on the analysis's grid (a multiple of ``1 / rate``) nearest to ``t``."""
    if not (np.isfinite(rate) and rate > 0):
        raise ValueError("rate must be a number of frames a second > 0")
    return max(0.0, round(float(t) * rate) / rate)


def faces_at(df: pd.DataFrame, t: float) -> list[LoggedFace]:
    """The faces the log holds for the frame at time ``t`` (within TIME_TOLERANCE_S), by face number.
    (One look over the whole log; :class:`_ByTime` for many frames.)"""
    if df.empty:
        return []
    rows = df[(df["time_s"] - t).abs() <= TIME_TOLERANCE_S].sort_values("face_id")
    return [_face(row) for row in rows.itertuples(index=False)]


class _ByTime:
    """A log's rows in time order, for finding one frame's rows by bisection (an hour's log has
    tens of thousands of rows, and an annotated copy asks once per frame)."""

    def __init__(self, df: pd.DataFrame) -> None:
        self.rows = df.sort_values(["time_s", "face_id"], kind="stable")
        self.times = self.rows["time_s"].to_numpy(np.float64)
        aside = log_set_aside(df)
        self.aside = aside[np.argsort(aside[:, 0], kind="stable")]

    def set_aside_at(self, t: float) -> list[tuple[int, int, int, int]]:
        """The boxes the analysis of the frame at ``t`` found but did not count as faces."""
        times = self.aside[:, 0]
        lo = int(np.searchsorted(times, t - TIME_TOLERANCE_S, side="left"))
        hi = int(np.searchsorted(times, t + TIME_TOLERANCE_S, side="right"))
        return [(int(x), int(y), int(w), int(h)) for _, x, y, w, h in self.aside[lo:hi]]

    def faces_at(self, t: float) -> list[LoggedFace]:
        lo = int(np.searchsorted(self.times, t - TIME_TOLERANCE_S, side="left"))
        hi = int(np.searchsorted(self.times, t + TIME_TOLERANCE_S, side="right"))
        return [_face(row) for row in self.rows.iloc[lo:hi].itertuples(index=False)]


def _face(row: object) -> LoggedFace:
    probs = tuple(float(getattr(row, c)) for c in LABELS)
    k = int(np.argmax(probs))
    pose = eyes = looking = None
    yaw = getattr(row, "yaw", float("nan"))
    if np.isfinite(yaw):
        pose = (float(yaw), float(row.pitch), float(row.roll))  # type: ignore[attr-defined]
        left, right = float(row.eye_left), float(row.eye_right)  # type: ignore[attr-defined]
        eyes = (left, right) if np.isfinite(left) and np.isfinite(right) else None
        looked = float(row.looking)  # type: ignore[attr-defined]
        looking = bool(looked) if np.isfinite(looked) else None
    box = tuple(int(getattr(row, c)) for c in BOX_COLUMNS)
    return LoggedFace(face_id=int(row.face_id), box=box, probabilities=probs,  # type: ignore[attr-defined,arg-type]
                      label=LABELS[k], confidence=probs[k], pose=pose, eyes_open=eyes, looking_at_camera=looking)


def draw_frame(image_bgr: np.ndarray, faces: Sequence[LoggedFace], t: float, *, anonymise: bool = False,
               marker: str | None = None, set_aside: Sequence[tuple[int, int, int, int]] = ()) -> np.ndarray:
    """An analysed frame as the review shows it: faces pixelated when ``anonymise`` (with the
    ``set_aside`` boxes, which the analysis found but did not count as faces: a profile the
    face check doubted must not stay visible), then every face's box, number, label and
    confidence (and head pose when logged), and the video time (with a named moment's text) in
    the top-left corner. In place; returns the image."""
    if anonymise:
        pixelate(image_bgr, [f.box for f in faces] + list(set_aside))
    annotate(image_bgr, faces, copy=False)
    return draw_status(image_bgr, format_time(t) + (f"  {marker}" if marker else ""))


def marker_at(markers: Sequence[tuple[float, str]], t: float) -> str | None:
    """The latest named moment at or before ``t`` and less than MARKER_SHOWN_S before it."""
    shown = [(mt, text) for mt, text in markers if mt - TIME_TOLERANCE_S <= t < mt + MARKER_SHOWN_S]
    return max(shown)[1] if shown else None


def moment(source: str | Path | bytes | BinaryIO, df: pd.DataFrame | SessionLog, t: float, *, rate: float,
           max_side: int = 1280, markers: Sequence[tuple[float, str]] = ()) -> Moment | None:
    """The analysed frame for ``t`` with its logged faces drawn; None past the video's end.

    ``t`` is a time of the log (a frame's own time: that frame), or any other time (the frame
    analysed for the multiple of ``1 / rate`` nearest to it). ``rate`` and ``max_side`` must be
    the analysis's (``fer_core.video.analyze_video`` uses ``max_side`` 1280), so that the
    logged boxes fit the frame. ``df``: the log's frame, or the log itself, whose rows of those
    two times only are then converted (a long log's whole frame takes a second and 120 MB).
    """
    def rows_at(when: float) -> pd.DataFrame:
        if isinstance(df, SessionLog):
            return df.to_frame(between=(when - TIME_TOLERANCE_S, when + TIME_TOLERANCE_S))
        return df

    near = rows_at(t)
    logged = not near.empty and bool(((near["time_s"] - t).abs() <= TIME_TOLERANCE_S).any())
    # A logged time may be rounded (CSV: to the millisecond); frames lie further apart than that.
    target = max(0.0, t - TIME_TOLERANCE_S) if logged else analysed_time(t, rate)
    frame = frame_at(source, target, max_side=max_side)
    if frame is None:
        return None
    faces = faces_at(rows_at(frame.time_s), frame.time_s)
    image = draw_frame(frame.bgr.copy(), faces, frame.time_s, marker=marker_at(markers, frame.time_s))
    return Moment(time_s=frame.time_s, image=image, faces=tuple(faces))


def clip_ranges(start_s: float, end_s: float | None,
                parts: Sequence[tuple[float, float]] = ()) -> list[tuple[float, float | None]]:
    """The stretches of ``start_s`` to ``end_s`` (None: the video's end) that lie in one of the
    analysed ``parts`` (``(from, to)`` video seconds, an analysis in parts); the whole range
    when ``parts`` is empty."""
    if not parts:
        return [(start_s, end_s)]
    out: list[tuple[float, float | None]] = []
    for a, b in sorted(parts):
        lo, hi = max(a, start_s), b if end_s is None else min(b, end_s)
        if hi >= lo - TIME_TOLERANCE_S:
            out.append((lo, max(hi, lo)))
    return out


def annotated_video(source: str | Path | bytes | BinaryIO, df: pd.DataFrame, *, rate: float,
                    start_s: float = 0.0, end_s: float | None = None, anonymise: bool = False,
                    markers: Sequence[tuple[float, str]] = (), max_side: int = 1280,
                    max_bytes: int | None = None, parts: Sequence[tuple[float, float]] = (),
                    progress: Callable[[float, float], None] | None = None) -> AnnotatedVideo:
    """The analysed frames from ``start_s`` to ``end_s`` (video seconds; the end of the video
    when None), drawn by :func:`draw_frame`, as an H.264 MP4 in memory. Each frame is shown
    until the next one, so the file plays in real time at the analysis's rate.

    ``anonymise``: pixelate every logged face, and every box the analysis set aside
    (:func:`fer_core.session.log_set_aside`).
    ``parts``: the ``(from, to)`` parts of an analysis in parts. Frames in a gap between them
    were never analysed, so they are left out (a face there would not be pixelated either),
    and the copy goes on from one part to the next without a pause; each frame shows its
    video time. ``max_bytes``: stop once the file is this large (``stopped_early``).
    ``progress(fraction, seconds)`` after each frame. The caller's ``rate`` and ``max_side``
    must be the analysis's.
    """
    import av

    if end_s is not None and end_s < start_s:
        raise ValueError(f"the end ({end_s:g} s) is before the start ({start_s:g} s)")
    ranges = clip_ranges(start_s, end_s, parts)
    if ranges and ranges[-1][1] is None:
        ranges[-1] = (ranges[-1][0], probe(source).duration_s)
    total = sum(b - a for a, b in ranges if b is not None)
    logged = _ByTime(df)
    buf = io.BytesIO()
    frames = drawn = hidden = 0
    first = last = start_s
    clock = 0.0  # the copy's own time: the video's, less the gaps left out
    done = 0.0  # seconds of the ranges before the current one
    full = stopped = False
    started = time.perf_counter()
    with av.open(buf, mode="w", format="mp4") as out:
        stream = None
        for a, b in ranges:
            previous = None
            for sf in iter_frames(source, rate, max_side=max_side, start_s=a):
                if b is not None and sf.time_s > b + TIME_TOLERANCE_S:
                    break
                if full:  # a frame was left over when the file reached max_bytes
                    stopped = True
                    break
                if stream is None:
                    first = sf.time_s
                    h, w = (sf.bgr.shape[0] // 2 * 2, sf.bgr.shape[1] // 2 * 2)  # 4:2:0 needs even sides
                    stream = out.add_stream("libx264", rate=max(1, round(rate)))
                    stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
                    stream.codec_context.time_base = _TIME_BASE
                    stream.options = {"crf": str(VIDEO_CRF), "preset": "veryfast"}
                elif previous is not None:
                    clock += sf.time_s - previous
                else:  # the first frame after a gap: one frame's time after the last one shown
                    clock += 1.0 / rate
                previous = sf.time_s
                img = sf.bgr[:h, :w]
                if img.shape[:2] != (h, w):  # the size changed mid-stream
                    img = cv2.resize(sf.bgr, (w, h), interpolation=cv2.INTER_AREA)
                faces = logged.faces_at(sf.time_s)
                aside = logged.set_aside_at(sf.time_s) if anonymise else []
                drawn += len(faces)
                hidden += len(aside)
                img = draw_frame(np.ascontiguousarray(img), faces, sf.time_s, anonymise=anonymise,
                                 marker=marker_at(markers, sf.time_s), set_aside=aside)
                vf = av.VideoFrame.from_ndarray(img, format="bgr24")
                vf.pts = round(clock * 1000)
                vf.time_base = _TIME_BASE
                for packet in stream.encode(vf):
                    out.mux(packet)
                frames += 1
                last = sf.time_s
                if progress is not None:
                    progress(min(1.0, (done + last - a) / total) if total > 0 else 1.0,
                             time.perf_counter() - started)
                full = max_bytes is not None and buf.tell() >= max_bytes
            if stopped:
                break
            done += (b - a) if b is not None else 0.0
        if stream is not None:
            for packet in stream.encode():
                out.mux(packet)
    return AnnotatedVideo(data=buf.getvalue() if frames else b"", frames=frames, start_s=first, end_s=last,
                          stopped_early=stopped, faces_drawn=drawn, set_aside_pixelated=hidden)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m fer_core.review VIDEO LOG.csv --out CLIP.mp4``: the annotated copy from the command line."""
    import argparse
    import sys

    from fer_core.session import LogFormatError, SessionLog, parse_time
    from fer_core.video import VideoDecodeError

    ap = argparse.ArgumentParser(
        prog="python -m fer_core.review",
        description="An annotated copy of an analysed video (the Video file page's download): each analysed "
                    "frame with the faces of its per-frame log drawn, as H.264 MP4. For a log joined from "
                    "parts of the video, the frames between the parts were never analysed and are left out.")
    ap.add_argument("video", type=Path)
    ap.add_argument("log", type=Path, help="its per-frame log (the app's CSV download, or fer_core.batch's "
                                           "NAME_expressions.csv)")
    ap.add_argument("--out", required=True, type=Path, help="the MP4 file to write")
    ap.add_argument("--rate", type=rate_argument, default=2.0,
                    help="the frames per second the log was analysed at (default: %(default)s, the app's and "
                         "the batch's default)")
    ap.add_argument("--from", dest="start", default=None,
                    help="start, as seconds, m:ss or h:mm:ss (default: where the log's analysis began)")
    ap.add_argument("--to", dest="end", default=None,
                    help="end (default: where the log's analysis ended; the end of the video for a log without "
                         "frames or a start after that)")
    ap.add_argument("--pixelate", action="store_true",
                    help="pixelate every face the analysis found, and every box it set aside as doubtful")
    args = ap.parse_args(argv)
    problem = output_problem(args.out, (args.video, args.log))
    if problem:
        ap.error(f"--out {args.out}: {problem}")
    try:
        session = SessionLog.from_csv(args.log.read_bytes())
        summary = session.summary()
        if args.pixelate and not summary.frames:
            raise ValueError("the log has no analysed frame, so there is nothing it could pixelate")
        # The rate the log's frames were taken at: --rate, as the batch and the page lower it to the video's
        # own (fer_core.video.analysis_rate). --rate itself picked other frames of a variable frame rate video
        # than the batch's at the same --rate: frames never analysed, their faces not pixelated.
        rate = analysis_rate(args.rate, probe(args.video).fps)
        start = parse_time(args.start) if args.start is not None else session.start_s
        end = parse_time(args.end) if args.end is not None else None
        if end is None and summary.frames and start <= summary.end_s:
            end = summary.end_s  # a part of the video: its copy ends where its analysis did
        # Only what was analysed: the frames before or after a part, or between the parts of a
        # joined log, were never analysed, so a face there would not be pixelated (as on the page).
        parts = (session.parts or ((session.start_s, summary.end_s),)) if summary.frames else ()
        late = end is not None and bool(parts) and end > parts[-1][1] + 1.0 / rate
        if parts and (start < parts[0][0] - TIME_TOLERANCE_S or late):
            print(f"note: the log covers {format_time(parts[0][0])}-{format_time(parts[-1][1])}"
                  f"{' in parts' if len(parts) > 1 else ''}; frames it did not analyse are left out", file=sys.stderr)
        df = session.to_frame()
        # A log analysed at a lower rate than --rate (the page's 1 frame a second, the default 2
        # here): the copy's frames between the log's were never analysed, so a face there would
        # be neither drawn nor pixelated. Its step: its frames (with faces or not) over the time its
        # parts cover, or, if closer, its closest two frames with faces (a log without the count).
        times = np.unique(df["time_s"].to_numpy(np.float64))
        closest = float(np.diff(times).min()) if len(times) > 2 else 0.0
        span = sum(b - a for a, b in parts)
        if summary.frames > 2 * len(parts) and span > 0:
            closest = min(closest, span / (summary.frames - len(parts)))
        if closest > 1.5 / rate:
            problem = (f"the log's frames are at least {closest:g} s apart (analysed at about {1 / closest:.3g} a "
                       f"second), but --rate {args.rate:g} copies one every {1 / rate:g} s: the frames between "
                       "were never analysed, so their faces are neither drawn nor pixelated; give the rate the "
                       "video was analysed at")
            if args.pixelate:
                raise ValueError(problem)
            print(f"warning: {problem}", file=sys.stderr)
        with args.video.open("rb") as f:
            clip = annotated_video(f, df, rate=rate, start_s=start, end_s=end, anonymise=args.pixelate,
                                   markers=session.markers, parts=parts)
    except (OSError, ValueError, LogFormatError, VideoDecodeError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    if not clip.frames:
        print("error: no analysed frame lies in that range", file=sys.stderr)
        return 1
    logged = int(df["time_s"].between(clip.start_s - TIME_TOLERANCE_S, clip.end_s + TIME_TOLERANCE_S).sum())
    if clip.faces_drawn < logged:
        print(f"warning: only {clip.faces_drawn} of the log's {logged} faces in this range fall on the frames "
              f"of --rate {args.rate:g}: was the video analysed at another rate?",
              file=sys.stderr)
    try:
        args.out.write_bytes(clip.data)
    except OSError as e:
        print(f"error: {args.out}: {e.strerror or e}", file=sys.stderr)
        return 1
    print(f"{args.out}: {clip.frames} frames, {format_time(clip.start_s)}-{format_time(clip.end_s)}, "
          f"{len(clip.data) / 1e6:.1f} MB"
          + (f"; {clip.set_aside_pixelated} doubtful boxes pixelated too" if clip.set_aside_pixelated else ""))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
