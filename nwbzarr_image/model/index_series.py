"""IndexSeries: which image of an Images collection is shown when (``core/nwb.image.yaml``)."""

from __future__ import annotations

from typing import Any

from nwbzarr_image.errors import ArgumentTypeError, NWBDeprecationWarning, NWBRuleWarning, warn
from nwbzarr_image.model.core import Checker, field, raw, set_raw
from nwbzarr_image.model.images import Images
from nwbzarr_image.model.parse import parse_str
from nwbzarr_image.model.timeseries import TimeSeries, _parse_data_or_link


class IndexSeries(TimeSeries):
    """Indices into an ordered image stack (``indexed_images``) over time.

    Parameters
    ----------
    name : str
        Name of the series.
    data : array-like or TimeSeries
        1-D zero-based indices into ``indexed_images.order_of_images`` (stored as uint32).
    unit : str
        Fixed to 'N/A' by NWB; any other value warns and 'N/A' is stored.
    indexed_timeseries : TimeSeries, optional
        Deprecated target (an ImageSeries); accepted with a DeprecationWarning.
    indexed_images : Images, optional
        The image stack the indices refer to. One of the two targets is required.
    resolution, conversion, offset :
        Not used by IndexSeries; a non-default value warns.
    timestamps, starting_time, rate, comments, description, control, control_description :
        As in :class:`TimeSeries`.
    """

    neurodata_type = "IndexSeries"
    indexed_timeseries = field()
    indexed_images = field()

    def __init__(
        self,
        name: str,
        data: Any,
        unit: str,
        indexed_timeseries: TimeSeries | None = None,
        indexed_images: Images | None = None,
        resolution: float = -1.0,
        conversion: float = 1.0,
        timestamps: Any = None,
        starting_time: float | None = None,
        rate: float | None = None,
        comments: str = "no comments",
        description: str = "no description",
        control: Any = None,
        control_description: Any = None,
        offset: float = 0.0,
    ) -> None:
        self._init_container(name)
        w = self.where
        if data is None:
            raise ArgumentTypeError(f"{w}: 'data' is required; got None. Pass the image indices as a 1-D array.")
        self._set_data(_parse_data_or_link(w, data, [(None,)], "IndexSeries data is 1-D: one index per time."))
        self.unit = parse_str(w, "unit", unit, allow_none=False)
        if indexed_timeseries is not None and not isinstance(indexed_timeseries, TimeSeries):
            raise ArgumentTypeError(f"{w}: 'indexed_timeseries' must be a TimeSeries; got "
                                    f"{type(indexed_timeseries).__name__}.")
        if indexed_images is not None and not isinstance(indexed_images, Images):
            raise ArgumentTypeError(f"{w}: 'indexed_images' must be an Images collection; got "
                                    f"{type(indexed_images).__name__}. Put the images in an Images object.")
        self._parse_common(resolution, conversion, offset, timestamps, starting_time, rate, comments,
                           description, control, control_description)
        if self.unit and self.unit != "N/A":
            warn(NWBRuleWarning(f"{w}: The 'unit' field of IndexSeries is fixed to the value 'N/A'; got "
                                f"{self.unit!r}, and 'N/A' is stored."))
        set_raw(self, "unit", "N/A")
        self.indexed_timeseries = indexed_timeseries
        self.indexed_images = indexed_images
        self._check_index(Checker())
        if indexed_timeseries is not None:
            warn(NWBDeprecationWarning(f"{w}: The indexed_timeseries field of IndexSeries is deprecated. "
                                       "Use the indexed_images field instead."))
        self._seal()

    def _check_read(self, checker: Checker) -> None:
        self._check_index(checker)

    def _check_index(self, checker: Checker) -> None:
        """Rules X-3 and X-5 .. X-9 (the read path runs them too)."""
        w = self.where
        if raw(self, "indexed_timeseries") is None and raw(self, "indexed_images") is None:
            checker.problem(f"{w}: Either indexed_timeseries or indexed_images must be provided when creating an "
                            "IndexSeries; got neither. Pass indexed_images=<Images with order_of_images>.",
                            on_read="warn")
        set_raw(self, "unit", "N/A")
        self._check_timing(checker)
        self._check_lengths(checker)
        for attr, default in (("conversion", 1.0), ("resolution", -1.0), ("offset", 0.0)):
            value = raw(self, attr)
            if value and value != default:
                warn(NWBRuleWarning(f"The {attr} attribute is not used by IndexSeries; got {value}."))
