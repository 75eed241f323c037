"""Safe decoding of uploaded image bytes (in memory; nothing is written to disk).

* Only JPEG, PNG, WebP and BMP are accepted; anything else gets a clear error.
* The EXIF orientation tag is honoured (phone photos come out upright).
* Decompression bombs are refused before decoding (the pixel count is read from
  the header); large photos are decoded at a reduced size where the format allows
  (JPEG) and downscaled to ``analysis_max_pixels`` for analysis.
* Truncated or corrupt files raise :class:`ImageDecodeError` with a plain message.
"""
from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

import cv2
import numpy as np

#: Formats accepted from uploads (Pillow's names; MPO is what some cameras call JPEG).
ALLOWED_FORMATS = ("JPEG", "MPO", "PNG", "WEBP", "BMP")
#: Refuse images with more pixels than this (about 10000 x 8000): the limit against
#: decompression bombs and out-of-memory decodes.
DEFAULT_MAX_PIXELS = 80_000_000
#: Larger images are downscaled to about this many pixels before analysis.
DEFAULT_ANALYSIS_MAX_PIXELS = 4_000_000


class ImageDecodeError(ValueError):
    """The upload is not an image we can read; ``str(e)`` is a message for the user."""


@dataclass(frozen=True)
class DecodedImage:
    bgr: np.ndarray  # H x W x 3 uint8, upright, possibly downscaled
    format: str  # JPEG / PNG / WEBP / BMP
    original_size: tuple[int, int]  # (width, height) as stored in the file, before rotation
    scale: float  # bgr size / upright original size (1.0 = not downscaled)
    exif_rotated: bool  # the EXIF orientation tag changed the image

    @property
    def downscaled(self) -> bool:
        return self.scale < 1.0

    @property
    def megapixels(self) -> float:
        return self.original_size[0] * self.original_size[1] / 1e6


def _to_rgb_array(img) -> np.ndarray:
    """Any Pillow mode -> H x W x 3 uint8 RGB; transparency composited over white."""
    from PIL import Image

    if img.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        arr = np.asarray(img, dtype=np.float64)
        hi = arr.max() if arr.size else 1.0
        arr = (arr / (hi if hi > 0 else 1.0) * 255.0).clip(0, 255).astype(np.uint8)
        return np.repeat(arr[:, :, None], 3, axis=2)
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return np.asarray(Image.alpha_composite(background, rgba).convert("RGB"))
    return np.asarray(img.convert("RGB"))


def decode_image(data: bytes, *, max_pixels: int = DEFAULT_MAX_PIXELS,
                 analysis_max_pixels: int = DEFAULT_ANALYSIS_MAX_PIXELS) -> DecodedImage:
    """Decode uploaded bytes into an upright BGR image ready for ``Recognizer.analyze``.

    Raises :class:`ImageDecodeError` for empty, non-image, unsupported, too large,
    truncated or corrupt input.
    """
    from PIL import Image, ImageOps, UnidentifiedImageError

    if not data:
        raise ImageDecodeError("The file is empty.")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data))  # reads the header only
    except UnidentifiedImageError:
        raise ImageDecodeError("This file is not an image (or not one in a format we can read). "
                               "Upload a JPEG, PNG, WebP or BMP photo.") from None
    except Image.DecompressionBombError:
        raise ImageDecodeError("This image has far too many pixels to process safely.") from None
    except OSError as e:
        raise ImageDecodeError(f"The image could not be read: {e}.") from None
    if img.format not in ALLOWED_FORMATS:
        raise ImageDecodeError(f"{img.format or 'This'} images are not supported. "
                               "Upload a JPEG, PNG, WebP or BMP photo.")
    width, height = img.size
    if width < 1 or height < 1:
        raise ImageDecodeError("The image has no pixels.")
    if width * height > max_pixels:
        raise ImageDecodeError(
            f"The image is {width} x {height} pixels ({width * height / 1e6:.0f} megapixels); "
            f"the limit is {max_pixels / 1e6:.0f} megapixels. Resize it and try again.")
    try:
        if img.format in ("JPEG", "MPO") and width * height > analysis_max_pixels:
            # Let libjpeg decode at 1/2, 1/4 or 1/8 size: a 50 MP photo never lands in memory.
            factor = (width * height / analysis_max_pixels) ** 0.5
            img.draft("RGB", (max(1, int(width / factor)), max(1, int(height / factor))))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            img.load()
            upright = ImageOps.exif_transpose(img)
    except Image.DecompressionBombError:
        raise ImageDecodeError("This image has far too many pixels to process safely.") from None
    except (OSError, SyntaxError, ValueError) as e:
        msg = str(e)
        if "truncated" in msg.lower() or "broken data stream" in msg.lower():
            raise ImageDecodeError("The image file is incomplete (truncated): only part of it was "
                                   "uploaded or saved. Try the original file again.") from None
        raise ImageDecodeError(f"The image data is corrupt and could not be decoded ({msg}).") from None
    orientation = _orientation(img)
    rgb = _to_rgb_array(upright)
    # Scale relative to the upright full-resolution size (width/height swap under rotation).
    full_w, full_h = (height, width) if orientation in (5, 6, 7, 8) else (width, height)
    h, w = rgb.shape[:2]
    if h * w > analysis_max_pixels:
        f = (analysis_max_pixels / (h * w)) ** 0.5
        rgb = cv2.resize(rgb, (max(1, int(w * f)), max(1, int(h * f))), interpolation=cv2.INTER_AREA)
        h, w = rgb.shape[:2]
    bgr = cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2BGR)
    scale = min(1.0, w / full_w)
    return DecodedImage(bgr=bgr, format=img.format, original_size=(width, height), scale=scale,
                        exif_rotated=orientation not in (None, 1))


def _orientation(img) -> int | None:
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
