"""Security settings, checked: in the configuration Streamlit reads, on every page, and in a
real server's answers (XSRF, CORS, the upload cap); TURN credentials never logged."""
import ast
import http.client
import json
import logging
import re
import tempfile
from pathlib import Path
from unittest import mock

import pytest

from fer_app import support, uploads

ROOT = Path(__file__).resolve().parent.parent
PAGES = sorted((ROOT / "app_pages").glob("*.py"))


@pytest.fixture(scope="module")
def options(tmp_path_factory):
    """The options Streamlit itself computes from the project's .streamlit/config.toml."""
    import os

    from streamlit import config

    cwd = os.getcwd()
    home = tmp_path_factory.mktemp("home")  # no ~/.streamlit/config.toml of this machine
    try:
        os.chdir(ROOT)
        with mock.patch.dict(os.environ, {"HOME": str(home)}):
            config.get_config_options(force_reparse=True)
            yield {k: config.get_option(k) for k in (
                "server.enableXsrfProtection", "server.enableCORS", "server.corsAllowedOrigins",
                "server.maxUploadSize", "client.showErrorDetails", "client.toolbarMode",
                "browser.gatherUsageStats")}
    finally:
        os.chdir(cwd)
        config.get_config_options(force_reparse=True)


def test_streamlit_security_options(options):
    assert options["server.enableXsrfProtection"] is True
    # Streamlit's enableCORS=true is CORS *protection*: no other site's page may read ours.
    assert options["server.enableCORS"] is True and not options["server.corsAllowedOrigins"]
    assert options["client.showErrorDetails"] == "none"  # no tracebacks for visitors
    assert options["client.toolbarMode"] == "viewer"
    assert options["browser.gatherUsageStats"] is False  # no usage data to Streamlit (docs/DEPLOY.md)
    assert options["server.maxUploadSize"] == max(uploads.PHOTO_MB, uploads.VIDEO_MB, uploads.LOG_MB)


def test_heroku_start_does_not_loosen_them():
    text = "\n".join(line for name in ("Procfile", "setup.sh") for line in (ROOT / name).read_text().splitlines()
                     if not line.lstrip().startswith("#"))
    for loosening in ("enableXsrfProtection", "enableCORS", "maxUploadSize", "showErrorDetails", "toolbarMode",
                      "XSRF", "CORS", "MAX_UPLOAD", "ERROR_DETAILS", "TOOLBAR"):  # options and their variables
        assert loosening not in text  # the project's config.toml decides these
    # A dyno's HOME is the app's folder: ~/.streamlit/config.toml is the project's own file.
    assert ".streamlit" not in text and "HOME" not in text and ">" not in text


def _uploader_calls(tree: ast.AST):
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "file_uploader":
            yield node


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_every_uploader_has_a_page_limit_checked_on_the_server(page):
    source = page.read_text()
    for call in _uploader_calls(ast.parse(source)):
        limit = next((k.value for k in call.keywords if k.arg == "max_upload_size"), None)
        assert isinstance(limit, ast.Attribute) and limit.attr.endswith("_MB"), \
            f"{page.name}: file_uploader without max_upload_size=uploads.<X>_MB"
        assert re.search(rf"uploads\.within_limit\(upload, uploads\.{limit.attr}[,)]", source), \
            f"{page.name}: the page does not check the size itself"


def test_oversized_upload_is_refused_by_the_page(monkeypatch):
    from streamlit.testing.v1 import AppTest

    from tests.test_pages import APP

    monkeypatch.setattr(uploads, "PHOTO_MB", 1)
    with mock.patch("streamlit_webrtc.component.get_this_session_info", return_value=None):
        at = AppTest.from_file(APP, default_timeout=60)
        at.run()
        at = at.switch_page("app_pages/photo.py").run()
        at.file_uploader[0].upload("big.jpg", b"\xff\xd8" + bytes(2 * uploads.MB), "image/jpeg")
        at.run()
    assert not at.exception
    assert "accepts files of up to 1 MB" in at.error[0].value and not at.dataframe


def test_turn_credentials_are_never_logged(caplog):
    secret = "s3cr3t-turn-password"
    server = {"urls": "turn:turn.example.org:3478", "username": "u", "credential": secret}
    good = json.dumps([server])
    broken = good[:-2]  # not valid JSON
    wrong = json.dumps(server)  # not a list
    with caplog.at_level(logging.DEBUG):
        assert support.ice_configuration({support.ICE_ENV: good})["iceServers"][0]["credential"] == secret
        assert support.ice_configuration({support.ICE_ENV: broken}) is None
        assert support.ice_configuration({support.ICE_ENV: wrong}) is None
    assert caplog.records  # the two bad values were reported ...
    assert secret not in caplog.text  # ... without echoing them


def test_live_page_never_shows_turn_credentials(monkeypatch, caplog):
    from streamlit.testing.v1 import AppTest

    from tests.test_pages import APP

    secret = "an0ther-turn-secret"
    monkeypatch.setenv(support.ICE_ENV, json.dumps([{"urls": "turn:t.example.org", "username": "u",
                                                     "credential": secret}]))
    with mock.patch("streamlit_webrtc.component.get_this_session_info", return_value=None), \
            caplog.at_level(logging.DEBUG):
        at = AppTest.from_file(APP, default_timeout=60)
        at.run()
        at = at.switch_page("app_pages/live_webcam.py").run()
    assert not at.exception
    shown = " ".join(str(e.value) for e in (*at.markdown, *at.caption, *at.info, *at.warning, *at.error))
    assert secret not in shown and secret not in caplog.text


# -- a real server -------------------------------------------------------------------------
@pytest.fixture(scope="module")
def server():
    from tests.e2e.conftest import start_server

    with tempfile.TemporaryDirectory() as tmp, start_server(Path(tmp)) as (url, _):
        yield int(url.rsplit(":", 1)[1])


def _request(port: int, method: str, path: str, body: bytes = b"", headers: dict | None = None,
             length: int | None = None) -> tuple[int, dict, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.putrequest(method, path)
        for k, v in (headers or {}).items():
            conn.putheader(k, v)
        if method != "GET":
            conn.putheader("Content-Length", str(len(body) if length is None else length))
        conn.endheaders()
        if body:
            conn.send(body)
        r = conn.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    finally:
        conn.close()


MULTIPART = (b'--b\r\nContent-Disposition: form-data; name="file"; filename="a.jpg"\r\n'
             b"Content-Type: image/jpeg\r\n\r\n")


def _session(port: int, token: str) -> str:
    """A real browser session's id (the websocket's NewSession message)."""
    from streamlit.proto.BackMsg_pb2 import BackMsg
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
    from websockets.sync.client import connect

    ws = connect(f"ws://127.0.0.1:{port}/_stcore/stream", subprotocols=["streamlit", token],
                 additional_headers={"Cookie": f"_streamlit_xsrf={token}"})
    msg = BackMsg()
    msg.rerun_script.query_string = ""
    ws.send(msg.SerializeToString())
    for _ in range(100):
        fwd = ForwardMsg()
        fwd.ParseFromString(ws.recv(timeout=30))
        if fwd.WhichOneof("type") == "new_session":
            _session.ws = ws  # keep the session open for the test
            return fwd.new_session.initialize.session_id
    raise AssertionError("no NewSession message")


def oversized_upload(port: int, token: str) -> tuple[int, bytes]:
    """The server's status and body for an upload, with the XSRF token and a live session, that
    says it is 20 MB over the largest page limit (1 MB of it is sent)."""
    session = _session(port, token)
    try:
        status, _, body = _request(
            port, "PUT", f"/_stcore/upload_file/{session}/file1", MULTIPART + bytes(1 << 20),
            {"Content-Type": "multipart/form-data; boundary=b", "Cookie": f"_streamlit_xsrf={token}",
             "X-Xsrftoken": token}, length=(uploads.VIDEO_MB + 20) * uploads.MB)
    finally:
        _session.ws.close()
    return status, body


def test_server_refuses_cross_origin_xsrf_less_and_oversized_requests(server):
    status, headers, _ = _request(server, "GET", "/", headers={"Origin": "http://evil.example"})
    assert status == 200 and "access-control-allow-origin" not in headers
    status, headers, _ = _request(server, "GET", "/_stcore/health", headers={"Origin": "http://evil.example"})
    assert status == 200 and "access-control-allow-origin" not in headers
    token = re.search(r"_streamlit_xsrf=([^;]+)", headers.get("set-cookie", "")).group(1)
    # An upload without the XSRF token: refused before anything is read.
    status, _, body = _request(server, "PUT", "/_stcore/upload_file/x/y", MULTIPART + b"data\r\n--b--\r\n",
                               {"Content-Type": "multipart/form-data; boundary=b"})
    assert status == 403 and b"XSRF" in body
    # With the token and a live session, a body over server.maxUploadSize: 413 as soon as it says so.
    status, body = oversized_upload(server, token)
    assert status == 413, body


# -- hostile names and logs --------------------------------------------------------------
FORMULAS = ['=HYPERLINK("https://evil.example","open")', "+1+1", "-2+3", "@SUM(A1:A2)", "\t=1"]


def test_text_that_a_spreadsheet_would_run_is_written_as_text():
    import pandas as pd

    from fer_core import csvtext

    for text in [*FORMULAS, "'=x", "'plain"]:
        assert csvtext.escape(text).startswith("'") and csvtext.unescape(csvtext.escape(text)) == text
    # A marker of a log written before escaping existed keeps its apostrophe.
    assert csvtext.unescape("'90s music starts") == "'90s music starts"
    for text in ["week 1", "lecture-3.mp4", "", "Face 1"]:
        assert csvtext.escape(text) == text
    table = pd.DataFrame({"session": FORMULAS, "minutes": [-1.5, 2.0, 3.0, 4.0, 5.0]})
    back = pd.read_csv(__import__("io").BytesIO(csvtext.to_csv(table)), keep_default_na=False)
    assert all(cell.startswith("'") for cell in back["session"]) and back["minutes"].tolist()[0] == -1.5


def test_a_marker_named_as_a_formula_is_text_in_the_log_csv_and_comes_back_as_written():
    from fer_core.session import SessionLog

    log = SessionLog()
    log.add_frame(0.0, [(1, (0, 0, 9, 9), [1 / 7] * 7)])
    for i, text in enumerate(FORMULAS[:4]):
        log.add_marker(float(i), text)
    csv = log.to_csv().decode()
    import io

    import pandas as pd

    cells = pd.read_csv(io.StringIO(csv), dtype={"marker": str}, keep_default_na=False)["marker"]
    assert sorted(c for c in cells if c) == sorted("'" + m for m in FORMULAS[:4])
    assert [m for _, m in SessionLog.from_csv(csv).markers] == [m for _, m in log.markers]


def test_batch_and_compare_csvs_escape_session_names(tmp_path):
    from fer_core import batch
    from fer_core.session import SessionLog
    from tests.test_compare import lecture

    jobs = []
    for name in ("=cmd", "+week"):
        job = batch.Job(name, f"/in/{name}.mp4")
        csv, report = batch.outputs(tmp_path, job)
        csv.write_bytes(lecture(5, "Happy", "Sad").to_csv())
        report.write_text("<html></html>")
        jobs.append(job)
    assert batch.write_comparison(tmp_path, jobs) == 2
    text = (tmp_path / batch.COMPARISON_CSV).read_text()
    assert "\n'=cmd," in text and "\n'+week," in text
    assert SessionLog.from_csv((tmp_path / "=cmd_expressions.csv").read_bytes()).summary().faces == 3


def test_markup_in_session_names_is_shown_as_text_in_charts():
    """Plotly reads some HTML in labels and legends: a file name '<a href=...>' made a working link."""
    import pandas as pd

    from fer_core import charts
    from fer_core.labels import LABELS

    name = '<a href="https://evil.example">week 1'
    table = pd.DataFrame([{lab: 1 / 7 for lab in LABELS}], index=[name])
    bars = charts.session_mix_bars(table)
    assert all("<a" not in str(y) for trace in bars.data for y in trace.y)
    assert all(str(y).startswith("&lt;a href=") for y in bars.data[0].y)
    curves = charts.session_curves(pd.DataFrame({name: [0.1, 0.2]}, index=pd.Index([0, 50], name="percent")), "Happy")
    assert curves.data[0].name.startswith("&lt;a href=")


def test_a_log_with_a_million_columns_is_refused_unread():
    """pandas built every column first: 1,000,000 columns of one row took 2.6 GB and a minute."""
    import time

    from fer_core.session import LogFormatError, SessionLog

    data = (",".join(f"c{i}" for i in range(1_000_000)) + "\n" + ",".join("1" for _ in range(1_000_000))).encode()
    t0 = time.perf_counter()
    with pytest.raises(LogFormatError, match="1,000,000 columns"):
        SessionLog.from_csv(data)
    assert time.perf_counter() - t0 < 5.0  # the header only (about 0.3 s here): not a timing test
    # Nor behind a blank first line (pandas skips it), a first line of CR LF, or a quoted
    # header over several lines; a first field too long for Python's csv module is refused too.
    many = ",".join(f"c{i}" for i in range(30_000))
    for text in ("\n" + many, "\r\n" + many, '"a\nb",' + many, "x" * 200_000 + "\n1"):
        t0 = time.perf_counter()
        with pytest.raises(LogFormatError):
            SessionLog.from_csv(text)
        assert time.perf_counter() - t0 < 5.0
    # Columns a log does not have, added by hand, are not read but do not stop the log.
    log = SessionLog()
    log.add_frame(0.0, [(1, (0, 0, 9, 9), [1 / 7] * 7)])
    lines = log.to_csv().decode().splitlines()
    extra = "\n".join([lines[0] + ",notes", *(line + ",hello" for line in lines[1:])])
    assert SessionLog.from_csv(extra).to_frame().equals(SessionLog.from_csv(log.to_csv()).to_frame())


#: Names a user may give a file or a moment, each of which Streamlit's Markdown would act on.
HOSTILE_NAMES = ["$x^2$ and $y$.csv", "**final**.csv", "![x](https://example.com/t.png).csv",
                 "[login](https://example.com).csv", ":red[alert] :material/home:.csv", "# heading.csv",
                 "1. intro.csv", "a\\b <i>c</i> ~~d~~ `e` &amp;.csv"]


def test_names_are_escaped_for_markdown_and_come_back_as_written():
    specials = set("\\`*[]<>~$:/&|")  # and "_" at the edge of a word, "#", "1." and the like first on a line
    for name in HOSTILE_NAMES:
        shown = support.md_literal(name)
        assert re.sub(r"\\(.)", r"\1", shown) == name  # what Markdown shows: the name as written
        unescaped = re.sub(r"\\.", "", shown)
        assert not specials & set(unescaped), (name, shown)
    assert support.md_literal("1. intro.csv") == "1\\. intro.csv"  # not an ordered list
    assert support.md_literal("# heading.csv") == "\\# heading.csv"  # nor a heading
    assert support.md_literal("__init__ _draft_ IMG_0001.jpg") == "\\_\\_init\\_\\_ \\_draft\\_ IMG_0001.jpg"
    assert support.md_literal("- notes\n+ more") == "\\- notes\n\\+ more"  # nor bullets
    # Ordinary names stay as they are.
    for name in ("week1.csv", "copy of week1 (2).csv", "week-2 notes.jpg", "Café 中文 😀.mp4"):
        assert support.md_literal(name) == name


def _markdown_sources(at) -> list[str]:
    """Every text of the page that Streamlit renders as Markdown."""
    texts = [str(e.value) for kind in ("markdown", "caption", "warning", "error", "info", "success", "subheader")
             for e in getattr(at, kind)]
    return texts + [c.label for c in at.checkbox] + [e.label for e in at.expander]


def _assert_shown_as_written(at, names):
    sources = "\n".join(_markdown_sources(at))
    for name in names:
        assert support.md_literal(name) in sources, name
        assert f"**{name}**" not in sources and f" {name}" not in sources, name


def test_file_names_reach_the_pages_as_text_not_markdown():
    """A file named ``$x^2$ and $y$.csv`` was set as LaTeX in the page's messages, one named
    ``![x](https://...).csv`` made every visitor's browser fetch an image from that server."""
    from streamlit.testing.v1 import AppTest

    from fer_core.session import SessionLog
    from tests.scenes import astronaut_bgr
    from tests.test_compare import lecture
    from tests.test_pages import APP, jpeg

    def page(name: str) -> AppTest:
        at = AppTest.from_file(APP, default_timeout=120)
        at.run()
        return at.switch_page(name).run()

    good = lecture(10, "Happy", "Neutral").to_csv()
    empty = SessionLog()
    empty.add_frame(0.0, [])
    with mock.patch("streamlit_webrtc.component.get_this_session_info", return_value=None):
        at = page("app_pages/compare.py")
        at.file_uploader[0].set_value([(HOSTILE_NAMES[0], good, "text/csv"), (HOSTILE_NAMES[1], good, "text/csv"),
                                       (HOSTILE_NAMES[2], b"a,b\n1,2\n", "text/csv"),
                                       (HOSTILE_NAMES[3], empty.to_csv(), "text/csv")]).run()
        assert not at.exception
        assert at.warning[0].value == ("**\\*\\*final\\*\\*.csv** is the same log as **\\$x^2\\$ and \\$y\\$.csv**; "
                                       "it is left out.")
        assert at.error[0].value.startswith("**!\\[x\\](https\\:\\/\\/example.com\\/t.png).csv**: not a session log")
        _assert_shown_as_written(at, HOSTILE_NAMES[:4])

        at = page("app_pages/dashboard.py")
        at.radio[0].set_value("CSV log exported earlier").run()
        at.file_uploader[0].upload(HOSTILE_NAMES[4], b"a,b\n1,2\n", "text/csv")
        at.run()
        assert not at.exception and at.error[0].value.startswith("**\\:red\\[alert\\] \\:material\\/home\\:.csv**: ")
        parts = []
        for start in (0.0, 600.0):
            part = SessionLog(start_s=start)
            for t in range(int(start), int(start) + 300, 5):
                part.add_frame(float(t), [(1, (10, 10, 80, 80), [0, 0, 0, 1, 0, 0, 0])])
            parts.append(part.to_csv())
        at.file_uploader[0].set_value([(HOSTILE_NAMES[5], parts[0], "text/csv"),
                                       (HOSTILE_NAMES[6], parts[1], "text/csv")]).run()
        assert not at.exception and not at.error
        assert ("2 parts joined: \\# heading.csv (0:00 to 4:55); 1\\. intro.csv (10:00 to 14:55)."
                in at.caption[0].value)
        # A time typed wrong is said back as typed.
        at.text_input(key="fer_dashboard_marker_time").set_value("$x^2$ **now**")
        at.text_input(key="fer_dashboard_marker_text").set_value("quiz")
        next(b for b in at.button if b.label == "Add").click().run()
        assert not at.exception and "not a time\\: '\\$x^2\\$ \\*\\*now\\*\\*'" in at.error[0].value

        at = page("app_pages/photo.py")
        at.radio[0].set_value("Several photos").run()
        photo = jpeg(astronaut_bgr())
        at.file_uploader[0].set_value([("# class.jpg", photo, "image/jpeg"), ("**me**.jpg", photo, "image/jpeg"),
                                       ("$x$ and $y$.jpg", b"not an image", "image/jpeg")]).run()
        assert not at.exception
        _assert_shown_as_written(at, ["# class.jpg", "**me**.jpg", "$x$ and $y$.jpg"])

        at = page("app_pages/video_file.py")
        at.file_uploader[0].upload(HOSTILE_NAMES[7].replace(".csv", ".mp4"), b"not a video" * 100, "video/mp4")
        at.run()
        at.text_input(key=next(k for k in at.session_state if str(k).startswith("fer_video_from_"))).set_value(
            "**1**:00").run()
        assert not at.exception and at.error[0].value == ("Part of the video: not a time\\: '\\*\\*1\\*\\*\\:00' "
                                                          "(write seconds, m\\:ss or h\\:mm\\:ss)")
        at.text_input(key=next(k for k in at.session_state if str(k).startswith("fer_video_from_"))).set_value(
            "0:00").run()
        at.button[0].click().run()
        assert not at.exception
        assert at.error[0].value.startswith("**a\\\\b \\<i\\>c\\<\\/i\\> \\~\\~d\\~\\~ \\`e\\` \\&amp;.mp4**: "
                                            "This file is not a video")


def test_a_moment_named_on_the_live_page_is_shown_as_typed():
    from streamlit.testing.v1 import AppTest

    from tests.scenes import astronaut_bgr
    from tests.test_pages import APP, jpeg

    name = "$5 and $10 **quiz** :red[now] ![x](https://example.com/t.png)"
    with mock.patch("streamlit_webrtc.component.get_this_session_info", return_value=None):
        at = AppTest.from_file(APP, default_timeout=60)
        at.run()
        at = at.switch_page("app_pages/live_webcam.py").run()
        at.camera_input[0].set_value(("shot.jpg", jpeg(astronaut_bgr()), "image/jpeg"))
        at.run()
        at.text_input(key="fer_live_marker_text").set_value(name)
        next(b for b in at.button if b.label == "Mark").click().run()
    assert not at.exception
    assert [m for _, m in at.session_state["fer_live_analyzer"].log.markers] == [name]  # kept as typed
    shown = support.md_literal(name)
    assert shown == "\\$5 and \\$10 \\*\\*quiz\\*\\* \\:red\\[now\\] !\\[x\\](https\\:\\/\\/example.com\\/t.png)"
    assert at.toast[0].value.startswith(f'Marked "{shown}" at ')
    assert any(c.value.startswith(f"Marked: {shown} (0:") for c in at.caption)


def test_the_server_log_keeps_no_browser_addresses(tmp_path):
    """aioice and streamlit-webrtc log each live stream's ICE candidates at INFO: the browser's IP
    addresses (its public one, through STUN), in a server log that journald or Heroku keeps. The app's
    logging holds them to warnings; its own INFO lines stay."""
    import os
    import subprocess
    import sys

    code = ("import logging, runpy; runpy.run_path('streamlit_app.py'); "
            "logging.getLogger('aioice.ice').info('Connection(0) Check CandidatePair(203.0.113.7)'); "
            "logging.getLogger('streamlit_webrtc.webrtc').info('Adding ICE candidate: 198.51.100.9'); "
            "logging.getLogger('aioice.ice').warning('aioice warning kept'); "
            "logging.getLogger('fer_core.video').info('fer_core info kept')")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120,
                         env={**os.environ, "HOME": str(tmp_path)})
    assert out.returncode == 0, out.stderr[-2000:]
    assert "aioice warning kept" in out.stderr and "fer_core info kept" in out.stderr
    assert "203.0.113.7" not in out.stderr and "198.51.100.9" not in out.stderr
