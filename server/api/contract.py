"""The API's contract for every route (the lead's conventions of issue 19): one paging, one
filter vocabulary, and no silently ignored input.

* **Paging**: every list takes ``limit`` (default 50, 1..1000) and ``offset`` (>= 0) as
  :data:`Paging` and answers ``{"items", "total", "limit", "offset"}`` (plus summary keys
  where useful); counts are JSON integers.
* **Filters** are named ``area_id``, ``gateway_id``, ``meter_id``, ``org_id``, ``protocol``,
  ``rule``, ``status``, ``reason``, ``date`` (one day), ``start``/``end``, ``lang``. Filters
  with a closed vocabulary (:data:`AnomalyStatus`, :class:`RuleName`, :data:`Protocol`,
  :data:`CustomerClass`) are typed by it, so an unknown value answers 422 naming the
  parameter instead of an empty list. Old spellings stay as deprecated aliases
  (``Query(alias=..., deprecated=True)``) where the dashboard or a README example used them;
  :func:`one_of` merges a name and its alias.
* **Unknown query parameters** answer 422 naming them (:func:`reject_unknown_query`, an
  application-wide dependency): a misspelt filter would otherwise list everything.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Literal, TypeVar

from fastapi import Depends, HTTPException, Query, Request
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from protocols.vocabulary import MeterProtocol
from server.anomaly_workflow import Status
from server.checks.rule_table import RULES

DEFAULT_LIMIT = 50
MAX_LIMIT = 1000
MAX_OFFSET = 1_000_000_000

#: an anomaly's status, as stored and as filtered
AnomalyStatus = Status
#: a meter's protocol, as the archive names it
Protocol = Literal["dlt645-2007", "dlt645-1997", "modbus", "dlt698"]
CustomerClass = Literal["residential", "commercial", "industrial", "agricultural", "other"]
#: the anomaly rules, named as :data:`server.checks.rule_table.RULES` names them
RuleName = StrEnum("RuleName", [(r.name, r.name) for r in RULES])  # type: ignore[misc]
RuleName.__doc__ = "An anomaly rule's name (GET /api/rules lists them)."

assert set(Protocol.__args__) == {p.value for p in MeterProtocol}  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Page:
    limit: int
    offset: int


def paging(
    limit: Annotated[
        int, Query(ge=1, le=MAX_LIMIT, description="items per page (1..1000)")
    ] = DEFAULT_LIMIT,
    offset: Annotated[
        int, Query(ge=0, le=MAX_OFFSET, description="items to skip (0 = the first page)")
    ] = 0,
) -> Page:
    return Page(limit, offset)


Paging = Annotated[Page, Depends(paging)]

T = TypeVar("T")


def one_of(name: str, value: T | None, alias: str, old: T | None) -> T | None:
    """A filter given by its name or by its deprecated alias (422 when both disagree)."""
    if value is not None and old is not None and value != old:
        raise HTTPException(422, f"query.{name}: given twice ({name} and its old name {alias})")
    return value if value is not None else old


def _query_names(dependant: Dependant) -> set[str]:
    names = {p.alias for p in dependant.query_params}
    for sub in dependant.dependencies:
        names |= _query_names(sub)
    return names


# route id -> (the route, kept so its id is not reused; the names it takes)
_ACCEPTED: dict[int, tuple[APIRoute, frozenset[str]]] = {}


def _accepted(route: APIRoute) -> frozenset[str]:
    found = _ACCEPTED.get(id(route))
    if found is None or found[0] is not route:
        found = (route, frozenset(_query_names(route.dependant)))
        _ACCEPTED[id(route)] = found
    return found[1]


def reject_unknown_query(request: Request) -> None:
    """422 for a query parameter the ``/api`` operation does not take, naming it and what
    the operation does take."""
    route = request.scope.get("route")
    if not isinstance(route, APIRoute) or not route.path_format.startswith("/api/"):
        return
    accepted = _accepted(route)
    unknown = sorted({k for k in request.query_params if k not in accepted})
    if unknown:
        takes = ", ".join(sorted(accepted)) or "no query parameters"
        raise HTTPException(
            422,
            "; ".join(f"query.{k}: unknown query parameter" for k in unknown)
            + f" (this operation takes: {takes})",
        )
