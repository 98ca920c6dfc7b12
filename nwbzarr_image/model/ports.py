"""What the model needs from the outer layers, declared as Protocols and implemented outside ``model``.

The model never imports zarr, fsspec or dask: a file that was read carries a :class:`FileSource` (set by
``nzi.read``/``nzi.open``), and objects that were not read use the process-wide :class:`Services` that the
package installs once, in ``nwbzarr_image/__init__.py``.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Protocol


class Appender(Protocol):
    """Grows a stored series in place (``TimeSeries.append``)."""

    def append(self, series: Any, data: Any, timestamps: Any) -> None:
        """Append ``data`` (and ``timestamps``) to the stored ``series``."""


class ExternalFiles(Protocol):
    """Resolves and opens the external video files of an ImageSeries."""

    def video(self, series: Any, *, allow_outside: bool, allowed_roots: Iterable[str | os.PathLike[str]],
              color: bool | None) -> Any:
        """The series' external files opened (headers only) as one video."""

    def image(self, image: Any, *, lazy: bool, allow_outside: bool,
              allowed_roots: Iterable[str | os.PathLike[str]]) -> Any:
        """The pixels of an ExternalImage's file (lazily: a dask array read on compute)."""


class ArrayViews(Protocol):
    """Lazy views of a series' data: physical units and labelled arrays."""

    def data_in_units(self, series: Any, data: Any, dtype: Any) -> Any:
        """``data * conversion + offset``, lazily."""

    def to_xarray(self, series: Any, data: Any, timestamps: Any, in_units: bool) -> Any:
        """An ``xarray.DataArray`` over the series' data."""


class FileSource(Protocol):
    """The store a file was read from, as the objects of that file see it."""

    url: str
    zarr_format: int
    read_only: bool

    @property
    def appender(self) -> Appender | None:
        """Appends to series of this file; None when the file is open read-only."""

    @property
    def external(self) -> ExternalFiles:
        """External files resolved against the directory holding this file."""

    def find_missing(self, path: str) -> Any:
        """The object at ``path`` that the consolidated metadata did not list, or None."""

    def stored_keys(self, prefix: str) -> set[str]:
        """The keys stored under ``prefix`` (one listing request)."""

    def stored_bytes(self, prefix: str) -> int:
        """The bytes stored under ``prefix`` (a listing, and sizes where the listing has none)."""


@dataclass(frozen=True)
class Services:
    """Implementations for objects that were not read from a file."""

    arrays: ArrayViews
    external: ExternalFiles


_services: list[Services] = []


def install(services: Services) -> None:
    """Set the process-wide services (called once, by the package's ``__init__``)."""
    _services[:] = [services]


def services() -> Services:
    """The installed services."""
    if not _services:
        raise RuntimeError("nwbzarr_image.model.ports: no services installed; import nwbzarr_image first.")
    return _services[0]
