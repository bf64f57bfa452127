"""deploy/compose/compose.yaml checked without a container engine (none runs here): it
parses, every file it mounts exists or is made by the preparation steps its header gives,
every ``METERLINK_*`` variable it sets is a server setting with a valid value, every command
is a real console script and subcommand, the ingestion processes share one subscription
group that the broker's ACL allows, the broker config it mounts is the one
tests/deploy/test_mosquitto_security.py runs on a real Mosquitto, and the name the servers
reach the broker by is the one its certificate is made for.

Not checked (needs an engine and the images): that the server image builds and the images
start, that the eclipse-mosquitto image reads /mosquitto/config/mosquitto.conf and may read
the mounted key and write its persistence folder, that TimescaleDB's health check passes,
that the containers reach each other.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlsplit

import pytest

from server.settings import Settings
from tests.conftest import IN_CI
from tests.deploy.test_mosquitto_security import DEPLOY as MOSQUITTO_DIR

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "deploy" / "compose" / "compose.yaml"
HERE = COMPOSE.parent
SERVER_IMAGE = "meterlink:latest"
# what a site puts in .env (the header names each); values only to interpolate with
DOT_ENV = {
    "METERLINK_BROKER_HOSTNAME": "broker.example.org",
    "METERLINK_PUBLIC_HOSTNAME": "meterlink.example.org",
    "METERLINK_DB_PASSWORD": "dbsecret0123",
    "METERLINK_MQTT_PASSWORD": "mqtt-secret-0123",
    "METERLINK_AUTH_SECRET": "auth-secret-0123456789-0123456789",
    "METERLINK_ADMIN_PASSWORD": "admin-secret-0123",
}
VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}")


def _need(what: str, ok: bool) -> None:
    if not ok:
        reason = f"{what} is not available"
        pytest.fail(reason) if IN_CI else pytest.skip(reason)


def raw_compose() -> dict[str, Any]:
    try:
        import yaml
    except ImportError:
        _need("PyYAML", False)
    with COMPOSE.open(encoding="utf-8") as f:
        data = yaml.safe_load(f)  # YAML 1.1: anchors and << merge keys as compose reads them
    assert isinstance(data, dict)
    return data


def interpolate(value: Any, env: dict[str, str]) -> Any:
    """Compose's ${VAR}, ${VAR:-default} and ${VAR:?error} over strings, lists and maps."""
    if isinstance(value, dict):
        return {k: interpolate(v, env) for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v, env) for v in value]
    if not isinstance(value, str):
        return value

    def one(m: re.Match[str]) -> str:
        name, op, arg = m.group(1), m.group(2), m.group(3)
        if env.get(name):
            return env[name]
        if op in (":-", "-"):
            return arg
        if op in (":?", "?"):
            raise ValueError(f"{name}: {arg}")
        return ""

    return VAR.sub(one, value)


def compose(env: dict[str, str] | None = None) -> dict[str, Any]:
    return interpolate(raw_compose(), DOT_ENV if env is None else env)


def servers(c: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {n: s for n, s in c["services"].items() if s.get("image") == SERVER_IMAGE}


def environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(x.split("=", 1) for x in env)
    return {k: str(v) for k, v in env.items()}


def bind_mounts(service: dict[str, Any]) -> list[tuple[Path, str]]:
    """(host path, container path) of each bind mount (named volumes left out)."""
    out = []
    for v in service.get("volumes") or []:
        src, dst = v.split(":")[:2] if isinstance(v, str) else (v["source"], v["target"])
        if src.startswith((".", "/")):
            out.append(((HERE / src).resolve(), dst))
    return out


def header_steps() -> list[str]:
    """The preparation commands of the file's header (lines '#   <command>')."""
    steps = []
    for line in COMPOSE.read_text(encoding="utf-8").splitlines():
        if not line.startswith("#"):
            break
        if line.startswith("#   "):
            steps.append(re.sub(r"\s{2,}\(.*\)$", "", line[4:]).strip())
    return steps


def test_it_parses_and_references_resolve() -> None:
    c = compose()
    assert set(c["services"]) == {"timescaledb", "mosquitto", "api", "ingest", "proxy"}
    assert set(servers(c)) == {"api", "ingest"}
    named = set(c.get("volumes") or {})
    for name, svc in c["services"].items():
        assert svc.get("image"), name
        deps = svc.get("depends_on") or []
        assert set(deps) <= set(c["services"]), (name, deps)
        for v in svc.get("volumes") or []:
            src = v.split(":")[0]
            if not src.startswith((".", "/")):
                assert src in named, f"{name}: volume {src} is not declared"
    # the servers wait for a database that answers, not only for its container
    for name, svc in servers(c).items():
        assert svc["depends_on"]["timescaledb"] == {"condition": "service_healthy"}, name
    assert "pg_isready" in " ".join(c["services"]["timescaledb"]["healthcheck"]["test"])


def test_every_variable_it_interpolates_is_named_in_its_header() -> None:
    text = COMPOSE.read_text(encoding="utf-8")
    header = "\n".join(x for x in text.splitlines() if x.startswith("#"))
    used = {m.group(1) for m in VAR.finditer(text)}
    assert used == set(DOT_ENV), used ^ set(DOT_ENV)
    for name in used:
        assert name in header, f"{name} is used but the header does not say to set it"
    # the required host name fails loudly when it is missing
    with pytest.raises(ValueError, match="METERLINK_BROKER_HOSTNAME"):
        compose({k: v for k, v in DOT_ENV.items() if k != "METERLINK_BROKER_HOSTNAME"})


def test_meterlink_variables_are_server_settings_with_valid_values(tmp_path: Path) -> None:
    fields = set(Settings.model_fields)
    for name, svc in servers(compose()).items():
        env = environment(svc)
        ours = {k: v for k, v in env.items() if k.startswith("METERLINK_")}
        assert ours == env, (
            f"{name}: sets variables the server does not read: {sorted(set(env) - set(ours))}"
        )
        unknown = {k for k in ours if k[len("METERLINK_") :].lower() not in fields}
        assert not unknown, f"{name}: {sorted(unknown)} are not server settings"
        # the values pass the settings' own validation (URLs, time zone, numbers, flags)
        kwargs = {k[len("METERLINK_") :].lower(): v for k, v in ours.items()}
        settings = Settings(**kwargs)
        assert settings.database_url and settings.database_url.startswith("postgresql://")
        assert urlsplit(settings.database_url).hostname == "timescaledb"
        assert settings.mqtt_url and settings.mqtt_url.startswith("mqtts://")
        assert settings.auth_secret is not None
        # the CA file the server is told to use is mounted into its container
        assert str(settings.mqtt_tls_ca) in {dst for _, dst in bind_mounts(svc)}, name
    api = Settings(
        **{
            k[len("METERLINK_") :].lower(): v
            for k, v in environment(compose()["services"]["api"]).items()
        }
    )
    assert api.http_host == "0.0.0.0" and not api.ingest_enabled and api.jobs_enabled
    assert api.admin_password is not None
    assert api.public_url == "https://meterlink.example.org"  # behind the TLS proxy


def console_scripts() -> dict[str, str]:
    data = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    scripts: dict[str, str] = data["project"]["scripts"]
    return scripts


def test_every_command_is_a_real_console_script_and_subcommand() -> None:
    scripts = console_scripts()
    commands = {n: s["command"] for n, s in compose()["services"].items() if "command" in s}
    assert set(commands) == {"api", "ingest"}  # the others run their image's default
    for name, command in commands.items():
        argv = shlex.split(command) if isinstance(command, str) else list(command)
        assert argv[0] in scripts, f"{name}: {argv[0]} is not one of {sorted(scripts)}"
        # the subcommand exists: its own --help answers (runs nothing)
        module = scripts[argv[0]].split(":")[0]
        res = subprocess.run(
            [sys.executable, "-m", module, *argv[1:], "--help"],
            capture_output=True,
            text=True,
            timeout=60,
            cwd=ROOT,
        )
        assert res.returncode == 0 and "usage" in res.stdout.lower(), (name, res.stderr)
        installed = shutil.which(argv[0])
        if installed:  # the installed script, as the image runs it
            res = subprocess.run([installed, "--help"], capture_output=True, text=True, timeout=60)
            assert res.returncode == 0 and argv[1] in res.stdout, res.stdout


def acl_share_groups(acl: Path, user: str) -> set[str]:
    groups, current = set(), None
    for line in acl.read_text(encoding="utf-8").splitlines():
        words = line.split()
        if not words or words[0].startswith("#"):
            continue
        if words[0] == "user":
            current = words[1]
        elif words[0] == "topic" and current == user and words[1] in ("read", "readwrite"):
            m = re.match(r"\$share/([^/]+)/", words[2])
            if m:
                groups.add(m.group(1))
    return groups


def test_ingestion_shares_one_subscription_group_the_broker_allows() -> None:
    c = compose()
    ingesting = {
        n: s
        for n, s in servers(c).items()
        if environment(s).get("METERLINK_INGEST_ENABLED", "true").lower()
        not in ("false", "0", "no")
    }
    assert set(ingesting) == {"ingest"}
    assert c["services"]["ingest"]["deploy"]["replicas"] > 1
    groups = {environment(s).get("METERLINK_MQTT_SHARE_GROUP") for s in ingesting.values()}
    assert len(groups) == 1 and None not in groups and "" not in groups, groups
    group = groups.pop()
    assert group is not None
    # ... and not left to a default that could change: it is set in the file
    assert all("METERLINK_MQTT_SHARE_GROUP" in environment(s) for s in ingesting.values())
    # each replica needs its own MQTT client id: none is pinned, so the host name is used
    assert all("METERLINK_MQTT_CLIENT_ID" not in environment(s) for s in ingesting.values())
    user = {environment(s)["METERLINK_MQTT_USERNAME"] for s in ingesting.values()}.pop()
    assert group in acl_share_groups(MOSQUITTO_DIR / "acl", user)


def test_the_broker_config_is_the_one_tested_on_a_real_mosquitto() -> None:
    c = compose()
    mosq = c["services"]["mosquitto"]
    mounts = dict(bind_mounts(mosq))
    conf = MOSQUITTO_DIR / "mosquitto.conf"
    # the file tests/deploy/test_mosquitto_security.py starts a real broker with
    assert mounts.get(conf.resolve()) == "/mosquitto/config/mosquitto.conf", mounts
    text = conf.read_text(encoding="utf-8")
    listener = int(re.search(r"^listener (\d+)", text, re.M).group(1))  # type: ignore[union-attr]
    assert f"{listener}:{listener}" in mosq["ports"]
    for svc in servers(c).values():
        url = urlsplit(environment(svc)["METERLINK_MQTT_URL"])
        assert url.port == listener and url.scheme == "mqtts"  # the listener is TLS only
    assert re.search(r"^certfile ", text, re.M) and "allow_anonymous false" in text
    # every file the config names is in a mounted folder, or under a named volume
    by_dst = {PurePosixPath(dst): src for src, dst in bind_mounts(mosq)}
    vols = [PurePosixPath(v.split(":")[1]) for v in mosq["volumes"] if not v.startswith((".", "/"))]
    for key in (
        "password_file",
        "acl_file",
        "cafile",
        "certfile",
        "keyfile",
        "persistence_location",
    ):
        path = PurePosixPath(re.search(rf"^{key} (\S+)", text, re.M).group(1))  # type: ignore[union-attr]
        assert any(path == d or d in path.parents for d in [*by_dst, *vols]), (key, path)


def test_mounted_files_exist_or_are_made_by_the_header_steps(tmp_path: Path) -> None:
    """Files from the repository must exist; ./certs is made by the header's commands, which
    are run here (openssl, mosquitto_passwd) into a copy of deploy/compose."""
    for tool in ("openssl", "mosquitto_passwd"):
        _need(tool, shutil.which(tool) is not None)
    c = compose()
    site = tmp_path / "compose"
    site.mkdir()
    shutil.copy(COMPOSE, site / "compose.yaml")
    (tmp_path / "mosquitto").symlink_to(MOSQUITTO_DIR)
    env = {**os.environ, **DOT_ENV, "GATEWAY_PASSWORD": "gw-secret-0123"}
    steps = header_steps()
    assert any("make-ca.sh" in s for s in steps) and any("cp " in s for s in steps)
    for step in steps:
        step = step.replace("GATEWAY_PASSWORD=...", "")
        res = subprocess.run(
            ["bash", "-c", step], cwd=site, env=env, capture_output=True, text=True, timeout=120
        )
        assert res.returncode == 0, (step, res.stderr)
    for name, svc in c["services"].items():
        for src, dst in bind_mounts(svc):
            rel = src.relative_to(HERE.resolve()) if src.is_relative_to(HERE.resolve()) else None
            if src.exists():
                assert src.is_relative_to(ROOT / "deploy"), (name, src)
                continue
            assert rel is not None, f"{name}: {src} does not exist"
            assert (site / rel).exists(), f"{name}: {rel} ({dst}) is made by no header step"
    certs = site / "certs"
    for needed in ("ca.crt", "server.crt", "server.key", "passwd", "acl"):
        assert (certs / needed).exists(), needed
    # the broker's certificate names the host the servers connect to, and that host is a
    # name of the broker's service on the compose network (TLS checks the host name)
    host = urlsplit(environment(c["services"]["ingest"])["METERLINK_MQTT_URL"]).hostname
    mosq = c["services"]["mosquitto"]
    names = {"mosquitto", *mosq.get("networks", {}).get("default", {}).get("aliases", [])}
    assert host in names, (host, names)
    san = subprocess.run(
        ["openssl", "x509", "-in", str(certs / "server.crt"), "-noout", "-ext", "subjectAltName"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert san.returncode == 0 and f"DNS:{host}" in san.stdout, san.stdout
    # the server's MQTT user is in the broker's password file, made by the header's step
    assert "meterlink-server:" in (certs / "passwd").read_text()


def test_the_server_image_is_built_from_this_repository() -> None:
    """What the Dockerfile copies exists, pyproject's readme is among it, and its default
    command is a console script (the build itself needs an engine: not run here)."""
    c = compose()
    builds = {(s["build"]["context"], s["build"]["dockerfile"]) for s in servers(c).values()}
    assert len(builds) == 1
    context, dockerfile = builds.pop()
    ctx = (HERE / context).resolve()
    assert ctx == ROOT
    text = (ctx / dockerfile).read_text(encoding="utf-8")
    copied = set()
    for line in text.splitlines():
        if line.startswith("COPY "):
            for src in line.split()[1:-1]:
                assert (ctx / src).exists(), src
                copied.add(src)
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert {"pyproject.toml", project["project"]["readme"]} <= copied
    packages = project["tool"]["setuptools"]["packages"]["find"]["include"]
    assert {p.rstrip("*") for p in packages} <= copied
    cmd = re.search(r"^CMD (.+)$", text, re.M)
    assert cmd and json.loads(cmd.group(1))[0] in console_scripts()
    # the ignore file next to the Dockerfile lets through everything it copies
    ignore = (ctx / (dockerfile + ".dockerignore")).read_text(encoding="utf-8").split()
    assert {"*", *(f"!{x}" for x in copied)} <= set(ignore)
