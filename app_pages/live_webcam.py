"""Live webcam over WebRTC: annotated video, FPS readout and a live expression-mix chart.

The frame callback (``LiveAnalyzer.callback``) runs on streamlit-webrtc's worker thread
and never calls ``st.*``; this script polls its results with a bounded wait.
"""
import time

import cv2
import streamlit as st
from streamlit_webrtc import WebRtcMode, webrtc_streamer

from fer_app import support, uploads, webrtc_shim
from fer_core import charts
from fer_core.detect import HIRES_MIN_SIDE
from fer_core.engagement import POSE_LINE_MAX_FACES, attentive_now, pose_readout, pose_summary, pose_table
from fer_core.imageio import ImageDecodeError, decode_image
from fer_core.live import SERVER_LOAD
from fer_core.report import ReportOptions, session_filename
from fer_core.session import MARKER_CHARS, current_mix, format_time

CONNECT_TIMEOUT_S = 20
READOUT_S = 0.5  # the readout (frame rates, faces) at most this often while streaming
READOUT_BUSY_S = 1.5  # and while the server is busy: every session's readout is Streamlit traffic
CHARTS_PAUSED = ("Charts paused while the server is busy, so that the video keeps up. They come "
                 "back when it has room again, and in full when you press STOP.")
STALLED_S = 4.0  # no frame for this long while streaming: the camera or the shared screen stopped
TRANSLATIONS = {
    "device_access_denied": "Camera access denied. Allow the camera for this site in your "
                            "browser, or use the snapshot mode below",
    "device_not_available": "No camera is available",
    "media_api_not_available": "This browser cannot share a camera with this page (it needs "
                               "HTTPS or localhost). The Video file page analyses a recording",
}
SCREEN_TRANSLATIONS = {
    "device_access_denied": "Screen sharing was cancelled or not allowed. Press START and pick a "
                            "screen, window or tab",
    "device_not_available": "This browser cannot share a screen",
    "media_api_not_available": "This browser cannot share a screen with this page (it needs "
                               "HTTPS or localhost)",
}
#: What the player says when the browser will not give it the video, by the browser's error
#: name: (title, what to do), shown as "title: what to do (name)" in place of the browser's
#: own "NotAllowedError: Permission denied" (fer_app.webrtc_shim.screen_capture_script).
NO_RECORDING = "Without a camera, the Video file page analyses a recording."
CAMERA_ERRORS = {
    "NotAllowedError": ("Camera blocked", "The browser did not let this page use the camera. Allow it (the "
                        "camera icon in the address bar, or this site's settings) and press START again. "
                        + NO_RECORDING),
    "NotFoundError": ("No camera found", "Connect a camera (or switch it on) and press START again. "
                      + NO_RECORDING),
    "NotReadableError": ("Camera in use", "Another program or browser tab is probably using the camera (a "
                         "video call?), or it failed to start. Close the other program and press START again."),
    "OverconstrainedError": ("Camera not suitable", "This camera cannot give the picture this page asks for. "
                             "Pick another one with SELECT DEVICE, or use the Video file page."),
    "AbortError": ("Camera did not start", "Press START again; if it keeps failing, restart the browser. "
                   + NO_RECORDING),
}
CAMERA_ERRORS["SecurityError"] = CAMERA_ERRORS["NotAllowedError"]
#: Over plain http (not localhost) the browser gives the page no camera and no screen at all.
HTTPS_FIX = ("Open the app at its https address; whoever runs it can set one up as docs/DEPLOY.md says "
             "(HTTPS in front).")
CAMERA_ERRORS[webrtc_shim.INSECURE] = (
    "Camera needs https", "Browsers give the camera only to pages opened over https (or at localhost, on the "
    "server itself), and this page was opened over plain http. " + HTTPS_FIX + " " + NO_RECORDING)
SCREEN_ERRORS = {
    "NotAllowedError": ("Screen not shared", "The sharing was cancelled, or the browser or the system does not "
                        "allow it (on a Mac: Screen Recording in the Privacy settings). Press START and pick a "
                        "screen, window or tab."),
    "NotSupportedError": ("Screen sharing unavailable", "This browser cannot share a screen with a page: use a "
                          "desktop browser, or a screenshot of the call on the Photo page."),
    "NotFoundError": ("Nothing to share", "No screen, window or tab could be captured. Press START and pick one."),
    "NotReadableError": ("Screen capture failed", "The system would not capture the screen. Press START again "
                         "(on a Mac, allow Screen Recording for the browser in the Privacy settings)."),
    "AbortError": ("Screen capture failed", "Press START again and pick a screen, window or tab."),
    webrtc_shim.INSECURE: ("Screen sharing needs https", "Browsers share a screen only with pages opened over "
                           "https (or at localhost, on the server itself), and this page was opened over plain "
                           "http. " + HTTPS_FIX + " A screenshot of the call on the Photo page gets the same "
                           "analysis."),
}
SOURCES = {"camera": "Camera", "screen": "A shared screen, window or tab"}
#: Where Streamlit stacks columns (its theme's "columns" breakpoint): a phone. The video then fills the
#: screen's width and the status line below it (camera stopped, server slow) was out of sight while
#: streaming; there it goes above the video.
NARROW_STYLE = ("<style>@media (max-width: 640px) { .st-key-fer_live_status, [data-testid=\"stLayoutWrapper\"]:has(> "
                ".st-key-fer_live_status) { order: -1; } }</style>")

#: The head-pose table's headers, shorter (the degrees go with the figures): on a phone (390 x 844)
#: the table in its expander is 323 px wide, and on a 1280 px screen with the sidebar open about 300;
#: its last column, "Looking at the camera", was cut off after "Looking at the ca".
POSE_COLUMNS = {
    "Yaw (°)": st.column_config.NumberColumn("Yaw", format="%d°", help="How far the head is turned sideways, "
                                                                        "in degrees (0: towards the camera)."),
    "Pitch (°)": st.column_config.NumberColumn("Pitch", format="%d°", help="How far the head is tilted up or "
                                                                            "down, in degrees (0: level)."),
    "Looking at the camera": st.column_config.TextColumn(
        "At camera", help="Looking at the camera: head and eyes point at it (empty until the eyes are measured)."),
}

st.title("Live webcam")
st.html(NARROW_STYLE)
# The source's radio is drawn once the player's state is known (below), so that it is
# locked exactly while a stream runs; its value is read now, the player needs it.
source_slot = st.empty()
source = st.session_state.get("fer_live_source", "camera")
if source == "screen":
    st.caption("Press **START** and pick the window of your video call (gallery view, as large as "
               "the screen allows: a gallery of 49 webcams shows faces of 25-45 px in the 1280 x 720 capture, "
               "and faces are found from about 32 px, fewer below: three in four at 31 px, one in five at "
               "25 px). Every "
               "face on it is analysed, so share it only with the consent of everyone shown. Frames "
               "travel to the server over WebRTC, are analysed there and come back annotated. "
               + support.PRIVACY_NOTE)
else:
    st.caption("Press **START** and allow the camera: each face comes back boxed and labelled with its expression, "
               "and the charts beside the video fill in. No camera, or not allowed yet? The **Photo** and **Video "
               "file** pages work without one.")
    st.caption("Frames travel to the server over WebRTC, are analysed there and come back annotated. "
               + support.PRIVACY_NOTE)

# Over plain http (an EC2 box's address, a LAN IP) the browser gives no camera: said before START.
http_host = support.camera_blocked_host(st.context.url)
if http_host:
    st.warning(f"**No camera over plain http.** This page was opened at `http://{http_host.replace('`', '')}`, "
               "and browsers give the camera (or a shared screen) only to pages opened over **https**, or at "
               "localhost on the server itself. " + HTTPS_FIX + " Meanwhile the **Video file** page analyses a "
               "recording and the **Photo** page photos.", icon=":material/no_encryption:")

analyzer = support.live_analyzer()
with st.sidebar:
    st.subheader("Live settings")
    every = st.select_slider("Analyse every Nth frame", options=[1, 2, 3, 4, 6, 10], value=1,
                             help="Higher values lower the server load; frames in between reuse "
                                  "the last result. Frames that arrive while one is being "
                                  "analysed are dropped anyway.")
    window = st.slider("Smoothing (frames per face)", 1, 15, 5,
                       help="Probabilities are averaged over this many analysed frames, "
                            "separately for each face; a face that leaves starts over.")
    mirror = st.toggle("Mirror averaging", value=False,
                       help="Also classify each face's mirror image and average the two: a little "
                            "more accurate, twice the model time per face.")
    attention = st.toggle("Attention: head pose and eyes", value=False,
                          help="Draws a head-pose axis and an 'eyes closed' marker on each face and logs "
                               "them for the dashboard. Costs a face mesh per face (see docs/ATTENTION.md).")
    attention_every = st.select_slider("Measure attention on every Nth analysis", options=[1, 2, 3, 5],
                                       value=3, disabled=not attention,
                                       help="Each face keeps its last measurement in between. With more than "
                                            "three faces (a call's gallery on a shared screen) the faces are "
                                            "measured in turn instead, those that moved first: each face's head "
                                            "pose at most a second old, its eyes two.")
    far = st.toggle("Faces farther from the camera", value=False, key="fer_live_far_faces",
                    help="One more face-detector pass on every frame, for faces under about a fifth of the "
                         "picture's width (a camera across a room, people sitting back): it finds faces from "
                         "about 50 px wide in a 640 x 480 picture instead of about 95. Without it, that pass "
                         "runs only on frames where no face is found otherwise: one person sitting back is "
                         "found either way, but a small face beside a larger one is not. About 5 ms more per "
                         "analysed frame; raise 'Analyse every Nth frame' if the video stutters. Always on for a "
                         "shared screen. No effect on the lighter 320 x 240 camera a busy server asks for. "
                         "A camera that sends more than 640 px (1280 x 720, 1920 x 1080) is otherwise searched "
                         "at 640 px, which finds a face of a quarter of the picture's height (a laptop at arm's "
                         "length) but not always one of a sixth; with this on, the whole HD picture is searched, "
                         "for faces from about 32 px (36 px at 1920 x 1080), at about 10 to 20 times the "
                         "detector's time.")
    if st.button("Clear session log", help="Forget this session's observations"):
        analyzer.reset()
        support.set_unsaved()
analyzer.configure(analyse_every=every, smoothing_window=window,
                   recognizer=support.get_live_recognizer(mirror, far or source == "screen"),
                   attention=attention, attention_every=attention_every,
                   # A call's gallery moves little: its detector's costly stripes run one a frame. A
                   # camera's faces move more (its HD frames with "Faces farther" keep every pass).
                   rolling=source == "screen")

# Render the streamer on every run, at a fixed place, with a stable key (see fer_app.webrtc_shim).
webrtc_shim.guard_stale_reset(support.LIVE_STREAM_KEY,
                              navigated_away=support.left_live_page())
# The annotated video's encoder gets only the newest frame: no backlog when the server is overloaded.
webrtc_shim.bound_video_queues()
# The capture the stream starts with is chosen while no stream runs in this session (from the
# other streams running on the server) and kept for the player. Also in the run that START causes:
# the browser opened the source with the size of the run before (the player's state is already
# known here). While the stream runs, the page script asks the browser for the capture that follows
# the server's load (support.CaptureFollower, in the readout loop), kept across the page's reruns.
player = st.session_state.get(support.LIVE_STREAM_KEY)
running = player is not None and (player.state.playing or player.state.signalling)
if not running or "fer_live_camera" not in st.session_state or "fer_live_follow" not in st.session_state:
    capture_for = support.screen_for if source == "screen" else support.camera_for
    st.session_state["fer_live_camera"] = capture_for(*SERVER_LOAD.streams(exclude=id(analyzer)))
    st.session_state["fer_live_follow"] = support.CaptureFollower(source, *st.session_state["fer_live_camera"],
                                                                  now=time.monotonic())
camera = st.session_state["fer_live_camera"][0]
follow: support.CaptureFollower = st.session_state["fer_live_follow"]
video_col, info_col = st.columns([3, 2], gap="medium")
with video_col:
    ctx = webrtc_streamer(
        key=support.LIVE_STREAM_KEY,
        mode=WebRtcMode.SENDRECV,
        rtc_configuration=support.ice_configuration(),
        video_frame_callback=analyzer.callback,
        on_video_ended=analyzer.on_ended,
        media_stream_constraints={"video": camera, "audio": False},
        async_processing=True,  # the worker keeps only the newest frame: stale ones are dropped
        video_html_attrs={"autoPlay": True, "controls": False, "muted": True, "style": {"width": "100%"}},
        translations=SCREEN_TRANSLATIONS if source == "screen" else TRANSLATIONS,
    )
    # streamlit-webrtc opens cameras only; this makes its player share a screen instead, and
    # changes a running stream's capture when the server's load does.
    source_errors = SCREEN_ERRORS if source == "screen" else CAMERA_ERRORS
    script_slot = st.empty()
    webrtc_shim.use_video_source(source, follow.asked, source_errors, slot=script_slot)
    # The stream's status, and under it the load shedder's "Server busy" (once in the readout,
    # which on a phone comes after the video, the marker form and six metrics: at 1,414 px).
    with st.container(key="fer_live_status"):
        status, busy_slot = st.empty(), st.empty()
    # The capture's note: why a light capture was asked for, and what became of the capture as
    # the server's load changed while the stream runs (support.CaptureFollower, in the readout loop).
    note_slot = st.empty()
    if follow.note:
        note_slot.caption(follow.note)
    # A form: typing does not rerun the page (which would interrupt the readout), submitting does.
    with st.form("fer_live_marker", clear_on_submit=True, border=False):
        name_col, button_col = st.columns([4, 1], vertical_alignment="bottom")
        note = name_col.text_input("Mark this moment", max_chars=MARKER_CHARS, placeholder="e.g. quiz starts",
                                   key="fer_live_marker_text",
                                   help="A named moment on the dashboard's charts and in the report and "
                                        "CSV log, at the session's clock: what the class was doing then.")
        if button_col.form_submit_button("Mark", width="stretch") and note.strip():
            t = analyzer.mark(note)
            if t is None:
                st.toast("The session holds as many markers as it can.", icon=":material/block:")
            else:
                st.toast(f"Marked \"{support.md_literal(' '.join(note.split()))}\" at {format_time(t)}.",
                         icon=":material/bookmark:")
    # Drawn on every run, empty without markers: while streaming a run does not end, and
    # Streamlit would keep the caption of the run before a "Clear session log" (see render()).
    marked_slot, marked = st.empty(), analyzer.log.markers
    if marked:
        marked_slot.caption("Marked: " + " · ".join(f"{support.md_literal(text)} ({format_time(t)})"
                                                  for t, text in marked[-5:])
                            + (f", and {len(marked) - 5} earlier" if len(marked) > 5 else ""))
with source_slot:
    st.radio("Video source", list(SOURCES), format_func=SOURCES.get, horizontal=True, key="fer_live_source",
             disabled=ctx.state.playing or ctx.state.signalling,
             help="**A shared screen** analyses the faces on a video call: share its window in "
                  "gallery view. The source can change while no stream runs (press STOP first).")

with info_col:
    readout = st.empty()
    # The head pose of a class, in an expander drawn once and then only refilled: an expander drawn
    # anew on each render (every 0.5-1.5 s) snapped shut in the browser while someone read it.
    pose_area = st.empty()
    log_full_slot = st.empty()
    chart_area = st.empty()
pose_table_slot = None  # the placeholder inside pose_area's expander, while it is drawn


def faster_options() -> list[str]:
    """The settings switched on that make each analysis slower."""
    return [name for name, on in (("Mirror averaging", mirror), ("Attention", attention),
                                  ("Faces farther from the camera", far and source != "screen")) if on]


def render(snap, charts_too: bool = True) -> None:
    global pose_table_slot
    s = snap.stats
    with readout.container():
        top = st.columns(3)
        top[0].metric("Camera FPS", f"{s.fps_in:.1f}")
        top[1].metric("Analyses / s", f"{s.fps_analysed:.1f}")
        top[2].metric("ms per frame", f"{s.ms_per_frame:.0f}")
        # The same elements on every render, empty where there is nothing to say: Streamlit
        # removes an earlier run's extra elements only when a run ends, and this loop does not
        # end while streaming, so a render with fewer elements would leave stale copies.
        bottom = st.columns(3)
        bottom[0].metric("Faces now", s.faces_now)
        bottom[1].metric("Observations", s.faces_logged)
        looking, measured = attentive_now(snap.faces)
        attentive_slot, pose_slot = bottom[2].empty(), st.empty()
        posed = pose_table(snap.faces) if measured else None
        if measured:
            attentive_slot.metric("Attentive now", f"{looking} of {measured}",
                                  help="Faces whose head and eyes point at the camera, with eyes open. "
                                       "Where a head points, not whether someone is learning.")
            # A class: each face's angles in one line ran to over 1,000 characters.
            few = len(posed) <= POSE_LINE_MAX_FACES
            pose_slot.caption(pose_readout(snap.faces) if few else pose_summary(snap.faces))
    if s.busy:  # fer_core.live.LoadShedder: this session sheds analyses by itself, and recovers
        busy_slot.warning(support.busy_note(s.analysing_every, *SERVER_LOAD.streams(exclude=id(analyzer)),
                                            faster_options(), source),
                          icon=":material/speed:")
    else:
        busy_slot.empty()
    if pose_table_slot is None and posed is not None and len(posed) > POSE_LINE_MAX_FACES:
        pose_table_slot = pose_area.expander("Head pose of each face").empty()
    if pose_table_slot is None:
        pose_area.empty()
    elif posed is not None and len(posed):
        # Kept for the rest of the stream once drawn, even when fewer faces are measured for a
        # while (faces found anew after the camera was lowered, or a class that left the frame):
        # removed and drawn again, it came back closed under the reader's eyes.
        pose_table_slot.dataframe(posed, hide_index=True, height=min(36 * (len(posed) + 1) + 2, 400),
                                  column_config=POSE_COLUMNS)
    else:
        pose_table_slot.caption("No face's head pose is measured right now.")
    if analyzer.log.truncated:
        log_full_slot.warning(f"The session log is full ({analyzer.log.max_rows:,} observations): faces are still "
                              "analysed and shown, but no longer logged. Download the log, then press **Clear "
                              "session log** to start a new one.", icon=":material/database:")
    else:
        log_full_slot.empty()
    if not charts_too:
        return
    # The last 10 s and the counts only: converting the whole log on every render took 1.2 s
    # at a million rows (a long session of a large class).
    recent = analyzer.log.to_frame(last_s=10.0)
    with chart_area.container():
        # Keyed by the snapshot: one run of this page renders again and again, and two renders
        # with no new log row in between would otherwise draw identical charts with one id.
        st.plotly_chart(charts.mix_bars(current_mix(recent, 10.0), "Expression mix, last 10 s"),
                        width="stretch", key=f"live-mix-{snap.version}")
        st.plotly_chart(charts.count_bars(analyzer.log.label_counts()), width="stretch",
                        key=f"live-counts-{snap.version}")
        st.caption(f"Observations: faces logged, at most {1 / analyzer.log_interval_s:.0f} per face "
                   "and second. Open the **Class dashboard** for timelines, flags and the report.")


def snapshot_fallback() -> None:
    """st.camera_input snapshots, for when WebRTC cannot connect; each is analysed once."""
    with st.expander("Live stream not working? Take snapshots instead",
                     expanded=bool(st.session_state.get("fer_live_failed"))):
        if source == "screen":
            st.markdown("If the player above shows **NotAllowedError**, the screen sharing was cancelled "
                        "or blocked: press START again and pick a window. If START spins and nothing "
                        "connects, the network blocks WebRTC; meanwhile a screenshot of the call on the "
                        "**Photo** page gets the same analysis, and snapshots below use the camera.")
        else:
            st.markdown("If the player above shows **NotAllowedError**, the browser was denied the camera: "
                        "allow it in the site settings (the camera icon in the address bar) and press "
                        "START again. **NotFoundError** means no camera is connected, and "
                        "**NotReadableError** that another program is using it. If START spins and "
                        "nothing connects, the network blocks WebRTC. Meanwhile, snapshots use the "
                        "same analysis and are added to this session's log.")
        if http_host:  # st.camera_input asks the browser for the camera too
            st.markdown("Snapshots need the camera as well, so they too need the page opened over https.")
            return
        shot = st.camera_input("Snapshot", key="fer_live_snapshot")
        if shot is None:
            return
        if st.session_state.get("fer_live_snapshot_id") != shot.file_id:
            try:
                image = decode_image(shot.getvalue())
            except ImageDecodeError as e:
                st.error(str(e))
                return
            annotated, faces = analyzer.process_still(image.bgr)
            support.set_unsaved()
            st.session_state["fer_live_snapshot_id"] = shot.file_id
            st.session_state["fer_live_snapshot_result"] = (
                cv2.cvtColor(annotated, cv2.COLOR_BGR2RGB),
                ", ".join(f"Face {f.face_id}: {f.label} {f.confidence:.0%}" for f in faces) or "No face found")
        picture, caption = st.session_state["fer_live_snapshot_result"]
        st.image(picture, caption=caption, alt=f"The snapshot, each face boxed and labelled: {caption}")


snapshot_fallback()

phase = st.session_state.get("fer_live_phase", "idle")
if ctx.state.playing:
    st.session_state["fer_live_phase"] = "playing"
    st.session_state.pop("fer_live_failed", None)
    version, pacer, guarded = -1, support.ChartPacer(), support.has_unsaved_log()
    note_shown, asked = follow.note, follow.asked
    first_frames, frames_seen, frame_at = None, -1, time.monotonic()
    # The video runs on another thread. Wait with a timeout, and touch the page on every
    # pass: Streamlit can only stop this script (on STOP or any other rerun) inside an
    # st.* call, so a loop blocked on frames that no longer come would never end.
    while ctx.state.playing:
        snap = analyzer.wait_for_update(version, timeout=1.0)
        if first_frames is None:  # the counter runs on across streams: count from this run on
            first_frames = snap.stats.frames_in
        if snap.stats.frames_in != frames_seen:
            frames_seen, frame_at = snap.stats.frames_in, time.monotonic()
        if snap.stats.analysing_s > STALLED_S:
            # No new frame reaches the callback while it analyses one: a slow machine (or a
            # model loaded on first use), not a camera that stopped.
            faster = faster_options()
            status.info(f"Analysing one frame has taken {snap.stats.analysing_s:.0f} s so far: the server is slow "
                        "for this stream, and the video moves on only between analyses. "
                        + (f"Switching off {' and '.join(faster)} makes each analysis faster."
                           if faster else "The Video file page analyses a recording at the server's own pace."),
                        icon=":material/hourglass_top:")
        elif frames_seen > first_frames and time.monotonic() - frame_at > STALLED_S:
            # The connection is up but the browser sends nothing: a camera unplugged or
            # closed by another program, or screen sharing stopped with the browser's button.
            silent = f"No new picture for {time.monotonic() - frame_at:.0f} s: "
            # Chromium repeats a still shared screen's last frame about once a second (26 frames in
            # 30 s measured); other browsers may send one only when the screen changes.
            silent += ("the screen sharing stopped (or, in some browsers, the shared window is still). If it stopped"
                       if source == "screen" else "the camera stopped. Check it, then")
            status.warning(silent + " press STOP, then START to go on; the session log is kept.",
                           icon=":material/videocam_off:")
        elif (source == "screen" and frames_seen > first_frames and snap.stats.frame_size
              and snap.stats.frame_size[0] < HIRES_MIN_SIDE):
            # Narrower than the detector's high-resolution pass needs: galleries of 4 x 4 and
            # more lose their faces (docs/DESIGN.md).
            w, h = snap.stats.frame_size
            status.info(f"The shared window arrives at {w} x {h}: in galleries of more than 9 people "
                        "faces may be missed. Make the window larger (or share the whole screen).",
                        icon=":material/zoom_out_map:")
        else:
            waiting = "" if frames_seen > first_frames else " Waiting for the first frame..."
            status.success(f"Streaming. Each face is smoothed over its last {window} analysed "
                           f"frames.{waiting}", icon=":material/videocam:")
        asked_now, note_now = follow.step(time.monotonic(), *SERVER_LOAD.streams(exclude=id(analyzer)),
                                          snap.stats.frame_size, snap.stats.fps_in)
        if asked_now != asked:  # the page script applies it to the running video track
            asked = asked_now
            webrtc_shim.use_video_source(source, asked, source_errors, slot=script_slot)
        if note_now != note_shown:
            note_shown = note_now
            if note_now:
                note_slot.caption(note_now)
            else:
                note_slot.empty()
        if not guarded and snap.stats.faces_logged:
            # The first faces of this session's log: the browser now asks before the tab
            # is closed or reloaded (support.unsaved_guard).
            guarded = True
            support.set_unsaved(True)
        if snap.version != version:
            version = snap.version
            # The charts cost more than the rest of a stream's page (plotly figures on the
            # server, drawing them in the browser): paced, and paused while the server is busy.
            pace = pacer.step(time.monotonic(), snap.stats.busy, snap.stats.faces_logged)
            if pace == "pause":
                chart_area.caption(CHARTS_PAUSED)
            render(snap, charts_too=pace == "draw")
        time.sleep(READOUT_BUSY_S if snap.stats.busy else READOUT_S)
elif ctx.state.signalling:
    st.session_state["fer_live_phase"] = "signalling"
    # The monotonic clock: a wall clock stepped by NTP while connecting once failed it at once.
    since = st.session_state.setdefault("fer_signalling_since", time.monotonic())
    while ctx.state.signalling and not ctx.state.playing:
        waited = time.monotonic() - since
        if waited > CONNECT_TIMEOUT_S:
            st.session_state["fer_live_failed"] = True
            status.error(f"The live stream did not connect within {CONNECT_TIMEOUT_S} s. A firewall "
                         "probably blocks WebRTC (UDP); the server needs a TURN relay (see "
                         "docs/DEPLOY.md). Use the snapshot mode below meanwhile.",
                         icon=":material/wifi_off:")
            break
        status.info(f"Connecting to the server... ({waited:.0f} s)", icon=":material/sync:")
        time.sleep(0.5)
else:
    st.session_state.pop("fer_signalling_since", None)
    st.session_state["fer_live_phase"] = "idle"
    if phase == "signalling":
        st.session_state["fer_live_failed"] = True
        status.error("The live stream could not connect (or was stopped while connecting). "
                     "Check the camera permission and the network, or use the snapshot mode "
                     "below.", icon=":material/wifi_off:")
    elif phase == "playing":
        status.info("The stream stopped (or the camera disconnected). The session log is kept: "
                    "press START to continue.", icon=":material/videocam_off:")
    if len(analyzer.log):
        render(analyzer.snapshot())
        # Keeping the log needs no trip to the dashboard (it lives only in this tab's memory).
        with video_col:
            # "live_log_2026-12-07_0900.csv" (the session's start, the reader's time zone): a second
            # session of the day is not "live_session_log (1).csv".
            log_csv = session_filename(analyzer.log, ReportOptions(timezone=st.context.timezone or "UTC"), "log", "csv")
            # Its pace from the log's length and time analysed: its summary() counted every face number on
            # each run of the page (27-50 ms at a million rows) for a caption that does not name them.
            fits = uploads.log_fits(len(analyzer.log), analyzer.log.analysed_s, analyzer.attention)
            st.download_button("Session log (CSV)", support.csv_download(analyzer.log.to_csv), log_csv, "text/csv",
                               on_click="ignore", icon=":material/download:",
                               help="Every face observation and marked moment so far; the Class dashboard and "
                                    f"Compare sessions read it back, up to {uploads.LOG_MB} MB ("
                                    f"{fits}; a full log of {analyzer.log.max_rows:,} observations is two to three "
                                    "times that: download the ZIP for it). The log lives only in this tab: if "
                                    "the tab loses its connection for over 15 minutes (a laptop asleep), it is gone.")
            st.download_button("Session log (ZIP)", support.zip_download(analyzer.log.to_csv, log_csv),
                               log_csv[:-4] + ".zip", "application/zip", on_click="ignore",
                               icon=":material/folder_zip:",
                               help="The same CSV, zipped: a third of the size. The Class dashboard and Compare "
                                    "sessions read it as it is, a full log too; double-click it to open the CSV.")
