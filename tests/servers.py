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
    """Serves files; counts every request by (method, path); optional added latency per request."""

    server: CountingServer

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - keep test output quiet
        return

    def _count(self) -> None:
        with self.server.lock:
            self.server.requests[(self.command, self.path.split("?")[0])] += 1
        if self.server.latency:
            time.sleep(self.server.latency)

    def do_GET(self) -> None:
        self._count()
        super().do_GET()

    def do_HEAD(self) -> None:
        self._count()
        super().do_HEAD()


class CountingServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, root: Path, latency: float) -> None:
        super().__init__(("127.0.0.1", 0), functools.partial(CountingHandler, directory=str(root)))
        self.requests: Counter[tuple[str, str]] = Counter()
        self.lock = threading.Lock()
        self.latency = latency

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def total(self) -> int:
        return sum(self.requests.values())

    def reset(self) -> None:
        with self.lock:
            self.requests.clear()


@contextmanager
def http_server(root: Path, latency: float = 0.0) -> Iterator[CountingServer]:
    """A static file server for ``root`` on 127.0.0.1 (a free port), stopped on exit."""
    server = CountingServer(root, latency)
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
