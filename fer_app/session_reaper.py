"""Shuts down the sessions of tabs that have gone (the one place that touches Streamlit's
session manager; pinned: streamlit==1.67.0).

The problem: when a tab closes, Streamlit keeps its session for
``server.disconnectedSessionTTL`` seconds (120 by default) so that a tab that reconnects
finds its state. The sessions wait in a TTL cache that *forgets* them afterwards (and
only when the cache is next written to) without ever calling ``AppSession.shutdown()``.
A forgotten session is never shut down, so streamlit-webrtc's shutdown observer, which
waits for exactly that, never stops the session's worker, and the session state (this
app's live analyzer and log, the WebRTC context and its peer connection) stays in memory.
Measured with ``benchmarks/load_soak.py --closes 10``: +61 MB and +4 threads five minutes
after the last tab closed, against a 304 MB baseline.

The fix: :class:`SessionReaper` looks at the sessions every few seconds on Streamlit's
own event loop (the session manager is not thread-safe) and closes, through
``Runtime.close_session`` (which shuts a session down and frees its uploads), each
session that has been disconnected for the TTL, less a margin so that it is still in
the cache. Which sessions to close is decided by :class:`AwayTracker`, which has no
Streamlit in it. Everything degrades to doing nothing if the internals change.

A session that holds a session log (a live session's observations or an analysed video,
which live only in its memory: :func:`set_holding`, from the pages) is kept longer,
:data:`KEEP_LOG_S`: a laptop put to sleep mid-class, or a dropped network, disconnects the tab
without its knowing, and after 120 s its log was gone when it came back (the browser's guard
against closing the tab does not run then). The project's config sets
``server.disconnectedSessionTTL`` to that time, so that Streamlit still has the session;
other sessions are closed after :data:`RECONNECT_S` as before.
"""
from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Iterable

from fer_core.memory import release_memory

log = logging.getLogger(__name__)

#: Seconds between two looks at the sessions.
INTERVAL_S = 5.0
#: After closing sessions, give free memory back to the OS on this many following looks too:
#: a closed session's worker and peer connection finish stopping on their own threads, and
#: what they free after the first trim would otherwise stay in the allocator's heaps
#: (measured: 116 MB free in the heaps, +29 MB RSS, after 20 tabs closed).
TRIMS_AFTER_CLOSE = 3
#: Seconds a disconnected session without a log waits for its tab (Streamlit's default TTL).
RECONNECT_S = 120.0
#: Seconds a disconnected session that holds a session log waits for its tab (a laptop asleep
#: over a break, a network gone): ``server.disconnectedSessionTTL`` in .streamlit/config.toml.
KEEP_LOG_S = 900.0

_holding: set[str] = set()
_holding_lock = threading.Lock()


def set_holding(session_id: str, holding: bool) -> None:
    """Record whether a session holds a session log that lives only in its memory (the pages
    call this on every run, as they set the browser's guard)."""
    with _holding_lock:
        (_holding.add if holding else _holding.discard)(session_id)


def holding() -> frozenset[str]:
    """The sessions recorded by :func:`set_holding` as holding a log."""
    with _holding_lock:
        return frozenset(_holding)


class AwayTracker:
    """Which disconnected sessions have been away for ``grace_s`` seconds (``keep_s`` for those
    that hold a log).

    Feed it, every so often, the ids of the sessions that are connected and of those kept
    for reconnection; a session counts as away from the first look that finds it
    disconnected (so up to one interval late), and a reconnect forgets it.
    """

    def __init__(self, grace_s: float, keep_s: float | None = None) -> None:
        self.grace_s = max(0.0, float(grace_s))
        self.keep_s = max(self.grace_s, float(keep_s)) if keep_s is not None else self.grace_s
        self._away_since: dict[str, float] = {}

    def expired(self, connected: Iterable[str], kept: Iterable[str], now: float,
                holding: Iterable[str] = ()) -> list[str]:
        """The kept (disconnected) sessions to close now; they are forgotten here. ``holding``:
        the sessions that hold a log, which wait ``keep_s``."""
        connected, holding = set(connected), set(holding)
        away = [sid for sid in kept if sid not in connected]
        self._away_since = {sid: self._away_since.get(sid, now) for sid in away}
        done = [sid for sid, since in self._away_since.items()
                if now - since >= (self.keep_s if sid in holding else self.grace_s)]
        for sid in done:
            del self._away_since[sid]
        return done

    def __len__(self) -> int:
        return len(self._away_since)


class SessionReaper:
    """Closes sessions disconnected for :data:`RECONNECT_S`, or for the TTL if they hold a log
    (see the module docstring). Start it once per process with :func:`start`."""

    def __init__(self, runtime, ttl_s: float, interval_s: float = INTERVAL_S,
                 reconnect_s: float = RECONNECT_S) -> None:
        self.runtime = runtime
        self.interval_s = interval_s
        # Close a little before Streamlit's cache may forget the session (it is then out of
        # reach): sessions without a log after reconnect_s, those with one after the TTL.
        margin = 3 * interval_s
        self.tracker = AwayTracker(max(0.0, min(ttl_s, reconnect_s) - margin), max(0.0, ttl_s - margin))
        self.closed = 0
        self._trims_left = 0

    def sweep(self, now: float | None = None) -> list[str]:
        """One look at the sessions; returns the ids it closed. Runs on the event loop."""
        mgr = self.runtime._session_mgr
        connected = [info.session.id for info in mgr.list_active_sessions()]
        kept = [info.session.id for info in mgr.list_sessions()]
        keeping = holding()
        done = self.tracker.expired(connected, kept, time.monotonic() if now is None else now, keeping)
        for sid in done:
            self.runtime.close_session(sid)
        for sid in keeping - set(kept) | set(done):  # closed, or gone from Streamlit by itself
            set_holding(sid, False)
        if done:
            self.closed += len(done)
            self._trims_left = TRIMS_AFTER_CLOSE + 1
            log.info("closed %d session(s) disconnected for over %.0f s (%d so far)", len(done),
                     self.tracker.grace_s, self.closed)
        if self._trims_left:
            self._trims_left -= 1
            release_memory(collect=True)  # the sessions' arrays and buffers go back to the OS
        return done

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self.interval_s)
            try:
                self.sweep()
            except Exception:  # an internal API changed: stop rather than fail every few seconds
                log.warning("session reaper stopped: Streamlit's session manager changed", exc_info=True)
                return


def start(interval_s: float = INTERVAL_S) -> SessionReaper | None:
    """Start the reaper on the running Streamlit server's event loop (call once per process,
    e.g. from a ``st.cache_resource`` function). None where there is no server (AppTest, bare
    mode) or the internals are not as expected."""
    from streamlit import config, runtime

    try:
        if not runtime.exists():
            return None
        rt = runtime.get_instance()
        loop = rt._get_async_objs().eventloop
        rt._session_mgr.list_sessions, rt._session_mgr.list_active_sessions  # noqa: B018
        ttl = float(config.get_option("server.disconnectedSessionTTL"))
    except Exception:
        log.warning("session reaper not started: Streamlit's runtime internals changed", exc_info=True)
        return None
    reaper = SessionReaper(rt, ttl, interval_s)
    asyncio.run_coroutine_threadsafe(reaper.run(), loop)
    log.info("session reaper: sessions disconnected for %.0f s are shut down (%.0f s if they hold a log)",
             reaper.tracker.grace_s, reaper.tracker.keep_s)
    return reaper
