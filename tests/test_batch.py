"""python -m fer_core.batch: jobs, atomic outputs, identical results to the app's video path,
resuming after a kill, and the same CSVs on Ray (skipped when Ray is not installed)."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import pandas as pd
import pytest

from fer_core import batch
from fer_core.session import SessionLog
from fer_core.video import analyze_video
from tests.media import encode_video, face_on_background

ROOT = Path(__file__).resolve().parents[1]


def clip(i: int, seconds: float = 2.0, fps: int = 10) -> bytes:
    """A short video, different for each ``i``: the face at another place, gone for a while."""
    x = 10 + (i * 7) % 70
    gone = (i % 4) / 4 * seconds  # the face leaves at a different time in each clip
    frames = [face_on_background(320, 240, face=not (gone <= k / fps < gone + 0.5), x=x)
              for k in range(int(seconds * fps))]
    return encode_video(frames, fps=fps)


def make_videos(folder: Path, n: int, seconds: float = 2.0) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(n):
        p = folder / f"lecture{i:02d}.mp4"
        p.write_bytes(clip(i, seconds))
        paths.append(p)
    return paths


@pytest.fixture(scope="module")
def recognizer():
    """What the Video page and the batch jobs analyse with: the shipped model, the still-image detector."""
    from fer_core import load_recognizer
    from fer_core.detect import still_detector

    return load_recognizer(detector=still_detector())


@pytest.fixture(scope="module")
def twenty(tmp_path_factory):
    return make_videos(tmp_path_factory.mktemp("videos") / "term", 20)


@pytest.fixture(scope="module")
def local_run(twenty, tmp_path_factory):
    out = tmp_path_factory.mktemp("local")
    results = []
    summary = batch.run_batch([twenty[0].parent], out, workers=2, progress=False,
                              on_done=lambda job, r: results.append(r))
    return out, summary, results


def assert_one_model_per_worker(results, workers: int) -> None:
    pids = {r.worker_pid for r in results}
    assert 1 <= len(pids) <= workers and len(results) > len(pids)  # workers were reused
    assert {r.model_loads for r in results} == {1}  # and each loaded the model once


def test_find_jobs_names_videos_and_photo_folders(tmp_path):
    (tmp_path / "a" / "sub").mkdir(parents=True)
    (tmp_path / "a" / "x.mp4").write_bytes(b"")
    (tmp_path / "a" / "x.webm").write_bytes(b"")
    (tmp_path / "a" / "sub" / "y.MOV").write_bytes(b"")
    (tmp_path / "a" / "sub" / "2.jpg").write_bytes(b"")
    (tmp_path / "a" / "sub" / "1.png").write_bytes(b"")
    (tmp_path / "a" / "notes.txt").write_bytes(b"")
    (tmp_path / "z.mp4").write_bytes(b"")
    jobs = batch.find_jobs([tmp_path / "a", tmp_path / "z.mp4", tmp_path / "a" / "x.mp4"])
    names = {j.name: j for j in jobs}
    assert set(names) == {"a__x.mp4", "a__x.webm", "a__sub", "a__sub__y", "z"}  # x.mp4 given twice: once
    assert [Path(p).name for p in names["a__sub"].photos] == ["1.png", "2.jpg"]
    assert names["a__sub__y"].is_video and not names["a__sub"].is_video
    with pytest.raises(FileNotFoundError):
        batch.find_jobs([tmp_path / "missing"])


def test_write_atomic_leaves_old_file_when_writing_fails(tmp_path, monkeypatch):
    target = tmp_path / "x_expressions.csv"
    batch.write_atomic(target, b"old")
    assert oct(target.stat().st_mode & 0o777) == oct(0o666 & ~_umask())

    def disk_full(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(batch.os, "fsync", disk_full)
    with pytest.raises(OSError):
        batch.write_atomic(target, b"new")
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["x_expressions.csv"]  # no temp file left


def _umask() -> int:
    m = os.umask(0)
    os.umask(m)
    return m


def test_local_run_gives_the_apps_csv_and_a_report(local_run, twenty, recognizer):
    out, summary, results = local_run
    assert (summary.done, summary.skipped, summary.failed) == (20, 0, 0)
    assert_one_model_per_worker(results, 2)
    for video in twenty[:5]:
        csv = out / f"term__{video.stem}{batch.CSV_SUFFIX}"
        # The video page's "Per-frame log (CSV)" for the same file at the same rate.
        assert csv.read_bytes() == analyze_video(recognizer, video, rate=2.0).log.to_csv()
        html = (out / f"term__{video.stem}{batch.REPORT_SUFFIX}").read_text()
        assert "<h1>Expression session report</h1>" in html and video.name in html
    logs = [SessionLog.from_csv((out / f"term__{v.stem}{batch.CSV_SUFFIX}").read_bytes()) for v in twenty]
    assert all(log.summary().frames > 0 and log.summary().faces >= 1 for log in logs)
    assert len({(out / f"term__{v.stem}{batch.CSV_SUFFIX}").read_bytes() for v in twenty}) > 10  # clips differ
    # The sessions side by side, in job order: the app's Compare sessions table and report.
    assert summary.compared == 20
    table = pd.read_csv(out / batch.COMPARISON_CSV)
    assert list(table["session"]) == [f"term__{v.stem}" for v in twenty]
    assert table["observations"].tolist() == [len(log.to_frame()) for log in logs]
    html = (out / batch.COMPARISON_HTML).read_text()
    assert "<h1>Session comparison</h1>" in html and "term__lecture19" in html
    again = batch.run_batch([twenty[0].parent], out, workers=2, progress=False)
    assert (again.done, again.skipped, again.compared) == (0, 20, 20)


def test_cli_everyday_model_gives_that_models_csv(tmp_path):
    from fer_core import load_recognizer
    from fer_core.detect import still_detector
    from fer_core.recognizer import EVERYDAY_MODEL

    video = make_videos(tmp_path / "in", 1, seconds=1.0)[0]
    proc = subprocess.run([sys.executable, "-m", "fer_core.batch", str(video), "--out", str(tmp_path / "out"),
                           "--workers", "1", "--everyday", "--quiet"], cwd=ROOT, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr
    csv = (tmp_path / "out" / f"{video.stem}{batch.CSV_SUFFIX}").read_bytes()
    assert csv == analyze_video(load_recognizer(EVERYDAY_MODEL, detector=still_detector()), video,
                                rate=2.0).log.to_csv()
    assert csv != analyze_video(load_recognizer(detector=still_detector()), video, rate=2.0).log.to_csv()
    with pytest.raises(FileNotFoundError, match="model file not found"):
        batch.run_batch([video], tmp_path / "out2", model=tmp_path / "missing.onnx", progress=False)


def test_comparison_reads_finished_logs_one_at_a_time(tmp_path, caplog):
    from fer_core.compare import compare_sessions
    from tests.test_compare import lecture

    out = tmp_path / "out"
    out.mkdir()
    logs = {"week1": lecture(40, "Happy", "Neutral"), "week2": lecture(30, "Sad", "Sad", faces=5),
            "empty": SessionLog(), "broken": None, "unfinished": lecture(10, "Fear", "Fear")}
    jobs = [batch.Job(name=n, path=f"/in/{n}.mp4") for n in logs]
    for job, log in zip(jobs, logs.values()):
        csv, report = batch.outputs(out, job)
        csv.write_bytes(b"a,b\n1,2\n" if log is None else log.to_csv())
        if job.name != "unfinished":  # no report yet: a job that did not finish
            report.write_text("<html></html>")
    assert batch.write_comparison(out, jobs[:1]) == 0 and not (out / batch.COMPARISON_HTML).exists()
    assert batch.write_comparison(out, jobs) == 2
    assert "broken" in caplog.text and "left out of the comparison" in caplog.text
    table = pd.read_csv(out / batch.COMPARISON_CSV)
    assert list(table["session"]) == ["week1", "week2"] and list(table["most faces at once"]) == [3, 5]
    whole = compare_sessions({n: logs[n].to_frame() for n in ("week1", "week2")})
    assert table["Sad"].tolist() == (100 * whole["Sad"]).round(1).tolist()
    html = (out / batch.COMPARISON_HTML).read_text()
    assert html.count('class="plotly-graph-div"') == 4  # mix, Happy, negative, valence (no attention)
    assert not [p for p in out.iterdir() if p.name.startswith(".")]


def test_photo_folder_and_undecodable_file(tmp_path, recognizer):
    photos = tmp_path / "in" / "snapshots"
    photos.mkdir(parents=True)
    for i in range(3):
        cv2.imwrite(str(photos / f"p{i}.jpg"), face_on_background(face=i != 1))
    (photos / "broken.png").write_bytes(b"\x89PNG not really")
    (tmp_path / "in" / "bad.mp4").write_bytes(b"not a video")
    out = tmp_path / "out"
    s = batch.run_batch([tmp_path / "in"], out, workers=1, progress=False)
    assert (s.done, s.failed) == (1, 1)
    assert not list(out.glob("in__bad*"))
    df = SessionLog.from_csv((out / f"in__snapshots{batch.CSV_SUFFIX}").read_bytes()).to_frame()
    assert sorted(df["time_s"].unique()) == [1.0, 3.0]  # name order: broken.png, p0, p1 (no face), p2
    assert df["face_id"].nunique() == 1  # the same place in both: tracked as one face
    assert df["label"].iloc[0] == recognizer.analyze(cv2.imread(str(photos / "p0.jpg")))[0].label


def test_a_part_of_each_video_with_attention_as_the_video_page_logs_it(tmp_path, recognizer, capsys):
    (tmp_path / "in" / "snaps").mkdir(parents=True)
    video = tmp_path / "in" / "talk.mp4"
    video.write_bytes(clip(0, seconds=4.0))
    cv2.imwrite(str(tmp_path / "in" / "snaps" / "a.jpg"), face_on_background())
    out = tmp_path / "out"
    assert batch.main([str(tmp_path / "in"), "--out", str(out), "--workers", "1", "--quiet",
                       "--from", "0:01", "--to", "2.5", "--attention", "--no-compare"]) == 0
    assert "2 analysed" in capsys.readouterr().out
    csv = (out / f"in__talk{batch.CSV_SUFFIX}").read_bytes()
    assert csv == analyze_video(recognizer, video, attention=True, start_s=1.0, end_s=2.5).log.to_csv()
    df = SessionLog.from_csv(csv).to_frame()
    assert df["time_s"].min() >= 1.0 and df["time_s"].max() <= 2.5 and df.attrs["start_s"] == 1.0
    assert df["yaw"].notna().all() and df["looking"].notna().all()
    assert "Attention (head pose and eyes)" in (out / f"in__talk{batch.REPORT_SUFFIX}").read_text()
    photos = SessionLog.from_csv((out / f"in__snaps{batch.CSV_SUFFIX}").read_bytes()).to_frame()
    assert len(photos) == 1 and photos["yaw"].notna().all()  # photo folders: whole, with attention too


@pytest.mark.parametrize(("flags", "message"), [(["--from", "a minute"], "not a time"),
                                                (["--from", "5", "--to", "0:03"], "end after it")])
def test_a_part_that_cannot_be_is_refused_before_any_work(tmp_path, capsys, flags, message):
    video = tmp_path / "v.mp4"
    video.write_bytes(clip(0))
    with pytest.raises(SystemExit) as e:
        batch.main([str(video), "--out", str(tmp_path / "out"), "--quiet", *flags])
    assert e.value.code == 2 and message in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_a_part_past_a_videos_end_fails_that_video_only(tmp_path):
    short, long = tmp_path / "in" / "short.mp4", tmp_path / "in" / "long.mp4"
    short.parent.mkdir()
    short.write_bytes(clip(1, seconds=2.0))
    long.write_bytes(clip(2, seconds=4.0))
    failed = []
    s = batch.run_batch([short.parent], tmp_path / "out", workers=1, progress=False, start_s=3.0,
                        on_done=lambda job, r: failed.append(r.error) if r.error else None)
    assert (s.done, s.failed) == (1, 1)
    assert failed == ["The video is only 2.0 s long; nothing to analyse from 3.0 s on."]


def _finished(out: Path) -> dict[str, tuple[int, int]]:
    return {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in out.iterdir()
            if not p.name.startswith(".")}


def test_killed_run_resumes_without_redoing_or_corrupting(tmp_path, recognizer):
    videos = make_videos(tmp_path / "rec", 10, seconds=3.0)
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "fer_core.batch", str(tmp_path / "rec"), "--out", str(out),
           "--workers", "1", "--quiet"]
    proc = subprocess.Popen(cmd, cwd=ROOT, start_new_session=True, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while len(list(out.glob(f"*{batch.REPORT_SUFFIX}"))) < 2 and time.time() < deadline:
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGKILL)  # the whole group: the CLI and its pool worker
    proc.wait()
    before = _finished(out)
    done_before = {n.removesuffix(batch.REPORT_SUFFIX) for n in before if n.endswith(batch.REPORT_SUFFIX)}
    assert 2 <= len(done_before) < 10, before
    for name in done_before:  # every finished file is complete
        v = tmp_path / "rec" / f"{name.removeprefix('rec__')}.mp4"
        assert (out / f"{name}{batch.CSV_SUFFIX}").read_bytes() == analyze_video(recognizer, v).log.to_csv()
        assert (out / f"{name}{batch.REPORT_SUFFIX}").read_text().rstrip().endswith("</html>")

    rerun = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    assert f"{10 - len(done_before)} analysed, {len(done_before)} already done, 0 failed" in rerun.stdout
    after = _finished(out)
    assert {k: after[k] for k in before if k.endswith(batch.REPORT_SUFFIX)} == \
           {k: v for k, v in before.items() if k.endswith(batch.REPORT_SUFFIX)}  # not rewritten
    assert len([n for n in after if n.endswith(batch.REPORT_SUFFIX)]) == 10
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no temp file left
    for v in videos:
        assert (out / f"rec__{v.stem}{batch.CSV_SUFFIX}").read_bytes() == analyze_video(recognizer, v).log.to_csv()


def test_ray_gives_the_same_csvs_as_the_local_run(local_run, twenty, tmp_path):
    ray = pytest.importorskip("ray")
    out_local = local_run[0]
    out = tmp_path / "ray"
    results = []
    try:
        s = batch.run_batch([twenty[0].parent], out, ray_address="local", workers=2, progress=False,
                            on_done=lambda job, r: results.append(r))
    finally:
        ray.shutdown()
    assert (s.done, s.failed) == (20, 0)
    assert_one_model_per_worker(results, 2)
    for v in twenty:
        name = f"term__{v.stem}{batch.CSV_SUFFIX}"
        assert (out / name).read_bytes() == (out_local / name).read_bytes(), name
