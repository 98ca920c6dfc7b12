"""Everything the library needs from zarr-python beyond its public API, in one place, behind a version gate.

zarr-python 3 has no public way to run one store request from synchronous code (``zarr.core.sync``), to build
an array from v2 metadata already read (``AsyncArray`` + ``ArrayV2Metadata``) or to change the consolidated
metadata of the root without re-reading every node (its ``zarr.json`` layout is zarr-python's, not the spec's).
Every other module uses only ``zarr``, ``zarr.abc``, ``zarr.buffer``, ``zarr.storage``, ``zarr.api``,
``zarr.codecs`` and ``zarr.errors``; a test keeps ``zarr.core`` out of them. Moving to a new zarr release means
checking this module, then widening :data:`SUPPORTED`.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import AsyncIterator, Coroutine
from typing import Any

import zarr
from zarr.abc.store import Store
from zarr.buffer import default_buffer_prototype
from zarr.storage import StorePath

from nwbzarr_image.errors import MissingDependencyError

SUPPORTED = ((3, 4), (4, 0))  # zarr>=3.4,<4, as in pyproject.toml
REQUIREMENT = "zarr>=3.4,<4"


def check_version(version: str) -> None:
    """Raise unless ``version`` (a zarr-python version string) lies in :data:`SUPPORTED`."""
    found = re.match(r"(\d+)\.(\d+)", version)
    low, high = SUPPORTED
    if found is None or not low <= (int(found[1]), int(found[2])) < high:
        raise MissingDependencyError(
            f"zarr '{version}': this zarr-python version is not supported; expected {REQUIREMENT}, got "
            f"{version}. Install a supported one: pip install '{REQUIREMENT}'.")


check_version(zarr.__version__)

from zarr.core.array import AsyncArray  # noqa: E402  (after the gate: the names below are zarr's internals)
from zarr.core.group import AsyncGroup, GroupMetadata  # noqa: E402
from zarr.core.metadata.v2 import ArrayV2Metadata  # noqa: E402
from zarr.core.metadata.v3 import ArrayV3Metadata  # noqa: E402
from zarr.core.sync import sync  # noqa: E402


def run[T](coro: Coroutine[Any, Any, T]) -> T:
    """Run a store coroutine to completion on zarr's event loop, from synchronous code."""
    return sync(coro)


def get_bytes(store: Store, key: str) -> bytes | None:
    """The value stored under ``key``, or None when there is none."""
    buffer = sync(store.get(key, prototype=default_buffer_prototype()))
    return None if buffer is None else buffer.to_bytes()


def set_bytes(store: Store, key: str, data: bytes) -> None:
    """Store ``data`` under ``key``."""
    sync(store.set(key, default_buffer_prototype().buffer.from_bytes(data)))


def list_keys(store: Store, prefix: str = "") -> list[str]:
    """Every key of the store under ``prefix`` (all keys with the default)."""
    return sync(_collect(store.list_prefix(prefix) if prefix else store.list()))


async def _collect(keys: AsyncIterator[str]) -> list[str]:
    return [key async for key in keys]


def v2_array(store: Store, path: str, metadata: dict[str, Any]) -> zarr.Array:
    """A zarr array of a v2 store from its ``.zarray`` document (and ``attributes``), without a request."""
    return zarr.Array(AsyncArray(metadata=ArrayV2Metadata.from_dict(metadata), store_path=StorePath(store, path)))


def v3_array(store: Store, path: str, metadata: dict[str, Any]) -> zarr.Array:
    """A zarr array of a v3 store from its ``zarr.json`` document (e.g. its consolidated copy), without a request."""
    return zarr.Array(AsyncArray(metadata=ArrayV3Metadata.from_dict(dict(metadata)), store_path=StorePath(store, path)))


def v3_group(store: Store, metadata: dict[str, Any]) -> zarr.Group:
    """The root group of a v3 store from its ``zarr.json`` document already read (consolidated metadata
    included), without another request: what ``zarr.open_group`` builds from the same bytes."""
    return zarr.Group(AsyncGroup(metadata=GroupMetadata.from_dict(dict(metadata)), store_path=StorePath(store, "")))


def set_consolidated_shapes(store: Store, shapes: dict[str, tuple[int, ...]]) -> None:
    """Set the shape of arrays in the root's consolidated metadata, in one write of the root ``zarr.json``.

    The root keeps the metadata of every node under ``consolidated_metadata.metadata`` (zarr-python's layout);
    a root without it is left alone (readers then list the store and see each array's own shape).
    """
    raw = get_bytes(store, "zarr.json")
    if raw is None:
        return
    meta = json.loads(raw)
    consolidated = meta.get("consolidated_metadata")
    if not consolidated:
        return
    entries = consolidated["metadata"]
    for path, shape in shapes.items():
        if path in entries:
            entries[path]["shape"] = list(shape)
    set_bytes(store, "zarr.json", json.dumps(meta, indent=2).encode())


def array_with_codecs(array: zarr.Array, codecs: tuple[Any, ...]) -> zarr.Array:
    """The same array (store, path, config) whose metadata lists ``codecs`` instead of its own."""
    meta = copy.copy(array.metadata)
    object.__setattr__(meta, "codecs", codecs)
    inner = array._async_array
    return zarr.Array(AsyncArray(metadata=meta, store_path=inner.store_path, config=inner.config))
