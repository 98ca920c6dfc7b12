"""Append frames (and timestamps) to a stored series: data first, then shapes, so a reader never sees
more than what is written."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import zarr

from nwbzarr_image.errors import LayoutError, SchemaError
from nwbzarr_image.iterators import DataChunkIterator
from nwbzarr_image.storage.direct_source import ChunkSource
from nwbzarr_image.storage.lazy import as_dask
from nwbzarr_image.storage.reader import array_record, open_root
from nwbzarr_image.storage.steps import step
from nwbzarr_image.storage.stores import storage_errors
from nwbzarr_image.storage.stream import FrameStream, StreamJob, commit_shapes, is_iterator


def _writable(root: zarr.Group, path: str, where: str) -> zarr.Array:
    """The stored array at ``path``, writing every chunk (a missing chunk always means a lost one)."""
    node = root[path]
    if not isinstance(node, zarr.Array):
        raise LayoutError(f"{where}: {path} is a group in the store; expected an array. The file is damaged; "
                          "check it with: nwbzarr-image validate URL.")
    return node.with_config({"write_empty_chunks": True})


class Appender:
    """Bound to the series of a file opened with ``mode='a'``; ``TimeSeries.append`` calls it."""

    def __init__(self, store: Any, identity: str) -> None:
        self.store = store
        self.identity = identity

    def _root(self) -> zarr.Group:
        """The root as readers see it now (its consolidated metadata holds the committed shapes)."""
        return open_root(self.store, mode="r+")

    def append(self, series: Any, data: Any, timestamps: Any) -> None:
        with storage_errors(self.identity, "append to"):
            self._append(series, data, timestamps)

    def _append(self, series: Any, data: Any, timestamps: Any) -> None:
        where = series.where
        path = series.stored.path if series.stored is not None else None
        if path is None:
            raise SchemaError(f"{where}: append works on series stored in the file; this one is new. Its data is "
                              "written when the file is closed; pass all its frames at construction.")
        if series.data_link_target is not None or series.timestamps_link_target is not None:
            raise SchemaError(f"{where}: cannot append to a series whose data or timestamps link to another "
                              "series; append to the series that holds them.")
        key = path.strip("/")
        root = self._root()
        array = _writable(root, f"{key}/data", where)
        stamps = _writable(root, f"{key}/timestamps", where) if series.timestamps is not None else None
        source = data if is_iterator(data) else self._frames(where, data, array)
        if stamps is None and timestamps is not None:
            raise SchemaError(f"{where}: the series is timed by rate ({series.rate} Hz); got timestamps. Append "
                              "frames only.")
        if stamps is not None and timestamps is None:
            raise SchemaError(f"{where}: the series has timestamps; got frames without timestamps. Pass "
                              "timestamps=<one time in seconds per frame>.")
        times = np.asarray(timestamps, dtype=np.float64).reshape(-1) if stamps is not None else None
        if times is not None and not is_iterator(source) and len(times) != len(source):
            raise SchemaError(f"{where}: expected one timestamp per appended frame ({len(source)}); got "
                              f"{len(times)}. Nothing was added.")
        start = int(array.shape[0])
        job = StreamJob(array.path, source if is_iterator(source) else DataChunkIterator(source, buffer_size=max(
            1, len(source))), None)
        try:
            added = FrameStream(array, job, commit=lambda end: None, start=start).run()
            new_shapes = {array.path: (start + added, *array.shape[1:])}
            if stamps is not None and times is not None:
                if len(times) != added:
                    raise SchemaError(f"{where}: expected one timestamp per appended frame ({added}); got "
                                      f"{len(times)}. Nothing was added.")
                n = int(stamps.shape[0])
                stamps.resize((n + added,))
                stamps[n:] = times
                new_shapes[stamps.path] = (n + added,)
            array.resize(new_shapes[array.path])
        except BaseException:
            array.resize((start, *array.shape[1:]))  # the frames written past ``start`` are hidden again
            raise
        commit_shapes(self.store, new_shapes)
        step("append committed")
        identity = f"{self.identity}/{array.path}"
        series._set_data(as_dask(array, identity, source=ChunkSource(array, url=identity)))
        if stamps is not None:
            series._set_timestamps(as_dask(stamps, f"{self.identity}/{stamps.path}"))
        series.stored = dataclasses.replace(series.stored, arrays={
            **series.stored.arrays, **{name: array_record(a, "/" + a.path, tuple(a.shape))
                                       for name, a in (("data", array), ("timestamps", stamps)) if a is not None}})

    def _frames(self, where: str, data: Any, array: zarr.Array) -> np.ndarray:
        frames = np.asarray(data)
        if frames.ndim == array.ndim - 1:
            frames = frames[np.newaxis]
        if frames.shape[1:] != tuple(array.shape[1:]):
            raise SchemaError(f"{where}: appended frames must match the stored frame shape; expected (n, "
                              f"{', '.join(map(str, array.shape[1:]))}), got {frames.shape}.")
        if not np.can_cast(frames.dtype, array.dtype, casting="same_kind"):
            raise SchemaError(f"{where}: appended frames must have the stored dtype {array.dtype}; got "
                              f"{frames.dtype}. Convert them with frames.astype({str(array.dtype)!r}).")
        return frames.astype(array.dtype, copy=False)
