"""Default chunk shapes (pure: no zarr). Frames are chunked whole, several per chunk, a few MB a chunk."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

TARGET_CHUNK_BYTES = 4 * 2**20  # a few MB: big enough for object stores, small enough for one frame's read
SERIES_CHUNK_ELEMENTS = 2**20   # 1-D per-sample arrays: ~8 MB of float64 timestamps per chunk


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
