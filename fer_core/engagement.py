"""Session analytics of attention (head pose, eyes) and a derived valence/arousal summary.

Plain functions of a session log's DataFrame (``SessionLog.to_frame()``), like those of
:mod:`fer_core.session`; the attention ones need the log's ``ATTENTION_COLUMNS`` (present
when the session was analysed with attention on) and return empty results without them.

What these numbers are: where a head points and whether the eyes are open, measured from
the image. They are not a measure of learning, interest or understanding: a student can
look at the camera and think of something else, or look down at notes and follow closely.

Valence and arousal are *derived* from the seven expression probabilities (each
expression's place in the circumplex, weighted by its probability); they are not the
output of a separate model and inherit every error of the expression model.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from fer_core.attention import CLOSED_BELOW
from fer_core.labels import LABELS
from fer_core.session import next_bin, sample_step, stretch_ends

#: Pleasure (valence) and arousal of each expression, from Russell & Mehrabian (1977),
#: "Evidence for a three-factor theory of emotions", Journal of Research in Personality
#: 11(3), 273-294: mean ratings of emotion terms on pleasure, arousal and dominance (unused
#: here), scale -1 to 1. Terms: angry, disgust, fearful, happy, sad, surprised; neutral is
#: put at the origin (our choice, not a rated term). Verified against secondary copies only,
#: not the paper itself: GamSeong-HwaBaek/GamSeong-HwaBaek ``Emotion-PAD.md`` lists these six
#: (P, A, D) triples with their item numbers in the paper's list (82, 75, 101, 31, 151, 52),
#: and several other open-source PAD mappings of the six basic emotions carry the same numbers.
#: Different values also circulate for joy (0.76, 0.48) and fear (-0.62, 0.82); we did not
#: trace them to this paper. docs/ATTENTION.md has the details.
CIRCUMPLEX: dict[str, tuple[float, float]] = {
    "Angry": (-0.51, 0.59),
    "Disgust": (-0.60, 0.35),
    "Fear": (-0.64, 0.60),
    "Happy": (0.81, 0.51),
    "Sad": (-0.63, -0.27),
    "Surprise": (0.40, 0.67),
    "Neutral": (0.0, 0.0),
}
#: Default thresholds of the attention flags (settings on the pages).
LOOK_AWAY_S = 10.0
EYES_CLOSED_S = 3.0
#: Observations of one face further apart than this (s) are a gap (the face was not seen), or
#: further apart than GAP_STEPS of the log's steps when its frames are sparser (a video analysed
#: at 0.5 frames a second, the live page's snapshots): one frame missed is not a gap.
GAP_S = 2.0
GAP_STEPS = 2.5


def has_attention(df: pd.DataFrame) -> bool:
    """Whether the log has attention measurements."""
    return "yaw" in df.columns and bool(df["yaw"].notna().any())


def valence_arousal(probabilities: np.ndarray | Sequence[Sequence[float]]) -> np.ndarray:
    """(N, 2) valence and arousal of (N, 7) probabilities in LABELS order: the
    probability-weighted mean of the expressions' circumplex coordinates (:data:`CIRCUMPLEX`)."""
    p = np.asarray(probabilities, np.float64).reshape(-1, len(LABELS))
    coords = np.array([CIRCUMPLEX[lab] for lab in LABELS])
    return p @ coords


def valence_arousal_timeline(df: pd.DataFrame, bin_s: float) -> pd.DataFrame:
    """Mean valence and arousal per time bin over all faces: index time_s (bin start),
    columns valence, arousal. Derived from the probabilities (see the module docstring).

    Where no face was seen for longer than a bin, a row of NaN follows the last bin before it, as
    in :func:`attention_timeline`, so that the path breaks there: it drew a line straight across a
    live session's 10 minutes with the laptop asleep, or the class out of view, as if it had been
    followed through them."""
    if not bin_s > 0:
        raise ValueError("bin_s must be > 0")
    if df.empty:
        return pd.DataFrame(columns=["valence", "arousal"], dtype=float)
    va = valence_arousal(df[list(LABELS)].to_numpy())
    start = np.round(np.floor(df["time_s"].to_numpy() / bin_s) * bin_s, 6)
    out = pd.DataFrame(va, columns=["valence", "arousal"]).groupby(start).mean()
    return _broken_at_gaps(out, bin_s, sample_step(df))


def _durations(t: np.ndarray, gap_s: float, ends: np.ndarray | None = None) -> np.ndarray:
    """Seconds each observation stands for: up to the next one; the typical (median) step
    for the last one and for one followed by a gap of more than ``gap_s``, but not past
    ``ends`` (where the analysis that saw it ended, :func:`~fer_core.session.stretch_ends`): a
    face seen in every frame of a session is present as long as the session lasts."""
    if len(t) == 0:
        return np.zeros(0)
    step = np.diff(t)
    typical = float(np.median(step[step <= gap_s])) if (step <= gap_s).any() else 0.0
    last = np.full(len(t), typical) if ends is None else np.clip(ends - t, 0.0, typical)
    return np.where(np.append(step, np.inf) <= gap_s, np.append(step, 0.0), last)


def _longest_run(flags: np.ndarray, t: np.ndarray, dur: np.ndarray, gap_s: float) -> tuple[float, int]:
    """Longest time (s) that ``flags`` stays true without a gap, and the number of runs."""
    best, runs, cur, prev_t = 0.0, 0, 0.0, None
    for f, ti, d in zip(flags, t, dur):
        if f and cur > 0 and prev_t is not None and ti - prev_t <= gap_s:
            cur += d
        elif f:
            cur = d
            runs += 1
        else:
            cur = 0.0
        best = max(best, cur)
        prev_t = ti
    return best, runs


@dataclass(frozen=True)
class FaceAttention:
    """Attention of one face over a session."""

    face_id: int
    present_s: float  # time the face was in view (observations, gaps left out, never past the session's end)
    measured_s: float  # of which with attention measured
    looking_share: float  # share of the time looking was measured, looking at the camera (NaN when never)
    longest_away_s: float  # longest stretch not looking at the camera (eyes closed counts as away)
    longest_closed_s: float  # longest stretch with both eyes closed
    blinks: int  # stretches with both eyes closed (blinks need the log at >= 10 rows/s to be seen)
    blinks_per_min: float
    looked_away: bool  # longest_away_s >= the look-away threshold
    eyes_closed: bool  # longest_closed_s >= the eyes-closed threshold


def attention_summary(df: pd.DataFrame, *, away_s: float = LOOK_AWAY_S, closed_s: float = EYES_CLOSED_S,
                      gap_s: float | None = None) -> list[FaceAttention]:
    """Per face: time present, share of it looking at the camera, blinks, longest look-away
    and eyes-closed stretches, and the two flags. ``[]`` when the log has no attention.
    ``gap_s``: observations of a face further apart are a gap; None: :data:`GAP_S`, or
    :data:`GAP_STEPS` times the log's step (:func:`~fer_core.session.sample_step`) if larger."""
    if df.empty or not has_attention(df):
        return []
    if gap_s is None:
        # With rows 2 s apart (a video at 0.5 frames a second) a fixed 2 s cut every stretch into
        # single rows: a face turned away for 40 s read as 3.9 s, and snapshots 5 s apart as absent.
        gap_s = max(GAP_S, GAP_STEPS * sample_step(df))
    out = []
    for fid, g in df.sort_values("time_s", kind="stable").groupby("face_id", sort=True):
        t = g["time_s"].to_numpy(np.float64)
        dur = _durations(t, gap_s, stretch_ends(df, t))
        measured = g["yaw"].notna().to_numpy()
        looked = g["looking"].to_numpy(np.float64)
        # A pose measured without the eyes (a face new on a pose-only frame of the live page's
        # eyes_every, or analyze(iris=False)) says nothing about looking: neither way, as in
        # compare and the attention timeline. It once counted as looking away.
        judged = measured & np.isfinite(looked)
        looking = (looked == 1.0) & judged
        eyes = np.fmax(g["eye_left"].to_numpy(np.float64), g["eye_right"].to_numpy(np.float64))
        closed = measured & (eyes < CLOSED_BELOW)
        m_s = float(dur[measured].sum())
        j_s = float(dur[judged].sum())
        share = float(dur[looking].sum() / j_s) if j_s > 0 else float("nan")
        away, _ = _longest_run(judged & ~looking, t, dur, gap_s)
        shut, blinks = _longest_run(closed, t, dur, gap_s)
        present = float(dur.sum())
        out.append(FaceAttention(face_id=int(fid), present_s=present, measured_s=m_s, looking_share=share,
                                 longest_away_s=away, longest_closed_s=shut, blinks=blinks,
                                 blinks_per_min=60.0 * blinks / m_s if m_s > 0 else 0.0,
                                 looked_away=away >= away_s, eyes_closed=shut >= closed_s))
    return out


def attention_table(summary: Sequence[FaceAttention]) -> pd.DataFrame:
    """The summary as a table for the pages and the report (rounded, readable column names)."""
    rows = [{"face": s.face_id, "present (s)": round(s.present_s, 1),
             "looking at camera": None if np.isnan(s.looking_share) else f"{s.looking_share:.0%}",
             "longest look-away (s)": round(s.longest_away_s, 1),
             "longest eyes closed (s)": round(s.longest_closed_s, 1), "blinks": s.blinks,
             "blinks/min": round(s.blinks_per_min, 1),
             "flags": ", ".join(f for f, on in (("looked away", s.looked_away), ("eyes closed", s.eyes_closed))
                                if on)} for s in summary]
    return pd.DataFrame(rows)


def attention_timeline(df: pd.DataFrame, bin_s: float) -> pd.DataFrame:
    """Per time bin over all faces with attention measured: index time_s (bin start); columns
    ``looking`` (share of observations looking at the camera), ``eyes_closed`` (share with
    both eyes closed), ``yaw`` and ``pitch`` (mean degrees). Empty without attention.

    Where no face was measured for longer than a bin (and the log's step, as
    ``fer_core.session.negative_streaks`` judges a gap), a row of NaN follows the last bin before
    it, so that a chart's lines break there. Without it a live session with the laptop suspended
    for 40 minutes drew "looking at camera 100 %" straight across the 40 minutes."""
    cols = ["looking", "eyes_closed", "yaw", "pitch"]
    if not bin_s > 0:
        raise ValueError("bin_s must be > 0")
    if df.empty or not has_attention(df):
        return pd.DataFrame(columns=cols, dtype=float)
    d = df[df["yaw"].notna()]
    start = np.round(np.floor(d["time_s"].to_numpy() / bin_s) * bin_s, 6)
    eyes = np.fmax(d["eye_left"].to_numpy(np.float64), d["eye_right"].to_numpy(np.float64))
    frame = pd.DataFrame({"looking": d["looking"].to_numpy(np.float64),
                          "eyes_closed": (eyes < CLOSED_BELOW).astype(float),
                          "yaw": d["yaw"].to_numpy(np.float64), "pitch": d["pitch"].to_numpy(np.float64)})
    return _broken_at_gaps(frame.groupby(start).mean(), bin_s, sample_step(df))


def _broken_at_gaps(binned: pd.DataFrame, bin_s: float, step: float) -> pd.DataFrame:
    """Per-bin rows (index: bin start) with a row of NaN after each bin that no bin follows (as
    ``fer_core.session.negative_streaks`` judges a gap), so that a chart's lines break there."""
    t = binned.index.to_numpy(np.float64)
    gaps = t[:-1][~next_bin(np.diff(t), bin_s, step)]
    if len(gaps):
        binned = binned.reindex(np.union1d(t, np.round(gaps + bin_s, 6)))
    binned.index.name = "time_s"
    return binned


def attentive_now(faces: Sequence[object]) -> tuple[int, int]:
    """(faces looking at the camera, faces with attention measured) among ``faces``."""
    measured = [f for f in faces if getattr(f, "looking_at_camera", None) is not None]
    return sum(bool(getattr(f, "looking_at_camera", False)) for f in measured), len(measured)


#: Up to this many faces with attention measured, the live page names each one's yaw and pitch in
#: one line (:func:`pose_readout`, about 30 characters a face); a class gets counts instead
#: (:func:`pose_summary`) and a table of each face (:func:`pose_table`). A class of 44 made that
#: line 1,356 characters long.
POSE_LINE_MAX_FACES = 6


def _eyes_closed(face: object) -> bool:
    eyes = getattr(face, "eyes_open", None)
    return eyes is not None and max(eyes) < CLOSED_BELOW


def _posed(faces: Sequence[object]) -> list[tuple[object, tuple[float, ...]]]:
    """The faces with a head pose measured, each with its pose."""
    return [(f, pose) for f in faces if (pose := getattr(f, "pose", None)) is not None]


def pose_readout(faces: Sequence[object]) -> str:
    """One line for the live page: each measured face's yaw and pitch, and closed eyes."""
    parts = []
    for f, pose in _posed(faces):
        parts.append(f"Face {getattr(f, 'face_id', '?')}: yaw {pose[0]:+.0f}°, pitch {pose[1]:+.0f}°"
                     + (", eyes closed" if _eyes_closed(f) else ""))
    return " · ".join(parts)


def _named(faces: list[object], most: int) -> str:
    """" (Faces 3, 7 and 2 more)": the first ``most`` face numbers of ``faces``; "" for none."""
    if not faces:
        return ""
    ids = [str(getattr(f, "face_id", "?")) for f in faces]
    shown = ", ".join(ids[:most]) + (f" and {len(ids) - most} more" if len(ids) > most else "")
    return f" (Face{'s' if len(ids) > 1 else ''} {shown})"


def pose_summary(faces: Sequence[object], most_named: int = 8) -> str:
    """One line for a class on the live page: of the faces with a head pose measured, how many
    look at the camera, look away and have their eyes closed (each face in one of the three),
    naming the first ``most_named`` faces that look away or have their eyes closed. A face with a
    pose and no eyes measured yet (new on a pose-only frame, ``LiveAnalyzer(eyes_every=N)``) counts
    neither way, as in :func:`attentive_now`: it is said apart."""
    posed = [f for f, _ in _posed(faces)]
    closed = [f for f in posed if _eyes_closed(f)]
    looking = [f for f in posed if not _eyes_closed(f) and getattr(f, "looking_at_camera", None) is True]
    away = [f for f in posed if not _eyes_closed(f) and getattr(f, "looking_at_camera", None) is False]
    unknown = len(posed) - len(closed) - len(looking) - len(away)
    return (f"{len(posed)} face{'s' if len(posed) != 1 else ''}: {len(looking)} "
            f"look{'s' if len(looking) == 1 else ''} at the camera, "
            f"{len(away)} look{'s' if len(away) == 1 else ''} away{_named(away, most_named)}, "
            f"{len(closed)} {'has its' if len(closed) == 1 else 'have their'} eyes closed"
            f"{_named(closed, most_named)}" + (f", {unknown} without eyes measured yet" if unknown else ""))


def _yes_no(value: object) -> str:
    return "" if value is None else "yes" if value else "no"


def pose_table(faces: Sequence[object]) -> pd.DataFrame:
    """Each face with a head pose measured, by face number: yaw and pitch (whole degrees), eyes
    open or closed, and whether it looks at the camera (both empty where its eyes are not
    measured yet)."""
    rows = [{"Face": getattr(f, "face_id", None),
             "Yaw (°)": int(round(pose[0])), "Pitch (°)": int(round(pose[1])),
             "Eyes": ("closed" if _eyes_closed(f) else "open") if getattr(f, "eyes_open", None) is not None else "",
             "Looking at the camera": _yes_no(getattr(f, "looking_at_camera", None))}
            for f, pose in _posed(faces)]
    table = pd.DataFrame(rows, columns=["Face", "Yaw (°)", "Pitch (°)", "Eyes", "Looking at the camera"])
    return table.sort_values("Face", kind="stable").reset_index(drop=True)
