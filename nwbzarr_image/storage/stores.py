"""From an fsspec URL (or a local path) to a Zarr store, and the file-system operations around it."""

from __future__ import annotations

import os
import posixpath
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, overload

import fsspec
from fsspec.implementations.asyn_wrapper import AsyncFileSystemWrapper
from fsspec.implementations.cached import CachingFileSystem
from fsspec.implementations.local import LocalFileSystem
from zarr.abc.store import Store

from nwbzarr_image.errors import ReadOnlyError, StoreNotFoundError, storage_error
from nwbzarr_image.storage.store_guard import GuardedFsspecStore, GuardedLocalStore

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
    def renames(self) -> bool:
        """Whether moving a directory is cheap and whole (local disk, memory); object stores copy each key."""
        return self.is_local or bool(self.protocols & {"memory"})

    @property
    def read_only_protocol(self) -> bool:
        return bool(self.protocols & READ_ONLY_PROTOCOLS)

    def sibling(self, tag: str) -> str:
        """A hidden path next to this one (for writing first and renaming at the end)."""
        parent, name = posixpath.split(self.path.rstrip("/"))
        return posixpath.join(parent, f".{name}.{tag}-{uuid.uuid4().hex[:8]}")

    def exists(self) -> bool:
        return bool(self.fs.exists(self.path))


@overload
def as_url(url: str | os.PathLike[str]) -> str: ...


@overload
def as_url[T](url: T) -> T: ...


def as_url(url: Any) -> Any:
    """A path given as an ``os.PathLike`` (e.g. ``pathlib.Path``) as its str; anything else as given."""
    return os.fspath(url) if isinstance(url, os.PathLike) else url


def locate(url: str | os.PathLike[str], storage_options: dict[str, Any] | None = None) -> Location:
    """Resolve ``url`` with fsspec (chained URLs such as ``simplecache::s3://...`` included)."""
    url = as_url(url)
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
        return GuardedLocalStore(root, read_only=read_only)
    return GuardedFsspecStore(fs=_async_fs(location.fs), path=root, read_only=read_only)


def _async_fs(fs: Any) -> Any:
    """An asynchronous instance of ``fs``; wrapper file systems (simplecache::, filecache::) are run in threads."""
    if getattr(fs, "async_impl", False) and getattr(fs, "asynchronous", False):
        return fs
    if isinstance(fs, CachingFileSystem):
        return _CachedAsync(fs, asynchronous=True)
    if not getattr(fs, "async_impl", False):
        return AsyncFileSystemWrapper(fs, asynchronous=True)
    # a synchronous instance of an asynchronous file system: the same one, made asynchronous
    return type(fs)(*fs.storage_args, **{**fs.storage_options, "asynchronous": True})


class _CachedAsync(AsyncFileSystemWrapper):
    """Reads through the cache: fsspec's caching file systems cache ``cat``/``open``, not ``cat_file``.
    Defined at module level so that lazily read arrays pickle for dask.distributed workers."""

    def __init__(self, fs: Any, asynchronous: bool) -> None:
        super().__init__(fs, asynchronous=asynchronous)
        self._cat_file = self._cat_cached  # the wrapper binds its own per instance

    async def _cat_cached(self, path: str, start: int | None = None, end: int | None = None,
                          **kwargs: Any) -> bytes:
        import asyncio

        data = await asyncio.to_thread(self.sync_fs.cat, path)
        return data[start:end] if start is not None or end is not None else data


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


@contextmanager
def storage_errors(url: str, action: str) -> Iterator[None]:
    """Turn the storage back-ends' errors (botocore, aiohttp, fsspec, zarr stores) into ours, naming the URL and
    the fix (see :func:`nwbzarr_image.errors.storage_error`)."""
    try:
        yield
    except Exception as err:
        ours = storage_error(err, url, action)
        if ours is None:
            raise
        raise ours from err
