"""Keras 3 expression classifiers, written backend-agnostically (keras.layers / keras.ops only).

Every model takes (N, 48, 48, 1) float pixels in 0-255 (the output of
``fer_core.preprocess_face`` cast to float) and ends in a softmax over the seven
FER2013 classes. Scaling to [-1, 1] is the model's first layer, so exported models
need no separate normalisation step.
"""
from __future__ import annotations

import keras
from keras import layers

from fer_core.labels import NUM_CLASSES
from fer_core.preprocess import INPUT_SIZE


def _conv_bn(x, filters: int, name: str, strides: int = 1):
    x = layers.Conv2D(filters, 3, strides=strides, padding="same", use_bias=False, name=f"{name}_conv")(x)
    x = layers.BatchNormalization(name=f"{name}_bn")(x)
    return layers.ReLU(name=f"{name}_relu")(x)


def compact(width: int = 32, dropout: float = 0.3) -> keras.Model:
    """The shipped architecture: a slim plain conv net (~0.6 M parameters, ~27 M MACs).

    Plain 3x3 convolutions, not depthwise-separable ones: on CPUs they train several
    times faster per MAC (measured: a 15 M-MAC separable net trained slower than a
    117 M-MAC plain one with TensorFlow on 2 cores) and run efficiently in ONNX Runtime.
    The 48x48 input is halved right after the stem; later stages double the width.
    """
    w = width
    inp = keras.Input((INPUT_SIZE, INPUT_SIZE, 1), name="face")
    x = layers.Rescaling(1 / 127.5, offset=-1.0, name="scale")(inp)
    x = _conv_bn(x, w // 2, "stem1")                 # 48x48
    x = _conv_bn(x, w, "stem2", strides=2)           # 24x24
    x = _conv_bn(x, w, "s1a")
    x = layers.MaxPooling2D(2, name="pool1")(x)      # 12x12
    x = _conv_bn(x, 2 * w, "s2a")
    x = _conv_bn(x, 2 * w, "s2b")
    x = layers.MaxPooling2D(2, name="pool2")(x)      # 6x6
    x = _conv_bn(x, 4 * w, "s3a")
    x = _conv_bn(x, 4 * w, "s3b")
    x = layers.MaxPooling2D(2, name="pool3")(x)      # 3x3
    x = _conv_bn(x, 8 * w, "s4a")
    x = layers.GlobalAveragePooling2D(name="gap")(x)
    x = layers.Dropout(dropout, name="drop")(x)
    out = layers.Dense(NUM_CLASSES, activation="softmax", name="probs")(x)
    return keras.Model(inp, out, name="fernet_compact")


def _vgg_stage(x, filters: int, convs: int, name: str):
    for i in range(convs):
        x = layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"{name}_conv{i + 1}")(x)
        x = layers.BatchNormalization(name=f"{name}_bn{i + 1}")(x)
        x = layers.ReLU(name=f"{name}_relu{i + 1}")(x)
    return layers.MaxPooling2D(2, name=f"{name}_pool")(x)


def vgg(width: int = 64, dropout: float = 0.4) -> keras.Model:
    """The stronger architecture: a VGG-style net (~5 M parameters), as a teacher or on a GPU."""
    inp = keras.Input((INPUT_SIZE, INPUT_SIZE, 1), name="face")
    x = layers.Rescaling(1 / 127.5, offset=-1.0, name="scale")(inp)
    for i, mult in enumerate((1, 2, 4, 8)):
        x = _vgg_stage(x, width * mult, 2, name=f"s{i + 1}")
    x = layers.GlobalAveragePooling2D(name="gap")(x)
    x = layers.Dense(width * 4, use_bias=False, name="fc")(x)
    x = layers.BatchNormalization(name="fc_bn")(x)
    x = layers.ReLU(name="fc_relu")(x)
    x = layers.Dropout(dropout, name="drop")(x)
    out = layers.Dense(NUM_CLASSES, activation="softmax", name="probs")(x)
    return keras.Model(inp, out, name="fernet_vgg")


def ensemble(members: list[keras.Model], name: str = "fernet_ensemble") -> keras.Model:
    """One model whose output is the mean of the members' probabilities (exported as one graph)."""
    if len(members) == 1:
        return members[0]
    inp = keras.Input((INPUT_SIZE, INPUT_SIZE, 1), name="face")
    for i, m in enumerate(members):  # nested models need distinct names
        m.name = f"{m.name}_{i}"
    out = layers.Average(name="mean_probs")([m(inp) for m in members])
    return keras.Model(inp, out, name=name)


ARCHITECTURES = {"compact": compact, "vgg": vgg}


def build(arch: str, **kwargs) -> keras.Model:
    if arch not in ARCHITECTURES:
        raise ValueError(f"unknown architecture {arch!r}; choose from {sorted(ARCHITECTURES)}")
    return ARCHITECTURES[arch](**kwargs)
