"""Archive REST: meters, areas, gateways and org units (CRUD with paging and filters), and
the all-or-nothing CSV/XLSX import. Every change is audited."""

import re
from datetime import date
from typing import Any, Literal

import psycopg
from fastapi import APIRouter, File, HTTPException, Query, UploadFile
from pydantic import BaseModel, Field

from server.archive.importer import ArchiveFileError, read_table, validate
from server.db.queries import archive as q

from ..actor import current_actor
from ..deps import Admin, Db, SettingsDep, Viewer
from ..models import ArchiveRecord, Imported, Page
from ..privacy import redact_meter

MAX_UPLOAD = 50 * 1024 * 1024


class MeterIn(BaseModel):
    address: str = Field(pattern=r"^\d{12}$")
    protocol: Literal["dlt645-2007", "dlt645-1997", "modbus"]
    modbus_profile: str | None = None
    modbus_unit: int | None = Field(None, ge=1, le=247)
    gateway_id: str | None = None
    #: the day the meter came onto ``gateway_id`` (default: its installation day, or today
    #: when a change of gateway_id moves it); readings for earlier dates from that gateway
    #: are quarantined
    gateway_since: date | None = None
    bus: str | None = None
    area_id: str | None = None
    customer_class: Literal["residential", "commercial", "industrial", "agricultural", "other"] = (
        "residential"
    )
    customer_name: str | None = None
    customer_phone: str | None = None
    customer_address: str | None = None
    phases: Literal[1, 3] = 1
    rated_voltage: float | None = Field(None, gt=0)
    rated_current: float | None = Field(None, gt=0)
    ct_ratio: float = Field(1, gt=0)
    pt_ratio: float = Field(1, gt=0)
    contracted_kw: float | None = Field(None, ge=0)
    is_generation: bool = False
    is_area_master: bool = False
    installed_on: date
    removed_on: date | None = None
    replaces_meter_id: str | None = None


class MeterPatch(BaseModel):
    model_config = {"extra": "forbid"}
    address: str | None = Field(None, pattern=r"^\d{12}$")
    gateway_id: str | None = None
    gateway_since: date | None = None
    bus: str | None = None
    area_id: str | None = None
    customer_class: (
        Literal["residential", "commercial", "industrial", "agricultural", "other"] | None
    ) = None
    customer_name: str | None = None
    customer_phone: str | None = None
    customer_address: str | None = None
    ct_ratio: float | None = Field(None, gt=0)
    pt_ratio: float | None = Field(None, gt=0)
    contracted_kw: float | None = Field(None, ge=0)
    removed_on: date | None = None


class AreaIn(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    org_unit_id: str | None = None
    master_meter_id: str | None = None
    capacity_kva: float | None = Field(None, gt=0)


class GatewayIn(BaseModel):
    name: str = Field("", max_length=200)
    area_id: str | None = None
    org_unit_id: str | None = None


class OrgUnitIn(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    parent_id: str | None = None


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


def crud(
    router: APIRouter, table: str, model: type[BaseModel], patch: type[BaseModel] | None = None
) -> None:
    """List, get, put and delete (and patch, given a patch model) one archive table."""
    path = table.replace("_", "-")

    @router.get(f"/{path}", name=f"list_{table}")
    def list_items(
        principal: Viewer,
        conn: Db,
        limit: int = Query(100, ge=1, le=1000),
        offset: int = Query(0, ge=0, le=1_000_000_000),
        area_id: str | None = None,
        gateway_id: str | None = None,
    ) -> Page:
        filters: dict[str, Any] = {}
        if area_id is not None and "area_id" in q.TABLES[table]:
            filters["area_id"] = area_id
        if gateway_id is not None and "gateway_id" in q.TABLES[table]:
            filters["gateway_id"] = gateway_id
        rows, total = q.listing(conn, table, filters=filters, limit=limit, offset=offset)
        if table == "meters":
            rows = [redact_meter(r, principal) for r in rows]
        return Page(items=rows, total=total, limit=limit, offset=offset)

    @router.get(f"/{path}/{{key}}", name=f"get_{table}")
    def get_item(principal: Viewer, conn: Db, key: str) -> ArchiveRecord:
        row = q.get(conn, table, _check_id(key))
        if row is None:
            raise HTTPException(404, f"no {table[:-1].replace('_', ' ')} {key!r}")
        return ArchiveRecord.model_validate(
            redact_meter(row, principal) if table == "meters" else row
        )

    @router.put(f"/{path}/{{key}}", name=f"put_{table}")
    def put_item(
        principal: Admin,
        key: str,
        body: model,  # type: ignore[valid-type]
        conn: Db,
        settings: SettingsDep,
    ) -> ArchiveRecord:
        values = body.model_dump()  # type: ignore[attr-defined]
        return ArchiveRecord.model_validate(
            _write(
                conn,
                lambda conn: q.upsert(
                    conn, table, _check_id(key), values, actor=current_actor(principal)
                ),
                settings.utility_timezone,
            )
        )

    @router.delete(f"/{path}/{{key}}", status_code=204, name=f"delete_{table}")
    def delete_item(principal: Admin, key: str, conn: Db, settings: SettingsDep) -> None:
        if not _write(
            conn,
            lambda conn: q.delete(conn, table, _check_id(key), actor=current_actor(principal)),
            settings.utility_timezone,
        ):
            raise HTTPException(404, f"no {table[:-1].replace('_', ' ')} {key!r}")

    if patch is not None:

        @router.patch(f"/{path}/{{key}}", name=f"patch_{table}")
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


async def import_archive(
    principal: Admin, conn: Db, settings: SettingsDep, file: UploadFile = File(...)
) -> Imported:
    content = await file.read(MAX_UPLOAD + 1)
    if len(content) > MAX_UPLOAD:
        raise HTTPException(413, f"file over {MAX_UPLOAD // 1024 // 1024} MB")
    try:
        rows = read_table(file.filename or "upload", content)
        good, errors = validate(rows)
    except ArchiveFileError as exc:
        raise HTTPException(400, str(exc)) from None
    if errors:
        raise HTTPException(
            422,
            {
                "message": f"nothing imported: {len(errors)} problems",
                "errors": [e.__dict__ for e in errors[:1000]],
            },
        )
    actor = current_actor(principal)

    def run(conn: Any) -> dict[str, Any]:
        created = updated = 0
        for area in {r["area_id"] for r in good if r.get("area_id")}:
            if q.get(conn, "areas", area) is None:
                q.upsert(conn, "areas", area, {"name": area}, actor=actor)
        for gw in {r["gateway_id"] for r in good if r.get("gateway_id")}:
            if q.get(conn, "gateways", gw) is None:
                q.upsert(conn, "gateways", gw, {"name": gw}, actor=actor)
            else:
                q.mark_gateway_known(conn, gateway_id=gw)
        for r in good:
            existed = q.get(conn, "meters", r["id"]) is not None
            q.upsert(
                conn, "meters", r["id"], {k: v for k, v in r.items() if k != "id"}, actor=actor
            )
            updated += existed
            created += not existed
        for r in good:
            if r.get("is_area_master") and r.get("area_id"):
                q.set_area_master(conn, area_id=r["area_id"], meter_id=r["id"])
        return {"imported": len(good), "created": created, "updated": updated}

    return Imported.model_validate(_write(conn, run, settings.utility_timezone))


def archive_router() -> APIRouter:
    """The archive's routes, built when the application is (not when this module is
    imported): CRUD for org units, areas, gateways and meters, and the import."""
    router = APIRouter(prefix="/api", tags=["archive"])
    crud(router, "org_units", OrgUnitIn)
    crud(router, "areas", AreaIn)
    crud(router, "gateways", GatewayIn)
    crud(router, "meters", MeterIn, MeterPatch)
    router.add_api_route("/archive/import", import_archive, methods=["POST"])
    return router
