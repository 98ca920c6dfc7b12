"""The chunk index of one HDF5 dataset as a binary table: 12 bytes a chunk, listed with one ``chunk_iter`` pass."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

TABLE_DTYPE = np.dtype([("offset", "<u8"), ("size", "<u4")])  # packed: 12 bytes a chunk; size 0 = not stored


@dataclass
class ChunkTable:
    """Byte offset and size of every chunk of a dataset, in C order over its chunk grid; chunks whose filters
    were partly skipped (a non-zero HDF5 filter mask) are listed in ``masks``."""

    table: np.ndarray
    masks: dict[int, int] = field(default_factory=dict)

    def lookup(self, linear: int) -> tuple[int, int, int]:
        entry = self.table[linear]
        return int(entry["offset"]), int(entry["size"]), self.masks.get(linear, 0)


def list_chunks(dataset: Any, grid: tuple[int, ...], chunks: tuple[int, ...]) -> ChunkTable:
    """Every stored chunk of an ``h5py.Dataset`` (call in the h5py thread). ``chunk_iter`` visits each chunk
    once in O(N); a ``get_chunk_info(i)`` loop would walk the index again for every chunk (O(N^2))."""
    count = int(np.prod(grid, dtype=np.int64))
    offsets = np.zeros(count, dtype="<u8")
    sizes = np.zeros(count, dtype="<u4")
    masks: dict[int, int] = {}
    strides = np.cumprod((1, *grid[:0:-1]))[::-1]

    def visit(info: Any) -> None:  # a truthy return value would stop the iteration
        linear = int(sum((o // c) * s for o, c, s in zip(info.chunk_offset, chunks, strides, strict=True)))
        offsets[linear] = info.byte_offset
        sizes[linear] = info.size
        if info.filter_mask:
            masks[linear] = int(info.filter_mask)

    if count:
        dataset.id.chunk_iter(visit)
    table = np.zeros(count, dtype=TABLE_DTYPE)
    table["offset"], table["size"] = offsets, sizes
    return ChunkTable(table, masks)


def linear_index(coords: tuple[int, ...], grid: tuple[int, ...]) -> int:
    index = 0
    for c, n in zip(coords, grid, strict=True):
        index = index * n + c
    return index
