"""End to end on tiny generated data: the data report command and the fine-tuning command."""
from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from fer_core.labels import LABELS
from training import finetune, report
from training.data import DataError
from training.synthetic import write_face_folder, write_fer_csv


def png_ok(path) -> bool:
    img = cv2.imread(str(path))
    return img is not None and img.shape[0] > 100 and img.shape[1] > 100


@pytest.fixture
def tiny_csv(tmp_path):
    """21/7/7 generated faces, plus one Training face repeated in Training and in PrivateTest."""
    path = tmp_path / "fer.csv"
    write_fer_csv(path, {"Training": 21, "PublicTest": 7, "PrivateTest": 7}, seed=0)
    lines = path.read_text().splitlines()
    first_train = lines[1]
    lines.append(first_train)  # duplicate within Training
    lines.append(first_train.rsplit(",", 1)[0] + ",PrivateTest")  # and across to PrivateTest
    path.write_text("\n".join(lines) + "\n")
    return path


def test_report_on_csv(tiny_csv, tmp_path, capsys):
    out = tmp_path / "report"
    ferplus = tmp_path / "fer2013new.csv"
    votes = "0,10,0,0,0,0,0,0,0,0"  # every row voted happy by FER+
    ferplus.write_text("Usage,Image name,neutral,happiness,surprise,sadness,anger,disgust,fear,contempt,unknown,NF\n"
                       + "".join(f"Training,x.png,{votes}\n" for _ in range(37)))
    assert report.main(["--data", str(tiny_csv), "--ferplus", str(ferplus), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "Training" in printed and "PrivateTest" in printed and "unseen in Training" in printed
    assert png_ok(out / "class_counts.png") and png_ok(out / "samples.png")
    data = json.loads((out / "data_report.json").read_text())
    assert data["layout"] == "csv" and data["labels"] == list(LABELS)
    assert data["counts"]["Training"]["total"] == 22
    assert data["counts"]["Training"]["Angry"] == 4  # 3 cycled + the duplicate of row 0 (Angry)
    assert data["counts"]["PrivateTest"]["total"] == 8
    dup = data["duplicates"]
    assert dup["rows"] == 37 and dup["distinct_images"] == 35
    assert dup["duplicate_groups"] == 1 and dup["rows_in_duplicate_groups"] == 3
    assert dup["groups_across_splits"] == {"Training+PrivateTest": 1}
    assert dup["groups_with_conflicting_labels"] == 0
    assert data["unseen"]["PrivateTest"] == {"rows": 8, "unseen_in_training": 7, "seen_in_training": 1}
    assert data["unseen"]["PublicTest"]["unseen_in_training"] == 7
    assert data["ferplus"]["Training"]["majority_counts"]["Happy"] == 22


def test_report_on_folder_layout(tmp_path):
    root = tmp_path / "faces"
    write_face_folder(root / "train", {"Happy": 3, "Sad": 2, "Neutral": 2}, seed=1)
    write_face_folder(root / "test", {"Happy": 2, "Sad": 2}, seed=2)
    out = tmp_path / "report"
    assert report.main(["--data", str(root), "--out", str(out), "--per-class", "4"]) == 0
    data = json.loads((out / "data_report.json").read_text())
    assert data["layout"] == "folder"
    assert data["counts"]["Training"]["Happy"] == 3 and data["counts"]["Training"]["total"] == 7
    assert data["counts"]["PublicTest"]["total"] + data["counts"]["PrivateTest"]["total"] == 4
    assert png_ok(out / "samples.png")


def test_report_bad_data_exits_2(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("emotion,pixels,Usage\n3,1 2 3,Training\n")
    assert report.main(["--data", str(bad), "--out", str(tmp_path / "r")]) == 2


# -- fine-tuning ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def base_model(tmp_path_factory):
    """A tiny untrained compact net, saved like training.train saves best.keras."""
    from training.models import build

    path = tmp_path_factory.mktemp("base") / "base.keras"
    build("compact", width=8).save(path)
    return path


def test_finetune_end_to_end(base_model, tmp_path, capsys):
    data = write_face_folder(tmp_path / "mine", {"Happy": 8, "Sad": 8, "Surprise": 8}, seed=0, size=(70, 56))
    out = tmp_path / "out"
    rc = finetune.main(["--base", str(base_model), "--data", str(data), "--out", str(out), "--epochs", "2",
                        "--frozen-epochs", "1", "--batch-size", "8", "--verbose", "0"])
    assert rc == 0
    for name in ("fer_model.keras", "fer_model.onnx", "fer_model.json", "base.onnx", "finetune_report.json"):
        assert (out / name).is_file(), name
    rep = json.loads((out / "finetune_report.json").read_text())
    assert rep["faces"] == {"total": 24, "fine_tune": 18, "held_out": 6,
                            "per_class": {c: {"fine_tune": 6, "held_out": 2} for c in ("Happy", "Sad", "Surprise")},
                            "classes_absent": ["Angry", "Disgust", "Fear", "Neutral"]}
    for phase in ("before", "after"):
        assert 0.0 <= rep[phase]["accuracy"] <= 1.0 and 0.0 <= rep[phase]["macro_f1"] <= 1.0
        assert set(rep[phase]["per_class_recall"]) == {"Happy", "Sad", "Surprise"}
        assert np.asarray(rep[phase]["confusion_matrix"]).sum() == 6
    assert [h["frozen_layers"] > 0 for h in rep["history"]] == [True, False]
    assert rep["parity"]["max_abs_diff"] < 1e-3
    assert rep["settings"]["keep_sharp"] == 0.25  # the shipped model's recipe: it ships without input blur
    printed = capsys.readouterr().out
    assert "before: accuracy" in printed and "after:  accuracy" in printed

    from fer_core import load_recognizer

    card = json.loads((out / "fer_model.json").read_text())
    assert card["labels"] == list(LABELS) and card["model_file"] == "fer_model.onnx" and card["temperature"] > 0
    # The card says what the model was tuned and measured on, for the app's Home and Model card pages
    # (which showed FER2013 and, from models/eval/, the shipped model's figures for a tuned model).
    from fer_core import model_card

    named = model_card.splits(model_card.metrics(card, tmp_path))
    assert list(named) == ["held_out"] and named["held_out"]["n"] == 6
    assert named["held_out"]["accuracy"] == rep["after"]["accuracy"]
    assert model_card.per_class_table(named["held_out"])["support"].to_dict() == {"Happy": 2, "Sad": 2, "Surprise": 2}
    assert "fine-tuned on 18 faces of" in card["training_data"] and "no faces of Angry" in card["training_data"]
    probs = load_recognizer(out / "fer_model.onnx").predict_proba([np.zeros((30, 40, 3), np.uint8)])
    assert probs.shape == (1, 7) and abs(float(probs.sum()) - 1) < 1e-5

    import keras

    tuned = keras.saving.load_model(out / "fer_model.keras", compile=False)
    assert all(layer.trainable for layer in tuned.layers)
    base = keras.saving.load_model(base_model, compile=False)
    changed = [w for w, b in zip(tuned.get_layer("probs").get_weights(), base.get_layer("probs").get_weights())
               if not np.allclose(w, b)]
    assert changed, "the head was not trained"
    bn = [np.allclose(w, b) for w, b in zip(tuned.get_layer("stem1_bn").get_weights(),
                                               base.get_layer("stem1_bn").get_weights())]
    assert all(bn), "batch-norm statistics must stay frozen"


def test_stratified_split_is_stratified_and_fixed():
    y = np.repeat(np.arange(3), [4, 8, 13])
    tr, ho = finetune.stratified_split(y, 0.25, seed=0)
    assert sorted(np.concatenate([tr, ho]).tolist()) == list(range(len(y)))
    assert np.bincount(y[ho]).tolist() == [1, 2, 3]
    assert np.array_equal(ho, finetune.stratified_split(y, 0.25, seed=0)[1])
    assert not np.array_equal(ho, finetune.stratified_split(y, 0.25, seed=1)[1])
    two_each = np.array([0, 0, 1, 1])
    tr, ho = finetune.stratified_split(two_each, 0.9, seed=0)  # never holds out a whole class
    assert np.bincount(two_each[tr]).tolist() == [1, 1] and np.bincount(two_each[ho]).tolist() == [1, 1]


@pytest.mark.parametrize("per_class, message", [
    ({"Happy": 8, "Sad": 2}, r"too few faces for Sad \(2\)"),
    ({"Happy": 8}, "faces of 1 class"),
    ({"Happy": 8, "Sad": 0}, "class folder.* with no images: Sad"),
])
def test_finetune_data_errors(base_model, tmp_path, per_class, message):
    data = write_face_folder(tmp_path / "mine", per_class, seed=0, size=(48, 48))
    args = finetune.parse_args(["--base", str(base_model), "--data", str(data), "--out", str(tmp_path / "o")])
    with pytest.raises(DataError, match=message):
        finetune.run(args)
    assert not (tmp_path / "o").exists()  # nothing written before the data is checked


def test_finetune_rejects_keep_sharp_outside_0_1(tmp_path, base_model):
    with pytest.raises(SystemExit):
        finetune.main(["--base", str(base_model), "--data", str(tmp_path), "--out", str(tmp_path / "o"),
                       "--keep-sharp", "1.5"])


def test_finetune_missing_base_and_bad_folder(tmp_path, base_model, caplog):
    data = write_face_folder(tmp_path / "mine", {"Happy": 4, "Sad": 4}, seed=0, size=(48, 48))
    assert finetune.main(["--base", str(tmp_path / "none.keras"), "--data", str(data),
                          "--out", str(tmp_path / "o")]) == 2
    assert "none.keras not found" in caplog.text
    (data / "Bored").mkdir()
    (data / "Bored" / "a.jpg").write_bytes((data / "Happy" / "000.jpg").read_bytes())
    assert finetune.main(["--base", str(base_model), "--data", str(data), "--out", str(tmp_path / "o")]) == 2
    assert "Bored: folder name is not one of" in caplog.text
    not_keras = tmp_path / "junk.keras"
    not_keras.write_bytes(b"junk")
    (data / "Bored" / "a.jpg").unlink()
    (data / "Bored").rmdir()
    assert finetune.main(["--base", str(not_keras), "--data", str(data), "--out", str(tmp_path / "o")]) == 2
    assert "cannot load a Keras model" in caplog.text


def test_finetune_an_ensemble_base_keeps_card_blur_temperature_and_prior(tmp_path):
    """The base card's input blur, temperature and class prior go to both exported models' cards, so the
    before and after figures and the app run them as the shipped model runs. The temperature used to
    be fitted on the few held-out faces (0.28 after 30 Happy and 30 Sad faces: far too sure of itself),
    and the prior was dropped."""
    import keras

    from fer_core import load_recognizer
    from training.models import build, ensemble

    base = tmp_path / "fer_model.keras"
    ensemble([build("compact", width=8), build("compact", width=8)]).save(base)
    prior = {"log_shift": [-0.26, -0.21, -0.77, 0.04, -0.03, 0.02, 0.32], "strength": 0.6}
    base.with_suffix(".json").write_text(json.dumps(  # the shipped card sits beside it
        {"input_blur_sigma": 0.6, "temperature": 0.83, "class_prior": prior}))
    data = write_face_folder(tmp_path / "mine", {"Happy": 6, "Sad": 6}, seed=1, size=(60, 60))
    out = tmp_path / "out"
    assert finetune.main(["--base", str(base), "--data", str(data), "--out", str(out), "--epochs", "2",
                          "--frozen-epochs", "1", "--batch-size", "8", "--verbose", "0"]) == 0
    rep = json.loads((out / "finetune_report.json").read_text())
    assert [h["frozen_layers"] > 0 for h in rep["history"]] == [True, False]
    assert rep["parity"]["max_abs_diff"] < 1e-3
    for name in ("fer_model.json", "base.json"):
        card = json.loads((out / name).read_text())
        assert (card["input_blur_sigma"], card["temperature"], card["class_prior"]) == (0.6, 0.83, prior)
        recognizer = load_recognizer(out / name.replace(".json", ".onnx"))
        assert recognizer.temperature == 0.83 and recognizer.prior_strength == 0.6

    tuned = keras.saving.load_model(out / "fer_model.keras", compile=False)
    before = keras.saving.load_model(base, compile=False)
    for t_member, b_member in zip(tuned.layers[1:3], before.layers[1:3]):
        assert not np.allclose(t_member.get_layer("probs").get_weights()[0],
                               b_member.get_layer("probs").get_weights()[0])
        for w, b in zip(t_member.get_layer("stem1_bn").get_weights(), b_member.get_layer("stem1_bn").get_weights()):
            np.testing.assert_allclose(w, b)


def test_finetune_metrics_blur_only_faces_cut_at_48_px_or_more(tmp_path):
    """Finetune measures folder faces as analyze would: enlarged small crops get no input blur."""
    import shutil

    from fer_core import load_recognizer
    from training.data import load_folder

    shipped = Path(__file__).resolve().parent.parent / "models"
    model = tmp_path / "m.onnx"
    shutil.copy(shipped / "fer_model.onnx", model)
    card = json.loads((shipped / "fer_model.json").read_text())
    card["input_blur_sigma"] = 3.0  # exaggerated so that blurring visibly changes predictions
    model.with_suffix(".json").write_text(json.dumps(card))
    data = write_face_folder(tmp_path / "small", {"Happy": 10, "Sad": 10, "Fear": 10}, seed=2, size=(32, 32))
    faces = load_folder(data)
    assert (faces.sides == 32).all()
    present = sorted(set(faces.y.tolist()))
    rec = load_recognizer(model)
    crops = [cv2.imread(str(f)) for sub in sorted(data.iterdir()) for f in sorted(sub.iterdir())]
    expected = rec.predict_proba(crops).argmax(1)        # a list of crops gives its own sizes
    blurred = rec.predict_proba(faces.x).argmax(1)       # no sizes: every face blurred
    assert (expected != blurred).any(), "the exaggerated blur should change some predictions"
    got = finetune.onnx_metrics(model, faces, present)
    assert got["accuracy"] == pytest.approx(float((expected == faces.y).mean()))
    from sklearn.metrics import confusion_matrix

    assert got["confusion_matrix"] == confusion_matrix(faces.y, expected, labels=list(range(7))).tolist()


@pytest.mark.parametrize("bad, message", [
    (["--per-class", "0"], "--per-class must be at least 1 (got 0)"),  # was a matplotlib ValueError
    (["--out", "FILE"], "is a file, not a folder"),                      # was FileExistsError
])
def test_report_bad_arguments_are_one_line(tiny_csv, tmp_path, capsys, bad, message):
    (tmp_path / "f.txt").write_text("x")
    args = ["--data", str(tiny_csv), "--out", str(tmp_path / "r"), *bad]
    with pytest.raises(SystemExit) as e:
        report.main([str(tmp_path / "f.txt") if a == "FILE" else a for a in args])
    assert e.value.code == 2 and message in capsys.readouterr().err


@pytest.mark.parametrize("bad, message", [
    (["--lr", "nan"], "--lr must be above 0 (got nan)"),
    (["--input-blur", "nan"], "--input-blur must be at least 0 (got nan)"),
    (["--batch-size", "0"], "--batch-size must be at least 1 (got 0)"),
    (["--out", "FILE"], "is a file, not a folder"),
])
def test_finetune_bad_numbers_and_out_are_refused_up_front(tmp_path, base_model, capsys, bad, message):
    (tmp_path / "f.txt").write_text("x")
    args = ["--base", str(base_model), "--data", str(tmp_path), "--out", str(tmp_path / "o"), *bad]
    with pytest.raises(SystemExit) as e:
        finetune.main([str(tmp_path / "f.txt") if a == "FILE" else a for a in args])
    assert e.value.code == 2 and message in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_finetune_folder_check_ignores_hidden_folders_and_counts_nested_images(tmp_path):
    data = write_face_folder(tmp_path / "mine", {"Happy": 4, "Sad": 2}, seed=0, size=(48, 48))
    (data / ".ipynb_checkpoints").mkdir()  # once "class folder(s) with no images: .ipynb_checkpoints"
    (data / "Sad" / "more").mkdir()
    for i in range(2):
        (data / "Sad" / "more" / f"{i}.jpg").write_bytes((data / "Sad" / "000.jpg").read_bytes())
    faces = finetune.load_folder(data)
    assert finetune.check_folder(data, faces, 4) == [3, 4] and faces.class_counts()[4] == 4


def test_finetune_refuses_an_out_that_holds_the_base_or_a_model_it_did_not_write(tmp_path, base_model, capsys):
    # `--out models` once replaced the shipped model, its card and models/fer_model.keras (the
    # default base) with the fine-tuned ones, without a word.
    shipped = tmp_path / "models"
    shipped.mkdir()
    (shipped / "fer_model.keras").write_bytes(base_model.read_bytes())
    card = {"model_file": "fer_model.onnx", "labels": list(LABELS)}
    (shipped / "fer_model.json").write_text(json.dumps(card))
    data = write_face_folder(tmp_path / "mine", {"Happy": 8, "Sad": 8}, seed=0, size=(48, 48))
    before = {p.name: p.read_bytes() for p in shipped.iterdir()}
    for base, message in [(shipped / "fer_model.keras", "would write over the base model"),
                          (base_model, "holds a model that was not fine-tuned here")]:
        with pytest.raises(SystemExit) as e:
            finetune.main(["--base", str(base), "--data", str(data), "--out", str(shipped), "--epochs", "1"])
        assert e.value.code == 2 and message in capsys.readouterr().err
    assert {p.name: p.read_bytes() for p in shipped.iterdir()} == before
    # a folder of an earlier fine-tuning is rewritten, as before
    card["finetune"] = {"faces": 16}
    (shipped / "fer_model.json").write_text(json.dumps(card))
    assert finetune.out_problem(shipped, base_model) is None


def test_finetune_ctrl_c_is_one_line_not_a_traceback(base_model, tmp_path, monkeypatch, caplog):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(finetune, "fit", interrupted)
    data = write_face_folder(tmp_path / "mine", {"Happy": 8, "Sad": 8}, seed=0, size=(48, 48))
    out = tmp_path / "out"
    assert finetune.main(["--base", str(base_model), "--data", str(data), "--out", str(out), "--verbose", "0"]) == 130
    assert "interrupted: no fine-tuned model was written" in caplog.text
    assert not (out / "fer_model.onnx").exists()


def test_finetune_ctrl_c_while_writing_says_the_files_are_incomplete(base_model, tmp_path, monkeypatch, caplog):
    """Ctrl-C after the tuned model was saved and exported, before its card: the tool said "no
    fine-tuned model was written" beside a fer_model.keras and fer_model.onnx it had just written."""
    from training import export

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(finetune, "fit", lambda *args, **kwargs: {})
    monkeypatch.setattr(export, "parity", interrupted)  # checked after the export, before the card
    data = write_face_folder(tmp_path / "mine", {"Happy": 8, "Sad": 8}, seed=0, size=(48, 48))
    out = tmp_path / "out"
    assert finetune.main(["--base", str(base_model), "--data", str(data), "--out", str(out), "--verbose", "0"]) == 130
    assert (out / "fer_model.onnx").exists() and not (out / "finetune_report.json").exists()
    assert "no fine-tuned model was written" not in caplog.text
    assert f"the fine-tuned model was being written: fer_model.keras, fer_model.onnx in {out} are incomplete" \
        in caplog.text


def test_finetune_ctrl_c_while_writing_the_report_says_the_model_is_complete(base_model, tmp_path, monkeypatch,
                                                                               caplog):
    """Ctrl-C after the tuned model's files were all written (card and its figures included), while
    its report was: the tool called those complete files incomplete. They are the whole model, which
    the app can load; the report alone is missing, and a report left by an earlier run is not taken
    for this one's."""
    import onnx

    from training.cli import is_model_card

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(finetune, "fit", lambda *args, **kwargs: {})
    data = write_face_folder(tmp_path / "mine", {"Happy": 8, "Sad": 8}, seed=0, size=(48, 48))
    out = tmp_path / "out"
    args = ["--base", str(base_model), "--data", str(data), "--out", str(out), "--verbose", "0"]
    assert finetune.main(args) == 0  # an earlier run, whose report is there
    card = json.loads((out / "fer_model.json").read_text())
    monkeypatch.setattr(finetune, "_report", interrupted)  # after the card's figures, before the report
    caplog.clear()
    assert finetune.main(args) == 130
    onnx.checker.check_model(onnx.load(out / "fer_model.onnx"))
    assert is_model_card(out / "fer_model.json") and json.loads((out / "fer_model.json").read_text()).keys() == \
        card.keys()
    assert "incomplete" not in caplog.text
    assert (f"the fine-tuned model is complete: fer_model.keras, fer_model.onnx, fer_model.json in {out}; "
            "its report finetune_report.json was not written") in caplog.text
    assert not (out / "finetune_report.json").exists()


def test_finetune_on_two_classes_keeps_the_base_answers_for_the_others(base_model, tmp_path, capsys):
    """Tuned on a folder of Happy and Sad faces alone, the model still gives the classes the folder
    lacks the share the base gave them, on faces of those classes. The loss used to be the
    cross-entropy over all seven classes, which pushed the five absent ones towards zero: the shipped
    model so tuned lost 11 points on real photos (Neutral recall 0.51 -> 0.02). The printed figures say
    that the absent classes were not measured."""
    import keras

    from training.synthetic import synthetic_face

    data = write_face_folder(tmp_path / "mine", {"Happy": 12, "Sad": 12}, seed=0)
    out = tmp_path / "out"
    assert finetune.main(["--base", str(base_model), "--data", str(data), "--out", str(out), "--epochs", "6",
                          "--frozen-epochs", "0", "--lr", "3e-3", "--batch-size", "8", "--verbose", "0"]) == 0
    rng = np.random.default_rng(1)
    others = [LABELS.index(c) for c in ("Angry", "Disgust", "Fear", "Surprise", "Neutral")]
    x = np.stack([synthetic_face(c, rng) for c in others for _ in range(6)]).astype(np.float32)[..., None]

    def absent_share(path):
        probs = keras.saving.load_model(path, compile=False).predict(x, verbose=0)
        return float(probs[:, others].sum(axis=1).mean())

    before, after = absent_share(base_model), absent_share(out / "fer_model.keras")
    assert before > 0.5  # the untrained base spreads its answers over all seven classes
    assert after > 0.8 * before, f"the absent classes' share fell from {before:.2f} to {after:.2f}"
    rep = json.loads((out / "finetune_report.json").read_text())
    assert rep["after"]["classes_not_measured"] == ["Angry", "Disgust", "Fear", "Surprise", "Neutral"]
    printed = capsys.readouterr().out
    assert "Held-out faces: 6 of Happy, Sad" in printed
    assert "not measured: Angry, Disgust, Fear, Surprise, Neutral" in printed
