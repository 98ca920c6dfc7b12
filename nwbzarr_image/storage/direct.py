"""Write whole chunks straight to the store, encoding them on a thread pool.

For the arrays this library writes by default (bytes + Blosc or Zstd, no filters, no sharding), encoding a
chunk with numcodecs gives the very bytes zarr would store, without zarr's per-chunk buffer copies and
event-loop round trips. Blosc and Zstd release the GIL, so the chunks of a block encode in parallel on all
cores. Any other layout falls back to zarr's own ``array[...] = block``.
"""

from __future__ import annotations

import itertools
import math
import os
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache
from pathlib import Path
from typing import Any

import numcodecs
import numpy as np
import zarr
from zarr.codecs import BloscCodec, BytesCodec, ZstdCodec
from zarr.storage import LocalStore

from nwbzarr_image.storage import resume_store
from nwbzarr_image.storage.zarr_compat import set_bytes

SHUFFLES = {"noshuffle": numcodecs.Blosc.NOSHUFFLE, "shuffle": numcodecs.Blosc.SHUFFLE,
            "bitshuffle": numcodecs.Blosc.BITSHUFFLE}


@lru_cache(maxsize=1)
def pool() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=os.cpu_count() or 2, thread_name_prefix="nwbzarr-encode")


def chunk_encoder(array: zarr.Array) -> Callable[[np.ndarray], bytes] | None:
    """The encoder of one full chunk of ``array`` when numcodecs reproduces zarr's bytes; else None."""
    meta = array.metadata
    if meta.zarr_format != 3 or array.shards or array.filters or not isinstance(array.serializer, BytesCodec):
        return None
    dtype = np.dtype(array.dtype)
    if dtype.kind not in "biuf" or (dtype.itemsize > 1 and str(array.serializer.endian) != "little"):
        return None
    steps: list[Any] = []
    for codec in array.compressors:
        if isinstance(codec, BloscCodec):
            steps.append(numcodecs.Blosc(cname=str(codec.cname), clevel=codec.clevel,
                                         shuffle=SHUFFLES[str(codec.shuffle)],
                                         blocksize=codec.blocksize, typesize=codec.typesize or dtype.itemsize))
        elif isinstance(codec, ZstdCodec):
            steps.append(numcodecs.Zstd(level=codec.level, checksum=codec.checksum))
        else:
            return None
    little = dtype.newbyteorder("<")

    def encode(chunk: np.ndarray) -> bytes:
        data: Any = np.ascontiguousarray(chunk, dtype=little).tobytes()
        for step in steps:
            data = step.encode(data)
        return bytes(data)

    return encode


def write_file(path: Path, data: bytes) -> None:
    """Write a chunk file as zarr's LocalStore does (a temporary file renamed into place: readers never see a
    partial chunk), without a round trip through zarr's event loop."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.partial")
    try:
        temp.write_bytes(data)
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise


def write_block(array: zarr.Array, start: int, block: np.ndarray) -> None:
    """``array[start:start + len(block)] = block``: whole chunks are encoded here in parallel and stored
    directly; a block that does not start on a chunk boundary goes through zarr."""
    encode = chunk_encoder(array)
    meta = array.metadata
    step = int(array.chunks[0])
    if encode is None or meta.zarr_format != 3 or start % step or block.shape[1:] != tuple(array.shape[1:]):
        if resume_store.active(array.store):
            _write_resumed(array, start, block)
        else:
            array[start:start + len(block)] = block
        return
    chunks = tuple(int(c) for c in array.chunks)
    fill = meta.fill_value
    key_encoding = meta.chunk_key_encoding
    grid = [range(math.ceil(len(block) / step))] + [range(math.ceil(n / c)) for n, c in
                                                     zip(block.shape[1:], chunks[1:], strict=True)]

    store = array.store_path.store
    local_root = Path(store.root) if isinstance(store, LocalStore) else None

    def one(index: tuple[int, ...]) -> None:
        key = key_encoding.encode_chunk_key((index[0] + start // step, *index[1:]))
        full_key = f"{array.path}/{key}" if array.path else key
        if resume_store.is_stored(store, full_key):
            return  # a resumed write keeps what a killed run stored
        region = tuple(slice(i * c, (i + 1) * c) for i, c in zip(index, chunks, strict=True))
        piece = block[region]
        if piece.shape != chunks:  # an edge chunk is stored full size, padded with the fill value
            padded = np.full(chunks, fill, dtype=array.dtype)
            padded[tuple(slice(0, n) for n in piece.shape)] = piece
            piece = padded
        # stored by the thread that encoded it: writes overlap with the other chunks' encoding
        if local_root is not None:
            write_file(local_root / full_key, encode(piece))
        else:
            set_bytes(store, full_key, encode(piece))
        resume_store.written(store, full_key)

    for _ in pool().map(one, itertools.product(*grid)):
        pass


def _write_resumed(array: zarr.Array, start: int, block: np.ndarray) -> None:
    """Through zarr, unless a killed run already stored every shard (or chunk) the block covers."""
    keys = resume_store.unit_keys(array, start, start + len(block))
    if all(resume_store.exists(array.store, key) for key in keys):
        resume_store.keep(array.store, len(keys))
        return
    array[start:start + len(block)] = block
    for key in keys:
        resume_store.written(array.store, key)
