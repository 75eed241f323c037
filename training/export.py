"""Export a trained Keras model to ONNX (run by onnxruntime, no TensorFlow needed) and check parity.

Example::

    python -m training.export --model ~/runs/c32/best.keras --out models/fer_model.onnx \
        --data ../shared/data/fer2013.csv.gz

With ``--data``, parity is checked on real PublicTest faces and the softmax temperature
is fitted on PublicTest (used by ``fer_core`` so confidences are calibrated). ``--int8``
also writes a statically quantized variant calibrated on real training faces.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import logging
import sys
from pathlib import Path

import numpy as np

log = logging.getLogger("training.export")


def sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def load_core(path: str | Path):
    """Load a saved model; unwrap the augmentation wrapper if the file holds the training model."""
    import keras

    model = keras.saving.load_model(str(path), compile=False)
    for layer in model.layers:
        if isinstance(layer, keras.Model) and layer.name.startswith("fernet"):
            return layer
    return model


def export_onnx(model, out: Path) -> Path:
    out.parent.mkdir(parents=True, exist_ok=True)
    model(np.zeros((1, 48, 48, 1), np.float32))  # a loaded model must be called once before export
    model.export(str(out), format="onnx", verbose=False)
    return out


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


def onnx_probs(path: Path, x_uint8: np.ndarray, threads: int = 2) -> np.ndarray:
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    sess = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    name = sess.get_inputs()[0].name
    x = x_uint8.astype(np.float32)[..., None]
    return np.concatenate([sess.run(None, {name: x[i:i + 512]})[0] for i in range(0, len(x), 512)])


def parity(model, onnx_path: Path, faces: np.ndarray) -> dict:
    """Max |Δprobability| and top-class agreement between Keras and ONNX on ``faces``."""
    keras_p = np.asarray(model.predict(faces.astype(np.float32)[..., None], batch_size=256, verbose=0))
    onnx_p = onnx_probs(onnx_path, faces)
    return {"n": int(len(faces)), "max_abs_diff": float(np.abs(keras_p - onnx_p).max()),
            "top1_agreement": float((keras_p.argmax(1) == onnx_p.argmax(1)).mean())}


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


def quantize_int8(src: Path, dst: Path, calib: np.ndarray) -> Path:
    """Static int8 quantization (QDQ) calibrated on real faces."""
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    import onnxruntime as ort

    name = ort.InferenceSession(str(src), providers=["CPUExecutionProvider"]).get_inputs()[0].name

    class Reader(CalibrationDataReader):
        def __init__(self):
            self._it = iter([{name: calib[i:i + 64].astype(np.float32)[..., None]}
                             for i in range(0, len(calib), 64)])

        def get_next(self):
            return next(self._it, None)

    pre = dst.with_suffix(".pre.onnx")
    quant_pre_process(str(src), str(pre), skip_symbolic_shape=True)
    quantize_static(str(pre), str(dst), Reader(), quant_format=QuantFormat.QDQ,
                    activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8, per_channel=True)
    pre.unlink(missing_ok=True)
    return dst


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m training.export", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", required=True, help="a .keras file saved by training.train (best.keras)")
    p.add_argument("--out", default="models/fer_model.onnx", help="ONNX file to write; its card goes beside it (.json)")
    p.add_argument("--data", help="FER2013 CSV: parity on real faces + temperature fitted on PublicTest")
    p.add_argument("--no-flip-tta", action="store_true", help="do not average with the mirrored face at inference")
    p.add_argument("--int8", action="store_true", help="also write <out>.int8.onnx, calibrated on Training faces")
    p.add_argument("--train-command", default="", help="the training command, recorded in the card")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")

    out = Path(args.out)
    model = load_core(args.model)
    export_onnx(model, out)
    extra: dict = {"train_command": args.train_command}
    temperature = 1.0
    if args.data:
        from training.data import load_splits

        data_path = Path(args.data)
        splits = load_splits(data_path)
        extra["data_sha256"] = sha256(data_path) if data_path.is_file() else None
        val = splits["PublicTest"]
        extra["parity"] = parity(model, out, val.x[:1000])
        log.info("parity on %d PublicTest faces: %s", extra["parity"]["n"], extra["parity"])
        plain = probs = onnx_probs(out, val.x)
        if not args.no_flip_tta:
            flipped = onnx_probs(out, val.x[:, :, ::-1])
            probs = np.exp(0.5 * (np.log(probs + 1e-12) + np.log(flipped + 1e-12)))
        temperature = fit_temperature(probs, val.y)
        log.info("temperature fitted on PublicTest: %.3f", temperature)
        if args.int8:
            rng = np.random.default_rng(0)
            calib = splits["Training"].x[rng.choice(len(splits["Training"]), 1024, replace=False)]
            q = quantize_int8(out, out.with_name(out.stem + ".int8.onnx"), calib)
            qp = onnx_probs(q, val.x)
            extra["int8"] = {"file": q.name, "size_bytes": q.stat().st_size, "sha256": sha256(q),
                            "publictest_top1_agreement_with_float32": float(
                                (qp.argmax(1) == plain.argmax(1)).mean())}
    card = write_card(model, out, args.model, not args.no_flip_tta, temperature, **extra)
    log.info("wrote %s (%.1f kB) and %s", out, out.stat().st_size / 1024, out.with_suffix(".json"))
    if "parity" in card and (card["parity"]["max_abs_diff"] > 1e-3 or card["parity"]["top1_agreement"] < 0.999):
        log.error("ONNX output differs from Keras: %s", card["parity"])
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
