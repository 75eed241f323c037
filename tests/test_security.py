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
                "server.maxUploadSize", "client.showErrorDetails", "client.toolbarMode")}
    finally:
        os.chdir(cwd)
        config.get_config_options(force_reparse=True)


def test_streamlit_security_options(options):
    assert options["server.enableXsrfProtection"] is True
    # Streamlit's enableCORS=true is CORS *protection*: no other site's page may read ours.
    assert options["server.enableCORS"] is True and not options["server.corsAllowedOrigins"]
    assert options["client.showErrorDetails"] == "none"  # no tracebacks for visitors
    assert options["client.toolbarMode"] == "viewer"
    assert options["server.maxUploadSize"] == max(uploads.PHOTO_MB, uploads.VIDEO_MB, uploads.LOG_MB)


def test_heroku_config_does_not_loosen_them():
    text = (ROOT / "setup.sh").read_text()
    assert 'showErrorDetails = "none"' in text
    for loosening in ("enableXsrfProtection = false", "enableCORS = false", "maxUploadSize"):
        assert loosening not in text  # the project's config.toml decides these


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
        assert f"uploads.within_limit(upload, uploads.{limit.attr})" in source, \
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
    session = _session(server, token)
    try:
        status, _, body = _request(
            server, "PUT", f"/_stcore/upload_file/{session}/file1", MULTIPART + bytes(1 << 20),
            {"Content-Type": "multipart/form-data; boundary=b", "Cookie": f"_streamlit_xsrf={token}",
             "X-Xsrftoken": token}, length=(uploads.VIDEO_MB + 20) * uploads.MB)
    finally:
        _session.ws.close()
    assert status == 413, body
