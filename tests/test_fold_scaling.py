"""training.export.fold_input_scaling: the input Rescaling folded into the first convolution
gives the same outputs, for one model and for an ensemble whose members share the input."""
from __future__ import annotations

import shutil

import numpy as np
import pytest

pytest.importorskip("keras")
onnx = pytest.importorskip("onnx")

from training import export  # noqa: E402
from training.models import build, ensemble  # noqa: E402


def _run(path, x):
    session = export.onnx_session(path, threads=1)
    return session.run(None, {session.get_inputs()[0].name: x})[0]


@pytest.mark.parametrize("members", [1, 2])
def test_folding_keeps_the_outputs_and_removes_the_input_arithmetic(tmp_path, members):
    import keras

    keras.utils.set_random_seed(members)
    model = ensemble([build("compact", width=4) for _ in range(members)])
    before = export.export_onnx(model, tmp_path / "m.onnx")
    after = tmp_path / "folded.onnx"
    shutil.copy(before, after)
    assert export.fold_input_scaling(after) >= 1
    x = np.random.default_rng(0).uniform(0, 255, (6, 48, 48, 1)).astype(np.float32)
    np.testing.assert_allclose(_run(after, x), _run(before, x), atol=2e-5)
    graph = onnx.load(str(after)).graph
    first = [n.op_type for n in graph.node if graph.input[0].name in n.input]
    assert "Mul" not in first and "Add" not in first
    # Folding again finds nothing to fold and leaves the file as it is.
    data = after.read_bytes()
    assert export.fold_input_scaling(after) == 0 and after.read_bytes() == data
