"""On-the-fly augmentation as Keras layers: runs inside the training graph, on any backend."""
from __future__ import annotations

import math

import keras
from keras import layers, ops

from fer_core.preprocess import INPUT_SIZE

RESAMPLE_MODES = ("chain", "once")


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


class RandomRotateZoomShift(layers.Layer):
    """Rotation, zoom and shift in one resampling: one bilinear interpolation per face.

    Keras's ``RandomRotation``, ``RandomZoom`` and ``RandomTranslation`` each resample the
    face, so a face that goes through all three is interpolated three times and comes out
    softer than any test face. Here the three draws make one affine map (rotation and zoom
    about the centre, then the shift) and the face is sampled once. The ranges are those of
    the Keras layers: ``rotation`` as a fraction of a full turn, ``zoom`` as the relative
    change of scale, ``shift`` as a fraction of the side. ``keep``: the share of faces that
    get the identity map, which leaves them bit-identical (the keep-sharp faces).
    """

    def __init__(self, rotation: float, zoom: float, shift: float, keep: float = 0.0,
                 fill_mode: str = "reflect", seed: int = 0, **kwargs):
        super().__init__(**kwargs)
        self.rotation, self.zoom, self.shift, self.keep = float(rotation), float(zoom), float(shift), float(keep)
        self.fill_mode = fill_mode
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, inputs, training=None):
        if not training:
            return inputs
        n = ops.shape(inputs)[0]
        h, w = float(inputs.shape[1]), float(inputs.shape[2])

        def draw(limit):
            return keras.random.uniform((n,), -limit, limit, seed=self.seed_generator)

        angle = draw(2 * math.pi * self.rotation)
        scale = 1.0 + draw(self.zoom)
        dx, dy = draw(self.shift * w), draw(self.shift * h)
        if self.keep > 0:
            spared = keras.random.uniform((n,), seed=self.seed_generator) < self.keep
            angle = ops.where(spared, 0.0, angle)
            scale = ops.where(spared, 1.0, scale)
            dx, dy = ops.where(spared, 0.0, dx), ops.where(spared, 0.0, dy)
        # Output pixel p reads input pixel  scale * R(angle) (p - c) + c + (dx, dy),  c = centre.
        cx, cy = (w - 1) / 2, (h - 1) / 2
        cos, sin = scale * ops.cos(angle), scale * ops.sin(angle)
        zero = ops.zeros_like(angle)
        transform = ops.stack([cos, -sin, cx - cos * cx + sin * cy + dx,
                               sin, cos, cy - sin * cx - cos * cy + dy, zero, zero], axis=1)
        return ops.image.affine_transform(inputs, transform, interpolation="bilinear",
                                          fill_mode=self.fill_mode, data_format="channels_last")

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "rotation": self.rotation, "zoom": self.zoom, "shift": self.shift,
                "keep": self.keep, "fill_mode": self.fill_mode}


class RandomLowRes(layers.Layer):
    """Makes a share of the faces low-resolution: shrunk to a side drawn from ``sizes`` and
    enlarged back to the input size, as a face cut at that size in a photo or a video frame
    reaches the model (``fer_core.preprocess_face`` enlarges small crops bicubically).

    ``rate``: the share of faces changed; each changed face gets one of ``sizes`` with equal
    chance. Both steps are bicubic ``keras.ops.image.resize`` calls, so the layer runs on
    every backend; the shrink is antialiased (its filter widened to the scale step). Of the
    resize pairs Keras offers this one comes closest to OpenCV's area shrink and bicubic
    enlargement (within about one grey level on textures). Pixels are 0-255, and the
    enlarged faces are clipped to that range. The other faces pass bit-identical.
    """

    def __init__(self, rate: float, sizes=(16, 20, 24, 28, 32, 40), seed: int = 0, **kwargs):
        super().__init__(**kwargs)
        self.rate = float(rate)
        self.sizes = tuple(int(s) for s in sizes)
        if not self.sizes or min(self.sizes) < 2:
            raise ValueError(f"sizes must be sides of at least 2 px, got {sizes!r}")
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, inputs, training=None):
        if not training or self.rate <= 0:
            return inputs
        n = ops.shape(inputs)[0]
        side = (int(inputs.shape[1]), int(inputs.shape[2]))
        changed = keras.random.uniform((n, 1, 1, 1), seed=self.seed_generator) < self.rate
        pick = keras.random.randint((n, 1, 1, 1), 0, len(self.sizes), seed=self.seed_generator)
        out = inputs
        for i, s in enumerate(self.sizes):
            small = ops.image.resize(inputs, (s, s), interpolation="bicubic", antialias=True,
                                     data_format="channels_last")
            back = ops.clip(ops.image.resize(small, side, interpolation="bicubic", data_format="channels_last"),
                            0.0, 255.0)
            out = ops.where(ops.logical_and(changed, ops.equal(pick, i)), back, out)
        return out

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "sizes": list(self.sizes)}


class RandomPhotoDegrade(layers.Layer):
    """Makes a share of the faces look like they came from another camera: a gamma curve
    (exposure), sometimes a blur (defocus or motion) and sensor noise.

    FER2013's faces are web images cut to 48 px; live frames and photos differ in tone
    curve, focus and noise. ``rate``: the share of faces changed. Each changed face gets a
    gamma drawn log-uniformly in [1/gamma, gamma]; one of three blurs with equal chance
    (none, a Gaussian of sigma 1 px, or a 5-px motion streak, horizontal or vertical);
    and Gaussian noise of a standard deviation drawn uniformly in [0, noise] grey levels.
    Pixels are 0-255 and stay clipped to it. The blurs are fixed 5x5 kernels (depthwise
    convolutions), so the layer runs on every backend. Untouched faces pass bit-identical.
    JPEG artefacts are left out: no backend-neutral codec exists in ``keras.ops``.
    """

    def __init__(self, rate: float, gamma: float = 1.6, blur: bool = True, noise: float = 8.0,
                 seed: int = 0, **kwargs):
        super().__init__(**kwargs)
        if gamma < 1.0 or noise < 0:
            raise ValueError(f"gamma must be >= 1 and noise >= 0, got {gamma!r} and {noise!r}")
        self.rate, self.gamma, self.blur, self.noise = float(rate), float(gamma), bool(blur), float(noise)
        self.seed_generator = keras.random.SeedGenerator(seed)

    @staticmethod
    def kernels():
        """The blur kernels, (5, 5) each, summing to 1: Gaussian sigma 1, horizontal and vertical streaks."""
        t = ops.arange(-2.0, 3.0)
        g = ops.exp(-0.5 * t * t)
        g = g / ops.sum(g)
        streak = ops.zeros((5, 5))
        horizontal = ops.scatter_update(streak, [[2, i] for i in range(5)], ops.full((5,), 0.2))
        return [ops.outer(g, g), horizontal, ops.transpose(horizontal)]

    def call(self, inputs, training=None):
        if not training or self.rate <= 0:
            return inputs
        n = ops.shape(inputs)[0]
        x = ops.cast(inputs, "float32")
        changed = keras.random.uniform((n, 1, 1, 1), seed=self.seed_generator) < self.rate
        log_g = keras.random.uniform((n, 1, 1, 1), -math.log(self.gamma), math.log(self.gamma),
                                     seed=self.seed_generator)
        out = 255.0 * ops.power(ops.clip(x, 0.0, 255.0) / 255.0 + 1e-6, ops.exp(log_g))
        if self.blur:
            # 0: none, 1: Gaussian, 2/3: a streak (half the blurred faces are defocused, half moved).
            pick = keras.random.randint((n, 1, 1, 1), 0, 4, seed=self.seed_generator)
            padded = ops.pad(out, [[0, 0], [2, 2], [2, 2], [0, 0]], mode="reflect")
            k = self.kernels()
            for i, kernel in enumerate([k[0], k[1], k[2]], start=1):
                blurred = ops.conv(padded, ops.reshape(kernel, (5, 5, 1, 1)), padding="valid")
                out = ops.where(ops.equal(pick, i), blurred, out)
        if self.noise > 0:
            sd = keras.random.uniform((n, 1, 1, 1), 0.0, self.noise, seed=self.seed_generator)
            out = out + sd * keras.random.normal(ops.shape(out), seed=self.seed_generator)
        out = ops.clip(out, 0.0, 255.0)
        return ops.where(changed, out, x)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "gamma": self.gamma, "blur": self.blur,
                "noise": self.noise}


def augmenter(strength: float = 1.0, seed: int = 0, keep_sharp: float = 0.0,
              erase: float = 0.0, resample: str = "chain", low_res: float = 0.0,
              photo: float = 0.0) -> keras.Sequential:
    """Flip, shift, rotation, zoom, brightness and contrast; active only when training.

    ``strength`` scales every range (0 disables all but the flip and ``erase``). ``keep_sharp``: the
    fraction of faces that skip the resampling steps (rotation, zoom, shift) and so keep
    their original sharpness. ``erase``: the fraction of faces that get one random box
    (each side 14-45% of the face) filled with noise, Keras's ``RandomErasing``; it stands
    in for hands, glasses and microphones over part of a face. ``resample``: ``"chain"``
    runs Keras's three layers one after the other (three interpolations, the recipe of the
    shipped model); ``"once"`` draws the same ranges and resamples once
    (:class:`RandomRotateZoomShift`). ``low_res``: the fraction of faces shrunk to 16-40 px
    and enlarged back (:class:`RandomLowRes`), after the geometric steps, as a camera would
    see a small face; it trains the net on the soft faces that small crops give. ``photo``:
    the fraction of faces given another camera's gamma, blur and noise
    (:class:`RandomPhotoDegrade`), after the low-resolution step.
    """
    if resample not in RESAMPLE_MODES:
        raise ValueError(f"resample must be one of {RESAMPLE_MODES}, not {resample!r}")
    s = float(strength)
    if resample == "once":
        geometric = RandomRotateZoomShift(0.04 * s, 0.15 * s, 0.1 * s, keep=keep_sharp, seed=seed + 1,
                                          name="resample_once")
    else:
        geometric = keras.Sequential(
            [
                layers.RandomRotation(0.04 * s, fill_mode="reflect", seed=seed + 1),  # about +-15 degrees
                layers.RandomZoom((-0.15 * s, 0.15 * s), fill_mode="reflect", seed=seed + 2),
                layers.RandomTranslation(0.1 * s, 0.1 * s, fill_mode="reflect", seed=seed + 3),
            ],
            name="resample",
        )
        if keras.backend.backend() == "jax":
            # Keras marks these three as not compilable for TensorFlow's sake (its image
            # transform op has no XLA kernel); on JAX they compile, and a model with one
            # such layer would run its whole train step op by op.
            for layer in geometric.layers:
                layer.supports_jit = True
    if keep_sharp > 0 and resample == "chain":
        geometric = Sometimes(geometric, 1.0 - float(keep_sharp), seed=seed + 6, name="resample_sometimes")
    return keras.Sequential(
        [
            keras.Input((INPUT_SIZE, INPUT_SIZE, 1)),
            layers.RandomFlip("horizontal", seed=seed),
            geometric,
            *([RandomLowRes(low_res, seed=seed + 8, name="low_res")] if low_res > 0 else []),
            *([RandomPhotoDegrade(photo, seed=seed + 9, name="photo")] if photo > 0 else []),
            layers.RandomBrightness(0.25 * s, value_range=(0, 255), seed=seed + 4),
            layers.RandomContrast(0.3 * s, value_range=(0, 255), seed=seed + 5),
            *([layers.RandomErasing(factor=(erase, erase), scale=(0.02, 0.2), value_range=(0, 255),
                                    seed=seed + 7)] if erase > 0 else []),
        ],
        name="augment",
    )
