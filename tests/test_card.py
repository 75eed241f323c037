"""training.card on the shipped card: the training data it names follows the training command."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from training import card

MODELS = Path(__file__).resolve().parent.parent / "models"


@pytest.mark.parametrize("ferplus", [True, False])
def test_card_says_whether_fer_plus_votes_were_trained_on(tmp_path, ferplus):
    model = tmp_path / "fer_model.onnx"
    shutil.copy(MODELS / "fer_model.onnx", model)
    meta = json.loads((MODELS / "fer_model.json").read_text())
    cmd = "python -m training.train --data fer2013.csv.gz --out run --epochs 3"
    meta["train_command"] = cmd + (" --ferplus fer2013new.csv --ferplus-mix 0.3" if ferplus else "")
    meta.pop("training_data", None)
    model.with_suffix(".json").write_text(json.dumps(meta))
    out = tmp_path / "CARD.md"
    assert card.main(["--model", str(model), "--eval", str(MODELS / "eval" / "metrics.json"),
                      "--out", str(out)]) in (0, None)
    written = json.loads(model.with_suffix(".json").read_text())
    assert ("FER+ vote shares" in written["training_data"]) is ferplus
    assert written["training_data"].startswith("FER2013 (48 x 48")
    line = next(t for t in out.read_text().splitlines() if t.startswith("- Training data:"))
    assert ("FER+" in line) is ferplus
    assert written["metrics"]["PrivateTest"]["accuracy"] > 0.5


def test_card_gets_the_beyond_fer2013_table_and_the_prior_line(tmp_path):
    """--real-photos puts the real-photo figures beside the peers' in both cards; a class prior in the
    card is named on the inference line."""
    model = tmp_path / "fer_model.onnx"
    shutil.copy(MODELS / "fer_model.onnx", model)
    meta = json.loads((MODELS / "fer_model.json").read_text())
    meta["class_prior"] = {"strength": 0.6, "rule": "a rule", "log_shift": [0.0] * 7}
    model.with_suffix(".json").write_text(json.dumps(meta))
    recalls = {"Angry": 0.7, "Disgust": 0.0, "Fear": 0.3, "Happy": 0.9, "Sad": 0.6, "Surprise": 0.5, "Neutral": 0.8}
    real = {"folder": "/x/muxspace", "mode": "whole image (predict_proba)", "metrics": {
        "n": 100, "accuracy": 0.71, "balanced_accuracy": 0.54, "macro_f1": 0.4, "mean_recall": 0.7,
        "mean_recall_classes": list(card.REAL_PHOTO_CLASSES),
        "per_class": {c: {"recall": r, "support": 10, "precision": 0.5, "f1": 0.5} for c, r in recalls.items()}}}
    (tmp_path / "real.json").write_text(json.dumps(real))
    out = tmp_path / "CARD.md"
    card.main(["--model", str(model), "--eval", str(MODELS / "eval" / "metrics.json"), "--out", str(out),
               "--real-photos", str(tmp_path / "real.json")])
    text = out.read_text()
    assert "## Beyond FER2013: real photos" in text
    ours = next(t for t in text.splitlines() if t.startswith("| **this model**"))
    assert "**71.0%**" in ours and "**70.0%**" in ours  # accuracy; mean of 0.7, 0.9, 0.6, 0.5, 0.8
    assert "| face-api.js 1.7.15 (expression net) | 68.0% | 57.1% |" in text
    assert "class-prior correction towards the FER+ vote shares at strength 0.6" in text
    written = json.loads(model.with_suffix(".json").read_text())
    assert written["beyond_fer2013"]["metrics"]["accuracy"] == 0.71
    assert written["beyond_fer2013"]["folder"] == "muxspace"


def test_card_adds_the_everyday_model_row(tmp_path):
    """--real-photos-everyday adds the everyday model's figures as a second row, named by its file, and
    is refused without this model's own figures; --no-figures and --title shape the everyday card."""
    model = tmp_path / "fer_model.onnx"
    shutil.copy(MODELS / "fer_model.onnx", model)
    meta = json.loads((MODELS / "fer_model.json").read_text())
    meta.pop("beyond_fer2013", None)
    model.with_suffix(".json").write_text(json.dumps(meta))

    def real(acc, name):
        recalls = dict.fromkeys(("Angry", "Disgust", "Fear", "Happy", "Sad", "Surprise", "Neutral"), acc)
        return {"model": f"models/{name}", "folder": "/x/muxspace", "mode": "whole image (predict_proba)",
                "metrics": {"n": 100, "accuracy": acc, "balanced_accuracy": acc, "macro_f1": 0.4, "mean_recall": acc,
                            "mean_recall_classes": list(card.REAL_PHOTO_CLASSES),
                            "per_class": {c: {"recall": r, "support": 10} for c, r in recalls.items()}}}

    (tmp_path / "std.json").write_text(json.dumps(real(0.66, "fer_model.onnx")))
    (tmp_path / "every.json").write_text(json.dumps(real(0.75, "fer_model_everyday.onnx")))
    args = ["--model", str(model), "--eval", str(MODELS / "eval" / "metrics.json"), "--out", str(tmp_path / "C.md")]
    with pytest.raises(SystemExit):  # no row of this model's to add it to
        card.main(args + ["--real-photos-everyday", str(tmp_path / "every.json")])
    card.main(args + ["--real-photos", str(tmp_path / "std.json"),
                      "--real-photos-everyday", str(tmp_path / "every.json")])
    text = (tmp_path / "C.md").read_text()
    rows = [t for t in text.splitlines() if t.startswith("| ")]
    i = rows.index(next(t for t in rows if t.startswith("| **this model**")))
    assert rows[i].startswith("| **this model** | **66.0%** | **66.0%** |")
    assert rows[i + 1].startswith("| *Everyday faces* model (fer_model_everyday.onnx) | 75.0% | 75.0% |")
    assert "eval/confusion_PrivateTest.png" in text and text.startswith("# Model card: FER expression classifier\n")
    written = json.loads(model.with_suffix(".json").read_text())
    assert written["beyond_fer2013"]["everyday"]["model"] == "fer_model_everyday.onnx"
    card.main(args + ["--no-figures", "--title", "Everyday faces"])
    text = (tmp_path / "C.md").read_text()
    assert "eval/confusion_PrivateTest.png" not in text and text.startswith("# Model card: Everyday faces\n")


def test_real_photo_rows_never_raise_on_a_bad_card():
    from fer_core import model_card

    assert model_card.real_photo_rows({}) == [] and model_card.real_photo_table({}) is None
    assert model_card.real_photo_rows({"beyond_fer2013": {"metrics": {"accuracy": 0.6}}}) == []
    good = {"accuracy": 0.6, "per_class": {c: {"recall": 0.5} for c in model_card.REAL_PHOTO_CLASSES}}
    # A malformed everyday entry is left out; the model's own row and the peers stay.
    rows = model_card.real_photo_rows({"beyond_fer2013": {"metrics": good, "everyday": {"metrics": None}}})
    assert [r[0] for r in rows] == ["this model", *model_card.REAL_PHOTO_PEERS]
    table = model_card.real_photo_table({"beyond_fer2013": {"metrics": good}})
    assert table["mean recall"].iloc[0] == pytest.approx(0.5) and table["Neutral"].iloc[0] == 0.5


def test_card_refuses_a_json_out_and_files_of_the_wrong_kind_in_one_line(tmp_path, capsys):
    """--out X.json wrote Markdown over JSON; a folder evaluation as --eval gave KeyError 'splits' and a
    missing file FileNotFoundError. Each is now one line (exit status 2), and nothing is written."""
    model = tmp_path / "fer_model.onnx"
    shutil.copy(MODELS / "fer_model.onnx", model)
    shutil.copy(MODELS / "fer_model.json", model.with_suffix(".json"))
    before = model.with_suffix(".json").read_text()
    evaluation = str(MODELS / "eval" / "metrics.json")
    folder_eval = str(MODELS / "eval" / "realphoto.json")
    cases = [
        (["--eval", evaluation, "--out", str(model.with_suffix(".json"))], "give a .md file"),
        (["--eval", folder_eval, "--out", str(tmp_path / "C.md")], "not a FER2013 evaluation"),
        (["--eval", str(tmp_path / "none.json"), "--out", str(tmp_path / "C.md")], "none.json: no such file"),
        (["--eval", evaluation, "--real-photos", evaluation, "--out", str(tmp_path / "C.md")],
         "not a folder evaluation"),
    ]
    for args, message in cases:
        with pytest.raises(SystemExit) as e:
            card.main(["--model", str(model), *args])
        err = capsys.readouterr().err
        assert e.value.code == 2 and message in err, err
    with pytest.raises(SystemExit) as e:
        card.main(["--model", str(tmp_path / "other.onnx"), "--eval", evaluation, "--out", str(tmp_path / "C.md")])
    assert e.value.code == 2 and "other.json: no such file" in capsys.readouterr().err
    assert model.with_suffix(".json").read_text() == before and not (tmp_path / "C.md").exists()
