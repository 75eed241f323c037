"""Cutting names people typed (files, sessions, moments) without cutting a letter in two.

Python cuts a string between code points, and one letter on screen can be several of them: an
"é" from macOS is "e" and a combining accent (NFD), a Hindi "क्षा" is four code points, a flag is
two regional indicators, a family emoji five code points joined by zero-width joiners. Cut in the
middle, "séance" read "se" (the accent moved onto the next character shown, the "…"), the French
flag a box with an "F". The cuts here fall only between what Unicode calls grapheme clusters
(UAX #29), which the ``regex`` package matches as ``\\X``; the standard library has no grapheme
segmentation of its own.
"""

from __future__ import annotations

import regex

_LETTER = regex.compile(r"\X")


def letters(text: str) -> list[str]:
    """``text``'s letters as a reader sees them: each grapheme cluster, with its marks."""
    return _LETTER.findall(text)


def head(text: str, size: int) -> str:
    """The start of ``text``, at most ``size`` code points, cut between letters."""
    end = 0
    for m in _LETTER.finditer(text):
        if m.end() > size:
            break
        end = m.end()
    return text[:end]


def tail(text: str, size: int) -> str:
    """The end of ``text``, at most ``size`` code points, cut between letters."""
    start = len(text) - max(size, 0)
    for m in _LETTER.finditer(text):
        if m.start() >= start:
            return text[m.start():]
    return ""


def head_bytes(text: str, size: int) -> str:
    """The start of ``text``, at most ``size`` bytes of UTF-8, cut between letters (a file name
    may have 255 bytes)."""
    end = len(text.encode("utf-8")[: max(size, 0)].decode("utf-8", errors="ignore"))
    return head(text, end)
