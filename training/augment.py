"""On-the-fly augmentation as Keras layers: runs inside the training graph, on any backend."""
from __future__ import annotations

import keras
from keras import layers, ops

from fer_core.preprocess import INPUT_SIZE


class Sometimes(layers.Layer):
    """Applies ``inner`` to each sample with probability ``rate``; the other samples pass untouched.

    Used to spare a fraction of the faces from resampling (rotation, zoom, shift), which
    softens every face it touches: without it the net never sees a face as sharp as an
    untouched test face.
    """

    def __init__(self, inner: keras.Sequential, rate: float, seed: int = 0, **kwargs):
        super().__init__(**kwargs)
        self.inner = inner
        self.rate = float(rate)
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, inputs, training=None):
        if not training or self.rate >= 1.0:
            return self.inner(inputs, training=training)
        changed = self.inner(inputs, training=training)
        u = keras.random.uniform((ops.shape(inputs)[0], 1, 1, 1), seed=self.seed_generator)
        return ops.where(u < self.rate, changed, inputs)

    def compute_output_shape(self, input_shape):
        return input_shape


def augmenter(strength: float = 1.0, seed: int = 0, keep_sharp: float = 0.0,
              erase: float = 0.0) -> keras.Sequential:
    """Flip, shift, rotation, zoom, brightness and contrast; active only when training.

    ``strength`` scales every range (0 disables all but the flip and ``erase``). ``keep_sharp``: the
    fraction of faces that skip the resampling steps (rotation, zoom, shift) and so keep
    their original sharpness. ``erase``: the fraction of faces that get one random box
    (each side 14-45% of the face) filled with noise, Keras's ``RandomErasing``; it stands
    in for hands, glasses and microphones over part of a face.
    """
    s = float(strength)
    geometric = keras.Sequential(
        [
            layers.RandomRotation(0.04 * s, fill_mode="reflect", seed=seed + 1),  # about +-15 degrees
            layers.RandomZoom((-0.15 * s, 0.15 * s), fill_mode="reflect", seed=seed + 2),
            layers.RandomTranslation(0.1 * s, 0.1 * s, fill_mode="reflect", seed=seed + 3),
        ],
        name="resample",
    )
    if keep_sharp > 0:
        geometric = Sometimes(geometric, 1.0 - float(keep_sharp), seed=seed + 6, name="resample_sometimes")
    return keras.Sequential(
        [
            keras.Input((INPUT_SIZE, INPUT_SIZE, 1)),
            layers.RandomFlip("horizontal", seed=seed),
            geometric,
            layers.RandomBrightness(0.25 * s, value_range=(0, 255), seed=seed + 4),
            layers.RandomContrast(0.3 * s, value_range=(0, 255), seed=seed + 5),
            *([layers.RandomErasing(factor=(erase, erase), scale=(0.02, 0.2), value_range=(0, 255),
                                    seed=seed + 7)] if erase > 0 else []),
        ],
        name="augment",
    )
