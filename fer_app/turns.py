"""One heavy read at a time per server process, the others told and queued.

Reading a session log back (the dashboard, Compare sessions) takes several times the log's size
for a few seconds: a full live log (a million observations, 42 MB zipped) ~480 MB at its peak.
Three teachers uploading theirs at once took a server to 1.28 GB (``benchmarks/visitors.py
--mix logs``), past a 1 GB dyno. :data:`LOG_READS` lets one read run at a time; a visitor whose
read waits is told so on the page, and the wait ends with the read before it.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Iterator

import streamlit as st

log = logging.getLogger(__name__)

#: What a visitor whose read waits for another session's is told.
WAITING = "Another analysis is running on this server; yours starts when it ends."


class Turns:
    """A lock taken in turns: :meth:`turn` calls ``waiting`` once when the lock is held by another
    thread, then ``tick`` every ``poll_s`` seconds until it gets it. ``tick`` may raise (a Streamlit
    run stopped or rerun by its visitor, a closed tab's session shut down): the wait ends without
    the turn. No Streamlit here: the pages pass the calls that show the note."""

    def __init__(self, poll_s: float = 0.5) -> None:
        self._lock = threading.Lock()
        self.poll_s = poll_s

    @contextlib.contextmanager
    def turn(
        self, waiting: Callable[[], None] = lambda: None, tick: Callable[[], None] = lambda: None
    ) -> Iterator[bool]:
        """Hold the lock for the ``with`` block; yields True when the caller had to wait."""
        waited = not self._lock.acquire(blocking=False)
        if waited:
            waiting()
            while not self._lock.acquire(timeout=self.poll_s):
                tick()
        try:
            yield waited
        finally:
            self._lock.release()

    @property
    def busy(self) -> bool:
        return self._lock.locked()


#: Reading a log back, on any page of any session of this process.
LOG_READS = Turns()


@contextlib.contextmanager
def log_read() -> Iterator[None]:
    """A page's read of a log: waits for another session's, saying so, then runs. While it waits the
    note is drawn again every half second, which lets Streamlit end the run there when its visitor
    reruns the page, stops it or closes the tab."""
    note = st.empty()

    def show() -> None:
        note.info(WAITING, icon=":material/hourglass_top:")

    def told() -> None:
        log.info("a log read waits for another session's")
        show()

    with LOG_READS.turn(waiting=told, tick=show):
        note.empty()
        yield
