"""Export a trained Keras model to ONNX (run by onnxruntime, no TensorFlow needed) and check parity.

Example::

    python -m training.export --model ~/runs/c32/best.keras --out models/fer_model.onnx \
        --data ../shared/data/fer2013.csv.gz

The model's input scaling is folded into its first convolution (exactly). With ``--data``,
parity is checked on real PublicTest faces and the softmax temperature is fitted on
PublicTest (used by ``fer_core`` so confidences are calibrated). ``--int8`` ships a
statically quantized model calibrated on real training faces (the float32 one is kept
beside it, and their agreement and PublicTest accuracies go into the card).
"""
from __future__ import annotations

import argparse
import hashlib
import json
import logging
import math
import sys
from pathlib import Path

import numpy as np

log = logging.getLogger("training.export")


def sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def load_core(path: str | Path):
    """Load a saved model; unwrap the augmentation wrapper if the file holds the training model.
    FileNotFoundError or ValueError, naming the file, when it is missing or not a Keras model."""
    import keras

    from training.cli import load_keras

    model = load_keras(path)
    if model.name.startswith("fernet"):  # a classifier or an ensemble of them
        return model
    for layer in model.layers:
        if isinstance(layer, keras.Model) and layer.name.startswith("fernet"):
            return layer
    return model


def export_onnx(model, out: Path) -> Path:
    out.parent.mkdir(parents=True, exist_ok=True)
    model(np.zeros((1, 48, 48, 1), np.float32))  # a loaded model must be called once before export
    model.export(str(out), format="onnx", verbose=False)
    return out


def fold_input_scaling(path: Path) -> int:
    """Fold the model's first layer (``x * s + b``, the Rescaling to [-1, 1]) into the first conv.

    ``conv(W, pad0(s*x + b)) == conv(s*W, padP(x)) + b*sum(W)`` with the raw-pixel pad value
    ``P = -b/s``, so the rewrite is exact. It removes two element-wise passes over the input,
    which cost about 10% of a float32 forward pass and about 45% of an int8 one (where they
    become re-quantizing QLinearMul/QLinearAdd). Every branch that starts at the input with
    Mul -> Add -> [Reshape/Transpose] -> Conv(s) is folded (an ensemble's members may share
    one scaled input or have a branch each).
    Rewrites ``path`` in place and returns the number of branches folded (0: file untouched).
    """
    import onnx

    model = onnx.load(str(path))
    graph = _ScalingFolder(model.graph)
    folded = graph.fold_all()
    if not folded:
        return 0
    graph.drop_unused_initializers()
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return folded


class _ScalingFolder:
    """The graph rewrite of :func:`fold_input_scaling`: find each input branch
    ``Mul(s) -> Add(b) -> [Reshape/Transpose] -> Conv(s)`` and fold it."""

    def __init__(self, graph):
        from onnx import numpy_helper

        self.g = graph
        self.inits = {i.name: i for i in graph.initializer}
        self.consumers: dict[str, list] = {}
        for node in graph.node:
            for name in node.input:
                self.consumers.setdefault(name, []).append(node)
        self.to_array = numpy_helper.to_array

    def only_consumer(self, name):
        c = self.consumers.get(name, [])
        return c[0] if len(c) == 1 else None

    def const(self, node) -> float | None:
        """The node's one scalar constant input, if it has exactly one."""
        vals = [self.to_array(self.inits[i]) for i in node.input if i in self.inits]
        return float(vals[0]) if len(vals) == 1 and vals[0].size == 1 else None

    def fold_all(self) -> int:
        starts = [n for n in list(self.consumers.get(self.g.input[0].name, [])) if n.op_type == "Mul"]
        return sum(self.fold(mul) for mul in starts)

    def match(self, mul):
        """(add, scale, offset, the Reshape/Transpose nodes between, the convolutions, their
        pads) for a foldable branch starting at ``mul``, else None."""
        from onnx import helper

        add = self.only_consumer(mul.output[0])
        if add is None or add.op_type != "Add" or self.const(mul) is None or self.const(add) is None:
            return None
        scale, offset = self.const(mul), self.const(add)
        between, tail = [], add.output[0]
        while (nxt := self.only_consumer(tail)) is not None and nxt.op_type in ("Reshape", "Transpose"):
            between.append(nxt)
            tail = nxt.output[0]
        convs = self.consumers.get(tail, [])  # an ensemble's members share the scaled input
        attrs = [{a.name: helper.get_attribute_value(a) for a in c.attribute} for c in convs]
        if (scale == 0 or not convs or any(c.op_type != "Conv" or c.input[1] not in self.inits for c in convs)
                or any(a.get("auto_pad", b"NOTSET") not in (b"NOTSET", "NOTSET") for a in attrs)
                or len({tuple(a.get("pads", [0, 0, 0, 0])) for a in attrs}) != 1):
            return None
        return add, scale, offset, between, convs, list(attrs[0].get("pads", [0, 0, 0, 0]))

    def fold(self, mul) -> bool:
        found = self.match(mul)
        if found is None:
            return False
        add, scale, offset, between, convs, pads = found
        # Rewire: input -> [Reshape/Transpose] -> Pad(P) -> each Conv(s*W, b') with no padding.
        src = mul.input[0]
        if between:
            between[0].input[0] = src
            src = between[-1].output[0]
        if any(pads):
            src = self.insert_pad(src, convs, pads, -offset / scale)
        for conv in convs:
            self.scale_conv(conv, src, scale, offset, len(pads))
        self.g.node.remove(mul)
        self.g.node.remove(add)
        return True

    def insert_pad(self, src: str, convs: list, pads: list, value: float) -> str:
        """A constant Pad (the raw-pixel ``value``) before the convolutions; returns its output."""
        from onnx import helper, numpy_helper

        n = len(pads) // 2
        name = convs[0].name + "_input_pad"
        self.g.initializer.extend([
            numpy_helper.from_array(np.array([0, 0] + pads[:n] + [0, 0] + pads[n:], np.int64), name + "_pads"),
            numpy_helper.from_array(np.array(value, np.float32), name + "_value")])
        pad = helper.make_node("Pad", [src, name + "_pads", name + "_value"], [name + ":0"], name=name,
                               mode="constant")
        self.g.node.insert(min(list(self.g.node).index(c) for c in convs), pad)
        return pad.output[0]

    def scale_conv(self, conv, src: str, scale: float, offset: float, n_pads: int) -> None:
        """``conv`` reads ``src`` with weights ``scale * W``, bias ``b + offset * sum(W)``, no padding."""
        from onnx import numpy_helper

        w = self.to_array(self.inits[conv.input[1]]).astype(np.float32)
        bias = (self.to_array(self.inits[conv.input[2]]).astype(np.float32)
                if len(conv.input) > 2 and conv.input[2] else np.zeros(w.shape[0], np.float32))
        new_w = numpy_helper.from_array(w * scale, conv.name + "_folded_w")
        new_b = numpy_helper.from_array(bias + offset * w.sum(axis=(1, 2, 3)), conv.name + "_folded_b")
        self.g.initializer.extend([new_w, new_b])
        del conv.input[:]
        conv.input.extend([src, new_w.name, new_b.name])
        for a in conv.attribute:
            if a.name == "pads":
                a.ints[:] = [0] * n_pads

    def drop_unused_initializers(self) -> None:
        used = {i for node in self.g.node for i in node.input}
        for init in list(self.g.initializer):
            if init.name not in used:
                self.g.initializer.remove(init)


def write_card(model, onnx_path: Path, source: str, flip_tta: bool, temperature: float, **extra) -> dict:
    """Write the JSON model card beside ``onnx_path`` (read by ``fer_core`` and the app) and return it."""
    from fer_core.labels import LABELS

    card = {"model_file": onnx_path.name, "labels": list(LABELS), "flip_tta": bool(flip_tta),
            "temperature": float(temperature),
            "input": {"shape": [None, 48, 48, 1], "dtype": "float32", "range": "0-255 grayscale",
                      "preprocessing": "fer_core.preprocess.preprocess_face"},
            "architecture": model.name, "parameters": int(model.count_params()),
            "size_bytes": onnx_path.stat().st_size, "sha256": sha256(onnx_path), "source": str(source), **extra}
    onnx_path.with_suffix(".json").write_text(json.dumps(card, indent=2) + "\n")
    return card


def onnx_session(path: Path, threads: int = 2):
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])


def onnx_probs(model, x_uint8: np.ndarray, threads: int = 2) -> np.ndarray:
    """Raw probabilities of an ONNX model (a path, or a session from :func:`onnx_session`)."""
    sess = model if hasattr(model, "run") else onnx_session(model, threads)
    name = sess.get_inputs()[0].name
    x = x_uint8.astype(np.float32)[..., None]
    return np.concatenate([sess.run(None, {name: x[i:i + 512]})[0] for i in range(0, len(x), 512)])


def parity(model, onnx_path: Path, faces: np.ndarray) -> dict:
    """Max |Δprobability| and top-class agreement between Keras and ONNX on ``faces``."""
    keras_p = np.asarray(model.predict(faces.astype(np.float32)[..., None], batch_size=256, verbose=0))
    onnx_p = onnx_probs(onnx_path, faces)
    return {"n": int(len(faces)), "max_abs_diff": float(np.abs(keras_p - onnx_p).max()),
            "top1_agreement": float((keras_p.argmax(1) == onnx_p.argmax(1)).mean())}


def parity_ok(check: dict, tol: float = 1e-3) -> bool:
    """Whether :func:`parity`'s figures pass: probabilities within ``tol`` and the same top class
    on 99.9% of the faces. NaN fails (it compares false with everything)."""
    return bool(check["max_abs_diff"] <= tol and check["top1_agreement"] >= 0.999)


def fit_temperature(probs: np.ndarray, y: np.ndarray) -> float:
    """The temperature T minimising the NLL of softmax(log(probs) / T) (1-D search, log grid + refine)."""
    logp = np.log(np.maximum(probs, 1e-12))

    def nll(t: float) -> float:
        z = logp / t
        z = z - z.max(1, keepdims=True)
        return float(-(z[np.arange(len(y)), y] - np.log(np.exp(z).sum(1))).mean())

    grid = np.exp(np.linspace(np.log(0.3), np.log(10.0), 71))
    best = min(grid, key=nll)
    fine = np.linspace(best * 0.93, best * 1.07, 29)
    return float(min(fine, key=nll))


def single_channel_convs(path: Path) -> list[str]:
    """Names of the Conv nodes whose weights see one input channel (the gray input layer)."""
    import onnx
    from onnx import numpy_helper

    graph = onnx.load(str(path)).graph
    shapes = {t.name: numpy_helper.to_array(t).shape for t in graph.initializer}
    return [n.name for n in graph.node
            if n.op_type == "Conv" and len(shapes.get(n.input[1], ())) == 4 and shapes[n.input[1]][1] == 1]


def quantize_int8(src: Path, dst: Path, calib: np.ndarray, method: str = "MinMax") -> Path:
    """Static int8 quantization (QDQ, per-channel weights) calibrated on real faces.

    ``method``: onnxruntime's calibration method name (MinMax, Percentile, Entropy).
    """
    import onnxruntime as ort
    from onnxruntime.quantization import (
        CalibrationDataReader,
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )
    from onnxruntime.quantization.shape_inference import quant_pre_process

    name = ort.InferenceSession(str(src), providers=["CPUExecutionProvider"]).get_inputs()[0].name
    calibrate_method = getattr(CalibrationMethod, method)

    class Reader(CalibrationDataReader):
        def __init__(self):
            self._it = iter([{name: calib[i:i + 64].astype(np.float32)[..., None]}
                             for i in range(0, len(calib), 64)])

        def get_next(self):
            return next(self._it, None)

    pre = dst.with_suffix(".pre.onnx")
    try:
        quant_pre_process(str(src), str(pre), skip_symbolic_shape=True)
        # Only the layers that carry the compute are quantized; the classifier head (MatMul, Add,
        # Softmax) stays float32 so probabilities keep full resolution (a uint8 softmax would
        # round every confidence to a multiple of 1/256). Relu is listed so the quantizer folds
        # each one into its convolution's output range instead of leaving dequantize -> Relu ->
        # quantize between layers; convolutions of the one-channel input stay float32 (measured:
        # as QLinearConv the first layer took 22% of the int8 time for 1% of the multiply-adds).
        quantize_static(str(pre), str(dst), Reader(), quant_format=QuantFormat.QDQ,
                        activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8, per_channel=True,
                        op_types_to_quantize=["Conv", "Relu", "MaxPool", "GlobalAveragePool"],
                        nodes_to_exclude=single_channel_convs(pre), calibrate_method=calibrate_method)
    finally:  # the intermediate file never outlives the export, a failed one included
        pre.unlink(missing_ok=True)
    return dst


def mirror_mean(model, x_uint8: np.ndarray) -> np.ndarray:
    """Geometric mean of the model's probabilities (path or session) for the faces and their mirror images."""
    sess = model if hasattr(model, "run") else onnx_session(model)
    from fer_core.recognizer import mirror_average

    return mirror_average(onnx_probs(sess, x_uint8), onnx_probs(sess, x_uint8[:, :, ::-1]))


#: Input blur candidates (sigma in px on the 48x48 face) tried on PublicTest.
BLUR_GRID = (0.0, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)


def fit_input_blur(path: Path, x_uint8: np.ndarray, y: np.ndarray, flip_tta: bool,
                   sigmas=BLUR_GRID) -> tuple[float, list[dict]]:
    """The input blur (``fer_core.preprocess.smooth_batch``) with the lowest NLL on (x, y).

    NLL, a proper scoring rule, is smoother in sigma than accuracy; both are returned per
    sigma so the choice can be read in the card.
    """
    from fer_core.preprocess import smooth_batch

    sess, rows = onnx_session(path), []
    for sigma in sigmas:
        xb = smooth_batch(x_uint8, sigma)
        probs = mirror_mean(sess, xb) if flip_tta else onnx_probs(sess, xb)
        nll = float(-np.log(np.maximum(probs[np.arange(len(y)), y], 1e-12)).mean())
        rows.append({"sigma": float(sigma), "accuracy": float((probs.argmax(1) == y).mean()), "nll": nll})
    return min(rows, key=lambda r: r["nll"])["sigma"], rows


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m training.export", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", required=True, nargs="+",
                   help="a .keras file saved by training.train (best.keras); several make one "
                        "ensemble model that averages their probabilities")
    p.add_argument("--out", required=True,
                   help="ONNX file to write (.onnx); its card goes beside it (.json). The shipped model is "
                        "models/fer_model.onnx: name it only to replace it")
    p.add_argument("--data", help="FER2013 CSV: parity on real faces + temperature fitted on PublicTest")
    p.add_argument("--no-flip-tta", action="store_true", help="do not average with the mirrored face at inference")
    p.add_argument("--int8", action="store_true",
                   help="ship int8: --out becomes the int8 model (calibrated on Training faces, needs "
                        "--data) and the float32 model is kept beside it as <out>.float32.onnx")
    p.add_argument("--calibration", default="MinMax", choices=["MinMax", "Percentile", "Entropy"],
                   help="int8 calibration method (default MinMax)")
    p.add_argument("--input-blur", default="auto",
                   help="Gaussian blur sigma (px) applied to faces before the model, or 'auto': the "
                        "one with the lowest PublicTest NLL (needs --data; 0 without it)")
    p.add_argument("--train-command", default="", help="the training command, recorded in the card")
    args = p.parse_args(argv)
    if args.int8 and not args.data:
        p.error("--int8 needs --data (calibration on Training faces, checks on PublicTest)")
    if args.input_blur != "auto":
        try:
            blur = float(args.input_blur)
        except ValueError:
            blur = float("nan")
        if not (math.isfinite(blur) and blur >= 0):
            p.error(f"--input-blur must be 'auto' or a number >= 0, not {args.input_blur!r}")
    problem = output_problems(Path(args.out), int8=args.int8, inputs=[Path(m) for m in args.model]
                              + ([Path(args.data)] if args.data else []))
    if problem:
        p.error(problem)
    return args


def output_problems(out: Path, int8: bool, inputs: list[Path]) -> str | None:
    """Why the export cannot write ``out``, its card (and with ``int8`` the float32 file beside
    it), or None: not an .onnx name, or a file it would write is a folder or one it reads (a
    --model, the data). A missing folder is made."""
    from fer_core.cli import output_problem

    if out.suffix.lower() != ".onnx":
        return f"--out {out}: the exported model is an .onnx file (its card goes beside it as .json)"
    written = [out, out.with_suffix(".json")] + ([out.with_name(out.stem + ".float32.onnx")] if int8 else [])
    for path in written:
        problem = output_problem(path, inputs, "--model/--data files") if path.parent.is_dir() else None
        if problem:
            return f"--out {out}: {path} {problem}"
    return None


def ship_int8(fp32: Path, out: Path, splits, calibration: str) -> dict:
    """Quantize ``fp32`` to ``out`` on 1024 Training faces; the card's int8 and float32 entries."""
    rng = np.random.default_rng(0)
    train, val = splits["Training"], splits["PublicTest"]
    calib = train.x[rng.choice(len(train), min(1024, len(train)), replace=False)]
    quantize_int8(fp32, out, calib, calibration)
    p32, p8 = onnx_probs(fp32, val.x), onnx_probs(out, val.x)
    int8 = {
        "calibration": f"{calibration}, {len(calib)} Training faces, per-channel weights; "
                       "Relu folded into the convolutions; the one-channel input convolution and the "
                       "classifier head kept float32",
        "publictest_top1_agreement_with_float32": float((p8.argmax(1) == p32.argmax(1)).mean()),
        "publictest_accuracy_float32": float((p32.argmax(1) == val.y).mean()),
        "publictest_accuracy_int8": float((p8.argmax(1) == val.y).mean()),
    }
    log.info("int8 vs float32 on PublicTest: %s", int8)
    return {"float32": {"file": fp32.name, "size_bytes": fp32.stat().st_size, "sha256": sha256(fp32)},
            "int8": int8}


def calibrate(out: Path, val, input_blur: str, flip_tta: bool) -> tuple[dict, float]:
    """Input blur (lowest PublicTest NLL, or the one given) and then the temperature, both on
    PublicTest: the card's entries and the temperature."""
    from fer_core.preprocess import smooth_batch

    # The PublicTest table is computed either way and kept in the card, so a sigma given
    # by hand can be read against it.
    best_nll, table = fit_input_blur(out, val.x, val.y, flip_tta)
    sigma = best_nll if input_blur == "auto" else float(input_blur)
    log.info("input blur on PublicTest: sigma %.2f (%s; %s)", sigma,
             "lowest NLL" if input_blur == "auto" else "given",
             ", ".join(f"{r['sigma']:.1f}: acc {r['accuracy']:.4f} nll {r['nll']:.4f}" for r in table))
    xb = smooth_batch(val.x, sigma)
    temperature = fit_temperature(mirror_mean(out, xb) if flip_tta else onnx_probs(out, xb), val.y)
    log.info("temperature fitted on PublicTest: %.3f", temperature)
    return {"input_blur_selection": table, "input_blur_sigma": sigma}, temperature


def load_export_data(data: str, int8: bool):
    """The splits of ``--data`` (parity and calibration on PublicTest, int8 calibration on
    Training), checked before anything is written; DataError when they cannot serve."""
    from training.data import DataError, load_splits

    splits = load_splits(data)
    if not len(splits["PublicTest"]):
        raise DataError(f"{data}: no PublicTest faces (the export checks parity and fits the input blur "
                        "and temperature on them)")
    if int8 and not len(splits["Training"]):
        raise DataError(f"{data}: no Training faces (--int8 calibrates the quantization on them)")
    return splits


def main(argv=None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    out = Path(args.out)
    fp32 = out.with_name(out.stem + ".float32.onnx") if args.int8 else out
    from training.data import DataError
    from training.models import ensemble

    # Everything that can fail on the inputs fails here, before a file is written.
    try:
        model = ensemble([load_core(m) for m in args.model])
        splits = load_export_data(args.data, args.int8) if args.data else None
    except (DataError, FileNotFoundError, ValueError) as exc:
        log.error("%s", exc)
        return 2
    export_onnx(model, fp32)
    folded = fold_input_scaling(fp32)
    log.info("input scaling folded into the first convolution of %d branch(es)", folded)
    extra: dict = {"train_command": args.train_command}
    temperature = 1.0
    if splits is not None:
        data_path = Path(args.data)
        extra["data_sha256"] = sha256(data_path) if data_path.is_file() else None
        val = splits["PublicTest"]
        extra["parity"] = parity(model, fp32, val.x[:1000])
        log.info("parity on %d PublicTest faces: %s", extra["parity"]["n"], extra["parity"])
        if args.int8:
            extra.update(ship_int8(fp32, out, splits, args.calibration))
        blur, temperature = calibrate(out, val, args.input_blur, not args.no_flip_tta)
        extra.update(blur)
    extra.setdefault("input_blur_sigma", 0.0 if args.input_blur == "auto" else float(args.input_blur))
    card = write_card(model, out, " + ".join(args.model), not args.no_flip_tta, temperature, **extra)
    log.info("wrote %s (%.1f kB) and %s", out, out.stat().st_size / 1024, out.with_suffix(".json"))
    if "parity" in card and not parity_ok(card["parity"]):
        log.error("ONNX output differs from Keras: %s", card["parity"])
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
