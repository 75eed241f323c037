"""Compare sessions: several lectures or classes side by side (CSV logs, this browser's live
session, the analysed video)."""
import functools
import hashlib

import pandas as pd
import streamlit as st

from fer_app import support, turns, uploads
from fer_core import charts, csvtext
from fer_core.compare import (
    LOOKING,
    MEASURES,
    MINUTES,
    SHARE,
    compare_sessions,
    damage_note,
    measure_over_time,
    models_note,
    same_log,
    table_for_display,
    unique_names,
)
from fer_core.report import build_comparison_report
from fer_core.session import LogFormatError, SessionLog, log_models, unpack_log

#: At most this many sessions at once (each CSV log can hold up to uploads.LOG_MB).
MAX_SESSIONS = 8

st.title("Compare sessions")
st.caption("Put lectures or classes side by side: this week's against last week's, or one course's "
           "recordings over a term; or your own sessions at the camera over several days. Upload the CSV logs "
           "that the Live webcam, Video file and Class dashboard pages download; the logs hold anonymous face "
           "numbers, boxes and probabilities, no images. "
           + support.PRIVACY_NOTE)

names: list[str] = []
frames = []
# The sessions held by this browser, as the warnings name them: their downloaded CSV, uploaded
# beside them, is the same session and is left out (it drew a second line hidden by the first).
in_session: list[tuple[str, pd.DataFrame]] = []
live = support.live_log()
if live is not None and len(live) and st.checkbox("This browser's live session", value=True):
    names.append("Live session")
    frames.append(live.to_frame())
    in_session.append(("this browser's live session", frames[-1]))
video = st.session_state.get("fer_video")
if video is not None and len(video["result"].log) and st.checkbox(
        f"The analysed video ({support.md_literal(video['name'])})", value=True):
    names.append(video["name"])
    frames.append(video["result"].log.to_frame())
    in_session.append((f"the analysed video (**{support.md_literal(video['name'])}**)", frames[-1]))

files = st.file_uploader(f"Session logs (CSV from this app, or their ZIP; up to {MAX_SESSIONS} sessions in all)",
                         type=uploads.LOG_TYPES, accept_multiple_files=True, max_upload_size=uploads.LOG_MB,
                         help=uploads.LOG_HELP)
# Parsed logs are kept for this browser session, keyed by upload, so that changing a chart
# setting does not read every CSV again; logs that were removed from the uploader are dropped.
parsed = st.session_state.setdefault("fer_compare_logs", {})
# Their digests too: of the CSV, so that a log and its ZIP are one session, not two.
digests = st.session_state.setdefault("fer_compare_digests", {})
current = {u.file_id for u in files or []}
for held in (parsed, digests):
    for key in [k for k in held if k not in current]:
        del held[key]
seen: dict[str, str] = {}  # digest of each log compared -> its file name
for upload in files or []:
    if upload.file_id not in digests:
        try:
            with turns.log_read():  # one read at a time on this server (fer_app.turns)
                content = unpack_log(upload.getvalue())
        except LogFormatError:
            content = upload.getvalue()  # not read below either: its error is said there
        digests[upload.file_id] = hashlib.sha1(content).hexdigest()
        del content  # not held while the log is read below: a full log's CSV is 131 MB
    digest = digests[upload.file_id]
    shown = support.md_literal(upload.name)  # in the messages: as named, not read as Markdown
    if digest in seen:  # the same file twice (downloaded twice, renamed): one session, not two
        # The same name too: the file chosen twice (or downloaded twice into one folder).
        same = ("was chosen twice" if seen[digest] == upload.name
                else f"is the same log as **{support.md_literal(seen[digest])}**")
        st.warning(f"**{shown}** {same}; it is left out.", icon=":material/content_copy:")
        continue
    if len(frames) >= MAX_SESSIONS:
        st.warning(f"Only {MAX_SESSIONS} sessions are compared at once; **{shown}** and the files "
                   "after it were left out.", icon=":material/block:")
        break
    if not uploads.within_limit(upload, uploads.LOG_MB, uploads.log_hint(upload)):
        continue
    if upload.file_id not in parsed:
        try:
            with turns.log_read():
                parsed[upload.file_id] = SessionLog.from_csv(upload.getvalue(), source=upload.name).to_frame()
        except LogFormatError as e:
            parsed[upload.file_id] = str(e)
    entry = parsed[upload.file_id]
    if isinstance(entry, str):
        st.error(f"**{shown}**: {entry}", icon=":material/error:")
        continue
    if entry.empty:
        st.warning(f"**{shown}** has no face observations; it is left out.", icon=":material/info:")
        continue
    if twin := next((what for what, frame in in_session if same_log(entry, frame)), None):
        st.warning(f"**{shown}** is the log of {twin}, compared already; it is left out.",
                   icon=":material/content_copy:")
        continue
    names.append(upload.name)
    frames.append(entry)
    seen[digest] = upload.name

if len(frames) < 2:
    logs = ("CSV logs downloaded from this app (the *Per-frame log* of the **Video file** page or the **Class "
            "dashboard**, or the *Session log* of **Live webcam**)")
    # With one session chosen already, "analyse a video first" sent the visitor back to a step done.
    st.info(f"Choose at least two sessions: one so far, **{support.md_literal(names[0])}**. Upload {logs} to put "
            "beside it." if frames else
            f"Choose at least two sessions: upload {logs}, or analyse a video or run a live session first. You get "
            "their expression mix side by side, a curve over each session and a table.")
    st.stop()

sessions = dict(zip(unique_names(names), frames))
with st.sidebar:
    st.subheader("Comparison settings")
    measure = st.selectbox("Curve", MEASURES, index=MEASURES.index("Happy"), key="fer_compare_measure",
                           help="What the curves show over each session: an expression's share, the share of "
                                "angry, fear and sad together, the derived valence (how pleasant the expressions "
                                "look, -1 unpleasant to 1 pleasant), or the share of faces looking at the camera "
                                "(sessions analysed with attention on).")
    axis = st.radio("Time axis", ["Per cent of each session", "Minutes from the start"],
                    help="Per cent lines up sessions of different lengths start to end. It counts the time "
                         "analysed: a pause (the stream stopped, or no picture for a while) is left out. "
                         "Minutes from the start show a pause where it was, as a gap.")
    segments = 10
    if axis.startswith("Per cent"):
        segments = st.select_slider("Parts per session", options=[5, 10, 20, 25, 50], value=10)
        curves = measure_over_time(sessions, measure, axis=SHARE, segments=segments)
    else:
        bin_min = st.select_slider("Bin (minutes)", options=[0.5, 1.0, 2.0, 5.0, 10.0, 15.0], value=5.0)
        curves = measure_over_time(sessions, measure, axis=MINUTES, bin_min=bin_min)

comparison = compare_sessions(sessions)
if note := models_note(sessions):
    st.warning(support.md_literal(note), icon=":material/compare_arrows:")
elif all(named := [log_models(df) for df in sessions.values()]) and len(models := set(sum(named, ()))) == 1:
    st.caption(f"Expression model: {support.md_literal(models.pop())}, for every session.")
if damage := damage_note(sessions):
    st.warning(support.md_literal(damage), icon=":material/broken_image:")
st.plotly_chart(charts.session_mix_bars(comparison), width="stretch")
if measure == LOOKING and curves.isna().all().all():
    st.info("None of these sessions was analysed with attention on, so there is no 'looking at the camera' "
            "to compare. Turn attention on when analysing (Live webcam sidebar, Video file page).")
else:
    st.plotly_chart(charts.session_curves(curves, measure), width="stretch")
table = table_for_display(comparison)
# One face at a time in every session (someone comparing their own sessions): the columns of faces at once
# read 1 in every row; shown to a class only (the CSV keeps them, its columns the same for every comparison).
alone = bool((comparison["faces_max"] <= 1).all())
shown = table_for_display(comparison, lengths=True)  # "12 s", not "0.2" minutes; the CSV keeps its minutes
st.dataframe(shown.drop(columns=["faces at once (median)", "most faces at once"]) if alone else shown,
             hide_index=True, width="stretch",
             column_config={"session": st.column_config.TextColumn("session", pinned=True)})
st.caption("Shares are mean probabilities over every face observation of a session, in per cent"
           + (" (the face in each analysed frame). " if alone else "; a face seen for longer weighs more. ")
           + "Valence is derived from the seven probabilities (-1 unpleasant to 1 pleasant). Sessions with "
             "different cameras, lighting, seating or expression models are not strictly comparable: a difference "
             "of a few points can come from those as much as from "
           + ("the face." if alone else "the class."))
c1, c2 = st.columns(2)
c1.download_button("Comparison (CSV)", support.csv_download(csvtext.to_csv(table)), "session_comparison.csv",
                   "text/csv", on_click="ignore")
# A callable: the report is only built when the button is pressed. A partial, not a lambda, which
# would keep all of this run's globals until the session's next run (app_pages/dashboard.py).
c2.download_button("Comparison report (HTML, charts included)",
                   functools.partial(build_comparison_report, sessions, segments=segments,
                                     timezone=st.context.timezone or "UTC"), "session_comparison.html",
                   "text/html", on_click="ignore")
