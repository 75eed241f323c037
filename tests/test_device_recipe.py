"""The path to a lent GPU: packed data, training without PublicTest, Keras teachers, and the
time-boxed recipe, all on tiny generated data (TensorFlow backend here; JAX on the device)."""
from __future__ import annotations

import csv
import dataclasses
import json
import logging

import numpy as np
import pytest

pytest.importorskip("keras")

from training import device_recipe, pack, train  # noqa: E402
from training.data import DataError, load_splits  # noqa: E402


@pytest.fixture(scope="module")
def train_pack(tmp_path_factory, tiny_csv):
    """Training only, as scripts/prepare_device.sh packs it."""
    out = tmp_path_factory.mktemp("pack") / "train.npz"
    assert pack.main(["--data", str(tiny_csv), "--out", str(out), "--splits", "Training"]) == 0
    return out


def test_pack_reads_back_exactly_and_leaves_other_splits_empty(tmp_path, tiny_csv):
    src = load_splits(tiny_csv)
    votes = np.random.default_rng(1).dirichlet(np.ones(7), size=len(src["Training"])).astype(np.float32)
    src["Training"] = dataclasses.replace(src["Training"], soft=votes)
    src["PublicTest"] = dataclasses.replace(
        src["PublicTest"], soft=np.full((len(src["PublicTest"]), 7), 1 / 7, np.float32))
    path = pack.pack(src, tmp_path / "p.npz", ["Training", "PublicTest"])
    back = load_splits(path)
    for name in ("Training", "PublicTest"):
        a, b = src[name], back[name]
        assert np.array_equal(a.x, b.x) and b.x.dtype == np.uint8  # lossless
        assert np.array_equal(a.y, b.y) and np.array_equal(a.index, b.index)
        np.testing.assert_allclose(a.soft, b.soft)
    assert len(back["PrivateTest"]) == 0 and back["PrivateTest"].x.shape == (0, 48, 48)
    assert path.stat().st_size < src["Training"].x.nbytes + src["PublicTest"].x.nbytes


def test_pack_errors_are_plain(tmp_path, tiny_csv, train_pack):
    not_a_pack = tmp_path / "other.npz"
    np.savez(not_a_pack, x=np.zeros(3))
    with pytest.raises(DataError, match="not a FER pack"):
        load_splits(not_a_pack)
    garbage = tmp_path / "garbage.npz"
    garbage.write_bytes(b"not a zip file")
    with pytest.raises(DataError, match="cannot read"):
        load_splits(garbage)
    with pytest.raises(DataError, match="FER\\+ votes"):
        load_splits(train_pack, ferplus=tmp_path / "fer2013new.csv")
    assert pack.main(["--data", str(tmp_path / "missing.csv"), "--out", str(tmp_path / "x.npz")]) == 2


def test_train_without_publictest_keeps_the_last_epoch(tmp_path, train_pack, caplog):
    run = tmp_path / "run"
    with caplog.at_level(logging.WARNING, logger="training.train"):
        assert train.main(["--data", str(train_pack), "--out", str(run), "--width", "8", "--epochs", "2",
                           "--batch-size", "32", "--verbose", "0"]) == 0
    assert "no PublicTest faces" in caplog.text
    assert (run / "last.keras").is_file() and not (run / "best.keras").exists()
    with open(run / "log.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 2 and rows[0].get("val_acc", "NA") == "NA"  # Keras's CSVLogger writes NA
    assert device_recipe.epoch_seconds(run / "log.csv") == [float(r["seconds"]) for r in rows]
    assert all(float(r["seconds"]) > 0 for r in rows)


def test_keras_teacher_averages_the_mirror_views(tmp_path, train_pack):
    run = tmp_path / "t"
    assert train.main(["--data", str(train_pack), "--out", str(run), "--width", "8", "--epochs", "1",
                       "--batch-size", "32", "--verbose", "0"]) == 0
    faces = load_splits(train_pack)["Training"].x[:20]
    p = train.keras_probs(run / "last.keras", faces)
    assert p.shape == (20, 7)
    np.testing.assert_allclose(p.sum(1), 1, atol=1e-5)
    # Mirror averaging: a face and its mirror image get the same probabilities.
    np.testing.assert_allclose(train.keras_probs(run / "last.keras", faces[:, :, ::-1]), p, atol=1e-5)
    np.testing.assert_allclose(train.teacher_probs([str(run / "last.keras")] * 2, faces), p, atol=1e-6)
    with pytest.raises(FileNotFoundError):
        train.keras_probs(tmp_path / "missing.keras", faces)


def test_plan_epochs_fits_the_budget():
    assert device_recipe.plan_epochs(100, 2.0, 10.0, 1000) == 42  # (95 - 10) // 2
    assert device_recipe.plan_epochs(100, 2.0, 10.0, 30) == 30  # capped
    assert device_recipe.plan_epochs(5, 2.0, 10.0, 30) == 1  # never zero
    assert device_recipe.plan_epochs(100, 0.0, 10.0, 30) == 30


def test_recipe_probes_trains_teacher_then_student_and_copies_results(tmp_path, train_pack):
    out, work = tmp_path / "out", tmp_path / "work"
    rc = device_recipe.main(["--data", str(train_pack), "--out", str(out), "--work", str(work), "--minutes", "30",
                             "--teacher", "--width 8", "--teacher-epochs", "2", "--student", "--width 4",
                             "--student-epochs", "2", "--common", "--batch-size 32 --verbose 0",
                             "--teacher-seconds", "5"])
    assert rc == 0
    summary = json.loads((out / "summary.json").read_text())
    t, s = summary["stages"]["teacher"], summary["stages"]["student"]
    assert t["exit"] == 0 and s["exit"] == 0
    assert 1 <= t["epochs"] <= 2 and 1 <= s["epochs"] <= 2 and t["epoch_s"] > 0
    assert s["teachers"] == [str(work / "teacher" / "last.keras")]
    assert (out / "teacher.keras").is_file() and (out / "student.keras").is_file()
    assert len((out / "student_log.csv").read_text().strip().splitlines()) == 1 + s["epochs"]
    text = (out / "train_output.log").read_text()
    assert "=== student:" in text and "--teacher" in text
    assert len(list(out.iterdir())) <= 8  # what the device tool brings back


def test_recipe_reports_a_failed_probe(tmp_path, tiny_csv):
    out = tmp_path / "out"
    # An unknown architecture makes the probe's training.train exit non-zero.
    rc = device_recipe.main(["--data", str(tiny_csv), "--out", str(out), "--work", str(tmp_path / "w"),
                             "--minutes", "2", "--teacher", "--arch nosuch", "--common", "--verbose 0"])
    assert rc == 1
    assert "teacher probe failed" in json.loads((out / "summary.json").read_text())["error"]


def test_recipe_gives_up_on_a_probe_that_outlasts_its_share(tmp_path, tiny_csv, monkeypatch):
    # The first GPU lease ran the train step uncompiled and its probe ate the whole budget;
    # now a probe may take only --probe-share of it and the error says why.
    limits = []

    def too_slow(cmd, timeout, **kwargs):
        limits.append(timeout)
        raise device_recipe.subprocess.TimeoutExpired(cmd, timeout)

    monkeypatch.setattr(device_recipe.subprocess, "run", too_slow)
    out = tmp_path / "out"
    rc = device_recipe.main(["--data", str(tiny_csv), "--out", str(out), "--work", str(tmp_path / "w"),
                             "--minutes", "10", "--probe-share", "0.25"])
    assert rc == 1
    assert limits == [pytest.approx(150, abs=1)]  # 0.25 of 10 minutes, and only the first probe ran
    error = json.loads((out / "summary.json").read_text())["error"]
    assert "teacher probe failed" in error and "compiled" in error and "150 s" in error


def test_train_step_is_compiled_on_jax():
    assert train.compile_step("auto", "jax")
    assert not train.compile_step("auto", "tensorflow") and not train.compile_step("auto", "torch")
    assert train.compile_step("on", "tensorflow") and not train.compile_step("off", "jax")
    assert train.parse_args(["--data", "d", "--out", "o"]).jit == "auto"
    assert train.parse_args(["--data", "d", "--out", "o", "--jit"]).jit == "on"


def test_geometric_augmentation_compiles_on_jax(monkeypatch):
    # Keras marks its rotation, zoom and shift layers as not compilable for TensorFlow's sake;
    # one such layer keeps the whole train step uncompiled, so on other backends they are freed.
    import keras

    from training.augment import augmenter

    def jit_flags():
        layers = augmenter(keep_sharp=0.25)._flatten_layers()
        return {type(x).__name__: x.supports_jit for x in layers
                if type(x).__name__ in ("RandomRotation", "RandomZoom", "RandomTranslation")}

    on_tf = jit_flags() if keras.backend.backend() == "tensorflow" else None
    monkeypatch.setattr(keras.backend, "backend", lambda: "jax")
    assert jit_flags() == {"RandomRotation": True, "RandomZoom": True, "RandomTranslation": True}
    if on_tf is not None:
        assert not any(on_tf.values()) and len(on_tf) == 3
