"""ImageSeries, ImageMaskSeries and OpticalSeries (``core/nwb.image.yaml``)."""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any, ClassVar

import numpy as np

from nwbzarr_image.errors import ArgumentTypeError, NWBDeprecationWarning, SchemaError, warn
from nwbzarr_image.model import ports
from nwbzarr_image.model.core import Checker, field, raw
from nwbzarr_image.model.dataio import unwrap
from nwbzarr_image.model.device import Device
from nwbzarr_image.model.parse import (
    Deferred,
    length_of,
    parse_array,
    parse_float,
    parse_int,
    parse_str,
    shape_of,
)
from nwbzarr_image.model.timeseries import TimeSeries, _parse_data_or_link

FRAME_SHAPES: list[tuple[int | None, ...]] = [(None, None, None), (None, None, None, None)]
FRAME_FIX = ("The first dimension must be time (frame), then x and y (and z); for a single frame use "
             "GrayscaleImage/RGBImage, or add a frame axis with data[np.newaxis].")


class ImageSeries(TimeSeries):
    """Image frames over time: stored in ``data`` or in external files.

    Parameters
    ----------
    name : str
        Name of the series.
    data : array-like or TimeSeries, optional
        Frames, shape (frames, x, y) or (frames, x, y, z). Either ``data`` or ``external_file``.
    unit : str, optional
        Unit of the pixel values; required with ``data``, 'unknown' otherwise.
    format : str, optional
        'external' (frames in ``external_file``), 'raw', or an image format such as 'png'.
    external_file : array-like of str, optional
        Paths or URLs of files holding the frames.
    starting_frame : array-like of int, optional
        Index of the first frame of each external file; ``[0]`` for a single file.
    bits_per_pixel : int, optional
        Deprecated by NWB; a value is an error.
    dimension : array-like of int, optional
        Number of pixels on x, y (and z).
    resolution, conversion, timestamps, starting_time, rate, comments, description, control,
    control_description, offset :
        As in :class:`TimeSeries`.
    device : Device, optional
        Device that captured the frames (stored as a link).
    num_samples : int, optional
        Number of frames across external files; required with ``external_file`` and ``rate``.
    """

    neurodata_type = "ImageSeries"
    DEFAULT_DATA: ClassVar[np.ndarray] = np.ndarray((0, 0, 0), dtype=np.uint8)
    _timed_check_lengths: ClassVar[bool] = False
    _data_shapes: ClassVar[list[tuple[int | None, ...]]] = FRAME_SHAPES
    _fourth_dim: ClassVar[str] = "z"

    format = field()
    external_file = field()
    starting_frame = field()
    dimension = field()
    device = field()
    bits_per_pixel = field()
    _num_samples = field()

    def __init__(
        self,
        name: str,
        data: Any = None,
        unit: str | None = None,
        format: str | None = None,  # noqa: A002 - the NWB field name
        external_file: Any = None,
        starting_frame: Any = None,
        bits_per_pixel: int | None = None,
        dimension: Any = None,
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
        device: Device | None = None,
        *,
        num_samples: int | None = None,
    ) -> None:
        self._init_container(name)
        self._parse_image_args(data, unit, format, external_file, starting_frame, bits_per_pixel, dimension,
                               resolution, conversion, timestamps, starting_time, rate, comments, description,
                               control, control_description, offset, device, num_samples)
        self._check_image(Checker())
        self._seal()

    def _parse_image_args(
        self, data: Any, unit: Any, format: Any, external_file: Any, starting_frame: Any,  # noqa: A002
        bits_per_pixel: Any, dimension: Any, resolution: Any, conversion: Any, timestamps: Any,
        starting_time: Any, rate: Any, comments: Any, description: Any, control: Any,
        control_description: Any, offset: Any, device: Any, num_samples: Any,
    ) -> None:
        w = self.where
        if data is not None:
            data = self._parse_frames(data)
        self._set_data(data)
        self.unit = parse_str(w, "unit", unit)
        self.format = parse_str(w, "format", format)
        self.external_file = parse_array(w, "external_file", external_file)
        self.starting_frame = parse_array(w, "starting_frame", starting_frame)
        self.bits_per_pixel = parse_int(w, "bits_per_pixel", bits_per_pixel)
        self.dimension = parse_array(w, "dimension", dimension)
        if device is not None and not isinstance(device, Device):
            raise ArgumentTypeError(f"{w}: 'device' must be a Device; got {type(device).__name__}. "
                                    "Create one with nwbfile.create_device(name=...).")
        self.device = device
        if isinstance(num_samples, (float, np.floating)) or isinstance(num_samples, str):
            raise ArgumentTypeError(f"{w}: 'num_samples' must be an int; got {type(num_samples).__name__} "
                                    f"{num_samples!r}.")
        self._num_samples = parse_int(w, "num_samples", num_samples)
        self._parse_common(resolution, conversion, offset, timestamps, starting_time, rate, comments,
                           description, control, control_description)
        if data is not None and unit is None:
            raise SchemaError(f"{w}: Must supply 'unit' argument when supplying 'data' to {w}; got data but "
                              "no unit. Pass unit=..., e.g. unit='n.a.' for raw pixel values.")
        if data is None and external_file is None:
            raise SchemaError(f"{w}: Must supply either external_file or data to {w}; got neither. "
                              "Pass data=<frames> or external_file=[<paths>].")

    def _parse_frames(self, data: Any) -> Any:
        return _parse_data_or_link(self.where, data, self._data_shapes, FRAME_FIX)

    @classmethod
    def data_dims(cls, ndim: int) -> tuple[str, ...] | None:
        return {3: ("frame", "x", "y"), 4: ("frame", "x", "y", cls._fourth_dim)}.get(ndim)

    def _check_read(self, checker: Checker) -> None:
        self._check_image(checker)

    def _check_image(self, checker: Checker) -> None:
        """Rules IS-4 .. IS-12 of the spec, in pynwb's order (the read path runs them too)."""
        w = self.where
        if self._data is None:
            self._set_data(self.DEFAULT_DATA)
        if raw(self, "unit") is None:
            self.unit = self.DEFAULT_UNIT
        ext = raw(self, "external_file")
        if ext is not None and raw(self, "starting_frame") is None and length_of(ext) == 1:
            self.starting_frame = [0]
        self._check_timing(checker)
        if raw(self, "bits_per_pixel") is not None:
            checker.problem(f"{w}: bits_per_pixel is deprecated; got {raw(self, 'bits_per_pixel')}. "
                            "Remove the argument (NWB no longer stores it).", on_read="silent")
        n_data = length_of(self._data_for_length())
        if ext is not None and n_data == 0 and raw(self, "format") is None:
            self.format = "external"
        if ext is None:
            self._check_lengths(checker)
            return
        if shape_of(ext) != shape_of(raw(self, "starting_frame")):
            checker.problem(f"{w}: The number of frame indices in 'starting_frame' should have the same length "
                            f"as 'external_file'; expected {length_of(ext)} entries, got "
                            f"{length_of(raw(self, 'starting_frame'))}. Give the first frame of each file.")
        # a format still in the store is not read to open the file (one request less per series over HTTP):
        # validate.py checks it (the rule as here), and pynwb writes 'external' whenever external_file is given
        if not isinstance(raw(self, "format"), Deferred) and self.format != "external":
            checker.problem(f"{w}: Format must be 'external' when external_file is specified; got "
                            f"{self.format!r}. Pass format='external' or leave format unset.")
        if n_data != 0:
            checker.problem(f"{w}: Either external_file or data must be specified (not None), but not both; "
                            "got both. Keep the frames in data or in the external files.")
        if self.rate is not None and raw(self, "_num_samples") is None:  # stored or not: no need to read it
            checker.problem(f"{w}: num_samples should be set when format='external' and rate is used for timing, "
                            "because data is empty and its length cannot be used to determine the number of "
                            "frames; got num_samples=None. Pass num_samples=<total frames>.", on_read="silent")

    @property
    def num_samples(self) -> int | None:
        """The explicit ``num_samples``, else ``len(timestamps)`` for external files, else ``len(data)``."""
        explicit: int | None = self._num_samples
        if explicit is not None:
            return explicit
        if raw(self, "external_file") is not None:
            ts = self.timestamps
            return length_of(unwrap(ts)) if ts is not None else None
        return super().num_samples

    @property
    def explicit_num_samples(self) -> int | None:
        """The ``num_samples`` given by the user or stored in the file (written only when given)."""
        count: int | None = self._num_samples
        return count

    def external_video(self, *, allow_outside: bool = False, allowed_roots: Iterable[str | os.PathLike[str]] = (),
                       color: bool | None = None) -> Any:
        """Open the external video files (headers only) as one :class:`~nwbzarr_image.external.ExternalVideo`.

        Parameters
        ----------
        allow_outside : bool
            Accept absolute paths, URLs and relative paths that leave the NWB file's directory.
        allowed_roots : iterable of str or os.PathLike
            Directories or URL prefixes outside the NWB file's directory whose files are accepted.
        color : bool, optional
            True for RGB frames, False for grayscale; default: grayscale only when the streams are.

        Returns
        -------
        ExternalVideo
            ``.to_dask(frames_per_chunk)``, ``.read(start, stop)``, ``.frame_counts``, ``.frames_decoded``.

        Raises
        ------
        ExternalPathError
            A path is absolute or leaves the NWB file's directory, and was not allowed (a PermissionError).
        ExternalFileNotFoundError
            A file does not exist (a FileNotFoundError).
        ExternalVideoError
            A file is not a readable video, or the frame counts disagree with starting_frame/num_samples.

        Notes
        -----
        Relative paths resolve against the directory holding the NWB file it was read from (any fsspec URL),
        else against the current working directory.
        """
        if raw(self, "external_file") is None:
            raise SchemaError(f"{self.where}: has no external_file; expected a series with format='external'. "
                              "Its frames are in .data.")
        return self.external_files().video(self, allow_outside=allow_outside, allowed_roots=allowed_roots,
                                           color=color)

    def external_files(self) -> ports.ExternalFiles:
        """The resolver of external files: the read file's directory, else the current working directory."""
        source = self.file_source()
        return source.external if source is not None else ports.services().external

    def external_frames(self, *, allow_outside: bool = False, allowed_roots: Iterable[str | os.PathLike[str]] = (),
                        frames_per_chunk: int = 32, color: bool | None = None) -> Any:
        """All frames of all external files, in order, as one lazy dask array decoded with PyAV on demand.

        Parameters
        ----------
        allow_outside, allowed_roots, color :
            As in :meth:`external_video`.
        frames_per_chunk : int
            Frames per dask chunk; a chunk never spans two files. Reading a chunk seeks to the keyframe at or
            before it; reading chunks in order decodes each frame once.

        Returns
        -------
        dask.array.Array
            Shape ``(frames, height, width)`` (uint8, uint16 for deep gray) or ``(frames, height, width, 3)``.
        """
        return self.external_video(allow_outside=allow_outside, allowed_roots=allowed_roots,
                                   color=color).to_dask(frames_per_chunk)


class ImageMaskSeries(ImageSeries):
    """An alpha mask applied to a presented stimulus (deprecated in NWB 2.8, still valid).

    Parameters
    ----------
    name : str
        Name of the series.
    masked_imageseries : ImageSeries
        The series the mask applies to (stored as a link).
    data, unit, format, external_file, starting_frame, bits_per_pixel, dimension, resolution, conversion,
    timestamps, starting_time, rate, comments, description, control, control_description, offset, device,
    num_samples :
        As in :class:`ImageSeries`.
    """

    neurodata_type = "ImageMaskSeries"
    masked_imageseries = field()

    def __init__(
        self,
        name: str,
        masked_imageseries: ImageSeries,
        data: Any = None,
        unit: str | None = None,
        format: str | None = None,  # noqa: A002
        external_file: Any = None,
        starting_frame: Any = None,
        bits_per_pixel: int | None = None,
        dimension: Any = None,
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
        device: Device | None = None,
        *,
        num_samples: int | None = None,
    ) -> None:
        self._init_container(name)
        if not isinstance(masked_imageseries, ImageSeries):
            raise ArgumentTypeError(f"{self.where}: 'masked_imageseries' must be an ImageSeries; got "
                                    f"{type(masked_imageseries).__name__}. Pass the series the mask applies to.")
        warn(NWBDeprecationWarning("The ImageMaskSeries neurodata type is deprecated since NWB 2.8; it "
                                   "is still valid and is written as such."))
        self.masked_imageseries = masked_imageseries
        self._parse_image_args(data, unit, format, external_file, starting_frame, bits_per_pixel, dimension,
                               resolution, conversion, timestamps, starting_time, rate, comments, description,
                               control, control_description, offset, device, num_samples)
        self._check_image(Checker())
        self._seal()


class OpticalSeries(ImageSeries):
    """Images presented to the subject or recorded, with optics metadata.

    Parameters
    ----------
    name : str
        Name of the series.
    distance : float, optional
        Distance from camera/monitor to target/eye.
    field_of_view : array-like of float, optional
        Width, height (and depth) of the image or imaged area, in meters; length 2 or 3.
    orientation : str, optional
        Image orientation relative to a stated frame of reference.
    data : array-like, optional
        Frames (frames, x, y) or RGB frames (frames, x, y, 3). A TimeSeries link is not allowed.
    unit, format, external_file, starting_frame, bits_per_pixel, dimension, resolution, conversion,
    timestamps, starting_time, rate, comments, description, control, control_description, device, offset,
    num_samples :
        As in :class:`ImageSeries`.
    """

    neurodata_type = "OpticalSeries"
    _data_shapes: ClassVar[list[tuple[int | None, ...]]] = [(None, None, None), (None, None, None, 3)]
    _fourth_dim: ClassVar[str] = "r, g, b"
    distance = field()
    field_of_view = field()
    orientation = field()

    def __init__(
        self,
        name: str,
        distance: float | None = None,
        field_of_view: Any = None,
        orientation: str | None = None,
        data: Any = None,
        unit: str | None = None,
        format: str | None = None,  # noqa: A002
        external_file: Any = None,
        starting_frame: Any = None,
        bits_per_pixel: int | None = None,
        dimension: Any = None,
        resolution: float = -1.0,
        conversion: float = 1.0,
        timestamps: Any = None,
        starting_time: float | None = None,
        rate: float | None = None,
        comments: str = "no comments",
        description: str = "no description",
        control: Any = None,
        control_description: Any = None,
        device: Device | None = None,
        offset: float = 0.0,
        *,
        num_samples: int | None = None,
    ) -> None:
        self._init_container(name)
        w = self.where
        self.distance = parse_float(w, "distance", distance)
        self.field_of_view = parse_array(w, "field_of_view", field_of_view, shapes=[(2,), (3,)],
                                         fix="Give width and height (and depth) in meters.")
        self.orientation = parse_str(w, "orientation", orientation)
        if isinstance(data, TimeSeries):
            raise ArgumentTypeError(f"{w}: 'data' of an OpticalSeries cannot be a link to another series; got "
                                    f"{data!r}. Pass the frames as an array.")
        self._parse_image_args(data, unit, format, external_file, starting_frame, bits_per_pixel, dimension,
                               resolution, conversion, timestamps, starting_time, rate, comments, description,
                               control, control_description, offset, device, num_samples)
        self._check_image(Checker())
        self._seal()

    def _parse_frames(self, data: Any) -> Any:
        return _parse_data_or_link(self.where, data, self._data_shapes,
                                   "OpticalSeries frames are (frames, x, y) or RGB (frames, x, y, 3).")
