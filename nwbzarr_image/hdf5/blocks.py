"""Dask blocks over HDF5 datasets: whole frames, HDF5 chunks merged up to about 64 MB a task, each task reading
its chunks with merged, concurrent byte-range requests before zarr decodes them."""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np

from nwbzarr_image.hdf5.view import ArraySource
from nwbzarr_image.storage.lazy import ZarrSource, read_errors

BLOCK_BYTES = 64 * 1024 * 1024
MAX_ROW_BYTES = 256 * 1024 * 1024  # a row of chunks over whole frames is split (at chunk edges) only above this


def block_shape(source: ArraySource, target: int = BLOCK_BYTES, max_row: int = MAX_ROW_BYTES
                ) -> tuple[int, ...]:
    """Dask chunks for a dataset: whole HDF5 chunks; along the frame axis as many as fit in ``target`` bytes
    of whole frames; a row of chunks over whole frames larger than ``max_row`` is split along the next axes, at
    chunk boundaries (so that every HDF5 chunk is still read by one task only)."""
    shape, chunks = source.shape, source.chunks
    if not shape:
        return ()
    itemsize = np.dtype(source.dtype).itemsize
    out = [chunks[0], *shape[1:]]
    for axis in range(1, len(shape)):
        if int(np.prod(out, dtype=np.int64)) * itemsize <= max_row:
            break
        rest = int(np.prod(out, dtype=np.int64)) // max(out[axis], 1) * itemsize
        out[axis] = min(shape[axis], max(1, max_row // max(rest * chunks[axis], 1)) * chunks[axis])
    if out[1:] == list(shape[1:]):
        frames = int(np.prod(shape[1:], dtype=np.int64)) * itemsize
        out[0] = min(shape[0], max(1, target // max(frames * chunks[0], 1)) * chunks[0])
    return tuple(max(1, min(o, s)) for o, s in zip(out, shape, strict=True))


class Hdf5Source(ZarrSource):
    """A zarr array of an HDF5 view as dask tasks see it: before zarr reads a block, the block's chunks are
    fetched with merged, concurrent range requests. Pickles with its chunk table listed. Dask may pass a
    selection inside a block (``fancy``), so a one-frame read touches only that frame's chunks."""

    fancy = True

    def blob(self) -> bytes:
        store = self.array.store
        source = store.view.sources.get(self.array.path)
        if source is not None and source.kind == "chunked":
            store.table(source)  # listed here, so that workers never need h5py
        return super().blob()

    def __getitem__(self, key: Any) -> Any:
        store = self.array.store
        path = self.array.path
        source = store.view.sources.get(path)
        if source is None or source.kind == "fallback":
            return super().__getitem__(key)
        with read_errors(self.url, f"/{path}", key):  # the range requests: a server gone is unreachable
            store.prefetch(path, chunk_coords(key, source))
        return super().__getitem__(key)


def chunk_coords(key: Any, source: ArraySource) -> list[tuple[int, ...]]:
    """The chunk grid coordinates a basic selection touches."""
    if not isinstance(key, tuple):
        key = (key,)
    key = key + (slice(None),) * (len(source.shape) - len(key))
    ranges: list[Any] = []
    for k, n, c in zip(key, source.shape, source.chunks, strict=False):
        if isinstance(k, slice):
            start, stop, step = k.indices(n)
            if len(range(start, stop, step)) == 0:
                return []
            if step == 1:
                ranges.append(range(start // c, (stop - 1) // c + 1))
                continue
            k = np.arange(start, stop, step)
        index = np.asarray(k).reshape(-1)
        if index.dtype == bool:
            index = np.flatnonzero(index)
        if index.size == 0:
            return []
        ranges.append(sorted({int(i) % n // c for i in index}))
    return [tuple(c) for c in itertools.product(*ranges)]


def dask_plan(array: Any, strict: bool) -> tuple[tuple[int, ...], ZarrSource]:
    """Dask chunks and the task source for a zarr array of an HDF5 view."""
    source = array.store.view.sources.get(array.path)
    chunks = block_shape(source) if source is not None else tuple(array.chunks)
    return chunks, Hdf5Source(array, strict=strict)
