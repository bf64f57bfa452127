"""Request limits: bodies capped while they stream in, and bad text answered 4xx, not 500.

:class:`BodyLimit` is a small ASGI middleware. A ``Content-Length`` over the limit is answered
413 at once, before a byte of the body is read; otherwise it counts the bytes as they arrive
and answers 413 as soon as they pass the limit, so a 210 MB sign-in body costs nothing but
the first MiB. The limit is :data:`JSON_LIMIT` (1 MiB) for every route except the archive
import, which takes files up to its documented 50 MB (:data:`IMPORT_LIMIT` adds room for
the multipart framing; the route itself still refuses a file over 50 MB).

A lone surrogate (``"\\ud800"`` in a JSON body) parses into a Python string that cannot be
encoded as UTF-8: the database driver or the logger fails on it. :func:`add_limits`
answers that 422 with a clear message instead of a 500 with a traceback.
"""

from __future__ import annotations

import re

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

MiB = 1024 * 1024
JSON_LIMIT = 1 * MiB
# README / server/api/routes/archive.py: an import file may have up to 50 MB
IMPORT_LIMIT = 50 * MiB + 1 * MiB
COMMAND_LIMIT = 8 * MiB
LIMITS: tuple[tuple[re.Pattern[str], int], ...] = (
    (re.compile(r"/api/archive/import/?"), IMPORT_LIMIT),
    (re.compile(r"/api/reread/?"), COMMAND_LIMIT),
    (re.compile(r"/api/gateways/[^/]+/commands/?"), COMMAND_LIMIT),
)


class BodyTooLarge(HTTPException):
    def __init__(self, limit: int) -> None:
        super().__init__(413, f"request body over the limit of {limit} bytes for this route")


def limit_for(path: str) -> int:
    for pattern, limit in LIMITS:
        if pattern.fullmatch(path):
            return limit
    return JSON_LIMIT


class BodyLimit:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = limit_for(scope["path"])
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            await _too_large(send, limit)
            return
        seen = 0
        started = False

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise BodyTooLarge(limit)
            return message

        async def watched(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted, watched)
        except BodyTooLarge:
            # raised where no handler turned it into a response (the app normally does)
            if started:
                raise
            await _too_large(send, limit)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def _too_large(send: Send, limit: int) -> None:
    body = b'{"detail":"request body over the limit of ' + str(limit).encode() + b' bytes"}'
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def add_limits(app: FastAPI) -> None:
    """The body limit middleware and the answer to text that is not valid Unicode."""
    app.add_middleware(BodyLimit)

    @app.exception_handler(UnicodeEncodeError)
    async def _bad_text(request: Request, exc: UnicodeEncodeError) -> JSONResponse:
        return JSONResponse(
            {"detail": "text in the request is not valid Unicode (a lone surrogate?)"},
            status_code=422,
        )
