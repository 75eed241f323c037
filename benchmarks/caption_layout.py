"""Captions on crowded pictures: how many cover another caption or face or leave the picture,
and what ``fer_core.annotate.annotate`` costs per frame.

    python benchmarks/caption_layout.py

Generated face boxes (no photos needed): six faces side by side, a call's 7 x 7 gallery of
touching tiles, a class photo's offset rows, four faces on a 320 x 240 frame, 24 on a 4K frame.
Caption blocks are read from the black filled rectangles ``annotate`` draws. The time is the
thread CPU time per frame (a copy drawn on) for 1, 5 and 30 faces spread over 640 x 480 and
1280 x 720 frames, the live page's sizes: the median of repeated runs.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from pathlib import Path
from unittest import mock

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from fer_core import annotate as ann  # noqa: E402
from fer_core.labels import LABELS  # noqa: E402


@dataclass
class Face:
    box: tuple[int, int, int, int]
    label: str
    confidence: float


LAYOUTS: dict[str, tuple[tuple[int, int], list[tuple[int, int, int, int]]]] = {
    "6 side by side, 640x240": ((640, 240), [(10 + 100 * i, 60, 100, 110) for i in range(6)]),
    "7x7 touching tiles, 1280x720": ((1280, 720), [(c * 182 + 4, r * 102 + 6, 174, 94)
                                                   for r in range(7) for c in range(7)]),
    "class photo 3x8, 1280x720": ((1280, 720), [(30 + 140 * c + 70 * (r % 2), 80 + 160 * r, 130, 150)
                                                for r in range(3) for c in range(8)]),
    "2x2 on 320x240": ((320, 240), [(20 + 150 * c, 10 + 115 * r, 120, 105) for r in range(2) for c in range(2)]),
    "6x4 on a 4K frame": ((3840, 2160), [(100 + 620 * c, 150 + 520 * r, 300, 340) for r in range(4) for c in range(6)]),
}


def meet(a: tuple[int, ...], b: tuple[int, ...]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def caption_blocks(image: np.ndarray, faces: list[Face]) -> list[tuple[int, int, int, int]]:
    real, blocks = cv2.rectangle, []

    def rectangle(img, p0, p1, colour, thickness=1, *args, **kwargs):  # type: ignore[no-untyped-def]
        if thickness == -1 and tuple(colour) == (0, 0, 0):
            blocks.append((*p0, *p1))
        return real(img, p0, p1, colour, thickness, *args, **kwargs)

    with mock.patch.object(ann.cv2, "rectangle", rectangle):
        ann.annotate(image, faces, numbered=True)
    return blocks


def spread(w: int, h: int, n: int) -> list[Face]:
    cols = min(n, 6)
    rows = -(-n // cols)
    tw, th = w // cols, h // rows
    side = int(min(tw, th) * 0.6)
    return [Face(((i % cols) * tw + (tw - side) // 2, (i // cols) * th + (th - side) // 2, side, side),
                 LABELS[i % 7], 0.8) for i in range(n)]


def main() -> None:
    rng = np.random.default_rng(0)
    for name, ((w, h), boxes) in LAYOUTS.items():
        faces = [Face(b, LABELS[i % 7], float(rng.uniform(0.3, 1))) for i, b in enumerate(boxes)]
        blocks = caption_blocks(np.zeros((h, w, 3), np.uint8), faces)
        rects = [(x, y, x + bw, y + bh) for x, y, bw, bh in boxes]
        on_caption = sum(meet(a, b) for i, a in enumerate(blocks) for b in blocks[i + 1:])
        on_face = sum(meet(a, r) for i, a in enumerate(blocks) for j, r in enumerate(rects) if i != j)
        outside = sum(not (a[0] >= 0 and a[1] >= 0 and a[2] <= w and a[3] <= h) for a in blocks)
        print(f"{name:30s} {len(faces):2d} faces: {on_caption} caption pairs overlap, "
              f"{on_face} captions over another face, {outside} outside the picture")
    for w, h in ((640, 480), (1280, 720)):
        frame = (rng.random((h, w, 3)) * 255).astype(np.uint8)
        for n in (1, 5, 30):
            faces = spread(w, h, n)
            times = []
            for _ in range(15):
                start = time.thread_time()
                for _ in range(40):
                    ann.annotate(frame, faces)
                times.append((time.thread_time() - start) / 40 * 1000)
            print(f"{w}x{h} {n:2d} faces: {np.median(times):.3f} ms per frame")


if __name__ == "__main__":
    main()
