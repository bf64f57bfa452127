"""Navigation (issue 19): the organisation tree with counts and the day's rate per node,
the area list, an area's concentrators, a concentrator's meters, and the search (personal
fields only for operators), on PostgreSQL and TimescaleDB."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from .helpers import auth_headers
from .workbench_data import D, build


def db(client: TestClient) -> str:
    return str(client.app.state.database_url)  # type: ignore[attr-defined]


def find(items: list[dict[str, Any]], ident: str) -> dict[str, Any] | None:
    for n in items:
        found = n if n["id"] == ident else find(n["children"], ident)
        if found:
            return found
    return None


def node(items: list[dict[str, Any]], ident: str) -> dict[str, Any]:
    found = find(items, ident)
    assert found is not None, f"{ident} not in the tree"
    return found


def test_the_tree_rolls_areas_up_to_their_units(client: TestClient) -> None:
    build(db(client))
    h = auth_headers(client, "viewer", db(client))
    r = client.get("/api/org/tree", params={"date": D.isoformat()}, headers=h)
    assert r.status_code == 200, r.text
    tree = r.json()
    assert tree["threshold"] == 0.98 and tree["date"] == D.isoformat()
    assert [n["id"] for n in tree["items"]] == ["CO"]
    co = tree["items"][0]
    assert (co["level"], co["meters"], co["due"], co["read"]) == ("company", 7, 7, 4)
    assert co["rate"] == round(4 / 7, 6) and co["below_threshold"] is True
    st1 = node(tree["items"], "ST1")
    assert st1["level"] == "station"  # from its depth: the archive leaves it null
    assert [c["id"] for c in st1["children"]] == ["A1"]
    a1 = st1["children"][0]
    assert (a1["type"], a1["meters"], a1["gateways"], a1["due"], a1["read"]) == ("area", 5, 1, 5, 3)
    assert node(tree["items"], "A2")["read"] == 1
    un = tree["unassigned"]
    assert [c["id"] for c in un["children"]] == ["A3"] and (un["due"], un["read"]) == (2, 2)
    assert un["below_threshold"] is False
    # the day before: everything read
    r = client.get("/api/org/tree", params={"date": "2026-11-19"}, headers=h)
    assert r.json()["items"][0]["rate"] == 1.0


def test_the_area_list_filters_by_unit_text_and_threshold(client: TestClient) -> None:
    build(db(client))
    h = auth_headers(client, "viewer", db(client))
    p = {"date": D.isoformat()}
    body = client.get("/api/org/areas", params=p, headers=h).json()
    assert (body["total"], body["limit"], body["offset"]) == (3, 50, 0)
    assert [a["id"] for a in body["items"]] == ["A1", "A2", "A3"]
    assert body["items"][0]["org_name"] == "城关供电所"
    under_co = client.get("/api/org/areas", params={**p, "org_id": "CO"}, headers=h).json()
    assert [a["id"] for a in under_co["items"]] == ["A1", "A2"]
    low = client.get("/api/org/areas", params={**p, "below_threshold": "true"}, headers=h)
    assert [a["id"] for a in low.json()["items"]] == ["A1", "A2"]
    named = client.get("/api/org/areas", params={**p, "q": "三号"}, headers=h).json()
    assert [a["id"] for a in named["items"]] == ["A3"]
    paged = client.get("/api/org/areas", params={**p, "limit": 1, "offset": 1}, headers=h)
    assert [a["id"] for a in paged.json()["items"]] == ["A2"] and paged.json()["total"] == 3
    assert client.get("/api/org/areas", params={"org_id": "nope"}, headers=h).status_code == 404
    bad = client.get("/api/org/areas", params={"date": "2026-13-01"}, headers=h)
    assert bad.status_code == 422 and "date" in bad.json()["detail"]
    assert client.get("/api/org/areas", params={"limit": 0}, headers=h).status_code == 422


def test_concentrators_of_an_area_and_meters_of_a_concentrator(client: TestClient) -> None:
    build(db(client))
    viewer = auth_headers(client, "viewer", db(client))
    p = {"date": D.isoformat()}
    gws = client.get("/api/org/areas/A1/gateways", params=p, headers=viewer).json()
    assert gws["total"] == 1
    g1 = gws["items"][0]
    assert (g1["id"], g1["meters"], g1["due"], g1["read"], g1["rate"]) == ("g1", 5, 5, 3, 0.6)
    meters = client.get("/api/org/gateways/g1/meters", params=p, headers=viewer).json()
    assert meters["total"] == 5
    read = {m["id"]: m["read"] for m in meters["items"]}
    assert read == {"M1": True, "M2": True, "M3": True, "M4": False, "M5": False}
    assert all(m["customer_name"] is None for m in meters["items"])  # a viewer sees no names
    op = auth_headers(client, "operator", db(client))
    meters = client.get("/api/org/gateways/g1/meters", params=p, headers=op).json()
    assert {m["id"]: m["customer_account"] for m in meters["items"]}["M2"] == "0101234567"
    assert client.get("/api/org/areas/ZZ/gateways", headers=viewer).status_code == 404
    assert client.get("/api/org/gateways/ZZ/meters", headers=viewer).status_code == 404


def test_search_by_id_address_account_and_name(client: TestClient) -> None:
    build(db(client))
    viewer = auth_headers(client, "viewer", db(client))
    op = auth_headers(client, "operator", db(client))

    def ids(q: str, h: dict[str, str]) -> list[str]:
        r = client.get("/api/search", params={"q": q}, headers=h)
        assert r.status_code == 200, r.text
        return [x["meter_id"] for x in r.json()["items"]]

    assert ids("m2", viewer) == ["M2"]  # id, case-insensitive
    assert ids("0000000002", viewer) == ["N1", "N2"]  # address prefix
    assert ids("0202", viewer) == ["N2"]  # address and account both hold it: listed once
    assert ids("999000", op) == ["M4", "M5"]  # account substring
    assert ids("张三", op) == ["M2"]
    assert ids("张三", viewer) == []  # viewers cannot find customers by name
    r = client.get("/api/search", params={"q": "acme"}, headers=op).json()
    assert r["items"][0]["matched"] == "name" and r["items"][0]["area_name"] == "二号台区"
    r = client.get("/api/search", params={"q": "0101234"}, headers=viewer).json()
    assert r["total"] == 2 and r["items"][0]["customer_account"] is None  # hidden
    assert client.get("/api/search", params={"q": "1%"}, headers=op).json()["total"] == 0
    assert client.get("/api/search", params={"q": "x"}, headers=op).status_code == 422
    assert client.get("/api/search", headers=op).status_code == 422
    page = client.get("/api/search", params={"q": "0000", "limit": 2}, headers=op).json()
    assert (page["total"], len(page["items"])) == (9, 2)


def test_levels_and_accounts_come_in_through_the_archive(client: TestClient) -> None:
    admin = auth_headers(client, "admin", db(client))
    r = client.put(
        "/api/org-units/CO2", json={"name": "市供电公司", "level": "company"}, headers=admin
    )
    assert r.status_code == 200 and r.json()["level"] == "company"
    r = client.put(
        "/api/org-units/S9", json={"name": "X", "parent_id": "CO2", "level": "area"}, headers=admin
    )
    assert r.status_code == 422 and "level" in r.json()["detail"]
    csv = (
        "表号,表地址,规约,集中器,台区,户号,户名,安装日期\n"
        "K1,000000000901,2007,GK,TK,0912345678,钱七,2025-01-01\n"
    )
    r = client.post(
        "/api/archive/import",
        headers=admin,
        files={"file": ("a.csv", csv.encode("utf-8"), "text/csv")},
    )
    assert r.status_code == 200, r.text
    assert client.get("/api/meters/K1", headers=admin).json()["customer_account"] == "0912345678"
    r = client.put("/api/areas/TK", json={"name": "TK", "org_unit_id": "CO2"}, headers=admin)
    assert r.status_code == 200
    found = client.get("/api/search", params={"q": "12345678"}, headers=admin).json()
    assert [x["meter_id"] for x in found["items"]] == ["K1"]
    tree = client.get("/api/org/tree", headers=admin).json()
    assert node(tree["items"], "TK")["meters"] == 1
    viewer = auth_headers(client, "viewer", db(client))
    assert client.get("/api/meters/K1", headers=viewer).json()["customer_account"] is None
