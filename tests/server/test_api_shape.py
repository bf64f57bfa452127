"""The API's OpenAPI document describes every answer: each public GET has a response
schema, and no operation answers a bare ``dict`` (an object the document cannot describe).

The document is built without starting the application (no database, no broker)."""

from __future__ import annotations

from typing import Any

import pytest

from server.api.app import create_app
from server.auth.deps import COOKIE_NAME
from server.settings import Settings

# answers that are not JSON by design, with the media type they use
NOT_JSON = {
    ("get", "/metrics"): "text/plain",
    ("get", "/api/archive/template"): "text/csv",
}


@pytest.fixture(scope="module")
def spec(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    settings = Settings(
        database_url="postgresql://nobody@127.0.0.1:1/none",
        mqtt_url="mqtt://127.0.0.1:1",
        data_dir=tmp_path_factory.mktemp("shape"),
        auth_secret="shape-secret-shape-secret-shape-secret",
        jobs_enabled=False,
    )
    document: dict[str, Any] = create_app(settings, services=[]).openapi()
    return document


def _operations(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method, path, op)
        for path, ops in spec["paths"].items()
        for method, op in ops.items()
        if method in ("get", "put", "post", "patch", "delete")
    ]


def _success(op: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    codes = sorted(c for c in op["responses"] if c.startswith("2"))
    assert codes, "no success response"
    return codes[0], op["responses"][codes[0]]


def _resolve(spec: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    if ref is None:
        return schema
    name = ref.rsplit("/", 1)[-1]
    resolved: dict[str, Any] = spec["components"]["schemas"][name]
    return resolved


def _is_bare_dict(spec: dict[str, Any], schema: dict[str, Any]) -> bool:
    """An object with no named properties (``dict[str, Any]``), or no schema at all."""
    if not schema:
        return True
    if schema.get("type") == "array":
        return _is_bare_dict(spec, schema.get("items", {}))
    schema = _resolve(spec, schema)
    return schema.get("type") == "object" and not schema.get("properties")


def test_every_public_get_has_a_response_schema(spec: dict[str, Any]) -> None:
    checked = 0
    for method, path, op in _operations(spec):
        if method != "get" or ("get", path) in NOT_JSON:
            continue
        code, response = _success(op)
        schema = response.get("content", {}).get("application/json", {}).get("schema")
        assert schema, f"GET {path} has no JSON schema for its {code} answer"
        assert not _is_bare_dict(spec, schema), f"GET {path} answers a bare dict"
        checked += 1
    assert checked >= 25


def test_no_operation_answers_a_bare_dict(spec: dict[str, Any]) -> None:
    bare = []
    for method, path, op in _operations(spec):
        if (method, path) in NOT_JSON:
            continue
        code, response = _success(op)
        if code == "204":
            continue
        schema = response.get("content", {}).get("application/json", {}).get("schema")
        if schema is None or _is_bare_dict(spec, schema):
            bare.append(f"{method.upper()} {path}")
    assert not bare, bare


def test_the_metrics_say_what_they_are(spec: dict[str, Any]) -> None:
    content = spec["paths"]["/metrics"]["get"]["responses"]["200"]["content"]
    assert any(media.startswith("text/plain") for media in content)


def test_reports_that_export_files_say_so(spec: dict[str, Any]) -> None:
    for path in ("/api/completeness", "/api/failed-meters", "/api/anomalies"):
        content = spec["paths"][path]["get"]["responses"]["200"]["content"]
        assert {"application/json", "text/csv"} <= set(content), path
        assert any("spreadsheetml" in media for media in content), path


def test_rows_of_the_open_bodies_keep_their_extra_columns(spec: dict[str, Any]) -> None:
    for name in ("ArchiveRecord", "Anomaly", "Command"):
        assert spec["components"]["schemas"][name].get("additionalProperties") is True, name


# --- the contract of issue 19: security, descriptions, one naming, one paging ------------

PUBLIC = {
    ("get", "/health/live"),
    ("get", "/health/ready"),
    ("get", "/metrics"),
    ("post", "/api/auth/login"),
}
#: old filter spellings: accepted only as deprecated aliases
OLD_NAMES = {"area", "gateway", "meter", "day", "from", "to", "org"}


def test_the_security_schemes_are_declared(spec: dict[str, Any]) -> None:
    schemes = spec["components"]["securitySchemes"]
    assert schemes["bearer"] == {**schemes["bearer"], "type": "http", "scheme": "bearer"}
    cookie = schemes["session_cookie"]
    assert (cookie["type"], cookie["in"], cookie["name"]) == ("apiKey", "cookie", COOKIE_NAME)


def test_every_operation_has_a_description_a_response_model_and_security(
    spec: dict[str, Any],
) -> None:
    problems = []
    operations = _operations(spec)
    for method, path, op in operations:
        where = f"{method.upper()} {path}"
        # the role line the document adds does not count as a description
        text = op.get("description", "").split("Needs the **")[0].strip()
        if len(text) < 20:
            problems.append(f"{where}: no description")
        code, response = _success(op)
        if code != "204" and (method, path) not in NOT_JSON:
            schema = response.get("content", {}).get("application/json", {}).get("schema")
            if not schema or _is_bare_dict(spec, schema):
                problems.append(f"{where}: no response model")
        if (method, path) in PUBLIC:
            if op.get("security") != []:
                problems.append(f"{where}: public, but does not say security: []")
        else:
            if op.get("security") != [{"bearer": []}, {"session_cookie": []}]:
                problems.append(f"{where}: no security requirement")
            if op.get("x-role") not in ("viewer", "operator", "admin"):
                problems.append(f"{where}: no role")
            if "401" not in op["responses"]:
                problems.append(f"{where}: no 401 answer")
    assert len(operations) >= 40
    assert not problems, "\n".join(problems)


def test_filters_are_named_one_way(spec: dict[str, Any]) -> None:
    old = []
    for method, path, op in _operations(spec):
        for p in op.get("parameters", []):
            if p["in"] == "query" and p["name"] in OLD_NAMES and not p.get("deprecated"):
                old.append(f"{method.upper()} {path} ?{p['name']}")
    assert not old, old


def test_every_list_pages_alike(spec: dict[str, Any]) -> None:
    """An operation taking limit and offset answers items, total, limit and offset (total
    an integer), limit defaults to 50 and goes up to 1000."""
    lists = 0
    for _method, path, op in _operations(spec):
        params = {p["name"]: p for p in op.get("parameters", []) if p["in"] == "query"}
        if "offset" not in params:
            continue
        if path.startswith("/api/meters/{meter}/"):
            continue  # a meter's readings and events of a day: paged with their own sizes
        lists += 1
        limit = params["limit"]["schema"]
        assert (limit.get("default"), limit.get("minimum"), limit.get("maximum")) == (
            50,
            1,
            1000,
        ), path
        _, response = _success(op)
        schema = _resolve(spec, response["content"]["application/json"]["schema"])
        props = schema["properties"]
        assert {"items", "total", "limit", "offset"} <= set(props), path
        assert props["total"]["type"] == "integer", path
    assert lists >= 12


def test_enumerated_filters_say_their_values(spec: dict[str, Any]) -> None:
    params = {p["name"]: p for p in spec["paths"]["/api/anomalies"]["get"]["parameters"]}

    def values(schema: dict[str, Any]) -> set[str]:
        for option in schema.get("anyOf", [schema]):
            option = _resolve(spec, option)
            if "enum" in option:
                return set(option["enum"])
        return set()

    assert values(params["status"]["schema"]) == {"open", "confirmed", "dismissed", "closed"}
    assert {"decrease", "flying", "line_loss"} <= values(params["rule"]["schema"])
