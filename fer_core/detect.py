"""Face detection behind a small interface, so another detector can be added.

A detector takes a BGR uint8 image and returns :class:`Detection` objects with
pixel boxes clipped to the image, best score first.

Two implementations:

* :class:`BlazeFaceDetector`: MediaPipe's BlazeFace (short- or full-range), converted
  to ONNX by ``tools/convert_blazeface.py`` and run with onnxruntime. Anchor
  generation, box decoding and weighted non-maximum suppression are done here in
  numpy. Optionally a second, high-resolution pass on large images finds the small
  faces of a video-call gallery.
* :class:`HaarDetector`: OpenCV 4.x Haar cascade (no model file of our own).

Use :func:`default_detector` for the shared default (live frames), :func:`camera_detector` for
the live page's camera (the default, but an HD frame detected at a working size, and a middle pass
where the default finds no face),
:func:`still_detector` for the one photos and video files get (a middle pass more),
:func:`load_detector` to build one by name, :data:`DETECTORS` / :func:`available_detectors` to
list the names. A live stream's detection keeps a little state of its own: :class:`RollingPasses`
(a shared screen's high-resolution stripes, one a frame) and :class:`MiddleFirst` (the camera's
middle pass first while the stream's faces are that pass's alone).
"""
from __future__ import annotations

import abc
import dataclasses
import functools
import logging
import math
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from fer_core.runtime import as_bgr, session_options

if TYPE_CHECKING:
    import onnxruntime as ort

    from fer_core.landmarks import FirstPass

log = logging.getLogger(__name__)

#: Where the converted detector models live; override with the environment variable.
MODEL_DIR_ENV = "FER_DETECTOR_DIR"
DEFAULT_MODEL_DIR = Path(__file__).resolve().parent.parent / "models" / "detector"


@dataclass(frozen=True)
class Detection:
    box: tuple[int, int, int, int]  # x, y, w, h in pixels
    score: float
    #: The two eye centres in image pixels, (x, y) each: first the eye on the image's left (the
    #: subject's right eye in an unmirrored photo), then the other. ``None`` where the detector
    #: gives no eyes (the Haar cascade); the face crop is then not turned upright.
    eyes: tuple[tuple[float, float], tuple[float, float]] | None = None
    #: The face mesh's pass on this box's upright crop when the face check ran one (a weak
    #: detection it kept), for the attention's mesh to start from (``Recognizer.analyze``); valid
    #: for the image the detection was made on only.
    mesh: FirstPass | None = field(default=None, compare=False, repr=False)


class FaceDetector(abc.ABC):
    """Base class: implement :meth:`detect`. Instances must be safe to share across threads."""

    name: str = "detector"

    @abc.abstractmethod
    def detect(self, image_bgr: np.ndarray) -> list[Detection]:
        """All faces in ``image_bgr`` (H, W, 3 uint8), best score first."""


#: The most detections a detector returns: a guard against pathological pictures, not a limit on
#: crowds. It was 100, and the faces past it of an 11 x 11 gallery were then not even set aside
#: for pixelation (``Recognizer.analyze(set_aside=...)``): 21 of 121 faces stayed visible in a
#: copy made for sharing. The recognizer analyses at most its own ``max_faces`` (64) of them.
MAX_DETECTIONS = 1000


def _clip_boxes(boxes_xyxy: np.ndarray, scores: np.ndarray, width: int, height: int,
                max_faces: int) -> list[Detection]:
    """Round and clip (N, 4) float x0,y0,x1,y1 boxes; drop empty ones; best score first.

    Rows with at least 8 columns carry the two eyes after the box (x, y, x, y), kept unclipped.
    """
    order = np.argsort(-scores, kind="stable")
    out: list[Detection] = []
    for i in order:
        x0, y0, x1, y1 = boxes_xyxy[i, :4]
        ix0 = int(min(max(round(float(x0)), 0), width))
        iy0 = int(min(max(round(float(y0)), 0), height))
        ix1 = int(min(max(round(float(x1)), 0), width))
        iy1 = int(min(max(round(float(y1)), 0), height))
        if ix1 - ix0 < 1 or iy1 - iy0 < 1:
            continue
        row = boxes_xyxy[i]
        eyes = None
        if len(row) >= 8:
            eyes = ((float(row[4]), float(row[5])), (float(row[6]), float(row[7])))
        out.append(Detection(box=(ix0, iy0, ix1 - ix0, iy1 - iy0), score=float(scores[i]), eyes=eyes))
        if len(out) >= max_faces:
            break
    return out


# --------------------------------------------------------------------------------------
# BlazeFace: anchors, decoding, weighted NMS
# --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class BlazeFaceVariant:
    """What differs between the BlazeFace models (MediaPipe's graph options)."""

    filename: str
    input_size: int  # the square input the model was trained at
    strides: tuple[int, ...]  # one per SSD layer
    #: MediaPipe's interpolated_scale_aspect_ratio > 0: one extra anchor per layer and cell.
    interpolated_anchor: bool
    score_threshold: float  # MediaPipe's min_score_thresh for this model
    #: Face height (tensor pixels, brow to chin) the high-resolution pass aims for: on the
    #: benchmark's galleries recall reaches ~97 % from 22 px (short) / 30 px (full).
    min_face_px: int
    #: Tensor sides must be a multiple of this (the deepest feature map's stride), so
    #: that the model's explicit 'same' paddings stay valid at other input sizes.
    align: int


BLAZEFACE_VARIANTS: dict[str, BlazeFaceVariant] = {
    # face_detection_short_range.pbtxt: 128x128, strides 8,16,16,16, 2 anchors per layer.
    "short": BlazeFaceVariant("blazeface_short.onnx", 128, (8, 16, 16, 16), True, 0.5, 24, 16),
    # face_detection_full_range.pbtxt: 192x192, one layer of stride 4, 1 anchor per cell.
    "full": BlazeFaceVariant("blazeface_full.onnx", 192, (4,), False, 0.6, 32, 32),
}


@functools.lru_cache(maxsize=32)
def ssd_anchor_centers(height: int, width: int, strides: tuple[int, ...],
                       interpolated_anchor: bool, offset: float = 0.5) -> np.ndarray:
    """Anchor centres (N, 2) as x, y in tensor pixels, in the model's output order.

    Follows the rules of MediaPipe's SSD anchor calculator with ``fixed_anchor_size``
    (every anchor is 1x1 in normalised units, so only the centres matter) and one
    aspect ratio: consecutive layers with the same stride share one feature map, whose
    cells each get one anchor per layer (two when ``interpolated_anchor``), cells in
    row-major order. The returned array is read-only (it is cached and shared).
    """
    per_layer = 2 if interpolated_anchor else 1
    parts = []
    i = 0
    while i < len(strides):
        stride = strides[i]
        n_layers = 0
        while i < len(strides) and strides[i] == stride:
            n_layers += 1
            i += 1
        fh, fw = math.ceil(height / stride), math.ceil(width / stride)
        ys, xs = np.meshgrid((np.arange(fh) + offset) / fh * height,
                             (np.arange(fw) + offset) / fw * width, indexing="ij")
        centres = np.stack([xs.ravel(), ys.ravel()], axis=1)
        parts.append(np.repeat(centres, n_layers * per_layer, axis=0))
    anchors = np.concatenate(parts).astype(np.float32)
    anchors.setflags(write=False)
    return anchors


def decode_boxes(regressors: np.ndarray, anchors: np.ndarray) -> np.ndarray:
    """(N, 8) x0, y0, x1, y1 boxes and the two eyes (x, y, x, y) in tensor pixels from
    BlazeFace regressors.

    The first four regressor values are the box centre offset and the box size in
    tensor pixels (MediaPipe's ``reverse_output_order``: x, y, w, h; the scales equal
    the tensor size). The 12 values after them are six keypoints as offsets from the
    anchor: the subject's right eye, left eye, nose tip, mouth, right and left ear. The
    two eyes are kept (for turning the face upright); the rest are unused.
    """
    cx = anchors[:, 0] + regressors[:, 0]
    cy = anchors[:, 1] + regressors[:, 1]
    half_w = 0.5 * regressors[:, 2]
    half_h = 0.5 * regressors[:, 3]
    eyes = [anchors[:, 0] + regressors[:, 4], anchors[:, 1] + regressors[:, 5],
            anchors[:, 0] + regressors[:, 6], anchors[:, 1] + regressors[:, 7]]
    return np.stack([cx - half_w, cy - half_h, cx + half_w, cy + half_h, *eyes], axis=1)


def iou_one_to_many(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """Intersection over union of one x0,y0,x1,y1 box with each of (N, 4) boxes."""
    ix0 = np.maximum(box[0], boxes[:, 0])
    iy0 = np.maximum(box[1], boxes[:, 1])
    ix1 = np.minimum(box[2], boxes[:, 2])
    iy1 = np.minimum(box[3], boxes[:, 3])
    inter = np.clip(ix1 - ix0, 0, None) * np.clip(iy1 - iy0, 0, None)
    area = max(box[2] - box[0], 0) * max(box[3] - box[1], 0)
    areas = np.clip(boxes[:, 2] - boxes[:, 0], 0, None) * np.clip(boxes[:, 3] - boxes[:, 1], 0, None)
    union = area + areas - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0)


def weighted_nms(boxes: np.ndarray, scores: np.ndarray, iou_threshold: float,
                 max_out: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Weighted non-maximum suppression (BlazeFace's blending variant).

    Repeatedly takes the best remaining box and every remaining box overlapping it by
    more than ``iou_threshold`` (IoU); the cluster becomes one box, the score-weighted
    mean of its members, keeping the best member's score. Returns (boxes, scores) of
    the clusters, best first.
    """
    order = np.argsort(-scores, kind="stable")
    boxes, scores = boxes[order], scores[order]
    keep_boxes, keep_scores = [], []
    while len(boxes):
        overlap = iou_one_to_many(boxes[0], boxes)
        member = overlap > iou_threshold
        member[0] = True
        w = scores[member][:, None]
        keep_boxes.append((boxes[member] * w).sum(axis=0) / w.sum())
        keep_scores.append(scores[0])
        boxes, scores = boxes[~member], scores[~member]
        if max_out is not None and len(keep_boxes) >= max_out:
            break
    if not keep_boxes:
        return np.zeros((0, 4), np.float32), np.zeros((0,), np.float32)
    return np.asarray(keep_boxes, np.float32), np.asarray(keep_scores, np.float32)


@dataclass(frozen=True)
class View:
    """One model pass over an image: the whole image resized by ``scale`` to (rw, rh)
    and placed at (pad_x, pad_y) in a zero (black) tensor of ``tensor_hw`` (H, W).

    A stripe of a high-resolution pass (:func:`_stripe_views`) holds only part of the resized
    image: the tensor's top-left corner is the resized image's pixel ``origin`` (x, y), and
    only candidates whose box centre lies in ``own`` (x0, y0, x1, y1, resized-image pixels,
    half-open) are kept, so that a face in the overlap of two stripes counts once."""

    scale: float
    rw: int
    rh: int
    pad_x: int
    pad_y: int
    tensor_hw: tuple[int, int]
    origin: tuple[int, int] = (0, 0)
    own: tuple[float, float, float, float] | None = None


#: Share of the tensor's side the whole image fills in the close-up retry (BlazeFaceDetector.detect):
#: a black margin of a quarter of the image's long side on every side.
CLOSE_UP_FILL = 1.0 / 1.5


def _letterbox_view(width: int, height: int, size: int, fill: float = 1.0) -> View:
    """The image fitted into ``fill`` of a size x size tensor, aspect ratio kept, centred (as
    MediaPipe for ``fill`` 1)."""
    scale = size * fill / max(width, height)
    rw, rh = max(1, min(size, round(width * scale))), max(1, min(size, round(height * scale)))
    return View(scale, rw, rh, (size - rw) // 2, (size - rh) // 2, (size, size))


def _scaled_view(width: int, height: int, scale: float, align: int) -> View:
    """The image resized by ``scale``, padded right and below to multiples of ``align``."""
    rw, rh = max(1, round(width * scale)), max(1, round(height * scale))
    tw, th = -(-rw // align) * align, -(-rh // align) * align
    return View(scale, rw, rh, 0, 0, (th, tw))


def _stripe_views(view: View, max_pixels: int, overlap: int, align: int) -> list[View]:
    """``view`` cut into the fewest overlapping stripes along its tensor's long side whose
    tensors have at most ``max_pixels`` each (``[view]`` when it already fits).

    Consecutive stripes overlap by at least ``overlap`` tensor pixels and each owns the
    candidates centred on its side of the middle of an overlap: a face no larger than the
    overlap lies wholly inside the stripe that owns its centre, so it is found as in the
    whole pass and once. Stripe lengths are multiples of ``align``. The passes' memory goes
    with their pixels (the model is fully convolutional), so the peak is one stripe's.
    """
    th, tw = view.tensor_hw
    if th * tw <= max_pixels:
        return [view]
    horizontal = tw >= th  # stripes side by side across the long side
    size, across = (view.rw, th) if horizontal else (view.rh, tw)  # resized image along the cut; tensor across
    n, stripe = 1, size
    while stripe * across > max_pixels and stripe > overlap + align:
        n += 1
        stripe = -(-(size + (n - 1) * overlap) // n)
        stripe = -(-stripe // align) * align
    if n == 1 or stripe >= size:
        return [view]
    starts = [round(i * (size - stripe) / (n - 1)) for i in range(n)]
    cuts = [-math.inf] + [(starts[i + 1] + starts[i] + stripe) / 2.0 for i in range(n - 1)] + [math.inf]
    out = []
    for i, start in enumerate(starts):
        if horizontal:
            out.append(View(view.scale, view.rw, view.rh, 0, 0, (th, stripe), (start, 0),
                            (cuts[i], -math.inf, cuts[i + 1], math.inf)))
        else:
            out.append(View(view.scale, view.rw, view.rh, 0, 0, (stripe, tw), (0, start),
                            (-math.inf, cuts[i], math.inf, cuts[i + 1])))
    return out


def shrink(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """Resize ``image`` to width x height, cheaply but without heavy aliasing.

    A reduction by k >= 2 (at most 4) goes through an image k times the target size
    (bilinear), then a k x k box filter (OpenCV's fast integer INTER_AREA path); other
    sizes are bilinear. Plain INTER_AREA took 1.5 ms for 1280x720 -> 128 px and ~90 ms
    for a 24-megapixel photo on the benchmark machine; this takes a fraction of that.
    """
    import cv2

    if (image.shape[1], image.shape[0]) == (width, height):
        return image
    k = int(min(image.shape[1] / width, image.shape[0] / height, 4))
    if k >= 2:
        if (image.shape[1], image.shape[0]) != (k * width, k * height):
            image = cv2.resize(image, (k * width, k * height), interpolation=cv2.INTER_LINEAR)
        return cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)
    return cv2.resize(image, (width, height), interpolation=cv2.INTER_LINEAR)


#: Detector passes whose input tensor has more pixels than this run on a second session
#: without a memory arena: the high-resolution pass on photos, while live and video frames
#: (at most 1280 px on their long side: 544 x 576 stripes at most) keep the arena's speed. An arena
#: keeps the largest run's activations for good: 150-190 MB after one 2309x1732 photo
#: (benchmarks/memory.py), against 4-5 MB for a 128x128 pass.
ARENA_MAX_PIXELS = 400_000

#: High-resolution passes over more tensor pixels than this run in overlapping stripes
#: (:func:`_stripe_views`): the 1200 x 912 pass of a 2000 x 1500 photo (a 48-megapixel JPEG is
#: analysed at that size) becomes three 528 x 912 stripes and its peak memory drops from ~117
#: to ~61 MB (two 704 x 912 stripes: ~77 MB), with the same faces found. A 1280 x 720 frame's
#: pass aimed at faces from 32 px (``blazeface-far``, ``blazeface-still``: 960 x 544) is two
#: 544 x 576 stripes, which the live page's shared screen runs one a frame (:class:`RollingPasses`).
HIRES_STRIPE_PIXELS = 500_000
#: Long side (px) from which an image gets the high-resolution pass, by default: what finds
#: the small faces of a 1280 x 720 video-call gallery.
HIRES_MIN_SIDE = 1000
#: Overlap of two stripes, in multiples of the model's input size. The high-resolution pass
#: finds faces up to a box of ~155 tensor pixels (short-range model, input 128) / ~165 (full
#: range, input 192); larger ones are the whole-frame pass's. 1.5 inputs (192 / 288 pixels)
#: exceed both, so every face that pass finds lies whole inside the stripe owning its centre.
STRIPE_OVERLAP_INPUTS = 1.5
#: Detections scoring under this are confirmed by the face mesh (``face_check=True``): kept only
#: if its face-presence probability is at least ``fer_core.landmarks.MIN_PRESENCE`` (0.5). Every
#: false detection measured scored 0.65-0.78 (the threshold is 0.65), and the mesh gave it under
#: 0.21; of 7,031 real faces it rejected 9 (docs/DESIGN.md, "A second look at weak detections").
#: Faces scoring more cost nothing extra.
FACE_CHECK_BELOW = 0.8


def model_dir() -> Path:
    """The folder holding the detector models: ``$FER_DETECTOR_DIR`` or ``models/detector``."""
    env = os.environ.get(MODEL_DIR_ENV)
    return Path(env) if env else DEFAULT_MODEL_DIR


class BlazeFaceDetector(FaceDetector):
    """MediaPipe BlazeFace run with onnxruntime.

    ``variant``: ``"short"`` (128x128, trained on faces within ~2 m of the camera,
    fastest) or ``"full"`` (192x192, trained for smaller, farther faces).

    Every image gets one whole-frame pass, letterboxed to the model's input size: it
    finds faces at least about a fifth of the image's long side. Faces much smaller
    than that, such as the tiles of a 1280x720 video-call gallery, vanish at that
    scale. ``min_face`` (pixels, brow to chin) turns on a second, high-resolution pass
    for images whose long side is at least ``hires_min_side``: the model is fully
    convolutional, so it runs on the whole image scaled so that faces of ``min_face``
    pixels reach the size the model needs (``hires_max_side`` bounds the cost on huge
    images). ``mid_side`` (pixels) adds a pass between the two, the whole image scaled so that
    its long side is ``mid_side`` (an octave above the model's input: 256 for the short-range
    model), for images whose long side is at least 1.5 times that: faces of a quarter to a
    third of the picture (the tiles of a photo collage, a few people close to the camera)
    come out weak in the whole-frame pass and too large for the high-resolution one. It costs
    about 5 ms on a 640 x 480 frame, so the still-image detector ``blazeface-still`` has it and the
    live default does not. ``mid_octaves`` > 1 adds passes an octave apart above it (512 px,
    ...), each on images 1.5 times its side or more: the faces of a fifth to a tenth of a
    large picture (a 3 x 3 or 4 x 4 call gallery at 1920 x 1080, or 4 x 4 and more at 960 x 540).
    Boxes of all passes are merged with weighted NMS. A high-resolution pass of more than
    ``hires_stripe_pixels`` tensor pixels (None: :data:`HIRES_STRIPE_PIXELS`; 0: no limit)
    runs in overlapping stripes, one after the other, to bound its memory (:func:`_stripe_views`).
    ``face_check``: detections scoring under :data:`FACE_CHECK_BELOW` are kept only if the face
    mesh (``fer_core.landmarks``, loaded on first need) says a face is there: the passes above
    also find faces in a suit's folds, galaxies or coins, always at low scores.
    ``work_side`` (pixels): an image whose long side is larger is detected as if it were resized
    to that long side (the passes are chosen for that size, and each is resized from the image
    itself); the boxes come back in the image's pixels, so the face crops keep its full detail.
    ``mid_above`` (pixels): the middle passes run only on images whose long side, as given, is
    above it (the camera detector's: only on camera frames larger than the working size).
    ``mid_if_none``: on the images ``mid_above`` keeps them from, the middle passes run all the same
    when the other passes found no face (:meth:`second_views`): a face too small for the whole-frame
    pass is found, and a frame where that pass finds one costs what it did.

    Safe to share across threads: the only state is the onnxruntime session.
    """

    def __init__(self, variant: str = "short", score_threshold: float | None = None,
                 iou_threshold: float = 0.3, max_faces: int = MAX_DETECTIONS, *,
                 min_face: int | None = None, hires_min_side: int = HIRES_MIN_SIDE,
                 hires_max_side: int = 1280, hires_stripe_pixels: int | None = None,
                 mid_side: int | None = None, mid_octaves: int = 1, face_check: bool = False,
                 work_side: int | None = None, mid_above: int = 0, mid_if_none: bool = False,
                 model_path: str | Path | None = None, threads: int = 1) -> None:
        import onnxruntime as ort

        if variant not in BLAZEFACE_VARIANTS:
            raise ValueError(f"unknown BlazeFace variant {variant!r}; one of {sorted(BLAZEFACE_VARIANTS)}")
        self.variant = variant
        self.spec = BLAZEFACE_VARIANTS[variant]
        self.score_threshold = self.spec.score_threshold if score_threshold is None else float(score_threshold)
        if not 0.0 < self.score_threshold < 1.0:
            raise ValueError("score_threshold must be in (0, 1)")
        if min_face is not None and min_face < 1:
            raise ValueError("min_face must be a positive number of pixels")
        self.iou_threshold = float(iou_threshold)
        self.max_faces = int(max_faces)
        self.min_face = min_face
        self.hires_min_side = int(hires_min_side)
        self.hires_max_side = int(hires_max_side)
        self.hires_stripe_pixels = hires_stripe_pixels
        align = self.spec.align
        if mid_side is not None and (mid_side < align or mid_side % align):
            raise ValueError(f"mid_side must be a positive multiple of {align}")
        if mid_above < 0:
            raise ValueError("mid_above must be a number of pixels, 0 or more")
        if mid_octaves < 1:
            raise ValueError("mid_octaves must be at least 1")
        self.mid_side = mid_side
        self.mid_octaves = int(mid_octaves)
        self.face_check = bool(face_check)
        if work_side is not None and work_side < self.spec.input_size:
            raise ValueError(f"work_side must be at least the model's input, {self.spec.input_size}")
        self.work_side = work_side
        self.mid_above = int(mid_above)
        self.mid_if_none = bool(mid_if_none)
        self.stripe_overlap = -(-round(STRIPE_OVERLAP_INPUTS * self.spec.input_size) // align) * align
        self.model_path = Path(model_path) if model_path else model_dir() / self.spec.filename
        if not self.model_path.is_file():
            raise FileNotFoundError(
                f"BlazeFace model not found: {self.model_path} (create it with "
                f"`python tools/convert_blazeface.py`, or set ${MODEL_DIR_ENV})")
        self._session = ort.InferenceSession(str(self.model_path), session_options(threads),
                                             providers=["CPUExecutionProvider"])
        self._threads = threads
        self._big_session = None  # created on first use (see ARENA_MAX_PIXELS)
        self._big_lock = threading.Lock()
        self._input_name = self._session.get_inputs()[0].name
        # The regressors have 16 values per anchor, the classificators 1.
        self._outputs = sorted((o.name for o in self._session.get_outputs()),
                               key=lambda n: n != "regressors")
        self._logit_threshold = math.log(self.score_threshold / (1.0 - self.score_threshold))
        mids = "".join(f"+mid{mid_side << k}" for k in range(self.mid_octaves)) if mid_side else ""
        mids += "-if-none" if mid_side and mid_above and mid_if_none else ""
        self.name = (f"blazeface-{variant}" + mids
                     + (f"+hires{min_face}" if min_face else "") + ("+meshcheck" if face_check else "")
                     + (f"@{work_side}" if work_side else ""))

    # -- passes -------------------------------------------------------------------------
    def views(self, width: int, height: int) -> list[View]:
        """The passes run on a width x height image: whole frame, then maybe the middle ones,
        then maybe high-res. Over ``work_side``, those of the image resized to it, each scaled
        from the image itself."""
        long_side = max(width, height)
        mids = long_side > self.mid_above
        if self.work_side and long_side > self.work_side:
            f = self.work_side / long_side
            work = self._views(max(1, round(width * f)), max(1, round(height * f)), mids)
            return [dataclasses.replace(v, scale=v.scale * f) for v in work]
        return self._views(width, height, mids)

    def second_views(self, width: int, height: int) -> list[View]:
        """The passes run on a width x height image only when those of :meth:`views` found no face:
        with ``mid_if_none``, the middle passes that ``mid_above`` leaves out of them."""
        if not self.mid_if_none or max(width, height) > self.mid_above:
            return []
        always = self._views(width, height, False)
        return [v for v in self._views(width, height) if v not in always]

    def _views(self, width: int, height: int, mids_too: bool = True) -> list[View]:
        views = [_letterbox_view(width, height, self.spec.input_size)]
        long_side = max(width, height)
        mids = [self.mid_side << k for k in range(self.mid_octaves)] if self.mid_side and mids_too else []
        for side in mids:
            if long_side >= 1.5 * side:
                views.append(_scaled_view(width, height, side / long_side, self.spec.align))
        scale = self._hires_scale(long_side)
        if scale:
            hires = _scaled_view(width, height, scale, self.spec.align)
            limit = HIRES_STRIPE_PIXELS if self.hires_stripe_pixels is None else self.hires_stripe_pixels
            if limit:
                views += _stripe_views(hires, limit, self.stripe_overlap, self.spec.align)
            else:
                views.append(hires)
        return views

    def _hires_scale(self, long_side: int) -> float | None:
        """The high-resolution pass's scale on an image of this long side, None where it does
        not run."""
        if not self.min_face or long_side < self.hires_min_side:
            return None
        scale = min(self.spec.min_face_px / self.min_face, self.hires_max_side / long_side)
        return scale if scale * long_side > 1.5 * self.spec.input_size else None  # else the first pass covers it

    def hires_face_px(self, width: int, height: int) -> int | None:
        """The smallest face (pixels of a width x height image, brow to chin) the high-resolution
        pass aims at there: ``min_face``, or more where ``hires_max_side`` bounds the pass (a
        1920 x 1080 frame). None where that pass does not run. What the pages tell users."""
        long_side = max(width, height)
        f = self.work_side / long_side if self.work_side and long_side > self.work_side else 1.0
        scale = self._hires_scale(max(1, round(long_side * f)))
        return None if scale is None else round(self.spec.min_face_px / (scale * f))

    def preprocess(self, image_bgr: np.ndarray, view: View, small: np.ndarray | None = None) -> np.ndarray:
        """The model input (1, H, W, 3) float32 for one view of a BGR uint8 image: RGB,
        scaled to [-1, 1] as BlazeFace expects, black padding. ``small``: the image already
        resized to the view's (rw, rh) (the stripes of one pass share it)."""
        th, tw = view.tensor_hw
        tensor = np.zeros((1, th, tw, 3), np.float32)
        if small is None:
            small = shrink(image_bgr, view.rw, view.rh)
        ox, oy = view.origin
        part = small[oy:oy + th - view.pad_y, ox:ox + tw - view.pad_x]
        tensor[0, view.pad_y:view.pad_y + part.shape[0], view.pad_x:view.pad_x + part.shape[1]] = part[:, :, ::-1]
        tensor *= 2.0 / 255.0
        tensor -= 1.0  # the zero padding becomes -1: black, like MediaPipe's zero border
        return tensor

    def _session_for(self, view: View) -> ort.InferenceSession:
        """The arena session for ordinary views, the arena-free one for large ones."""
        if view.tensor_hw[0] * view.tensor_hw[1] <= ARENA_MAX_PIXELS:
            return self._session
        if self._big_session is None:
            import onnxruntime as ort

            with self._big_lock:
                if self._big_session is None:
                    self._big_session = ort.InferenceSession(
                        str(self.model_path), session_options(self._threads, arena=False),
                        providers=["CPUExecutionProvider"])
        return self._big_session

    def _candidates(self, image: np.ndarray, view: View,
                    small: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Boxes above the score threshold in original-image pixels, and their scores (for a
        stripe, only those centred in the part it owns)."""
        regressors, logits = self._session_for(view).run(
            self._outputs, {self._input_name: self.preprocess(image, view, small)})
        logits = logits[0, :, 0]
        keep = np.flatnonzero(logits > self._logit_threshold)
        if keep.size == 0:
            return np.zeros((0, 8), np.float32), np.zeros((0,), np.float32)
        anchors = ssd_anchor_centers(view.tensor_hw[0], view.tensor_hw[1], self.spec.strides,
                                     self.spec.interpolated_anchor)
        boxes = decode_boxes(regressors[0, keep], anchors[keep])
        boxes[:, 0::2] += view.origin[0] - view.pad_x  # resized-image pixels
        boxes[:, 1::2] += view.origin[1] - view.pad_y
        logits = logits[keep]
        if view.own is not None:
            cx, cy = (boxes[:, 0] + boxes[:, 2]) / 2, (boxes[:, 1] + boxes[:, 3]) / 2
            x0, y0, x1, y1 = view.own
            mine = (cx >= x0) & (cx < x1) & (cy >= y0) & (cy < y1)
            boxes, logits = boxes[mine], logits[mine]
        boxes /= view.scale
        scores = 1.0 / (1.0 + np.exp(-np.clip(logits, -100.0, 100.0)))
        return boxes.astype(np.float32), scores.astype(np.float32)

    # -- public -------------------------------------------------------------------------
    def detect(self, image_bgr: np.ndarray, *, face_check: bool | None = None,
               set_aside: list[Detection] | None = None) -> list[Detection]:
        """All faces, best first. When no pass finds one, the image is tried once more inside a
        black margin (:data:`CLOSE_UP_FILL`): BlazeFace misses faces that fill the whole picture
        (a cropped portrait, a face held close to the camera). On 921 real face photos stored as
        loose crops it found 81.2% without the retry and 97.5% with it; the retry costs one small
        pass, and only on pictures where nothing was found. ``face_check``: this call with or
        without the face mesh's second look (None: as the detector was built). ``set_aside``: a
        list that gets the detections the check removed, for callers that pixelate them all the
        same (a real face the mesh doubts, such as a profile, must not stay visible)."""
        image = as_bgr(image_bgr)
        height, width = image.shape[:2]
        if height < 1 or width < 1:
            return []
        return self.finish(image, self.run_views(image, self.views(width, height)), face_check, set_aside)

    def run_views(self, image: np.ndarray, views: list[View]) -> list[tuple[np.ndarray, np.ndarray]]:
        """The candidates (boxes, scores) of each of ``views`` on a BGR uint8 image, in order."""
        parts, resized = [], {}
        for v in views:
            if v.own is not None and (v.rw, v.rh) not in resized:  # stripes of one pass: resize once
                resized = {(v.rw, v.rh): shrink(image, v.rw, v.rh)}
            parts.append(self._candidates(image, v, resized.get((v.rw, v.rh)) if v.own is not None else None))
        return parts

    def finish(self, image: np.ndarray, parts: list[tuple[np.ndarray, np.ndarray]], face_check: bool | None = None,
               set_aside: list[Detection] | None = None, *,
               second: list[tuple[np.ndarray, np.ndarray]] | None = None) -> list[Detection]:
        """The detections of a BGR uint8 image from its passes' candidates ``parts`` (see :meth:`detect`:
        the second passes and the close-up retry when there are none, the merge, the face check).
        ``second``: the candidates of :meth:`second_views` on this image when already run (a camera
        stream's middle pass first, :class:`MiddleFirst`), taken instead of running them again."""
        height, width = image.shape[:2]
        views = [] if any(len(scores) for _, scores in parts) else self.second_views(width, height)
        extra = ([] if not views else second if second is not None
                 else [self._candidates(image, v) for v in views])
        second_found = any(len(scores) for _, scores in extra)
        parts = [*parts, *extra]
        if not any(len(scores) for _, scores in parts):
            close_up = _letterbox_view(width, height, self.spec.input_size, CLOSE_UP_FILL)
            parts = [*parts, self._candidates(image, close_up)]
        detections = self.merge(parts, width, height)
        # The second passes' weak detections get the mesh's look whatever the detector's setting:
        # the middle pass found a galaxy in a deep-field photo, at 0.65, where one pass found nothing.
        check = (self.face_check or second_found) if face_check is None else face_check
        return self.confirmed(image, detections, set_aside) if check else detections

    def confirmed(self, image_bgr: np.ndarray, detections: list[Detection],
                  set_aside: list[Detection] | None = None) -> list[Detection]:
        """``detections`` without the weak ones (score under :data:`FACE_CHECK_BELOW`) that the
        face mesh's presence score calls no face; boxes too small for the mesh are kept. The
        removed ones are appended to ``set_aside`` when given."""
        if all(d.score >= FACE_CHECK_BELOW for d in detections):
            return detections
        from fer_core.landmarks import default_face_mesh

        mesh = default_face_mesh()
        kept = []
        for d in detections:
            presence, first = (None, None) if d.score >= FACE_CHECK_BELOW else mesh.check_face(image_bgr, d.box, d.eyes)
            if presence is None or presence >= mesh.min_presence:
                kept.append(d if first is None else dataclasses.replace(d, mesh=first))
            elif set_aside is not None:
                set_aside.append(d)
        return kept

    def merge(self, parts: list[tuple[np.ndarray, np.ndarray]], width: int, height: int) -> list[Detection]:
        """Weighted NMS over the (boxes, scores) candidates of several passes, clipped, best first."""
        boxes = np.concatenate([p[0] for p in parts])
        scores = np.concatenate([p[1] for p in parts])
        if len(scores) == 0:
            return []
        boxes, scores = weighted_nms(boxes, scores, self.iou_threshold)  # eyes blended like boxes
        return _clip_boxes(boxes, scores, width, height, self.max_faces)

    def __repr__(self) -> str:
        return (f"BlazeFaceDetector(variant={self.variant!r}, score_threshold={self.score_threshold}, "
                f"iou_threshold={self.iou_threshold}, max_faces={self.max_faces}, "
                f"min_face={self.min_face}"
                + (f", mid_side={self.mid_side}, mid_octaves={self.mid_octaves}" if self.mid_side else "")
                + (", face_check=True" if self.face_check else "")
                + (f", work_side={self.work_side}" if self.work_side else "")
                + (f", mid_above={self.mid_above}" if self.mid_above else "")
                + (", mid_if_none=True)" if self.mid_if_none else ")"))


#: :class:`RollingPasses` runs a stripe again, out of turn, when its part of the picture changed
#: by more than this since the stripe last ran: the mean absolute difference, in 8-bit levels,
#: of the two frames shrunk :data:`ROLLING_THUMB` times. On call_layouts.py's galleries captured at
#: 1280 x 720 (3 x 3 to 7 x 7), every face moved by 4 px with noise made 1.5-2 in either half of the
#: frame; another page of the gallery 32-39; the whole screen shifted by 3 px, 10. A change within
#: one tile (a camera turned off, a student joining) is under it: that tile's face comes or goes
#: one analysed frame late.
ROLLING_CHANGE = 6.0
ROLLING_THUMB = 8


class RollingPasses:
    """One stream's face detection, its high-resolution stripes run one a frame, in turn.

    A shared screen captured at 1280 x 720 gets ``blazeface-far``'s high-resolution pass (faces
    from 32 px) as two 544 x 576 stripes: about 85% of the frame's detection. A call's gallery
    moves little from one frame to the next, so each frame runs the whole-frame and middle
    passes and one stripe, and takes the other stripes' candidates from the frame each last ran
    on, merged as :meth:`BlazeFaceDetector.detect` merges: on a still screen, the same faces as
    running every pass each frame. A stripe whose part of the picture changed (another window
    shared, the gallery paged or reordered; :data:`ROLLING_CHANGE`) runs again at once, as do all
    of them on the first frame, a frame of another size or after :meth:`reset`. A frame whose
    passes include no stripes is detected whole. Not thread-safe: one per stream (the detector
    inside may be shared)."""

    def __init__(self, detector: BlazeFaceDetector, max_change: float = ROLLING_CHANGE) -> None:
        self.detector = detector
        self.max_change = float(max_change)
        self.reset()

    def reset(self) -> None:
        """Forget the carried candidates: the next frame runs every pass."""
        self._size: tuple[int, int] | None = None
        self._next = 0  # the stripe whose turn it is
        self._carried: dict[int, tuple[np.ndarray, np.ndarray]] = {}  # view index -> its candidates
        self._thumbs: dict[int, np.ndarray] = {}  # view index -> the thumbnail it ran on
        #: View indices run on the last frame (for tests and benchmarks).
        self.last_run: tuple[int, ...] = ()

    def _changed(self, thumb: np.ndarray, before: np.ndarray, view: View, width: int, height: int) -> bool:
        """Whether ``view``'s part of the picture differs between two thumbnails."""
        th, tw = view.tensor_hw
        kx, ky = thumb.shape[1] / width / view.scale, thumb.shape[0] / height / view.scale
        x0, y0 = int(view.origin[0] * kx), int(view.origin[1] * ky)
        x1, y1 = math.ceil((view.origin[0] + tw) * kx), math.ceil((view.origin[1] + th) * ky)
        a, b = thumb[y0:y1, x0:x1], before[y0:y1, x0:x1]
        return a.size > 0 and float(np.abs(a.astype(np.int16) - b).mean()) > self.max_change

    def detect(self, image_bgr: np.ndarray) -> list[Detection]:
        """The faces of this frame of the stream, best first (as :meth:`BlazeFaceDetector.detect`)."""
        det = self.detector
        image = as_bgr(image_bgr)
        height, width = image.shape[:2]
        views = det.views(width, height) if height and width else []
        stripes = [i for i, v in enumerate(views) if v.own is not None]
        if len(stripes) < 2:
            self.reset()
            self.last_run = tuple(range(len(views)))
            return det.detect(image)
        if self._size != (width, height):
            self.reset()
            self._size = (width, height)
        thumb = shrink(image, max(1, width // ROLLING_THUMB), max(1, height // ROLLING_THUMB))
        turn = stripes[self._next % len(stripes)]
        self._next += 1
        run = [i for i in range(len(views)) if i not in stripes or i == turn or i not in self._carried
               or self._changed(thumb, self._thumbs[i], views[i], width, height)]
        fresh = dict(zip(run, det.run_views(image, [views[i] for i in run])))
        for i in run:
            if i in stripes:
                self._carried[i], self._thumbs[i] = fresh[i], thumb
        self.last_run = tuple(run)
        return det.finish(image, [fresh[i] if i in fresh else self._carried[i] for i in range(len(views))])


#: :class:`MiddleFirst` runs the whole-frame pass, as the detector does, on at least one analysed
#: frame in this many while it runs the middle pass first: a face too close for the middle pass
#: (60% of the height and more: it finds 31 of 40 real ones at 60%, 7 at 80%) beside the far face it
#: finds is then shown at most this many frames less one late, when the picture did not change.
MIDDLE_FIRST_REFRESH = 5
#: ... and on a frame whose picture changed by more than this since the whole-frame pass last ran:
#: the mean absolute difference, in 8-bit levels, of the two frames shrunk :data:`ROLLING_THUMB`
#: times. On benchmarks/camera_streams.py's streams of 40 real faces, a far face (15-25% of the
#: height) drifting by a few pixels a frame, with sensor noise, made 1-2 over 4 frames, 4.4 at most;
#: a second person's face of 50-70% of the height coming in beside it, or the user leaning in to
#: 50-70%, 7.5 at least (11-22 in the median). One of 30-40% beside it, 2.8-12, is found by the
#: middle pass itself.
MIDDLE_FIRST_CHANGE = 6.0


class MiddleFirst:
    """One camera stream's face detection, the middle pass first while the stream's faces are
    that pass's alone.

    The camera detector (``blazeface-camera``, ``mid_if_none``) runs the 256 px middle pass on a
    frame of up to 640 px only when the whole-frame pass found no face there: a laptop's user
    sitting back (the face a fifth of the height) costs both passes on every frame, the first in
    vain. On a stream whose last frame's faces only the middle pass found, this runs that pass
    first, and the whole-frame pass only when the middle one finds no face that stands the face
    check (then as the detector does: the same faces), on one analysed frame in
    :data:`MIDDLE_FIRST_REFRESH`, and on a frame whose picture changed
    (:data:`MIDDLE_FIRST_CHANGE`), as do the first frame, a frame of another size and the frame
    after :meth:`reset`. A frame whose whole-frame pass finds a face ends it: the next frames are
    detected as the detector does. A frame where the middle pass finds the faces gets those faces
    (merged and checked as the detector merges and checks them), which a frame where the
    whole-frame pass finds none gets all the same; where that pass would have found a face, its
    faces are the middle pass's instead (a face of 30-50% of the height beside the far one is
    found too). Other detectors, and frames without a middle pass to run second (an HD camera's,
    which run it anyway), are detected whole. Not thread-safe: one per stream (the detector inside
    may be shared)."""

    def __init__(self, detector: BlazeFaceDetector, refresh_every: int = MIDDLE_FIRST_REFRESH,
                 max_change: float = MIDDLE_FIRST_CHANGE) -> None:
        if refresh_every < 1:
            raise ValueError("refresh_every must be at least 1")
        self.detector = detector
        self.refresh_every = int(refresh_every)
        self.max_change = float(max_change)
        self.reset()

    def reset(self) -> None:
        """Forget the stream: the next frame runs the whole-frame pass first."""
        self._size: tuple[int, int] | None = None
        self._second: list[View] = []  # the detector's second passes at that size
        self._middle = False  # the last frame's faces were the middle pass's alone
        self._since = 0  # frames since the whole-frame pass last ran
        self._thumb: np.ndarray | None = None  # the frame it last ran on, shrunk
        #: Which pass ran first on the last frame: "whole" or "middle" (for tests and benchmarks).
        self.last_first = "whole"

    def _thumbnail(self, image: np.ndarray) -> np.ndarray:
        height, width = image.shape[:2]
        return shrink(image, max(1, width // ROLLING_THUMB), max(1, height // ROLLING_THUMB))

    def detect(self, image_bgr: np.ndarray) -> list[Detection]:
        """The faces of this frame of the stream, best first (as :meth:`BlazeFaceDetector.detect`)."""
        det = self.detector
        image = as_bgr(image_bgr)
        height, width = image.shape[:2]
        if self._size != (width, height):
            self.reset()
            self._size = (width, height)
            self._second = det.second_views(width, height) if height and width else []
        second = self._second
        if not second:
            return det.detect(image)
        mids, checked = None, None
        self.last_first = "whole"
        if self._middle and self._since + 1 < self.refresh_every and self._thumb is not None and float(
                np.abs(self._thumbnail(image).astype(np.int16) - self._thumb).mean()) <= self.max_change:
            self.last_first = "middle"
            mids = det.run_views(image, second)
            if any(len(s) for _, s in mids):
                checked = det.finish(image, [], second=mids)  # what the detector gives when the first pass finds none
                if checked:
                    self._since += 1
                    return checked
        parts = det.run_views(image, det.views(width, height))
        whole = any(len(s) for _, s in parts)
        if whole:
            found = det.finish(image, parts)
        elif checked is not None:  # the middle pass's boxes, all doubted by the face check: none
            found = checked
        else:
            if mids is None:
                mids = det.run_views(image, second)
            found = det.finish(image, parts, second=mids)
        self._middle = bool(found) and not whole and mids is not None and any(len(s) for _, s in mids)
        self._since = 0
        self._thumb = self._thumbnail(image) if self._middle else None
        return found


# --------------------------------------------------------------------------------------
# Haar cascade
# --------------------------------------------------------------------------------------
class HaarDetector(FaceDetector):
    """OpenCV's frontal-face Haar cascade, from ``cv2.data.haarcascades`` (OpenCV 4.x).

    Scores are not probabilities: the cascade's level weight squashed into (0, 1) with a
    logistic, only useful for ranking. ``cv2.CascadeClassifier.detectMultiScale`` is
    not documented as thread-safe, so calls are serialised with a lock.
    """

    name = "haar"

    def __init__(self, cascade: str = "haarcascade_frontalface_default.xml", *,
                 scale_factor: float = 1.1, min_neighbors: int = 5, min_size: int = 24,
                 max_faces: int = MAX_DETECTIONS) -> None:
        import cv2

        data_dir = getattr(getattr(cv2, "data", None), "haarcascades", None)
        path = Path(data_dir or "") / cascade
        if not data_dir or not path.is_file():
            raise RuntimeError(
                f"OpenCV {cv2.__version__} ships no Haar cascade {cascade!r} (cv2.data.haarcascades "
                f"= {data_dir!r}); install opencv-python-headless 4.x (5.0 dropped them) or use "
                "the BlazeFace detector")
        self._cascade = cv2.CascadeClassifier(str(path))
        if self._cascade.empty():
            raise RuntimeError(f"could not load Haar cascade {path}")
        self._lock = threading.Lock()
        self.scale_factor = scale_factor
        self.min_neighbors = min_neighbors
        self.min_size = min_size
        self.max_faces = max_faces

    def detect(self, image_bgr: np.ndarray) -> list[Detection]:
        import cv2

        image = as_bgr(image_bgr)
        height, width = image.shape[:2]
        if min(height, width) < self.min_size:
            return []
        gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)  # (histogram equalisation: more FPs)
        with self._lock:
            rects, _, weights = self._cascade.detectMultiScale3(
                gray, scaleFactor=self.scale_factor, minNeighbors=self.min_neighbors,
                minSize=(self.min_size, self.min_size), outputRejectLevels=True)
        if len(rects) == 0:
            return []
        xywh = np.asarray(rects, np.float32).reshape(-1, 4)
        boxes = np.concatenate([xywh[:, :2], xywh[:, :2] + xywh[:, 2:]], axis=1)
        scores = 1.0 / (1.0 + np.exp(-np.asarray(weights, np.float32).reshape(-1)))
        return _clip_boxes(boxes, scores, width, height, self.max_faces)


# --------------------------------------------------------------------------------------
# Registry
# --------------------------------------------------------------------------------------
#: Detector name -> factory (keyword arguments are passed on). Add new detectors here.
DETECTORS: dict[str, Callable[..., FaceDetector]] = {
    "blazeface-short": functools.partial(BlazeFaceDetector, "short"),
    "blazeface-full": functools.partial(BlazeFaceDetector, "full"),
    # The default: short-range model, plus the high-resolution pass on images of 1000 px
    # or more (1280x720 galleries: faces from 40 px). Threshold 0.65: no false positive
    # on the benchmark's no-face images (at MediaPipe's 0.5: cat faces, an orange).
    "blazeface": functools.partial(BlazeFaceDetector, "short", score_threshold=0.65, min_face=40),
    # For photos and video files (not live frames): the default plus the middle pass at 256 px,
    # for faces of a quarter to a third of the picture (benchmarks/gallery_recall.py).
    # And at 512 px on pictures of 768 px or more (video-call galleries at 960 x 540 and
    # 1920 x 1080: benchmarks/gallery_recall.py --call).
    # Weak detections are confirmed by the face mesh (FACE_CHECK_BELOW): the extra passes find
    # more things that are not faces.
    # Its high-resolution pass aims at faces from 32 px, as blazeface-far's: a recorded call of 49
    # webcams (analysed at 1280 x 720) shows faces of 25-45 px, and from 40 px it found 26 of 129
    # at 35% of the tile, 1 of 129 at 28% (benchmarks/call_layouts.py).
    "blazeface-still": functools.partial(BlazeFaceDetector, "short", score_threshold=0.65, min_face=32,
                                         mid_side=256, mid_octaves=2, face_check=True),
    # For live frames when asked (the live page's "Faces farther from the camera" and shared
    # screens): the default plus the 256 px pass only (the 512 px pass took a 1280x720 gallery
    # from 53 to 69 ms: benchmarks/bench_webcam.py). Its high-resolution pass, which runs on
    # frames 1000 px wide or more (a shared screen; the camera is asked for 480 x 360), aims at
    # faces from 32 px: a class of 49 in a call's gallery, shared at 1280 x 720, shows faces of
    # 30-45 px, and from 40 px it found 19% of them at 35 px, 0% at 28 px
    # (benchmarks/call_layouts.py).
    "blazeface-far": functools.partial(BlazeFaceDetector, "short", score_threshold=0.65, min_face=32,
                                       mid_side=256),
    # For the live page's camera (unless "Faces farther from the camera" is on): the default on
    # frames of up to 640 px, the size the page asks for (480 x 360, which Chromium keeps to; other
    # browsers, phones and virtual cameras may send 1280 x 720 or 1920 x 1080). A larger frame is
    # detected as if it were 640 px long, with the 256 px middle pass: no high-resolution pass,
    # which took one face at 1920 x 1080 from 2 to 136 ms, and the face crops still come from the
    # full frame. The middle pass finds the faces of a quarter of a 16:9 frame's height (a laptop
    # at 50-80 cm) that the whole-frame pass leaves weak: at 1280 x 720, 39 and 40 of 40 real faces
    # at 25% and 30% of the height, against 37 and 33 with the high-resolution pass and 9 and 25
    # with neither (as at 640 x 360). Faces of 15% (a person 1.5 m away) are the far detector's:
    # 21 of 40 here, 40 with the high-resolution pass (benchmarks/bench_webcam.py --hd-recall).
    # On frames of up to 640 px the middle pass runs only when the whole-frame pass found no face
    # (mid_if_none), its weak boxes confirmed by the face mesh: a laptop's user sitting back (the
    # face 20-25% of the height) was found in 11 and 26 of 40 real 640 x 480 frames, and 9 of 40
    # at 25% of 640 x 360; now in 39 and 39, and 37. A face close to the camera costs the one
    # pass it did; a far face or an empty room costs the middle pass more (~5 ms), as with "Faces
    # farther from the camera", which runs it on every frame (a small face beside a close one).
    # A live stream of a far face runs the middle pass first (MiddleFirst), which spares most of its
    # frames the whole-frame pass.
    "blazeface-camera": functools.partial(BlazeFaceDetector, "short", score_threshold=0.65, mid_side=256,
                                          work_side=640, mid_above=640, mid_if_none=True),
    # For still photos, where a few more milliseconds don't matter: the high-resolution
    # pass on every image, so faces from ~32 px are found in small photos too.
    "blazeface-photo": functools.partial(BlazeFaceDetector, "short", score_threshold=0.65,
                                         min_face=32, hires_min_side=0),
    "haar": HaarDetector,
}

#: The name :func:`default_detector` builds (see benchmarks/results/detectors.md).
DEFAULT_DETECTOR = "blazeface"
#: The name :func:`still_detector` builds: what the Photo and Video pages, the command line and
#: the batch jobs detect with (benchmarks/gallery_recall.py).
STILL_DETECTOR = "blazeface-still"
#: The name :func:`far_detector` builds: live frames with farther faces, and shared screens.
FAR_DETECTOR = "blazeface-far"
#: The name :func:`camera_detector` builds: the live page's camera frames.
CAMERA_DETECTOR = "blazeface-camera"


def available_detectors() -> list[str]:
    """Names accepted by :func:`load_detector`."""
    return list(DETECTORS)


def load_detector(name: str = DEFAULT_DETECTOR, **kwargs: Any) -> FaceDetector:
    """A new detector by registry name, e.g. ``load_detector("haar", min_neighbors=6)``."""
    try:
        factory = DETECTORS[name]
    except KeyError:
        raise ValueError(f"unknown detector {name!r}; one of {available_detectors()}") from None
    return factory(**kwargs)


_shared: dict[str, FaceDetector] = {}
_shared_lock = threading.Lock()


def shared_detector(name: str) -> FaceDetector:
    """One shared instance of the registered detector ``name``, created on first use (the
    detectors are thread-safe)."""
    det = _shared.get(name)
    if det is None:
        with _shared_lock:
            det = _shared.get(name)
            if det is None:
                det = _shared[name] = load_detector(name)
                log.info("face detector %s: %r", name, det)
    return det


def default_detector() -> FaceDetector:
    """The detector the recognizer uses unless told otherwise (live frames included): one
    shared instance, created on first use."""
    return shared_detector(DEFAULT_DETECTOR)


def still_detector() -> FaceDetector:
    """The shared detector for photos and video files (:data:`STILL_DETECTOR`): the default
    plus the middle passes, for faces of a quarter to a tenth of the picture."""
    return shared_detector(STILL_DETECTOR)


def far_detector() -> FaceDetector:
    """The shared detector for live frames with farther faces (:data:`FAR_DETECTOR`): the
    default plus the 256 px middle pass only."""
    return shared_detector(FAR_DETECTOR)


def camera_detector() -> FaceDetector:
    """The shared detector for live camera frames (:data:`CAMERA_DETECTOR`): the default on frames
    of up to 640 px, plus the middle pass where that finds no face (a face of a fifth of the
    height: a laptop's user sitting back); a larger one (an HD camera) detected at 640 px with
    the middle pass, in about the time of a 640 x 480 frame with it."""
    return shared_detector(CAMERA_DETECTOR)
