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


def write_tree(root, spec):
    """spec: {class name: [predicted class index, ...]} -> one flat image per entry."""
    for name, preds in spec.items():
        (root / name).mkdir(parents=True)
        for i, k in enumerate(preds):
            cv2.imwrite(str(root / name / f"{i}.png"), np.full((60, 50), 30 * k + 15, np.uint8))


def test_folder_metrics_match_hand_counts(tmp_path, monkeypatch):
    import fer_core

    monkeypatch.setattr(fer_core, "load_recognizer", lambda *a, **k: BrightnessRecognizer())
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
    assert (tmp_path / "out" / "confusion.png").stat().st_size > 1000
    assert json.loads((tmp_path / "out" / "metrics.json").read_text())["metrics"]["n"] == 10
    assert "balanced" in ev.summary_line(m) and "no face found in 1" in ev.summary_line(m)


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
