"""The app in a real browser: Chromium with a fake camera showing a real face, WebRTC over
loopback to a Streamlit server started by the fixtures. Run with tests/e2e/run.sh.

Also saves one screenshot per page to docs/screenshots/.
"""
from __future__ import annotations

import base64
import re
import time
import warnings

import av
import cv2
import numpy as np
import pandas as pd
import pytest
from playwright.sync_api import Error as PlaywrightError

from fer_core import LABELS, load_recognizer
from fer_core.session import SessionLog
from fer_core.tracking import iou
from tests.e2e.conftest import BROWSER_EVENTS, launch, screenshot, start_server
from tests.media import come_and_go_frames, encode_video
from tests.scenes import astronaut_bgr, gallery_frame, one_face_frame
from tests.test_compare import drifting_lecture

pytestmark = pytest.mark.e2e
# The player's frame; visible only: while a run that switched the source is still going,
# Streamlit may keep the earlier player's frame, 0 px high, beside the new one (seen under load).
STREAM_FRAME = 'iframe[title*="webrtc_streamer"]:visible'


# -- helpers ----------------------------------------------------------------------------
def wait_for_app(page) -> None:
    """Until the script has finished its run (no 'Running...' indicator)."""
    page.wait_for_selector('[data-testid="stApp"]')
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')"
        " || !document.querySelector('[data-testid=\"stStatusWidget\"]').innerText.includes('Running')",
        timeout=60_000)


def goto(page, server: str, path: str) -> None:
    page.goto(f"{server}/{path}")
    wait_for_app(page)
    page.wait_for_selector("h1")


def metric(page, label: str) -> str:
    box = page.locator('[data-testid="stMetric"]', has=page.get_by_text(label, exact=True))
    return box.locator('[data-testid="stMetricValue"]').inner_text()


def video_state(page) -> dict | None:
    video = page.frame_locator(STREAM_FRAME).locator("video")
    if video.count() == 0:
        return None
    return video.first.evaluate("v => ({w: v.videoWidth, h: v.videoHeight, t: v.currentTime, "
                                "ready: v.readyState, paused: v.paused})")


def wait_until(condition, timeout: float, what: str, interval: float = 0.25):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


#: Read in the player's frame by stream_diagnosis.
PLAYER_PROBE = """() => ({
  peers: window.__ferPeers || null, media: window.__ferMedia || null, clicks: window.__ferClicks || null,
  now: performance.now() / 1000, text: document.body.innerText.slice(0, 300),
  loaded: performance.getEntriesByType('resource').filter(e => e.name.endsWith('.js'))
    .map(e => `${e.name.split('/').pop()} ${e.responseStatus} ${e.duration.toFixed(0)} ms`)})"""


def stream_diagnosis(page) -> str:
    """What the player's frame knows about its stream: the <video>, the media requests, each
    WebRTC connection's state changes (conftest.PEER_PROBE), and the text it shows."""
    players = [f for f in page.frames if "streamlit_webrtc" in f.url]
    if not players:
        return "no player frame"
    player = players[0]
    try:
        probe = player.evaluate(PLAYER_PROBE)
    except PlaywrightError as e:
        return f"player frame unreadable: {e}"
    events = BROWSER_EVENTS.get(id(page.context), [])[-12:]
    return (f"{len(players)} player frame(s); video {video_state(page)}; media {probe['media']}; "
            f"peers {probe['peers']}; text {probe['text']!r}; clicks {probe['clicks']}; "
            f"now {probe['now']:.1f}s; scripts loaded {probe['loaded']}; "
            f"browser events {events}")


def player_started(page) -> bool:
    """Whether the player acted on START: it asked for media, opened a connection or shows STOP."""
    player = next((f for f in page.frames if "streamlit_webrtc" in f.url), None)
    if player is None:
        return False
    try:
        return player.evaluate("() => (window.__ferMedia || []).length > 0 || (window.__ferPeers || []).length > 0"
                               " || document.body.innerText.includes('STOP')")
    except PlaywrightError:
        return False


def wait_still(locator, still_s: float = 0.5, timeout: float = 10.0) -> None:
    """Wait until the element's place on the page has not changed for ``still_s`` seconds (or
    ``timeout`` has passed: the click then goes where it is)."""
    deadline = time.time() + timeout
    last, since = None, time.time()
    while time.time() < deadline:
        try:
            box = locator.bounding_box(timeout=1000)
        except PlaywrightError:
            box = None
        if box != last:
            last, since = box, time.time()
        elif box is not None and time.time() - since >= still_s:
            return
        time.sleep(0.1)


def start_stream(page) -> None:
    """Press START, once the button has stopped moving, and wait for the returned video.

    A press the player ignored altogether (no media request, no connection, no STOP button
    after 10 s) failed 4 of 48 runs of the shared-screen test alone on one machine, always at
    its first press. The one seen in CI went down on START and came up on the page's root: the
    button had moved while the new player laid itself out. So the press waits for the button
    to keep its place for half a second, and a press still ignored is pressed once more, with a
    warning that says so (docs/TESTING.md)."""
    start = page.frame_locator(STREAM_FRAME).get_by_role("button", name="Start")
    wait_still(start)
    start.click()
    try:
        wait_until(lambda: player_started(page), 10, "the player to act on START")
    except AssertionError:
        warnings.warn(f"the player ignored a START press; pressed again ({stream_diagnosis(page)})", stacklevel=2)
        start.click()
    try:
        wait_until(lambda: (s := video_state(page)) and s["w"] > 0 and s["t"] > 0.3, 60, "the returned video")
    except AssertionError as e:
        raise AssertionError(f"{e}: {stream_diagnosis(page)}") from None


def stop_stream(page) -> None:
    page.frame_locator(STREAM_FRAME).get_by_role("button", name="Stop").click()
    page.frame_locator(STREAM_FRAME).get_by_role("button", name="Start").wait_for()


def grab_video_frame(page) -> np.ndarray:
    """The frame the <video> element shows now (what the server sent back), as BGR."""
    url = page.frame_locator(STREAM_FRAME).locator("video").first.evaluate(
        "v => { const c = document.createElement('canvas'); c.width = v.videoWidth; c.height = v.videoHeight;"
        " c.getContext('2d').drawImage(v, 0, 0); return c.toDataURL('image/png'); }")
    data = base64.b64decode(url.split(",", 1)[1])
    return cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)


def stream_alive(page, seconds: float) -> str:
    """'' if the returned video keeps advancing and the server keeps analysing for ``seconds``,
    else what went wrong."""
    t0, n0 = video_state(page)["t"], int(metric(page, "Observations"))
    time.sleep(seconds)
    state, n1 = video_state(page), int(metric(page, "Observations"))
    if not state or state["t"] <= t0 + seconds / 2:
        return f"video stalled: currentTime {t0:.2f} -> {state and state['t']:.2f}"
    if n1 <= n0:
        return f"no new observations: {n0} -> {n1}"
    return ""


@pytest.fixture(scope="module")
def recognizer():
    return load_recognizer()


# -- pages --------------------------------------------------------------------------------
def test_home_and_model_pages(page, server):
    goto(page, server, "")  # the default page lives at /
    page.get_by_text("Article 5(1)(f)").wait_for()
    assert page.get_by_text("Page not found").count() == 0
    screenshot(page, "home")
    goto(page, server, "model")
    page.get_by_text("Known limitations").wait_for()
    # The per-class bars and the confusion matrix are drawn (not left as empty placeholders).
    page.locator(".js-plotly-plot", has_text="Per expression").wait_for()
    page.locator(".js-plotly-plot").nth(1).wait_for()
    assert page.locator(".js-plotly-plot").count() == 2
    screenshot(page, "model")


def test_webcam_stream_annotates_faces_and_counts_them(page, server, recognizer):
    goto(page, server, "live")
    start_stream(page)
    # Wait until the server has logged a few observations, then look at a returned frame.
    wait_until(lambda: int(metric(page, "Observations") or 0) >= 3, 60, "observations on the page")
    returned = grab_video_frame(page)
    # The page asks for 480 x 360 (fer_app.support.CAMERA); Chromium scales the 640 x 480 camera.
    assert returned.shape == (360, 480, 3)

    source = cv2.resize(one_face_frame(), (480, 360), interpolation=cv2.INTER_AREA)
    expected = recognizer.analyze(source)[0].box  # where the astronaut's face is
    seen = recognizer.analyze(returned)
    assert seen, "no face in the returned frame"
    assert iou(seen[0].box, expected) > 0.4  # the fake camera sways by up to 12 px

    # The annotation: a black caption box with a confidence bar right above the face box,
    # and the status line (fps, face count) in the top-left corner. Neither is in the source.
    x, y, w, h = seen[0].box
    above = (slice(max(0, y - 26), y - 2), slice(x + 2, x + w // 2))
    near_black = lambda img: (cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)[above] < 30).mean()  # noqa: E731
    assert near_black(returned) > 0.25 and near_black(source) < 0.1
    assert cv2.cvtColor(returned[2:12, 2:60], cv2.COLOR_BGR2GRAY).mean() < 70
    assert source[2:12, 2:60].mean() > 80

    # The live readout and chart count the analysed faces.
    assert metric(page, "Faces now") == "1"
    assert float(metric(page, "Camera FPS")) > 1
    chart = page.locator(".js-plotly-plot", has_text="Observations by top expression")
    # The charts are paced (support.ChartPacer: every 2 s, paused while the server is busy): the
    # chart on the page may be one drawn before the third observation.
    bars = lambda: [int(t) for t in chart.locator("text.bartext").all_text_contents() if t.strip()]  # noqa: E731
    counts = wait_until(lambda: (c := bars()) and sum(c) >= 3 and c, 60, "3 observations in the live chart")
    assert sum(counts) >= 3
    n1 = int(metric(page, "Observations"))
    # 60 s like the first wait: under load (CI beside a training run) 30 s was once too short.
    wait_until(lambda: int(metric(page, "Observations")) > n1, 60, "the chart to keep counting")
    screenshot(page, "live_webcam")

    # Marking a moment while streaming: a toast, the field cleared, and the stream goes on.
    field = page.get_by_role("textbox", name="Mark this moment")
    field.fill("quiz starts")
    page.get_by_role("button", name="Mark", exact=True).click()
    page.get_by_text('Marked "quiz starts" at').wait_for()
    wait_until(lambda: field.input_value() == "", 10, "the marker field to clear")
    assert (problem := stream_alive(page, 4)) == "", problem

    # Stopping keeps the app running and the session log on the page.
    stop_stream(page)
    page.get_by_text("The stream stopped").wait_for()
    assert int(metric(page, "Observations")) > n1
    with page.expect_download() as download:  # kept without going to the dashboard
        page.get_by_role("button", name="Session log (CSV)").click()
    saved = SessionLog.from_csv(open(download.value.path(), "rb").read())
    assert [text for _, text in saved.markers] == ["quiz starts"] and len(saved) > n1

    # The log lives only in this browser session: reloading (or closing) the tab is asked
    # about first, and answering "stay" keeps the session and its log.
    asked = []
    page.on("dialog", lambda d: (asked.append(d.type), d.dismiss()))
    try:
        page.reload(timeout=10_000)
    except PlaywrightError:
        pass  # the reload was cancelled: that is the point
    assert asked == ["beforeunload"]
    assert int(metric(page, "Observations")) > n1


def test_repeated_start_stop_does_not_drop_the_stream(page, server):
    """streamlit-webrtc 0.79.0 reset a live stream after about one START in four
    ("Context ... was not rendered ...; resetting stale state"); fer_app.webrtc_shim prevents it."""
    goto(page, server, "live")
    drops = []
    for attempt in range(5):
        start_stream(page)
        wait_until(lambda: metric(page, "Observations").isdigit(), 30, "the readout")
        problem = stream_alive(page, 4.0)
        if problem:
            drops.append((attempt, problem))
        stop_stream(page)
    assert drops == [], f"the stream died after START number(s) {drops}"


def test_changing_settings_while_streaming_keeps_the_stream(page, server):
    """Every widget change reruns the page; the stream must survive and use the new rate."""
    goto(page, server, "live")
    start_stream(page)
    wait_until(lambda: metric(page, "Observations").isdigit(), 30, "the readout")
    slider = page.get_by_role("slider", name="Analyse every Nth frame")  # 1 -> 2 -> 3
    slider.focus()
    slider.press("ArrowRight")
    slider.press("ArrowRight")
    wait_until(lambda: slider.get_attribute("aria-valuetext") == "3", 10, "the slider at 3")
    problem = stream_alive(page, 6.0)  # also gives the new rate time to show in the averages
    assert not problem, problem
    camera, analysed = float(metric(page, "Camera FPS")), float(metric(page, "Analyses / s"))
    assert analysed < 0.6 * camera, (camera, analysed)
    stop_stream(page)


def test_clearing_the_log_while_streaming_clears_its_marked_moments(page, server):
    """A run of the live page does not end while it streams, and Streamlit then kept the
    elements an earlier run drew and a later one did not: after "Clear session log" the page
    went on saying "Marked: ..." of the cleared log until the stream stopped."""
    goto(page, server, "live")
    start_stream(page)
    wait_until(lambda: metric(page, "Observations").isdigit(), 30, "the readout")
    page.get_by_role("textbox", name="Mark this moment").fill("before the clear")
    page.get_by_role("button", name="Mark", exact=True).click()
    marked = page.get_by_text(re.compile("^Marked: before the clear"))
    marked.wait_for()
    page.get_by_role("button", name="Clear session log").click()
    marked.wait_for(state="detached", timeout=20_000)
    assert (problem := stream_alive(page, 4.0)) == "", problem
    assert marked.count() == 0
    stop_stream(page)


def player_message_after_start(page, server, opening: str) -> str:
    """Opens the Live page, presses the player's START and returns the message the player then
    shows, the one that opens with ``opening``."""
    page.set_default_timeout(60_000)
    goto(page, server, "live")
    start = page.frame_locator(STREAM_FRAME).get_by_role("button", name="Start")
    wait_still(start)
    start.click()
    said = page.frame_locator(STREAM_FRAME).get_by_text(re.compile("^" + re.escape(opening)))
    said.wait_for()
    return said.inner_text()


def test_camera_denied_gives_a_message_and_the_app_keeps_running(playwright_instance, tmp_path_factory,
                                                                    fake_camera, server):
    # No --use-fake-ui-for-media-stream: the permission prompt is dismissed, i.e. denied.
    ctx = launch(playwright_instance, tmp_path_factory, [f"--use-file-for-fake-video-capture={fake_camera}"])
    try:
        page = ctx.new_page()
        # The player says what happened and what to do, in place of the browser's bare
        # "NotAllowedError: Permission denied" (its name stays, in brackets); nothing to open.
        said = player_message_after_start(page, server, "Camera blocked: ")
        assert "camera icon in the address bar" in said and "Video file page" in said
        assert said.endswith("(NotAllowedError)")
        # The page explains it next to the fallback too.
        page.get_by_text("Live stream not working? Take snapshots instead").click()
        page.get_by_text(re.compile("the browser was denied the camera")).wait_for()
        # The rest of the app still works: pages switch.
        page.get_by_role("link", name="Photo").click()
        page.get_by_text("Choose a photo").wait_for()
    finally:
        ctx.close()


def test_camera_held_by_another_program_is_said_in_plain_words(playwright_instance, tmp_path_factory, server):
    """A camera another program holds: Chromium rejects with NotReadableError, which the player
    showed as it came ("NotReadableError: Could not start video source")."""
    ctx = launch(playwright_instance, tmp_path_factory, ["--use-fake-ui-for-media-stream"])
    ctx.add_init_script("navigator.mediaDevices && (navigator.mediaDevices.getUserMedia = () => "
                        "Promise.reject(new DOMException('Could not start video source', 'NotReadableError')));")
    try:
        said = player_message_after_start(ctx.new_page(), server, "Camera in use: ")
        assert "Close the other program" in said
    finally:
        ctx.close()


#: In the player's frame: presses START the moment it shows, faster than a person (run before the
#: frame's own scripts, on its first window, which the player's document keeps).
PRESS_START_AT_ONCE = """
window.addEventListener("DOMContentLoaded", () => {
  if (!location.href.includes("streamlit_webrtc")) return;
  const id = setInterval(() => {
    const start = [...document.querySelectorAll("button")].find(b => b.innerText.trim() === "START" && !b.disabled);
    if (start) { clearInterval(id); start.click(); }
  }, 5);
});
"""


def test_start_pressed_as_soon_as_it_shows_still_gets_plain_words(playwright_instance, tmp_path_factory,
                                                                   fake_camera, server):
    """The page's script wrapped the player's camera request only at its next half-second pass: a
    START pressed in between (4 of 10 pressed the moment it showed) got "NotAllowedError:
    Permission denied" instead of the plain words."""
    ctx = launch(playwright_instance, tmp_path_factory, [f"--use-file-for-fake-video-capture={fake_camera}"])
    ctx.add_init_script(PRESS_START_AT_ONCE)
    try:
        page = ctx.new_page()
        page.set_default_timeout(60_000)
        for attempt in range(3):
            goto(page, server, "live")
            said = page.frame_locator(STREAM_FRAME).get_by_text(re.compile("(Error|Camera blocked): "))
            said.first.wait_for()
            assert said.first.inner_text().startswith("Camera blocked: "), (attempt, said.first.inner_text())
    finally:
        ctx.close()


def test_plain_http_away_from_localhost_says_the_camera_needs_https(playwright_instance, tmp_path_factory,
                                                                   fake_camera, server):
    """The app deployed as docs/DEPLOY.md says and opened at http://<the server's address>:8501: the
    browser gives such a page no camera, and the player said "Error: navigator.mediaDevices is
    undefined. It seems the current document is not loaded securely." (here: a name for loopback,
    which the browser does not count as localhost)."""
    port = server.rsplit(":", 1)[1]
    ctx = launch(playwright_instance, tmp_path_factory, [
        "--use-fake-ui-for-media-stream", f"--use-file-for-fake-video-capture={fake_camera}",
        "--host-resolver-rules=MAP fer-server.test 127.0.0.1"])
    try:
        page = ctx.new_page()
        page.set_default_timeout(60_000)
        goto(page, f"http://fer-server.test:{port}", "live")
        assert page.evaluate("window.isSecureContext") is False
        # Said on the page before START, with what to do.
        warning = page.locator('[data-testid="stAlert"]', has_text="No camera over plain http")
        warning.wait_for()
        assert "http://fer-server.test" in warning.inner_text() and "docs/DEPLOY.md" in warning.inner_text()
        start = page.frame_locator(STREAM_FRAME).get_by_role("button", name="Start")
        wait_still(start)
        start.click()
        said = page.frame_locator(STREAM_FRAME).get_by_text(re.compile("^Camera needs https: "))
        said.wait_for()
        assert "plain http" in said.inner_text() and "Video file page" in said.inner_text()
        # The snapshot below would ask for the camera too: not offered.
        page.get_by_text("Live stream not working? Take snapshots instead").click()
        page.get_by_text("Snapshots need the camera as well").wait_for()
        assert page.locator('[data-testid="stCameraInput"]').count() == 0
    finally:
        ctx.close()


def test_shared_screen_analyses_a_video_call_gallery(playwright_instance, tmp_path_factory, fake_camera,
                                                    server):
    """The live page's "A shared screen, window or tab" source: the player shares a browser tab
    (a 4 x 4 gallery of real faces that moves a little, like a call's video) instead of the
    camera, at the screen's capture size; the browser's "Stop sharing" gets a message; and the
    same player opens the camera again when the source goes back to it."""
    call = tmp_path_factory.mktemp("call")
    cv2.imwrite(str(call / "gallery.png"), gallery_frame(4, 4, 1280, 720))
    (call / "call.html").write_text(
        "<html><head><title>Class gallery</title><style>body{margin:0;background:#000;overflow:hidden}"
        "img{width:1280px;height:720px;display:block;animation:sway 2s ease-in-out infinite alternate}"
        "@keyframes sway{to{transform:translateX(12px)}}</style></head>"
        '<body><img src="gallery.png"></body></html>')
    # No fake media UI: Chromium then shares the tab titled "Class gallery" when a page asks
    # for a screen, as a person picks the call's window; the camera is allowed by permission.
    ctx = launch(playwright_instance, tmp_path_factory,
                 ["--auto-select-tab-capture-source-by-title=Class gallery",
                  f"--use-file-for-fake-video-capture={fake_camera}"])
    # Keep the shared stream where the test can end it as the browser's "Stop sharing" does: in
    # every frame, as it is made. Patched into the player's frame once found, it was lost in 2 of 8
    # runs where Streamlit made that frame again before START (evaluate: "Frame was detached").
    ctx.add_init_script("(() => { const m = navigator.mediaDevices; if (!m || !m.getDisplayMedia) return;"
                        " const share = m.getDisplayMedia.bind(m);"
                        " m.getDisplayMedia = c => share(c).then(s => (window.__shared = s, s)); })()")
    try:
        ctx.grant_permissions(["camera"], origin=server)
        tab = ctx.new_page()
        tab.set_viewport_size({"width": 1280, "height": 720})
        tab.goto(call.joinpath("call.html").as_uri())
        page = ctx.new_page()
        page.set_default_timeout(60_000)
        goto(page, server, "live")
        page.get_by_text("A shared screen, window or tab").click()
        wait_for_app(page)
        page.get_by_text("pick the window of your video call").wait_for()
        page.frame_locator(STREAM_FRAME).get_by_role("button", name="Start").wait_for()
        start_stream(page)
        # 16 faces of about 150 px in a frame over 1000 px wide: the detector's high-resolution pass.
        wait_until(lambda: int(metric(page, "Faces now")) >= 14, 60, "the faces of the shared tab")
        h, w = grab_video_frame(page).shape[:2]  # the tab scaled into fer_app.support.SCREEN, 1280 x 720
        assert w <= 1280 and h <= 720 and (w == 1280 or h == 720), (w, h)
        wait_until(lambda: int(metric(page, "Observations")) >= 16, 60, "observations of the gallery")
        # Asked for 5 frames a second at most (the camera: 15); the rate readout wobbles a little,
        # and reads 0.0 until it is measured (a gallery's 16 observations come with one frame).
        wait_until(lambda: float(metric(page, "Camera FPS")) > 0, 30, "the shared screen's frame rate")
        assert float(metric(page, "Camera FPS")) <= 7.5
        screenshot(page, "live_screen")
        label = page.get_by_text("A shared screen, window or tab")
        assert label.locator("xpath=ancestor::label").locator("input").is_disabled()  # while streaming
        player = next(f for f in page.frames if "streamlit_webrtc" in f.url and not f.is_detached()
                      and f.evaluate("() => !!window.__shared"))
        player.evaluate("() => window.__shared.getTracks().forEach(t => t.stop())")
        page.get_by_text(re.compile(r"the screen sharing stopped \(or, in some browsers")).wait_for()
        stop_stream(page)
        wait_for_app(page)
        # A window shared smaller than the detector's high-resolution pass needs: a hint.
        tab.set_viewport_size({"width": 800, "height": 450})
        start_stream(page)
        page.get_by_text(re.compile("The shared window arrives at 800 x 450")).wait_for()
        stop_stream(page)
        wait_for_app(page)
        page.get_by_text("Camera", exact=True).click()
        wait_for_app(page)
        start_stream(page)
        wait_until(lambda: metric(page, "Faces now") == "1", 60, "the camera's one face")
        # The camera's full size, or the light one if the server still counts itself busy
        # after the gallery (fer_app.support.camera_for).
        assert grab_video_frame(page).shape in ((360, 480, 3), (240, 320, 3))
        stop_stream(page)
    finally:
        ctx.close()


@pytest.fixture(scope="module")
def light_from_one(tmp_path_factory):
    """A server of its own whose streams get the light camera from one other stream on
    (``$FER_LIGHT_CAMERA_FROM``): two tabs make it busy."""
    with start_server(tmp_path_factory.mktemp("light"), env={"FER_LIGHT_CAMERA_FROM": "1"}) as (url, _):
        yield url


def test_a_running_camera_follows_the_servers_load(browser_context, light_from_one):
    """The capture was chosen before START and kept for the whole stream: a stream started on a
    quiet server kept 480 x 360 however busy the server became, and a light one kept 320 x 240
    after the server was quiet again ("press STOP, then START, for the full camera"). Now the
    page script applies the capture of the moment to the running camera track, and the page
    says what the frames show; the stream and its log go on throughout."""
    first, second = browser_context.new_page(), browser_context.new_page()
    try:
        for page in (first, second):
            page.set_default_timeout(60_000)
        goto(first, light_from_one, "live")
        start_stream(first)
        size = lambda page: (s := video_state(page)) and (s["w"], s["h"])  # noqa: E731
        wait_until(lambda: size(first) == (480, 360), 30, "the full camera on a quiet server")
        wait_until(lambda: metric(first, "Observations").isdigit(), 30, "the readout")
        goto(second, light_from_one, "live")  # one other stream runs: this one starts light
        t0 = time.time()
        start_stream(second)
        assert size(second) == (320, 240)
        shown = time.time() - t0
        # The first stream is lowered while it runs, without STOP or START.
        wait_until(lambda: size(first) == (320, 240), 60, "the first stream lowered to 320 x 240")
        print(f"lowered {time.time() - t0:.1f} s after START in the second tab (its video showed at {shown:.1f} s)")
        first.get_by_text("your camera was lowered to 320 x 240 while the server is busy").wait_for()
        logged = int(metric(first, "Observations"))
        stop_stream(second)
        # Quiet again: back to the full camera after support.RESTORE_AFTER_S (10 s), once the
        # server no longer rations analyses either (it may, on a shared machine).
        t0 = time.time()
        try:
            wait_until(lambda: size(first) == (480, 360), 90, "the first stream back to 480 x 360")
        except AssertionError as e:
            said = [line for line in first.locator('[data-testid="stMain"]').inner_text().splitlines()
                    if "busy" in line or "camera" in line]
            raise AssertionError(f"{e}; the page says {said}") from None
        print(f"back to 480 x 360 {time.time() - t0:.1f} s after the second stream stopped")
        first.get_by_text("The server is no longer busy: your camera is back to 480 x 360.").wait_for()
        main = first.locator('[data-testid="stMain"]')
        assert "press STOP" not in main.inner_text()
        assert (problem := stream_alive(first, 4)) == "", problem
        assert int(metric(first, "Observations")) > logged  # the same session's log went on
        assert first.get_by_text("The stream stopped").count() == 0

        # A browser that refuses (Safari, a camera without the size: OverconstrainedError) keeps
        # its stream as it was, and the page says so, not that the camera is back.
        refusing = browser_context.new_page()
        refusing.set_default_timeout(60_000)
        refusing.add_init_script("MediaStreamTrack.prototype.applyConstraints = function () {"
                                 " return Promise.reject(new DOMException('refused', 'OverconstrainedError')); };")
        try:
            goto(refusing, light_from_one, "live")
            start_stream(refusing)  # the first stream runs: light
            assert size(refusing) == (320, 240)
            stop_stream(first)
            refusing.get_by_text("The server is no longer busy, but your camera still sends 320 x 240: this "
                                 "browser did not take the full size back. Press STOP, then START").wait_for()
            assert size(refusing) == (320, 240)
            assert "back to" not in refusing.locator('[data-testid="stMain"]').inner_text()
            assert (problem := stream_alive(refusing, 4)) == "", problem
            stop_stream(refusing)
        finally:
            refusing.close()
    finally:
        first.close()
        second.close()


def test_photo_upload_through_the_page(page, server):
    goto(page, server, "photo")
    upload = page.locator('[data-testid="stFileUploaderDropzoneInput"]')
    upload.set_input_files(files=[{"name": "not_a_photo.jpg", "mimeType": "image/jpeg",
                                   "buffer": b"%PDF-1.7 definitely not a JPEG" * 50}])
    page.get_by_text("This file is not an image").wait_for()
    ok, jpeg = cv2.imencode(".jpg", astronaut_bgr())
    upload.set_input_files(files=[{"name": "astronaut.jpg", "mimeType": "image/jpeg", "buffer": jpeg.tobytes()}])
    page.get_by_text("1 face found").wait_for()
    page.locator('[data-testid="stDataFrame"]').wait_for()
    page.locator(".js-plotly-plot").wait_for()
    page.locator('[data-testid="stDownloadButton"]').nth(2).wait_for()
    wait_for_app(page)
    assert page.locator('[data-testid="stDataFrame"]').count() == 1
    assert page.locator('[data-testid="stDownloadButton"]').count() == 3
    assert page.get_by_text("This file is not an image").count() == 0
    screenshot(page, "photo")
    # The table is drawn on a canvas; its content is checked through the CSV download.
    with page.expect_download() as download:
        page.get_by_role("button", name="Results (CSV)").click()
    table = pd.read_csv(download.value.path())
    assert len(table) == 1 and table.loc[0, "label"] in LABELS and 0 < table.loc[0, "confidence"] <= 1
    assert table.loc[0, list(LABELS)].sum() == pytest.approx(1.0, abs=0.01)
    assert download.value.suggested_filename == "astronaut_expressions.csv"
    # Several photos at once: the summary, and one CSV of every face with its photo's name.
    page.get_by_role("radio", name="Several photos").check(force=True)
    gallery = cv2.imencode(".png", gallery_frame(2, 2, 640, 480))[1].tobytes()
    page.locator('[data-testid="stFileUploaderDropzoneInput"][multiple]').set_input_files(files=[
        {"name": "astronaut.jpg", "mimeType": "image/jpeg", "buffer": jpeg.tobytes()},
        {"name": "gallery.png", "mimeType": "image/png", "buffer": gallery}])
    page.get_by_text("2 photos, 5 faces").wait_for()
    page.get_by_text("1 face found").wait_for()  # the first photo, in full below
    wait_for_app(page)
    with page.expect_download() as download:
        page.get_by_role("button", name="Results of all photos (CSV)").click()
    faces = pd.read_csv(download.value.path())
    assert list(faces["photo"]) == ["astronaut.jpg"] + ["gallery.png"] * 4


def check_video_review(page) -> None:
    """The Video file page's frames and annotated copy, after the analysis and the moment "a question" at 0:06."""
    # Its frames: jump to the named moment; the analysed frame is shown with the face drawn.
    jump = page.get_by_role("combobox", name="Jump to")
    # A rerun of the page can leave the previous run's choice on screen, disabled, for a moment
    # beside the new one (seen 3 in 9 runs on a loaded machine): wait until only one is left.
    wait_until(lambda: jump.count() == 1, 30, "one 'Jump to' choice")
    jump.click()
    jump.press("ArrowDown")  # opens the list
    page.get_by_role("option", name="0:06.0 · a question").click()
    page.get_by_text("0:06.0: Face 2 ").wait_for()
    wait_for_app(page)
    image = page.locator('[data-testid="stImage"] img')
    wait_until(lambda: image.evaluate("e => e.complete && e.naturalWidth") == 480, 30, "the frame at 0:06")
    page.get_by_role("heading", name="Look at the video").evaluate("e => e.scrollIntoView({block: 'start'})")
    screenshot(page, "video_review")
    # An annotated copy of 0:05-0:09, faces pixelated, downloaded and decoded.
    page.get_by_text("Annotated video (MP4) to download").click()
    page.get_by_role("textbox", name="From (m:ss)", exact=True).fill("0:05")
    page.get_by_role("textbox", name="To (m:ss)", exact=True).fill("0:09")
    page.get_by_role("textbox", name="To (m:ss)", exact=True).press("Enter")
    wait_for_app(page)
    page.get_by_role("button", name="Make the annotated video").click()
    button = page.get_by_role("button", name=re.compile(r"Annotated video 0:05-0:09, faces pixelated"))
    button.wait_for()
    with page.expect_download() as download:
        button.click()
    assert download.value.suggested_filename == "lecture_005-009_pixelated.mp4"
    with av.open(download.value.path()) as clip:
        times = [round(float(f.time), 2) for f in clip.decode(video=0)]
    assert times == [i * 0.5 for i in range(9)]


def test_video_and_dashboard_pages(page, server):
    goto(page, server, "video")
    frames = come_and_go_frames(fps=10) * 2  # 16 s: the face comes and goes twice
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(
        files=[{"name": "lecture.mp4", "mimeType": "video/mp4", "buffer": encode_video(frames, fps=10)}])
    page.get_by_role("button", name="Analyse", exact=True).click()
    page.get_by_text("Moments of strongest change").wait_for()
    page.locator(".js-plotly-plot").nth(2).wait_for()
    wait_for_app(page)
    assert metric(page, "Frames analysed") == "32"
    assert metric(page, "Anonymous faces") == "3"  # the face left twice for 4 s: new ids
    assert page.locator(".js-plotly-plot").count() == 3
    # A named moment, by time: listed, and drawn on the mix chart at once.
    page.get_by_text("Name moments of the video (0)").click()
    page.get_by_role("textbox", name="At (m:ss)").fill("0:06")
    page.get_by_role("textbox", name="Moment").fill("a question")
    page.get_by_role("button", name="Add", exact=True).click()
    page.get_by_text("Name moments of the video (1)").wait_for()
    page.locator(".js-plotly-plot", has_text="Expression mix over the video").get_by_text("a question").wait_for()
    wait_for_app(page)
    page.get_by_role("heading", name="lecture.mp4").evaluate("e => e.scrollIntoView({block: 'start'})")
    screenshot(page, "video_file")
    check_video_review(page)
    page.get_by_role("link", name="Class dashboard").click()  # same session: the video's log
    page.get_by_text("End-of-session report").wait_for()
    page.locator('[data-testid="stDownloadButton"]').nth(2).wait_for()
    page.locator(".js-plotly-plot").nth(3).wait_for()
    wait_for_app(page)
    assert metric(page, "Frames analysed") == "32"
    # The per-frame log as CSV and as ZIP, and the report.
    assert page.locator('[data-testid="stDownloadButton"]').count() == 3
    screenshot(page, "dashboard")
    # Compare sessions: the same video beside two earlier lectures' CSV logs.
    page.get_by_role("link", name="Compare sessions").click()
    page.get_by_text("at least two sessions").wait_for()
    logs = [("week 1.csv", drifting_lecture(1, 45, 9, 0.3)), ("week 2.csv", drifting_lecture(2, 50, 12, 0.7))]
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(
        files=[{"name": name, "mimeType": "text/csv", "buffer": log.to_csv()} for name, log in logs])
    page.locator(".js-plotly-plot").nth(1).wait_for()
    page.locator('[data-testid="stDataFrame"]').wait_for()
    wait_for_app(page)
    assert page.locator(".js-plotly-plot").count() == 2
    screenshot(page, "compare")
    with page.expect_download() as download:
        page.get_by_role("button", name="Comparison (CSV)").click()
    table = pd.read_csv(download.value.path())
    assert list(table["session"]) == ["lecture.mp4", "week 1.csv", "week 2.csv"]
    assert list(table["most faces at once"])[1:] == [9, 12]
    # Back on the Video file page the uploader is empty (Streamlit's widgets of other pages), but the
    # video was kept with its analysis: its frames are still there.
    page.get_by_role("link", name="Video file").click()
    page.get_by_text("0:00.0: Face 1 ").wait_for()
    assert page.locator('[data-testid="stFileUploaderFile"]').count() == 0
    # A part of it, from 0:10 on: the page says how long it is, and the analysis keeps the video's times.
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(
        files=[{"name": "lecture.mp4", "mimeType": "video/mp4", "buffer": encode_video(frames, fps=10)}])
    page.get_by_role("textbox", name="Analyse from (m:ss)").fill("0:10")
    page.get_by_role("textbox", name="Analyse from (m:ss)").press("Enter")
    page.get_by_text("the part from 0:10 to 0:16 is 0:06 long; about 12 frames").wait_for()
    wait_for_app(page)
    page.get_by_role("button", name="Analyse", exact=True).click()
    page.get_by_text("Analysed: 0:10.0 to 0:15.5; times are the video's own.").wait_for()
    wait_for_app(page)
    assert metric(page, "Frames analysed") == "12"


def test_browser_leaving_mid_stream_does_not_break_the_server(browser_context, server):
    """A client that disappears while streaming (tab closed, network gone)."""
    page = browser_context.new_page()
    page.set_default_timeout(60_000)
    goto(page, server, "live")
    start_stream(page)
    page.close()  # no STOP: the peer connection just goes away
    page = browser_context.new_page()
    page.set_default_timeout(60_000)
    goto(page, server, "live")
    start_stream(page)  # a new session streams normally
    wait_until(lambda: metric(page, "Observations").isdigit() and int(metric(page, "Observations")) > 0,
               30, "observations in the new session")
    stop_stream(page)
    page.close()
