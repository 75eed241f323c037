"""face-api.js's expression net as a distillation teacher (soft targets for FER2013's faces).

The expression net of the npm package ``@vladmandic/face-api`` (MIT; its ``model/`` folder
ships the weights) runs in node on tfjs's WebAssembly backend, which works offline once
``npm ci`` has run in this folder. Only the expression net runs, no detector: FER2013's faces
are crops already, as in DATA.md's measurement ("whole stored image to the classifier").

    python -m tools.faceapi_teacher --data ../shared/data/fer2013.csv.gz --out ~/runs/faceapi/train.npz
    python -m tools.faceapi_teacher --data ../shared/data/fer2013.csv.gz --split PublicTest
    python -m tools.faceapi_teacher --folder ../shared/data/muxspace

The first writes ``index`` (the faces' source rows) and ``probs`` (N x 7, LABELS order) for
``python -m training.train --teacher train.npz``; the others print accuracy and recalls.
Each face goes through face-api's own input path in ``predict.js`` (zero-padded to a
centred square, resized bilinearly to 112x112, gray repeated to 3 channels), so the
probabilities are those of the library as shipped.
"""
from __future__ import annotations

import json
import shutil
import struct
import subprocess
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np

from fer_core.labels import LABELS, NUM_CLASSES

HERE = Path(__file__).resolve().parent
SCRIPT = HERE / "predict.js"
PACKAGE = "@vladmandic/face-api"
#: face-api's output order (``FACE_EXPRESSION_LABELS`` in its src/faceExpressionNet/FaceExpressions.ts).
FACEAPI_LABELS: tuple[str, ...] = ("neutral", "happy", "sad", "angry", "fearful", "disgusted", "surprised")
#: Each of face-api's labels -> our class name.
FACEAPI_TO_OURS = {"neutral": "Neutral", "happy": "Happy", "sad": "Sad", "angry": "Angry",
                   "fearful": "Fear", "disgusted": "Disgust", "surprised": "Surprise"}
INSTALL_COMMAND = f"npm ci --prefix {HERE}"
_HEADER = struct.Struct("<4I")

#: A probability source: (N, H, W) or (N, H, W, 3) uint8 faces -> (N, 7) float32 in LABELS order.
ProbSource = Callable[[np.ndarray], np.ndarray]


def column_order(labels: Iterable[str] = FACEAPI_LABELS) -> np.ndarray:
    """For each of our LABELS, the column of face-api's output (in ``labels`` order) holding it."""
    labels = list(labels)
    ours = [FACEAPI_TO_OURS[name] for name in labels]
    if sorted(ours) != sorted(LABELS):
        raise ValueError(f"face-api labels {labels} do not cover {LABELS} once each")
    return np.array([ours.index(name) for name in LABELS], np.int64)


def to_our_order(probs: np.ndarray, labels: Iterable[str] = FACEAPI_LABELS) -> np.ndarray:
    """Reorder (N, 7) probabilities from face-api's label order to LABELS order."""
    return np.ascontiguousarray(np.asarray(probs, np.float32)[:, column_order(labels)])


def node_modules_ready() -> bool:
    return (HERE / "node_modules" / PACKAGE / "model").is_dir() and (
        HERE / "node_modules" / "@tensorflow" / "tfjs-backend-wasm").is_dir()


def ensure_node_modules(install: bool = True) -> None:
    """Install the pinned npm packages (``npm ci``) if they are missing; needs the npm registry once."""
    if node_modules_ready():
        return
    if shutil.which("node") is None or shutil.which("npm") is None:
        raise RuntimeError(f"node and npm are needed (node >= 18); then run: {INSTALL_COMMAND}")
    if not install:
        raise RuntimeError(f"{HERE / 'node_modules'} is missing; run: {INSTALL_COMMAND}")
    print(f"installing the pinned npm packages: {INSTALL_COMMAND}", flush=True)
    subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=HERE, check=True)
    if not node_modules_ready():
        raise RuntimeError(f"npm ci ran but {PACKAGE} is still missing; run: {INSTALL_COMMAND}")


def node_info() -> dict:
    """Versions, backend and label order reported by the node script (``predict.js --info``)."""
    out = subprocess.run(["node", str(SCRIPT), "--info"], cwd=HERE, check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


class FaceApiWorker:
    """One long-lived ``node predict.js`` process; :meth:`predict` sends a batch, returns LABELS-order probs.

    Use as a context manager. Not thread-safe (one pipe)."""

    def __init__(self) -> None:
        self.info = node_info()
        self._columns = column_order(self.info["labels"])
        self._proc = subprocess.Popen(["node", str(SCRIPT)], cwd=HERE, stdin=subprocess.PIPE,
                                      stdout=subprocess.PIPE)

    def predict(self, faces: np.ndarray) -> np.ndarray:
        faces = np.ascontiguousarray(faces, np.uint8)
        if faces.ndim == 3:
            faces = faces[..., None]
        if faces.ndim != 4 or faces.shape[-1] not in (1, 3):
            raise ValueError(f"faces must be (N, H, W) gray or (N, H, W, 3) RGB, got {faces.shape}")
        if len(faces) == 0:
            return np.zeros((0, NUM_CLASSES), np.float32)
        assert self._proc.stdin is not None and self._proc.stdout is not None
        try:
            self._proc.stdin.write(_HEADER.pack(*faces.shape) + faces.tobytes())
            self._proc.stdin.flush()
            want = len(faces) * NUM_CLASSES * 4
            raw = self._proc.stdout.read(want)
        except BrokenPipeError:
            raw = b""
        if len(raw) != want:
            raise RuntimeError(f"node predict.js stopped (exit code {self._proc.poll()}); see its message above")
        probs = np.frombuffer(raw, "<f4").reshape(len(faces), NUM_CLASSES)
        return np.ascontiguousarray(probs[:, self._columns], np.float32)

    def close(self) -> None:
        if self._proc.poll() is None:
            try:
                assert self._proc.stdin is not None
                self._proc.stdin.write(_HEADER.pack(0, 0, 0, 0))
                self._proc.stdin.close()
            except (BrokenPipeError, OSError):
                pass
            try:
                self._proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self._proc.kill()

    def __enter__(self) -> FaceApiWorker:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def soft_targets(faces: np.ndarray, source: ProbSource, chunk: int = 256, progress: bool = True) -> np.ndarray:
    """(N, 7) probabilities of ``source`` for ``faces``, in chunks, with a progress bar."""
    from tqdm import tqdm

    out = np.empty((len(faces), NUM_CLASSES), np.float32)
    with tqdm(total=len(faces), unit="face", disable=not progress) as bar:
        for start in range(0, len(faces), chunk):
            batch = faces[start:start + chunk]
            out[start:start + len(batch)] = source(batch)
            bar.update(len(batch))
    return out


def write_teacher_npz(path: str | Path, index: np.ndarray, probs: np.ndarray, meta: dict) -> Path:
    """Save ``index`` and ``probs`` (the two arrays ``training.train.crossfit_probs`` reads) plus
    string metadata, atomically (a partial file never has the final name)."""
    index = np.asarray(index, np.int64)
    probs = np.asarray(probs, np.float32)
    if probs.shape != (len(index), NUM_CLASSES):
        raise ValueError(f"probs has shape {probs.shape}, expected ({len(index)}, {NUM_CLASSES})")
    if len(np.unique(index)) != len(index):
        raise ValueError("index holds a source row twice")
    if not np.isfinite(probs).all():
        raise ValueError("probs holds NaN or inf")
    path = Path(path).expanduser()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part.npz")
    extra = {f"meta_{k}": np.array(str(v)) for k, v in meta.items()}
    np.savez(tmp, index=index, probs=probs, labels=np.array(LABELS), **extra)
    tmp.replace(path)
    return path


def recall_report(probs: np.ndarray, y: np.ndarray) -> dict:
    """Accuracy, per-class recall and the mean recall over Angry, Happy, Sad, Surprise, Neutral
    (DATA.md's real-photo figure; Disgust and Fear are too small there)."""
    pred = probs.argmax(axis=1)
    recall = {LABELS[c]: float((pred[y == c] == c).mean()) if (y == c).any() else float("nan")
              for c in range(NUM_CLASSES)}
    five = ("Angry", "Happy", "Sad", "Surprise", "Neutral")
    return {"n": int(len(y)), "accuracy": float((pred == y).mean()), "recall": recall,
            "mean_recall_5": float(np.nanmean([recall[k] for k in five])),
            "balanced_accuracy": float(np.nanmean(list(recall.values())))}
