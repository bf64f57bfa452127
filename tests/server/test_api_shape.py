"""The API's OpenAPI document describes every answer: each public GET has a response
schema, and no operation answers a bare ``dict`` (an object the document cannot describe).

The document is built without starting the application (no database, no broker)."""

from __future__ import annotations

from typing import Any

import pytest

from server.api.app import create_app
from server.settings import Settings

# answers that are not JSON by design, with the media type they use
NOT_JSON = {
    ("get", "/metrics"): "text/plain",
    ("get", "/docs"): None,
    ("get", "/docs/oauth2-redirect"): None,
    ("get", "/redoc"): None,
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
