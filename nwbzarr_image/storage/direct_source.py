"""The dask source of stored arrays: each task, and each plain selection computed on its own, reads through a
:class:`~nwbzarr_image.storage.chunk_reader.ChunkReader` (only the chunks touched, decoded in parallel); and
:func:`play`, frames in order with the next ones read ahead."""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import numpy as np

from nwbzarr_image.errors import ArgumentTypeError
from nwbzarr_image.storage.chunk_reader import ChunkReader
from nwbzarr_image.storage.lazy import DirectArray, ZarrSource, as_lazy, read_errors
from nwbzarr_image.storage.selection import basic_selection, blocks_along_time

PLAY_BLOCK_BYTES = 8 * 2**20  # decoded bytes per read-ahead unit (whole chunks; never across a shard)
PLAY_AHEAD_BYTES = 64 * 2**20  # decoded bytes read ahead of the playhead at most


class ChunkSource(ZarrSource):
    """A :class:`~nwbzarr_image.storage.lazy.ZarrSource` that reads plain selections through a ChunkReader when the
    array's layout allows it (else through zarr, as its parent does)."""

    _reader: ChunkReader | bool | None = False  # False: not made yet (made on first use, once per process)

    @property
    def reader(self) -> ChunkReader | None:
        if self._reader is False:
            where = f"/{self.array.path}" if self.array.path else repr(self.array.store)
            self._reader = ChunkReader.of(self.array, where, self.strict)
        return self._reader  # type: ignore[return-value]

    def __getitem__(self, key: Any) -> Any:
        reader = self.reader
        plain = basic_selection(key, self.shape) if reader is not None else None
        if plain is None:
            return super().__getitem__(key)
        self.check_reachable()
        selection, dropped = plain
        with read_errors(self.url, reader.where, key):  # type: ignore[union-attr]
            values = reader.read(selection)  # type: ignore[union-attr]
        return values.reshape(tuple(n for axis, n in enumerate(values.shape) if axis not in dropped)) if dropped \
            else values

    def selected_shape(self, key: Any) -> tuple[int, ...] | None:
        """The shape of ``data[key]`` when it can be read directly, else None."""
        plain = basic_selection(key, self.shape) if self.reader is not None else None
        if plain is None:
            return None
        selection, dropped = plain
        return tuple(s.stop - s.start for axis, s in enumerate(selection) if axis not in dropped)

    def read_direct(self, key: Any) -> np.ndarray:
        return np.asarray(self[(slice(None),) * self.ndim if key is None else key])


def play(data: Any, start: int = 0, stop: int | None = None, *, ahead_bytes: int = PLAY_AHEAD_BYTES
         ) -> Iterator[np.ndarray]:
    """The frames ``start:stop`` of a series (or its data) one by one, in order, reading ahead of the playhead.

    While frame ``i`` is used, the stored chunks of the next frames are fetched and decoded concurrently (at
    most ``ahead_bytes`` of decoded frames, in units of whole chunks that never span two shards), so playing
    a movie over a network waits for the latency once, not once per frame.

    Parameters
    ----------
    data : ImageSeries or array-like
        A series (its ``data`` is played) or frames (first axis = time).
    start, stop : int, optional
        The frames played (slice rules; default all).
    ahead_bytes : int
        Decoded bytes read ahead at most (default 64 MiB).

    Yields
    ------
    numpy.ndarray
        One frame after the other.
    """
    values = getattr(data, "data", data)
    if values is None:
        raise ArgumentTypeError(f"play: expected a series with data or an array; got {type(data).__name__} without "
                                "data. Pass series.data, or a series that stores its frames.")
    lazy = as_lazy(values, "play")
    first, last, _ = slice(start, stop).indices(lazy.shape[0])
    source, key = getattr(lazy, "_direct", (None, None)) if isinstance(lazy, DirectArray) else (None, None)
    if key is not None:  # a selection of a stored array: played through dask
        source = None
    if source is not None and not isinstance(source, ChunkSource) and callable(getattr(source, "source", None)):
        source = source.source()  # a source made on first use (arrays read from the root's JSON)
    reader = source.reader if isinstance(source, ChunkSource) else None
    rest = (slice(None),) * (lazy.ndim - 1)
    if reader is not None:
        units = list(blocks_along_time(reader, first, last, min(PLAY_BLOCK_BYTES, ahead_bytes // 4)))

        def load(a: int, b: int) -> np.ndarray:
            return np.asarray(source[(slice(a, b), *rest)])  # type: ignore[index]
    else:
        bounds = np.cumsum((0, *lazy.chunks[0]))
        units = [(max(first, int(a)), min(last, int(b))) for a, b in itertools.pairwise(bounds)
                 if b > first and a < last]

        def load(a: int, b: int) -> np.ndarray:
            return np.asarray(lazy[a:b].compute())
    unit_bytes = max(1, max((b - a for a, b in units), default=1) * int(np.prod(lazy.shape[1:]))
                     * lazy.dtype.itemsize)
    depth = max(1, min(16, ahead_bytes // unit_bytes))
    with ThreadPoolExecutor(max_workers=min(depth, 8), thread_name_prefix="nwbzarr-play") as pool:
        pending: deque[Future[np.ndarray]] = deque()
        todo = iter(units)
        try:
            for unit in itertools.islice(todo, depth):
                pending.append(pool.submit(load, *unit))
            while pending:
                block = pending.popleft().result()
                nxt = next(todo, None)
                if nxt is not None:
                    pending.append(pool.submit(load, *nxt))
                yield from block
                del block
        finally:
            for future in pending:
                future.cancel()

