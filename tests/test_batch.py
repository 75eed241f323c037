"""python -m fer_core.batch: jobs, atomic outputs, identical results to the app's video path,
resuming after a kill, and the same CSVs on Ray (skipped when Ray is not installed)."""
from __future__ import annotations

import io
import logging
import math
import os
import re
import signal
import subprocess
import sys
import time
import unicodedata
from pathlib import Path

import cv2
import pandas as pd
import pytest

from fer_core import batch
from fer_core.session import SessionLog
from fer_core.video import analyze_video
from tests.media import encode_video, face_on_background
from tests.scenes import astronaut_in_large_photo, iou

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
    summary = batch.run_batch([twenty[0].parent], out, workers=2, progress=False, timezone="UTC",
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
    (tmp_path / "a" / "sub" / "3.JFIF").write_bytes(b"")  # a JPEG saved from the web on Windows
    (tmp_path / "a" / "notes.txt").write_bytes(b"")
    (tmp_path / "z.mp4").write_bytes(b"")
    jobs = batch.find_jobs([tmp_path / "a", tmp_path / "z.mp4", tmp_path / "a" / "x.mp4"])
    names = {j.name: j for j in jobs}
    assert set(names) == {"a__x.mp4", "a__x.webm", "a__sub", "a__sub__y", "z"}  # x.mp4 given twice: once
    assert [Path(p).name for p in names["a__sub"].photos] == ["1.png", "2.jpg", "3.JFIF"]
    assert names["a__sub__y"].is_video and not names["a__sub"].is_video
    with pytest.raises(FileNotFoundError):
        batch.find_jobs([tmp_path / "missing"])


def test_find_jobs_tells_namesakes_apart_the_same_way_on_every_run(tmp_path, monkeypatch):
    for p in ("a/lec.mp4", "b/lec.mp4", "c/lec.mp4", "c/lec.webm", "x/rec/w1.mp4", "y/rec/w1.mp4", "vids/lec.mp4",
              "vids/other.mp4", "2024/t/s.mp4", "2025/t/s.mp4", "case/Talk.mp4", "case/talk.mp4"):
        (tmp_path / p).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / p).write_bytes(b"")

    def names(*inputs):
        jobs = batch.find_jobs([tmp_path / i for i in inputs])
        return [j.name for j in jobs]

    monkeypatch.chdir(tmp_path / "a")
    assert [j.name for j in batch.find_jobs(["lec.mp4", tmp_path / "b" / "lec.mp4"])] == ["a__lec", "b__lec"]
    assert names("a/lec.mp4", "b/lec.mp4") == ["a__lec", "b__lec"]  # the folders above tell them apart
    assert names("x/rec", "y/rec") == ["x__rec__w1", "y__rec__w1"]  # so do two folders of one name
    assert names("2024/t/s.mp4", "2025/t/s.mp4") == ["2024__t__s", "2025__t__s"]  # as many folders as needed
    # The extension where it tells some apart, then the folders for those it does not.
    assert names("a/lec.mp4", "c/lec.mp4", "c/lec.webm") == ["a__lec.mp4", "c__lec.mp4", "lec.webm"]
    # A file given again (alone, or in a folder given too) is one job, named as if given once.
    assert names("vids", "vids/lec.mp4") == ["vids__lec", "vids__other"]
    assert names("vids/lec.mp4", "vids/../vids/lec.mp4", "a/lec.mp4") == ["vids__lec", "a__lec"]
    assert names("vids/lec.mp4", "vids") == ["lec", "vids__other"]
    # Names that differ in case only are one file on macOS and Windows: told apart by the path's hash.
    case = names("case")
    assert len({n.casefold() for n in case}) == 2 and all(n.startswith("case__") for n in case)
    everything = ["a/lec.mp4", "b/lec.mp4", "c", "x/rec", "y/rec", "vids", "2024", "2025", "case", "."]
    first = names(*everything)
    assert len({n.casefold() for n in first}) == len(first) == 12  # "." found them all again
    assert names(*everything) == first  # a rerun finds its finished files



def test_find_jobs_tells_apart_names_that_differ_only_in_unicode_form(tmp_path):
    """"séance 1.mp4" named on a Mac (NFD: "e" and the accent apart) and the same name typed on a PC
    (NFC), given from two folders: both were written as "séance 1_expressions.csv", two files of one
    look side by side (and on macOS, whose disk takes both forms for one name, the second over the
    first), and the comparison listed "séance 1" twice. The folders above tell them apart, as they
    do for names alike in case."""
    mac, pc = unicodedata.normalize("NFD", "séance 1.mp4"), unicodedata.normalize("NFC", "séance 1.mp4")
    for folder, name in (("mac", mac), ("pc", pc)):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / name).write_bytes(b"")
    jobs = batch.find_jobs([tmp_path / "mac" / mac, tmp_path / "pc" / pc])
    assert [unicodedata.normalize("NFC", j.name) for j in jobs] == ["mac__séance 1", "pc__séance 1"]
    batch.check_outputs_distinct(tmp_path / "out", jobs)
    alike = [batch.Job(name=n, path=str(tmp_path / "mac" / mac), photos=()) for n in (mac[:-4], pc[:-4])]
    with pytest.raises(ValueError, match="would both be written"):
        batch.check_outputs_distinct(tmp_path / "out", alike)


def test_namesakes_each_get_their_files_and_a_rerun_resumes(tmp_path, capsys):
    for i, folder in enumerate(("a", "b")):
        (tmp_path / folder / "rec").mkdir(parents=True)
        (tmp_path / folder / "lec.mp4").write_bytes(clip(i, seconds=1.0))
        cv2.imwrite(str(tmp_path / folder / "rec" / "p.jpg"), face_on_background(x=10 + 60 * i))
    args = [str(tmp_path / p) for p in ("a/lec.mp4", "b/lec.mp4", "a/rec", "b/rec")]
    out = tmp_path / "out"
    assert batch.main([*args, "--out", str(out), "--workers", "1", "--quiet"]) == 0
    assert "4 analysed, 0 already done, 0 failed" in capsys.readouterr().out
    sessions = ["a__lec", "b__lec", "a__rec", "b__rec"]
    assert sorted(p.name for p in out.glob(f"*{batch.CSV_SUFFIX}")) == sorted(s + batch.CSV_SUFFIX for s in sessions)
    assert (out / f"a__lec{batch.CSV_SUFFIX}").read_bytes() != (out / f"b__lec{batch.CSV_SUFFIX}").read_bytes()
    assert list(pd.read_csv(out / batch.COMPARISON_CSV)["session"]) == sessions
    assert batch.main([*args, "--out", str(out), "--workers", "1", "--quiet"]) == 0
    assert "0 analysed, 4 already done, 0 failed" in capsys.readouterr().out


def test_two_jobs_that_would_still_write_the_same_files_are_refused_before_any_work(tmp_path, monkeypatch, capsys):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "Talk.mp4").write_bytes(b"")
    (tmp_path / "in" / "talk.mp4").write_bytes(b"")  # neither the extension nor a folder tells them apart
    monkeypatch.setattr(batch, "_short_hash", lambda path: "0")  # and (here) not the last resort either
    with pytest.raises(SystemExit) as e:
        batch.main([str(tmp_path / "in"), "--out", str(tmp_path / "out"), "--quiet"])
    assert e.value.code == 2 and "would both be written to" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
    with pytest.raises(ValueError, match="would both be written"):
        batch.check_outputs_distinct(tmp_path, [batch.Job("x", "/1/x.mp4"), batch.Job("X", "/2/X.mp4")])


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
        # Its title (a saved PDF's name) says the zone of its date, as the header does.
        when = re.search(r"analysed (\d{4}-\d\d-\d\d \d\d:\d\d UTC)", html).group(1)
        assert f"<title>Expression session report: {video.name}, {when}</title>" in html
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


def test_comparison_says_when_sessions_had_different_models(tmp_path):
    """A rerun with --everyday into an --out of standard-model logs compares the two; the app's
    comparison report says so, the batch's comparison.html did not."""
    happy = [0, 0, 0, 1, 0, 0, 0]
    jobs = []
    for name, model in (("week1", "Standard (fer_model.onnx)"), ("week2", "Everyday faces (fer_model_everyday.onnx)"),
                        ("week3", "Everyday faces (fer_model_everyday.onnx)")):
        log = SessionLog(source=name)
        for t in range(60):
            log.add_frame(float(t), [(1, (0, 0, 9, 9), happy)], model)
        jobs.append(batch.Job(name=name, path=f"/in/{name}.mp4"))
        csv, report = batch.outputs(tmp_path, jobs[-1])
        csv.write_bytes(log.to_csv())
        report.write_text("<html></html>")
    assert batch.write_comparison(tmp_path, jobs[1:]) == 2
    assert "different expression models" not in (tmp_path / batch.COMPARISON_HTML).read_text()
    assert batch.write_comparison(tmp_path, jobs) == 3
    html = (tmp_path / batch.COMPARISON_HTML).read_text()
    assert ("different expression models (week1: Standard (fer_model.onnx); week2: Everyday faces "
            "(fer_model_everyday.onnx); week3: Everyday faces (fer_model_everyday.onnx))") in html


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


def test_a_photo_given_by_name_is_read_as_a_photo(tmp_path, recognizer):
    """It was decoded as a one-frame video: no photo size checks, and "No frame of this video could
    be decoded" for a broken one."""
    photo, broken = tmp_path / "face.jpg", tmp_path / "broken.jpg"
    cv2.imwrite(str(photo), face_on_background())
    broken.write_bytes(b"\xff\xd8 not a jpeg")
    jobs = batch.find_jobs([photo, broken])
    assert [(j.name, j.photos) for j in jobs] == [("face", (str(photo),)), ("broken", (str(broken),))]
    out = tmp_path / "out"
    s = batch.run_batch([photo, broken], out, workers=1, progress=False)
    assert (s.done, s.failed) == (1, 1)
    df = SessionLog.from_csv((out / f"face{batch.CSV_SUFFIX}").read_bytes()).to_frame()
    assert len(df) == 1 and df["label"].iloc[0] == recognizer.analyze(cv2.imread(str(photo)))[0].label
    assert "Source: face.jpg " in (out / f"face{batch.REPORT_SUFFIX}").read_text()


def test_heic_photos_are_reported_as_skipped_and_why(tmp_path, caplog):
    """A Mac's folder of iPhone photos (HEIC): they were left out unsaid (the folder's session held
    its JPEGs only), and one given by name was read as a video, of its top-left tile."""
    from tests.media import heic_start

    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "IMG_0001.HEIC").write_bytes(heic_start())
    cv2.imwrite(str(folder / "IMG_0002.JPG"), face_on_background())
    alone = tmp_path / "IMG_0003.heic"
    alone.write_bytes(heic_start())
    errors: list[str] = []
    s = batch.run_batch([folder, alone], tmp_path / "out", workers=1, progress=False,
                        on_done=lambda job, r: errors.append(r.error) if r.error else None)
    assert (s.done, s.failed) == (1, 1) and errors == ["none of the 1 photos could be read"]
    skipped = [r.getMessage() for r in caplog.records if r.name == batch.log.name and "skipped" in r.getMessage()]
    assert [m.split(": ")[0] for m in skipped] == [str(folder / "IMG_0001.HEIC"), str(alone)]
    assert all("HEIC photo (the iPhone's \"High Efficiency\" format)" in m for m in skipped)


def test_a_photo_over_the_analysis_size_is_logged_in_its_own_pixels(tmp_path, recognizer):
    """A photo over 4 megapixels is analysed downscaled: its log gave the boxes in the downscaled
    copy's pixels without a word, the face 18% left of and above its place in the photo; now in the
    photo's own, as the Photo page's and ``python -m fer_core``'s files give them."""
    big, face = astronaut_in_large_photo()
    photo = tmp_path / "big.jpg"
    cv2.imwrite(str(photo), big, [cv2.IMWRITE_JPEG_QUALITY, 90])
    out = tmp_path / "out"
    assert batch.run_batch([photo], out, workers=1, progress=False).done == 1
    df = SessionLog.from_csv((out / f"big{batch.CSV_SUFFIX}").read_bytes()).to_frame()
    box = tuple(df[["x", "y", "w", "h"]].iloc[0])
    assert len(df) == 1 and iou(box, recognizer.analyze(big)[0].box) > 0.9 and iou(box, face) > 0.6


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


@pytest.mark.parametrize(("flags", "message"), [
    (["--rate", "1e9"], "at most 120 frames analysed per second"), (["--rate", "inf"], "at most 120"),
    (["--rate", "nan"], "at most 120"), (["--rate", "121"], "at most 120"), (["--rate", "0"], "above 0"),
    (["--rate", "-2"], "above 0"), (["--rate", "fast"], "not a number"),
    (["--max-frames", "0"], "1 or more"), (["--max-frames", "-1"], "1 or more"), (["--workers", "0"], "1 or more")])
def test_a_rate_or_frame_count_that_cannot_be_is_refused_before_any_work(tmp_path, capsys, flags, message):
    video = tmp_path / "v.mp4"
    video.write_bytes(clip(0, seconds=1.0))
    with pytest.raises(SystemExit) as e:
        batch.main([str(video), "--out", str(tmp_path / "out"), "--quiet", "--workers", "1", *flags])
    assert e.value.code == 2 and message in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_run_batch_refuses_a_rate_or_frame_count_that_cannot_be(tmp_path):
    for rate in (math.inf, math.nan, 0.0, 1e9):
        with pytest.raises(ValueError, match="at most 120 frames"):
            batch.run_batch([tmp_path], tmp_path / "out", rate=rate, progress=False)
    with pytest.raises(ValueError, match="at least 1"):
        batch.run_batch([tmp_path], tmp_path / "out", max_frames=0, progress=False)
    assert not (tmp_path / "out").exists()


def test_inputs_or_out_that_cannot_be_are_refused_before_anything_is_written(tmp_path, capsys):
    video = tmp_path / "v.mp4"
    video.write_bytes(b"")
    (tmp_path / "empty").mkdir()
    (tmp_path / "notes" / "deeper").mkdir(parents=True)
    (tmp_path / "notes" / "deeper" / "todo.txt").write_text("nothing to analyse")
    (tmp_path / "a file").write_text("keep me")
    for args, message in [([str(tmp_path / "missing.mp4")], "no such file or folder"),
                          ([str(tmp_path / "empty"), str(tmp_path / "notes")], "no video or photo found in"),
                          ([str(video), "--out", str(tmp_path / "a file")], "is a file: give a folder"),
                          ([str(video), "--out", str(tmp_path / "a file" / "out")], "cannot create the output folder")]:
        with pytest.raises(SystemExit) as e:
            batch.main([*args, "--quiet"] if "--out" in args else [*args, "--out", str(tmp_path / "out"), "--quiet"])
        err = capsys.readouterr().err
        assert e.value.code == 2 and message in err, err
        assert "Traceback" not in err and err.splitlines()[-1].startswith("python -m fer_core.batch: error: ")
        assert not (tmp_path / "out").exists()
    assert (tmp_path / "a file").read_text() == "keep me"


def test_an_output_folder_that_refuses_files_is_refused_before_any_work(tmp_path, monkeypatch, capsys):
    video = tmp_path / "v.mp4"
    video.write_bytes(b"")
    (tmp_path / "out").mkdir()  # exists, but (as a read-only disk would) takes no file

    def read_only(*args, **kwargs):
        raise OSError(30, "Read-only file system")

    monkeypatch.setattr(batch.tempfile, "TemporaryFile", read_only)
    monkeypatch.setattr(batch, "_run_local", lambda *a, **k: pytest.fail("analysed before checking --out"))
    with pytest.raises(SystemExit) as e:
        batch.main([str(video), "--out", str(tmp_path / "out"), "--quiet"])
    err = capsys.readouterr().err
    assert e.value.code == 2 and "cannot write in the output folder" in err and "Read-only file system" in err
    assert "Traceback" not in err


def test_a_disk_that_fills_up_stops_the_run_with_a_message_and_a_rerun_resumes(tmp_path, monkeypatch, capsys):
    inputs = tmp_path / "in"
    inputs.mkdir()
    for name in ("a", "b", "c"):
        (inputs / f"{name}.mp4").write_bytes(b"")
    out = tmp_path / "out"
    analysed: list[str] = []

    def fake_run(jobs, *args, **kwargs):  # results as a worker gives them, without decoding anything
        for job in jobs:
            analysed.append(job.name)
            yield job, batch.JobResult(job.name, b"t,face_id\n", "<html></html>", 1, 0)

    monkeypatch.setattr(batch, "_run_local", fake_run)
    real_write = batch.write_atomic
    room = {"files": 2}  # the first job's CSV and report fit, then the disk is full

    def filling_disk(path, data):
        if room["files"] == 0:
            raise OSError(28, "No space left on device")
        room["files"] -= 1
        real_write(path, data)

    monkeypatch.setattr(batch, "write_atomic", filling_disk)
    assert batch.main([str(inputs), "--out", str(out), "--quiet", "--no-compare"]) == 1
    err = capsys.readouterr().err
    assert "No space left on device" in err and "1 file of this run was written" in err and "Traceback" not in err
    assert analysed == ["in__a", "in__b"]  # stopped at the first failed write, not tried on every file
    assert sorted(p.name for p in out.iterdir()) == ["in__a_expressions.csv", "in__a_report.html"]

    room["files"] = 10  # space freed: the same command finishes the other two
    analysed.clear()
    assert batch.main([str(inputs), "--out", str(out), "--quiet", "--no-compare"]) == 0
    assert analysed == ["in__b", "in__c"]
    assert "2 analysed, 1 already done, 0 failed" in capsys.readouterr().out


def test_a_photo_folder_none_of_whose_photos_can_be_read_fails_and_is_redone(tmp_path, caplog):
    bad, some = tmp_path / "in" / "bad", tmp_path / "in" / "some"
    bad.mkdir(parents=True)
    some.mkdir()
    (bad / "1.jpg").write_bytes(b"not a photo")
    (bad / "2.png").write_bytes(b"\x89PNG not really")
    (some / "0.jpg").write_bytes(b"not a photo")
    cv2.imwrite(str(some / "1.jpg"), face_on_background())
    out = tmp_path / "out"
    errors: list[str] = []
    s = batch.run_batch([tmp_path / "in"], out, workers=1, progress=False,
                        on_done=lambda job, r: errors.append(r.error) if r.error else None)
    assert (s.done, s.failed) == (1, 1) and errors == ["none of the 2 photos could be read"]
    assert not list(out.glob("in__bad*"))  # not done: a rerun tries it again
    assert len(SessionLog.from_csv((out / f"in__some{batch.CSV_SUFFIX}").read_bytes()).to_frame()) == 1
    # Each photo skipped, logged by this process (a worker's log may go nowhere, as on Ray).
    skipped = [r.getMessage() for r in caplog.records if r.name == batch.log.name and "skipped" in r.getMessage()]
    assert [m.split(": ")[0] for m in skipped] == [str(bad / "1.jpg"), str(bad / "2.png"), str(some / "0.jpg")]
    assert f"{bad}: none of the 2 photos could be read" in caplog.text
    cv2.imwrite(str(bad / "1.jpg"), face_on_background())  # mended
    again = batch.run_batch([tmp_path / "in"], out, workers=1, progress=False)
    assert (again.done, again.skipped, again.failed) == (1, 1, 0)


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


def _children(pid: int) -> list[int]:
    """The processes whose parent is ``pid`` (Linux's /proc)."""
    kids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # ended meanwhile
            continue
        if int(fields[1]) == pid:
            kids.append(int(stat.parent.name))
    return kids


def _running(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads the processes from Linux's /proc")
def test_a_worker_ends_with_its_main_process_killed(tmp_path):
    """``kill -9`` of the batch's main process alone (not its group: the out-of-memory killer, a
    scheduler ending the job's process) left its pool worker running as an orphan, on with its video
    and then waiting for the next one forever (20 s on, it and multiprocessing's resource tracker
    were still there). It now ends with the main process."""
    make_videos(tmp_path / "rec", 6, seconds=3.0)
    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-m", "fer_core.batch", str(tmp_path / "rec"), "--out", str(out),
                             "--workers", "1", "--quiet", "--rate", "10"], cwd=ROOT, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while not list(out.glob(f"*{batch.REPORT_SUFFIX}")) and time.time() < deadline:
        time.sleep(0.02)
    kids = _children(proc.pid)  # the pool worker, and multiprocessing's resource tracker
    assert len(kids) == 2, kids
    proc.kill()  # the main process alone
    proc.wait()
    try:
        deadline = time.time() + 60
        while any(_running(k) for k in kids) and time.time() < deadline:
            time.sleep(0.05)
        assert not [k for k in kids if _running(k)]
        assert len(list(out.glob(f"*{batch.REPORT_SUFFIX}"))) < 6  # stopped mid-run, not run to its end
    finally:
        for k in kids:
            if _running(k):
                os.kill(k, signal.SIGKILL)


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


def test_ray_without_a_cluster_to_join_is_one_line_not_a_traceback(tmp_path, monkeypatch, capsys):
    """``--ray auto`` with no cluster started (as the docs' command runs on a fresh machine) ended in
    Ray's ConnectionError traceback, exit status 1: now one line saying what to do, status 2."""
    ray = pytest.importorskip("ray")

    def no_cluster(**kwargs):  # what ray.init(address="auto") raises when no cluster runs here
        raise ConnectionError("Could not find any running Ray instance.")

    monkeypatch.setattr(ray, "is_initialized", lambda: False)
    monkeypatch.setattr(ray, "init", no_cluster)
    make_videos(tmp_path / "in", 1)
    with pytest.raises(SystemExit) as e:
        batch.main([str(tmp_path / "in"), "--out", str(tmp_path / "out"), "--ray", "auto", "--quiet"])
    err = capsys.readouterr().err
    assert e.value.code == 2 and "--ray auto: no Ray cluster to join" in err and "--ray local" in err
    assert "Traceback" not in err and not list((tmp_path / "out").glob("*.csv"))


def test_a_joined_ray_clusters_workers_get_onnxruntime_telemetry_off_too(tmp_path, monkeypatch):
    """``main`` switches ONNX Runtime's telemetry off in its own environment, which a process pool
    and ``--ray local`` inherit; the workers of a cluster started elsewhere (``--ray auto``,
    HOST:PORT) do not, and wrote its device ID under ~/.cache: the setting goes in the runtime_env."""
    ray = pytest.importorskip("ray")
    from fer_core.runtime import ORT_TELEMETRY_ENV

    seen: dict = {}

    def joined(**kwargs):
        seen.update(kwargs)
        raise ConnectionError("stop here")

    monkeypatch.delenv(ORT_TELEMETRY_ENV, raising=False)
    monkeypatch.setattr(ray, "is_initialized", lambda: False)
    monkeypatch.setattr(ray, "init", joined)
    make_videos(tmp_path / "in", 1)
    with pytest.raises(SystemExit):
        batch.main([str(tmp_path / "in"), "--out", str(tmp_path / "out"), "--ray", "auto", "--quiet"])
    assert seen["address"] == "auto"
    assert seen["runtime_env"]["env_vars"][ORT_TELEMETRY_ENV] == "1"


def test_names_too_long_for_a_file_are_shortened_the_same_way_on_every_run(tmp_path):
    deep = tmp_path / "in"
    for level in range(6):  # folders six deep of 40 characters: one name of over 250
        deep = deep / f"{level}{'x' * 39}"
    deep.mkdir(parents=True)
    (deep / f"{'é' * 115}.mp4").write_bytes(b"")  # 230 characters, 234 bytes
    (deep / "short.mp4").write_bytes(b"")
    (tmp_path / "in" / f"{'y' * 220}.mp4").write_bytes(b"")  # 224 bytes with its folder: written as it is
    jobs = batch.find_jobs([tmp_path / "in"])
    assert len(jobs) == 3 and all(len(j.name.encode()) <= batch.MAX_NAME_BYTES for j in jobs)
    assert jobs[0].name == f"in__{'y' * 220}"  # as earlier versions named it: their runs resume
    assert len({j.name for j in jobs}) == 3 and jobs == batch.find_jobs([tmp_path / "in"])
    out = tmp_path / "out"
    out.mkdir()
    for job in jobs:  # the longest files written: the report's temporary file and the CSV
        batch.save(out, batch.JobResult(job.name, b"t\n", "<html></html>", 0, 0), job)
        assert batch.is_done(out, job)


def test_a_symlink_loop_among_the_inputs_is_one_failed_job_not_a_crash(tmp_path):
    """A link that leads round in a circle (``a.mp4 -> b.mp4 -> a.mp4``) once stopped the whole
    run before any work, with a RuntimeError traceback from ``Path.resolve``."""
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "lec.mp4").write_bytes(b"")
    (folder / "loop_a.mp4").symlink_to("loop_b.mp4")
    (folder / "loop_b.mp4").symlink_to("loop_a.mp4")
    (folder / "clash").mkdir()
    (folder / "clash" / "lec.mp4").symlink_to("lec.mp4")  # a loop that also clashes: named by its hash
    (folder / "other").mkdir()
    (folder / "other" / "lec.mp4").write_bytes(b"")
    names = [j.name for j in batch.find_jobs([folder / "clash", folder / "other", folder])]
    assert names[2:] == ["in__lec", "in__loop_a", "in__loop_b"]
    assert len(set(names)) == 5 and names == [j.name for j in batch.find_jobs([folder / "clash", folder / "other",
                                                                             folder])]
    with pytest.raises(FileNotFoundError):  # given by name: neither a file nor a folder (refused, exit 2)
        batch.find_jobs([folder / "loop_a.mp4"])


def test_hidden_files_and_folders_and_macos_zip_leftovers_are_not_inputs(tmp_path):
    """The ``._`` copies macOS leaves on USB sticks and in zips (``__MACOSX``) were each a job that
    failed as an undecodable video, or a photo skipped with a warning: a folder of one good video
    ended "1 failed", exit status 1. The training folders skip them too (training.data)."""
    term = tmp_path / "term"
    (term / "photos").mkdir(parents=True)
    (term / "__MACOSX" / "term").mkdir(parents=True)
    (term / ".Trash-1000" / "files").mkdir(parents=True)
    for p in ("lec.mp4", "._lec.mp4", "__MACOSX/term/._lec.mp4", ".Trash-1000/files/old.mp4", "photos/p.jpg",
              "photos/._p.jpg", ".hidden.mp4"):
        (term / p).write_bytes(b"")
    jobs = batch.find_jobs([term])
    assert [(j.name, [Path(p).name for p in j.photos]) for j in jobs] == [("term__lec", []),
                                                                          ("term__photos", ["p.jpg"])]
    # Given by name, a hidden file is analysed: the user asked for it.
    assert [j.name for j in batch.find_jobs([term / "._lec.mp4"])] == ["._lec"]


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def _fake_results(jobs, *args, **kwargs):  # as a worker gives them, without decoding anything: "bad" fails
    for job in jobs:
        if "bad" in job.name:
            yield job, batch.JobResult(job.name, b"", "", 0, 0, error="This file is not a video we can decode")
        else:
            yield job, batch.JobResult(job.name, b"t,face_id\n", "<html></html>", 1, 0)


def test_progress_is_a_line_per_file_in_a_log_and_warnings_start_their_own_line(tmp_path, monkeypatch):
    """Written to a log file (not a terminal) the bar's ``\\r`` redraws made one long line, and on a
    terminal a warning ran on after the bar (``... lec01   WARNING in__bad.mp4: ...``)."""
    (tmp_path / "in").mkdir()
    for name in ("a", "bad", "c"):
        (tmp_path / "in" / f"{name}.mp4").write_bytes(b"")
    monkeypatch.setattr(batch, "_run_local", _fake_results)
    for stream in (io.StringIO(), _Terminal()):
        handler = logging.StreamHandler(stream)
        batch.log.addHandler(handler)
        monkeypatch.setattr(sys, "stderr", stream)
        try:
            s = batch.run_batch([tmp_path / "in"], tmp_path / f"out{stream.isatty()}", workers=1, compare=False)
        finally:
            batch.log.removeHandler(handler)
        assert (s.done, s.failed) == (2, 1)
        text = stream.getvalue()
        warning = [line for line in text.split("\n") if "not a video we can decode" in line]
        assert warning == [f"{tmp_path / 'in' / 'bad.mp4'}: This file is not a video we can decode"], text
        if stream.isatty():  # the bar redraws itself, and ends its line before the warning and at the end
            assert text.count("\r") == 3 and text.endswith("\n") and "in__a  " in text
        else:
            assert "\r" not in text
            assert [line.split("  ")[0] for line in text.splitlines() if "files" in line] == ["1/3 files", "2/3 files",
                                                                                             "3/3 files"]


def test_ctrl_c_stops_at_once_with_a_message_and_a_rerun_resumes(tmp_path):
    """Ctrl-C printed a KeyboardInterrupt traceback from the main process and one from each worker,
    and said nothing of the files kept; interrupting the main process alone waited for the videos
    the workers were on."""
    make_videos(tmp_path / "rec", 6, seconds=3.0)
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "fer_core.batch", str(tmp_path / "rec"), "--out", str(out), "--workers", "2",
           "--rate", "10"]
    # Ctrl-C's default disposition in the run, as in a terminal: a shell without job control (a
    # script's `cmd &`) starts its background commands with SIGINT ignored, which Python keeps.
    proc = subprocess.Popen(cmd, cwd=ROOT, start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.time() + 120
    while not list(out.glob(f"*{batch.REPORT_SUFFIX}")) and time.time() < deadline:
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGINT)  # as the terminal sends it: to every process of the run
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr[-2000:]
    assert "Traceback" not in stderr and "Error" not in stderr, stderr[-2000:]
    assert stderr.rstrip().endswith(f"interrupted: the files finished so far are kept in {out}; run the same "
                                    "command again to analyse the rest"), stderr[-2000:]
    done = len(list(out.glob(f"*{batch.REPORT_SUFFIX}")))
    assert 1 <= done < 6 and not stdout
    rerun = subprocess.run([*cmd, "--quiet"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0 and f"{6 - done} analysed, {done} already done, 0 failed" in rerun.stdout


def test_a_worker_that_dies_stops_the_run_with_a_message(tmp_path, monkeypatch, capsys):
    """A worker killed in the middle of a file (the kernel's out-of-memory killer) stopped the run
    with a BrokenProcessPool traceback."""
    from concurrent.futures.process import BrokenProcessPool

    (tmp_path / "in").mkdir()
    for name in ("a", "b", "c"):
        (tmp_path / "in" / f"{name}.mp4").write_bytes(b"")

    def one_then_dead(jobs, *args, **kwargs):
        yield from list(_fake_results(jobs))[:1]
        raise BrokenProcessPool("A process in the process pool was terminated abruptly")

    monkeypatch.setattr(batch, "_run_local", one_then_dead)
    assert batch.main([str(tmp_path / "in"), "--out", str(tmp_path / "out"), "--quiet"]) == 1
    err = capsys.readouterr().err
    assert "a worker process stopped in the middle of a file" in err and "1 file of this run was written" in err
    assert "Traceback" not in err and "run the same command again: it resumes" in err.lower()


# -- what the app learnt since, and a hostile folder ----------------------------------------------
def test_videos_are_logged_as_the_video_page_logs_them(tmp_path, recognizer):
    """The same file gives the batch the Video file page's log: mirrored, turned (a phone's), at
    variable frame rate, and at a rate above the video's own, which the page lowers to the video's
    (the batch kept it: a face gone 5 s of a 4 fps video stayed Face 1, the page's Face 2 after it)."""
    from tests.hostile import rotated_video, vfr_video, with_display_matrix

    gone = encode_video([face_on_background(320, 240, face=not (2 <= i / 4 < 7)) for i in range(36)], fps=4)
    mirrored = with_display_matrix(encode_video([face_on_background(320, 240, x=20)] * 8, fps=4),
                                   (-0x10000, 0, 0, 0, 0x10000, 0, 0, 0, 0x40000000))
    files = {"gone.mp4": gone, "mirrored.mp4": mirrored, "phone.mov": rotated_video("mov"), "vfr.mp4": vfr_video()}
    (tmp_path / "in").mkdir()
    for name, data in files.items():
        (tmp_path / "in" / name).write_bytes(data)
    s = batch.run_batch([tmp_path / "in"], tmp_path / "out", workers=1, rate=10.0, progress=False, compare=False)
    assert (s.done, s.failed, s.warnings) == (4, 0, ())
    for name, data in files.items():
        # As app_pages/video_file.py calls it: the upload in memory, the rate asked (the analysis lowers it
        # to the video's own), 7,200 frames.
        page = analyze_video(recognizer, io.BytesIO(data), rate=10.0, max_frames=7200).log
        csv = (tmp_path / "out" / f"in__{Path(name).stem}{batch.CSV_SUFFIX}").read_bytes()
        assert csv == page.to_csv(), name
    faces = SessionLog.from_csv((tmp_path / "out" / f"in__gone{batch.CSV_SUFFIX}").read_bytes()).to_frame()
    assert sorted(faces["face_id"].unique()) == [1, 2]


def test_damaged_and_cut_short_videos_are_analysed_and_said_in_the_closing_lines(tmp_path, capsys):
    """A video garbled halfway and one cut short were written as finished without a word; every
    failure was said once, among the progress lines, where a long run scrolled it away."""
    from tests.media import damage_middle, faststart_mp4

    (tmp_path / "in").mkdir()
    whole = faststart_mp4(tmp_path / "whole.mp4")
    (tmp_path / "in" / "garbled.mp4").write_bytes(damage_middle(whole))
    (tmp_path / "in" / "download.mp4").write_bytes(whole[: len(whole) // 2])
    (tmp_path / "in" / "empty.mp4").write_bytes(b"")
    (tmp_path / "in" / "notes.txt").write_text("to do")
    (tmp_path / "in" / "slides.pdf").write_bytes(b"%PDF")
    out = tmp_path / "out"
    assert batch.main([str(tmp_path / "in"), "--out", str(out), "--workers", "1", "--quiet", "--no-compare"]) == 1
    captured = capsys.readouterr()
    assert "2 analysed, 0 already done, 1 failed" in captured.out
    closing = captured.err[captured.err.index("1 failed (not written"):]
    assert f"  {tmp_path / 'in' / 'empty.mp4'}: the file is empty (0 bytes)" in closing
    assert re.search(rf"  {re.escape(str(tmp_path / 'in' / 'garbled.mp4'))}: \d+ damaged packets of the video could "
                     r"not be decoded: the log has no frame from 0:\d\d to 0:\d\d", closing)
    assert f"  {tmp_path / 'in' / 'download.mp4'}: the video could be decoded only up to 0:" in closing
    assert closing.rstrip().endswith("Left out, as neither videos nor photos: 1 .pdf, 1 .txt")
    assert {p.name for p in out.glob(f"*{batch.REPORT_SUFFIX}")} == {f"in__{n}{batch.REPORT_SUFFIX}"
                                                                    for n in ("garbled", "download")}
    # Their comparison says what of each could not be decoded, as the Compare page does.
    assert batch.write_comparison(out, batch.find_jobs([tmp_path / "in"], {})) == 2
    report = (out / batch.COMPARISON_HTML).read_text()
    assert re.search(r"Damaged videos: of in__(garbled|download), \d+ s could not be decoded \(0:\d\d to 0:\d\d",
                     report)
    assert "0:20, the file cut short)" in report


def test_a_path_the_decoder_names_is_said_once(tmp_path):
    (tmp_path / "loop.mp4").symlink_to("loop.mp4")
    result = batch.analyse_job(batch.Job("loop", str(tmp_path / "loop.mp4")))
    assert result.error == "cannot be read (Too many levels of symbolic links)"


def test_linked_folders_are_searched_once_and_other_video_kinds_taken(tmp_path):
    """A term folder's link to a USB stick's week was left out unsaid (os.walk does not follow
    links), as were camcorder (.MTS), old phone (.3gp) and Windows (.wmv) recordings."""
    term, usb = tmp_path / "term", tmp_path / "usb" / "week4"
    term.mkdir()
    usb.mkdir(parents=True)
    for p in (term / "a.MTS", term / "b.3gp", term / "c.wmv", usb / "d.mp4", term / "e.ts", term / "README"):
        p.write_bytes(b"")
    (term / "week4").symlink_to(usb)
    (term / "again").symlink_to(usb)  # a second link to it: searched once
    (usb / "up").symlink_to(term)  # a loop: not followed again
    left_out: dict[str, int] = {}
    jobs = batch.find_jobs([term], left_out)
    assert [j.name for j in jobs] == ["term__a", "term__b", "term__c", "term__again__d"]
    assert left_out == {".ts": 1, "(none)": 1}


def test_a_second_run_into_the_same_output_folder_is_refused(tmp_path, capsys):
    """Two runs into one --out each analysed every file (twice the work), and each deleted the
    other's temporary files as an interrupted run's."""
    make_videos(tmp_path / "in", 1, seconds=1.0)
    out = tmp_path / "out"
    out.mkdir()
    with batch.OutputLock(out):  # as a run under way holds it
        with pytest.raises(SystemExit) as e:
            batch.main([str(tmp_path / "in"), "--out", str(out), "--quiet"])
        assert e.value.code == 2
        err = capsys.readouterr().err
        assert f"another batch run (process {os.getpid()}) is writing into {out}: wait for it to end" in err
        assert not list(out.glob(f"*{batch.CSV_SUFFIX}"))
    assert batch.main([str(tmp_path / "in"), "--out", str(out), "--quiet", "--workers", "1"]) == 0  # once it ended


def test_reports_are_dated_in_this_computers_zone(tmp_path, monkeypatch, capsys):
    """The batch runs on the educator's own computer, but dated its reports in UTC (the server's
    zone of the app): a 9:00 lecture in Berlin was 'analysed 08:00 UTC'."""
    video = make_videos(tmp_path / "in", 1, seconds=1.0)[0]
    monkeypatch.setenv("TZ", "Europe/Berlin")
    s = batch.run_batch([video], tmp_path / "out", workers=1, progress=False)
    assert s.done == 1
    html = (tmp_path / "out" / f"{video.stem}{batch.REPORT_SUFFIX}").read_text()
    assert re.search(r"<title>Expression session report: lecture00\.mp4, \d{4}-\d\d-\d\d \d\d:\d\d "
                     r"Europe/Berlin</title>", html)
    with pytest.raises(SystemExit) as e:
        batch.main([str(video), "--out", str(tmp_path / "out2"), "--timezone", "Mars/Olympus"])
    assert e.value.code == 2 and "unknown time zone 'Mars/Olympus'" in capsys.readouterr().err
    assert not (tmp_path / "out2").exists()


def test_a_long_video_shows_how_far_it_is_before_it_ends(tmp_path, monkeypatch):
    """Progress came per file only: a term's hour-long lectures showed nothing for half an hour
    (a 3-minute 720p lecture: its first line after 73 s). Workers now tell how far their video is."""
    import queue

    video = make_videos(tmp_path / "in", 1, seconds=2.0)[0]
    told: queue.Queue = queue.Queue()
    monkeypatch.setattr(batch, "_PROGRESS", told)  # as _start_worker sets it in a pool's worker
    monkeypatch.setattr(batch, "PROGRESS_EVERY_S", 0.0)
    batch.analyse_job(batch.Job("in__lecture00", str(video)), rate=2.0)
    said = [told.get_nowait() for _ in range(told.qsize())]
    assert len(said) == 4 and {name for name, _, _ in said} == {"in__lecture00"}
    assert [t for _, _, t in said] == [0.0, 0.5, 1.0, 1.5] and said[-1][1] == pytest.approx(0.75, abs=0.05)

    def working(jobs, *args, on_progress=None, **kwargs):  # a worker half-way through, then done
        for job in jobs:
            on_progress(job.name, 0.5, 1830.0)
            yield job, batch.JobResult(job.name, b"t,face_id\n", "<html></html>", 1, 0)

    monkeypatch.setattr(batch, "_run_local", working)
    monkeypatch.setattr(batch.Progress, "LOG_EVERY_S", 0.0)
    monkeypatch.setattr(batch.Progress, "DRAW_EVERY_S", 0.0)
    for stream in (io.StringIO(), _Terminal()):
        monkeypatch.setattr(sys, "stderr", stream)
        batch.run_batch([video], tmp_path / f"out{stream.isatty()}", workers=1, compare=False)
        lines = stream.getvalue().replace("\r", "\n").split("\n")
        assert any(line.startswith(("0/1 files  at 30:30 (50%)  lecture00", "[" + "#" * 15)) and "at 30:30 (50%)"
                   in line for line in lines), lines


def test_a_files_progress_told_after_its_result_is_not_counted_again(monkeypatch):
    """A worker's last progress message can reach the main process after the file's result (the
    progress queue's feeder thread against the pool's result pipe): the finished file was counted
    again as under way, the bar of 2 files at 29 of 30 marks with one done and the other just begun."""
    monkeypatch.setattr(batch.Progress, "DRAW_EVERY_S", 0.0)
    stream = _Terminal()
    bar = batch.Progress(2, stream=stream)
    bar.advance("a", 0.9, 540.0)
    bar.update("a")
    bar.advance("a", 0.95, 570.0)  # late: "a" is done
    bar.advance("b", 0.0, 0.0)
    last = stream.getvalue().split("\r")[-1]
    assert last.startswith("[" + "#" * 15 + " " * 15 + "]") and "1/2 files" in last, last
