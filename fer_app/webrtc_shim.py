"""The one place that touches streamlit-webrtc internals (pinned: streamlit-webrtc==0.79.0).

The problem: ``webrtc_streamer()`` decides that its context is stale ("Context for
key=... was not rendered for 1 script runs; resetting stale state") when the session's
``script_run_count`` has moved on by two or more since the component last rendered,
and then stops the worker, so the stream dies. That counter is incremented on the
server's event-loop thread when the *previous* run's ``script_finished`` message is
sent, which can happen after the next run has already read it. During the burst of
reruns that starting a stream causes, the component then reads a lagging count in one
run and an up-to-date one in the next, sees a "skipped" run that never happened and
drops a perfectly live stream (about one START in four, measured in a real browser).

The fix: the app knows when the component really was unmounted, because the entry
script records every run of another page (``fer_app.support.note_page``). So before
rendering the streamer:

* if no other page ran since it last rendered, the heuristic is switched off for this
  run (``_last_rendered_run_count = None``), so the live stream is never reset;
* if another page did run, the context is reset explicitly, as the library meant to.

Both steps degrade to doing nothing if the internals change.
"""
from __future__ import annotations

import logging

import streamlit as st

log = logging.getLogger(__name__)


def guard_stale_reset(key: str, *, navigated_away: bool) -> str:
    """Call right before ``webrtc_streamer(key=key, ...)``. Returns what it did (for tests/logs)."""
    context = st.session_state.get(key)
    if context is None:
        return "new"
    if not hasattr(context, "_last_rendered_run_count"):
        log.warning("streamlit-webrtc internals changed; stale-context guard disabled")
        return "unsupported"
    if navigated_away:
        try:
            from streamlit_webrtc.component import _reset_context
        except ImportError:
            return "unsupported"
        _reset_context(context)
        context._last_rendered_run_count = None
        return "reset"
    context._last_rendered_run_count = None
    return "kept"
