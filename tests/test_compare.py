"""Tests of fer_core.compare: several session logs side by side."""
from __future__ import annotations

import numpy as np
import pytest

from fer_core import charts, compare
from fer_core.engagement import CIRCUMPLEX
from fer_core.labels import LABELS
from fer_core.session import SessionLog
from tests.test_engagement import scripted_log


def onehot(label: str) -> list[float]:
    return [1.0 if lab == label else 0.0 for lab in LABELS]


def lecture(minutes: float, first: str, second: str, faces: int = 3, every_s: float = 5.0,
            gap: tuple[float, float] | None = None) -> SessionLog:
    """``faces`` faces show ``first`` for the first half of the session and ``second`` after;
    nobody is in view during ``gap`` (a share of the session, e.g. (0.3, 0.5))."""
    log = SessionLog()
    end = minutes * 60.0
    for t in np.arange(0.0, end + every_s / 2, every_s):
        if gap is not None and gap[0] * end <= t < gap[1] * end:
            log.add_frame(float(t), [])
            continue
        probs = onehot(first if t < end / 2 else second)
        log.add_frame(float(t), [(i, (10 + 90 * i, 10, 80, 80), probs) for i in range(1, faces + 1)])
    return log


def drifting_lecture(seed: int, minutes: float, faces: int, happy_peak: float, every_s: float = 10.0) -> SessionLog:
    """A class whose expressions drift: each face mostly neutral with its own leanings and
    noise, and a wave of smiles around ``happy_peak`` (a share of the session). For the
    real-browser test's screenshot of the Compare page."""
    rng = np.random.default_rng(seed)
    lean = rng.normal(0.0, 0.6, (faces, len(LABELS)))
    lean[:, LABELS.index("Neutral")] += 2.0
    lean[:, LABELS.index("Disgust")] -= 2.0
    drift = np.zeros((faces, len(LABELS)))
    log = SessionLog()
    end = minutes * 60.0
    for t in np.arange(0.0, end, every_s):
        drift = 0.9 * drift + rng.normal(0.0, 0.35, drift.shape)
        wave = 2.5 * np.exp(-((t / end - happy_peak) / 0.12) ** 2)
        logits = lean + drift
        logits[:, LABELS.index("Happy")] += wave
        p = np.exp(logits - logits.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        log.add_frame(float(t), [(i + 1, (10 + 90 * i, 10, 80, 80), p[i]) for i in range(faces)])
    return log


def test_compare_sessions_figures_per_session():
    a = lecture(40, "Happy", "Neutral", faces=3).to_frame()
    b = lecture(90, "Sad", "Sad", faces=5).to_frame()
    table = compare.compare_sessions({"week 1": a, "week 2": b})
    assert list(table.index) == ["week 1", "week 2"]
    assert table.loc["week 1", "duration_min"] == pytest.approx(40.0)
    assert table.loc["week 2", "duration_min"] == pytest.approx(90.0)
    assert table.loc["week 1", "faces_median"] == 3 and table.loc["week 2", "faces_max"] == 5
    assert table.loc["week 2", "face_numbers"] == 5 and table.loc["week 1", "observations"] == 3 * 481
    # Week 1: the first half Happy (t < 20 min: 240 of 481 frames), the rest Neutral.
    assert table.loc["week 1", "Happy"] == pytest.approx(240 / 481)
    assert table.loc["week 1", "Neutral"] == pytest.approx(241 / 481)
    assert table.loc["week 1", "negative"] == 0.0 and table.loc["week 2", "negative"] == pytest.approx(1.0)
    assert table.loc["week 2", "valence"] == pytest.approx(CIRCUMPLEX["Sad"][0])
    assert table.loc["week 1", "valence"] == pytest.approx(CIRCUMPLEX["Happy"][0] * 240 / 481)
    assert np.isnan(table.loc["week 1", "looking"])  # no attention measured
    shares = table[list(LABELS)].sum(axis=1).to_numpy()
    np.testing.assert_allclose(shares, 1.0)


def test_no_session_gives_the_columns_of_one():
    from fer_core.report import build_comparison_report
    from fer_core.session import SessionLog

    none = compare.compare_sessions({})
    assert none.empty and list(none.columns) == list(compare.compare_sessions({"a": SessionLog().to_frame()}).columns)
    assert build_comparison_report({}).startswith("<!DOCTYPE html>")


def test_share_axis_lines_up_sessions_of_different_lengths():
    sessions = {"short": lecture(40, "Happy", "Neutral").to_frame(),
                "long": lecture(90, "Happy", "Neutral").to_frame()}
    curves = compare.measure_over_time(sessions, "Happy", axis=compare.SHARE, segments=10)
    assert list(curves.index) == pytest.approx([5, 15, 25, 35, 45, 55, 65, 75, 85, 95])
    assert list(curves.columns) == ["short", "long"]
    for name in sessions:  # both switch from Happy to Neutral half way through
        np.testing.assert_allclose(curves[name].to_numpy(), [1, 1, 1, 1, 1, 0, 0, 0, 0, 0])


def one_face_with_a_pause(first: str, second: str, minutes: tuple[float, float, float]) -> SessionLog:
    """One person at their laptop: ``first`` for ``minutes[0]`` minutes, the stream stopped for
    ``minutes[1]`` (lunch), then ``second`` for ``minutes[2]``; a row every 2 s, a new face number
    after START, as on the Live page."""
    log = SessionLog(source="live")
    on, off, again = (60.0 * m for m in minutes)
    for t in np.arange(0.0, on, 2.0):
        log.add_frame(float(t), [(1, (200, 100, 150, 150), onehot(first))])
    log.resume()  # STOP, then START
    for t in np.arange(on + off, on + off + again, 2.0):
        log.add_frame(float(t), [(2, (200, 100, 150, 150), onehot(second))])
    return log


def test_share_axis_counts_the_time_analysed_not_the_pauses():
    """Per cent of each session counted clock time, pauses included: a 2-hour session with the
    stream stopped for its middle hour left 4 of 10 parts empty (35 % to 65 %, the curve broken
    there) while the table beside it said 60 minutes. Now the per cent is of the time analysed:
    the first hour of analysis on 0-50 %, the second on 50-100 %, as a session without a pause."""
    paused = one_face_with_a_pause("Happy", "Neutral", (30, 60, 30)).to_frame()
    straight = one_face_with_a_pause("Happy", "Neutral", (20, 0, 20)).to_frame()
    curves = compare.measure_over_time({"paused": paused, "straight": straight}, "Happy", axis=compare.SHARE,
                                       segments=10)
    assert not curves.isna().any().any()
    for name in curves:
        # atol: the first stream's last row is at 50 % exactly, the first of the part after it.
        np.testing.assert_allclose(curves[name].to_numpy(), [1, 1, 1, 1, 1, 0, 0, 0, 0, 0], atol=0.01, err_msg=name)
    # The time axis in minutes still shows the pause, as a gap, where it was on the clock.
    minutes = compare.measure_over_time({"paused": paused}, "Happy", axis=compare.MINUTES, bin_min=10)
    assert minutes["paused"].isna().tolist() == [False] * 3 + [True] * 6 + [False] * 3
    # The table beside the curves counts the same time analysed (to the last rows: 29:58 twice).
    assert compare.compare_sessions({"p": paused}).loc["p", "duration_min"] == pytest.approx(2 * 1798 / 60)
    assert charts.session_curves(curves, "Happy").layout.xaxis.title.text == "per cent of the time analysed"


def test_share_axis_with_two_pauses_and_a_wait_before_the_first_stream():
    """Each span not analysed was taken off the times already shifted by the spans before it: with
    two pauses (three streams of 10 minutes each), the third stream's first half was squeezed onto
    one instant (its rows from 40 to 45 min all at 66.7 %), two of ten parts left empty; with a
    wait before the first stream (a moment named before START), the same."""
    def streams(first_s: float, spans: list[tuple[float, float]]) -> SessionLog:
        log = SessionLog(source="live")
        if first_s > 0:
            log.add_marker(0.0, "before START")
        for k, (a, b) in enumerate(spans):
            if k or first_s > 0:
                log.resume()
            for t in np.arange(60 * a, 60 * b, 6.0):
                # Happy over the first half of the time analysed, Neutral over the second.
                done = sum(min(max(t / 60 - a2, 0.0), b2 - a2) for a2, b2 in spans)
                label = "Happy" if done < sum(b2 - a2 for a2, b2 in spans) / 2 else "Neutral"
                log.add_frame(float(t), [(k + 1, (200, 100, 150, 150), onehot(label))])
        return log

    three = streams(0.0, [(0, 10), (20, 30), (40, 50)]).to_frame()
    late = streams(5.0, [(5, 20), (40, 60)]).to_frame()
    for name, df in (("three", three), ("late", late)):
        t, end = compare.analysed_time(df)
        assert end == pytest.approx(sum(b - a for a, b in compare.log_parts(df))), name
        # Two rows at one instant of analysed time only where a stream ends and the next begins.
        assert np.all(np.diff(t) >= 0) and np.sum(np.diff(t) == 0) == len(compare.log_parts(df)) - 1, name
    curves = compare.measure_over_time({"three": three, "late": late}, "Happy", axis=compare.SHARE, segments=10)
    assert not curves.isna().any().any()
    for name in curves:
        np.testing.assert_allclose(curves[name].to_numpy(), [1, 1, 1, 1, 1, 0, 0, 0, 0, 0], atol=0.05, err_msg=name)


def test_minutes_axis_and_gaps():
    sessions = {"a": lecture(40, "Sad", "Happy").to_frame(),
                "b": lecture(90, "Angry", "Angry", gap=(0.3, 0.5)).to_frame()}
    curves = compare.measure_over_time(sessions, compare.NEGATIVE, axis=compare.MINUTES, bin_min=10)
    # Bins of 10 minutes, labelled by their middle; session a ends at 40 min (one last frame at 40).
    assert list(curves.index) == pytest.approx([5, 15, 25, 35, 45, 55, 65, 75, 85, 95])
    np.testing.assert_allclose(curves["a"].to_numpy()[:5], [1, 1, 0, 0, 0])
    assert curves["a"].iloc[5:].isna().all()
    # Nobody in view from 27 to 45 min: the bin 30-40 min is empty, the others angry.
    assert np.isnan(curves.loc[35, "b"]) and curves["b"].drop(35).eq(1.0).all()
    by_share = compare.measure_over_time(sessions, compare.NEGATIVE, axis=compare.SHARE, segments=10)
    assert by_share["b"].isna().tolist() == [False, False, False, True, True, False, False, False, False, False]


def test_minutes_axis_keeps_bins_no_session_has():
    """Two lessons, each with the camera off over the same break (STOP at 10 min, START at 50,
    and 15 to 45): no session had the bins between 15 and 45 min, so they were left out and both
    lines ran straight across the break, as if the class had been seen through it."""
    happy = tuple(float(lab == "Happy") for lab in LABELS)
    sessions = {}
    for name, (stop, start) in {"a": (600, 3000), "b": (900, 2700)}.items():
        log = SessionLog(source="live")
        for t in [*np.arange(0.0, stop, 0.5), *np.arange(start, 3600.0, 0.5)]:
            log.add_frame(float(t), [(1, (0, 0, 10, 10), happy)])
        sessions[name] = log.to_frame()
    curves = compare.measure_over_time(sessions, "Happy", axis=compare.MINUTES, bin_min=5)
    assert list(curves.index) == pytest.approx(np.arange(2.5, 60, 5))
    assert curves.loc[17.5:42.5].isna().all().all() and curves.loc[52.5:].eq(1.0).all().all()
    assert curves["a"].isna().tolist() == [False, False] + [True] * 8 + [False, False]
    trace = charts.session_curves(curves, "Happy").data[0]
    assert np.isnan(trace.y[list(charts.clock_seconds(trace.x)).index(27.5 * 60)]) and trace.connectgaps is False


def test_looking_and_valence_measures():
    df = scripted_log().to_frame()  # face 1 measured 300 rows, 164 of them not looking; face 2 unmeasured
    table = compare.compare_sessions({"s": df})
    assert table.loc["s", "looking"] == pytest.approx(136 / 300)
    curves = compare.measure_over_time({"s": df}, compare.LOOKING, axis=compare.SHARE, segments=3)
    # 0-10 s: looking but two blinks; 10-20 s: looking away; 20-30 s: back, 4 s with eyes shut.
    np.testing.assert_allclose(curves["s"].to_numpy(), [96 / 100, 0 / 100, 40 / 100], atol=0.011)
    happy = compare.measure_values(df, compare.VALENCE)
    np.testing.assert_allclose(happy, CIRCUMPLEX["Happy"][0])
    plain = lecture(5, "Happy", "Happy").to_frame()
    assert np.isnan(compare.measure_values(plain, compare.LOOKING)).all()


def test_comparison_survives_the_csv_round_trip():
    logs = {"a": lecture(12, "Surprise", "Neutral"), "b": scripted_log()}
    direct = compare.compare_sessions({k: v.to_frame() for k, v in logs.items()})
    back = compare.compare_sessions({k: SessionLog.from_csv(v.to_csv()).to_frame() for k, v in logs.items()})
    np.testing.assert_allclose(back.to_numpy(float), direct.to_numpy(float), atol=1e-4)
    shown = compare.table_for_display(direct)
    assert list(shown["session"]) == ["a", "b"] and shown.loc[0, "Surprise"] == pytest.approx(100 * 72 / 145, abs=0.05)
    # A valence a hair under zero reads 0.00 in the table, the CSV and the report, not -0.00.
    direct.loc["a", "valence"] = -0.001
    assert not np.signbit(compare.table_for_display(direct).loc[0, "valence"])


def test_drifting_lecture_peaks_where_asked():
    sessions = {"early": drifting_lecture(1, 30, 6, 0.25).to_frame(),
                "late": drifting_lecture(2, 50, 9, 0.75).to_frame()}
    curves = compare.measure_over_time(sessions, "Happy", segments=4)
    assert curves["early"].idxmax() == 12.5 and curves["late"].idxmax() == 87.5
    assert compare.compare_sessions(sessions)["faces_max"].tolist() == [6, 9]


def test_empty_sessions_names_and_bad_arguments():
    empty = SessionLog().to_frame()
    table = compare.compare_sessions({"nobody": empty, "a": lecture(1, "Fear", "Fear").to_frame()})
    assert table.loc["nobody", "observations"] == 0 and np.isnan(table.loc["nobody", "Fear"])
    curves = compare.measure_over_time({"nobody": empty}, "Fear", segments=4)
    assert len(curves) == 4 and curves["nobody"].isna().all()
    assert compare.unique_names(["a.csv", "b.csv", "a.csv", "a.csv"]) == ["a.csv", "b.csv", "a.csv (2)", "a.csv (3)"]
    with pytest.raises(ValueError, match="unknown measure"):
        compare.measure_over_time({"a": empty}, "Boredom")
    with pytest.raises(ValueError, match="axis"):
        compare.measure_over_time({"a": empty}, "Happy", axis="hours")
    with pytest.raises(ValueError):
        compare.measure_over_time({"a": empty}, "Happy", segments=0)


def test_comparison_charts_and_report():
    from fer_core import charts
    from fer_core.report import build_comparison_report

    sessions = {"Room <1>": lecture(40, "Happy", "Neutral").to_frame(), "b": scripted_log().to_frame()}
    table = compare.compare_sessions(sessions)
    bars = charts.session_mix_bars(table).data
    # Escaped: Plotly reads some HTML in labels, and shows the entity as "Room <1>".
    assert [t.name for t in bars] == list(LABELS) and list(bars[0].y) == ["Room &lt;1&gt;", "b"]
    np.testing.assert_allclose(bars[LABELS.index("Happy")].x, [240 / 481, 1.0])
    curves = charts.session_curves(compare.measure_over_time(sessions, compare.VALENCE), compare.VALENCE)
    assert len(curves.data) == 2 and list(curves.layout.yaxis.range) == [-1, 1]
    eight = compare.measure_over_time({f"s{i}": sessions["b"] for i in range(8)}, "Happy")
    lines = [(t.line.color, t.line.dash) for t in charts.session_curves(eight, "Happy").data]
    assert len(set(lines)) == 8 and lines[7] == (charts.SESSION_COLORS[0], "dash")

    html = build_comparison_report(sessions)
    assert html.startswith("<!DOCTYPE html>") and "Room &lt;1&gt;" in html and "Room <1>" not in html
    assert "Article 5(1)(f)" in html and "derived from the seven" in html
    # mix bars and four curves (session b measured attention, so looking at the camera is one)
    assert html.count('class="plotly-graph-div"') == 5 and "<td>Room &lt;1&gt;</td>" in html and "<td>b</td>" in html
    assert "<td>+0.40</td>" in html  # valence of the first session: Happy (0.81) 240 of 481 frames
    without = build_comparison_report({"a": sessions["Room <1>"], "c": lecture(5, "Sad", "Sad").to_frame()})
    assert without.count('class="plotly-graph-div"') == 4


def test_a_part_of_a_video_is_compared_from_its_own_start():
    """A log of the part from 1:00:00 of a recording compares like the same log starting at 0."""
    from_zero = lecture(20, "Happy", "Sad")
    shifted = SessionLog(start_s=3600.0)
    df = from_zero.to_frame()
    for t, rows in df.groupby("time_s"):
        shifted.add_frame(t + 3600.0, [(r.face_id, (r.x, r.y, r.w, r.h), [getattr(r, lab) for lab in LABELS])
                                       for r in rows.itertuples()])
    sessions = {"whole": df, "part": SessionLog.from_csv(shifted.to_csv()).to_frame()}
    table = compare.compare_sessions(sessions)
    assert table.loc["part", "duration_min"] == pytest.approx(20.0) == table.loc["whole", "duration_min"]
    for axis in (compare.SHARE, compare.MINUTES):
        curves = compare.measure_over_time(sessions, compare.NEGATIVE, axis=axis)
        np.testing.assert_allclose(curves["part"], curves["whole"])
        assert curves["whole"].notna().all()


def test_a_log_joined_from_parts_counts_the_parts_time_not_the_gap():
    """Two 10-minute parts an hour apart: 20 minutes analysed, not 70."""
    first, second = SessionLog(start_s=0.0), SessionLog(start_s=3600.0)
    for start, part in ((0.0, first), (3600.0, second)):
        for t in np.arange(start, start + 600.0 + 1e-9, 5.0):
            part.add_frame(float(t), [(1, (10, 10, 80, 80), onehot("Happy"))])
    joined = SessionLog.join([first, second])
    for df in (joined.to_frame(), SessionLog.from_csv(joined.to_csv()).to_frame()):
        table = compare.compare_sessions({"joined": df, "first": first.to_frame()})
        assert table.loc["joined", "duration_min"] == pytest.approx(20.0)
        assert table.loc["first", "duration_min"] == pytest.approx(10.0)


def test_sessions_of_different_models_are_said_to_be_so():
    from fer_core.report import build_comparison_report

    def made_with(*models: str) -> SessionLog:
        log = SessionLog()
        for i, model in enumerate(models):
            log.add_frame(float(i), [(1, (0, 0, 80, 80), onehot("Happy"))], model=model)
        return log

    std, day = "Standard (fer_model.onnx)", "Everyday faces (fer_model_everyday.onnx)"
    same = {"week1": made_with(std).to_frame(), "week2": made_with(std).to_frame(), "old.csv": lecture(1, "Sad", "Sad")
            .to_frame()}
    assert compare.models_note(same) == ""  # one model, or none recorded
    assert "different expression models" not in build_comparison_report(same)
    # Read back from their CSVs, as the Compare page reads uploads.
    mixed = {"week1": SessionLog.from_csv(made_with(std).to_csv()).to_frame(),
             "week2": SessionLog.from_csv(made_with(day).to_csv()).to_frame(),
             "both": made_with(std, day).to_frame(), "old.csv": lecture(1, "Sad", "Sad").to_frame()}
    note = compare.models_note(mixed)
    assert note.startswith(f"These sessions were analysed with different expression models (week1: {std}; week2: "
                           f"{day}; both: {std}, then {day}; old.csv: not recorded in its log).")
    assert "different expression models" in build_comparison_report(mixed)


def test_long_file_names_are_cut_in_the_middle_on_the_charts():
    """Six logs named as a course names its recordings, "2024-09-02_Intro_to_Algorithms_Lecture_01_
    Room_B204_morning_section.csv": the names took half of a wide page beside the bars, and on a
    phone the bars' labels lost their dates past the page's edge and the curves' legend of six
    rows left the plot a strip. The charts cut them to about 32 characters, still told apart,
    the whole name in the bars' hover; the curves' chart grows with its legend."""
    stem = "Intro_to_Algorithms_Lecture_{:02d}_Room_B204_morning_section.csv"
    names = [f"2024-09-{2 + 7 * k:02d}_{stem.format(k + 1)}" for k in range(4)] + ["lecture3.csv", "a" * 80]
    sessions = {name: lecture(10 + k, "Happy", "Sad").to_frame() for k, name in enumerate(names)}
    bars = charts.session_mix_bars(compare.compare_sessions(sessions)).data[0]
    shown = list(bars.y)
    assert len(set(shown)) == 6 and max(map(len, shown)) <= charts.SHORT_NAME
    assert shown[0] == "2024-09-02_Intro_t…g_section.csv" and shown[4] == "lecture3.csv"
    assert list(bars.customdata) == names and "%{customdata}" in bars.hovertemplate
    curves = charts.session_curves(compare.measure_over_time(sessions, "Happy"), "Happy")
    assert [t.name for t in curves.data] == shown
    assert curves.layout.height >= 300 + 22 * 6
    # Names alike but in the middle stay told apart, at the length that does it (only those).
    alike = charts.short_names(["x" * 40 + "1" + "y" * 40, "x" * 40 + "2" + "y" * 40, "z" * 50])
    assert len(set(alike)) == 3 and len(alike[2]) == charts.SHORT_NAME and "…" in alike[0]
    assert charts.short_names(["<b>", "a.csv"]) == ["<b>", "a.csv"]


def test_session_names_cut_between_letters_and_told_apart_across_unicode_forms():
    """Compare's labels are cut in the middle: a session named on a Mac ("Séance", its accents apart
    as macOS writes them, NFD) read "Séance ééééé…́éééé" (the accent of the cut "é" on the "…"), a
    Hindi one lost half a conjunct ("कक्…") and a row of flags a regional indicator ("🇫…🇷"). And
    "séance.csv" uploaded from a Mac and from a PC were two sessions of one name, which neither
    the bars nor the legend could tell apart."""
    import unicodedata

    mac = unicodedata.normalize("NFD", "Séance " + "é" * 40 + ".csv")
    hindi, flags, family = "कक्षा" * 10 + ".csv", "🇫🇷" * 20 + ".csv", "👩‍👩‍👧" * 12 + ".csv"
    shown = charts.short_names([mac, hindi, flags, family])
    for name, cut in zip([mac, hindi, flags, family], shown):
        start, end = cut.split("…")
        assert name.startswith(start) and name.endswith(end) and len(cut) <= charts.SHORT_NAME
        assert not unicodedata.combining(end[0]) and not unicodedata.combining(name[len(start)])
    assert shown[1].split("…")[0].endswith("क") and shown[1].split("…")[1].startswith("क्षा")
    assert all(len(part) % 2 == 0 for part in shown[2].removesuffix(".csv").split("…"))  # whole flags
    assert shown[3].split("…")[0].endswith("👧") and shown[3].split("…")[1].startswith("👩")

    nfc = "séance.csv"
    assert compare.unique_names([nfc, unicodedata.normalize("NFD", nfc)]) == [nfc, f"{nfc} (2)"]


def test_a_damaged_video_is_said_and_its_figures_count_the_time_analysed():
    """The Compare page and its report compared a video damaged in places (0:00-0:02 and 0:20-0:29 not
    decoded, the file cut short from 0:39 of 0:50) as if whole: its 26 s analysed of the 39.5 s it ran
    stood in the table beside a whole lecture's with no word of why. They now say how long of it could
    not be decoded, from when to when; its minutes and its per cent axis count the time analysed only."""
    from fer_core.report import build_comparison_report
    from tests.test_session import damaged_video_log

    damaged, whole = damaged_video_log(), lecture(1, "Happy", "Sad")
    for df in (damaged.to_frame(), SessionLog.from_csv(damaged.to_csv()).to_frame()):
        sessions = {"week 1.mp4": whole.to_frame(), "week 2.mp4": df}
        table = compare.compare_sessions(sessions)
        assert table.loc["week 2.mp4", "duration_min"] == pytest.approx(26.0 / 60)
        assert compare.analysed_time(df)[1] == pytest.approx(26.0)
        # Ten parts of 2.6 s of the time analysed: the frames after the damaged middle (from 0:30) start at
        # 16.5 s of it, in the seventh part; the damaged stretches are in none.
        t, _ = compare.analysed_time(df)
        assert t[df["time_s"].to_numpy() == 30.0] == pytest.approx(16.5)
        assert compare.measure_over_time(sessions, "Happy")["week 2.mp4"].notna().all()
        note = compare.damage_note(sessions)
        assert note == ("A damaged video: of week 2.mp4, 23 s could not be decoded (0:00 to 0:02; 0:20 to 0:29; 0:39 "
                        "to 0:50, the file cut short). Nothing there was analysed: its minutes, and the per cent of "
                        "its session, count the time analysed only.")
        assert note in build_comparison_report(sessions)
    assert compare.damage_note({"week 1.mp4": whole.to_frame()}) == ""
    assert "could not be decoded" not in build_comparison_report({"a": whole.to_frame(), "b": whole.to_frame()})
    # Several damaged videos, one with many stretches; a garbled end is not called cut short.
    many = SessionLog(source="video")
    many.add_frame(0.0, [(1, (10, 10, 50, 50), onehot("Happy"))])
    for k in range(5):
        many.add_damaged(60.0 * k + 10, 60.0 * k + 40)
    many.add_damaged(400.0, 430.0)
    assert compare.damage_note({"a": many.to_frame(), "b": whole.to_frame(), "c": damaged.to_frame()}) == (
        "Damaged videos: of a, 3 min 00 s could not be decoded (0:10 to 0:40; 1:10 to 1:40; 2:10 to 2:40; and 3 more "
        "stretches); of c, 23 s (0:00 to 0:02; 0:20 to 0:29; 0:39 to 0:50, the file cut short). Nothing there was "
        "analysed: their minutes, and the per cent of each session, count the time analysed only.")


def test_a_damaged_videos_cut_short_end_is_said_beyond_the_stretches_listed():
    """A one-hour lecture garbled three times in its first minutes, then cut short at 9:58 (an unfinished
    download): its note listed the first three stretches and hid the fourth, 50 minutes of the 50 min 29 s
    missing, as "and 1 more stretch", so the Compare page never said the file was cut short (the Video page
    does). The stretch where the file breaks off is now always listed."""
    log = SessionLog(source="video")
    for t in range(0, 600, 2):
        log.add_frame(float(t), [(1, (10, 10, 50, 50), onehot("Happy"))])
    for a in (60.3, 120.3, 240.3):
        log.add_damaged(a, a + 9.2)
    log.add_damaged(598.4, 3600.0, cut_short=True)
    for df in (log.to_frame(), SessionLog.from_csv(log.to_csv()).to_frame()):
        assert compare.damage_note({"lecture.mp4": df}) == (
            "A damaged video: of lecture.mp4, 50 min 29 s could not be decoded (1:00 to 1:09; 2:00 to 2:09; 1 more "
            "stretch; 9:58 to 1:00:00, the file cut short). Nothing there was analysed: its minutes, and the per "
            "cent of its session, count the time analysed only.")
    log.add_damaged(300.3, 309.5)  # two stretches left out between
    assert "2:00 to 2:09; 2 more stretches; 9:58 to 1:00:00, the file cut short)" in compare.damage_note(
        {"lecture.mp4": log.to_frame()})


def test_a_log_and_its_csv_read_back_are_one_session():
    """The Compare page leaves out an upload that is the analysed video's or live session's own log:
    equal to the CSV's precision (pose to two decimals), any changed value or row is another."""
    log = scripted_log()  # with attention: yaw, pitch, roll written to 0.01
    held = log.to_frame()
    back = SessionLog.from_csv(log.to_csv()).to_frame()
    assert not np.array_equal(held["yaw"].to_numpy(), back["yaw"].to_numpy())  # rounded on the way
    assert compare.same_log(held, back) and compare.same_log(back, held)
    for column, change in (("face_id", 1), ("time_s", 0.002), ("Happy", 0.002), ("yaw", 0.02)):
        other = back.copy()
        other.loc[other.index[len(other) // 2], column] += change
        assert not compare.same_log(held, other), column
    assert not compare.same_log(held, back.iloc[:-1])
    assert not compare.same_log(held, one_face_with_a_pause("Happy", "Sad", (10, 5, 10)).to_frame())


def test_comparison_table_reads_a_short_clips_length_in_seconds_and_its_csv_keeps_minutes():
    """A 12 s clip beside an hour's class read "0.2" in the table's minutes, on the page and in the
    report. They read "12 s" and "60.0 min" now; the CSV keeps its column of minutes."""
    from fer_core.report import comparison_report_html

    clip, lesson = SessionLog(), SessionLog()
    for t in np.arange(0.0, 12.5, 0.5):
        clip.add_frame(float(t), [(1, (0, 0, 50, 50), [0, 0, 0, 1, 0, 0, 0])])
    for t in np.arange(0.0, 3605.0, 5.0):
        lesson.add_frame(float(t), [(1, (0, 0, 50, 50), [0, 0, 0, 0, 0, 0, 1])])
    comparison = compare.compare_sessions({"clip": clip.to_frame(), "lesson": lesson.to_frame()})
    csv, shown = compare.table_for_display(comparison), compare.table_for_display(comparison, lengths=True)
    assert csv["minutes"].tolist() == [0.2, 60.0]
    assert shown["length"].tolist() == ["12 s", "60.0 min"] and "minutes" not in shown
    assert list(shown.columns) == ["session", "length", *list(csv.columns)[2:]]
    html = comparison_report_html(comparison, {})
    assert "<td>12 s</td>" in html and "<td>60.0 min</td>" in html, html[html.index("<h2>Sessions"):][:800]


def test_a_log_whose_top_two_shares_tie_to_the_csvs_decimals_is_still_its_csv():
    """The label is the top share, worked out again from the five decimals the CSV keeps: a face read
    Sad 0.500001 / Happy 0.499999 comes back Happy (both 0.5, the first wins). The labels compared as
    text, the video's own CSV was taken for another session and drawn as a second line under the
    first (17 such rows in a million, random shares: a full live log's CSV never matched)."""
    log = SessionLog()
    log.add_frame(0.0, [(1, (0, 0, 50, 50), [0.0, 0.0, 0.0, 0.499999, 0.500001, 0.0, 0.0])])
    log.add_frame(0.5, [(1, (0, 0, 50, 50), [0.0, 0.0, 0.0, 0.2, 0.8, 0.0, 0.0])])
    held = log.to_frame()
    back = SessionLog.from_csv(log.to_csv()).to_frame()
    assert list(held["label"]) == ["Sad", "Sad"] and list(back["label"]) == ["Happy", "Sad"]  # the tie
    assert compare.same_log(held, back) and compare.same_log(back, held)
    other = back.copy()
    other.loc[other.index[1], ["Happy", "Sad"]] = [0.8, 0.2]  # another reading of the face: another log
    assert not compare.same_log(held, other)
