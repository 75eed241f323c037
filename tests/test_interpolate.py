"""Weight-space interpolation (training.interpolate): the arithmetic, the guards, the saved file."""

from __future__ import annotations

import numpy as np
import pytest

from training.interpolate import main, mix_weights


def test_mix_weights_is_the_straight_line_between_the_models():
    a = [np.array([0.0, 2.0], np.float32), np.full((2, 2), 4.0, np.float32)]
    b = [np.array([1.0, 0.0], np.float32), np.zeros((2, 2), np.float32)]
    np.testing.assert_allclose(mix_weights(a, b, 0.25)[0], [0.25, 1.5])
    np.testing.assert_allclose(mix_weights(a, b, 0.25)[1], np.full((2, 2), 3.0))
    for arr, want in zip(mix_weights(a, b, 0.0), a, strict=True):
        np.testing.assert_array_equal(arr, want)
    for arr, want in zip(mix_weights(a, b, 1.0), b, strict=True):
        np.testing.assert_array_equal(arr, want)
    assert mix_weights(a, b, 0.5)[0].dtype == np.float32


def test_mix_weights_refuses_other_architectures_and_bad_alpha():
    a = [np.zeros((3, 3), np.float32)]
    with pytest.raises(ValueError, match="shapes"):
        mix_weights(a, [np.zeros((3, 4), np.float32)], 0.5)
    with pytest.raises(ValueError, match="weight arrays"):
        mix_weights(a, a + a, 0.5)
    with pytest.raises(ValueError, match="alpha"):
        mix_weights(a, a, 1.5)


def test_integer_state_comes_from_the_tuned_model():
    mixed = mix_weights([np.array([10], np.int64)], [np.array([3], np.int64)], 0.5)
    assert mixed[0].tolist() == [3]


def test_cli_writes_a_model_whose_weights_sit_between_the_two(tmp_path):
    keras = pytest.importorskip("keras")
    from training.models import compact

    keras.utils.set_random_seed(1)
    base, tuned = compact(width=8), compact(width=8)
    base.save(tmp_path / "base.keras")
    tuned.save(tmp_path / "tuned.keras")
    out = tmp_path / "mid.keras"
    assert main(["--base", str(tmp_path / "base.keras"), "--tuned", str(tmp_path / "tuned.keras"),
                 "--alpha", "0.3", "--out", str(out)]) == 0
    mid = keras.saving.load_model(str(out), compile=False)
    for m, a, b in zip(mid.get_weights(), base.get_weights(), tuned.get_weights(), strict=True):
        np.testing.assert_allclose(m, 0.7 * a + 0.3 * b, rtol=1e-5, atol=1e-6)
    # The two random models differ, so the mix is neither of them.
    x = np.random.default_rng(0).integers(0, 256, (4, 48, 48, 1)).astype("float32")
    assert not np.allclose(mid.predict(x, verbose=0), base.predict(x, verbose=0))
    # Another architecture is refused with a message, not a traceback.
    compact(width=16).save(tmp_path / "wide.keras")
    assert main(["--base", str(tmp_path / "base.keras"), "--tuned", str(tmp_path / "wide.keras"),
                 "--alpha", "0.5", "--out", str(tmp_path / "bad.keras")]) == 1


def test_cli_names_a_missing_model_and_refuses_an_out_that_keras_cannot_save(tmp_path, capsys):
    pytest.importorskip("keras")
    assert main(["--base", str(tmp_path / "none.keras"), "--tuned", str(tmp_path / "none.keras"),
                 "--alpha", "0.5", "--out", str(tmp_path / "o.keras")]) == 1
    with pytest.raises(SystemExit) as e:
        main(["--base", "a.keras", "--tuned", "b.keras", "--alpha", "0.5", "--out", str(tmp_path / "o.bin")])
    assert e.value.code == 2 and "saved as a .keras file" in capsys.readouterr().err
