"""Archive REST: meters, areas, gateways and org units (CRUD with paging and filters), and
the all-or-nothing CSV/XLSX import. Every change is audited."""

import csv
import io
import re
from datetime import date
from typing import Annotated, Any, Literal

import psycopg
from fastapi import APIRouter, File, HTTPException, Query, Response, UploadFile
from pydantic import BaseModel, Field

from server.archive import importer
from server.archive import validate as v
from server.db.queries import archive as q

from ..actor import current_actor
from ..contract import CustomerClass, Paging, Protocol
from ..deps import Admin, Db, SettingsDep, Viewer
from ..models import ArchiveRecord, Imported, Page
from ..privacy import redact_meter
from .export import FILE_RESPONSES, Lang, Out, csv_cell, listing

MAX_UPLOAD = 50 * 1024 * 1024


class MeterIn(BaseModel):
    """A meter as the API takes it: the rules of :mod:`server.archive.validate` (the same as
    the import's)."""

    address: str = Field(pattern=r"^\d{12}$")
    protocol: Literal["dlt645-2007", "dlt645-1997", "modbus", "dlt698"]
    modbus_profile: v.ModbusProfile | None = None
    modbus_unit: int | None = Field(None, ge=1, le=247)
    gateway_id: v.IdField | None = None
    #: the day the meter came onto ``gateway_id`` (default: its installation day, or today
    #: when a change of gateway_id moves it); readings for earlier dates from that gateway
    #: are quarantined
    gateway_since: date | None = None
    bus: v.Bus | None = None
    area_id: v.IdField | None = None
    customer_class: Literal["residential", "commercial", "industrial", "agricultural", "other"] = (
        "residential"
    )
    customer_name: v.CustomerName | None = None
    customer_phone: v.CustomerPhone | None = None
    customer_account: v.CustomerAccount | None = None
    customer_address: v.CustomerAddress | None = None
    phases: Literal[1, 3] = 1
    rated_voltage: v.RatedVoltage | None = None
    rated_current: v.RatedCurrent | None = None
    ct_ratio: v.CtRatio = 1
    pt_ratio: v.PtRatio = 1
    contracted_kw: v.ContractedKw | None = None
    is_generation: bool = False
    is_area_master: bool = False
    installed_on: date
    removed_on: date | None = None
    replaces_meter_id: v.IdField | None = None


class MeterPatch(BaseModel):
    model_config = {"extra": "forbid"}
    address: str | None = Field(None, pattern=r"^\d{12}$")
    gateway_id: v.IdField | None = None
    gateway_since: date | None = None
    bus: v.Bus | None = None
    area_id: v.IdField | None = None
    customer_class: (
        Literal["residential", "commercial", "industrial", "agricultural", "other"] | None
    ) = None
    customer_name: v.CustomerName | None = None
    customer_phone: v.CustomerPhone | None = None
    customer_account: v.CustomerAccount | None = None
    customer_address: v.CustomerAddress | None = None
    ct_ratio: v.CtRatio | None = None
    pt_ratio: v.PtRatio | None = None
    contracted_kw: v.ContractedKw | None = None
    removed_on: date | None = None


class AreaIn(BaseModel):
    name: v.Name = Field(min_length=1)
    org_unit_id: v.IdField | None = None
    master_meter_id: v.IdField | None = None
    capacity_kva: v.CapacityKva | None = None


class GatewayIn(BaseModel):
    name: v.Name = ""
    area_id: v.IdField | None = None
    org_unit_id: v.IdField | None = None


class OrgUnitIn(BaseModel):
    name: v.Name = Field(min_length=1)
    parent_id: v.IdField | None = None
    #: 供电单位 (company) or 供电所 (station); none: taken from the unit's depth in the tree
    level: Literal["company", "station"] | None = None


def _write(conn: psycopg.Connection[Any], fn: Any, tz: str) -> Any:
    """Run ``fn(conn)`` in a transaction whose dates are the utility's: a meter moved to
    another gateway without a ``gateway_since`` moves on today's date there (the archive's
    trigger takes the session's ``current_date``)."""
    try:
        with conn.transaction():
            conn.execute("SELECT set_config('TimeZone', %s, true)", (tz,))
            return fn(conn)
    except psycopg.errors.ForeignKeyViolation as exc:
        raise HTTPException(
            409, f"refers to something that does not exist: {exc.diag.message_detail}"
        ) from None
    except psycopg.errors.IntegrityError as exc:
        raise HTTPException(
            409, f"conflicts with the archive: {exc.diag.message_primary}"
        ) from None


def _check_id(key: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9_.:-]{1,64}", key):
        raise HTTPException(400, f"bad id {key!r}: 1-64 letters, digits or _ . : -")
    return key


def _new_id(key: str) -> str:
    try:
        return v.archive_id(key)
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from None


def refused(table: str, key: str, uses: list[str]) -> None:
    """409 when something still refers to the record: a meter with readings is never
    deleted (it is retired by ``removed_on``, and its readings stay reachable)."""
    if not uses:
        return
    what = table[:-1].replace("_", " ")
    advice = (
        "set removed_on instead (an audited change; its readings stay reachable)"
        if table == "meters"
        else "move or delete those first"
    )
    raise HTTPException(409, f"{what} {key!r} is still referred to by {', '.join(uses)}: {advice}")


WHAT = {
    "org_units": ("供电单位档案", "Organisation units"),
    "areas": ("台区档案", "Areas"),
    "gateways": ("集中器档案", "Concentrators"),
    "meters": ("电表档案", "Meters"),
}


def crud(
    router: APIRouter, table: str, model: type[BaseModel], patch: type[BaseModel] | None = None
) -> None:
    """List, get, put and delete (and patch, given a patch model) one archive table."""
    path = table.replace("_", "-")
    what = WHAT[table]
    one = what[1].lower().rstrip("s")

    @router.get(
        f"/{path}",
        name=f"list_{table}",
        response_model=Page,
        responses=FILE_RESPONSES,
        description=f"The {what[1].lower()} of the archive by id, filtered, paged; "
        "``format=csv|xlsx`` answers all matching records as a file (customers' personal "
        "details hidden from viewers). A filter the table has no column for answers 422.",
    )
    def list_items(
        principal: Viewer,
        conn: Db,
        page: Paging,
        out: Out,
        area_id: Annotated[str | None, Query(description="only this area's")] = None,
        gateway_id: Annotated[str | None, Query(description="only this concentrator's")] = None,
        org_id: Annotated[
            str | None, Query(description="only this organisation unit's (org_unit_id)")
        ] = None,
        protocol: Annotated[Protocol | None, Query(description="meters of this protocol")] = None,
        customer_class: Annotated[
            CustomerClass | None, Query(description="meters of this customer class")
        ] = None,
    ) -> Any:
        asked = {
            "area_id": ("area_id", area_id),
            "gateway_id": ("gateway_id", gateway_id),
            "org_id": ("org_unit_id", org_id),
            "protocol": ("protocol", protocol),
            "customer_class": ("customer_class", customer_class),
        }
        filters: dict[str, Any] = {}
        for name, (column, value) in asked.items():
            if value is None:
                continue
            if column not in q.TABLES[table]:
                raise HTTPException(422, f"query.{name}: {path} cannot be filtered by {name}")
            filters[column] = value

        def fetch(limit: int, offset: int) -> tuple[list[dict[str, Any]], int]:
            rows, total = q.listing(conn, table, filters=filters, limit=limit, offset=offset)
            if table == "meters":
                rows = [redact_meter(r, principal) for r in rows]
            return rows, total

        return listing(
            conn,
            principal,
            out,
            page,
            fetch,
            report=path,
            what=what,
            scope={
                "area_id": area_id,
                "gateway_id": gateway_id,
                "org_id": org_id,
                "protocol": protocol,
                "customer_class": customer_class,
            },
        )

    @router.get(
        f"/{path}/{{key}}", name=f"get_{table}", description=f"One {one} by its id (404 if none)."
    )
    def get_item(principal: Viewer, conn: Db, key: str) -> ArchiveRecord:
        row = q.get(conn, table, _check_id(key))
        if row is None:
            raise HTTPException(404, f"no {table[:-1].replace('_', ' ')} {key!r}")
        return ArchiveRecord.model_validate(
            redact_meter(row, principal) if table == "meters" else row
        )

    @router.put(
        f"/{path}/{{key}}",
        name=f"put_{table}",
        description=f"Create or replace a {one} (audited; 409 when it refers to something "
        "that does not exist or conflicts with the archive).",
    )
    def put_item(
        principal: Admin,
        key: str,
        body: model,  # type: ignore[valid-type]
        conn: Db,
        settings: SettingsDep,
    ) -> ArchiveRecord:
        values = body.model_dump()  # type: ignore[attr-defined]

        def run(conn: Any) -> dict[str, Any]:
            if q.get(conn, table, _check_id(key)) is None:
                _new_id(key)  # a new record's id follows the wire's grammar
            return q.upsert(conn, table, key, values, actor=current_actor(principal))

        return ArchiveRecord.model_validate(_write(conn, run, settings.utility_timezone))

    @router.delete(
        f"/{path}/{{key}}",
        status_code=204,
        name=f"delete_{table}",
        description=f"Delete a {one} (audited); 409 while something still refers to it (a "
        "meter with readings is retired with removed_on instead).",
    )
    def delete_item(principal: Admin, key: str, conn: Db, settings: SettingsDep) -> None:
        def run(conn: Any) -> bool:
            if q.get(conn, table, _check_id(key)) is None:
                return False
            refused(table, key, q.in_use(conn, table, key))
            return q.delete(conn, table, key, actor=current_actor(principal))

        if not _write(conn, run, settings.utility_timezone):
            raise HTTPException(404, f"no {table[:-1].replace('_', ' ')} {key!r}")

    if patch is not None:

        @router.patch(
            f"/{path}/{{key}}",
            name=f"patch_{table}",
            description=f"Change some fields of a {one} (audited).",
        )
        def patch_item(
            principal: Admin,
            key: str,
            body: patch,  # type: ignore[valid-type]
            conn: Db,
            settings: SettingsDep,
        ) -> ArchiveRecord:
            values = body.model_dump(exclude_unset=True)  # type: ignore[attr-defined]

            def run(conn: Any) -> dict[str, Any]:
                if q.get(conn, table, _check_id(key)) is None:
                    raise HTTPException(404, f"no meter {key!r}")
                return q.upsert(conn, table, key, values, actor=current_actor(principal))

            return ArchiveRecord.model_validate(_write(conn, run, settings.utility_timezone))


def import_archive(
    principal: Admin, conn: Db, settings: SettingsDep, file: UploadFile = File(...)
) -> Imported:
    """Import meters (with their areas and concentrators) from a CSV or XLSX file, all or
    nothing: every row is checked first and any problem answers 422 with the rows' problems
    (at most 50 MB and 200,000 rows). Audited."""
    # a plain ``def``: FastAPI runs it in its thread pool, so parsing a large file never
    # holds up the event loop (other requests are answered meanwhile)
    if (file.size or 0) > MAX_UPLOAD:
        raise HTTPException(413, f"file over {MAX_UPLOAD // 1024 // 1024} MB")
    name = file.filename or "upload"
    try:
        good, errors = importer.check(name, file.file)
    except importer.ArchiveTooLarge as exc:
        raise HTTPException(413, str(exc)) from None
    except importer.ArchiveFileError as exc:
        raise HTTPException(400, str(exc)) from None
    if errors:
        raise HTTPException(
            422,
            {
                "message": f"nothing imported: {len(errors)} problems",
                "errors": [e.__dict__ for e in errors[: importer.MAX_REPORTED]],
            },
        )
    actor = current_actor(principal)

    def run(conn: Any) -> dict[str, Any]:
        created = updated = 0
        areas: set[str] = set()
        gateways: set[str] = set()
        for r in importer.records(name, file.file):
            area, gw = r.get("area_id"), r.get("gateway_id")
            if area and area not in areas:
                areas.add(area)
                if q.get(conn, "areas", area) is None:
                    q.upsert(conn, "areas", area, {"name": area}, actor=actor)
            if gw and gw not in gateways:
                gateways.add(gw)
                before = q.get(conn, "gateways", gw)
                if before is None:
                    q.upsert(conn, "gateways", gw, {"name": gw}, actor=actor)
                elif not before["known"]:
                    q.mark_gateway_known(conn, gateway_id=gw)
                    q.audit(
                        conn,
                        actor=actor,
                        action="gateways.update",
                        entity="gateways",
                        entity_id=gw,
                        before=before,
                        after=q.get(conn, "gateways", gw),
                    )
            existed = q.get(conn, "meters", r["id"]) is not None
            q.upsert(
                conn, "meters", r["id"], {k: x for k, x in r.items() if k != "id"}, actor=actor
            )
            updated += existed
            created += not existed
            if r.get("is_area_master") and area:
                q.upsert(conn, "areas", area, {"master_meter_id": r["id"]}, actor=actor)
        return {"imported": created + updated, "created": created, "updated": updated}

    return Imported.model_validate(_write(conn, run, settings.utility_timezone))


def archive_template(
    _: Admin,
    lang: Annotated[Lang, Query(description="header names: zh (usual Chinese) or en")] = "zh",
) -> Response:
    """An empty import file: a CSV (UTF-8 with BOM, so spreadsheet programs open Chinese
    headers right) whose header row names every column the import reads. Required:
    the meter id, address, protocol and installation date."""
    buf = io.StringIO()
    csv.writer(buf).writerow([csv_cell(h) for h in importer.template_headers(lang)])
    return Response(
        "\ufeff" + buf.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="meter-archive-{lang}.csv"'},
    )


def archive_router() -> APIRouter:
    """The archive's routes, built when the application is (not when this module is
    imported): CRUD for org units, areas, gateways and meters, and the import."""
    router = APIRouter(prefix="/api", tags=["archive"])
    crud(router, "org_units", OrgUnitIn)
    crud(router, "areas", AreaIn)
    crud(router, "gateways", GatewayIn)
    crud(router, "meters", MeterIn, MeterPatch)
    router.add_api_route("/archive/import", import_archive, methods=["POST"])
    router.add_api_route(
        "/archive/template",
        archive_template,
        methods=["GET"],
        response_class=Response,
        responses={200: {"content": {"text/csv": {}}, "description": "the empty import file"}},
    )
    return router
