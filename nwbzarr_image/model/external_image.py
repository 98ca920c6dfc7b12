"""ExternalImage: an image kept in a PNG, JPEG or GIF file next to the NWB file (``core/nwb.base.yaml``, NWB 2.9)."""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any

from nwbzarr_image.errors import SchemaError
from nwbzarr_image.model import ports
from nwbzarr_image.model.core import field
from nwbzarr_image.model.images import BaseImage
from nwbzarr_image.model.parse import parse_str

IMAGE_FORMATS = ("PNG", "JPEG", "GIF")


class ExternalImage(BaseImage):
    """A reference to an image file (stored in the NWB file as its path or URL), as pynwb's ``ExternalImage``.

    Parameters
    ----------
    name : str
        Name of the image.
    data : str
        Path of the image file, relative to the NWB file (recommended), or a URL.
    image_format : {'PNG', 'JPEG', 'GIF'}
        Format of the file.
    description : str, optional
        Description of the image.
    image_mode : str, optional
        Image (color) mode, e.g. 'RGB', 'RGBA', 'grayscale', 'LA'.

    Notes
    -----
    It goes into :class:`Images` (and its ``order_of_images``) like any image. Its pixels are read only when
    asked for, with :meth:`pixels` (Pillow: ``pip install "nwbzarr-image[image]"``).
    """

    neurodata_type = "ExternalImage"
    data = field()
    image_format = field()
    image_mode = field()

    def __init__(self, name: str, data: str, image_format: str, description: str | None = None,
                 image_mode: str | None = None) -> None:
        self._init_container(name)
        w = self.where
        if isinstance(data, os.PathLike):
            data = os.fspath(data)
        self.data = parse_str(w, "data", data, allow_none=False)
        fmt = parse_str(w, "image_format", image_format, allow_none=False)
        if fmt not in IMAGE_FORMATS:
            raise SchemaError(f"{w}: 'image_format' must be one of {list(IMAGE_FORMATS)}; got {fmt!r}. Convert the "
                              "image to PNG, JPEG or GIF, or store its pixels with GrayscaleImage/RGBImage/RGBAImage.")
        self.image_format = fmt
        self.description = parse_str(w, "description", description)
        self.image_mode = parse_str(w, "image_mode", image_mode)
        self._seal()

    def pixels(self, *, allow_outside: bool = False, allowed_roots: Iterable[str | os.PathLike[str]] = ()) -> Any:
        """Decode the image file now (with Pillow) and return its pixels.

        Parameters
        ----------
        allow_outside : bool
            Accept an absolute path, a URL or a relative path that leaves the NWB file's directory.
        allowed_roots : iterable of str or os.PathLike
            Directories or URL prefixes outside the NWB file's directory whose files are accepted.

        Returns
        -------
        numpy.ndarray
            ``(height, width)`` for grayscale (uint8, uint16 for 16-bit, bool for 1-bit), ``(height, width, n)``
            for modes with n bands (RGB: 3, RGBA: 4, LA: 2); palette images are expanded to RGB or RGBA. The
            first frame of an animated GIF.

        Raises
        ------
        ExternalPathError
            The path is absolute or leaves the NWB file's directory, and was not allowed (a PermissionError).
        ExternalFileNotFoundError
            The file does not exist (a FileNotFoundError).
        ExternalImageError
            The file is not a readable image, or not of ``image_format`` (a ValueError).
        MissingDependencyError
            Pillow is not installed.

        Notes
        -----
        Paths resolve as the external video files of ImageSeries do: against the directory holding the NWB
        file it was read from (any fsspec URL), else the current working directory; nothing outside it is
        opened unless allowed.
        """
        return self._files().image(self, lazy=False, allow_outside=allow_outside, allowed_roots=allowed_roots)

    def to_dask(self, *, allow_outside: bool = False, allowed_roots: Iterable[str | os.PathLike[str]] = ()) -> Any:
        """The pixels as a lazy one-chunk dask array: the file's header is read now (for shape and dtype), its
        pixels are decoded when computed. Arguments and errors as in :meth:`pixels`."""
        return self._files().image(self, lazy=True, allow_outside=allow_outside, allowed_roots=allowed_roots)

    def _files(self) -> ports.ExternalFiles:
        source = self.file_source()
        return source.external if source is not None else ports.services().external

    def _check_read(self, checker: Any) -> None:
        """Rules checked on read (a value kept as stored when it breaks one)."""
        if self.image_format not in IMAGE_FORMATS:
            checker.problem(f"{self.where}: 'image_format' must be one of {list(IMAGE_FORMATS)}; got "
                            f"{self.image_format!r}")

