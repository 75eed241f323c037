"""Load and soak harness for the live page (a script, not a test): real headless Chromium
sessions with a fake camera against one ``streamlit run`` server, in a private network
namespace with only loopback (as tests/e2e/run.sh; the same server and browser set-up).

    python benchmarks/load_soak.py [--sessions 1,4,8] [--seconds 120] [--cycles 100] [--closes 50]

Scenarios:

* ``--sessions N,...``: N tabs stream at once for ``--seconds``; per tab: frames per second
  of the returned (annotated) video, from the <video> element's decoded-frame counter, and
  the page's own "Analyses / s" and "Server busy" state;
* ``--cycles C``: one tab presses START/STOP C times;
* ``--closes K``: K tabs start streaming and are closed without STOP.

Throughout, the server's RSS and thread count are sampled every 0.2 s; each scenario prints
them at its start and end, and the leak scenarios compare the end (after a settling pause)
with the baseline taken after the first stream. Not measured yet: per-frame latency (a
frame counter in the fake video, read back from the returned frames).
"""
from __future__ import annotations

import argparse
import math
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.server_memory import Sampler, in_private_network, reexec_in_namespace  # noqa: E402

VIDEO_FRAMES_JS = "v => v.getVideoPlaybackQuality().totalVideoFrames"


def fake_camera(path: Path) -> Path:
    from tests.media import write_y4m
    from tests.scenes import one_face_frame

    base = one_face_frame()
    frames = [np.roll(base, int(12 * math.sin(i / 30 * 2 * math.pi)), axis=1) for i in range(30)]
    return write_y4m(path, frames, fps=15)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sessions", default="1,4,8", help="concurrent live tabs per scenario (comma-separated)")
    p.add_argument("--seconds", type=float, default=120.0, help="streaming time per scenario")
    p.add_argument("--cycles", type=int, default=100, help="START/STOP cycles of one tab (0: skip)")
    p.add_argument("--closes", type=int, default=50, help="tabs closed mid-stream without STOP (0: skip)")
    p.add_argument("--settle", type=float, default=10.0, help="seconds to wait before the leak check")
    args = p.parse_args(argv)
    if not in_private_network():
        return reexec_in_namespace(sys.argv[1:] if argv is None else argv, __file__)

    from playwright.sync_api import sync_playwright

    from tests.e2e.conftest import CHROMIUM, CHROMIUM_FLAGS, start_server
    from tests.e2e.test_browser import STREAM_FRAME, goto, metric, start_stream, stop_stream

    failures: list[str] = []
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as pw:
        tmp = Path(tmp)
        camera = fake_camera(tmp / "faces.y4m")
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS + [
            "--use-fake-ui-for-media-stream", f"--use-file-for-fake-video-capture={camera}"])
        with start_server(tmp) as (url, proc):
            sampler = Sampler(proc.pid, interval=0.2)
            sampler.start()
            time.sleep(1.0)

            def now() -> tuple[float, int]:
                _, rss, threads = sampler.samples[-1]
                return rss, threads

            def open_live():
                ctx = browser.new_context(viewport={"width": 1280, "height": 900})
                page = ctx.new_page()
                page.set_default_timeout(120_000)
                goto(page, url, "live")
                return ctx, page

            def video_frames(page) -> int:
                return page.frame_locator(STREAM_FRAME).locator("video").first.evaluate(VIDEO_FRAMES_JS)

            print(f"server started: RSS {now()[0]:.0f} MB, {now()[1]} threads")
            # Baseline: one stream started and stopped, so that imports and models are loaded.
            ctx, page = open_live()
            start_stream(page)
            time.sleep(3)
            stop_stream(page)
            ctx.close()
            time.sleep(args.settle)
            base_rss, base_threads = now()
            print(f"baseline after one stream: RSS {base_rss:.0f} MB, {base_threads} threads\n")
            print(f"{'scenario':<22} {'fps per tab (min/median)':>25} {'analyses/s':>11} {'busy':>5} "
                  f"{'RSS start/peak/end MB':>22} {'threads start/end':>18}")
            for n in [int(x) for x in args.sessions.split(",") if x]:
                t0 = time.time()
                rss0, thr0 = now()
                tabs = [open_live() for _ in range(n)]
                for _, page in tabs:
                    start_stream(page)
                time.sleep(3.0)
                counts0 = [video_frames(page) for _, page in tabs]
                t_start = time.time()
                time.sleep(args.seconds)
                counts1 = [video_frames(page) for _, page in tabs]
                dt = time.time() - t_start
                fps = [(b - a) / dt for a, b in zip(counts0, counts1)]
                analyses = [float(metric(page, "Analyses / s")) for _, page in tabs]
                busy = sum(page.get_by_text("Server busy").count() > 0 for _, page in tabs)
                for ctx, page in tabs:
                    stop_stream(page)
                    ctx.close()
                rss1, thr1 = now()
                peak = sampler.peak_since(t0)
                print(f"{f'{n} live tab(s), {args.seconds:.0f} s':<22} "
                      f"{min(fps):>12.1f} / {statistics.median(fps):<10.1f} "
                      f"{statistics.median(analyses):>11.1f} {busy:>5} "
                      f"{rss0:>8.0f}/{peak:.0f}/{rss1:.0f} {thr0:>10}/{thr1}")
                if min(fps) < 5:
                    failures.append(f"{n} tabs: a tab received {min(fps):.1f} fps (< 5)")
            if args.cycles:
                t0 = time.time()
                rss0, thr0 = now()
                ctx, page = open_live()
                for _ in range(args.cycles):
                    start_stream(page)
                    time.sleep(0.5)
                    stop_stream(page)
                ctx.close()
                time.sleep(args.settle)
                rss1, thr1 = now()
                print(f"{f'{args.cycles} START/STOP':<22} {'':>25} {'':>11} {'':>5} "
                      f"{rss0:>8.0f}/{sampler.peak_since(t0):.0f}/{rss1:.0f} {thr0:>10}/{thr1}")
            if args.closes:
                t0 = time.time()
                rss0, thr0 = now()
                for _ in range(args.closes):
                    ctx, page = open_live()
                    start_stream(page)
                    time.sleep(1.0)
                    ctx.close()  # no STOP
                time.sleep(args.settle)
                rss1, thr1 = now()
                print(f"{f'{args.closes} tab closes':<22} {'':>25} {'':>11} {'':>5} "
                      f"{rss0:>8.0f}/{sampler.peak_since(t0):.0f}/{rss1:.0f} {thr0:>10}/{thr1}")
            time.sleep(args.settle)
            end_rss, end_threads = now()
            sampler.stop()
            print(f"\nend: RSS {end_rss:.0f} MB ({100 * (end_rss / base_rss - 1):+.0f}% of the baseline), "
                  f"{end_threads} threads (baseline {base_threads})")
            if end_threads > base_threads:
                failures.append(f"threads not back to the baseline: {end_threads} > {base_threads}")
            if end_rss > 1.05 * base_rss:
                failures.append(f"RSS not back within 5% of the baseline: {end_rss:.0f} > {base_rss:.0f} MB")
            log = (tmp / "streamlit.log").read_text()
            if "Traceback" in log:
                failures.append("the server log has a traceback")
                for block in log.split("Traceback")[1:4]:  # the first three, up to their exception line
                    lines = block.splitlines()
                    end = next((i for i, line in enumerate(lines[1:], 1) if line and not line.startswith(" ")), 25)
                    print("Traceback" + "\n".join(lines[:end + 1]))
        browser.close()
    print("\n" + ("RESULT ok" if not failures else "RESULT FAILED:\n  " + "\n  ".join(failures)))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
