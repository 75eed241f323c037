"""face-api.js's expression net as a distillation teacher (tools/faceapi_teacher).

Without node: the label mapping, the npz written for ``training.train --teacher`` read back
through ``crossfit_probs``, and the command line with a fake probability source. With the npm
packages installed (``npm ci`` in tools/faceapi_teacher): the real node worker on a few
generated faces; skipped otherwise (CI has no node_modules).
"""
from __future__ import annotations

import shutil

import numpy as np
import pytest

import tools.faceapi_teacher as teacher
import tools.faceapi_teacher.__main__ as cli
from fer_core.labels import LABELS, NUM_CLASSES
from training.data import load_splits
from training.synthetic import synthetic_face
from training.train import crossfit_probs, teacher_probs


def fake_faceapi_probs(faces: np.ndarray) -> np.ndarray:
    """Deterministic per-face probabilities in face-api's label order, depending on the pixels."""
    x = faces.reshape(len(faces), -1).astype(np.float64)
    logits = np.stack([x[:, k::7].mean(axis=1) / 16 for k in range(NUM_CLASSES)], axis=1)
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    return (e / e.sum(axis=1, keepdims=True)).astype(np.float32)


def fake_source(faces: np.ndarray) -> np.ndarray:
    return teacher.to_our_order(fake_faceapi_probs(faces))


@pytest.mark.parametrize("name,ours", sorted(teacher.FACEAPI_TO_OURS.items()))
def test_each_faceapi_label_lands_on_our_class(name, ours):
    onehot = np.zeros((1, NUM_CLASSES), np.float32)
    onehot[0, teacher.FACEAPI_LABELS.index(name)] = 1
    assert LABELS[int(teacher.to_our_order(onehot).argmax())] == ours


def test_mapping_follows_the_label_order_node_reports():
    shuffled = list(reversed(teacher.FACEAPI_LABELS))
    p = np.arange(7, dtype=np.float32)[None] / 21  # column k holds k/21
    mapped = teacher.to_our_order(p, shuffled)
    for j, ours in enumerate(LABELS):
        faceapi_name = next(k for k, v in teacher.FACEAPI_TO_OURS.items() if v == ours)
        assert mapped[0, j] == pytest.approx(shuffled.index(faceapi_name) / 21)
    assert teacher.FACEAPI_LABELS == ("neutral", "happy", "sad", "angry", "fearful", "disgusted", "surprised")


def test_mapping_rejects_labels_that_do_not_cover_ours():
    with pytest.raises(ValueError):
        teacher.column_order(["neutral", "happy", "sad", "angry", "fearful", "disgusted", "disgusted"])


def test_npz_round_trips_through_crossfit_probs(tmp_path, tiny_csv):
    train = load_splits(tiny_csv)["Training"]
    probs = teacher.soft_targets(train.x, fake_source, chunk=32, progress=False)
    path = teacher.write_teacher_npz(tmp_path / "t" / "train.npz", train.index, probs, {"teacher": "fake"})
    got = crossfit_probs([path], train.index)
    np.testing.assert_array_equal(got, probs)
    # Rows are joined by source row, not by position: a shuffled file reads the same.
    order = np.random.default_rng(0).permutation(len(train))
    shuffled = teacher.write_teacher_npz(tmp_path / "shuffled.npz", train.index[order], probs[order], {})
    np.testing.assert_array_equal(crossfit_probs([shuffled], train.index), probs)
    np.testing.assert_allclose(teacher_probs([str(path)], train.x, index=train.index), probs)
    with np.load(path) as f:
        assert str(f["meta_teacher"]) == "fake" and tuple(f["labels"]) == LABELS
    assert not list(tmp_path.glob("**/*.part.npz"))


def test_a_file_missing_faces_is_refused_by_the_reader(tmp_path, tiny_csv):
    train = load_splits(tiny_csv)["Training"]
    probs = fake_source(train.x)
    path = teacher.write_teacher_npz(tmp_path / "short.npz", train.index[1:], probs[1:], {})
    with pytest.raises(ValueError, match="1 of"):
        crossfit_probs([path], train.index)


def test_writer_refuses_bad_arrays(tmp_path):
    with pytest.raises(ValueError, match="shape"):
        teacher.write_teacher_npz(tmp_path / "a.npz", np.arange(3), np.zeros((3, 6)), {})
    with pytest.raises(ValueError, match="twice"):
        teacher.write_teacher_npz(tmp_path / "b.npz", np.array([1, 1]), np.full((2, 7), 1 / 7), {})
    with pytest.raises(ValueError, match="NaN"):
        teacher.write_teacher_npz(tmp_path / "c.npz", np.arange(2), np.full((2, 7), np.nan), {})


def test_recall_report_counts_the_five_scored_classes():
    y = np.array([0, 3, 4, 5, 6, 1])
    probs = np.eye(NUM_CLASSES, dtype=np.float32)[[0, 3, 6, 5, 6, 0]]  # Sad read as Neutral, Disgust as Angry
    rep = teacher.recall_report(probs, y)
    assert rep["accuracy"] == pytest.approx(4 / 6)
    assert rep["recall"]["Sad"] == 0 and rep["recall"]["Happy"] == 1
    assert rep["mean_recall_5"] == pytest.approx(4 / 5)
    assert np.isnan(rep["recall"]["Fear"])


class FakeWorker:
    """Stands in for the node process in the command-line tests."""

    info = {"package": "@vladmandic/face-api", "version": "0.0.0-fake", "tfjs": "0", "backend": "fake",
            "labels": list(teacher.FACEAPI_LABELS)}

    made: list[FakeWorker] = []

    def __init__(self):
        self.shapes = []
        FakeWorker.made.append(self)

    def predict(self, faces):
        self.shapes.append(faces.shape)
        return fake_source(faces)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        pass


@pytest.fixture
def fake_node(monkeypatch):
    monkeypatch.setattr(cli, "ensure_node_modules", lambda install=True: None)
    monkeypatch.setattr(cli, "FaceApiWorker", FakeWorker)


def test_cli_writes_soft_targets_the_trainer_reads(fake_node, tmp_path, tiny_csv, capsys):
    out = tmp_path / "train.npz"
    assert cli.main(["--data", str(tiny_csv), "--out", str(out), "--chunk", "50"]) == 0
    train = load_splits(tiny_csv)["Training"]
    np.testing.assert_allclose(crossfit_probs([out], train.index), fake_source(train.x))
    with np.load(out) as f:
        assert "0.0.0-fake" in str(f["meta_teacher"]) and str(f["meta_split"]) == "Training"
    assert "accuracy" in capsys.readouterr().out


@pytest.mark.parametrize("mode,channels", [("rgb", 3), ("gray", 1), ("gray48", 1)])
def test_cli_scores_a_folder(fake_node, tmp_path, mode, channels):
    from training.synthetic import write_face_folder

    write_face_folder(tmp_path / "faces", {"Happy": 3, "Sad": 2}, seed=1)
    assert cli.main(["--folder", str(tmp_path / "faces"), "--folder-input", mode,
                     "--json", str(tmp_path / "r.json")]) == 0
    seen = FakeWorker.made[-1].shapes
    assert sum(s[0] for s in seen) == 5
    assert all((len(s) == 4 and s[3] == 3) if channels == 3 else len(s) == 3 for s in seen)
    if mode == "gray48":
        assert all(s[1:3] == (48, 48) for s in seen)
    assert (tmp_path / "r.json").is_file()


def test_cli_refuses_both_sources(fake_node, tiny_csv, tmp_path):
    with pytest.raises(SystemExit):
        cli.main(["--data", str(tiny_csv), "--folder", str(tmp_path)])


needs_node = pytest.mark.skipif(not teacher.node_modules_ready() or shutil.which("node") is None,
                                reason="npm packages not installed (npm ci in tools/faceapi_teacher)")


@needs_node
def test_real_node_worker_on_generated_faces():
    rng = np.random.default_rng(5)
    faces = np.stack([synthetic_face(label, rng) for label in (0, 3, 5, 6)])
    with teacher.FaceApiWorker() as worker:
        assert worker.info["version"] == "1.7.15" and worker.info["labels"] == list(teacher.FACEAPI_LABELS)
        probs = worker.predict(faces)
        rgb = worker.predict(np.repeat(faces[..., None], 3, axis=3))
        single = worker.predict(faces[1:2])
        big = worker.predict(np.stack([np.kron(f, np.ones((2, 2), np.uint8)) for f in faces[:2]]))
    assert probs.shape == (4, NUM_CLASSES) and probs.dtype == np.float32
    np.testing.assert_allclose(probs.sum(axis=1), 1, atol=1e-4)
    assert (probs >= 0).all() and len({p.argmax() for p in probs}) >= 1
    np.testing.assert_allclose(rgb, probs, atol=1e-5)  # gray is the same face repeated to 3 channels
    np.testing.assert_allclose(single[0], probs[1], atol=1e-5)  # no dependence on the batch
    assert big.shape == (2, NUM_CLASSES)  # other sizes are resized by face-api itself
    assert not np.allclose(probs[0], probs[1])  # the faces are actually looked at
