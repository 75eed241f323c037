"""training.linear_probe: the head's loss and gradient, the fit, and the command on tiny data."""
from __future__ import annotations

import numpy as np
import pytest

from training import linear_probe


def _problem(seed=0, n=300, d=6, k=3):
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 3, (k, d))
    y = rng.integers(0, k, n)
    x = centres[y] + rng.normal(0, 1, (n, d))
    targets = np.eye(k)[y]
    weights = rng.uniform(0.5, 2.0, n)
    return x, y, targets, weights


def test_gradient_matches_finite_differences():
    x, _, targets, weights = _problem()
    rng = np.random.default_rng(1)
    theta = rng.normal(0, 0.3, x.shape[1] * targets.shape[1] + targets.shape[1])
    _, grad = linear_probe.head_loss(theta, x, targets, weights, l2=0.01)
    eps = 1e-6
    for i in rng.choice(theta.size, 8, replace=False):
        step = np.zeros_like(theta)
        step[i] = eps
        numeric = (linear_probe.head_loss(theta + step, x, targets, weights, 0.01)[0]
                   - linear_probe.head_loss(theta - step, x, targets, weights, 0.01)[0]) / (2 * eps)
        assert grad[i] == pytest.approx(numeric, rel=1e-4, abs=1e-7)


def test_fit_starts_from_the_given_head_and_lowers_the_loss():
    x, y, targets, weights = _problem()
    d, k = x.shape[1], targets.shape[1]
    w0, b0 = np.zeros((d, k), np.float32), np.zeros(k, np.float32)
    w, b, info = linear_probe.fit_head(x, targets, weights, w0, b0, l2=1e-3)
    assert info["loss_start"] == pytest.approx(np.log(k))  # a zero head predicts 1/k everywhere
    assert info["loss_end"] < 0.5 * info["loss_start"]
    assert w.shape == (d, k) and b.shape == (k,) and w.dtype == np.float32
    assert ((x @ w + b).argmax(1) == y).mean() > 0.9
    # A stronger penalty keeps the weights smaller.
    w_big, _, _ = linear_probe.fit_head(x, targets, weights, w0, b0, l2=1.0)
    assert np.abs(w_big).sum() < np.abs(w).sum()


def test_command_refits_only_the_head(tmp_path, tiny_csv):
    keras = pytest.importorskip("keras")
    from training.models import build

    model = build("compact", width=4)
    src = tmp_path / "m.keras"
    model.save(src)
    out = tmp_path / "lp" / "m.keras"
    assert linear_probe.main(["--model", str(src), "--out", str(out), "--data", str(tiny_csv),
                              "--ferplus-mix", "0", "--max-iter", "50"]) == 0
    refit = keras.saving.load_model(out, compile=False)
    for before, after in zip(model.layers, refit.layers, strict=True):
        same = all(np.array_equal(a, b) for a, b in zip(before.get_weights(), after.get_weights(), strict=True))
        assert same == (before.name != "probs"), before.name


def test_command_needs_the_votes_for_a_mix(tmp_path, tiny_csv):
    assert linear_probe.main(["--model", str(tmp_path / "none.keras"), "--out", str(tmp_path / "o.keras"),
                              "--data", str(tiny_csv), "--ferplus-mix", "0.3"]) == 2


@pytest.mark.parametrize("bad, message", [
    (["--ferplus-mix", "5"], "--ferplus-mix must be between 0 and 1 (got 5)"),
    (["--ferplus-mix", "nan"], "--ferplus-mix must be between 0 and 1 (got nan)"),
    (["--out", "OUT.bin"], "is saved as a .keras file"),  # was a Keras ValueError after the fit
    (["--out", "MODEL"], "is one of the --model/--data files"),
])
def test_command_refuses_bad_options_up_front(tmp_path, tiny_csv, capsys, bad, message):
    model = tmp_path / "m.keras"
    model.write_bytes(b"x")
    swap = {"OUT.bin": str(tmp_path / "o.bin"), "MODEL": str(model)}
    args = ["--model", str(model), "--out", str(tmp_path / "o.keras"), "--data", str(tiny_csv), *bad]
    with pytest.raises(SystemExit) as e:
        linear_probe.main([swap.get(a, a) for a in args])
    assert e.value.code == 2 and message in capsys.readouterr().err
    assert model.read_bytes() == b"x"


def test_command_without_training_faces_is_one_line(tmp_path, caplog):
    from training.synthetic import write_fer_csv

    data = tmp_path / "public.csv"
    write_fer_csv(data, {"Training": 0, "PublicTest": 4, "PrivateTest": 0})
    with caplog.at_level("ERROR", logger="training.linear_probe"):
        assert linear_probe.main(["--model", str(tmp_path / "m.keras"), "--out", str(tmp_path / "o.keras"),
                                  "--data", str(data), "--ferplus-mix", "0"]) == 2
    assert "public.csv: no Training faces" in caplog.text
