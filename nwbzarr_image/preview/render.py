"""One frame, a projection over frames, or a contact sheet, as an 8-bit image with contrast."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import dask
import numpy as np

from nwbzarr_image.errors import ArgumentTypeError, OutOfRangeError
from nwbzarr_image.preview.contrast import Contrast, parse_contrast, to_uint8
from nwbzarr_image.preview.png import encode_png
from nwbzarr_image.preview.sources import FrameSource, color_of

Projection = Literal["mean", "max", "std"]
PROJECTIONS = ("mean", "max", "std")
CHANNELS = {"gray": 1, "rgb": 3, "rgba": 4}


@dataclass(frozen=True)
class Preview:
    """An 8-bit image made from a source's frames.

    Attributes
    ----------
    pixels : numpy.ndarray
        uint8, (rows, columns) gray, (rows, columns, 3) RGB or (rows, columns, 4) RGBA.
    frames : tuple of int
        The frames it shows (for a projection, every frame of the range).
    limits : tuple of float
        The stored values shown as black and as white.
    what : str
        A short description, e.g. ``max of frames 0:100``.
    """

    pixels: np.ndarray
    frames: tuple[int, ...]
    limits: tuple[float, float]
    what: str

    @property
    def color(self) -> str:
        """'gray', 'rgb' or 'rgba'."""
        return "gray" if self.pixels.ndim == 2 else {3: "rgb", 4: "rgba"}[self.pixels.shape[-1]]

    def png(self, level: int = 6) -> bytes:
        """The image as PNG bytes (``level``: zlib compression, 1 fastest to 9 smallest)."""
        return encode_png(self.pixels, level=level)

    def save(self, path: str | Path) -> None:
        """Write the image as a PNG file."""
        Path(path).write_bytes(self.png())

    def describe(self) -> str:
        rows, columns = self.pixels.shape[:2]
        return f"{self.what} ({columns}x{rows} {self.color}, black {self.limits[0]:g}, white {self.limits[1]:g})"


def frame_image(source: FrameSource, index: int, contrast: Contrast | str | None = "auto", *,
                array: np.ndarray | None = None) -> Preview:
    """Frame ``index`` of ``source`` (``array``: the frame when already read)."""
    index = source.index(index)
    values = np.asarray(source.frame(index).compute() if array is None else array)
    pixels, limits = to_uint8(values, contrast, color=color_of(source.where, values.shape))
    return Preview(pixels, (index,), limits, f"frame {index} of {source.path}")


def projection_image(source: FrameSource, projection: Projection, start: int | None = None,
                     stop: int | None = None, contrast: Contrast | str | None = "auto") -> Preview:
    """The ``mean``, ``max`` or ``std`` over frames ``start:stop``, computed lazily chunk by chunk with dask.

    Contrast ``none`` uses the natural range of the stored dtype (the projection is in stored units).
    """
    if projection not in PROJECTIONS:
        raise ArgumentTypeError(f"projection: unknown kind {projection!r}; expected one of {', '.join(PROJECTIONS)}.")
    lo, hi = source.span(start, stop)
    frames = source.frames(lo, hi)
    if projection == "max":
        result = frames.max(axis=0)
    elif projection == "mean":
        result = frames.mean(axis=0, dtype=np.float64)
    else:
        result = frames.astype(np.float64).std(axis=0)
    values = np.asarray(result.compute())
    pixels, limits = to_uint8(values, contrast, color=color_of(source.where, values.shape), dtype=source.dtype)
    return Preview(pixels, tuple(range(lo, hi)), limits, f"{projection} of frames {lo}:{hi} of {source.path}")


def grid_indices(count: int, start: int, stop: int) -> list[int]:
    """``count`` evenly spaced frames of ``start:stop``, first and last included."""
    return [int(i) for i in np.round(np.linspace(start, stop - 1, count)).astype(np.int64)]


def grid_layout(count: int) -> tuple[int, int]:
    """(rows, columns) of a contact sheet of ``count`` tiles: as square as possible, filled row by row."""
    columns = math.ceil(math.sqrt(count))
    return math.ceil(count / columns), columns


def grid_image(source: FrameSource, count: int, contrast: Contrast | str | None = "auto", *, start: int | None = None,
               stop: int | None = None, gap: int = 2) -> Preview:
    """A contact sheet of ``count`` evenly spaced frames, row by row, ``gap`` black pixels apart.

    All tiles share one contrast (auto: percentiles over every tile). Tiles of different sizes are placed
    top-left in cells of the largest; gray tiles are drawn as RGB when other tiles have color.
    """
    lo, hi = source.span(start, stop)
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= hi - lo:
        raise OutOfRangeError(f"{source.where}: a contact sheet of {count!r} frames; expected 1 to {hi - lo} (the "
                              f"frames in {lo}:{hi}). Pass a smaller --grid.")
    indices = grid_indices(count, lo, hi)
    tiles = [np.asarray(t) for t in dask.compute(*source.pick(indices))]
    colors = [color_of(source.where, t.shape) for t in tiles]
    dtype = np.result_type(*[t.dtype for t in tiles])
    pool = np.concatenate([(t[..., :3] if c == "rgba" else t).ravel() for t, c in zip(tiles, colors, strict=True)])
    contrast = parse_contrast(contrast)
    _, limits = to_uint8(tiles[0], contrast, color=colors[0], dtype=dtype, pool=pool)
    fixed = Contrast("fixed", *limits)
    color = max(colors, key=lambda c: CHANNELS[c])
    rows, columns = grid_layout(count)
    height, width = max(t.shape[0] for t in tiles), max(t.shape[1] for t in tiles)
    shape: tuple[int, ...] = (rows * height + (rows - 1) * gap, columns * width + (columns - 1) * gap)
    sheet = np.zeros(shape if color == "gray" else (*shape, CHANNELS[color]), np.uint8)
    for k, (tile, tile_color) in enumerate(zip(tiles, colors, strict=True)):
        pixels = as_channels(to_uint8(tile, fixed, color=tile_color, dtype=dtype)[0], color)
        top, left = (k // columns) * (height + gap), (k % columns) * (width + gap)
        sheet[top:top + pixels.shape[0], left:left + pixels.shape[1]] = pixels
    return Preview(sheet, tuple(indices), limits, f"{count} frames of {source.path} ({', '.join(map(str, indices))})")


def as_channels(pixels: np.ndarray, color: str) -> np.ndarray:
    """uint8 gray/RGB/RGBA pixels converted to ``color`` (gray repeated into RGB; opaque alpha added)."""
    if color == "gray":
        return pixels
    if pixels.ndim == 2:
        pixels = np.repeat(pixels[..., None], 3, axis=-1)
    if color == "rgba" and pixels.shape[-1] == 3:
        pixels = np.concatenate([pixels, np.full((*pixels.shape[:2], 1), 255, np.uint8)], axis=-1)
    return pixels


def render(source: FrameSource, *, frame: int | None = None, projection: Projection | None = None,
           grid: int | None = None, start: int | None = None, stop: int | None = None,
           contrast: Contrast | str | None = "auto") -> Preview:
    """One of: frame ``frame`` (the default, frame 0), a ``projection`` over ``start:stop``, or a ``grid``."""
    chosen = [name for name, value in (("frame", frame), ("projection", projection), ("grid", grid))
              if value is not None]
    if len(chosen) > 1:
        raise ArgumentTypeError(f"preview: choose one of frame, projection and grid; got {' and '.join(chosen)}.")
    if (start is not None or stop is not None) and not (projection or grid):
        raise ArgumentTypeError("preview: start/stop choose the frames of a projection or a grid; got them for a "
                                "single frame. Pass --projection or --grid, or use --frame N.")
    if projection is not None:
        return projection_image(source, projection, start, stop, contrast)
    if grid is not None:
        return grid_image(source, grid, contrast, start=start, stop=stop)
    return frame_image(source, 0 if frame is None else frame, contrast)


def preview(url: Any, name: str, *, storage_options: dict[str, Any] | None = None, allow_outside: bool = False,
            plane: int = 0, **options: Any) -> Preview:
    """Open ``url`` and render the series or image ``name`` (see :func:`render` for ``options``).

    Parameters
    ----------
    url : str or zarr store
        The NWB Zarr file (local path or fsspec URL).
    name : str
        Path (``/acquisition/cam``) or unique name (``cam``) of a series, Images collection or image.
    storage_options : dict, optional
        fsspec options.
    allow_outside : bool
        For external-file series: accept files outside the NWB file's directory.
    plane : int
        For volumes (frames, x, y, z): the z plane shown.
    """
    from nwbzarr_image import io
    from nwbzarr_image.preview.sources import find, open_source

    nwbfile = io.read(url, storage_options)
    path, obj = find(nwbfile, name)
    return render(open_source(path, obj, allow_outside=allow_outside, plane=plane), **options)
