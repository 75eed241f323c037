"""Hostile uploads: the fixed corpus of tests/hostile.py through the pages' path, and a short
fuzz run of benchmarks/fuzz_inputs.py (300 mutated files, each in a time limit)."""
import io
import time

import cv2
import numpy as np
import pytest

from fer_core import load_recognizer
from fer_core.imageio import decode_image
from fer_core.video import iter_frames
from tests.hostile import fixed_corpus, mutate, photo_rgb, rotated_video, run_case
from tests.media import face_on_background

CORPUS = fixed_corpus()
#: The Photo page's uploaders take these extensions only (the browser refuses others).
PHOTO_EXTS = (".jpg", ".jpeg", ".png", ".webp", ".bmp")


def upload_name(name: str) -> str:
    """A GIF or TIFF of the corpus comes to the Photo page renamed, as a visitor would have to."""
    return name if name.lower().endswith(PHOTO_EXTS) else name + ".jpg"


@pytest.fixture
def app_page():
    """tests.test_pages.open_page, with the patch streamlit-webrtc needs outside a server."""
    from unittest import mock

    from tests.test_pages import open_page

    with mock.patch("streamlit_webrtc.component.get_this_session_info", return_value=None):
        yield open_page


@pytest.fixture(scope="module")
def recognizer():
    return load_recognizer()


@pytest.mark.parametrize("case", CORPUS, ids=[c.name for c in CORPUS])
def test_corpus_file_gets_results_or_a_plain_message(case, recognizer):
    t = time.perf_counter()
    out = run_case(case.kind, case.data, recognizer)  # any other exception fails the test
    assert time.perf_counter() - t < 20, "far too slow: a hang in the making"
    if case.expect != "any":
        assert out.ok == (case.expect == "ok"), out.message
    if not out.ok:
        # A sentence for a person: no traceback, no repr, not empty, not a wall of text.
        assert 10 < len(out.message) < 300 and out.message[0].isupper() or out.message.startswith("not a")
        assert "Traceback" not in out.message and "Error(" not in out.message
    if case.name.startswith(("gray16", "cmyk", "palette", "alpha", "progressive", "exif")):
        assert out.faces == 1, f"{case.name}: {out.message}"


@pytest.mark.parametrize("case", [c for c in CORPUS if c.kind == "csv"], ids=lambda c: c.name)
def test_corpus_log_on_the_dashboard_and_compare_pages(case, app_page):
    """Each CSV of the corpus on the pages themselves (AppTest), which draw more than run_case
    does: attention, valence, flags; and on Compare beside a good log. A message or the
    charts, never an exception; the report of a log that reads is built too."""
    from fer_core.report import ReportOptions, build_html_report
    from fer_core.session import LogFormatError, SessionLog
    from tests.hostile import good_log_csv

    at = app_page("app_pages/dashboard.py")
    at.radio[0].set_value("CSV log exported earlier").run()
    at.file_uploader[0].upload(case.name, case.data, "text/csv").run()
    assert not at.exception, case.name
    assert at.error or at.info or at.metric, case.name  # it said something or drew the session
    at = app_page("app_pages/compare.py")
    at.file_uploader[0].set_value([("good.csv", good_log_csv(), "text/csv"), (case.name, case.data, "text/csv")]).run()
    assert not at.exception, case.name
    try:
        log = SessionLog.from_csv(case.data)
    except LogFormatError:
        return
    if len(log):
        assert "<html" in build_html_report(log, ReportOptions(source=case.name, bin_s=1.0))[:300].lower()


@pytest.mark.parametrize("case", [c for c in CORPUS if c.kind == "image"], ids=lambda c: c.name)
def test_corpus_image_on_the_photo_page(case, app_page):
    """Each image of the corpus on the Photo page itself (AppTest), with attention and
    pixelation on: a message or the results, never an exception."""
    at = app_page("app_pages/photo.py")
    at.toggle[1].set_value(True)  # Pixelate faces; attention is on by default
    at.file_uploader[0].upload(upload_name(case.name), case.data, "image/jpeg").run()
    assert not at.exception, case.name
    assert at.error or at.warning or at.dataframe, case.name


@pytest.mark.parametrize("first", [0, 20])
def test_corpus_images_as_several_photos(first, app_page):
    """The corpus's images as sets of twenty on the Photo page's Several photos: every photo
    gets a row in the summary, the unreadable ones a message each, and a readable one is shown."""
    cases = [c for c in CORPUS if c.kind == "image"][first:first + 20]
    named = [(upload_name(c.name), c.data, "image/jpeg") for c in cases]
    at = app_page("app_pages/photo.py")
    at.radio[0].set_value("Several photos").run()
    at.file_uploader[0].set_value(named).run()
    assert not at.exception
    # The heading counts the photos read and says how many more could not be.
    read, unread = len(cases) - len(at.error), len(at.error)
    heading = at.subheader[0].value
    assert heading.startswith(f"{read} photo{'s' if read != 1 else ''}, ")
    assert heading.endswith(f" ({unread} more could not be read)") == (unread > 0), heading
    assert list(at.dataframe[0].value["photo"]) == [n for n, _, _ in named]
    errors = sum(1 for c in cases if c.expect == "error")
    assert errors <= len(at.error) <= errors + sum(1 for c in cases if c.expect == "any")
    assert all(any(f"**{n}**" in e.value for n, _, _ in named) for e in at.error)


@pytest.mark.parametrize("case", [c for c in CORPUS if c.kind == "video"], ids=lambda c: c.name)
def test_corpus_video_on_the_video_page(case, app_page):
    """Each video of the corpus on the Video file page itself (AppTest): its length hint, the
    analysis, the charts, the first analysed frame shown again and an annotated copy. A
    message or the results, never an exception."""
    at = app_page("app_pages/video_file.py")
    at.file_uploader[0].upload(case.name, case.data, "video/mp4").run()
    assert not at.exception, case.name
    at.button[0].click().run()
    assert not at.exception, case.name
    made = [b for b in at.button if b.label == "Make the annotated video"]
    if made:
        made[0].click().run()
        assert not at.exception, case.name
    assert at.error or at.warning or at.metric, case.name


@pytest.mark.parametrize("case", [c for c in CORPUS if c.upright_face], ids=lambda c: c.name)
def test_exif_rotated_photos_come_out_upright(case):
    img = decode_image(case.data)
    upright = cv2.cvtColor(photo_rgb(200, 240), cv2.COLOR_RGB2BGR)
    assert img.exif_rotated and img.bgr.shape == upright.shape
    assert np.abs(img.bgr.astype(int) - upright.astype(int)).mean() < 8


def test_rotated_phone_video_frames_come_out_upright():
    frames = list(iter_frames(io.BytesIO(rotated_video()), rate=4.0))
    upright = face_on_background(120, 160, x=0)
    assert frames and all(f.bgr.shape == upright.shape for f in frames)
    assert np.abs(frames[0].bgr.astype(int) - upright.astype(int)).mean() < 10


def test_bomb_is_refused_quickly_and_small():
    bomb = next(c for c in CORPUS if c.name.startswith("bomb_20000"))
    assert len(bomb.data) < 500_000
    t = time.perf_counter()
    with pytest.raises(ValueError, match="too many pixels"):
        decode_image(bomb.data)
    assert time.perf_counter() - t < 1.0


def test_mutations_change_the_bytes_reproducibly():
    import random

    data = bytes(range(256)) * 8
    a = [mutate(data, random.Random(5)) for _ in range(3)]
    b = [mutate(data, random.Random(5)) for _ in range(3)]
    assert a == b and any(m != data for _, m in a)


def test_fuzz_300_files_no_crash_hang_or_death():
    from benchmarks.fuzz_inputs import fuzz

    report = fuzz(300, seed=1, timeout=30.0)
    print(report.table())
    assert sum(sum(c.values()) for c in report.rows.values()) == 300
    assert report.bad == 0, [(n, s, d) for n, _, s, d, _ in report.failures]
    # The fuzz reached both sides: files analysed and files refused, of every kind.
    assert all(c["refused"] > 0 for c in report.rows.values())
    assert report.rows["image"]["analysed"] > 0 and report.rows["video"]["analysed"] > 0
