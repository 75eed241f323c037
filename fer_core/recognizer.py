"""The expression recognizer: a slim ONNX model run with onnxruntime, plus a face detector.

The model is loaded once per :class:`Recognizer`; every call classifies all the
faces it is given in one batched model call. Instances are safe to share across
threads (onnxruntime sessions are, and nothing else is mutated after construction).
"""
from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from fer_core.detect import BlazeFaceDetector, Detection, FaceDetector, default_detector
from fer_core.labels import LABELS, NUM_CLASSES
from fer_core.preprocess import INPUT_SIZE, TILT_TOLERANCE, crop_face, preprocess_batch, smooth_batch, to_gray
from fer_core.runtime import as_bgr, session_options, to_uint8

if TYPE_CHECKING:
    from fer_core.landmarks import FaceMesh, FirstPass

log = logging.getLogger(__name__)

MODELS_DIR = Path(__file__).resolve().parent.parent / "models"
DEFAULT_MODEL = MODELS_DIR / "fer_model.onnx"
#: The "Everyday faces" model (the app's sidebar, ``python -m fer_core --everyday``): the same
#: network trained 24 more epochs with the FER+ annotators' votes as its main target, for webcams,
#: classes and everyday photos, where most faces are neutral. On 13,672 real photos 75.1% right
#: (mean recall of five classes 67.3%) against 66.0% (64.7%); on FER2013 PrivateTest 68.2% against
#: 70.2%. Same size and cost (models/MODEL_CARD_everyday.md).
EVERYDAY_MODEL = MODELS_DIR / "fer_model_everyday.onnx"
#: The detector box is enlarged by this factor (about its centre) before cropping, to
#: match the framing of FER2013 faces (forehead to chin, a little background). Scale and
#: shift were chosen with benchmarks/crop_scale.py on PublicTest faces (see docs/DESIGN.md, "Crop framing").
DEFAULT_CROP_SCALE = 1.2
#: ... and its centre moved down by this fraction of the box height (negative: up), since
#: detector boxes run from the brows to the chin while FER2013 faces include the forehead.
DEFAULT_CROP_SHIFT = -0.1
#: More faces than this in one frame are ignored (largest-score first).
DEFAULT_MAX_FACES = 64


def model_label(recognizer: object) -> str:
    """How logs and reports name the model of a recognizer (or a model path): "Standard" or
    "Everyday faces" with the file name for the shipped two, the file name for others, "" if none."""
    path = getattr(recognizer, "model_path", recognizer)
    if not isinstance(path, (str, Path)):
        return ""
    path = Path(path)
    names = {DEFAULT_MODEL.resolve(): "Standard", EVERYDAY_MODEL.resolve(): "Everyday faces"}
    name = names.get(path.resolve())
    return f"{name} ({path.name})" if name else path.name


def prior_log_shift(prior: dict, strength: float, where: object = "model card") -> np.ndarray:
    """The log-probability offsets of a card's ``class_prior`` at another ``strength``:
    ``strength * (log target_prior - log model_prior)`` (training.prior, Saerens et al. 2002)."""
    if not 0.0 <= strength <= 2.0:
        raise ValueError(f"prior strength {strength} is outside [0, 2]")
    if strength == 0.0:
        return np.zeros(NUM_CLASSES)
    try:
        target = np.asarray(prior["target_prior"], np.float64)
        model = np.asarray(prior["model_prior"], np.float64)
    except KeyError:
        raise ValueError(f"{where}: no class_prior with target_prior and model_prior to scale") from None
    if target.shape != (NUM_CLASSES,) or model.shape != (NUM_CLASSES,) or (target <= 0).any() or (model <= 0).any():
        raise ValueError(f"{where}: class_prior target_prior and model_prior must be {NUM_CLASSES} positive values")
    return strength * (np.log(target) - np.log(model))


def mirror_average(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Geometric mean of two views' probabilities (a face and its mirror image), unnormalised:
    a softmax temperature or a renormalisation follows."""
    return np.exp(0.5 * (np.log(p + 1e-12) + np.log(q + 1e-12)))


@dataclass(frozen=True)
class FaceResult:
    """One face found in an image."""

    box: tuple[int, int, int, int]  # x, y, w, h in pixels of the analysed image
    probabilities: tuple[float, ...]  # 7 floats in FER2013 order (LABELS), summing to 1
    label: str
    confidence: float  # the probability of ``label``
    detector_score: float
    # Attention (fer_core.attention), only when asked for (analyze(..., attention=True)); None
    # when not computed or when the face is too small / partly outside the image (see attention_hint).
    pose: tuple[float, float, float] | None = None  # yaw, pitch, roll in degrees
    eyes_open: tuple[float, float] | None = None  # image-left eye, image-right eye, in [0, 1]
    gaze: tuple[float, float] | None = None  # iris offset in the eyes (x right, y up), half eye widths
    looking_at_camera: bool | None = None
    attention_hint: str | None = None  # why the attention fields are None although asked for

    def as_dict(self) -> dict:
        d = {"box": list(self.box), "label": self.label, "confidence": self.confidence,
             "detector_score": self.detector_score,
             "probabilities": dict(zip(LABELS, self.probabilities))}
        for key in ATTENTION_FIELDS:  # only the ones computed, so older consumers see the same keys
            value = getattr(self, key)
            if value is not None:
                d[key] = list(value) if isinstance(value, tuple) else value
        return d


#: The optional attention fields of FaceResult, in order.
ATTENTION_FIELDS = ("pose", "eyes_open", "gaze", "looking_at_camera", "attention_hint")


def _int_box(box: Sequence[float]) -> tuple[int, int, int, int]:
    x, y, w, h = (int(v) for v in box)
    return x, y, w, h


def _read_card(model_path: Path) -> dict:
    """The model card JSON next to the model (``<stem>.json``), or {} if there is none, or if it
    is not a JSON object, or if its ``sha256`` is another file's: the temperature and class prior
    of one model moved the labels of 9% of 300 real photos when read with another's weights."""
    path = model_path.with_suffix(".json")
    if not path.is_file():
        return {}
    try:
        card = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError):
        card = None
    if not isinstance(card, dict):
        log.warning("ignoring unreadable model card %s", path)
        return {}
    digest = card.get("sha256")
    if digest and digest != hashlib.sha256(model_path.read_bytes()).hexdigest():
        log.warning("ignoring the model card %s: it describes another model file (sha256 %.12s..., not this "
                    "file's); export the model again to get its own card", path, digest)
        return {}
    return card


class Recognizer:
    """Classifies expressions of face crops (:meth:`predict_proba`) or whole images (:meth:`analyze`).

    ``batch_limit``: faces per model call. Small calls keep the activations in the CPU's
    cache: with the int8 model on one thread, 32 faces cost 0.25 ms each in calls of 8 and
    0.30 ms each in one call of 32 (64 images with the mirror views).
    """

    def __init__(self, model_path: str | Path, detector: FaceDetector | None = None, *,
                 flip_tta: bool | None = None, temperature: float | None = None,
                 input_blur: float | None = None, threads: int = 1, crop_scale: float = DEFAULT_CROP_SCALE,
                 crop_shift: float = DEFAULT_CROP_SHIFT,
                 max_faces: int = DEFAULT_MAX_FACES, batch_limit: int = 8, class_prior: bool = True,
                 attention: bool = False, face_mesh: FaceMesh | None = None, align: bool = True,
                 prior_strength: float | None = None) -> None:
        import onnxruntime as ort

        self.model_path = Path(model_path)
        if not self.model_path.is_file():
            raise FileNotFoundError(f"model file not found: {self.model_path}")
        self.card = _read_card(self.model_path)
        card_labels = self.card.get("labels")
        if card_labels and list(card_labels) != list(LABELS):
            raise ValueError(f"{self.model_path}: model labels {card_labels} differ from {list(LABELS)}")
        self._session = ort.InferenceSession(str(self.model_path), session_options(threads),
                                             providers=["CPUExecutionProvider"])
        inp = self._session.get_inputs()[0]
        self._input_name = inp.name
        self._output_name = self._session.get_outputs()[0].name
        if list(inp.shape[1:]) != [INPUT_SIZE, INPUT_SIZE, 1]:
            raise ValueError(f"{self.model_path}: input shape {inp.shape}, expected (N, 48, 48, 1)")
        self.flip_tta = bool(self.card.get("flip_tta", True) if flip_tta is None else flip_tta)
        self.temperature = float(self.card.get("temperature", 1.0) if temperature is None else temperature)
        self.input_blur = float(self.card.get("input_blur_sigma", 0.0) if input_blur is None else input_blur)
        # The card's class-prior correction (training.prior): log-probability offsets that move the
        # model from the class frequencies it learned to those of everyday faces; off with class_prior=False.
        # ``prior_strength`` replaces the card's strength (0 = none, 1 = the full move to the target
        # frequencies; training.evaluate --prior-strength).
        prior = self.card.get("class_prior") or {}
        if not class_prior:
            shift = None
        elif prior_strength is None:
            shift = prior.get("log_shift")
        else:
            shift = prior_log_shift(prior, prior_strength, self.model_path)
        self.log_prior_shift = np.zeros(NUM_CLASSES) if shift is None else np.asarray(shift, np.float64)
        if self.log_prior_shift.shape != (NUM_CLASSES,):
            raise ValueError(f"{self.model_path}: class_prior.log_shift must have {NUM_CLASSES} values")
        #: The class-prior strength in use (0.0 without a correction).
        self.prior_strength = float(0.0 if shift is None else
                                    prior.get("strength", 0.0) if prior_strength is None else prior_strength)
        self._detector = detector
        #: analyze() measures pose, eyes and gaze by default (fer_core.attention); costs a mesh per face.
        self.attention = attention
        self._face_mesh = face_mesh
        self.crop_scale = crop_scale
        self.crop_shift = crop_shift
        #: analyze() turns each face upright by the detector's eye line before the model (the tilt
        #: beyond ``tilt_tolerance``), so a head tilted in the picture looks like the faces the model
        #: learned: on real photos tilted 30 deg, 49.9% against 44.7% (benchmarks/alignment.py).
        self.align = align
        #: Tilt left alone when turning faces upright (see fer_core.preprocess.TILT_TOLERANCE).
        self.tilt_tolerance = TILT_TOLERANCE
        self.max_faces = max_faces
        self.batch_limit = batch_limit

    @property
    def detector(self) -> FaceDetector:
        if self._detector is None:
            self._detector = default_detector()
        return self._detector

    @property
    def face_mesh(self) -> FaceMesh:
        """The fer_core.landmarks.FaceMesh used for attention (the shared default unless given)."""
        if self._face_mesh is None:
            from fer_core.landmarks import default_face_mesh

            self._face_mesh = default_face_mesh()
        return self._face_mesh

    # -- classification ----------------------------------------------------------------
    def _run(self, batch: np.ndarray) -> np.ndarray:
        """Raw model probabilities for an (N, 48, 48) uint8 batch, N <= batch_limit."""
        x = batch.astype(np.float32)[..., None]
        if self.flip_tta:
            x = np.concatenate([x, x[:, :, ::-1]], axis=0)
        p = self._session.run([self._output_name], {self._input_name: x})[0]
        if self.flip_tta:
            n = len(batch)
            # Geometric mean of the two views; the temperature is applied afterwards.
            return mirror_average(p[:n], p[n:])
        return p

    def predict_proba(self, faces: np.ndarray | Sequence[np.ndarray],
                      source_sides: int | Sequence[int] | np.ndarray | None = None) -> np.ndarray:
        """Class probabilities (N, 7) float32, FER2013 order, each row summing to 1.

        ``faces``: an (N, 48, 48) uint8 array of FER2013-style gray crops, or a list of
        crops of any size and colour (BGR, gray, BGRA), which are preprocessed first.
        ``source_sides``: for an array of crops already made 48x48, the side in pixels each
        was cut at; the card's input blur is applied only to faces cut at 48 px or more
        (enlarged faces are soft already: measured on PublicTest faces shrunk to 32 px and
        enlarged back bilinearly, the blur cost 2.2 points there; enlarged bicubically, as now,
        forcing it on 24-40 px faces with ``source_sides=48`` moved them 0.1 point at most). A list
        of crops gives its own sizes. One crop alone, (H, W) or (H, W, 1 / 3 / 4), is refused
        (ValueError): read as a batch, its rows were taken for H crops.
        """
        if isinstance(faces, np.ndarray) and (faces.ndim == 2 or (faces.ndim == 3 and faces.shape[2] in (1, 3, 4))):
            raise ValueError(f"predict_proba takes several crops, got one image of shape {faces.shape}: "
                             f"give a list of crops ([crop]) or an (N, {INPUT_SIZE}, {INPUT_SIZE}) array")
        if isinstance(faces, np.ndarray) and faces.ndim == 3 and faces.shape[1:] == (INPUT_SIZE, INPUT_SIZE):
            sides = None if source_sides is None else np.asarray(source_sides)
        else:
            faces = list(faces)
            sides = np.array([max(np.asarray(f).shape[:2]) for f in faces]) if source_sides is None \
                else np.asarray(source_sides)
        batch = preprocess_batch(faces)
        if len(batch) == 0:
            return np.zeros((0, NUM_CLASSES), np.float32)
        if sides is not None and sides.ndim == 0:  # one side for every face, as the signature allows
            sides = np.full(len(batch), int(sides))
        if sides is not None and len(sides) != len(batch):
            raise ValueError(f"source_sides has {len(sides)} entries for {len(batch)} faces")
        batch = smooth_batch(batch, self.input_blur, None if sides is None else sides >= INPUT_SIZE)
        out = np.concatenate([self._run(batch[i:i + self.batch_limit])
                              for i in range(0, len(batch), self.batch_limit)])
        logits = np.log(np.maximum(out, 1e-12)) / self.temperature + self.log_prior_shift
        logits -= logits.max(axis=1, keepdims=True)
        e = np.exp(logits)
        return (e / e.sum(axis=1, keepdims=True)).astype(np.float32)

    # -- whole images -------------------------------------------------------------------
    def crop_faces(self, gray: np.ndarray, boxes: Sequence[Sequence[float]],
                   eyes: Sequence[Any] | None = None) -> list[np.ndarray]:
        """48x48 model inputs for each (x, y, w, h) box: squares enlarged by ``crop_scale`` and
        moved by ``crop_shift``, turned upright by the face's eye line where ``eyes`` gives one
        per box (two (x, y) points or None; see :func:`fer_core.preprocess.crop_face`)."""
        if eyes is None:
            eyes = [None] * len(boxes)
        return [crop_face(gray, box, self.crop_scale, self.crop_shift, e, self.tilt_tolerance)
                for box, e in zip(boxes, eyes)]

    def analyze(self, image_bgr: np.ndarray, max_faces: int | None = None,
                attention: bool | None = None, *, iris: bool = True,
                set_aside: list[tuple[int, int, int, int]] | None = None,
                detect: Callable[[np.ndarray], list[Detection]] | None = None) -> list[FaceResult]:
        """Detect every face in a BGR (or gray / BGRA) image and classify them in one batch.

        Returns one :class:`FaceResult` per face, best detector score first; ``[]`` when
        there is no face. ``attention`` (default: the constructor's): also fill pose,
        eyes_open, gaze and looking_at_camera from a face mesh (about a mesh and an iris
        pass per face; see docs/ATTENTION.md). ``iris=False``: the pose only, without the
        iris pass (eyes_open, gaze and looking_at_camera stay None); for callers that keep
        each face's last eye measurement, as the live page does. ``set_aside``: a list that
        gets the ``(x, y, w, h)`` boxes found but not returned: detections the detector's face
        check doubted (``BlazeFaceDetector(face_check=True)``) and those past ``max_faces``, for
        callers that pixelate every possible face when sharing a frame. ``detect``: finds the
        faces instead of the recognizer's detector (a stream's ``fer_core.detect.RollingPasses``).
        """
        img = np.asarray(image_bgr)
        if img.ndim < 2 or img.size == 0:
            raise ValueError(f"expected an image array, got shape {img.shape}")
        # One 8-bit picture for the detector and the model: a float [0, 1] or 16-bit frame once
        # reached the detector nearly black (no face found), while the model saw it scaled.
        img = to_uint8(img)
        gray = to_gray(img)
        bgr = as_bgr(img)
        limit = self.max_faces if max_faces is None else max_faces
        if detect is not None:
            found = detect(bgr)
            detections = found[:limit]
            if set_aside is not None:
                set_aside.extend(_int_box(d.box) for d in found[limit:])
        elif set_aside is None:
            detections = self.detector.detect(bgr)[:limit]
        else:
            doubted: list[Detection] = []
            found = (self.detector.detect(bgr, set_aside=doubted) if isinstance(self.detector, BlazeFaceDetector)
                     else self.detector.detect(bgr))
            detections = found[:limit]
            set_aside.extend(_int_box(d.box) for d in (*found[limit:], *doubted))
        if not detections:
            return []
        boxes = [d.box for d in detections]
        sides = [max(int(round(max(bw, bh) * self.crop_scale)), 2) for (_, _, bw, bh) in boxes]
        eyes = [d.eyes if self.align else None for d in detections]
        probs = self.predict_proba(np.stack(self.crop_faces(gray, boxes, eyes)), source_sides=sides)
        results = []
        for det, p in zip(detections, probs):
            k = int(p.argmax())
            results.append(FaceResult(box=_int_box(det.box),
                                      probabilities=tuple(float(v) for v in p),
                                      label=LABELS[k], confidence=float(p[k]),
                                      detector_score=float(det.score)))
        if self.attention if attention is None else attention:
            results = self._with_attention(bgr, results, iris=iris, firsts=[d.mesh for d in detections])
        return results

    def _with_attention(self, bgr: np.ndarray, results: list[FaceResult], iris: bool = True,
                        firsts: Sequence[FirstPass | None] | None = None) -> list[FaceResult]:
        """The results with their attention fields filled (or a hint why not); ``iris=False``:
        the pose only (no iris pass). ``firsts``: the detector's face-check mesh passes, per result."""
        import dataclasses

        fields = self._attention_fields(bgr, [r.box for r in results], iris, firsts)
        return [dataclasses.replace(r, **f) for r, f in zip(results, fields)]

    def measure_attention(self, image_bgr: np.ndarray, boxes: Sequence[Sequence[float]], *,
                          iris: bool = True) -> list[dict[str, Any]]:
        """The attention fields of the faces at ``boxes`` (``(x, y, w, h)``, as
        :attr:`FaceResult.box`) of ``image_bgr``, one dict per box with the :data:`ATTENTION_FIELDS`
        that were measured: what ``analyze(attention=True, iris=iris)`` gives those faces, for
        callers that measure some of a frame's faces only (the live page on a call's gallery)."""
        img = to_uint8(np.asarray(image_bgr))
        return self._attention_fields(as_bgr(img), [_int_box(b) for b in boxes], iris)

    def _attention_fields(self, bgr: np.ndarray, boxes: Sequence[tuple[int, int, int, int]],
                          iris: bool, firsts: Sequence[FirstPass | None] | None = None) -> list[dict[str, Any]]:
        from fer_core.attention import attention as measure
        from fer_core.attention import measure_pose

        mesh_model = self.face_mesh
        h, w = bgr.shape[:2]
        hints = [mesh_model.box_problem(box, w, h) for box in boxes]
        # The crops are turned to RGB one by one (cheaper than the whole frame); the faces' iris
        # passes run in one batch, and a face the detector's check ran the mesh on starts from it.
        meshes = mesh_model.landmarks_many(bgr, list(boxes), iris=iris,
                                           first=None if firsts is None else list(firsts))
        out: list[dict[str, Any]] = []
        for hint, mesh in zip(hints, meshes):
            if mesh is None:
                out.append({"attention_hint": hint or "no face mesh found in this box"})
            elif not iris:
                out.append({"pose": measure_pose(mesh)})
            else:
                a = measure(mesh)
                out.append({"pose": a.pose, "eyes_open": a.eyes_open, "gaze": a.gaze,
                            "looking_at_camera": a.looking_at_camera})
        return out


def load_recognizer(model_path: str | Path | None = None, **kwargs: Any) -> Recognizer:
    """Load a recognizer: the shipped model by default, or the ONNX file at ``model_path``.

    Its detector, unless ``detector=`` says otherwise, is the live page's (one pass, for video
    frames); photos get the command line's and the Photo page's with
    ``detector=fer_core.detect.still_detector()``, which finds faces of a quarter to a tenth of the
    picture too."""
    return Recognizer(DEFAULT_MODEL if model_path is None else model_path, **kwargs)
