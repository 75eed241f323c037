"""Video file: analyse a recorded lecture or call at a chosen rate; timelines and CSV log."""
import streamlit as st

from fer_app import support, uploads
from fer_core import charts
from fer_core.engagement import attention_summary, attention_table, attention_timeline, has_attention
from fer_core.memory import release_memory
from fer_core.session import NOTABLE_CHANGE, binned_mix, face_binned, strongest_changes
from fer_core.video import VideoDecodeError, analyze_video

#: Analyse at most this many frames of one upload (an hour at 2 frames per second).
MAX_FRAMES = 7200

st.title("Video file")
st.caption("The upload is decoded from memory (never written to a file) and discarded after "
           "the analysis; only the per-frame log of anonymous face numbers, boxes and "
           "probabilities is kept for this browser session. " + support.PRIVACY_NOTE)

upload = st.file_uploader("Video (MP4, WebM, MOV, AVI, MKV)", type=["mp4", "webm", "mov", "avi", "mkv", "m4v"],
                          max_upload_size=uploads.VIDEO_MB)
rate = st.select_slider("Frames analysed per second of video", options=[0.5, 1.0, 2.0, 4.0, 5.0, 10.0],
                        value=2.0, help="Higher rates catch short expressions but take longer.")
attention = st.toggle("Also measure attention (head pose and eyes; slower)", value=False,
                      help="Adds where each head points and whether the eyes are open to the log, "
                           "for the attention timeline and flags. About 20-40 ms more per face and frame.")
start = st.button("Analyse", type="primary", disabled=upload is None)

if upload is not None and start and uploads.within_limit(upload, uploads.VIDEO_MB):
    bar = st.progress(0.0, text="Decoding...")

    def on_progress(fraction, seconds):
        text = f"Analysed {seconds:.0f} s of video"
        bar.progress(fraction if fraction is not None else 0.0, text=text)

    try:
        result = analyze_video(support.get_recognizer(), upload, rate=rate,
                               max_frames=MAX_FRAMES, progress=on_progress, attention=attention)
    except VideoDecodeError as e:
        bar.empty()
        st.session_state.pop("fer_video", None)
        st.error(f"**{upload.name}**: {e}", icon=":material/error:")
        st.stop()
    bar.progress(1.0, text=f"Done in {result.elapsed_s:.0f} s")
    st.session_state["fer_video"] = {"name": upload.name, "rate": rate, "result": result}
    st.session_state.pop("fer_video_marker_error", None)
    support.set_unsaved()
    release_memory()  # the decoder's and detector's buffers go back to the OS

state = st.session_state.get("fer_video")
if state is None:
    st.info("Upload a video and press **Analyse**.")
    st.stop()

result = state["result"]
df = result.log.to_frame()
info = result.info
st.subheader(state["name"])
cols = st.columns(4)
cols[0].metric("Video", f"{info.duration_s:.0f} s" if info.duration_s else "unknown length")
cols[1].metric("Frames analysed", result.frames_analysed)
cols[2].metric("Frames with faces", result.frames_with_faces)
cols[3].metric("Anonymous faces", int(df["face_id"].nunique()) if len(df) else 0)
if result.stopped_early:
    st.warning(f"Only the first {MAX_FRAMES} frames ({result.seconds_analysed:.0f} s) were analysed. "
               "Lower the rate to cover the whole video.")
if df.empty:
    st.warning("No faces were found in this video. Faces should be roughly frontal and at least "
               "about 40 pixels wide.", icon=":material/face_retouching_off:")
    st.stop()

support.moments_form(result.log, max(result.seconds_analysed, float(df["time_s"].max())), "fer_video_marker",
                     "Name moments of the video", "analysed video")

markers = result.log.markers
bin_s = max(1.0 / state["rate"], round(max(result.seconds_analysed, 1.0) / 120.0))
changes = strongest_changes(df, 5, bin_s=bin_s, min_change=NOTABLE_CHANGE)
st.plotly_chart(charts.mix_area(binned_mix(df, bin_s, fill_gaps=True), changes,
                                f"Expression mix over the video ({bin_s:g} s bins)", markers=markers),
                width="stretch")
fb = face_binned(df, bin_s)
st.plotly_chart(charts.face_timeline(fb, markers=markers), width="stretch")
face_ids = sorted(df["face_id"].unique())
chosen = st.selectbox("Probabilities of one face", face_ids, format_func=lambda i: f"Face {i}")
st.plotly_chart(charts.face_probabilities(fb, chosen), width="stretch")
if has_attention(df):
    st.subheader("Attention")
    st.caption(support.ATTENTION_NOTE)
    st.plotly_chart(charts.attention_timeline(attention_timeline(df, bin_s),
                                              f"Attention over the video ({bin_s:g} s bins)", markers=markers),
                    width="stretch")
    st.dataframe(attention_table(attention_summary(df)), hide_index=True, width="stretch")

st.subheader("Moments of strongest change")
st.caption("Largest jumps of one face's expression between neighbouring time bins "
           "(0 = no change, 1 = completely different); dashed lines in the chart above.")
if changes.empty:
    st.info(f"No notable change: no face's expressions moved by {NOTABLE_CHANGE:.0%} or more "
            "between neighbouring time bins.")
else:
    st.dataframe(changes.assign(face_id=changes["face_id"].map(lambda i: f"Face {i}")),
                 hide_index=True, width="stretch",
                 column_config={"time_s": st.column_config.NumberColumn("time (s)", format="%.1f"),
                                "change": st.column_config.ProgressColumn("change", min_value=0.0,
                                                                          max_value=1.0)})

stem = state["name"].rsplit(".", 1)[0]
st.download_button("Per-frame log (CSV)", result.log.to_csv, f"{stem}_expressions.csv", "text/csv",
                   on_click="ignore")
st.caption("Open the **Class dashboard** for negative-expression flags and the HTML report.")
