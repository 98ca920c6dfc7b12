"""The viewer's HTTP server: its page, a JSON listing and PNG frames of one file; nothing else, read-only."""

from __future__ import annotations

import html
import json
import math
import socket
import sys
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from typing import Any
from urllib.parse import parse_qs, urlsplit

from nwbzarr_image.errors import (
    ArgumentTypeError,
    NodeNotFoundError,
    NWBZarrImageError,
    OutOfRangeError,
    SchemaError,
)
from nwbzarr_image.viewer.app import ViewerApp, one_line

LOOPBACK = ("127.0.0.1", "localhost", "::1")
PAGE_PATHS = ("/", "/index.html")
ENDPOINTS = "/ (the viewer page), /api/file (the listing) and /api/frame?path=P&frame=N[&contrast=C]"
PAGE_POLICY = ("default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src 'self' blob: "
               "data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")


def page_bytes() -> bytes:
    """The viewer page (package data)."""
    return resources.files("nwbzarr_image.viewer").joinpath("static/index.html").read_bytes()


def status_of(err: BaseException) -> HTTPStatus:
    """The HTTP status for an error raised while answering a request."""
    if isinstance(err, (NodeNotFoundError, OutOfRangeError, FileNotFoundError)):
        return HTTPStatus.NOT_FOUND
    if isinstance(err, PermissionError):
        return HTTPStatus.FORBIDDEN
    if isinstance(err, ArgumentTypeError):
        return HTTPStatus.BAD_REQUEST
    if isinstance(err, (SchemaError, NWBZarrImageError, ValueError)):
        return HTTPStatus.UNPROCESSABLE_ENTITY
    return HTTPStatus.BAD_GATEWAY  # the storage failed (OSError): not the request's fault


class RequestError(Exception):
    """A request the server does not answer (unknown path, bad parameter, wrong method)."""

    def __init__(self, status: HTTPStatus, message: str) -> None:
        super().__init__(message)
        self.status = status


def _finite(value: Any) -> Any:
    """JSON has no NaN or infinity: they become null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


class ViewerHandler(BaseHTTPRequestHandler):
    """Answers GET and HEAD for the page, ``/api/file`` and ``/api/frame``; everything else is an error."""

    server: ViewerServer
    server_version = "nwbzarr-image-viewer"
    sys_version = ""

    def version_string(self) -> str:
        return self.server_version

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        if self.server.verbose:
            super().log_message(format, *args)

    def do_GET(self) -> None:
        self._answer(body=True)

    def do_HEAD(self) -> None:
        self._answer(body=False)

    def _refuse(self) -> None:
        self._send_error(HTTPStatus.METHOD_NOT_ALLOWED, f"{self.command} is not allowed; this server is read-only "
                         "and answers only GET and HEAD.", body=True, api=True)

    do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _refuse  # noqa: N815 - http.server names

    def _answer(self, *, body: bool) -> None:
        parts = urlsplit(self.path)
        api = parts.path.startswith("/api/")
        try:
            self._check_host()
            status, content_type, payload, headers = self._route(parts.path, parse_qs(parts.query))
        except RequestError as err:
            self._send_error(err.status, str(err), body=body, api=api)
            return
        except (NWBZarrImageError, OSError, ValueError, KeyError, IndexError) as err:
            self._send_error(status_of(err), one_line(err), body=body, api=api)
            return
        except Exception as err:  # never a traceback to the client; one line to the console
            print(f"nwbzarr-image view: {self.path}: {type(err).__name__}: {one_line(err)}", file=sys.stderr)
            self._send_error(HTTPStatus.INTERNAL_SERVER_ERROR, f"internal error ({type(err).__name__}: "
                             f"{one_line(err)})", body=body, api=api)
            return
        self._send(status, content_type, payload, headers, body=body)

    def _check_host(self) -> None:
        """Refuse other host names when serving on loopback (a web page cannot rebind its name to us)."""
        host, port = self.server.server_address[:2]
        if host not in ("127.0.0.1", "::1"):
            return
        allowed = {f"{name}:{port}" for name in ("127.0.0.1", "localhost", "[::1]")}
        if self.headers.get("Host", "") not in allowed:
            raise RequestError(HTTPStatus.FORBIDDEN, f"host {self.headers.get('Host')!r} is not served; expected "
                               f"one of {sorted(allowed)}. Open http://127.0.0.1:{port}/.")

    def _route(self, path: str, query: dict[str, list[str]]) -> tuple[HTTPStatus, str, bytes, dict[str, str]]:
        app = self.server.app
        if path in PAGE_PATHS:
            return HTTPStatus.OK, "text/html; charset=utf-8", self.server.page, {"Content-Security-Policy":
                                                                                 PAGE_POLICY}
        if path == "/api/file":
            return HTTPStatus.OK, "application/json", json.dumps(_finite(app.listing())).encode(), {}
        if path == "/api/frame":
            series, frame = _param(query, "path"), _param(query, "frame")
            try:
                index = int(frame)
            except ValueError:
                raise RequestError(HTTPStatus.BAD_REQUEST, f"frame must be a whole number; got {frame!r}. Ask for "
                                   "/api/frame?path=/acquisition/cam&frame=0.") from None
            contrast = query.get("contrast", ["auto"])[0]
            png, headers = app.frame(series, index, contrast)
            return HTTPStatus.OK, "image/png", png, headers
        raise RequestError(HTTPStatus.NOT_FOUND, f"no page at {path!r}; this server serves only {ENDPOINTS}.")

    def _send(self, status: HTTPStatus, content_type: str, payload: bytes, headers: dict[str, str], *,
              body: bool) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Referrer-Policy", "no-referrer")
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        if body:
            try:
                self.wfile.write(payload)
            except (BrokenPipeError, ConnectionResetError):  # the page went on to another frame
                self.close_connection = True

    def _send_error(self, status: HTTPStatus, message: str, *, body: bool, api: bool) -> None:
        """A JSON ``{"error", "status"}`` for the API, a small HTML page otherwise; never a traceback."""
        if api:
            payload = json.dumps({"error": message, "status": int(status)}).encode()
            self._send(status, "application/json", payload, {}, body=body)
            return
        text = html.escape(message)
        payload = (f"<!doctype html><meta charset='utf-8'><title>{int(status)} {status.phrase}</title>"
                   f"<h1>{int(status)} {status.phrase}</h1><p id='error'>{text}</p>"
                   "<p><a href='/'>Back to the viewer</a></p>").encode()
        self._send(status, "text/html; charset=utf-8", payload, {"Content-Security-Policy": "default-src 'none'"},
                   body=body)


def _param(query: dict[str, list[str]], name: str) -> str:
    values = query.get(name)
    if not values or not values[0]:
        raise RequestError(HTTPStatus.BAD_REQUEST, f"the parameter {name!r} is missing; expected "
                           "/api/frame?path=/acquisition/cam&frame=0.")
    return values[0]


class ViewerServer(ThreadingHTTPServer):
    """A ThreadingHTTPServer bound to ``host:port`` (port 0: a free one) serving one :class:`ViewerApp`."""

    daemon_threads = True

    def __init__(self, app: ViewerApp, host: str = "127.0.0.1", port: int = 0, *, verbose: bool = False) -> None:
        if ":" in host:
            self.address_family = socket.AF_INET6
        super().__init__((host, port), ViewerHandler)
        self.app, self.verbose, self.page = app, verbose, page_bytes()

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hangs up is normal (a page dropping a frame); anything else is one line, no traceback."""
        err = sys.exc_info()[1]
        if not isinstance(err, ConnectionError):
            print(f"nwbzarr-image view: {client_address[0]}: {type(err).__name__}: {err}", file=sys.stderr)

    @property
    def url(self) -> str:
        address, port = self.server_address[:2]
        host = address.decode() if isinstance(address, bytes | bytearray) else address
        return f"http://{f'[{host}]' if ':' in host else host}:{port}/"

    def start(self) -> threading.Thread:
        """Serve in a daemon thread (for tests and scripts); stop with :meth:`stop`."""
        thread = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.05},
                                  name="nwbzarr-image-viewer", daemon=True)
        thread.start()
        return thread

    def stop(self) -> None:
        self.shutdown()
        self.server_close()
