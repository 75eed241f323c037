"""``training.evaluate --folder``: scoring any labelled folder of photos (e.g. the real-photo set)."""
from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from fer_core.labels import LABELS
from training import evaluate as ev


class BrightnessRecognizer:
    """Stands in for the model: predicts the class whose index is the image's grey level // 30,
    so a test knows every prediction in advance."""

    card = {"sha256": "fake"}
    prior_strength = 0.0

    def predict_proba(self, faces, source_sides=None):
        k = np.clip(np.asarray(faces, np.float32).mean(axis=(1, 2)) // 30, 0, 6).astype(int)
        p = np.full((len(k), 7), 0.01, np.float32)
        p[np.arange(len(k)), k] = 0.94
        return p


class Face:
    def __init__(self, probabilities):
        self.probabilities = probabilities


class DetectingRecognizer(BrightnessRecognizer):
    """Adds ``analyze``: an image darker than grey level 15 has no face; any other is one face,
    predicted as :class:`BrightnessRecognizer` predicts the whole image."""

    def analyze(self, img):
        if img.mean() < 15:
            return []
        return [Face(self.predict_proba(img[None].astype(np.float32))[0])]


def fake_model(monkeypatch, recognizer=BrightnessRecognizer):
    import fer_core
    import fer_core.detect

    monkeypatch.setattr(fer_core, "load_recognizer", lambda *a, **k: recognizer())
    monkeypatch.setattr(fer_core.detect, "still_detector", lambda *a, **k: None)


def write_tree(root, spec):
    """spec: {class name: [predicted class index, ...]} -> one flat image per entry."""
    for name, preds in spec.items():
        (root / name).mkdir(parents=True)
        for i, k in enumerate(preds):
            cv2.imwrite(str(root / name / f"{i}.png"), np.full((60, 50), 30 * k + 15, np.uint8))


def test_folder_metrics_match_hand_counts(tmp_path, monkeypatch):
    fake_model(monkeypatch)
    H, S, N, A = LABELS.index("Happy"), LABELS.index("Sad"), LABELS.index("Neutral"), LABELS.index("Angry")
    # Happy: 3 of 4 right; Sad: 1 of 2; Neutral: 0 of 2 (both called Happy); Angry: 1 of 1.
    write_tree(tmp_path / "photos", {"Happy": [H, H, H, S], "Sad": [S, N], "Neutral": [H, H], "Angry": [A]})
    (tmp_path / "photos" / "Happy" / "broken.jpg").write_bytes(b"not a jpeg")  # unreadable: wrong, counted
    res = ev.evaluate_folder("unused.onnx", tmp_path / "photos", tmp_path / "out",
                             classes=("Angry", "Happy", "Sad", "Surprise", "Neutral"), progress=False)
    m = res["metrics"]
    assert m["n"] == 10 and m["not_found"] == 1
    assert m["accuracy"] == pytest.approx(5 / 10)
    recalls = {"Angry": 1.0, "Happy": 3 / 5, "Sad": 0.5, "Neutral": 0.0}
    for name, r in recalls.items():
        assert m["per_class"][name]["recall"] == pytest.approx(r)
    assert m["balanced_accuracy"] == pytest.approx(np.mean(list(recalls.values())))
    # Surprise has no photos: it is left out of the mean recall rather than counted as 0.
    assert m["mean_recall_classes"] == ["Angry", "Happy", "Sad", "Neutral"]
    assert m["mean_recall"] == pytest.approx(np.mean(list(recalls.values())))
    cm = np.array(m["confusion_matrix"])
    assert cm[N, H] == 2 and cm[H, H] == 3
    # The unreadable file is wrong for Happy and a prediction of no class: not an Angry one.
    assert cm[H].sum() == 4 and cm[:, A].sum() == 1 and m["no_prediction"][H] == 1 and sum(m["no_prediction"]) == 1
    assert m["per_class"]["Angry"]["precision"] == pytest.approx(1.0)
    assert m["per_class"]["Happy"]["precision"] == pytest.approx(3 / 5)  # 3 of the 5 Happy predictions
    assert m["per_class"]["Happy"]["f1"] == pytest.approx(3 / 5)
    assert (tmp_path / "out" / "confusion.png").stat().st_size > 1000
    assert json.loads((tmp_path / "out" / "metrics.json").read_text())["metrics"]["n"] == 10
    assert m["unreadable"] == 1 and m["no_face"] == 0
    line = ev.summary_line(m)
    assert "balanced" in line and "unreadable 1" in line and "no face" not in line


def test_folder_pipeline_images_without_a_prediction_are_wrong_and_no_class(tmp_path, monkeypatch):
    """Angry: a photo with no face and a text file named .jpg; Happy: three faces read as Happy.
    The two Angry images are wrong, and no class was predicted for them: Angry has recall,
    precision and F1 0, Happy 1, macro-F1 0.5 (not 1.0 from crediting zero rows to Angry)."""
    fake_model(monkeypatch, DetectingRecognizer)
    A, H = LABELS.index("Angry"), LABELS.index("Happy")
    root = tmp_path / "photos"
    write_tree(root, {"Happy": [H, H, H]})
    (root / "Angry").mkdir()
    cv2.imwrite(str(root / "Angry" / "noface.png"), np.zeros((60, 50), np.uint8))
    (root / "Angry" / "x.jpg").write_text("not an image")
    res = ev.evaluate_folder("unused.onnx", root, tmp_path / "out" / "photos_pipeline.json", pipeline=True,
                             progress=False)
    m = res["metrics"]
    assert (m["n"], m["found"], m["not_found"]) == (5, 3, 2)
    assert m["accuracy"] == pytest.approx(3 / 5) and m["balanced_accuracy"] == pytest.approx(0.5)
    assert m["macro_f1"] == pytest.approx(0.5)
    angry, happy = m["per_class"]["Angry"], m["per_class"]["Happy"]
    assert (angry["precision"], angry["recall"], angry["f1"], angry["support"]) == (0.0, 0.0, 0.0, 2)
    assert (happy["precision"], happy["recall"], happy["f1"], happy["support"]) == (1.0, 1.0, 1.0, 3)
    cm = np.array(m["confusion_matrix"])
    assert cm[A].sum() == 0 and cm[:, A].sum() == 0 and cm[H, H] == 3 and cm.sum() == 3
    assert m["no_prediction"][A] == 2 and sum(m["no_prediction"]) == 2
    assert (m["no_face"], m["unreadable"]) == (1, 1)
    # Calibration and ROC AUC need probabilities: only the three predictions (0.94 confident, right).
    assert m["ece"] == pytest.approx(0.06, abs=1e-6) and sum(n for *_, n in m["reliability"]) == 3
    assert m["roc_auc_ovr"] == {}  # the predictions are all of true Happy photos: no AUC to take
    line = ev.summary_line(m)
    assert "no prediction for 2" in line and "no face found in 1" in line and "unreadable 1" in line
    # A .json --out: that file, and the confusion PNG (with its "none" column) beside it.
    assert json.loads((tmp_path / "out" / "photos_pipeline.json").read_text())["metrics"]["macro_f1"] == 0.5
    assert (tmp_path / "out" / "confusion_photos_pipeline.png").stat().st_size > 1000
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["confusion_photos_pipeline.png",
                                                                    "photos_pipeline.json"]


def test_folder_cli_never_overwrites_the_fer2013_metrics(tmp_path, monkeypatch, capsys):
    """The README's command once wrote the folder's metrics over models/eval/metrics.json (the FER2013
    evaluation the model card reads). Run in a copy of that layout under tmp_path."""
    fake_model(monkeypatch)
    write_tree(tmp_path / "photos", {"Happy": [3, 3], "Sad": [4]})
    monkeypatch.chdir(tmp_path)
    evals = tmp_path / "models" / "eval"
    evals.mkdir(parents=True)
    fer2013 = json.dumps({"model": "models/fer_model.onnx", "splits": {"PrivateTest": {"accuracy": 0.7}}})
    (evals / "metrics.json").write_text(fer2013)
    photos = str(tmp_path / "photos")
    with pytest.raises(SystemExit):  # no default --out for a folder
        ev.main(["--folder", photos])
    assert "--folder needs --out" in capsys.readouterr().err
    assert ev.main(["--folder", photos, "--out", "models/eval"]) == 2  # nor an explicit one over FER2013's
    assert ev.main(["--folder", photos, "--out", "models/eval/metrics.json"]) == 2
    assert (evals / "metrics.json").read_text() == fer2013
    assert sorted(p.name for p in evals.iterdir()) == ["metrics.json"]
    # The committed layout: models/eval/realphoto.json and confusion_realphoto.png beside it.
    assert ev.main(["--folder", photos, "--out", "models/eval/realphoto.json"]) == 0
    assert (evals / "metrics.json").read_text() == fer2013
    assert sorted(p.name for p in evals.iterdir()) == ["confusion_realphoto.png", "metrics.json", "realphoto.json"]
    assert json.loads((evals / "realphoto.json").read_text())["metrics"]["accuracy"] == 1.0
    assert "n=3 acc 1.0000" in capsys.readouterr().out


def test_folder_pipeline_uses_the_detector(tmp_path):
    """Through ``analyze``: the astronaut's face is found and scored; the cat photo has no face and
    counts as wrong, and is reported as not found."""
    from tests.scenes import astronaut_bgr, no_face_bgr

    root = tmp_path / "photos"
    (root / "Happy").mkdir(parents=True)
    cv2.imwrite(str(root / "Happy" / "astronaut.jpg"), astronaut_bgr())
    cv2.imwrite(str(root / "Happy" / "cat.jpg"), no_face_bgr())
    res = ev.evaluate_folder("models/fer_model.onnx", root, tmp_path / "out", pipeline=True, progress=False)
    m = res["metrics"]
    assert m["n"] == 2 and m["found"] == 1 and m["not_found"] == 1
    assert m["accuracy"] == pytest.approx(0.5)  # the smiling astronaut is read as Happy
    whole = ev.evaluate_folder("models/fer_model.onnx", root, tmp_path / "out2", progress=False)["metrics"]
    assert whole["found"] == 2  # without the detector every readable image gets a prediction


def test_folder_cli_rejects_unknown_classes_and_pipeline_without_folder(tmp_path, capsys):
    write_tree(tmp_path / "p", {"Happy": [3]})
    assert ev.main(["--folder", str(tmp_path / "p"), "--classes", "Bored", "--out", str(tmp_path / "o")]) == 2
    with pytest.raises(SystemExit):
        ev.main(["--data", "x.csv", "--pipeline"])


def test_out_never_replaces_a_model_card_the_model_or_another_models_figures(tmp_path, monkeypatch, capsys,
                                                                              caplog):
    """--out onto a model's JSON card (mdl/fer_model.json beside mdl/fer_model.onnx) overwrote the card;
    --data without --out wrote another model's figures over the shipped model's models/eval/metrics.json."""
    fake_model(monkeypatch)
    write_tree(tmp_path / "photos", {"Happy": [3]})
    monkeypatch.chdir(tmp_path)
    mdl = tmp_path / "mdl"
    mdl.mkdir()
    (mdl / "fer_model.onnx").write_bytes(b"model")
    card = json.dumps({"model_file": "fer_model.onnx", "labels": list(LABELS), "temperature": 1.2})
    (mdl / "fer_model.json").write_text(card)
    photos = str(tmp_path / "photos")
    with caplog.at_level("ERROR", logger="training.evaluate"):
        assert ev.main(["--folder", photos, "--model", str(mdl / "fer_model.onnx"),
                        "--out", str(mdl / "fer_model.json")]) == 2
    assert "fer_model.json is a model card" in caplog.text
    for out, message in [(mdl / "fer_model.onnx", "is a file, not a folder"),
                         (mdl / "fer_model.json", "is a file, not a folder")]:
        with pytest.raises(SystemExit) as e:  # --data writes a folder: it used to crash in mkdir
            ev.main(["--data", "x.csv", "--model", str(mdl / "fer_model.onnx"), "--out", str(out)])
        assert e.value.code == 2 and message in capsys.readouterr().err
    assert (mdl / "fer_model.json").read_text() == card and (mdl / "fer_model.onnx").read_bytes() == b"model"
    with pytest.raises(SystemExit) as e:
        ev.main(["--data", "x.csv", "--model", str(mdl / "fer_model.onnx")])
    assert e.value.code == 2 and "--out is needed for a model other than the shipped" in capsys.readouterr().err
    assert not (tmp_path / "models").exists()


def test_data_without_a_split_or_a_model_that_is_not_one_is_named(tmp_path, caplog):
    from training.synthetic import write_fer_csv

    data = tmp_path / "nopublic.csv"
    write_fer_csv(data, {"Training": 8, "PublicTest": 0, "PrivateTest": 8})
    with caplog.at_level("ERROR", logger="training.evaluate"):
        assert ev.main(["--data", str(data), "--model", "models/fer_model.onnx", "--out", str(tmp_path / "e")]) == 2
        assert "nopublic.csv: no PublicTest faces" in caplog.text
        fake = tmp_path / "fake.onnx"
        fake.write_bytes(b"not a model")
        assert ev.main(["--data", str(data), "--model", str(fake), "--out", str(tmp_path / "e")]) == 2
        assert "fake.onnx: not an ONNX model that onnxruntime can run" in caplog.text
