"""Smoke train -> export -> parity -> evaluate, end to end on tiny generated data (one epoch)."""
from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("keras")

from fer_core import load_recognizer  # noqa: E402
from training import evaluate, export, train  # noqa: E402
from training.data import load_fer2013_csv  # noqa: E402
from training.synthetic import write_fer_csv  # noqa: E402


@pytest.fixture(scope="module")
def tiny_csv(tmp_path_factory):
    path = tmp_path_factory.mktemp("data") / "tiny.csv.gz"
    write_fer_csv(path, {"Training": 140, "PublicTest": 35, "PrivateTest": 35}, seed=3)
    return path


@pytest.mark.parametrize("arch", ["compact", "vgg"])
def test_smoke_train_export_parity_evaluate(tmp_path, tiny_csv, arch):
    run = tmp_path / "run"
    rc = train.main(["--data", str(tiny_csv), "--out", str(run), "--arch", arch, "--width", "8",
                     "--epochs", "1", "--batch-size", "32", "--verbose", "0"])
    assert rc == 0
    assert (run / "best.keras").is_file() and (run / "log.csv").is_file()
    assert len((run / "log.csv").read_text().strip().splitlines()) == 2  # header + 1 epoch

    onnx_path = tmp_path / "m.onnx"
    assert export.main(["--model", str(run / "best.keras"), "--out", str(onnx_path), "--data", str(tiny_csv)]) == 0
    card = json.loads(onnx_path.with_suffix(".json").read_text())
    assert card["parity"]["max_abs_diff"] < 1e-4 and card["parity"]["top1_agreement"] == 1.0
    assert card["temperature"] > 0

    # The exported model through fer_core equals Keras through the shared preprocessing.
    model = export.load_core(run / "best.keras")
    faces = load_fer2013_csv(tiny_csv)["PrivateTest"].x
    rec = load_recognizer(onnx_path, flip_tta=False, temperature=1.0)
    keras_p = np.asarray(model.predict(faces.astype(np.float32)[..., None], verbose=0))
    np.testing.assert_allclose(rec.predict_proba(faces), keras_p, atol=1e-4)

    res = evaluate.evaluate(onnx_path, tiny_csv, tmp_path / "eval")
    assert set(res["splits"]) >= {"PublicTest", "PrivateTest", "PrivateTest_unseen"}
    assert 0.0 <= res["splits"]["PrivateTest"]["accuracy"] <= 1.0
    assert (tmp_path / "eval" / "confusion_PrivateTest.png").stat().st_size > 1000


def test_resume_after_interruption(tmp_path, tiny_csv, monkeypatch):
    import keras

    class Crash(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 0:
                raise KeyboardInterrupt("simulated interruption after epoch 1")

    run = tmp_path / "run"
    args = ["--data", str(tiny_csv), "--out", str(run), "--width", "8", "--batch-size", "32",
            "--epochs", "2", "--verbose", "0"]
    monkeypatch.setattr(train, "EXTRA_CALLBACKS", [Crash()])
    with pytest.raises(KeyboardInterrupt):
        train.main(args)
    assert (run / "backup").is_dir()
    monkeypatch.setattr(train, "EXTRA_CALLBACKS", [])
    assert train.main(args) == 0
    epochs = [line.split(",")[0] for line in (run / "log.csv").read_text().strip().splitlines()[1:]]
    assert epochs == ["0", "1"], "the second run must continue at epoch 2, not start again"
    assert not (run / "backup").exists()
