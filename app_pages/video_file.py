"""Video file: analyse a recorded lecture or call at a chosen rate; timelines, CSV log, its
frames at chosen moments and an annotated copy."""
import math
import threading
import time
from dataclasses import replace

import streamlit as st
from streamlit.runtime.scriptrunner import RerunException, StopException

from fer_app import support, uploads, video_view
from fer_core import charts
from fer_core.engagement import attention_summary, attention_table, attention_timeline, has_attention
from fer_core.memory import release_memory
from fer_core.session import (
    NOTABLE_CHANGE,
    SessionLog,
    binned_mix,
    changes_table,
    damage_text,
    face_binned,
    format_time,
    parse_time,
    strongest_changes,
    time_bin,
    unanalysed,
)
from fer_core.video import VideoDecodeError, VideoInfo, analysis_rate, analyze_video, probe

#: Analyse at most this many frames of one upload (an hour at 2 frames per second).
MAX_FRAMES = 7200


def _spans(parts: list[tuple[float, float]], rate: float) -> str:
    """The analysed parts, for the page: "0:00 to 59:59; 1:00:00 to 1:30:00" (tenths when the
    rate is over one frame a second)."""
    return "; ".join(f"{support.clock(a, rate)} to {support.clock(b, rate)}" for a, b in parts)


def _times(*times: float) -> list[str]:
    """m:ss of each time, all with tenths when one is not a whole second (a part from 0:07.5)."""
    whole = all(abs(t - round(t)) < 1e-6 for t in times)
    return [format_time(round(t)) if whole else support.clock(t, 10) for t in times]


def _damage(log: SessionLog) -> str:
    """What of a damaged video could not be analysed (:attr:`SessionLog.damaged`, of every part
    analysed), for the page; "" for a whole video."""
    said = damage_text(log.damaged, log.end_s, cut_short=log.cut_short)
    if not said:
        return ""
    return (f"**This video is damaged.** {said[0].upper()}{said[1:]}. The charts below shade it grey (*not "
            "analysed*) rather than read it as nobody in view; the Class dashboard and its report say so too, "
            "and leave it out of the time analysed.")


def _probe(upload) -> VideoInfo | None:
    """The upload's :func:`probe`, once per upload, not on each run of the page (it decodes the first
    frame, for the size a phone video plays at: 0.1 s for a busy 1080p HEVC one); None when it is not a
    video we can decode (said when Analyse is pressed)."""
    kept = st.session_state.get("fer_video_probe")
    if kept is not None and kept[0] == upload.file_id:
        return kept[1]
    try:
        info = probe(upload)
    except VideoDecodeError:
        info = None
    st.session_state["fer_video_probe"] = (upload.file_id, info)
    return info


def _part(from_text: str, to_text: str, length: float | None) -> tuple[float, float | None]:
    """The part of the video to analyse, from the Analyse from and Analyse to fields (m:ss; an empty end: to the
    end); ValueError with the reason for a part that cannot be analysed."""
    start = parse_time(from_text) if from_text.strip() else 0.0
    end = parse_time(to_text) if to_text.strip() else None
    if end is not None and end <= start:
        raise ValueError("the end is not after the start")
    if length is not None and start >= length:
        raise ValueError(f"the video is only {format_time(length)} long")
    if end is not None and length is not None and end >= length:
        end = None  # to the end
    return start, end


st.title("Video file")
st.caption("The upload is decoded from memory, never written to a file. The analysed video stays in "
           "this browser session's memory, to show its frames again, until you analyse another, press "
           "**Forget the video** or close the tab. The analysis keeps a per-frame log of anonymous "
           "face numbers, boxes and probabilities. " + support.PRIVACY_NOTE)

# "Forget the video" empties the uploader too, by giving it a new key: a file left in it would be
# taken back on the next run as the same video put back.
upload = st.file_uploader("Video (MP4, WebM, MOV, AVI, MKV)", type=["mp4", "webm", "mov", "avi", "mkv", "m4v"],
                          max_upload_size=uploads.VIDEO_MB,
                          key=f"fer_video_upload_{st.session_state.get('fer_video_uploads', 0)}")
RATES = [0.5, 1.0, 2.0, 4.0, 5.0, 10.0]
rate = st.select_slider("Frames analysed per second of video", options=RATES,
                        value=2.0, help="Higher rates catch short expressions but take longer.")
part: tuple[float, float | None] | None = (0.0, None)  # the part to analyse: from, to (None: the end)
# The rate the analysis will run at (analyze_video lowers the rate to the video's own frame rate, and
# its result keeps the rate it ran at): for the figures below and the parts that can be joined.
analysed_rate = rate
if upload is not None:
    info = _probe(upload)
    length = info.duration_s if info is not None else None
    analysed_rate = analysis_rate(rate, info.fps if info is not None else None)
    if info is not None and analysed_rate < rate:
        st.caption(f"The video has {info.fps:g} frames a second: each of them is analysed.")
    # Keyed by the file, so that another upload starts from its own whole length.
    c1, c2 = st.columns(2)
    from_text = c1.text_input("Analyse from (m:ss)", "0:00", key=f"fer_video_from_{upload.file_id}",
                              help="Analyse part of a long recording: its times stay the video's own, "
                                   "on the charts, in the log and in the report.")
    to_text = c2.text_input("Analyse to (m:ss)", format_time(math.ceil(length)) if length else "",
                            key=f"fer_video_to_{upload.file_id}", placeholder="the end")
    try:
        part = _part(from_text, to_text, length)
    except ValueError as e:
        st.error(f"Part of the video: {support.md_literal(str(e))}", icon=":material/error:")
        part = None
    if part is not None and length:
        until = part[1] if part[1] is not None else length
        span, whole = until - part[0], part == (0.0, None)
        needed = span * analysed_rate
        st.caption(f"{support.md_literal(upload.name)}: {info.width} x {info.height}, {format_time(length)} long; "
                   + ("" if whole else "the part from {} to {} is {} long; ".format(*_times(part[0], until, span)))
                   + f"about {max(needed, 1):,.0f} frame{'s' if needed >= 1.5 else ''} to analyse at this rate.")
        if needed > MAX_FRAMES:
            covering = [r for r in RATES if span * analysis_rate(r, info.fps) <= MAX_FRAMES]
            st.info(f"At {rate:g} frames a second the analysis stops after {MAX_FRAMES} frames, at about "
                    f"{format_time(part[0] + MAX_FRAMES / analysed_rate)}."
                    + (f" {max(covering):g} frames a second covers the whole {'video' if whole else 'part'}."
                       if covering else "") + " Or analyse it in parts (**Analyse from**, **Analyse to**).",
                    icon=":material/timer:")
attention = st.toggle("Also measure attention (head pose and eyes; slower)", value=False,
                      help="Adds where each head points and whether the eyes are open to the log, "
                           "for the attention timeline and flags. About 8 ms more per face and frame on a fast "
                           "core (a 3 x 3 call: about twice the analysis time), a few times that on slower ones.")
# A later part of the video analysed before (same file, same rate, same expression model) can be
# added to, so that a long recording analysed in parts is one session on the charts, the dashboard
# and in the CSV. Parts read by different models would mix two models' figures in one session.
earlier = st.session_state.get("fer_video")
join = offered = False
later_part = (upload is not None and part is not None and earlier is not None
              and earlier.get("file") == (upload.name, upload.size) and earlier["rate"] == analysed_rate
              and part[0] >= earlier["result"].end_s + 1e-6)
if later_part and earlier.get("model", support.model_choice()) != support.model_choice():
    st.caption(f"The analysis of {_spans(earlier['parts'], analysed_rate)} was made with the **{earlier['model']}** "
               "model. Choose it again in the sidebar to add this part to it; with "
               f"**{support.model_choice()}**, this part's analysis replaces it.")
elif later_part:
    offered = True
    join = st.toggle(f"Add to the analysis of {_spans(earlier['parts'], analysed_rate)}", value=True,
                     help="One session for the whole recording: the charts, the log and the dashboard cover "
                          "every part. Face numbers of the new part continue after the earlier ones.")
start = st.button("Analyse", type="primary", disabled=upload is None or part is None)

if upload is not None and part is not None and start and uploads.within_limit(upload, uploads.VIDEO_MB):
    # Using the page while the analysis runs (a widget, a setting, another page, this button,
    # Streamlit's own Stop) ends this run: Streamlit raises at the bar's next update. The analysis
    # stops there and keeps its frames: they go to the next run through this slot, since a stopped
    # run can no longer use the session state (support.take_cut_video).
    handover: dict = {"done": threading.Event()}
    st.session_state[support.CUT_VIDEO] = handover
    model = support.model_choice()  # read now: a stopped run cannot
    try:
        bar = st.progress(0.0, text="Decoding...")
        cut: list[BaseException] = []
        # In a slot of its own, emptied when the analysis ends: it stood under "Done in 1 s" until the
        # page was next used, a stop for an analysis already over.
        stop_slot = st.empty()
        stop_slot.button("Stop and keep what is analysed", icon=":material/stop:",
                         help="The frames analysed so far become the analysis; a later part can be added to it.")

        began = time.perf_counter()

        def on_progress(fraction, seconds):
            left = support.time_left(fraction, time.perf_counter() - began)
            text = f"Analysed up to {format_time(seconds)} of the video" + (f"; {left}" if left else "")
            try:
                bar.progress(fraction if fraction is not None else 0.0, text=text)
            except (RerunException, StopException) as e:
                cut.append(e)

        try:
            result = analyze_video(support.get_recognizer(), upload, rate=rate, max_frames=MAX_FRAMES,
                                   progress=on_progress, attention=attention, start_s=part[0], end_s=part[1],
                                   stop=lambda: bool(cut))
            if cut and not result.frames_analysed:
                raise cut[0]
            # A part shorter than a frame, at its very end: nothing to show.
            failed = "" if result.frames_analysed else "no frame of the video lies in that part: choose a longer one."
        except VideoDecodeError as e:
            failed = str(e)
        if failed:
            # The analysis shown before stays, with its named moments: only a new analysis replaces it.
            st.session_state.pop(support.CUT_VIDEO, None)
            bar.empty()
            stop_slot.empty()
            st.error(f"**{support.md_literal(upload.name)}**: {failed}", icon=":material/error:")
            if earlier is None:
                st.stop()
        else:
            # A damaged stretch splits the analysis too (SessionLog.resume): neither the moment slider nor
            # the annotated copy offers its time, where no frame could be decoded.
            parts = list(result.log.parts) or [(result.start_s, result.end_s)]
            if join:
                before = earlier["result"]
                result = replace(result, log=SessionLog.join([before.log, result.log], source="video"),
                                 frames_analysed=before.frames_analysed + result.frames_analysed,
                                 frames_with_faces=before.frames_with_faces + result.frames_with_faces,
                                 start_s=before.start_s, seconds_analysed=result.end_s - before.start_s,
                                 elapsed_s=before.elapsed_s + result.elapsed_s,
                                 skipped_packets=before.skipped_packets + result.skipped_packets,
                                 damaged_gaps=tuple(sorted({*before.damaged_gaps, *result.damaged_gaps})),
                                 cut_short_at=result.cut_short_at if result.cut_short_at is not None
                                 else before.cut_short_at)
                parts = earlier["parts"] + parts
            # The video itself is kept with its analysis, so that its frames can be shown after a visit to
            # another page (which empties the uploader) until the user lets it go.
            # "rate": the analysis's own, the one its frames were taken at (moments, the copy, the slider).
            analysed = {"name": upload.name, "rate": result.rate, "result": result, "parts": parts,
                        "whole": part == (0.0, None) and not join and not cut, "model": model,
                        "file": (upload.name, upload.size), "video": upload, "cut": bool(cut)}
            release_memory()  # the decoder's and detector's buffers go back to the OS
            if cut:
                handover["state"] = analysed
                raise cut[0]  # on to the rerun (or stop) the user asked for; its run shows what was kept
            st.session_state.pop(support.CUT_VIDEO, None)
            bar.progress(1.0, text=f"Done in {result.elapsed_s:.0f} s")
            stop_slot.empty()
            support.replace_video(analysed)
            for key in support.VIDEO_VIEW_KEYS:
                st.session_state.pop(key, None)
            support.set_unsaved()
            if offered:
                st.rerun()  # the "Add to the analysis of ..." toggle above speaks of the analysis before this one
    finally:
        handover["done"].set()

state = st.session_state.get("fer_video")
if state is None:
    # With a video in the uploader already, "Upload a video" sent the visitor back to a step done.
    st.info(("Upload a recording of a lesson or call, then press **Analyse**." if upload is None else
             "Correct the part to analyse above, then press **Analyse**." if part is None else
             "Press **Analyse** to analyse this video.")
            + " You get the expressions over time, for all faces and for each, the moments where they changed "
              "most, a log to download for the **Class dashboard** and **Compare sessions**, and its frames with "
              "each face labelled.")
    st.stop()

result = state["result"]
df = result.log.to_frame()
info = result.info
st.subheader(support.md_literal(state["name"]))
cols = st.columns(4)
cols[0].metric("Video", format_time(info.duration_s) if info.duration_s else "unknown length")
cols[1].metric("Frames analysed", result.frames_analysed)
cols[2].metric("Frames with faces", result.frames_with_faces)
cols[3].metric("Anonymous faces", int(df["face_id"].nunique()) if len(df) else 0)
if not state.get("whole", True):
    st.caption(f"Analysed: {_spans(state['parts'], state['rate'])}; times are the video's own.")
if result.log.models:  # the sidebar's choice may have changed since
    st.caption(f"Expression model: {', then '.join(result.log.models)} (the sidebar's choice when it was analysed).")
if result.stopped_early:
    st.warning(f"Only {MAX_FRAMES} frames were analysed, up to {format_time(result.end_s)}. Lower the rate, "
               "or analyse the rest as a part of its own (**Analyse from**, **Analyse to**).")
damage = _damage(result.log)
if damage:
    st.warning(damage, icon=":material/broken_image:")
if state.get("cut"):
    # The slider's rate to choose: a video slower than the rate asked was analysed at its own (8 frames a second
    # at the slider's 10), a rate the slider does not offer; the next part joins at any of the slider's that
    # analyses at the same.
    again = next((r for r in RATES if analysis_rate(r, info.fps) == state["rate"]), state["rate"])
    st.warning(f"The analysis stopped at {support.clock(result.end_s, state['rate'])}, when the page was used "
               "while it ran; what it analysed up to there is kept. To go on, analyse from "
               f"{format_time(math.floor(result.end_s) + 1)} at {again:g} frames a second"
               + (f" (each of the video's {state['rate']:g} frames a second)" if again != state["rate"] else "")
               + " with the same model: the new part is added to this one.", icon=":material/pause_circle:")
if df.empty:
    st.warning("No faces were found in this video. Faces should be roughly frontal and at least "
               "about 40 pixels wide.", icon=":material/face_retouching_off:")
    st.stop()

support.moments_form(result.log, max(result.end_s, float(df["time_s"].max())), "fer_video_marker",
                     "Name moments of the video", "analysed video")

markers, gaps = result.log.markers, unanalysed(df)
bin_s = time_bin(result.seconds_analysed, 1.0 / state["rate"])  # the dashboard's default too
changes = strongest_changes(df, 5, bin_s=bin_s, min_change=NOTABLE_CHANGE)
st.plotly_chart(charts.mix_area(binned_mix(df, bin_s, fill_gaps=True), changes,
                                f"Expression mix over the video ({bin_s:g} s bins)", markers=markers,
                                unanalysed=gaps),
                width="stretch")
fb = face_binned(df, bin_s)
st.plotly_chart(charts.face_timeline(fb, markers=markers, unanalysed=gaps), width="stretch")
face_ids = sorted(df["face_id"].unique())
# A bound method, not a lambda, which would keep this run's globals with the box (fer_app.video_view).
chosen = st.selectbox("Probabilities of one face", face_ids, format_func="Face {}".format)
st.plotly_chart(charts.face_probabilities(fb, chosen), width="stretch")
if has_attention(df):
    st.subheader("Attention")
    st.caption(support.ATTENTION_NOTE)
    st.plotly_chart(charts.attention_timeline(attention_timeline(df, bin_s),
                                              f"Attention over the video ({bin_s:g} s bins)", markers=markers,
                                              unanalysed=gaps),
                    width="stretch")
    st.dataframe(attention_table(attention_summary(df)), hide_index=True, width="stretch")

st.subheader("Moments of strongest change")
st.caption("Largest jumps of one face's expression between neighbouring time bins "
           "(0% = no change, 100% = completely different); dashed lines in the chart above.")
if changes.empty:
    st.info(f"No notable change: no face's expressions moved by {NOTABLE_CHANGE:.0%} or more "
            "between neighbouring time bins.")
else:
    # The time as the rest of the page gives it (m:ss, h:mm:ss in a long lecture), beside the seconds.
    table = changes_table(changes)
    table.insert(0, "time", [support.clock(t, state["rate"]) for t in changes["time_s"]])
    table.insert(1, "time_s", changes["time_s"])
    st.dataframe(table, hide_index=True, width="stretch",
                 column_config={"time_s": st.column_config.NumberColumn("seconds", format="%.1f"),
                                "change": st.column_config.ProgressColumn("change", min_value=0.0, max_value=1.0,
                                                                          format="percent")})

stem = support.file_stem(state["name"])
# As the batch tool names it ("lecture_expressions.csv"); made only when pressed, as the ZIP.
log_csv = f"{stem}_expressions.csv"
c1, c2 = st.columns(2)
c1.download_button("Per-frame log (CSV)", support.csv_download(result.log.to_csv), log_csv, "text/csv",
                   on_click="ignore", icon=":material/download:",
                   help="Every face observation and named moment; the Class dashboard and Compare sessions read it "
                        f"back, up to {uploads.LOG_MB} MB (an hour of a call of 25 faces is about 17 MB; a longer "
                        "one, analysed in parts, can be more: download the ZIP for it).")
c2.download_button("Per-frame log (ZIP)", support.zip_download(result.log.to_csv, log_csv), f"{stem}_expressions.zip",
                   "application/zip", on_click="ignore", icon=":material/folder_zip:",
                   help="The same CSV, zipped: a third of the size. The Class dashboard and Compare sessions "
                        "read it as it is; double-click it to open the CSV.")
mirrored = getattr(info, "mirrored", False)  # an analysis kept from before the field
if result.frame_size and (result.frame_size != info.stored_size or mirrored):
    # A video over 1280 pixels is analysed smaller, a phone's is turned upright and a mirrored one is
    # analysed mirrored, as players show it: say so, else boxes drawn on the stored frames land in the
    # wrong place.
    st.caption(f"The log's boxes (x, y, w, h) are in the pixels of the frames as analysed, "
               f"{'mirrored as players show them' if mirrored else 'upright'}: {result.frame_size[0]} x "
               f"{result.frame_size[1]} (the video is stored at {info.stored_size[0]} x {info.stored_size[1]}"
               f"{', not mirrored' if mirrored else ''}).")
st.caption("Open the **Class dashboard** for negative-expression flags and the HTML report.")


def _clock(t: float) -> str:
    return support.clock(t, state["rate"])


st.subheader("Look at the video")
video = state.get("video")
if video is None and upload is not None and (upload.name, upload.size) == state.get("file"):
    video = state["video"] = upload  # the same file, put back in the uploader
if video is None:
    shown = support.md_literal(state["name"])
    st.info(f"To see its frames or make an annotated copy, put **{shown}** in the uploader again."
            if upload is None else
            f"The uploader holds another video than **{shown}**: press **Analyse** to see its frames.",
            icon=":material/movie:")
    st.stop()
# The frame at a moment, the annotated copy and the callbacks are fer_app.video_view's, not this
# page's: Streamlit keeps them until the session's next run, and one of the page's own would keep
# all of this run's globals with it (the log's frame, the charts' tables).
st.button("Forget the video", on_click=video_view.forget_video, icon=":material/delete:",
          help="Drops the video from this session's memory; the analysis, its charts and its log stay.")


jumps = [(float(t), f"{_clock(t)} · strongest change, Face {fid}")
         for t, fid in zip(changes["time_s"], changes["face_id"])] if not changes.empty else []
jumps += [(float(t), f"{_clock(t)} · {text}") for t, text in markers]
video_view.look_at(state, jumps)
with st.expander("Annotated video (MP4) to download"):
    video_view.annotated_copy(state, stem)
