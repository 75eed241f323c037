"""Giving memory back to the operating system, and reading how much the process holds.

glibc's allocator keeps freed memory in its heaps (one arena per thread that allocated)
instead of returning it, so a server that once decoded a large photo keeps that
high-water mark. :func:`release_memory` asks glibc to return what is free
(``malloc_trim``); the pages call it after each upload is analysed. Elsewhere (musl,
macOS) it does nothing. The start scripts also set ``MALLOC_ARENA_MAX=2``, which caps the
number of heaps that can each hold such free memory.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import functools
import gc
import logging
import os
from collections.abc import Callable

log = logging.getLogger(__name__)


@functools.lru_cache(maxsize=1)
def _malloc_trim() -> Callable[[int], int] | None:
    """glibc's ``malloc_trim`` function, or None where there is none."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        trim = libc.malloc_trim
    except (OSError, AttributeError):
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return trim


def release_memory(collect: bool = False) -> bool:
    """Return free heap memory to the OS (``malloc_trim(0)`` on glibc; a few ms).

    ``collect``: run Python's garbage collector first (for cycles holding big arrays).
    Returns whether anything was released (False where glibc is absent).
    """
    if collect:
        gc.collect()
    trim = _malloc_trim()
    if trim is None:
        return False
    return bool(trim(0))


def rss_mb(pid: int | str = "self") -> float:
    """Resident memory of a process in MB (Linux ``/proc``; 0.0 elsewhere)."""
    return _status_kb(pid, "VmRSS") / 1e3


def peak_rss_mb(pid: int | str = "self") -> float:
    """Peak resident memory of a process image in MB (``/proc`` VmHWM; 0.0 elsewhere)."""
    return _status_kb(pid, "VmHWM") / 1e3


def thread_count(pid: int | str = "self") -> int:
    """Threads of a process (Linux ``/proc``; 0 elsewhere)."""
    return int(_status_kb(pid, "Threads"))


def _status_kb(pid: int | str, field: str) -> float:
    try:
        with open(os.path.join("/proc", str(pid), "status")) as f:
            for line in f:
                if line.startswith(field + ":"):
                    return float(line.split()[1])
    except OSError:
        pass
    return 0.0
