"""Test media built in memory from real faces: videos (PyAV) and .y4m files for Chromium's fake camera."""
from __future__ import annotations

import functools
import io
from collections.abc import Iterable
from pathlib import Path

import cv2
import numpy as np

from tests.scenes import astronaut_bgr


@functools.lru_cache(maxsize=8)
def _face_tile(side: int) -> np.ndarray:
    return cv2.resize(astronaut_bgr()[0:400, 60:460], (side, side), interpolation=cv2.INTER_AREA)


def face_on_background(width: int = 480, height: int = 360, face: bool = True, x: int = 90) -> np.ndarray:
    """A frame with the astronaut (head and shoulders) at ``x``, or only the grey background."""
    frame = np.full((height, width, 3), 100, np.uint8)
    frame[:, :, 1] = 110
    if face:
        side = min(height, width - x)
        frame[0:side, x:x + side] = _face_tile(side)
    return frame


def encode_video(frames: Iterable[np.ndarray], fps: int = 10, fmt: str = "mp4",
                 codec: str = "mpeg4", options: dict[str, str] | None = None) -> bytes:
    """Encode BGR frames into a video file held in memory; ``options``: the encoder's (FFmpeg's)."""
    import av

    buf = io.BytesIO()
    frames = list(frames)
    h, w = frames[0].shape[:2]
    with av.open(buf, mode="w", format=fmt) as out:
        stream = out.add_stream(codec, rate=fps)
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        if options:
            stream.options = options
        for img in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(img, format="bgr24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return buf.getvalue()


def write_swaying_video(target: str | Path | io.BytesIO, base: np.ndarray, seconds: float, fps: int = 25) -> None:
    """H.264 of ``base`` (BGR) swaying a few pixels, as people move in their chairs, with a little
    noise, to ``target`` (a path or a buffer): the benchmarks' recorded lectures and calls, written
    frame by frame (never all in memory)."""
    import av

    h, w = base.shape[:2]
    rng = np.random.default_rng(0)
    with av.open(target, mode="w", format="mp4") as out:
        stream = out.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        stream.options = {"g": str(2 * fps), "preset": "ultrafast", "crf": "23"}
        for i in range(int(seconds * fps)):
            frame = np.roll(base, int(6 * np.sin(i / fps)), axis=1)
            noise = rng.integers(-4, 5, frame.shape, dtype=np.int16)
            frame = np.clip(frame.astype(np.int16) + noise, 0, 255).astype(np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="bgr24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)

def come_and_go_frames(fps: int = 10) -> list[np.ndarray]:
    """8 s: a face for 2 s, nobody for 4 s, the face again for 2 s."""
    frames = []
    for i in range(8 * fps):
        t = i / fps
        frames.append(face_on_background(face=t < 2.0 or t >= 6.0))
    return frames


def write_y4m(path: str | Path, frames: Iterable[np.ndarray], fps: int = 15) -> Path:
    """Write BGR frames (even width and height) as a YUV4MPEG2 4:2:0 file for
    ``--use-file-for-fake-video-capture``."""
    path = Path(path)
    frames = list(frames)
    h, w = frames[0].shape[:2]
    with path.open("wb") as f:
        f.write(f"YUV4MPEG2 W{w} H{h} F{fps}:1 Ip A1:1 C420jpeg\n".encode())
        for img in frames:
            yuv = cv2.cvtColor(img, cv2.COLOR_BGR2YUV_I420)  # planar Y, U, V
            f.write(b"FRAME\n")
            f.write(yuv.tobytes())
    return path


def heic_start() -> bytes:
    """How an iPhone's HEIC photo begins: its ftyp box (brands heic, then mif1, MiHE, MiPr, miaf,
    MiHB, heic), then its meta box, here empty (the HEVC-coded tiles follow in a real one; nothing
    here can write them)."""
    import struct

    ftyp = struct.pack(">I4s4sI", 44, b"ftyp", b"heic", 0) + b"mif1MiHEMiPrmiafMiHBheic"
    return ftyp + struct.pack(">I4sI", 3000, b"meta", 0) + b"\0" * 2988


def damage_middle(data: bytes) -> bytes:
    """``data`` with a sixth of its bytes from the middle on garbled (a bad sector, a broken copy)."""
    out = bytearray(data)
    for i in range(len(out) // 2, len(out) // 2 + len(out) // 6):
        out[i] = (out[i] * 7 + 13) % 256
    return bytes(out)


def faststart_mp4(path: Path, seconds: int = 20, fps: int = 10) -> bytes:
    """An MP4 whose index comes first (as web downloads are), so that a copy cut short still plays up to its cut."""
    import av

    with av.open(str(path), mode="w", format="mp4", options={"movflags": "faststart"}) as out:
        stream = out.add_stream("mpeg4", rate=fps)
        stream.width, stream.height, stream.pix_fmt = 160, 120, "yuv420p"
        for i in range(seconds * fps):
            frame = face_on_background(160, 120, x=30 + i % 20)
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="bgr24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path.read_bytes()
