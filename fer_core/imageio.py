"""Safe decoding of uploaded image bytes (in memory; nothing is written to disk).

* Only JPEG, PNG, WebP and BMP are accepted; anything else gets a clear error (a HEIC photo,
  an iPhone's, says how to make a JPEG of it).
* The EXIF orientation tag is honoured (phone photos come out upright).
* Decompression bombs are refused before decoding (the pixel count is read from
  the header); large photos are decoded at a reduced size where the format allows
  (JPEG: 1/2, 1/4 or 1/8 straight from the compressed data) and downscaled to
  ``analysis_max_pixels`` for analysis before any other conversion (colour mode,
  rotation, transparency), so only one full-size buffer ever exists; formats decoded
  at full size (PNG, WebP, BMP) have a lower pixel limit. Measured with
  ``benchmarks/memory.py``.
* JPEGs that libjpeg decodes in several passes are checked from their headers first:
  more than ``MAX_JPEG_SCANS`` scans are refused (each scan is a pass over the whole
  image), and so are progressive JPEGs (or ones whose first scan holds only some colour
  components) whose DCT coefficients would take more than
  ``DEFAULT_MAX_JPEG_COEFFICIENT_BYTES`` (libjpeg keeps them all, at full size, while
  decoding).
* Truncated or corrupt files raise :class:`ImageDecodeError` with a plain message.
"""
from __future__ import annotations

import io
import re
import struct
import warnings
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, TypeVar

import cv2
import numpy as np
from PIL import Image

from fer_core.runtime import to_uint8

if TYPE_CHECKING:
    from fer_core.recognizer import FaceResult
    from fer_core.tracking import TrackedFace

_Face = TypeVar("_Face", "FaceResult", "TrackedFace")

#: Formats accepted from uploads (Pillow's names; MPO is what some cameras call JPEG).
ALLOWED_FORMATS = ("JPEG", "MPO", "PNG", "WEBP", "BMP")
#: Formats libjpeg can decode at a reduced size (1/2, 1/4, 1/8); the others decode in full.
_REDUCED_DECODE = ("JPEG", "MPO")
#: Refuse images with more pixels than this (about 10000 x 8000): the limit against
#: decompression bombs and out-of-memory decodes.
DEFAULT_MAX_PIXELS = 80_000_000
#: Larger images are downscaled to about this many pixels before analysis.
DEFAULT_ANALYSIS_MAX_PIXELS = 4_000_000
#: Formats other than JPEG are decoded at full size before they are downscaled: refuse
#: those with more pixels than this (PNG, BMP, WebP: 8 megapixels). A server that has
#: analysed photos before peaks at 359-375 MB for an 8 MP PNG (WebP: 344-348), 389-400 MB
#: for a 12 MP PNG and 537 MB for 30 MP (the limit until then): past 8 MP the full-size
#: decode, not the analysis, is the peak (benchmarks/server_memory.py, docs/RELIABILITY.md).
#: Keeps any accepted photo under 400 MB of server memory.
DEFAULT_MAX_FULL_DECODE_PIXELS = 8_000_000
#: Refuse JPEGs with more scans than this. libjpeg runs every scan over the whole image, so
#: an 80 MP progressive JPEG of 2 MB made of one tiny scan repeated 10,000 times took 67 s
#: to decode (1,000 times: 8 s). Progressive photos have about 10 scans (CMYK about 20);
#: libjpeg-turbo suggests a limit of 100.
MAX_JPEG_SCANS = 100
#: A JPEG decoded in several scans (progressive, or a first scan that holds only some of the
#: colour components) has all its DCT coefficients in memory while it is decoded: 2 bytes a
#: sample at full size, before any reduced-size draft (3 bytes a pixel for 4:2:0 colour, 6 for
#: 4:4:4, 8 for CMYK, 2 for grey). Refuse those that need more than this: 16.6 MP of a 4:2:0
#: progressive JPEG, 8.3 MP at 4:4:4, 6.2 MP in CMYK, 25 MP in grey. At 48 MB of coefficients a
#: process with the model loaded peaked at 154-170 MB, as for an 8 MP PNG (168 MB; at 72 MB:
#: 172-187 MB, a 12 MP PNG 194), and a server at 379-388 MB (docs/RELIABILITY.md); an 80 MP
#: progressive 4:4:4 JPEG of 1 MB took 538 MB to decode alone. Baseline JPEGs, CMYK ones too,
#: need no such buffer.
DEFAULT_MAX_JPEG_COEFFICIENT_BYTES = 50_000_000
#: Refuse JPEGs with more stray bytes than this between their header segments (see
#: :func:`_check_jpeg_padding`).
MAX_JPEG_PADDING = 65_536


class ImageDecodeError(ValueError):
    """The upload is not an image we can read; ``str(e)`` is a message for the user."""


@dataclass(frozen=True)
class DecodedImage:
    bgr: np.ndarray  # H x W x 3 uint8, upright, possibly downscaled
    format: str  # JPEG / PNG / WEBP / BMP
    original_size: tuple[int, int]  # (width, height) as stored in the file, before rotation
    scale: float  # bgr size / upright original size (1.0 = not downscaled)
    exif_rotated: bool  # the EXIF orientation tag changed the image
    upright_size: tuple[int, int]  # (width, height) of the photo upright at full size (as seen)

    @property
    def downscaled(self) -> bool:
        return self.scale < 1.0

    def to_original(self, box: Sequence[float]) -> tuple[int, int, int, int]:
        """An ``(x, y, w, h)`` box of :attr:`bgr` (what was analysed) in the pixels of the photo
        itself, upright as it is seen: the same box for a photo analysed at full size, larger for a
        downscaled one, so that it lands on the face in the user's own file. Each side scales by its
        own factor (a downscale rounds width and height apart) and stays within the photo."""
        h, w = self.bgr.shape[:2]
        full_w, full_h = self.upright_size
        fx, fy = full_w / w, full_h / h
        x0, y0 = min(max(round(box[0] * fx), 0), full_w), min(max(round(box[1] * fy), 0), full_h)
        x1 = min(max(round((box[0] + box[2]) * fx), x0), full_w)
        y1 = min(max(round((box[1] + box[3]) * fy), y0), full_h)
        return x0, y0, x1 - x0, y1 - y0

    def in_original(self, faces: Sequence[_Face]) -> list[_Face]:
        """``faces`` found in :attr:`bgr` (``FaceResult`` or ``TrackedFace``) with their boxes in the
        photo's own pixels (:meth:`to_original`): what the tables and downloads give."""
        return [replace(f, box=self.to_original(f.box)) for f in faces]

    @property
    def megapixels(self) -> float:
        return self.original_size[0] * self.original_size[1] / 1e6


#: EXIF orientation tag value -> the Pillow transpose that makes the image upright
#: (as ``PIL.ImageOps.exif_transpose``).
_EXIF_TRANSPOSE = {2: "FLIP_LEFT_RIGHT", 3: "ROTATE_180", 4: "FLIP_TOP_BOTTOM", 5: "TRANSPOSE",
                   6: "ROTATE_270", 7: "TRANSVERSE", 8: "ROTATE_90"}
#: Rows per strip when copying a Pillow image into NumPy (about 4 MB a strip).
_STRIP_BYTES = 1 << 22


def _fit(width: int, height: int, max_pixels: int) -> tuple[int, int]:
    """(width, height) scaled down to at most ``max_pixels``, aspect ratio kept."""
    if width * height <= max_pixels:
        return width, height
    f = (max_pixels / (width * height)) ** 0.5
    return max(1, int(width * f)), max(1, int(height * f))


def _small_bgr(img: Image.Image, max_pixels: int, orientation: int | None) -> np.ndarray:
    """A decoded Pillow image of any mode -> upright H x W x 3 uint8 BGR of at most
    ``max_pixels``; transparency composited over white; 16-bit grey scaled from 0-65535 to 0-255 (as
    16-bit colour), 32-bit and float to their brightest pixel.

    Memory: the image is downscaled first, in its own mode (Pillow's BOX filter, an area
    average), and everything after that works on the small copy; the final copy into
    NumPy goes in strips, since ``np.asarray(pil_image)`` holds the pixels twice more
    (``tobytes`` chunks and their join).
    """
    if img.mode == "1":
        img = img.convert("L")
    elif img.mode in ("P", "PA"):
        img = img.convert("RGBA" if img.mode == "PA" or "transparency" in img.info else "RGB")
    size = _fit(img.width, img.height, max_pixels)
    if size != img.size:
        # reducing_gap: an integer-factor reduce() first, so no full-height intermediate.
        img = img.resize(size, Image.Resampling.BOX, reducing_gap=1.0)
    if orientation in _EXIF_TRANSPOSE:
        img = img.transpose(getattr(Image.Transpose, _EXIF_TRANSPOSE[orientation]))
    if img.mode in ("I;16", "I;16B", "I;16L", "I;16N"):
        # 16-bit grey (PNG): 0-65535 to 0-255, as Pillow reads 16-bit colour and as
        # Recognizer.analyze reads a 16-bit array (fer_core.runtime.to_uint8). Stretching it to its
        # own brightest pixel made a picture brighter than the file (+15 grey levels on real
        # face photos exported at full range) and changed 7.5% of their labels.
        img = Image.fromarray(to_uint8(np.asarray(img, dtype=np.uint16)))
    elif img.mode in ("I", "F"):  # no fixed range: scaled to its brightest pixel
        arr = np.nan_to_num(np.asarray(img, dtype=np.float32), nan=0.0, posinf=0.0, neginf=0.0)
        hi = float(arr.max()) if arr.size else 1.0
        img = Image.fromarray((arr / (hi if hi > 0 else 1.0) * 255.0).clip(0, 255).astype(np.uint8))
    if img.mode in ("RGBA", "LA", "La", "RGBa"):
        rgba = img.convert("RGBA")
        img = Image.alpha_composite(Image.new("RGBA", rgba.size, (255, 255, 255, 255)), rgba)
    if img.mode != "RGB":
        img = img.convert("RGB")
    w, h = img.size
    out = np.empty((h, w, 3), np.uint8)
    step = max(1, _STRIP_BYTES // (4 * w))
    for y in range(0, h, step):
        strip = np.asarray(img.crop((0, y, w, min(h, y + step))))
        out[y:y + strip.shape[0]] = strip[:, :, ::-1]
    return out


def _webp_small_bgr(data: bytes, max_pixels: int, orientation: int | None) -> np.ndarray:
    """WebP through OpenCV's libwebp decoder, straight into a BGR(A) array: about 7 bytes a
    pixel at the peak, against about 17 through Pillow (benchmarks/memory.py, 15 MP)."""
    arr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED | cv2.IMREAD_IGNORE_ORIENTATION)
    if arr is None or arr.size == 0:
        raise ValueError("the WebP data could not be decoded")
    if arr.ndim == 2:
        arr = cv2.cvtColor(arr, cv2.COLOR_GRAY2BGR)
    w, h = _fit(arr.shape[1], arr.shape[0], max_pixels)
    if (w, h) != (arr.shape[1], arr.shape[0]):
        arr = cv2.resize(arr, (w, h), interpolation=cv2.INTER_AREA)
    if arr.shape[2] == 4:
        alpha = arr[:, :, 3:4].astype(np.float32) * (1.0 / 255.0)
        arr = (arr[:, :, :3] * alpha + 255.0 * (1.0 - alpha) + 0.5).astype(np.uint8)
    rotate = {3: cv2.ROTATE_180, 6: cv2.ROTATE_90_CLOCKWISE, 8: cv2.ROTATE_90_COUNTERCLOCKWISE}
    if orientation in (2, 4, 5, 7):
        arr = cv2.flip(arr, 1)  # mirror first, then rotate: 2 -> 1, 4 -> 3, 5 -> 8, 7 -> 6
        orientation = {2: 1, 4: 3, 5: 8, 7: 6}[orientation]
    if orientation in rotate:
        arr = cv2.rotate(arr, rotate[orientation])
    return np.ascontiguousarray(arr)


def decode_image(data: bytes, *, max_pixels: int = DEFAULT_MAX_PIXELS,
                 analysis_max_pixels: int = DEFAULT_ANALYSIS_MAX_PIXELS,
                 max_full_decode_pixels: int = DEFAULT_MAX_FULL_DECODE_PIXELS,
                 max_jpeg_coefficient_bytes: int = DEFAULT_MAX_JPEG_COEFFICIENT_BYTES) -> DecodedImage:
    """Decode uploaded bytes into an upright BGR image ready for ``Recognizer.analyze``.

    Raises :class:`ImageDecodeError` for empty, non-image, unsupported, too large,
    truncated or corrupt input. ``max_full_decode_pixels`` bounds the formats decoded at
    full size (all but JPEG); ``max_jpeg_coefficient_bytes`` the JPEGs decoded in several
    scans (progressive ones).
    """
    if data[:2] == b"\xff\xd8":  # a JPEG (or one named otherwise): its padding checked before Pillow reads it
        _check_jpeg_padding(data)
    img = _open_header(data)
    width, height = img.size
    _check_size(img, max_pixels, max_full_decode_pixels)
    if img.format in _REDUCED_DECODE:
        _check_jpeg(data, width, height, max_pixels, max_jpeg_coefficient_bytes)
    try:
        bgr, orientation = _decode_pixels(img, data, analysis_max_pixels)
    finally:
        img.close()
    # Scale relative to the upright full-resolution size (width/height swap under rotation).
    full_w, full_h = (height, width) if orientation in (5, 6, 7, 8) else (width, height)
    scale = min(1.0, bgr.shape[1] / full_w)
    return DecodedImage(bgr=bgr, format=str(img.format), original_size=(width, height), scale=scale,
                        exif_rotated=orientation in _EXIF_TRANSPOSE, upright_size=(full_w, full_h))


def _open_header(data: bytes) -> Image.Image:
    """The image opened on its header only (no pixels yet), in one of ALLOWED_FORMATS."""
    from PIL import UnidentifiedImageError

    if not data:
        raise ImageDecodeError("The file is empty.")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data))  # reads the header only
    except UnidentifiedImageError:
        if _is_heic(data):
            raise ImageDecodeError(HEIC_REFUSED) from None
        raise ImageDecodeError("This file is not an image (or not one in a format we can read). "
                               "Upload a JPEG, PNG, WebP or BMP photo.") from None
    except Image.DecompressionBombError:
        raise ImageDecodeError("This image has far too many pixels to process safely.") from None
    except (OSError, SyntaxError, ValueError, EOFError) as e:
        raise ImageDecodeError(f"The image file is damaged or incomplete and could not be read ({e}).") from None
    if img.format not in ALLOWED_FORMATS:
        raise ImageDecodeError(f"{img.format or 'This'} images are not supported. "
                               "Upload a JPEG, PNG, WebP or BMP photo.")
    return img


#: ISO base media brands of HEIF images coded in HEVC (HEIC): an iPhone's "High Efficiency" photos.
_HEIC_BRANDS = frozenset({b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"hevm", b"hevs"})
#: Brands of any HEIF image (libheif writes a tiled HEIC with these alone), and of AVIF, which is
#: HEIF too but not HEIC (Pillow reads it, or names it).
_HEIF_BRANDS = frozenset({b"mif1", b"mif2", b"msf1"})
_AVIF_BRANDS = frozenset({b"avif", b"avis"})
#: Why a HEIC photo is refused, and what to do. Decoding one takes pillow-heif (5.8 MB more of a
#: 287 MB slug, 27.5 MB installed) and a full-size decode of its 12 megapixels, over
#: DEFAULT_MAX_FULL_DECODE_PIXELS. A browser on an iPhone sends a JPEG of it anyway.
HEIC_REFUSED = ("This is a HEIC photo (the iPhone's \"High Efficiency\" format), which cannot be read here. "
                "Save it as a JPEG and use that: on a Mac, open it in Preview and choose File > Export, "
                "format JPEG; on the iPhone, Settings > Camera > Formats > Most Compatible takes JPEG "
                "photos from then on.")


def heic_brands(brands: Iterable[bytes]) -> bool:
    """Whether an ISO base media file of these brands (its major and compatible ones) is a HEIC
    photo: an HEVC HEIF brand, or a HEIF one that is not AVIF's."""
    found = set(brands)
    return bool(found & _HEIC_BRANDS) or bool(found & _HEIF_BRANDS and not found & _AVIF_BRANDS)


def _is_heic(data: bytes) -> bool:
    """Whether ``data`` begins as a HEIC photo does (:func:`heic_brands` of its ``ftyp`` box)."""
    if len(data) < 12 or data[4:8] != b"ftyp":
        return False
    end = min(int.from_bytes(data[:4], "big"), 256, len(data))
    return heic_brands([data[8:12]] + [data[i:i + 4] for i in range(16, end - 3, 4)])


def _check_size(img: Image.Image, max_pixels: int, max_full_decode_pixels: int) -> None:
    """Refuse images with no pixels or too many: any format over ``max_pixels``, and those
    decoded at full size (all but JPEG) over ``max_full_decode_pixels``."""
    width, height = img.size
    if width < 1 or height < 1:
        raise ImageDecodeError("The image has no pixels.")
    if width * height > max_pixels:
        raise ImageDecodeError(
            f"The image is {width} x {height} pixels ({width * height / 1e6:.0f} megapixels); "
            f"the limit is {max_pixels / 1e6:.0f} megapixels. Resize it and try again.")
    if img.format not in _REDUCED_DECODE and width * height > max_full_decode_pixels:
        raise ImageDecodeError(
            f"The image is {width} x {height} pixels ({width * height / 1e6:.0f} megapixels); "
            f"{img.format} images are limited to {max_full_decode_pixels / 1e6:.0f} megapixels "
            f"(JPEG photos to {max_pixels / 1e6:.0f}). Resize it or save it as JPEG.")


#: JPEG start-of-frame markers (SOF0-SOF15 but DHT, JPG and DAC); SOF2, 6, 10 and 14 are progressive.
_SOF_MARKERS = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
_PROGRESSIVE_SOF = frozenset((0xC2, 0xC6, 0xCA, 0xCE))
#: A marker: 0xFF then a code (fill bytes 0xFF before it and stray bytes between segments are
#: skipped, as libjpeg does; 0xFF 0x00 is no marker).
_MARKER = re.compile(rb"\xff[^\x00\xff]")


@dataclass(frozen=True)
class _JpegFrame:
    """What a JPEG's headers say about how libjpeg will decode it."""

    progressive: bool
    sampling: tuple[tuple[int, int], ...]  # (horizontal, vertical) sampling factor per component
    first_scan_components: int  # colour components in the first scan (all of them: one pass)

    @property
    def buffered(self) -> bool:
        """libjpeg keeps every DCT coefficient of the image until the last scan: progressive
        JPEGs, and sequential ones whose first scan does not hold every component."""
        return self.progressive or self.first_scan_components < len(self.sampling)

    def coefficient_bytes(self, width: int, height: int) -> int:
        """The coefficient buffer libjpeg allocates for such an image: 64 coefficients of 2
        bytes per 8 x 8 block of each component, rounded up to whole MCUs as libjpeg does."""
        h_max = max(h for h, _ in self.sampling)
        v_max = max(v for _, v in self.sampling)
        total = 0
        for h, v in self.sampling:
            blocks_x = -(-width * h // (8 * h_max))
            blocks_y = -(-height * v // (8 * v_max))
            total += -(-blocks_x // h) * h * -(-blocks_y // v) * v * 128
        return total


def _jpeg_segments(data: bytes, to_end: bool = False) -> Iterator[tuple[int, bytes, int]]:
    """``(marker, segment, stray)`` for each marker segment of a JPEG from the start, as libjpeg
    walks them, up to and with the first start of scan (SOS), or (``to_end``) over every scan
    up to the image's end (EOI: what follows, such as a phone's motion-photo video, is not the
    image); ``stray``: the bytes skipped before it (fill bytes 0xFF and anything else between
    segments, or the compressed data of the scan before)."""
    i = 2  # after SOI
    while (found := _MARKER.search(data, i)) is not None and found.start() + 2 <= len(data):
        stray, i = found.start() - i, found.start()
        marker = data[i + 1]
        if marker == 0xD9:  # EOI
            return
        if marker == 0x01 or 0xD0 <= marker <= 0xD8:  # markers without a segment (RSTn inside scans)
            i += 2
            continue
        if i + 4 > len(data):
            return
        length = int.from_bytes(data[i + 2:i + 4], "big")
        yield marker, data[i + 4:i + 2 + length], stray
        if marker == 0xDA and not to_end:
            return
        i += 2 + max(length, 2)


def _jpeg_frame(data: bytes) -> _JpegFrame | None:
    """The frame header (SOF) and first scan header (SOS) of a JPEG's main image, read by
    walking its marker segments from the start as libjpeg does (bytes between segments are
    skipped); None when no SOF is followed by an SOS."""
    frame: bytes | None = None
    for marker, segment, _ in _jpeg_segments(data):
        if marker in _SOF_MARKERS:
            frame = bytes([marker]) + segment
        elif marker == 0xDA:
            if frame is None or len(frame) < 7 or not segment:
                return None
            components = frame[6]
            sampling = tuple((max(1, b >> 4), max(1, b & 15)) for b in frame[8:8 + 3 * components:3])
            if not sampling:
                return None
            return _JpegFrame(progressive=frame[0] in _PROGRESSIVE_SOF, sampling=sampling,
                              first_scan_components=segment[0])
    return None


def _check_jpeg_padding(data: bytes) -> None:
    """Refuse a JPEG with more than MAX_JPEG_PADDING bytes between its header segments, before
    Pillow reads its header: Pillow skips such bytes one at a time (5 MB of fill bytes 0xFF took
    1.8 s to open, so a 50 MB upload about 18 s). Encoders put none or a few there."""
    stray = sum(s for _, _, s in _jpeg_segments(data))
    if stray > MAX_JPEG_PADDING:
        raise ImageDecodeError(f"The image file is damaged or incomplete and could not be read ({stray:,} "
                               "stray bytes between its headers).")


def _check_jpeg(data: bytes, width: int, height: int, max_pixels: int, max_coefficient_bytes: int) -> None:
    """Refuse, from the headers alone, JPEGs whose decoding would take far too long (too many
    scans) or too much memory (a progressive decode's coefficients)."""
    # The image's own scans, walked as libjpeg reads them: counting 0xFF 0xDA in the whole file
    # also counted metadata and data after the image (a motion photo's video: "111 scans").
    scans = sum(marker == 0xDA for marker, _, _ in _jpeg_segments(data, to_end=True))
    if scans > MAX_JPEG_SCANS:
        raise ImageDecodeError(
            f"This JPEG is stored in {scans:,} scans (passes over the image); photos have about 10, "
            f"and more than {MAX_JPEG_SCANS} would take far too long to decode. Save it again as a "
            "normal JPEG and try again.")
    frame = _jpeg_frame(data)
    if frame is None:
        return  # no scan where libjpeg looks for one: its decoder reports the damage
    need = frame.coefficient_bytes(width, height)
    if frame.buffered and need > max_coefficient_bytes:
        limit_mp = width * height * max_coefficient_bytes / need / 1e6
        kind = "a progressive JPEG" if frame.progressive else "a JPEG in several scans"
        raise ImageDecodeError(
            f"This photo is {width} x {height} pixels ({width * height / 1e6:.0f} megapixels), saved as "
            f"{kind}, which takes much more memory to decode; such photos are limited to "
            f"{limit_mp:.0f} megapixels (normal JPEG photos to {max_pixels / 1e6:.0f}). "
            "Save it as a normal (baseline) JPEG, or resize it, and try again.")


def _decode_pixels(img: Image.Image, data: bytes, analysis_max_pixels: int) -> tuple[np.ndarray, int | None]:
    """(upright BGR pixels within the analysis budget, the EXIF orientation), decoding as
    little as the format allows; decoder failures become :class:`ImageDecodeError`."""
    width, height = img.size
    try:
        if img.format in _REDUCED_DECODE and width * height > analysis_max_pixels:
            # libjpeg decodes at 1/2, 1/4 or 1/8 size: the smallest of these with at least
            # half the analysis budget, so a 48 MP photo lands in memory at 3 MP, not 12.
            img.draft("RGB", _fit(width, height, analysis_max_pixels // 2))
        if img.format == "WEBP":
            orientation = _orientation(img)
            return _webp_small_bgr(data, analysis_max_pixels, orientation), orientation
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            img.load()
        orientation = _orientation(img)
        return _small_bgr(img, analysis_max_pixels, orientation), orientation
    except Image.DecompressionBombError:
        raise ImageDecodeError("This image has far too many pixels to process safely.") from None
    except (OSError, SyntaxError, ValueError, EOFError, IndexError, struct.error) as e:
        msg = str(e)
        if "truncated" in msg.lower() or "broken data stream" in msg.lower():
            raise ImageDecodeError("The image file is incomplete (truncated): only part of it was "
                                   "uploaded or saved. Try the original file again.") from None
        raise ImageDecodeError(f"The image data is corrupt and could not be decoded ({msg}).") from None


def _orientation(img: Image.Image) -> int | None:
    try:
        return img.getexif().get(0x0112)
    except Exception:  # malformed EXIF is ignored, as Pillow itself does
        return None


def encode_png(image_bgr: np.ndarray) -> bytes:
    """PNG bytes of a BGR image (for a download button; nothing touches the disk)."""
    ok, buf = cv2.imencode(".png", image_bgr)
    if not ok:
        raise ValueError("could not encode the image as PNG")
    return buf.tobytes()
