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
from nwbzarr_image.errors import NWBZarrImageError, NWBZarrImageWarning, PerformanceWarning, StoreUnreachableError
from nwbzarr_image.model import (
    BaseImage,
    ExternalImage,
    Images,
    ImageSeries,
    IndexSeries,
    NWBFile,
    OpticalSeries,
    TimeSeries,
)
from nwbzarr_image.model.core import raw
from nwbzarr_image.model.parse import format_shapes, shape_matches
from nwbzarr_image.model.record import ArrayRecord
from nwbzarr_image.storage.guard import check_declared

IMAGE_SHAPES: dict[str, list[tuple[int | None, ...]]] = {
    "GrayscaleImage": [(None, None)], "RGBImage": [(None, None, 3)], "RGBAImage": [(None, None, 4)],
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
    problems += _chunk_problems(nwb, deep)
    return sorted(set(problems), key=lambda p: (p.path, p.message))


def _from_warning(message: Warning) -> Problem:
    text = str(message)
    path = text.rsplit("(at ", 1)[1].rstrip(")") if text.endswith(")") and "(at /" in text else "/"
    # a file without consolidated metadata is valid, only slow to open
    severity = "warning" if isinstance(message, PerformanceWarning) else "error"
    return Problem(path, text.split(" (at /")[0], severity)


def _path(obj: Any) -> str:
    return obj.stored.path if obj.stored is not None else obj.name


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
    if isinstance(series, ImageSeries) and raw(series, "external_file") is not None and series.format != "external":
        # not checked when the file is opened (that would read the stored format of every such series)
        found.append(Problem(path, f"Format must be 'external' when external_file is specified; got "
                                   f"{series.format!r}. Pass format='external' or leave format unset."))
    if isinstance(series, OpticalSeries) and raw(series, "field_of_view") is not None:
        fov = np.asarray(series.field_of_view)
        if fov.shape not in ((2,), (3,)):
            found.append(Problem(path, f"field_of_view has shape {fov.shape}; expected (2,) or (3,)"))
    return found


def _images_problems(images: Images) -> list[Problem]:
    found = []
    for image in images.images.values():
        if isinstance(image, ExternalImage):  # its image_format is checked when the file is read
            if not str(image.data or "").strip():
                found.append(Problem(_path(image), "ExternalImage has an empty path; expected the path or URL "
                                                   "of the image file"))
            continue
        allowed = IMAGE_SHAPES.get(image.neurodata_type, IMAGE_SHAPES["Image"])
        shape = tuple(image.data.shape)
        if not any(shape_matches(shape, a) for a in allowed):
            found.append(Problem(_path(image), f"{image.neurodata_type} has shape {shape}; expected "
                                               f"{format_shapes(allowed)}"))
    try:
        order = images.order_of_images  # resolving the references reports the broken ones
        if order is not None and any(not isinstance(i, BaseImage) for i in order.data):
            found.append(Problem(_path(images), "order_of_images refers to something that is not an image"))
    except NWBZarrImageError as err:
        found.append(Problem(f"{_path(images)}/order_of_images", str(err)))
    return found


def _chunk_problems(nwb: NWBFile, deep: bool) -> list[Problem]:
    """Every chunk a frame or time array needs is in the store (and, when ``deep``, decodes)."""
    source = nwb.source
    if nwb.zarr_format != 3 or source is None:
        return []
    found = []
    for series in _series(nwb):
        for member, values in (("data", series.data), ("timestamps", series.timestamps)):
            record = series.stored.array(member) if series.stored is not None else None
            if record is None:
                continue
            try:  # a declared size beyond the limits: its chunks are not listed
                check_declared(record.path, record.shape, record.storage_unit, _itemsize(record.dtype))
            except NWBZarrImageError as err:
                found.append(Problem(record.path, str(err).removeprefix(f"{record.path}: ")))
                continue
            found += _array_chunks(record, source.stored_keys(record.path.lstrip("/") + "/"), values, deep)
    return found


def _itemsize(dtype: str) -> int:
    return 8 if dtype in ("str", "object") else int(np.dtype(dtype).itemsize)


def _array_chunks(record: ArrayRecord, present: set[str], values: Any, deep: bool) -> list[Problem]:
    if not all(record.shape):
        return []
    unit = record.storage_unit
    grid = itertools.product(*(range(math.ceil(n / c)) for n, c in zip(record.shape, unit, strict=True)))
    key = record.path.lstrip("/")
    found = []
    for index in grid:
        name = record.chunk_key(index)
        if f"{key}/{name}" not in present:
            found.append(Problem(record.path, f"chunk {name} is not stored: its values read as the fill value "
                                              "(zarr leaves out chunks equal to the fill value, so it may be meant)",
                                 "warning"))
        elif deep:
            region = tuple(slice(i * c, (i + 1) * c) for i, c in zip(index, unit, strict=True))
            try:
                np.asarray(values[region])
            except StoreUnreachableError as err:  # the store failed: nothing is known about the chunk
                raise StoreUnreachableError("validate " + str(err).removeprefix("read ")) from err
            except NWBZarrImageError as err:
                found.append(Problem(record.path, f"chunk {name} cannot be decoded ({type(err).__name__})"))
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
