"""App wiring: ICE configuration from the environment, the stale-context guard, the capture
sizes and the live player's video source."""
import json
import shutil
import subprocess
from pathlib import Path
from types import SimpleNamespace
from unittest import mock

import pytest

from fer_app import support, webrtc_shim


@pytest.mark.parametrize("value, expected", [
    (None, None),
    ("", None),
    ("[]", {"iceServers": []}),
    ('[{"urls": ["stun:stun.example.org:3478"]}]', {"iceServers": [{"urls": ["stun:stun.example.org:3478"]}]}),
    ('{"iceServers": [{"urls": "turn:t:3478", "username": "u", "credential": "c"}]}',
     {"iceServers": [{"urls": "turn:t:3478", "username": "u", "credential": "c"}]}),
    ("not json", None),
    ('[{"url": "stun:x"}]', None),
    ('"stun:x"', None),
])
def test_ice_configuration(value, expected):
    env = {} if value is None else {support.ICE_ENV: value}
    assert support.ice_configuration(env) == expected


class FakeContext:
    def __init__(self, last):
        self._last_rendered_run_count = last


def test_guard_keeps_context_between_reruns_of_the_page():
    ctx = FakeContext(last=7)
    with mock.patch.object(webrtc_shim.st, "session_state", {"k": ctx}):
        assert webrtc_shim.guard_stale_reset("k", navigated_away=False) == "kept"
    assert ctx._last_rendered_run_count is None  # the library's run-count heuristic is skipped


def test_guard_resets_after_another_page_ran():
    ctx = FakeContext(last=7)
    with mock.patch.object(webrtc_shim.st, "session_state", {"k": ctx}), \
            mock.patch("streamlit_webrtc.component._reset_context") as reset:
        assert webrtc_shim.guard_stale_reset("k", navigated_away=True) == "reset"
    reset.assert_called_once_with(ctx)


def test_guard_without_context_or_with_changed_internals():
    with mock.patch.object(webrtc_shim.st, "session_state", {"k": SimpleNamespace()}):
        assert webrtc_shim.guard_stale_reset("absent", navigated_away=False) == "new"
        assert webrtc_shim.guard_stale_reset("k", navigated_away=False) == "unsupported"


def test_guard_disables_the_reset_in_the_real_library():
    """With a lagging run counter the library would reset; after the guard it does not."""
    from streamlit_webrtc import component

    ctx = component.WebRtcStreamerContext(worker=None, state=component.WebRtcStreamerState(True, False))
    ctx._last_rendered_run_count = 3
    state = {"k": ctx}
    info = SimpleNamespace(script_run_count=5)  # "one run skipped" as seen by the library
    with mock.patch.object(component.st, "session_state", state), \
            mock.patch.object(webrtc_shim.st, "session_state", state), \
            mock.patch.object(component, "get_this_session_info", return_value=info):
        webrtc_shim.guard_stale_reset("k", navigated_away=False)
        component._get_or_create_context("k")
        assert ctx.state.playing  # not reset
        ctx._last_rendered_run_count = 3
        component._get_or_create_context("k")  # without the guard: the stale-state reset
        assert not ctx.state.playing


def test_note_page_tracks_leaving_the_live_page():
    state = {}
    with mock.patch.object(support.st, "session_state", state):
        support.note_page(support.LIVE_PAGE)
        assert not support.left_live_page()
        support.note_page("photo")
        support.note_page(support.LIVE_PAGE)
        assert support.left_live_page()
        assert not support.left_live_page()  # reported once


# -- the reaper of closed tabs' sessions (fer_app.session_reaper) -------------------------
def test_away_tracker_closes_sessions_away_for_the_grace_period_only():
    from fer_app.session_reaper import AwayTracker

    t = AwayTracker(grace_s=100)
    assert t.expired(connected=["a", "b"], kept=["a", "b"], now=0) == []  # both connected
    assert t.expired(connected=["a"], kept=["a", "b"], now=10) == [] and len(t) == 1  # b went away at 10
    assert t.expired(connected=["a"], kept=["a", "b", "c"], now=60) == []  # c went away at 60
    assert t.expired(connected=["a", "c"], kept=["a", "b", "c"], now=80) == []  # c came back
    assert t.expired(connected=["a"], kept=["a", "b", "c"], now=109) == []
    assert t.expired(connected=["a"], kept=["a", "b", "c"], now=110) == ["b"]  # 100 s away
    # c's clock restarted when it came back (it went away again at 109, not at 60).
    assert t.expired(connected=["a"], kept=["a", "c"], now=200) == []
    assert t.expired(connected=["a"], kept=["a", "c"], now=209) == ["c"] and len(t) == 0
    assert t.expired(connected=[], kept=["gone-by-itself"], now=300) == [] and len(t) == 1
    assert t.expired(connected=[], kept=[], now=301) == [] and len(t) == 0  # forgotten, not leaked


def test_reaper_closes_expired_sessions_through_the_runtime():
    from fer_app import session_reaper
    from fer_app.session_reaper import SessionReaper

    def infos(*ids):
        return [SimpleNamespace(session=SimpleNamespace(id=i)) for i in ids]

    mgr = SimpleNamespace(list_active_sessions=lambda: infos("live"),
                          list_sessions=lambda: infos("live", "closed-tab"))
    rt = SimpleNamespace(_session_mgr=mgr, close_session=mock.Mock())
    reaper = SessionReaper(rt, ttl_s=120, interval_s=5)
    assert reaper.tracker.grace_s == 105  # closed before Streamlit's cache may forget it
    assert reaper.sweep(now=0) == [] and not rt.close_session.called
    with mock.patch("fer_app.session_reaper.release_memory") as trim:
        assert reaper.sweep(now=106) == ["closed-tab"]
        rt.close_session.assert_called_once_with("closed-tab")
        assert reaper.closed == 1 and trim.call_count == 1
        mgr.list_sessions = lambda: infos("live")
        for t in range(5):  # memory is trimmed again on the next looks, then no more
            reaper.sweep(now=111 + 5 * t)
        assert trim.call_count == 1 + session_reaper.TRIMS_AFTER_CLOSE


def test_sessions_holding_a_log_wait_longer_for_their_tab():
    """A laptop asleep over a break disconnects its tab without closing it: a session holding a
    log that lives only in memory waits KEEP_LOG_S (the server's TTL) for it, the others
    RECONNECT_S, as before."""
    from fer_app import session_reaper
    from fer_app.session_reaper import AwayTracker, SessionReaper

    t = AwayTracker(grace_s=100, keep_s=800)
    assert t.expired(connected=[], kept=["log", "none"], now=0, holding=["log"]) == []
    assert t.expired(connected=[], kept=["log", "none"], now=100, holding=["log"]) == ["none"]
    assert t.expired(connected=[], kept=["log"], now=799, holding=["log"]) == []
    assert t.expired(connected=[], kept=["log"], now=800, holding=["log"]) == ["log"]

    def infos(*ids):
        return [SimpleNamespace(session=SimpleNamespace(id=i)) for i in ids]

    mgr = SimpleNamespace(list_active_sessions=lambda: infos(), list_sessions=lambda: infos("asleep", "closed"))
    rt = SimpleNamespace(_session_mgr=mgr, close_session=mock.Mock())
    reaper = SessionReaper(rt, ttl_s=session_reaper.KEEP_LOG_S, interval_s=5)
    assert (reaper.tracker.grace_s, reaper.tracker.keep_s) == (105, session_reaper.KEEP_LOG_S - 15)
    session_reaper.set_holding("asleep", True)
    session_reaper.set_holding("gone-by-itself", True)
    try:
        with mock.patch("fer_app.session_reaper.release_memory"):
            assert reaper.sweep(now=0) == []
            assert "gone-by-itself" not in session_reaper.holding()  # no longer Streamlit's: forgotten
            assert reaper.sweep(now=106) == ["closed"]
            assert reaper.sweep(now=session_reaper.KEEP_LOG_S - 16) == []
            mgr.list_sessions = lambda: infos("asleep")
            assert reaper.sweep(now=session_reaper.KEEP_LOG_S - 15) == ["asleep"]
        assert "asleep" not in session_reaper.holding()
    finally:
        session_reaper.set_holding("asleep", False)
        session_reaper.set_holding("gone-by-itself", False)


def test_the_server_keeps_sessions_as_long_as_the_reaper_waits_for_a_log():
    import tomllib

    from fer_app.session_reaper import KEEP_LOG_S

    config = tomllib.loads((Path(__file__).resolve().parent.parent / ".streamlit" / "config.toml").read_text())
    assert config["server"]["disconnectedSessionTTL"] == KEEP_LOG_S


def test_reaper_needs_a_running_server():
    from fer_app import session_reaper

    assert session_reaper.start() is None  # no Streamlit runtime in a plain pytest process


def test_chart_pacer_pauses_while_busy_and_comes_back_when_calm():
    p = support.ChartPacer(every_s=2.0, calm_s=5.0)
    assert p.step(0.0, busy=False, logged=1) == "draw"
    assert p.step(1.0, busy=False, logged=2) == "keep"  # too soon
    assert p.step(2.5, busy=False, logged=2) == "draw"
    assert p.step(5.0, busy=False, logged=2) == "keep"  # the log did not grow
    # Busy: the note once, then nothing, however long it lasts or the log grows.
    assert p.step(6.0, busy=True, logged=3) == "pause" and p.paused
    assert [p.step(t, busy=True, logged=3 + i) for i, t in enumerate((7.0, 8.0, 20.0))] == ["keep"] * 3
    # Calm again: nothing until 5 s after the last busy moment, then the charts.
    assert p.step(22.0, busy=False, logged=9) == "keep"
    assert p.step(25.5, busy=False, logged=9) == "draw" and not p.paused
    # A new busy spell gets the note again.
    assert p.step(26.0, busy=True, logged=10) == "pause"


def test_camera_for_asks_the_light_size_on_a_busy_server():
    quiet, note = support.camera_for(0, rationed=False)
    assert quiet is support.CAMERA and note == ""
    assert support.camera_for(support.LIGHT_CAMERA_FROM - 1, rationed=False)[0] is support.CAMERA
    light, note = support.camera_for(support.LIGHT_CAMERA_FROM, rationed=False)
    assert light is support.LIGHT_CAMERA and f"{support.LIGHT_CAMERA_FROM} other live streams" in note
    # Rationing analyses already (a busy moment) is enough, whatever the count.
    light, note = support.camera_for(1, rationed=True)
    assert light is support.LIGHT_CAMERA and "busy right now" in note
    # The light size is a ceiling the browser must respect; the full size only a wish.
    assert light["width"]["max"] == 320 and light["height"]["max"] == 240
    assert "max" not in support.CAMERA["width"] and "max" not in support.CAMERA["frameRate"]
    assert light["frameRate"]["max"] < support.CAMERA["frameRate"]["ideal"]


def follower(source: str = "camera", streams: int = 0, rationed: bool = False) -> support.CaptureFollower:
    """A stream started now (t = 0) with the capture the page chose for it."""
    return support.CaptureFollower(source, *(support.screen_for if source == "screen" else support.camera_for)(
        streams, rationed), now=0.0)


def test_a_running_stream_is_lowered_when_the_server_gets_busy_and_says_so_once_it_is():
    f = follower()
    assert f.step(1.0, 0, False, (480, 360), 15.0) == (support.CAMERA, "")  # quiet: nothing to say
    asked, note = f.step(2.0, support.LIGHT_CAMERA_FROM, False, (480, 360), 15.0)
    assert asked == support.LIGHT_CAMERA  # at once
    assert note == (f"{support.LIGHT_CAMERA_FROM} other live streams are running on this server: your camera is "
                    "asked for 320 x 240 at 10 frames a second so that every stream stays smooth.")
    asked, note = f.step(2.5, 0, True, (320, 240), 10.0)  # the frames say it was
    assert asked == support.LIGHT_CAMERA
    assert note.startswith("The server is busy right now: your camera was lowered to 320 x 240 while the server")
    # A browser that kept its size: after RESIZE_WAIT_S the page says so, never "lowered".
    f = follower()
    f.step(2.0, support.LIGHT_CAMERA_FROM, False, (480, 360), 15.0)
    assert "asked for 320 x 240" in f.step(2.0 + support.RESIZE_WAIT_S - 0.5, 3, False, (480, 360), 15.0)[1]
    note = f.step(2.0 + support.RESIZE_WAIT_S, support.LIGHT_CAMERA_FROM, False, (480, 360), 15.0)[1]
    assert note.endswith("; this browser kept your camera at 480 x 360.") and "lowered" not in note


def test_a_lowered_stream_goes_back_to_the_full_camera_once_the_server_is_quiet():
    f = follower(streams=support.LIGHT_CAMERA_FROM)  # started light on a busy server
    assert f.asked == support.LIGHT_CAMERA and "asked for 320 x 240" in f.note
    assert f.step(1.0, support.LIGHT_CAMERA_FROM, False, (320, 240), 10.0)[1] == f.note  # still busy
    # The others stopped: not at once (the light camera itself may be what quietened the server).
    asked, note = f.step(2.0, 1, False, (320, 240), 10.0)
    assert asked == support.LIGHT_CAMERA
    assert note == ("The server is no longer busy: your camera goes back to 480 x 360 at 15 frames a second if it "
                    f"stays so for {support.RESTORE_AFTER_S:.0f} s. The session log is kept.")
    t = 2.0 + support.RESTORE_AFTER_S
    asked, note = f.step(t, 1, False, (320, 240), 10.0)
    assert asked == support.CAMERA
    assert note == "The server is no longer busy: your camera is asked for 480 x 360 at 15 frames a second again."
    back = f.step(t + 1, 0, False, (480, 360), 15.0)[1]
    assert back == "The server is no longer busy: your camera is back to 480 x 360."
    # What the frames show, whatever it is (a browser that scaled to 424 x 318, say).
    assert f.step(t + 2, 0, False, (424, 318), 15.0)[1].endswith("back to 424 x 318.")
    assert "press STOP" not in f.note
    # Busy again: lowered at once, and the next wait for going back is twice as long.
    assert f.step(t + 3, 1, True, (480, 360), 15.0)[0] == support.LIGHT_CAMERA
    assert f.restore_after == 2 * support.RESTORE_AFTER_S
    f.step(t + 4, 0, False, (320, 240), 10.0)
    assert f.step(t + 4 + support.RESTORE_AFTER_S, 0, False, (320, 240), 10.0)[0] == support.LIGHT_CAMERA
    assert f.step(t + 4 + 2 * support.RESTORE_AFTER_S, 0, False, (320, 240), 10.0)[0] == support.CAMERA


def test_the_wait_to_go_back_starts_again_after_the_full_camera_held():
    """The wait for the full camera doubles each time a stream is lowered again after going back
    (the full camera may be what made the server busy), up to RESTORE_MAX_S; it was kept there for
    the rest of the stream: swaps early in a class, then one busy moment an hour later (a visitor
    passing by) held the camera at 320 x 240 for 2 minutes after it. Once the full camera held for
    RESTORE_MAX_S, the wait starts again from RESTORE_AFTER_S."""
    f = follower(streams=support.LIGHT_CAMERA_FROM)
    t = 0.0
    while f.restore_after < support.RESTORE_MAX_S:  # swaps: back, and busy again 1 s later
        t += 1.0
        f.step(t, 0, False, (320, 240), 10.0)
        t += f.restore_after
        assert f.step(t, 0, False, (320, 240), 10.0)[0] == support.CAMERA
        t += 1.0
        assert f.step(t, 1, True, (480, 360), 15.0)[0] == support.LIGHT_CAMERA
    assert f.restore_after == support.RESTORE_MAX_S

    def back_after_the_longest_wait(t: float) -> float:
        t += 1.0
        f.step(t, 0, False, (320, 240), 10.0)
        t += support.RESTORE_MAX_S
        assert f.step(t, 0, False, (320, 240), 10.0)[0] == support.CAMERA
        return t

    t = back_after_the_longest_wait(t)
    # Lowered again soon after: still the longest wait.
    t += 5.0
    assert f.step(t, 1, True, (480, 360), 15.0)[0] == support.LIGHT_CAMERA
    assert f.restore_after == support.RESTORE_MAX_S
    t = back_after_the_longest_wait(t)
    # An hour at the full camera, then a brief busy moment: back RESTORE_AFTER_S after it.
    for _ in range(7200):
        t += 0.5
        assert f.step(t, 0, False, (480, 360), 15.0)[0] == support.CAMERA
    t += 0.5
    assert f.step(t, 1, True, (480, 360), 15.0)[0] == support.LIGHT_CAMERA
    t += 1.0
    asked, note = f.step(t, 0, False, (320, 240), 10.0)
    assert asked == support.LIGHT_CAMERA and f"if it stays so for {support.RESTORE_AFTER_S:.0f} s" in note
    assert f.step(t + support.RESTORE_AFTER_S, 0, False, (320, 240), 10.0)[0] == support.CAMERA


def test_a_stream_alone_on_a_rationing_server_keeps_its_capture():
    """Rationing with no other stream (its own analyses slow, or the server's other work): a
    lighter camera would make room for no stream and lose far faces. In Chromium a class camera
    with attention on a loaded machine was lowered to 320 x 240 mid-stream, and its head-pose
    table, redrawn for the faces found anew, snapped shut."""
    for source in ("camera", "screen"):
        f = follower(source)
        full = f.asked
        for t in (1.0, 5.0, 30.0):
            assert f.step(t, 0, True, (480, 360), 15.0) == (full, ""), source
        # Another stream joins while it is rationed: lowered at once.
        assert f.step(31.0, 1, True, (480, 360), 15.0)[0] == (support.LIGHT_SCREEN if source == "screen"
                                                              else support.LIGHT_CAMERA)
    # One that started light (busy at START) goes back once the others stopped, rationed or not.
    f = follower(streams=support.LIGHT_CAMERA_FROM)
    f.step(1.0, 0, True, (320, 240), 10.0)
    assert f.step(1.0 + support.RESTORE_AFTER_S, 0, True, (320, 240), 10.0)[0] == support.LIGHT_CAMERA


def test_a_stream_asked_back_to_the_full_camera_says_what_it_got_while_rationed_alone():
    """Asked back to the full camera, then rationed with no other stream (the full camera makes its
    own analyses heavier): its capture is kept, but its line was kept too, frozen at "is asked for
    480 x 360 ... again" whether the browser gave the full size back or refused it (then the advice to
    press STOP and START never came while the rationing lasted)."""
    for delivered, said in (((480, 360), "is back to 480 x 360."), ((320, 240), "Press STOP, then START")):
        f = follower(streams=support.LIGHT_CAMERA_FROM)
        f.step(1.0, 0, False, (320, 240), 10.0)
        t = 1.0 + support.RESTORE_AFTER_S
        assert f.step(t, 0, False, (320, 240), 10.0)[1].endswith("again.")
        for dt in (1.0, support.RESIZE_WAIT_S + 1.0, 60.0):
            asked, note = f.step(t + dt, 0, True, delivered, 15.0)
        assert asked == support.CAMERA and said in note, delivered


def test_a_browser_that_keeps_the_light_camera_is_told_how_to_get_the_full_one():
    f = follower(streams=support.LIGHT_CAMERA_FROM)
    f.step(1.0, 0, False, (320, 240), 10.0)
    t = 1.0 + support.RESTORE_AFTER_S
    assert f.step(t, 0, False, (320, 240), 10.0)[0] == support.CAMERA
    assert "asked for 480 x 360" in f.step(t + support.RESIZE_WAIT_S - 0.5, 0, False, (320, 240), 10.0)[1]
    note = f.step(t + support.RESIZE_WAIT_S, 0, False, (320, 240), 10.0)[1]
    assert note == ("The server is no longer busy, but your camera still sends 320 x 240: this browser did not take "
                    "the full size back. Press STOP, then START, for 480 x 360 at 15 frames a second. The session "
                    "log is kept.")
    # A phone turned on the way back: 360 x 480 is the full size too.
    assert "back to 360 x 480" in f.step(t + 9, 0, False, (360, 480), 15.0)[1]


def test_a_shared_screen_follows_the_load_by_its_frame_rate():
    f = follower("screen")
    asked, note = f.step(1.0, 1, True, (1280, 720), 5.0)
    assert asked == support.LIGHT_SCREEN and "is asked for 2 frames a second" in note
    assert "lowered to 2 frames a second" in f.step(9.0, 0, True, (1280, 720), 2.0)[1]
    # A refusal cannot be told from a screen that changes little: nothing is claimed either way.
    g = follower("screen")
    g.step(1.0, 1, True, (1280, 720), 5.0)
    assert "is asked for 2 frames a second" in g.step(30.0, 0, True, (1280, 720), 5.0)[1]
    f.step(10.0, 0, False, (1280, 720), 2.0)
    asked, note = f.step(10.0 + support.RESTORE_AFTER_S, 0, False, (1280, 720), 2.0)
    assert asked == support.SCREEN and note.endswith("the shared screen is asked for 5 frames a second again.")
    assert f.step(40.0, 0, False, (1280, 720), 1.0)[1] == note  # a still screen: no claim
    assert f.step(41.0, 0, False, (1280, 720), 4.5)[1].endswith("the shared screen is back to 5 frames a second.")


def test_light_camera_from_reads_the_environment():
    assert support.light_camera_from({}) == 3
    assert support.light_camera_from({"FER_LIGHT_CAMERA_FROM": " 6 "}) == 6
    for bad in ("0", "-2", "many", "2.5"):
        assert support.light_camera_from({"FER_LIGHT_CAMERA_FROM": bad}) == 3


def test_busy_note_says_server_busy_only_when_other_load_is_there():
    assert support.busy_note(3, 2, False, []).startswith("Server busy: analysing every 3rd frame")
    assert support.busy_note(8, 0, True, ["Attention"]).startswith("Server busy: analysing every 8th frame")
    alone = support.busy_note(2, 0, False, ["Attention", "Mirror averaging"])
    assert alone.startswith("Analysing every 2nd frame") and "busy" not in alone
    assert "Switching off Attention and Mirror averaging" in alone
    assert "shared screen" in support.busy_note(2, 0, False, [], source="screen")


def test_model_choice_help_quotes_both_cards():
    from fer_app import support
    from fer_core import model_card
    from fer_core.recognizer import EVERYDAY_MODEL

    text = support.model_choice_help()
    for card in (model_card.load_card(), model_card.load_card(EVERYDAY_MODEL.with_suffix(".json"))):
        assert f"{card['metrics']['PrivateTest']['accuracy']:.1%}" in text
        assert f"{card['beyond_fer2013']['metrics']['accuracy']:.1%}" in text


def test_screen_for_keeps_the_size_and_lowers_the_rate_on_a_busy_server():
    quiet, note = support.screen_for(0, rationed=False)
    assert quiet is support.SCREEN and note == ""
    # 1280 x 720 at most: the detector's high-resolution pass needs frames 1000 px wide or more.
    assert quiet["width"]["max"] == 1280 and quiet["height"]["max"] == 720
    assert quiet["frameRate"]["max"] <= 5
    for busy in (support.screen_for(support.LIGHT_CAMERA_FROM, rationed=False), support.screen_for(1, rationed=True)):
        light, note = busy
        assert light is support.LIGHT_SCREEN and "frames a second" in note
        assert light["width"] == quiet["width"] and light["frameRate"]["max"] < quiet["frameRate"]["max"]


@pytest.mark.parametrize("url, host", [
    ("http://192.0.2.10:8501/live", "192.0.2.10"),
    ("http://fer.lan:8501/", "fer.lan"),
    ("http://[2001:db8::1]:8501/live", "2001:db8::1"),
    ("https://fer.example.org/live", None),  # https, also when a proxy ends TLS: the browser's address
    ("http://localhost:8501/live", None),
    ("http://app.localhost:8501/", None),
    ("http://127.0.0.1:8501/", None),
    ("http://127.0.0.2:8501/", None),
    ("http://[::1]:8501/", None),
    (None, None),
    ("", None),
])
def test_camera_blocked_host_is_plain_http_away_from_localhost(url, host):
    assert support.camera_blocked_host(url) == host


def test_screen_capture_script_embeds_the_source_and_constraints():
    script = webrtc_shim.screen_capture_script("screen", support.SCREEN)
    assert script.startswith("<script>") and '"screen"' in script
    assert json.dumps(support.SCREEN) in script
    assert '"camera"' in webrtc_shim.screen_capture_script("camera", support.CAMERA)
    with pytest.raises(ValueError):
        webrtc_shim.screen_capture_script("microphone", {})


# A player's window as the page script sees it: its document runs a script element appended
# to it with that window as ``window`` (the script installs the player's wrapper that way).
_PLAYER_WINDOW_JS = r"""
function playerWindow(win) {
  win.document = {createElement: tag => ({tag, textContent: ""}),
                  head: {appendChild: el => el.tag === "script" && new Function("window", el.textContent)(win)}};
  return win;
}
"""


def _script_body(html: str) -> str:
    return html.removeprefix("<script>").removesuffix("</script>")


def _run_in_node(page_js: str, scripts: list[str]) -> dict:
    """Runs ``page_js`` (a stand-in page) in node with ``scripts`` (the page's scripts' bodies)
    on its standard input; returns what it prints, as JSON."""
    proc = subprocess.run(["node", "-e", page_js], input=json.dumps(scripts), capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


# The page's script run on one window, asking for no timers; ``said`` writes a rejection as the
# player shows it ("name: message").
_RUN_ONCE_JS = r"""
const setInterval = () => {};
function run(code) { eval(code); }
const said = e => `${e.name}: ${e.message}`;
"""


# The player's window and the page around it, as far as the script touches them: it runs in
# node with these stand-ins, and prints what each getUserMedia call of the player turned into.
_FAKE_PAGE_JS = _PLAYER_WINDOW_JS + r"""
const calls = [];
function mediaDevices(withDisplay) {
  const m = {getUserMedia: c => { calls.push(["camera", c]); return Promise.resolve("camera stream"); }};
  if (withDisplay) m.getDisplayMedia = c => { calls.push(["display", c]); return Promise.resolve("screen stream"); };
  return m;
}
const player = {src: "http://h/component/streamlit_webrtc.component.webrtc_streamer/index.html",
                contentWindow: playerWindow({navigator: {mediaDevices: mediaDevices(true)}})};
const old = {src: "http://h/component/streamlit_webrtc.component.webrtc_streamer/index.html",
             contentWindow: playerWindow({navigator: {mediaDevices: mediaDevices(false)}})};
const other = {src: "http://h/component/plotly/index.html",
               contentWindow: playerWindow({navigator: {mediaDevices: mediaDevices(true)}})};
const frames = [player, old, other];
const window = {parent: {document: {querySelectorAll: sel => (sel === "iframe" ? frames : [])}}};
const intervals = [];
const setInterval = (f, ms) => intervals.push(ms);
function run(code) { eval(code); }
(async () => {
  const [screenJs, cameraJs] = JSON.parse(require("fs").readFileSync(0, "utf8"));
  run(screenJs);
  const wrapped = player.contentWindow.navigator.mediaDevices.getUserMedia;
  const out = {intervals};
  out.screen = await wrapped({video: {deviceId: {exact: "cam-1"}}, audio: false});
  out.audioOnly = await wrapped({video: false, audio: true});
  out.oldBrowser = await old.contentWindow.navigator.mediaDevices.getUserMedia({video: true})
    .then(() => "resolved", e => e.name);
  other.contentWindow.navigator.mediaDevices.getUserMedia({video: true});
  run(cameraJs);  // the page ran again with the camera chosen
  out.rewrapped = player.contentWindow.navigator.mediaDevices.getUserMedia !== wrapped;
  out.camera = await player.contentWindow.navigator.mediaDevices.getUserMedia({video: {width: 480}});
  out.calls = calls;
  console.log(JSON.stringify(out));
})();
"""


@pytest.mark.skipif(shutil.which("node") is None, reason="needs node to run the page script")
def test_screen_capture_script_swaps_the_players_camera_for_a_screen():
    scripts = [_script_body(webrtc_shim.screen_capture_script("screen", {"width": {"max": 1280}})),
               _script_body(webrtc_shim.screen_capture_script("camera", support.CAMERA))]
    out = _run_in_node(_FAKE_PAGE_JS, scripts)
    assert out["intervals"] == [500, 500]  # applied again twice a second (the player may come later)
    # Screen chosen: the player's video request becomes a screen share with the page's
    # constraints (not the camera's device id, which a screen share refuses).
    assert out["screen"] == "screen stream"
    assert out["calls"][0] == ["display", {"video": {"width": {"max": 1280}}, "audio": False}]
    # A request without video still goes to getUserMedia.
    assert out["audioOnly"] == "camera stream" and out["calls"][1] == ["camera", {"video": False, "audio": True}]
    # A browser without getDisplayMedia gets a clear error, not a camera.
    assert out["oldBrowser"] == "NotSupportedError"
    # Other components' frames are left alone.
    assert out["calls"][2] == ["camera", {"video": True}]
    # The camera chosen again: the same wrapper (not a second one) now opens the camera.
    assert out["rewrapped"] is False
    assert out["camera"] == "camera stream" and out["calls"][3] == ["camera", {"video": {"width": 480}}]
    assert len(out["calls"]) == 4


# A player whose camera gives streams of one video track that notes each applyConstraints call;
# the tracks of ``refuse`` reject it (a browser that cannot give the size), or throw at once.
_FOLLOWING_PLAYER_JS = _PLAYER_WINDOW_JS + _RUN_ONCE_JS + r"""
const asked = [];
let refuse = null;
function track(name) {
  const t = {name, readyState: "live", applyConstraints: c => {
    asked.push([name, c]);
    if (refuse === "throw") throw Object.assign(new Error("no"), {name: "TypeError"});
    return refuse ? Promise.reject(Object.assign(new Error("no"), {name: refuse})) : Promise.resolve();
  }};
  return t;
}
const stream = name => { const t = track(name); return {getVideoTracks: () => [t], track: t}; };
let next = "camera";
const media = {getUserMedia: c => Promise.resolve(stream(next)),
               getDisplayMedia: c => Promise.resolve(stream("screen"))};
const player = {src: "http://h/component/streamlit_webrtc.component.webrtc_streamer/index.html",
                contentWindow: playerWindow({navigator: {mediaDevices: media}})};
const window = {parent: {document: {querySelectorAll: sel => (sel === "iframe" ? [player] : [])}}};
(async () => {
  const [full, light, screenFull, screenLight] = JSON.parse(require("fs").readFileSync(0, "utf8"));
  const tick = () => new Promise(r => setTimeout(r, 0));
  const out = {};
  run(full);
  const camera = await media.getUserMedia({video: {width: {ideal: 480}, deviceId: {exact: "cam-1"}}, audio: false});
  next = "preview";  // the device list's preview asks for a device and nothing else
  await media.getUserMedia({video: {deviceId: {exact: "cam-1"}}, audio: false});
  run(full);  // the page's capture unchanged: nothing asked
  out.unchanged = asked.length;
  run(light); run(light);  // lowered, and the same capture rendered again
  out.lowered = asked.slice();
  asked.length = 0;
  run(full);
  out.restored = asked.slice();
  asked.length = 0;
  for (refuse of ["OverconstrainedError", "throw"]) {  // refused: no error escapes, the stream is the same
    run(refuse === "throw" ? full : light);
    await tick();
  }
  out.refused = asked.map(a => a[0]);
  out.sameStream = camera.track.readyState === "live";
  asked.length = 0;
  refuse = null;
  camera.track.readyState = "ended";  // STOP
  run(light);
  out.afterStop = asked.length;
  run(screenFull);  // a shared screen: the display track follows too
  await media.getUserMedia({video: {width: {ideal: 480}}, audio: false});
  run(screenLight);
  out.screen = asked.slice();
  console.log(JSON.stringify(out));
})();
"""


@pytest.mark.skipif(shutil.which("node") is None, reason="needs node to run the page script")
def test_the_page_script_applies_a_changed_capture_to_the_running_track():
    """The capture was fixed for the whole stream (STOP, then START, for the full camera): the page
    script now asks the running video track for the page's capture whenever it changes, once, and
    a browser that refuses keeps its stream (no error escapes: node fails on an unhandled one)."""
    script = lambda source, capture: _script_body(webrtc_shim.screen_capture_script(source, capture))  # noqa: E731
    out = _run_in_node(_FOLLOWING_PLAYER_JS, [script("camera", support.CAMERA), script("camera", support.LIGHT_CAMERA),
                                              script("screen", support.SCREEN), script("screen", support.LIGHT_SCREEN)])
    assert out["unchanged"] == 0
    assert out["lowered"] == [["camera", support.LIGHT_CAMERA]]  # once, and not the preview's track
    assert out["restored"] == [["camera", support.CAMERA]]
    assert out["refused"] == ["camera", "camera"] and out["sameStream"]
    assert out["afterStop"] == 0  # an ended track is let go
    assert out["screen"] == [["screen", support.LIGHT_SCREEN]]


# The player's window whose media requests fail with the browser's error ``name``; prints what
# the player is given (its alert shows "name: message").
_FAILING_PLAYER_JS = _PLAYER_WINDOW_JS + _RUN_ONCE_JS + r"""
let fail = "NotAllowedError";
const media = {getUserMedia: c => Promise.reject(Object.assign(new Error("Permission denied"), {name: fail})),
               getDisplayMedia: c => Promise.reject(Object.assign(new Error("Permission denied"), {name: fail}))};
const player = {src: "http://h/component/streamlit_webrtc.component.webrtc_streamer/index.html",
                contentWindow: playerWindow({navigator: {mediaDevices: media}})};
const window = {parent: {document: {querySelectorAll: sel => (sel === "iframe" ? [player] : [])}}};
(async () => {
  const [cameraJs, screenJs] = JSON.parse(require("fs").readFileSync(0, "utf8"));
  run(cameraJs);
  const out = {};
  for (const name of ["NotAllowedError", "NotFoundError", "NotReadableError", "OverconstrainedError", "TypeError"]) {
    fail = name;
    out[name] = await media.getUserMedia({video: {width: 480}}).then(() => "resolved", said);
  }
  // A camera remembered by its id and gone: the player asks again for any camera on this error.
  fail = "OverconstrainedError";
  out.remembered = await media.getUserMedia({video: {deviceId: {exact: "cam-1"}}}).then(() => "resolved", said);
  run(screenJs);  // the page ran again with the screen chosen
  fail = "NotAllowedError";
  out.screen = await media.getUserMedia({video: {width: 480}}).then(() => "resolved", said);
  console.log(JSON.stringify(out));
})();
"""


@pytest.mark.skipif(shutil.which("node") is None, reason="needs node to run the page script")
def test_the_player_says_in_plain_words_why_it_has_no_video():
    """Camera denied, missing or held by another program: the player showed the browser's raw
    "NotAllowedError: Permission denied", and what to do sat in a collapsed section below."""
    camera = {"NotAllowedError": ("Camera blocked", "Allow it."), "NotFoundError": ("No camera found", "Plug one in."),
              "NotReadableError": ("Camera in use", "Close the other program."),
              "OverconstrainedError": ("Camera not suitable", "Pick another one.")}
    scripts = [_script_body(webrtc_shim.screen_capture_script("camera", support.CAMERA, camera)),
               _script_body(webrtc_shim.screen_capture_script("screen", support.SCREEN,
                                                       {"NotAllowedError": ("Screen not shared", "Pick one.")}))]
    out = _run_in_node(_FAILING_PLAYER_JS, scripts)
    assert out["NotAllowedError"] == "Camera blocked: Allow it. (NotAllowedError)"
    assert out["NotFoundError"] == "No camera found: Plug one in. (NotFoundError)"
    assert out["NotReadableError"] == "Camera in use: Close the other program. (NotReadableError)"
    assert out["OverconstrainedError"] == "Camera not suitable: Pick another one. (OverconstrainedError)"
    assert out["TypeError"] == "TypeError: Permission denied"  # one the page has no words for: as it was
    assert out["remembered"] == "OverconstrainedError: Permission denied"  # left for the player's retry
    assert out["screen"] == "Screen not shared: Pick one. (NotAllowedError)"


# A page opened over plain http (not localhost): the browser gives the player's window no
# ``navigator.mediaDevices`` at all, and the player threw "navigator.mediaDevices is undefined".
# Prints what the player is given when it asks (as the player: "name: message").
_INSECURE_PLAYER_JS = _PLAYER_WINDOW_JS + _RUN_ONCE_JS + r"""
const src = "http://h/component/streamlit_webrtc.component.webrtc_streamer/index.html";
const insecure = {src, contentWindow: playerWindow({navigator: {}, isSecureContext: false})};
// No camera API, but secure:
const oldBrowser = {src, contentWindow: playerWindow({navigator: {}, isSecureContext: true})};
const window = {parent: {document: {querySelectorAll: sel => (sel === "iframe" ? [insecure, oldBrowser] : [])}}};
(async () => {
  const [cameraJs, screenJs] = JSON.parse(require("fs").readFileSync(0, "utf8"));
  run(cameraJs);
  const media = insecure.contentWindow.navigator.mediaDevices;
  const out = {};
  out.camera = await media.getUserMedia({video: {width: 480}}).then(() => "resolved", said);
  out.listens = typeof media.addEventListener === "function" && typeof media.removeEventListener === "function";
  out.enumerates = typeof media.enumerateDevices === "function";
  run(screenJs);  // the page ran again with the screen chosen
  out.screen = await insecure.contentWindow.navigator.mediaDevices.getUserMedia({video: true})
    .then(() => "resolved", said);
  out.oldBrowser = oldBrowser.contentWindow.navigator.mediaDevices === undefined;
  console.log(JSON.stringify(out));
})();
"""


@pytest.mark.skipif(shutil.which("node") is None, reason="needs node to run the page script")
def test_the_player_says_that_plain_http_gives_no_camera():
    camera = {webrtc_shim.INSECURE: ("Camera needs https", "Open the https address.")}
    screen = {webrtc_shim.INSECURE: ("Screen sharing needs https", "Use https.")}
    scripts = [_script_body(webrtc_shim.screen_capture_script("camera", support.CAMERA, camera)),
               _script_body(webrtc_shim.screen_capture_script("screen", support.SCREEN, screen))]
    out = _run_in_node(_INSECURE_PLAYER_JS, scripts)
    assert out["camera"] == "Camera needs https: Open the https address."  # no browser error name: none came
    assert out["screen"] == "Screen sharing needs https: Use https."  # not "this browser cannot share a screen"
    # The player listens for devicechange on it; without enumerateDevices, its SELECT DEVICE
    # form still says "media API not available" (the page's translation).
    assert out["listens"] is True and out["enumerates"] is False
    assert out["oldBrowser"] is True  # a secure page without the API is the browser's own case: left alone


# The page script's frames and the player's windows in realms of their own (node's vm contexts).
# A frame's promise callbacks run only while its own script runs (its own microtask queue): one
# made there is never run later, as Chrome never runs one made in a frame Streamlit has since
# replaced. Prints what the player's requests give, and whether what it calls is its own.
_REPLACED_FRAME_JS = r"""
const vm = require("vm");
const [cameraJs, screenJs] = JSON.parse(require("fs").readFileSync(0, "utf8"));
const src = "http://h/component/streamlit_webrtc.component.webrtc_streamer/index.html";
const PLAYER = `
  var window = globalThis, fail = null;
  var document = {createElement: tag => ({tag, textContent: ""}),
                  head: {appendChild: el => el.tag === "script" && (0, eval)(el.textContent)}};
  function refuse() { return Promise.reject(Object.assign(new Error("Permission denied"), {name: fail})); }`;
const player = vm.createContext({}), insecure = vm.createContext({});
vm.runInContext(PLAYER + `
  var navigator = {mediaDevices: {getUserMedia: c => fail ? refuse() : Promise.resolve("camera stream"),
                                  getDisplayMedia: c => fail ? refuse() : Promise.resolve("screen stream")}};`,
                player);
vm.runInContext(PLAYER + "var navigator = {}, isSecureContext = false, EventTarget = class {};", insecure);
const frames = [{src, contentWindow: player}, {src, contentWindow: insecure}];
function runFrame(code) {
  const frame = vm.createContext({setInterval: () => {}}, {microtaskMode: "afterEvaluate"});
  frame.window = {parent: {document: {querySelectorAll: sel => (sel === "iframe" ? frames : [])}}};
  vm.runInContext(code, frame);
}
const settled = p => Promise.race([Promise.resolve(p).then(v => v, e => `${e.name}: ${e.message}`),
                                   new Promise(done => setTimeout(() => done("never settled"), 1000))]);
const own = (ctx, f) => Object.getPrototypeOf(f) === vm.runInContext("Function.prototype", ctx);
process.on("unhandledRejection", () => {});  // a rejection whose handlers never ran: "never settled"
(async () => {
  runFrame(cameraJs);
  runFrame(screenJs);  // the page ran again with the screen chosen: a new frame, the first one gone
  const media = player.navigator.mediaDevices;
  const out = {own: own(player, media.getUserMedia),
               ownStandIn: own(insecure, insecure.navigator.mediaDevices.getUserMedia)};
  out.screen = await settled(media.getUserMedia({video: true}));
  player.fail = "NotAllowedError";
  out.denied = await settled(media.getUserMedia({video: true}));
  out.http = await settled(insecure.navigator.mediaDevices.getUserMedia({video: true}));
  console.log(JSON.stringify(out));
})();
"""


@pytest.mark.skipif(shutil.which("node") is None, reason="needs node to run the page script")
def test_the_player_gets_its_video_after_the_page_script_was_replaced():
    """The camera switched to "A shared screen": Streamlit replaced the page script's frame (its
    text changed), and the player's wrapped request, made in the first frame, ended in a
    callback of that frame, which Chrome never runs: the screen was shared but never reached
    the player (no connection, STOP shown for ever)."""
    scripts = [_script_body(webrtc_shim.screen_capture_script("camera", support.CAMERA, {})),
               _script_body(webrtc_shim.screen_capture_script("screen", support.SCREEN, {
                   "NotAllowedError": ("Screen not shared", "Pick one."),
                   webrtc_shim.INSECURE: ("Screen sharing needs https", "Use https.")}))]
    out = _run_in_node(_REPLACED_FRAME_JS, scripts)
    assert out["own"] is True and out["ownStandIn"] is True  # made in the player's window, not the frame's
    assert out["screen"] == "screen stream"
    assert out["denied"] == "Screen not shared: Pick one. (NotAllowedError)"
    assert out["http"] == "Screen sharing needs https: Use https."


# The player's iframe added to the page after the script ran, as a Streamlit rerun adds it; then
# its document loads (a new window, as a navigation from about:blank may give). No interval
# pass happens here: whatever is wrapped, is wrapped by the page change or the load itself.
_LATE_PLAYER_JS = _PLAYER_WINDOW_JS + r"""
const frames = [], loads = [];
let observed = null;
class MutationObserver { constructor(f) { this.f = f; } observe(target, opts) { observed = [this.f, target, opts]; } }
const body = {};
const window = {parent: {document: {body, querySelectorAll: sel => (sel === "iframe" ? frames : [])}}};
const setInterval = () => {};
const media = () => ({getUserMedia: c => Promise.resolve("camera stream"),
                       getDisplayMedia: c => Promise.resolve("screen")});
const player = {src: "http://h/component/streamlit_webrtc.component.webrtc_streamer/index.html",
                contentWindow: playerWindow({navigator: {mediaDevices: media()}}),
                addEventListener: (type, f) => loads.push([type, f]),
                removeEventListener: (type, f) => loads.splice(loads.findIndex(l => l[1] === f), 1)};
(async () => {
  const [screenJs] = JSON.parse(require("fs").readFileSync(0, "utf8"));
  eval(screenJs);
  const out = {observes: observed !== null && observed[1] === body && observed[2].childList && observed[2].subtree};
  frames.push(player);
  if (observed) observed[0]([]);  // the page changed
  out.onInsert = await player.contentWindow.navigator.mediaDevices.getUserMedia({video: true});
  player.contentWindow = playerWindow({navigator: {mediaDevices: media()}});  // the player's own document
  loads.forEach(([type, f]) => type === "load" && f());
  out.onLoad = await player.contentWindow.navigator.mediaDevices.getUserMedia({video: true});
  out.loadListeners = loads.length;
  if (observed) observed[0]([]);  // later page changes do not add listeners
  out.loadListenersAfter = loads.length;
  const first = loads[0][1];
  eval(screenJs);  // the page ran again: its script replaces the earlier run's listener
  out.replaced = loads.length === 1 && loads[0][1] !== first;
  console.log(JSON.stringify(out));
})();
"""


@pytest.mark.skipif(shutil.which("node") is None, reason="needs node to run the page script")
def test_the_player_is_wrapped_as_soon_as_it_appears():
    """START pressed the moment it showed: the script wrapped the player's camera request only at
    its next half-second pass, so a quick press (4 of 10 made the moment START appeared, camera
    denied) went to the browser unwrapped and the player showed "NotAllowedError: Permission
    denied", not its plain words; a shared screen would have opened the camera."""
    out = _run_in_node(_LATE_PLAYER_JS, [_script_body(webrtc_shim.screen_capture_script("screen", support.SCREEN))])
    assert out["observes"] is True
    assert out["onInsert"] == "screen" and out["onLoad"] == "screen"
    assert out["loadListeners"] == 1 and out["loadListenersAfter"] == 1 and out["replaced"] is True


# The app page around the guard's frame, as far as the script touches it: a script element
# appended to its head runs with the page as ``window``.
_FAKE_GUARD_JS = r"""
const listeners = [];
const page = {addEventListener: (type, f) => listeners.push([type, f])};
page.document = {createElement: tag => ({tag, textContent: ""}),
                 head: {appendChild: el => el.tag === "script" && new Function("window", el.textContent)(page)}};
function run(code) { const window = {parent: page}; eval(code); }
function unload() {
  const e = {prevented: false, returnValue: undefined, preventDefault() { this.prevented = true; }};
  listeners.forEach(([type, f]) => type === "beforeunload" && f(e));
  return e.prevented && e.returnValue === "";
}
const [off, on] = JSON.parse(require("fs").readFileSync(0, "utf8"));
const out = {};
run(off); out.empty = unload();
run(on); out.held = unload();
run(on); run(off); out.cleared = unload();
out.listeners = listeners.length;
console.log(JSON.stringify(out));
"""


@pytest.mark.skipif(shutil.which("node") is None, reason="needs node to run the page script")
def test_unsaved_guard_asks_before_unload_only_while_a_log_is_held():
    scripts = [_script_body(support._UNSAVED_JS % flag) for flag in ("false", "true")]
    out = _run_in_node(_FAKE_GUARD_JS, scripts)
    # One listener however often the page runs; it asks only while the flag is on.
    assert out == {"empty": False, "held": True, "cleared": False, "listeners": 1}


def test_csv_downloads_start_with_a_byte_order_mark_and_every_reader_reads_them():
    """Excel opens a CSV without UTF-8's byte-order mark in the legacy code page: a moment named
    "début" read "dÃ©but". With the mark, the app, pandas and the csv module (utf-8-sig) still
    read the same columns, names and markers."""
    import csv
    import io

    import pandas as pd

    from fer_core import csvtext
    from fer_core.session import SessionLog

    log = SessionLog()
    for t in range(5):
        log.add_frame(float(t), [(1, (10, 10, 50, 50), [0.1, 0, 0, 0.7, 0.1, 0.05, 0.05])])
    log.add_marker(2.0, "début du quiz, Gruppenarbeit für 中文 😀")
    plain = log.to_csv()
    assert plain.decode("cp1252", errors="replace").count("Ã©") == 1  # what Excel showed without the mark
    make = support.csv_download(log.to_csv)
    assert callable(make)  # still made only when the button is pressed
    data = make()
    assert data == support.UTF8_BOM + plain and data.decode("utf-8-sig") == plain.decode()
    back = SessionLog.from_csv(data)  # the dashboard, Compare sessions, the review and batch tools
    assert back.markers == log.markers and back.to_frame().equals(SessionLog.from_csv(plain).to_frame())
    assert list(pd.read_csv(io.BytesIO(data)).columns)[:2] == ["time_s", "face_id"]  # pandas skips the mark
    assert next(csv.reader(io.StringIO(data.decode("utf-8-sig"))))[:2] == ["time_s", "face_id"]
    # The Photo and Compare pages' tables too.
    table = pd.DataFrame({"photo": ["élèves.jpg", "中文.jpg", "=HYPERLINK(1)"], "faces": [2, 1, 0]})
    data = support.csv_download(csvtext.to_csv(table))
    assert isinstance(data, bytes) and data.startswith(support.UTF8_BOM)
    read = pd.read_csv(io.BytesIO(data))
    assert list(read.columns) == ["photo", "faces"] and list(read["photo"])[:2] == ["élèves.jpg", "中文.jpg"]


def test_every_csv_download_of_the_pages_has_the_byte_order_mark():
    import ast
    from pathlib import Path

    pages = sorted((Path(__file__).resolve().parent.parent / "app_pages").glob("*.py"))
    found = 0
    for page in pages:
        for node in ast.walk(ast.parse(page.read_text())):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and node.func.attr == "download_button"
                    and any(isinstance(a, ast.Constant) and a.value == "text/csv" for a in node.args)):
                found += 1
                data = node.args[1]
                assert (isinstance(data, ast.Call) and isinstance(data.func, ast.Attribute)
                        and data.func.attr == "csv_download"), f"{page.name}:{node.lineno}"
    assert found == 7  # Photo (3), Video file, Class dashboard, Compare sessions, Live webcam


def test_annotated_alt_names_the_faces_as_the_picture_labels_them():
    """The pictures had no alt text: a screen reader said their address (Streamlit gives none
    unless asked)."""
    face = SimpleNamespace(label="Happy", confidence=0.874)
    tracked = SimpleNamespace(face_id=7, label="Sad", confidence=0.5)
    assert support.annotated_alt("The photo", [face, face]) == \
        "The photo with each face boxed and labelled: Face 1 Happy 87%, Face 2 Happy 87%"
    assert support.annotated_alt("Frame", [tracked], pixelated=True) == \
        "Frame with each face boxed and labelled, the faces pixelated: Face 7 Sad 50%"
    assert support.annotated_alt("The photo", []) == "The photo: no face found"
    many = support.annotated_alt("A class", [face] * 64)
    assert many.endswith(f"Face {support.ALT_FACES} Happy 87% and {64 - support.ALT_FACES} more")


def test_time_left_of_a_long_analysis():
    """The Video page's progress bar says how long is left, at the pace so far, once it is known."""
    from fer_app.support import time_left

    assert time_left(0.5, 30.0) == "less than a minute left"
    assert time_left(0.1, 60.0) == "about 9 min left"  # a tenth in a minute: nine more
    assert time_left(0.05, 300.0) == "about 1 h 35 min left"
    # Not yet known: too early, no length, or done.
    assert time_left(0.01, 60.0) == time_left(0.5, 2.0) == time_left(None, 60.0) == time_left(1.0, 60.0) == ""


def test_log_reads_take_turns_and_a_stopped_wait_leaves_without_the_turn():
    """Three teachers reading full logs back at once took a server to 1.28 GB (a read peaks at ~480 MB;
    benchmarks/visitors.py --mix logs): reads now take turns, the waiting one told so once and its
    page redrawn while it waits, and a wait ended by its visitor (tick raising) holds nothing."""
    import threading
    import time

    from fer_app.turns import Turns

    turns = Turns(poll_s=0.05)
    order: list[str] = []
    told: list[str] = []
    first_in, release = threading.Event(), threading.Event()

    def first() -> None:
        with turns.turn() as waited:
            assert not waited
            order.append("first starts")
            first_in.set()
            release.wait(5)
            order.append("first ends")

    def second() -> None:
        with turns.turn(waiting=lambda: told.append("told"), tick=lambda: told.append("tick")) as waited:
            assert waited
            order.append("second starts")

    a = threading.Thread(target=first)
    a.start()
    assert first_in.wait(5) and turns.busy
    b = threading.Thread(target=second)
    b.start()
    time.sleep(0.3)
    assert order == ["first starts"] and told[0] == "told" and told.count("tick") >= 2
    release.set()
    a.join(5)
    b.join(5)
    assert order == ["first starts", "first ends", "second starts"] and not turns.busy

    # A visitor who stops the page (or closes the tab) while waiting: the wait ends, the turn is not taken.
    class Stopped(Exception):
        pass

    def stop() -> None:
        raise Stopped

    with turns.turn():
        with pytest.raises(Stopped), turns.turn(tick=stop):
            pass
        assert turns.busy
    assert not turns.busy
    with turns.turn() as waited:
        assert not waited
