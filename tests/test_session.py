"""Session log and class analytics (pure logic, no model)."""
import gzip
import io
import threading
import tracemalloc
import zipfile
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from fer_core.labels import LABELS
from fer_core.session import (
    ATTENTION_COLUMNS,
    COLUMNS,
    NOTABLE_CHANGE,
    LogFormatError,
    SessionLog,
    binned_mix,
    changes_table,
    current_mix,
    expression_mix,
    face_binned,
    label_counts,
    log_to_csv,
    negative_streaks,
    sample_step,
    strongest_changes,
)


def onehot(label, p=0.9):
    v = np.full(7, (1 - p) / 6)
    v[LABELS.index(label)] = p
    return tuple(v)


def scripted_log():
    """Face 1 happy then sad for 3 minutes; face 2 neutral and leaves at 60 s. One row per second."""
    log = SessionLog()
    for t in range(0, 300):
        faces = [(1, (10, 10, 50, 50), onehot("Happy" if t < 100 else "Sad"))]
        if t < 60:
            faces.append((2, (200, 10, 50, 50), onehot("Neutral")))
        log.add_frame(float(t), faces)
    return log


def test_log_rows_summary_and_frame():
    log = scripted_log()
    s = log.summary()
    assert (s.rows, s.faces, s.frames, s.duration_s, s.truncated) == (360, 2, 300, 299.0, False)
    df = log.to_frame()
    assert list(df.columns) == [*COLUMNS, "label", "confidence"]
    assert df["label"].iloc[0] == "Happy" and df["confidence"].iloc[0] == pytest.approx(0.9)
    assert df["face_id"].dtype.kind == "i"


def test_frames_without_faces_are_counted():
    log = SessionLog()
    log.add_frame(0.0, [])
    log.add_frame(0.5, [])
    assert len(log) == 0 and log.summary().frames == 2 and log.to_frame().empty
    assert expression_mix(log.to_frame()).sum() == 0
    assert strongest_changes(log.to_frame()).empty
    assert negative_streaks(log.to_frame(), 1.0) == []


def test_max_rows_truncates():
    log = SessionLog(max_rows=3)
    for t in range(3):
        log.add_frame(t, [(1, (0, 0, 1, 1), onehot("Happy")), (2, (5, 5, 1, 1), onehot("Sad"))])
    assert len(log) == 3 and log.truncated and log.summary().truncated


def test_thread_safe_appends():
    log = SessionLog()

    def writer(fid):
        for t in range(500):
            log.add_frame(t, [(fid, (0, 0, 1, 1), onehot("Happy"))])

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(4)]
    for th in threads:
        th.start()
    for _ in range(20):
        log.to_frame()  # reading while writing
    for th in threads:
        th.join()
    assert len(log) == 2000 and log.summary().faces == 4


def test_mix_counts_and_bins():
    df = scripted_log().to_frame()
    mix = expression_mix(df)
    assert mix.sum() == pytest.approx(1.0) and list(mix.index) == list(LABELS)
    cur = current_mix(df, 10.0)
    assert cur.idxmax() == "Sad" and cur["Sad"] == pytest.approx(0.9)
    counts = label_counts(df)
    assert counts["Happy"] == 100 and counts["Sad"] == 200 and counts["Neutral"] == 60 and counts["Fear"] == 0
    b = binned_mix(df, 30.0)
    assert list(b.index[:3]) == [0.0, 30.0, 60.0]
    assert np.allclose(b.sum(axis=1), 1.0)
    assert b.loc[0.0, "Neutral"] == pytest.approx(0.5 * 0.9 + 0.5 * 0.1 / 6)
    with pytest.raises(ValueError):
        binned_mix(df, 0)
    sparse = df[(df.time_s < 30) | (df.time_s >= 90)]
    assert list(binned_mix(sparse, 30.0).index) == [0.0, 90.0, 120.0, 150.0, 180.0, 210.0, 240.0, 270.0]
    filled = binned_mix(sparse, 30.0, fill_gaps=True)
    assert list(filled.index[:4]) == [0.0, 30.0, 60.0, 90.0] and filled.loc[30.0].sum() == 0
    fb = face_binned(df, 30.0)
    assert set(fb["face_id"]) == {1, 2} and (fb[fb.face_id == 2]["label"] == "Neutral").all()


def test_negative_streak_flags():
    df = scripted_log().to_frame()
    flags = negative_streaks(df, min_duration_s=120.0)
    assert len(flags) == 1
    f = flags[0]
    assert f.face_id == 1 and f.labels == ("Sad",) and f.ongoing
    # Sad from the row at 100 s to the last row, at 299 s, where the session ends (not 300 s).
    assert f.start_s == pytest.approx(100.0) and f.end_s == pytest.approx(299.0)
    assert negative_streaks(df, min_duration_s=250.0) == []


def test_negative_streak_broken_by_gap_and_positive():
    log = SessionLog()
    for t in range(0, 100):
        log.add_frame(t, [(1, (0, 0, 9, 9), onehot("Angry"))])
    for t in range(130, 200):  # not seen for 30 s: the streak ends
        log.add_frame(t, [(1, (0, 0, 9, 9), onehot("Fear" if t < 190 else "Happy"))])
    flags = negative_streaks(log.to_frame(), 50.0, bin_s=5.0)
    assert [(s.start_s, s.end_s, s.ongoing) for s in flags] == [(0.0, 100.0, False), (130.0, 190.0, False)]


def test_streaks_and_changes_do_not_depend_on_a_bin_shorter_than_the_frames():
    """A video analysed at 0.5 frames a second has rows 2 s apart, and a live log's rows come about
    a second apart, a little late now and then: 1 s bins leave some bins empty, which once broke
    every streak and change into pieces (no flag at all at 1 s, the flag at 2, 5 and 10 s)."""
    sparse, live = SessionLog(), SessionLog()
    for i in range(200):
        sparse.add_frame(2.0 * i, [(1, (0, 0, 9, 9), onehot("Happy" if i < 20 else "Sad"))])
        live.add_frame(i + (0.98 if i % 7 == 3 else 0.01), [(1, (0, 0, 9, 9), onehot("Happy" if i < 40 else "Sad"))])
    assert sample_step(sparse.to_frame()) == 2.0 and sample_step(SessionLog().to_frame()) == 0.0
    for log, start in ((sparse, 40.0), (live, 40.01)):  # the first sad row of each
        df = log.to_frame()
        for bin_s in (1.0, 2.0, 5.0, 10.0):
            flags = negative_streaks(df, 120.0, bin_s=bin_s)
            assert len(flags) == 1 and flags[0].start_s == pytest.approx(start) and flags[0].ongoing, (bin_s, flags)
            changes = strongest_changes(df, 1, bin_s=bin_s, min_change=NOTABLE_CHANGE)
            assert changes.iloc[0].to_label == "Sad" and changes.iloc[0].time_s == pytest.approx(40.0, abs=bin_s)
    # A face gone for longer than a frame still ends the streak.
    gone = SessionLog()
    for t in [*range(0, 100, 2), *range(110, 300, 2)]:
        gone.add_frame(float(t), [(1, (0, 0, 9, 9), onehot("Sad"))])
    assert [(s.start_s, s.end_s) for s in negative_streaks(gone.to_frame(), 60.0, bin_s=1.0)] == [
        (110.0, 298.0), (0.0, 100.0)]  # longest first; each row stands for 2 s, but not past the end at 298 s


def test_streaks_lie_within_what_the_face_was_seen():
    """Paper answers, frames every 0.5 s: a face sad from 0 to 120 s of a session that ends there
    was sad 0:00 to 2:00, 2 minutes, whatever the bin (it read 0:00 to 2:05 in 5 s bins, after the
    session's end); the same face in a part of a video analysed from 32.3 s, seen from 32.5 to
    152 s, from 32.5 s to 152 s (it read 30 s, before the analysis began, to 155 s); 240 frames
    sad (2 minutes) in a longer session are flagged at 2 minutes, from 0:00 to 2:00."""
    def sad_log(times, start_s=0.0, end_s=None):
        log = SessionLog(start_s=start_s)
        for t in times:
            log.add_frame(float(t), [(1, (0, 0, 9, 9), onehot("Sad"))])
        if end_s is not None:
            log.add_frame(end_s, [])
        return log.to_frame()

    for bin_s in (1.0, 2.0, 5.0, 10.0):
        for df, start, end in ((sad_log(np.arange(0, 120.01, 0.5)), 0.0, 120.0),
                               (sad_log(np.arange(32.5, 152.01, 0.5), start_s=32.3), 32.5, 152.0),
                               (sad_log(np.arange(0, 119.51, 0.5), end_s=300.0), 0.0, 120.0)):
            flags = negative_streaks(df, min(120.0, end - start), bin_s=bin_s)
            assert [(f.start_s, f.end_s) for f in flags] == [pytest.approx((start, end))], bin_s
            assert flags[0].duration_s == pytest.approx(end - start)


def test_strongest_changes():
    df = scripted_log().to_frame()
    ch = strongest_changes(df, k=3, bin_s=10.0)
    assert list(ch.columns) == ["time_s", "face_id", "from_label", "to_label", "from_share", "to_share",
                                "other_label", "other_from", "other_to", "change"]
    top = ch.iloc[0]
    assert (top.time_s, top.face_id, top.from_label, top.to_label) == (100.0, 1, "Happy", "Sad")
    assert top.change == pytest.approx(0.9 - 0.1 / 6)
    overall = strongest_changes(df, k=1, bin_s=10.0, per_face=False)
    assert overall.iloc[0].face_id == 0
    assert len(strongest_changes(df, k=10, bin_s=10.0, min_change=0.5)) == 1  # only the real change
    words = changes_table(ch.head(1))
    assert words.iloc[0].to_dict() == {"face": "Face 1", "before": "Happy 90%", "after": "Sad 90%",
                                       "change": pytest.approx(top.change)}


def test_a_change_that_keeps_the_top_expression_says_what_moved_beside_it():
    """The report's table read "Neutral -> Neutral, 0.447": the mix moved (Sad came close)
    but the top expression did not. It gave the shares, "Neutral 90%" -> "Neutral 45%", and then
    "Neutral 24%" -> "Neutral 60%" for a face torn between Neutral and Happy that settled on
    Neutral, which did not say what had changed. With the other expression that moved most:
    "Neutral 90%, Sad 2%" -> "Neutral 45%, Sad 40%"; a change of the top expression reads as before."""
    calm, torn = np.full(7, 0.1 / 6), np.full(7, 0.15 / 5)
    calm[LABELS.index("Neutral")] = 0.9
    torn[LABELS.index("Neutral")], torn[LABELS.index("Sad")] = 0.45, 0.4
    unsure, settled = np.full(7, 0.3 / 5), np.full(7, 0.1 / 5)
    unsure[LABELS.index("Neutral")], unsure[LABELS.index("Happy")] = 0.4, 0.3
    settled[LABELS.index("Neutral")], settled[LABELS.index("Happy")] = 0.85, 0.05
    log = SessionLog()
    for t in range(40):
        log.add_frame(float(t), [(1, (0, 0, 50, 50), calm if t < 20 else torn),
                                 (2, (60, 0, 50, 50), unsure if t < 20 else settled),
                                 (3, (120, 0, 50, 50), calm if t < 20 else onehot("Happy"))])
    ch = strongest_changes(log.to_frame(), k=3, bin_s=10.0).sort_values("face_id")
    assert list(ch.from_label) == ["Neutral", "Neutral", "Neutral"]
    assert list(ch.to_label) == ["Neutral", "Neutral", "Happy"]
    words = changes_table(ch)
    assert list(zip(words.before, words.after)) == [("Neutral 90%, Sad 2%", "Neutral 45%, Sad 40%"),
                                                    ("Neutral 40%, Happy 30%", "Neutral 85%, Happy 5%"),
                                                    ("Neutral 90%", "Happy 90%")]
    assert list(words.change) == pytest.approx([0.45, 0.45, 0.9 - 0.1 / 6])


def test_csv_round_trip_and_bad_csv():
    log = scripted_log()
    data = log.to_csv()
    header = data.decode().splitlines()[0].split(",")
    assert header == [*COLUMNS, "label", "confidence"]
    back = SessionLog.from_csv(data)
    assert back.summary().rows == 360 and back.summary().faces == 2
    pd.testing.assert_series_equal(expression_mix(back.to_frame()), expression_mix(log.to_frame()), atol=1e-4)
    with pytest.raises(LogFormatError, match="missing columns"):
        SessionLog.from_csv(b"a,b\n1,2\n")
    with pytest.raises(LogFormatError):
        SessionLog.from_csv(b"")
    bad = data.decode().replace("0.9,", "oops,", 1).encode()
    with pytest.raises(LogFormatError, match="not numbers"):
        SessionLog.from_csv(bad)


def spreadsheet_saves(data: bytes) -> dict[str, bytes]:
    """A log's CSV as spreadsheets save it again after a teacher opened it (the cells as text,
    so nothing is rounded): Excel or LibreOffice in a European locale write a semicolon between
    the cells and a decimal comma, some with every text cell quoted or with a comma between the
    cells and the numbers with decimal commas quoted; "Unicode text" is UTF-16 with a tab
    between the cells; Excel's "CSV (Comma delimited)" is in Windows' legacy code page; lines
    end in CR LF."""
    import io

    cells = pd.read_csv(io.BytesIO(data), dtype=str, keep_default_na=False)
    numbers = [c for c in cells.columns if c not in ("label", "marker")]
    comma = cells.copy()
    comma[numbers] = comma[numbers].apply(lambda col: col.str.replace(".", ",", regex=False))
    return {
        "semicolons, decimal commas (Excel, CSV UTF-8)":
            b"\xef\xbb\xbf" + comma.to_csv(index=False, sep=";", lineterminator="\r\n").encode(),
        "semicolons, decimal commas, text quoted (LibreOffice)":
            comma.to_csv(index=False, sep=";", quoting=2, lineterminator="\r\n").encode(),
        "semicolons, decimal points": cells.to_csv(index=False, sep=";", lineterminator="\r\n").encode(),
        "commas, decimal commas quoted": comma.to_csv(index=False, lineterminator="\r\n").encode(),
        "Unicode text (UTF-16, tabs)":
            comma.to_csv(index=False, sep="\t", lineterminator="\r\n").encode("utf-16"),
        "UTF-16, commas": cells.to_csv(index=False, lineterminator="\r\n").encode("utf-16"),
        "Windows-1252 (Excel's CSV)": cells.to_csv(index=False, lineterminator="\r\n").encode("cp1252"),
    }


def test_a_log_saved_again_by_a_spreadsheet_reads_as_before():
    """A teacher opens a log in Excel or LibreOffice and saves it: in most of Europe its cells
    are then separated by semicolons and its numbers have decimal commas. Such logs were refused
    as 'missing columns time_s, face_id, ...', UTF-16 ones too, though every column is there."""
    from fer_core.engagement import attention_summary

    log = SessionLog(source="video", start_s=30.0)
    for t in np.arange(30.0, 150.0, 0.5):
        faces = [] if t >= 140 else [SimpleNamespace(face_id=1, box=(10, 10, 50, 50), pose=(3.5, -2.0, 1.0),
                                                     probabilities=onehot("Happy" if t < 90 else "Sad"),
                                                     eyes_open=(0.8, 0.7), looking_at_camera=t < 100)]
        log.add_frame(float(t), faces, model="Standard (fer_model.onnx)")
    log.add_marker(45.5, "pause café; quiz")
    data = log.to_csv()
    for name, saved in spreadsheet_saves(data).items():
        back = SessionLog.from_csv(saved)
        assert back.summary() == log.summary(), name
        assert back.markers == log.markers and back.models == log.models, name
        pd.testing.assert_frame_equal(back.to_frame(), SessionLog.from_csv(data).to_frame(), atol=1e-4)
        assert attention_summary(back.to_frame()) == attention_summary(SessionLog.from_csv(data).to_frame())
    # The column limit counts semicolons too: pandas would build a million columns first.
    with pytest.raises(LogFormatError, match="1,000,000 columns"):
        SessionLog.from_csv(";".join(f"c{i}" for i in range(1_000_000)) + "\n1")


def test_rows_a_spreadsheet_emptied_are_left_out():
    """A row whose cells were all cleared in a spreadsheet, or a blank line, is saved again as a
    line of separators only: the whole log was refused as 'some values are not numbers'."""
    log = scripted_log()
    log.add_marker(30.0, "quiz")
    lines = log.to_csv().decode().splitlines()
    width = lines[0].count(",")
    emptied = "\r\n".join([*lines[:3], "," * width, *lines[3:], "," * width]).encode()
    back = SessionLog.from_csv(emptied)
    assert back.summary() == log.summary() and back.markers == log.markers
    pd.testing.assert_frame_equal(back.to_frame(), SessionLog.from_csv(log.to_csv()).to_frame())
    with pytest.raises(LogFormatError, match="not numbers"):  # a face row with a cell emptied is still refused
        SessionLog.from_csv("\n".join([lines[0], ",".join(["", *lines[1].split(",")[1:]])]))

def test_markers_round_trip_through_the_csv_and_stay_out_of_the_analytics():
    from fer_core.session import MARKER_CHARS, MAX_MARKERS, format_time, markers_table

    log = scripted_log()
    plain = log.to_csv()
    v = log.version
    assert log.add_marker(95.25, 'Quiz, "part 1"\n  starts') and log.version > v
    assert log.add_marker(10.0, "NA") and log.add_marker(3725.0, "x" * 200)
    assert not log.add_marker(20.0, " \t ") and not log.add_marker(float("nan"), "when?")
    assert [t for t, _ in log.markers] == [10.0, 95.25, 3725.0]  # in time order
    assert log.markers[1][1] == 'Quiz, "part 1" starts' and len(log.markers[2][1]) == MARKER_CHARS
    data = log.to_csv()
    assert data.startswith(plain.splitlines()[0].rstrip(b"\r") + b",marker")  # one more column, only now
    back = SessionLog.from_csv(data)
    assert back.markers == tuple((pytest.approx(t), m) for t, m in log.markers)
    # Marker rows are not face observations: the analytics see the same rows as before.
    assert back.summary() == SessionLog.from_csv(plain).summary()
    pd.testing.assert_frame_equal(back.to_frame(), SessionLog.from_csv(plain).to_frame())
    assert SessionLog.from_csv(plain).markers == ()
    table = markers_table(back.markers)
    assert list(table["time"]) == ["0:10", "1:35", "1:02:05"] and list(table["seconds"]) == [10.0, 95.2, 3725.0]
    assert format_time(59.99) == "0:59" and format_time(-3) == "0:00"
    # The seconds say the same time as the m:ss beside them (they read 60.0 beside 0:59).
    edge = markers_table([(59.96, "live"), (119.99, "later"), (4.35, "early")])
    assert list(edge["time"]) == ["0:59", "1:59", "0:04"] and list(edge["seconds"]) == [59.9, 119.9, 4.3]
    full = SessionLog()
    assert all(full.add_marker(float(i), f"m{i}") for i in range(MAX_MARKERS))
    assert not full.add_marker(0.0, "one too many") and len(full.markers) == MAX_MARKERS
    log.clear()
    assert log.markers == ()


@pytest.mark.parametrize("text, seconds", [("75", 75.0), ("1:15", 75.0), (" 1:15.5 ", 75.5), ("1:01:15", 3675.0),
                                           ("0:00", 0.0), ("2:00:00", 7200.0)])
def test_parse_time_reads_what_format_time_writes(text, seconds):
    from fer_core.session import format_time, parse_time

    assert parse_time(text) == seconds
    assert parse_time(format_time(seconds)) == int(seconds)


@pytest.mark.parametrize("text", ["", "a", "1:60", "1:75:00", "-3", "1::2", "1:2:3:4", "nan", "inf", "1:-5"])
def test_parse_time_refuses_what_is_not_a_time(text):
    from fer_core.session import parse_time

    with pytest.raises(ValueError, match="not a time"):
        parse_time(text)


def test_clear_forgets_the_attention_columns_and_the_grown_buffer():
    from tests.test_engagement import scripted_log as with_attention

    log = with_attention()
    for t in range(5000):
        log.add_frame(100.0 + t, [(1, (0, 0, 9, 9), onehot("Sad"))])
    log.clear()
    log.add_frame(0.0, [(1, (0, 0, 9, 9), onehot("Sad"))])
    assert list(log.to_frame().columns) == [*COLUMNS, "label", "confidence"]  # as a new log's
    assert log.nbytes == 1024 * len(COLUMNS) * 8  # a new log's first block, not the blocks of 5,300 rows
    df = log.to_frame()  # a bin of 0 s is refused, as binned_mix does (it gave empty results silently)
    for call in (lambda: face_binned(df, 0.0), lambda: negative_streaks(df, 60.0, bin_s=0.0),
                 lambda: strongest_changes(df, bin_s=0.0)):
        with pytest.raises(ValueError, match="bin_s"):
            call()


def test_clear():
    log = scripted_log()
    v = log.version
    log.clear()
    assert len(log) == 0 and log.summary().frames == 0 and log.version > v


def test_the_log_keeps_which_models_analysed_it_and_the_report_names_them():
    from fer_core.recognizer import DEFAULT_MODEL, EVERYDAY_MODEL, model_label
    from fer_core.report import build_html_report

    standard, everyday = model_label(DEFAULT_MODEL), model_label(EVERYDAY_MODEL)
    assert (standard, everyday) == ("Standard (fer_model.onnx)", "Everyday faces (fer_model_everyday.onnx)")
    assert model_label("/x/other.onnx") == "other.onnx" and model_label(object()) == ""  # a stand-in recognizer
    log = SessionLog()
    p = np.full(7, 1 / 7)
    log.add_frame(0.0, [(1, (0, 0, 10, 10), p)], model=standard)
    log.add_frame(0.5, [(1, (0, 0, 10, 10), p)], model=everyday)
    log.add_frame(1.0, [], model=standard)
    log.add_frame(1.5, [(1, (0, 0, 10, 10), p)])
    assert log.models == (standard, everyday)
    assert "expression model: Standard (fer_model.onnx), then Everyday faces" in build_html_report(log)
    # The CSV keeps them, so that a log read back (its report, a comparison) still names them.
    back = SessionLog.from_csv(log.to_csv())
    assert back.models == (standard, everyday) and len(back) == 3 and back.summary().frames == 4
    assert "expression model: Standard (fer_model.onnx), then Everyday faces" in build_html_report(back)
    log.clear()
    assert log.models == ()
    assert "expression model" not in build_html_report(SessionLog.from_csv(log.to_csv()))


def test_the_csv_names_the_models_in_rows_of_their_own():
    from fer_core.session import MODEL_ID, log_models

    log = SessionLog(start_s=30.0)
    p = np.full(7, 1 / 7)
    log.add_frame(30.0, [(1, (0, 0, 10, 10), p)], model="=custom.onnx")  # a file name a spreadsheet would run
    log.add_marker(31.0, "quiz")
    assert log_models(log.to_frame()) == ("=custom.onnx",)
    rows = log.to_csv().decode().strip().splitlines()
    model_rows = [r for r in rows if r.split(",")[1] == str(MODEL_ID)]
    assert model_rows == ["30.0,-6,,,,,,,,,,,,,,(expression model: =custom.onnx)"]
    back = SessionLog.from_csv(log.to_csv())
    assert back.models == ("=custom.onnx",) and back.markers == ((31.0, "quiz"),) and back.start_s == 30.0
    assert len(back) == 1 and back.to_frame()["face_id"].tolist() == [1]
    # Parts of one video read back from their CSVs and joined keep both parts' models.
    later = SessionLog(start_s=40.0)
    later.add_frame(40.0, [(1, (0, 0, 10, 10), p)], model="Standard (fer_model.onnx)")
    joined = SessionLog.join([SessionLog.from_csv(later.to_csv()), back])
    assert joined.models == ("=custom.onnx", "Standard (fer_model.onnx)")
    # A part whose CSV names no model (written before logs kept it, when it could have been either
    # model) leaves the joined log's unknown: it named the other part's for the whole session.
    older = "\n".join(line for line in back.to_csv().decode().splitlines() if ",-6," not in line)
    assert SessionLog.from_csv(older).models == ()
    assert SessionLog.join([SessionLog.from_csv(later.to_csv()), SessionLog.from_csv(older)]).models == ()
    # Rows a hand-edited file got wrong are not names: an empty one, and more than a few are read.
    text = log.to_csv().decode() + "".join(f"30.0,-6,,,,,,,,,,,,,,(expression model: m{i})\n" for i in range(20))
    assert SessionLog.from_csv(text + "30.0,-6,,,,,,,,,,,,,,(expression model: )\n").models[:2] == (
        "=custom.onnx", "m0")
    assert len(SessionLog.from_csv(text).models) == 8


def test_a_log_of_part_of_a_video_counts_from_its_start_and_keeps_it_in_the_csv():
    """Rows keep the video's times; durations and time grids count from the analysis's start,
    which survives the CSV (one START_ID row) and to_frame/from_frame."""
    from fer_core.session import START_ID, log_start

    log = SessionLog(source="video", start_s=3600.0)
    log.add_frame(3600.0, [])  # nobody in view at first
    for t in np.arange(3610.0, 3700.0, 5.0):
        log.add_frame(float(t), [(1, (10, 10, 50, 50), onehot("Happy" if t < 3650 else "Sad"))])
    log.add_frame(3720.0, [])
    summary = log.summary()
    assert (summary.start_s, summary.duration_s, summary.end_s) == (3600.0, 120.0, 3720.0)
    df = log.to_frame()
    assert log_start(df) == 3600.0 and log_start(df[df["time_s"] > 3650]) == 3600.0  # kept by a filter
    mix = binned_mix(df, 10.0, fill_gaps=True)
    assert mix.index[0] == 3600.0 and mix.iloc[0].sum() == 0.0 and len(mix) == 13  # 3600 ... 3720, not from 0
    assert mix.loc[3700.0:].sum().sum() == 0.0  # nobody in view from 3700 to the end
    assert binned_mix(df, 10.0).index[0] == 3610.0
    assert log.add_marker(3650.0, "group work")
    data = log.to_csv()
    start_row = data.decode().strip().splitlines()[-2].split(",")
    assert (start_row[0], start_row[1], start_row[-1]) == ("3600.0", str(START_ID), "(the analysis starts here)")
    back = SessionLog.from_csv(data)
    assert back.start_s == 3600.0 and back.markers == ((3650.0, "group work"),)
    pd.testing.assert_frame_equal(back.to_frame(), df, atol=1e-4)  # the start row is not a face observation
    assert back.summary() == summary  # the end row keeps the faceless frames at 3600 and 3720
    assert SessionLog.from_frame(df).start_s == 3600.0
    # Logs of live sessions and whole videos: CSVs as before, start 0.
    whole = scripted_log()
    assert str(START_ID).encode() not in whole.to_csv() and b"marker" not in whole.to_csv()
    assert SessionLog.from_csv(whole.to_csv()).start_s == 0.0 and log_start(pd.DataFrame()) == 0.0
    # A start row after a face (a CSV edited by hand) cannot hide that face: the start is the earlier.
    edited = data.decode().replace("3600.0,-2,", "3690.0,-2,").encode()
    assert SessionLog.from_csv(edited).start_s == 3610.0
    with pytest.raises(ValueError):
        SessionLog(start_s=-1.0)
    log.clear()
    assert log.summary().duration_s == 0.0 and log.start_s == 3600.0


def test_the_csv_keeps_where_the_analysis_ended_and_its_frames_without_faces():
    """A class out of view for the last minute: its CSV ends with one END_ID row that keeps the
    end and the frame count, so the log read back covers the same time as the page's."""
    from fer_core.compare import compare_sessions
    from fer_core.session import END_ID, log_end

    log = SessionLog()
    for t in range(120):
        log.add_frame(float(t), [(1, (10, 10, 50, 50), onehot("Happy"))] if t < 60 else [])
    summary = log.summary()
    assert (summary.frames, summary.duration_s) == (120, 119.0)
    df = log.to_frame()
    assert log_end(df) == 119.0 and log_end(df[df["time_s"] < 30]) == 119.0  # the log's end, kept by a filter
    data = log.to_csv()
    lines = data.decode().strip().splitlines()
    assert lines[0].endswith(",marker") and len(lines) == 1 + 60 + 1
    end_row = lines[-1].split(",")
    assert end_row[:2] == ["119.0", str(END_ID)] and end_row[-1] == "(the analysis ends here: 120 frames analysed)"
    back = SessionLog.from_csv(data)
    assert back.summary() == summary and back.markers == ()
    pd.testing.assert_frame_equal(back.to_frame(), df, atol=1e-4)  # the end row is not a face observation
    mix = binned_mix(back.to_frame(), 10.0, fill_gaps=True)
    assert list(mix.index) == [float(t) for t in range(0, 120, 10)] and mix.loc[60.0:].sum().sum() == 0.0
    assert current_mix(back.to_frame(), 10.0).sum() == 0.0  # nobody in view in the last 10 s
    assert current_mix(df, 70.0)["Happy"] == pytest.approx(0.9)  # 49-59 s, the faces before the end
    assert compare_sessions({"live": df, "csv": back.to_frame()})["duration_min"].tolist() == [119 / 60] * 2
    # Faceless frames in the middle only: the end is the last face's, the count still needs the row.
    log.add_frame(120.0, [(1, (10, 10, 50, 50), onehot("Sad"))])
    back = SessionLog.from_csv(log.to_csv())
    assert (back.summary().frames, back.summary().end_s) == (121, 120.0)
    # Every frame with a face: no end row, the CSV as it always was.
    assert b"marker" not in scripted_log().to_csv()
    # Nobody in view at all: the CSV is the header and the end row.
    empty = SessionLog()
    for t in (0.0, 0.5, 1.0):
        empty.add_frame(t, [])
    back = SessionLog.from_csv(empty.to_csv())
    assert len(back) == 0 and (back.summary().frames, back.summary().duration_s) == (3, 1.0)
    assert SessionLog.from_csv(SessionLog().to_csv()).summary().frames == 0  # no frame: no row


@pytest.mark.parametrize("time, text, frames, end", [
    ("119.0", "", 60, 119.0),  # no count: the frames with faces
    ("30.0", "(the analysis ends here: 120 frames analysed)", 120, 59.0),  # never before a face
    ("119.0", "(the analysis ends here: 5 frames analysed)", 60, 119.0),  # never fewer than seen
    ("119.0", "(the analysis ends here: 999999999999 frames analysed)", 60, 119.0),
    ("-4", "(the analysis ends here: 90 frames analysed)", 90, 59.0),
    ("abc", "(the analysis ends here: 90 frames analysed)", 90, 59.0),
])
def test_an_edited_end_row_cannot_hide_faces(time, text, frames, end):
    log = SessionLog()
    for t in range(120):
        log.add_frame(float(t), [(1, (10, 10, 50, 50), onehot("Happy"))] if t < 60 else [])
    head, end_row = log.to_csv().decode().strip().rsplit("\n", 1)
    fields = end_row.split(",")
    fields[0], fields[-1] = time, text
    back = SessionLog.from_csv(f"{head}\n{','.join(fields)}\n")
    assert (back.summary().frames, back.summary().end_s, len(back)) == (frames, end, 60)


@pytest.mark.parametrize("where", ["face", "end", "start", "marker"])
def test_a_time_beyond_a_week_is_refused_not_drawn(where):
    """A damaged CSV with a time of 1e9 s would have the charts build a grid of 10^8 bins."""
    from fer_core.session import MAX_LOG_S

    log = SessionLog(start_s=10.0)
    for t in range(10, 20):
        log.add_frame(float(t), [(1, (10, 10, 50, 50), onehot("Happy"))])
    log.add_frame(30.0, [])
    log.add_marker(15.0, "quiz")
    lines = log.to_csv().decode().strip().splitlines()
    k = {"face": 1, "marker": -3, "start": -2, "end": -1}[where]
    lines[k] = "1e9" + lines[k][lines[k].index(","):]
    with pytest.raises(LogFormatError, match="at most 7 days"):
        SessionLog.from_csv("\n".join(lines))
    lines[k] = f"{MAX_LOG_S:.1f}" + lines[k][lines[k].index(","):]
    assert len(SessionLog.from_csv("\n".join(lines))) == 10  # a week is still a log


def test_parts_of_one_recording_join_into_one_log():
    """Two parts analysed apart (the second with attention) make one log: rows in time order,
    the second part's faces numbered after the first's, markers, frames and the first start."""
    from fer_core.session import ATTENTION_COLUMNS, SessionLog, log_parts

    first = SessionLog(source="video", start_s=600.0)
    second = SessionLog(source="video", start_s=1200.0)
    for t in range(600, 1200, 10):
        first.add_frame(float(t), [(1, (10, 10, 50, 50), onehot("Happy")), (3, (90, 10, 50, 50), onehot("Sad"))])
    first.add_marker(900.0, "quiz")

    class Looking:  # a face with attention measured
        def __init__(self, fid):
            self.face_id, self.box, self.probabilities = fid, (10, 10, 50, 50), onehot("Neutral")
            self.pose, self.eyes_open, self.looking_at_camera = (5.0, -3.0, 1.0), (0.8, 0.7), True

    for t in range(1200, 1500, 10):
        second.add_frame(float(t), [Looking(1), Looking(2)])
    second.add_marker(1300.0, "break")
    second.add_frame(1510.0, [])
    # Given in either order, read back from CSV or not: the same joined log.
    for parts in ([first, second], [second, first],
                  [SessionLog.from_csv(first.to_csv()), SessionLog.from_csv(second.to_csv())]):
        joined = SessionLog.join(parts, source="lecture")
        df = joined.to_frame()
        assert joined.start_s == 600.0 and df["time_s"].is_monotonic_increasing and len(df) == 180
        assert sorted(df[df.time_s < 1200]["face_id"].unique()) == [1, 3]
        assert sorted(df[df.time_s >= 1200]["face_id"].unique()) == [4, 5]  # after Face 3
        assert df[df.time_s < 1200][list(ATTENTION_COLUMNS)].isna().all().all()
        assert (df[df.time_s >= 1200]["yaw"] == 5.0).all()
        assert [m for _, m in joined.markers] == ["quiz", "break"]
    assert joined.summary().frames == 91 and joined.summary().end_s == 1510.0  # the CSV's end row kept them
    whole = SessionLog.join([first, second])
    assert whole.summary().frames == 91 and whole.summary().end_s == 1510.0
    assert whole.summary().duration_s == 910.0 and whole.summary().faces == 4
    back = SessionLog.from_csv(whole.to_csv())
    assert back.start_s == 600.0 and back.markers == whole.markers
    # It keeps which parts were analysed (the gap between them never was), through the CSV too.
    assert whole.parts == back.parts == ((600.0, 1190.0), (1200.0, 1510.0)) and first.parts == ()
    # The time analysed leaves the 10 s gap out; a log of one stretch analysed all of its duration.
    assert whole.summary().parts == whole.parts and whole.summary().analysed_s == 900.0
    assert first.summary().parts == () and first.summary().analysed_s == first.summary().duration_s == 590.0
    assert log_parts(whole.to_frame()) == list(whole.parts) and log_parts(first.to_frame()) == []
    assert b"(an analysed part: from 600.000 s to 1190.000 s)" in whole.to_csv()
    third = SessionLog(start_s=1600.0)
    third.add_frame(1600.0, [])
    assert SessionLog.join([back, third]).parts == (*whole.parts, (1600.0, 1600.0))
    # Parts that contradict the rows (a face outside every part, overlapping parts) are dropped:
    # the log is then one stretch, so a copy leaves no analysed frame out.
    text = whole.to_csv().decode()
    for wrong in ("from 600.000 s to 1000.000 s", "from 600.000 s to 1250.000 s"):
        assert SessionLog.from_csv(text.replace("from 600.000 s to 1190.000 s", wrong)).parts == ()
    assert not whole.streams and not back.streams  # parts of a video, not live streams
    # Overlapping logs are not parts of one recording.
    with pytest.raises(ValueError, match="overlap"):
        SessionLog.join([first, SessionLog.from_csv(first.to_csv())])
    with pytest.raises(ValueError, match="overlap"):
        SessionLog.join([scripted_log(), scripted_log()])
    with pytest.raises(ValueError):
        SessionLog.join([])
    assert SessionLog.join([first]).to_frame().equals(first.to_frame())


def test_boxes_set_aside_travel_with_the_log_but_stay_out_of_the_analytics():
    """Boxes the analysis found but did not count (the face check doubted them) are kept apart
    for pixelation: in the DataFrame's attrs, in the CSV as SET_ASIDE_ID rows, through a join;
    never as faces."""
    from fer_core.session import SET_ASIDE_ID, log_set_aside

    log = scripted_log()
    log.add_set_aside(10.0, [(300, 40, 30, 32)])
    log.add_set_aside(5.0, [(1.0, 2.0, 3.0, 4.0), (5, 6, 7, 8)])
    df = log.to_frame()
    assert log_set_aside(df).tolist() == [[5, 1, 2, 3, 4], [5, 5, 6, 7, 8], [10, 300, 40, 30, 32]]
    assert np.array_equal(log_set_aside(df[df["time_s"] < 3]), log_set_aside(df))  # kept by a filter
    assert log_set_aside(pd.DataFrame()).shape == (0, 5)
    data = log.to_csv()
    rows = [line.split(",") for line in data.decode().splitlines() if f",{SET_ASIDE_ID}," in line]
    assert [r[:6] for r in rows] == [["5.0", "-4", "1", "2", "3", "4"], ["5.0", "-4", "5", "6", "7", "8"],
                                     ["10.0", "-4", "300", "40", "30", "32"]]
    back = SessionLog.from_csv(data)
    pd.testing.assert_frame_equal(back.to_frame(), df, atol=1e-4)  # not face rows
    assert back.summary() == log.summary() and label_counts(back.to_frame()).sum() == len(df)
    assert np.array_equal(log_set_aside(back.to_frame()), log_set_aside(df))
    # A damaged box is left out, not a reason to refuse the log; a time beyond a week is refused.
    damaged = (data.decode().replace("10.0,-4,300,40,30,32", "10.0,-4,300,40,0,32")
               .replace("5.0,-4,1,2,3,4", "5.0,-4,a,2,3,4"))
    assert log_set_aside(SessionLog.from_csv(damaged).to_frame()).tolist() == [[5, 5, 6, 7, 8]]
    with pytest.raises(LogFormatError, match="a log covers at most"):
        SessionLog.from_csv(data.decode().replace("10.0,-4,", "1e9,-4,"))
    # Joined parts keep every part's boxes; clearing the log drops them.
    later = SessionLog(start_s=400.0)
    later.add_frame(400.0, [])
    later.add_set_aside(400.0, [(9, 9, 9, 9)])
    assert log_set_aside(SessionLog.join([later, log]).to_frame())[:, 0].tolist() == [5, 5, 10, 400]
    log.clear()
    assert log_set_aside(log.to_frame()).shape == (0, 5) and b",-4," not in log.to_csv()


def test_the_end_of_a_long_log_and_its_counts_without_converting_it_whole():
    """The live page's charts need the last 10 s and the counts of top labels: both straight from
    the rows, as the whole-log functions give them."""
    from fer_core.session import SessionLog, current_mix, label_counts

    rng = np.random.default_rng(1)
    log = SessionLog(source="live")
    assert log.label_counts().tolist() == [0] * 7 and log.to_frame(last_s=10.0).empty
    for t in np.arange(0.0, 60.0, 0.5):
        log.add_frame(float(t), [(i, (0, 0, 9, 9), rng.dirichlet(np.ones(7)).tolist()) for i in (1, 2)])
    log.add_frame(70.0, [])  # the log's end: a frame without faces
    whole = log.to_frame()
    recent = log.to_frame(last_s=15.0)
    assert recent["time_s"].min() == 55.0 and len(recent) == 20
    assert {k: v for k, v in recent.attrs.items() if k != "set_aside"} == {
        k: v for k, v in whole.attrs.items() if k != "set_aside"}
    pd.testing.assert_frame_equal(recent.reset_index(drop=True),
                                  whole[whole["time_s"] >= 55.0].reset_index(drop=True))
    pd.testing.assert_series_equal(current_mix(recent, 15.0), current_mix(whole, 15.0))
    pd.testing.assert_series_equal(log.label_counts(), label_counts(whole), check_names=False)
    # One moment's rows (the Video file page's frame at a time), both ends included.
    moment = log.to_frame(between=(20.0, 21.0))
    assert sorted(set(moment["time_s"])) == [20.0, 20.5, 21.0] and moment.attrs["end_s"] == 70.0
    pd.testing.assert_frame_equal(moment.reset_index(drop=True),
                                  whole[whole["time_s"].between(20.0, 21.0)].reset_index(drop=True))
    assert log.to_frame(between=(61.0, 80.0)).empty


class _Watched(np.ndarray):
    """A log's buffer that notes how many of its values each computation reads (the largest
    input of a ufunc such as ``>=``, or of an argmax)."""

    read: list[int] = []

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        _Watched.read.append(max(np.size(a) for a in inputs if isinstance(a, np.ndarray)))
        plain = [a.view(np.ndarray) if isinstance(a, _Watched) else a for a in inputs]
        return getattr(ufunc, method)(*plain, **kwargs)

    def argmax(self, *args, **kwargs):
        _Watched.read.append(self.size)
        return self.view(np.ndarray).argmax(*args, **kwargs)


def test_the_live_readout_reads_the_end_of_a_long_log_only():
    """The live page draws the last 10 s and the counts of top labels every 2 s of a session of
    hours. Both read every row of the log, with it locked against the frame callback's next row:
    44 ms (the counts) and 11 ms (the last 10 s) at a million rows, and growing with the session.
    Now the last 10 s are found in the rows' time order and the counts are kept up as rows come."""
    rng = np.random.default_rng(3)
    log = SessionLog(source="live")
    times = np.arange(0.0, 3 * 3600.0, 0.5)  # three hours of one face at the live page's 2 rows a second
    for t in times[:-4]:
        log.add_frame(float(t), [(1, (0, 0, 9, 9), rng.dirichlet(np.ones(7)).tolist())])
    whole = log.to_frame()
    log.label_counts()  # the page's first render counts the log so far, once
    log._blocks = [b.view(_Watched) for b in log._blocks]
    _Watched.read = []
    for t in times[-4:]:  # the next 2 s, then the next render
        log.add_frame(float(t), [(1, (0, 0, 9, 9), rng.dirichlet(np.ones(7)).tolist())])
    recent, counts = log.to_frame(last_s=10.0), log.label_counts()
    assert len(log) == len(times) > 20_000
    assert _Watched.read and max(_Watched.read) <= 21 * len(LABELS)  # the last 10 s: 21 rows
    whole = log.to_frame()
    assert len(recent) == 21 and recent["time_s"].min() == times[-1] - 10.0
    pd.testing.assert_frame_equal(recent.reset_index(drop=True),
                                  whole[whole["time_s"] >= times[-1] - 10.0].reset_index(drop=True))
    pd.testing.assert_series_equal(counts, label_counts(whole), check_names=False)
    log.clear()
    assert log.label_counts().tolist() == [0] * 7


def test_the_end_of_a_log_whose_rows_came_out_of_time_order():
    """A row logged with an earlier time than the one before (a snapshot taken beside a stream) is
    still in the last seconds it belongs to, and out of those it does not."""
    log = SessionLog(source="live")
    for t in (0.0, 5.0, 20.0, 30.0):
        log.add_frame(t, [(1, (0, 0, 9, 9), [1.0] + [0.0] * 6)])
    log.add_frame(25.0, [(2, (0, 0, 9, 9), [0.0] * 6 + [1.0])])
    log.add_frame(3.0, [(3, (0, 0, 9, 9), [0.0] * 6 + [1.0])])
    recent = log.to_frame(last_s=10.0)
    assert sorted(recent["time_s"]) == [20.0, 25.0, 30.0] and sorted(recent["face_id"]) == [1, 1, 2]
    assert log.label_counts()[["Angry", "Neutral"]].tolist() == [4, 2]
    joined = SessionLog.join([log])
    assert sorted(joined.to_frame(last_s=10.0)["time_s"]) == [20.0, 25.0, 30.0]


class _CountedLock:
    """A log's lock that notes the most bytes allocated while it was held (tracemalloc on)."""

    def __init__(self) -> None:
        self.lock, self.most = threading.Lock(), 0

    def __enter__(self) -> "_CountedLock":
        self.lock.acquire()
        tracemalloc.reset_peak()
        self.at = tracemalloc.get_traced_memory()[0]
        return self

    def __exit__(self, *exc: object) -> None:
        self.most = max(self.most, tracemalloc.get_traced_memory()[1] - self.at)
        self.lock.release()


def _class_frames(rng, faces: int, frames: int, t0: float = 0.0, attention_from: float = np.inf):
    """``frames`` frames of ``faces`` faces every 0.5 s from ``t0``, each ``(t, [faces])``: with
    attention from ``attention_from`` s (faces with ``pose``), ``(face_id, box, probabilities)`` before."""
    out = []
    for k in range(frames):
        t = t0 + 0.5 * k
        probs = rng.dirichlet(np.ones(7), faces).tolist()
        out.append((t, [SimpleNamespace(face_id=i + 1, box=(i, 2 * i, 40, 40), probabilities=p,
                                        pose=(1.0 * i, -2.0, 0.5), eyes_open=(0.5, 0.25), looking_at_camera=i % 2 == 0)
                         if t >= attention_from else (i + 1, (i, 2 * i, 40, 40), p) for i, p in enumerate(probs)]))
    return out


def _row(t, f):
    """A face's row as the log keeps it."""
    if isinstance(f, tuple):
        return [t, f[0], *f[1], *f[2], *[np.nan] * len(ATTENTION_COLUMNS)]
    return [t, f.face_id, *f.box, *f.probabilities, *f.pose, *f.eyes_open, float(f.looking_at_camera)]


def test_a_long_log_grows_and_takes_attention_without_copying_its_rows():
    """The frame callback logs each frame's faces under the log's lock. The log's rows were one
    array, doubled when full: a copy of every row so far, and old and new array at once (190-440 ms
    at 524,288 rows, about 3 hours of a class of 30; 100 MB more at the peak); and widened the same way
    for the attention columns when attention was switched on late (230-290 ms at 540,000 rows). Now
    the rows are kept in blocks never copied: a frame allocates at most a block (2.5 MB)."""
    rng = np.random.default_rng(5)
    log = SessionLog(source="live")
    log._lock = lock = _CountedLock()
    narrow = _class_frames(rng, 30, 2300)  # 69,000 rows: past 65,536, where the array doubled to 13.6 MB
    wide = _class_frames(rng, 30, 50, t0=1150.0, attention_from=1150.0)
    tracemalloc.start()
    try:
        for t, faces in narrow:
            log.add_frame(t, faces)
        grown, lock.most = lock.most, 0
        for t, faces in wide:  # attention switched on: the array was widened to 19 columns (20 MB)
            log.add_frame(t, faces)
        widened = lock.most
    finally:
        tracemalloc.stop()
    assert len(log) == 30 * 2350
    assert grown < 3 * 2**20 and widened < 3 * 2**20, (grown, widened)
    df = log.to_frame()  # every row as it was logged, the narrow ones with empty attention
    expected = np.array([_row(t, f) for t, faces in narrow + wide for f in faces])
    np.testing.assert_array_equal(df[[*COLUMNS, *ATTENTION_COLUMNS]].to_numpy(), expected)
    pd.testing.assert_series_equal(log.label_counts(), label_counts(df), check_names=False)


def test_reading_a_long_log_copies_it_with_the_log_unlocked():
    """The dashboard, the report and the CSV read the whole log while the frame callback logs
    frames. The copy of the rows (to_frame: 30-60 ms at a million rows) and the count of face
    numbers (summary: 34-56 ms) were taken with the log locked, and the frame callback's next row
    waited for them. Now the log gives views of its rows under the lock and copies after: rows once
    logged never change."""
    rng = np.random.default_rng(6)
    log = SessionLog(source="live")
    for t, faces in _class_frames(rng, 30, 1000):
        log.add_frame(t, faces)
    whole = log.to_frame()  # 30,000 rows: 3.1 MB
    log._lock = lock = _CountedLock()
    tracemalloc.start()
    try:
        df, summary = log.to_frame(), log.summary()
    finally:
        tracemalloc.stop()
    assert lock.most < 100_000, lock.most
    pd.testing.assert_frame_equal(df, whole)
    assert summary.faces == 30 and summary.rows == 30_000
    assert log.to_csv() == log_to_csv(whole, ())


def test_a_frame_logged_while_a_reader_copies_the_log(monkeypatch):
    """A frame comes in between the reader's look at the log (under the lock) and its copy (after
    it): the first frame with attention, then a new session (cleared). The reader gets the log as
    it was when it asked, the next one the log as it is."""
    from fer_core import session

    rng = np.random.default_rng(7)
    log = SessionLog(source="live")
    frames = _class_frames(rng, 30, 120, attention_from=59.0)
    for t, faces in frames[:100]:  # 3,000 rows: 3 blocks
        log.add_frame(t, faces)
    before = log.to_frame()
    stacked = session._stacked

    def meanwhile(views, width):
        for t, faces in frames[100:]:
            log.add_frame(t, faces)
        log.clear()
        log.add_frame(0.0, frames[0][1][:1])
        return stacked(views, width)

    monkeypatch.setattr(session, "_stacked", meanwhile)
    got = log.to_frame()
    monkeypatch.setattr(session, "_stacked", stacked)
    pd.testing.assert_frame_equal(got, before)
    assert len(log.to_frame()) == 1


@pytest.mark.parametrize("in_order", [True, False])
def test_the_rows_of_a_log_in_blocks_read_as_one(in_order):
    """A log of 40,000 rows (blocks of 1,024 to 32,768 rows), attention switched on within a block
    and a frame of 1,500 faces across the end of one: every read gives what filtering the whole
    log gives, in time order or not (a binary search in the blocks, or a comparison of every row)."""
    rng = np.random.default_rng(8)
    log = SessionLog(source="live")
    frames = _class_frames(rng, 30, 1300, attention_from=500.0)
    frames.insert(1050, (frames[1049][0], _class_frames(rng, 1500, 1, attention_from=0.0)[0][1]))
    if not in_order:
        frames[200:210] = [(t - 40.0, faces) for t, faces in frames[200:210]]
    counts = []
    for k, (t, faces) in enumerate(frames):
        log.add_frame(t, faces)
        if k % 333 == 0:
            counts.append((len(log), log.label_counts()))
    assert len(log) == 30 * 1300 + 1500
    whole = log.to_frame()
    times = whole["time_s"]
    for n, c in counts:  # counted as the rows came
        pd.testing.assert_series_equal(c, label_counts(whole.iloc[:n]), check_names=False)
    block_ends = np.cumsum([1024, 1024, 2048, 4096, 8192, 16384])
    edges = [float(times.iloc[i]) for i in block_ends[3:]] + [0.0, 12.5, 520.0, 700.0]
    for s in (0.0, 10.0, 123.4, 1e6):
        got = log.to_frame(last_s=s).reset_index(drop=True)
        pd.testing.assert_frame_equal(got, whole[times >= 649.5 - s].reset_index(drop=True))
    for a in edges:
        for b in edges:
            got = log.to_frame(between=(a, b)).reset_index(drop=True)
            pd.testing.assert_frame_equal(got, whole[(times >= a) & (times <= b)].reset_index(drop=True))
    back = SessionLog.from_csv(log.to_csv())
    np.testing.assert_allclose(back.to_frame()[[*COLUMNS, *ATTENTION_COLUMNS]].to_numpy(),
                               whole.sort_values("time_s", kind="stable")[[*COLUMNS, *ATTENTION_COLUMNS]].to_numpy(),
                               atol=1e-5, rtol=0)  # the CSV's probabilities have 5 decimals


def class_log(minutes: float = 90.0, faces: int = 30, rows_per_s: float = 2.0, seed: int = 0) -> SessionLog:
    """An online class as the live page logs it with attention on: ``faces`` faces of a 1280 x 720
    gallery, ``rows_per_s`` rows a face and second (its log interval), model-like probabilities,
    head pose, eyes and looking. Built as rows, without the model."""
    rng = np.random.default_rng(seed)
    times = np.round(np.arange(0.0, minutes * 60.0, 1.0 / rows_per_s) + rng.uniform(0, 0.05), 3)
    n = len(times) * faces
    logits = rng.normal(0.0, 1.0, (n, len(LABELS)))
    logits[:, LABELS.index("Neutral")] += 2.0
    probs = np.exp(logits).astype(np.float32)
    probs /= probs.sum(axis=1, keepdims=True)
    seat = np.tile(np.arange(faces), len(times))
    df = pd.DataFrame({"time_s": np.repeat(times, faces), "face_id": seat + 1,
                       "x": 213 * (seat % 6) + 50 + rng.integers(-4, 5, n), "y": 144 * (seat // 6) + 30,
                       "w": 95 + rng.integers(-3, 4, n), "h": 95, **dict(zip(LABELS, probs.T.astype(np.float64))),
                       "yaw": rng.normal(0, 12, n), "pitch": rng.normal(-5, 8, n), "roll": rng.normal(0, 4, n),
                       "eye_left": rng.uniform(0.1, 0.5, n), "eye_right": rng.uniform(0.1, 0.5, n),
                       "looking": (rng.random(n) < 0.6).astype(float)})
    return SessionLog.from_frame(df, source="live")


def test_a_90_minute_class_of_30_faces_fits_the_upload_limit_of_its_pages():
    from fer_app import uploads

    csv = class_log().to_csv()
    # 324,000 rows with attention: 42 MB (the limit was 25 MB, and the dashboard and Compare
    # sessions refused the log the dashboard had just downloaded).
    assert len(csv) <= uploads.LOG_MB * uploads.MB
    assert len(SessionLog.from_csv(csv)) == 90 * 60 * 2 * 30


def test_reading_a_csv_back_takes_a_few_times_its_size_at_most():
    import tracemalloc

    csv = class_log(minutes=10).to_csv()
    tracemalloc.start()
    try:
        log = SessionLog.from_csv(csv)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(log) == 10 * 60 * 2 * 30
    # 4.6 MB of CSV: 13 MB at the peak, 29 MB before (decoded to a str, then StringIO's 4 bytes a
    # character, then the frame copied per kind of row and converted in whole copies).
    assert peak < 3.5 * len(csv), (peak, len(csv))


def test_a_live_session_read_back_from_its_csv_still_has_streams_not_parts_of_a_video():
    """A live session stopped and started again: its CSV said "(an analysed part: ...)", and the
    dashboard called the log read back "2 parts of a video"."""
    log = SessionLog(source="live")
    face = (1, (10, 10, 50, 50), np.full(7, 1 / 7))
    for t in range(10):
        log.add_frame(float(t), [face])
    log.resume()
    for t in range(30, 40):
        log.add_frame(float(t), [face])
    assert log.streams and log.parts == ((0.0, 9.0), (30.0, 39.0))
    text = log.to_csv()
    assert b"(a live stream: from 0.000 s to 9.000 s)" in text and b"analysed part" not in text
    back = SessionLog.from_csv(text, source="fer_live_session.csv")
    assert back.streams and back.parts == log.parts and back.summary().analysed_s == 18.0
    assert SessionLog.from_csv(back.to_csv()).streams  # and again
    once = SessionLog(source="live")  # streamed once: one stretch, nothing to tell
    once.add_frame(0.0, [face])
    once.resume()
    assert not once.streams and b"live stream" not in once.to_csv()


def zipped(files: dict[str, bytes]) -> bytes:
    """A zip archive of ``files``, deflated, as Windows' Compressed folder and macOS' Compress make it."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in files.items():
            z.writestr(name, data)
    return buf.getvalue()


def damaged_directory_offset(archive: bytes) -> bytes:
    """``archive`` with the top byte of its end record's offset of the central directory changed."""
    out = bytearray(archive)
    end = out.rfind(b"PK\x05\x06")
    out[end + 19] ^= 0xF8  # the offset is the record's bytes 16 to 19, little-endian
    return bytes(out)


def test_a_compressed_log_reads_back_as_its_csv():
    """A full live log (a million observations) is about 125 MB of CSV, over the 50 MB the dashboard and
    Compare sessions take; compressed it is a third of that. Gzipped or zipped, a log was refused as
    'missing columns time_s, face_id, ...'."""
    log = class_log(minutes=2, faces=3)
    log.add_marker(30.0, "quiz starts")
    for t in (120.0, 125.0):
        log.add_frame(t, [])  # frames without faces: the end row
    csv = log.to_csv()
    plain = SessionLog.from_csv(csv)
    for data in (gzip.compress(csv), zipped({"session_log.csv": csv}),
                 # macOS' Compress adds a folder of resource forks; a folder in the archive is no file
                 zipped({"logs/": b"", "logs/session_log.csv": csv, "__MACOSX/logs/._session_log.csv": b"\0" * 80})):
        back = SessionLog.from_csv(data)
        assert back.summary() == plain.summary() and back.markers == plain.markers
        pd.testing.assert_frame_equal(back.to_frame(), plain.to_frame())


def test_a_compressed_log_is_unpacked_no_further_than_its_bound():
    """A few kilobytes of gzip can unpack to gigabytes: past the bound the log is refused, and never
    unpacked whole into memory."""
    import tracemalloc
    import zlib

    from fer_core import session

    csv = class_log(minutes=2, faces=3).to_csv()
    assert len(SessionLog.from_csv(gzip.compress(csv), max_unpacked=len(csv))) == 2 * 60 * 2 * 3
    bombs = [gzip.compress(csv + b"0" * 20_000_000), zipped({"log.csv": csv + b"0" * 20_000_000})]
    assert all(len(bomb) < 100_000 for bomb in bombs)  # 20 MB more in 20 kB
    tracemalloc.start()
    try:
        for bomb in bombs:
            with pytest.raises(session.LogFormatError, match=r"unpacks to more than 1 MB of CSV"):
                SessionLog.from_csv(bomb, max_unpacked=2**20)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 4 * 2**20, peak
    # The app's own bound: a gigabyte of zeros (1 MB of gzip), refused.
    squeeze = zlib.compressobj(9, zlib.DEFLATED, 31)
    chunk = bytes(2**20)
    big = b"".join(squeeze.compress(chunk) for _ in range(1024)) + squeeze.flush()
    assert len(big) < 2**21
    with pytest.raises(session.LogFormatError, match=r"unpacks to more than 160 MB of CSV"):
        SessionLog.from_csv(big)


@pytest.mark.parametrize("pack, message", [
    (lambda csv: gzip.compress(csv)[:-5000], "not a readable compressed file"),  # a download cut short
    (lambda csv: zipped({"log.csv": csv})[:200], "not a readable compressed file"),
    (lambda csv: zipped({"a.csv": csv, "b.csv": csv}), "the zip archive holds 2 files"),
    (lambda csv: zipped({}), "the zip archive holds 0 files"),
    # Its end record's offset of the directory damaged: zipfile seeks before the archive's start
    # (ValueError "negative seek value", an exception page on the dashboard and Compare sessions).
    (lambda csv: damaged_directory_offset(zipped({"log.csv": csv})), "not a readable compressed file"),
], ids=["gzip cut short", "zip cut short", "two files", "empty zip", "zip directory offset damaged"])
def test_a_damaged_or_odd_archive_is_refused_with_what_it_is(pack, message):
    from fer_core.session import LogFormatError

    with pytest.raises(LogFormatError, match=message):
        SessionLog.from_csv(pack(class_log(minutes=1, faces=2).to_csv()))


def paused_live_log() -> SessionLog:
    """A live session whose clock started with a moment named 3 minutes before START, streamed
    0:03:00 to 0:19:59, stopped 10 minutes and streamed 0:30:00 to 0:59:59 (a row a second)."""
    log = SessionLog(source="live")
    log.add_marker(0.0, "class starts")
    log.resume()  # the clock started before the first frame (fer_core.live: a moment named before START)
    for t in range(180, 1200):
        log.add_frame(float(t), [(1, (10, 10, 50, 50), onehot("Happy"))])
    log.resume()  # STOP, START
    for t in range(1800, 3600):
        log.add_frame(float(t), [(1, (10, 10, 50, 50), onehot("Sad"))])
    return log


def test_the_time_before_a_live_logs_first_stream_is_not_analysed_time_and_survives_its_csv():
    """A teacher names "class starts" on the Live page and presses START 3 minutes later: the log's
    clock starts at the moment named, its first frame comes at 3:00. Those 3 minutes counted as
    analysed (a log of one stream: 'Duration 33.0 min' for 30 streamed; of two: 29:58 analysed but the
    3 minutes left unshaded, the mix at 0 %, 'no face', there). Now the first stream starts the
    analysed time, the 3 minutes are shaded as not analysed, and the log's CSV, as saved again by
    a spreadsheet, zipped or gzipped, says so too."""
    from fer_core.compare import compare_sessions
    from fer_core.session import unanalysed

    log = paused_live_log()
    summary = log.summary()
    assert summary.parts == ((180.0, 1199.0), (1800.0, 3599.0)) and log.streams
    assert summary.analysed_s == pytest.approx(1019.0 + 1799.0) and summary.duration_s == 3599.0
    assert unanalysed(log.to_frame()) == [(0.0, 180.0), (1199.0, 1800.0)]
    one = SessionLog(source="live")  # one stream only, from 3:00
    one.add_marker(0.0, "class starts")
    one.resume()
    for t in range(180, 1980):
        one.add_frame(float(t), [(1, (10, 10, 50, 50), onehot("Happy"))])
    assert one.summary().parts == ((180.0, 1979.0),) and one.streams
    assert one.summary().analysed_s == pytest.approx(1799.0)  # was 1979: the 3 minutes before START counted
    assert unanalysed(one.to_frame()) == [(0.0, 180.0)]
    assert compare_sessions({"one": one.to_frame()})["duration_min"].iloc[0] == pytest.approx(1799.0 / 60)
    zipped = io.BytesIO()
    with zipfile.ZipFile(zipped, "w") as z:
        z.writestr("live.csv", one.to_csv())
    saves = {"csv": one.to_csv(), "zip": zipped.getvalue(), "gz": gzip.compress(one.to_csv()),
             **spreadsheet_saves(one.to_csv())}
    for how, data in saves.items():
        back = SessionLog.from_csv(data)
        assert back.summary().parts == ((180.0, 1979.0),) and back.streams, how
        assert unanalysed(back.to_frame()) == [(0.0, 180.0)], how
    for how, data in spreadsheet_saves(log.to_csv()).items():
        back = SessionLog.from_csv(data)
        assert back.summary().parts == summary.parts and back.streams, how
        assert unanalysed(back.to_frame()) == [(0.0, 180.0), (1199.0, 1800.0)], how


def test_a_log_that_starts_with_its_first_frame_has_no_parts_as_before():
    """A live session whose clock started with its first frame (no moment named before), a whole
    video, a part of a video from 1:00:00, and logs read back that were written before live logs
    kept their streams: one stretch, no parts, nothing shaded, as before."""
    from fer_core.session import PART_ID, PART_TEXT, STREAM_TEXT, unanalysed

    live = SessionLog(source="live")
    live.resume()  # STOP before the first frame came (START that failed), then START
    for t in range(0, 600):
        live.add_frame(float(t), [(1, (10, 10, 50, 50), onehot("Happy"))])
    video = SessionLog(source="video", start_s=3600.0)
    for t in range(3600, 4200):
        video.add_frame(float(t), [(1, (10, 10, 50, 50), onehot("Happy"))])
    for log in (live, video, SessionLog.from_csv(live.to_csv()), SessionLog.from_csv(video.to_csv())):
        assert log.summary().parts == () and not log.streams
        assert log.summary().analysed_s == log.summary().duration_s == 599.0
        assert unanalysed(log.to_frame()) == []
    # One part row alone in a CSV: a video's part, or a stream that starts with the log, is no part.
    for text, start in ((PART_TEXT, 60.0), (STREAM_TEXT, 0.0)):
        df = SessionLog.from_csv(video.to_csv()).to_frame()
        df = df.assign(time_s=df["time_s"] - 3600 + start)
        rows = df[list(COLUMNS)].assign(marker="")
        part = text.format(start=start, end=start + 599)
        rows.loc[len(rows)] = [start, PART_ID, *[np.nan] * (len(COLUMNS) - 2), part]
        back = SessionLog.from_csv(rows.to_csv(index=False))
        assert back.summary().parts == () and not back.streams


def test_parts_text_lists_a_few_and_sums_up_many():
    """A live session of 40 streams (a flaky network) listed each of them, 40 spans in one caption;
    past six, the whole and the three longest times between them (each charted as not analysed)."""
    from fer_core.session import parts_text

    assert parts_text([(0.0, 1199.0), (1800.0, 3599.0)]) == "0:00 to 19:59, 30:00 to 59:59"
    many = [(600.0 * k, 600.0 * k + 540.0 - k) for k in range(40)]  # pauses of 60 s, 61 s, ... 98 s
    assert parts_text(many) == ("0:00 to 6:38:21, the longest times between them 6:08:24 to 6:10:00, "
                                "6:18:23 to 6:20:00, 6:28:22 to 6:30:00")
    assert parts_text(many[:6]).count(" to ") == 6  # six: each listed


def video_in_parts(parts: int, minutes: float = 5.0, skip: tuple[int, ...] = ()) -> SessionLog:
    """A video analysed in ``parts`` parts of ``minutes`` each, a frame every 0.5 s, each from the
    frame after the part before (as the Video file page's parts of 7,200 frames), joined; the parts
    numbered in ``skip`` not analysed."""
    logs = []
    for k in range(parts):
        if k in skip:
            continue
        part = SessionLog(source=f"part{k}.csv", start_s=60.0 * minutes * k)
        for t in np.arange(60.0 * minutes * k, 60.0 * minutes * (k + 1), 0.5):
            part.add_frame(float(t), [(1, (10, 10, 50, 50), onehot("Neutral"))])
        logs.append(part)
    return SessionLog.join(logs, source="lecture.mp4")


def test_parts_text_of_a_video_in_parts_that_follow_on_names_no_times_between_them():
    """A video analysed in 8 parts, each from the frame after the last one of the part before: its
    summary read "0:00 to 39:59, the longest times between them 4:59 to 5:00, 9:59 to 10:00, 14:59
    to 15:00", half a second each, where no frame went unanalysed (and its charts shade nothing).
    Given the times not analysed, only those count; a part left out still does."""
    from fer_core.session import parts_text, unanalysed

    log = video_in_parts(8)
    parts, gaps = log.summary().parts, unanalysed(log.to_frame())
    assert len(parts) == 8 and gaps == []
    assert parts_text(parts, gaps=gaps) == "0:00 to 39:59, each following on from the one before"
    log = video_in_parts(9, skip=(4,))
    parts, gaps = log.summary().parts, unanalysed(log.to_frame())
    assert len(parts) == 8 and gaps == [(1199.5, 1500.0)]
    assert parts_text(parts, gaps=gaps) == "0:00 to 44:59, the longest times between them 19:59 to 25:00"


def test_confidence_note_says_how_sure_the_model_was_and_why_the_mix_reads_lower_than_the_counts():
    """A person's 40 minutes read "Neutral 62%" on the mix over time and Neutral for 4,604 of 4,800
    observations on the bars beside it, and nothing said how sure the model had been."""
    from fer_core.session import confidence_note, most_in_view

    def probs(top: str, p: float) -> list[float]:
        rest = (1.0 - p) / (len(LABELS) - 1)
        return [p if lab == top else rest for lab in LABELS]

    log = SessionLog()
    # 3 rows Neutral at 0.9, 1 row Neutral at 0.4 (unsure), 1 row Happy at 0.7.
    for t, (top, p) in enumerate([("Neutral", 0.9)] * 3 + [("Neutral", 0.4), ("Happy", 0.7)]):
        log.add_frame(float(t), [(1, (0, 0, 10, 10), probs(top, p))])
    df = log.to_frame()
    neutral_mix = (3 * 0.9 + 0.4 + 0.3 / 6) / 5  # 0.63
    assert confidence_note(df, "the counts") == (
        "How sure the model was: its top expression had 76% probability on average, and under 50% in 20% of the "
        "observations: read those as guesses between expressions. The mix charts are mean probabilities, so an "
        "unsure reading counts as unsure; the counts count each observation once, under its most probable "
        f"expression (Neutral: 80% of the observations, {100 * neutral_mix:.0f}% of the mix).")
    assert confidence_note(SessionLog().to_frame()) == ""
    assert most_in_view(df) == 1 and most_in_view(SessionLog().to_frame()) == 0
    log.add_frame(5.0, [(1, (0, 0, 10, 10), probs("Sad", 0.8)), (2, (20, 0, 10, 10), probs("Sad", 0.8))])
    assert most_in_view(log.to_frame()) == 2


def damaged_video_log(start_s: float = 0.0) -> SessionLog:
    """A video's log as fer_core.video writes one of a file damaged at its start (0:00-0:03) and
    from 0:20 to 0:30, analysed at 2 frames a second up to 0:40 of the 0:50 its header gives."""
    log = SessionLog(source="video", start_s=start_s)
    log.resume(stream=False)  # its first frames could not be decoded
    for k in range(6, 80):
        t = start_s + k / 2
        if start_s + 20 <= t < start_s + 30:
            continue
        if t == start_s + 30:
            log.resume(stream=False)
        log.add_frame(t, [(1, (10, 10, 50, 50), onehot("Happy"))] if k % 3 else [])
    for a, b in ((0.0, 2.9), (20.1, 29.9)):
        log.add_damaged(start_s + a, start_s + b)
    log.add_damaged(start_s + 39.5, start_s + 50.0, cut_short=True)
    return log


def test_a_damaged_videos_stretches_are_parts_of_it_not_live_streams():
    """A video's log resumed after a stretch that could not be decoded (fer_core.video): its parts are
    the video's, never "live streams"; the damaged start and middle are shaded, and so is the end
    after the last frame (a file cut short); the time analysed leaves them out; and its CSV, as a
    spreadsheet saves it again, keeps all of it. The same parts without the damaged rows that say
    why (a CSV edited by hand) are one stretch, as before."""
    from fer_core.session import DAMAGED_ID, damage_text, log_damaged, unanalysed

    log = damaged_video_log()
    summary = log.summary()
    assert summary.parts == ((3.0, 19.5), (30.0, 39.5)) and not log.streams
    assert summary.analysed_s == pytest.approx(16.5 + 9.5) and summary.duration_s == 39.5
    assert log.damaged == ((0.0, 2.9), (20.1, 29.9), (39.5, 50.0))
    shaded = [(0.0, 3.0), (19.5, 30.0), (39.5, 50.0)]
    assert unanalysed(log.to_frame()) == shaded
    assert damage_text(log.damaged, summary.end_s, cut_short=log.cut_short) == (
        "the video could not be decoded from 0:00 to 0:02, 0:20 to 0:29 (damaged): nothing there was analysed; "
        "nor from 0:39, where the analysis ends, to 0:50: the file is cut short there (an unfinished download or "
        "copy?)")
    for how, data in {"csv": log.to_csv(), **spreadsheet_saves(log.to_csv())}.items():
        back = SessionLog.from_csv(data)
        assert (back.summary().parts, back.damaged, back.streams) == (summary.parts, log.damaged, False), how
        assert back.cut_short == log.cut_short == 39.5, how
        assert unanalysed(back.to_frame()) == shaded and log_damaged(back.to_frame()) == list(log.damaged), how
    csv = pd.read_csv(io.BytesIO(log.to_csv()), keep_default_na=False)
    kept = csv[csv["face_id"] != DAMAGED_ID]
    back = SessionLog.from_csv(kept.to_csv(index=False))
    assert back.damaged == () and back.summary().parts == summary.parts  # two parts: kept
    one = damaged_video_log()
    one.clear()
    one.resume(stream=False)
    for t in range(6, 20):
        one.add_frame(t / 2, [(1, (10, 10, 50, 50), onehot("Happy"))])
    one.add_damaged(0.0, 2.9)
    assert one.summary().parts == ((3.0, 9.5),) and unanalysed(one.to_frame()) == [(0.0, 3.0)]
    csv = pd.read_csv(io.BytesIO(one.to_csv()), keep_default_na=False)
    assert SessionLog.from_csv(csv.to_csv(index=False)).summary().parts == ((3.0, 9.5),)
    back = SessionLog.from_csv(csv[csv["face_id"] != DAMAGED_ID].to_csv(index=False))
    assert back.summary().parts == () and unanalysed(back.to_frame()) == []  # a lone part, no reason: none
    with pytest.raises(ValueError):
        one.add_damaged(5.0, 4.0)


def test_a_damaged_end_is_not_called_cut_short():
    """A log that ends in a damaged stretch read "damaged, or cut short (an unfinished download or copy?)"
    whatever happened: a file cut short, a garbled end, or a part of a video analysed up to a time inside
    a damaged stretch (its log ends where the damage begins). The log now keeps where a file cut short
    breaks off (SessionLog.cut_short), through its CSV and a join, and the text says which it was."""
    from fer_core.session import DAMAGED_ID, damage_text, log_cut_short

    def log_to(end: float) -> SessionLog:
        log = SessionLog(source="video")
        for t in np.arange(0.0, end + 0.25, 0.5):
            log.add_frame(float(t), [(1, (10, 10, 50, 50), onehot("Happy"))])
        return log

    garbled = log_to(18.0)
    garbled.add_damaged(18.3, 21.85)  # a part analysed "to 0:21", damaged from 0:18 on
    assert garbled.cut_short is None and log_cut_short(garbled.to_frame()) is None
    assert damage_text(garbled.damaged, 18.0, cut_short=garbled.cut_short) == (
        "the video could not be decoded from 0:18, where the analysis ends, to 0:21 (damaged)")
    cut = log_to(18.0)
    cut.add_damaged(18.0, 40.0, cut_short=True)
    assert cut.cut_short == 18.0 and log_cut_short(cut.to_frame()) == 18.0
    assert damage_text(cut.damaged, 18.0, cut_short=cut.cut_short) == (
        "the video could not be decoded from 0:18, where the analysis ends, to 0:40: the file is cut short there (an "
        "unfinished download or copy?)")
    both = log_to(18.0)
    both.add_damaged(18.3, 21.5)
    both.add_damaged(21.5, 40.0, cut_short=True)  # garbled, then nothing: one stretch
    assert both.damaged == ((18.3, 40.0),) and both.cut_short == 21.5
    assert damage_text(both.damaged, 18.0, cut_short=both.cut_short).endswith(
        "to 0:40: damaged, then the file is cut short from 0:21 (an unfinished download or copy?)")
    for log in (garbled, cut, both):
        for data in (log.to_csv(), *spreadsheet_saves(log.to_csv()).values()):
            back = SessionLog.from_csv(data)
            assert (back.damaged, back.cut_short) == (log.damaged, log.cut_short)
    csv = pd.read_csv(io.BytesIO(both.to_csv()), keep_default_na=False)
    assert list(csv.loc[csv["face_id"] == DAMAGED_ID, "marker"]) == [
        "(damaged, could not be decoded: from 18.300 s to 21.500 s)",
        "(cut short, could not be decoded: from 21.500 s to 40.000 s)"]
    # Joined: the part that breaks off says so; cleared, nothing.
    rest = SessionLog(source="video", start_s=10.0)
    rest.add_frame(12.0, [])
    rest.add_damaged(12.2, 30.0, cut_short=True)
    first = log_to(9.5)
    assert SessionLog.join([rest, first]).cut_short == 12.2 and SessionLog.join([first]).cut_short is None
    cut.clear()
    assert cut.cut_short is None and cut.damaged == ()


def test_parts_of_a_damaged_video_joined_keep_its_damage_once():
    """A damaged stretch across two parts analysed one after the other (each part keeps its share)
    is one stretch of the joined log; a damaged start of the first part still shades."""
    from fer_core.session import unanalysed

    whole = damaged_video_log()
    first, rest = SessionLog(source="video"), SessionLog(source="video", start_s=25.0)
    first.resume(stream=False)
    for t, faces in ((float(t), [(1, (10, 10, 50, 50), onehot("Happy"))]) for t in np.arange(3.0, 20.0, 0.5)):
        first.add_frame(t, faces)
    first.add_damaged(0.0, 2.9)
    first.add_damaged(20.1, 25.0)
    rest.resume(stream=False)
    for t in np.arange(30.0, 40.0, 0.5):
        rest.add_frame(float(t), [(1, (10, 10, 50, 50), onehot("Sad"))])
    rest.add_damaged(25.0, 29.9)
    rest.add_damaged(39.5, 50.0)
    joined = SessionLog.join([rest, first], source="video")
    assert joined.damaged == whole.damaged and joined.summary().parts == whole.summary().parts
    assert unanalysed(joined.to_frame()) == unanalysed(whole.to_frame())
    assert SessionLog.from_csv(joined.to_csv()).damaged == whole.damaged


def test_a_damaged_stretch_is_shaded_however_seldom_a_face_was_found():
    """The parts of a video's analysis that follow on leave no shaded span when they are about a step
    of the face rows apart (sample_step), which is the time between faces found: in a lecture where
    a face was found in one frame of four (2.0 s at 2 frames a second), a damaged 2.5 s that the time
    analysed left out was not shaded, though the page said the charts shade it. A damaged start too."""
    from fer_core.compare import analysed_time
    from fer_core.session import sample_step, unanalysed

    for every in (1, 4, 6):
        log = SessionLog(source="video")
        log.resume(stream=False, at=2.0)  # its first 2 s could not be decoded
        for k in range(4, 80):
            t = k / 2
            if 20.0 < t < 22.5:
                continue
            if t == 22.5:
                log.resume(stream=False, at=22.5)
            log.add_frame(t, [(1, (10, 10, 50, 50), onehot("Happy"))] if k % every == 0 else [])
        log.add_damaged(0.0, 1.9)
        log.add_damaged(20.2, 22.3)
        summary = log.summary()
        assert summary.parts == ((2.0, 20.0), (22.5, 39.5)) and summary.analysed_s == 35.0
        for df in (log.to_frame(), SessionLog.from_csv(log.to_csv()).to_frame()):
            assert sample_step(df) == every / 2
            assert unanalysed(df) == [(0.0, 2.0), (20.0, 22.5)], every
            assert analysed_time(df)[1] == pytest.approx(summary.analysed_s), every
    # Parts that follow on, with no damage between them, still leave none.
    first, rest = SessionLog(source="video"), SessionLog(source="video", start_s=10.5)
    for t in np.arange(0.0, 21.0, 0.5):
        (first if t < 10.5 else rest).add_frame(float(t), [(1, (10, 10, 50, 50), onehot("Sad"))] if t % 2 == 0 else [])
    first.add_damaged(3.2, 3.3)  # one packet, no frame of the grid lost: no part of its own
    assert unanalysed(SessionLog.join([first, rest], source="video").to_frame()) == []


def test_a_logs_time_analysed_and_end_without_its_summary():
    """SessionLog.analysed_s and end_s give the summary's figures without counting the face numbers (the
    live page's caption of how long a log may grow read summary() on each run for them): the same for a
    log streamed once, stopped and started again, started late, joined from parts, of a damaged video,
    of part of a video, read back, and empty."""
    streamed = SessionLog()
    for t in range(0, 100):
        if t == 50:
            streamed.resume()
        streamed.add_frame(t + (30.0 if t >= 50 else 0.0), [(t % 7, (0, 0, 10, 10), onehot("Sad"))])
    late = SessionLog()
    late.add_marker(0.0, "before START")
    late.resume()
    for t in range(5, 20):
        late.add_frame(float(t), [])
    first, second = SessionLog(), SessionLog(start_s=100.0)
    for t in range(0, 40):
        first.add_frame(float(t), [(1, (0, 0, 10, 10), onehot("Happy"))])
        second.add_frame(100.0 + t, [(1, (0, 0, 10, 10), onehot("Happy"))])
    part = SessionLog(start_s=60.0)
    part.add_frame(75.0, [(1, (0, 0, 10, 10), onehot("Happy"))])
    logs = [streamed, late, SessionLog.join([first, second]), damaged_video_log(), damaged_video_log(12.5), part,
            SessionLog()]
    for log in logs + [SessionLog.from_csv(log.to_csv()) for log in logs]:
        summary = log.summary()
        assert log.analysed_s == summary.analysed_s and log.end_s == pytest.approx(summary.end_s, abs=1e-9)
    assert streamed.analysed_s == 98.0 and streamed.end_s == 129.0 and late.analysed_s == 14.0


def test_time_bin_from_a_sessions_length_for_the_video_page_and_the_dashboard():
    """The Video file page chose its bins from the video's length (0.5 s for a 12 s clip at 2 frames a
    second) and the dashboard always 10 s: the same clip had 2 bins there. One rule for both: about
    120 bins, never shorter than a frame; the dashboard's, one of its slider's steps, at most the 10 s
    every session had before, so sessions from 20 minutes on keep it."""
    from fer_core.session import TIME_BINS, time_bin

    # The Video file page: a frame every 0.5 s (2 a second), whole seconds from 2 minutes on.
    assert [time_bin(s, 0.5) for s in (12, 30, 120, 600, 3600, 10800)] == [0.5, 0.5, 1, 5, 30, 90]
    assert time_bin(3600, 2.0) == 3600 / TIME_BINS and time_bin(12, 2.0) == 2.0  # 0.5 frames a second
    steps, most = [0.5, 1, 2, 5, 10, 15, 30, 60], 10
    dashboard = [time_bin(s, 0.5, steps, most=most) for s in (12, 30, 120, 300, 900, 1200, 3600, 10800)]
    assert dashboard == [0.5, 0.5, 1, 2, 10, 10, 10, 10]  # 900 s: 8 s, the next step up
    assert time_bin(12, 0.1, steps, most=most) == 0.5  # 10 frames a second: the shortest step
    assert time_bin(0.0, 0.0, steps) == 0.5 and time_bin(1e6, 0.5, steps) == 60  # no frame apart; past the steps


def test_length_text_in_seconds_under_a_minute():
    """The dashboard read "Duration 0.2 min" for a 12 s clip, a figure to convert."""
    from fer_core.session import length_text

    assert [length_text(s) for s in (0.0, 0.5, 4.0, 9.94, 12.0, 16.5, 59.4)] == \
        ["0 s", "0.5 s", "4 s", "9.9 s", "12 s", "17 s", "59 s"]
    # From a minute on, minutes to a tenth, as before.
    assert [length_text(s) for s in (59.6, 150.0, 3600.0, 10800.0)] == ["1.0 min", "2.5 min", "60.0 min", "180.0 min"]
