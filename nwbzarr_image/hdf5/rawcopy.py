"""Raw conversion of one HDF5 dataset: its compressed chunks copied as they are, packed into zarr v3 shards.

Used when the HDF5 chunks hold whole frames and every filter is one numcodecs decodes (deflate, shuffle,
fletcher32, Blosc, zstd): the output declares the same codecs inside ``sharding_indexed``, so nothing is decoded
or re-encoded. Shards are built in turn (one merged read of their chunks, one write), so memory stays at two
shards whatever the movie length; from a local file into a local store the chunks are copied file to file by the
kernel (``filecopy.py``), so their bytes never pass through Python. A damaged chunk is copied as it is and fails
where it is read (as in the source); with ``verify`` (a file read with ``strict=True``) every chunk is decoded
first, the next shard read while the last one's chunks are checked, and a damaged one fails the conversion.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from nwbzarr_image.hdf5.filecopy import copy_ranges, local_root
from nwbzarr_image.hdf5.index import linear_index
from nwbzarr_image.hdf5.view import ArraySource
from nwbzarr_image.storage import resume_store
from nwbzarr_image.storage.zarr_compat import set_bytes

SHARD_BYTES = 64 * 1024 * 1024  # decoded bytes of whole chunks per shard
EMPTY = np.uint64(2**64 - 1)


def raw_eligible(store: Any, source: ArraySource | None) -> bool:
    """Whether the chunks of ``source`` can be copied without decoding (frame-aligned, no skipped filters)."""
    if source is None or source.kind != "chunked" or len(source.shape) < 2 or not all(source.shape):
        return False
    if tuple(source.chunks[1:]) != tuple(source.shape[1:]) or np.dtype(source.dtype).byteorder == ">":
        return False
    return not store.table(source).masks


def raw_copy(store: Any, key: str, group: Any, name: str, attrs: dict[str, Any], chunk_key_encoding: Any,
             progress: Callable[[int], None] | None = None, verify: bool = False) -> bool:
    """Create ``group[name]`` from the HDF5 dataset ``key`` by copying its compressed chunks into shards;
    False (nothing created) when the dataset is not eligible. ``verify`` decodes every chunk before it is
    written (about 5x the time of the copy alone, measured with benchmarks/bench_hdf5.py)."""
    source = store.view.sources.get(key)
    if not raw_eligible(store, source):
        return False
    assert source is not None
    doc = json.loads(store.view.entries[f"{key}/zarr.json"])
    per_shard = max(1, SHARD_BYTES // max(source.chunk_nbytes, 1))
    per_shard = min(per_shard, source.grid[0])
    shard_shape = (per_shard * source.chunks[0], *source.chunks[1:])
    array = group.create_array(name, shape=source.shape, dtype=np.dtype(source.dtype), chunks=source.chunks,
                               shards=shard_shape if per_shard > 1 else None,
                               serializer=doc["codecs"][0], compressors=doc["codecs"][1:], filters=None,
                               fill_value=doc["fill_value"], attributes=attrs, overwrite=True,
                               chunk_key_encoding=chunk_key_encoding)
    table = store.table(source)
    rest = (0,) * (len(source.shape) - 1)
    pending: tuple[int, list[bytes], list[Future[None]]] | None = None
    root = local_root(store, array) if not verify else None
    copies: list[Future[None]] = []
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:  # zlib and blosc decode without the GIL
        for first in range(0, source.grid[0], per_shard):  # the next shard is read while the last is checked
            key = _shard_key(array, first, per_shard, rest)
            if resume_store.is_stored(array.store, key):
                continue  # a resumed conversion keeps the shards a killed run stored
            if root is not None:  # kernel copies of different shards run side by side
                copies.append(pool.submit(_copy_and_report, store, source, table, first, per_shard, rest, array,
                                          key, root / key, progress))
                continue
            current = (first, *_read_shard(store, source, table, first, per_shard, rest, pool, verify))
            if pending is not None:
                _write_shard(array, pending, per_shard, rest)
            pending = current
            if progress is not None:
                progress(min(per_shard, source.grid[0] - first))
        if pending is not None:
            _write_shard(array, pending, per_shard, rest)
        for copy in copies:
            copy.result()
    return True


def _copy_and_report(store: Any, source: ArraySource, table: Any, first: int, per_shard: int,
                     rest: tuple[int, ...], array: Any, key: str, path: Path,
                     progress: Callable[[int], None] | None) -> None:
    _copy_shard(store, source, table, first, per_shard, rest, path)
    resume_store.written(array.store, key)
    if progress is not None:
        progress(min(per_shard, source.grid[0] - first))


def _read_shard(store: Any, source: ArraySource, table: Any, first: int, per_shard: int, rest: tuple[int, ...],
                pool: ThreadPoolExecutor, verify: bool) -> tuple[list[bytes], list[Future[None]]]:
    """The chunks of one shard (one merged read) and, with ``verify``, the checks of each, decoding it in the
    pool."""
    rows, entries = _entries(source, table, first, per_shard, rest)
    stored = [(offset, size) for offset, size, _ in entries if size]
    blobs = iter(store.source.read_many(stored))
    chunks = [next(blobs) if size else b"" for _, size, _ in entries]
    for row, (offset, size, _), blob in zip(rows, entries, chunks, strict=True):
        if size and len(blob) < size:
            raise store._truncated(source, (row, *rest), offset, size, len(blob))
    checks = [pool.submit(_verify, store, source, (row, *rest), blob)
              for row, blob in zip(rows, chunks, strict=True) if blob and verify]
    return chunks, checks


def _entries(source: ArraySource, table: Any, first: int, per_shard: int, rest: tuple[int, ...]
             ) -> tuple[list[int], list[tuple[int, int, int]]]:
    """The chunk rows of the shard starting at row ``first`` and their ``(offset, size, mask)`` in the file."""
    rows = list(range(first, min(first + per_shard, source.grid[0])))
    return rows, [table.lookup(linear_index((r, *rest), source.grid)) for r in rows]


def _write_shard(array: Any, shard: tuple[int, list[bytes], list[Future[None]]], per_shard: int,
                 rest: tuple[int, ...]) -> None:
    """Write one shard once every check of its chunks passed (a damaged chunk raises here)."""
    first, chunks, checks = shard
    for check in checks:
        check.result()
    key = _shard_key(array, first, per_shard, rest)
    if per_shard == 1:
        if chunks[0]:
            set_bytes(array.store, key, chunks[0])
            resume_store.written(array.store, key)
    elif any(chunks):
        set_bytes(array.store, key, _shard(chunks, per_shard))
        resume_store.written(array.store, key)


def _shard_key(array: Any, first: int, per_shard: int, rest: tuple[int, ...]) -> str:
    """The store key of the shard (or, unsharded, the chunk) starting at chunk row ``first``."""
    encode = array.metadata.chunk_key_encoding.encode_chunk_key
    return f"{array.path}/" + encode((first // per_shard if per_shard > 1 else first, *rest))


def _verify(store: Any, source: ArraySource, coords: tuple[int, ...], blob: bytes) -> None:
    """Decode one chunk (not re-encode it): a damaged chunk fails the conversion instead of being copied. The
    compressors check their streams (zlib's adler32, blosc's header, zstd's frame) and fletcher32 its sum."""
    import numcodecs

    from nwbzarr_image.errors import CorruptDataError

    codecs = {1: numcodecs.Zlib, 3: numcodecs.Fletcher32, 32001: numcodecs.Blosc, 32015: numcodecs.Zstd}
    data: Any = blob
    try:
        for f in reversed(source.filters):
            if f.code in codecs:
                data = codecs[f.code]().decode(data)
    except Exception as err:
        raise CorruptDataError(f"convert {store.source.url}: /{source.key} chunk {coords} cannot be decoded "
                               f"({type(err).__name__}: {err}); expected chunks its filters decode. The file is "
                               "damaged; fetch it again.") from err


def _shard(chunks: list[bytes], per_shard: int) -> bytes:
    """A ``sharding_indexed`` shard: the inner chunks, then their index."""
    return b"".join([*chunks, shard_index([len(blob) for blob in chunks], per_shard)])


def shard_index(sizes: list[int], per_shard: int) -> bytes:
    """The end of a ``sharding_indexed`` shard of inner chunks of ``sizes`` bytes (0: absent) stored in turn:
    (offset, nbytes) uint64 per inner chunk, C order, absent ones 2**64-1, then its crc32c, as zarr's default
    index codecs write it."""
    import google_crc32c

    index = np.full((per_shard, 2), EMPTY, dtype="<u8")
    offset = 0
    for i, size in enumerate(sizes):
        if size:
            index[i] = (offset, size)
            offset += size
    index_bytes = index.tobytes()
    return index_bytes + np.uint32(google_crc32c.value(index_bytes)).tobytes()


def _copy_shard(store: Any, source: ArraySource, table: Any, first: int, per_shard: int, rest: tuple[int, ...],
                path: Path) -> None:
    """Write the shard (or, unsharded, the chunk) starting at chunk row ``first`` by copying its chunks from the
    HDF5 file to ``path`` in the kernel, without their bytes passing through Python."""
    rows, entries = _entries(source, table, first, per_shard, rest)
    sizes = [int(size) for _, size, _ in entries]
    if not any(sizes):
        return
    ranges = [(int(offset), int(size)) for offset, size, _ in entries if size]
    tail = shard_index(sizes, per_shard) if per_shard > 1 else b""
    copied = copy_ranges(store.source.path, ranges, path, tail)
    if copied is not None:
        row = rows[[i for i, size in enumerate(sizes) if size][copied[0]]]
        offset, size = ranges[copied[0]]
        raise store._truncated(source, (row, *rest), offset, size, copied[1])
