from __future__ import annotations

import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import fsspec
import pytest

sys.path.insert(0, str(Path(__file__).parent))


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
