"""deploy/: the rendered EC2 files are what deploy/cluster.py writes, HAProxy accepts its
configuration, and the apps' FER_ICE_SERVERS is what the app reads. (The running set is
tested in a browser by tests/e2e/test_cluster.py.)"""
from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from deploy.cluster import ClusterConfig, allocator_env, haproxy_config, ice_servers, render, turn_config
from fer_app.support import ice_configuration

ROOT = Path(__file__).resolve().parents[1]
EC2 = ROOT / "deploy" / "ec2"


def ec2_config() -> ClusterConfig:
    """The environment written in deploy/ec2/README.md."""
    text = (EC2 / "README.md").read_text()
    block = text.split("    python deploy/cluster.py render")[0].split("three app servers:")[1]
    env = dict(re.findall(r"(FER_\w+)=(\S+)", block))
    return ClusterConfig.from_env(env)


def test_ec2_files_are_what_render_writes(tmp_path):
    for path in render(ec2_config(), tmp_path):
        assert path.read_text() == (EC2 / path.name).read_text(), f"re-render deploy/ec2/{path.name}"
    assert oct((tmp_path / "fer.env").stat().st_mode & 0o777) == "0o600"


def test_production_turn_relays_only_to_the_app_servers():
    conf = turn_config(ec2_config())
    assert "allow-loopback-peers" not in conf
    assert "denied-peer-ip=169.254.0.0-169.254.255.255" in conf  # the cloud metadata service
    assert "allowed-peer-ip=172.31.5.20" in conf and "external-ip=203.0.113.10/172.31.5.20" in conf
    loop = turn_config(ClusterConfig(turn_loopback=True), log_to_stdout=True)
    assert "allow-loopback-peers" in loop and "denied-peer-ip" not in loop and "log-file=stdout" in loop


def test_the_apps_read_the_ice_servers_written_for_them():
    c = ec2_config()
    env_line = (EC2 / "fer.env").read_text().strip()
    value = env_line.split("=", 1)[1].strip("'")
    assert value == ice_servers(c)
    cfg = ice_configuration({"FER_ICE_SERVERS": value})
    assert cfg == {"iceServers": json.loads(value)}
    assert cfg["iceServers"][0]["urls"][-1] == "turns:turn.fer.example.org:5349?transport=tcp"


def test_sticky_cookie_and_one_server_line_per_app():
    conf = haproxy_config(ClusterConfig(apps=4, first_port=9001))
    assert conf.count(" check cookie app") == 4 and "127.0.0.1:9004" in conf
    assert "cookie FERSRV insert indirect nocache httponly\n" in conf  # no "secure" without TLS
    assert "timeout tunnel" in conf  # the Streamlit WebSocket outlives ordinary timeouts


@pytest.mark.skipif(not Path("/usr/sbin/haproxy").exists() and not shutil.which("haproxy"),
                    reason="needs Debian's haproxy")
def test_haproxy_accepts_the_configuration(tmp_path):
    cfg = tmp_path / "haproxy.cfg"
    cfg.write_text(haproxy_config(ClusterConfig(apps=3)))
    haproxy = shutil.which("haproxy") or "/usr/sbin/haproxy"
    run = subprocess.run([haproxy, "-c", "-f", str(cfg)], capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr


def test_systemd_unit_runs_the_app_on_its_instance_port():
    unit = (ROOT / "deploy" / "systemd" / "fer@.service").read_text()
    assert "--server.port %i" in unit and "--server.address 127.0.0.1" in unit
    assert "EnvironmentFile=/etc/fer.env" in unit
    servers = re.findall(r"server app\d+ 127\.0\.0\.1:(\d+)", (EC2 / "haproxy.cfg").read_text())
    assert servers == ["8501", "8502", "8503"]  # fer@8501 fer@8502 fer@8503


def test_cluster_servers_get_the_allocator_of_the_other_deploys():
    """The local cluster starts its servers as scripts/run_app.sh and the systemd unit do: on
    jemalloc where it is installed, with the unit's settings; glibc when the operator says so."""
    unit = (ROOT / "deploy" / "systemd" / "fer@.service").read_text()
    unit_conf = re.search(r"MALLOC_CONF=(\S+)", unit).group(1)
    lib = next((p for p in re.findall(r"/usr/\S+?libjemalloc\.so\.2", (ROOT / "scripts" / "allocator.sh").read_text())
                if Path(p).is_file()), None)
    base = {"PATH": "/usr/bin:/bin"}
    got = allocator_env(base)
    if lib is None:
        assert got == {}
    else:
        assert got == {"LD_PRELOAD": lib, "MALLOC_CONF": unit_conf}
    assert allocator_env({**base, "FER_ALLOCATOR": "glibc"}) == {}
    assert allocator_env({**base, "LD_PRELOAD": "/opt/x/libother.so"}) == {"LD_PRELOAD": "/opt/x/libother.so"}


# -- Heroku: the Procfile as the dyno runs it --------------------------------------------
def test_heroku_dyno_keeps_the_projects_streamlit_settings(tmp_path):
    """A dyno's HOME is the app's own folder (/app), so ``~/.streamlit/config.toml`` *is* the
    project's config: starting the dyno must not replace it (it did: setup.sh wrote the port
    there, and the 100 MB upload cap went back to Streamlit's 200). The port is the dyno's."""
    import os
    import signal
    import sys

    from tests.e2e.conftest import free_port, wait_healthy
    from tests.test_security import _request, oversized_upload

    app = tmp_path / "app"  # the slug, as Heroku unpacks it
    app.mkdir()
    for name in ("app_pages", "fer_app", "fer_core", "models"):
        (app / name).symlink_to(ROOT / name)
    (app / ".streamlit").mkdir()
    for name in ("streamlit_app.py", "Procfile", "setup.sh", ".streamlit/config.toml"):
        shutil.copy(ROOT / name, app / name)
    project_config = (ROOT / ".streamlit" / "config.toml").read_bytes()
    web = re.search(r"^web: (.+)$", (app / "Procfile").read_text(), re.M).group(1)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("STREAMLIT_")}
    env.update(HOME=str(app), PORT=str(port), FER_ICE_SERVERS="[]",
               PATH=f"{Path(sys.executable).parent}:{env.get('PATH', '/usr/bin:/bin')}")
    log = (tmp_path / "dyno.log").open("w")
    dyno = subprocess.Popen(["sh", "-c", web], cwd=app, env=env, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    try:
        wait_healthy(f"http://127.0.0.1:{port}", dyno, tmp_path / "dyno.log")
        assert (app / ".streamlit" / "config.toml").read_bytes() == project_config
        # The server's upload cap is the project's (tests/test_security.py checks the same on a plain start).
        _, headers, _ = _request(port, "GET", "/_stcore/health")
        token = re.search(r"_streamlit_xsrf=([^;]+)", headers.get("set-cookie", "")).group(1)
        status, body = oversized_upload(port, token)
        assert status == 413, body
    finally:
        os.killpg(dyno.pid, signal.SIGTERM)
        try:
            dyno.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(dyno.pid, signal.SIGKILL)
            dyno.wait()
        log.close()


# -- nothing on disk, no usage data sent --------------------------------------------------
def test_onnxruntime_telemetry_is_off_in_the_app_and_the_command_line(tmp_path):
    """ONNX Runtime's official Linux builds keep a device ID and a queue of usage events under
    ~/.cache and upload them unless told not to: the app's server process and the command-line
    tools switch that off before they load a model (docs/DEPLOY.md, "What the server stores")."""
    import os
    import sys

    import cv2

    from fer_core.runtime import ORT_TELEMETRY_ENV, disable_ort_telemetry
    from tests.scenes import one_face_frame

    photo = tmp_path / "face.png"
    cv2.imwrite(str(photo), one_face_frame())
    app = ("from fer_app import support; support.process_setup(); "
           "from fer_core import load_recognizer; import cv2; "
           f"assert load_recognizer().analyze(cv2.imread({str(photo)!r}))")
    env = {k: v for k, v in os.environ.items() if k != ORT_TELEMETRY_ENV}
    for name, argv in (("app", ["-c", app]), ("cli", ["-m", "fer_core", str(photo), "--json"])):
        home = tmp_path / f"home-{name}"
        home.mkdir()
        run = subprocess.run([sys.executable, *argv], cwd=ROOT, env=dict(env, HOME=str(home)),
                             capture_output=True, text=True, timeout=120)
        assert run.returncode == 0, run.stderr[-2000:]
        assert [str(p.relative_to(home)) for p in home.rglob("*")] == [], name
    assert disable_ort_telemetry(chosen := {ORT_TELEMETRY_ENV: "0"}) is False and chosen == {ORT_TELEMETRY_ENV: "0"}
    assert disable_ort_telemetry(fresh := {}) is True and fresh == {ORT_TELEMETRY_ENV: "1"}


@pytest.mark.skipif(not Path("/usr/sbin/haproxy").exists() and not shutil.which("haproxy"),
                    reason="needs Debian's haproxy")
def test_the_proxy_tells_browsers_not_to_keep_the_pictures_the_pages_show(tmp_path):
    """Streamlit serves /media (annotated photos, video frames) without Cache-Control, and a
    browser kept them in its disk cache; behind the proxy they are no-store, other files as served."""
    import http.server
    import threading
    import urllib.request

    from tests.e2e.conftest import free_port

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (http.server's name)
            self.send_response(200)
            self.send_header("Content-Type", "image/jpeg" if self.path.startswith("/media/") else "text/plain")
            self.end_headers()
            self.wfile.write(b"x")

        def log_message(self, *args):
            pass

    app = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
    threading.Thread(target=app.serve_forever, daemon=True).start()
    proxy_port = free_port()
    cfg = tmp_path / "haproxy.cfg"
    cfg.write_text(haproxy_config(ClusterConfig(apps=1, first_port=app.server_address[1],
                                                proxy_bind=f"127.0.0.1:{proxy_port}")))
    haproxy = shutil.which("haproxy") or "/usr/sbin/haproxy"
    proc = subprocess.Popen([haproxy, "-db", "-f", str(cfg)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        def headers(path: str):
            import time
            for _ in range(100):
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{proxy_port}{path}", timeout=5) as r:
                        return r.headers
                except OSError:
                    time.sleep(0.1)
            raise AssertionError("haproxy did not answer")

        assert headers("/media/0123abcd.jpg")["Cache-Control"] == "no-store"
        assert headers("/static/app.js")["Cache-Control"] is None
    finally:
        proc.terminate()
        proc.wait(10)
        app.shutdown()
