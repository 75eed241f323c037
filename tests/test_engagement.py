"""Tests of the attention columns of the session log and of fer_core.engagement's analytics."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest

from fer_core import engagement as eng
from fer_core.labels import LABELS
from fer_core.session import ATTENTION_COLUMNS, COLUMNS, SessionLog

HAPPY = tuple(1.0 if lab == "Happy" else 0.0 for lab in LABELS)


@dataclass(frozen=True)
class Face:
    face_id: int
    box: tuple[int, int, int, int]
    probabilities: tuple[float, ...]
    pose: tuple[float, float, float] | None = None
    eyes_open: tuple[float, float] | None = None
    looking_at_camera: bool | None = None


def scripted_log(fps: float = 10.0) -> SessionLog:
    """Face 1 over 30 s: looks at the camera, looks away 12 s (10-22 s), blinks twice
    (0.2 s each), closes its eyes for 4 s (24-28 s). Face 2: 5 s, no attention measured."""
    log = SessionLog()
    for i in range(int(30 * fps)):
        t = i / fps
        away = 10.0 <= t < 22.0
        blink = 3.0 <= t < 3.2 or 6.0 <= t < 6.2
        shut = 24.0 <= t < 28.0
        eyes = (0.05, 0.1) if blink or shut else (0.9, 0.95)
        faces = [Face(1, (10, 10, 50, 50), HAPPY, (40.0 if away else 2.0, -3.0, 1.0), eyes,
                      not (away or blink or shut))]
        if t < 5:
            faces.append(Face(2, (100, 10, 50, 50), HAPPY))
        log.add_frame(t, faces)
    return log


def test_log_keeps_attention_columns_only_when_measured():
    plain = SessionLog()
    plain.add_frame(0.0, [Face(1, (0, 0, 10, 10), HAPPY)])
    assert list(plain.to_frame().columns) == [*COLUMNS, "label", "confidence"]
    log = scripted_log()
    df = log.to_frame()
    assert set(ATTENTION_COLUMNS) <= set(df.columns)
    assert df.loc[df.face_id == 2, "yaw"].isna().all() and df.loc[df.face_id == 1, "yaw"].notna().all()
    back = SessionLog.from_csv(log.to_csv()).to_frame()
    np.testing.assert_allclose(back["yaw"].to_numpy(), df["yaw"].to_numpy(), equal_nan=True)
    np.testing.assert_array_equal(back["looking"].fillna(-1).to_numpy(), df["looking"].fillna(-1).to_numpy())
    # An old CSV without the columns still loads, and has no attention.
    old = SessionLog.from_csv(plain.to_csv()).to_frame()
    assert not eng.has_attention(old) and eng.attention_summary(old) == []


def test_attention_summary_of_a_scripted_session():
    summary = {s.face_id: s for s in eng.attention_summary(scripted_log().to_frame(), away_s=10, closed_s=3)}
    assert set(summary) == {1, 2}
    s2 = summary[2]  # no attention measured: present, nothing else
    assert s2.present_s == pytest.approx(5.0, abs=0.2) and s2.measured_s == 0 and np.isnan(s2.looking_share)
    assert not (s2.looked_away or s2.eyes_closed)
    s = summary[1]
    assert s.present_s == pytest.approx(30.0, abs=0.2)
    assert s.longest_away_s == pytest.approx(12.0, abs=0.2)
    assert s.longest_closed_s == pytest.approx(4.0, abs=0.2)
    assert s.blinks == 3  # two blinks and the long closure
    # Looking: 30 s minus 12 away, 4 closed and 0.4 of blinks.
    assert s.looking_share == pytest.approx((30 - 12 - 4 - 0.4) / 30, abs=0.01)
    assert s.looked_away and s.eyes_closed
    summary = eng.attention_summary(scripted_log().to_frame(), away_s=15, closed_s=5)
    assert not summary[0].looked_away and not summary[0].eyes_closed
    table = eng.attention_table(summary)
    assert list(table["face"]) == [1, 2] and table.loc[0, "looking at camera"] == "45%"
    assert pd.isna(table.loc[1, "looking at camera"])


def test_a_pose_without_the_eyes_is_not_looking_away():
    """Rows with a head pose but no eye measurement (a face new on a pose-only frame of the live
    page's eyes_every, or analyze(iris=False)): not counted either way, as compare and the timeline
    do. They once made a face that looked at the camera throughout 'look away'."""
    from fer_core.compare import LOOKING, compare_sessions, measure_over_time

    log = SessionLog()
    for i in range(200):  # 20 s: the pose alone for the first 12 s, then everything, looking
        eyes = i >= 120
        log.add_frame(i / 10, [Face(1, (0, 0, 9, 9), HAPPY, (2.0, -3.0, 0.0), (0.9, 0.9) if eyes else None,
                                    True if eyes else None)])
    df = log.to_frame()
    s = eng.attention_summary(df, away_s=10)[0]
    assert s.looking_share == 1.0 and s.longest_away_s == 0.0 and not s.looked_away
    assert s.measured_s == pytest.approx(20.0, abs=0.2)
    assert compare_sessions({"a": df})["looking"].iloc[0] == 1.0
    assert np.nanmin(measure_over_time({"a": df}, LOOKING).to_numpy()) == 1.0
    # Pose only throughout: nothing said about looking, and no flag.
    only = SessionLog()
    for i in range(200):
        only.add_frame(i / 10, [Face(1, (0, 0, 9, 9), HAPPY, (2.0, -3.0, 0.0))])
    s = eng.attention_summary(only.to_frame(), away_s=10)[0]
    assert np.isnan(s.looking_share) and not s.looked_away


def test_gaps_split_runs():
    log = SessionLog()
    for t in np.arange(0, 4, 0.5):
        log.add_frame(float(t), [Face(1, (0, 0, 9, 9), HAPPY, (50.0, 0, 0), (1, 1), False)])
    for t in np.arange(10, 14, 0.5):  # seen again after a 6.5 s gap
        log.add_frame(float(t), [Face(1, (0, 0, 9, 9), HAPPY, (50.0, 0, 0), (1, 1), False)])
    s = eng.attention_summary(log.to_frame())[0]
    # Each row stands for the 0.5 s up to the next frame; the last, at 13.5 s, ends the session.
    assert s.longest_away_s == pytest.approx(4.0) and s.present_s == pytest.approx(7.5)


@pytest.mark.parametrize("step", [2.002, 5.0])  # a video at 0.5 frames a second (29.97 fps); live snapshots
def test_sparse_rows_are_a_stretch_not_single_rows(step):
    """A face turned away for 40 s, logged every ``step`` seconds: one look-away, flagged, as long
    as the session (its last row ends it). A fixed 2 s gap once cut it into single rows (3.9 s at
    2.002 s, absent at 5 s)."""
    log = SessionLog()
    n = int(round(40.0 / step))
    for i in range(n):
        log.add_frame(i * step, [Face(1, (0, 0, 9, 9), HAPPY, (45.0, 0, 0), (1, 1), False)])
    s = eng.attention_summary(log.to_frame())[0]
    session = log.summary().duration_s
    assert session == pytest.approx((n - 1) * step)
    assert s.present_s == pytest.approx(session) and s.longest_away_s == pytest.approx(session)
    assert s.looked_away and s.looking_share == 0.0
    # Gone for longer than a few of the log's steps is still a gap; the first stretch's last row
    # stands for one step, up to the next frame.
    for i in range(n):
        log.add_frame(100.0 + i * step, [Face(1, (0, 0, 9, 9), HAPPY, (45.0, 0, 0), (1, 1), False)])
    s = eng.attention_summary(log.to_frame())[0]
    assert s.longest_away_s == pytest.approx(n * step) and s.present_s == pytest.approx((2 * n - 1) * step)


def test_time_present_is_never_longer_than_the_session():
    """Paper answers: frames every 0.5 s. A face in every frame of a session from 0 to 10 s is
    present 10 s, the session's duration (it read 10.5 s); seen up to 10 s of a session that goes
    on to 20 s, it stood for 10.5 s (up to the frame at 10.5 s that did not see it); in two
    parts of 10 s joined, each part's face is present 10 s, and together the parts' time."""
    def seen(log, times, fid=1, away=()):
        for t in times:
            log.add_frame(float(t), [Face(fid, (0, 0, 9, 9), HAPPY, (45.0 if t in away else 0.0, 0, 0), (1, 1),
                                          t not in away)])

    whole = SessionLog()
    seen(whole, np.arange(0, 10.01, 0.5), away=(4.0, 4.5, 5.0, 5.5, 6.0, 6.5))  # away exactly 3 s
    s = eng.attention_summary(whole.to_frame())[0]
    assert whole.summary().duration_s == 10.0 and s.present_s == pytest.approx(10.0)
    assert s.longest_away_s == pytest.approx(3.0) and s.looking_share == pytest.approx(7.0 / 10.0)
    assert eng.attention_table([s])["present (s)"].iloc[0] == 10.0
    longer = SessionLog()
    seen(longer, np.arange(0, 10.01, 0.5))
    for t in np.arange(10.5, 20.01, 0.5):
        longer.add_frame(float(t), [])
    assert eng.attention_summary(longer.to_frame())[0].present_s == pytest.approx(10.5)
    parts = []
    for start in (0.0, 100.0):
        part = SessionLog(start_s=start)
        seen(part, np.arange(start, start + 10.01, 0.5))
        parts.append(part)
    joined = SessionLog.join(parts)
    present = [a.present_s for a in eng.attention_summary(joined.to_frame())]
    assert present == pytest.approx([10.0, 10.0]) and joined.summary().analysed_s == 20.0
    back = SessionLog.from_csv(joined.to_csv())  # read back, the same
    assert [a.present_s for a in eng.attention_summary(back.to_frame())] == pytest.approx([10.0, 10.0])


def test_attention_timeline():
    tl = eng.attention_timeline(scripted_log().to_frame(), bin_s=2.0)
    assert tl.loc[0.0, "looking"] == 1.0 and tl.loc[12.0, "looking"] == 0.0
    assert tl.loc[12.0, "yaw"] == pytest.approx(40.0) and tl.loc[24.0, "eyes_closed"] == 1.0
    assert eng.attention_timeline(SessionLog().to_frame(), 2.0).empty


def test_attention_timeline_breaks_where_nothing_was_measured():
    """A live session with the laptop suspended for 40 minutes (no frame from 60 s to 2460 s): the
    chart drew "looking at camera 100 %" as one line across the 40 minutes. A NaN row after the
    last bin before the gap breaks it; sparse frames (rows 2 s apart in 1 s bins) are no gap."""
    from fer_core import charts

    log = SessionLog(source="live")
    for t in [*np.arange(0.0, 60.0, 0.5), *np.arange(2460.0, 2520.0, 0.5)]:
        log.add_frame(float(t), [Face(1, (10, 10, 50, 50), HAPPY, (2.0, -3.0, 1.0), (0.9, 0.9), True)])
    tl = eng.attention_timeline(log.to_frame(), 10.0)
    assert tl.loc[50.0, "looking"] == 1.0 and tl.loc[2460.0, "looking"] == 1.0
    assert tl.loc[60.0].isna().all() and len(tl) == 6 + 1 + 6
    trace = charts.attention_timeline(tl).data[0]  # looking at camera
    assert np.isnan(trace.y[list(charts.clock_seconds(trace.x)).index(60.0)]) and not trace.connectgaps
    sparse = SessionLog()
    for t in np.arange(0.0, 60.0, 2.0):
        sparse.add_frame(float(t), [Face(1, (10, 10, 50, 50), HAPPY, (2.0, -3.0, 1.0), (0.9, 0.9), True)])
    assert eng.attention_timeline(sparse.to_frame(), 1.0).notna().all().all()


def test_valence_arousal_from_probabilities():
    eye = np.eye(len(LABELS))
    va = eng.valence_arousal(eye)
    for k, lab in enumerate(LABELS):
        assert tuple(va[k]) == pytest.approx(eng.CIRCUMPLEX[lab])
    assert va[LABELS.index("Happy"), 0] > 0.5 and va[LABELS.index("Sad"), 1] < 0
    mixed = eng.valence_arousal([0.5 * (eye[LABELS.index("Happy")] + eye[LABELS.index("Sad")])])[0]
    assert mixed[0] == pytest.approx(0.5 * (0.81 - 0.63))
    tl = eng.valence_arousal_timeline(scripted_log().to_frame(), 5.0)
    np.testing.assert_allclose(tl["valence"], 0.81) and np.testing.assert_allclose(tl["arousal"], 0.51)


def test_attentive_now():
    faces = [Face(1, (0, 0, 1, 1), HAPPY, (0, 0, 0), (1, 1), True),
             Face(2, (0, 0, 1, 1), HAPPY, (40, 0, 0), (1, 1), False), Face(3, (0, 0, 1, 1), HAPPY)]
    assert eng.attentive_now(faces) == (1, 2)


def test_html_report_has_attention_and_valence_sections():
    from fer_core.report import ReportOptions, build_html_report

    html = build_html_report(scripted_log(), ReportOptions(bin_s=2.0, look_away_s=10, eyes_closed_s=3))
    assert "Attention (head pose and eyes)" in html and "not learning" in html
    assert "Face 1: looked away for 12 s, eyes closed for 4 s" in html
    assert "Attention over time" in html and "derived" in html
    assert html.count('class="plotly-graph-div"') == 5
    quiet = build_html_report(scripted_log(), ReportOptions(bin_s=2.0, look_away_s=20, eyes_closed_s=5))
    assert "none." in quiet


def test_pose_readout():
    faces = [Face(1, (0, 0, 1, 1), HAPPY, (12.4, -3.0, 0), (0.1, 0.15), False), Face(3, (0, 0, 1, 1), HAPPY)]
    assert eng.pose_readout(faces) == "Face 1: yaw +12°, pitch -3°, eyes closed"


def a_class(n: int = 44) -> list[Face]:
    """``n`` faces with attention measured: every seventh looks away (yaw 40), every eleventh has
    its eyes closed, the rest look at the camera; and one face without attention measured."""
    faces = []
    for k in range(1, n + 1):
        closed, away = k % 11 == 0, k % 7 == 0 and k % 11 != 0
        faces.append(Face(k, (0, 0, 1, 1), HAPPY, (40.0 if away else -8.0, 5.0, 0.0),
                          (0.05, 0.1) if closed else (1.0, 1.0), not (away or closed)))
    return faces + [Face(n + 1, (0, 0, 1, 1), HAPPY)]


def test_pose_summary_of_a_class():
    """A class of 44 on the live page read as one caption of 1,356 characters ("Face 1: yaw -8°,
    pitch +5° · Face 2: ..."); it gets counts, naming the faces that look away or have their eyes
    closed, and a table of each face."""
    faces = a_class()
    assert len(eng.pose_readout(faces)) > 1000  # what the page showed
    summary = eng.pose_summary(faces)
    assert summary == ("44 faces: 34 look at the camera, 6 look away (Faces 7, 14, 21, 28, 35, 42), "
                       "4 have their eyes closed (Faces 11, 22, 33, 44)")
    table = eng.pose_table(faces)
    assert len(table) == 44 and list(table["Face"])[:3] == [1, 2, 3]
    row = table.set_index("Face").loc[7]
    assert (row["Yaw (°)"], row["Pitch (°)"], row["Eyes"], row["Looking at the camera"]) == (40, 5, "open", "no")
    assert table.set_index("Face").loc[11, "Eyes"] == "closed"
    # Many faces away: the first few are named, the rest counted.
    away = [Face(k, (0, 0, 1, 1), HAPPY, (40.0, 0.0, 0.0), (1.0, 1.0), False) for k in range(1, 31)]
    assert eng.pose_summary(away) == ("30 faces: 0 look at the camera, 30 look away (Faces 1, 2, 3, 4, 5, 6, "
                                      "7, 8 and 22 more), 0 have their eyes closed")
    one = [Face(4, (0, 0, 1, 1), HAPPY, (40.0, 0.0, 0.0), (1.0, 1.0), False)]
    assert eng.pose_summary(one) == "1 face: 0 look at the camera, 1 looks away (Face 4), 0 have their eyes closed"
    # A face new on a pose-only frame (a pose, no eyes yet) counts neither way, as "Attentive now".
    new = faces[:3] + [Face(50, (0, 0, 1, 1), HAPPY, (2.0, 1.0, 0.0))]
    assert eng.pose_summary(new) == ("4 faces: 3 look at the camera, 0 look away, 0 have their eyes closed, "
                                     "1 without eyes measured yet")
    assert list(eng.pose_table(new).iloc[-1]) == [50, 2, 1, "", ""]


def test_attention_columns_are_allocated_only_when_logged():
    log = SessionLog()
    log.add_frame(0.0, [Face(1, (0, 0, 10, 10), HAPPY)])
    assert log.nbytes == 1024 * len(COLUMNS) * 8
    log.add_frame(0.5, [Face(1, (0, 0, 10, 10), HAPPY, (5.0, 1.0, 0.0), (1.0, 1.0), True)])
    assert log.nbytes == 1024 * (2 * len(COLUMNS) + len(ATTENTION_COLUMNS)) * 8  # a wide block after the first
    df = log.to_frame()
    assert np.isnan(df.loc[0, "yaw"]) and df.loc[1, "yaw"] == 5.0 and df.loc[1, "looking"] == 1.0
    assert df.loc[0, "Happy"] == 1.0  # the earlier row kept its values when the buffer widened
