"""Stream data-chunk iterators into zarr arrays: whole chunks (shards) written once, in parallel, with the
committed shape advanced after every flushed batch so that a killed writer leaves a readable prefix."""

from __future__ import annotations

import math
import queue
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import zarr

from nwbzarr_image.errors import SchemaError
from nwbzarr_image.iterators import AbstractDataChunkIterator
from nwbzarr_image.storage.direct import write_block
from nwbzarr_image.storage.steps import step
from nwbzarr_image.storage.zarr_compat import set_consolidated_shapes

BATCH_BYTES = 16 * 2**20   # one write spans several chunks (encoded in parallel); small enough to pipeline
GROWTH = 2                 # unknown length: capacity doubles, and is trimmed at the end


def is_iterator(value: Any) -> bool:
    """A data-chunk iterator or any other object to stream (not an array)."""
    if isinstance(value, AbstractDataChunkIterator):
        return True
    return hasattr(value, "__next__") and not hasattr(value, "__array__")


def commit_shapes(store: Any, shapes: dict[str, tuple[int, ...]]) -> None:
    """Set the shape of arrays in the root's consolidated metadata (one write of ``zarr.json``).

    Readers open a file from its consolidated metadata, so this is the shape they see: it only ever
    covers frames whose chunks are already written.
    """
    set_consolidated_shapes(store, shapes)


@dataclass
class StreamJob:
    """An array created by the writer whose values come from an iterator."""

    path: str
    iterator: Any
    known_length: int | None
    written: int = 0
    chunk_writes: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


def initial_shape(iterator: Any) -> tuple[tuple[int, ...], int | None]:
    """The shape to create a streamed array with (its capacity) and its final length when known."""
    maxshape = tuple(iterator.maxshape)
    if maxshape and maxshape[0] is not None:
        return tuple(int(n) for n in maxshape), int(maxshape[0])
    recommended = tuple(iterator.recommended_data_shape())
    rest = tuple(int(n) for n in maxshape[1:]) if all(n is not None for n in maxshape[1:]) else recommended[1:]
    return (max(int(recommended[0]), 1), *rest), None


class FrameStream:
    """Write an iterator's blocks along the first axis, rebatched to whole write units (chunks or shards)."""

    def __init__(self, array: zarr.Array, job: StreamJob, commit: Callable[[int], None], start: int = 0) -> None:
        self.array = array
        self.job = job
        self.commit = commit
        self.start = start
        unit = array.shards or array.chunks
        self.unit = int(unit[0])
        unit_bytes = math.prod(unit) * array.dtype.itemsize
        self.batch_units = max(1, BATCH_BYTES // max(unit_bytes, 1))
        self.capacity = int(array.shape[0])

    def run(self) -> int:
        """Write everything; returns the number of elements written along the first axis."""
        queue_: queue.Queue[tuple[int, np.ndarray] | None] = queue.Queue(maxsize=1)
        errors: list[BaseException] = []
        writer = threading.Thread(target=self._drain, args=(queue_, errors), daemon=True)
        writer.start()
        try:
            position = self.start
            for offset, block in self._batches():
                if errors:
                    break
                queue_.put((offset, block))
                position = offset + len(block)
        finally:
            queue_.put(None)
            writer.join()
        if errors:
            raise errors[0]
        return position - self.start

    def _drain(self, queue_: queue.Queue[tuple[int, np.ndarray] | None], errors: list[BaseException]) -> None:
        while (item := queue_.get()) is not None:
            if errors:
                continue
            offset, block = item
            try:
                end = offset + len(block)
                if end > self.capacity:
                    self.capacity = max(end, self.capacity * GROWTH)
                    self.array.resize((self.capacity, *self.array.shape[1:]))
                write_block(self.array, offset, block)
                step("chunks written")
                self.job.chunk_writes += math.ceil(end / self.unit) - offset // self.unit
                self.job.written = end - self.start
                self.commit(end)
            except BaseException as err:  # re-raised in the caller's thread
                errors.append(err)

    def _batches(self) -> Iterator[tuple[int, np.ndarray]]:
        """Blocks of whole write units (the last one may be partial), in order along the first axis."""
        pending: list[np.ndarray] = []
        pending_len = 0
        offset = self.start  # first element of pending
        expected = 0         # next position expected from the iterator, relative to start
        target = self.unit * self.batch_units
        for chunk in self.job.iterator:
            data, selection = self._check(chunk, expected)
            expected = selection + len(data)
            pending.append(data)
            pending_len += len(data)
            if pending_len >= target:
                block = np.concatenate(pending) if len(pending) > 1 else pending[0]
                # keep the write aligned: a unit that is not yet complete waits for the next block
                aligned = ((offset + len(block)) // self.unit) * self.unit - offset
                yield offset, block[:aligned]
                rest = block[aligned:]
                offset += aligned
                pending, pending_len = ([rest], len(rest)) if len(rest) else ([], 0)
        if pending_len:
            yield offset, np.concatenate(pending) if len(pending) > 1 else pending[0]

    def _check(self, chunk: Any, expected: int) -> tuple[np.ndarray, int]:
        data = np.asarray(getattr(chunk, "data", chunk))
        selection = getattr(chunk, "selection", None)
        first = selection[0].start if selection else expected
        shape = tuple(self.array.shape[1:])
        if first != expected or tuple(data.shape[1:]) != shape:
            raise SchemaError(
                f"{self.job.path}: iterator blocks must come in order along the first axis and hold whole "
                f"frames; expected a block starting at {expected} with frames of shape {shape}, got one starting "
                f"at {first} with shape {data.shape}. Iterate along axis 0 with whole frames per buffer.")
        if data.dtype != self.array.dtype:
            data = data.astype(self.array.dtype, casting="same_kind")
        return data, first
