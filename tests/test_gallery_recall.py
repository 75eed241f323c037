"""The collage benchmark's layout and scoring (benchmarks/gallery_recall.py)."""
from __future__ import annotations

import numpy as np

from benchmarks.gallery_recall import collage, score_collage
from fer_core.detect import Detection, still_detector
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
