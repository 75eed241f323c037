"""A thread pool whose idle threads end, for the server's event loop.

The problem: aiortc encodes each video frame in the event loop's default executor
(``loop.run_in_executor(None, ...)``), and streamlit-webrtc runs aiortc on Streamlit's own
event loop. That executor is a ``ThreadPoolExecutor``, whose threads never end: a burst of
live streams leaves up to ``min(32, cores + 4)`` idle threads behind for the life of the
process (``benchmarks/load_soak.py`` names them: ``asyncio_*``), so the thread count after
a busy hour never comes back to what it was before it.

:class:`IdleThreadPool` runs the same work on threads that end after ``idle_s`` seconds
without any. :func:`install` makes it the default executor of a running loop.
"""
from __future__ import annotations

import asyncio
import logging
import queue
import threading
from concurrent.futures import Future, ThreadPoolExecutor

log = logging.getLogger(__name__)


class IdleThreadPool(ThreadPoolExecutor):
    """At most ``max_workers`` threads; one starts when work waits and no thread is idle, and
    a thread that found no work for ``idle_s`` seconds ends. A ``ThreadPoolExecutor`` only by
    type (asyncio's ``set_default_executor`` insists on one): ``submit`` and ``shutdown`` are
    its own, and the parent's queue and threads stay unused."""

    def __init__(self, max_workers: int | None = None, idle_s: float = 30.0,
                 thread_name_prefix: str = "idle-pool") -> None:
        super().__init__(max_workers=max_workers, thread_name_prefix=thread_name_prefix)
        self.idle_s = float(idle_s)
        self._jobs: queue.SimpleQueue = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._workers: set[threading.Thread] = set()
        self._idle = 0
        self._started = 0
        self._closed = False

    def submit(self, fn, /, *args, **kwargs) -> Future:
        future: Future = Future()
        with self._lock:
            if self._closed:
                raise RuntimeError("cannot schedule new futures after shutdown")
            self._jobs.put((future, fn, args, kwargs))
            # Work that no idle thread will take: start one, up to the limit.
            if self._jobs.qsize() > self._idle and len(self._workers) < self._max_workers:
                self._started += 1
                t = threading.Thread(target=self._work, name=f"{self._thread_name_prefix}_{self._started}",
                                     daemon=True)
                self._workers.add(t)
                t.start()
        return future

    def _work(self) -> None:
        me = threading.current_thread()
        while True:
            with self._lock:
                self._idle += 1
            try:
                job = self._jobs.get(timeout=self.idle_s)
            except queue.Empty:
                with self._lock:
                    self._idle -= 1
                    # Work put after the timeout (submit holds the lock while it puts and counts)
                    # is taken by this thread after all; otherwise it ends.
                    if self._jobs.empty():
                        self._workers.discard(me)
                        return
                continue
            with self._lock:
                self._idle -= 1
            if job is None:  # shutdown
                with self._lock:
                    self._workers.discard(me)
                return
            future, fn, args, kwargs = job
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(fn(*args, **kwargs))
            except BaseException as e:  # handed to whoever awaits the future, as ThreadPoolExecutor does
                future.set_exception(e)
                del e

    @property
    def threads(self) -> int:
        """Threads alive now (busy or idle)."""
        with self._lock:
            return len(self._workers)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        with self._lock:
            self._closed = True
            workers = list(self._workers)
            if cancel_futures:
                while True:
                    try:
                        job = self._jobs.get_nowait()
                    except queue.Empty:
                        break
                    if job is not None:
                        job[0].cancel()
            for _ in workers:
                self._jobs.put(None)
        if wait:
            for t in workers:
                t.join()


def start() -> IdleThreadPool | None:
    """Install an :class:`IdleThreadPool` as the default executor of the running Streamlit
    server's event loop (the loop aiortc runs on; call once per process). None where there is
    no server (AppTest, bare mode) or the internals are not as expected."""
    from streamlit import runtime

    try:
        if not runtime.exists():
            return None
        loop = runtime.get_instance()._get_async_objs().eventloop
    except Exception:
        log.warning("idle thread pool not installed: Streamlit's runtime internals changed", exc_info=True)
        return None
    pool = install(loop, threadsafe=True)
    log.info("event loop's default executor: up to %d threads, each ending after %.0f s idle",
             pool._max_workers, pool.idle_s)
    return pool


def install(loop: asyncio.AbstractEventLoop, max_workers: int | None = None, idle_s: float = 30.0,
            threadsafe: bool = False) -> IdleThreadPool:
    """Make an :class:`IdleThreadPool` the default executor of ``loop``, before the work it should
    take; threads of an executor the loop had already made stay as they are. Call on the loop's
    own thread, or from any other with ``threadsafe`` (the loop then sets it on its next pass)."""
    pool = IdleThreadPool(max_workers=max_workers, idle_s=idle_s, thread_name_prefix="asyncio-idle")
    if threadsafe:
        loop.call_soon_threadsafe(loop.set_default_executor, pool)
    else:
        loop.set_default_executor(pool)
    return pool
