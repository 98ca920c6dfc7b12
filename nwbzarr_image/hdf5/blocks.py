"""Dask blocks over HDF5 datasets: whole frames, HDF5 chunks merged up to about 64 MB a task (a row of chunks
above 128 MB cut along frames), each task reading its chunks with merged, concurrent byte-range requests before
zarr decodes them."""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np

from nwbzarr_image.hdf5.view import ArraySource
from nwbzarr_image.storage.lazy import ZarrSource, read_errors

BLOCK_BYTES = 64 * 1024 * 1024
MAX_ROW_BYTES = 128 * 1024 * 1024  # a row of chunks over whole frames larger than this is split along frames
SLAB_BYTES = 32 * 1024 * 1024  # decoded bytes of the HDF5 chunks a task fetches at a time


def block_shape(source: ArraySource, target: int | None = None, max_row: int | None = None
                ) -> tuple[int, ...]:
    """Dask chunks for a dataset: whole frames, so that every output chunk (whole frames) lies in one block.

    Along the frame axis a block holds as many rows of HDF5 chunks as fit in ``target`` bytes; a row larger
    than ``max_row`` (hdmf's proportional chunks, e.g. (2254, 14, 14)) is cut along frames into blocks of
    ``target`` to ``max_row`` bytes (preferably a divisor of the chunk's frames, so that no block straddles two
    rows): each HDF5 chunk of the row is then read by the few blocks that cover it, and memory stays at a
    block. Only a single frame larger than ``max_row`` is split along the next axes, at chunk boundaries.
    """
    target = BLOCK_BYTES if target is None else target
    max_row = MAX_ROW_BYTES if max_row is None else max_row
    shape, chunks = source.shape, source.chunks
    if not shape:
        return ()
    itemsize = np.dtype(source.dtype).itemsize
    frame = max(1, int(np.prod(shape[1:], dtype=np.int64)) * itemsize)
    if frame * chunks[0] <= max_row:
        out = [max(1, target // (frame * chunks[0])) * chunks[0], *shape[1:]]
    elif frame <= max_row:
        out = [frames_per_block(chunks[0], max(1, target // frame), max(1, max_row // frame)), *shape[1:]]
    else:
        out = [chunks[0], *shape[1:]]
        for axis in range(1, len(shape)):
            if int(np.prod(out, dtype=np.int64)) * itemsize <= max_row:
                break
            rest = int(np.prod(out, dtype=np.int64)) // max(out[axis], 1) * itemsize
            out[axis] = min(shape[axis], max(1, max_row // max(rest * chunks[axis], 1)) * chunks[axis])
    return tuple(max(1, min(o, s)) for o, s in zip(out, shape, strict=True))


def frames_per_block(row: int, low: int, high: int) -> int:
    """Frames per block of a row of ``row`` frames cut into blocks of ``low`` to ``high`` frames: the largest
    divisor of ``row`` in that range, else ``low`` (blocks then straddle rows)."""
    best = max((d for d in range(1, min(row, high) + 1) if row % d == 0), default=1)
    return best if best >= low else low


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
        within = one_chunk(key, source)
        if within is not None:
            return self._in_chunk(path, source, *within)
        pieces = slabs(key, source, SLAB_BYTES)
        if pieces is None:
            with read_errors(self.url, f"/{path}", key):  # the range requests: a server gone is unreachable
                store.prefetch(path, chunk_coords(key, source))
            return super().__getitem__(key)
        shape, cut = pieces
        out: np.ndarray | None = None
        for local, piece in cut:  # a slab of chunks at a time: the compressed bytes in memory stay bounded
            with read_errors(self.url, f"/{path}", piece):
                store.prefetch(path, chunk_coords(piece, source))
            part = np.asarray(super().__getitem__(piece))
            if out is None:
                out = np.empty(shape, dtype=part.dtype)
            out[local] = part
        return out


    def _in_chunk(self, path: str, source: ArraySource, coords: tuple[int, ...], region: tuple[slice, ...],
                  local: tuple[int | slice, ...]) -> np.ndarray:
        """A selection inside one chunk (a frame of a frame-chunked movie): the chunk is decoded once and kept
        decoded, so the next frames of the chunk decode nothing (zarr would decode the whole chunk each time)."""
        store = self.array.store
        values = store.decoded(path, coords)
        if values is None:
            with read_errors(self.url, f"/{path}", region):
                store.prefetch(path, [coords])
            values = np.asarray(super().__getitem__(region))
            if store.ranges(source, coords) is not None:  # a chunk not stored warns at every read: not kept
                store.keep_decoded(path, coords, values)
        return np.array(values[local])  # a copy: the kept chunk must not change under the caller


def one_chunk(key: Any, source: ArraySource
              ) -> tuple[tuple[int, ...], tuple[slice, ...], tuple[int | slice, ...]] | None:
    """For a selection of integers and step-1 slices lying in one chunk and smaller than it: the chunk's
    coordinates, its region in the array and the selection within it; None otherwise."""
    if not source.shape or not isinstance(key, tuple) or len(key) != len(source.shape):
        return None
    coords, region, local = [], [], []
    picked = whole = 1
    for k, n, c in zip(key, source.shape, source.chunks, strict=True):
        if isinstance(k, (int, np.integer)) and not isinstance(k, bool) and -n <= k < n:
            start = int(k) % n
            stop = start + 1
        elif isinstance(k, slice) and k.step in (None, 1):
            start, stop, _ = k.indices(n)
        else:
            return None
        if stop <= start or (stop - 1) // c != start // c:
            return None
        first = start // c * c
        coords.append(start // c)
        region.append(slice(first, min(first + c, n)))
        local.append(start - first if isinstance(k, (int, np.integer)) else slice(start - first, stop - first))
        picked *= stop - start
        whole *= region[-1].stop - first
    if picked == whole:
        return None  # the whole chunk: nothing to keep for later
    return tuple(coords), tuple(region), tuple(local)


def slabs(key: Any, source: ArraySource, limit: int
          ) -> tuple[tuple[int, ...], list[tuple[tuple[slice, ...], tuple[slice, ...]]]] | None:
    """A block ``key`` (step-1 slices on every axis) whose HDF5 chunks hold more than ``limit`` decoded bytes, cut
    along the second axis at chunk boundaries: the block's shape and (where in the block, selection) pairs; None
    if not cut."""
    if (len(source.shape) < 2 or not isinstance(key, tuple) or len(key) != len(source.shape)
            or not all(isinstance(k, slice) and k.step in (None, 1) for k in key)):
        return None
    bounds = [k.indices(n)[:2] for k, n in zip(key, source.shape, strict=True)]
    if any(stop <= start for start, stop in bounds):
        return None
    counts = [(stop - 1) // c - start // c + 1 for (start, stop), c in zip(bounds, source.chunks, strict=True)]
    per_row = int(np.prod(counts, dtype=np.int64)) // counts[1] * max(source.chunk_nbytes, 1)
    rows = max(1, limit // per_row)
    if rows >= counts[1]:
        return None
    (start, stop), c = bounds[1], source.chunks[1]
    whole = tuple(slice(a, b) for a, b in bounds)
    pieces = []
    for first in range(start // c, (stop - 1) // c + 1, rows):
        lo, hi = max(start, first * c), min(stop, (first + rows) * c)
        piece = (whole[0], slice(lo, hi), *whole[2:])
        local = (slice(None), slice(lo - start, hi - start), *(slice(None),) * (len(key) - 2))
        pieces.append((local, piece))
    return tuple(b - a for a, b in bounds), pieces


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
