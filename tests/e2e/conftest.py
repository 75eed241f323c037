"""Fixtures for the real-browser tests: a Streamlit server on loopback, Debian's Chromium
driven by Playwright with a fake camera playing real faces.

These tests only run through ``tests/e2e/run.sh`` (which sets FER_E2E=1 inside a private
network namespace); a plain ``pytest`` run skips them, or runs the wrapper itself when
FER_RUN_E2E=1 (see test_wrapper.py).
"""
from __future__ import annotations

import contextlib
import math
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from deploy.cluster import wait_http
from tests.media import write_y4m
from tests.scenes import one_face_frame

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "docs" / "screenshots"
CHROMIUM = os.environ.get("FER_CHROMIUM", "/usr/bin/chromium")
INSIDE_WRAPPER = os.environ.get("FER_E2E") == "1"
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--use-fake-device-for-media-stream", "--allow-loopback-in-peer-connection",
]


def pytest_configure(config):
    config.addinivalue_line("markers", "e2e: real-browser end-to-end test (run by tests/e2e/run.sh)")


def pytest_collection_modifyitems(config, items):
    if INSIDE_WRAPPER:
        return
    skip = pytest.mark.skip(reason="real-browser test: run tests/e2e/run.sh (or set FER_RUN_E2E=1)")
    for item in items:
        if "e2e" in item.keywords:
            item.add_marker(skip)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_healthy(url: str, proc: subprocess.Popen, log_path: Path, timeout_s: float = 90) -> None:
    """Until the Streamlit server at ``url`` answers its health check; RuntimeError with the end
    of its log if ``proc`` ends or ``timeout_s`` passes first."""
    wait_http(f"{url}/_stcore/health", proc, "streamlit", log_path, timeout_s)


@contextlib.contextmanager
def start_server(logdir: Path, env: dict | None = None, args: list[str] | None = None):
    """``streamlit run streamlit_app.py`` on 127.0.0.1 and a free port; no ICE servers
    (host candidates on loopback only); log in ``logdir``. Yields (base URL, process);
    stopped on exit. Also used by the benchmarks under benchmarks/ that drive browsers."""
    port = free_port()
    env = dict(os.environ, FER_ICE_SERVERS="[]", HOME=str(logdir), PYTHONUNBUFFERED="1",
               STREAMLIT_BROWSER_GATHER_USAGE_STATS="false", **(env or {}))
    log = (logdir / "streamlit.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "streamlit_app.py", "--server.port", str(port),
         "--server.address", "127.0.0.1", "--server.headless", "true",
         "--server.fileWatcherType", "none", "--browser.gatherUsageStats", "false", *(args or [])],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, proc, logdir / "streamlit.log")
    except RuntimeError:
        proc.kill()
        raise
    try:
        yield url, proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


@pytest.fixture(scope="session")
def server(tmp_path_factory):
    """The app's server for the browser tests (see :func:`start_server`); yields the base URL."""
    logdir = tmp_path_factory.mktemp("server")
    with start_server(logdir) as (url, _):
        yield url
    print(f"\nserver log: {logdir / 'streamlit.log'}")


@pytest.fixture(scope="session")
def fake_camera(tmp_path_factory) -> Path:
    """A .y4m video of a real face (the astronaut) for Chromium's fake camera; 2 s, looped."""
    frames = []
    base = one_face_frame()
    for i in range(30):  # a gentle side-to-side sway, like someone in a video call
        dx = int(12 * math.sin(i / 30 * 2 * math.pi))
        frames.append(np.roll(base, dx, axis=1))
    return write_y4m(tmp_path_factory.mktemp("camera") / "faces.y4m", frames, fps=15)


@pytest.fixture(scope="session")
def playwright_instance():
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        yield p


#: Runs in every frame before its own scripts and keeps, for ``tests.e2e.test_browser.
#: stream_diagnosis`` when a stream does not start: each WebRTC connection's state changes
#: (``window.__ferPeers``), the clicks the frame receives (``__ferClicks``; on ``window``, whose
#: listeners outlive the player's rewrite of its document) and its ``getUserMedia`` /
#: ``getDisplayMedia`` calls and their outcome (``__ferMedia``).
PEER_PROBE = """
(() => {
  const Native = window.RTCPeerConnection;
  if (!Native) return;
  window.__ferPeers = [];
  window.RTCPeerConnection = function (...args) {
    const pc = new Native(...args), log = [];
    window.__ferPeers.push(log);
    const t0 = performance.now(), note = what => log.push(`${((performance.now() - t0) / 1000).toFixed(1)}s ${what}`);
    pc.addEventListener('connectionstatechange', () => note('connection ' + pc.connectionState));
    pc.addEventListener('iceconnectionstatechange', () => note('ice ' + pc.iceConnectionState));
    pc.addEventListener('icegatheringstatechange', () => note('gathering ' + pc.iceGatheringState));
    pc.addEventListener('signalingstatechange', () => note('signaling ' + pc.signalingState));
    pc.addEventListener('track', e => note('track ' + e.track.kind));
    return pc;
  };
  window.RTCPeerConnection.prototype = Native.prototype;
  window.__ferClicks = [];
  const noteClick = e => {
    const button = e.target.closest ? e.target.closest('button') : null;
    window.__ferClicks.push(`${(performance.now() / 1000).toFixed(1)}s ${e.type} `
      + (button ? `button ${button.innerText}${button.disabled ? ' (disabled)' : ''}` : e.target.tagName));
  };
  window.addEventListener('pointerdown', noteClick, true);
  window.addEventListener('click', noteClick, true);
  const media = navigator.mediaDevices;
  if (!media) return;
  window.__ferMedia = [];
  for (const name of ['getUserMedia', 'getDisplayMedia']) {
    const call = media[name] && media[name].bind(media);
    if (!call) continue;
    media[name] = c => (window.__ferMedia.push(`${name} called`), call(c)).then(
      s => (window.__ferMedia.push(`${name} ok: ${s.getVideoTracks().map(t => t.readyState).join(',')}`), s),
      e => { window.__ferMedia.push(`${name} failed: ${e.name} ${e.message}`); throw e; });
  }
})();
"""


def launch(playwright_instance, tmp_path_factory, extra_args: list[str]):
    """A persistent context on a fresh profile directory (so no permission is remembered),
    with :data:`PEER_PROBE` in every frame."""
    profile = tmp_path_factory.mktemp("chromium-profile")
    ctx = playwright_instance.chromium.launch_persistent_context(
        str(profile), executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS + extra_args,
        viewport={"width": 1280, "height": 900}, ignore_default_args=["--mute-audio"])
    ctx.add_init_script(PEER_PROBE)
    # The browser's errors and failed requests, for stream_diagnosis.
    events: list[str] = []
    ctx.on("console", lambda m: events.append(f"console error: {m.text[:200]}") if m.type == "error" else None)
    ctx.on("requestfailed", lambda r: events.append(f"request failed: {r.url[-80:]} ({r.failure})"))
    ctx.on("response", lambda r: events.append(f"HTTP {r.status}: {r.url[-80:]}") if r.status >= 400 else None)
    BROWSER_EVENTS[id(ctx)] = events
    return ctx


#: The events that :func:`launch` collects, per context (``id(context)``).
BROWSER_EVENTS: dict[int, list[str]] = {}


@pytest.fixture(scope="session")
def browser_context(playwright_instance, tmp_path_factory, fake_camera):
    """Chromium with camera permission granted automatically and the fake camera attached."""
    ctx = launch(playwright_instance, tmp_path_factory,
                 ["--use-fake-ui-for-media-stream", f"--use-file-for-fake-video-capture={fake_camera}"])
    yield ctx
    ctx.close()


@pytest.fixture()
def page(browser_context):
    p = browser_context.new_page()
    p.set_default_timeout(60_000)
    yield p
    p.close()


def screenshot(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=False)
