"""Fuzz the upload paths with mutated files (a script; tests/test_hostile.py runs a short one).

    python benchmarks/fuzz_inputs.py [--files 3000] [--seed 0] [--timeout 10] [--save-failures DIR]

Seeds: small valid photos (JPEG, progressive JPEG, PNG, WebP, BMP, GIF, TIFF, alpha, an
EXIF-rotated JPEG), videos (MP4, WebM, AVI) and a dashboard CSV log, plus the fixed hostile
corpus of tests/hostile.py. Each fuzzed file is a seed with 1-3 random mutations
(truncation, bit flips, byte runs, splices, header damage, repeats, zeroed runs), run
through exactly what the page does with an upload of its kind (tests.hostile.run_case) in
a worker process with a per-file time limit. Outcomes:

* analysed  - the page shows results;
* refused   - the page shows a message (counted per message class below the table);
* CRASH     - an exception the page does not catch (a traceback in the server log);
* HANG      - over the time limit (the worker is killed and restarted);
* DIED      - the worker process died (a crash in native code).

Prints a summary table; exits 1 if there was any CRASH, HANG or DIED.
"""
from __future__ import annotations

import argparse
import collections
import multiprocessing as mp
import random
import sys
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

BAD = ("CRASH", "HANG", "DIED")


def _worker(conn) -> None:  # runs in the child process
    import os

    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import cv2

    cv2.setNumThreads(1)
    from fer_core import load_recognizer
    from tests.hostile import run_case

    rec = load_recognizer(threads=1)
    conn.send(("ready", "", 0))
    while True:
        try:
            kind, data = conn.recv()
        except EOFError:
            return
        try:
            out = run_case(kind, data, rec)
            conn.send(("analysed" if out.ok else "refused", out.message_class if not out.ok else "", out.faces)
                      if out.ok or out.message.strip() else ("CRASH", "empty message", 0))
        except Exception as e:  # the finding: an exception the page would not catch
            conn.send(("CRASH", f"{type(e).__name__}: {e}\n{traceback.format_exc(limit=6)}", 0))


class Worker:
    """One analysis process, restarted after a hang or a death."""

    def __init__(self) -> None:
        self.proc = None
        self.conn = None

    def start(self) -> None:
        ctx = mp.get_context("spawn")  # a fresh interpreter: no inherited ONNX Runtime threads
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=_worker, args=(child,), daemon=True)
        self.proc.start()
        child.close()
        if not self.conn.poll(120):
            raise RuntimeError("fuzz worker did not start")
        self.conn.recv()

    def run(self, kind: str, data: bytes, timeout: float) -> tuple[str, str]:
        if self.proc is None or not self.proc.is_alive():
            self.start()
        try:
            self.conn.send((kind, data))
            if not self.conn.poll(timeout):
                self.stop()
                return "HANG", f"no answer within {timeout:g} s"
            status, message, _ = self.conn.recv()
            return status, message
        except (EOFError, BrokenPipeError, ConnectionResetError):
            code = self.proc.exitcode if self.proc else None
            self.stop()
            return "DIED", f"worker exit code {code}"

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.join()
        self.proc = self.conn = None


@dataclass
class FuzzReport:
    rows: dict = field(default_factory=lambda: collections.defaultdict(collections.Counter))
    times: dict = field(default_factory=lambda: collections.defaultdict(list))
    messages: dict = field(default_factory=lambda: collections.defaultdict(collections.Counter))
    failures: list = field(default_factory=list)  # (name, kind, status, detail, data)

    @property
    def bad(self) -> int:
        return sum(c[s] for c in self.rows.values() for s in BAD)

    def table(self) -> str:
        lines = [f"{'kind':<6} {'files':>6} {'analysed':>9} {'refused':>8} {'CRASH':>6} {'HANG':>5} {'DIED':>5}"
                 f" {'p50 ms':>7} {'p95 ms':>7} {'max ms':>7}"]
        for kind in sorted(self.rows):
            c, t = self.rows[kind], sorted(self.times[kind]) or [0.0]
            p50, p95 = (1000 * t[min(len(t) - 1, int(q * len(t)))] for q in (0.5, 0.95))
            lines.append(f"{kind:<6} {sum(c.values()):>6} {c['analysed']:>9} {c['refused']:>8} {c['CRASH']:>6} "
                         f"{c['HANG']:>5} {c['DIED']:>5} {p50:>7.0f} {p95:>7.0f} {1000 * t[-1]:>7.0f}")
        lines.append("")
        lines.append("messages shown to the visitor (message class: files):")
        for kind in sorted(self.messages):
            for msg, n in self.messages[kind].most_common():
                lines.append(f"  {kind:<6} {n:>5}  {msg}")
        return "\n".join(lines)


def fuzz_cases(n: int, seed: int) -> list[tuple[str, str, bytes]]:
    """``n`` mutated files (name, kind, data), reproducible from ``seed``."""
    from tests.hostile import fixed_corpus, good_log_csv, image_seeds, mutate, video_seeds

    rng = random.Random(seed)
    pools = {"image": list(image_seeds().items()), "video": list(video_seeds().items()),
             "csv": [("seed.csv", good_log_csv())]}
    for case in fixed_corpus():
        if case.data:
            pools[case.kind].append((case.name, case.data))
    out = []
    for i in range(n):
        kind = rng.choices(("image", "video", "csv"), weights=(0.6, 0.25, 0.15))[0]
        name, data = rng.choice(pools[kind])
        ops = []
        for _ in range(rng.randint(1, 3)):
            op, data = mutate(data, rng)
            ops.append(op)
        out.append((f"{i:05d}_{name}+{'+'.join(ops)}", kind, data))
    return out


def fuzz(n: int, seed: int = 0, timeout: float = 10.0, progress: bool = False) -> FuzzReport:
    report = FuzzReport()
    worker = Worker()
    try:
        for k, (name, kind, data) in enumerate(fuzz_cases(n, seed)):
            t = time.perf_counter()
            status, detail = worker.run(kind, data, timeout)
            report.times[kind].append(time.perf_counter() - t)
            report.rows[kind][status] += 1
            if status == "refused":
                report.messages[kind][detail] += 1
            elif status in BAD:
                report.failures.append((name, kind, status, detail, data))
            if progress and (k + 1) % 100 == 0:
                print(f"  {k + 1}/{n} files, {report.bad} failures", flush=True)
    finally:
        worker.stop()
    return report


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--files", type=int, default=3000, help="mutated files to run (default 3000)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--timeout", type=float, default=10.0, help="seconds per file before it counts as a hang")
    p.add_argument("--save-failures", type=Path, default=None, help="write each failing file here")
    args = p.parse_args(argv)
    t = time.perf_counter()
    report = fuzz(args.files, args.seed, args.timeout, progress=True)
    print(f"\n{args.files} fuzzed files (seed {args.seed}, limit {args.timeout:g} s per file) "
          f"in {time.perf_counter() - t:.0f} s:\n")
    print(report.table())
    for name, kind, status, detail, data in report.failures:
        print(f"\n{status} {kind} {name}:\n{detail}")
        if args.save_failures:
            args.save_failures.mkdir(parents=True, exist_ok=True)
            (args.save_failures / name.replace("/", "_")).write_bytes(data)
    print(f"\nRESULT {report.bad} failures (crash, hang or worker death) in {args.files} files")
    return 1 if report.bad else 0


if __name__ == "__main__":
    sys.exit(main())
