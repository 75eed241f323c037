"""Face detection behind a small interface, so another detector can be added.

A detector takes a BGR uint8 image and returns :class:`Detection` objects with
pixel boxes clipped to the image, best score first.
"""
from __future__ import annotations

import abc
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Detection:
    box: tuple[int, int, int, int]  # x, y, w, h in pixels
    score: float


class FaceDetector(abc.ABC):
    """Base class: implement :meth:`detect`. Instances must be safe to share across threads."""

    name: str = "detector"

    @abc.abstractmethod
    def detect(self, image_bgr: np.ndarray) -> list[Detection]:
        """All faces in ``image_bgr`` (H, W, 3 uint8), best score first."""


def default_detector() -> FaceDetector:
    """The detector the recognizer uses unless told otherwise."""
    raise NotImplementedError("filled in by the detector implementation")
