"""The collage benchmark's layout and scoring (benchmarks/gallery_recall.py)."""
from __future__ import annotations

import numpy as np

from benchmarks.gallery_recall import call_gallery, collage, score_collage
from fer_core.detect import Detection, default_detector, still_detector
from tests.scenes import astronaut_bgr


def _det(x, y, w, h):
    return Detection(box=(x, y, w, h), score=0.9)


def test_collage_lays_out_tiles_with_margins():
    photos = [np.full((50, 80, 3), v, np.uint8) for v in (10, 20, 30, 40)]
    img = collage(photos, 2, 100, 0.2)
    assert img.shape == (280, 280, 3)  # 2 cells of 100 + 2 x 20 px
    assert img[20, 20, 0] == 10 and img[20, 160, 0] == 20 and img[160, 20, 0] == 30 and img[160, 160, 0] == 40
    assert img[5, 5, 0] == 235  # the margin
    assert collage(photos, 2, 100, 0.0).shape == (200, 200, 3)


def test_score_counts_each_tile_once_and_the_rest_as_extra():
    dets = [_det(10, 10, 50, 50), _det(20, 20, 40, 40),  # two in tile (0, 0): one extra
            _det(110, 10, 50, 50),  # tile (1, 0)
            _det(250, 250, 40, 40)]  # outside a 2x2 grid of 100 px cells: extra
    assert score_collage(dets, 2, 2, 100) == (2, 2)


def test_still_detector_finds_every_face_of_a_small_collage():
    face = astronaut_bgr()[0:400, 60:460]
    img = collage([face] * 9, 3, 300, 0.2)
    found, extra = score_collage(still_detector().detect(img), 3, 3, img.shape[1] // 3)
    assert (found, extra) == (9, 0)


def test_call_gallery_centres_square_photos_in_16_9_tiles():
    photos = [np.full((60, 90, 3), 10 * (k + 1), np.uint8) for k in range(4)]
    frame = call_gallery(photos, 2, 640, 360)
    assert frame.shape == (360, 640, 3)
    # Tiles of 320 x 180; each photo a 180 px square from x = 70 in its tile, black around.
    assert frame[90, 70 + 90, 0] == 10 and frame[90, 320 + 160, 0] == 20
    assert frame[270, 160, 0] == 30 and frame[270, 480, 0] == 40
    assert frame[90, 30].max() == 0 and frame[90, 320 + 300].max() == 0
    # Scoring with 16:9 cells: the row comes from the cell's height, not its width.
    assert score_collage([_det(400, 200, 60, 60)], 2, 2, 320, 180) == (1, 0)
    assert score_collage([_det(100, 190, 60, 60)], 2, 2, 320, 180) == (1, 0)  # row 1: y centre 220 > 180
    assert score_collage([_det(100, 190, 60, 60), _det(100, 200, 50, 50)], 2, 2, 320, 180) == (1, 1)


def test_faces_of_a_call_at_the_shared_screens_size():
    """The live page's shared screen: 1280 x 720 and the still detector find the faces of a
    2 x 2 and a 5 x 5 call; at 960 x 540 the 5 x 5 call's faces are lost (no high-resolution
    pass under 1000 px), which is why the screen is asked for at 1280 x 720."""
    face = astronaut_bgr()[0:400, 60:460]
    frame = call_gallery([face] * 4, 2, 1280, 720)
    assert score_collage(still_detector().detect(frame), 2, 2, 640, 360) == (4, 0)
    frame = call_gallery([face] * 25, 5, 1280, 720)  # and a 5 x 5 call's small faces
    assert score_collage(still_detector().detect(frame), 5, 5, 256, 144)[0] == 25
    assert score_collage(default_detector().detect(call_gallery([face] * 25, 5, 960, 540)), 5, 5, 192, 108)[0] == 0
    # A 4 x 4 call at 960 x 540: only the still detector's 512 px pass finds its faces.
    frame = call_gallery([face] * 16, 4, 960, 540)
    assert score_collage(still_detector().detect(frame), 4, 4, 240, 135) == (16, 0)
    assert score_collage(default_detector().detect(frame), 4, 4, 240, 135)[0] == 0


def test_call_layouts_place_webcams_names_and_cameras_off():
    from benchmarks.call_layouts import captured, gallery_screen, score, slide_screen

    rng = np.random.default_rng(0)
    face = astronaut_bgr()[0:400, 60:460]
    photos = [face] * 8 + [None]
    screen, rects = gallery_screen(photos, 3, (1920, 1080), 0.35, rng)
    assert screen.shape == (1080, 1920, 3) and len(rects) == 9 and rects[8] is None
    x, y, w, h = rects[0]
    assert round(0.35 / 0.85 * 1080 * 0.89 / 3) - 8 <= h <= round(0.35 / 0.85 * 1080 * 0.89 / 3) + 2
    frame, small = captured(screen, rects)
    assert frame.shape == (720, 1280, 3) and small[8] is None and small[0][3] == int(h * 1280 / 1920)
    assert score([_det(small[0][0] + 2, small[0][1] + 2, 10, 10), _det(5, 5, 10, 10)], small) == (1, 1)
    _, strip = slide_screen([face] * 5, (1920, 1080), 0.35, rng)
    assert len(strip) == 5 and all(r is not None for r in strip)


def test_gallery_recall_and_call_layouts_set_up_photos_generator_and_detectors_alike(tmp_path):
    import argparse

    import cv2

    from benchmarks.gallery_recall import setup
    from training.synthetic import write_face_folder

    folder = write_face_folder(tmp_path / "faces", {"Happy": 3, "Sad": 2}, seed=0, size=(48, 48))
    args = argparse.Namespace(folder=str(folder), seed=3, detectors=["blazeface", "blazeface-still:min_face=40"])
    threads = cv2.getNumThreads()
    try:
        files, rng, dets = setup(args)
        assert cv2.getNumThreads() == 1
    finally:
        cv2.setNumThreads(threads)  # the other tests' OpenCV as it was
    assert len(files) == 5 and all(cv2.imread(str(f)) is not None for f in files)
    assert rng.integers(1 << 30) == np.random.default_rng(3).integers(1 << 30)
    assert list(dets) == args.detectors and dets["blazeface-still:min_face=40"].min_face == 40
