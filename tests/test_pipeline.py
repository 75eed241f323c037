"""Smoke train -> export -> parity -> evaluate, end to end on tiny generated data (one epoch)."""
from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

pytest.importorskip("keras")

from fer_core import load_recognizer  # noqa: E402
from training import evaluate, export, train  # noqa: E402
from training.data import load_fer2013_csv  # noqa: E402


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
    import onnx

    ops = [n.op_type for n in onnx.load(str(onnx_path)).graph.node]
    assert ops[0] != "Mul" and "Pad" in ops, "the input scaling must be folded into the first convolution"

    # The exported model through fer_core equals Keras through the shared preprocessing.
    model = export.load_core(run / "best.keras")
    faces = load_fer2013_csv(tiny_csv)["PrivateTest"].x
    rec = load_recognizer(onnx_path, flip_tta=False, temperature=1.0, input_blur=0.0)
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

    class Draws(keras.callbacks.Callback):
        """The augmentation's random-generator states as each epoch begins."""

        def __init__(self):
            super().__init__()
            self.seen = {}

        def on_epoch_begin(self, epoch, logs=None):
            self.seen[epoch] = [np.asarray(v).tolist() for v in train.seed_states(self.model)]

    def args(run):
        return ["--data", str(tiny_csv), "--out", str(run), "--width", "8", "--batch-size", "32",
                "--epochs", "2", "--verbose", "0"]

    straight = Draws()
    monkeypatch.setattr(train, "EXTRA_CALLBACKS", [straight])
    assert train.main(args(tmp_path / "straight")) == 0

    run = tmp_path / "run"
    monkeypatch.setattr(train, "EXTRA_CALLBACKS", [Crash()])
    with pytest.raises(KeyboardInterrupt):
        train.main(args(run))
    assert (run / "backup").is_dir() and train.resumed_epoch(run) == 1
    resumed = Draws()
    monkeypatch.setattr(train, "EXTRA_CALLBACKS", [resumed])
    assert train.main(args(run)) == 0
    epochs = [line.split(",")[0] for line in (run / "log.csv").read_text().strip().splitlines()[1:]]
    assert epochs == ["0", "1"], "the second run must continue at epoch 2, not start again"
    assert not (run / "backup").exists() and train.resumed_epoch(run) == 0
    # The augmentation goes on drawing where it stopped, as in the run that was never stopped
    # (Keras's backup alone would start its generators again at the seed: the first epoch's
    # rotations and crops once more).
    assert list(resumed.seen) == [1]
    assert resumed.seen[1] == straight.seen[1] and resumed.seen[1] != straight.seen[0]


def test_export_int8_ships_quantized_model_beside_float32(tmp_path, tiny_csv):
    import onnx

    run = tmp_path / "run"
    assert train.main(["--data", str(tiny_csv), "--out", str(run), "--width", "8", "--epochs", "1",
                       "--batch-size", "32", "--verbose", "0"]) == 0
    out = tmp_path / "m.onnx"
    assert export.main(["--model", str(run / "best.keras"), "--out", str(out), "--data", str(tiny_csv),
                        "--int8", "--no-flip-tta"]) == 0
    fp32 = tmp_path / "m.float32.onnx"
    assert fp32.is_file()
    graph = onnx.load(str(out)).graph
    ops = {n.op_type for n in graph.node}
    assert {"QuantizeLinear", "DequantizeLinear"} <= ops and "Softmax" in ops
    producer = {o: n.op_type for n in graph.node for o in n.output}
    convs = [n for n in graph.node if n.op_type == "Conv"]
    # The one-channel input convolution stays float32; every later one reads quantized input.
    assert producer.get(convs[0].input[0]) != "DequantizeLinear"
    assert all(producer[c.input[0]] == "DequantizeLinear" for c in convs[1:])
    # Relus after quantized convolutions are folded into their output ranges.
    relus = [n for n in graph.node if n.op_type == "Relu"]
    assert not any(producer[r.input[0]] == "DequantizeLinear" for r in relus)
    card = json.loads(out.with_suffix(".json").read_text())
    assert card["model_file"] == "m.onnx" and card["float32"]["file"] == fp32.name
    assert 0.0 <= card["int8"]["publictest_accuracy_int8"] <= 1.0
    assert card["parity"]["max_abs_diff"] < 1e-4  # Keras vs the float32 file

    faces = load_fer2013_csv(tiny_csv)["PrivateTest"].x
    p8 = load_recognizer(out, flip_tta=False, temperature=1.0, input_blur=0.0).predict_proba(faces)
    p32 = load_recognizer(fp32, flip_tta=False, temperature=1.0, input_blur=0.0).predict_proba(faces)
    np.testing.assert_allclose(p8.sum(1), 1.0, atol=1e-5)
    assert np.abs(p8 - p32).mean() < 0.05
    with pytest.raises(SystemExit):  # int8 needs real faces for calibration
        export.main(["--model", str(run / "best.keras"), "--out", str(tmp_path / "x.onnx"), "--int8"])


def test_train_init_starts_from_saved_weights(tmp_path, tiny_csv):
    import keras

    first = tmp_path / "first"
    common = ["--data", str(tiny_csv), "--width", "8", "--epochs", "1", "--batch-size", "32", "--verbose", "0"]
    assert train.main([*common, "--out", str(first)]) == 0
    second = tmp_path / "second"
    assert train.main([*common, "--out", str(second), "--init", str(first / "last.keras"), "--lr", "1e-9"]) == 0
    w0 = keras.saving.load_model(first / "last.keras").get_layer("s2a_conv").get_weights()[0]
    w1 = keras.saving.load_model(second / "last.keras").get_layer("s2a_conv").get_weights()[0]
    np.testing.assert_allclose(w1, w0, atol=1e-5)
    fresh = tmp_path / "fresh"
    assert train.main([*common, "--out", str(fresh), "--lr", "1e-9", "--seed", "7"]) == 0
    w2 = keras.saving.load_model(fresh / "last.keras").get_layer("s2a_conv").get_weights()[0]
    assert np.abs(w2 - w0).max() > 1e-3


def test_input_blur_from_the_card_is_applied_before_the_model(tmp_path, tiny_csv):
    from fer_core.preprocess import smooth_batch

    run = tmp_path / "run"
    assert train.main(["--data", str(tiny_csv), "--out", str(run), "--width", "8", "--epochs", "1",
                       "--batch-size", "32", "--verbose", "0"]) == 0
    out = tmp_path / "m.onnx"
    assert export.main(["--model", str(run / "best.keras"), "--out", str(out), "--data", str(tiny_csv)]) == 0
    card = json.loads(out.with_suffix(".json").read_text())
    sigmas = [r["sigma"] for r in card["input_blur_selection"]]
    assert card["input_blur_sigma"] in sigmas and sigmas[0] == 0.0
    best = min(card["input_blur_selection"], key=lambda r: r["nll"])
    assert card["input_blur_sigma"] == best["sigma"]

    faces = load_fer2013_csv(tiny_csv)["PrivateTest"].x
    blurred = smooth_batch(faces, 0.8)
    assert blurred.dtype == np.uint8 and blurred.shape == faces.shape
    assert np.abs(blurred.astype(int) - faces).max() > 0
    with_blur = load_recognizer(out, input_blur=0.8, flip_tta=False)
    without = load_recognizer(out, input_blur=0.0, flip_tta=False)
    np.testing.assert_allclose(with_blur.predict_proba(faces), without.predict_proba(blurred), atol=1e-6)

    assert export.main(["--model", str(run / "best.keras"), "--out", str(out), "--input-blur", "0.5"]) == 0
    assert json.loads(out.with_suffix(".json").read_text())["input_blur_sigma"] == 0.5
    # A sigma given by hand is used as given; with --data the PublicTest table is still recorded.
    assert export.main(["--model", str(run / "best.keras"), "--out", str(out), "--input-blur", "0",
                        "--data", str(tiny_csv)]) == 0
    card = json.loads(out.with_suffix(".json").read_text())
    assert card["input_blur_sigma"] == 0.0 and [r["sigma"] for r in card["input_blur_selection"]] == sigmas
    with pytest.raises(SystemExit):
        export.main(["--model", str(run / "best.keras"), "--out", str(out), "--input-blur", "soft"])


def test_export_ensemble_of_two_runs(tmp_path, tiny_csv):
    import onnx

    runs = []
    for seed in ("1", "2"):
        run = tmp_path / f"run{seed}"
        assert train.main(["--data", str(tiny_csv), "--out", str(run), "--width", "8", "--epochs", "1",
                           "--batch-size", "32", "--verbose", "0", "--seed", seed]) == 0
        runs.append(run / "best.keras")
    out = tmp_path / "ens.onnx"
    assert export.main(["--model", *map(str, runs), "--out", str(out), "--data", str(tiny_csv),
                        "--input-blur", "0"]) == 0
    card = json.loads(out.with_suffix(".json").read_text())
    single = export.load_core(runs[0])
    assert card["parameters"] == 2 * single.count_params()
    assert card["parity"]["max_abs_diff"] < 1e-4
    graph = onnx.load(str(out)).graph
    at_input = [n.op_type for n in graph.node if graph.input[0].name in n.input]
    assert at_input and "Mul" not in at_input, "the members' input scaling must be folded"

    faces = load_fer2013_csv(tiny_csv)["PrivateTest"].x
    members = [np.asarray(export.load_core(r).predict(faces.astype(np.float32)[..., None], verbose=0)) for r in runs]
    rec = load_recognizer(out, flip_tta=False, temperature=1.0)
    np.testing.assert_allclose(rec.predict_proba(faces), np.mean(members, axis=0), atol=1e-4)


def test_train_distils_from_exported_teachers(tmp_path, tiny_csv, caplog):
    import logging

    common = ["--data", str(tiny_csv), "--width", "8", "--epochs", "1", "--batch-size", "32", "--verbose", "0"]
    teachers = []
    for seed in ("1", "2"):
        run = tmp_path / f"t{seed}"
        assert train.main([*common, "--out", str(run), "--seed", seed]) == 0
        onnx_path = tmp_path / f"t{seed}.onnx"
        assert export.main(["--model", str(run / "best.keras"), "--out", str(onnx_path), "--data", str(tiny_csv),
                            "--input-blur", "0.5"]) == 0
        teachers.append(onnx_path)

    faces = load_fer2013_csv(tiny_csv)["Training"]
    # The teachers run as they ship (their card's blur, mirror averaging and temperature).
    shipped = [load_recognizer(t).predict_proba(faces.x) for t in teachers]
    probs = train.teacher_probs([str(t) for t in teachers], faces.x)
    np.testing.assert_allclose(probs, np.mean(shipped, axis=0), atol=1e-6)
    targets = train.make_targets(faces, 0.0, probs, 0.25)
    np.testing.assert_allclose(targets, 0.75 * np.eye(7)[faces.y] + 0.25 * probs, atol=1e-6)
    np.testing.assert_allclose(targets.sum(1), 1.0, atol=1e-5)

    with caplog.at_level(logging.INFO, logger="training.train"):
        assert train.main([*common, "--out", str(tmp_path / "student"), "--teacher", *map(str, teachers),
                           "--teacher-weight", "0.25"]) == 0
    assert "teacher probabilities from 2 model(s)" in caplog.text
    assert (tmp_path / "student" / "best.keras").is_file()
    assert train.main([*common, "--out", str(tmp_path / "x"), "--teacher", str(tmp_path / "missing.onnx")]) == 2
    with pytest.raises(SystemExit):
        train.main([*common, "--out", str(tmp_path / "x"), "--teacher", str(teachers[0]), "--teacher-weight", "2"])


def test_train_with_mixup_cutmix_and_erasing(tmp_path, tiny_csv, caplog):
    import logging

    common = ["--data", str(tiny_csv), "--width", "8", "--epochs", "2", "--batch-size", "32", "--verbose", "0"]
    with caplog.at_level(logging.INFO, logger="training.train"):
        assert train.main([*common, "--out", str(tmp_path / "mix"), "--mixup", "0.2", "--cutmix", "1.0",
                           "--mix-prob", "0.5", "--erase", "0.5", "--resample", "once", "--keep-sharp", "0.25",
                           "--low-res", "0.2", "--photo", "0.3"]) == 0
    assert "mixing 50% of the faces (mixup alpha 0.2, CutMix alpha 1)" in caplog.text
    config = json.loads((tmp_path / "mix" / "config.json").read_text())
    assert config["resample"] == "once" and config["low_res"] == 0.2 and config["photo"] == 0.3
    log_rows = (tmp_path / "mix" / "log.csv").read_text().strip().splitlines()
    assert len(log_rows) == 3  # header + one row per epoch
    assert (tmp_path / "mix" / "best.keras").is_file() and (tmp_path / "mix" / "last.keras").is_file()
    with pytest.raises(SystemExit):
        train.main([*common, "--out", str(tmp_path / "x"), "--mix-prob", "1.5"])
    with pytest.raises(SystemExit):
        train.main([*common, "--out", str(tmp_path / "x"), "--erase", "-0.1"])
    with pytest.raises(SystemExit):
        train.main([*common, "--out", str(tmp_path / "x"), "--low-res", "1.5"])
    with pytest.raises(SystemExit):
        train.main([*common, "--out", str(tmp_path / "x"), "--photo", "-0.5"])


def test_ferplus_votes_mix_into_the_targets(tiny_csv):
    faces = load_fer2013_csv(tiny_csv)["Training"]
    rng = np.random.default_rng(0)
    votes = rng.dirichlet(np.ones(7), size=len(faces)).astype(np.float32)
    with_votes = dataclasses.replace(faces, soft=votes)
    targets = train.make_targets(with_votes, 0.5)
    np.testing.assert_allclose(targets, 0.5 * np.eye(7)[faces.y] + 0.5 * votes, atol=1e-6)
    # Then the teacher takes its share of the whole.
    teacher = rng.dirichlet(np.ones(7), size=len(faces)).astype(np.float32)
    both = train.make_targets(with_votes, 0.5, teacher, 0.5)
    np.testing.assert_allclose(both, 0.5 * targets + 0.5 * teacher, atol=1e-6)


def test_ferplus_mix_without_the_votes_is_refused(tmp_path, tiny_csv):
    """--ferplus-mix without --ferplus used to train on the plain labels without a word."""
    assert train.main(["--data", str(tiny_csv), "--out", str(tmp_path / "x"), "--width", "8", "--epochs", "1",
                       "--verbose", "0", "--ferplus-mix", "0.5"]) == 2
    assert not (tmp_path / "x" / "best.keras").exists()
