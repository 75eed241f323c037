"""Text cells of the CSV files people download, made safe to open in a spreadsheet.

A cell whose text starts with ``=``, ``+``, ``-`` or ``@`` (or a tab or carriage return) is
read by Excel, LibreOffice and Google Sheets as a formula, so a file or session named
``=HYPERLINK("https://...")`` would put a live link or a calculation into the downloaded
table (CSV injection, as OWASP describes it). Such text is written with a ``'`` in front,
which spreadsheets take as "this is text" and do not show. :func:`unescape` takes it back off
where the app reads its own CSVs again.
"""

from __future__ import annotations

import pandas as pd

#: The first characters that make a spreadsheet cell a formula.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def escape(text: str) -> str:
    """``text`` with a ``'`` in front when it starts a formula, or with a ``'`` of its own (so
    that :func:`unescape` gives back exactly what was written)."""
    return f"'{text}" if text.startswith(FORMULA_START) or text.startswith("'") else text


def unescape(text: str) -> str:
    """The text :func:`escape` was given. A text :func:`escape` would not have changed stays as it
    is: a marker "'90s music" of a log written before escaping existed keeps its apostrophe."""
    rest = text[1:]
    return rest if text.startswith("'") and (rest.startswith(FORMULA_START) or rest.startswith("'")) else text


def safe_frame(df: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``df`` whose text cells (and text index) are escaped; numbers are left alone
    (a negative number is a number to a spreadsheet, not a formula)."""
    out = df.copy()
    for col in out.columns:
        if out[col].dtype == object or isinstance(out[col].dtype, pd.StringDtype):
            out[col] = out[col].map(lambda v: escape(v) if isinstance(v, str) else v)
    if out.index.dtype == object:
        out.index = out.index.map(lambda v: escape(v) if isinstance(v, str) else v)
    return out


def to_csv(df: pd.DataFrame, index: bool = False) -> bytes:
    """``df`` as UTF-8 CSV bytes with its text cells escaped (:func:`safe_frame`)."""
    return safe_frame(df).to_csv(index=index).encode("utf-8")
