"""Giving memory back to the operating system, and reading how much the process holds.

glibc's allocator keeps freed memory in its heaps (one arena per thread that allocated)
instead of returning it, so a server that once decoded a large photo keeps that
high-water mark. :func:`release_memory` asks glibc to return what is free
(``malloc_trim``); the pages call it after each upload is analysed. Elsewhere (musl,
macOS) it does nothing.

:func:`tune_allocator`, called once by the app's entry point, sets what the start scripts
set through the environment (``MALLOC_ARENA_MAX=2``, ``MALLOC_MMAP_THRESHOLD_=524288``)
with ``mallopt``, so that a server started any other way (a plain ``streamlit run``, a
hosting platform's own command) gets them too: at most two heaps that can each hold free
memory, and every buffer of 512 kB or more in its own mapping, returned to the OS when freed.
Without the fixed threshold glibc raises it (up to 32 MB) each time such a buffer is freed,
so the next photo's large buffers land in a heap, fragment it and stay resident. 512 kB, not
1 MB: after 20 closed live tabs the server came back to +1% of its baseline, against +7% with
1 MB, with no measurable CPU cost (benchmarks/load_soak.py, docs/RELIABILITY.md "Closed
tabs"). The idea was that 640 x 480 BGR frames (0.9 MB) get mappings of their own instead of
fragmenting the heap; that run's camera sent 480 x 360, whose BGR frames (518 kB) are just
under the threshold, so which buffers make the difference is not established.

Where jemalloc is installed, ``scripts/run_app.sh`` loads it in glibc's place
(``LD_PRELOAD``, with ``MALLOC_CONF`` asking it to return freed pages within a second):
after 100 START/STOP cycles and 50 closed tabs the server ended 1% over its baseline against
7-14% with glibc (docs/RELIABILITY.md "jemalloc"). :func:`allocator` says which one a process
runs on; the glibc settings and ``malloc_trim`` are then skipped, since glibc's heaps are not
in use.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import functools
import gc
import logging
import os
from collections.abc import Callable, Mapping

log = logging.getLogger(__name__)

#: ``mallopt`` parameters (glibc's malloc.h).
M_MMAP_THRESHOLD = -3
M_ARENA_MAX = -8
#: What :func:`tune_allocator` sets, unless the environment already sets it.
ARENA_MAX = 2
MMAP_THRESHOLD = 1 << 19


@functools.lru_cache(maxsize=1)
def _libc() -> ctypes.CDLL | None:
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.mallopt  # noqa: B018 (glibc only: musl and macOS have no mallopt/malloc_trim)
        libc.malloc_trim  # noqa: B018
    except (OSError, AttributeError):
        return None
    return libc


@functools.lru_cache(maxsize=1)
def allocator() -> str:
    """The allocator this process runs on: ``"jemalloc"`` (loaded through ``LD_PRELOAD``),
    ``"glibc"``, or ``"other"`` (musl, macOS, or no ``/proc`` to tell)."""
    try:
        with open("/proc/self/maps") as f:
            if any("libjemalloc" in line for line in f):
                return "jemalloc"
    except OSError:
        return "other"
    return "glibc" if _libc() is not None else "other"


def tune_allocator(env: Mapping[str, str] = os.environ) -> dict[str, int]:
    """Cap glibc's heaps at :data:`ARENA_MAX` and fix its mmap threshold at
    :data:`MMAP_THRESHOLD`, each unless ``MALLOC_ARENA_MAX`` / ``MALLOC_MMAP_THRESHOLD_`` is
    set in ``env`` (an operator's choice wins). Returns what it set (empty off glibc).

    Call once, at a process's entry point: it changes process-wide allocator settings.
    """
    libc = _libc()
    if libc is None or allocator() != "glibc":
        return {}
    libc.mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    libc.mallopt.restype = ctypes.c_int
    done = {}
    for name, param, value in (("MALLOC_ARENA_MAX", M_ARENA_MAX, ARENA_MAX),
                               ("MALLOC_MMAP_THRESHOLD_", M_MMAP_THRESHOLD, MMAP_THRESHOLD)):
        if name in env:
            continue
        if libc.mallopt(param, value) == 1:
            done[name] = value
        else:
            log.warning("mallopt(%s=%d) failed", name, value)
    return done


@functools.lru_cache(maxsize=1)
def _malloc_trim() -> Callable[[int], int] | None:
    """glibc's ``malloc_trim`` function, or None where there is none or glibc's heaps are
    not the ones in use (jemalloc returns freed pages by itself)."""
    libc = _libc()
    if libc is None or allocator() != "glibc":
        return None
    trim = libc.malloc_trim
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return trim


def release_memory(collect: bool = False) -> bool:
    """Return free heap memory to the OS (``malloc_trim(0)`` on glibc; a few ms).

    ``collect``: run Python's garbage collector first (for cycles holding big arrays).
    Returns whether anything was released (False where glibc's allocator is not in use).
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
