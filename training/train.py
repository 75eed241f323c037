"""Train an expression classifier on FER2013 (model selection on PublicTest only).

Example (the shipped model)::

    python -m training.train --data ../shared/data/fer2013.csv.gz --out ~/runs/compact \
        --arch compact --epochs 60

Checkpoints, the CSV log and a backup for resuming live in ``--out``; running the
same command again after an interruption resumes where it stopped.
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

import numpy as np

log = logging.getLogger("training.train")
#: Extra Keras callbacks appended to every run (tests use it to simulate an interruption).
EXTRA_CALLBACKS: list = []


def class_weights(y: np.ndarray, power: float) -> np.ndarray:
    """Per-class weights (n_total / (K * n_c)) ** power, normalised to mean 1 over samples."""
    from fer_core.labels import NUM_CLASSES

    counts = np.bincount(y, minlength=NUM_CLASSES).astype(np.float64)
    w = (counts.sum() / (NUM_CLASSES * np.maximum(counts, 1))) ** power
    w /= (w[y]).mean()
    return w.astype(np.float32)


def make_targets(fs, ferplus_mix: float, teacher: np.ndarray | None = None,
                 teacher_weight: float = 0.0) -> np.ndarray:
    """One-hot FER2013 labels, optionally mixed with FER+ vote distributions and then with a
    teacher's probabilities (knowledge distillation)."""
    from fer_core.labels import NUM_CLASSES

    onehot = np.eye(NUM_CLASSES, dtype=np.float32)[fs.y]
    if ferplus_mix > 0 and fs.soft is not None:
        onehot = (1 - ferplus_mix) * onehot + ferplus_mix * fs.soft
    if teacher is not None and teacher_weight > 0:
        onehot = (1 - teacher_weight) * onehot + teacher_weight * teacher.astype(np.float32)
    return onehot


def fold_of(index: np.ndarray, folds: int, seed: int) -> np.ndarray:
    """The cross-fitting fold (0 to folds-1) of each face, from its source row number and the
    seed alone: a face keeps its fold whichever rows a run loads (with or without the FER+
    non-faces, or with --limit), so the held-out predictions of the fold runs always line up."""
    h = (np.asarray(index, np.uint64) + np.uint64(seed)) * np.uint64(0x9E3779B97F4A7C15)
    h ^= h >> np.uint64(31)
    h *= np.uint64(0xBF58476D1CE4E5B9)
    h ^= h >> np.uint64(29)
    return (h % np.uint64(folds)).astype(np.int64)


def crossfit_probs(paths: list[str | Path], index: np.ndarray) -> np.ndarray:
    """One teacher made of the fold runs' held-out predictions (``heldout.npz``, written by a
    ``--folds N --fold K`` run): each face gets the probabilities of the run that did not
    train on it. Every face in ``index`` must be covered exactly once."""
    from fer_core.labels import NUM_CLASSES

    pos = {int(row): i for i, row in enumerate(index)}
    probs = np.full((len(index), NUM_CLASSES), np.nan, np.float32)
    for path in paths:
        if not Path(path).is_file():
            raise FileNotFoundError(f"held-out predictions not found: {path}")
        with np.load(path) as f:
            if "index" not in f or "probs" not in f:
                raise ValueError(f"{path}: not a heldout.npz of a --folds run (no index/probs)")
            rows, p = f["index"], f["probs"]
        where = np.array([pos.get(int(r), -1) for r in rows], np.int64)
        hit = where >= 0
        if np.isfinite(probs[where[hit]]).any():
            raise ValueError(f"{path}: some faces already have a held-out prediction from another "
                             "file (two runs of the same fold?)")
        probs[where[hit]] = p[hit]
    missing = int(np.isnan(probs[:, 0]).sum())
    if missing:
        raise ValueError(f"{missing} of {len(index)} Training faces have no held-out prediction in "
                         f"{', '.join(map(str, paths))}: pass one heldout.npz per fold, trained "
                         "with the same --folds, --seed and data")
    return probs


def keras_probs(path: str | Path, faces: np.ndarray, batch_size: int = 512) -> np.ndarray:
    """Class probabilities of a saved Keras model (.keras) for (N, 48, 48) uint8 faces, with
    mirror averaging as ``predict_proba`` does it (geometric mean of the face and its mirror
    image); no temperature or input blur, since a bare Keras file has no card.

    This lets a run distil from a model trained moments before on a machine without
    TensorFlow (a lent GPU runs Keras on JAX, and the ONNX export needs TensorFlow).
    """
    from fer_core.recognizer import mirror_average
    from training.export import load_core

    if not Path(path).is_file():
        raise FileNotFoundError(f"teacher model not found: {path}")
    model = load_core(path)
    x = faces[..., None].astype(np.float32)
    views = [model.predict(v, batch_size=batch_size, verbose=0) for v in (x, x[:, :, ::-1])]
    g = mirror_average(*views)
    return (g / g.sum(axis=1, keepdims=True)).astype(np.float32)


def teacher_probs(paths: list[str], faces: np.ndarray, sides: np.ndarray | None = None,
                  threads: int = 2, index: np.ndarray | None = None, class_prior: bool = True) -> np.ndarray:
    """Mean class probabilities of teacher models for (N, 48, 48) uint8 faces.

    An exported teacher (ONNX + card) runs exactly as it would ship
    (``fer_core.Recognizer.predict_proba``: its input blur, mirror averaging and temperature);
    a ``.keras`` teacher runs through :func:`keras_probs`. Both see the untouched faces; the
    student then learns these targets on its augmented views of the same faces. ``sides``:
    the sizes the faces were cut at (``FaceSet.sides``), for the teachers' input-blur rule.
    ``.npz`` files are the held-out predictions of cross-fitting runs; together they count as
    one teacher (:func:`crossfit_probs`, which needs the faces' source rows in ``index``).
    ``class_prior=False``: exported teachers run without their cards' class-prior correction.
    """
    from training.cli import recognizer

    folds = [p for p in paths if str(p).endswith(".npz")]
    probs = [keras_probs(p, faces) if str(p).endswith(".keras")
             else recognizer(p, threads=threads, class_prior=class_prior).predict_proba(faces, source_sides=sides)
             for p in paths if p not in folds]
    if folds:
        if index is None:
            raise ValueError("held-out predictions (.npz) need the faces' source rows")
        probs.append(crossfit_probs(folds, index))
    return np.mean(probs, axis=0).astype(np.float32)


def write_heldout(model_path: Path, heldout, path: Path, folds: int, fold: int) -> None:
    """Predict a fold run's held-out faces (mirror-averaged, as :func:`keras_probs`) and save
    them with their source rows, for a student's ``--teacher .../heldout.npz``."""
    probs = keras_probs(model_path, heldout.x)
    np.savez(path, index=heldout.index, probs=probs, folds=folds, fold=fold)
    log.info("held-out fold %d: %d faces, accuracy %.4f (%s) -> %s", fold, len(heldout),
             float((probs.argmax(1) == heldout.y).mean()), model_path.name, path)


def build_training_model(args, steps_per_epoch: int):
    import keras

    from training.augment import augmenter
    from training.models import build

    if args.init:
        # Warm start (e.g. a second cosine cycle from the shipped model): the architecture
        # comes from the saved model, so --arch/--width are ignored.
        from training.cli import load_keras

        try:
            core = load_keras(args.init)
        except (FileNotFoundError, ValueError) as exc:
            raise RunError(f"--init: {exc}") from exc
    else:
        core = build(args.arch, **({"width": args.width} if args.width else {}))
    aug = augmenter(args.augment, seed=args.seed, keep_sharp=args.keep_sharp, erase=args.erase,
                    resample=args.resample, low_res=args.low_res, photo=args.photo)
    inp = keras.Input(core.input_shape[1:], name="face")
    model = keras.Model(inp, core(aug(inp)), name="trainer")
    total = steps_per_epoch * args.epochs
    warmup = min(steps_per_epoch * args.warmup_epochs, total // 2)
    schedule = keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=args.lr * 0.01, decay_steps=max(total - warmup, 1),
        alpha=0.01, warmup_target=args.lr, warmup_steps=warmup)
    if args.optimizer == "sgd":
        opt = keras.optimizers.SGD(schedule, momentum=0.9, nesterov=True, weight_decay=args.weight_decay)
    else:
        opt = keras.optimizers.AdamW(schedule, weight_decay=args.weight_decay)
    model.compile(
        optimizer=opt,
        loss=keras.losses.CategoricalCrossentropy(label_smoothing=args.label_smoothing),
        metrics=[keras.metrics.CategoricalAccuracy(name="acc")],
        jit_compile=compile_step(args.jit, keras.backend.backend()),
    )
    log.info("train step %s (jit_compile, %s backend)",
             "compiled" if model.jit_compile else "not compiled", keras.backend.backend())
    return model, core


def compile_step(choice: str, backend: str) -> bool:
    """Whether Keras compiles the train step (``jit_compile``). ``auto`` compiles on JAX only:
    TensorFlow runs its graph well uncompiled on these CPUs (and torch's compiler is untried
    here), while JAX (the lent GPU's backend) uncompiled runs op by op, so slowly that one
    epoch of the width-80 net did not end in nine minutes on an H200 (docs/GPU.md)."""
    if choice == "auto":
        return backend == "jax"
    return choice == "on"


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m training.train", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", required=True, help="FER2013 CSV (.csv or .csv.gz) or a folder with train/ and test/")
    p.add_argument("--out", required=True,
                   help="run folder: checkpoints, log, backup for resume. Running the same command again "
                        "resumes an interrupted run there; only --verbose and --jit may differ, and a run "
                        "folder made with other options is refused (use a new --out)")
    p.add_argument("--ferplus", help="FER+ fer2013new.csv: drops non-faces; with --ferplus-mix also soft labels")
    p.add_argument("--ferplus-mix", type=float, default=0.0, help="weight of FER+ votes in the target (0-1)")
    p.add_argument("--teacher", nargs="+", default=[],
                   help="teacher model(s), exported (.onnx with their cards) or saved Keras (.keras), "
                        "and/or the heldout.npz files of --folds runs (together one cross-fitted "
                        "teacher): distil their mean probabilities")
    p.add_argument("--teacher-prior", action=argparse.BooleanOptionalAction, default=True,
                   help="run exported teachers with their cards' class-prior correction (training.prior); "
                        "--no-teacher-prior: without it, the teacher's FER2013 class shares")
    p.add_argument("--teacher-weight", type=float, default=0.5,
                   help="weight of the teacher probabilities in the target (0-1), with --teacher")
    p.add_argument("--arch", default="compact", choices=["compact", "vgg"])
    p.add_argument("--width", type=int, default=0, help="base width (0: the architecture's default)")
    p.add_argument("--init", help="start from this saved .keras model instead of random weights")
    p.add_argument("--epochs", type=int, default=60)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--lr", type=float, default=3e-3, help="peak learning rate")
    p.add_argument("--warmup-epochs", type=int, default=2)
    p.add_argument("--optimizer", choices=["adamw", "sgd"], default="adamw")
    p.add_argument("--weight-decay", type=float, default=5e-4)
    p.add_argument("--label-smoothing", type=float, default=0.1)
    p.add_argument("--augment", type=float, default=1.0, help="augmentation strength (0: flips only)")
    p.add_argument("--keep-sharp", type=float, default=0.0,
                   help="fraction of faces (0-1) spared the resampling steps of augmentation")
    p.add_argument("--resample", choices=["chain", "once"], default="chain",
                   help="rotation, zoom and shift as Keras's three layers (chain: three interpolations) "
                        "or as one affine map (once: one interpolation, sharper faces)")
    p.add_argument("--erase", type=float, default=0.0,
                   help="fraction of faces (0-1) with one random box erased (noise-filled)")
    p.add_argument("--low-res", type=float, default=0.0,
                   help="fraction of faces (0-1) shrunk to 16-40 px and enlarged back, like small faces "
                        "in photos and video frames")
    p.add_argument("--photo", type=float, default=0.0,
                   help="fraction of faces (0-1) given another camera's gamma, blur and noise "
                        "(training.augment.RandomPhotoDegrade)")
    p.add_argument("--mixup", type=float, default=0.0,
                   help="mixup: Beta alpha for blending pairs of faces and their targets (0: off; e.g. 0.2)")
    p.add_argument("--cutmix", type=float, default=0.0,
                   help="CutMix: Beta alpha for pasting a box of another face (0: off; e.g. 1.0)")
    p.add_argument("--mix-prob", type=float, default=0.5,
                   help="share of faces that mixup/CutMix touch (with both on, half get each)")
    p.add_argument("--class-weight-power", type=float, default=0.5,
                   help="0: no reweighting, 1: fully balanced classes")
    p.add_argument("--folds", type=int, default=0,
                   help="cross-fitting: split Training into this many folds by row (with --fold)")
    p.add_argument("--fold", type=int, default=-1,
                   help="with --folds: train without this fold, then write the model's predictions "
                        "for it to <out>/heldout.npz (a teacher whose targets it never trained on)")
    p.add_argument("--limit", type=int, default=0, help="use only the first N training faces (smoke tests)")
    p.add_argument("--seed", type=int, default=1337)
    p.add_argument("--jit", nargs="?", const="on", default="auto", choices=["auto", "on", "off"],
                   help="XLA-compile the train step (auto: on for JAX only)")
    p.add_argument("--verbose", type=int, default=1, choices=[0, 1, 2], help="1: progress bar, 2: a line per epoch")
    return p.parse_args(argv)


class RunError(Exception):
    """A problem with the run's data or teachers, logged and answered with exit status 2."""


PROG = "python -m training.train"
#: Options a resumed run may change: how it reports and how its step is compiled, not what it computes.
RESUME_FREE = ("out", "verbose", "jit")
#: Options that name files: compared as absolute paths, so a resume from another folder matches.
PATH_OPTIONS = ("data", "ferplus", "init", "teacher")


def check_args(args: argparse.Namespace) -> None:
    """Reject option values that cannot make a run (one line on stderr, exit status 2)."""
    from training.cli import first_problem, range_problem, usage_error

    shares = ("ferplus_mix", "teacher_weight", "keep_sharp", "erase", "low_res", "photo", "mix_prob",
              "label_smoothing")
    problem = first_problem([
        *(range_problem(f"--{name.replace('_', '-')}", getattr(args, name), 0.0, 1.0) for name in shares),
        range_problem("--lr", args.lr, 0.0, above=True),
        range_problem("--epochs", args.epochs, 1),
        range_problem("--batch-size", args.batch_size, 1),
        range_problem("--warmup-epochs", args.warmup_epochs, 0),
        range_problem("--width", args.width, 0),
        range_problem("--limit", args.limit, 0),
        *(range_problem(f"--{name.replace('_', '-')}", getattr(args, name), 0.0)
          for name in ("weight_decay", "augment", "mixup", "cutmix")),
        range_problem("--class-weight-power", args.class_weight_power),
    ])
    if problem:
        usage_error(PROG, problem)
    if args.folds or args.fold >= 0:
        if args.folds < 2 or not 0 <= args.fold < args.folds:
            usage_error(PROG, "--folds N (N >= 2) and --fold K (0 <= K < N) go together")
        if args.teacher:
            usage_error(PROG, "a --folds run makes a teacher; it takes no --teacher")
    if args.init and not Path(args.init).expanduser().is_file():
        usage_error(PROG, f"--init {args.init}: no such file")


def _absolute(value):
    """A path option's value (a path, a list of them or None) with every path made absolute."""
    if isinstance(value, list):
        return [_absolute(v) for v in value]
    return str(Path(value).expanduser().resolve()) if value else value


def run_options(options: dict) -> dict:
    """The options that make a run what it is (all but RESUME_FREE), paths made absolute."""
    return {k: _absolute(v) if k in PATH_OPTIONS else v for k, v in options.items() if k not in RESUME_FREE}


def check_out(out: Path, args: argparse.Namespace) -> None:
    """Refuse an ``--out`` that is a file, or that holds a run made with other options than these
    (its ``config.json``): resuming it would mix two runs (another run's best checkpoint kept, or
    weights of another shape restored). One line on stderr, exit status 2."""
    from training.cli import folder_problem, usage_error

    problem = folder_problem(out)
    if problem:
        usage_error(PROG, problem)
    path = out / "config.json"
    if not path.exists():
        return
    try:
        saved = json.loads(path.read_text())
        if not isinstance(saved, dict):
            raise ValueError("not a JSON object")
    except (OSError, ValueError) as exc:
        usage_error(PROG, f"--out {out} holds a run whose {path.name} is unreadable ({exc}); use a new --out")
    defaults = vars(parse_args(["--data", "-", "--out", "-"]))
    new = run_options(vars(args))
    # Older runs recorded fewer options: one they lack had its default then.
    old = run_options({k: saved.get(k, defaults.get(k)) for k in vars(args)})
    if isinstance(saved.get("run_options"), dict):  # as recorded, paths absolute then
        old.update({k: v for k, v in saved["run_options"].items() if k in old})
    changed = [k for k in new if old[k] != new[k]]
    if changed:
        what = ", ".join(f"--{k.replace('_', '-')} {old[k]!r} (now {new[k]!r})" for k in changed)
        usage_error(PROG, f"--out {out} holds a run made with other options ({what}): use a new --out, "
                          "or the same options to resume it")


def load_data(args: argparse.Namespace):
    """(Training faces to train on, PublicTest, the held-out fold or None)."""
    from training.data import DataError, load_splits

    try:
        splits = load_splits(args.data, args.ferplus)
    except DataError as exc:
        raise RunError(str(exc)) from exc
    train, val = splits["Training"], splits["PublicTest"]
    if args.limit:
        train = train.subset(np.arange(len(train)) < args.limit)
    heldout = None
    if args.folds:
        in_fold = fold_of(train.index, args.folds, args.seed) == args.fold
        heldout, train = train.subset(in_fold), train.subset(~in_fold)
        log.info("fold %d of %d: training on %d faces, %d held out for its predictions",
                 args.fold, args.folds, len(train), len(heldout))
    if len(train) == 0:
        raise RunError(f"{args.data} holds no Training faces")
    if len(val) == 0:
        log.warning("no PublicTest faces in %s: no model selection here; the result is last.keras "
                    "(select it on PublicTest where the data is, e.g. with training.export)", args.data)
    return train, val, heldout


def training_targets(args: argparse.Namespace, train) -> np.ndarray:
    """Each Training face's target: its label, mixed with FER+ votes and teachers as asked."""
    teacher = None
    if args.teacher:
        t0 = time.time()
        try:
            teacher = teacher_probs(args.teacher, train.x, train.sides, index=train.index,
                                    class_prior=args.teacher_prior)
        except (FileNotFoundError, ValueError) as exc:
            raise RunError(f"teacher: {exc}") from exc
        agree = float((teacher.argmax(1) == train.y).mean())
        n_folds = sum(str(p).endswith(".npz") for p in args.teacher)
        log.info("teacher probabilities from %d model(s)%s in %.0f s; they agree with %.1f%% of the "
                 "Training labels; target = %.2f teacher + %.2f labels",
                 len(args.teacher) - n_folds + bool(n_folds),
                 f" (one cross-fitted from {n_folds} fold runs)" if n_folds else "",
                 time.time() - t0, 100 * agree, args.teacher_weight, 1 - args.teacher_weight)
    if args.ferplus_mix > 0:
        if train.soft is None:
            raise RunError("--ferplus-mix needs --ferplus (the FER+ votes)")
        log.info("labels = %.2f FER2013 one-hot + %.2f FER+ vote shares", 1 - args.ferplus_mix, args.ferplus_mix)
    return make_targets(train, args.ferplus_mix, teacher, args.teacher_weight)


RANDOM_STATE_FILE = "random_state.json"


def resumed_epoch(out: Path) -> int:
    """Epochs already done by an interrupted run in ``out`` (0 for a fresh one): what Keras's
    ``BackupAndRestore`` will restore."""
    meta = out / "backup" / "training_metadata.json"
    try:
        return int(json.loads(meta.read_text())["epoch"])
    except (OSError, ValueError, KeyError, TypeError):
        return 0


def seed_states(model) -> list:
    """The augmentation layers' random-generator states, in the model's variable order."""
    return [v for v in model.variables if v.path.endswith("seed_generator_state")]


def backup_callback(folder: Path):
    """Keras's ``BackupAndRestore`` in ``folder``; a backup it cannot restore (a file cut short
    or damaged) raises RunError naming the folder instead of Keras's or h5py's traceback."""
    import keras

    class Backup(keras.callbacks.BackupAndRestore):
        def on_train_begin(self, logs=None):
            try:
                super().on_train_begin(logs)
            except (OSError, ValueError, KeyError, TypeError) as exc:
                reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
                raise RunError(f"the backup of the interrupted run in {folder} cannot be restored ({reason}): "
                               "delete that folder to start the run again, or use a new --out") from exc

    return Backup(str(folder))


def make_callbacks(out: Path, core, select: bool) -> list:
    """Backup for resume (weights and optimizer by Keras, the augmentation's random state by
    ``RandomState``), per-epoch seconds, the CSV log and, with PublicTest (``select``), the best
    core model so far; then any EXTRA_CALLBACKS (tests)."""
    import keras

    class RandomState(keras.callbacks.Callback):
        """Saves the augmentation layers' seed-generator states beside Keras's backup and puts
        them back on resume. Keras's backup leaves them out, so a resumed run drew the same
        rotations, crops and flips as its first epochs again, on top of the same data order
        (measured on 256 faces: training loss 1.50 instead of 1.65 two epochs after resuming)."""

        def on_train_begin(self, logs=None):
            start = getattr(self.model, "_initial_epoch", 0) or 0
            path = out / "backup" / RANDOM_STATE_FILE
            if not start:
                return
            try:
                saved = json.loads(path.read_text())
            except (OSError, ValueError):
                saved = None
            states = seed_states(self.model)
            if not saved or saved.get("epoch") != start or len(saved.get("states", [])) != len(states):
                log.warning("resuming after epoch %d without the augmentation's random state (%s): "
                            "its draws start again from the seed", start, path)
                return
            for var, value in zip(states, saved["states"]):
                var.assign(np.asarray(value, dtype=var.dtype))
            log.info("resuming after epoch %d: weights, optimizer and augmentation random state restored",
                     start)

        def on_epoch_end(self, epoch, logs=None):
            path = out / "backup" / RANDOM_STATE_FILE
            if not path.parent.is_dir():  # Keras writes its backup first; nothing to pair with
                return
            tmp = path.with_suffix(".tmp")
            tmp.write_text(json.dumps({"epoch": epoch + 1,
                                       "states": [np.asarray(v).tolist() for v in seed_states(self.model)]}))
            tmp.replace(path)

    class SaveBest(keras.callbacks.Callback):
        """Keep the core (augmentation-free) model with the best PublicTest accuracy."""

        def __init__(self):
            super().__init__()
            state = out / "best.json"
            self.best = json.loads(state.read_text())["val_acc"] if state.exists() else -1.0

        def on_epoch_end(self, epoch, logs=None):
            acc = float(logs.get("val_acc", -1))
            if not np.isfinite(logs.get("loss", 0.0)):  # a diverged model is never the best one
                return
            if acc > self.best:
                self.best = acc
                core.save(out / "best.keras")
                (out / "best.json").write_text(json.dumps({"epoch": epoch + 1, "val_acc": acc}))

    class EpochSeconds(keras.callbacks.Callback):
        """Adds the epoch's wall time to the logs (a ``seconds`` column in log.csv), so time-boxed
        runs (training.device_recipe) can size their epochs; placed before the CSV logger."""

        def on_epoch_begin(self, epoch, logs=None):
            self.t0 = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            if logs is not None:
                logs["seconds"] = time.perf_counter() - self.t0

    return [
        backup_callback(out / "backup"),
        keras.callbacks.TerminateOnNaN(),  # a loss gone NaN or infinite stops the run (main reports it)
        RandomState(),  # after the backup: restores once the weights are back
        EpochSeconds(),
        keras.callbacks.CSVLogger(str(out / "log.csv"), append=True),
        *([SaveBest()] if select else []),
        *EXTRA_CALLBACKS,
    ]


def fit(model, args: argparse.Namespace, train, y_train: np.ndarray, sample_w: np.ndarray,
        validation, callbacks: list):
    """Train, from plain batches or, with --mixup/--cutmix, from mixed ones; returns Keras's History."""
    if args.mixup > 0 or args.cutmix > 0:
        from training.mixing import mixed_batches

        log.info("mixing %.0f%% of the faces (mixup alpha %g, CutMix alpha %g)",
                 100 * args.mix_prob, args.mixup, args.cutmix)
        batches = mixed_batches(train.x, y_train, sample_w, args.batch_size, mixup=args.mixup,
                                cutmix=args.cutmix, prob=args.mix_prob, seed=args.seed,
                                start_epoch=resumed_epoch(Path(args.out).expanduser()))
        return model.fit(batches, epochs=args.epochs, validation_data=validation, verbose=args.verbose,
                         callbacks=callbacks)
    else:
        x_train = train.x[..., None].astype(np.float32)
        return model.fit(x_train, y_train, sample_weight=sample_w, batch_size=args.batch_size, epochs=args.epochs,
                         validation_data=validation, shuffle=True, verbose=args.verbose, callbacks=callbacks)


def main(argv=None) -> int:
    args = parse_args(argv)
    check_args(args)
    out = Path(args.out).expanduser()
    check_out(out, args)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    import keras

    keras.utils.set_random_seed(args.seed)
    out.mkdir(parents=True, exist_ok=True)
    try:
        train, val, heldout = load_data(args)
        log.info("Training %d faces, PublicTest %d (selection only), backend %s",
                 len(train), len(val), keras.backend.backend())
        y_train = training_targets(args, train)
        sample_w = class_weights(train.y, args.class_weight_power)[train.y]
        has_val = len(val) > 0
        validation = (val.x[..., None].astype(np.float32), make_targets(val, 0.0)) if has_val else None

        model, core = build_training_model(args, int(np.ceil(len(train) / args.batch_size)))
        (out / "config.json").write_text(json.dumps({**vars(args), "backend": keras.backend.backend(),
                                                     "params": core.count_params(),
                                                     "run_options": run_options(vars(args))}, indent=2))
        log.info("%s: %d parameters", core.name, core.count_params())
        start = resumed_epoch(out)
        if start:
            # The data order comes from the global seed: reseed so that a resumed run does not go
            # through its first epochs' order again.
            keras.utils.set_random_seed(args.seed + 1009 * start)
        t0 = time.time()
        history = fit(model, args, train, y_train, sample_w, validation, make_callbacks(out, core, has_val))
    except RunError as exc:
        log.error("%s", exc)
        return 2
    losses = history.history.get("loss", [])
    bad = [epoch + 1 for epoch, loss in zip(history.epoch, losses) if not np.isfinite(loss)]
    if bad:
        log.error("training stopped in epoch %d: the loss became NaN or infinite, so no last.keras was saved "
                  "(see %s); try a lower --lr, or check the data and teachers", bad[0], out / "log.csv")
        return 1
    core.save(out / "last.keras")
    if heldout is not None and len(heldout):
        write_heldout(out / ("best.keras" if has_val else "last.keras"), heldout, out / "heldout.npz",
                      args.folds, args.fold)
    if not has_val:
        log.info("done in %.1f min -> %s", (time.time() - t0) / 60, out / "last.keras")
        return 0
    best = json.loads((out / "best.json").read_text())
    log.info("done in %.1f min; best PublicTest accuracy %.4f at epoch %d -> %s",
             (time.time() - t0) / 60, best["val_acc"], best["epoch"], out / "best.keras")
    return 0


if __name__ == "__main__":
    sys.exit(main())
