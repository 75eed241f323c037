"""On-the-fly augmentation as Keras layers: runs inside the training graph, on any backend."""
from __future__ import annotations

import keras
from keras import layers

from fer_core.preprocess import INPUT_SIZE


def augmenter(strength: float = 1.0, seed: int = 0) -> keras.Sequential:
    """Flip, shift, rotation, zoom, brightness and contrast; active only when training.

    ``strength`` scales every range (0 disables all but the flip).
    """
    s = float(strength)
    return keras.Sequential(
        [
            keras.Input((INPUT_SIZE, INPUT_SIZE, 1)),
            layers.RandomFlip("horizontal", seed=seed),
            layers.RandomRotation(0.04 * s, fill_mode="reflect", seed=seed + 1),  # about +-15 degrees
            layers.RandomZoom((-0.15 * s, 0.15 * s), fill_mode="reflect", seed=seed + 2),
            layers.RandomTranslation(0.1 * s, 0.1 * s, fill_mode="reflect", seed=seed + 3),
            layers.RandomBrightness(0.25 * s, value_range=(0, 255), seed=seed + 4),
            layers.RandomContrast(0.3 * s, value_range=(0, 255), seed=seed + 5),
        ],
        name="augment",
    )
