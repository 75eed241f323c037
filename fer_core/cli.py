"""Checks the command-line tools share, made before any work (which can take minutes): the rate
of frames to analyse, and the files to write."""

from __future__ import annotations

import argparse
import math
from collections.abc import Sequence
from pathlib import Path

#: The most video frames analysed per second of video a tool accepts. Videos are seldom recorded
#: at more frames a second, and a rate above a video's own analyses each of its frames once, no
#: more: a larger rate is a slip (1e9, inf), which an older decoding loop never finished.
MAX_RATE = 120.0


def check_rate(rate: float) -> float:
    """``rate`` if it is a number of video frames to analyse per second that can be (above 0,
    at most :data:`MAX_RATE`), else ValueError (NaN too: it compares false with everything)."""
    if not (math.isfinite(rate) and 0 < rate <= MAX_RATE):
        raise ValueError(f"the rate must be above 0 and at most {MAX_RATE:g} frames analysed per second "
                         f"of video (got {rate:g})")
    return rate


def rate_argument(text: str) -> float:
    """``--rate``'s argparse type: argparse shows an ArgumentTypeError's own message."""
    try:
        rate = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    try:
        return check_rate(rate)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def output_problem(out: Path, inputs: Sequence[Path], what: str = "inputs") -> str | None:
    """Why ``out`` cannot be written as a file, or None: it is a folder, its folder does not
    exist, or it is one of ``inputs`` (the output would replace what it was made from; ``what``
    names them in the message)."""
    if out.is_dir():
        return "is a folder"
    if not out.parent.is_dir():
        return f"the folder {out.parent} does not exist"
    if out.exists() and any(i.exists() and out.samefile(i) for i in inputs):
        return f"is one of the {what}; the output would replace it"
    return None
