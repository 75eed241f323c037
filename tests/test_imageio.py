"""Decoding uploads safely: formats, EXIF orientation, bad and huge files."""
import io
import struct
import time
import zlib

import cv2
import numpy as np
import pytest
from PIL import Image

from fer_core.imageio import ImageDecodeError, decode_image, encode_png
from fer_core.runtime import to_uint8
from tests.scenes import astronaut_bgr


def encode(rgb: np.ndarray, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format=fmt, **kw)
    return buf.getvalue()


@pytest.fixture(scope="module")
def astronaut_rgb():
    return cv2.cvtColor(astronaut_bgr(), cv2.COLOR_BGR2RGB)


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP", "BMP"])
def test_formats_decode_to_bgr(astronaut_rgb, fmt):
    img = decode_image(encode(astronaut_rgb, fmt))
    assert img.format == fmt and img.bgr.shape == (512, 512, 3) and img.bgr.dtype == np.uint8
    assert not img.downscaled and not img.exif_rotated
    # Colour order: BGR, close to the original.
    assert np.abs(img.bgr.astype(int) - astronaut_bgr().astype(int)).mean() < 8


def test_alpha_gray_and_16bit(astronaut_rgb):
    rgba = np.dstack([astronaut_rgb, np.full(astronaut_rgb.shape[:2], 255, np.uint8)])
    rgba[:50, :, 3] = 0  # transparent strip becomes white
    img = decode_image(encode(rgba, "PNG"))
    assert img.bgr.shape == (512, 512, 3) and (img.bgr[:50] == 255).all()
    gray = decode_image(encode(astronaut_rgb[:, :, 0], "PNG"))
    assert gray.bgr.shape == (512, 512, 3)
    buf = io.BytesIO()
    Image.fromarray(astronaut_rgb[:, :, 1].astype(np.uint16) * 257).save(buf, format="PNG")
    deep = decode_image(buf.getvalue())
    assert deep.bgr.shape == (512, 512, 3) and deep.bgr.max() > 200


def test_16bit_gray_keeps_its_brightness_as_16bit_colour_and_analyze_do(astronaut_rgb):
    """A 16-bit grey PNG is the picture in the file, not one stretched to its brightest pixel: that
    made real face photos exported at 16 bits 15 grey levels brighter and changed 7.5% of their labels."""
    dark = astronaut_rgb[:, :, 1] // 2  # a dim photo: its brightest pixel is about half of white
    eight = decode_image(encode(dark, "PNG")).bgr
    grey16 = decode_image(cv2.imencode(".png", dark.astype(np.uint16) * 257)[1].tobytes()).bgr
    colour16 = decode_image(cv2.imencode(".png", np.dstack([dark] * 3).astype(np.uint16) * 257)[1].tobytes()).bgr
    assert np.array_equal(grey16, eight) and np.array_equal(colour16, eight)
    assert np.array_equal(to_uint8(dark.astype(np.uint16) * 257), eight[:, :, 0])  # as analyze() reads the array


def test_exif_orientation_is_honoured(astronaut_rgb):
    # Stored sideways (rotated 90 degrees counter-clockwise) with tag 6 = "rotate 90 CW to view".
    stored = np.ascontiguousarray(np.rot90(astronaut_rgb[:, :400], k=1))  # 512 x 400 (h x w) -> 400 x 512
    exif = Image.Exif()
    exif[0x0112] = 6
    data = encode(stored, "JPEG", exif=exif.tobytes(), quality=95)
    img = decode_image(data)
    assert img.exif_rotated
    assert img.bgr.shape[:2] == (512, 400)  # upright: tall again
    upright = cv2.cvtColor(astronaut_rgb[:, :400], cv2.COLOR_RGB2BGR)
    assert np.abs(img.bgr.astype(int) - upright.astype(int)).mean() < 6


def test_not_an_image_named_jpg():
    with pytest.raises(ImageDecodeError, match="not an image"):
        decode_image(b"%PDF-1.4 this is a PDF, not a photo\n" * 20)
    with pytest.raises(ImageDecodeError, match="empty"):
        decode_image(b"")


def test_a_heic_photo_is_refused_with_how_to_make_a_jpeg_of_it(astronaut_rgb):
    """An iPhone's photo (HEIC, its "High Efficiency" default, as a Mac keeps it) was "not an image"."""
    from tests.media import heic_start

    # libheif's tiled ones name HEIF's brands alone (mif1, miaf); AVIF is HEIF too, but no HEIC.
    def brands(major: bytes, compatible: bytes) -> bytes:  # 6 compatible ones, as heic_start's
        return heic_start()[:8] + major + b"\0" * 4 + compatible + heic_start()[44:]

    tiled = brands(b"mif1", b"mif1miaf" * 3)
    for data in (heic_start(), heic_start()[:44], tiled):
        with pytest.raises(ImageDecodeError, match=r"HEIC photo \(the iPhone's \"High Efficiency\" format\).*"
                                                   r"File > Export, format JPEG"):
            decode_image(data)
    # Another file of the same family (an MP4 video) is still not an image.
    from tests.media import encode_video

    with pytest.raises(ImageDecodeError, match="not an image"):
        decode_image(encode_video([cv2.cvtColor(astronaut_rgb[:64, :64], cv2.COLOR_RGB2BGR)] * 2))
    avif = brands(b"avif", b"mif1miafMA1Bavifmif1miaf")
    with pytest.raises(ImageDecodeError) as e:
        decode_image(avif)
    assert "HEIC" not in str(e.value)


def test_unsupported_format(astronaut_rgb):
    with pytest.raises(ImageDecodeError, match="GIF images are not supported"):
        decode_image(encode(astronaut_rgb, "GIF"))


@pytest.mark.parametrize("fmt", ["JPEG", "PNG"])
def test_truncated_file(astronaut_rgb, fmt):
    data = encode(astronaut_rgb, fmt)
    with pytest.raises(ImageDecodeError, match="truncated|corrupt"):
        decode_image(data[: len(data) // 2])


def test_50_megapixel_jpeg_is_downscaled_cheaply():
    big = Image.new("RGB", (8660, 5780), (120, 130, 140))  # 50.05 MP
    big.paste(Image.fromarray(cv2.cvtColor(astronaut_bgr(), cv2.COLOR_BGR2RGB)).resize((2048, 2048)), (3000, 1500))
    buf = io.BytesIO()
    big.save(buf, format="JPEG", quality=70)
    del big
    t = time.perf_counter()
    img = decode_image(buf.getvalue())
    elapsed = time.perf_counter() - t
    assert img.megapixels == pytest.approx(50.05, abs=0.01)
    assert img.downscaled and img.bgr.shape[0] * img.bgr.shape[1] <= 4_000_000
    assert img.scale == pytest.approx(img.bgr.shape[1] / 8660)
    assert elapsed < 2.0  # decoded at reduced size (JPEG draft), never at 50 MP


def test_pixel_limit_refuses_before_decoding(astronaut_rgb):
    with pytest.raises(ImageDecodeError, match="megapixels"):
        decode_image(encode(astronaut_rgb, "PNG"), max_pixels=100_000)


def _png_header_only(width: int, height: int) -> bytes:
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


def test_decompression_bomb_header():
    # A tiny file that claims 30000 x 30000 pixels (900 MP): refused from the header alone.
    with pytest.raises(ImageDecodeError, match="too many pixels|megapixels"):
        decode_image(_png_header_only(30000, 30000))
    with pytest.raises(ImageDecodeError, match="megapixels"):
        decode_image(_png_header_only(10000, 9000))


def test_encode_png_round_trip():
    img = astronaut_bgr()
    assert (decode_image(encode_png(img)).bgr == img).all()


def test_full_size_formats_have_a_lower_pixel_limit():
    # PNG is decoded at full size: over 8 MP (12 MP here: 400 MB of server memory at its peak,
    # docs/RELIABILITY.md) is refused with a hint, from the header alone.
    for w, h in ((8000, 5000), (4000, 3000)):
        with pytest.raises(ImageDecodeError, match="PNG images are limited to 8 megapixels.*save it as JPEG"):
            decode_image(_png_header_only(w, h))
    # 8 MP passes the limit (this header-only file then fails as incomplete, not as too large).
    with pytest.raises(ImageDecodeError) as e:
        decode_image(_png_header_only(3265, 2448))
    assert "limited to" not in str(e.value)


@pytest.mark.parametrize("orientation", range(1, 9))
def test_webp_orientations_match_pillow(astronaut_rgb, orientation):
    from PIL import ImageOps

    rgba = np.dstack([astronaut_rgb[:, :300], np.full((512, 300), 255, np.uint8)])
    rgba[:40, :, 3] = 0
    exif = Image.Exif()
    exif[0x0112] = orientation
    data = encode(rgba, "WEBP", lossless=True, exif=exif.tobytes())
    img = decode_image(data)
    ref = ImageOps.exif_transpose(Image.open(io.BytesIO(data)).convert("RGBA"))
    ref = np.asarray(Image.alpha_composite(Image.new("RGBA", ref.size, (255,) * 4), ref).convert("RGB"))
    assert img.exif_rotated == (orientation != 1)
    assert img.bgr.shape == ref.shape
    assert np.abs(img.bgr[:, :, ::-1].astype(int) - ref.astype(int)).max() <= 1


def test_cmyk_and_palette_modes(astronaut_rgb):
    cmyk = Image.fromarray(astronaut_rgb).convert("CMYK")
    buf = io.BytesIO()
    cmyk.save(buf, format="JPEG", quality=95)
    img = decode_image(buf.getvalue())
    assert np.abs(img.bgr[:, :, ::-1].astype(int) - astronaut_rgb.astype(int)).mean() < 10
    pal = Image.fromarray(astronaut_rgb).convert("P", palette=Image.Palette.ADAPTIVE)
    buf = io.BytesIO()
    pal.save(buf, format="PNG", transparency=0)
    img = decode_image(buf.getvalue())
    assert img.bgr.shape == (512, 512, 3)


def test_large_png_is_downscaled_to_the_analysis_size(astronaut_rgb):
    big = np.tile(astronaut_rgb, (5, 5, 1))  # 2560 x 2560 = 6.6 MP
    img = decode_image(encode(big, "PNG"))
    assert img.downscaled and img.bgr.shape[0] * img.bgr.shape[1] <= 4_000_000
    assert img.scale == pytest.approx(img.bgr.shape[1] / 2560)
    face = cv2.resize(img.bgr[:int(512 * img.scale), :int(512 * img.scale)], (512, 512))
    assert np.abs(face.astype(int) - astronaut_bgr().astype(int)).mean() < 12


def _scan_spans(jpeg: bytes) -> list[tuple[int, int]]:
    """(start, end) of each scan of a JPEG: its SOS segment and the compressed data after it."""
    spans, i = [], 2
    while jpeg[i + 1] != 0xD9:
        length = int.from_bytes(jpeg[i + 2:i + 4], "big")
        if jpeg[i + 1] != 0xDA:
            i += 2 + length
            continue
        j = i + 2 + length
        while jpeg[j] != 0xFF or jpeg[j + 1] == 0 or 0xD0 <= jpeg[j + 1] <= 0xD7:  # stuffed 0xFF, RSTn
            j += 1
        spans.append((i, j))
        i = j
    return spans


def _with_size(jpeg: bytes, width: int, height: int) -> bytes:
    """The JPEG with its frame header (SOF) claiming another size: a header for a big image
    without the data (decoding it fails as truncated or corrupt)."""
    at = min(i for i in (jpeg.find(m) for m in (b"\xff\xc0", b"\xff\xc2")) if i > 0)
    return jpeg[:at + 5] + struct.pack(">HH", height, width) + jpeg[at + 9:]


def jpeg_in_component_scans(rgb: np.ndarray, quality: int = 90) -> bytes:
    """A sequential (baseline) 4:4:4 colour JPEG whose Y, Cb and Cr come in three scans, one
    each, instead of one interleaved scan (Pillow cannot write one): each scan's data is that
    of a grey JPEG of the plane, with the same standard tables."""
    def segment(marker: int, body: bytes) -> bytes:
        return bytes([0xFF, marker]) + struct.pack(">H", len(body) + 2) + body

    tables, scans = b"", []
    for plane in Image.fromarray(rgb).convert("YCbCr").split():
        grey = encode(np.asarray(plane), "JPEG", quality=quality)
        if not tables:  # the quantisation and Huffman tables, the same in all three
            tables = b"".join(grey[i:j] for i, j in _segment_spans(grey) if grey[i + 1] in (0xC4, 0xDB))
        start, end = _scan_spans(grey)[0]
        scans.append(grey[start + 2 + int.from_bytes(grey[start + 2:start + 4], "big"):end])
    h, w = rgb.shape[:2]
    frame = bytes([8]) + struct.pack(">HH", h, w) + bytes([3, 1, 0x11, 0, 2, 0x11, 0, 3, 0x11, 0])
    out = b"\xff\xd8" + tables + segment(0xC0, frame)
    for k, data in enumerate(scans):  # component k + 1, Huffman tables 0, all 64 coefficients
        out += segment(0xDA, bytes([1, k + 1, 0x00, 0, 63, 0])) + data
    return out + b"\xff\xd9"


def _segment_spans(jpeg: bytes) -> list[tuple[int, int]]:
    """(start, end) of each marker segment before the first scan."""
    spans, i = [], 2
    while jpeg[i + 1] != 0xDA:
        end = i + 2 + int.from_bytes(jpeg[i + 2:i + 4], "big")
        spans.append((i, end))
        i = end
    return spans


def test_jpeg_with_too_many_scans_is_refused_before_decoding(astronaut_rgb):
    # An 80 MP progressive JPEG of 2 MB made of one tiny scan repeated 10,000 times took 67 s
    # to decode (docs/RELIABILITY.md). Repeating a scan here: at most 100 are decoded.
    from fer_core.imageio import MAX_JPEG_SCANS

    data = encode(astronaut_rgb, "JPEG", progressive=True, quality=90)
    spans = _scan_spans(data)
    assert 5 <= len(spans) <= 12  # an ordinary progressive JPEG
    start, end = min(spans, key=lambda s: s[1] - s[0])
    eoi = data.rindex(b"\xff\xd9")

    def repeated(total: int) -> bytes:
        return data[:eoi] + data[start:end] * (total - len(spans)) + data[eoi:]

    assert decode_image(repeated(MAX_JPEG_SCANS)).bgr.shape == (512, 512, 3)
    with pytest.raises(ImageDecodeError, match=f"{MAX_JPEG_SCANS + 1} scans.*normal JPEG"):
        decode_image(repeated(MAX_JPEG_SCANS + 1))
    with pytest.raises(ImageDecodeError, match="10,000 scans"):
        decode_image(repeated(10_000))


def test_scans_are_counted_in_the_image_not_in_its_metadata_or_what_follows_it(astronaut_rgb):
    """A phone's motion photo appends a video after the JPEG; random bytes hold 0xFF 0xDA about
    once in 65,536, so an 8 MB one read as "111 scans" and was refused."""
    from fer_core.imageio import MAX_JPEG_SCANS

    data = encode(astronaut_rgb, "JPEG", quality=90)
    trailer = b"\x00\xff\xda" * (MAX_JPEG_SCANS + 10)
    assert decode_image(data + trailer).bgr.shape == (512, 512, 3)
    comment = b"\xff\xfe" + (len(trailer) + 2).to_bytes(2, "big") + trailer  # a COM segment full of them
    assert decode_image(data[:2] + comment + data[2:]).bgr.shape == (512, 512, 3)


def test_jpeg_padded_between_its_headers_is_refused_before_pillow_reads_it(astronaut_rgb):
    """Pillow skips stray bytes between header segments one at a time: 5 MB of fill bytes 0xFF
    took 1.8 s to open (a 50 MB upload about 18 s). A few are harmless and still decode."""
    from fer_core.imageio import MAX_JPEG_PADDING

    data = encode(astronaut_rgb, "JPEG", quality=90)
    at = data.index(b"\xff\xdb")  # before the quantisation tables
    padded = data[:at] + b"\xff" * 100 + data[at:]
    assert decode_image(padded).bgr.shape == (512, 512, 3)
    with pytest.raises(ImageDecodeError, match="5,000,000 stray bytes"):
        decode_image(data[:at] + b"\xff" * 5_000_000 + data[at:])
    with pytest.raises(ImageDecodeError, match="stray bytes"):
        decode_image(data[:at] + b"\x00" * (MAX_JPEG_PADDING + 1) + data[at:])


@pytest.mark.parametrize("mode, options, size, refused", [
    # 4:4:4 colour holds 6 bytes of coefficients a pixel: 12 MP is 72 MB, over the 50 MB limit.
    ("RGB", dict(progressive=True, subsampling=0), (4000, 3000), True),
    # 4:2:0 colour holds 3 bytes a pixel: 12 MP passes, 20 MP does not.
    ("RGB", dict(progressive=True, subsampling=2), (4000, 3000), False),
    ("RGB", dict(progressive=True, subsampling=2), (5200, 3900), True),
    ("CMYK", dict(progressive=True), (3000, 2250), True),  # 8 bytes a pixel: 54 MB
    ("L", dict(progressive=True), (6000, 4000), False),  # 2 bytes a pixel: 48 MB
    # Baseline JPEGs hold no coefficients: only the 80 MP limit applies.
    ("RGB", dict(subsampling=0), (9000, 8000), False),
    ("CMYK", {}, (9000, 8000), False),
])
def test_progressive_jpeg_memory_limit_from_the_header(astronaut_rgb, mode, options, size, refused):
    # Headers of big images without their data: a progressive decode keeps every DCT
    # coefficient at full size (an 80 MP 4:4:4 one took 538 MB, docs/RELIABILITY.md), so
    # those over the limit are refused before any decoding. The others are decoded (libjpeg
    # fills in the missing data of a progressive JPEG) or fail as incomplete.
    small = Image.fromarray(astronaut_rgb[:16, :16]).convert(mode)
    buf = io.BytesIO()
    small.save(buf, format="JPEG", **options)
    data = _with_size(buf.getvalue(), *size)
    if refused:
        with pytest.raises(ImageDecodeError) as e:
            decode_image(data)
        assert f"{size[0]} x {size[1]} pixels" in str(e.value) and "progressive JPEG" in str(e.value)
        assert "Save it as a normal (baseline) JPEG, or resize it" in str(e.value)
    else:
        try:
            assert decode_image(data).original_size == size
        except ImageDecodeError as e:
            assert "truncated" in str(e) or "corrupt" in str(e)


def test_progressive_and_multi_scan_jpegs_decode_under_the_limit(astronaut_rgb):
    interleaved = encode(astronaut_rgb, "JPEG", quality=90, subsampling=0)
    progressive = encode(astronaut_rgb, "JPEG", quality=90, subsampling=0, progressive=True)
    in_scans = jpeg_in_component_scans(astronaut_rgb)  # baseline, one scan per component
    for data in (interleaved, progressive, in_scans):
        img = decode_image(data)
        assert np.abs(img.bgr[:, :, ::-1].astype(int) - astronaut_rgb.astype(int)).mean() < 4
    # 512 x 512 at 4:4:4 is 1.6 MB of coefficients: over a limit of 1 MB, only the one-pass
    # baseline JPEG is decoded. A sequential JPEG whose first scan holds one colour component
    # is buffered by libjpeg like a progressive one.
    assert decode_image(interleaved, max_jpeg_coefficient_bytes=1_000_000).bgr.shape == (512, 512, 3)
    with pytest.raises(ImageDecodeError, match="saved as a progressive JPEG.*limited to 0 megapixels"):
        decode_image(progressive, max_jpeg_coefficient_bytes=1_000_000)
    with pytest.raises(ImageDecodeError, match="saved as a JPEG in several scans"):
        decode_image(in_scans, max_jpeg_coefficient_bytes=1_000_000)
    with pytest.raises(ImageDecodeError, match="4000 x 3000 pixels .* several scans"):
        decode_image(_with_size(in_scans, 4000, 3000))


@pytest.mark.parametrize("orientation, stored", [(1, None), (6, cv2.ROTATE_90_COUNTERCLOCKWISE),
                                                 (8, cv2.ROTATE_90_CLOCKWISE)])
def test_a_box_of_a_downscaled_photo_maps_onto_the_photo_itself_upright(orientation, stored):
    """What is found in the analysed (downscaled, turned upright) picture lands, through
    ``to_original``, on the same place of the photo as the user sees it; boxes at its edges stay
    within it."""
    upright = np.zeros((2000, 3000, 3), np.uint8)
    upright[500:800, 2100:2400] = 255  # a white square at (2100, 500, 300, 300)
    pixels = upright if stored is None else cv2.rotate(upright, stored)
    img = Image.fromarray(pixels)
    exif = img.getexif()
    exif[0x0112] = orientation
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=95, exif=exif.tobytes())
    d = decode_image(buf.getvalue())
    assert d.downscaled and d.upright_size == (3000, 2000) and d.bgr.shape[1] > d.bgr.shape[0]
    ys, xs = np.nonzero(d.bgr[:, :, 0] > 127)
    found = (xs.min(), ys.min(), xs.max() + 1 - xs.min(), ys.max() + 1 - ys.min())
    assert d.to_original(found) == pytest.approx((2100, 500, 300, 300), abs=3)
    h, w = d.bgr.shape[:2]
    assert d.to_original((0, 0, w, h)) == (0, 0, 3000, 2000)
    assert d.to_original((w - 10, h - 10, 10, 10))[:2] == pytest.approx((2988, 1988), abs=2)
