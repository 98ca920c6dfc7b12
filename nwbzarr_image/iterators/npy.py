"""Memory-mapped ``.npy`` files and NpyDataChunkIterator over them; never unpickles."""

from __future__ import annotations

import math
import os
from typing import Any

import numpy as np

from nwbzarr_image.errors import SchemaError, StoreNotFoundError
from nwbzarr_image.iterators.data_chunk import Selection
from nwbzarr_image.iterators.generic import GenericDataChunkIterator


def _read_header(path: str) -> tuple[tuple[int, ...], np.dtype, int]:
    """Shape, dtype and the number of bytes after the header."""
    with open(path, "rb") as file:
        try:
            version = np.lib.format.read_magic(file)
            if version == (1, 0):
                shape, _, dtype = np.lib.format.read_array_header_1_0(file)
            else:
                shape, _, dtype = np.lib.format.read_array_header_2_0(file)
        except ValueError as err:
            raise SchemaError(f"open_npy '{path}': not a .npy file; expected a file written by numpy.save, got "
                              f"{err}. For .npz archives open each array with numpy.load.") from err
        data_bytes = os.fstat(file.fileno()).st_size - file.tell()
    return tuple(int(n) for n in shape), np.dtype(dtype), data_bytes


def open_npy(path: str | os.PathLike[str]) -> np.memmap:
    """Memory-map a ``.npy`` file read-only; object arrays are refused, nothing is unpickled.

    Parameters
    ----------
    path : str or os.PathLike
        A file written by :func:`numpy.save`.

    Returns
    -------
    numpy.memmap
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise StoreNotFoundError(f"open_npy '{path}': no such file; expected a .npy file. Check the path.")
    shape, dtype, data_bytes = _read_header(path)
    if dtype.hasobject:
        raise SchemaError(f"open_npy '{path}': object arrays are refused; expected a numeric dtype, got {dtype}. "
                          f"Save the values with a numeric dtype (numpy.asarray(values, dtype=float)).")
    if not shape:
        raise SchemaError(f"open_npy '{path}': a scalar has no frames; expected an array with at least one axis, "
                          f"got shape (). Save the value with numpy.save(path, numpy.atleast_1d(value)).")
    declared = math.prod(shape) * dtype.itemsize  # Python ints: no overflow, whatever the header says
    if any(n < 0 for n in shape) or declared > data_bytes:
        raise SchemaError(f"open_npy '{path}': the header declares shape {shape} of {dtype} ({declared} bytes); "
                          f"expected at most the {data_bytes} bytes the file holds after its header. The file is "
                          "truncated or its header is damaged; save it again with numpy.save.")
    return np.load(path, mmap_mode="r", allow_pickle=False)


class NpyDataChunkIterator(GenericDataChunkIterator):
    """Iterate over a memory-mapped ``.npy`` file buffer by buffer (the first axis is frames).

    Parameters
    ----------
    file_path : str or os.PathLike
        A file written by :func:`numpy.save` with a numeric dtype.
    buffer_gb, buffer_shape, chunk_mb, chunk_shape, display_progress, progress_bar_class, progress_bar_options
        As in :class:`GenericDataChunkIterator`.
    """

    def __init__(self, file_path: str | os.PathLike[str], *, buffer_gb: float | None = None,
                 buffer_shape: tuple[int, ...] | None = None, chunk_mb: float | None = None,
                 chunk_shape: tuple[int, ...] | None = None, display_progress: bool = False,
                 progress_bar_class: Any = None, progress_bar_options: dict[str, Any] | None = None) -> None:
        self.file_path = os.fspath(file_path)
        self.data = open_npy(self.file_path)
        super().__init__(buffer_gb=buffer_gb, buffer_shape=buffer_shape, chunk_mb=chunk_mb,
                         chunk_shape=chunk_shape, display_progress=display_progress,
                         progress_bar_class=progress_bar_class, progress_bar_options=progress_bar_options)

    def _get_data(self, selection: Selection) -> np.ndarray:
        return np.asarray(self.data[selection])

    def _get_maxshape(self) -> tuple[int, ...]:
        return tuple(int(n) for n in self.data.shape)

    def _get_dtype(self) -> np.dtype:
        return self.data.dtype
