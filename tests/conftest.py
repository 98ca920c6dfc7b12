from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import fsspec
import pytest

sys.path.insert(0, str(Path(__file__).parent))


@pytest.fixture
def hdf5_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh cache directory of remote HDF5 views (NWBZARR_IMAGE_CACHE) for one test."""
    folder = tmp_path / "cache"
    monkeypatch.setenv("NWBZARR_IMAGE_CACHE", str(folder))
    return folder


@pytest.fixture
def start_time() -> datetime:
    return datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)


@pytest.fixture(params=["local", "memory"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The same test on a local directory and on fsspec's memory:// file system."""
    if request.param == "local":
        yield str(tmp_path / "session.nwb.zarr")
        return
    root = f"/{uuid.uuid4().hex}"
    yield f"memory://{root}/session.nwb.zarr"
    fs = fsspec.filesystem("memory")
    if fs.exists(root):
        fs.rm(root, recursive=True)


@pytest.fixture(scope="session")
def s3() -> Iterator[object]:
    """A real S3-compatible server (moto) on 127.0.0.1 with an IAM user; see servers.s3_server."""
    from servers import s3_server

    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "not-the-test-user")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "not-the-test-user")
    with s3_server() as server:
        yield server


@pytest.fixture
def bucket(s3) -> Iterator[str]:
    """A new bucket on the S3 server; yields its name."""
    name = f"b{uuid.uuid4().hex[:12]}"
    fs = s3.fs()
    fs.mkdir(name)
    yield name
    fs.rm(name, recursive=True)


@pytest.fixture
def good(tmp_path: Path) -> Path:
    """A file holding every type and optional field (builders.full_file), to damage in tests."""
    from builders import full_file

    import nwbzarr_image as nzi

    path = tmp_path / "f.nwb.zarr"
    nzi.write(full_file(), str(path))
    return path
