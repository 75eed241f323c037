"""Video decoding at a chosen rate, and whole-video analysis with real faces."""
import io
import math

import cv2
import numpy as np
import pytest

from fer_core import LABELS, load_recognizer
from fer_core.session import format_time
from fer_core.video import VideoDecodeError, analysis_rate, analyze_video, iter_frames, probe
from tests.media import come_and_go_frames, damage_middle, encode_video, face_on_background, faststart_mp4
from tests.scenes import no_face_bgr


@pytest.fixture(scope="module")
def come_and_go_mp4() -> bytes:
    return encode_video(come_and_go_frames(fps=10), fps=10, fmt="mp4", codec="mpeg4")


@pytest.fixture(scope="module")
def recognizer():
    return load_recognizer()


def test_probe(come_and_go_mp4):
    info = probe(come_and_go_mp4)
    assert (info.width, info.height) == (480, 360)
    assert info.fps == pytest.approx(10) and info.duration_s == pytest.approx(8.0, abs=0.2)


def test_iter_frames_samples_at_rate_with_progress(come_and_go_mp4):
    seen = []
    frames = list(iter_frames(io.BytesIO(come_and_go_mp4), rate=2.0,
                              progress=lambda f, t: seen.append((f, t))))
    assert [round(f.time_s, 2) for f in frames] == [i * 0.5 for i in range(16)]
    assert frames[0].bgr.shape == (360, 480, 3) and frames[0].bgr.dtype == np.uint8
    assert len(seen) == 16 and seen[-1][0] == pytest.approx(7.5 / 8.0, abs=0.03)
    assert all(a[0] <= b[0] for a, b in zip(seen, seen[1:]))
    # Rates above the video's own frame rate give every frame; max_frames and max_side apply.
    assert len(list(iter_frames(come_and_go_mp4, rate=50.0))) == 80
    small = list(iter_frames(come_and_go_mp4, rate=1.0, max_side=240, max_frames=3))
    assert len(small) == 3 and small[0].bgr.shape == (180, 240, 3)
    with pytest.raises(ValueError):
        next(iter_frames(come_and_go_mp4, rate=0))
    # A huge rate is every frame too (the step once got too small to move the next time on, and
    # the loop looking for it spun forever); an infinite or NaN one is refused.
    assert len(list(iter_frames(come_and_go_mp4, rate=1e9, max_frames=20))) == 20
    for rate in (float("inf"), float("nan")):
        with pytest.raises(ValueError, match="frames a second"):
            next(iter_frames(come_and_go_mp4, rate=rate))


def test_face_comes_and_goes(come_and_go_mp4, recognizer):
    result = analyze_video(recognizer, come_and_go_mp4, rate=2.0)
    assert result.frames_analysed == 16 and not result.stopped_early
    df = result.log.to_frame()
    times_with_faces = sorted(set(df["time_s"].round(2)))
    assert times_with_faces == [0.0, 0.5, 1.0, 1.5, 6.0, 6.5, 7.0, 7.5]
    assert result.frames_with_faces == 8
    # One face at a time; 4 s absent is longer than the tracker's 3 s memory: a new anonymous id.
    assert df.groupby("time_s")["face_id"].count().max() == 1
    assert sorted(df["face_id"].unique()) == [1, 2]
    assert df[df.time_s < 3]["face_id"].eq(1).all() and df[df.time_s > 5]["face_id"].eq(2).all()
    x = df["x"].to_numpy()
    assert ((x > 90) & (x < 300)).all()  # the boxes are on the face
    probs = df[["Angry", "Disgust", "Fear", "Happy", "Sad", "Surprise", "Neutral"]]
    assert np.allclose(probs.sum(axis=1), 1, atol=1e-3)
    assert result.log.models == ("Standard (fer_model.onnx)",)  # for the report


def test_a_rate_above_the_videos_own_analyses_each_frame_once_and_says_so(come_and_go_mp4, recognizer):
    """A rate above the video's frame rate analyses at the video's rate, as the Video page and the batch
    did by lowering it before the call (each probing the video for it), and the analysis keeps the rate
    it ran at: the same log, byte for byte, as the rate lowered by hand, of a plain video, one of
    variable frame rate (3.2 a second) and one whose face is gone 5 s: at 25 a second asked, the tracker
    kept its number over 75 frames (19 s at 4 a second) and it came back as Face 1, not Face 2."""
    from tests.hostile import vfr_video

    gone = encode_video([face_on_background(320, 240, face=not (2 <= i / 4 < 7)) for i in range(36)], fps=4)
    for data in (come_and_go_mp4, vfr_video(), gone):
        fps = probe(data).fps
        result = analyze_video(recognizer, data, rate=25.0)
        assert result.rate == fps < 25.0
        assert result.log.to_csv() == analyze_video(recognizer, data, rate=fps).log.to_csv()
    assert sorted(result.log.to_frame()["face_id"].unique()) == [1, 2]
    assert analyze_video(recognizer, come_and_go_mp4, rate=2.0, max_frames=2).rate == 2.0  # below it: as asked


def test_video_with_no_faces(recognizer):
    cat = cv2.resize(no_face_bgr(), (320, 240))  # a real photo, no human face
    data = encode_video([cat] * 20, fps=10, fmt="avi", codec="mpeg4")
    result = analyze_video(recognizer, data, rate=2.0)
    assert result.frames_analysed == 4 and result.frames_with_faces == 0 and len(result.log) == 0


def test_max_frames_stops_early(come_and_go_mp4, recognizer):
    result = analyze_video(recognizer, come_and_go_mp4, rate=2.0, max_frames=4)
    assert result.frames_analysed == 4 and result.stopped_early


def test_stop_ends_the_analysis_with_the_frames_analysed_so_far(come_and_go_mp4, recognizer):
    """``stop`` is asked before each frame (the Video file page's run cut short by a click keeps
    what it analysed): the frames before are the log, and it is not a stop at ``max_frames``."""
    seen: list[float] = []
    result = analyze_video(recognizer, come_and_go_mp4, rate=2.0, progress=lambda f, t: seen.append(t),
                           stop=lambda: len(seen) >= 3)
    assert result.frames_analysed == 3 and result.end_s == 1.0 and not result.stopped_early
    assert sorted(result.log.to_frame()["time_s"].unique()) == [0.0, 0.5, 1.0]


@pytest.mark.parametrize("data, message", [
    (b"", "not a video"),
    (b"this is not a video at all" * 50, "not a video"),
    (b"\x00\x00\x00\x18ftypmp42" + bytes(200), "not a video|could be decoded|no video track"),
])
def test_undecodable_files(data, message):
    with pytest.raises(VideoDecodeError, match=message):
        list(iter_frames(data, rate=2.0))


def test_a_path_rate_or_frame_count_given_wrong_is_said_as_such(come_and_go_mp4, recognizer, tmp_path):
    """A missing path or a folder was 'not a video we can decode (unknown or damaged format)'; a NaN
    rate failed in the tracker with 'cannot convert float NaN to integer'; max_frames 0 or -1
    analysed one frame."""
    for path, why in [(tmp_path / "lecture.mp4", "no such file"), (tmp_path, "is a folder")]:
        with pytest.raises(VideoDecodeError, match=why):
            analyze_video(recognizer, path)
        with pytest.raises(VideoDecodeError, match=why):
            probe(str(path))
    with pytest.raises(ValueError, match="rate must be"):
        analyze_video(recognizer, come_and_go_mp4, rate=float("nan"))
    for n in (0, -1):
        with pytest.raises(ValueError, match="max_frames must be 1 or more"):
            analyze_video(recognizer, come_and_go_mp4, max_frames=n)
        with pytest.raises(ValueError, match="max_frames must be 1 or more"):
            list(iter_frames(come_and_go_mp4, max_frames=n))


def test_a_file_that_cannot_be_read_is_not_called_damaged(come_and_go_mp4, recognizer, tmp_path, monkeypatch):
    """A video without read permission (chmod 000, another user's) or a symbolic link loop was
    'not a video we can decode (unknown or damaged format)': the batch tool said so of a good file."""
    (tmp_path / "a.mp4").symlink_to("b.mp4")
    (tmp_path / "b.mp4").symlink_to("a.mp4")
    with pytest.raises(VideoDecodeError, match=r"a\.mp4: cannot be read \(Too many levels of symbolic links\)"):
        analyze_video(recognizer, tmp_path / "a.mp4")
    import av

    def no_permission(source, *args, **kwargs):  # as av.open on a file this user may not read (root may)
        raise av.error.PermissionError(13, "Permission denied", str(source))

    monkeypatch.setattr(av, "open", no_permission)
    with pytest.raises(VideoDecodeError, match=r"lecture\.mp4: cannot be read \(Permission denied\)"):
        analyze_video(recognizer, tmp_path / "lecture.mp4")


def test_truncated_video_decodes_what_it_can_or_says_why(come_and_go_mp4):
    cut = come_and_go_mp4[: len(come_and_go_mp4) // 3]
    try:
        frames = list(iter_frames(cut, rate=2.0))
    except VideoDecodeError:
        return  # a clear error is fine too
    assert 0 < len(frames) < 16


def test_audio_only_file_has_no_video_track():
    import av

    buf = io.BytesIO()
    with av.open(buf, "w", format="wav") as out:
        stream = out.add_stream("pcm_s16le", rate=8000)
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 800), np.int16), format="s16", layout="mono")
        frame.sample_rate = 8000
        for p in stream.encode(frame):
            out.mux(p)
    with pytest.raises(VideoDecodeError, match="no video track"):
        probe(buf.getvalue())


def _with_cover_art(frames: list[np.ndarray] | None) -> bytes:
    """An MP4 with a cover picture (FFmpeg's attached_pic), sound and the ``frames`` as a video
    track (none: a sound file with its cover art, as an M4A)."""
    import av

    buf = io.BytesIO()
    with av.open(buf, "w", format="mp4") as out:
        cover = out.add_stream("mjpeg", rate=1)
        cover.width, cover.height, cover.pix_fmt = 64, 48, "yuvj420p"
        cover.disposition = av.stream.Disposition.attached_pic
        sound = out.add_stream("aac", rate=16000)
        video = None
        if frames:
            video = out.add_stream("mpeg4", rate=10)
            video.width, video.height, video.pix_fmt = frames[0].shape[1], frames[0].shape[0], "yuv420p"
        picture = av.VideoFrame.from_ndarray(np.full((48, 64, 3), 200, np.uint8), format="rgb24")
        for p in [*cover.encode(picture.reformat(format="yuvj420p")), *cover.encode(None)]:
            out.mux(p)
        for i in range(20):
            chunk = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
            chunk.sample_rate, chunk.pts = 16000, i * 1024
            out.mux(sound.encode(chunk))
        out.mux(sound.encode(None))
        for img in frames or ():
            out.mux(video.encode(av.VideoFrame.from_ndarray(img, format="bgr24")))
        if video is not None:
            out.mux(video.encode(None))
    return buf.getvalue()


def test_cover_art_is_not_the_video():
    """A sound file's cover picture is a one-frame video track to FFmpeg: it was analysed as a
    video of 2 s at 90,000 frames a second. Alone it is refused; beside a real video track, the
    real one is analysed."""
    with pytest.raises(VideoDecodeError, match="no video track, only a still picture"):
        probe(_with_cover_art(None))
    frames = come_and_go_frames()[:20]
    data = _with_cover_art(frames)
    info = probe(data)
    assert (info.width, info.height, info.codec) == (frames[0].shape[1], frames[0].shape[0], "mpeg4")
    assert info.fps == pytest.approx(10)
    assert len(list(iter_frames(data, rate=5.0))) == 10


def test_analysing_a_part_gives_the_frames_and_faces_of_a_whole_run_there(come_and_go_mp4, recognizer):
    whole = analyze_video(recognizer, come_and_go_mp4, rate=2.0).log.to_frame()
    seen = []
    part = analyze_video(recognizer, io.BytesIO(come_and_go_mp4), rate=2.0, start_s=1.2, end_s=6.5,
                         progress=lambda f, t: seen.append((f, t)))
    # 1.5, 2.0, ..., 6.5 s: the grid of a run from the start, cut to the part.
    assert part.frames_analysed == 11 and part.start_s == 1.2 and not part.stopped_early
    assert part.end_s == pytest.approx(6.5) and part.seconds_analysed == pytest.approx(5.3)
    assert [round(t, 2) for _, t in seen] == [1.5 + 0.5 * i for i in range(11)]
    assert seen[0][0] == pytest.approx(0.3 / 5.3, abs=0.01) and seen[-1][0] == 1.0
    log = part.log
    assert log.start_s == 1.2 and log.summary().duration_s == pytest.approx(5.3)
    df = log.to_frame()
    assert sorted(set(df["time_s"].round(2))) == [1.5, 6.0, 6.5]
    same = whole[whole["time_s"].round(2).isin([1.5, 6.0, 6.5])]
    np.testing.assert_allclose(df[["x", "y", "w", "h"]], same[["x", "y", "w", "h"]])
    np.testing.assert_allclose(df[list(LABELS)], same[list(LABELS)], atol=1e-6)
    # The frame cap counts from the part's start; a part past the end is refused.
    capped = analyze_video(recognizer, come_and_go_mp4, rate=2.0, start_s=5.0, end_s=7.0, max_frames=3)
    assert capped.frames_analysed == 3 and capped.stopped_early and capped.end_s == pytest.approx(6.0)
    assert not analyze_video(recognizer, come_and_go_mp4, rate=2.0, start_s=5.0, end_s=6.0,
                             max_frames=3).stopped_early
    with pytest.raises(VideoDecodeError, match="only 8.0 s long"):
        analyze_video(recognizer, come_and_go_mp4, start_s=8.5)
    with pytest.raises(ValueError):
        analyze_video(recognizer, come_and_go_mp4, start_s=-1.0)
    with pytest.raises(ValueError):
        next(iter_frames(come_and_go_mp4, start_s=4.0, end_s=3.0))


def _growing_video(codec: str, small: tuple[int, int], big: tuple[int, int]) -> bytes:
    """Three frames of ``small`` (width, height), then two of ``big``: one stream whose frame
    size grows after the probe (JPEGs back to back are MJPEG; raw MPEG-4 and H.264 streams
    concatenated change size at the second one's headers)."""
    def frames(size: tuple[int, int], n: int) -> list[np.ndarray]:
        return [cv2.resize(no_face_bgr(), size) for _ in range(n)]

    if codec == "mjpeg":
        return b"".join(cv2.imencode(".jpg", f)[1].tobytes() for f in frames(small, 3) + frames(big, 2))
    fmt = {"mpeg4": "m4v", "libx264": "h264"}[codec]
    return (encode_video(frames(small, 3), fps=10, fmt=fmt, codec=codec)
            + encode_video(frames(big, 2), fps=10, fmt=fmt, codec=codec))


class _SpyPacket:
    """A demuxed packet whose decoded frame sizes are recorded."""

    def __init__(self, packet, sizes: list[tuple[int, int]]) -> None:
        self.packet, self.sizes = packet, sizes

    def decode(self):
        frames = self.packet.decode()
        self.sizes.extend((f.width, f.height) for f in frames)
        return frames


@pytest.mark.parametrize("codec", ["mjpeg", "mpeg4", "libx264"])
def test_a_frame_growing_past_the_limit_is_refused_before_it_is_decoded(monkeypatch, codec):
    # A 7 MB MJPEG ".mp4" (three 320 x 240 frames, then a 16000 x 16000 one) passed the probe
    # and took 955 MB to decode that frame before it was refused. The decoder now refuses
    # such a frame itself (FFmpeg's max_pixels) and the user gets the too-large message.
    import fer_core.video as video

    monkeypatch.setattr(video, "MAX_VIDEO_PIXELS", 400 * 300)  # the decoder's: 1.25 x 400 x 300
    decoded: list[tuple[int, int]] = []
    real_packets = video._packets
    monkeypatch.setattr(video, "_packets", lambda c, s, *more: (_SpyPacket(p, decoded)
                                                              for p in real_packets(c, s, *more)))
    data = _growing_video(codec, (320, 240), (640, 480))
    assert (probe(data).width, probe(data).height) == (320, 240)
    # H.264 decoders keep the size they refused; the others forget it.
    too_large = r"(640 x 480 pixels; the limit is|larger than the limit of) 0.1 megapixels a frame"
    with pytest.raises(VideoDecodeError, match=too_large):
        list(iter_frames(data, rate=50.0))
    assert set(decoded) == {(320, 240)}  # the 640 x 480 frames were never decoded
    # A frame over the limit but within the decoder's margin is decoded, then refused with its size.
    decoded.clear()
    with pytest.raises(VideoDecodeError, match="The video is 416 x 320 pixels; the limit is 0.1 megapixels"):
        list(iter_frames(_growing_video(codec, (320, 240), (416, 320)), rate=50.0))


@pytest.mark.parametrize("fmt, codec", [("mp4", "mpeg4"), ("mov", "libx265")], ids=["mp4", "iphone-hevc-mov"])
def test_a_phone_video_is_probed_at_the_size_it_plays_at(fmt, codec, come_and_go_mp4):
    """A phone held upright stores its video sideways with a turn in the display matrix: the page
    said "1920 x 1080" before the analysis of a video that plays (and is analysed) at 1080 x 1920,
    as the probe read the header only. An iPhone's HEVC QuickTime file decodes, upright."""
    from av.codec import Codec

    from tests.hostile import rotated_video

    try:
        Codec(codec, "w")
    except Exception:  # an FFmpeg built without that encoder
        pytest.skip(f"no {codec} encoder to make the video with")
    data = rotated_video(fmt, codec)
    info = probe(data)
    frames = list(iter_frames(data, rate=4.0))
    assert (info.width, info.height, info.rotation, info.stored_size) == (120, 160, -90, (160, 120))
    assert info.codec == ("hevc" if codec == "libx265" else codec)
    assert len(frames) == 6 and all(f.bgr.shape == (160, 120, 3) for f in frames)
    plain = probe(come_and_go_mp4)  # one not turned keeps its size
    assert (plain.width, plain.height, plain.rotation, plain.stored_size) == (480, 360, 0, (480, 360))


def test_a_heic_photo_is_not_a_video():
    """FFmpeg opens a HEIC photo as a video: one frame, or for the tiled ones an iPhone writes (512 x
    512 tiles), one video per tile, and the first tile was analysed as the photo (of a 12-megapixel
    photo, its top-left 1/48th). A file whose brands say HEIC is refused as the photo it is."""
    import av

    buf = io.BytesIO()
    with av.open(buf, mode="w", format="mp4", options={"brand": "heic"}) as out:
        stream = out.add_stream("mpeg4", rate=1)
        stream.width, stream.height, stream.pix_fmt = 64, 64, "yuv420p"
        for packet in [*stream.encode(av.VideoFrame.from_ndarray(np.zeros((64, 64, 3), np.uint8),
                                                                 format="bgr24")), *stream.encode()]:
            out.mux(packet)
    assert av.open(io.BytesIO(buf.getvalue())).metadata["major_brand"] == "heic"
    with pytest.raises(VideoDecodeError, match="HEIC photo .* Save it as a JPEG"):
        probe(buf.getvalue())


ONE = 0x10000


@pytest.mark.parametrize("matrix, shown", [
    ((-ONE, 0, 0, 0, ONE, 0, 480 * ONE, 0, 0x40000000), lambda f: f[:, ::-1]),  # flipped left to right
    ((ONE, 0, 0, 0, -ONE, 0, 0, 360 * ONE, 0x40000000), lambda f: f[::-1]),  # flipped top to bottom
    ((-ONE, 0, 0, 0, -ONE, 0, 480 * ONE, 360 * ONE, 0x40000000), lambda f: f[::-1, ::-1]),  # turned 180
    ((0, ONE, 0, ONE, 0, 0, 0, 0, 0x40000000), lambda f: f.transpose(1, 0, 2)),  # a quarter turn, mirrored
], ids=["mirrored", "flipped", "upside-down", "sideways-mirrored"])
def test_a_mirrored_video_is_analysed_as_a_player_shows_it(matrix, shown, recognizer):
    """A display matrix that mirrors the picture (a front camera's, an editor's "flip") was read as
    FFmpeg's rotation alone, 180 degrees for a flip left to right: the video, which players show
    mirrored, was analysed upside down (and so was its annotated copy). Every frame is now as
    FFmpeg's player shows it, with the faces where a viewer sees them."""
    from tests.hostile import with_display_matrix

    plain = encode_video([face_on_background(480, 360, x=40)] * 4, fps=4, fmt="mp4", codec="mpeg4")
    data = with_display_matrix(plain, matrix)
    stored = [f.bgr for f in iter_frames(plain, rate=4.0)]
    frames = [f.bgr for f in iter_frames(data, rate=4.0)]
    assert len(frames) == 4 and all(np.array_equal(f, shown(s)) for f, s in zip(frames, stored))
    info = probe(data)
    assert info.mirrored == (matrix[0] * matrix[4] - matrix[1] * matrix[3] < 0)
    assert (info.width, info.height) == frames[0].shape[1::-1]
    if matrix[:5] == (-ONE, 0, 0, 0, ONE):  # mirrored: the face on the right, upright, as a viewer sees it
        x, y, w, h = analyze_video(recognizer, data, rate=4.0).log.to_frame().iloc[0][["x", "y", "w", "h"]]
        x0, y0, w0, h0 = analyze_video(recognizer, plain, rate=4.0).log.to_frame().iloc[0][["x", "y", "w", "h"]]
        assert abs((x + w / 2) - (480 - (x0 + w0 / 2))) < 10 and abs((y + h / 2) - (y0 + h0 / 2)) < 10
    assert not probe(plain).mirrored


def test_progress_counts_towards_max_frames_when_they_end_the_run_first(come_and_go_mp4):
    """The Video page stops at 7,200 frames: a 2-hour lecture at 2 frames a second ends an hour in.
    Progress was the share of the whole video, so the bar stood at a half when the run ended and
    the time left it gave ('about 1 h 45 min left' a quarter in, fer_app.support.time_left) was the
    whole video's, not the run's. It is the share of the run now, by frames when max_frames comes first."""
    seen = []
    frames = list(iter_frames(come_and_go_mp4, rate=2.0, max_frames=4, progress=lambda f, t: seen.append(f)))
    assert len(frames) == 4 and seen == pytest.approx([0.25, 0.5, 0.75, 1.0])
    # A part that ends before max_frames: its share of the part, as before.
    seen.clear()
    list(iter_frames(come_and_go_mp4, rate=2.0, max_frames=100, progress=lambda f, t: seen.append(f)))
    assert len(seen) == 16 and seen[-1] == pytest.approx(7.5 / 8.0, abs=0.03)


def test_a_damaged_stretch_and_a_cut_short_file_are_said_not_passed_over(recognizer, tmp_path):
    """A video garbled in its middle lost 10 s of its 20 without a word, and one cut short (an
    unfinished download) was analysed up to its cut as if that were its end: its log and report
    looked whole. The analysis now says what its log lacks (VideoAnalysis.damage_notes)."""
    whole = faststart_mp4(tmp_path / "whole.mp4")
    fine = analyze_video(recognizer, whole, rate=2.0)
    assert (fine.skipped_packets, fine.damaged_gaps, fine.cut_short_at, fine.damage_notes()) == (0, (), None, [])
    # A part of it, or a run ended by max_frames, is not a file cut short.
    assert analyze_video(recognizer, whole, rate=2.0, end_s=6.0).damage_notes() == []
    assert analyze_video(recognizer, whole, rate=2.0, max_frames=5).damage_notes() == []

    damaged = analyze_video(recognizer, damage_middle(whole), rate=2.0)
    assert damaged.skipped_packets > 0 and len(damaged.damaged_gaps) == 1
    a, b = damaged.damaged_gaps[0]
    times = damaged.log.to_frame()["time_s"]
    assert b - a > 2.0 and not times.between(a + 0.5, b - 0.5).any()  # the stretch said is the one missing
    assert times.max() > b  # and the frames after it are analysed
    [note] = damaged.damage_notes()
    assert f"the log has no frame from {format_time(a)} to {format_time(b)}" in note and "damaged packets" in note

    cut = analyze_video(recognizer, whole[: len(whole) // 2], rate=2.0)
    assert cut.cut_short_at is not None and 3.0 < cut.cut_short_at < 15.0
    assert cut.log.to_frame()["time_s"].max() <= cut.cut_short_at
    assert cut.damage_notes() == [f"the video could be decoded only up to {format_time(cut.cut_short_at)} of the "
                                  "0:20 its header gives (cut short: an unfinished download or copy?); the log "
                                  "ends there"]


def _held_last_frame_mp4(path, seconds: int = 5, held_s: int = 15, fps: int = 10) -> bytes:
    """An MP4 of ``seconds`` of frames whose last one is held ``held_s`` seconds (a variable frame
    rate screen recording ending on a still slide: no new frame while nothing changes)."""
    import fractions

    import av

    with av.open(str(path), mode="w", format="mp4") as out:
        stream = out.add_stream("mpeg4", rate=fps)
        stream.width, stream.height, stream.pix_fmt = 160, 120, "yuv420p"
        stream.codec_context.time_base = stream.time_base = fractions.Fraction(1, 1000)
        packets = []
        for i in range(seconds * fps + 1):
            frame = av.VideoFrame.from_ndarray(face_on_background(160, 120, x=30 + i % 20), format="bgr24")
            frame.pts, frame.time_base = i * 1000 // fps, fractions.Fraction(1, 1000)
            packets += stream.encode(frame)
        packets += stream.encode()
        for packet in packets:
            if packet.pts == seconds * 1000:
                packet.duration = held_s * 1000
            out.mux(packet)
    return path.read_bytes()


def test_a_last_frame_held_to_the_end_is_not_a_file_cut_short(recognizer, tmp_path):
    """A recording whose last frame is held (a still slide for its last 15 s of 20) ended its frames
    at 0:05 of the 0:20 its header gives, and was said to be cut short ("an unfinished download or
    copy?"): its last packet lasts to the end. A file cut short has no packet past its cut."""
    held = _held_last_frame_mp4(tmp_path / "held.mp4")
    assert probe(held).duration_s == pytest.approx(20.0, abs=0.2)
    analysis = analyze_video(recognizer, held, rate=2.0)
    assert analysis.seconds_analysed == pytest.approx(5.0, abs=0.1)
    assert (analysis.cut_short_at, analysis.damage_notes()) == (None, [])


def test_a_damaged_videos_log_leaves_out_what_could_not_be_decoded(recognizer, tmp_path):
    """The log of a video garbled in its middle was one stretch: its time analysed counted the
    damaged seconds, its charts read them as nobody in view, and its CSV, read back on the dashboard,
    said nothing of them; the log of one cut short ended at its cut as if that were the video's end.
    Now the frames on either side of a damaged stretch are two stretches of the log (as a live
    session's streams), and the log keeps what could not be decoded, through its CSV."""
    from fer_core.session import SessionLog, unanalysed

    whole = faststart_mp4(tmp_path / "whole.mp4")
    fine = analyze_video(recognizer, whole, rate=2.0)
    assert (fine.log.parts, fine.log.damaged, unanalysed(fine.log.to_frame())) == ((), (), [])

    damaged = analyze_video(recognizer, damage_middle(whole), rate=2.0)
    [(a, b)] = damaged.damaged_gaps
    log = damaged.log
    times = sorted(set(log.to_frame()["time_s"]))
    before, first = max(t for t in times if t < a), min(t for t in times if t > b - 0.5)
    # The stretch after it starts at the time of the 2-a-second grid that its first frame stands for (the
    # first frame at or after it), as a part analysed from there would: found again from there, that frame
    # is in the annotated copy, which the frame's own time, off the grid, left out.
    after = math.floor(first * 2) / 2
    assert log.parts == ((0.0, before), (after, times[-1])) and log.damaged == ((a, b),)
    assert after < first and next(iter_frames(damage_middle(whole), 2.0, start_s=after)).time_s == first
    summary = log.summary()
    assert summary.analysed_s == pytest.approx(summary.duration_s - (after - before))
    assert unanalysed(log.to_frame()) == [(before, after)]
    back = SessionLog.from_csv(log.to_csv())  # the page's download, read back on the dashboard
    assert (back.parts, back.damaged, back.streams) == (log.parts, log.damaged, False)
    assert unanalysed(back.to_frame()) == [(before, after)]

    # Cut short: the rest, up to the length the header gives, could not be decoded.
    cut = analyze_video(recognizer, whole[: len(whole) // 2], rate=2.0)
    end = cut.log.summary().end_s
    assert cut.log.damaged == ((cut.cut_short_at, 20.0),) and cut.log.parts == ()
    assert unanalysed(SessionLog.from_csv(cut.log.to_csv()).to_frame()) == [(end, 20.0)]


def test_a_part_that_ends_inside_a_damaged_stretch_is_not_called_cut_short(recognizer, tmp_path):
    """A part of a video garbled in its middle, analysed up to a time inside the garbled stretch, read
    "could not be decoded from 0:09, where the analysis ends, to 0:12: damaged, or cut short (an
    unfinished download or copy?)", as a file cut short did: the log did not say which. A file cut short
    now says so in its log (SessionLog.cut_short, through its CSV); a damaged end does not."""
    from fer_core.session import SessionLog, damage_text

    whole = faststart_mp4(tmp_path / "whole.mp4")
    damaged = damage_middle(whole)
    [(a, b)] = analyze_video(recognizer, damaged, rate=2.0).damaged_gaps
    part = analyze_video(recognizer, damaged, rate=2.0, end_s=(a + b) / 2)
    end = part.log.summary().end_s
    assert part.cut_short_at is None and part.log.cut_short is None and part.log.damaged == ((a, (a + b) / 2),)
    said = damage_text(part.log.damaged, end, cut_short=part.log.cut_short)
    assert said == (f"the video could not be decoded from {format_time(end)}, where the analysis ends, to "
                    f"{format_time((a + b) / 2)} (damaged)")
    cut = analyze_video(recognizer, whole[: len(whole) // 2], rate=2.0)
    assert cut.log.cut_short == cut.cut_short_at is not None and cut.log.damaged == ((cut.cut_short_at, 20.0),)
    for log in (cut.log, SessionLog.from_csv(cut.log.to_csv())):
        assert damage_text(log.damaged, log.summary().end_s, cut_short=log.cut_short).endswith(
            "to 0:20: the file is cut short there (an unfinished download or copy?)")
    assert SessionLog.from_csv(part.log.to_csv()).cut_short is None


def test_a_file_garbled_then_cut_short_says_both(recognizer, tmp_path):
    """A download garbled from 0:08 to 0:10 (21 packets that could not be decoded), then broken off: its
    log kept the last frame decoded, 0:08, as where the file breaks off (SessionLog.cut_short), so the page,
    the dashboard, the report and the CSV called all of 0:08 to 0:20 a file cut short and the garbled
    packets were said nowhere but in the run's own notes. The log now breaks it off after them."""
    from fer_core.session import SessionLog, damage_text

    whole = bytearray(faststart_mp4(tmp_path / "whole.mp4"))
    n = len(whole)
    for i in range(n // 2, n // 2 + n // 10):
        whole[i] = (whole[i] * 7 + 13) % 256
    result = analyze_video(recognizer, bytes(whole[: n // 2 + n // 10]), rate=2.0)
    [(a, b)] = result.damaged_gaps
    assert result.skipped_packets > 5 and result.cut_short_at is not None and b - result.cut_short_at > 1.0
    for log in (result.log, SessionLog.from_csv(result.log.to_csv())):
        assert log.damaged == ((result.cut_short_at, 20.0),) and log.cut_short == b
        assert damage_text(log.damaged, log.end_s, cut_short=log.cut_short).endswith(
            f"to 0:20: damaged, then the file is cut short from {format_time(b)} (an unfinished download or copy?)")
    # A file broken off without garbled packets before its cut breaks off at its last frame, as before.
    cut = analyze_video(recognizer, bytes(faststart_mp4(tmp_path / "w2.mp4")[: n // 2]), rate=2.0)
    assert not cut.damaged_gaps and cut.log.cut_short == cut.cut_short_at is not None


def test_a_damaged_video_analysed_in_parts_is_one_session_with_its_damage(recognizer, tmp_path):
    """The Video page's parts (the 7,200-frame cap, then "the rest from 1:00:00"): parts that follow
    on leave no gap, and the damaged stretch, in one part or across two, is the only one."""
    from fer_core.session import SessionLog, unanalysed

    damaged = damage_middle(faststart_mp4(tmp_path / "whole.mp4"))
    once = analyze_video(recognizer, damaged, rate=2.0)
    [(a, b)] = once.damaged_gaps
    [gap] = unanalysed(once.log.to_frame())
    # Capped before the damage, then the rest; and cut inside the damaged stretch, then the rest.
    capped = analyze_video(recognizer, damaged, rate=2.0, max_frames=10)
    assert capped.stopped_early and capped.log.damaged == ()
    for first in (capped, analyze_video(recognizer, damaged, rate=2.0, end_s=(a + b) / 2)):
        rest = analyze_video(recognizer, damaged, rate=2.0, start_s=math.floor(first.end_s) + 1
                             if first.stopped_early else first.end_s + 0.5)
        joined = SessionLog.join([first.log, rest.log], source="video")
        assert unanalysed(joined.to_frame()) == [gap]
        assert joined.damaged == once.log.damaged
        assert joined.summary().analysed_s == pytest.approx(once.log.summary().analysed_s, abs=1.0)


@pytest.mark.parametrize(("rate", "fps", "expected"), [
    (10.0, 8.0, 8.0), (10.0, 10.0, 10.0), (2.0, 29.97, 2.0), (4.0, 3.2, 3.2),
    (2.0, None, 2.0), (2.0, 0.0, 2.0), (2.0, float("nan"), 2.0), (2.0, -30.0, 2.0)])
def test_the_analysis_rate_is_the_rate_asked_never_above_a_real_frame_rate(rate, fps, expected):
    """A header's frame rate lowers the rate asked only where it is a rate: a broken file's -30 was
    returned as the rate to analyse at."""
    assert analysis_rate(rate, fps) == expected


def _head_clip(turn_frames: int, fps: int = 10) -> bytes:
    """2 s of a rendered head looking at the camera, then 2 s of it turned 40 degrees: at once (a
    hard cut, ``turn_frames`` 0) or turning over that many frames. The two views' looks correlate
    about 0.6 (fer_core.tracking.appearance), as a quarter of pairs of different people's faces do."""
    from tests.posed_faces import render_pose

    def frame(yaw: float) -> np.ndarray:
        face, _ = render_pose(yaw, 0.0, 0.0, size=360, head=True)
        out = np.full((360, 480, 3), 110, np.uint8)
        out[:, 60:420] = face
        return out

    front, turned = frame(0.0), frame(40.0)
    steps = [frame(40.0 * (k + 1) / (turn_frames + 1)) for k in range(turn_frames)]
    frames = [front] * (2 * fps - len(steps) // 2) + steps
    return encode_video(frames + [turned] * (4 * fps - len(frames)), fps=fps)


def test_a_hard_cut_to_someone_else_in_the_same_place_gives_a_new_number(recognizer):
    """A call recorded in speaker view cuts from one speaker to the next in the same place, at the
    same size. With the analysed frames alone, a face there that looks even partly like the one
    before (0.4 or more: a quarter of pairs of different people) continued its number: the next
    speaker took over the last one's timeline, a "strongest change" and a negative streak ran
    across the cut. The decoded frames in between tell a cut from a head turning."""
    from fer_core.tracking import appearance

    cut = analyze_video(recognizer, _head_clip(0), rate=2.0)
    turning = analyze_video(recognizer, _head_clip(4), rate=2.0)
    for result in (cut, turning):
        df = result.log.to_frame()
        assert sorted(df["time_s"].round(2)) == [i * 0.5 for i in range(8)]  # one face in every frame
    df = cut.log.to_frame()
    before, after = df[df.time_s < 1.9], df[df.time_s > 1.9]
    assert before["face_id"].nunique() == 1 and after["face_id"].nunique() == 1
    assert set(before["face_id"]) != set(after["face_id"])
    # The two views are alike enough to have continued the number without the cut seen.
    b0 = before.iloc[-1]
    a0 = after.iloc[0]
    first = next(iter_frames(_head_clip(0), rate=2.0, start_s=1.5))
    second = next(iter_frames(_head_clip(0), rate=2.0, start_s=2.0))
    alike = float(appearance(first.bgr, tuple(int(b0[c]) for c in "xywh"))
                  @ appearance(second.bgr, tuple(int(a0[c]) for c in "xywh")))
    assert 0.4 <= alike < 0.8
    # The same two views with the head turning between them: one face, one number.
    assert turning.log.to_frame()["face_id"].nunique() == 1


def test_iter_frames_shows_every_decoded_frame_to_the_cut_watch(come_and_go_mp4):
    """Every decoded frame in order, the yielded ones too, as fer_core.tracking.place_picture of the
    frame yielded (gray, a quarter of its size): a phone's turned and a large video's scaled frame too."""
    from fer_core.tracking import place_picture
    from tests.hostile import rotated_video

    seen: list[np.ndarray] = []
    frames = list(iter_frames(come_and_go_mp4, rate=2.0, watch=seen.append))
    assert len(frames) == 16 and len(seen) == 80  # 8 s at 10 frames a second
    for f, picture in zip(frames, seen[::5]):  # the frames yielded: every fifth, from the first
        assert picture.shape == (90, 120) and picture.dtype == np.uint8
        if picture.std() > 2:  # the face's frames (the others are a flat wall)
            assert np.corrcoef(picture.ravel(), place_picture(f.bgr).ravel())[0, 1] > 0.98  # the same frame
    seen.clear()
    small = list(iter_frames(come_and_go_mp4, rate=2.0, max_side=240, max_frames=2, watch=seen.append))
    assert small[0].bgr.shape == (180, 240, 3) and seen[0].shape == (45, 60)
    seen.clear()
    turned = list(iter_frames(rotated_video("mp4", "mpeg4"), rate=4.0, watch=seen.append))
    assert turned[0].bgr.shape == (160, 120, 3) and {p.shape for p in seen} == {(40, 30)}
    assert np.corrcoef(seen[0].ravel(), place_picture(turned[0].bgr).ravel())[0, 1] > 0.98  # upright too
    assert np.corrcoef(seen[0].ravel(), place_picture(turned[0].bgr)[::-1].ravel())[0, 1] < 0.9
