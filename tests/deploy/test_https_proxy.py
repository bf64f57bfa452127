"""The HTTP side over TLS: the repository's nginx configuration (deploy/nginx/nginx.conf, the
compose file's `proxy`) run by a real nginx on a free loopback port, with a certificate of
a throwaway CA made by deploy/mosquitto/make-ca.sh, in front of a real meterlink server
process on real PostgreSQL. Checked: HSTS, the app's security headers passed through, the
sign-in cookie Secure, the API working through the proxy (bearer token, and the cookie
from the public origin only), plain HTTP refused on the TLS port; and that the compose
file publishes no plain HTTP port."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from server.api.web_security import STRICT_CSP
from tests.conftest import IN_CI, Broker, free_port
from tests.deploy.test_compose import HERE, bind_mounts, compose, environment

ROOT = Path(__file__).resolve().parents[2]
NGINX_CONF = ROOT / "deploy" / "nginx" / "nginx.conf"
MAKE_CA = ROOT / "deploy" / "mosquitto" / "make-ca.sh"
ADMIN_PASSWORD = "proxy-test-admin-password"


def _nginx() -> str:
    found = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else "")
    if not found or shutil.which("openssl") is None:
        reason = "nginx or openssl is not installed (.ci/run installs nginx)"
        pytest.fail(reason) if IN_CI else pytest.skip(reason)
    return found


def _wait_port(port: int, proc: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"process exited with {proc.returncode}")
        with socket.socket() as s:
            s.settimeout(0.5)
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise AssertionError(f"nothing listens on 127.0.0.1:{port} after {timeout} s")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


def site_config(text: str, *, port: int, tls: Path, upstream: int, work: Path) -> str:
    """The repository's file with only its addresses, certificate folder and writable
    paths moved to the test's (each replaced exactly once: a change of the file that the
    test would no longer follow fails here)."""
    replacements = {
        "listen 443 ssl;": f"listen 127.0.0.1:{port} ssl;",
        "server api:8080;": f"server 127.0.0.1:{upstream};",
        "/etc/meterlink/tls/server.crt;": f"{tls / 'server.crt'};",
        "/etc/meterlink/tls/server.key;": f"{tls / 'server.key'};",
        "access_log /dev/stdout;": f"access_log {work / 'access.log'};",
    }
    for old, new in replacements.items():
        assert text.count(old) == 1, f"{old!r} is not in deploy/nginx/nginx.conf once"
        text = text.replace(old, new)
    temp = "".join(
        f"    {kind}_temp_path {work / kind};\n"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    return text.replace("http {\n", "http {\n" + temp, 1)


@dataclass
class Site:
    url: str
    port: int
    ca: Path
    app_port: int


@pytest.fixture
def site(pg_url: str, mqtt_broker: Broker, tmp_path: Path) -> Iterator[Site]:
    nginx = _nginx()
    tls = tmp_path / "tls"
    subprocess.run(
        ["bash", str(MAKE_CA), str(tls), "localhost"], check=True, capture_output=True, timeout=60
    )
    proxy_port, app_port = free_port(), free_port()
    public = f"https://localhost:{proxy_port}"
    env = {
        **os.environ,
        "METERLINK_DATABASE_URL": pg_url,
        "METERLINK_MQTT_URL": mqtt_broker.url,
        "METERLINK_HTTP_HOST": "127.0.0.1",
        "METERLINK_HTTP_PORT": str(app_port),
        "METERLINK_PUBLIC_URL": public,
        "METERLINK_AUTH_SECRET": "proxy-test-secret-0123456789-0123456789",
        "METERLINK_ADMIN_PASSWORD": ADMIN_PASSWORD,
        "METERLINK_DATA_DIR": str(tmp_path / "data"),
        "METERLINK_JOBS_ENABLED": "false",
        "METERLINK_INGEST_ENABLED": "false",
        "METERLINK_MQTT_ROOT": f"proxytest{app_port}",
    }
    server_log = (tmp_path / "server.log").open("wb")
    nginx_log = (tmp_path / "nginx.log").open("wb")
    app = subprocess.Popen(
        [sys.executable, "-m", "server.cli", "run"],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=server_log,
    )
    work = tmp_path / "nginx"
    work.mkdir()
    conf = work / "nginx.conf"
    conf.write_text(
        site_config(
            NGINX_CONF.read_text(encoding="utf-8"),
            port=proxy_port,
            tls=tls,
            upstream=app_port,
            work=work,
        ),
        encoding="utf-8",
    )
    directives = f"daemon off; pid {work / 'nginx.pid'};" + (
        " user root;" if os.geteuid() == 0 else ""
    )
    check = subprocess.run(
        [nginx, "-t", "-e", "stderr", "-p", str(work), "-c", str(conf), "-g", directives],
        capture_output=True,
        text=True,
        timeout=30,
    )
    if check.returncode != 0:
        _stop(app)
        server_log.close()
        nginx_log.close()
    assert check.returncode == 0, check.stderr
    proxy = subprocess.Popen(
        [nginx, "-e", "stderr", "-p", str(work), "-c", str(conf), "-g", directives],
        stdout=subprocess.DEVNULL,
        stderr=nginx_log,
    )
    try:
        _wait_port(app_port, app)
        _wait_port(proxy_port, proxy)
        yield Site(public, proxy_port, tls / "ca.crt", app_port)
    finally:
        _stop(proxy)
        _stop(app)
        server_log.close()
        nginx_log.close()


def test_the_api_through_the_tls_proxy(site: Site) -> None:
    trust = ssl.create_default_context(cafile=str(site.ca))
    with httpx.Client(base_url=site.url, verify=trust, timeout=30) as web:
        health = web.get("/health/live")
        assert health.status_code == 200, health.text
        hsts = health.headers["strict-transport-security"]
        max_age = int(hsts.split("max-age=")[1].split(";")[0])
        assert max_age >= 365 * 86400 and "includeSubDomains" in hsts
        # the app's own headers pass through the proxy
        assert health.headers["content-security-policy"] == STRICT_CSP
        assert health.headers["x-content-type-options"] == "nosniff"
        assert "server" not in health.headers or "/" not in health.headers["server"]

        login = web.post("/api/auth/login", json={"username": "admin", "password": ADMIN_PASSWORD})
        assert login.status_code == 200, login.text
        assert login.headers["strict-transport-security"] == hsts  # on every answer
        cookie = login.headers["set-cookie"].lower()
        attributes = {a.strip().split("=")[0] for a in cookie.split(";")}
        assert {"secure", "httponly", "samesite"} <= attributes, cookie
        token = login.json()["token"]
        assert web.cookies.get("meterlink_session")

        me = web.get("/api/auth/me", headers={"Authorization": f"Bearer {token}"})
        assert me.status_code == 200 and me.json()["role"] == "admin"
        # a change signed by the cookie: from the public origin it works (the server takes
        # the proxy's Host and its public URL for its own origin) ...
        change = {"params": {"tolerance_kwh": 0.5}}
        own = web.put("/api/rule-params/decrease", json=change, headers={"Origin": site.url})
        assert own.status_code == 200, own.text
        # ... from a page on another port it is refused
        other = f"https://localhost:{site.port + 1}"
        refused = web.put("/api/rule-params/decrease", json=change, headers={"Origin": other})
        assert refused.status_code == 403 and "cross-site" in refused.text
        # the open Prometheus endpoint is not served to the outside ...
        assert web.get("/metrics").status_code == 404
        missing = web.get("/no/such/page")
        assert missing.status_code == 404 and "strict-transport-security" in missing.headers

    # plain HTTP on the TLS port gets nginx's refusal, never the API
    with httpx.Client(timeout=10) as plain:
        # ... while the internal network (here: loopback) still scrapes it
        inside = plain.get(f"http://127.0.0.1:{site.app_port}/metrics")
        assert inside.status_code == 200 and "process_" in inside.text
        r = plain.get(f"http://127.0.0.1:{site.port}/api/auth/me")
        assert r.status_code == 400 and "meterlink" not in r.text


def test_compose_publishes_no_plain_http() -> None:
    c = compose()
    published = {}
    for name, svc in c["services"].items():
        for spec in svc.get("ports") or []:
            target = str(spec).split(":")[-1].split("/")[0]
            published[name] = [*published.get(name, []), target]
    # the proxy's HTTPS and the broker's MQTT over TLS; nothing else reaches the host
    assert published == {"proxy": ["443"], "mosquitto": ["8883"]}, published
    api = c["services"]["api"]
    assert "ports" not in api and api.get("expose") == ["8080"]
    assert environment(api)["METERLINK_PUBLIC_URL"].startswith("https://")
    # the proxy runs the file tested above, and the certificate the header makes
    proxy = c["services"]["proxy"]
    mounts = dict(bind_mounts(proxy))
    assert mounts[NGINX_CONF.resolve()] == "/etc/nginx/nginx.conf"
    assert mounts[(HERE / "tls" / "server.crt").resolve()] == "/etc/meterlink/tls/server.crt"
    assert mounts[(HERE / "tls" / "server.key").resolve()] == "/etc/meterlink/tls/server.key"
    assert "Strict-Transport-Security" in NGINX_CONF.read_text(encoding="utf-8")
    dockerfile = (HERE / proxy["build"]["context"] / proxy["build"]["dockerfile"]).resolve()
    text = dockerfile.read_text(encoding="utf-8")
    assert text.startswith("#") and "FROM debian:" in text and "install" in text
