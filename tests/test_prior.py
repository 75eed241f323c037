"""Class-prior correction (training.prior) and its use by the recognizer."""
from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from fer_core.labels import LABELS
from fer_core.recognizer import Recognizer
from training import prior

NEUTRAL = LABELS.index("Neutral")


def test_choose_strength_takes_the_largest_within_the_allowed_drop():
    # Four faces: the model prefers Happy (3) on all; two are truly Neutral (6), two Happy.
    probs = np.array([[.01, .01, .01, .60, .01, .01, .35]] * 4)
    y = np.array([3, 3, 6, 6])
    shift = np.zeros(7)
    shift[NEUTRAL] = 1.0  # at strength >= 0.6 Neutral wins every face: accuracy 0.5 either way
    alpha, table = prior.choose_strength(probs, y, shift, max_drop=0.0)
    assert alpha == 1.0 and [r["accuracy"] for r in table] == [0.5] * 11
    y = np.array([3, 3, 3, 6])  # now moving to Neutral costs 0.5: only strengths below 0.6 are allowed
    alpha, table = prior.choose_strength(probs, y, shift, max_drop=0.01)
    assert alpha == 0.5
    assert table[5]["accuracy"] == 0.75 and table[6]["accuracy"] == 0.25


def test_prior_shift_is_the_log_ratio():
    model, target = np.array([.5, .25, .25]), np.array([.25, .25, .5])
    np.testing.assert_allclose(prior.prior_shift(model, target), np.log([.5, 1, 2]))


@pytest.fixture()
def model_copy(tmp_path):
    for ext in (".onnx", ".json"):
        shutil.copy(f"models/fer_model{ext}", tmp_path / f"fer_model{ext}")
    return tmp_path / "fer_model.onnx"


def test_recognizer_applies_the_cards_shift_after_the_temperature(model_copy):
    rng = np.random.default_rng(0)
    faces = rng.integers(0, 256, (6, 48, 48), dtype=np.uint8)
    plain = Recognizer(model_copy, class_prior=False).predict_proba(faces)
    card = json.loads(model_copy.with_suffix(".json").read_text())
    shift = np.linspace(-1, 1, 7)
    card["class_prior"] = {"log_shift": shift.tolist(), "strength": 1.0}
    model_copy.with_suffix(".json").write_text(json.dumps(card))
    shifted = Recognizer(model_copy).predict_proba(faces)
    expect = np.exp(np.log(plain) + shift)
    np.testing.assert_allclose(shifted, expect / expect.sum(1, keepdims=True), rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(Recognizer(model_copy, class_prior=False).predict_proba(faces), plain, atol=1e-6)
    card["class_prior"]["log_shift"] = [0.0, 1.0]
    model_copy.with_suffix(".json").write_text(json.dumps(card))
    with pytest.raises(ValueError, match="log_shift"):
        Recognizer(model_copy)


def test_fit_prior_writes_a_card_entry_that_moves_towards_the_votes(tmp_path, tiny_csv, model_copy):
    """FER+ votes that call every other Training face neutral make a target prior heavy on Neutral,
    so the correction raises Neutral; the card records the rule and the table behind it."""
    from training.data import load_fer2013_csv

    n = sum(len(s) for s in load_fer2013_csv(tiny_csv).values())
    rows = ["Usage,Image name,neutral,happiness,surprise,sadness,anger,disgust,fear,contempt,unknown,NF"]
    for i in range(n):
        votes = [10, 0, 0, 0, 0, 0, 0] if i % 2 else [0, 4, 2, 2, 1, 0, 1]
        rows.append(f"Training,fer{i:07d}.png,{','.join(map(str, votes))},0,0,0")
    ferplus = tmp_path / "fer2013new.csv"
    ferplus.write_text("\n".join(rows) + "\n")
    assert prior.main(["--model", str(model_copy), "--data", str(tiny_csv), "--ferplus", str(ferplus),
                       "--max-drop", "5"]) == 0
    entry = json.loads(model_copy.with_suffix(".json").read_text())["class_prior"]
    assert entry["target_prior"][NEUTRAL] == pytest.approx(0.5, abs=0.05)
    full = prior.prior_shift(np.array(entry["model_prior"]), np.array(entry["target_prior"]))
    np.testing.assert_allclose(entry["log_shift"], entry["strength"] * full, rtol=1e-5, atol=1e-7)
    table = entry["publictest_accuracy_by_strength"]
    assert entry["strength"] == max(r["alpha"] for r in table if r["accuracy"] >= table[0]["accuracy"] - 0.05)
    if entry["strength"] > 0:
        assert entry["log_shift"][NEUTRAL] > 0
    assert prior.main(["--model", str(tmp_path / "none.onnx"), "--data", str(tiny_csv),
                       "--ferplus", str(ferplus)]) == 2


def test_prior_strength_rescales_the_cards_correction(model_copy):
    rng = np.random.default_rng(1)
    faces = rng.integers(0, 256, (8, 48, 48), dtype=np.uint8)
    card = json.loads(model_copy.with_suffix(".json").read_text())["class_prior"]
    default = Recognizer(model_copy)
    # The card's own strength gives the card's offsets; 0 gives none at all.
    np.testing.assert_allclose(Recognizer(model_copy, prior_strength=card["strength"]).log_prior_shift,
                               card["log_shift"], rtol=1e-5, atol=1e-6)
    assert default.prior_strength == card["strength"]
    none = Recognizer(model_copy, prior_strength=0.0)
    assert none.prior_strength == 0.0 and not none.log_prior_shift.any()
    np.testing.assert_allclose(none.predict_proba(faces),
                               Recognizer(model_copy, class_prior=False).predict_proba(faces), atol=1e-6)
    full = Recognizer(model_copy, prior_strength=1.0)
    np.testing.assert_allclose(full.log_prior_shift,
                               np.log(card["target_prior"]) - np.log(card["model_prior"]), rtol=1e-6)
    # Neutral has the largest offset, so its probability grows with the strength, face by face.
    neutral = [Recognizer(model_copy, prior_strength=s).predict_proba(faces)[:, NEUTRAL] for s in (0.0, 0.5, 1.0, 1.5)]
    assert all((b > a).all() for a, b in zip(neutral, neutral[1:]))


def test_prior_strength_needs_the_cards_priors_and_a_sane_value(model_copy):
    with pytest.raises(ValueError, match="outside"):
        Recognizer(model_copy, prior_strength=-0.5)
    card_path = model_copy.with_suffix(".json")
    card = json.loads(card_path.read_text())
    card["class_prior"] = {"log_shift": [0.0] * 7, "strength": 0.5}  # an older card: offsets only
    card_path.write_text(json.dumps(card))
    assert Recognizer(model_copy).prior_strength == 0.5
    with pytest.raises(ValueError, match="target_prior"):
        Recognizer(model_copy, prior_strength=1.0)
    assert not Recognizer(model_copy, prior_strength=0.0).log_prior_shift.any()


def test_teachers_run_with_or_without_their_cards_prior(model_copy):
    from training.train import parse_args, teacher_probs

    rng = np.random.default_rng(2)
    faces = rng.integers(0, 256, (5, 48, 48), dtype=np.uint8)
    with_prior = teacher_probs([str(model_copy)], faces)
    without = teacher_probs([str(model_copy)], faces, class_prior=False)
    np.testing.assert_allclose(with_prior, Recognizer(model_copy).predict_proba(faces), atol=1e-6)
    np.testing.assert_allclose(without, Recognizer(model_copy, class_prior=False).predict_proba(faces), atol=1e-6)
    assert np.abs(with_prior - without).max() > 1e-3  # the shipped card's prior moves them
    base = ["--data", "d.csv", "--out", "o"]
    assert parse_args(base).teacher_prior is True and parse_args(base + ["--no-teacher-prior"]).teacher_prior is False


def test_bad_max_drop_and_a_model_that_is_not_one_are_one_line(tmp_path, tiny_csv, model_copy, capsys, caplog):
    base = ["--model", str(model_copy), "--data", str(tiny_csv), "--ferplus", str(tmp_path / "f.csv")]
    for bad in ("nan", "-50", "inf"):
        with pytest.raises(SystemExit) as e:
            prior.main([*base, "--max-drop", bad])
        assert e.value.code == 2 and "--max-drop must be between 0 and 100" in capsys.readouterr().err
    from training.data import load_fer2013_csv

    n = sum(len(s) for s in load_fer2013_csv(tiny_csv).values())
    header = "Usage,Image name,neutral,happiness,surprise,sadness,anger,disgust,fear,contempt,unknown,NF"
    (tmp_path / "f.csv").write_text("\n".join([header] + ["Training,a.png,1,0,0,0,0,0,0,0,0,0"] * n) + "\n")
    model_copy.write_bytes(b"not a model")  # its card is still beside it
    with caplog.at_level("ERROR", logger="training.prior"):
        assert prior.main(base) == 2  # was onnxruntime's InvalidProtobuf traceback
    assert "fer_model.onnx: not an ONNX model that onnxruntime can run" in caplog.text
