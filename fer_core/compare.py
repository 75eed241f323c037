"""Several sessions side by side: this week's lecture against last week's, or one class's
recordings over a term.

Plain functions of session logs' DataFrames (``SessionLog.to_frame()``, or a CSV read back
with ``SessionLog.from_csv``), like :mod:`fer_core.session`. Sessions differ in length, so
the curves can be drawn against the share of each session's time analysed (pauses left out)
as well as against minutes from its start.

Every figure is a mean over face observations: a face seen for longer, or a class with more
faces in view, weighs more, as on the dashboard. The expression shares are mean
probabilities (an uncertain face counts as uncertain), so they sum to 1 per session.
"""
from __future__ import annotations

import unicodedata
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from fer_core.engagement import valence_arousal
from fer_core.labels import LABELS, NEGATIVE_LABELS
from fer_core.session import (
    LEAD_S,
    format_time,
    length_text,
    log_cut_short,
    log_damaged,
    log_end,
    log_models,
    log_parts,
    log_start,
    unanalysed,
)

#: What the curves can show: one value per face observation, averaged per time bin.
NEGATIVE = "Negative (angry, fear, sad)"
VALENCE = "Valence (derived)"
LOOKING = "Looking at the camera"
MEASURES: tuple[str, ...] = (*LABELS, NEGATIVE, VALENCE, LOOKING)
#: Time axes of :func:`measure_over_time`.
SHARE = "share"  # per cent of each session's time analysed
MINUTES = "minutes"  # minutes from each session's start


def measure_values(df: pd.DataFrame, measure: str) -> np.ndarray:
    """One value per row of ``df`` for ``measure`` (one of :data:`MEASURES`); NaN where it
    was not measured (looking at the camera in rows without attention)."""
    if measure in LABELS:
        return df[measure].to_numpy(np.float64)
    if measure == NEGATIVE:
        return df[list(NEGATIVE_LABELS)].to_numpy(np.float64).sum(axis=1)
    if measure == VALENCE:
        return valence_arousal(df[list(LABELS)].to_numpy())[:, 0] if len(df) else np.zeros(0)
    if measure == LOOKING:
        if "looking" not in df.columns:
            return np.full(len(df), np.nan)
        return df["looking"].to_numpy(np.float64)
    raise ValueError(f"unknown measure {measure!r}; choose one of {', '.join(MEASURES)}")


def same_log(a: pd.DataFrame, b: pd.DataFrame) -> bool:
    """Whether two frames are one session's log: the live or analysed video's log held by the app
    and the CSV downloaded from it, read back. Equal rows and columns, numbers equal to the CSV's
    precision (times to the millisecond, probabilities to five decimals, head pose to two) and
    texts equal. Two different sessions almost never have one length, so this is cheap where it says no.
    The label is not compared: it is the top of the seven shares, compared already, and a log read back
    works it out again from the CSV's five decimals, where a tie (Sad 0.500001, Happy 0.499999) reads
    Happy: 17 rows in a million, random shares, and a full log's own CSV read as another session."""
    if len(a) != len(b) or list(a.columns) != list(b.columns):
        return False
    for column in a.columns:
        if column == "label":
            continue
        x, y = a[column].to_numpy(), b[column].to_numpy()
        if np.issubdtype(x.dtype, np.number) and np.issubdtype(y.dtype, np.number):
            # Half the last decimal the CSV writes, and a little: pose to two, everything else to three or more.
            atol = 0.006 if column in ("yaw", "pitch", "roll") else 0.0006
            if not np.allclose(x.astype(float), y.astype(float), rtol=0.0, atol=atol, equal_nan=True):
                return False
        elif not (pd.Series(x, dtype=object).fillna("") == pd.Series(y, dtype=object).fillna("")).all():
            return False
    return True


def unique_names(names: list[str]) -> list[str]:
    """``names`` with repeats told apart: ``a.csv``, ``a.csv (2)``, ... Names are put in Unicode's
    composed form (NFC) first: "séance.csv" from a Mac (NFD, its accent apart) and the same name from
    Windows were two sessions under one name on the charts, which could not be told apart."""
    seen: dict[str, int] = {}
    out = []
    for n in (unicodedata.normalize("NFC", n) for n in names):
        seen[n] = seen.get(n, 0) + 1
        out.append(n if seen[n] == 1 else f"{n} ({seen[n]})")
    return out


def models_note(sessions: Mapping[str, pd.DataFrame]) -> str:
    """A sentence naming each session's expression model (:func:`~fer_core.session.log_models`)
    when the sessions were analysed with different ones; "" when their logs name one model or none."""
    return models_note_of({name: log_models(df) for name, df in sessions.items()})


def models_note_of(models: Mapping[str, tuple[str, ...]]) -> str:
    """:func:`models_note` from each session's models, for callers that do not hold every
    session's rows at once (``fer_core.batch``)."""
    if len({m for ms in models.values() for m in ms}) < 2:
        return ""
    listed = "; ".join(f"{name}: {', then '.join(ms) if ms else 'not recorded in its log'}"
                       for name, ms in models.items())
    return (f"These sessions were analysed with different expression models ({listed}). The models read "
            "the same faces differently, so a difference between these sessions can come from the model as "
            "much as from the class.")


#: A session's damaged stretches are listed one by one up to this many (:func:`damage_note`).
LISTED_DAMAGE = 3


def damage_note(sessions: Mapping[str, pd.DataFrame]) -> str:
    """A sentence naming the sessions of damaged videos (:func:`~fer_core.session.log_damaged`), how long
    of each could not be decoded and from when to when; "" when none is. Nothing was analysed there, so
    their minutes and per cent count the time analysed only: the table alone did not say why a lecture
    was shorter than its video."""
    return damage_note_of({name: (log_damaged(df), log_cut_short(df)) for name, df in sessions.items()})


def damage_note_of(damage: Mapping[str, tuple[Sequence[tuple[float, float]], float | None]]) -> str:
    """:func:`damage_note` from each session's damaged stretches and where its file is cut short
    (:func:`~fer_core.session.log_cut_short`, None if not), for callers that do not hold every
    session's rows at once (``fer_core.batch``)."""
    said: list[str] = []
    for name, (damaged, cut) in damage.items():
        if not damaged:
            continue
        # The stretch where a file cut short breaks off (an unfinished download) is listed whatever its place:
        # after three garbled ones, an hour's lecture cut short at 9:58 read "and 1 more stretch" for 50 minutes.
        end = next((i for i, (a, b) in enumerate(damaged) if cut is not None and a - LEAD_S <= cut < b), None)
        shown = list(range(min(len(damaged), LISTED_DAMAGE)))
        if end is not None and end not in shown:
            shown = [*shown[:-1], end]
        spans, last = [], -1
        for i in shown:
            if i > last + 1:
                spans.append(_stretches(i - last - 1))
            a, b = damaged[i]
            span = f"{format_time(a)} to {format_time(b)}"
            if i == end and cut is not None:
                span += ", the file cut short" if cut <= a + LEAD_S else f", the file cut short from {format_time(cut)}"
            spans.append(span)
            last = i
        if len(damaged) > last + 1:
            spans.append(f"and {_stretches(len(damaged) - last - 1)}")
        said.append(f"of {name}, {_length(sum(b - a for a, b in damaged))}"
                    + (" could not be decoded" if not said else "") + f" ({'; '.join(spans)})")
    if not said:
        return ""
    one = len(said) == 1
    return (f"{'A damaged video' if one else 'Damaged videos'}: {'; '.join(said)}. Nothing there was analysed: "
            f"{'its' if one else 'their'} minutes, and the per cent of {'its' if one else 'each'} session, count "
            "the time analysed only.")


def _stretches(more: int) -> str:
    """The stretches of :func:`damage_note_of` not listed, in words: "1 more stretch", "3 more stretches"."""
    return f"{more} more stretch{'es' if more != 1 else ''}"


def _length(seconds: float) -> str:
    """How long a stretch lasts, for people: "25 s", "3 min 05 s", "1 h 02 min"."""
    whole = round(seconds)
    if whole < 1:
        return "under 1 s"
    h, rest = divmod(whole, 3600)
    return f"{h} h {rest // 60:02d} min" if h else f"{rest // 60} min {rest % 60:02d} s" if rest >= 60 else f"{rest} s"


def compare_sessions(sessions: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """One row per session (index: its name, in the mapping's order).

    Columns: ``duration_min`` (from the log's start, :func:`~fer_core.session.log_start`, to
    its end, :func:`~fer_core.session.log_end`; for a log joined from parts of a video, the
    parts' time only, :func:`~fer_core.session.log_parts`), ``faces_median`` and
    ``faces_max`` (faces in view at once, over the frames with a face), ``face_numbers``
    (anonymous numbers given out: a face that leaves and comes back gets a new one),
    ``observations``, the seven expression shares, ``negative`` (angry + fear + sad),
    ``valence`` (derived, -1 to 1) and ``looking`` (share of the observations with attention
    measured that looked at the camera; NaN when none was measured).
    """
    rows = []
    for name, df in sessions.items():
        parts = log_parts(df)
        duration_min = (sum(b - a for a, b in parts) if parts else log_end(df) - log_start(df)) / 60.0
        if df.empty:
            row: dict[str, object] = {"session": name, "duration_min": duration_min, "faces_median": 0.0,
                                      "faces_max": 0,
                                      "face_numbers": 0, "observations": 0, **{lab: np.nan for lab in LABELS},
                                      "negative": np.nan, "valence": np.nan, "looking": np.nan}
        else:
            per_frame = df.groupby("time_s").size()
            looking = measure_values(df, LOOKING)
            row = {"session": name, "duration_min": duration_min,
                   "faces_median": float(per_frame.median()), "faces_max": int(per_frame.max()),
                   "face_numbers": int(df["face_id"].nunique()), "observations": len(df),
                   **{lab: float(df[lab].mean()) for lab in LABELS},
                   "negative": float(measure_values(df, NEGATIVE).mean()),
                   "valence": float(measure_values(df, VALENCE).mean()),
                   "looking": float(np.nanmean(looking)) if np.isfinite(looking).any() else np.nan}
        rows.append(row)
    if not rows:  # no session: the columns all the same, for the pages and the report
        return pd.DataFrame(columns=["duration_min", "faces_median", "faces_max", "face_numbers", "observations",
                                     *LABELS, "negative", "valence", "looking"]).rename_axis("session")
    return pd.DataFrame(rows).set_index("session")


def measure_over_time(sessions: Mapping[str, pd.DataFrame], measure: str, *, axis: str = SHARE,
                      segments: int = 10, bin_min: float = 5.0) -> pd.DataFrame:
    """The mean of ``measure`` per time bin, one column per session (in the mapping's order).

    ``axis=SHARE``: each session's time analysed cut into ``segments`` equal parts (index: the
    middle of each part, in per cent), so a 40- and a 90-minute lecture line up start to end. The
    time not analysed (:func:`~fer_core.session.unanalysed`: a live stream stopped, or a pause
    without a picture; the gaps between parts of a video) is left out, as the table's minutes
    leave it out: a 2-hour session with a 1-hour pause in the middle has its second hour of
    analysis from 50 % on, not its middle 50 % empty. ``axis=MINUTES``: bins of ``bin_min``
    minutes from each start (index: the bin's middle, in minutes), pauses included (shown as
    gaps). A session's start is where its analysis began
    (:func:`~fer_core.session.log_start`: 0 but for part of a video), its end its last
    analysed frame (:func:`~fer_core.session.log_end`: with a face or not). Bins without an
    observation (or without a measurement) are NaN, every one of them from the first to the last.
    """
    if measure not in MEASURES:
        raise ValueError(f"unknown measure {measure!r}; choose one of {', '.join(MEASURES)}")
    if axis == SHARE:
        if segments < 1:
            raise ValueError("segments must be >= 1")
        width = 100.0 / segments
    elif axis == MINUTES:
        if bin_min <= 0:
            raise ValueError("bin_min must be > 0")
        width = float(bin_min)
    else:
        raise ValueError(f"axis must be {SHARE!r} or {MINUTES!r}")
    columns = {}
    for name, df in sessions.items():
        if df.empty:
            columns[name] = pd.Series(dtype=float)
            continue
        t = df["time_s"].to_numpy(np.float64) - log_start(df)
        if axis == SHARE:
            t, end = analysed_time(df)
            pos = 100.0 * t / end if end > 0 else np.zeros_like(t)
            k = np.minimum(np.floor(pos / width), segments - 1)  # the last instant joins the last part
        else:
            k = np.floor(t / 60.0 / width)
        values = pd.Series(measure_values(df, measure))
        columns[name] = values.groupby(k).mean()  # NaN values (not measured) are skipped
    out = pd.DataFrame(columns)
    if axis == MINUTES and len(out):
        # Every bin up to the last, as every part below: bins that no session has would otherwise
        # be left out and the lines drawn straight across them (two lessons, each with its camera
        # off over the same break, read as seen through it).
        out = out.reindex(np.arange(float(out.index.max()) + 1))
    out.index = np.round((out.index.to_numpy(np.float64) + 0.5) * width, 6)
    if axis == SHARE:  # every part, so that a session without faces in one shows a gap there
        out = out.reindex(np.round((np.arange(segments) + 0.5) * width, 6))
    out.index.name = "percent" if axis == SHARE else "minutes"
    return out.sort_index()


def analysed_time(df: pd.DataFrame) -> tuple[np.ndarray, float]:
    """Each row's time on the clock of the analysis alone, from the log's start
    (:func:`~fer_core.session.log_start`) with the spans not analysed
    (:func:`~fer_core.session.unanalysed`) taken out, and the time analysed in all, to its end
    (:func:`~fer_core.session.log_end`)."""
    start = log_start(df)
    clock = df["time_s"].to_numpy(np.float64) - start
    t, end = clock.copy(), log_end(df) - start
    # Each span is measured on the log's own clock (``clock``, ``end0``): taken off the times already
    # shifted by the spans before it, a second pause squeezed the rows after it onto one instant.
    end0 = end
    for a, b in unanalysed(df):
        a, b = max(a - start, 0.0), max(b - start, 0.0)
        if b > a:
            t -= np.clip(clock - a, 0.0, b - a)
            end -= min(max(end0 - a, 0.0), b - a)
    return t, end


def table_for_display(comparison: pd.DataFrame, *, lengths: bool = False) -> pd.DataFrame:
    """:func:`compare_sessions` rounded, with readable column names, for the page and CSV. ``lengths``
    (the page, the report): each session's length as people read it, "12 s" or "2.5 min"
    (:func:`~fer_core.session.length_text`), in a column "length" in place of "minutes" (a 12 s clip
    read 0.2); the CSV keeps its column of minutes."""
    out = pd.DataFrame(index=comparison.index)
    if lengths:
        out["length"] = [length_text(60.0 * m) for m in comparison["duration_min"]]
    else:
        out["minutes"] = comparison["duration_min"].round(1)
    out["faces at once (median)"] = comparison["faces_median"].round(1)
    out["most faces at once"] = comparison["faces_max"]
    out["observations"] = comparison["observations"]
    for lab in LABELS:
        out[lab] = (100 * comparison[lab]).round(1)
    out["negative %"] = (100 * comparison["negative"]).round(1)
    out["valence"] = comparison["valence"].round(2) + 0.0  # + 0.0: a slightly negative mean reads 0.00, not -0.00
    out["looking at camera %"] = (100 * comparison["looking"]).round(1)
    return out.reset_index()
