"""From an fsspec URL (or a local path) to a Zarr store, and the file-system operations around it."""

from __future__ import annotations

import posixpath
import uuid
from dataclasses import dataclass, field
from typing import Any

import fsspec
from fsspec.implementations.local import LocalFileSystem
from zarr.abc.store import Store
from zarr.storage import FsspecStore, LocalStore

from nwbzarr_image.errors import ReadOnlyError, StoreNotFoundError

READ_ONLY_PROTOCOLS = {"http", "https"}


@dataclass(frozen=True)
class Location:
    """A resolved URL: the file system, the path inside it and the options it was opened with."""

    url: str
    fs: Any
    path: str
    storage_options: dict[str, Any] = field(default_factory=dict)

    @property
    def is_local(self) -> bool:
        return isinstance(self.fs, LocalFileSystem)

    @property
    def protocols(self) -> set[str]:
        proto = self.fs.protocol
        return set(proto) if isinstance(proto, (tuple, list)) else {proto}

    @property
    def read_only_protocol(self) -> bool:
        return bool(self.protocols & READ_ONLY_PROTOCOLS)

    def sibling(self, tag: str) -> str:
        """A hidden path next to this one (for writing first and renaming at the end)."""
        parent, name = posixpath.split(self.path.rstrip("/"))
        return posixpath.join(parent, f".{name}.{tag}-{uuid.uuid4().hex[:8]}")

    def exists(self) -> bool:
        return bool(self.fs.exists(self.path))


def locate(url: str, storage_options: dict[str, Any] | None = None) -> Location:
    """Resolve ``url`` with fsspec (chained URLs such as ``simplecache::s3://...`` included)."""
    if not isinstance(url, str) or not url:
        raise StoreNotFoundError(f"expected a URL or path as a non-empty str; got {url!r}.")
    options = dict(storage_options or {})
    fs, path = fsspec.core.url_to_fs(url, **options)
    return Location(url, fs, path, options)


def open_store(location: Location, *, read_only: bool, path: str | None = None) -> Store:
    """A zarr store rooted at ``path`` (default: the location's own path)."""
    root = path or location.path
    if not read_only and location.read_only_protocol:
        raise ReadOnlyError(f"{location.url}: {sorted(location.protocols)[0]} URLs are read-only; got a write. "
                            "Write to a local path or an s3:// URL, then publish the file.")
    if location.is_local:
        return LocalStore(root, read_only=read_only)
    from zarr.storage._fsspec import _make_async

    return FsspecStore(fs=_make_async(location.fs), path=root, read_only=read_only)


def remove(location: Location, path: str) -> None:
    if location.fs.exists(path):
        location.fs.rm(path, recursive=True)


def move(location: Location, source: str, target: str) -> None:
    """Move a written store into place; on a local disk this is one atomic rename."""
    if location.is_local:
        import os

        os.replace(source, target)
    else:
        location.fs.mv(source, target, recursive=True)


def replace(location: Location, source: str) -> str | None:
    """Move ``source`` to the location; an existing target is first moved aside and its path returned
    (the caller removes it once the new file is complete, or moves it back)."""
    backup = None
    if location.exists():
        backup = location.sibling("old")
        move(location, location.path, backup)
    move(location, source, location.path)
    return backup
