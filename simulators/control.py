"""The running simulator's small control API (HTTP + JSON on loopback), used by
``meterlink-sim fault`` and by test teams' scripts.

    GET    /buses                 where each bus is served
    GET    /meters/{id}           what the meter reports now (registers, faults)
    GET    /faults                every fault record written so far (ground truth)
    POST   /faults                {"meter", "kind", "params"?, "start"?}  -> the record
    DELETE /faults/{meter}[?kind=K]  clear a meter's faults (all, or one kind)

Errors answer 400/404 with {"error": "..."}; nothing changes on a bad request.
"""

from __future__ import annotations

import json
import logging
import threading
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from simulators.faults import FaultError
from simulators.simulation import Simulation, SimulationError

log = logging.getLogger(__name__)
MAX_BODY = 64 * 1024


class ControlServer:
    def __init__(
        self, sim: Simulation, endpoints: dict[str, Any], host: str = "127.0.0.1", port: int = 0
    ) -> None:
        self.sim = sim
        self.endpoints = endpoints
        control = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, fmt: str, *args: Any) -> None:
                log.debug("control: " + fmt, *args)

            def _send(self, code: int, body: Any) -> None:
                data = json.dumps(body, default=str).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _body(self) -> dict[str, Any]:
                n = int(self.headers.get("Content-Length") or 0)
                if n > MAX_BODY:
                    raise ValueError(f"body of {n} bytes is over {MAX_BODY}")
                obj = json.loads(self.rfile.read(n) or b"{}")
                if not isinstance(obj, dict):
                    raise ValueError("body must be a JSON object")
                return obj

            def _dispatch(self, method: str) -> None:
                url = urlsplit(self.path)
                parts = [p for p in url.path.split("/") if p]
                try:
                    code, body = control.handle(
                        method, parts, parse_qs(url.query), self._body if method == "POST" else None
                    )
                except (ValueError, FaultError) as exc:
                    code, body = 400, {"error": str(exc)}
                except SimulationError as exc:
                    code, body = 404, {"error": str(exc)}
                self._send(code, body)

            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                self._dispatch("GET")

            def do_POST(self) -> None:  # noqa: N802
                self._dispatch("POST")

            def do_DELETE(self) -> None:  # noqa: N802
                self._dispatch("DELETE")

        self.httpd = ThreadingHTTPServer((host, port), Handler)
        self.httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        host = host.decode() if isinstance(host, bytes) else host
        return f"http://{host}:{port}"

    def handle(
        self, method: str, parts: list[str], query: dict[str, list[str]], body: Any
    ) -> tuple[int, Any]:
        if method == "GET" and parts == ["buses"]:
            return 200, self.endpoints
        if method == "GET" and len(parts) == 2 and parts[0] == "meters":
            meter = self.sim.meter(parts[1])
            now = self.sim.clock.now()
            return 200, {
                "meter": meter.archive_id,
                "address": meter.address_at(now),
                "at": now.isoformat(),
                "registers": self.sim.expected(parts[1]),
                "faults": [
                    {"kind": f.kind, "params": dict(f.params), "start": f.start.isoformat()}
                    for f in meter.faults
                ],
            }
        if method == "GET" and parts == ["faults"]:
            return 200, self.sim.truth.records
        if method == "POST" and parts == ["faults"]:
            req = body()
            meter, kind = req.get("meter"), req.get("kind")
            if not isinstance(meter, str) or not isinstance(kind, str):
                raise ValueError("body needs string fields 'meter' and 'kind'")
            params = req.get("params") or {}
            if not isinstance(params, dict):
                raise ValueError("'params' must be an object")
            start = req.get("start")
            when = None
            if start is not None:
                try:
                    when = datetime.fromisoformat(str(start))
                except ValueError:
                    raise ValueError(f"'start' {start!r} is not an ISO 8601 time") from None
                if when.tzinfo is None:
                    raise ValueError("'start' needs a time zone")
            fault = self.sim.inject(meter, kind, params, when)
            return 201, {
                "meter": meter,
                "kind": fault.kind,
                "params": dict(fault.params),
                "start": fault.start.isoformat(),
            }
        if method == "DELETE" and len(parts) == 2 and parts[0] == "faults":
            kind = query.get("kind", [None])[0]
            gone = self.sim.clear(parts[1], kind)
            return 200, {"meter": parts[1], "cleared": [f.kind for f in gone]}
        return 404, {"error": f"no such resource: {method} /{'/'.join(parts)}"}

    def start(self) -> ControlServer:
        self._thread = threading.Thread(
            target=self.httpd.serve_forever, name="sim-control", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        if self._thread is not None:
            self._thread.join(5)
