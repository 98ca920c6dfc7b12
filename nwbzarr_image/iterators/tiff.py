"""TiffDataChunkIterator: read a multi-page TIFF with tifffile, only the pages of each buffer.

Pages are frames. A file of one series (plain multi-page files, files written by ``tifffile.imwrite``,
ImageJ stacks) is read as that series, as long as it is ``(frames, height, width)`` or
``(frames, height, width, samples)`` (or a single page). A file that tifffile splits into several series
(pages written one by one) is read page by page, when every page has the shape and dtype of the first.
"""

from __future__ import annotations

import logging
import math
import os
from typing import Any

import numpy as np

from nwbzarr_image.errors import MissingDependencyError, SchemaError, StoreNotFoundError
from nwbzarr_image.iterators.data_chunk import DataChunk, Selection
from nwbzarr_image.iterators.generic import GenericDataChunkIterator

_NAME = "TiffDataChunkIterator"


def _import_tifffile() -> Any:
    try:
        import tifffile
    except ImportError as err:
        raise MissingDependencyError(
            f'{_NAME}: reading TIFF files needs tifffile; install with pip install "nwbzarr-image[tiff]"') from err
    return tifffile


class _TifffileLog(logging.Handler):
    """tifffile logs what it finds wrong in a file; kept to be named in our error instead of printed."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())

    def __enter__(self) -> _TifffileLog:
        log = logging.getLogger("tifffile")
        self._propagate, log.propagate = log.propagate, False
        log.addHandler(self)
        return self

    def __exit__(self, *exc: object) -> None:
        log = logging.getLogger("tifffile")
        log.removeHandler(self)
        log.propagate = self._propagate

    def detail(self) -> str:
        return f" (tifffile: {self.messages[0].split('> ', 1)[-1]})" if self.messages else ""


def _open_tiff(path: str) -> Any:
    tifffile = _import_tifffile()
    if not os.path.exists(path):
        raise StoreNotFoundError(f"{_NAME} '{path}': no such file; expected a TIFF file. Check the path.")
    try:
        return tifffile.TiffFile(path)
    except (tifffile.TiffFileError, ValueError, OSError) as err:
        raise SchemaError(f"{_NAME} '{path}': cannot read the file; expected a TIFF file, got "
                          f"{type(err).__name__}: {err}. Check that the file is a complete TIFF.") from err


def _frame_shape(path: str, series: Any) -> tuple[int, tuple[int, ...]]:
    """(number of frames, shape of one frame) of a tifffile series, refusing more than one frame axis."""
    axes, shape = series.axes, tuple(int(n) for n in series.shape)
    frame_axes = 3 if axes.endswith("YXS") else 2
    if not axes.endswith("YX") and frame_axes == 2:
        raise SchemaError(f"{_NAME} '{path}': the pages must be images; expected axes ending in YX or YXS, got "
                          f"{axes!r} with shape {shape}. Convert the file to one page per frame.")
    leading = shape[:-frame_axes]
    if len(leading) > 1:
        raise SchemaError(f"{_NAME} '{path}': expected one frame axis (frames, height, width[, samples]), got axes "
                          f"{axes!r} with shape {shape}. Split the hyperstack, e.g. one file per channel.")
    return (leading[0] if leading else 1), shape[-frame_axes:]


def _pages_as_frames(path: str, tif: Any) -> tuple[int, tuple[int, ...], np.dtype]:
    """(frames, frame shape, dtype) of a file whose pages are the frames; the first odd page is an error."""
    try:
        pages = list(tif.pages)
        first = pages[0]
        shape, dtype, axes = tuple(first.shape), np.dtype(first.dtype), first.axes
        for index, page in enumerate(pages):
            if tuple(page.shape) != shape or np.dtype(page.dtype) != dtype:
                raise SchemaError(f"{_NAME} '{path}': page {index} has shape {tuple(page.shape)} and dtype "
                                  f"{np.dtype(page.dtype)}; expected every page like page 0, shape {shape} dtype "
                                  f"{dtype}. Save the frames as pages of one shape and dtype (one file per kind).")
    except SchemaError:
        raise
    except Exception as err:  # tifffile's own errors on damaged page tables
        raise SchemaError(f"{_NAME} '{path}': cannot read the pages; expected a complete TIFF, got "
                          f"{type(err).__name__}: {err}. Check that the file is not truncated.") from err
    if axes not in ("YX", "YXS"):
        raise SchemaError(f"{_NAME} '{path}': the pages must be images; expected axes YX or YXS, got {axes!r} with "
                          f"shape {shape}. Convert the file to one image per page.")
    return len(pages), shape, dtype


class TiffDataChunkIterator(GenericDataChunkIterator):
    """Iterate over the pages of a multi-page TIFF, reading only the pages each buffer needs.

    The shape is ``(pages, height, width)`` or ``(pages, height, width, samples)`` with the file's dtype. The
    file stays open between buffers; it is closed when the iteration ends, by :meth:`close`, or on leaving a
    ``with`` block.

    Parameters
    ----------
    file_path : str or os.PathLike
        A TIFF file; its first series (all pages of one shape) is read.
    buffer_gb, buffer_shape, chunk_mb, chunk_shape, display_progress, progress_bar_class, progress_bar_options
        As in :class:`GenericDataChunkIterator`.

    Attributes
    ----------
    pages_read : int
        Pages decoded so far (contiguous uncompressed data without one page per frame is read by memory
        mapping and counted per frame).
    """

    def __init__(self, file_path: str | os.PathLike[str], *, buffer_gb: float | None = None,
                 buffer_shape: tuple[int, ...] | None = None, chunk_mb: float | None = None,
                 chunk_shape: tuple[int, ...] | None = None, display_progress: bool = False,
                 progress_bar_class: Any = None, progress_bar_options: dict[str, Any] | None = None) -> None:
        self.file_path = os.fspath(file_path)
        self._tif: Any = None
        with _TifffileLog() as log:
            tif = self._open()
            try:
                self._read_layout(tif, log)
            except SchemaError:
                self.close()
                raise
            except Exception as err:  # tifffile's own errors on a damaged file
                self.close()
                raise SchemaError(f"{_NAME} '{self.file_path}': cannot read the file{log.detail()}; expected a "
                                  f"complete TIFF, got {type(err).__name__}: {err}. The file is damaged or "
                                  "truncated.") from err
        self.pages_read = 0
        super().__init__(buffer_gb=buffer_gb, buffer_shape=buffer_shape, chunk_mb=chunk_mb,
                         chunk_shape=chunk_shape, display_progress=display_progress,
                         progress_bar_class=progress_bar_class, progress_bar_options=progress_bar_options)

    def _read_layout(self, tif: Any, log: _TifffileLog) -> None:
        if not tif.series:
            raise SchemaError(f"{_NAME} '{self.file_path}': no image in the file{log.detail()}; expected a TIFF "
                              "with at least one page, got none. The file is damaged or truncated.")
        self._by_page = len(tif.series) > 1
        if self._by_page:
            self._num_frames, self._frame, self._series_dtype = _pages_as_frames(self.file_path, tif)
        else:
            series = tif.series[0]
            self._num_frames, self._frame = _frame_shape(self.file_path, series)
            self._series_dtype = np.dtype(series.dtype)
            size = os.path.getsize(self.file_path)
            if series.dataoffset is not None and series.dataoffset + series.nbytes > size:
                raise SchemaError(f"{_NAME} '{self.file_path}': the pages' data ends at byte "
                                  f"{series.dataoffset + series.nbytes}; expected it within the file's {size} bytes. "
                                  "The file is truncated.")

    def _get_maxshape(self) -> tuple[int, ...]:
        return (self._num_frames, *self._frame)

    def _get_dtype(self) -> np.dtype:
        return self._series_dtype

    def _open(self) -> Any:
        if self._tif is None:
            self._tif = _open_tiff(self.file_path)
        return self._tif

    def close(self) -> None:
        """Close the file; a later read reopens it."""
        if self._tif is not None:
            self._tif.close()
            self._tif = None

    def __enter__(self) -> TiffDataChunkIterator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __next__(self) -> DataChunk:
        try:
            return super().__next__()
        except StopIteration:
            self.close()
            raise

    def _get_data(self, selection: Selection) -> np.ndarray:
        start, stop = selection[0].indices(self._num_frames)[:2]
        space = (slice(None), *selection[1:])
        series = self._open().series[0]
        pages = self._open().pages if self._by_page else series.pages
        if len(pages) == self._num_frames and all(page is not None for page in pages[start:stop]):
            out = [pages[i].asarray().reshape(self._frame) for i in range(start, stop)]
            self.pages_read += stop - start
            block = np.stack(out) if out else np.empty((0, *self._frame), dtype=self._series_dtype)
            return block[space]
        if series.dataoffset is None:
            raise SchemaError(f"{_NAME} '{self.file_path}': the series has {len(pages)} page(s) for "
                              f"{self._num_frames} frames and its data is not contiguous; expected one page per "
                              f"frame. Re-save the file with one page per frame.")
        frame_size = math.prod(self._frame)
        flat = np.memmap(self.file_path, dtype=series.dtype.newbyteorder(series.parent.byteorder), mode="r",
                         offset=series.dataoffset, shape=(self._num_frames * frame_size,))
        self.pages_read += stop - start
        block = np.asarray(flat[start * frame_size:stop * frame_size]).reshape(stop - start, *self._frame)
        return block[space].astype(self._series_dtype)
