"""Class dashboard: mix, mix over time, per-face timelines, negative-streak flags, report."""
import functools

import streamlit as st

from fer_app import support, turns, uploads
from fer_core import charts
from fer_core.engagement import (
    EYES_CLOSED_S,
    LOOK_AWAY_S,
    attention_summary,
    attention_table,
    attention_timeline,
    has_attention,
    valence_arousal_timeline,
)
from fer_core.report import ReportOptions, build_html_report, session_filename
from fer_core.session import (
    LEAD_S,
    NOTABLE_CHANGE,
    LogFormatError,
    SessionLog,
    binned_mix,
    confidence_note,
    current_mix,
    damage_text,
    expression_mix,
    face_binned,
    format_time,
    label_counts,
    length_text,
    most_in_view,
    negative_streaks,
    parts_text,
    strongest_changes,
    time_bin,
    unanalysed,
)

#: Flags shown one by one; past this many, the longest (the report lists them all).
MAX_FLAGS = 20
#: The time bins offered (seconds); the default, :func:`time_bin`'s, at most :data:`DEFAULT_BIN_S`.
BIN_STEPS = [0.5, 1.0, 2.0, 5.0, 10.0, 15.0, 30.0, 60.0]
DEFAULT_BIN_S = 10.0
BIN_KEY, BIN_CHOSEN = "fer_dashboard_bin", "fer_dashboard_bin_chosen"

st.title("Class dashboard")
st.warning(support.RESPONSIBLE_USE, icon=":material/gavel:")

video = st.session_state.get("fer_video")
sources = ["Live webcam session", "Analysed video", "CSV log exported earlier"]
# The radio's key holds the choice while on this page; Streamlit drops it on another page. Coming
# back, a visitor who was working on a CSV log finds it chosen again (otherwise the analysed
# video, if any, else the live session).
if "fer_dashboard_session" not in st.session_state:
    back_to_csv = st.session_state.get("fer_dashboard_source") == sources[2] and "fer_dashboard_csv" in st.session_state
    st.session_state["fer_dashboard_session"] = (
        sources[2] if back_to_csv else sources[1] if video is not None and not len(support.live_log() or [])
        else sources[0])
source = st.radio("Session", sources, horizontal=True, key="fer_dashboard_session")
st.session_state["fer_dashboard_source"] = source


log = None
name = source
parts_told = False  # the uploads' caption below has named the parts already
if source == sources[0]:
    log = support.live_log()
    st.button("Refresh", help="Update with the frames analysed since this page was drawn")
elif source == sources[1]:
    if video is not None:
        log, name = video["result"].log, video["name"]
        # Named: the Video file page may hold another upload by now, not analysed.
        st.caption(f"**{support.md_literal(name)}**, the video analysed last on the **Video file** page.")
else:
    files = st.file_uploader("Session log (CSV from this app, or its ZIP)", type=uploads.LOG_TYPES,
                             max_upload_size=uploads.LOG_MB, accept_multiple_files=True, key="fer_dashboard_upload",
                             # The log read from it goes when the visitor empties it (not when the
                             # uploader is empty on coming back from another page: kept then).
                             on_change=support.forget_when_emptied("fer_dashboard_upload", "fer_dashboard_csv"),
                             help="Several logs of parts of one recording (the Video file page's Analyse from and to) "
                                  "are joined into one session. " + uploads.LOG_HELP)
    if any(not uploads.within_limit(upload, uploads.LOG_MB, uploads.log_hint(upload)) for upload in files):
        st.stop()
    if files:
        # Read once per upload and kept for this browser session, so that the moments named
        # below stay with it across reruns (only the current uploads are kept).
        ids = tuple(f.file_id for f in files)
        held = st.session_state.get("fer_dashboard_csv")
        if held is None or held[0] != ids:
            for gone in set(held[0] if held else ()) - set(ids):  # left behind by a visit to another page
                support.drop_upload(gone)
            parts = []
            for f in files:
                try:
                    with turns.log_read():  # one read at a time on this server: they take ~10x a log's size
                        parts.append(SessionLog.from_csv(f.getvalue(), source=f.name))
                except LogFormatError as e:
                    st.session_state.pop("fer_dashboard_csv", None)
                    st.error(f"**{support.md_literal(f.name)}**: {e}")
                    st.stop()
            try:
                names = ", ".join(f.name for f in files)
                joined = parts[0] if len(parts) == 1 else SessionLog.join(parts, source=names)
            except ValueError as e:
                st.session_state.pop("fer_dashboard_csv", None)
                st.error(f"These logs cannot be joined as parts of one recording: {e}. To put different sessions "
                         "side by side, use **Compare sessions**.", icon=":material/error:")
                st.stop()
            spans = sorted((p.start_s, p.summary().end_s, f.name) for p, f in zip(parts, files))
            held = (ids, joined, spans)
            st.session_state["fer_dashboard_csv"] = held
        log, name = held[1], held[1].source
        if len(held[2]) > 1:
            parts_told = True
            st.caption(f"{len(held[2])} parts joined: "
                       + "; ".join(f"{support.md_literal(n)} ({format_time(a)} to {format_time(b)})"
                                   for a, b, n in held[2])
                       + ". The face numbers of each part continue after those of the part before: "
                         "the analysis cannot tell that a face of one part is a face of the next.")
    elif (held := st.session_state.get("fer_dashboard_csv")) is not None:
        # Back from another page, which empties the uploader: the log read then, with the moments
        # named on it since, is still here.
        log, name = held[1], held[1].source
        c1, c2 = st.columns([4, 1], vertical_alignment="center")
        c1.caption(f"**{support.md_literal(name)}**, read earlier in this browser session (the uploader empties "
                   "when you visit another page). Upload logs to replace it.")
        if c2.button("Forget this log", icon=":material/delete:"):
            for file_id in held[0]:
                support.drop_upload(file_id)
            st.session_state.pop("fer_dashboard_csv", None)
            st.rerun()

if log is not None and len(log) == 0 and log.summary().frames:
    empty = log.summary()
    st.info(f"No face in this session: {empty.frames} frames were analysed, from {format_time(empty.start_s)} to "
            f"{format_time(empty.end_s)}, and nobody was in view in any of them.", icon=":material/info:")
    st.stop()
if log is None or len(log) == 0:
    # Each says what to do next, and the other two sources: a visitor without a camera was only told
    # to start one.
    st.info({sources[0]: "No faces analysed yet in a live session: start the stream on **Live webcam** (or take "
                         "snapshots there), then come back. No camera? Choose **Analysed video** above after "
                         "analysing a recording on the **Video file** page, or **CSV log exported earlier**.",
             sources[1]: "No video analysed yet: analyse a recording on the **Video file** page, then come back. "
                         "Or choose **CSV log exported earlier** above.",
             sources[2]: "Upload a CSV log downloaded from this app: the *Per-frame log* of the **Video file** page "
                         "or of this dashboard, or the *Session log* of **Live webcam**."}[source])
    st.stop()

with st.sidebar:
    st.subheader("Dashboard settings")
    minutes = st.number_input("Flag a face negative for longer than (minutes)", min_value=0.1,
                              max_value=120.0, value=2.0, step=0.5,
                              help="Negative = sad, angry or fear as the face's top expression.")
    # By default from the session's length, as the Video file page's bins (session.time_bin): a 12 s clip
    # had 2 bins of 10 s, its mix over time a straight ramp and a face seen from 0:06 placed at 0:00.
    # Never over 10 s, the bin every session had before: sessions from 20 minutes on read as they did.
    # A bin the visitor chose stays theirs, for this log and the next.
    summary = log.summary()
    auto_s = time_bin(summary.duration_s, summary.analysed_s / max(summary.frames - 1, 1), BIN_STEPS,
                      most=DEFAULT_BIN_S)
    st.session_state[BIN_KEY] = st.session_state.get(BIN_CHOSEN, auto_s)
    bin_s = st.select_slider("Time bin (seconds)", options=BIN_STEPS, key=BIN_KEY, format_func="{:g}".format,
                             on_change=support.keep_choice(BIN_KEY, BIN_CHOSEN),
                             help="The charts over time average the faces over spans of this many seconds: "
                                  "shorter spans show quick changes, longer ones smooth them out. By default "
                                  "about 120 spans across a session, at most 10 s.")
    away_s = st.number_input("Flag looking away for longer than (seconds)", min_value=1.0, max_value=3600.0,
                             value=LOOK_AWAY_S, step=5.0,
                             help="Sessions analysed with attention on: head and eyes not pointing at the "
                                  "camera (or eyes closed) for this long without a break.")
    closed_s = st.number_input("Flag eyes closed for longer than (seconds)", min_value=0.5, max_value=600.0,
                               value=EYES_CLOSED_S, step=1.0,
                               help="Both eyes read closed: shut, squeezed by a laugh, or lids lowered over "
                                    "eyes looking far down (at notes or a phone), which a single frame cannot "
                                    "tell from closed.")

df = log.to_frame()
cols = st.columns(4)
cols[0].metric("Time analysed" if summary.parts or log.damaged else "Duration", length_text(summary.analysed_s))
cols[1].metric("Frames analysed", summary.frames)
cols[2].metric("Face observations", summary.rows)
# Face numbers, not people: a class of 30 who leave and come back (each time under a new number)
# has 80-90 of them in 90 minutes. Said beside the count, with the most faces in view at once.
in_view = most_in_view(df)
# One face at a time (a person alone at their laptop, a lecturer's video): "Anonymous faces 2" after a
# STOP and START read as a second person; the count of numbers goes to the help.
alone = in_view == 1
if alone and summary.faces > 1:
    cols[3].metric("Faces in view", "1 at a time", help=f"Never more than one face in view at once. It was given "
                   f"{summary.faces} face numbers, which the flags and the report name it by: a face that "
                   "leaves the picture and comes back gets a new one, and so does a face after "
                   "STOP and START on the Live page, so one person can have several.")
else:
    cols[3].metric("Anonymous faces", summary.faces, help=f"Face numbers given. A face that leaves the picture and "
                   "comes back gets a new one (so does a face after STOP and START on the Live page), so this "
                   f"counts more than the people: at most {in_view} {'face was' if in_view == 1 else 'faces were'} "
                   "in view at once.")
if summary.parts and log.streams:
    st.caption(f"{len(summary.parts)} stream{'s' if len(summary.parts) > 1 else ''}: {parts_text(summary.parts)}"
               + f". The session ran {format_time(summary.duration_s)}; the time with the stream stopped "
                 "or without a picture (the camera or the network gone for a while) was not analysed."
               + (" Its clock started with a moment named before the first stream."
                  if summary.parts[0][0] > summary.start_s + LEAD_S else ""))
elif len(summary.parts) > 1 and not parts_told:
    between = unanalysed(df)  # none for parts that follow on (a video analysed in parts of 7,200 frames)
    st.caption(f"{len(summary.parts)} parts of a video: {parts_text(summary.parts, gaps=between)}"
               + ". Times are the video's own"
               + ("; the gaps between the parts were not analysed." if between else "."))
elif summary.parts and not parts_told:  # one: a video whose start could not be decoded (said below)
    st.caption(f"Part of a video: the analysis covers {format_time(summary.parts[0][0])} to "
               f"{format_time(summary.end_s)}, and times are the video's own.")
elif summary.start_s > 0 and not summary.parts:
    st.caption(f"Part of a video: the analysis covers {format_time(summary.start_s)} to "
               f"{format_time(summary.end_s)}, and times are the video's own.")
if log.damaged:
    said = damage_text(log.damaged, summary.end_s, cut_short=log.cut_short)
    st.warning(f"**The video is damaged.** {said[0].upper()}{said[1:]}. The charts shade it grey (*not analysed*), "
               "and the time analysed and the report leave it out.", icon=":material/broken_image:")
if summary.truncated:
    st.warning(f"The log reached its size limit ({log.max_rows:,} observations): later faces were not "
               f"logged: the last observation below is at {format_time(float(df['time_s'].max()))}, the "
               f"session went on to {format_time(summary.end_s)}.", icon=":material/database:")
if log.models:
    st.caption(f"Expression model: {support.md_literal(', then '.join(log.models))} (the sidebar's choice when it "
               "was analysed).")
support.moments_form(log, summary.end_s, "fer_dashboard_marker", "Marked moments", "session")

left, right = st.columns(2)
# The last 10 s only of the live session, as it goes on. A recorded video's or a CSV log's were titled
# "Mix of the last 10 s (0:02 to 0:12)": the end of a session over, most of a 12 s clip and a sliver of a
# lecture. Theirs is the mix over the whole session, as the counts beside it.
if source == sources[0]:
    mix, mix_title = current_mix(df, 10.0), "Current mix (last 10 s)"
else:
    mix, mix_title = expression_mix(df), (f"Mix over the {'video' if source == sources[1] else 'session'} "
                                          f"({format_time(summary.start_s)} to {format_time(summary.end_s)})")
left.plotly_chart(charts.mix_bars(mix, mix_title), width="stretch")
right.plotly_chart(charts.count_bars(label_counts(df)), width="stretch")
changes = strongest_changes(df, 5, bin_s=bin_s, min_change=NOTABLE_CHANGE)
markers, gaps = log.markers, unanalysed(df)
st.plotly_chart(charts.mix_area(binned_mix(df, bin_s, fill_gaps=True), changes, markers=markers, unanalysed=gaps),
                width="stretch")
st.caption(confidence_note(df))
timeline_s = charts.timeline_bin(bin_s, summary.duration_s)
if alone:
    # One face at a time: its per-face timeline (a row per face number, its top expression per bin) said
    # again what the mix over time says, split in rows "Face 1", "Face 2" at each STOP and START.
    st.caption("One face at a time in this session, so the mix over time above is that face's expression over "
               "time; the per-face timeline, a row per face, is for sessions with several faces in view.")
else:
    st.plotly_chart(charts.face_timeline(face_binned(df, timeline_s), charts.timeline_title(timeline_s, bin_s),
                                         markers=markers, unanalysed=gaps), width="stretch")

st.subheader("Flags")
streaks = negative_streaks(df, minutes * 60.0, bin_s=min(float(bin_s), 5.0))
if not streaks:
    st.success(f"No face stayed sad, angry or fearful for {minutes:g} minutes or more.")
for s in streaks[:MAX_FLAGS]:
    st.warning(f"**Face {s.face_id}** looked {' / '.join(s.labels).lower()} for "
               f"{length_text(s.duration_s)} ({format_time(s.start_s)} to {format_time(s.end_s)})"
               + (", still ongoing." if s.ongoing else "."), icon=":material/flag:")
if len(streaks) > MAX_FLAGS:
    st.caption(f"The {MAX_FLAGS} longest of {len(streaks)} flags; the end-of-session report below lists them all.")
st.caption("Flags describe facial expressions only: how a face looked, not what its person felt." if alone else
           "Flags describe facial expressions only. Check in with people, not the chart.")

if source == sources[1] and video is not None and video.get("video") is not None:
    # The analysed video is kept with its analysis (Video file page): show who a flag is about.
    rate = video["rate"]
    picks = {f"{support.clock(s.start_s, rate)} · Face {s.face_id} {' / '.join(s.labels).lower()} "
             f"for {length_text(s.duration_s)}": s.start_s for s in streaks}
    picks |= {f"{support.clock(t, rate)} · strongest change, Face {fid}": float(t)
              for t, fid in zip(changes["time_s"], changes["face_id"])}
    picks |= {f"{support.clock(t, rate)} · {text}": t for t, text in markers}
    choice = st.selectbox("See it in the video", sorted(picks, key=picks.__getitem__), index=None,
                          placeholder="a flag, a change or a named moment", disabled=not picks,
                          key="fer_dashboard_see")
    if choice is not None and choice in picks:
        support.show_moment(video, picks[choice], df)

if has_attention(df):
    st.subheader("Attention")
    st.caption(support.ATTENTION_NOTE)
    # A mark per bin, as the per-face timeline: in as few bins.
    st.plotly_chart(charts.attention_timeline(attention_timeline(df, timeline_s), charts.timeline_title(
        timeline_s, bin_s, "Attention over time"), markers=markers, unanalysed=gaps), width="stretch")
    attention = attention_summary(df, away_s=away_s, closed_s=closed_s)
    st.dataframe(attention_table(attention), hide_index=True, width="stretch")
    flags = [text for a in attention for text, on in (
        (f"**Face {a.face_id}** looked away from the camera for {a.longest_away_s:.0f} s at a stretch.",
         a.looked_away),
        (f"**Face {a.face_id}** had both eyes closed for {a.longest_closed_s:.0f} s at a stretch.",
         a.eyes_closed)) if on]
    for flag in flags[:MAX_FLAGS]:
        st.warning(flag, icon=":material/flag:")
    if len(flags) > MAX_FLAGS:
        st.caption(f"{MAX_FLAGS} of {len(flags)} attention flags; the table above has every face.")

st.subheader("Valence and arousal (derived)")
st.plotly_chart(charts.valence_arousal_path(valence_arousal_timeline(df, timeline_s), charts.timeline_title(
    timeline_s, bin_s, "Valence and arousal over the session (derived)")), width="stretch")
st.caption("Valence: how pleasant the expressions look (-1 unpleasant to 1 pleasant); arousal: how calm or "
           "excited (-1 calm to 1 excited). Derived from the seven expression probabilities (each expression's "
           "place in Russell & Mehrabian's 1977 ratings, weighted by its probability), not measured by a separate "
           "model.")

st.subheader("End-of-session report")
opts = ReportOptions(source=name, bin_s=float(bin_s), negative_minutes=float(minutes),
                     look_away_s=float(away_s), eyes_closed_s=float(closed_s),
                     timezone=st.context.timezone or "UTC")  # the report's dates in the visitor's zone
st.caption("The log lives only in this browser tab's memory (the browser asks before the tab is closed or "
           "reloaded). Download the CSV log to keep it: this page and **Compare sessions** read it back, up to "
           f"{uploads.LOG_MB} MB ({uploads.log_fits(summary.rows, summary.analysed_s, has_attention(df), alone)}), "
           "and its ZIP (a third of the size) up to a full log.")
c1, c2, c3 = st.columns(3)
# Callables: the files are only built when the button is pressed. Partials, not lambdas nor
# functions of this page: Streamlit keeps a download's callable (and a widget's callback) until the
# session's next run, and one of the page's own would keep all of this run's globals with it: for
# a full log (a million observations) its 200 MB frame and the charts' tables, per session.
log_csv = session_filename(log, opts, "log", "csv")  # "lecture_log_2026-12-07_0900.csv", as the report
c1.download_button("Per-frame log (CSV)", support.csv_download(log.to_csv), log_csv, "text/csv", on_click="ignore")
c2.download_button("Per-frame log (ZIP)", support.zip_download(log.to_csv, log_csv), log_csv[:-4] + ".zip",
                   "application/zip", on_click="ignore")
# Named by its source and date ("lecture_report_2026-12-07_0900.html"), not all "session_report.html".
c3.download_button("Report (HTML, charts included)", functools.partial(build_html_report, log, opts),
                   session_filename(log, opts),
                   "text/html", on_click="ignore")
