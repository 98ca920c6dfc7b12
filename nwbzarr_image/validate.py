"""Check a file against the rules of the image types: required fields, shapes, links and references,
and the chunks each array needs."""

from __future__ import annotations

import itertools
import math
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from nwbzarr_image import io
from nwbzarr_image.errors import NWBZarrImageError, NWBZarrImageWarning, PerformanceWarning, storage_error
from nwbzarr_image.model import Image, Images, ImageSeries, IndexSeries, NWBFile, OpticalSeries, TimeSeries
from nwbzarr_image.model.core import raw
from nwbzarr_image.model.parse import format_shapes, shape_matches
from nwbzarr_image.storage.guard import guard
from nwbzarr_image.storage.zarr_compat import list_keys

IMAGE_SHAPES = {"GrayscaleImage": [(None, None)], "RGBImage": [(None, None, 3)], "RGBAImage": [(None, None, 4)],
                "Image": [(None, None), (None, None, 3), (None, None, 4)]}


@dataclass(frozen=True)
class Problem:
    """One broken rule: where, and what."""

    path: str
    message: str
    severity: str = "error"

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


def validate(url: str, storage_options: dict[str, Any] | None = None, *, deep: bool = False) -> list[Problem]:
    """All the problems of the NWB file at ``url`` (an empty list for a valid file).

    Parameters
    ----------
    url : str
        Path or fsspec URL of an NWB Zarr file (format 3, or a legacy format 2 file).
    storage_options : dict, optional
        Options for the fsspec file system.
    deep : bool
        Also read and decode every chunk of every frame array (finds corrupt or truncated chunks).
    """
    problems: list[Problem] = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            nwb = io.read(url, storage_options)
        except NWBZarrImageError as err:
            return [Problem("/", f"cannot be read: {err}")]
        for series in _series(nwb):
            problems += _series_problems(series)
        for images in _images(nwb):
            problems += _images_problems(images)
    problems += [_from_warning(w.message) for w in caught if isinstance(w.message, NWBZarrImageWarning)]
    problems += _chunk_problems(nwb, url, storage_options, deep)
    return sorted(set(problems), key=lambda p: (p.path, p.message))


def _from_warning(message: Warning) -> Problem:
    text = str(message)
    path = text.rsplit("(at ", 1)[1].rstrip(")") if text.endswith(")") and "(at /" in text else "/"
    # a file without consolidated metadata is valid, only slow to open
    severity = "warning" if isinstance(message, PerformanceWarning) else "error"
    return Problem(path, text.split(" (at /")[0], severity)


def _path(obj: Any) -> str:
    return obj.__dict__.get("_stored_path", obj.name)


def _series(nwb: NWBFile) -> list[TimeSeries]:
    return [obj for obj in nwb.walk_objects() if isinstance(obj, TimeSeries)]


def _images(nwb: NWBFile) -> list[Images]:
    return [obj for obj in nwb.walk_objects() if isinstance(obj, Images)]


def _series_problems(series: TimeSeries) -> list[Problem]:
    path, found = _path(series), []
    shape = tuple(series.data.shape) if series.data is not None else None
    if isinstance(series, OpticalSeries):
        allowed: list[tuple[int | None, ...]] = [(None, None, None), (None, None, None, 3)]
    elif isinstance(series, ImageSeries):
        allowed = [(None, None, None), (None, None, None, None)]
    elif isinstance(series, IndexSeries):
        allowed = [(None,)]
    else:
        allowed = []
    if shape is not None and allowed and not any(shape_matches(shape, a) for a in allowed):
        found.append(Problem(path, f"data has shape {shape}; expected {format_shapes(allowed)}"))
    if isinstance(series, OpticalSeries) and raw(series, "field_of_view") is not None:
        fov = np.asarray(series.field_of_view)
        if fov.shape not in ((2,), (3,)):
            found.append(Problem(path, f"field_of_view has shape {fov.shape}; expected (2,) or (3,)"))
    return found


def _images_problems(images: Images) -> list[Problem]:
    found = []
    for image in images.images.values():
        allowed = IMAGE_SHAPES.get(image.neurodata_type, IMAGE_SHAPES["Image"])
        shape = tuple(image.data.shape)
        if not any(shape_matches(shape, a) for a in allowed):
            found.append(Problem(_path(image), f"{image.neurodata_type} has shape {shape}; expected "
                                               f"{format_shapes(allowed)}"))
    try:
        order = images.order_of_images  # resolving the references reports the broken ones
        if order is not None and any(not isinstance(i, Image) for i in order.data):
            found.append(Problem(_path(images), "order_of_images refers to something that is not an image"))
    except NWBZarrImageError as err:
        found.append(Problem(f"{_path(images)}/order_of_images", str(err)))
    return found


def _chunk_problems(nwb: NWBFile, url: str, storage_options: dict[str, Any] | None, deep: bool) -> list[Problem]:
    """Every chunk a frame or time array needs is in the store (and, when ``deep``, decodes)."""
    if nwb.__dict__.get("zarr_format") != 3:
        return []
    import zarr

    store = nwb.__dict__["_binding"][1]  # the store read (a Zarr store, or an HDF5 file's view)
    found = []
    for series in _series(nwb):
        for member in ("data", "timestamps"):
            key = f"{_path(series).strip('/')}/{member}"
            try:
                array = guard(zarr.open_array(store, path=key, mode="r", zarr_format=3), "/" + key)
            except (FileNotFoundError, zarr.errors.ArrayNotFoundError, KeyError):
                continue
            except NWBZarrImageError as err:  # a declared size beyond the limits: its chunks are not listed
                found.append(Problem("/" + key, str(err).removeprefix(f"/{key}: ")))
                continue
            found += _array_chunks(array, key, deep)
    return found


def _array_chunks(array: Any, key: str, deep: bool) -> list[Problem]:
    if not all(array.shape):
        return []
    unit = tuple(array.shards) if array.shards else tuple(array.chunks)
    grid = itertools.product(*(range(math.ceil(n / c)) for n, c in zip(array.shape, unit, strict=True)))
    encode = array.metadata.chunk_key_encoding.encode_chunk_key
    present = set(list_keys(array.store_path.store, f"{key}/"))
    found = []
    for index in grid:
        chunk_key = f"{key}/{encode(index)}"
        if chunk_key not in present:
            found.append(Problem("/" + key, f"chunk {encode(index)} is not stored: its values read as the fill value "
                                            "(zarr leaves out chunks equal to the fill value, so it may be meant)",
                                 "warning"))
        elif deep:
            region = tuple(slice(i * c, (i + 1) * c) for i, c in zip(index, unit, strict=True))
            try:
                array[region]
            except Exception as err:
                if (unreachable := storage_error(err, str(array.store_path), "validate")) is not None:
                    raise unreachable from err  # the store failed: nothing is known about the chunk
                found.append(Problem("/" + key, f"chunk {encode(index)} cannot be decoded ({type(err).__name__})"))
    return found


def errors(problems: list[Problem], strict: bool = False) -> list[Problem]:
    """The problems that make a file invalid (with ``strict``, warnings too)."""
    return [p for p in problems if strict or p.severity == "error"]


def report(problems: list[Problem], strict: bool = False) -> str:
    """A readable report: one line per problem and a summary line."""
    lines = [f"{p.severity.upper()} {p}" for p in problems]
    bad = errors(problems, strict)
    if not bad:
        lines.append(f"valid{f' ({len(problems)} warnings)' if problems else ''}: no error found")
    else:
        lines.append(f"invalid: {len(bad)} error{'s' if len(bad) > 1 else ''} in {len({p.path for p in bad})} "
                     f"node(s)")
    return "\n".join(lines)
