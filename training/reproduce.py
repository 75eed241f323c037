"""Rebuild the shipped model from random weights: every earlier model it starts from or
distils, in order, with the commands recorded in their cards, then its export and evaluation,
and the *Everyday faces* model trained from it.

Example (the full chain)::

    python -m training.reproduce --data ../shared/data/fer2013.csv.gz \
        --ferplus ../shared/data/fer2013new.csv --out ~/runs/repro

The chain (:data:`STAGES`; the cards in ``git log -- models/fer_model.json`` and "Reproducing
the shipped model" in ``models/MODEL_CARD.md``):

1. ``c32``: the width-32 compact net, 40 epochs; exported int8 (a teacher).
2. ``w40``: the width-40 net, 60 epochs; exported int8 with input blur (a teacher).
3. ``m100``: width 40, 100 epochs, distilled from w40 and c32 with keep-sharp (a teacher).
4. ``m150``: the same with 150 epochs (the start of the second cycle and a teacher).
5. ``wrB``: a 36-epoch second cosine cycle from m150 with the FER+ votes mixed in, distilled
   from m150 and m100; its last epoch is exported (the shipped model's recipe).
6. ``everyday``: the *Everyday faces* model (``models/fer_model_everyday.onnx``): 24 epochs
   from wrB with the FER+ votes as the main target and wrB (``--no-teacher-prior``) as teacher;
   exported, then its class prior by the PublicTest rule.
7. ``prior``: ``training.prior`` writes the class-prior correction into wrB's card (the
   strength by its PublicTest rule), as the shipped card has it.
8. ``eval``: ``training.evaluate`` of the last stage's model, wrB (``<out>/eval/metrics.json``).

Each stage writes into ``<out>/<stage>/`` and is a list of commands (a module and its
arguments), run in this process through the module's ``main(argv)`` (``--subprocess``: each
as its own ``python -m``). Exports get ``--train-command`` so every card records its training
command, as the shipped cards do. The evaluation always follows the last stage of
:data:`STAGES`, so a further stage (another cycle) is one more entry there.

Resuming: run the same command again. A stage is finished when its ``done.json`` exists (it
is written atomically, last, and records the commands, the time taken and the outputs), the
commands it records are the ones the stage would run now (``--epochs``/``--width`` make other
commands, so a smoke run never passes for a full one), and its outputs exist. Finished stages
are skipped. In an unfinished stage ``progress.json`` lists the commands already done; the
next one is rerun, and an interrupted ``training.train`` resumes from its own backup
(``<out>/<stage>/backup``). A stage with neither file is started afresh (its folder emptied
first). Once a stage has to run, every later stage is stale: their markers are removed, so
they run again after it. Deleting ``<out>/<stage>/done.json`` therefore redoes that stage and
the ones after it, and nothing before it. Progress goes to stderr and ``<out>/reproduce.log``
(with the stages' own log lines, except under ``--subprocess``, where those stay on stderr);
``<out>/reproduce.json`` sums up the stages' times (an attempt killed without warning counts up to
its last 30-second beat), the training epochs' times and the final model's accuracies. Rerunning
the command on a finished chain rewrites that summary.

Wall time: 410 training epochs (40 + 60 + 100 + 150 + 36 + 24; the measured run below had
the first 386: the everyday stage came later, and its recipe took 29 minutes as cycle r4).
On the machines here (2 CPU cores, two threads, docs/TRAINING.md "Training time") an epoch of
the width-40 net takes 35-45 s on the fastest machine, about 77 s on the AMX machine and 100 s
(median) on the Ice Lake: about 4.5 h, 8.5 h and 11 h of training for the first 386 epochs.
Measured: 7.2 h of training (median epochs) on an AMD EPYC machine with 2 cores, PublicTest
69.77% against the shipped 70.38% (the model card, "Reproducing the shipped model"). On top
of that come the teachers' probabilities (twice two teachers over the Training faces for
m100, m150 and wrB, one for everyday), six int8 exports (each searches the input blur on
PublicTest) and the evaluation: a few minutes each. Run it in the background (``nohup ...
&``) and rerun the same command after any interruption.

Options for trying it: ``--dry-run`` prints the commands (and which stages are finished),
``--until STAGE`` stops after a stage, ``--epochs N`` or ``--epochs-scale F`` change every
training stage's epochs and ``--width N`` the width of the nets trained from scratch (the
``--init`` stage takes its architecture from the saved model); ``tests/test_reproduce.py``
runs the whole chain on tiny generated data with one epoch per stage and width 8.
"""
from __future__ import annotations

import argparse
import importlib
import json
import logging
import os
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

from training.cli import first_problem, folder_problem, range_problem

log = logging.getLogger("training.reproduce")

# Placeholders in the command templates: {data}, {ferplus}, {out}; {train_command} (exports only)
# is the stage's own training command as one line, recorded in the exported card.


def _export(stage: str, checkpoint: str, *extra: str) -> tuple[str, list[str]]:
    return ("training.export", ["--model", f"{{out}}/{stage}/{checkpoint}", "--out", f"{{out}}/{stage}/fer_model.onnx",
                                "--data", "{data}", "--int8", *extra, "--train-command", "{train_command}"])


def _outputs(stage: str, checkpoint: str) -> list[str]:
    return [f"{{out}}/{stage}/{checkpoint}", f"{{out}}/{stage}/fer_model.onnx", f"{{out}}/{stage}/fer_model.json"]


def _train(line: str) -> tuple[str, list[str]]:
    return ("training.train", line.split())


#: The chain, in order, with the training commands as the cards record them. A stage: ``name``
#: (also its folder under ``--out``), ``commands`` (each a module and its argument template),
#: ``outputs`` (files that must exist for it to count as finished) and ``model`` (the exported
#: model it ends with; the closing evaluation takes the last stage's).
STAGES: list[dict] = [
    {"name": "c32",
     "commands": [_train("--data {data} --out {out}/c32 --arch compact --epochs 40 --batch-size 128 --lr 2e-3 "
                         "--weight-decay 0.01 --class-weight-power 0.3 --verbose 2"),
                  _export("c32", "best.keras")],
     "outputs": _outputs("c32", "best.keras"), "model": "{out}/c32/fer_model.onnx"},
    {"name": "w40",
     "commands": [_train("--data {data} --out {out}/w40 --arch compact --width 40 --epochs 60 --batch-size 128 "
                         "--lr 2e-3 --weight-decay 0.01 --class-weight-power 0.3 --verbose 2"),
                  _export("w40", "best.keras", "--input-blur", "auto")],
     "outputs": _outputs("w40", "best.keras"), "model": "{out}/w40/fer_model.onnx"},
    {"name": "m100",
     "commands": [_train("--data {data} --out {out}/m100 --arch compact --width 40 --epochs 100 --batch-size 128 "
                         "--lr 2e-3 --weight-decay 0.01 --class-weight-power 0.3 "
                         "--teacher {out}/w40/fer_model.onnx {out}/c32/fer_model.onnx --teacher-weight 0.5 "
                         "--keep-sharp 0.25 --verbose 2"),
                  _export("m100", "best.keras", "--input-blur", "auto")],
     "outputs": _outputs("m100", "best.keras"), "model": "{out}/m100/fer_model.onnx"},
    {"name": "m150",
     "commands": [_train("--data {data} --out {out}/m150 --arch compact --width 40 --epochs 150 --batch-size 128 "
                         "--lr 2e-3 --weight-decay 0.01 --class-weight-power 0.3 "
                         "--teacher {out}/w40/fer_model.onnx {out}/c32/fer_model.onnx --teacher-weight 0.5 "
                         "--keep-sharp 0.25 --verbose 2"),
                  _export("m150", "best.keras", "--input-blur", "auto")],
     "outputs": _outputs("m150", "best.keras"), "model": "{out}/m150/fer_model.onnx"},
    {"name": "wrB",
     "commands": [_train("--data {data} --ferplus {ferplus} --ferplus-mix 0.3 --out {out}/wrB "
                         "--init {out}/m150/best.keras --epochs 36 --batch-size 128 --lr 8e-4 --warmup-epochs 1 "
                         "--weight-decay 0.01 --class-weight-power 0.3 "
                         "--teacher {out}/m150/fer_model.onnx {out}/m100/fer_model.onnx --teacher-weight 0.5 "
                         "--keep-sharp 0.25 --verbose 2"),
                  _export("wrB", "last.keras", "--input-blur", "auto")],
     "outputs": _outputs("wrB", "last.keras"), "model": "{out}/wrB/fer_model.onnx"},
    # The Everyday faces model (models/MODEL_CARD_everyday.md): 24 epochs from wrB with the FER+ votes as
    # the main target and wrB, without a class prior, as the teacher; exported and given its own prior.
    {"name": "everyday",
     "commands": [_train("--data {data} --ferplus {ferplus} --ferplus-mix 0.6 --out {out}/everyday "
                         "--init {out}/wrB/last.keras --teacher {out}/wrB/fer_model.onnx --no-teacher-prior "
                         "--teacher-weight 0.3 --epochs 24 --batch-size 128 --lr 8e-4 --warmup-epochs 1 "
                         "--weight-decay 0.01 --class-weight-power 0.3 --keep-sharp 0.25 --verbose 2"),
                  _export("everyday", "last.keras", "--input-blur", "auto"),
                  ("training.prior", ["--model", "{out}/everyday/fer_model.onnx", "--data", "{data}",
                                      "--ferplus", "{ferplus}"])],
     "outputs": _outputs("everyday", "last.keras"), "model": "{out}/everyday/fer_model.onnx"},
    # The shipped card's class-prior correction (strength chosen on PublicTest by training.prior's rule).
    {"name": "prior",
     "commands": [("training.prior", ["--model", "{out}/wrB/fer_model.onnx", "--data", "{data}",
                                      "--ferplus", "{ferplus}"])],
     "outputs": ["{out}/wrB/fer_model.json"], "model": "{out}/wrB/fer_model.onnx"},
]


def evaluation_stage(stages: list[dict]) -> dict:
    """The closing stage: ``training.evaluate`` of the model the last stage with one ends with."""
    model = next(s["model"] for s in reversed(stages) if s.get("model"))
    return {"name": "eval",
            "commands": [("training.evaluate", ["--model", model, "--data", "{data}", "--ferplus", "{ferplus}",
                                                "--out", "{out}/eval"])],
            "outputs": ["{out}/eval/metrics.json"]}


def _set_option(argv: list[str], flag: str, value: str) -> list[str]:
    """``argv`` with ``flag``'s value replaced (or the pair appended)."""
    argv = list(argv)
    if flag in argv:
        argv[argv.index(flag) + 1] = value
    else:
        argv += [flag, value]
    return argv


def plan(stages: list[dict], data: str, ferplus: str, out: Path, epochs: int | None = None,
         epochs_scale: float | None = None, width: int | None = None) -> list[dict]:
    """The stages with their commands filled in: ``[{"name", "dir", "commands": [(module, argv)],
    "outputs": [Path]}]``, the overrides applied to the training commands."""
    values = {"data": str(data), "ferplus": str(ferplus), "out": str(out)}
    planned = []
    for stage in [*stages, evaluation_stage(stages)]:
        commands, train_line = [], ""
        for module, template in stage["commands"]:
            argv = [a.format(**values, train_command=train_line) for a in template]
            if module == "training.train":
                if epochs is not None or epochs_scale is not None:
                    n = int(argv[argv.index("--epochs") + 1])
                    n = epochs if epochs is not None else max(1, round(n * epochs_scale))
                    argv = _set_option(argv, "--epochs", str(n))
                if width is not None and "--init" not in argv:
                    argv = _set_option(argv, "--width", str(width))
                train_line = shell_line(module, argv)
            commands.append((module, argv))
        planned.append({"name": stage["name"], "dir": out / stage["name"], "commands": commands,
                        "outputs": [Path(p.format(**values)) for p in stage["outputs"]]})
    return planned


def shell_line(module: str, argv: list[str]) -> str:
    return shlex.join(["python", "-m", module, *argv])


def _write_json(path: Path, obj: dict) -> None:
    """Write atomically: a reader sees the old file or the whole new one, never a part."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(obj, indent=2) + "\n")
    os.replace(tmp, path)


def _read_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None


def _as_lists(commands: list) -> list[list]:
    return [[module, list(argv)] for module, argv in commands]


def finished(stage: dict) -> bool:
    """Its done-marker records the commands it would run now, and its outputs exist."""
    done = _read_json(stage["dir"] / "done.json")
    return (done is not None and done.get("commands") == _as_lists(stage["commands"])
            and all(p.exists() for p in stage["outputs"]))


def invalidate(stage: dict) -> None:
    """Make a stage stale: it will start afresh when it is reached."""
    for name in ("done.json", "progress.json"):
        (stage["dir"] / name).unlink(missing_ok=True)


def run_command(module: str, argv: list[str], subprocess_each: bool) -> int:
    if subprocess_each:
        return subprocess.run([sys.executable, "-m", module, *argv], check=False).returncode
    rc = importlib.import_module(module).main(argv)
    return int(rc or 0)


class _Clock:
    """Counts a command's wall time into ``progress.json`` while it runs (every ``every``
    seconds), so that the time of an attempt killed without warning still counts: the next
    run adds it (``interrupted_seconds``) to the stage's time."""

    def __init__(self, path: Path, progress: dict, every: float = 30.0):
        import threading

        self.path, self.progress, self.every = path, progress, every
        self.stop = threading.Event()
        self.t0 = time.time()
        self.thread = threading.Thread(target=self._beat, daemon=True)
        self.thread.start()

    def _beat(self) -> None:
        # The only writer while the command runs: the caller touches progress again after done().
        while not self.stop.wait(self.every):
            self.progress["running_seconds"] = time.time() - self.t0
            _write_json(self.path, self.progress)

    def done(self, failed: bool = False) -> float:
        """Stop counting. A failed or interrupted command leaves its time in ``progress.json`` for
        the next run to add; a finished one leaves it to the caller."""
        self.stop.set()
        self.thread.join()
        seconds = time.time() - self.t0
        if failed:
            self.progress["running_seconds"] = seconds
            _write_json(self.path, self.progress)
        else:
            self.progress.pop("running_seconds", None)
        return seconds


def run_stage(stage: dict, index: int, total: int, subprocess_each: bool) -> dict:
    """Run a stage's remaining commands, then write its done-marker; returns the marker."""
    folder, commands = stage["dir"], _as_lists(stage["commands"])
    progress = _read_json(folder / "progress.json")
    if progress is not None and progress.get("commands") == commands:
        lost = float(progress.pop("running_seconds", 0.0))
        progress["seconds"] = progress.get("seconds", 0.0) + lost
        progress["interrupted_seconds"] = progress.get("interrupted_seconds", 0.0) + lost
        _write_json(folder / "progress.json", progress)
        log.info("[%d/%d] %s: resuming after %d of %d command(s)%s", index, total, stage["name"],
                 len(progress["completed"]), len(commands),
                 f" ({lost / 60:.1f} min of an interrupted attempt counted)" if lost else "")
    else:
        if folder.exists():
            log.info("[%d/%d] %s: starting afresh (emptying %s)", index, total, stage["name"], folder)
            shutil.rmtree(folder)
        folder.mkdir(parents=True)
        progress = {"commands": commands, "completed": [], "seconds": 0.0}
        _write_json(folder / "progress.json", progress)
    for i, (module, argv) in enumerate(stage["commands"]):
        if i in progress["completed"]:
            log.info("[%d/%d] %s: command %d already done: %s", index, total, stage["name"], i + 1, module)
            continue
        log.info("[%d/%d] %s: command %d of %d: %s", index, total, stage["name"], i + 1, len(commands),
                 shell_line(module, argv))
        clock = _Clock(folder / "progress.json", progress)
        try:
            rc = run_command(module, argv, subprocess_each)
        except BaseException:
            clock.done(failed=True)
            raise
        seconds = clock.done(failed=rc != 0)
        if rc != 0:
            raise RuntimeError(f"stage {stage['name']}: {module} exited with {rc} (rerun to resume)")
        progress["completed"].append(i)
        progress["seconds"] += seconds
        _write_json(folder / "progress.json", progress)
        log.info("[%d/%d] %s: %s done in %.1f min", index, total, stage["name"], module, seconds / 60)
    missing = [str(p) for p in stage["outputs"] if not p.exists()]
    if missing:
        raise RuntimeError(f"stage {stage['name']}: its commands left no {', '.join(missing)}")
    done = {"stage": stage["name"], "commands": commands, "seconds": progress["seconds"],
            "interrupted_seconds": progress.get("interrupted_seconds", 0.0),
            "finished_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "outputs": {str(p): p.stat().st_size for p in stage["outputs"]}}
    _write_json(folder / "done.json", done)
    (folder / "progress.json").unlink(missing_ok=True)
    log.info("[%d/%d] %s: finished in %.1f min", index, total, stage["name"], done["seconds"] / 60)
    return done


def epoch_times(log_csv: Path) -> list[float]:
    """The ``seconds`` column of a training run's ``log.csv`` (one row per epoch, kept across
    resumes; an epoch that was paused counts its pause)."""
    import csv

    try:
        with log_csv.open(newline="") as f:
            return [float(row["seconds"]) for row in csv.DictReader(f) if row.get("seconds")]
    except (FileNotFoundError, KeyError, ValueError):
        return []


def summary(stages: list[dict], out: Path) -> dict:
    """Per-stage and total wall time from the markers, the training epochs' own times, and the
    final model's accuracies. ``training_hours_typical`` (epochs x the stage's median epoch) is
    the figure to compare between machines: it leaves out pauses and a machine shared for a while."""
    import statistics

    markers = [_read_json(s["dir"] / "done.json") for s in stages]
    result: dict = {"stages": {s["name"]: (m or {}).get("seconds") for s, m in zip(stages, markers)}}
    result["total_hours"] = sum(v or 0.0 for v in result["stages"].values()) / 3600
    epochs = {s["name"]: epoch_times(s["dir"] / "log.csv") for s in stages}
    epochs = {k: v for k, v in epochs.items() if v}
    result["epochs"] = {k: {"epochs": len(v), "median_seconds": statistics.median(v), "sum_seconds": sum(v)}
                        for k, v in epochs.items()}
    result["training_hours_typical"] = sum(e["epochs"] * e["median_seconds"] for e in result["epochs"].values()) / 3600
    metrics = _read_json(out / "eval" / "metrics.json")
    if metrics:
        result["model"] = metrics.get("model")
        result["accuracy"] = {k: v["accuracy"] for k, v in metrics["splits"].items()}
    return result


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m training.reproduce", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", required=True, help="FER2013 CSV (fer2013.csv.gz)")
    p.add_argument("--ferplus", required=True, help="FER+ fer2013new.csv (the last cycle mixes in its votes)")
    p.add_argument("--out", required=True, help="folder for every stage's run (a subfolder each)")
    scale = p.add_mutually_exclusive_group()
    scale.add_argument("--epochs", type=int, help="every training stage trains this many epochs (smoke runs)")
    scale.add_argument("--epochs-scale", type=float, help="multiply every training stage's epochs (at least 1)")
    p.add_argument("--width", type=int, help="width of the nets trained from scratch (smoke runs)")
    p.add_argument("--until", help="stop after this stage")
    p.add_argument("--dry-run", action="store_true", help="print the commands, run nothing")
    p.add_argument("--subprocess", action="store_true", help="run each command as its own python -m process")
    args = p.parse_args(argv)
    names = [s["name"] for s in STAGES] + ["eval"]
    if args.until and args.until not in names:
        p.error(f"--until: no stage {args.until!r} (stages: {', '.join(names)})")
    problem = first_problem([range_problem("--epochs", args.epochs, 1),
                             range_problem("--epochs-scale", args.epochs_scale, 0.0, above=True),
                             range_problem("--width", args.width, 1),
                             folder_problem(Path(args.out).expanduser())])
    if problem:
        p.error(problem)
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    out = Path(args.out).expanduser().resolve()
    stages = plan(STAGES, args.data, args.ferplus, out, args.epochs, args.epochs_scale, args.width)
    if args.until:
        last = next(i for i, s in enumerate(stages) if s["name"] == args.until)
    else:
        last = len(stages) - 1
    if args.dry_run:
        for i, stage in enumerate(stages[:last + 1]):
            state = "finished" if finished(stage) else "to run"
            print(f"# stage {i + 1}/{len(stages)}: {stage['name']} ({state})")
            for module, cmd in stage["commands"]:
                print(shell_line(module, cmd))
        return 0

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    out.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(out / "reproduce.log")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    training_log = logging.getLogger("training")  # this module's and the stages' own log lines
    training_log.addHandler(handler)
    level = training_log.level
    if training_log.getEffectiveLevel() > logging.INFO:
        training_log.setLevel(logging.INFO)
    try:
        stale = False
        for i, stage in enumerate(stages):
            if i > last:
                break
            if not stale and finished(stage):
                log.info("[%d/%d] %s: finished earlier (%s), skipped", i + 1, len(stages), stage["name"],
                         stage["dir"] / "done.json")
                continue
            if not stale:
                for later in stages[i + 1:]:
                    invalidate(later)
                stale = True
            run_stage(stage, i + 1, len(stages), args.subprocess)
        result = summary(stages, out)
        _write_json(out / "reproduce.json", result)
        log.info("chain up to %s finished: %.2f h of stages; %s", stages[last]["name"], result["total_hours"],
                 ", ".join(f"{k} {v:.4f}" for k, v in result.get("accuracy", {}).items()) or "not evaluated yet")
    except RuntimeError as exc:
        log.error("%s", exc)
        return 1
    finally:
        training_log.removeHandler(handler)
        training_log.setLevel(level)
        handler.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
