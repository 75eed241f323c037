"""Cross-fitted teachers: fold runs that each predict the Training faces they never trained on,
and a student distilled from those held-out predictions (tiny generated data, one epoch)."""
from __future__ import annotations

import logging

import numpy as np
import pytest

pytest.importorskip("keras")

from training import train  # noqa: E402
from training.data import load_fer2013_csv  # noqa: E402

COMMON = ["--width", "8", "--epochs", "1", "--batch-size", "32", "--verbose", "0", "--folds", "2"]


def test_fold_of_depends_on_the_row_and_seed_only():
    rows = np.arange(5000)
    folds = train.fold_of(rows, 3, seed=7)
    assert folds.min() == 0 and folds.max() == 2
    assert np.all(np.abs(np.bincount(folds) / len(rows) - 1 / 3) < 0.03)  # about even
    # A row keeps its fold in any subset (runs that drop the FER+ non-faces or use --limit).
    subset = rows[::7]
    assert np.array_equal(train.fold_of(subset, 3, seed=7), folds[::7])
    assert not np.array_equal(train.fold_of(rows, 3, seed=8), folds)


@pytest.fixture(scope="module")
def fold_runs(tmp_path_factory, tiny_csv):
    root = tmp_path_factory.mktemp("folds")
    for k in (0, 1):
        assert train.main(["--data", str(tiny_csv), "--out", str(root / f"f{k}"), *COMMON, "--fold", str(k)]) == 0
    return root


def test_each_fold_run_predicts_exactly_the_faces_it_did_not_train_on(fold_runs, tiny_csv):
    faces = load_fer2013_csv(tiny_csv)["Training"]
    folds = train.fold_of(faces.index, 2, seed=1337)
    seen = []
    for k in (0, 1):
        with np.load(fold_runs / f"f{k}" / "heldout.npz") as f:
            rows, probs = f["index"], f["probs"]
        assert np.array_equal(rows, faces.index[folds == k])
        np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-5)
        # The predictions are the selected checkpoint's, mirror-averaged like every teacher.
        np.testing.assert_allclose(probs, train.keras_probs(fold_runs / f"f{k}" / "best.keras", faces.x[folds == k]),
                                   atol=1e-5)
        seen.append(rows)
    assert sorted(np.concatenate(seen)) == sorted(faces.index)


def test_student_learns_from_the_cross_fitted_teacher(fold_runs, tiny_csv, tmp_path, caplog):
    faces = load_fer2013_csv(tiny_csv)["Training"]
    files = [str(fold_runs / f"f{k}" / "heldout.npz") for k in (0, 1)]
    probs = train.crossfit_probs(files, faces.index[::-1])  # any order of faces
    pos = {r: i for i, r in enumerate(faces.index[::-1])}
    for k in (0, 1):
        with np.load(files[k]) as f:
            np.testing.assert_array_equal(probs[[pos[r] for r in f["index"]]], f["probs"])

    base = ["--data", str(tiny_csv), "--width", "8", "--epochs", "1", "--batch-size", "32", "--verbose", "0"]
    with caplog.at_level(logging.INFO, logger="training.train"):
        assert train.main([*base, "--out", str(tmp_path / "student"), "--teacher", *files]) == 0
    assert "from 1 model(s) (one cross-fitted from 2 fold runs)" in caplog.text
    assert (tmp_path / "student" / "best.keras").is_file()


def test_cross_fitting_mistakes_are_refused(fold_runs, tiny_csv, tmp_path, caplog):
    base = ["--data", str(tiny_csv), "--width", "8", "--epochs", "1", "--verbose", "0"]
    one = str(fold_runs / "f0" / "heldout.npz")
    with caplog.at_level(logging.ERROR, logger="training.train"):
        assert train.main([*base, "--out", str(tmp_path / "a"), "--teacher", one]) == 2
        assert "have no held-out prediction" in caplog.text
        assert train.main([*base, "--out", str(tmp_path / "b"), "--teacher", one, one]) == 2
        assert "already have a held-out prediction" in caplog.text
    assert not (tmp_path / "a" / "best.keras").exists()
    for bad in (["--fold", "0"], ["--folds", "2", "--fold", "2"], ["--folds", "1", "--fold", "0"],
                ["--folds", "2", "--fold", "0", "--teacher", one]):
        with pytest.raises(SystemExit):
            train.main([*base, "--out", str(tmp_path / "c"), *bad])
