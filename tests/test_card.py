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
