"""Resident memory of a real ``streamlit run`` server while a headless browser uploads a large
photo (a script, not a test).

    python benchmarks/server_memory.py [--megapixels 48 | --photo P.jpg] [--uploads 3] [--set 3]
                                       [--env MALLOC_ARENA_MAX=2]

Starts the app on loopback in a private network namespace (as tests/e2e/run.sh does, and
with its server and Chromium set-up), opens the Photo page in headless Chromium, uploads a
photo of the given size (written by benchmarks/memory.py's generator) ``--uploads`` times,
waits for "N faces found" each time (``--set N``: then N copies at once as *Several
photos*, for the summary of a set), then closes the tab. The server's RSS and thread count
are sampled every 0.1 s; it prints them at each step, and each step's peak: the kernel's
high-water mark (``/proc`` VmHWM, reset between steps through ``clear_refs``), which also
catches peaks shorter than the sampling interval.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from fer_core.memory import peak_rss_mb, rss_mb, thread_count  # noqa: E402


class Sampler(threading.Thread):
    """RSS (MB) and threads of one process, every ``interval`` seconds, until stopped."""

    def __init__(self, pid: int, interval: float = 0.1) -> None:
        super().__init__(daemon=True)
        self.pid, self.interval = pid, interval
        self.samples: list[tuple[float, float, int]] = []  # (time, rss MB, threads)
        self._done = threading.Event()

    def run(self) -> None:
        while not self._done.is_set():
            self.samples.append((time.time(), rss_mb(self.pid), thread_count(self.pid)))
            time.sleep(self.interval)

    def stop(self) -> None:
        self._done.set()
        self.join()

    def peak_since(self, t0: float) -> float:
        return max((r for t, r, _ in self.samples if t >= t0), default=0.0)

    def high_water(self) -> float:
        """The process's peak RSS (MB) since the last call, then reset it (the sampled maximum
        where the kernel's mark cannot be reset)."""
        peak = peak_rss_mb(self.pid)
        try:
            Path(f"/proc/{self.pid}/clear_refs").write_text("5")  # 5: reset the peak RSS
        except OSError:
            return 0.0
        return peak


def in_private_network() -> bool:
    return os.environ.get("FER_E2E") == "1"


def reexec_in_namespace(argv: list[str], script: str = __file__) -> int:
    """Run ``script`` again inside a new network namespace with only loopback up."""
    ns = "-n" if os.getuid() == 0 else "-rn"
    shell = ('set -e; ip link set lo up; ip addr add 127.0.0.2/8 dev lo; export FER_E2E=1; '
             'exec "$0" "$@"')
    return subprocess.call(["unshare", ns, "--", "bash", "-c", shell, sys.executable, script, *argv])


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--megapixels", type=float, default=48.0)
    p.add_argument("--photo", type=Path, default=None,
                   help="upload this JPEG instead of the generated photo (--megapixels and --format ignored)")
    p.add_argument("--format", default="JPEG", choices=["JPEG", "PNG", "WEBP"])
    p.add_argument("--uploads", type=int, default=3, help="upload the photo this many times (default 3)")
    p.add_argument("--set", type=int, default=0, metavar="N",
                   help="then N copies of it at once as Several photos (the summary of a set)")
    p.add_argument("--timeline", type=Path, default=None, help="write every sample (s, MB, threads) to this CSV")
    p.add_argument("--env", action="append", default=[], metavar="NAME=VALUE",
                   help="extra environment for the server, e.g. MALLOC_ARENA_MAX=2 (repeatable)")
    return p.parse_args(argv)


class Steps:
    """Prints the server's RSS and threads at each step, and the step's peak (kept in ``peaks``)."""

    def __init__(self, sampler: Sampler) -> None:
        self.sampler, self.peaks = sampler, []

    def report(self, what: str, t0: float | None = None) -> None:
        _, rss, threads = self.sampler.samples[-1]
        high = max(self.sampler.high_water(), self.sampler.peak_since(t0) if t0 else 0.0)
        self.peaks.append(high)
        peak = f"   peak since previous step {high:5.0f} MB" if t0 else ""
        print(f"  {what:<34} RSS {rss:5.0f} MB  threads {threads:3d}{peak}")


def upload_in_browser(url: str, data: bytes, uploads: int, steps: Steps, server_log: Path,
                      set_of: int = 0) -> float:
    """Open the Photo page, upload ``data`` ``uploads`` times (each analysed), then ``set_of``
    copies at once as Several photos, close the tab; returns when the closing began."""
    from playwright.sync_api import sync_playwright

    from tests.e2e.conftest import CHROMIUM, CHROMIUM_FLAGS
    from tests.e2e.test_browser import wait_for_app

    sampler = steps.sampler
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS)
        page = browser.new_page()
        page.set_default_timeout(180_000)
        t0 = time.time()
        page.goto(f"{url}/photo")
        page.get_by_text("Choose a photo").wait_for()
        time.sleep(1.0)
        steps.report("photo page open", t0)
        for i in range(uploads):
            t0 = time.time()
            page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(
                files=[{"name": f"big{i}.jpg", "mimeType": "image/jpeg", "buffer": data}])
            page.get_by_text(f"big{i}.jpg").first.wait_for()  # the uploader shows the new file
            wait_for_app(page)  # ... and the run it started has ended
            try:
                caption = page.get_by_text("found").first.inner_text()
            except Exception:
                main_text = page.locator('[data-testid="stMain"]').inner_text()
                print(f"no result on the page; it shows:\n{main_text[-2000:]}\n"
                      f"server log:\n{server_log.read_text()[-3000:]}")
                raise
            time.sleep(2.0)
            print(f"  t={time.time() - sampler.samples[0][0]:.1f}s", end="")
            steps.report(f"upload {i + 1} analysed ({caption})", t0)
        if set_of:
            t0 = time.time()
            page.get_by_role("radio", name="Several photos").check(force=True)
            wait_for_app(page)
            page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(
                files=[{"name": f"set{i}.jpg", "mimeType": "image/jpeg", "buffer": data} for i in range(set_of)])
            page.get_by_text(f"{set_of} photos,").wait_for()
            wait_for_app(page)
            caption = page.get_by_text("found").first.inner_text()
            time.sleep(2.0)
            print(f"  t={time.time() - sampler.samples[0][0]:.1f}s", end="")
            steps.report(f"a set of {set_of} analysed ({caption})", t0)
        closing = time.time()
        page.close()
        browser.close()
    return closing


def result_line(peak: float, uploads: list[float], end: float) -> str:
    """The RESULT line: the server's peak, each upload's peak (the first, then the most of the
    later ones, as far as there were any) and its memory at the end, in MB."""
    parts = [f"server peak RSS {peak:.0f} MB"]
    if uploads:
        parts.append(f"first upload {uploads[0]:.0f} MB" + (
            f", later uploads {max(uploads[1:]):.0f} MB at most" if len(uploads) > 1 else ""))
    parts.append(f"at the end {end:.0f} MB")
    return "RESULT " + "; ".join(parts)


def main(argv=None) -> int:
    args = parse_args(argv)
    if not in_private_network():
        return reexec_in_namespace(sys.argv[1:] if argv is None else argv)

    from benchmarks.memory import make_photo
    from tests.e2e.conftest import start_server

    extra_env = dict(e.split("=", 1) for e in args.env)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        if args.photo:
            import cv2

            photo, fmt = args.photo, "JPEG"
            h, w = cv2.imread(str(photo)).shape[:2]
        else:
            photo, fmt = tmp / f"big.{args.format.lower()}", args.format
            w, h = make_photo(photo, args.megapixels, args.format)
        data = photo.read_bytes()
        print(f"photo: {fmt} {w}x{h} ({w * h / 1e6:.0f} MP), {len(data) / 1e6:.1f} MB; "
              f"server env: {extra_env or 'default'}")
        with start_server(tmp, env=extra_env) as (url, proc):
            sampler = Sampler(proc.pid)
            sampler.start()
            time.sleep(1.0)
            steps = Steps(sampler)
            steps.report("server started")
            t0 = upload_in_browser(url, data, args.uploads, steps, tmp / "streamlit.log", args.set)
            time.sleep(3.0)
            steps.report("tab closed", t0)
            sampler.stop()
            peak = max(max(r for _, r, _ in sampler.samples), *steps.peaks)
            uploads = steps.peaks[2:2 + args.uploads]
            if args.timeline:
                start = sampler.samples[0][0]
                args.timeline.write_text("t_s,rss_mb,threads\n" + "".join(
                    f"{t - start:.2f},{r:.1f},{n}\n" for t, r, n in sampler.samples))
            print(result_line(peak, uploads, sampler.samples[-1][1]))
            problem = server_log_problem((tmp / "streamlit.log").read_text())
            if problem:
                print(problem)
                return 1
    return 0


def server_log_problem(log: str) -> str:
    """What to print, and fail the run on, when the server's log holds a traceback: its last
    3,000 characters; "" for a clean log."""
    return "server log has a traceback:\n" + log[-3000:] if "Traceback" in log else ""


if __name__ == "__main__":
    sys.exit(main())
