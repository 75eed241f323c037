"""What the training tools' command lines share: checks of numeric options, of the files and
folders they write, and loading a model file with a one-line error naming it.

Each check returns the problem as a message (or None), so a tool reports it its own way
(``ap.error``, :func:`usage_error`, or a log line and exit status 2)."""

from __future__ import annotations

import json
import math
import sys
import zipfile
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

if TYPE_CHECKING:
    from fer_core.recognizer import Recognizer


def range_problem(
    option: str, value: float | None, low: float | None = None, high: float | None = None, above: bool = False
) -> str | None:
    """Why ``value`` cannot be ``option``'s value, or None. ``value`` must be a finite number (NaN
    and infinities never are), at least ``low`` (``above``: more than ``low``) and at most
    ``high``; None (an option not given) passes."""
    if value is None:
        return None
    ok = (
        math.isfinite(value)
        and (low is None or (value > low if above else value >= low))
        and (high is None or value <= high)
    )
    if ok:
        return None
    if low is not None and high is not None:
        want = f"above {low:g} and at most {high:g}" if above else f"between {low:g} and {high:g}"
    elif low is not None:
        want = f"above {low:g}" if above else f"at least {low:g}"
    elif high is not None:
        want = f"at most {high:g}"
    else:
        want = "a finite number"
    return f"{option} must be {want} (got {value:g})"


def first_problem(problems: Iterable[str | None]) -> str | None:
    """The first of ``problems`` that is not None."""
    return next((p for p in problems if p), None)


def usage_error(prog: str, message: str) -> NoReturn:
    """Stop a tool over a bad argument as argparse does (``prog: error: message``, exit status 2),
    without the usage text: one line."""
    print(f"{prog}: error: {message}", file=sys.stderr)
    raise SystemExit(2)


#: Keys every model card written by ``training.export.write_card`` has.
CARD_KEYS = ("model_file", "labels")


def is_model_card(path: str | Path) -> bool:
    """Whether ``path`` is an existing model card (a JSON object with :data:`CARD_KEYS`), which the
    app and ``fer_core`` read beside a model: a file no evaluation or report may replace."""
    path = Path(path)
    if not path.is_file():
        return False
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(data, dict) and all(k in data for k in CARD_KEYS)


def card_problem(path: str | Path) -> str | None:
    """Why ``path`` may not be written over because it is a model card, or None."""
    if is_model_card(path):
        return f"{path} is a model card (read beside its model by fer_core and the app); write to another file"
    return None


def folder_problem(path: str | Path, option: str = "--out") -> str | None:
    """Why ``path``, given as ``option``, cannot be an output folder (it exists as something
    else), or None."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        return f"{option} {path} is a file, not a folder; give a folder (it is made if missing)"
    return None


def load_keras(path: str | Path) -> Any:
    """The model saved in a ``.keras`` (or legacy ``.h5``) file; ValueError naming the file when it
    is missing or is not a Keras model (Keras itself says "File not found" for a file that exists
    but is not a .keras archive)."""
    import keras

    path = Path(path).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such model file")
    if path.suffix not in (".keras", ".h5"):
        raise ValueError(f"{path}: cannot load a Keras model (not a .keras file)")
    if path.suffix == ".keras" and not zipfile.is_zipfile(path):
        raise ValueError(f"{path}: cannot load a Keras model (not the zip archive training.train saves as .keras)")
    try:
        return keras.saving.load_model(str(path), compile=False)
    except (ValueError, OSError, KeyError, TypeError, zipfile.BadZipFile) as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ValueError(f"{path}: cannot load a Keras model ({reason[:200]})") from exc


def recognizer(path: str | Path, **kwargs: Any) -> Recognizer:
    """``fer_core.load_recognizer(path, **kwargs)``, with onnxruntime's own errors for a file
    that is not an ONNX model (InvalidProtobuf and the like) turned into a ValueError naming it."""
    from onnxruntime.capi import onnxruntime_pybind11_state as ort_errors

    import fer_core

    load_errors = tuple(
        getattr(ort_errors, name)
        for name in (
            "InvalidProtobuf",
            "Fail",
            "InvalidArgument",
            "InvalidGraph",
            "NoSuchFile",
            "NotImplemented",
            "RuntimeException",
        )
        if hasattr(ort_errors, name)
    )
    try:
        return fer_core.load_recognizer(path, **kwargs)
    except load_errors as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ValueError(f"{path}: not an ONNX model that onnxruntime can run ({reason[:200]})") from exc
