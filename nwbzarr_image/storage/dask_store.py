"""Store a dask array into a zarr array in parallel, on whatever dask scheduler is active.

Every dask chunk covers whole stored chunks (whole shards when sharded), so no two tasks ever write the same
stored object and no lock is needed: the tasks run on threads, or on dask.distributed process workers, which
get the target array through :class:`~nwbzarr_image.storage.lazy.ZarrSource` (it pickles with its store and storage
options). A dask array whose chunks split stored chunks is rechunked first, with a :class:`PerformanceWarning`.
"""

from __future__ import annotations

import math
from typing import Any

import dask.array as da
import numpy as np

from nwbzarr_image.chunking import TARGET_CHUNK_BYTES
from nwbzarr_image.errors import PerformanceWarning, warn
from nwbzarr_image.storage import resume_store
from nwbzarr_image.storage.direct import write_block
from nwbzarr_image.storage.lazy import ZarrSource, is_process_local, storage_chunks


def recommended_chunks(value: da.Array) -> tuple[int, ...] | None:
    """Stored chunks for a dask array of frames (or samples) written without explicit chunks, or None for the
    defaults.

    When the dask chunks hold whole frames, the stored chunks are whole frames too, with a number of frames
    that divides the dask chunks (so every task writes whole chunks) and fits in about TARGET_CHUNK_BYTES.
    """
    if value.ndim < 1 or any(len(axis) != 1 for axis in value.chunks[1:]):
        return None
    interior = value.chunks[0][:-1]
    if not interior:
        return None  # one task along frames: any stored chunking is aligned; the defaults apply
    step = math.gcd(*interior)
    frame_bytes = max(1, math.prod(value.shape[1:]) * value.dtype.itemsize)
    fit = max(1, TARGET_CHUNK_BYTES // frame_bytes)
    return (_largest_divisor(step, fit), *value.shape[1:])


def task_frames(value: da.Array) -> int | None:
    """Frames per task of a dask array cut along frames only (the step its interior chunks share), or None when
    it is one task along frames or cut along other axes too."""
    if value.ndim < 2 or any(len(axis) != 1 for axis in value.chunks[1:]) or len(value.chunks[0]) < 2:
        return None
    return math.gcd(*value.chunks[0][:-1])


def _largest_divisor(n: int, limit: int) -> int:
    """The largest divisor of ``n`` that is at most ``limit`` (at least 1)."""
    best = 1
    for d in range(1, math.isqrt(n) + 1):
        if n % d == 0:
            best = max([best, *(k for k in (d, n // d) if k <= limit)])
    return best


def is_aligned(chunks: tuple[tuple[int, ...], ...], unit: tuple[int, ...]) -> bool:
    """Whether every boundary between dask chunks falls on a boundary between stored units."""
    for sizes, step in zip(chunks, unit, strict=True):
        edge = 0
        for size in sizes[:-1]:
            edge += size
            if edge % step:
                return False
    return True


def aligned_chunks(chunksize: tuple[float, ...], unit: tuple[int, ...], shape: tuple[int, ...]) -> tuple[int, ...]:
    """The multiples of ``unit`` nearest to ``chunksize`` (at least one unit, at most the axis)."""
    return tuple(min(max(n, 1), max(1, round(c / u)) * u) for c, u, n in zip(chunksize, unit, shape, strict=True))


class ChunkTarget(ZarrSource):
    """The target of ``da.store``: a block of whole frames is encoded and stored chunk by chunk on all cores
    (:func:`~nwbzarr_image.storage.direct.write_block`); any other block goes through zarr."""

    def __setitem__(self, key: Any, value: Any) -> None:
        region = key if isinstance(key, tuple) else (key,)
        whole_frames = all(isinstance(s, slice) and s.start in (None, 0) and s.stop in (None, n)
                           for s, n in zip(region[1:], self.shape[1:], strict=False))
        self.check_reachable()
        if len(region) == self.ndim and whole_frames and isinstance(region[0], slice):
            write_block(self.array, region[0].start or 0, np.asarray(value))
        else:
            self.array[key] = value


def store_dask(array: Any, value: da.Array) -> None:
    """Write ``value`` into the zarr ``array`` (same shape) with the active dask scheduler, chunk-aligned.

    Parameters
    ----------
    array : zarr.Array
        The target, already created with its chunks (and shards).
    value : dask.array.Array
        The values; computed task by task, each task writing the stored chunks it covers.
    """
    unit = storage_chunks(array)
    if value.dtype != array.dtype:
        value = value.astype(array.dtype)
    if not is_aligned(value.chunks, unit):
        new = aligned_chunks(value.chunksize, unit, tuple(array.shape))
        kind = "shards" if getattr(array, "shards", None) else "chunks"
        warn(PerformanceWarning(
            f"{array.path}: the dask chunks {value.chunksize} do not line up with the stored {kind} {unit}, so "
            f"two tasks would write one stored object; the array is rechunked to {new} first, which moves every "
            "element between tasks (more memory, and network traffic on a cluster). Fix: rechunk once where the "
            f"array is made, data = data.rechunk({new}), or store it with ZarrDataIO(data, chunks=...) matching "
            "the dask chunks."))
        value = value.rechunk(new)
    target = ChunkTarget(array)
    extra: dict[str, Any] = {"scheduler": "threads"} if is_process_local(array.store) else {}
    if resume_store.active(array.store) and value.ndim:
        runs = _missing_runs(array, value)  # a resumed write computes only the blocks not stored yet
        if runs:
            targets: list[Any] = [target] * len(runs)
            da.store([value[a:b] for a, b in runs], targets, lock=False, compute=True,
                     regions=[(slice(a, b),) for a, b in runs], **extra)
        return
    # one task per dask chunk, each writing whole stored chunks/shards: no lock
    # dask documents targets as anything with numpy-style __setitem__; its annotation wants an array-like
    da.store(value, target, lock=False, compute=True, **extra)  # type: ignore[arg-type]


def _missing_runs(array: Any, value: da.Array) -> list[tuple[int, int]]:
    """The runs of frames of a resumed write still to be computed: the dask blocks along the first axis whose
    stored chunks/shards are not all there (the others are counted as kept and never computed)."""
    runs: list[tuple[int, int]] = []
    start = 0
    for size in value.chunks[0]:
        stop = start + size
        keys = resume_store.unit_keys(array, start, stop)
        if all(resume_store.exists(array.store, key) for key in keys):
            resume_store.keep(array.store, len(keys))
        elif runs and runs[-1][1] == start:
            runs[-1] = (runs[-1][0], stop)
        else:
            runs.append((start, stop))
        start = stop
    return runs
