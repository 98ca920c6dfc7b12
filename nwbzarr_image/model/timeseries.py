"""TimeSeries: the base of every image series (``core/nwb.base.yaml``)."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from nwbzarr_image.errors import ArgumentTypeError, NWBRuleWarning, ReadOnlyError, SchemaError, warn
from nwbzarr_image.model import ports
from nwbzarr_image.model.core import Checker, Container, field, raw
from nwbzarr_image.model.dataio import unwrap
from nwbzarr_image.model.parse import length_of, parse_array, parse_float, parse_str

CONTINUITY = ("continuous", "instantaneous", "step")


class TimeSeries(Container):
    """A series of samples over time, timed by ``timestamps`` or by ``starting_time`` + ``rate``.

    Parameters
    ----------
    name : str
        Name of the series; no '/' or ':'.
    data : array-like or TimeSeries
        Values, first dimension is time. A TimeSeries links to that series' data.
    unit : str
        Base unit of the data.
    resolution, conversion, offset : float
        ``data * conversion + offset`` is in ``unit``; ``resolution`` is the smallest meaningful
        difference (-1.0 when unknown). Python ints are accepted.
    timestamps : array-like or TimeSeries, optional
        Sample times in seconds; a TimeSeries links to that series' timestamps.
    starting_time : float, optional
        Time of the first sample when timed by ``rate`` (default 0.0).
    rate : float, optional
        Sampling rate in Hz. Exactly one of ``timestamps`` and ``rate`` is required.
    comments, description : str
        Free text.
    control : array-like, optional
        Numerical label of each sample.
    control_description : array-like of str, optional
        Description of each control value.
    continuity : {'continuous', 'instantaneous', 'step'}, optional
        How the data behaves between samples.
    """

    neurodata_type = "TimeSeries"
    DEFAULT_DATA: ClassVar[np.ndarray] = np.ndarray((0,), dtype=np.uint8)
    DEFAULT_UNIT: ClassVar[str] = "unknown"
    DEFAULT_RESOLUTION: ClassVar[float] = -1.0
    DEFAULT_CONVERSION: ClassVar[float] = 1.0
    DEFAULT_OFFSET: ClassVar[float] = 0.0
    time_unit: ClassVar[str] = "seconds"
    _timed_check_lengths: ClassVar[bool] = True

    unit = field()
    resolution = field()
    conversion = field()
    offset = field()
    starting_time = field()
    rate = field()
    comments = field()
    description = field()
    control = field()
    control_description = field()
    continuity = field()
    timestamps_unit = field()
    interval = field()
    starting_time_unit = field()

    def __init__(
        self,
        name: str,
        data: Any,
        unit: str,
        resolution: float = -1.0,
        conversion: float = 1.0,
        offset: float = 0.0,
        timestamps: Any = None,
        starting_time: float | None = None,
        rate: float | None = None,
        comments: str = "no comments",
        description: str = "no description",
        control: Any = None,
        control_description: Any = None,
        continuity: str | None = None,
    ) -> None:
        self._init_container(name)
        w = self.where
        if data is None:
            raise ArgumentTypeError(f"{w}: 'data' is required; got None. Pass the samples as an array.")
        if unit is None:
            raise ArgumentTypeError(f"{w}: 'unit' is required; got None. Pass the unit of the data, e.g. 'V'.")
        self._set_data(_parse_data_or_link(w, data, None))
        self.unit = parse_str(w, "unit", unit)
        self._parse_common(resolution, conversion, offset, timestamps, starting_time, rate, comments,
                           description, control, control_description)
        if continuity is not None:
            continuity = parse_str(w, "continuity", continuity)
            if continuity not in CONTINUITY:
                raise SchemaError(f"{w}: forbidden value for 'continuity'; expected one of {list(CONTINUITY)}, "
                                  f"got {continuity!r}.")
        self.continuity = continuity
        self._check_timing(Checker())
        if self._timed_check_lengths:
            self._check_lengths(Checker())
        self._seal()

    # -- assignment -------------------------------------------------------------------------------

    def _parse_common(
        self, resolution: Any, conversion: Any, offset: Any, timestamps: Any, starting_time: Any, rate: Any,
        comments: Any, description: Any, control: Any, control_description: Any,
    ) -> None:
        w = self.where
        self.resolution = parse_float(w, "resolution", resolution, allow_none=False)
        self.conversion = parse_float(w, "conversion", conversion, allow_none=False)
        self.offset = parse_float(w, "offset", offset, allow_none=False)
        if timestamps is not None and not isinstance(timestamps, TimeSeries):
            timestamps = parse_array(w, "timestamps", timestamps, shapes=[(None,)])
        self._set_timestamps(timestamps)
        self.starting_time = parse_float(w, "starting_time", starting_time)
        self.rate = parse_float(w, "rate", rate)
        self.comments = parse_str(w, "comments", comments, allow_none=False)
        self.description = parse_str(w, "description", description, allow_none=False)
        self.control = parse_array(w, "control", control, shapes=[(None,)])
        self.control_description = parse_array(w, "control_description", control_description, shapes=[(None,)])

    def _init_state(self) -> None:
        super()._init_state()
        self.data_link: set[TimeSeries] = set()
        self.timestamp_link: set[TimeSeries] = set()
        self._data: Any = None
        self._timestamps: Any = None

    def _set_data(self, data: Any) -> None:
        self._data = data
        if isinstance(data, TimeSeries):
            data.data_link.add(self)

    def _set_timestamps(self, timestamps: Any) -> None:
        self._timestamps = timestamps
        if isinstance(timestamps, TimeSeries):
            timestamps.timestamp_link.add(self)

    def own_data(self) -> Any:
        """``data`` as held by this series: its array, or the TimeSeries it links to."""
        return self._data

    def own_timestamps(self) -> Any:
        """``timestamps`` as held by this series: its array, the TimeSeries it links to, or None."""
        return self._timestamps

    @classmethod
    def data_dims(cls, ndim: int) -> tuple[str, ...] | None:
        """NWB's dimension names of ``data`` with ``ndim`` dimensions (None when NWB names none)."""
        names = ("num_times", "num_DIM2", "num_DIM3", "num_DIM4")
        return names[:ndim] if 1 <= ndim <= 4 else None

    # -- rules ------------------------------------------------------------------------------------

    def _check_read(self, checker: Checker) -> None:
        """The rules of this type, run on an object decoded from a file."""
        self._check_timing(checker)
        self._check_lengths(checker)

    def _check_timing(self, checker: Checker) -> None:
        """Rules T-b .. T-i of the spec, in pynwb's order."""
        w = self.where
        has_ts = self._timestamps_given()
        if has_ts:
            if self.rate is not None:
                checker.problem(f"{w}: specifying rate and timestamps is not supported; got both. "
                                "Pass either timestamps or rate (with starting_time).")
            if raw(self, "starting_time") is not None:
                checker.problem(f"{w}: specifying starting_time and timestamps is not supported; got both. "
                                "Pass either timestamps or starting_time + rate.")
            self.timestamps_unit = "seconds"
            self.interval = 1
        elif self.rate is not None:
            if self.rate < 0:
                checker.problem(f"{w}: rate must not be a negative value; got {self.rate}. Pass the rate in Hz.")
            elif self.rate == 0.0 and (length_of(self._data_for_length()) or 0) > 1:
                warn(NWBRuleWarning(f"{w}: Timeseries has a rate of 0.0 Hz, but the length of the data "
                                    "is greater than 1."))
            if raw(self, "starting_time") is None:
                self.starting_time = 0.0
            self.starting_time_unit = "seconds"
        else:
            message = (f"{w}: either 'timestamps' or 'rate' must be specified; got neither. "
                       "Pass timestamps=<seconds per frame> or rate=<Hz>.")
            if checker.new:
                raise ArgumentTypeError(message)
            checker.problem(message)

    def _timestamps_given(self) -> bool:
        return self._timestamps is not None

    def _data_for_length(self) -> Any:
        return unwrap(self._data_target())

    def _check_lengths(self, checker: Checker) -> None:
        """Rule T-j: data and timestamps have the same length when both are known without reading."""
        if not self._timestamps_given():
            return
        n_data = length_of(self._data_for_length())
        n_ts = length_of(unwrap(self.timestamps)) if self.timestamps is not None else None
        if n_data is not None and n_ts is not None and n_data != n_ts:
            checker.problem(
                f"{self.where}: Length of data does not match length of timestamps; expected {n_data} "
                f"timestamps, got {n_ts}. Your data may be transposed. Time should be on the 0th dimension."
            )

    # -- public fields ----------------------------------------------------------------------------

    def _data_target(self) -> Any:
        data = self._data
        while isinstance(data, TimeSeries):
            data = data._data
        return data

    @property
    def data(self) -> Any:
        """The data (for a data link, the linked series' data)."""
        return self._data_target()

    @property
    def data_link_target(self) -> TimeSeries | None:
        """The series whose ``data`` this series links to, or None."""
        return self._data if isinstance(self._data, TimeSeries) else None

    @property
    def timestamps(self) -> Any:
        """Timestamps in seconds (for a timestamps link, the linked series' timestamps), or None."""
        ts = self._timestamps
        if isinstance(ts, TimeSeries):
            return ts.timestamps
        return ts

    @property
    def timestamps_link_target(self) -> TimeSeries | None:
        """The series whose ``timestamps`` this series links to, or None."""
        return self._timestamps if isinstance(self._timestamps, TimeSeries) else None

    @property
    def num_samples(self) -> int | None:
        """Number of samples: ``len(data)``, else ``len(timestamps)``; None when neither is known."""
        n = length_of(self._data_for_length())
        if n is not None:
            return n
        warn(NWBRuleWarning(f"The length of the data attribute on this TimeSeries (named: {self.name}) "
                            "could not be determined"))
        if self.timestamps is not None:
            n = length_of(unwrap(self.timestamps))
            if n is not None:
                return n
            if self.rate is None and raw(self, "starting_time") is None:
                warn(NWBRuleWarning("The length of the timestamps attribute on this TimeSeries (named: "
                                    f"{self.name}) could not be determined"))
        return None

    def get_timestamps(self) -> np.ndarray:
        """Stored timestamps, or ``arange(len(data)) / rate + starting_time``."""
        if self.timestamps is not None:
            return np.asarray(unwrap(self.timestamps))
        n = length_of(self._data_for_length())
        if n is None:
            raise SchemaError(f"{self.where}: Cannot generate timestamps because the number of samples in data "
                              "could not be determined.")
        stamps: np.ndarray = np.arange(n) / self.rate + self.starting_time
        return stamps

    def get_starting_time(self) -> float | None:
        """``starting_time``, else the first timestamp; None without samples."""
        start: float | None = self.starting_time
        if start is not None:
            return start
        if self.timestamps is not None and (self.num_samples or 0) > 0:
            return float(np.asarray(unwrap(self.timestamps)[0]))
        return None

    def get_duration(self) -> float | None:
        """Time from the first to the last sample in seconds."""
        n = self.num_samples
        if not n:
            return 0.0 if self.starting_time is not None else None
        if n == 1:
            return 0.0
        if self.timestamps is not None:
            ts = unwrap(self.timestamps)
            return float(np.asarray(ts[-1]) - np.asarray(ts[0]))
        duration: float = (n - 1) / self.rate
        return duration

    def append(self, data: Any, timestamps: Any = None) -> None:
        """Append frames (and their timestamps) to this series, in the file it was opened from.

        Parameters
        ----------
        data : array-like or data-chunk iterator
            New samples along the first axis (one frame may omit it); same frame shape and dtype kind.
        timestamps : array-like, optional
            One time in seconds per new sample; required when the series has timestamps, refused when it
            is timed by ``rate``.

        Notes
        -----
        Only for series of a file opened with ``nzi.open(url, "a")``. Frames are written before the shape
        that readers see is advanced, so an interrupted append leaves the series as it was.
        """
        source = self.file_source()
        appender = source.appender if source is not None else None
        if appender is None:
            raise ReadOnlyError(f"{self.where}: append needs the file opened for writing; got a series that is not "
                                "bound to one. Use: with nzi.open(url, 'a') as nwb: "
                                f"nwb.acquisition[{self.name!r}].append(frames).")
        appender.append(self, data, timestamps)

    def get_data_in_units(self) -> np.ndarray:
        """``data * conversion + offset`` as a numpy array (reads all of the data)."""
        values: np.ndarray = np.asarray(unwrap(self.data)) * self.conversion + self.offset
        return values

    def data_in_units(self, dtype: Any = None) -> Any:
        """``data * conversion + offset`` as a lazy dask array: nothing is read until it is computed.

        Parameters
        ----------
        dtype : numpy dtype, optional
            Compute in this dtype (e.g. ``np.float32`` to halve the memory of float64); by default NumPy's
            promotion: float64 for integer data, the data's own precision for float data.

        Returns
        -------
        dask.array.Array
            Chunked like ``data`` (the stored chunks for a series read from a file).
        """
        return ports.services().arrays.data_in_units(self, unwrap(self.data), dtype)

    def to_xarray(self, in_units: bool = False) -> Any:
        """The series as an ``xarray.DataArray`` over its lazy data (needs the optional xarray).

        Parameters
        ----------
        in_units : bool
            Apply ``conversion`` and ``offset`` (lazily); the attrs then say conversion 1.0 and offset 0.0.

        Returns
        -------
        xarray.DataArray
            Dims ``("frame", "x", "y"[, "z"])`` for image series (``"color"`` for a 4-D OpticalSeries; other
            series ``("sample", "dim_1", ...)``), a ``time`` coordinate in seconds along the first dim (the
            timestamps, lazy when read from a file, or ``starting_time + arange(n) / rate``), and attrs
            ``unit``, ``conversion``, ``offset``, ``resolution``, ``description``, ``neurodata_type``.

        Raises
        ------
        MissingDependencyError
            When xarray is not installed (``pip install "nwbzarr-image[xarray]"``).
        """
        stamps = self.timestamps
        views = ports.services().arrays
        return views.to_xarray(self, unwrap(self.data), unwrap(stamps) if stamps is not None else None, in_units)


def _parse_data_or_link(where: str, data: Any, shapes: list[tuple[int | None, ...]] | None,
                        fix: str = "") -> Any:
    """Data may be array-like or a TimeSeries (a link); the shape of a link's data is checked."""
    if isinstance(data, TimeSeries):
        parse_array(where, "data", unwrap(data.data), shapes=shapes, fix=fix)
        return data
    return parse_array(where, "data", data, shapes=shapes, allow_none=False, fix=fix)
