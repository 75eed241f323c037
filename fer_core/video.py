"""Video files: decode at a chosen rate with PyAV, and run the recognizer over them.

Uploads are decoded straight from memory (PyAV reads any seekable file object, such
as ``io.BytesIO`` or Streamlit's ``UploadedFile``): no temporary file is written.
Undecodable input raises :class:`VideoDecodeError` with a message for the user.
"""
from __future__ import annotations

import errno
import logging
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

import numpy as np

from fer_core.imageio import HEIC_REFUSED, heic_brands
from fer_core.recognizer import model_label
from fer_core.session import SessionLog, format_time
from fer_core.tracking import ExpressionTracker, place_size, shrink_gray

if TYPE_CHECKING:
    from fer_core.recognizer import Recognizer

log = logging.getLogger(__name__)

#: ``progress(fraction, seconds_done)``; fraction is None when the duration is unknown.
ProgressCallback = Callable[[float | None, float], None]
#: After this many undecodable packets in a row with no frame at all, give up.
MAX_LEADING_ERRORS = 50
#: Refuse videos whose frames have more pixels than this (4096 x 2304, beyond 4K UHD): each
#: decoded frame, and each of the decoder's threads' frames, is held at full size.
MAX_VIDEO_PIXELS = 4096 * 2304
#: The decoder itself refuses frames over this multiple of MAX_VIDEO_PIXELS (FFmpeg's
#: ``max_pixels``), before it allocates them: the size can change mid-stream, after the probe,
#: and a 16000 x 16000 MJPEG frame once took 955 MB to decode only to be refused. FFmpeg counts
#: each row padded (to 64 pixels), hence the margin; frames between the two limits are decoded
#: and then refused as before.
DECODER_PIXELS_MARGIN = 1.25


class VideoDecodeError(ValueError):
    """The file is not a video we can decode; ``str(e)`` is a message for the user."""


@dataclass(frozen=True)
class VideoInfo:
    width: int  # as played: a phone video stored sideways is turned (``rotation``)
    height: int
    duration_s: float | None
    fps: float | None
    codec: str
    container: str
    # Degrees counter-clockwise the player turns the stored frames (the display matrix; PyAV's
    # ``VideoFrame.rotation``): -90 for a phone held upright.
    rotation: int = 0
    # Whether the player shows the frames mirrored (a display matrix that flips them: a front
    # camera's or an editor's "flip"; FFmpeg then gives the rotation of the unflipped axis, 180 for
    # a flip left to right).
    mirrored: bool = False

    @property
    def stored_size(self) -> tuple[int, int]:
        """(width, height) of the frames as stored in the file, before the player turns them."""
        return (self.height, self.width) if _quarter_turns(self.rotation) % 2 else (self.width, self.height)


@dataclass
class DecodeDamage:
    """What a decoding run could not read, filled in as it goes (:func:`iter_frames`'s ``damage``):
    ``skipped`` undecodable packets, the stretches of the video they held (``gaps``: (from, to) in
    the video's seconds, by the packets' own time stamps: a threaded decoder gives its frames late,
    after the errors of packets that come later), whether the container itself broke off
    (``container_broken``), the time of the last frame decoded (``last_s``), and where the last
    packet read ends (``packets_end_s``: its time plus its duration; a last frame held to the end of
    a variable frame rate recording, a still slide, ends there, not at its own time)."""

    skipped: int = 0
    gaps: list[tuple[float, float]] = field(default_factory=list)
    container_broken: bool = False
    last_s: float | None = None
    packets_end_s: float | None = None

    def clear(self) -> None:
        """Forget a decoding run given up on (a seek that landed past its time: decoded again from the start)."""
        self.skipped, self.gaps, self.container_broken, self.last_s, self.packets_end_s = 0, [], False, None, None

    def add_skipped(self, t: float) -> None:
        """One more packet that failed to decode, at ``t`` seconds: a stretch of its own, or the
        end of the last one when within :data:`GAP_JOIN_S` of it."""
        self.skipped += 1
        if self.gaps and self.gaps[-1][0] - GAP_JOIN_S <= t <= self.gaps[-1][1] + GAP_JOIN_S:
            a, b = self.gaps[-1]
            self.gaps[-1] = (min(a, t), max(b, t))
        else:
            self.gaps.append((t, t))


#: Packets that failed to decode within this many seconds of each other are one damaged stretch.
GAP_JOIN_S = 2.0


#: A video whose last decodable frame comes this much before the length its header gives, or
#: more (seconds, or the share of that length where larger), is called cut short (:func:`analyze_video`).
CUT_SHORT_S = 5.0
CUT_SHORT_SHARE = 0.02


@dataclass(frozen=True)
class SampledFrame:
    time_s: float  # from the start of the video, as a player counts it (see _zero)
    bgr: np.ndarray


def _open(source: str | Path | bytes | BinaryIO) -> Any:
    import io

    import av

    if isinstance(source, (bytes, bytearray, memoryview)):
        source = io.BytesIO(bytes(source))
    if hasattr(source, "seek"):
        source.seek(0)
    try:
        # metadata_errors: damaged files carry tags that are not UTF-8 (seen by the fuzzer).
        container = av.open(source if not isinstance(source, Path) else str(source), mode="r",
                            metadata_errors="replace")
    except (av.FFmpegError, UnicodeDecodeError, ValueError, OSError) as e:
        if isinstance(e, (FileNotFoundError, IsADirectoryError)):  # a path given wrong: not a format problem
            why = "is a folder, not a video" if isinstance(e, IsADirectoryError) else "no such file"
            raise VideoDecodeError(f"{source}: {why}") from e
        if isinstance(e, OSError) and e.errno in (errno.EACCES, errno.EPERM, errno.ELOOP):  # not the file's fault
            raise VideoDecodeError(f"{source}: cannot be read ({e.strerror})") from e
        raise VideoDecodeError("This file is not a video we can decode (unknown or damaged format). "
                               "Try MP4 (H.264), WebM, MOV or AVI.") from e
    if _is_heic(container):
        container.close()
        raise VideoDecodeError(HEIC_REFUSED)
    if not container.streams.video:
        container.close()
        raise VideoDecodeError("This file has no video track.")
    if _video_stream(container) is None:
        container.close()
        raise VideoDecodeError("This file has no video track, only a still picture (the cover art of a "
                               "sound file?).")
    stream = _video_stream(container)
    ctx = stream.codec_context
    if ctx is None:
        container.close()
        raise VideoDecodeError("The video track uses a codec we cannot decode. Try MP4 (H.264), WebM, MOV or AVI.")
    if (ctx.width or 0) * (ctx.height or 0) > MAX_VIDEO_PIXELS:
        container.close()
        raise VideoDecodeError(_too_large(ctx.width, ctx.height))
    # Read when the codec opens, at the first decode (the probe above decodes nothing).
    ctx.options = {**(ctx.options or {}), "max_pixels": str(int(MAX_VIDEO_PIXELS * DECODER_PIXELS_MARGIN))}
    return container


def _is_heic(container: Any) -> bool:
    """Whether the file is a HEIC photo (an iPhone's). FFmpeg opens one as a one-frame video; of
    the tiled ones that iPhones write (512 x 512 tiles), as one video per tile: a 12-megapixel
    photo was analysed as its top-left 1/48th."""
    meta = container.metadata or {}
    names = str(meta.get("major_brand", "")) + str(meta.get("compatible_brands", ""))
    return heic_brands(names[i:i + 4].encode("latin-1", "replace") for i in range(0, len(names) - 3, 4))


#: FFmpeg's AV_DISPOSITION_ATTACHED_PIC: a track that is one picture attached to the file.
_ATTACHED_PIC = 0x0400


def _video_stream(container: Any) -> Any:
    """The video track to analyse: the first one that is not a still picture attached to the
    file (the cover art of an MP3, M4A or podcast MP4 is a one-frame "video" track, which players
    show as an image, not as the video); None when every video track is such a picture."""
    return next((s for s in container.streams.video if not int(getattr(s, "disposition", 0)) & _ATTACHED_PIC),
                None)


def _too_large(width: int | None = None, height: int | None = None) -> str:
    """The message for a frame over MAX_VIDEO_PIXELS, of that size when known."""
    limit = f"{MAX_VIDEO_PIXELS / 1e6:.1f} megapixels a frame (4K)"
    size = (f"The video is {width} x {height} pixels; the limit is {limit}" if width and height
            else f"Frames of this video are larger than the limit of {limit}")
    return f"{size}. Save it at a lower resolution and try again."


def _refused_size(ctx: Any, had_size: bool) -> str | None:
    """After a packet failed to decode: the message for a frame the decoder refused as over its
    ``max_pixels`` (set in :func:`_open`), or None for other damage. Decoders then show the new
    size (H.264, HEVC) or reset theirs to 0 x 0 (MJPEG, MPEG-4, VP8, VP9), as FFmpeg does for
    any size it refuses."""
    width, height = ctx.width or 0, ctx.height or 0
    if width * height > MAX_VIDEO_PIXELS:
        return _too_large(width, height)
    if had_size and width * height == 0:
        return _too_large()
    return None


def probe(source: str | Path | bytes | BinaryIO) -> VideoInfo:
    """Size as played, duration, frame rate and codec. The header has all but the turn of a
    phone video (its display matrix), which FFmpeg gives only with a decoded frame: the
    first one is decoded for it (one keyframe; its first packets when the first is damaged)."""
    container = _open(source)
    try:
        stream = _video_stream(container)
        info = _info(container, stream)
        frame = _first_frame(stream, _packets(container, stream))
        rotation = int(getattr(frame, "rotation", 0) or 0) if frame is not None else 0
        if _quarter_turns(rotation) % 2:
            info = replace(info, width=info.height, height=info.width)
        mirrored = frame is not None and _display(frame)[3]
        return replace(info, rotation=rotation, mirrored=mirrored)
    finally:
        container.close()


def _header(source: str | Path | bytes | BinaryIO) -> VideoInfo:
    """:func:`probe` from the header alone, not turned: for the duration and frame rate."""
    container = _open(source)
    try:
        return _info(container, _video_stream(container))
    finally:
        container.close()


#: Look for the first frame in at most this many packets (a damaged start is skipped).
_ROTATION_PACKETS = 10


def _first_frame(stream: Any, packets: Iterator[Any]) -> Any:
    """The first frame decoded from the first few ``packets`` (None when none decodes). The
    decoder is drained after each packet, so that a stream with B-frames gives its first frame
    after one packet, not after the few it holds back for reordering."""
    import av

    for _, packet in zip(range(_ROTATION_PACKETS), packets):
        try:
            frames = packet.decode() or stream.decode(None)
        except (av.FFmpegError, UnicodeDecodeError, ValueError):
            frames = []
        if frames:
            return frames[0]
        stream.codec_context.flush_buffers()  # out of draining, for the next packet
    return None


def _quarter_turns(rotation: float) -> int:
    """Quarter turns clockwise that upright a frame of this rotation (0 to 3)."""
    return round(-rotation / 90.0) % 4


def _info(container: Any, stream: Any) -> VideoInfo:
    import av

    duration = None
    if stream.duration is not None and stream.time_base is not None:
        duration = float(stream.duration * stream.time_base)
        if stream.start_time is not None and container.start_time is not None:
            # The track's end on the player's clock: a track that begins after the file (its
            # audio first) ends that much later.
            later = float(stream.start_time * stream.time_base) - container.start_time / av.time_base
            duration += later if later >= 1.0 / av.time_base else 0.0  # FFmpeg's start: in microseconds
    elif container.duration is not None:
        duration = container.duration / av.time_base
    rate = stream.average_rate or stream.guessed_rate
    ctx = stream.codec_context
    return VideoInfo(width=int(ctx.width or 0), height=int(ctx.height or 0),
                     duration_s=duration if duration and duration > 0 else None,
                     fps=float(rate) if rate else None, codec=str(ctx.name),
                     container=str(container.format.name))


def _packets(container: Any, stream: Any, damage: DecodeDamage | None = None) -> Iterator[Any]:
    """The stream's packets; a damaged container ends the stream early instead of raising
    (the frames decoded so far are kept; none at all is reported by the caller; ``damage``
    records it)."""
    import av

    demux = container.demux(stream)
    while True:
        try:
            packet = next(demux)
        except StopIteration:
            return
        except (av.FFmpegError, UnicodeDecodeError, ValueError) as e:
            log.info("video container damaged, stopping early: %s", e)
            if damage is not None:
                damage.container_broken = True
            return
        yield packet


def _display(frame: Any) -> tuple[bool, bool, bool, bool]:
    """How a player shows a decoded frame, from its display matrix (FFmpeg's, in the frame's side
    data; phone videos are stored sideways, a front camera's or an editor's may be mirrored): (swap
    the axes, then flip left to right, flip top to bottom; whether that mirrors the picture). The
    matrix maps a stored pixel (x, y) to (a x + c y, b x + d y) on the screen, y down, as FFmpeg's
    own player applies it (transpose, hflip, vflip). Without a readable matrix, from PyAV's
    ``VideoFrame.rotation``."""
    matrix = None
    try:
        data = frame.side_data.get("DISPLAYMATRIX")
        if data is not None and len(bytes(data)) == 36:
            matrix = np.frombuffer(bytes(data), "=i4").astype(np.float64)
    except (AttributeError, KeyError, TypeError, ValueError):
        matrix = None
    if matrix is None:
        turn = _quarter_turns(getattr(frame, "rotation", 0) or 0)
        # As the matrix of that turn: 90 clockwise swaps the axes, then flips left to right.
        return (turn % 2 == 1, turn in (1, 2), turn in (2, 3), False)
    a, b, c, d = matrix[0], matrix[1], matrix[3], matrix[4]
    mirrored = bool(a * d - b * c < 0)
    if abs(b) + abs(c) > abs(a) + abs(d):  # a quarter turn: x on the screen comes from y stored
        return (True, c < 0, b < 0, mirrored)
    return (False, a < 0, d < 0, mirrored)


def upright(bgr: np.ndarray, display: tuple[bool, bool, bool, bool]) -> np.ndarray:
    """A decoded frame as a player shows it, given :func:`_display` of the frame: phone videos are
    stored sideways with a turn in their display matrix (-90 degrees: turned 90 clockwise), and
    some are mirrored (FFmpeg's rotation alone turned a mirrored video upside down)."""
    swap, flip_x, flip_y, _ = display
    out = bgr.swapaxes(0, 1) if swap else bgr  # a gray picture (place_picture) too
    out = out[:, ::-1] if flip_x else out
    out = out[::-1] if flip_y else out
    return np.ascontiguousarray(out) if out is not bgr else bgr


def _earliest(*times: float | None) -> float | None:
    """The earliest of the times that are known (None when none is)."""
    known = [t for t in times if t is not None]
    return min(known) if known else None


def analysis_rate(rate: float, fps: float | None) -> float:
    """The rate a video of ``fps`` frames a second (None: unknown) is analysed at when ``rate`` is
    asked: ``rate``, but never above the video's own frame rate, whose every frame is then analysed
    once (a grid finer than the frames offered times without a frame of their own, played an annotated
    copy at the wrong speed, and picked other frames of a variable frame rate video).
    :attr:`VideoAnalysis.rate` is this rate: the one to give :mod:`fer_core.review` with its log."""
    # A header's rate that is no rate (0, negative, NaN: a broken file) leaves the rate asked.
    return float(fps) if fps is not None and 0 < fps < rate else rate


def _check_rate_and_count(rate: float, max_frames: int | None) -> None:
    if not (math.isfinite(rate) and rate > 0):
        raise ValueError(f"rate must be a number of frames a second > 0 (got {rate})")
    if max_frames is not None and max_frames < 1:  # 0 and -1 once gave one frame
        raise ValueError(f"max_frames must be 1 or more, or None for no limit (got {max_frames})")


def iter_frames(source: str | Path | bytes | BinaryIO, rate: float = 2.0, *, max_side: int = 1280,
                max_frames: int | None = None, progress: ProgressCallback | None = None,
                start_s: float = 0.0, end_s: float | None = None,
                damage: DecodeDamage | None = None,
                watch: Callable[[np.ndarray], None] | None = None) -> Iterator[SampledFrame]:
    """Yield about ``rate`` frames per second of video, as BGR arrays, in time order.

    Frames larger than ``max_side`` on their long side are scaled down while
    converting, and turned upright when the video carries a rotation (phone videos).
    Damaged packets are skipped; a file where nothing decodes raises
    :class:`VideoDecodeError`. The frame for each multiple of ``1 / rate`` seconds is the
    first one at or after it. ``start_s``: begin at that time (the decoder seeks to the
    keyframe before it); the frames are the ones a run from the start would give there.
    ``end_s``: stop before the first frame after that time. ``progress`` gets the share of
    the run done, and the frame's time: of the part from ``start_s`` to ``end_s`` (or the end), or
    of ``max_frames`` where those end it first (by the part alone, a run stopped by them halfway
    through a long video ended with its bar at a half, its time left twice too long).
    ``damage``: filled in with what could not be decoded on the way (:class:`DecodeDamage`).
    ``watch``: given every decoded frame in order, the ones yielded too (before they are), as
    ``fer_core.tracking.place_picture`` of the frame yielded would be: in gray, a quarter of its
    size (``ExpressionTracker.watch``: a hard cut is told from a face moving).
    """
    _check_rate_and_count(rate, max_frames)
    if end_s is not None and end_s < start_s:
        raise ValueError("end_s must not be before start_s")
    step = 1.0 / rate
    info = _header(source)
    until = _earliest(end_s, info.duration_s)
    next_t = math.ceil(start_s / step - 1e-9) * step if start_s > 0 else 0.0
    yielded = 0
    for frame, t in _frames_from(source, next_t, damage):
        if watch is not None:
            watch(upright(_gray_place(frame, max_side), _display(frame)))
        if t + 1e-6 < next_t:
            continue
        if end_s is not None and t > end_s + 1e-6:
            return
        # The next multiple of the step after this frame: computed, as a loop adding the step
        # never got there when the step was too small to change the sum (a rate of 1e9).
        if next_t <= t + 1e-6:
            next_t = (math.floor((t + 1e-6) / step) + 1) * step
        yield SampledFrame(t, upright(_bgr(frame, max_side), _display(frame)))
        yielded += 1
        if progress is not None:
            span = (until - start_s) if until is not None else 0.0
            done = min(max(t - start_s, 0.0) / span, 1.0) if span > 0 else None
            if done is not None and max_frames is not None:  # they may end it first (the Video page's 7,200)
                done = max(done, yielded / max_frames)
            progress(done, t)
        if max_frames is not None and yielded >= max_frames:
            return


def frame_at(source: str | Path | bytes | BinaryIO, t: float, *, max_side: int = 1280) -> SampledFrame | None:
    """The first frame at or after ``t`` seconds (the frame :func:`iter_frames` gives for a
    time on its grid), found by seeking; None when the video ends before ``t``."""
    for frame, ft in _frames_from(source, t):
        if ft + 1e-6 >= t:
            return SampledFrame(ft, upright(_bgr(frame, max_side), _display(frame)))
    return None


def _zero(container: Any, first: float) -> float:
    """The time stamp a player shows as 0:00, given the first decodable frame's: the file's
    start (FFmpeg's ``start_time``, the earliest of its tracks), so that times here are the
    player's (``ffprobe``'s pts minus the format's start time). It lies before the first frame
    when the audio begins first, or when a broadcast recording begins within a group of
    pictures that cannot be decoded without the keyframe before it. Never after the first frame."""
    import av

    start = container.start_time
    # FFmpeg keeps the start in microseconds: a first frame within one of it is the start (an
    # MPEG-TS counts 1/90000 s, and its first frame came out at 1.1e-7 s).
    if start is None or first - start / av.time_base < 1.0 / av.time_base:
        return first
    return float(start / av.time_base)


def _start_time(source: str | Path | bytes | BinaryIO) -> float | None:
    """The time stamp of the zero of every time in this module (:func:`_zero`; None when frames
    carry no time stamps, and so cannot be sought)."""
    container = _open(source)
    try:
        stream = _video_stream(container)
        if stream.time_base is None:
            return None
        for frame, _ in _timed_frames(container, stream, None):
            return None if frame.time is None else _zero(container, float(frame.time))
        return None
    finally:
        container.close()


def _frames_from(source: str | Path | bytes | BinaryIO, start_s: float,
                 damage: DecodeDamage | None = None) -> Iterator[tuple[Any, float]]:
    """Every decodable frame with its time, from the keyframe at or before ``start_s`` on (from
    the start when ``start_s`` is 0, or when the file cannot be sought); ``damage``: as
    :func:`iter_frames`'s."""
    import av

    t0 = _start_time(source) if start_s > 0 else None
    container = _open(source)
    try:
        stream = _video_stream(container)
        stream.thread_type = "AUTO"
        fps = _info(container, stream).fps
        if t0 is not None:
            try:
                container.seek(max(0, int((t0 + start_s) / stream.time_base)), stream=stream,
                               backward=True, any_frame=False)
            except (av.FFmpegError, OSError, ValueError) as e:
                log.info("seeking to %.3f s failed (%s); decoding from the start", start_s, e)
            else:
                frames = _timed_frames(container, stream, fps, t0=t0, damage=damage)
                first = next(frames, None)
                if first is not None and first[1] <= start_s + 1e-6:
                    yield first
                    yield from frames
                    return
                log.info("seeking to %.3f s landed past it; decoding from the start", start_s)
            if damage is not None:
                damage.clear()
            container.close()
            container = _open(source)
            stream = _video_stream(container)
            stream.thread_type = "AUTO"
        yield from _timed_frames(container, stream, fps, damage=damage)
    finally:
        container.close()


def _timed_frames(container: Any, stream: Any, fps: float | None, *,
                  t0: float | None = None, damage: DecodeDamage | None = None) -> Iterator[tuple[Any, float]]:
    """Every decodable frame with its time in seconds from the player's zero (:func:`_zero`; from
    the first frame when frames carry no time stamps). Damaged packets are
    skipped (and counted in the log); raises :class:`VideoDecodeError` when the first
    MAX_LEADING_ERRORS packets fail, when no frame decodes, or on a frame over MAX_VIDEO_PIXELS
    (one far over it is refused by the decoder before it is decoded).
    ``t0``: the zero's time stamp, given after a seek (then running out of frames is
    not an error: the seek may have gone to the end). ``damage``: records the packets skipped, the
    gaps they left and the last frame's time (:class:`DecodeDamage`)."""
    import av

    sought = t0 is not None
    decoded = errors = 0
    ctx = stream.codec_context
    for packet in _packets(container, stream, damage):
        had_size = bool(ctx.width and ctx.height)
        if damage is not None and packet.pts is not None and packet.time_base is not None:
            end = _packet_time(container, packet, t0, damage.last_s) + float((packet.duration or 0) * packet.time_base)
            damage.packets_end_s = max(end, damage.packets_end_s or 0.0)
        try:
            frames = packet.decode()
        except (av.FFmpegError, UnicodeDecodeError, ValueError) as e:
            refused = _refused_size(ctx, had_size)
            if refused is not None:
                raise VideoDecodeError(refused) from e
            errors += 1
            if damage is not None:
                damage.add_skipped(_packet_time(container, packet, t0, damage.last_s))
            if decoded == 0 and errors >= MAX_LEADING_ERRORS:
                raise VideoDecodeError("The video track could not be decoded (damaged file or "
                                       "unsupported codec).") from e
            continue
        for frame in frames:
            if frame.width * frame.height > MAX_VIDEO_PIXELS:  # the size can change mid-stream
                raise VideoDecodeError(_too_large(frame.width, frame.height))
            decoded += 1
            t = frame.time if frame.time is not None else decoded / (fps or 25.0)
            if t0 is None:
                t0 = _zero(container, float(t)) if frame.time is not None else t
            if damage is not None:
                damage.last_s = float(t - t0)
            yield frame, float(t - t0)
    if decoded == 0 and not sought:
        raise VideoDecodeError("No frame of this video could be decoded (damaged file or "
                               "unsupported codec).")
    if errors:
        log.info("skipped %d undecodable packets", errors)


def _packet_time(container: Any, packet: Any, t0: float | None, last_s: float | None) -> float:
    """A packet's time on the player's clock (``t0``: the zero's time stamp, when known; else the
    file's start); without a time stamp, the last decoded frame's ``last_s`` (0 before any)."""
    import av

    stamp = packet.pts if packet.pts is not None else packet.dts
    if stamp is None or packet.time_base is None:
        return last_s or 0.0
    if t0 is None:
        t0 = container.start_time / av.time_base if container.start_time is not None else 0.0
    return max(0.0, float(stamp * packet.time_base) - t0)


def _after_damage(gaps: list[tuple[float, float]], before: float, t: float, grid: float, follow_on: float) -> bool:
    """Whether the frame at ``t`` comes after a damaged stretch of ``gaps`` (:class:`DecodeDamage`'s)
    that lies after ``before`` (the last frame analysed, or the analysis's start) and left a time of
    the analysis's grid out: more than ``follow_on`` seconds (one and a half steps) from ``before``
    to ``grid``, the grid's time at or before ``t``."""
    return grid - before > follow_on and any(a < t and b > before for a, b in gaps)


def _bgr_size(frame: Any, max_side: int) -> tuple[int, int] | None:
    """(width, height) :func:`_bgr` scales the frame to, or None when it keeps its size."""
    w, h = frame.width, frame.height
    scale = min(1.0, max_side / max(w, h))
    if scale < 1.0:
        # Even sides of at least 2 pixels: a 2600 x 2 sliver scaled to 1280 wide stays 2 high.
        return max(2, int(w * scale) // 2 * 2), max(2, int(h * scale) // 2 * 2)
    return None


def _bgr(frame: Any, max_side: int) -> np.ndarray:
    """The frame as BGR, scaled down in the conversion when its long side is over ``max_side``."""
    size = _bgr_size(frame, max_side)
    if size is not None:
        return frame.reformat(width=size[0], height=size[1], format="bgr24").to_ndarray()
    return frame.to_ndarray(format="bgr24")


def _gray_place(frame: Any, max_side: int) -> np.ndarray:
    """The frame as ``fer_core.tracking.place_picture`` gives :func:`_bgr`'s (before :func:`upright`),
    straight from the decoder: in gray at a quarter of the size, without converting the whole frame."""
    width, height = _bgr_size(frame, max_side) or (frame.width, frame.height)
    size = place_size(width, height)
    if frame.format.name in _LUMA_FIRST:  # the luma plane as it is: a tenth of the time of a conversion
        plane = frame.planes[0]
        rows = np.frombuffer(plane, np.uint8)[:plane.line_size * frame.height].reshape(frame.height, -1)
        luma = rows[:, :frame.width]
        return shrink_gray(luma, size)
    return shrink_gray(frame.reformat(format="gray").to_ndarray(), size)


#: Pixel formats whose first plane is the picture's 8-bit luma at full size (the decoders' usual ones).
_LUMA_FIRST = frozenset({"yuv420p", "yuvj420p", "yuv422p", "yuvj422p", "yuv444p", "yuvj444p", "yuv440p",
                         "yuvj440p", "yuv411p", "yuv410p", "nv12", "nv21", "gray"})


@dataclass(frozen=True)
class VideoAnalysis:
    info: VideoInfo
    log: SessionLog
    frames_analysed: int
    frames_with_faces: int
    seconds_analysed: float  # video time covered, from start_s to the last analysed frame
    elapsed_s: float  # wall-clock time spent
    stopped_early: bool  # max_frames reached before the end (of the video, or end_s)
    # Frames analysed per second of video: the rate asked, at most the video's own (:func:`analysis_rate`).
    # The frames of the log are :func:`iter_frames`'s at this rate; give it to fer_core.review's
    # moment() and annotated_video() with the log, so that they land on the same frames.
    rate: float
    start_s: float = 0.0  # where the analysis began
    # (width, height) of the frames as analysed, the pixels of the log's boxes: upright, at most
    # 1280 on the long side (``iter_frames``); None when no frame was analysed.
    frame_size: tuple[int, int] | None = None
    # Damage met on the way (the log simply lacks those frames): packets that could not be
    # decoded, the stretches of the video they held ((from, to) seconds), and the
    # time of the last frame decoded when that came well before the length the header gives
    # (a file cut short: an unfinished download or copy), else None.
    skipped_packets: int = 0
    damaged_gaps: tuple[tuple[float, float], ...] = ()
    cut_short_at: float | None = None

    @property
    def end_s(self) -> float:
        """The time of the last analysed frame."""
        return self.start_s + self.seconds_analysed

    def damage_notes(self) -> list[str]:
        """What the log lacks because the file is damaged, for the user ([] for a whole file):
        a damaged stretch was skipped without a word, and a file cut short was analysed up to its
        cut as if that were its end."""
        notes = []
        if self.skipped_packets:
            spans = [f"{format_time(a)} to {format_time(b)}" for a, b in self.damaged_gaps[:3]]
            more = len(self.damaged_gaps) - len(spans)
            notes.append(f"{self.skipped_packets} damaged packet{'s' if self.skipped_packets != 1 else ''} of the "
                         "video could not be decoded"
                         + (f": the log has no frame from {', '.join(spans)}" if spans else "")
                         + (f" and {more} more stretch{'es' if more != 1 else ''}" if more > 0 else ""))
        if self.cut_short_at is not None and self.info.duration_s is not None:
            notes.append(f"the video could be decoded only up to {format_time(self.cut_short_at)} of the "
                         f"{format_time(self.info.duration_s)} its header gives (cut short: an unfinished download "
                         "or copy?); the log ends there")
        return notes


def analyze_video(recognizer: Recognizer, source: str | Path | bytes | BinaryIO, rate: float = 2.0, *,
                  smoothing_window: int = 3, max_frames: int | None = None,
                  progress: ProgressCallback | None = None, attention: bool = False,
                  start_s: float = 0.0, end_s: float | None = None,
                  stop: Callable[[], bool] | None = None) -> VideoAnalysis:
    """Analyse a video at ``rate`` frames per second, at most the video's own frame rate (each of its
    frames once: :func:`analysis_rate`; the result's :attr:`~VideoAnalysis.rate` is the rate used):
    every face, tracked anonymously.

    The log holds the model's raw probabilities per face and frame; tracking assigns
    the face ids (a face missing for more than about 3 seconds gets a new id; a face where the
    picture was cut to another at once, a call's speaker view switching speakers, keeps the id
    there only if it clearly looks like it: ``ExpressionTracker.watch``). Boxes the
    detector found but the analysis did not count (its face check doubted them) are kept
    apart (:meth:`SessionLog.add_set_aside`), so that an annotated copy pixelated for sharing
    covers them too.
    ``attention``: also log head pose, eye openness and looking at the camera
    (fer_core.attention; a face mesh per face and frame). ``start_s``, ``end_s``: analyse
    that part of the video only; the log keeps the video's times and its start
    (:attr:`SessionLog.start_s`). ``stop``: asked before each frame; True ends the analysis there,
    with the frames analysed so far (a page whose run is cut short keeps them).

    A damaged video's log says what could not be decoded (:meth:`SessionLog.add_damaged`: a garbled
    stretch, the end of a file cut short), and where a damaged stretch leaves analysed frames missing,
    the frames after it are a stretch of their own (:meth:`SessionLog.resume`): the time analysed
    leaves it out, and the charts shade it, as a live session's pause.
    """
    t_start = time.perf_counter()
    _check_rate_and_count(rate, max_frames)  # before the tracker's window is sized by the rate
    info = probe(source)
    rate = analysis_rate(rate, info.fps)
    if not (math.isfinite(start_s) and start_s >= 0):
        raise ValueError("start_s must be a time >= 0")
    if info.duration_s is not None and start_s >= info.duration_s:
        raise VideoDecodeError(f"The video is only {info.duration_s:.1f} s long; nothing to analyse from "
                               f"{start_s:.1f} s on.")
    tracker = ExpressionTracker(window=smoothing_window, iou_threshold=0.25,
                                max_missed=max(1, math.ceil(3.0 * rate)))
    session = SessionLog(source="video", start_s=start_s)
    model = model_label(recognizer)
    n = with_faces = 0
    last_t = start_s
    previous: float | None = None  # the last analysed frame's time
    size: tuple[int, int] | None = None
    damage = DecodeDamage()
    interrupted = False
    # Every decoded frame is watched, so that the face numbers do not pass from one person to the
    # next at a hard cut (a call's speaker view switching speakers in the same place).
    for sf in iter_frames(source, rate, max_frames=max_frames, progress=progress, start_s=start_s, end_s=end_s,
                          damage=damage, watch=tracker.watch):
        if stop is not None and stop():
            interrupted = True
            break
        # The frame after a damaged stretch stands for the grid's time before it (iter_frames gives the
        # first frame at or after each): its stretch starts there, as a part analysed from that time does.
        grid = max(start_s, round(math.floor((sf.time_s + 1e-6) * rate) / rate, 6))
        if _after_damage(damage.gaps, start_s if previous is None else previous, sf.time_s, grid, 1.5 / rate):
            session.resume(stream=False, at=grid)
        previous = sf.time_s
        aside: list[tuple[int, int, int, int]] = []
        if attention:
            results = recognizer.analyze(sf.bgr, attention=True, set_aside=aside)
            tracked = tracker.update(results, sf.bgr)
            session.add_frame(sf.time_s, [replace(f, probabilities=f.raw_probabilities)
                                          for f in tracked], model)
        else:
            results = recognizer.analyze(sf.bgr, set_aside=aside)
            tracked = tracker.update(results, sf.bgr)
            session.add_frame(sf.time_s, [(f.face_id, f.box, f.raw_probabilities) for f in tracked], model)
        session.add_set_aside(sf.time_s, aside)
        n += 1
        with_faces += bool(results)
        last_t = sf.time_s
        size = size or (sf.bgr.shape[1], sf.bgr.shape[0])
    until = _earliest(end_s, info.duration_s)
    stopped = max_frames is not None and n >= max_frames and (until is None or last_t + 1.5 / rate < until)
    cut_short = None
    if not (interrupted or stopped) and until is not None and damage.last_s is not None and info.duration_s:
        # How far the packets read go, not the last frame's time: a last frame held to the end
        # (a still slide of a screen recording) starts well before it. A file cut short has no packet past its cut.
        reached = max(damage.last_s, damage.packets_end_s or 0.0)
        if until - reached > max(CUT_SHORT_S, CUT_SHORT_SHARE * info.duration_s):
            cut_short = damage.last_s
    # The stretches in the part analysed (decoding runs a little ahead of the frames analysed: what it
    # met past a run's last frame is the next part's), and the end not decoded of a file cut short.
    # The end of a file cut short is said as such (SessionLog.cut_short): a garbled end, or a part analysed up
    # to a time inside a damaged stretch, ends the log with a damaged stretch too, and read "damaged, or cut short".
    to = last_t if interrupted or stopped else until if until is not None else math.inf
    for a, b in damage.gaps:
        if b >= start_s and a <= to:
            session.add_damaged(max(a, start_s), min(b, to))
    if cut_short is not None and until is not None and until >= start_s:
        # Packets read after the last frame decoded that could not be decoded (garbled, then nothing): the file
        # breaks off after them. Taken as the last frame, "cut short from 0:08" hid 0:08 to 0:10 garbled.
        breaks = max([cut_short, *(b for _, b in damage.gaps if b > cut_short)])
        if breaks > cut_short:
            session.add_damaged(max(cut_short, start_s), until)
        session.add_damaged(max(breaks, start_s), until, cut_short=True)
    return VideoAnalysis(info=info, log=session, frames_analysed=n, frames_with_faces=with_faces,
                         seconds_analysed=last_t - start_s, elapsed_s=time.perf_counter() - t_start,
                         stopped_early=stopped, rate=rate, start_s=start_s, frame_size=size,
                         skipped_packets=damage.skipped, damaged_gaps=tuple(damage.gaps), cut_short_at=cut_short)
