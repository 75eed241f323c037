"""The first visitor after a restart (a deploy, Heroku's daily cycling, a reboot) against the
visitors after them: how long each waits on each page of a real ``streamlit run`` server (a
script, not a test).

    python benchmarks/cold_start.py [--visitors 2]

Starts the app on loopback in a private network namespace, with the server and Chromium set-up
of tests/e2e (as benchmarks/server_memory.py), and times the start until ``/_stcore/health``
answers. Then each visitor, one after the other and each in a fresh browser profile (nothing
cached, as a new visitor), opens Home, uploads a photo of one face on the Photo page and then
one of four, presses START on the Live page (Chromium's fake camera playing a face) and waits
for the first observation, stops, and analyses an 8 s video on the Video file page. It prints
the seconds each step took, from the action to the page showing its result, one column per
visitor, and the server's RSS after each step.

The first visitor's extra time is what a server loads on its first use (the app's modules, the
models, the face mesh); the browser's own first loads (Streamlit's scripts, the chart library)
are in every column, since every visitor's profile is fresh.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.server_memory import in_private_network, reexec_in_namespace, server_log_problem  # noqa: E402
from fer_core.memory import rss_mb  # noqa: E402

STEPS = (
    "Home shown",
    "Photo: first photo analysed",
    "Photo: another photo analysed",
    "Live: START to first observation",
    "Video file: 8 s video analysed",
)


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--visitors", type=int, default=2, help="visitors one after another (default 2)")
    return p.parse_args(argv)


def table(seconds: list[dict[str, float]], rss: list[dict[str, float]]) -> str:
    """Seconds of each step (rows) for each visitor (columns), with the server's RSS after the
    step for the first visitor and the last."""
    head = f"{'step':<36}" + "".join(f"{f'visitor {i + 1}':>11}" for i in range(len(seconds)))
    lines = [head + "   RSS after (MB)"]
    ends = rss[:1] + rss[1:][-1:]  # the first visitor's, and the last's when there were more
    for step in STEPS:
        cells = "".join(f"{v[step]:>10.2f}s" if step in v else f"{'-':>11}" for v in seconds)
        memory = " / ".join(f"{r[step]:.0f}" for r in ends if step in r)
        lines.append(f"{step:<36}{cells}   {memory}")
    return "\n".join(lines)


def visit(browser_type, profile: Path, camera: Path, url: str, pid: int, media: dict) -> tuple[dict, dict]:
    """One visitor's steps: (seconds of each step, RSS after it)."""
    from tests.e2e.conftest import CHROMIUM, CHROMIUM_FLAGS
    from tests.e2e.test_browser import STREAM_FRAME, metric, video_state, wait_for_app, wait_until

    seconds: dict[str, float] = {}
    rss: dict[str, float] = {}

    def done(step: str, t0: float) -> None:
        seconds[step], rss[step] = time.perf_counter() - t0, rss_mb(pid)

    ctx = browser_type.launch_persistent_context(
        str(profile),
        executable_path=CHROMIUM,
        headless=True,
        viewport={"width": 1280, "height": 900},
        args=CHROMIUM_FLAGS + ["--use-fake-ui-for-media-stream", f"--use-file-for-fake-video-capture={camera}"],
    )
    try:
        page = ctx.new_page()
        page.set_default_timeout(120_000)
        t0 = time.perf_counter()
        page.goto(url)
        page.get_by_text("Article 5(1)(f)").wait_for()
        wait_for_app(page)
        done(STEPS[0], t0)

        page.goto(f"{url}/photo")
        wait_for_app(page)
        upload = page.locator('[data-testid="stFileUploaderDropzoneInput"]')
        for step, (name, data, found) in zip(STEPS[1:3], media["photos"]):
            t0 = time.perf_counter()
            upload.set_input_files(files=[{"name": name, "mimeType": "image/png", "buffer": data}])
            page.get_by_text(found).wait_for()
            page.locator(".js-plotly-plot").wait_for()
            wait_for_app(page)
            done(step, t0)

        page.goto(f"{url}/live")
        wait_for_app(page)
        start = page.frame_locator(STREAM_FRAME).get_by_role("button", name="Start")
        start.wait_for()
        time.sleep(1.0)  # the player lays itself out (tests/e2e/test_browser.py, start_stream)
        t0 = time.perf_counter()
        start.click()
        wait_until(
            lambda: (metric(page, "Observations") or "0").isdigit() and int(metric(page, "Observations")) > 0,
            60,
            "the first observation",
        )
        done(STEPS[3], t0)
        assert video_state(page), "no returned video"
        page.frame_locator(STREAM_FRAME).get_by_role("button", name="Stop").click()
        page.frame_locator(STREAM_FRAME).get_by_role("button", name="Start").wait_for()

        page.goto(f"{url}/video")
        wait_for_app(page)
        t0 = time.perf_counter()
        page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(
            files=[{"name": "lecture.mp4", "mimeType": "video/mp4", "buffer": media["video"]}]
        )
        page.get_by_role("button", name="Analyse", exact=True).click()
        page.get_by_text("Moments of strongest change").wait_for()
        wait_for_app(page)
        done(STEPS[4], t0)
    finally:
        ctx.close()
    return seconds, rss


def main(argv=None) -> int:
    args = parse_args(argv)
    if not in_private_network():
        return reexec_in_namespace(sys.argv[1:] if argv is None else argv, __file__)

    import cv2
    from playwright.sync_api import sync_playwright

    from tests.e2e.conftest import start_server
    from tests.media import come_and_go_frames, encode_video, write_y4m
    from tests.scenes import astronaut_bgr, gallery_frame, one_face_frame

    media = {
        "photos": [
            ("one.png", cv2.imencode(".png", astronaut_bgr())[1].tobytes(), "1 face found"),
            ("four.png", cv2.imencode(".png", gallery_frame(2, 2, 640, 480))[1].tobytes(), "4 faces found"),
        ],
        "video": encode_video(come_and_go_frames(fps=10), fps=10),
    }
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        camera = write_y4m(tmp / "face.y4m", [one_face_frame()] * 30, fps=15)
        t0 = time.perf_counter()
        with start_server(tmp) as (url, proc):
            healthy = time.perf_counter() - t0
            print(f"server answered /_stcore/health {healthy:.2f} s after its start; RSS {rss_mb(proc.pid):.0f} MB")
            seconds, rss = [], []
            with sync_playwright() as p:
                for i in range(args.visitors):
                    s, r = visit(p.chromium, tmp / f"profile{i}", camera, url, proc.pid, media)
                    seconds.append(s)
                    rss.append(r)
            print(table(seconds, rss))
            problem = server_log_problem((tmp / "streamlit.log").read_text())
            if problem:
                print(problem)
                return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
