"""Zarr arrays as dask arrays whose chunks are the stored chunks (or shards, when sharded)."""

from __future__ import annotations

from typing import Any

import dask.array as da
from dask.base import tokenize


def storage_chunks(array: Any) -> tuple[int, ...]:
    """The unit of one read: the shard shape of a sharded array, else the chunk shape."""
    shards = getattr(array, "shards", None)
    return tuple(shards) if shards else tuple(array.chunks)


def as_dask(array: Any, identity: str) -> da.Array:
    """A dask array over a zarr array: one task per stored chunk/shard, nothing read until computed.

    ``identity`` (store URL + node path) names the graph deterministically without hashing any data.
    """
    chunks = storage_chunks(array) if array.ndim else ()
    name = "nwbzarr-" + tokenize(identity, array.shape, str(array.dtype), chunks)
    if array.ndim == 0:
        return da.from_array(array, chunks=(), name=name, asarray=True, inline_array=True)
    return da.from_array(array, chunks=chunks, name=name, asarray=True, fancy=False, inline_array=True)
