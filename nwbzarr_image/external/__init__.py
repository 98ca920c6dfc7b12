"""External video files of ImageSeries: safe path resolution and lazy frames decoded with PyAV.

``series.external_frames()`` gives all frames of all files as one dask array; see
:meth:`nwbzarr_image.ImageSeries.external_video` and :func:`resolve_external`.
"""

from nwbzarr_image.external.decoder import VideoFile
from nwbzarr_image.external.errors import (
    ExternalFileError,
    ExternalFileNotFoundError,
    ExternalImageError,
    ExternalPathError,
    ExternalVideoError,
)
from nwbzarr_image.external.frames import ExternalVideo
from nwbzarr_image.external.paths import ExternalBase, ExternalTarget, resolve_external
from nwbzarr_image.external.resolver import ExternalResolver

__all__ = [
    "ExternalBase", "ExternalFileError", "ExternalFileNotFoundError", "ExternalImageError", "ExternalPathError",
    "ExternalResolver", "ExternalTarget", "ExternalVideo", "ExternalVideoError", "VideoFile", "resolve_external",
]
