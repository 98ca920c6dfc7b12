"""What can be looked at in a file: series, Images collections and single images, as lazy frames."""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import dask.array as da
import numpy as np

from nwbzarr_image.errors import NodeNotFoundError, OutOfRangeError, SchemaError
from nwbzarr_image.layout.paths import COLLECTIONS
from nwbzarr_image.model import (
    BaseImage,
    ExternalImage,
    Images,
    ImageSeries,
    IndexSeries,
    NWBFile,
    ProcessingModule,
    TimeSeries,
)
from nwbzarr_image.storage.lazy import as_lazy

COLOR_CHANNELS = {3: "rgb", 4: "rgba"}


def color_of(where: str, frame_shape: tuple[int, ...]) -> str:
    """'gray' for (rows, columns), 'rgb' for (rows, columns, 3), 'rgba' for (rows, columns, 4)."""
    if len(frame_shape) == 2:
        return "gray"
    if len(frame_shape) == 3 and frame_shape[-1] in COLOR_CHANNELS:
        return COLOR_CHANNELS[frame_shape[-1]]
    raise SchemaError(f"{where}: a frame must be (x, y), (x, y, 3) or (x, y, 4) to be shown; got shape "
                      f"{frame_shape}. Show a series of images, or a single image.")


class FrameSource:
    """The frames of one series, Images collection or image of a file, read lazily.

    Attributes
    ----------
    path : str
        Absolute path of the object in the file, e.g. ``/acquisition/cam``.
    obj : object
        The series, Images or Image.
    kind : {'series', 'images', 'image'}
    count : int
        Number of frames (images of an Images collection; 1 for an image).
    color : {'gray', 'rgb', 'rgba'}
        Of the first frame.
    dtype : numpy.dtype
        Stored dtype of the pixels.
    frame_shape : tuple of int
        Shape of the first frame, (rows, columns[, channels]).
    """

    kind = "series"

    def __init__(self, path: str, obj: Any, count: int, frame_shape: tuple[int, ...], dtype: Any) -> None:
        self.path, self.obj, self.count = path, obj, int(count)
        self.where = f"{getattr(obj, 'neurodata_type', type(obj).__name__)} '{path}'"
        self.frame_shape, self.dtype = tuple(int(n) for n in frame_shape), np.dtype(dtype)
        self.color = color_of(self.where, self.frame_shape) if self.frame_shape else "gray"
        self._times: np.ndarray | None = None

    @property
    def neurodata_type(self) -> str:
        return str(getattr(self.obj, "neurodata_type", type(self.obj).__name__))

    def index(self, index: int) -> int:
        """``index`` as a frame number in 0..count-1 (negative counts from the end)."""
        if self.count == 0:
            raise OutOfRangeError(f"{self.where}: has no frames; expected at least one. Pick another series.")
        if not -self.count <= index < self.count:
            raise OutOfRangeError(f"{self.where}: no frame {index}; expected 0 to {self.count - 1} ({self.count} "
                                  "frames). Pick a frame in that range.")
        return index % self.count

    def span(self, start: int | None, stop: int | None) -> tuple[int, int]:
        """``start:stop`` (slice rules for None and negatives) as a non-empty range within the frames."""
        lo, hi = (0 if start is None else start), (self.count if stop is None else stop)
        lo, hi = (lo + self.count if lo < 0 else lo), (hi + self.count if hi < 0 else hi)
        if not 0 <= lo < hi <= self.count:
            raise OutOfRangeError(f"{self.where}: frames {start}:{stop} are not a range of its frames; expected "
                                  f"0 <= start < stop <= {self.count}, got start {lo} and stop {hi}. Fix "
                                  "--start/--stop.")
        return lo, hi

    def frame(self, index: int) -> da.Array:
        """One frame, lazily: computing it reads only the chunks it touches."""
        raise NotImplementedError

    def frames(self, start: int, stop: int) -> da.Array:
        """Frames ``start:stop`` as one lazy array (all frames must share a shape)."""
        parts = [self.frame(i) for i in range(start, stop)]
        if len({p.shape for p in parts}) > 1:
            raise SchemaError(f"{self.where}: frames {start}:{stop} differ in shape "
                              f"({sorted({p.shape for p in parts})}); expected one shape to compute a projection. "
                              "Use a range of frames of one shape, or a contact sheet (--grid).")
        return da.stack(parts)

    def pick(self, indices: list[int]) -> list[da.Array]:
        """The frames at ``indices``, lazily."""
        return [self.frame(i) for i in indices]

    def block(self, index: int) -> tuple[int, int]:
        """The frames read together with frame ``index`` (worth caching); here just that frame."""
        return index, index + 1

    def time(self, index: int) -> float | None:
        """The time of frame ``index`` in seconds (from rate or timestamps), or None for images."""
        series = self.obj if isinstance(self.obj, TimeSeries) else None
        if series is None:
            return None
        if series.rate is not None:
            return float(series.starting_time or 0.0) + index / series.rate if series.rate else None
        if series.timestamps is None:
            return None
        if self._times is None:
            self._times = np.asarray(series.timestamps, dtype=np.float64)  # once per series: 1-D, small
        return float(self._times[index]) if index < len(self._times) else None


class ArraySource(FrameSource):
    """Frames of a (frames, x, y[, 3|4]) array; 4-D arrays with another last axis are volumes: one z plane."""

    def __init__(self, path: str, obj: Any, data: Any, *, plane: int = 0, cache_blocks: bool = False) -> None:
        data = as_lazy(data, path)
        where = f"{getattr(obj, 'neurodata_type', 'TimeSeries')} '{path}'"
        if data.ndim not in (3, 4):
            raise SchemaError(f"{where}: data must be frames (frames, x, y[, z]) to be shown; got shape "
                              f"{data.shape}. Only image data can be shown.")
        if data.ndim == 4 and data.shape[-1] not in COLOR_CHANNELS:
            if not -data.shape[-1] <= plane < data.shape[-1]:
                raise OutOfRangeError(f"{where}: no z plane {plane}; expected 0 to {data.shape[-1] - 1}. Pick a "
                                      "plane in that range.")
            data = data[..., plane]
        self.data, self.cache_blocks = data, cache_blocks
        super().__init__(path, obj, data.shape[0], data.shape[1:], data.dtype)

    def frame(self, index: int) -> da.Array:
        return self.data[self.index(index)]

    def frames(self, start: int, stop: int) -> da.Array:
        return self.data[start:stop]

    def pick(self, indices: list[int]) -> list[da.Array]:
        return [self.data[i] for i in indices]

    def block(self, index: int) -> tuple[int, int]:
        """The stored (or decoded) chunk of frames holding ``index`` when ``cache_blocks``, else the frame."""
        if not self.cache_blocks:
            return index, index + 1
        bounds = np.cumsum((0, *self.data.chunks[0]))
        k = int(np.searchsorted(bounds, index, side="right")) - 1
        return int(bounds[k]), int(bounds[k + 1])


class StackSource(FrameSource):
    """The images of an Images collection (in ``order_of_images`` when stored) or a single image; an
    ExternalImage's file is opened for its header here, and decoded when its frame is computed."""

    def __init__(self, path: str, obj: Images | BaseImage, *, allow_outside: bool = False) -> None:
        self.images = [obj] if isinstance(obj, BaseImage) else ordered_images(obj)
        self.kind = "image" if isinstance(obj, BaseImage) else "images"
        self.arrays = [image.to_dask(allow_outside=allow_outside) if isinstance(image, ExternalImage)
                       else as_lazy(image.data, path) for image in self.images]
        first = self.arrays[0] if self.arrays else np.zeros((0, 0), np.uint8)
        super().__init__(path, obj, len(self.arrays), first.shape, first.dtype)

    def frame(self, index: int) -> da.Array:
        index = self.index(index)
        image = self.arrays[index]
        color_of(f"{self.images[index].neurodata_type} '{self.images[index].name}'", tuple(image.shape))
        return image


class IndexedSource(FrameSource):
    """An IndexSeries: frame i is image ``data[i]`` of its ``indexed_images`` (or frame of ``indexed_timeseries``)."""

    def __init__(self, path: str, series: IndexSeries, base: FrameSource) -> None:
        self.base = base
        self._indices: np.ndarray | None = None
        super().__init__(path, series, series.data.shape[0], base.frame_shape, base.dtype)

    def frame(self, index: int) -> da.Array:
        index = self.index(index)
        if self._indices is None:
            self._indices = np.asarray(self.obj.data).astype(np.int64)  # once: 1-D, small
        target = int(self._indices[index])
        if not 0 <= target < self.base.count:
            raise OutOfRangeError(f"{self.where}: data[{index}] is {target}, which is not one of the "
                                  f"{self.base.count} frames of {self.base.where}; expected 0 to "
                                  f"{self.base.count - 1}. Fix the indices of the IndexSeries.")
        return self.base.frame(target)


def ordered_images(images: Images) -> list[BaseImage]:
    """The images of a collection in ``order_of_images`` when it is stored, else in the order they were added."""
    order = images.order_of_images
    return list(order.data) if order is not None and len(order) else list(images)


def showable(obj: Any) -> bool:
    """True for image series, IndexSeries, Images, images, and other series with (frames, x, y) data."""
    if isinstance(obj, (ImageSeries, IndexSeries, Images, BaseImage)):
        return True
    return isinstance(obj, TimeSeries) and getattr(obj.data, "ndim", 0) >= 3


def walk(nwbfile: NWBFile) -> Iterator[tuple[str, Any]]:
    """``(path, object)`` for every showable object of the file, images inside Images included."""
    for attr, base in COLLECTIONS.items():
        if attr != "devices":
            for name, obj in getattr(nwbfile, attr).items():
                yield from _walk(f"{base}/{name}", obj)


def _walk(path: str, obj: Any) -> Iterator[tuple[str, Any]]:
    if isinstance(obj, ProcessingModule):
        for name, child in obj.data_interfaces.items():
            yield from _walk(f"{path}/{name}", child)
        return
    if showable(obj):
        yield path, obj
    if isinstance(obj, Images):
        for image in obj:
            yield f"{path}/{image.name}", image


def find(nwbfile: NWBFile, name: str) -> tuple[str, Any]:
    """The object called ``name``: an absolute path (``/acquisition/cam``), a path without the leading slash,
    or a unique trailing part of a path (``cam``, ``stack/frame_1``)."""
    entries = dict(walk(nwbfile))
    key = "/" + name.strip().strip("/")
    if key in entries:
        return key, entries[key]
    matches = [path for path in entries if path.endswith(key)]
    if len(matches) == 1:
        return matches[0], entries[matches[0]]
    if not matches:
        late = _late(nwbfile, key)
        if late is not None:
            return late
    listing = ", ".join(entries) or "none"
    if matches:
        raise NodeNotFoundError(f"{name!r} names more than one object of the file ({', '.join(matches)}); "
                                "expected one. Give the full path.")
    raise NodeNotFoundError(f"no series or image {name!r} in the file; expected one of: {listing}. Pass its "
                            "name or path.")


def _late(nwbfile: NWBFile, key: str) -> tuple[str, Any] | None:
    """A series or image the file's consolidated metadata lacks but its store holds (looked up in the store,
    which warns), by path (``/acquisition/cam``) or by a name directly in a collection (``cam``)."""
    for attr, base in COLLECTIONS.items():
        collection = getattr(nwbfile, attr, None)
        if collection is None or getattr(collection, "find_missing", None) is None:
            continue
        parent, _, name = key.rpartition("/")
        if parent not in ("", base) or not name or name in list(collection):  # known: not showable
            continue
        try:
            found = collection[name]
        except NodeNotFoundError:
            continue
        if isinstance(found, (TimeSeries, Images, BaseImage)):
            return f"{base}/{name}", found
    return None


def open_source(path: str, obj: Any, *, allow_outside: bool = False, plane: int = 0) -> FrameSource:
    """The :class:`FrameSource` of a showable object (external files are opened here: headers only)."""
    where = f"{getattr(obj, 'neurodata_type', type(obj).__name__)} '{path}'"
    if isinstance(obj, (Images, BaseImage)):
        return StackSource(path, obj, allow_outside=allow_outside)
    if isinstance(obj, IndexSeries):
        if obj.indexed_images is not None:
            return IndexedSource(path, obj, StackSource(path, obj.indexed_images, allow_outside=allow_outside))
        if obj.indexed_timeseries is not None:
            target = obj.indexed_timeseries
            return IndexedSource(path, obj, open_source(path, target, allow_outside=allow_outside, plane=plane))
        raise SchemaError(f"{where}: has neither indexed_images nor indexed_timeseries; expected one to show the "
                          "images it indexes. The file is incomplete.")
    if isinstance(obj, ImageSeries) and is_external(obj):
        return ArraySource(path, obj, obj.external_frames(allow_outside=allow_outside), plane=plane,
                           cache_blocks=True)
    if isinstance(obj, TimeSeries):
        return ArraySource(path, obj, obj.data, plane=plane)
    raise SchemaError(f"{where}: cannot be shown; expected an image series, an Images collection or an image, "
                      f"got {type(obj).__name__}.")


def is_external(series: ImageSeries) -> bool:
    """True when the frames are in external files rather than in ``data``."""
    data = series.data
    return series.external_file is not None and (series.format == "external" or not math.prod(data.shape))
