"""The training tools' command lines: option checks, output checks, reused run folders and the
one-line errors (training.cli, training.train, training.export, training.pack)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from training import cli

TRAIN = ["--width", "8", "--epochs", "1", "--batch-size", "32", "--verbose", "0"]


# -- training.cli ---------------------------------------------------------------------------
def test_range_problem_refuses_nan_infinity_and_values_outside():
    assert cli.range_problem("--lr", 3e-3, 0.0, above=True) is None
    assert cli.range_problem("--lr", None, 0.0) is None  # not given
    assert cli.range_problem("--lr", math.nan, 0.0, above=True) == "--lr must be above 0 (got nan)"
    assert cli.range_problem("--lr", 0.0, 0.0, above=True) == "--lr must be above 0 (got 0)"
    assert cli.range_problem("--mix", 2.0, 0.0, 1.0) == "--mix must be between 0 and 1 (got 2)"
    assert cli.range_problem("--mix", math.inf, 0.0, 1.0) == "--mix must be between 0 and 1 (got inf)"
    assert cli.range_problem("--batch-size", 0, 1) == "--batch-size must be at least 1 (got 0)"
    assert cli.range_problem("--power", -math.inf) == "--power must be a finite number (got -inf)"
    assert cli.first_problem([None, "a", "b"]) == "a" and cli.first_problem([None]) is None


def test_model_cards_are_recognised_by_their_contents(tmp_path):
    card = tmp_path / "anything.json"
    card.write_text(json.dumps({"model_file": "m.onnx", "labels": ["Angry"], "temperature": 1.0}))
    other = tmp_path / "metrics.json"
    other.write_text(json.dumps({"splits": {}}))
    assert cli.is_model_card(card) and "is a model card" in cli.card_problem(card)
    assert not cli.is_model_card(other) and cli.card_problem(tmp_path / "none.json") is None
    assert cli.folder_problem(other) == f"--out {other} is a file, not a folder; give a folder (it is made if missing)"


def test_files_that_are_not_models_are_named_in_one_line(tmp_path):
    fake = tmp_path / "fake.keras"
    fake.write_text("not a model")
    with pytest.raises(ValueError, match=r"fake\.keras: cannot load a Keras model"):
        cli.load_keras(fake)
    with pytest.raises(FileNotFoundError, match=r"none\.keras: no such model file"):
        cli.load_keras(tmp_path / "none.keras")
    onnx = tmp_path / "fake.onnx"
    onnx.write_bytes(b"not a model")
    with pytest.raises(ValueError, match=r"fake\.onnx: not an ONNX model that onnxruntime can run"):
        cli.recognizer(onnx)


# -- training.train -----------------------------------------------------------------------
@pytest.mark.parametrize(
    "bad, message",
    [
        (["--lr", "nan"], "--lr must be above 0 (got nan)"),
        (["--lr", "-1"], "--lr must be above 0"),
        (["--ferplus-mix", "2"], "--ferplus-mix must be between 0 and 1 (got 2)"),
        (["--batch-size", "0"], "--batch-size must be at least 1 (got 0)"),
        (["--epochs", "0"], "--epochs must be at least 1 (got 0)"),
        (["--warmup-epochs", "-1"], "--warmup-epochs must be at least 0"),
        (["--width", "-2"], "--width must be at least 0 (got -2)"),
        (["--mixup", "nan"], "--mixup must be at least 0 (got nan)"),
        (["--weight-decay", "inf"], "--weight-decay must be at least 0 (got inf)"),
        (["--init", "missing.keras"], "--init missing.keras: no such file"),
    ],
)
def test_train_refuses_bad_numbers_before_any_work(tmp_path, capsys, bad, message):
    from training import train

    with pytest.raises(SystemExit) as e:
        train.main(["--data", str(tmp_path / "none.csv"), "--out", str(tmp_path / "run"), *TRAIN, *bad])
    err = capsys.readouterr().err
    assert e.value.code == 2 and message in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "run").exists()


def test_train_refuses_an_out_that_is_a_file(tmp_path, capsys):
    from training import train

    (tmp_path / "f.txt").write_text("x")
    with pytest.raises(SystemExit) as e:
        train.main(["--data", str(tmp_path / "none.csv"), "--out", str(tmp_path / "f.txt"), *TRAIN])
    assert e.value.code == 2 and "f.txt is a file, not a folder" in capsys.readouterr().err


def test_check_out_compares_the_options_a_run_was_made_with(tmp_path, monkeypatch, capsys):
    """A run folder resumes with the same options (paths compared as absolute paths; --verbose and
    --jit free; options an older config.json lacks count as their defaults) and is refused with others."""
    from training import train

    monkeypatch.chdir(tmp_path)
    (tmp_path / "data.csv").write_text("")
    run = tmp_path / "run"
    run.mkdir()
    args = train.parse_args(["--data", "data.csv", "--out", "run", *TRAIN])
    saved = {k: v for k, v in vars(args).items() if k != "photo"}  # as an older version wrote it
    (run / "config.json").write_text(json.dumps({**saved, "backend": "tensorflow", "params": 1}))
    train.check_out(
        run,
        train.parse_args(
            ["--data", str(tmp_path / "data.csv"), "--out", str(run), *TRAIN, "--verbose", "2", "--jit", "off"]
        ),
    )
    for other in (
        ["--width", "16"],
        ["--epochs", "2"],
        ["--lr", "1e-3"],
        ["--photo", "0.5"],
        ["--teacher", "t.onnx"],
        ["--data", "other.csv"],
    ):
        with pytest.raises(SystemExit) as e:
            train.check_out(run, train.parse_args(["--data", "data.csv", "--out", "run", *TRAIN, *other]))
        err = capsys.readouterr().err
        assert e.value.code == 2 and f"--out {run} holds a run made with other options (--{other[0][2:]}" in err
        assert "use a new --out, or the same options to resume it" in err
    (run / "config.json").write_text("{not json")
    with pytest.raises(SystemExit):
        train.check_out(run, args)


def test_train_into_a_run_folder_of_other_options_is_refused_and_leaves_it_alone(tmp_path, tiny_csv, capsys):
    pytest.importorskip("keras")
    from training import train

    run = tmp_path / "run"
    assert train.main(["--data", str(tiny_csv), "--out", str(run), *TRAIN]) == 0
    config = json.loads((run / "config.json").read_text())
    assert config["run_options"]["data"] == str(tiny_csv.resolve()) and "verbose" not in config["run_options"]
    files = {p.name: p.read_bytes() for p in run.iterdir() if p.is_file()}
    with pytest.raises(SystemExit) as e:  # used to end in a 60-line Keras ValueError, or mix the runs
        train.main(["--data", str(tiny_csv), "--out", str(run), *TRAIN, "--width", "16"])
    assert e.value.code == 2 and "--width 8 (now 16)" in capsys.readouterr().err
    assert {p.name: p.read_bytes() for p in run.iterdir() if p.is_file()} == files


def test_a_loss_gone_nan_stops_the_run_without_saving_the_model(tmp_path, tiny_csv, monkeypatch, caplog):
    import keras

    from training import train

    class Poison(keras.callbacks.Callback):
        def on_train_batch_begin(self, batch, logs=None):
            if batch == 1:
                var = self.model.trainable_variables[0]
                var.assign(np.full(var.shape, np.nan, "float32"))

    monkeypatch.setattr(train, "EXTRA_CALLBACKS", [Poison()])
    run = tmp_path / "run"
    with caplog.at_level("ERROR", logger="training.train"):
        assert train.main(["--data", str(tiny_csv), "--out", str(run), *TRAIN]) == 1
    assert "training stopped in epoch 1: the loss became NaN or infinite" in caplog.text
    assert not (run / "last.keras").exists() and not (run / "best.keras").exists()


def test_a_damaged_backup_or_init_or_teacher_is_one_error(tmp_path, tiny_csv, caplog):
    pytest.importorskip("keras")
    from training import train

    run = tmp_path / "run"
    (run / "backup").mkdir(parents=True)
    (run / "backup" / "latest.weights.h5").write_bytes(b"\x89HDF\r\n" + bytes(5000))
    (run / "backup" / "training_metadata.json").write_text('{"epoch": 1}')
    fake = tmp_path / "fake.keras"
    fake.write_text("not a model")
    fake_onnx = tmp_path / "fake.onnx"
    fake_onnx.write_text("not a model")
    base = ["--data", str(tiny_csv), *TRAIN]
    with caplog.at_level("ERROR", logger="training.train"):
        assert train.main([*base, "--out", str(run)]) == 2
        assert f"the backup of the interrupted run in {run / 'backup'} cannot be restored" in caplog.text
        assert train.main([*base, "--out", str(tmp_path / "i"), "--init", str(fake)]) == 2
        assert f"--init: {fake}: cannot load a Keras model" in caplog.text
        assert train.main([*base, "--out", str(tmp_path / "t"), "--teacher", str(fake_onnx)]) == 2
        assert f"teacher: {fake_onnx}: not an ONNX model" in caplog.text


# -- training.export ------------------------------------------------------------------------
@pytest.fixture(scope="module")
def keras_file(tmp_path_factory):
    """An untrained width-8 classifier saved as training.train saves one."""
    pytest.importorskip("keras")
    from training.models import compact

    path = tmp_path_factory.mktemp("model") / "best.keras"
    compact(width=8).save(path)
    return path


def test_export_needs_out_and_never_writes_over_its_inputs(tmp_path, keras_file, monkeypatch, capsys):
    from training import export

    monkeypatch.chdir(tmp_path)  # a default --out would land in tmp_path/models, not the shipped model
    with pytest.raises(SystemExit) as e:
        export.main(["--model", str(keras_file)])
    assert e.value.code == 2 and "--out" in capsys.readouterr().err
    assert not (tmp_path / "models").exists()
    before = keras_file.read_bytes()
    for out, message in [
        (keras_file, "the exported model is an .onnx file"),
        (tmp_path / "m.json", "the exported model is an .onnx file"),
    ]:
        with pytest.raises(SystemExit) as e:
            export.main(["--model", str(keras_file), "--out", str(out)])
        assert e.value.code == 2 and message in capsys.readouterr().err
    copy = tmp_path / "m.onnx"
    copy.write_bytes(before)  # a Keras file named .onnx, exported onto itself
    with pytest.raises(SystemExit) as e:
        export.main(["--model", str(copy), "--out", str(copy)])
    assert e.value.code == 2 and "is one of the --model/--data files" in capsys.readouterr().err
    assert keras_file.read_bytes() == before and copy.read_bytes() == before
    with pytest.raises(SystemExit) as e:
        export.main(["--model", str(keras_file), "--out", str(tmp_path / "b.onnx"), "--input-blur", "nan"])
    assert e.value.code == 2 and "--input-blur must be 'auto' or a number >= 0, not 'nan'" in capsys.readouterr().err


@pytest.mark.parametrize(
    "case, message",
    [
        ("label7", "line 3: emotion '7'"),
        ("no_public", "no PublicTest faces"),
        ("int8_no_training", "no Training faces (--int8"),
        ("missing", "no such file"),
        ("not_keras", "fake.keras: cannot load a Keras model"),
    ],
)
def test_export_checks_model_and_data_before_writing_anything(tmp_path, keras_file, caplog, case, message):
    from training import export
    from training.synthetic import write_fer_csv

    data = tmp_path / "d.csv"
    splits = {
        "Training": 0 if case == "int8_no_training" else 8,
        "PublicTest": 0 if case == "no_public" else 8,
        "PrivateTest": 4,
    }
    write_fer_csv(data, splits)
    if case == "label7":
        lines = data.read_text().splitlines()
        lines[2] = "7" + lines[2][1:]
        data.write_text("\n".join(lines) + "\n")
    model = keras_file
    if case == "not_keras":
        model = tmp_path / "fake.keras"
        model.write_text("not a model")
    out = tmp_path / "out" / "m.onnx"
    argv = [
        "--model",
        str(model),
        "--out",
        str(out),
        "--data",
        str(tmp_path / "none.csv" if case == "missing" else data),
    ]
    with caplog.at_level("ERROR", logger="training.export"):
        assert export.main(argv + (["--int8"] if case == "int8_no_training" else [])) == 2
    assert message in caplog.text
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_parity_fails_on_nan():
    from training.export import parity_ok

    assert parity_ok({"max_abs_diff": 1e-5, "top1_agreement": 1.0})
    assert not parity_ok({"max_abs_diff": math.nan, "top1_agreement": 1.0})
    assert not parity_ok({"max_abs_diff": 0.0, "top1_agreement": math.nan})
    assert not parity_ok({"max_abs_diff": 2e-3, "top1_agreement": 1.0})


# -- training.pack --------------------------------------------------------------------------
def test_pack_never_writes_over_its_data(tmp_path, capsys):
    from training import pack
    from training.synthetic import write_fer_csv

    data = tmp_path / "d.csv"
    write_fer_csv(data, {"Training": 4, "PublicTest": 0, "PrivateTest": 0})
    before = data.read_bytes()
    with pytest.raises(SystemExit) as e:  # it turned the CSV into a pack
        pack.main(["--data", str(data), "--out", str(data)])
    assert e.value.code == 2 and "a pack is an .npz file" in capsys.readouterr().err
    assert data.read_bytes() == before
    packed = tmp_path / "p.npz"
    assert pack.main(["--data", str(data), "--out", str(packed)]) == 0
    before = packed.read_bytes()
    with pytest.raises(SystemExit) as e:
        pack.main(["--data", str(packed), "--out", str(packed)])
    assert e.value.code == 2 and "is one of the --data/--ferplus files" in capsys.readouterr().err
    assert packed.read_bytes() == before
