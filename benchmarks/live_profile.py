"""Where a live server's CPU goes: process CPU from /proc and a py-spy profile sorted into the
parts of a live stream. Used by ``benchmarks/load_soak.py`` (``--profile``); also a script:

    python benchmarks/live_profile.py PROFILE.txt     # a py-spy ``--format raw`` file

Categories, by the innermost frame of each sample that names one (py-spy samples Python
stacks; a thread inside C code, libvpx or ONNX Runtime, shows as the Python call that
entered it, which is what names the category):

* ``VP8 decode`` / ``VP8 encode``: aiortc's libvpx calls (the decoder thread, the encoder's
  executor thread);
* ``frame conversion``: ``VideoFrame.to_ndarray`` / ``from_ndarray`` in the callback (time in
  ``LiveAnalyzer.callback`` itself: PyAV's compiled methods have no Python frame);
* ``callback: detector`` / ``callback: expression model`` / ``callback: attention`` /
  ``callback: annotation`` / ``callback: tracking, other``: inside ``LiveAnalyzer.process``;
* ``page script``: the live page's Streamlit script (charts, readout, log), and
  ``Streamlit server`` for the rest of Streamlit (websocket, forward messages);
* ``aiortc/asyncio``: RTP, SRTP, ICE, the event loops, the worker's queues;
* ``other``.
"""
from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

TICK = os.sysconf("SC_CLK_TCK")

#: (category, pattern on one frame "function (file:line)"), first match from the innermost
#: frame outwards wins.
RULES: list[tuple[str, re.Pattern]] = [(c, re.compile(p)) for c, p in [
    ("VP8 decode", r"^(\w+\.)?decode \(.*aiortc/codecs/vpx\.py"),
    ("VP8 encode", r"^(\w+\.)?(encode|_encode_frame|pack|_packetize) \(.*aiortc/codecs/vpx\.py"),
    # PyAV is compiled: to_ndarray / from_ndarray show as the callback's own lines.
    ("frame conversion", r"^((\w+\.)?callback|to_bgr|from_bgr) \(.*fer_core/live\.py|^private_frame \("),
    ("callback: detector", r"fer_core/detect\.py"),
    ("callback: attention", r"fer_core/(landmarks|attention|pose|facemesh)"),
    ("callback: expression model", r"fer_core/(recognizer|model|preprocess|align)"),
    ("callback: annotation", r"fer_core/annotate\.py"),
    ("callback: tracking, other", r"fer_core/live\.py"),
    ("page script", r"app_pages/|fer_core/(charts|session)\.py|plotly/|pandas/"),
    ("Streamlit server", r"streamlit/"),
    ("aiortc/asyncio", r"aiortc/|aioice/|asyncio/|streamlit_webrtc/|queue\.py|threading\.py|av/"),
]]


#: Innermost frames of a thread that waits (py-spy's idle detection misses threads blocked in
#: C without the GIL): not counted.
IDLE = re.compile(r"^(\w+\.)?(select|wait|_worker|sleep|get|_wait_for_tstate_lock|task) \(.*"
                  r"(selectors|threading|concurrent/futures/thread|queue|polling_path_watcher)\.py"
                  r"|^(\w+\.)?_run_once \(asyncio"
                  r"|^AsyncMediaProcessTrack\._worker_thread \("  # blocked in its queue's get()
                  r"|^PollingPathWatcher\._schedule\.<locals>\.task \(")  # time.sleep()


def categorise(stack: list[str]) -> str:
    for frame in reversed(stack):  # innermost first
        for name, pattern in RULES:
            if pattern.search(frame):
                return name
    return "other"


def breakdown(raw: str) -> Counter:
    """Samples per category of a py-spy ``--format raw`` profile (collapsed stacks:
    ``frame;frame;... count`` per line, outermost first; a leading ``thread`` or ``process``
    element is skipped), less the samples of waiting threads (:data:`IDLE`)."""
    out: Counter = Counter()
    for line in raw.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        frames = [f for f in stack.split(";") if not f.startswith(("thread (", "process "))]
        if frames and IDLE.search(frames[-1]):
            continue
        out[categorise(frames)] += int(count)
    return out


def format_breakdown(counts: Counter, cpu_s: float | None = None, frames: int | None = None) -> str:
    """One line per category: share of the samples, and (given the server's CPU seconds and the
    fresh frames returned over the same window) milliseconds of CPU per fresh frame."""
    total = sum(counts.values()) or 1
    lines = []
    for name, n in counts.most_common():
        share = n / total
        per_frame = f"  {1000 * share * cpu_s / frames:6.1f} ms/fresh frame" if cpu_s and frames else ""
        lines.append(f"  {name:<28} {100 * share:5.1f}%{per_frame}")
    return "\n".join(lines)


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process (all its threads) so far; 0 once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICK  # utime, stime


def browser_pids() -> list[int]:
    """Every Chromium process (browser, renderers, GPU and utility processes)."""
    pids = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                if (d / "comm").read_text().startswith(("chrom", "headless_shell")):
                    pids.append(int(d.name))
            except OSError:
                pass
    return pids


def process_type(pid: int) -> str:
    """Chromium's ``--type`` of a process (renderer, gpu-process, utility: its sub-type), or
    "browser" for the main process."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
    except OSError:
        return "?"
    if "crashpad" in cmdline.replace("\0", " ").split(" ", 1)[0]:  # the executable
        return "crashpad"
    kind = re.search(r"--type=([\w-]+)", cmdline)  # children rewrite theirs as one line
    if kind is None:
        return "browser"
    sub = re.search(r"--utility-sub-type=([\w.]+)", cmdline)
    return f"utility {sub.group(1).rsplit('.', 1)[-1]}" if kind.group(1) == "utility" and sub else kind.group(1)


class CpuMeter:
    """CPU seconds of the server and of all browsers between :meth:`start` and :meth:`stop`."""

    def __init__(self, server_pid: int) -> None:
        self.server_pid = server_pid
        self.by_type: Counter = Counter()  # browsers' CPU seconds by process type, after stop()

    def _read(self) -> tuple[float, dict[int, float]]:
        return cpu_seconds(self.server_pid), {p: cpu_seconds(p) for p in browser_pids()}

    def start(self) -> None:
        self._server0, self._browsers0 = self._read()

    def stop(self) -> tuple[float, float]:
        """(server CPU s, browsers' CPU s) since :meth:`start` (browsers that ended in between
        count from their last start reading)."""
        server1, browsers1 = self._read()
        self.by_type = Counter()
        for p, t in browsers1.items():
            self.by_type[process_type(p)] += t - self._browsers0.get(p, 0.0)
        return server1 - self._server0, sum(self.by_type.values())


def py_spy() -> str | None:
    exe = Path(sys.executable).parent / "py-spy"
    return str(exe) if exe.exists() else None


def start_profile(pid: int, seconds: float, out: Path, rate: int = 50) -> subprocess.Popen | None:
    """py-spy sampling ``pid`` for ``seconds`` into ``out`` (raw collapsed stacks), or None
    when py-spy is not installed (``pip install py-spy``)."""
    exe = py_spy()
    if exe is None:
        return None
    return subprocess.Popen([exe, "record", "--pid", str(pid), "--rate", str(rate), "--duration", str(int(seconds)),
                             "--format", "raw", "--output", str(out), "--nonblocking", "--threads"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def thread_kinds(pid: int) -> Counter | None:
    """The Python threads of ``pid`` by name, numbered pool threads grouped ("ThreadPoolExecutor-1_3"
    counts as "ThreadPoolExecutor-1_*"), from ``py-spy dump``; None without py-spy or on failure."""
    exe = py_spy()
    if exe is None:
        return None
    try:
        dump = subprocess.run([exe, "dump", "--pid", str(pid), "--nonblocking"], capture_output=True,
                              text=True, timeout=60).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    names = re.findall(r'^Thread \S+ \(\w+\): "(.*)"', dump, flags=re.M)
    return Counter(re.sub(r"\d+$", "*", name) for name in names) if names else None


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="The share of a live server's CPU samples per part of a "
                                "live stream, from a py-spy profile.", epilog=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("profile", type=Path, metavar="PROFILE.txt",
                   help="a py-spy profile in its raw format (py-spy record --format raw)")
    args = p.parse_args(argv)
    try:
        raw = args.profile.read_text(errors="replace")
    except OSError as e:
        p.error(f"cannot read {args.profile}: {e.strerror or e}")
    counts = breakdown(raw)
    if not counts:
        p.error(f"{args.profile} holds no py-spy samples (lines of 'frame;frame;... count')")
    print(format_breakdown(counts))
    return 0


if __name__ == "__main__":
    sys.exit(main())
