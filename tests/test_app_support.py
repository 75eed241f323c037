"""App wiring: ICE configuration from the environment and the stale-context guard."""
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
