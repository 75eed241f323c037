"""Hostile inputs for the upload paths: a small fixed corpus, a mutator, and the one function
that runs a file through exactly what the pages do with it.

* :func:`fixed_corpus`: non-images with image names; truncated and bit-flipped
  JPEG/PNG/WebP/BMP/GIF/TIFF; 16-bit, CMYK, palette, alpha, gray images; EXIF-rotated
  photos; zero-size, 1x1 and bomb images (a 20,000 x 20,000 PNG of a few kB); videos that
  will not decode, with no frames, variable frame rate, rotated; CSV logs with wrong columns.
* :func:`mutate`: truncation, bit flips, byte runs, splices and header damage, for the
  fuzzer (``benchmarks/fuzz_inputs.py``).
* :func:`run_case`: the page's path for one file (``decode_image`` + ``analyze`` for photos,
  ``analyze_video`` for videos, ``SessionLog.from_csv`` + the dashboard's analytics for
  logs); returns an :class:`Outcome` whose ``message`` is what the visitor reads. Anything
  else propagates: for the tests and the fuzzer, that is the bug.
"""
from __future__ import annotations

import io
import random
import re
import struct
import zlib
from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image

from tests.media import encode_video, face_on_background
from tests.scenes import astronaut_bgr

KINDS = ("image", "video", "csv")


@dataclass(frozen=True)
class Case:
    name: str
    kind: str  # image / video / csv
    data: bytes
    expect: str  # "ok" (analysed), "error" (a message for the visitor), "any"
    upright_face: bool = False  # an image whose face must come out upright (EXIF tests)


@dataclass(frozen=True)
class Outcome:
    ok: bool
    message: str  # for errors: what the page shows; for successes: a summary
    faces: int = 0

    @property
    def message_class(self) -> str:
        """The message without its details (file-specific numbers and parenthesised parts)."""
        text = re.sub(r"\([^)]*\)", "", self.message) if not self.ok else "analysed"
        text = re.sub(r"\d+(\.\d+)?", "N", text)
        text = re.sub(r":.*", "", text)  # e.g. "missing columns a, b" -> "missing columns"
        return re.sub(r"\s+", " ", text).strip(" .")


# -- building blocks ---------------------------------------------------------------------
def _face(side: int = 160) -> np.ndarray:
    return cv2.resize(astronaut_bgr()[0:400, 60:460], (side, side), interpolation=cv2.INTER_AREA)


def photo_rgb(width: int = 240, height: int = 200) -> np.ndarray:
    """A small RGB photo with one real face."""
    frame = np.full((height, width, 3), 110, np.uint8)
    side = min(height, width) - 20
    frame[10:10 + side, (width - side) // 2:(width - side) // 2 + side] = _face(side)
    return cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)


def pil_bytes(img: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt, **kw)
    return buf.getvalue()


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_bomb(width: int = 20_000, height: int = 20_000) -> bytes:
    """A valid gray PNG of width x height zeros: a few hundred kB of compressed data at most."""
    row = b"\0" * (width + 1)
    comp = zlib.compressobj(9)
    body = b"".join(comp.compress(row) for _ in range(height)) + comp.flush()
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", body) + png_chunk(b"IEND", b"")


def png_header(width: int, height: int) -> bytes:
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IEND", b"")


def exif_rotated_jpeg(orientation: int) -> bytes:
    """The face photo stored so that EXIF ``orientation`` is needed to show it upright."""
    upright = Image.fromarray(photo_rgb(200, 240))
    inverse = {2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180,
               4: Image.Transpose.FLIP_TOP_BOTTOM, 5: Image.Transpose.TRANSPOSE,
               6: Image.Transpose.ROTATE_90, 7: Image.Transpose.TRANSVERSE,
               8: Image.Transpose.ROTATE_270}
    stored = upright.transpose(inverse[orientation]) if orientation in inverse else upright
    exif = Image.Exif()
    exif[0x0112] = orientation
    return pil_bytes(stored, "JPEG", quality=92, exif=exif.tobytes())


def small_video(n: int = 8, fps: int = 4, size: tuple[int, int] = (160, 120), fmt: str = "mp4",
                codec: str = "mpeg4") -> bytes:
    w, h = size
    return encode_video([face_on_background(w, h, face=i % 4 != 3, x=w // 5) for i in range(n)],
                        fps=fps, fmt=fmt, codec=codec)


def sliver_video() -> bytes:
    """2600 x 2 pixels: scaled to the analysis's 1280 wide, it would be under a pixel high."""
    return encode_video([np.full((2, 2600, 3), 40 * i, np.uint8) for i in range(4)], fps=4, codec="libx264")


def vfr_video() -> bytes:
    """Frames at irregular times (variable frame rate), with a face throughout."""
    import av

    buf = io.BytesIO()
    with av.open(buf, mode="w", format="mp4") as out:
        stream = out.add_stream("mpeg4", rate=1000)
        stream.width, stream.height, stream.pix_fmt = 160, 120, "yuv420p"
        stream.codec_context.time_base = __import__("fractions").Fraction(1, 1000)
        t = 0
        for i in range(10):
            frame = av.VideoFrame.from_ndarray(face_on_background(160, 120, x=30), format="bgr24")
            frame.pts = t
            frame.time_base = stream.codec_context.time_base
            t += (40, 400, 90, 1000)[i % 4]
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return buf.getvalue()


def rotated_video(fmt: str = "mp4", codec: str = "mpeg4") -> bytes:
    """A phone video: portrait frames stored sideways (landscape) with a display matrix in
    the MP4 track header that turns them 90 degrees clockwise (as phones write it; an iPhone's
    is a QuickTime ``fmt="mov"`` of ``codec="libx265"``, HEVC)."""
    upright = face_on_background(120, 160, x=0)
    stored = np.ascontiguousarray(np.rot90(upright))  # counter-clockwise: 160 x 120
    options = {"x265-params": "log-level=error"} if codec == "libx265" else None
    data = encode_video([stored] * 6, fps=4, fmt=fmt, codec=codec, options=options)
    return with_display_matrix(data, (0, 0x10000, 0, -0x10000, 0, 0, 0, 0, 0x40000000))


def with_display_matrix(data: bytes, matrix: tuple[int, ...]) -> bytes:
    """An MP4 or QuickTime file with ``matrix`` (a, b, u, c, d, v, x, y, w: 16.16 fixed point, w
    2.30) as its video track's display matrix, as a camera or an editor writes it: (0, 1, -1, 0)
    turns a phone's sideways frames upright, (-1, 0, 0, 1) mirrors them (a front camera's)."""
    out = bytearray(data)
    i = out.find(b"tkhd")
    off = i + 4 + (40 if out[i + 4] == 0 else 52)  # the matrix, after the version-0/1 fields
    out[off:off + 36] = struct.pack(">9i", *matrix)
    return bytes(out)


def no_frames_video() -> bytes:
    """An MP4 container with a video track and not one frame."""
    import av

    buf = io.BytesIO()
    with av.open(buf, mode="w", format="mp4") as out:
        stream = out.add_stream("mpeg4", rate=4)
        stream.width, stream.height, stream.pix_fmt = 160, 120, "yuv420p"
    return buf.getvalue()


def audio_only() -> bytes:
    import av

    buf = io.BytesIO()
    with av.open(buf, mode="w", format="wav") as out:
        stream = out.add_stream("pcm_s16le", rate=8000)
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 800), np.int16), format="s16", layout="mono")
        frame.sample_rate = 8000
        for packet in stream.encode(frame):
            out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return buf.getvalue()


def good_log_csv() -> bytes:
    from fer_core.session import SessionLog

    log = SessionLog(source="test")
    rng = np.random.default_rng(0)
    for i in range(40):
        p = rng.dirichlet(np.ones(7))
        log.add_frame(i * 0.5, [(1, (10, 10, 50, 50), p), (2, (80, 10, 50, 50), p[::-1])])
    return log.to_csv()


def part_log_csv(start_time: bytes = b"") -> bytes:
    """The CSV of a log of part of a video (from 60 s), its start row's time replaced by
    ``start_time`` when given."""
    from fer_core.session import START_ID, SessionLog

    log = SessionLog(source="test", start_s=60.0)
    for i in range(20):
        log.add_frame(60.0 + i * 0.5, [(1, (10, 10, 50, 50), np.full(7, 1 / 7))])
    csv = log.to_csv()
    if not start_time:
        return csv
    head, start_row = csv.rstrip(b"\n").rsplit(b"\n", 1)
    assert start_row.startswith(b"60.0," + str(START_ID).encode())
    return head + b"\n" + start_time + start_row[len(b"60.0"):] + b"\n"


def ended_log_csv(end_time: bytes = b"", frames: bytes = b"") -> bytes:
    """The CSV of a live log whose last half minute had nobody in view (so it ends with an end
    row), that row's time and frame count replaced when given."""
    from fer_core.session import END_ID, SessionLog

    log = SessionLog(source="test")
    for i in range(40):
        log.add_frame(i * 1.0, [(1, (10, 10, 50, 50), np.full(7, 1 / 7))] if i < 10 else [])
    head, end_row = log.to_csv().rstrip(b"\n").rsplit(b"\n", 1)
    assert end_row.startswith(b"39.0," + str(END_ID).encode()) and b"40 frames" in end_row
    end_row = (end_time or b"39.0") + end_row[len(b"39.0"):]
    return head + b"\n" + end_row.replace(b"40 frames", frames or b"40 frames") + b"\n"


# -- the corpus ----------------------------------------------------------------------------
def image_seeds() -> dict[str, bytes]:
    """Valid images of every format the fuzzer mutates (small, one real face each)."""
    rgb = Image.fromarray(photo_rgb())
    return {
        "seed.jpg": pil_bytes(rgb, "JPEG", quality=90),
        "seed_progressive.jpg": pil_bytes(rgb, "JPEG", quality=90, progressive=True),
        "seed.png": pil_bytes(rgb, "PNG"),
        "seed.webp": pil_bytes(rgb, "WEBP", quality=80),
        "seed.bmp": pil_bytes(rgb, "BMP"),
        "seed.gif": pil_bytes(rgb.convert("P"), "GIF"),
        "seed.tiff": pil_bytes(rgb, "TIFF"),
        "seed_alpha.png": pil_bytes(rgb.convert("RGBA"), "PNG"),
        "seed_exif6.jpg": exif_rotated_jpeg(6),
    }


def video_seeds() -> dict[str, bytes]:
    return {"seed.mp4": small_video(), "seed.webm": small_video(fmt="webm", codec="libvpx"),
            "seed.avi": small_video(fmt="avi")}


def fixed_corpus() -> list[Case]:
    """The fixed hostile corpus: each case with what the page must do with it."""
    rgb = photo_rgb()
    pil = Image.fromarray(rgb)
    seeds = image_seeds()
    jpg, png = seeds["seed.jpg"], seeds["seed.png"]
    cases = [
        # Not images at all, named as images.
        Case("empty.jpg", "image", b"", "error"),
        Case("pdf_named.jpg", "image", b"%PDF-1.7\n1 0 obj << /Type /Catalog >>\n" * 40, "error"),
        Case("html_named.png", "image", b"<!doctype html><html><script>alert(1)</script></html>", "error"),
        Case("zip_named.webp", "image", b"PK\x03\x04" + bytes(200), "error"),
        Case("text_named.bmp", "image", b"BM this is not a bitmap" * 10, "error"),
        Case("random_bytes.jpg", "image", np.random.default_rng(1).bytes(5000), "error"),
        # Formats we do not accept.
        Case("photo.gif", "image", seeds["seed.gif"], "error"),
        Case("photo.tiff", "image", seeds["seed.tiff"], "error"),
        # Truncated and damaged.
        Case("truncated_half.jpg", "image", jpg[:len(jpg) // 2], "error"),
        Case("truncated_header.jpg", "image", jpg[:20], "error"),
        Case("truncated.png", "image", png[:len(png) // 2], "error"),
        Case("truncated.webp", "image", seeds["seed.webp"][: len(seeds["seed.webp"]) // 2], "error"),
        Case("truncated.bmp", "image", seeds["seed.bmp"][: len(seeds["seed.bmp"]) // 2], "error"),
        Case("png_bad_crc.png", "image", png[:40] + bytes([png[40] ^ 0xFF]) + png[41:], "any"),
        Case("jpeg_bitflips.jpg", "image", _flip_bits(jpg, 30, seed=2), "any"),
        # Unusual but valid images: analysed.
        Case("gray16.png", "image", pil_bytes(Image.fromarray(rgb[:, :, 1].astype(np.uint16) * 257), "PNG"), "ok"),
        Case("cmyk.jpg", "image", pil_bytes(pil.convert("CMYK"), "JPEG", quality=90), "ok"),
        Case("palette.png", "image", pil_bytes(pil.convert("P", palette=Image.Palette.ADAPTIVE), "PNG"), "ok"),
        Case("palette_transparent.png", "image",
             pil_bytes(pil.convert("P", palette=Image.Palette.ADAPTIVE), "PNG", transparency=0), "ok"),
        Case("alpha.png", "image", seeds["seed_alpha.png"], "ok"),
        Case("alpha.webp", "image", pil_bytes(pil.convert("RGBA"), "WEBP", lossless=True), "ok"),
        Case("gray.jpg", "image", pil_bytes(pil.convert("L"), "JPEG"), "ok"),
        Case("la.png", "image", pil_bytes(pil.convert("LA"), "PNG"), "ok"),
        Case("bilevel.png", "image", pil_bytes(pil.convert("1"), "PNG"), "any"),
        Case("progressive.jpg", "image", seeds["seed_progressive.jpg"], "ok"),
        Case("one_pixel.png", "image", pil_bytes(Image.new("RGB", (1, 1)), "PNG"), "ok"),
        Case("one_pixel.jpg", "image", pil_bytes(Image.new("RGB", (1, 1)), "JPEG"), "ok"),
        Case("one_row.png", "image", pil_bytes(Image.new("RGB", (3000, 1)), "PNG"), "ok"),
        Case("zero_size.png", "image", png_header(0, 0), "error"),
        # Decompression bombs: a 20,000 x 20,000 PNG of a few hundred kB, and header-only giants.
        Case("bomb_20000x20000.png", "image", png_bomb(), "error"),
        Case("bomb_header_100000.png", "image", png_header(100_000, 100_000), "error"),
    ]
    for o in (3, 6, 8, 5):  # EXIF-rotated phone photos: the face must come out upright
        cases.append(Case(f"exif_orientation_{o}.jpg", "image", exif_rotated_jpeg(o), "ok", upright_face=True))
    mp4 = small_video()
    cases += [
        Case("video.mp4", "video", mp4, "ok"),
        Case("video.webm", "video", small_video(fmt="webm", codec="libvpx"), "ok"),
        Case("vfr.mp4", "video", vfr_video(), "ok"),
        Case("sliver_2600x2.mp4", "video", sliver_video(), "ok"),
        Case("rotated_phone.mp4", "video", rotated_video(), "ok"),
        Case("no_frames.mp4", "video", no_frames_video(), "error"),
        Case("audio_only.mp4", "video", audio_only(), "error"),
        Case("truncated.mp4", "video", mp4[: len(mp4) // 3], "any"),
        Case("photo_named.mp4", "video", jpg, "any"),
        Case("text_named.mp4", "video", b"just text, not a video\n" * 50, "error"),
        Case("empty.mp4", "video", b"", "error"),
        Case("garbage_after_header.mp4", "video", mp4[:64] + np.random.default_rng(3).bytes(4000), "any"),
    ]
    log = good_log_csv()
    cases += [
        Case("log.csv", "csv", log, "ok"),
        Case("wrong_columns.csv", "csv", b"name,age,city\nalice,30,paris\nbob,41,rome\n", "error"),
        Case("missing_one_column.csv", "csv", _drop_column(log, "Happy"), "error"),
        Case("text_in_numbers.csv", "csv", _first_field(log, b"abc"), "error"),
        Case("empty.csv", "csv", b"", "error"),
        Case("header_only.csv", "csv", log.split(b"\n", 1)[0] + b"\n", "any"),
        Case("binary.csv", "csv", jpg, "error"),
        # As a spreadsheet of a European locale saves a log: read (tests/test_session.py).
        Case("semicolons.csv", "csv", log.replace(b",", b";"), "ok"),
        Case("huge_numbers.csv", "csv", _first_field(log, b"1e308"), "any"),
        Case("negative_time.csv", "csv", _first_field(log, b"-5"), "any"),
        Case("part_log.csv", "csv", part_log_csv(), "ok"),
        Case("part_start_not_a_time.csv", "csv", part_log_csv(b"abc"), "any"),
        Case("part_start_huge.csv", "csv", part_log_csv(b"1e308"), "any"),
        Case("part_start_negative.csv", "csv", part_log_csv(b"-5"), "any"),
        Case("part_start_only.csv", "csv", part_log_csv().split(b"\n", 1)[0] + b"\n"
             + part_log_csv().rstrip(b"\n").rsplit(b"\n", 1)[1] + b"\n", "any"),
        Case("ended_log.csv", "csv", ended_log_csv(), "ok"),
        Case("end_not_a_time.csv", "csv", ended_log_csv(b"abc"), "ok"),
        Case("end_huge.csv", "csv", ended_log_csv(b"1e308"), "error"),
        Case("end_a_month.csv", "csv", ended_log_csv(b"2600000"), "error"),
        Case("end_negative.csv", "csv", ended_log_csv(b"-5"), "ok"),
        Case("end_frames_huge.csv", "csv", ended_log_csv(frames=b"99999999999999999999 frames"), "ok"),
        Case("end_frames_text.csv", "csv", ended_log_csv(frames=b"many frames"), "ok"),
        Case("face_a_month_in.csv", "csv", _first_field(log, b"2600000"), "error"),
        Case("end_only.csv", "csv", ended_log_csv().split(b"\n", 1)[0] + b"\n"
             + ended_log_csv().rstrip(b"\n").rsplit(b"\n", 1)[1] + b"\n", "ok"),
    ]
    return cases


def _flip_bits(data: bytes, n: int, seed: int) -> bytes:
    rng = random.Random(seed)
    b = bytearray(data)
    for _ in range(n):
        i = rng.randrange(len(b))
        b[i] ^= 1 << rng.randrange(8)
    return bytes(b)


def _first_field(csv: bytes, value: bytes) -> bytes:
    """The CSV with the first field of its first data row replaced."""
    header, first, rest = csv.split(b"\n", 2)
    return b"\n".join([header, value + first[first.index(b","):], rest])


def _drop_column(csv: bytes, column: str) -> bytes:
    import pandas as pd

    df = pd.read_csv(io.BytesIO(csv))
    return df.drop(columns=[column]).to_csv(index=False).encode()


# -- mutation ------------------------------------------------------------------------------
MUTATIONS = ("truncate", "bitflip", "bytes", "splice", "header", "repeat", "zero_run")


def mutate(data: bytes, rng: random.Random) -> tuple[str, bytes]:
    """One random mutation of ``data``; returns (what was done, the new bytes)."""
    if not data:
        return "none", data
    op = rng.choice(MUTATIONS)
    b = bytearray(data)
    n = len(b)
    if op == "truncate":
        b = b[:rng.randrange(n)]
    elif op == "bitflip":
        for _ in range(rng.choice((1, 2, 8, 64))):
            i = rng.randrange(n)
            b[i] ^= 1 << rng.randrange(8)
    elif op == "bytes":  # interesting values at random places
        for _ in range(rng.randint(1, 8)):
            i = rng.randrange(n)
            v = rng.choice((b"\x00", b"\xff", b"\x7f", b"\x80", b"\xff\xff\xff\xff", b"\x00\x00\x00\x00"))
            b[i:i + len(v)] = v
    elif op == "splice":  # move a block elsewhere (chunk reordering, duplicated segments)
        i, j = sorted(rng.randrange(n) for _ in range(2))
        block = b[i:j]
        k = rng.randrange(len(b) + 1)
        b[k:k] = block
    elif op == "header":  # damage the first 64 bytes, where sizes and magic numbers live
        for _ in range(rng.randint(1, 4)):
            i = rng.randrange(min(n, 64))
            b[i] = rng.randrange(256)
    elif op == "repeat":
        i = rng.randrange(n)
        b[i:i] = b[i:i + rng.randint(1, 64)] * rng.randint(2, 100)
    elif op == "zero_run":
        i = rng.randrange(n)
        b[i:i + rng.randint(1, 4096)] = bytes(min(4096, n - i))
    return op, bytes(b)


# -- the pages' path -----------------------------------------------------------------------
def run_case(kind: str, data: bytes, recognizer, *, video_max_frames: int = 20) -> Outcome:
    """What the page does with an uploaded file of this kind; errors the page shows to the
    visitor come back as ``Outcome(ok=False, message)``; anything else is raised."""
    if kind == "image":
        from fer_core.imageio import ImageDecodeError, decode_image

        try:
            image = decode_image(data)
        except ImageDecodeError as e:
            return Outcome(False, str(e))
        faces = recognizer.analyze(image.bgr, attention=True)  # the page's default
        if faces:  # what the page then draws and offers for download
            from fer_core.annotate import annotate, pixelate, results_table
            from fer_core.charts import probability_bars
            from fer_core.imageio import encode_png

            shown = annotate(image.bgr, faces)
            pixelate(shown, [f.box for f in faces])
            results_table(faces)
            probability_bars(faces)
            encode_png(shown)
        return Outcome(True, f"{len(faces)} faces in {image.bgr.shape[1]}x{image.bgr.shape[0]}", len(faces))
    if kind == "video":
        from fer_core.video import VideoDecodeError, analyze_video

        try:
            result = analyze_video(recognizer, io.BytesIO(data), rate=2.0, max_frames=video_max_frames)
        except VideoDecodeError as e:
            return Outcome(False, str(e))
        df = result.log.to_frame()
        return Outcome(True, f"{result.frames_analysed} frames, {len(df)} face rows", len(df))
    if kind == "csv":
        from fer_core import session as s
        from fer_core.compare import MINUTES, NEGATIVE, compare_sessions, measure_over_time

        try:
            log = s.SessionLog.from_csv(data, source="upload.csv")
        except s.LogFormatError as e:
            return Outcome(False, str(e))
        df = log.to_frame()
        log.summary()
        if len(df):  # what the dashboard and the Compare page draw
            s.current_mix(df)
            s.label_counts(df)
            s.binned_mix(df, 1, fill_gaps=True)
            compare_sessions({"upload": df})
            measure_over_time({"upload": df}, NEGATIVE, axis=MINUTES, bin_min=1.0)
            s.face_binned(df, 10)
            s.negative_streaks(df, 120.0, bin_s=10)
            s.strongest_changes(df, 5, bin_s=10, min_change=s.NOTABLE_CHANGE)
        return Outcome(True, f"{len(df)} rows", len(df))
    raise ValueError(f"unknown kind {kind!r}")
