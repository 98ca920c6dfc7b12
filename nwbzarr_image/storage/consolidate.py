"""Consolidated metadata: the root ``zarr.json`` lists the metadata of every node, so a file opens with one
request. The one place that silences zarr's warning about it (consolidated metadata is not yet in the
Zarr format 3 specification, and every NWB Zarr file uses it).

Scalars whose value is their fill value: our writer stores each scalar dataset as a 0-d array whose fill value
is the value, with no chunk. Another writer may later store a chunk there (``array[...] = new``), and the fill
value is then stale. So, when consolidating, the store is compared with the metadata: each 0-d array that has no
stored chunk gets, in the consolidated copy of its metadata only, the extra field :data:`VALUE_IN_FILL`. A reader
takes a scalar from the metadata only when that field is there; any other 0-d array is read from its chunk. A
writer that re-consolidates (zarr.consolidate_metadata, hdmf-zarr, nzi.consolidate) rebuilds the consolidated
metadata from each array's own ``zarr.json``, which never holds the field, so its rewrites are seen.
"""

from __future__ import annotations

import asyncio
import json
import warnings
from typing import Any

import zarr

from nwbzarr_image.errors import ReadOnlyError
from nwbzarr_image.storage import stores, zarr_compat
from nwbzarr_image.storage.reader import VALUE_IN_FILL, open_root

NOT_IN_SPEC_WARNING = "Consolidated metadata is currently not part"


def consolidate(store: Any) -> None:
    """Write the metadata of every node of ``store`` into its root ``zarr.json``, marking the scalars that have
    no stored chunk (their value is their fill value)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=NOT_IN_SPEC_WARNING)
        zarr.consolidate_metadata(store)
    mark_chunkless_scalars(store)


def scalar_chunk_key(path: str, entry: dict[str, Any]) -> str:
    """The store key of the one chunk of a 0-d array (zarr's default key encoding: ``c``; v2 encoding: ``0``)."""
    encoding = entry.get("chunk_key_encoding") or {}
    name = encoding.get("name", "default") if isinstance(encoding, dict) else "default"
    return f"{path}/{'0' if name == 'v2' else 'c'}"


def mark_chunkless_scalars(store: Any) -> list[str]:
    """Mark, in the root's consolidated metadata, the 0-d arrays without a stored chunk; returns their paths.

    One read of the root ``zarr.json``, one existence check per 0-d array (all at once), one write.
    """
    raw = zarr_compat.get_bytes(store, "zarr.json")
    meta = json.loads(raw) if raw is not None else {}
    entries = (meta.get("consolidated_metadata") or {}).get("metadata") or {}
    scalars = {path: entry for path, entry in entries.items()
               if isinstance(entry, dict) and entry.get("node_type") == "array" and entry.get("shape") == []}
    if not scalars:
        return []

    async def check() -> list[bool]:
        return list(await asyncio.gather(*(store.exists(scalar_chunk_key(p, e)) for p, e in scalars.items())))

    chunkless = [path for path, stored in zip(scalars, zarr_compat.run(check()), strict=True) if not stored]
    for entry in scalars.values():
        entry.pop(VALUE_IN_FILL, None)
    for path in chunkless:
        scalars[path][VALUE_IN_FILL] = {"must_understand": False}
    zarr_compat.set_bytes(store, "zarr.json", json.dumps(meta, indent=2).encode())
    return chunkless


def consolidate_file(location: stores.Location) -> None:
    """Consolidate the Zarr format 3 file at ``location``; legacy format 2 files are never changed."""
    store = stores.open_store(location, read_only=False)
    if open_root(store, consolidated=False).metadata.zarr_format != 3:
        raise ReadOnlyError(f"consolidate {location.url}: only Zarr format 3 files are changed by this library.")
    consolidate(store)
