"""Series as labelled arrays: xarray DataArrays with a time coordinate, and data in physical units, all lazy.

xarray is optional (``pip install "nwbzarr-image[xarray]"``); it is imported when a DataArray is asked for.
"""

from __future__ import annotations

from typing import Any

import dask.array as da
import numpy as np

from nwbzarr_image.errors import MissingDependencyError, SchemaError
from nwbzarr_image.storage.lazy import as_lazy

IMAGE_DIMS = ("frame", "x", "y")


XR_NAMES = {"r, g, b": "color"}


def series_dims(series: Any, ndim: int) -> tuple[str, ...]:
    """("frame", "x", "y"[, "z" | "color"]) for image series ("color" for OpticalSeries); for other series
    ("sample", "dim_1", ...)."""
    nwb = series.data_dims(ndim) if hasattr(series, "data_dims") else None
    if nwb is not None and nwb[0] == IMAGE_DIMS[0]:
        return tuple(XR_NAMES.get(d, d) for d in nwb)
    return ("sample", *(f"dim_{i}" for i in range(1, ndim)))


def data_in_units(series: Any, data: Any, dtype: Any = None) -> da.Array:
    """``data * conversion + offset`` as a lazy dask array, in ``dtype`` (default: NumPy's promotion, i.e.
    float64 for integer data, the same precision for float data)."""
    data = as_lazy(data, series.where)
    if dtype is not None:
        data = data.astype(dtype)
        return data * data.dtype.type(series.conversion) + data.dtype.type(series.offset)
    return data * series.conversion + series.offset


def time_coordinate(series: Any, stamps: Any, n: int) -> Any:
    """Sample times in seconds: the (lazy) timestamps, else ``starting_time + arange(n) / rate``."""
    if stamps is not None:
        times = stamps if isinstance(stamps, da.Array) else np.asarray(stamps, dtype=np.float64)
        if times.shape != (n,):
            raise SchemaError(f"{series.where}: the time coordinate needs one timestamp per sample; expected shape "
                              f"({n},), got {times.shape}. Fix the timestamps of the series.")
        return times
    start = float(series.starting_time or 0.0)
    rate = series.rate
    if not rate:
        return np.full(n, start)
    return start + np.arange(n, dtype=np.float64) / float(rate)


def to_xarray(series: Any, data: Any, timestamps: Any, in_units: bool = False) -> Any:
    """The series as an ``xarray.DataArray`` over its lazy ``data`` (see :meth:`TimeSeries.to_xarray`)."""
    try:
        import xarray
    except ImportError as err:
        raise MissingDependencyError(f"{series.where}: to_xarray needs xarray; expected it installed, got "
                                     f"ImportError ({err}). Install it with: pip install \"nwbzarr-image[xarray]\""
                                     ) from err
    data = data_in_units(series, data) if in_units else as_lazy(data, series.where)
    if data.ndim == 0:
        raise SchemaError(f"{series.where}: to_xarray needs data with a time axis; got a scalar. Store one value "
                          "per sample.")
    if data.shape[0] == 0 and getattr(series, "external_file", None) is not None:
        raise SchemaError(f"{series.where}: to_xarray needs frames in data; got none (the frames are in "
                          "external_file). Convert the video into the file, or open the external files directly.")
    dims = series_dims(series, data.ndim)
    times = time_coordinate(series, timestamps, int(data.shape[0]))
    time = xarray.Variable((dims[0],), times, attrs={"units": "seconds"})
    attrs = {
        "neurodata_type": series.neurodata_type,
        "unit": series.unit,
        "conversion": 1.0 if in_units else series.conversion,
        "offset": 0.0 if in_units else series.offset,
        "resolution": series.resolution,
        "description": series.description,
    }
    return xarray.DataArray(data, dims=dims, coords={"time": time}, name=series.name, attrs=attrs)


class DaskArrayViews:
    """The :class:`~nwbzarr_image.model.ports.ArrayViews` of the model: dask for units, xarray for labels."""

    def data_in_units(self, series: Any, data: Any, dtype: Any) -> da.Array:
        return data_in_units(series, data, dtype)

    def to_xarray(self, series: Any, data: Any, timestamps: Any, in_units: bool) -> Any:
        return to_xarray(series, data, timestamps, in_units)
