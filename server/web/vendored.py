"""The browser libraries vendored into the repository (``server/web/vendor``), served at
``/vendor`` so no page needs a CDN (utility master stations run on offline intranets).

Each library lives in ``vendor/<dir>/<version>/`` with its licence and a ``VERSIONS.txt``
(file, package, version, licence, npm package); ``deploy/scripts/vendor-web.sh`` refreshes
them from the npm registry from the ``vendor/*.list`` files and keeps one version per
library, which :func:`url` finds, so a version bump changes no Python code.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

VENDOR = Path(__file__).parent / "vendor"
PREFIX = "/vendor"


class NotVendored(LookupError):
    """A library or file that ``server/web/vendor`` does not hold."""


@cache
def version(lib: str) -> str:
    """The vendored version of ``lib`` (the one directory under ``vendor/<lib>``)."""
    found = sorted(p.name for p in (VENDOR / lib).glob("*") if p.is_dir())
    if len(found) != 1:
        raise NotVendored(
            f"server/web/vendor/{lib} holds {found or 'nothing'}, not one version: "
            "run deploy/scripts/vendor-web.sh"
        )
    return found[0]


def url(lib: str, file: str) -> str:
    """The URL path of a vendored file, e.g. ``/vendor/redoc/2.5.4/redoc.standalone.js``."""
    v = version(lib)
    if not (VENDOR / lib / v / file).is_file():
        raise NotVendored(f"server/web/vendor/{lib}/{v} has no {file}")
    return f"{PREFIX}/{lib}/{v}/{file}"


def mount(app: FastAPI) -> None:
    app.mount(PREFIX, StaticFiles(directory=VENDOR), name="vendor")
