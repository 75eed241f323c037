"""Analyse many recordings into the app's per-frame CSV logs and HTML reports.

    python -m fer_core.batch lectures/ week1.mp4 --out results/ [--workers 2] [--rate 2]
    python -m fer_core.batch lectures/ --out results/ --ray auto        # or --ray HOST:6379
    python -m fer_core.batch lectures/ --out results/ --from 5:00 --to 50:00 --attention

Each video file is one job; each folder of photos is one job too (its photos in name order
are the frames of one session, one second apart, faces tracked as in a video). A job
writes ``NAME_expressions.csv`` (the video page's "Per-frame log" download) and
``NAME_report.html`` (the dashboard's report) into ``--out``, each through a temporary file
and ``os.replace``, the report last: a job whose two files exist is finished and skipped on
the next run, so an interrupted run resumes where it stopped (whatever options made the
finished files: analyse again with other options into another ``--out``). ``NAME`` is the path
from the given folder (with its name, ``/`` as ``__``) or a given file's stem; inputs whose
names would clash are told apart by their extensions, then by the folders above them
(:func:`find_jobs`), so that no job's files replace another's.

``--from`` / ``--to`` analyse the same part of every video (the Video file page's part; the
log keeps the video's own times); ``--attention`` also logs head pose, eyes and looking at the
camera, as the app's attention option, and the reports then have their attention sections.

A video is analysed as the Video file page analyses it (mirrored or turned as players show it,
at its own time stamps, at most at its own frame rate), whole; one damaged on the way or cut
short is written all the same, and the run's closing lines say what its log lacks, with every
failure and why. Folders that are links are searched too (each real folder once); one run at
a time writes into an ``--out`` (:class:`OutputLock`); the reports are dated in this
computer's time zone (``--timezone`` for another).

With two or more sessions that have faces, the run also writes ``comparison.html`` and
``comparison.csv`` (the app's *Compare sessions* report and table, sessions in job order,
each reading the finished CSV logs of this run's inputs, new or already done); ``--no-compare``
leaves them out.

Jobs run in a local process pool (one model per worker process, loaded once), or with
``--ray`` as one Ray task per file: Ray reuses its worker processes, so there too the
model is loaded once per worker. Inputs must be readable at the same paths on every Ray
node; results travel back to this process, which alone writes ``--out``. Ray is optional
(``pip install -r requirements-batch.txt``); the app never imports it.
"""
from __future__ import annotations

import argparse
import hashlib
import logging
import math
import os
import signal
import sys
import tempfile
import time
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from fer_core import csvtext
from fer_core.cli import MAX_RATE, check_rate, rate_argument

if TYPE_CHECKING:
    from fer_core.recognizer import Recognizer
    from fer_core.session import SessionLog

log = logging.getLogger(__name__)

#: The Video file page's kinds, and those of camcorders (AVCHD .mts/.m2ts), older phones (.3gp),
#: Windows (.wmv) and the web (.flv, .ogv), which the same decoder reads: a folder's were left out
#: unsaid. (.ts, a broadcast stream's, is also TypeScript's: such files are counted as left out.)
VIDEO_EXTS = frozenset({".mp4", ".webm", ".mov", ".avi", ".mkv", ".m4v", ".mpg", ".mpeg", ".mts", ".m2ts",
                        ".3gp", ".wmv", ".flv", ".ogv"})
#: .jfif: JPEGs as Chrome and Edge on Windows long saved them from web pages (as the Photo page takes).
PHOTO_EXTS = frozenset({".jpg", ".jpeg", ".jfif", ".png", ".webp", ".bmp"})
#: HEIC photos (an iPhone's, as a Mac keeps them) cannot be read (fer_core.imageio.HEIC_REFUSED), but
#: are taken with the photos all the same, so that each is reported as skipped and why: a folder's
#: were left out unsaid, and one given by name was read as a video of its photo's top-left tile.
HEIC_EXTS = frozenset({".heic", ".heif", ".hif"})
COMPARISON_HTML = "comparison.html"
COMPARISON_CSV = "comparison.csv"
CSV_SUFFIX = "_expressions.csv"
REPORT_SUFFIX = "_report.html"
TMP_SUFFIX = ".part"


@dataclass(frozen=True)
class Job:
    """One unit of work: a video file, or a folder's photos (``photos`` sorted by name)."""

    name: str  # output file stem, unique within a run
    path: str  # the video, or the folder
    photos: tuple[str, ...] = ()

    @property
    def is_video(self) -> bool:
        return not self.photos


@dataclass(frozen=True)
class JobResult:
    name: str
    csv: bytes
    report: str
    frames: int
    faces: int
    error: str = ""  # a message for the user when the input could not be decoded
    warnings: tuple[str, ...] = ()  # for the user too (photos skipped): logged by the process that runs the batch
    worker_pid: int = 0  # the process that ran the job
    model_loads: int = 0  # how many times that process had loaded the model so far (1 = once)


@dataclass(frozen=True)
class BatchSummary:
    done: int
    skipped: int
    failed: int
    elapsed_s: float
    compared: int = 0  # sessions in comparison.html (0: none written)
    # For the run's closing lines: why each file failed, and what was said of files analysed all the
    # same (photos skipped, a damaged or cut-short video), as "PATH: message" (they scrolled away
    # among the progress lines of a long run).
    failures: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    # Files in the given folders left out as neither videos nor photos, as (extension, count).
    left_out: tuple[tuple[str, int], ...] = ()


class OutputWriteError(RuntimeError):
    """A result could not be written to ``--out`` (disk full, folder gone or read-only): the run
    stops, keeping the files finished before; ``str(e)`` is a message for the user."""


class WorkerLostError(RuntimeError):
    """A worker process died in the middle of a job (killed for memory, crashed): the run stops,
    keeping the files finished before; ``str(e)`` is a message for the user."""


class PhotosUnreadableError(ValueError):
    """None of a photo folder's photos could be read; ``str(e)`` is a message for the user,
    ``skipped`` says why for each photo."""

    def __init__(self, message: str, skipped: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.skipped = tuple(skipped)


# -- finding the work -----------------------------------------------------------------
@dataclass
class _Found:
    """An input found, before its output name is final."""

    name: str  # the output name so far ("__" between folders)
    path: Path
    photos: tuple[str, ...]
    tag: str  # what tells it from a namesake in the same folder: its extension, or "_photos"
    parents: tuple[str, ...]  # the folders above the given input, nearest first


def _walk(raw: str | Path, left_out: dict[str, int] | None = None) -> Iterator[_Found]:
    """The jobs of one input, named by their path relative to the given folder (with the folder's
    own name), or by a given file's stem. Folders that are links are searched too (a term's folder
    with a link to a USB stick's week was left out unsaid), each real folder once (a link back up
    the tree, a loop, is not followed again). ``left_out``: counts, by extension, the files of the
    folders that are neither videos nor photos."""
    root = Path(raw)
    if root.is_file():
        # A photo given by name is a one-photo job, read as photos are (their size and corruption
        # checks); it was once decoded as a one-frame video. Any other file is tried as a video.
        photos: tuple[str, ...] = (str(root),) if root.suffix.lower() in PHOTO_EXTS | HEIC_EXTS else ()
        yield _Found(root.stem, root, photos, root.suffix, _parents(Path(os.path.abspath(root))))
    elif root.is_dir():
        top = root.resolve()  # its name also for "." or "..": the folder's real name
        above = _parents(top)
        searched = {os.path.realpath(root)}
        for folder, dirs, all_files in os.walk(root, followlinks=True):
            kept = []
            for d in sorted(d for d in dirs if not _hidden(d)):
                real = os.path.realpath(os.path.join(folder, d))
                if real not in searched:
                    searched.add(real)
                    kept.append(d)
            dirs[:] = kept
            files = sorted(f for f in all_files if not _hidden(f))
            if left_out is not None:
                for f in files:
                    ext = Path(f).suffix.lower()
                    if ext not in VIDEO_EXTS | PHOTO_EXTS | HEIC_EXTS:
                        left_out[ext or "(none)"] = left_out.get(ext or "(none)", 0) + 1
            here = Path(folder)
            rel = here.relative_to(root)
            prefix = top.name if rel == Path(".") else f"{top.name}/{rel.as_posix()}"
            photos = tuple(str(here / f) for f in files if Path(f).suffix.lower() in PHOTO_EXTS | HEIC_EXTS)
            if photos:
                yield _Found(prefix.replace("/", "__"), here, photos, "_photos", above)
            for f in files:
                if Path(f).suffix.lower() in VIDEO_EXTS:
                    yield _Found(f"{prefix}/{Path(f).stem}".replace("/", "__"), here / f, (), Path(f).suffix, above)
    else:
        raise FileNotFoundError(f"no such file or folder: {raw}")


def _hidden(name: str) -> bool:
    """Names in a folder that are never recordings: hidden files and folders (the ``._`` copies
    macOS leaves beside each file on a USB stick, ``.Trash-1000``) and the ``__MACOSX`` folder of
    zip archives, as training.data skips them. A file given by name is analysed whatever its name."""
    return name.startswith(".") or name == "__MACOSX"


def _resolved(path: Path) -> Path:
    """``path.resolve()``, or for a link that leads round in a circle (which ``resolve`` raises
    for) its absolute path: such a file is one job, that fails when it is read."""
    try:
        return path.resolve()
    except (OSError, RuntimeError):  # RuntimeError up to Python 3.12, OSError from 3.13
        return Path(os.path.abspath(path))


def _parents(path: Path) -> tuple[str, ...]:
    return tuple(p.name for p in path.parents if p.name)


def _short_hash(path: Path) -> str:
    """8 hex digits of the resolved path: the same file gets the same ones on every run."""
    return hashlib.sha1(str(_resolved(path)).encode("utf-8")).hexdigest()[:8]


def _fold(name: str) -> str:
    """``name`` as a disk that ignores case and Unicode's forms compares it: on macOS and Windows
    ``Lec`` and ``lec`` are one file, on macOS also "séance" with its accent apart (NFD, as macOS
    names files) and composed (NFC, as typed on Windows), which look alike everywhere."""
    return unicodedata.normalize("NFC", name).casefold()


def _clashes(names: Sequence[str]) -> list[list[int]]:
    """Groups (of indexes) of names that would be the same file, or look it (:func:`_fold`)."""
    groups: dict[str, list[int]] = {}
    for i, name in enumerate(names):
        groups.setdefault(_fold(name), []).append(i)
    return [g for g in groups.values() if len(g) > 1]


def _tell_apart(found: Sequence[_Found]) -> list[str]:
    """Unique output names: each clash gets, until the names differ, the extension (or
    ``_photos``) where that tells some of them apart; then the folders above the given inputs,
    nearest first, as many as tell them apart; as a last resort a short hash of the path.
    Everything depends on the inputs only, so a rerun gives the same names (and resumes)."""
    names = [f.name for f in found]
    for g in _clashes(names):
        if len({_fold(found[i].tag) for i in g}) > 1:
            for i in g:
                names[i] += found[i].tag
    for g in _clashes(names):
        others = {_fold(n) for i, n in enumerate(names) if i not in g}
        for depth in range(1, max(len(found[i].parents) for i in g) + 1):
            tried = ["__".join([*reversed(found[i].parents[:depth]), names[i]]) for i in g]
            if len({_fold(t) for t in tried}) == len(g) and not others & {_fold(t) for t in tried}:
                for i, t in zip(g, tried):
                    names[i] = t
                break
    for g in _clashes(names):
        for i in g:
            names[i] += f"_{_short_hash(found[i].path)}"
    return names


def find_jobs(inputs: Sequence[str | Path], left_out: dict[str, int] | None = None) -> list[Job]:
    """Video files given or found under the given folders (recursively), plus one job per
    folder holding photos, each file or folder once (the first time it is found); in folders,
    hidden files and folders and ``__MACOSX`` are left out (:func:`_hidden`). Output names
    are the paths relative to the given folder (with its name), with ``/`` written as ``__``;
    names that clash are told apart as :func:`_tell_apart` says (``a.mp4`` and ``a.webm``
    keep the extension, ``x/rec`` and ``y/rec`` become ``x__rec...`` and ``y__rec...``).
    ``left_out``: as :func:`_walk`'s."""
    found: list[_Found] = []
    seen: set[Path] = set()
    for raw in inputs:
        for f in _walk(raw, left_out):
            # Duplicates go before naming: else the copy would count as a clash and rename the original.
            key = _resolved(f.path)
            if key not in seen:
                seen.add(key)
                found.append(f)
    return [Job(name=_fit_name(name, f.path), path=str(f.path), photos=f.photos)
            for f, name in zip(found, _tell_apart(found))]


#: Output names longer than this (bytes of UTF-8) are shortened: a file name may have 255 bytes,
#: and the longest file written is the name + "_expressions.csv" in a temporary name, with "."
#: before and ".XXXXXXXX.part" after (31 bytes more). Names up to this were always written as
#: they are, so a rerun over an earlier run's folder still finds their files.
MAX_NAME_BYTES = 224


def _fit_name(name: str, path: Path) -> str:
    """``name``, or when too long for a file name its start and a short hash of ``path`` (the same on
    every run, so a rerun resumes). A 230-character video name once failed at its save, and stopped
    the run; folders six deep of 40 characters, before any work."""
    data = name.encode("utf-8")
    if len(data) <= MAX_NAME_BYTES:
        return name
    return data[:MAX_NAME_BYTES - 9].decode("utf-8", errors="ignore") + "_" + _short_hash(path)


def check_outputs_distinct(out: Path, jobs: Sequence[Job]) -> None:
    """ValueError when two jobs would write the same files (which :func:`find_jobs` avoids;
    this is the last guard against one job's results silently replacing another's)."""
    first: dict[str, Job] = {}
    for job in jobs:
        key = _fold(os.path.normcase(str(outputs(out, job)[0])))
        if key in first:
            raise ValueError(f"{first[key].path} and {job.path} would both be written to "
                             f"{outputs(out, job)[0]}: rename one, or analyse them into separate --out folders")
        first[key] = job


LOCK_NAME = ".fer-batch.lock"


class OutputLock:
    """This run's hold on ``out``: an exclusive lock on its ``.fer-batch.lock`` (which the system
    lets go when the run ends, however it ends; the file is removed when the run ends normally).
    A second run into the same folder is refused with a ValueError, instead of analysing every
    file again beside the first and deleting its temporary files as an interrupted run's. Where
    files cannot be locked (Windows, some network folders) there is no hold."""

    def __init__(self, out: Path) -> None:
        self.path = out / LOCK_NAME
        self.fd: int | None = None

    def __enter__(self) -> OutputLock:
        try:
            import fcntl
        except ImportError:  # Windows
            return self
        for _ in range(10):  # a lock file removed by a run ending just now is made anew
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            except OSError:
                return self  # a folder that takes no new file is refused by _prepare; this is no worse than before
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                try:
                    other = os.read(fd, 32).decode("ascii", "replace").strip()
                finally:
                    os.close(fd)
                who = f" (process {other})" if other else ""
                raise ValueError(f"another batch run{who} is writing into {self.path.parent}: "
                                 "wait for it to end (then run this command again: it does what that one left), "
                                 "or give another --out") from None
            except OSError:  # a file system without locks
                os.close(fd)
                return self
            try:
                same = os.path.samestat(os.fstat(fd), os.stat(self.path))
            except OSError:
                same = False
            if not same:  # locked a file another run removed as it ended: lock the one there now
                os.close(fd)
                continue
            os.ftruncate(fd, 0)
            os.write(fd, str(os.getpid()).encode("ascii"))
            self.fd = fd
            return self
        return self

    def __exit__(self, *exc: object) -> None:
        if self.fd is not None:
            try:
                os.unlink(self.path)  # while still held: a run that opened it meanwhile sees it gone and retries
            except OSError:
                pass
            os.close(self.fd)
            self.fd = None


def outputs(out: Path, job: Job) -> tuple[Path, Path]:
    return out / f"{job.name}{CSV_SUFFIX}", out / f"{job.name}{REPORT_SUFFIX}"


def is_done(out: Path, job: Job) -> bool:
    csv, report = outputs(out, job)
    return csv.is_file() and report.is_file()


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to a temporary file in the same folder, then rename it over ``path``:
    readers (and a resumed run) see the old file or the whole new one, never a part."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=TMP_SUFFIX)
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.fchmod(fd, 0o666 & ~umask)  # mkstemp makes 0600; give the usual mode of a new file
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def remove_leftovers(out: Path) -> int:
    """Delete temporary files a killed run left behind (never a finished output)."""
    n = 0
    for suffix in (CSV_SUFFIX, REPORT_SUFFIX, COMPARISON_HTML, COMPARISON_CSV):
        for tmp in out.glob(f".*{suffix}.*{TMP_SUFFIX}"):
            tmp.unlink(missing_ok=True)
            n += 1
    return n


def save(out: Path, result: JobResult, job: Job) -> None:
    csv, report = outputs(out, job)
    write_atomic(csv, result.csv)
    write_atomic(report, result.report.encode("utf-8"))  # last: its presence marks the job done


def write_comparison(out: Path, jobs: Sequence[Job], segments: int = 10, timezone: str = "UTC") -> int:
    """``comparison.html`` and ``comparison.csv`` over the finished jobs' CSV logs in ``out``,
    in job order, when two or more of them have faces; returns how many sessions were
    compared (0: nothing written). Each log is summarised and dropped before the next is
    read, so memory holds one session's rows at a time."""
    import pandas as pd

    from fer_core.compare import compare_sessions, damage_note_of, measure_over_time, models_note_of, table_for_display
    from fer_core.report import COMPARISON_MEASURES, comparison_report_html
    from fer_core.session import LogFormatError, SessionLog, log_cut_short, log_damaged, log_models

    rows: list[pd.DataFrame] = []
    models: dict[str, tuple[str, ...]] = {}  # each session's expression models, for the report's note
    damaged: dict[str, tuple[list[tuple[float, float]], float | None]] = {}  # what of each video could not be decoded
    curves: dict[str, list[pd.DataFrame]] = {m: [] for m in COMPARISON_MEASURES}
    for job in jobs:
        csv, _ = outputs(out, job)
        if not is_done(out, job):
            continue
        try:
            df = SessionLog.from_csv(csv.read_bytes(), source=job.name).to_frame()
        except (OSError, LogFormatError) as e:
            log.warning("%s: left out of the comparison: %s", csv, e)
            continue
        if df.empty:
            continue
        one = {job.name: df}
        rows.append(compare_sessions(one))
        models[job.name] = log_models(df)
        damaged[job.name] = (log_damaged(df), log_cut_short(df))
        for m in COMPARISON_MEASURES:
            curves[m].append(measure_over_time(one, m, segments=segments))
        del df, one
    if len(rows) < 2:
        return 0
    comparison = pd.concat(rows)
    joined = {m: pd.concat(c, axis=1) for m, c in curves.items()}
    write_atomic(out / COMPARISON_CSV, csvtext.to_csv(table_for_display(comparison)))
    # As the app's comparison report: sessions of different models say so (a resumed run may add
    # sessions analysed with another --model to those already in --out).
    report = comparison_report_html(comparison, joined, note=models_note_of(models), damage=damage_note_of(damaged),
                                    timezone=timezone)
    write_atomic(out / COMPARISON_HTML, report.encode("utf-8"))
    return len(rows)


# -- the work itself (runs in a worker) ---------------------------------------------------
_RECOGNIZERS: dict[str | None, Recognizer] = {}
_LOADS = 0


def _recognizer(model: str | None = None) -> Recognizer:
    """This worker process's recognizer of ``model`` (None: the shipped one), loaded on first use
    and kept (one per model and process)."""
    global _LOADS
    if model not in _RECOGNIZERS:
        from fer_core.detect import still_detector
        from fer_core.recognizer import load_recognizer

        _RECOGNIZERS[model] = load_recognizer(model, detector=still_detector())
        _LOADS += 1
    return _RECOGNIZERS[model]


def _photo_log(recognizer: Recognizer, job: Job, rate: float, attention: bool = False
               ) -> tuple[SessionLog, list[str]]:
    """The folder's photos as the frames of one session, and a warning per photo skipped (not
    logged here: this runs in a worker, whose log the user may never see, as on Ray).
    :class:`PhotosUnreadableError` when no photo could be read: an empty log would look like a
    session without faces, and be taken as finished."""
    from dataclasses import replace

    from fer_core.imageio import ImageDecodeError, decode_image
    from fer_core.recognizer import model_label
    from fer_core.session import SessionLog
    from fer_core.tracking import ExpressionTracker

    tracker = ExpressionTracker(window=3, iou_threshold=0.25, max_missed=max(1, math.ceil(3.0 * rate)))
    session = SessionLog(source="photos")
    model = model_label(recognizer)
    skipped: list[str] = []
    for i, path in enumerate(job.photos):
        try:
            image = decode_image(Path(path).read_bytes())
        except (ImageDecodeError, OSError) as e:
            skipped.append(f"{path}: skipped ({e})")
            continue
        # Tracked in the analysed picture, logged in the photo's own pixels (over 4 megapixels a photo
        # is analysed downscaled), as the Photo page's and the command line's files give its boxes.
        tracked = image.in_original(tracker.update(recognizer.analyze(image.bgr, attention=attention), image.bgr))
        # As the Video file page logs them: raw probabilities, and the attention fields when measured.
        session.add_frame(i / rate, [replace(f, probabilities=f.raw_probabilities) if attention
                                     else (f.face_id, f.box, f.raw_probabilities) for f in tracked], model)
    if len(skipped) == len(job.photos):
        raise PhotosUnreadableError(f"none of the {len(job.photos)} photos could be read", skipped)
    return session, skipped


def _is_empty(path: str) -> bool:
    try:
        return os.path.getsize(path) == 0
    except OSError:  # the decoder says why it cannot read it
        return False


def analyse_job(job: Job, rate: float = 2.0, max_frames: int | None = None, model: str | None = None,
                attention: bool = False, start_s: float = 0.0, end_s: float | None = None,
                timezone: str = "UTC") -> JobResult:
    """Analyse one job with this process's recognizer of ``model``: CSV bytes and report HTML.
    ``attention``: also log head pose, eyes and looking at the camera (a face mesh per face).
    ``start_s``, ``end_s``: a video's part to analyse (photo folders are analysed whole).
    ``timezone``: the report's dates (an IANA name: the zone of the computer that runs the batch).
    A video is analysed at its own frame rate where ``rate`` is above it, as the Video file page
    does (``analyze_video`` lowers it: the tracker's patience for a face gone a while is counted in
    frames of the rate)."""
    from fer_core.report import ReportOptions, build_html_report
    from fer_core.session import format_time
    from fer_core.video import VideoDecodeError, analyze_video

    recognizer = _recognizer(model)
    source = Path(job.path).name
    skipped: list[str] = []
    try:
        if job.is_video:
            if _is_empty(job.path):  # else "not a video we can decode": as if the file were to blame
                raise VideoDecodeError("the file is empty (0 bytes): an unfinished copy or download?")
            analysis = analyze_video(recognizer, Path(job.path), rate=rate,
                                     max_frames=max_frames, attention=attention, start_s=start_s, end_s=end_s,
                                     progress=_progress_callback(job.name))
            session = analysis.log
            skipped = [f"{job.path}: {note}" for note in analysis.damage_notes()]
            if analysis.stopped_early:
                skipped.append(f"{job.path}: only {analysis.frames_analysed} frames were analysed (--max-frames), up "
                               f"to {format_time(analysis.end_s)}; the log ends there")
        else:
            session, skipped = _photo_log(recognizer, job, rate=1.0, attention=attention)
            if Path(job.path).is_dir():
                source = f"{source}/ ({len(job.photos)} photo{'s' if len(job.photos) != 1 else ''})"
    except PhotosUnreadableError as e:
        # Why each photo was not read, then the job's failure.
        return JobResult(job.name, b"", "", 0, 0, error=str(e), warnings=e.skipped,
                         worker_pid=os.getpid(), model_loads=_LOADS)
    except VideoDecodeError as e:
        # Said once, by the path the run gives (the decoder's message may begin with it already).
        error = str(e).removeprefix(f"{Path(job.path)}: ")
        return JobResult(job.name, b"", "", 0, 0, error=error, worker_pid=os.getpid(), model_loads=_LOADS)
    summary = session.summary()
    report = build_html_report(session, ReportOptions(source=source, timezone=timezone))
    return JobResult(job.name, session.to_csv(), report, summary.frames, summary.faces,
                     warnings=tuple(skipped), worker_pid=os.getpid(), model_loads=_LOADS)


# -- running many -------------------------------------------------------------------------
#: In a local pool's worker: the queue its jobs tell their progress through ((name, fraction or
#: None, seconds of video done)); None elsewhere (a Ray task, a job run in this process).
_PROGRESS: Any = None
#: A worker tells a job's progress at most this often (seconds).
PROGRESS_EVERY_S = 1.0


def _progress_callback(name: str) -> Callable[[float | None, float], None] | None:
    """``analyze_video``'s progress callback for the job ``name``: passed on to the main process
    at most every :data:`PROGRESS_EVERY_S`; None where nobody listens."""
    queue = _PROGRESS
    if queue is None:
        return None
    last = [0.0]

    def tell(fraction: float | None, seconds: float) -> None:
        now = time.monotonic()
        if now - last[0] >= PROGRESS_EVERY_S:
            last[0] = now
            try:
                queue.put_nowait((name, fraction, seconds))
            except Exception:  # a full or closed queue (the run is ending): progress is not worth failing for
                pass

    return tell


def _end_with_parent() -> None:
    """In a pool worker: end when the main process is gone. Killed (``kill -9``, the out-of-memory
    killer), it left its worker running as an orphan: on with its video, then waiting for the next
    forever. ``multiprocessing`` hands a child a sentinel of its parent, ready once the parent has
    ended; a thread waits on it. The worker only analyses (the main process writes every file), so
    ending it at once loses nothing but the file it was on."""
    import multiprocessing as mp
    import threading
    from multiprocessing.connection import wait as wait_for

    parent = mp.parent_process()
    if parent is None:
        return

    def watch() -> None:
        wait_for([parent.sentinel])
        os._exit(1)

    threading.Thread(target=watch, name="end-with-parent", daemon=True).start()


def _start_worker(progress: Any = None) -> None:
    """In each pool worker: Ctrl-C, which the terminal sends to every process of the run, is the
    main process's to handle (it ends the workers and says what happened). Workers that took it
    printed a KeyboardInterrupt traceback each. ``progress``: the queue for :func:`_progress_callback`.
    The worker ends with the main process (:func:`_end_with_parent`)."""
    global _PROGRESS
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _end_with_parent()
    if progress is not None:
        progress.cancel_join_thread()  # a worker ended at the run's end never waits to hand over progress
    _PROGRESS = progress


def _run_local(jobs: Sequence[Job], workers: int, rate: float, max_frames: int | None, model: str | None = None,
               options: dict | None = None, on_progress: Callable[[str, float | None, float], None] | None = None
               ) -> Iterator[tuple[Job, JobResult]]:
    """The jobs' results as they finish; ``on_progress(name, fraction, seconds)``, called here as the
    workers' videos advance (a long lecture took half an hour before its file gave a first line)."""
    import multiprocessing as mp
    import queue as queues

    # spawn: workers start clean (no copy of this process's threads or state).
    ctx = mp.get_context("spawn")
    told = ctx.Queue(maxsize=1000)
    with ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=_start_worker,
                             initargs=(told,)) as pool:
        futures = {pool.submit(analyse_job, job, rate, max_frames, model, **(options or {})): job for job in jobs}
        order = {fut: i for i, fut in enumerate(futures)}  # those finished together: in the order given
        pending = set(futures)
        finished = False
        try:
            while pending:
                ready, pending = wait(pending, timeout=0.5, return_when=FIRST_COMPLETED)
                while True:
                    try:
                        name, fraction, seconds = told.get_nowait()
                    except queues.Empty:
                        break
                    if on_progress is not None:
                        on_progress(name, fraction, seconds)
                for fut in sorted(ready, key=order.__getitem__):
                    yield futures[fut], fut.result()
            finished = True
        finally:
            if not finished:
                # Stopped early (Ctrl-C, a result that could not be written, a worker lost): end the workers
                # now, not after the videos they are on. Not by cancelling the futures: the pool that breaks
                # meanwhile then fails in its own thread (InvalidStateError, CPython 3.11).
                # The pool keeps its processes in a private dict (None once shut down).
                for process in list((getattr(pool, "_processes", None) or {}).values()):
                    process.terminate()
            told.cancel_join_thread()  # this process only reads it: nothing of its own to flush
            told.close()


def _run_ray(jobs: Sequence[Job], address: str, rate: float, max_frames: int | None,
             workers: int | None, model: str | None = None, options: dict | None = None
             ) -> Iterator[tuple[Job, JobResult]]:
    try:
        import ray
    except ImportError:
        raise SystemExit("--ray needs Ray: pip install -r requirements-batch.txt") from None
    if not ray.is_initialized():
        from fer_core.runtime import ORT_TELEMETRY_ENV

        env_vars = {"PYTHONPATH": str(Path(__file__).resolve().parents[1])}
        if ORT_TELEMETRY_ENV in os.environ:  # main's choice: a cluster started elsewhere does not inherit it
            env_vars[ORT_TELEMETRY_ENV] = os.environ[ORT_TELEMETRY_ENV]
        kwargs: dict = {"runtime_env": {"env_vars": env_vars}, "log_to_driver": False}
        if address == "local":
            kwargs["num_cpus"] = workers or os.cpu_count()
            kwargs["include_dashboard"] = False
        else:
            kwargs["address"] = address
        try:
            ray.init(**kwargs)
        except ConnectionError as e:  # no cluster there (--ray auto with none started): a bad argument
            raise ValueError(f"--ray {address}: no Ray cluster to join ({str(e).splitlines()[0]}); start one "
                             "with `ray start --head`, or give --ray local") from None
    remote: Any = ray.remote(num_cpus=1, max_retries=2)(analyse_job)  # typed stubs miss the arguments
    refs = {remote.remote(job, rate, max_frames, model, **(options or {})): job for job in jobs}
    pending = list(refs)
    try:
        while pending:
            ready, pending = ray.wait(pending, num_returns=1)
            yield refs[ready[0]], ray.get(ready[0])
    finally:
        for ref in pending:
            ray.cancel(ref)


def _time_left(seconds: float) -> str:
    """"45 s left", "about 12 min left", "about 2 h 05 min left"."""
    if seconds < 60:
        return f"{seconds:.0f} s left"
    minutes = round(seconds / 60)
    return f"about {minutes} min left" if minutes < 60 else f"about {minutes // 60} h {minutes % 60:02d} min left"


class Progress:
    """Progress on stderr: files done, files per minute, time left, and how far the videos being
    analysed are. On a terminal one line that redraws itself; elsewhere (a log file, a pipe, cron)
    one plain line per file, and one every half minute while a long video goes on, as ``\r`` redraws there
    pile up into one unreadable line."""

    #: Off a terminal, a line on a video still being analysed at most this often (seconds).
    LOG_EVERY_S = 30.0
    #: On a terminal, the line is redrawn for a video's progress at most this often (seconds).
    DRAW_EVERY_S = 0.5

    def __init__(self, total: int, stream: TextIO | None = None, enabled: bool = True) -> None:
        self.total, self.enabled = total, enabled
        self.stream = stream if stream is not None else sys.stderr  # the one of now, not of import time
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.done = 0
        self.drawn = False  # the terminal line holds the bar (other output goes on a new line)
        self.t0 = time.perf_counter()
        self.working: dict[str, tuple[float | None, float]] = {}  # files under way: (share done, video time)
        # Files done: a worker's last progress message may arrive after its result, and must not
        # count the file again as under way.
        self.finished: set[str] = set()
        self.last_told = self.t0

    def _work(self) -> float:
        """Files done, counting the share of those under way."""
        return self.done + sum(f or 0.0 for f, _ in self.working.values())

    def _left(self, elapsed: float) -> str:
        work = self._work()
        if work < 0.02 or elapsed < 5.0:  # no pace yet
            return ""
        return _time_left(elapsed * (self.total - work) / work)

    def _write(self, text: str, name: str) -> None:
        if self.tty:
            bar = "#" * int(30 * min(self._work(), self.total) / max(self.total, 1))
            self.stream.write(f"\r[{bar:<30}] {text}  {name[-40:]:<40}")
            self.drawn = True
        else:
            self.stream.write(f"{text}  {name}\n")
        self.stream.flush()
        self.last_told = time.perf_counter()

    def update(self, name: str) -> None:
        self.done += 1
        self.working.pop(name, None)
        self.finished.add(name)
        if not self.enabled:
            return
        elapsed = time.perf_counter() - self.t0
        rate = self.done / elapsed * 60 if elapsed > 0 else 0.0
        left = self._left(elapsed) or "0 s left" if self.done == self.total else self._left(elapsed)
        self._write(f"{self.done}/{self.total} files  {rate:.1f}/min" + (f"  {left}" if left else ""), name)

    def advance(self, name: str, fraction: float | None, seconds: float) -> None:
        """A file under way got to ``seconds`` of its video (``fraction`` of its run; None: not known)."""
        from fer_core.session import format_time

        if name in self.finished:
            return
        self.working[name] = (fraction, seconds)
        if not self.enabled:
            return
        now = time.perf_counter()
        if now - self.last_told < (self.DRAW_EVERY_S if self.tty else self.LOG_EVERY_S):
            return
        left = self._left(now - self.t0)
        at = f"at {format_time(seconds)}" + (f" ({fraction:.0%})" if fraction is not None else "")
        self._write(f"{self.done}/{self.total} files" + (f"  {left}" if left else "") + f"  {at}", name)

    def break_line(self) -> None:
        """End the bar's line, so that a message written next (a warning) starts a line of its own
        instead of running on after the bar; the next update draws the bar again below it."""
        if self.drawn:
            self.stream.write("\n")
            self.stream.flush()
            self.drawn = False

    def close(self) -> None:
        self.break_line()


def _check_options(rate: float, max_frames: int | None, model: str | Path | None, start_s: float,
                   end_s: float | None) -> None:
    """ValueError or FileNotFoundError for options no job could run with (before any work)."""
    check_rate(rate)
    if max_frames is not None and max_frames < 1:
        raise ValueError(f"max_frames must be at least 1 (got {max_frames})")
    if model is not None and not Path(model).is_file():
        raise FileNotFoundError(f"model file not found: {model}")
    if not (math.isfinite(start_s) and start_s >= 0) or (end_s is not None and not end_s > start_s):
        raise ValueError(f"the part to analyse must start at 0 s or later and end after it "
                         f"(from {start_s} s to {end_s} s)")


def _prepare(inputs: Sequence[str | Path], out: Path, left_out: dict[str, int] | None = None) -> list[Job]:
    """The jobs, then the output folder (created only when there is work for it): ValueError
    or FileNotFoundError for inputs or an ``out`` that cannot be. ``left_out``: as :func:`_walk`'s."""
    if out.exists() and not out.is_dir():
        raise ValueError(f"the output folder {out} is a file: give a folder (new or existing) to --out")
    jobs = find_jobs(inputs, left_out)
    if not jobs:
        raise ValueError(f"no video or photo found in {', '.join(str(i) for i in inputs)} (videos: "
                         f"{' '.join(sorted(VIDEO_EXTS))}; photos: {' '.join(sorted(PHOTO_EXTS))})")
    check_outputs_distinct(out, jobs)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:  # a file on the way, no permission
        raise ValueError(f"cannot create the output folder {out}: {e.strerror or e}") from None
    try:  # an existing folder may still refuse files (read-only): say so now, not after the first video
        with tempfile.TemporaryFile(dir=out, prefix=".write-check", suffix=TMP_SUFFIX):
            pass
    except OSError as e:
        raise ValueError(f"cannot write in the output folder {out}: {e.strerror or e}") from None
    return jobs


def run_batch(inputs: Sequence[str | Path], out: str | Path, *, workers: int = 2, rate: float = 2.0,
              ray_address: str | None = None, max_frames: int | None = None, progress: bool = True,
              on_done: Callable[[Job, JobResult], None] | None = None, model: str | Path | None = None,
              compare: bool = True, attention: bool = False, start_s: float = 0.0,
              end_s: float | None = None, timezone: str | None = None) -> BatchSummary:
    """Analyse every job not finished yet in ``out`` with ``model`` (an ONNX file; None: the
    shipped one), then (``compare``) compare the finished sessions (:func:`write_comparison`);
    returns what happened. ``attention``, ``start_s``, ``end_s``, ``timezone`` (None: this
    computer's): as :func:`analyse_job`, for every job. A finished job is skipped whatever options
    made it. Options, inputs and ``out`` are checked before anything is written (ValueError,
    FileNotFoundError): inputs without a video or photo, two of them that would write the same
    files, or an ``out`` another run is writing into (:class:`OutputLock`), are refused."""
    from fer_core.report import known_timezone, local_timezone

    t0 = time.perf_counter()
    _check_options(rate, max_frames, model, start_s, end_s)
    if timezone is not None and not known_timezone(timezone):
        raise ValueError(f"unknown time zone {timezone!r}: give a name such as Europe/Berlin or America/New_York")
    zone = timezone or local_timezone()
    # analyse_job's keywords; the zone is this process's, also for Ray workers elsewhere.
    options = {"attention": attention, "start_s": start_s, "end_s": end_s, "timezone": zone}
    model_path = None if model is None else str(Path(model).resolve())
    out = Path(out)
    left_out: dict[str, int] = {}
    jobs = _prepare(inputs, out, left_out)
    with OutputLock(out):
        return _run_jobs(jobs, out, t0, workers=workers, rate=rate, ray_address=ray_address, max_frames=max_frames,
                         progress=progress, on_done=on_done, model_path=model_path, compare=compare,
                         options=options, left_out=tuple(sorted(left_out.items())))


def _run_jobs(jobs: Sequence[Job], out: Path, t0: float, *, workers: int, rate: float, ray_address: str | None,
              max_frames: int | None, progress: bool, on_done: Callable[[Job, JobResult], None] | None,
              model_path: str | None, compare: bool, options: dict,
              left_out: tuple[tuple[str, int], ...]) -> BatchSummary:
    """:func:`run_batch`'s work, once the jobs are known and ``out`` is this run's."""
    if remove_leftovers(out):
        log.info("removed temporary files of an interrupted run in %s", out)
    todo = [j for j in jobs if not is_done(out, j)]
    skipped = len(jobs) - len(todo)
    if skipped:
        log.info("%d of %d files already done in %s: skipped", skipped, len(jobs), out)
    bar = Progress(len(todo), enabled=progress)
    done = failed = 0
    failures: list[str] = []
    warnings: list[str] = []
    try:  # the bar's line ended also when the run stops (disk full, Ctrl-C), before the message
        if todo:
            results: Iterable[tuple[Job, JobResult]] = (
                _run_ray(todo, ray_address, rate, max_frames, workers, model_path, options) if ray_address
                else _run_local(todo, max(1, workers), rate, max_frames, model_path, options,
                                on_progress=bar.advance))
            for job, result in results:
                if result.warnings or result.error:
                    bar.break_line()
                for warning in result.warnings:  # the worker's: logged here, as this process's own
                    log.warning("%s", warning)
                    warnings.append(warning)
                if result.error:
                    failed += 1
                    log.warning("%s: %s", job.path, result.error)
                    failures.append(f"{job.path}: {result.error}")
                else:
                    try:
                        save(out, result, job)
                    except OSError as e:  # disk full, folder removed: every later file would fail too
                        raise OutputWriteError(
                            f"cannot write the results of {job.path} in {out}: {e.strerror or e}. The run "
                            f"stopped; {done} file{'s' if done != 1 else ''} of this run "
                            f"{'were' if done != 1 else 'was'} written before. Fix that, then run the same "
                            "command again: it resumes") from None
                    done += 1
                if on_done is not None:
                    on_done(job, result)
                bar.update(job.name)
    except BrokenProcessPool:  # as a traceback, this said nothing of what to do
        raise WorkerLostError(
            f"a worker process stopped in the middle of a file (killed: out of memory?). The run stopped; {done} "
            f"file{'s' if done != 1 else ''} of this run {'were' if done != 1 else 'was'} written before. Run the "
            "same command again: it resumes (with fewer --workers if memory is short)") from None
    finally:
        bar.close()
    compared = 0
    if compare:
        try:
            compared = write_comparison(out, jobs, timezone=options.get("timezone", "UTC"))
        except OSError as e:
            raise OutputWriteError(f"every file was analysed and written, but the comparison could not be "
                                   f"written in {out}: {e.strerror or e}") from None
    return BatchSummary(done=done, skipped=skipped, failed=failed, elapsed_s=time.perf_counter() - t0,
                        compared=compared, failures=tuple(failures), warnings=tuple(warnings), left_out=left_out)


def _at_least_one(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more (got {n})")
    return n


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m fer_core.batch", description=__doc__.split("\n\n")[0],
        epilog="Outputs per file: NAME_expressions.csv (per-frame log, as the app's download) and "
               f"NAME_report.html; for the run, {COMPARISON_HTML} and {COMPARISON_CSV}. Finished files are "
               "skipped, so rerunning resumes (with other options, write to another --out). Exit status: 0 "
               "when every file was analysed or already done (also a damaged or cut-short video analysed up to "
               "where it could be: said at the end), 1 when some failed (the others are written) or "
               "results could not be written (disk full: the run stops, and resumes when run again), 2 "
               "for arguments that cannot be (also inputs holding no video or photo, or an --out another run "
               "is writing into): nothing is written then; "
               "130 after Ctrl-C (finished files are kept: run again to resume).")
    ap.add_argument("inputs", nargs="+", metavar="VIDEO_OR_FOLDER",
                    help="video files, or folders searched recursively for videos and photos")
    ap.add_argument("--out", required=True, type=Path, help="folder for the CSV logs and HTML reports")
    ap.add_argument("--workers", type=_at_least_one, default=min(2, os.cpu_count() or 1),
                    help="local worker processes, one model each (default: %(default)s)")
    ap.add_argument("--rate", type=rate_argument, default=2.0,
                    help="video frames analysed per second of video, above 0 and at most "
                         f"{MAX_RATE:g} (default: %(default)s, as the app's)")
    ap.add_argument("--max-frames", type=_at_least_one, default=None, metavar="N",
                    help="analyse at most this many frames of a video (1 or more)")
    ap.add_argument("--from", dest="start", default=None, metavar="TIME",
                    help="analyse each video from this time on (seconds, m:ss or h:mm:ss; photo folders whole)")
    ap.add_argument("--to", dest="end", default=None, metavar="TIME",
                    help="... up to this time (default: the end of each video)")
    ap.add_argument("--attention", action="store_true",
                    help="also log head pose, eyes and looking at the camera, as the app's attention "
                         "option (a face mesh per face: slower)")
    ap.add_argument("--ray", metavar="ADDRESS", default=None,
                    help="run one Ray task per file on this cluster ('auto' = the running local "
                         "cluster, 'local' = start one here with --workers CPUs, or HOST:PORT)")
    ap.add_argument("--timezone", metavar="ZONE", default=None,
                    help="the time zone of the reports' dates, such as Europe/Berlin (default: this computer's)")
    ap.add_argument("--quiet", action="store_true", help="no progress bar")
    ap.add_argument("--no-compare", action="store_true",
                    help=f"do not write {COMPARISON_HTML} and {COMPARISON_CSV} (the sessions side by side)")
    which = ap.add_mutually_exclusive_group()
    which.add_argument("--everyday", action="store_true",
                       help="the everyday-faces model (the app's sidebar choice; models/MODEL_CARD_everyday.md)")
    which.add_argument("--model", type=Path, help="an ONNX model (default: the shipped one)")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    from fer_core.runtime import disable_ort_telemetry

    disable_ort_telemetry()  # as the app does; the workers inherit it (a Ray cluster's: _run_ray)
    from fer_core.session import parse_time

    try:
        start = parse_time(args.start) if args.start is not None else 0.0
        end = parse_time(args.end) if args.end is not None else None
    except ValueError as e:
        ap.error(str(e))
    try:
        from fer_core.recognizer import EVERYDAY_MODEL

        s = run_batch(args.inputs, args.out, workers=args.workers, rate=args.rate, ray_address=args.ray,
                      max_frames=args.max_frames, progress=not args.quiet,
                      model=EVERYDAY_MODEL if args.everyday else args.model, compare=not args.no_compare,
                      attention=args.attention, start_s=start, end_s=end, timezone=args.timezone)
    except (FileNotFoundError, ValueError) as e:
        ap.error(str(e))
    except (OutputWriteError, WorkerLostError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:  # Ctrl-C: the finished files are whole (written through a temporary file)
        print(f"interrupted: the files finished so far are kept in {args.out}; run the same command again "
              "to analyse the rest", file=sys.stderr)
        return 130
    print(f"{s.done} analysed, {s.skipped} already done, {s.failed} failed, in {s.elapsed_s:.1f} s "
          f"-> {args.out}" + (f" ({s.compared} sessions side by side in {COMPARISON_HTML})" if s.compared else ""))
    _print_closing(s)
    return 1 if s.failed else 0


def _print_closing(s: BatchSummary, stream: TextIO | None = None, most: int = 50) -> None:
    """After the run's line: each failure and why, each warning, and the files of other kinds left out,
    on stderr (in a long run they had scrolled away among the progress lines, if shown at all)."""
    stream = stream if stream is not None else sys.stderr
    for title, lines in ((f"{len(s.failures)} failed (not written; fix them and run again):", s.failures),
                         ("Analysed, but (the log lacks what is said):", s.warnings)):
        if lines:
            print(title, file=stream)
            for line in lines[:most]:
                print(f"  {line}", file=stream)
            if len(lines) > most:
                print(f"  ... and {len(lines) - most} more (above)", file=stream)
    if s.left_out:
        kinds = ", ".join(f"{n} {ext}" for ext, n in s.left_out)
        print(f"Left out, as neither videos nor photos: {kinds}", file=stream)


if __name__ == "__main__":
    sys.exit(main())
