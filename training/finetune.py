"""Fine-tune the expression model on your own labelled faces (transfer learning).

Example::

    python -m training.finetune --base models/fer_model.keras --data my_faces/ --out runs/mine

``--data`` holds ``<class>/*.jpg`` (class names as in FER2013: Angry, Disgust, Fear,
Happy, Sad, Surprise, Neutral; any size or colour; face crops, loosely framed like
FER2013). The shipped model is ONNX, so ``--base`` is the Keras checkpoint it was
exported from (default: models/fer_model.keras if present).

A stratified part of your faces (``--holdout``, fixed ``--seed``) is set aside and
never trained on. Accuracy and macro-F1 on it are measured before and after
fine-tuning, both through exported ONNX models run by ``fer_core`` exactly as the app
runs them, with the base card's temperature and class prior. Training first updates only
the later layers (``--frozen-epochs``), then the whole network; batch-norm statistics stay
frozen throughout (too few faces to re-estimate them). Your labels teach only the classes
your folder has; half the loss (``--keep-base``) holds the model to the base's own answers
for the same faces (learning without forgetting), which keeps the classes your folder lacks
working. Writes into ``--out``:

    fer_model.keras / fer_model.onnx / fer_model.json   the fine-tuned model, ONNX and its card
    base.onnx / base.json                               the base model, for the "before" figures
    finetune_report.json                                all settings and figures

To use the result: ``python -m fer_core --model <out>/fer_model.onnx photo.jpg`` (or pass the
.onnx path to ``fer_core.load_recognizer``); in the app, copy fer_model.onnx and
fer_model.json over the shipped ones in models/ (its *Standard* model; ``git checkout models``
restores them). ``--out`` never writes over ``--base`` or a model it did not fine-tune. The
held-out figures come from a few of your own faces: they show whether fine-tuning helped on
your data, nothing more, and nothing about the classes your folder lacks.
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

import numpy as np

from fer_core.labels import LABELS, NUM_CLASSES
from fer_core.preprocess import INPUT_SIZE
from training.cli import first_problem, folder_problem, is_model_card, range_problem
from training.data import DataError, FaceSet, class_folders, images_under, load_folder
from training.export import parity_ok

log = logging.getLogger("training.finetune")

#: Temperature of the distillation term (Hinton et al. 2015; Li & Hoiem 2016 use 2): it softens the
#: base's answers so its ranking of the unlikely classes, the ones a partial folder lacks, counts too.
DISTILL_TEMPERATURE = 2.0
DEFAULT_BASE = Path(__file__).resolve().parent.parent / "models" / "fer_model.keras"
#: The files a run writes into ``--out``.
OUTPUTS = ("fer_model.keras", "fer_model.onnx", "fer_model.json", "base.onnx", "base.json", "finetune_report.json")


def stratified_split(y: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices (train, held_out): ``fraction`` of each class held out (at least one, never all)."""
    rng = np.random.default_rng(seed)
    train, held = [], []
    for c in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == c))
        k = min(max(int(round(len(idx) * fraction)), 1), len(idx) - 1)
        held.append(idx[:k])
        train.append(idx[k:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(held))


def check_folder(root: Path, faces: FaceSet, min_per_class: int) -> list[int]:
    """Raise :class:`DataError` for empty class folders, too few faces or fewer than two classes.

    Returns the classes present, in FER2013 order.
    """
    empty = [p.name for p in class_folders(root) if not images_under(p)[0]]
    if empty:
        raise DataError(f"{root}: class folder(s) with no images: {', '.join(empty)}")
    counts = faces.class_counts()
    present = [c for c in range(NUM_CLASSES) if counts[c]]
    if len(present) < 2:
        raise DataError(f"{root}: faces of {len(present)} class(es) found; fine-tuning needs at least two "
                        f"of {', '.join(LABELS)}")
    few = [f"{LABELS[c]} ({counts[c]})" for c in present if counts[c] < min_per_class]
    if few:
        raise DataError(f"{root}: too few faces for {', '.join(few)}: need at least {min_per_class} per class "
                        "(some are held out to measure the result)")
    return present


def load_base(path: Path):
    """The base classifier from a .keras file (the augmentation wrapper, if any, removed)."""
    from training.export import load_core

    try:
        core = load_core(path)
    except (ValueError, OSError) as exc:  # the message names the file
        raise DataError(str(exc)) from exc
    if tuple(core.input_shape[1:]) != (INPUT_SIZE, INPUT_SIZE, 1) or core.output_shape[-1] != NUM_CLASSES:
        raise DataError(f"{path}: base model maps {core.input_shape} -> {core.output_shape}; expected "
                        f"(None, {INPUT_SIZE}, {INPUT_SIZE}, 1) -> (None, {NUM_CLASSES})")
    return core


def leaf_layers(model) -> list:
    """The model's layers with nested models (an ensemble's members) expanded, in order."""
    import keras

    out = []
    for layer in model.layers:
        out += leaf_layers(layer) if isinstance(layer, keras.Model) else [layer]
    return out


def early_layers(core, fraction: float) -> list[int]:
    """Identities of the first ``fraction`` of the weighted layers (batch-norm layers not counted);
    in an ensemble, the first ``fraction`` of each member's."""
    import keras

    members = [m for m in core.layers if isinstance(m, keras.Model)] or [core]
    early = []
    for m in members:
        weighted = [id(layer) for layer in leaf_layers(m)
                    if layer.weights and not isinstance(layer, keras.layers.BatchNormalization)]
        early += weighted[:int(len(weighted) * fraction)]
    return early


def set_trainable(core, frozen: set[int]) -> None:
    """Freeze the given layers (by identity) and every batch-norm layer (which then runs in inference mode)."""
    import keras

    for layer in leaf_layers(core):
        layer.trainable = id(layer) not in frozen and not isinstance(layer, keras.layers.BatchNormalization)


def onnx_metrics(onnx_path: Path, faces: FaceSet, present: list[int]) -> dict:
    """Accuracy, macro-F1 (over the classes present) and per-class recall of an ONNX model, via fer_core;
    ``classes_not_measured`` names the classes with no faces here, on which these figures say nothing."""
    from sklearn.metrics import confusion_matrix, f1_score

    from fer_core import load_recognizer

    pred = load_recognizer(onnx_path).predict_proba(faces.x, source_sides=faces.sides).argmax(axis=1)
    cm = confusion_matrix(faces.y, pred, labels=list(range(NUM_CLASSES)))
    return {
        "accuracy": float((pred == faces.y).mean()),
        "macro_f1": float(f1_score(faces.y, pred, labels=present, average="macro", zero_division=0)),
        "per_class_recall": {LABELS[c]: float(cm[c, c] / cm[c].sum()) for c in present},
        "confusion_matrix": cm.tolist(),
        "classes_not_measured": [LABELS[c] for c in range(NUM_CLASSES) if c not in present],
    }


def finetune_loss(present: list[int], keep_base: float, label_smoothing: float):
    """The fine-tuning loss: one-hot labels against the model's probabilities, which come with the
    frozen base model's for the same augmented face as 7 more columns when ``keep_base > 0``.

    ``(1 - keep_base)`` x the cross-entropy of the labels over the ``present`` classes only (the
    softmax renormalised over them, the smoothing spread over them), plus ``keep_base`` x the KL
    divergence from the base's probabilities over all seven classes, both softened by
    :data:`DISTILL_TEMPERATURE`: learning without forgetting (Li & Hoiem 2016). The cross-entropy
    over all seven classes, used before, pushed every class the folder lacks towards zero: tuned
    on Happy and Sad faces alone, the model all but stopped answering Neutral, Fear or Angry."""
    from keras import ops

    mask = np.zeros(NUM_CLASSES, np.float32)
    mask[present] = 1.0
    smooth = mask * (label_smoothing / len(present))
    t = DISTILL_TEMPERATURE

    def soft_log(p):
        z = ops.log(ops.clip(p, 1e-7, 1.0)) / t
        return z - ops.logsumexp(z, axis=-1, keepdims=True)

    def loss(y_true, y_pred):
        p = ops.clip(y_pred[:, :NUM_CLASSES], 1e-7, 1.0)
        log_present = ops.log(p) - ops.log(ops.sum(p * mask, axis=-1, keepdims=True))
        target = y_true * (1.0 - label_smoothing) + smooth
        ce = -ops.sum(target * log_present * mask, axis=-1)
        if keep_base <= 0:
            return ce
        log_s, log_b = soft_log(p), soft_log(y_pred[:, NUM_CLASSES:])
        kl = ops.sum(ops.exp(log_b) * (log_b - log_s), axis=-1) * t**2
        return (1.0 - keep_base) * ce + keep_base * kl

    return loss


def label_accuracy(y_true, y_pred):
    """Top-1 accuracy of the model's part of :func:`finetune_loss`'s predictions."""
    from keras import ops

    hit = ops.argmax(y_true, axis=-1) == ops.argmax(y_pred[:, :NUM_CLASSES], axis=-1)
    return ops.cast(hit, "float32")


def fit(core, train: FaceSet, args, teacher=None) -> list[dict]:
    """Train ``core`` in place: ``frozen_epochs`` with the early layers frozen, then the rest unfrozen;
    with ``teacher`` (a copy of the base, under another name), distilled from it (:func:`finetune_loss`)."""
    import keras

    from training.augment import augmenter
    from training.train import class_weights

    x = train.x[..., None].astype(np.float32)
    y = np.eye(NUM_CLASSES, dtype=np.float32)[train.y]
    present = sorted(set(train.y.tolist()))
    weights = class_weights(train.y, args.class_weight_power)[train.y]
    inp = keras.Input((INPUT_SIZE, INPUT_SIZE, 1), name="face")
    aug = augmenter(args.augment, seed=args.seed, keep_sharp=args.keep_sharp)
    face = aug(inp)
    out = core(face)
    if teacher is not None:  # the base, frozen, sees the same augmented face: its answer is the distillation target
        teacher.trainable = False
        out = keras.layers.Concatenate(name="with_base")([out, teacher(face)])
    model = keras.Model(inp, out, name="finetuner")
    early = early_layers(core, args.freeze_fraction)
    frozen_epochs = min(args.frozen_epochs, args.epochs) if early else 0
    phases = [(frozen_epochs, set(early)), (args.epochs - frozen_epochs, set())]
    history, done = [], 0
    for n_epochs, frozen in phases:
        if n_epochs <= 0:
            continue
        set_trainable(core, frozen)
        names = [layer.name for layer in leaf_layers(core) if id(layer) in frozen]
        log.info("epochs %d-%d: %s", done + 1, done + n_epochs,
                 f"early layers frozen ({', '.join(names)})" if frozen else "all layers trainable")
        model.compile(optimizer=keras.optimizers.Adam(args.lr),
                      loss=finetune_loss(present, args.keep_base if teacher is not None else 0.0,
                                         args.label_smoothing),
                      metrics=[keras.metrics.MeanMetricWrapper(label_accuracy, name="acc")])
        h = model.fit(x, y, sample_weight=weights, batch_size=args.batch_size, epochs=done + n_epochs,
                      initial_epoch=done, shuffle=True, verbose=args.verbose)
        history += [{"epoch": done + i + 1, "frozen_layers": len(frozen),
                     **{k: float(v[i]) for k, v in h.history.items()}} for i in range(n_epochs)]
        done += n_epochs
    for layer in [core, *leaf_layers(core)]:  # leave a plain, fully trainable model in the saved file
        layer.trainable = True
    return history


def _base_checkpoint(base: str | None) -> Path:
    """The .keras checkpoint to start from: ``--base``, else the shipped one."""
    base_path = Path(base).expanduser() if base else DEFAULT_BASE
    if not base_path.is_file():
        raise FileNotFoundError(
            f"base model {base_path} not found: pass --base with the .keras checkpoint the shipped model "
            "was exported from (training.train writes it as <run>/best.keras)")
    return base_path


def out_problem(out: Path, base: Path) -> str | None:
    """Why ``--out`` may not be written, or None: it would replace the ``--base`` checkpoint, or a model
    (a card beside it) that no fine-tuning wrote, such as the shipped one in models/. Either used
    to be written over without a word, and ``--out models`` then swapped the app's model, its card
    and the base of every later fine-tuning for this run's."""
    if base.resolve() in {(out / name).resolve() for name in OUTPUTS}:
        return f"--out {out} would write over the base model {base}; give another --out"
    card = out / "fer_model.json"
    if is_model_card(card) and "finetune" not in json.loads(card.read_text(encoding="utf-8")):
        return (f"--out {out} holds a model that was not fine-tuned here ({card}); it would be replaced: "
                "give another --out")
    return None


def _user_faces(root: Path, args: argparse.Namespace) -> tuple[FaceSet, list[int], FaceSet, FaceSet]:
    """The folder's faces, the classes present, and the fine-tuning and held-out subsets."""
    faces = load_folder(root)
    present = check_folder(root, faces, args.min_per_class)
    absent = [LABELS[c] for c in range(NUM_CLASSES) if c not in present]
    if absent:
        log.warning("no faces for %s: the labels teach %s only; %s; the held-out figures do not measure them",
                    ", ".join(absent), ", ".join(LABELS[c] for c in present),
                    f"the base model's answers hold the others in place (--keep-base {args.keep_base})"
                    if args.keep_base > 0 else "nothing holds the others in place (--keep-base 0)")
    tr_idx, ho_idx = stratified_split(faces.y, args.holdout, args.seed)
    train, held = faces.subset(tr_idx), faces.subset(ho_idx)
    log.info("%d faces in %d classes: %d for fine-tuning, %d held out", len(faces), len(present),
             len(train), len(held))
    return faces, present, train, held


def _input_blur(base_path: Path, override: float | None) -> float:
    """``--input-blur`` when given, else the base card's (models/fer_model.json beside fer_model.keras)."""
    if override is not None:
        return override
    base_card = base_path.with_suffix(".json")
    if not base_card.is_file():
        return 0.0
    try:
        return float(json.loads(base_card.read_text()).get("input_blur_sigma", 0.0))
    except (OSError, ValueError, TypeError, AttributeError) as exc:
        raise DataError(f"{base_card}: the base model's card is unreadable ({exc}); pass --input-blur") from exc


def _base_calibration(base_path: Path) -> dict:
    """The base card's ``temperature`` and ``class_prior`` (training.prior), those it has, for the
    exported models. A temperature fitted on the few held-out faces, as before, made the tuned model
    far too sure of itself (0.28 after 30 Happy and 30 Sad faces: calibration error on 1,479 real
    photos 34% against 7% with the base's), and without the prior it ran unlike the shipped model."""
    base_card = base_path.with_suffix(".json")
    try:
        card = json.loads(base_card.read_text()) if base_card.is_file() else {}
        return {key: card[key] for key in ("temperature", "class_prior") if card.get(key) is not None}
    except (OSError, ValueError, TypeError) as exc:
        raise DataError(f"{base_card}: the base model's card is unreadable ({exc})") from exc


def _card_figures(onnx_path: Path, base: Path, root: Path, n_train: int, held: FaceSet, present: list[int],
                  after: dict) -> None:
    """Put what the model was tuned on and its held-out figures into its card, where the app's Home
    and Model card pages read them. Without them a tuned model copied into models/ was shown with
    the FER2013 description and, from models/eval/, the shipped model's FER2013 figures."""
    card_path = onnx_path.with_suffix(".json")
    card = json.loads(card_path.read_text(encoding="utf-8"))
    absent = [LABELS[c] for c in range(NUM_CLASSES) if c not in present]
    card["training_data"] = (
        f"{base} (the base model) fine-tuned on {n_train} faces of {root} "
        f"({', '.join(LABELS[c] for c in present)}). The metrics are on {len(held)} other faces of that folder, "
        "held out from fine-tuning; the model was not measured "
        "on FER2013 after fine-tuning."
        + (f" The folder has no faces of {', '.join(absent)}: the figures say nothing of those." if absent else ""))
    card["metrics"] = {"held_out": {
        "n": len(held), "accuracy": after["accuracy"], "macro_f1": after["macro_f1"],
        "per_class": {label: {"recall": r, "support": int((held.y == LABELS.index(label)).sum())}
                      for label, r in after["per_class_recall"].items()},
        "confusion_matrix": after["confusion_matrix"]}}
    card_path.write_text(json.dumps(card, indent=2) + "\n")


def _report(args: argparse.Namespace, base_path: Path, root: Path, faces: FaceSet, present: list[int],
            train: FaceSet, held: FaceSet, before: dict, after: dict, extra: dict) -> dict:
    """What ``finetune_report.json`` holds: the faces used, the settings and the before/after figures."""
    return {
        "base": str(base_path), "data": str(root),
        "faces": {"total": len(faces), "fine_tune": len(train), "held_out": len(held),
                  "per_class": {LABELS[c]: {"fine_tune": int((train.y == c).sum()),
                                            "held_out": int((held.y == c).sum())} for c in present},
                  "classes_absent": [LABELS[c] for c in range(NUM_CLASSES) if c not in present]},
        "settings": {k: v for k, v in vars(args).items() if k not in ("base", "data", "out")},
        "evaluation": "held-out faces, ONNX via fer_core.load_recognizer().predict_proba"
                      + ("" if args.no_flip_tta else " (flip TTA)")
                      + ", with the base card's temperature and class prior",
        "before": before, "after": after,
        "delta": {"accuracy": after["accuracy"] - before["accuracy"],
                  "macro_f1": after["macro_f1"] - before["macro_f1"]},
        **extra,
    }


def run(args) -> dict:
    """Fine-tune as configured by the parsed ``args``; write the outputs and return the report."""
    import keras

    from fer_core import load_recognizer
    from training import export
    from training.export import export_onnx, fit_temperature, fold_input_scaling, parity

    t0 = time.time()
    base_path = _base_checkpoint(args.base)
    root = Path(args.data).expanduser()
    faces, present, train, held = _user_faces(root, args)

    keras.utils.set_random_seed(args.seed)
    out = Path(args.out).expanduser()
    out.mkdir(parents=True, exist_ok=True)
    flip_tta = not args.no_flip_tta
    core = load_base(base_path)
    blur = _input_blur(base_path, args.input_blur)

    base_onnx = export_onnx(core, out / "base.onnx")
    fold_input_scaling(base_onnx)
    calibration = _base_calibration(base_path)
    prior = {"class_prior": calibration["class_prior"]} if "class_prior" in calibration else {}
    export.write_card(core, base_onnx, str(base_path), flip_tta, calibration.get("temperature", 1.0),
                      input_blur_sigma=blur, **prior)
    before = onnx_metrics(base_onnx, held, present)
    log.info("before: held-out accuracy %.3f, macro-F1 %.3f", before["accuracy"], before["macro_f1"])

    teacher = None
    if args.keep_base > 0:  # a second, untouched copy of the base (renamed: one model holds both)
        base_copy = load_base(base_path)
        teacher = keras.Model(base_copy.inputs[0], base_copy.outputs[0], name="base_teacher")
    history = fit(core, train, args, teacher)
    core.save(out / "fer_model.keras")
    onnx_path = export_onnx(core, out / "fer_model.onnx")
    fold_input_scaling(onnx_path)
    check = parity(core, onnx_path, held.x)
    if "temperature" in calibration:
        temperature = calibration["temperature"]
        note = "the base model's, as is its class prior, if any: the tuned model answers as the base does"
    else:  # a base without a card: fitted on the held-out faces
        raw = load_recognizer(onnx_path, flip_tta=flip_tta, temperature=1.0, class_prior=False,
                              input_blur=blur).predict_proba(held.x, source_sides=held.sides)
        temperature = fit_temperature(raw, held.y)
        note = "fitted on the held-out faces (the base had no card); changes confidences, not accuracy"
    export.write_card(core, onnx_path, str(base_path), flip_tta, temperature, parity=check, input_blur_sigma=blur,
                      finetune={"data": str(root), "faces": len(faces), "held_out": len(held),
                                "classes": [LABELS[c] for c in present], "temperature_note": note}, **prior)
    after = onnx_metrics(onnx_path, held, present)
    log.info("after:  held-out accuracy %.3f, macro-F1 %.3f", after["accuracy"], after["macro_f1"])
    _card_figures(onnx_path, base_path, root, len(train), held, present, after)

    try:
        report = _report(args, base_path, root, faces, present, train, held, before, after, {
            "parity": check, "history": history,
            "files": {"keras": str(out / "fer_model.keras"), "onnx": str(onnx_path),
                      "card": str(onnx_path.with_suffix(".json")), "base_onnx": str(base_onnx)},
            "seconds": round(time.time() - t0, 1),
        })
        (out / "finetune_report.json").write_text(json.dumps(report, indent=2) + "\n")
    except KeyboardInterrupt:
        # The model's files are whole; a report there is part of this one or an earlier run's.
        (out / "finetune_report.json").unlink(missing_ok=True)
        raise ReportNotWritten from None
    return report


class ReportNotWritten(KeyboardInterrupt):
    """Ctrl-C once the fine-tuned model's files were complete, while its report was being written."""


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m training.finetune", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--base", help=f"Keras checkpoint to start from (default: {DEFAULT_BASE} if present)")
    p.add_argument("--data", required=True, help="folder of <class>/*.jpg face crops")
    p.add_argument("--out", required=True, help="folder for the fine-tuned model, its ONNX export and the report")
    p.add_argument("--holdout", type=float, default=0.25, help="share of each class held out for before/after figures")
    p.add_argument("--min-per-class", type=int, default=4, help="fewest faces accepted for a class that is present")
    p.add_argument("--epochs", type=int, default=8, help="total epochs")
    p.add_argument("--frozen-epochs", type=int, default=3, help="first epochs with the early layers frozen (0: none)")
    p.add_argument("--freeze-fraction", type=float, default=0.5,
                   help="share of the weighted layers, from the input, counted as early")
    p.add_argument("--lr", type=float, default=3e-4, help="learning rate (Adam)")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--augment", type=float, default=1.0, help="augmentation strength (0: flips only)")
    p.add_argument("--keep-sharp", type=float, default=0.25,
                   help="fraction of faces spared the resampling steps of augmentation, as the shipped model "
                        "was trained, so it keeps seeing faces as sharp as untouched ones")
    p.add_argument("--label-smoothing", type=float, default=0.1)
    p.add_argument("--keep-base", type=float, default=0.5,
                   help="weight (0-1) of the base model's own answers for the same faces in the loss "
                        "(learning without forgetting): holds the classes your folder lacks, and the rest "
                        "of what it knew, near the base; 0: your labels alone")
    p.add_argument("--class-weight-power", type=float, default=0.5, help="0: no reweighting, 1: balanced classes")
    p.add_argument("--no-flip-tta", action="store_true", help="do not average with the mirrored face at inference")
    p.add_argument("--input-blur", type=float, default=None,
                   help="input blur sigma for the exported models (default: the base card's, beside --base)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--verbose", type=int, default=1, choices=[0, 1, 2], help="1: progress bar, 2: a line per epoch")
    args = p.parse_args(argv)
    if not 0 < args.holdout < 1:
        p.error("--holdout must be between 0 and 1")
    if args.epochs < 1:
        p.error("--epochs must be at least 1")
    if not 0 <= args.keep_sharp <= 1:
        p.error("--keep-sharp must be between 0 and 1")
    problem = first_problem([
        range_problem("--lr", args.lr, 0.0, above=True),
        range_problem("--batch-size", args.batch_size, 1),
        range_problem("--min-per-class", args.min_per_class, 2),
        range_problem("--frozen-epochs", args.frozen_epochs, 0),
        range_problem("--freeze-fraction", args.freeze_fraction, 0.0, 1.0),
        range_problem("--augment", args.augment, 0.0),
        range_problem("--label-smoothing", args.label_smoothing, 0.0, 1.0),
        range_problem("--keep-base", args.keep_base, 0.0, 1.0),
        range_problem("--class-weight-power", args.class_weight_power),
        range_problem("--input-blur", args.input_blur, 0.0),
        folder_problem(Path(args.out).expanduser()),
        out_problem(Path(args.out).expanduser(), Path(args.base).expanduser() if args.base else DEFAULT_BASE),
    ])
    if problem:
        p.error(problem)
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    logging.getLogger("tf2onnx").setLevel(logging.WARNING)  # its INFO lines drown the progress
    started = time.time()
    try:
        report = run(args)
    except (DataError, FileNotFoundError) as exc:
        log.error("%s", exc)
        return 2
    except KeyboardInterrupt as exc:  # Ctrl-C: once a 60-line TensorFlow traceback
        out = Path(args.out).expanduser()
        if isinstance(exc, ReportNotWritten):
            log.error("interrupted: the fine-tuned model is complete: %s in %s; its report finetune_report.json "
                      "was not written (run the same command again for it)", ", ".join(OUTPUTS[:3]), out)
            return 130
        begun = [n for n in OUTPUTS[:3] if (out / n).exists() and (out / n).stat().st_mtime >= started - 1]
        log.error("interrupted: %s (a short run has no resume); run the same command again to start over",
                  f"the fine-tuned model was being written: {', '.join(begun)} in {out} are incomplete"
                  if begun else "no fine-tuned model was written")
        return 130
    b, a = report["before"], report["after"]
    print(f"Held-out faces: {report['faces']['held_out']} of {', '.join(a['per_class_recall'])} "
          f"({report['evaluation']})")
    print(f"  before: accuracy {b['accuracy']:.3f}  macro-F1 {b['macro_f1']:.3f}")
    print(f"  after:  accuracy {a['accuracy']:.3f}  macro-F1 {a['macro_f1']:.3f}")
    if a["classes_not_measured"]:
        print(f"  not measured: {', '.join(a['classes_not_measured'])} (no faces of them in {args.data}; the "
              "figures above say nothing of how the model now answers them)")
    print("Wrote " + ", ".join(report["files"].values()) + f" and {Path(args.out) / 'finetune_report.json'}")
    if not parity_ok(report["parity"]):
        log.error("ONNX output differs from Keras: %s", report["parity"])
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
