"""The webcam frame callback, fed av.VideoFrames of real faces (no browser)."""
import threading

import av
import cv2
import numpy as np
import pytest

from fer_core import load_recognizer
from fer_core.live import LiveAnalyzer
from fer_core.tracking import iou
from tests.scenes import astronaut_bgr, gallery_frame, no_face_bgr, one_face_frame


class CountingRecognizer:
    """Wraps the real recognizer and counts model calls (one batch per analysed frame)."""

    def __init__(self, rec):
        self.rec, self.model_calls, self.batch_sizes = rec, 0, []

    def analyze(self, image):
        real = self.rec.predict_proba

        def counted(faces, **kwargs):
            self.model_calls += 1
            self.batch_sizes.append(len(faces))
            return real(faces, **kwargs)

        self.rec.predict_proba = counted
        try:
            return self.rec.analyze(image)
        finally:
            del self.rec.predict_proba


@pytest.fixture(scope="module")
def recognizer():
    return load_recognizer()


def to_frame(bgr, pts=0):
    frame = av.VideoFrame.from_ndarray(bgr, format="bgr24")
    frame.pts = pts
    return frame


def test_callback_annotates_a_real_face(recognizer):
    analyzer = LiveAnalyzer(recognizer)
    img = one_face_frame()
    out = analyzer.callback(to_frame(img, pts=42))
    assert isinstance(out, av.VideoFrame) and (out.width, out.height) == (640, 480) and out.pts == 42
    snap = analyzer.snapshot()
    assert snap.stats.frames_in == 1 and snap.stats.frames_analysed == 1 and snap.stats.faces_now == 1
    assert snap.stats.frame_size == (640, 480)  # the live page's hint for small shared windows reads it
    face = snap.faces[0]
    assert face.face_id == 1 and 0 < face.confidence <= 1 and abs(sum(face.probabilities) - 1) < 1e-4
    x, y, w, h = face.box
    assert 200 < x + w / 2 < 440 and w > 60  # on the astronaut's face
    annotated = out.to_ndarray(format="bgr24")
    diff = np.abs(annotated.astype(int) - img.astype(int)).sum(axis=2) > 30
    assert diff[y:y + h, x - 3:x + 3].mean() > 0.5  # the box's left edge is drawn
    assert len(analyzer.log) == 1 and analyzer.log.models == ("Standard (fer_model.onnx)",)


def test_the_live_camera_finds_a_laptop_user_sitting_back():
    # The face a fifth of a 640 x 480 frame's height: the Live page's camera recognizer
    # (fer_app.support.get_live_recognizer, "Faces farther from the camera" off) showed no face.
    from fer_core.detect import camera_detector
    from tests.scenes import camera_frame

    analyzer = LiveAnalyzer(load_recognizer(detector=camera_detector(), flip_tta=False))
    frame, face = camera_frame(640, 480, 0.22, shift=(-0.8, 0.5))
    for pts in range(3):
        analyzer.callback(to_frame(frame, pts=pts))
    snap = analyzer.snapshot()
    assert snap.stats.faces_now == 1 and iou(snap.faces[0].box, face) > 0.5, (snap.faces, face)
    assert snap.faces[0].face_id == 1  # one face, followed from frame to frame


def test_a_camera_stream_of_a_user_sitting_back_runs_the_middle_pass_first():
    """The camera detector runs its middle pass where the whole-frame pass finds no face: a user
    sitting back cost both passes on every analysed frame, the first in vain. The Live page's
    camera stream now runs the middle pass alone on such a stream, the whole-frame pass first on
    one analysed frame in fer_core.detect.MIDDLE_FIRST_REFRESH and on a new stream's first frame,
    with the same face shown on every frame; middle_first=False keeps the detector's own order."""
    from fer_core.detect import MIDDLE_FIRST_REFRESH, camera_detector
    from tests.scenes import camera_frame

    det = camera_detector()
    rec = load_recognizer(detector=det, flip_tta=False)
    frame, face = camera_frame(640, 480, 0.2, shift=(-0.8, -0.1))
    runs: list[list] = []
    real = det._candidates

    def spy(image, view, small=None):
        runs[-1].append(view.tensor_hw[0])
        return real(image, view, small)

    det._candidates = spy
    try:
        for middle_first in (True, False):
            analyzer = LiveAnalyzer(rec, adaptive=False, middle_first=middle_first)
            runs.clear()
            for pts in range(MIDDLE_FIRST_REFRESH + 2):
                runs.append([])
                analyzer.callback(to_frame(frame, pts=pts))
                faces = analyzer.snapshot().faces
                assert len(faces) == 1 and iou(faces[0].box, face) > 0.5 and faces[0].face_id == 1
            whole_first = [r[0] == 128 for r in runs]
            if middle_first:
                assert whole_first == [True, False, False, False, False, True, False]
                analyzer.on_ended()  # a new stream: the whole-frame pass first again
                runs.append([])
                analyzer.callback(to_frame(frame, pts=99))
                assert runs[-1] == [128, 192]
            else:
                assert all(whole_first) and all(r == [128, 192] for r in runs)
    finally:
        del det._candidates


def test_the_log_names_the_model_chosen_while_streaming(recognizer):
    from fer_core import load_recognizer
    from fer_core.recognizer import EVERYDAY_MODEL

    analyzer = LiveAnalyzer(recognizer, log_interval_s=0.0)
    analyzer.callback(to_frame(one_face_frame()))
    analyzer.configure(recognizer=load_recognizer(EVERYDAY_MODEL, flip_tta=False))
    analyzer.callback(to_frame(one_face_frame(), pts=1))
    assert analyzer.log.models == ("Standard (fer_model.onnx)", "Everyday faces (fer_model_everyday.onnx)")


def test_several_faces_one_batched_call(recognizer):
    counting = CountingRecognizer(recognizer)
    analyzer = LiveAnalyzer(counting)
    frame = gallery_frame(2, 2, 640, 480)  # four real faces
    for i in range(3):
        analyzer.callback(to_frame(frame, pts=i))
    assert counting.model_calls == 3 and counting.batch_sizes == [4, 4, 4]
    faces = analyzer.snapshot().faces
    assert sorted(f.face_id for f in faces) == [1, 2, 3, 4]  # stable ids over the frames


def test_frame_skip_reuses_last_result(recognizer):
    counting = CountingRecognizer(recognizer)
    analyzer = LiveAnalyzer(counting, analyse_every=3)
    img = one_face_frame()
    outs = [analyzer.callback(to_frame(img, pts=i)).to_ndarray(format="bgr24") for i in range(6)]
    s = analyzer.snapshot().stats
    assert (s.frames_in, s.frames_analysed, counting.model_calls) == (6, 2, 2)
    # Skipped frames are still annotated with the last analysis.
    assert np.array_equal(outs[1][60:], outs[0][60:])
    analyzer.configure(analyse_every=1, smoothing_window=2)
    analyzer.callback(to_frame(img, pts=6))
    assert analyzer.snapshot().stats.frames_analysed == 3 and analyzer.tracker.window == 2


def phone_frame(width: int, height: int) -> np.ndarray:
    """A phone's picture of the astronaut, as wide as the frame's short side, in its middle."""
    side = min(width, height)
    frame = np.full((height, width, 3), 90, np.uint8)
    y, x = (height - side) // 2, (width - side) // 2
    frame[y:y + side, x:x + side] = cv2.resize(astronaut_bgr(), (side, side), interpolation=cv2.INTER_AREA)
    return frame


def test_a_phone_turned_mid_stream_keeps_its_face_boxed_and_numbered(recognizer):
    """Portrait 480 x 640 frames, then landscape 640 x 480 (the phone turned), analysing one frame
    in 3 (the page's setting; the load shedder asks up to 1 in 8). The first landscape frames were
    annotated with the portrait frame's boxes, 80 px left of and 79 px below the face, until the next
    analysis; now a frame of a new size is analysed at once, and the face keeps its number."""
    analyzer = LiveAnalyzer(recognizer, analyse_every=3, adaptive=False, log_interval_s=0.0)
    portrait, landscape = phone_frame(480, 640), phone_frame(640, 480)
    for i in range(4):
        analyzer.callback(to_frame(portrait, pts=i))
    assert [f.face_id for f in analyzer.snapshot().faces] == [1]
    on_face = recognizer.analyze(landscape)[0].box
    out = analyzer.callback(to_frame(landscape, pts=4)).to_ndarray(format="bgr24")
    snap = analyzer.snapshot()
    assert snap.stats.frames_analysed == 3 and snap.stats.frame_size == (640, 480)
    assert [f.face_id for f in snap.faces] == [1]
    assert iou(snap.faces[0].box, on_face) > 0.9
    x, y, w, h = on_face
    drawn = np.abs(out.astype(int) - landscape.astype(int)).sum(axis=2) > 30
    assert drawn[y:y + h, x - 3:x + 3].mean() > 0.5  # the box's left edge is on the face
    # And the log's rows after the turn are in the landscape frame's coordinates.
    rows = analyzer.log.to_frame()
    assert tuple(rows.iloc[-1][["x", "y", "w", "h"]]) == on_face


def test_sizes_in_turn_are_analysed_at_the_set_rate_and_never_drawn_with_the_other_sizes_boxes(recognizer):
    """Portrait and landscape frames in turn (a size that keeps changing: a shared window being
    resized): each frame of a new size was analysed out of turn, every frame of the stream. Now
    the set rate holds, and a frame not of the analysed frame's size is drawn without boxes (the
    boxes of the other size would stand off the faces)."""
    from fer_core.live import from_bgr

    analyzer = LiveAnalyzer(recognizer, analyse_every=3, adaptive=False, show_fps=False)
    frames = [phone_frame(480, 640), phone_frame(640, 480)]
    analysed_size, bare = None, 0
    for i in range(12):
        frame = frames[i % 2]
        before = analyzer.snapshot().stats.frames_analysed
        out = analyzer.callback(to_frame(frame, pts=i)).to_ndarray(format="bgr24")
        if analyzer.snapshot().stats.frames_analysed > before:
            analysed_size = frame.shape
            assert len(analyzer.snapshot().faces) == 1
        elif frame.shape != analysed_size:
            assert np.array_equal(out, from_bgr(frame, av).to_ndarray(format="bgr24"))  # nothing drawn
            bare += 1
    assert analyzer.snapshot().stats.frames_analysed == 4 and bare > 0  # frames 0, 3, 6, 9


def test_frame_without_faces(recognizer):
    analyzer = LiveAnalyzer(recognizer, show_fps=False)
    assert analyzer.snapshot().stats.frame_size is None  # before any frame
    img = cv2.resize(no_face_bgr(), (640, 480))
    out = analyzer.callback(to_frame(img)).to_ndarray(format="bgr24")
    # Nothing drawn: the frame as it is, through the YUV 4:2:0 the encoder takes (fer_core.live.from_bgr).
    from fer_core.live import from_bgr
    assert np.array_equal(out, from_bgr(img, av).to_ndarray(format="bgr24"))
    assert analyzer.snapshot().stats.faces_now == 0 and analyzer.log.summary().frames == 1


def test_stream_end_resets_faces_but_keeps_log(recognizer):
    analyzer = LiveAnalyzer(recognizer)
    analyzer.callback(to_frame(one_face_frame()))
    analyzer.on_ended()  # camera stopped or disconnected
    assert analyzer.snapshot().faces == () and len(analyzer.log) == 1
    analyzer.callback(to_frame(one_face_frame()))
    # The log goes on: the face of the new stream is not "Face 1" again (STOP then START once
    # gave three people two numbers in one log).
    assert analyzer.snapshot().faces[0].face_id == 2
    analyzer.reset()  # a new session: numbers start again
    assert len(analyzer.log) == 0 and analyzer.snapshot().stats.frames_in == 0
    analyzer.callback(to_frame(one_face_frame()))
    assert analyzer.snapshot().faces[0].face_id == 1


def test_clearing_the_log_while_frames_arrive_never_breaks_the_callback(recognizer):
    """reset() (the page's Clear session log) runs on the page's thread while the stream's thread
    is inside process(). The clock origin it sets to None is now read under the lock; before, it
    could turn None between a check and its use (a window of a few bytecodes, which a stress run
    like this one seldom hits: this guards against the callback breaking, not that race alone)."""
    from fer_core.session import SessionLog

    class SlowLog(SessionLog):  # widens the window between analysis and logging
        def add_frame(self, *args, **kwargs):
            threading.Event().wait(0.002)
            return super().add_frame(*args, **kwargs)

    analyzer = LiveAnalyzer(recognizer, log_interval_s=0.0)
    analyzer.log = SlowLog(source="live")
    frame, errors, stop = to_frame(one_face_frame()), [], threading.Event()

    def stream():
        while not stop.is_set():
            try:
                analyzer.callback(frame)
            except Exception as e:  # noqa: BLE001 - any error is the failure looked for
                errors.append(e)
                return

    t = threading.Thread(target=stream)
    t.start()
    for _ in range(200):
        analyzer.reset()
        threading.Event().wait(0.001)
    stop.set()
    t.join()
    assert errors == []


class HeldRecognizer:
    """The real recognizer, held inside ``analyze`` until the test lets it go: the page's STOP,
    Clear or a marker can then come exactly while a frame is being analysed."""

    def __init__(self, rec):
        self.rec, self.inside, self.release = rec, threading.Event(), threading.Event()

    def analyze(self, image, **kwargs):
        self.inside.set()
        assert self.release.wait(10.0)
        return self.rec.analyze(image, **kwargs)


def _in_flight(analyzer, held, frame):
    """Start one frame on the stream's thread and return once it is inside the analysis."""
    held.inside.clear()
    held.release.clear()
    t = threading.Thread(target=analyzer.callback, args=(frame,))
    t.start()
    assert held.inside.wait(10.0)
    return t


def test_a_frame_analysed_across_stop_or_clear_does_not_come_back(recognizer):
    """A frame in the analysis when STOP or Clear comes: its faces stayed on the idle page after
    STOP (faces_now 1), and after Clear its row went into the new log at the old clock (times
    100, 0, 0.5, ...), or below 0 when a marker came first."""
    now = [0.0]
    held = HeldRecognizer(recognizer)
    analyzer = LiveAnalyzer(held, log_interval_s=0.0, clock=lambda: now[0])
    frame = to_frame(one_face_frame())
    held.release.set()
    for _ in range(3):  # a 100 s session
        analyzer.callback(frame)
        now[0] += 50.0
    # STOP while a frame is analysed: no face afterwards, and the next stream's face gets a new number.
    t = _in_flight(analyzer, held, frame)
    analyzer.on_ended()
    held.release.set()
    t.join()
    assert analyzer.snapshot().faces == () and analyzer.snapshot().stats.faces_now == 0
    assert analyzer.log.to_frame()["time_s"].tolist() == [0.0, 50.0, 100.0, 150.0]  # captured before STOP: kept
    # Clear, then a marker, while a frame of the old session is analysed: the new log has neither
    # its row nor its clock; times start at the marker.
    now[0] += 1.0
    t = _in_flight(analyzer, held, frame)
    analyzer.reset()
    now[0] += 0.7
    assert analyzer.mark("new session") == 0.0
    held.release.set()
    t.join()
    assert len(analyzer.log) == 0 and analyzer.snapshot().faces == ()
    now[0] += 0.5
    analyzer.callback(frame)
    df = analyzer.log.to_frame()
    assert df["time_s"].tolist() == [0.5] and df["face_id"].tolist() == [1]  # numbers start again at 1
    assert analyzer.log.markers == ((0.0, "new session"),)
    assert analyzer.snapshot().stats.frames_analysed == 1 == analyzer.snapshot().stats.frames_in


def test_a_marker_set_while_the_first_frame_is_analysed_never_gives_negative_times(recognizer):
    now = [10.0]
    held = HeldRecognizer(recognizer)
    analyzer = LiveAnalyzer(held, log_interval_s=0.0, clock=lambda: now[0])
    t = _in_flight(analyzer, held, to_frame(one_face_frame()))
    now[0] += 0.7
    assert analyzer.mark("start") == pytest.approx(0.7)  # the session began with the frame
    held.release.set()
    t.join()
    assert analyzer.log.to_frame()["time_s"].tolist() == [0.0]


def test_log_interval_and_fps_with_a_fake_clock(recognizer):
    now = [100.0]
    analyzer = LiveAnalyzer(recognizer, log_interval_s=0.5, clock=lambda: now[0])
    img = one_face_frame()
    for _ in range(20):  # 2 s at 10 fps
        analyzer.callback(to_frame(img))
        now[0] += 0.1
    assert analyzer.log.summary().frames == 4  # one log row per face every 0.5 s
    assert analyzer.log.to_frame()["time_s"].tolist() == pytest.approx([0.0, 0.5, 1.0, 1.5])
    assert analyzer.snapshot().stats.fps_in == pytest.approx(10.0, rel=0.01)


def test_frame_rates_after_a_pause_and_after_a_real_drop(recognizer):
    """A hidden tab or a suspended laptop: no frame for 5 minutes, then 15 fps again. The pause
    was averaged in as a frame interval: 1 s after the frames came back the page (and the video's
    overlay) read 0.14 fps, and 7.9 fps 4 s after. A real drop (a busy tab sending a frame every
    3 s) is taken up after two such intervals."""
    now = [100.0]
    analyzer = LiveAnalyzer(recognizer, clock=lambda: now[0])
    frame = cv2.resize(one_face_frame(), (160, 120))

    def stream(seconds, fps):
        for _ in range(round(seconds * fps)):
            analyzer.process(frame)
            now[0] += 1.0 / fps

    stream(2, 15)
    now[0] += 300.0
    stream(1, 15)
    stats = analyzer.snapshot().stats
    assert stats.fps_in == pytest.approx(15.0, rel=0.01) and stats.fps_analysed == pytest.approx(15.0, rel=0.01)
    stream(9, 1 / 3)  # three frames 3 s apart
    assert analyzer.snapshot().stats.fps_in == pytest.approx(1 / 3, rel=0.01)


def test_markers_use_the_log_clock_and_survive_a_stream_end(recognizer):
    now = [50.0]
    analyzer = LiveAnalyzer(recognizer, log_interval_s=0.5, clock=lambda: now[0])
    assert analyzer.mark("before the first frame") == 0.0  # the session starts at the first marker
    now[0] += 2.0
    analyzer.callback(to_frame(one_face_frame()))
    now[0] += 63.5
    assert analyzer.mark("  quiz\nstarts ") == pytest.approx(65.5)
    assert analyzer.mark("   ") is None
    analyzer.on_ended()  # STOP keeps the markers with the log
    assert analyzer.log.markers == ((0.0, "before the first frame"), (pytest.approx(65.5), "quiz starts"))
    assert analyzer.log.to_frame()["time_s"].tolist() == [2.0]
    analyzer.reset()  # a new session forgets them
    assert analyzer.log.markers == ()


def test_wait_for_update_is_bounded_and_wakes_up(recognizer):
    analyzer = LiveAnalyzer(recognizer)
    snap = analyzer.wait_for_update(after_version=0, timeout=0.05)  # nothing arrives: returns
    assert snap.version == 0
    t = threading.Thread(target=lambda: analyzer.callback(to_frame(one_face_frame())))
    t.start()
    snap = analyzer.wait_for_update(after_version=0, timeout=10.0)
    t.join()
    assert snap.version == 1 and snap.stats.faces_now == 1


def test_snapshot_fallback_logs_every_still(recognizer):
    analyzer = LiveAnalyzer(recognizer, log_interval_s=60.0)
    for _ in range(3):
        annotated, faces = analyzer.process_still(one_face_frame())
        assert len(faces) == 1 and annotated.shape == (480, 640, 3)
    assert len(analyzer.log) == 3


def test_frame_conversion_matches_pyav_colours_and_keeps_odd_sizes():
    from fer_core.live import to_bgr

    img = one_face_frame()
    decoded = av.VideoFrame.from_ndarray(img, format="bgr24").reformat(format="yuv420p")  # as VP8 decodes
    ours, pyav = to_bgr(decoded).astype(int), decoded.to_ndarray(format="bgr24").astype(int)
    assert ours.shape == img.shape and np.abs(ours - pyav).mean() < 2.0  # same BT.601 colours
    odd = np.ascontiguousarray(img[:479, :639])  # 4:2:0 needs even sizes: PyAV's path
    assert to_bgr(av.VideoFrame.from_ndarray(odd, format="bgr24")).shape == odd.shape


def test_callback_returns_yuv_frames_and_the_encoder_gets_its_own_copy(recognizer):
    import fractions

    from aiortc.codecs import get_encoder
    from aiortc.rtcrtpparameters import RTCRtpCodecParameters

    from fer_app.webrtc_shim import private_frame
    from fer_core.live import from_bgr

    analyzer = LiveAnalyzer(recognizer)
    frame = av.VideoFrame.from_ndarray(one_face_frame(), format="bgr24").reformat(format="yuv420p")
    frame.pts, frame.time_base = 6000, fractions.Fraction(1, 90000)
    out = analyzer.callback(frame)
    assert out.format.name == "yuv420p" and out.pts == 6000  # what the VP8 encoder takes
    assert np.abs(out.to_ndarray(format="bgr24").astype(int) - one_face_frame().astype(int)).mean() < 12
    assert from_bgr(np.zeros((479, 639, 3), np.uint8), av).format.name == "bgr24"  # 4:2:0 needs even sizes
    # streamlit-webrtc sends the same object again with a later pts; the encoder must keep
    # what it was given (a frame whose pts went backwards kills libvpx's stream).
    copy = private_frame(out)
    out.pts = 12000
    assert copy is not out and copy.pts == 6000 and np.array_equal(copy.to_ndarray(), out.to_ndarray())
    encoder = get_encoder(RTCRtpCodecParameters(mimeType="video/VP8", clockRate=90000, payloadType=96))
    encoder.encode(private_frame(out))
    with pytest.raises(av.error.InvalidDataError):  # why the copy matters: libvpx refuses going back
        encoder.encode(copy)
    assert private_frame(to_frame(one_face_frame())).format.name == "bgr24"  # others: the encoder copies


def test_time_analysed_leaves_out_the_time_with_the_stream_stopped(recognizer):
    """START for 10 s, STOP, 20 s later START for 10 s more: the log's summary (the dashboard's
    and the report's time) said 40 s analysed, counting the 20 s with the camera off. It now
    counts the two streams (about 20 s) and keeps the session's clock (40 s) beside it."""
    from fer_core.report import build_html_report

    now = [100.0]
    analyzer = LiveAnalyzer(recognizer, log_interval_s=0.5, clock=lambda: now[0])
    frame = cv2.resize(one_face_frame(), (320, 240))

    def stream(seconds, fps=5):
        for _ in range(round(seconds * fps)):
            analyzer.process(frame)
            now[0] += 1.0 / fps
        analyzer.on_ended()  # STOP

    stream(10)
    summary = analyzer.log.summary()
    assert summary.parts == () and summary.analysed_s == pytest.approx(9.6, abs=0.05)  # one stream: no parts
    now[0] += 20.0
    stream(10)
    summary = analyzer.log.summary()
    assert summary.duration_s == pytest.approx(39.6, abs=0.05)  # the session's clock runs on
    assert summary.analysed_s == pytest.approx(19.2, abs=0.05)  # the time streamed, each from first to last row
    assert summary.parts == (pytest.approx((0.0, 9.6), abs=0.05), pytest.approx((30.0, 39.6), abs=0.05))
    # Said so in the report, and kept by the CSV the dashboard and Compare sessions read back.
    assert "Time analysed: 0:19.2, in 2 streams (0:00.0 to 0:09.6, 0:30.0 to 0:39.6); the session ran 0:39.6" \
        in build_html_report(analyzer.log)
    from fer_core.session import SessionLog

    back = SessionLog.from_csv(analyzer.log.to_csv())
    assert back.summary().analysed_s == pytest.approx(19.2, abs=0.05)
    # A START that failed (STOP twice), then a third stream: three parts, no empty one.
    analyzer.on_ended()
    now[0] += 5.0
    stream(2)
    assert len(analyzer.log.summary().parts) == 3
    assert analyzer.log.summary().analysed_s == pytest.approx(19.2 + 1.8, abs=0.05)
    analyzer.reset()  # Clear session log: one stretch again
    stream(1)
    assert analyzer.log.summary().parts == ()


def test_a_frame_analysed_across_stop_is_logged_with_its_own_stream(recognizer):
    """A frame still in analysis when STOP comes keeps its row (captured before STOP), in the
    stream before: it does not start the next stream's time early, which would count the pause."""
    now = [0.0]
    held = HeldRecognizer(recognizer)
    analyzer = LiveAnalyzer(held, log_interval_s=0.0, clock=lambda: now[0])
    frame = to_frame(cv2.resize(one_face_frame(), (320, 240)))
    held.release.set()
    analyzer.callback(frame)
    now[0] = 5.0
    t = _in_flight(analyzer, held, frame)
    analyzer.on_ended()  # STOP while the frame at 5 s is analysed
    held.release.set()
    t.join()
    now[0] = 30.0
    analyzer.callback(frame)  # the next stream
    now[0] = 32.0
    analyzer.callback(frame)
    assert analyzer.log.to_frame()["time_s"].tolist() == [0.0, 5.0, 30.0, 32.0]
    assert analyzer.log.summary().parts == ((0.0, 5.0), (30.0, 32.0))
    assert analyzer.log.summary().analysed_s == 7.0


def test_a_slow_analysis_is_told_from_a_stopped_camera(recognizer):
    """On a slow machine (5 s per analysis) no frame reaches the callback while it analyses one, and
    the page said "No new picture for 4 s: the camera stopped. Check it, then press STOP, then
    START" of a camera that worked. The stats say how long the frame in the callback has been in it."""
    now = [0.0]
    held = HeldRecognizer(recognizer)
    analyzer = LiveAnalyzer(held, clock=lambda: now[0], adaptive=False)  # every frame analysed
    frame = to_frame(one_face_frame())
    assert analyzer.snapshot().stats.analysing_s == 0.0
    t = _in_flight(analyzer, held, frame)
    now[0] += 5.0
    assert analyzer.snapshot().stats.analysing_s == 5.0  # a frame in the analysis for 5 s: slow, not stopped
    held.release.set()
    t.join()
    assert analyzer.snapshot().stats.analysing_s == 0.0  # none in it now: 4 s more without a frame is a stall

    class Failing:
        def analyze(self, image, **kwargs):
            raise RuntimeError("model failed")

    analyzer.configure(recognizer=Failing())
    with pytest.raises(RuntimeError):
        analyzer.callback(frame)
    assert analyzer.snapshot().stats.analysing_s == 0.0  # a failed analysis does not read as one still running


@pytest.fixture(scope="module")
def screen_recognizer():
    """The recognizer of the live page's shared screen: the far detector (a high-resolution
    pass in two stripes on a 1280 x 720 capture)."""
    from fer_core.detect import FAR_DETECTOR, load_detector

    return load_recognizer(detector=load_detector(FAR_DETECTOR))


def count_stripes(detector, runs: list):
    """Make ``detector`` append to ``runs[-1]`` the origin of each high-resolution stripe it runs."""
    real = detector._candidates

    def counted(image, view, small=None):
        if view.own is not None:
            runs[-1].append(view.origin)
        return real(image, view, small)

    detector._candidates = counted


def test_a_shared_screen_runs_one_stripe_a_frame_and_keeps_every_face(screen_recognizer):
    """A call's gallery shared at 1280 x 720: after the first frame, each analysed frame runs the
    high-resolution pass on one of its two stripes, in turn, and the other's faces come from the
    frame before; on a still gallery every frame reports the faces of a whole detection."""
    det = screen_recognizer.detector
    frame = gallery_frame(5, 5, 1280, 720)
    whole = sorted(d.box for d in det.detect(frame))
    assert len(whole) == 25
    analyzer = LiveAnalyzer(screen_recognizer, adaptive=False, rolling=True)
    runs: list[list] = []
    count_stripes(det, runs)
    try:
        for i in range(5):
            runs.append([])
            analyzer.callback(to_frame(frame, pts=i))
            assert sorted(f.box for f in analyzer.snapshot().faces) == whole, i
    finally:
        del det._candidates
    assert [len(r) for r in runs] == [2, 1, 1, 1, 1]
    assert runs[1] != runs[2] and runs[1] == runs[3]  # in turn
    assert sorted(f.face_id for f in analyzer.snapshot().faces) == list(range(1, 26))


def test_by_default_every_frame_runs_every_stripe(screen_recognizer):
    """Carried stripes are the shared screen's, which the page asks for: an analyzer made in
    Python with the far detector (an HD camera, whose faces move) runs the whole detection on
    every analysed frame, so no face is shown where it was a frame before."""
    det = screen_recognizer.detector
    analyzer = LiveAnalyzer(screen_recognizer, adaptive=False)
    runs: list[list] = []
    count_stripes(det, runs)
    try:
        for i in range(3):
            runs.append([])
            analyzer.callback(to_frame(gallery_frame(3, 3, 1280, 720), pts=i))
    finally:
        del det._candidates
    assert [len(r) for r in runs] == [2, 2, 2]


def test_a_shared_screen_that_changes_runs_every_stripe_at_once(screen_recognizer):
    """Another page of the gallery (or another window) runs both stripes on its first frame: no
    face of the picture before is carried onto it. So does a new stream's first frame."""
    det = screen_recognizer.detector
    before, after = gallery_frame(5, 5, 1280, 720), gallery_frame(7, 7, 1280, 720)
    expected = sorted(d.box for d in det.detect(after))
    analyzer = LiveAnalyzer(screen_recognizer, adaptive=False, rolling=True)
    runs: list[list] = []
    count_stripes(det, runs)
    try:
        for i, frame in enumerate([before, before, after, after]):
            runs.append([])
            analyzer.callback(to_frame(frame, pts=i))
        assert sorted(f.box for f in analyzer.snapshot().faces) == expected
        analyzer.on_ended()
        runs.append([])
        analyzer.callback(to_frame(after, pts=9))
    finally:
        del det._candidates
    assert [len(r) for r in runs] == [2, 1, 2, 1, 2]
    assert len(analyzer.snapshot().faces) == 49


def test_a_shared_screen_after_a_pause_carries_no_face_from_before_it(screen_recognizer):
    """A call's 49 faces shared, then no frame for a minute (the laptop asleep); meanwhile three
    students switched their cameras off. The first frame after the pause showed and logged 48
    faces: a stripe's faces were carried from the frame it last ran on, a minute before, as the
    picture of the stripe had changed too little to run it again. The frame after a pause runs every
    pass, as a new stream's first frame does."""
    det = screen_recognizer.detector
    now = [0.0]
    analyzer = LiveAnalyzer(screen_recognizer, clock=lambda: now[0], adaptive=False, rolling=True)
    frame = gallery_frame(7, 7, 1280, 720)
    off = frame.copy()
    th, tw = 720 // 7, 1280 // 7
    for r, c in ((0, 0), (2, 5), (5, 1)):
        off[r * th:(r + 1) * th, c * tw:(c + 1) * tw] = 30
    expected = sorted(d.box for d in det.detect(off))
    assert len(expected) == 46
    runs: list[list] = []
    count_stripes(det, runs)
    try:
        for picture, wait in ((frame, 0.2), (frame, 0.2), (frame, 0.2), (off, 60.0)):
            now[0] += wait
            runs.append([])
            analyzer.process(picture)
    finally:
        del det._candidates
    assert len(analyzer.snapshot().faces) == 46
    df = analyzer.log.to_frame()
    assert (df["time_s"] == df["time_s"].max()).sum() == 46
    assert sorted(f.box for f in analyzer.snapshot().faces) == expected
    assert [len(r) for r in runs] == [2, 1, 1, 2]


class MoodRecognizer:
    """The real recognizer's face boxes, with the expression a test sets (``mood``) at 88 %."""

    def __init__(self, rec):
        self.rec, self.mood = rec, "Happy"

    def analyze(self, image, **kwargs):
        import dataclasses

        from fer_core.labels import LABELS

        p = tuple(0.88 if lab == self.mood else 0.02 for lab in LABELS)
        return [dataclasses.replace(f, probabilities=p, label=self.mood, confidence=0.88)
                for f in self.rec.analyze(image, **kwargs)]


def test_a_stream_without_frames_for_ten_minutes_is_a_pause_in_the_log(recognizer):
    """The laptop's lid closed for 10 minutes of a 60-minute class (or the camera taken by another
    program, the network gone), the stream never stopped: the dashboard said "Duration 60.0 min",
    the report "Duration covered: 59:59.5" and Compare 60 minutes, the 10 minutes without a picture
    counted as analysed; and the face, sad after the pause, read Happy 71 % at 30:00, averaged with
    how it looked 10 minutes before. The pause is now one as STOP and START make it (50 minutes
    analysed, in two stretches), the face keeps its number and starts afresh."""
    from fer_core.compare import compare_sessions
    from fer_core.report import build_html_report
    from fer_core.session import SessionLog

    now = [100.0]
    moods = MoodRecognizer(recognizer)
    analyzer = LiveAnalyzer(moods, clock=lambda: now[0], adaptive=False)
    frame = cv2.resize(one_face_frame(), (320, 240))

    def stream(seconds, fps=2):
        for _ in range(round(seconds * fps)):
            analyzer.process(frame)
            now[0] += 1.0 / fps

    stream(20 * 60)
    now[0] += 10 * 60  # no frame for 10 minutes
    moods.mood = "Sad"
    stream(30 * 60)
    summary = analyzer.log.summary()
    assert summary.duration_s == pytest.approx(3599.5)  # the session's clock ran on
    assert summary.parts == ((0.0, 1199.5), (1800.0, 3599.5))
    assert summary.analysed_s == pytest.approx(2999.0)  # 50 minutes, not 60
    assert summary.faces == 1  # one face, one number, before and after the pause
    df = analyzer.log.to_frame()
    after = df[df["time_s"] >= 1800.0]
    assert after["label"].iloc[0] == "Sad" and after["Sad"].iloc[0] == pytest.approx(0.88)
    assert "Time analysed: 49:59.0, in 2 streams (0:00.0 to 19:59.5, 30:00.0 to 59:59.5)" in \
        build_html_report(analyzer.log)
    assert compare_sessions({"class": df})["duration_min"].iloc[0] == pytest.approx(2999.0 / 60)
    assert SessionLog.from_csv(analyzer.log.to_csv()).summary().analysed_s == pytest.approx(2999.0)
    # A slow analysis (8 s a frame, no frame reaching the callback meanwhile) is not a pause: the
    # time counts from the end of the frame before.
    slow = LiveAnalyzer(recognizer, clock=lambda: now[0], adaptive=False)

    class Slow:
        def analyze(self, image, **kwargs):
            now[0] += 8.0
            return recognizer.analyze(image, **kwargs)

    slow.configure(recognizer=Slow())
    for _ in range(5):
        slow.process(frame)
        now[0] += 0.1
    assert slow.log.summary().parts == () and len(slow.log) == 5


def test_a_moment_named_before_start_does_not_make_the_wait_for_the_camera_analysed_time(recognizer):
    """The teacher names "class starts" on the Live page, then presses START and the camera comes 3
    minutes later; 30 minutes streamed. The session's clock starts at the moment named (its first
    row at 3:00), and the 3 minutes counted as analysed: the dashboard said "Duration 33.0 min", the
    report "Duration covered: 32:59.0", Compare 33.0 minutes, and the mix over time read 0 %, "no
    face", from 0:00 to 3:00. They are now a pause as STOP and START make one: 30 minutes analysed
    (first to last row), the 3 minutes shaded, in the log and in its CSV read back. The report says
    how long before the first stream the moment was named (it said "its clock started at 0:00.0",
    as every live session's clock does)."""
    from fer_core.compare import compare_sessions
    from fer_core.report import build_html_report
    from fer_core.session import SessionLog, unanalysed

    now = [100.0]
    analyzer = LiveAnalyzer(recognizer, clock=lambda: now[0], adaptive=False, log_interval_s=1.0)
    frame = cv2.resize(one_face_frame(), (320, 240))
    assert analyzer.mark("class starts") == 0.0
    now[0] += 180.0
    for _ in range(30 * 60):
        analyzer.process(frame)
        now[0] += 1.0
    analyzer.on_ended()
    for log in (analyzer.log, SessionLog.from_csv(analyzer.log.to_csv())):
        summary, df = log.summary(), log.to_frame()
        assert summary.parts == ((180.0, 1979.0),) and summary.analysed_s == pytest.approx(1799.0)
        assert summary.duration_s == pytest.approx(1979.0)  # the session's clock, from the moment named
        assert unanalysed(df) == [(0.0, 180.0)]
        assert compare_sessions({"class": df})["duration_min"].iloc[0] == pytest.approx(1799.0 / 60)
        assert ("Time analysed: 29:59.0, in 1 stream (3:00.0 to 32:59.0); the session ran 32:59.0, the rest with "
                "the stream stopped or without a picture (its clock started with a moment named 3:00.0 before "
                "the first stream)") in build_html_report(log)
    # A session whose clock starts with its first frame has no such time: one stretch, as before.
    analyzer.reset()
    for _ in range(60):
        analyzer.process(frame)
        now[0] += 1.0
    assert analyzer.log.summary().parts == () and analyzer.log.summary().analysed_s == pytest.approx(59.0)
