"""Errors of external files (videos, images): a path refused or missing, a file that is not what it should be."""

from __future__ import annotations

from nwbzarr_image.errors import NWBZarrImageError


class ExternalFileError(NWBZarrImageError):
    """An external file of an ImageSeries or ExternalImage cannot be used (base class of the errors below)."""


class ExternalPathError(ExternalFileError, PermissionError):
    """An external path is absolute, or climbs out of the NWB file's directory, and the caller did not allow it."""


class ExternalFileNotFoundError(ExternalFileError, FileNotFoundError):
    """An external file does not exist where its path points."""


class ExternalVideoError(ExternalFileError, ValueError):
    """An external file cannot be decoded as video, or its frames disagree with starting_frame/num_samples."""


class ExternalImageError(ExternalFileError, ValueError):
    """The file of an ExternalImage cannot be decoded as an image, or is not of its ``image_format``."""
