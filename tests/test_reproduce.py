"""training.reproduce: the whole chain on tiny generated data (one epoch per stage, width 8),
its resume rules (finished stages skipped, a deleted marker redoes that stage and the later
ones, an interrupted stage reruns only its remaining commands) and --dry-run."""
from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from training import reproduce

NAMES = [s["name"] for s in reproduce.STAGES] + ["eval"]


@pytest.fixture(scope="module")
def tiny_ferplus(tiny_csv, tmp_path_factory):
    """FER+ votes for every row of the tiny CSV (same row order), a few rows marked not-a-face."""
    from training.data import load_fer2013_csv

    n = sum(len(s) for s in load_fer2013_csv(tiny_csv).values())
    rows = ["Usage,Image name,neutral,happiness,surprise,sadness,anger,disgust,fear,contempt,unknown,NF"]
    for i in range(n):
        votes = [0] * 9  # neutral ... fear, contempt, unknown
        votes[i % 7] = 7
        votes[(i + 3) % 7] += 3
        nf = 10 if i % 50 == 49 else 0
        rows.append(f"Training,fer{i:07d}.png,{','.join(map(str, votes))},{nf}")
    path = tmp_path_factory.mktemp("ferplus") / "fer2013new.csv"
    path.write_text("\n".join(rows) + "\n")
    return path


def snapshot(root):
    """mtime (ns) of every file a stage wrote, by path relative to the run folder."""
    return {str(p.relative_to(root)): p.stat().st_mtime_ns for p in root.rglob("*")
            if p.is_file() and p.parent != root}


def stage_of(rel: str) -> str:
    return rel.split("/")[0]


def new_log(out, since: int) -> str:
    return (out / "reproduce.log").read_text()[since:]


def test_chain_runs_skips_finished_stages_and_redoes_from_a_deleted_marker(tmp_path, tiny_csv, tiny_ferplus):
    out = tmp_path / "repro"
    args = ["--data", str(tiny_csv), "--ferplus", str(tiny_ferplus), "--out", str(out), "--epochs", "1",
            "--width", "8"]
    assert reproduce.main(args) == 0

    for name in NAMES:
        done = json.loads((out / name / "done.json").read_text())
        assert done["stage"] == name and not (out / name / "progress.json").exists()
        assert all((out / name / p).exists() for p in done["outputs"])
    for name in NAMES[:-2]:  # the training stages (then the class prior and the evaluation)
        card = json.loads((out / name / "fer_model.json").read_text())
        train_argv = shlex.split(card["train_command"])
        assert train_argv[:3] == ["python", "-m", "training.train"]
        assert train_argv[train_argv.index("--epochs") + 1] == "1"
        assert train_argv[train_argv.index("--out") + 1] == str(out / name)
        assert (out / name / "fer_model.float32.onnx").exists()  # int8 export keeps the float32 beside it
    # The prior stage wrote its correction into the last model's card, as the shipped card has it.
    assert "log_shift" in json.loads((out / "wrB" / "fer_model.json").read_text())["class_prior"]
    # The distilled stages learnt from the earlier stages' exports, the last cycle started from m150.
    wrb = json.loads((out / "wrB" / "config.json").read_text())
    assert wrb["init"] == str(out / "m150" / "best.keras")
    assert wrb["teacher"] == [str(out / "m150" / "fer_model.onnx"), str(out / "m100" / "fer_model.onnx")]
    assert wrb["ferplus_mix"] == 0.3 and wrb["width"] == 0  # --width is not forced on the --init stage
    check_everyday_stage(out)
    assert json.loads((out / "c32" / "config.json").read_text())["width"] == 8
    metrics = json.loads((out / "eval" / "metrics.json").read_text())
    assert metrics["model"] == str(out / "wrB" / "fer_model.onnx")
    assert {"PublicTest", "PrivateTest", "PrivateTest_FERplus_majority"} <= set(metrics["splits"])
    summary = json.loads((out / "reproduce.json").read_text())
    assert list(summary["stages"]) == NAMES and summary["accuracy"]["PublicTest"] == \
        metrics["splits"]["PublicTest"]["accuracy"]
    assert list(summary["epochs"]) == NAMES[:-2] and all(e["epochs"] == 1 for e in summary["epochs"].values())
    assert summary["training_hours_typical"] == pytest.approx(
        sum(e["median_seconds"] for e in summary["epochs"].values()) / 3600)

    # Run again: nothing is redone.
    before, since = snapshot(out), len((out / "reproduce.log").read_text())
    assert reproduce.main(args) == 0
    assert snapshot(out) == before
    log = new_log(out, since)
    assert all(f"{name}: finished earlier" in log and f"] {name}: command" not in log for name in NAMES)

    # Delete m150's marker: m150 and every later stage are redone, c32, w40 and m100 are not touched.
    (out / "m150" / "done.json").unlink()
    before, since = snapshot(out), len((out / "reproduce.log").read_text())
    assert reproduce.main(args) == 0
    after, log = snapshot(out), new_log(out, since)
    redone = {"m150", "wrB", "everyday", "prior", "eval"}
    for rel, mtime in before.items():
        if stage_of(rel) in redone and not rel.endswith("done.json"):
            assert after.get(rel) != mtime, f"{rel} was not redone"
        elif stage_of(rel) not in redone:
            assert after[rel] == mtime, f"{rel} was redone"
    for name in NAMES:
        assert (f"{name}: finished earlier" in log) == (name not in redone)
    assert (out / "m150" / "done.json").exists()

    # An interrupted stage (its training done, its export not) reruns only the export.
    (out / "wrB" / "done.json").unlink()
    (out / "wrB" / "fer_model.onnx").unlink()
    stage = next(s for s in reproduce.plan(reproduce.STAGES, str(tiny_csv), str(tiny_ferplus), out, epochs=1,
                                           width=8) if s["name"] == "wrB")
    (out / "wrB" / "progress.json").write_text(json.dumps(
        {"commands": [[m, a] for m, a in stage["commands"]], "completed": [0], "seconds": 1.0,
         "running_seconds": 90.0}))  # the export had run 90 s when it was killed
    before, since = snapshot(out), len((out / "reproduce.log").read_text())
    assert reproduce.main(args) == 0
    after, log = snapshot(out), new_log(out, since)
    assert after["wrB/last.keras"] == before["wrB/last.keras"]
    assert "wrB/fer_model.onnx" in after and after["wrB/fer_model.json"] != before["wrB/fer_model.json"]
    assert "wrB: resuming after 1 of 2 command(s) (1.5 min of an interrupted attempt counted)" in log
    assert "wrB: command 2 of 2: python -m training.export" in log
    done = json.loads((out / "wrB" / "done.json").read_text())
    assert done["interrupted_seconds"] == 90.0 and done["seconds"] > 91.0
    assert "wrB: command 1 of 2" not in log and "wrB: command 1 already done" in log
    assert after["eval/metrics.json"] != before["eval/metrics.json"]

    # Another epoch count makes other commands: the smoke run does not pass for that chain.
    assert "c32 (to run)" in dry_run(["--data", str(tiny_csv), "--ferplus", str(tiny_ferplus), "--out", str(out),
                                      "--epochs", "2", "--width", "8"])


def check_everyday_stage(out):
    """The everyday model: from wrB, wrB's export as its teacher without a class prior, its own prior after."""
    everyday = json.loads((out / "everyday" / "config.json").read_text())
    assert everyday["init"] == str(out / "wrB" / "last.keras") and everyday["ferplus_mix"] == 0.6
    assert everyday["teacher"] == [str(out / "wrB" / "fer_model.onnx")] and everyday["teacher_prior"] is False
    assert "log_shift" in json.loads((out / "everyday" / "fer_model.json").read_text())["class_prior"]


def dry_run(args) -> str:
    import contextlib
    import io

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        assert reproduce.main([*args, "--dry-run"]) == 0
    return buf.getvalue()


def test_dry_run_prints_every_stage_in_order_and_runs_nothing(tmp_path):
    out = tmp_path / "repro"
    text = dry_run(["--data", "fer.csv.gz", "--ferplus", "new.csv", "--out", str(out), "--epochs-scale", "0.5"])
    assert not out.exists()
    headers = [line for line in text.splitlines() if line.startswith("# stage")]
    assert [h.split(": ")[1].split(" ")[0] for h in headers] == NAMES
    assert NAMES == ["c32", "w40", "m100", "m150", "wrB", "everyday", "prior", "eval"]
    commands = [shlex.split(line) for line in text.splitlines() if line.startswith("python -m")]
    trains = [c for c in commands if c[2] == "training.train"]
    assert [c[c.index("--epochs") + 1] for c in trains] == ["20", "30", "50", "75", "18", "12"]
    exports = [c for c in commands if c[2] == "training.export"]
    assert len(exports) == 6 and all("--int8" in c for c in exports)
    # Each export records its own stage's training command.
    assert [shlex.split(c[c.index("--train-command") + 1]) for c in exports] == trains
    assert commands[-1][2] == "training.evaluate" and commands[-1][commands[-1].index("--model") + 1] == \
        str(out / "wrB" / "fer_model.onnx")

    text = dry_run(["--data", "d", "--ferplus", "f", "--out", str(out), "--until", "m100"])
    assert [line.split(": ")[1].split(" ")[0] for line in text.splitlines() if line.startswith("# stage")] == \
        ["c32", "w40", "m100"]
    with pytest.raises(SystemExit):
        reproduce.main(["--data", "d", "--ferplus", "f", "--out", str(out), "--until", "nope"])


def test_a_failing_command_stops_the_chain_without_a_marker(tmp_path):
    out = tmp_path / "repro"
    assert reproduce.main(["--data", str(tmp_path / "missing.csv"), "--ferplus", "f", "--out", str(out),
                           "--epochs", "1", "--width", "8", "--until", "c32"]) == 1
    assert not (out / "c32" / "done.json").exists()
    assert json.loads((out / "c32" / "progress.json").read_text())["completed"] == []
    assert "training.train exited with 2" in (out / "reproduce.log").read_text()


def test_score_candidate_exports_fits_the_prior_and_scores_a_folder(tmp_path, tiny_csv, tiny_ferplus):
    """scripts/score_candidate.sh, end to end on tiny data: the numbers it prints come from the
    card and the folder evaluation it wrote."""
    import cv2

    from training import train

    assert train.main(["--data", str(tiny_csv), "--out", str(tmp_path / "run"), "--width", "8",
                       "--epochs", "1", "--verbose", "0"]) == 0
    data = tmp_path / "data"
    data.mkdir()
    (data / "fer2013.csv.gz").symlink_to(tiny_csv)
    (data / "fer2013new.csv").symlink_to(tiny_ferplus)
    rng = np.random.default_rng(0)
    for name in ("Angry", "Happy", "Neutral", "Sad", "Surprise"):
        (data / "muxspace" / name).mkdir(parents=True)
        for i in range(3):
            cv2.imwrite(str(data / "muxspace" / name / f"{i}.jpg"), rng.integers(0, 255, (64, 64), np.uint8))
    out = tmp_path / "scored"
    root = Path(__file__).resolve().parent.parent
    run = subprocess.run(["bash", str(root / "scripts/score_candidate.sh"), str(tmp_path / "run/last.keras"),
                          str(out), str(data)], capture_output=True, text=True, timeout=600,
                         env={**os.environ, "PYTHON": sys.executable})
    assert run.returncode == 0, run.stdout + run.stderr
    card = json.loads((out / "fer_model.json").read_text())
    shown = float(re.search(r"PublicTest as shipped \(with the prior\): ([\d.]+)%", run.stdout).group(1))
    table = card["class_prior"]["publictest_accuracy_by_strength"]
    chosen = min(table, key=lambda r: abs(r["alpha"] - card["class_prior"]["strength"]))
    assert shown == pytest.approx(100 * chosen["accuracy"], abs=0.006)
    assert "n=15 " in run.stdout and "mean recall (Angry, Happy, Sad, Surprise, Neutral)" in run.stdout
    # A missing data file stops it with the step's log named.
    bad = subprocess.run(["bash", str(root / "scripts/score_candidate.sh"), str(tmp_path / "run/last.keras"),
                          str(tmp_path / "bad"), str(tmp_path / "nodata")], capture_output=True, text=True,
                         timeout=600, env={**os.environ, "PYTHON": sys.executable})
    assert bad.returncode == 1 and "export failed" in bad.stderr


def test_clock_keeps_the_time_of_a_command_killed_midway(tmp_path):
    """The stage's time survives a kill: progress.json holds the running time, beat by beat."""
    import time

    path = tmp_path / "progress.json"
    progress = {"commands": [], "completed": [], "seconds": 0.0}
    clock = reproduce._Clock(path, progress, every=0.05)
    time.sleep(0.3)
    on_disk = json.loads(path.read_text())  # what a kill at this moment would leave
    assert 0.1 <= on_disk["running_seconds"] <= 0.35
    seconds = clock.done()
    assert seconds >= 0.3 and "running_seconds" not in progress
    clock = reproduce._Clock(path, progress, every=10)
    assert clock.done(failed=True) < 1 and "running_seconds" in json.loads(path.read_text())


@pytest.mark.parametrize("bad, message", [
    (["--epochs-scale", "nan"], "--epochs-scale must be above 0 (got nan)"),
    (["--epochs-scale", "0"], "--epochs-scale must be above 0 (got 0)"),
    (["--epochs", "0"], "--epochs must be at least 1 (got 0)"),
    (["--width", "-8"], "--width must be at least 1 (got -8)"),
    (["--out", "FILE"], "is a file, not a folder"),
])
def test_bad_numbers_and_an_out_that_is_a_file_are_refused(tmp_path, capsys, bad, message):
    (tmp_path / "f.txt").write_text("x")
    args = ["--data", "d", "--ferplus", "f", "--out", str(tmp_path / "repro"), *bad]
    with pytest.raises(SystemExit) as e:
        reproduce.main([str(tmp_path / "f.txt") if a == "FILE" else a for a in args])
    assert e.value.code == 2 and message in capsys.readouterr().err
    assert not (tmp_path / "repro").exists()
