"""A time-boxed recipe for a lent GPU: a wide teacher, then the slim student distilled from it.

The device machine is lent for minutes, not hours (15 minutes of device time per task, at
most 10 per command), so every stage is sized to the clock. Run there by
``scripts/device_train.sh`` (see docs/GPU.md); it also runs anywhere for a check, on any
Keras backend::

    python -m training.device_recipe --data .device/fer_train.npz --out $OUT --minutes 8 \
        --extra-teacher models/fer_model.onnx

1. Probe: each stage's net trains ``--probe-epochs`` epochs; the first includes compilation,
   the last gives the time of one epoch, and the rest of the probe's wall time is start-up.
2. Teacher: ``--teacher`` (training.train options), with as many epochs as its share of the
   remaining time allows, at most ``--teacher-epochs``.
3. Student: ``--student``, distilled from the teacher's ``last.keras`` plus any
   ``--extra-teacher`` models, with the epochs that fit in the rest, at most ``--student-epochs``.
4. Copies each stage's ``last.keras`` (if under ``--max-file-mb``), the epoch logs, the
   training output and ``summary.json`` into ``--out``.

The cosine schedule is laid over the epochs a stage really gets, so a stage is never cut
short mid-schedule. Packed data usually holds no PublicTest split (the carry limit), so these
runs select nothing: the student's ``last.keras`` is exported and measured on PublicTest
back where the data is (``training.export --data ...``).
"""
from __future__ import annotations

import argparse
import csv
import json
import logging
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

log = logging.getLogger("training.device_recipe")
ROOT = Path(__file__).resolve().parent.parent  # the child runs `python -m training.train` from here

#: The shipped model's recipe (models/MODEL_CARD.md), less the architecture and the epochs.
RECIPE = ("--batch-size 128 --lr 2e-3 --weight-decay 0.01 --class-weight-power 0.3 "
          "--keep-sharp 0.25 --verbose 2")


def epoch_seconds(log_csv: Path) -> list[float]:
    """The ``seconds`` column of a training.train log.csv, one value per epoch."""
    with open(log_csv, newline="") as fh:
        return [float(row["seconds"]) for row in csv.DictReader(fh) if row.get("seconds")]


def plan_epochs(seconds_left: float, per_epoch: float, fixed: float, most: int) -> int:
    """Epochs that fit in ``seconds_left`` after ``fixed`` seconds of start-up and compilation
    (at least 1, at most ``most``), keeping a 5% margin for the end of the run."""
    if per_epoch <= 0:
        return most
    return int(max(1, min(most, (0.95 * seconds_left - fixed) // per_epoch)))


class Recipe:
    def __init__(self, args: argparse.Namespace):
        self.args = args
        args.data = str(Path(args.data).expanduser().resolve())
        args.extra_teacher = [str(Path(t).expanduser().resolve()) for t in args.extra_teacher]
        self.work = Path(args.work).expanduser()
        self.out = Path(args.out).expanduser()
        self.deadline = time.monotonic() + 60 * args.minutes
        self.output = self.out / "train_output.log"
        self.summary: dict = {"minutes": args.minutes, "data": args.data, "stages": {}}

    def left(self) -> float:
        return self.deadline - time.monotonic()

    def train(self, name: str, options: str, epochs: int, extra: list[str] | None = None,
              limit_s: float | None = None) -> tuple[int, float]:
        """Run training.train in a child process (its output appended to train_output.log),
        stopped after ``limit_s`` seconds (default: at the deadline)."""
        run = self.work / name
        timeout = self.left() if limit_s is None else min(self.left(), limit_s)
        shutil.rmtree(run, ignore_errors=True)  # a fresh schedule each time, never a resume
        cmd = [self.args.python, "-m", "training.train", "--data", self.args.data, "--out", str(run),
               *shlex.split(RECIPE), *shlex.split(self.args.common), *shlex.split(options),
               "--epochs", str(epochs), *(extra or [])]
        log.info("%s: %s", name, shlex.join(cmd[1:]))
        t0 = time.monotonic()
        with open(self.output, "a") as fh:
            fh.write(f"\n=== {name}: {shlex.join(cmd)}\n")
            fh.flush()
            try:
                rc = subprocess.run(cmd, stdout=fh, stderr=subprocess.STDOUT, cwd=ROOT,
                                    timeout=max(timeout, 30)).returncode
            except subprocess.TimeoutExpired:
                rc = 124
        wall = time.monotonic() - t0
        log.info("%s: exit %d after %.0f s", name, rc, wall)
        return rc, wall

    def probe(self, name: str, options: str) -> dict:
        n = self.args.probe_epochs
        limit_s = self.args.probe_share * 60 * self.args.minutes
        rc, wall = self.train(f"probe_{name}", options, n, limit_s=limit_s)
        secs = epoch_seconds(self.work / f"probe_{name}" / "log.csv") if rc == 0 else []
        if rc != 0 or len(secs) < n:
            why = (f"{n} epochs took over {limit_s:.0f} s (--probe-share): far too slow to train "
                   "anything in this budget; is the train step compiled? (train_output.log says)"
                   if rc == 124 else f"exit {rc}")
            raise RuntimeError(f"the {name} probe failed: {why}; see {self.output}")
        per_epoch = secs[-1]
        fixed = (wall - sum(secs)) + max(secs[0] - per_epoch, 0.0)  # start-up + compilation
        info = {"epoch_s": round(per_epoch, 2), "fixed_s": round(fixed, 1)}
        log.info("%s: %.2f s per epoch, %.0f s start-up and compilation", name, per_epoch, fixed)
        return info

    def keep(self, run: Path, prefix: str, stage: dict) -> None:
        model = run / "last.keras"
        if model.is_file():
            mb = model.stat().st_size / 2**20
            if mb <= self.args.max_file_mb:
                shutil.copy(model, self.out / f"{prefix}.keras")
                stage["model"] = f"{prefix}.keras"
            else:
                log.warning("%s is %.1f MiB, over --max-file-mb %.0f: not copied", model, mb, self.args.max_file_mb)
        if (run / "log.csv").is_file():
            shutil.copy(run / "log.csv", self.out / f"{prefix}_log.csv")

    def write_summary(self) -> None:
        (self.out / "summary.json").write_text(json.dumps(self.summary, indent=2))

    def run(self) -> int:
        a = self.args
        self.out.mkdir(parents=True, exist_ok=True)
        self.work.mkdir(parents=True, exist_ok=True)
        stages = self.summary["stages"]
        try:
            stages["teacher"] = self.probe("teacher", a.teacher) if a.teacher_epochs > 0 else {}
            stages["student"] = self.probe("student", a.student)
        except RuntimeError as exc:
            log.error("%s", exc)
            self.summary["error"] = str(exc)
            self.write_summary()
            return 1
        teachers = list(a.extra_teacher)
        if a.teacher_epochs > 0:
            t = stages["teacher"]
            # The student's fixed cost is known from its probe; the teacher gets its share of the rest.
            budget = a.teacher_share * (self.left() - stages["student"]["fixed_s"])
            t["epochs"] = plan_epochs(budget, t["epoch_s"], t["fixed_s"], a.teacher_epochs)
            rc, wall = self.train("teacher", a.teacher, t["epochs"])
            t.update(exit=rc, wall_s=round(wall))
            self.keep(self.work / "teacher", "teacher", t)
            if rc == 0:
                teachers.insert(0, str(self.work / "teacher" / "last.keras"))
            else:
                log.error("the teacher run failed; the student learns from %s", teachers or "the labels alone")
            self.write_summary()
        s = stages["student"]
        s["epochs"] = plan_epochs(self.left(), s["epoch_s"], s["fixed_s"] + a.teacher_seconds, a.student_epochs)
        s["teachers"] = teachers
        extra = ["--teacher", *teachers, "--teacher-weight", str(a.teacher_weight)] if teachers else []
        rc, wall = self.train("student", a.student, s["epochs"], extra)
        s.update(exit=rc, wall_s=round(wall))
        self.keep(self.work / "student", "student", s)
        self.summary["total_s"] = round(60 * a.minutes - self.left())
        self.write_summary()
        log.info("summary: %s", json.dumps(self.summary))
        return rc


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m training.device_recipe", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", required=True, help="training data for training.train (a pack from training.pack)")
    p.add_argument("--out", required=True, help="folder for what comes back: models, logs, summary.json")
    p.add_argument("--work", default="/tmp/fer_runs", help="run folders (not copied back)")
    p.add_argument("--minutes", type=float, default=8.0, help="wall-clock budget for everything")
    p.add_argument("--teacher", default="--arch compact --width 80", help="training.train options of the teacher")
    p.add_argument("--teacher-epochs", type=int, default=300, help="most epochs for the teacher (0: no teacher stage)")
    p.add_argument("--teacher-share", type=float, default=0.5, help="share of the time left after the probes")
    p.add_argument("--student", default="--arch compact --width 40", help="training.train options of the student")
    p.add_argument("--student-epochs", type=int, default=400, help="most epochs for the student")
    p.add_argument("--extra-teacher", nargs="*", default=[], help="more teachers for the student (.onnx or .keras)")
    p.add_argument("--teacher-weight", type=float, default=0.5, help="weight of the teachers in the student's target")
    p.add_argument("--teacher-seconds", type=float, default=30.0,
                   help="time set aside for the student's teacher predictions")
    p.add_argument("--common", default="", help="more training.train options for every stage")
    p.add_argument("--probe-epochs", type=int, default=2, help="epochs of each probe (at least 2)")
    p.add_argument("--probe-share", type=float, default=0.25,
                   help="most of the budget one probe may take before the recipe gives up")
    p.add_argument("--max-file-mb", type=float, default=16.0, help="largest model file to copy to --out (MiB)")
    p.add_argument("--python", default=sys.executable, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.probe_epochs < 2:
        p.error("--probe-epochs must be at least 2 (the first epoch includes compilation)")
    if not 0 < args.probe_share <= 0.5:
        p.error("--probe-share must be above 0 and at most 0.5")
    if not 0 < args.teacher_share < 1:
        p.error("--teacher-share must be between 0 and 1")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    return Recipe(args).run()


if __name__ == "__main__":
    sys.exit(main())
