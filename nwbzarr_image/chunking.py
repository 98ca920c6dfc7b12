"""Default chunk and shard shapes (pure: no zarr). Frames are chunked whole, several per chunk, a few MB a chunk;
series above SHARD_ABOVE_BYTES are also sharded, in shards of whole chunks of about SHARD_TARGET_BYTES
(numbers measured by benchmarks/bench_scale.py, see the README)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

TARGET_CHUNK_BYTES = 4 * 2**20  # a few MB: big enough for object stores, small enough for one frame's read
SERIES_CHUNK_ELEMENTS = 2**20   # 1-D per-sample arrays: ~8 MB of float64 timestamps per chunk
SHARD_ABOVE_BYTES = 2**30       # frames of a series holding more than 1 GiB are sharded by default
SHARD_TARGET_BYTES = 64 * 2**20  # one shard (one stored object): 200 GB in ~3,200 objects, ~1.5x this to write


def frame_chunks(shape: tuple[int, ...], dtype: Any) -> tuple[int, ...]:
    """Whole frames per chunk, as many as fit in about TARGET_CHUNK_BYTES (at least one)."""
    if not shape:
        return ()
    frame_bytes = max(1, math.prod(shape[1:]) * np.dtype(dtype).itemsize)
    frames = max(1, min(max(shape[0], 1), TARGET_CHUNK_BYTES // frame_bytes))
    return (frames, *(max(n, 1) for n in shape[1:]))


def series_chunks(shape: tuple[int, ...]) -> tuple[int, ...]:
    """Per-sample arrays: long runs along time, whole rows of the other axes."""
    if not shape:
        return ()
    rest = math.prod(shape[1:]) or 1
    n = max(1, min(max(shape[0], 1), SERIES_CHUNK_ELEMENTS // rest))
    return (n, *(max(k, 1) for k in shape[1:]))


def single_chunk(shape: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(max(n, 1) for n in shape)


def frame_shards(shape: tuple[int, ...], dtype: Any, chunks: tuple[int, ...], *,
                 above: int | None = SHARD_ABOVE_BYTES, target: int = SHARD_TARGET_BYTES) -> tuple[int, ...] | None:
    """The default shard shape of frames stored in ``chunks``, or None when they are not sharded.

    Parameters
    ----------
    shape : tuple of int
        The array's shape, frames first.
    dtype : numpy dtype
        Its element type.
    chunks : tuple of int
        The inner chunk shape; only chunks of whole frames are sharded.
    above : int or None
        Data of at most this many bytes is not sharded; None never shards.
    target : int
        Bytes of one shard: as many whole chunks as fit (at least 2, at most what the frames need).

    Returns
    -------
    tuple of int or None
        ``(frames_per_shard, *shape[1:])``, a multiple of ``chunks[0]`` frames.
    """
    if above is None or len(shape) < 2 or tuple(chunks[1:]) != tuple(shape[1:]):
        return None
    itemsize = np.dtype(dtype).itemsize
    if math.prod(shape) * itemsize <= above:
        return None
    per_shard = min(max(1, target // max(1, math.prod(chunks) * itemsize)), math.ceil(shape[0] / chunks[0]))
    if per_shard < 2:
        return None  # a shard of one chunk is a chunk with an index: no fewer objects
    return (per_shard * chunks[0], *shape[1:])


def stored_objects(shape: tuple[int, ...], chunks: tuple[int, ...], shards: tuple[int, ...] | None = None) -> int:
    """Objects an array of ``shape`` stores when every chunk (or shard) is written, besides its zarr.json."""
    unit = shards or chunks
    return math.prod(math.ceil(n / u) for n, u in zip(shape, unit, strict=True)) if all(shape) else 0
