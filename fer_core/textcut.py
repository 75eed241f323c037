"""Cutting names people typed (files, sessions, moments) without cutting a letter in two.

Python cuts a string between code points, and one letter on screen can be several of them: an
"é" from macOS is "e" and a combining accent (NFD), a Hindi "क्षा" is four code points, a flag is
two regional indicators, a family emoji five code points joined by zero-width joiners. Cut in the
middle, "séance" read "se" (the accent moved onto the next character shown, the "…"), the French
flag a box with an "F". The cuts here fall only between what Unicode calls grapheme clusters, as
the rules of UAX #29 that matter for names have them (combining marks, joiners, variation
selectors, skin tones, tag sequences, regional-indicator pairs, conjuncts); the standard library has no
grapheme segmentation of its own.
"""

from __future__ import annotations

import unicodedata

ZWJ = "\u200d"


def _extends(ch: str) -> bool:
    """Whether ``ch`` belongs to the letter before it: a combining mark (accents, Indic and Thai
    vowel signs, variation selectors), a zero-width joiner, an emoji skin tone or a tag character."""
    return (
        unicodedata.category(ch)[0] == "M"
        or ch == ZWJ
        or "\U0001f3fb" <= ch <= "\U0001f3ff"
        or "\U000e0020" <= ch <= "\U000e007f"
    )


def _regional(ch: str) -> bool:
    return "\U0001f1e6" <= ch <= "\U0001f1ff"


def is_boundary(text: str, i: int) -> bool:
    """Whether ``text`` may be cut before index ``i`` without cutting a letter in two."""
    if i <= 0 or i >= len(text):
        return True
    if _extends(text[i]) or text[i - 1] == ZWJ:
        return False
    if unicodedata.combining(text[i - 1]) == 9 and unicodedata.category(text[i]) == "Lo":
        return False  # a virama joins two consonants into one conjunct: "क्ष" (Unicode 15.1's GB9c)
    if _regional(text[i]) and _regional(text[i - 1]):
        run = 0  # regional indicators pair from the left: cut after an even count of them
        while i - run - 1 >= 0 and _regional(text[i - run - 1]):
            run += 1
        return run % 2 == 0
    return True


def head(text: str, size: int) -> str:
    """The start of ``text``, at most ``size`` code points, cut between letters."""
    i = max(0, min(size, len(text)))
    while not is_boundary(text, i):
        i -= 1
    return text[:i]


def tail(text: str, size: int) -> str:
    """The end of ``text``, at most ``size`` code points, cut between letters."""
    i = max(0, len(text) - max(size, 0))
    while not is_boundary(text, i):
        i += 1
    return text[i:]


def head_bytes(text: str, size: int) -> str:
    """The start of ``text``, at most ``size`` bytes of UTF-8, cut between letters (a file name
    may have 255 bytes)."""
    end = len(text.encode("utf-8")[: max(size, 0)].decode("utf-8", errors="ignore"))
    return head(text, end)
