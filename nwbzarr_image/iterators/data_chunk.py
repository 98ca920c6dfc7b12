"""DataChunkIterator: hdmf's iterator over buffers of a large array or of a stream of frames."""

from __future__ import annotations

import itertools
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np

from nwbzarr_image.errors import ArgumentTypeError, SchemaError

Selection = tuple[slice, ...]


class DataChunk:
    """A block of values and where it goes in the full array (``selection``: one slice per axis).

    As hdmf's, it is array-like: ``np.asarray(chunk)``, ``np.allclose(chunk, 0)``, ``chunk.shape``,
    ``chunk.dtype`` and any other attribute of ``data``.
    """

    __slots__ = ("data", "selection")

    def __init__(self, data: np.ndarray | None = None, selection: Selection | None = None) -> None:
        self.data = data
        self.selection = selection

    def __len__(self) -> int:
        return len(self.data) if self.data is not None else 0

    def __getattr__(self, attr: str) -> Any:
        if attr in DataChunk.__slots__ or attr.startswith("__"):  # unset slots, copy/pickle probes
            raise AttributeError(attr)
        return getattr(self.data, attr)

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        array = np.asarray(self.data, dtype=dtype)
        return array.copy() if copy else array

    def __getitem__(self, item: Any) -> Any:
        return self.data[item]  # type: ignore[index]

    @property
    def dtype(self) -> np.dtype:
        """The dtype of the values."""
        dtype = getattr(self.data, "dtype", None)
        return np.asarray(self.data).dtype if dtype is None else dtype

    def astype(self, dtype: Any) -> DataChunk:
        """A DataChunk of the same selection with the values converted to ``dtype``."""
        return DataChunk(np.asarray(self.data).astype(dtype), self.selection)

    def get_min_bounds(self) -> tuple[int, ...]:
        """The smallest array shape that holds ``selection``."""
        sel = self.selection
        if isinstance(sel, int):
            return (sel + 1,)
        if isinstance(sel, slice):
            return (sel.stop or 0,)
        if isinstance(sel, tuple):
            return tuple((s.stop or 0) if isinstance(s, slice) else int(s) + 1 for s in sel)
        raise ArgumentTypeError(f"DataChunk: selection must be an int, a slice or a tuple of them; got "
                                f"{type(sel).__name__} {sel!r:.60}.")

    def __repr__(self) -> str:
        return f"DataChunk(shape={getattr(self.data, 'shape', None)}, selection={self.selection})"


class AbstractDataChunkIterator(ABC):
    """What the writer needs from an iterator: ``maxshape``, ``dtype`` and DataChunks in any order."""

    @property
    @abstractmethod
    def maxshape(self) -> tuple[int | None, ...]:
        """The full shape; None along an axis whose length is not known yet."""

    @property
    @abstractmethod
    def dtype(self) -> np.dtype:
        """The dtype of the values."""

    @abstractmethod
    def __next__(self) -> DataChunk:
        """The next block."""

    def __iter__(self) -> Iterator[DataChunk]:
        return self

    def recommended_chunk_shape(self) -> tuple[int, ...] | None:
        """A chunk shape for storage, or None to use the library default."""
        return None

    def recommended_data_shape(self) -> tuple[int, ...]:
        """The shape to create the array with."""
        return tuple(n or 0 for n in self.maxshape)


class DataChunkIterator(AbstractDataChunkIterator):
    """Iterate over ``data`` in buffers of ``buffer_size`` elements along ``iter_axis`` (hdmf's semantics).

    Parameters
    ----------
    data : array-like, iterable or generator
        An array (sliced along ``iter_axis``), or an iterable yielding one element (e.g. one frame) at a
        time; its length may be unknown.
    maxshape : tuple, optional
        The full shape (None for an unknown length). Default: the array's shape, or the first element's
        shape with None inserted at ``iter_axis``.
    dtype : numpy dtype, optional
        Default: the dtype of the array or of the first element.
    buffer_size : int
        Number of elements per DataChunk.
    iter_axis : int
        The axis to iterate over.
    """

    def __init__(self, data: Any = None, maxshape: tuple[int | None, ...] | None = None, dtype: Any = None,
                 buffer_size: int = 1, iter_axis: int = 0) -> None:
        if not isinstance(buffer_size, int) or isinstance(buffer_size, bool) or buffer_size < 1:
            raise ArgumentTypeError(f"DataChunkIterator: 'buffer_size' must be a positive int; got {buffer_size!r}.")
        if not isinstance(iter_axis, int) or iter_axis < 0:
            raise ArgumentTypeError(f"DataChunkIterator: 'iter_axis' must be a non-negative int; got {iter_axis!r}.")
        if data is None or isinstance(data, (str, bytes, dict)):
            raise ArgumentTypeError(f"DataChunkIterator: 'data' must be an array, an iterable or a generator; got "
                                    f"{type(data).__name__}.")
        self.buffer_size = buffer_size
        self.iter_axis = iter_axis
        self._position = 0
        self._first: np.ndarray | None = None
        if hasattr(data, "shape") and hasattr(data, "dtype") and len(data.shape) > iter_axis:
            self._array: Any = data
            self._stream: Iterator[Any] | None = None
            self._maxshape: tuple[int | None, ...] = tuple(maxshape) if maxshape is not None else tuple(data.shape)
            self._dtype = np.dtype(dtype) if dtype is not None else np.dtype(data.dtype)
            return
        if not isinstance(data, Iterable):
            raise ArgumentTypeError(f"DataChunkIterator: 'data' must be an array, an iterable or a generator; got "
                                    f"{type(data).__name__}.")
        self._array = None
        self._stream = iter(data)
        self._first = self._pull()
        if self._first is None:
            shape: tuple[int | None, ...] = tuple(maxshape) if maxshape is not None else (0,)
            self._maxshape, self._dtype = shape, np.dtype(dtype or np.float64)
            return
        element_shape = self._first.shape
        self._maxshape = tuple(maxshape) if maxshape is not None else (
            *element_shape[:iter_axis], None, *element_shape[iter_axis:])
        self._dtype = np.dtype(dtype) if dtype is not None else self._first.dtype
        if len(self._maxshape) != len(element_shape) + 1:
            raise SchemaError(f"DataChunkIterator: each element must have one axis less than maxshape; expected "
                              f"{len(self._maxshape) - 1} axes, got shape {element_shape}.")

    def _pull(self) -> np.ndarray | None:
        assert self._stream is not None
        try:
            return np.asarray(next(self._stream))
        except StopIteration:
            return None

    @property
    def maxshape(self) -> tuple[int | None, ...]:
        return self._maxshape

    @property
    def dtype(self) -> np.dtype:
        return self._dtype

    def __next__(self) -> DataChunk:
        axis = self.iter_axis
        if self._array is not None:
            total = self._array.shape[axis]
            if self._position >= total:
                raise StopIteration
            stop = min(self._position + self.buffer_size, total)
            selection = tuple(slice(self._position, stop) if i == axis else slice(0, n)
                              for i, n in enumerate(self._array.shape))
            block = np.asarray(self._array[selection], dtype=self._dtype)
        else:
            elements = list(itertools.islice(self._elements(), self.buffer_size))
            if not elements:
                raise StopIteration
            block = np.stack(elements, axis=axis).astype(self._dtype, copy=False)
            stop = self._position + len(elements)
            selection = tuple(slice(self._position, stop) if i == axis else slice(0, n)
                              for i, n in enumerate(block.shape))
        self._position = stop
        return DataChunk(block, selection)

    def _elements(self) -> Iterator[np.ndarray]:
        element: np.ndarray | None
        while True:
            if self._first is not None:
                element, self._first = self._first, None
            else:
                element = self._pull()
                if element is None:
                    return
            yield element

    def recommended_data_shape(self) -> tuple[int, ...]:
        if all(n is not None for n in self._maxshape):
            return tuple(int(n) for n in self._maxshape)  # type: ignore[arg-type]
        element = self._first.shape if self._first is not None else ()
        shape = list(element)
        shape.insert(self.iter_axis, self.buffer_size)
        return tuple(shape)
