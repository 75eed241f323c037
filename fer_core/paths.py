"""Checks of the command-line tools' output paths, made before any work (which can take minutes)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path


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
