"""The WHENet reference of benchmarks/yaw_crosscheck.py: weight loading, bin decoding, crop."""
from __future__ import annotations

import numpy as np
import pytest

from benchmarks import yaw_crosscheck as yc


class _Bins:
    """A stand-in for WHENet: yaw logits peaked on one bin (pitch and roll unused)."""

    def __init__(self, bins):
        self.bins = bins

    def predict(self, x, verbose=0, batch_size=32):
        logits = np.full((len(x), 120), -50.0, np.float32)
        logits[np.arange(len(x)), self.bins] = 50.0
        return [logits, np.zeros((len(x), 66)), np.zeros((len(x), 66))]


def test_whenet_yaw_decodes_bins_with_this_projects_sign():
    # Bin k stands for 3k - 180 degrees in WHENet's sign; the project counts the other way.
    crops = [np.zeros((224, 224, 3), np.uint8)] * 3
    yaw = yc.whenet_yaw(_Bins([60, 70, 45]), crops)
    np.testing.assert_allclose(yaw, [0.0, -30.0, 45.0], atol=1e-3)


def test_whenet_crop_pads_the_box_and_stays_inside_the_image():
    image = np.zeros((200, 300, 3), np.uint8)
    image[40:160, 80:220] = 255  # exactly the padded box of (100, 50, 100, 100)
    crop = yc.whenet_crop(image, (100, 50, 100, 100))
    assert crop.shape == (224, 224, 3) and crop.min() > 200
    edge = yc.whenet_crop(image, (-30, -30, 100, 100))  # half outside: clipped, still a crop
    assert edge.shape == (224, 224, 3)


def _write_keras2_h5(model, path):
    """``model``'s weights in the layout of a Keras 2 ``save_weights`` file (layer_names and
    weight_names attributes, one group per layer), as WHENet.h5 is stored."""
    import h5py
    import keras

    with h5py.File(path, "w") as f:
        names = []
        for i, layer in enumerate(model.layers):
            if isinstance(layer, keras.layers.Normalization):
                continue
            name = f"layer_{i}"
            names.append(name.encode())
            group = f.create_group(name)
            weight_names = []
            for j, w in enumerate(layer.get_weights()):
                wn = f"{name}/w{j}:0"
                group.create_dataset(wn, data=w)
                weight_names.append(wn.encode())
            group.attrs["weight_names"] = weight_names
        f.attrs["layer_names"] = names


def test_load_whenet_copies_weights_in_order_and_checks_shapes(tmp_path):
    keras = pytest.importorskip("keras")
    pytest.importorskip("h5py")
    keras.utils.set_random_seed(3)
    # A WHENet-shaped network with random weights, stored the Keras 2 way, must load back exactly.
    base = keras.applications.EfficientNetB0(include_top=False, weights=None, input_shape=(224, 224, 3))
    pooled = keras.layers.GlobalAveragePooling2D()(base.output)
    heads = [keras.layers.Dense(n)(pooled) for n in (120, 66, 66)]
    ref = keras.Model(base.input, heads)
    for layer in ref.layers:
        if isinstance(layer, keras.layers.Normalization):
            layer.set_weights([np.zeros(3), np.ones(3), np.array(0)])
    _write_keras2_h5(ref, tmp_path / "w.h5")
    loaded = yc.load_whenet(tmp_path / "w.h5")
    x = np.random.default_rng(0).normal(size=(2, 224, 224, 3)).astype(np.float32)
    for a, b in zip(ref.predict(x, verbose=0), loaded.predict(x, verbose=0)):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4)
    # One layer too few: refused, not loaded shifted by one.
    import h5py

    with h5py.File(tmp_path / "w.h5", "a") as f:
        first = next(n for n in f.attrs["layer_names"] if len(f[n].attrs["weight_names"]))
        f.attrs["layer_names"] = [n for n in f.attrs["layer_names"] if n != first]
    with pytest.raises(ValueError, match="layers with weights"):
        yc.load_whenet(tmp_path / "w.h5")
