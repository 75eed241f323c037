"""Looking back at an analysed video: seeking to its frames, drawing the logged faces, the annotated copy."""
import io

import av
import numpy as np
import pytest

from fer_core import load_recognizer
from fer_core.annotate import pixelate
from fer_core.review import (
    analysed_time,
    annotated_video,
    clip_ranges,
    draw_frame,
    faces_at,
    main,
    marker_at,
    moment,
)
from fer_core.session import SessionLog
from fer_core.video import analyze_video, frame_at, iter_frames, probe
from tests.hostile import rotated_video, vfr_video
from tests.media import come_and_go_frames, encode_video, face_on_background


def numbered_frames(n: int, width: int = 320, height: int = 240) -> list[np.ndarray]:
    """Frames whose left half holds the frame's number (under 256) in two flat greys, 16 levels
    apart: the top quarter the low digit, the bottom one the high digit, in base 16. The right
    half is noise, so that the encoder has something to spend bits on."""
    rng = np.random.default_rng(0)
    frames = []
    for i in range(n):
        f = rng.integers(0, 64, (height, width, 3), dtype=np.uint8)
        f[:height // 2, :width // 2] = (i % 16) * 16 + 8
        f[height // 2:, :width // 2] = (i // 16) * 16 + 8
        frames.append(f)
    return frames


def keyframed(frames: list[np.ndarray], fps: int = 25, gop: int = 25, fmt: str = "mp4") -> bytes:
    """H.264 with a keyframe every ``gop`` frames, so that seeking has somewhere to land."""
    return encode_video(frames, fps=fps, fmt=fmt, codec="libx264", options={"g": str(gop), "preset": "ultrafast"})


def frame_number(bgr: np.ndarray) -> int:
    """The number written into a frame by :func:`numbered_frames` (read from the middle of each quarter)."""
    h, w = bgr.shape[:2]
    low = bgr[h // 8:3 * h // 8, w // 8:3 * w // 8].mean()
    high = bgr[5 * h // 8:7 * h // 8, w // 8:3 * w // 8].mean()
    return int((low - 8) / 16 + 0.5) + 16 * int((high - 8) / 16 + 0.5)


@pytest.fixture(scope="module")
def numbered_mp4() -> bytes:
    return keyframed(numbered_frames(250))  # 10 s at 25 fps, a keyframe each second


@pytest.fixture(scope="module")
def analysed():
    """The come-and-go video analysed at 2 frames a second, with attention."""
    data = encode_video(come_and_go_frames(fps=10), fps=10)
    return data, analyze_video(load_recognizer(), data, rate=2.0, attention=True)


@pytest.mark.parametrize("fmt, codec", [("mp4", "libx264"), ("matroska", "libx264"), ("webm", "libvpx-vp9"),
                                        ("avi", "mpeg4")])
def test_starting_later_gives_the_frames_a_run_from_the_start_gives(fmt, codec):
    data = (keyframed(numbered_frames(250), fmt=fmt) if codec == "libx264"
            else encode_video(numbered_frames(250), fps=25, fmt=fmt, codec=codec))
    full = list(iter_frames(data, rate=2.0))
    later = list(iter_frames(data, rate=2.0, start_s=4.3))
    expected = [f for f in full if f.time_s >= 4.5 - 1e-6]
    assert [round(f.time_s, 3) for f in later] == [round(f.time_s, 3) for f in expected]
    assert [frame_number(f.bgr) for f in later] == [frame_number(f.bgr) for f in expected]
    assert len(later) == 11


def test_frame_at_seeks_to_the_frame_of_that_time(numbered_mp4):
    for t in (0.0, 0.04, 3.0, 7.5, 9.96):
        f = frame_at(numbered_mp4, t)
        assert f is not None and f.time_s == pytest.approx(t, abs=0.021)
        assert frame_number(f.bgr) == round(t * 25)
    # Between two frames: the first one after (as iter_frames picks for that time).
    assert frame_number(frame_at(numbered_mp4, 3.01).bgr) == 76
    assert frame_at(numbered_mp4, 10.5) is None  # past the end
    # A file object works too, several times over (the app passes the uploaded file).
    fileobj = io.BytesIO(numbered_mp4)
    assert [frame_number(frame_at(fileobj, t).bgr) for t in (5.0, 1.0, 5.0)] == [125, 25, 125]


def test_faces_at_reads_the_log_back_for_a_frame(analysed):
    _, result = analysed
    df = result.log.to_frame()
    faces = faces_at(df, 1.0)
    row = df[df.time_s == 1.0].iloc[0]
    assert len(faces) == 1 and faces[0].face_id == row.face_id == 1
    assert faces[0].box == (row.x, row.y, row.w, row.h)
    assert faces[0].label == row.label and faces[0].confidence == pytest.approx(row.confidence)
    assert faces[0].pose == pytest.approx((row.yaw, row.pitch, row.roll))
    assert faces[0].eyes_open is not None and faces[0].looking_at_camera is not None
    assert faces_at(df, 3.0) == []  # nobody in the frame
    assert faces_at(df.iloc[0:0], 1.0) == []
    # Read back from the CSV (times rounded to the millisecond), the same faces.
    again = SessionLog.from_csv(result.log.to_csv()).to_frame()
    assert [(f.face_id, f.box, f.label) for f in faces_at(again, 1.0)] == [(1, faces[0].box, faces[0].label)]
    # A log without attention: no pose.
    plain = SessionLog()
    plain.add_frame(0.5, [(4, (10, 20, 30, 40), (0.1, 0, 0, 0.6, 0.1, 0.1, 0.1))])
    (face,) = faces_at(plain.to_frame(), 0.5)
    assert face.pose is None and face.label == "Happy" and face.face_id == 4


def test_analysed_time_snaps_to_the_grid():
    assert analysed_time(3.26, 2.0) == 3.5 and analysed_time(3.24, 2.0) == 3.0
    assert analysed_time(7.4, 0.5) == 8.0 and analysed_time(-1, 2.0) == 0.0
    with pytest.raises(ValueError):
        analysed_time(1.0, 0)


def test_moment_shows_the_analysed_frame_with_its_faces(analysed):
    data, result = analysed
    df = result.log.to_frame()
    m = moment(data, df, 1.1, rate=2.0, markers=[(1.0, "quiz")])
    assert m.time_s == pytest.approx(1.0) and [f.face_id for f in m.faces] == [1]
    plain = frame_at(data, 1.0).bgr
    x, y, w, h = m.faces[0].box
    changed = np.any(m.image != plain, axis=2)
    assert changed[y:y + h, x].mean() > 0.9  # the box's left edge is drawn
    assert changed[:8, :60].any()  # the time (and the moment's name) in the corner
    assert not changed[y + h // 4:y + 3 * h // 4, x + w // 4:x + 3 * w // 4].all()  # the face is not covered
    empty = moment(data, df, 3.0, rate=2.0)
    assert empty.faces == () and not np.any(empty.image != frame_at(data, 3.0).bgr, axis=2)[40:].any()
    assert moment(data, df, 60.0, rate=2.0) is None
    # From the log itself (the Video file page's fragment: only the rows of that moment read), the same.
    for t in (1.0, 1.1, 3.0):
        from_log, from_frame = moment(data, result.log, t, rate=2.0), moment(data, df, t, rate=2.0)
        assert from_log.faces == from_frame.faces and from_log.time_s == from_frame.time_s
    assert moment(data, result.log, 60.0, rate=2.0) is None


def test_pixelate_flattens_the_face_and_nothing_else():
    img = face_on_background(480, 360)
    before = img.copy()
    box = (150, 60, 120, 140)
    pixelate(img, [box], grow=0.25, blocks=8)
    x0, y0, x1, y1 = 120, 25, 300, 235  # the box grown by a quarter on each side
    region = img[y0:y1, x0:x1]
    # 8 x 8 flat blocks: each row of the region changes colour at most 7 times.
    changes = (np.any(region[:, 1:] != region[:, :-1], axis=2)).sum(axis=1)
    assert changes.max() <= 7
    outside = np.ones(img.shape[:2], bool)
    outside[y0:y1, x0:x1] = False
    assert np.array_equal(img[outside], before[outside])
    # Boxes partly outside the image, or too small, do not fail.
    pixelate(img, [(-50, -50, 100, 100), (470, 350, 40, 40), (10, 10, 1, 1)])


def test_marker_at_shows_a_named_moment_for_a_while():
    markers = [(2.0, "quiz"), (4.0, "break")]
    assert marker_at(markers, 1.9) is None and marker_at(markers, 2.0) == "quiz"
    assert marker_at(markers, 4.5) == "break" and marker_at(markers, 7.5) is None

    def drawn_width(marker):  # the status box in the top-left corner, on a grey frame
        img = draw_frame(np.full((100, 300, 3), 128, np.uint8), [], 2.0, marker=marker)
        return int(np.any(img[2] != 128, axis=1).sum())

    assert 20 < drawn_width(None) < drawn_width("quiz") < 300


def test_annotated_video_has_the_analysed_frames_drawn(analysed):
    data, result = analysed
    df = result.log.to_frame()
    seen = []
    clip = annotated_video(data, df, rate=2.0, markers=result.log.markers,
                           progress=lambda f, s: seen.append(f))
    assert clip.frames == 16 and (clip.start_s, clip.end_s) == (0.0, 7.5) and not clip.stopped_early
    assert clip.faces_drawn == len(df) == 8  # every logged face, on its own frame
    assert seen[-1] == pytest.approx(1.0, abs=0.07) and seen == sorted(seen)
    with av.open(io.BytesIO(clip.data)) as c:
        stream = c.streams.video[0]
        assert stream.codec_context.name == "h264" and (stream.width, stream.height) == (480, 360)
        frames = list(c.decode(stream))
    # Each analysed frame keeps its time: the file plays in real time.
    assert [round(float(f.time), 2) for f in frames] == [i * 0.5 for i in range(16)]
    # The face is drawn where the log says, at 1 s; the empty frame at 3 s has only the time on it.
    at1 = frames[2].to_ndarray(format="bgr24")
    x, y, w, h = faces_at(df, 1.0)[0].box
    plain = frame_at(data, 1.0).bgr.astype(int)
    assert np.abs(at1[y + 2:y + h - 2, x - 1:x + 2].astype(int) - plain[y + 2:y + h - 2, x - 1:x + 2]).mean() > 25


def test_annotated_video_pixelates_a_range_on_request(analysed):
    data, result = analysed
    df = result.log.to_frame()
    x, y, w, h = faces_at(df, 1.0)[0].box
    sharp = frame_at(data, 1.0).bgr.astype(float)
    away = {}  # how far the face in the clip's first frame is from the face as it was
    for anonymise in (False, True):
        clip = annotated_video(data, df, rate=2.0, start_s=0.9, end_s=6.6, anonymise=anonymise)
        assert clip.frames == 12 and (clip.start_s, clip.end_s) == (1.0, 6.5)
        with av.open(io.BytesIO(clip.data)) as c:
            first = next(c.decode(video=0)).to_ndarray(format="bgr24").astype(float)
        away[anonymise] = np.abs(first - sharp)[y + 4:y + h - 4, x + 4:x + w - 4].mean()
    assert away[True] > 3 * away[False] and away[True] > 10
    with pytest.raises(ValueError):
        annotated_video(data, df, rate=2.0, start_s=5, end_s=2)
    nothing = annotated_video(data, df, rate=2.0, start_s=20.0)
    assert nothing.frames == 0 and nothing.data == b""


def test_a_copy_of_an_analysis_in_parts_leaves_the_gaps_out(numbered_mp4):
    """Parts 1-2 s and 5-6.2 s of a 10-s video: the copy holds their frames only, in the video's
    frames, and plays on from one part to the next without a pause."""
    seen = []
    clip = annotated_video(numbered_mp4, SessionLog().to_frame(), rate=2.0, parts=[(5.0, 6.2), (1.0, 2.0)],
                           progress=lambda f, s: seen.append(f))
    assert clip.frames == 6 and (clip.start_s, clip.end_s) == (1.0, 6.0)
    assert seen == sorted(seen) and seen[-1] == pytest.approx(2.0 / 2.2)  # of the parts' 2.2 s
    with av.open(io.BytesIO(clip.data)) as c:
        frames = list(c.decode(video=0))
    # 25 frames a second: the frame for 1.5 s is the one at 1.52 s; 5 s goes on from 2 s plus a frame.
    assert [round(float(f.time), 2) for f in frames] == [0.0, 0.52, 1.0, 1.5, 2.02, 2.5]
    assert [frame_number(f.to_ndarray(format="bgr24")) for f in frames] == [25, 38, 50, 125, 138, 150]
    # A range asked for cuts the parts; one that misses them gives nothing.
    assert annotated_video(numbered_mp4, SessionLog().to_frame(), rate=2.0, start_s=1.5, end_s=5.0,
                           parts=[(1.0, 2.0), (5.0, 6.2)]).frames == 3  # 1.5, 2.0 and 5.0
    assert annotated_video(numbered_mp4, SessionLog().to_frame(), rate=2.0, start_s=3.0, end_s=4.0,
                           parts=[(1.0, 2.0), (5.0, 6.2)]).frames == 0
    assert clip_ranges(0.0, None, [(1.0, 2.0), (5.0, 6.2)]) == [(1.0, 2.0), (5.0, 6.2)]
    assert clip_ranges(1.5, None, ()) == [(1.5, None)]


def test_annotated_video_stops_at_its_size_limit(numbered_mp4):
    empty_log = SessionLog().to_frame()
    whole = annotated_video(numbered_mp4, empty_log, rate=5.0)
    assert whole.frames == 50 and not whole.stopped_early
    capped = annotated_video(numbered_mp4, empty_log, rate=5.0, max_bytes=len(whole.data) // 3)
    assert capped.stopped_early and 0 < capped.frames < 50
    assert len(capped.data) < 0.8 * len(whole.data)
    with av.open(io.BytesIO(capped.data)) as c:
        assert len(list(c.decode(video=0))) == capped.frames


def test_command_line_makes_the_copy_from_a_video_and_its_csv_log(analysed, tmp_path, capsys):
    data, result = analysed
    video, log, out = tmp_path / "lecture.mp4", tmp_path / "lecture_expressions.csv", tmp_path / "clip.mp4"
    video.write_bytes(data)
    result.log.add_marker(6.0, "a question")
    log.write_bytes(result.log.to_csv())
    assert main([str(video), str(log), "--out", str(out), "--from", "0:05", "--pixelate"]) == 0
    said = capsys.readouterr()
    assert "6 frames, 0:05-0:07" in said.out and not said.err
    with av.open(str(out)) as c:
        assert len(list(c.decode(video=0))) == 6
    # A rate other than the analysis's: fewer faces land on frames, and it says so.
    assert main([str(video), str(log), "--out", str(out), "--rate", "1"]) == 0
    assert "only 4 of the log's 7 faces" in capsys.readouterr().err
    # Bad input: a message and exit code 1, no file.
    (tmp_path / "bad.csv").write_text("not,a,log\n1,2,3\n")
    assert main([str(video), str(tmp_path / "bad.csv"), "--out", str(tmp_path / "x.mp4")]) == 1
    assert "not a session log" in capsys.readouterr().err and not (tmp_path / "x.mp4").exists()
    assert main([str(tmp_path / "missing.mp4"), str(log), "--out", str(tmp_path / "x.mp4")]) == 1
    assert main([str(video), str(log), "--out", str(tmp_path / "x.mp4"), "--from", "0:30"]) == 1
    assert "no analysed frame" in capsys.readouterr().err
    # The log of a part of the video: the copy starts where its analysis began.
    part = analyze_video(load_recognizer(), data, rate=2.0, start_s=5.5)
    log.write_bytes(part.log.to_csv())
    assert main([str(video), str(log), "--out", str(out)]) == 0
    assert "5 frames, 0:05-0:07" in capsys.readouterr().out  # 5.5, 6.0, ..., 7.5 s
    # ... and ends where it ended, not at the end of the video.
    part = analyze_video(load_recognizer(), data, rate=2.0, start_s=2.0, end_s=4.0)
    log.write_bytes(part.log.to_csv())
    assert main([str(video), str(log), "--out", str(out)]) == 0
    assert "5 frames, 0:02-0:04" in capsys.readouterr().out  # 2.0, 2.5, ..., 4.0 s
    # Frames before or after the part were never analysed: left out, so --pixelate covers every
    # face it shows (before, --from 0 or --to 0:05 gave frames with faces in the clear).
    for extra in (["--to", "0:05"], ["--from", "0", "--pixelate"]):
        assert main([str(video), str(log), "--out", str(out), *extra]) == 0
        said = capsys.readouterr()
        assert "5 frames, 0:02-0:04" in said.out and "frames it did not analyse are left out" in said.err
    # A log joined from parts (0-2 s and 5 s to the end): the frames between were never analysed,
    # so the copy leaves them out, as the page's does.
    parts = [analyze_video(load_recognizer(), data, rate=2.0, start_s=a, end_s=b).log for a, b in ((0, 2), (5, None))]
    log.write_bytes(SessionLog.join(parts).to_csv())
    assert main([str(video), str(log), "--out", str(out), "--pixelate"]) == 0
    assert "11 frames, 0:00-0:07" in capsys.readouterr().out  # 0.0-2.0 and 5.0-7.5 s
    # Refused before any work: a rate no video has, an --out that is an input, a folder or nowhere.
    for bad in (["--rate", "inf"], ["--rate", "1e9"], ["--rate", "nan"], ["--rate", "0"]):
        with pytest.raises(SystemExit):
            main([str(video), str(log), "--out", str(out), *bad])
        assert "above 0 and at most 120 frames analysed per second" in capsys.readouterr().err
    for target, why in ((video, "is one of the inputs"), (log, "is one of the inputs"), (tmp_path, "is a folder"),
                        (tmp_path / "nowhere" / "c.mp4", "does not exist")):
        with pytest.raises(SystemExit):
            main([str(video), str(log), "--out", str(target)])
        assert why in capsys.readouterr().err
    assert video.read_bytes() == data
    # A log without any analysed frame has nothing to pixelate: refused rather than a clear copy.
    log.write_bytes(SessionLog().to_csv())
    assert main([str(video), str(log), "--out", str(out), "--pixelate"]) == 1
    assert "nothing it could pixelate" in capsys.readouterr().err


def test_command_line_refuses_to_pixelate_at_a_rate_above_the_logs(tmp_path, capsys):
    """A log the page analysed at 1 frame a second, copied at the default 2: every other frame of
    the copy was never analysed, so its faces were in the clear in a 'pixelated' copy (15 frames,
    exit 0, no warning: all of the log's faces land on frames of the higher rate)."""
    data = encode_video(come_and_go_frames(fps=10), fps=10)
    video, log, out = tmp_path / "lecture.mp4", tmp_path / "lecture_expressions.csv", tmp_path / "clip.mp4"
    video.write_bytes(data)
    log.write_bytes(analyze_video(load_recognizer(), data, rate=1.0).log.to_csv())
    assert main([str(video), str(log), "--out", str(out), "--pixelate"]) == 1
    said = capsys.readouterr().err
    assert "at least 1 s apart" in said and "give the rate the video was analysed at" in said
    assert not out.exists()
    assert main([str(video), str(log), "--out", str(out)]) == 0  # drawn, not pixelated: said, then made
    assert "neither drawn nor pixelated" in capsys.readouterr().err
    assert main([str(video), str(log), "--out", str(out), "--pixelate", "--rate", "1"]) == 0
    said = capsys.readouterr()
    assert "8 frames, 0:00-0:07" in said.out and not said.err

def late_video_mp4(frames: list[np.ndarray], delay: int = 18, fps: int = 25) -> bytes:
    """An MP4 whose sound begins at 0 and whose picture ``delay`` frames later (a camera or screen
    recorder that started its audio first): a player shows frame n at (n + delay) / fps s."""
    buf = io.BytesIO()
    with av.open(buf, "w", format="mp4") as out:
        audio = out.add_stream("aac", rate=16000)
        audio.layout = "mono"
        video = out.add_stream("libx264", rate=fps)
        h, w = frames[0].shape[:2]
        video.width, video.height, video.pix_fmt = w, h, "yuv420p"
        video.options = {"g": str(fps), "preset": "ultrafast"}
        for i, img in enumerate(frames):
            vf = av.VideoFrame.from_ndarray(img, format="bgr24")
            vf.pts = i + delay
            for p in video.encode(vf):
                out.mux(p)
        for p in video.encode():
            out.mux(p)
        for k in range(len(frames) * 16000 // fps // 1000):  # silence, from 0
            af = av.AudioFrame.from_ndarray(np.zeros((1, 1000), np.float32), format="fltp", layout="mono")
            af.sample_rate, af.pts = 16000, k * 1000
            for p in audio.encode(af):
                out.mux(p)
        for p in audio.encode():
            out.mux(p)
    return buf.getvalue()


def mid_gop_ts(skip: int = 10) -> bytes:
    """A broadcast recording (MPEG-TS, H.264, 25 fps, a keyframe a second) that begins ``skip``
    frames into a group of pictures: nothing decodes before the keyframe at frame 25, which a
    player shows at (25 - skip) / 25 s."""
    data = keyframed(numbered_frames(100), fmt="mpegts")
    buf = io.BytesIO()
    with av.open(io.BytesIO(data)) as src, av.open(buf, "w", format="mpegts") as out:
        stream = out.add_stream_from_template(src.streams.video[0])
        for i, packet in enumerate(src.demux(src.streams.video[0])):
            if packet.dts is not None and i >= skip:  # ultrafast: no B-frames, packet i is frame i
                packet.stream = stream
                out.mux(packet)
    return buf.getvalue()


@pytest.mark.parametrize("make, shown_at_0", [(lambda: late_video_mp4(numbered_frames(100)), -18),
                                              (mid_gop_ts, 10)])
def test_times_are_the_players_when_the_picture_begins_after_the_file(make, shown_at_0):
    """Times count from the file's start, as a player's do (ffprobe's pts less the format's
    start_time), not from the first picture: they were 0.72 s and 0.6 s early here."""
    data = make()
    frames = list(iter_frames(data, rate=5.0))
    first = frames[0]
    assert frame_number(first.bgr) == max(0, 25 * (shown_at_0 > 0))
    assert first.time_s == pytest.approx((frame_number(first.bgr) - shown_at_0) / 25, abs=1e-3)
    for f in frames:
        assert frame_number(f.bgr) == round(f.time_s * 25) + shown_at_0
    assert [round(f.time_s, 2) for f in frames[1:4]] == [0.8, 1.0, 1.2]  # then on the grid of 1 / rate
    for t in (2.0, 3.0):  # seeking gives the frame of that time (and of a run from the start)
        assert frame_number(frame_at(data, t).bgr) == round(t * 25) + shown_at_0
        assert [frame_number(f.bgr) for f in iter_frames(data, rate=5.0, start_s=t)] == \
            [frame_number(f.bgr) for f in frames if f.time_s >= t - 1e-6]
    # The length is the picture's end on the same clock.
    assert probe(data).duration_s == pytest.approx(4.0 - shown_at_0 / 25, abs=0.05)


def test_a_broadcast_clock_between_microseconds_still_starts_at_0():
    """An MPEG-TS counts in 1/90000 s, FFmpeg's file start in whole microseconds: a first frame
    at 4 ticks (44.4 us, the start 44 us) came out at 4.4e-7 s instead of 0."""
    data = keyframed(numbered_frames(50), fmt="mpegts")
    buf = io.BytesIO()
    with av.open(io.BytesIO(data)) as src, av.open(buf, "w", format="mpegts") as out:
        stream = out.add_stream_from_template(src.streams.video[0])
        for packet in src.demux(src.streams.video[0]):
            if packet.dts is not None:
                packet.pts, packet.dts = packet.pts + 4, packet.dts + 4
                packet.stream = stream
                out.mux(packet)
    frames = list(iter_frames(buf.getvalue(), rate=5.0))
    assert frames[0].time_s == 0.0 and [round(f.time_s, 6) for f in frames[:3]] == [0.0, 0.2, 0.4]
    assert probe(buf.getvalue()).duration_s == pytest.approx(2.0, abs=1e-9)


def test_a_face_is_logged_and_drawn_when_a_player_shows_it():
    """The come-and-go face (0-2 s and 6-8 s of picture) in a recording whose picture begins 0.72 s
    in: the log, a moment and the annotated copy all say the player's times (before: 0.72 s early)."""
    data = late_video_mp4(come_and_go_frames(fps=25), delay=18)
    result = analyze_video(load_recognizer(), data, rate=2.0)
    df = result.log.to_frame()
    assert sorted(set(df["time_s"].round(2))) == [0.72, 1.0, 1.52, 2.0, 2.52, 7.0, 7.52, 8.0, 8.52]
    assert result.info.duration_s == pytest.approx(8.72, abs=0.05)
    assert len(moment(data, df, 2.5, rate=2.0).faces) == 1 and not moment(data, df, 3.0, rate=2.0).faces
    clip = annotated_video(data, df, rate=2.0, start_s=2.0, end_s=7.6)
    assert (clip.start_s, clip.end_s, clip.faces_drawn) == (2.0, 7.52, 4)


@pytest.mark.parametrize("make", [rotated_video, vfr_video])
def test_moments_of_phone_and_variable_rate_videos_are_the_analysed_frames(make):
    """A phone video stored sideways (turned upright on decoding) and one with irregular frame times:
    every logged face lands on the frame shown for its time, at the analysed size. 4 frames a second
    is asked, above the variable rate video's own 3.2: it is analysed at its own, as the Video page and
    the batch analysed it, and the analysis keeps the rate it ran at, which moment() and
    annotated_video() take from it alone (the rate asked picked frames never analysed)."""
    data = make()
    result = analyze_video(load_recognizer(), data, rate=4.0)
    assert result.rate == min(4.0, probe(data).fps)
    df = result.log.to_frame()
    assert len(df) >= 3
    analysed = {round(f.time_s, 3): f.bgr.shape for f in iter_frames(data, result.rate)}
    for t in sorted(set(df["time_s"])):
        m = moment(data, df, t, rate=result.rate)
        assert m.time_s == pytest.approx(t, abs=1e-3) and m.image.shape == analysed[round(t, 3)]
        assert len(m.faces) == (df["time_s"] == t).sum()
    clip = annotated_video(data, df, rate=result.rate)
    assert clip.faces_drawn == len(df) and clip.frames == len(analysed)


def test_the_copy_of_a_variable_rate_video_at_the_batch_rate_is_its_analysed_frames(tmp_path, capsys):
    """The batch analyses a variable frame rate video (3.2 frames a second on average) at --rate 10 at
    its own rate, and so does the copy at the same --rate: the copy took the frames of --rate 10 itself,
    7 where the log has 6, of which 2 never analysed (at 0.53 s and 2.06 s: with --pixelate, their face
    was not pixelated), one of the log's faces not drawn, and a warning asking whether the video was
    analysed at another rate, which it was not."""
    from fer_core.batch import analyse_job, find_jobs

    video, log, out = tmp_path / "vfr.mp4", tmp_path / "vfr_expressions.csv", tmp_path / "clip.mp4"
    video.write_bytes(vfr_video())
    log.write_bytes(analyse_job(find_jobs([video])[0], rate=10.0).csv)  # the batch's log, in this process
    session = SessionLog.from_csv(log.read_bytes())
    assert main([str(video), str(log), "--out", str(out), "--rate", "10", "--pixelate"]) == 0
    assert "warning" not in capsys.readouterr().err
    with av.open(str(out)) as c:
        copied = sum(1 for _ in c.decode(video=0))
    assert copied == session.summary().frames == len(set(session.to_frame()["time_s"]))


def test_damaged_videos_give_frames_or_a_plain_message(analysed):
    """A damaged upload that still analysed in part: its moments and its copy give frames, None, or
    VideoDecodeError (which the pages show as a message), never another exception."""
    import random

    from fer_core.video import VideoDecodeError
    from tests.hostile import mutate

    data, _ = analysed
    rng = random.Random(7)
    analysed_any = 0
    for _ in range(20):
        _, damaged = mutate(data, rng)
        try:
            df = analyze_video(load_recognizer(), damaged, rate=2.0).log.to_frame()
        except VideoDecodeError:
            continue
        analysed_any += 1
        for t in (0.0, 3.3, 7.5, 60.0):
            try:
                moment(damaged, df, t, rate=2.0)
            except VideoDecodeError:
                pass
        try:
            annotated_video(damaged, df, rate=2.0, start_s=2.0)
        except VideoDecodeError:
            pass
    assert analysed_any >= 5


def test_a_log_with_few_faces_at_the_rate_given_is_pixelated(tmp_path, capsys):
    """The rate check reads the log's step from its analysed frames, not from the frames that had a
    face: a face seen in three frames seconds apart of a log analysed at 2 a second is no reason to refuse
    --pixelate at 2 (it was refused, 'give the rate the video was analysed at', which was given)."""
    data = encode_video(come_and_go_frames(fps=10), fps=10)
    video, log, out = tmp_path / "lecture.mp4", tmp_path / "lecture_expressions.csv", tmp_path / "clip.mp4"
    video.write_bytes(data)
    session = analyze_video(load_recognizer(), data, rate=2.0).log
    df = session.to_frame()
    times = sorted(df["time_s"].unique())
    assert len(times) > 3
    sparse = SessionLog.from_csv(session.to_csv())
    keep = {times[0], times[len(times) // 2], times[-1]}  # the face rows of three frames; the frame count stays
    text = sparse.to_csv().decode("utf-8-sig").splitlines()
    header = text[0].split(",")
    t_col, id_col = header.index("time_s"), header.index("face_id")
    rows = [line for line in text[1:] if int(float(line.split(",")[id_col])) < 0
            or float(line.split(",")[t_col]) in keep]
    log.write_text("\n".join([text[0], *rows]) + "\n")
    assert SessionLog.from_csv(log.read_bytes()).summary().frames == session.summary().frames
    assert main([str(video), str(log), "--out", str(out), "--pixelate"]) == 0, capsys.readouterr().err
    assert out.exists()
