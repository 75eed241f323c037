"""Several visitors on one small server at once: the resident memory of a real ``streamlit run``
server while headless Chromium tabs (each its own browser session) do what classes do (a script,
not a test).

    python benchmarks/visitors.py --mix logs [--tabs 3]     # N tabs read a full zipped live log at once
    python benchmarks/visitors.py --mix videos               # 2 tabs analyse a video, 1 reads a log
    python benchmarks/visitors.py --mix close-video          # a tab closed in the middle of an analysis
    python benchmarks/visitors.py --mix visits [--tabs 10]   # N visitors open the app once and leave

The server runs on loopback in a private network namespace, as benchmarks/server_memory.py
(whose sampler it uses: RSS every 0.1 s and the kernel's high-water mark). The full log is a
synthetic class of 30 faces for 350 minutes (benchmarks/class_logs.py: about a million
observations, 130 MB of CSV, 42 MB zipped), made once into ``--scratch``. It prints the server's
RSS at the start, its peak during the mix, and its RSS once the tabs are closed and settled
(``--settle`` s), with the CPU the server used after the tabs were gone.
"""

from __future__ import annotations

import argparse
import io
import sys
import tempfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.server_memory import Sampler, in_private_network, reexec_in_namespace, server_log_problem  # noqa: E402

MIXES = ("logs", "videos", "close-video", "visits")


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--mix", choices=MIXES, default="logs")
    p.add_argument("--tabs", type=int, default=0, help="tabs of the mix (logs: 3, visits: 10)")
    p.add_argument("--settle", type=float, default=20.0, help="seconds after the tabs are closed (default 20)")
    p.add_argument(
        "--scratch",
        type=Path,
        default=Path(tempfile.gettempdir()) / "fer-visitors",
        help="where the full log and the video are made once and kept",
    )
    p.add_argument("--video-seconds", type=float, default=120.0, help="length of the mixes' video (default 120)")
    p.add_argument(
        "--env", action="append", default=[], metavar="NAME=VALUE", help="extra environment for the server (repeatable)"
    )
    return p.parse_args(argv)


def full_log_zip(scratch: Path) -> bytes:
    """A full live log, zipped (made once)."""
    path = scratch / "full_log.zip"
    if not path.exists():
        from benchmarks.class_logs import class_log

        scratch.mkdir(parents=True, exist_ok=True)
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
            z.writestr("class_log.csv", class_log(1, 350, 30).to_csv())
        path.write_bytes(buf.getvalue())
    return path.read_bytes()


def lecture_video(scratch: Path, seconds: float) -> bytes:
    """A 640 x 360 video at 10 frames a second, the face coming and going (made once)."""
    path = scratch / f"lecture_{seconds:g}s.mp4"
    if not path.exists():
        from tests.media import encode_video, face_on_background

        scratch.mkdir(parents=True, exist_ok=True)
        frames = [
            face_on_background(640, 360, face=(k // 40) % 4 != 3, x=60 + (k // 40) % 5 * 40)
            for k in range(int(seconds * 10))
        ]
        path.write_bytes(encode_video(frames, fps=10))
    return path.read_bytes()


class Tabs:
    """Browser sessions on one server, each in its own context (its own Streamlit session)."""

    def __init__(self, browser, url: str) -> None:
        self.browser, self.url, self.pages = browser, url, []

    def open(self, path: str):
        from tests.e2e.test_browser import wait_for_app

        context = self.browser.new_context()
        page = context.new_page()
        page.set_default_timeout(300_000)
        page.goto(f"{self.url}/{path}")
        page.wait_for_selector('[data-testid="stApp"]')
        wait_for_app(page)
        self.pages.append(page)
        return page

    def close(self, page) -> None:
        page.context.close()
        self.pages.remove(page)

    def close_all(self) -> None:
        for page in list(self.pages):
            self.close(page)


def upload_log(page, data: bytes) -> None:
    """On the dashboard: choose the CSV source and upload ``data`` (returns at once)."""
    from tests.e2e.test_browser import wait_for_app

    page.get_by_role("radio", name="CSV log exported earlier").check(force=True)
    wait_for_app(page)
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(
        files=[{"name": "class_log.zip", "mimeType": "application/zip", "buffer": data}]
    )


def start_video(page, data: bytes) -> None:
    """On the Video file page: upload ``data`` and press Analyse (returns once it runs)."""
    from tests.e2e.test_browser import wait_for_app

    page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(
        files=[{"name": "lecture.mp4", "mimeType": "video/mp4", "buffer": data}]
    )
    page.get_by_text("lecture.mp4").first.wait_for()
    wait_for_app(page)
    page.get_by_role("button", name="Analyse", exact=True).click()


def done_text(page, text: str, out: list, i: int) -> None:
    page.get_by_text(text).first.wait_for()
    out[i] = time.time()


def wait_all(pages, text: str) -> list[float]:
    """Until every page shows ``text``; when each did (sequential waits: playwright's sync API)."""
    ends = [0.0] * len(pages)
    for i, page in enumerate(pages):
        done_text(page, text, ends, i)
    return ends


def cpu_seconds(pid: int) -> float:
    """The CPU time (user and system) of process ``pid``, in seconds."""
    import os

    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_mix(args, tabs: Tabs, sampler: Sampler, pid: int, log_text) -> dict:
    scratch = args.scratch
    figures: dict = {}
    if args.mix == "logs":
        data = full_log_zip(scratch)
        pages = [tabs.open("dashboard") for _ in range(args.tabs or 3)]
        t0 = time.time()
        for page in pages:
            upload_log(page, data)
        ends = wait_all(pages, "End-of-session report")
        figures["each read took (s)"] = ", ".join(f"{e - t0:.1f}" for e in ends)
    elif args.mix == "videos":
        video, log = lecture_video(scratch, args.video_seconds), full_log_zip(scratch)
        pages = [tabs.open("video") for _ in range(2)]
        reader = tabs.open("dashboard")
        t0 = time.time()
        for page in pages:
            start_video(page, video)
        upload_log(reader, log)
        ends = wait_all(pages, "Done in") + wait_all([reader], "End-of-session report")
        figures["each took (s)"] = ", ".join(f"{e - t0:.1f}" for e in ends)
    elif args.mix == "close-video":
        video = lecture_video(scratch, args.video_seconds)
        page = tabs.open("video")
        start_video(page, video)
        page.get_by_text("Analysed up to").first.wait_for()
        c0 = cpu_seconds(pid)
        time.sleep(3.0)
        figures["server CPU in the 3 s before the close (s)"] = f"{cpu_seconds(pid) - c0:.1f}"
        tabs.close(page)
        closed = time.time()
        c0 = cpu_seconds(pid)
        time.sleep(10.0)
        figures["server CPU in the 10 s after the close (s)"] = f"{cpu_seconds(pid) - c0:.1f}"
        figures["analysis still running 10 s after the close"] = "yes" if cpu_seconds(pid) - c0 > 3 else "no"
        del closed
    elif args.mix == "visits":
        for _ in range(args.tabs or 10):
            page = tabs.open("home")
            time.sleep(1.0)
            tabs.close(page)
    return figures


def main(argv=None) -> int:
    args = parse_args(argv)
    if not in_private_network():
        return reexec_in_namespace(sys.argv[1:] if argv is None else argv, __file__)

    from playwright.sync_api import sync_playwright

    from tests.e2e.conftest import CHROMIUM, CHROMIUM_FLAGS, start_server

    # Made before the server starts: the class log takes ~40 s.
    full_log_zip(args.scratch)
    if args.mix in ("videos", "close-video"):
        lecture_video(args.scratch, args.video_seconds)
    extra_env = dict(e.split("=", 1) for e in args.env)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        with start_server(tmp, env=extra_env) as (url, proc):
            sampler = Sampler(proc.pid)
            sampler.start()
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS)
                tabs = Tabs(browser, url)
                tabs.close(tabs.open("home"))  # the first visit loads the pages' modules
                time.sleep(2.0)
                start = sampler.samples[-1][1]
                sampler.high_water()
                t0 = time.time()
                figures = run_mix(args, tabs, sampler, proc.pid, lambda: (tmp / "streamlit.log").read_text())
                before_close = sampler.samples[-1][1]
                tabs.close_all()
                browser.close()
            peak = max(sampler.high_water(), sampler.peak_since(t0))
            c0 = cpu_seconds(proc.pid)
            time.sleep(args.settle)
            cpu = cpu_seconds(proc.pid) - c0
            settled = sampler.samples[-1][1]
            threads = sampler.samples[-1][2]
            sampler.stop()
            log = (tmp / "streamlit.log").read_text()
            figures["reads that waited for another (fer_app.turns)"] = log.count("a log read waits for another")
            figures["RSS every 10 s (MB)"] = " ".join(
                f"{r:.0f}" for k, (t, r, _) in enumerate(sampler.samples) if t >= t0 and k % 100 == 0
            )
        print(f"mix {args.mix} ({args.tabs or 'default'} tabs); server env {extra_env or 'default'}")
        for k, v in figures.items():
            print(f"  {k}: {v}")
        print(
            f"RESULT RSS start {start:.0f} MB; peak {peak:.0f} MB; before the tabs closed {before_close:.0f} MB; "
            f"{args.settle:g} s after they closed {settled:.0f} MB ({threads} threads, server CPU {cpu:.1f} s)"
        )
        problem = server_log_problem(log)
        if problem:
            print(problem)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
