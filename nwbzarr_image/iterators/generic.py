"""GenericDataChunkIterator: hdmf's abstract iterator over buffers of a source read by selection."""

from __future__ import annotations

import itertools
import math
from abc import abstractmethod
from typing import Any

import numpy as np

from nwbzarr_image.chunking import frame_chunks
from nwbzarr_image.errors import ArgumentTypeError, MissingDependencyError, SchemaError
from nwbzarr_image.iterators.data_chunk import AbstractDataChunkIterator, DataChunk, Selection

DEFAULT_BUFFER_GB = 0.25


class GenericDataChunkIterator(AbstractDataChunkIterator):
    """Read a source buffer by buffer; subclasses say how to read a selection.

    Subclasses implement ``_get_data(selection)``, ``_get_maxshape()`` and ``_get_dtype()``, as in hdmf.

    Parameters
    ----------
    buffer_gb : float, optional
        Size of one buffer in GB (default 0.25; hdmf's is 1.0). Buffers are whole chunks.
    buffer_shape : tuple of int, optional
        Shape of one buffer; a multiple of ``chunk_shape`` along every axis.
    chunk_mb : float, optional
        Size of one chunk in MB; default: whole frames, about 4 MB a chunk.
    chunk_shape : tuple of int, optional
        Chunk shape for storage.
    display_progress : bool
        Show a tqdm progress bar over the buffers.
    progress_bar_class : type, optional
        A tqdm-like class to use instead of ``tqdm.tqdm``.
    progress_bar_options : dict, optional
        Keyword arguments for the progress bar.
    """

    def __init__(self, buffer_gb: float | None = None, buffer_shape: tuple[int, ...] | None = None,
                 chunk_mb: float | None = None, chunk_shape: tuple[int, ...] | None = None,
                 display_progress: bool = False, progress_bar_class: Any = None,
                 progress_bar_options: dict[str, Any] | None = None) -> None:
        if buffer_gb is not None and buffer_shape is not None:
            raise ArgumentTypeError(f"{type(self).__name__}: give buffer_gb or buffer_shape, not both; got "
                                    f"buffer_gb={buffer_gb}, buffer_shape={buffer_shape}.")
        if chunk_mb is not None and chunk_shape is not None:
            raise ArgumentTypeError(f"{type(self).__name__}: give chunk_mb or chunk_shape, not both; got "
                                    f"chunk_mb={chunk_mb}, chunk_shape={chunk_shape}.")
        self._maxshape = tuple(int(n) for n in self._get_maxshape())
        self._dtype = np.dtype(self._get_dtype())
        self.chunk_shape = self._pick_chunks(chunk_mb, chunk_shape)
        self.buffer_shape = self._pick_buffer(buffer_gb, buffer_shape)
        self.display_progress = display_progress
        self.progress_bar_options = dict(progress_bar_options or {})
        grid = [range(0, n, b) if n else range(0) for n, b in zip(self._maxshape, self.buffer_shape, strict=True)]
        self._selections = itertools.product(*grid)
        self.num_buffers = math.prod(math.ceil(n / b) if n else 0 for n, b in
                                     zip(self._maxshape, self.buffer_shape, strict=True))
        # the bar appears with the first buffer: nothing is printed while the caller still checks its input
        self._progress_bar_class = progress_bar_class
        self._progress: Any = None
        self._progress_done = False

    def _pick_chunks(self, chunk_mb: float | None, chunk_shape: tuple[int, ...] | None) -> tuple[int, ...]:
        if chunk_shape is not None:
            if len(chunk_shape) != len(self._maxshape) or any(int(c) < 1 for c in chunk_shape):
                raise SchemaError(f"{type(self).__name__}: chunk_shape must have {len(self._maxshape)} positive "
                                  f"entries; got {chunk_shape}.")
            return tuple(int(c) for c in chunk_shape)
        chunks = frame_chunks(self._maxshape, self._dtype)
        if chunk_mb is not None:
            frame_bytes = math.prod(self._maxshape[1:]) * self._dtype.itemsize
            frames = max(1, min(self._maxshape[0] or 1, int(chunk_mb * 1e6 // max(frame_bytes, 1))))
            chunks = (frames, *chunks[1:])
        return chunks

    def _pick_buffer(self, buffer_gb: float | None, buffer_shape: tuple[int, ...] | None) -> tuple[int, ...]:
        if buffer_shape is not None:
            if len(buffer_shape) != len(self._maxshape) or any(
                    b % c and b < n for b, c, n in zip(buffer_shape, self.chunk_shape, self._maxshape, strict=True)):
                raise SchemaError(f"{type(self).__name__}: buffer_shape must be a multiple of chunk_shape "
                                  f"{self.chunk_shape} along every axis; got {buffer_shape}.")
            return tuple(int(b) for b in buffer_shape)
        gb = DEFAULT_BUFFER_GB if buffer_gb is None else float(buffer_gb)
        if gb <= 0:
            raise SchemaError(f"{type(self).__name__}: buffer_gb must be positive; got {gb}.")
        chunk_bytes = math.prod(self.chunk_shape) * self._dtype.itemsize
        per_buffer = max(1, int(gb * 1e9 // max(chunk_bytes, 1)))
        frames = min(max(self._maxshape[0], 1), self.chunk_shape[0] * per_buffer)
        return (frames, *(max(n, 1) for n in self._maxshape[1:]))

    def _make_progress(self, progress_bar_class: Any) -> Any:
        if progress_bar_class is None:
            try:
                import tqdm
            except ImportError as err:  # pragma: no cover - tqdm is a dependency
                raise MissingDependencyError("display_progress needs tqdm; install with pip install tqdm") from err
            progress_bar_class = tqdm.tqdm
        options = {"total": self.num_buffers, "desc": type(self).__name__, "unit": "buffer",
                   **self.progress_bar_options}
        return progress_bar_class(**options)

    @property
    def maxshape(self) -> tuple[int, ...]:
        return self._maxshape

    @property
    def shape(self) -> tuple[int, ...]:
        """The full shape (known up front for these iterators)."""
        return self._maxshape

    @property
    def num_frames(self) -> int:
        """Length of the first axis."""
        return self._maxshape[0]

    @property
    def dtype(self) -> np.dtype:
        return self._dtype

    def recommended_chunk_shape(self) -> tuple[int, ...]:
        return self.chunk_shape

    def recommended_data_shape(self) -> tuple[int, ...]:
        return self._maxshape

    def __next__(self) -> DataChunk:
        try:
            start = next(self._selections)
        except StopIteration:
            if self._progress is not None:
                self._progress.close()
            self._progress_done = True
            raise
        if self.display_progress and self._progress is None and not self._progress_done:
            self._progress = self._make_progress(self._progress_bar_class)
        selection: Selection = tuple(slice(s, min(s + b, n)) for s, b, n in
                                     zip(start, self.buffer_shape, self._maxshape, strict=True))
        data = np.asarray(self._get_data(selection), dtype=self._dtype)
        if self._progress is not None:
            self._progress.update(1)
        return DataChunk(data, selection)

    @abstractmethod
    def _get_data(self, selection: Selection) -> np.ndarray:
        """The values at ``selection`` (one slice per axis)."""

    @abstractmethod
    def _get_maxshape(self) -> tuple[int, ...]:
        """The full shape of the source."""

    @abstractmethod
    def _get_dtype(self) -> np.dtype:
        """The dtype of the source."""
