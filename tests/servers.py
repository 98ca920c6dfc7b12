"""Real servers on 127.0.0.1 for tests: a static HTTP server that counts requests, and moto's S3 server."""

from __future__ import annotations

import functools
import json
import logging
import os
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any


class CountingHandler(SimpleHTTPRequestHandler):
    """Serves files; counts every request by (method, path) and the bytes of every body sent; optional added
    latency per request. With ``ranges``, answers ``Range: bytes=a-b`` with 206 and just those bytes (like
    S3 and most static servers). ``GET /__phase__/<name>`` (answered at once, not counted) names the phase
    later requests are also counted under, in ``phase_requests`` and ``phase_bytes``."""

    server: CountingServer

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - keep test output quiet
        return

    def _count(self) -> bool:
        path = self.path.split("?")[0]
        if path.startswith(PHASE_PREFIX):
            with self.server.lock:
                self.server.phase = path[len(PHASE_PREFIX):]
            self.send_response(204)
            self.end_headers()
            return False
        with self.server.lock:
            self.server.requests[(self.command, path)] += 1
            self.server.phase_requests[(self.server.phase, self.command, path)] += 1
            self.server.ranges_asked.append((path, self.headers.get("Range")))
        if self.server.latency:
            time.sleep(self.server.latency)
        return True

    def _sent(self, n: int) -> None:
        with self.server.lock:
            self.server.bytes_sent += n
            self.server.phase_bytes[self.server.phase] += n

    def do_GET(self) -> None:
        if not self._count():
            return
        wanted = self.headers.get("Range")
        if self.server.ranges and wanted and wanted.startswith("bytes="):
            self._send_range(wanted[len("bytes="):])
            return
        target = Path(self.translate_path(self.path))
        if target.is_file():
            self._sent(target.stat().st_size)
        super().do_GET()

    def do_HEAD(self) -> None:
        if self._count():
            super().do_HEAD()

    def _send_range(self, spec: str) -> None:
        target = Path(self.translate_path(self.path))
        if not target.is_file():
            self.send_error(404)
            return
        size = target.stat().st_size
        first, _, last = spec.partition("-")
        if first == "":  # the last N bytes
            start, stop = max(0, size - int(last)), size
        else:
            start, stop = int(first), min(size, int(last) + 1 if last else size)
        if start >= size or start >= stop:
            self.send_response(416)
            self.send_header("Content-Range", f"bytes */{size}")
            self.end_headers()
            return
        with target.open("rb") as handle:  # only the range: a whole-file read per request would dominate the timings
            handle.seek(start)
            body = handle.read(stop - start)
        self.send_response(206)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Range", f"bytes {start}-{stop - 1}/{size}")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self._sent(len(body))  # counted before the client can see the answer
        self.wfile.write(body)


PHASE_PREFIX = "/__phase__/"


class CountingServer(ThreadingHTTPServer):
    daemon_threads = True
    # socketserver's default backlog of 5 drops the SYN of a sixth concurrent connection, which the client
    # resends after a second: a reader opening many connections at once would wait for the kernel, not us
    request_queue_size = 128

    def __init__(self, root: Path, latency: float, ranges: bool = False) -> None:
        super().__init__(("127.0.0.1", 0), functools.partial(CountingHandler, directory=str(root)))
        self.requests: Counter[tuple[str, str]] = Counter()
        self.phase_requests: Counter[tuple[str, str, str]] = Counter()
        self.phase_bytes: Counter[str] = Counter()
        self.ranges_asked: list[tuple[str, str | None]] = []
        self.bytes_sent = 0
        self.phase = "none"
        self.lock = threading.Lock()
        self.latency = latency
        self.ranges = ranges

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def total(self) -> int:
        return sum(self.requests.values())

    def reset(self) -> None:
        with self.lock:
            self.requests.clear()
            self.ranges_asked.clear()
            self.bytes_sent = 0


@contextmanager
def http_server(root: Path, latency: float = 0.0, ranges: bool = False) -> Iterator[CountingServer]:
    """A static file server for ``root`` on 127.0.0.1 (a free port), stopped on exit."""
    server = CountingServer(root, latency, ranges)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@dataclass(frozen=True)
class S3:
    endpoint: str
    key: str
    secret: str
    reader_key: str = ""
    reader_secret: str = ""

    def options(self, **overrides: str) -> dict[str, Any]:
        """storage_options for fsspec/s3fs (endpoint and credentials, as users pass them)."""
        return {"endpoint_url": self.endpoint, "key": self.key, "secret": self.secret, "skip_instance_cache": True,
                **overrides}

    def fs(self) -> Any:
        import s3fs

        return s3fs.S3FileSystem(**self.options())


SETUP_ACTIONS = 6  # two users (create_user, put_user_policy, create_access_key) before authentication is enforced
READ_ONLY_POLICY = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": ["s3:GetObject", "s3:ListBucket", "s3:HeadObject"], "Resource": "*"}]}


@contextmanager
def s3_server() -> Iterator[S3]:
    """moto's S3-compatible server on 127.0.0.1 (a free port) that checks credentials.

    moto enforces IAM authentication after ``INITIAL_NO_AUTH_ACTION_COUNT`` requests: the first requests
    create a user with an access key, whose credentials are then the only ones accepted.
    """
    os.environ["INITIAL_NO_AUTH_ACTION_COUNT"] = str(SETUP_ACTIONS)
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    import boto3
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    try:
        iam = boto3.client("iam", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="setup",
                           aws_secret_access_key="setup")
        iam.create_user(UserName="tester")
        policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
        iam.put_user_policy(UserName="tester", PolicyName="all", PolicyDocument=json.dumps(policy))
        key = iam.create_access_key(UserName="tester")["AccessKey"]
        iam.create_user(UserName="reader")
        iam.put_user_policy(UserName="reader", PolicyName="read", PolicyDocument=json.dumps(READ_ONLY_POLICY))
        reader = iam.create_access_key(UserName="reader")["AccessKey"]
        yield S3(endpoint, key["AccessKeyId"], key["SecretAccessKey"], reader["AccessKeyId"],
                 reader["SecretAccessKey"])
    finally:
        server.stop()
