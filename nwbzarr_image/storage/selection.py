"""Plain selections (integers and slices of step 1) and the frame ranges read ahead during playback."""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import numpy as np

Selection = tuple[slice, ...]


def basic_selection(key: Any, shape: tuple[int, ...]) -> tuple[Selection, tuple[int, ...]] | None:
    """``key`` as slices of step 1 within ``shape`` plus the axes an integer dropped, or None when it is
    anything else (steps, arrays, None, booleans)."""
    if not isinstance(key, tuple):
        key = (key,)
    if any(k is Ellipsis for k in key):
        if sum(k is Ellipsis for k in key) > 1:
            return None
        at = next(i for i, k in enumerate(key) if k is Ellipsis)
        key = key[:at] + (slice(None),) * (len(shape) - len(key) + 1) + key[at + 1:]
    if len(key) > len(shape):
        return None
    key = key + (slice(None),) * (len(shape) - len(key))
    out, dropped = [], []
    for axis, (k, n) in enumerate(zip(key, shape, strict=True)):
        if isinstance(k, slice):
            start, stop, step = k.indices(n)
            if step != 1:
                return None
            out.append(slice(start, max(start, stop)))
        elif isinstance(k, (int, np.integer)) and not isinstance(k, bool):
            i = int(k) + n if k < 0 else int(k)
            if not 0 <= i < n:
                return None
            out.append(slice(i, i + 1))
            dropped.append(axis)
        else:
            return None
    return tuple(out), tuple(dropped)


def blocks_along_time(reader: Any, start: int, stop: int, target_bytes: int) -> Iterator[tuple[int, int]]:
    """Frame ranges [a, b) covering start..stop, each whole (inner) chunks along time, about ``target_bytes``
    decoded, never across a shard: the units read ahead during playback."""
    step = reader.chunks[0]
    frame_bytes = math.prod(reader.shape[1:]) * reader.dtype.itemsize
    per = max(1, target_bytes // max(1, frame_bytes * step)) * step
    shard = reader.shards[0] if reader.shards else None
    a = start
    while a < stop:
        b = min(stop, (a // step) * step + per)
        if shard is not None:
            b = min(b, (a // shard + 1) * shard)
        yield a, b
        a = b
