"""nwbzarr_image: the NWB image types (pynwb.image) stored on Zarr, read lazily through dask."""

from nwbzarr_image.errors import (
    AccessDeniedError,
    ArgumentTypeError,
    CorruptDataError,
    InvalidFileWarning,
    LayoutError,
    MissingChunkWarning,
    MissingDependencyError,
    NameRequiredError,
    NodeNotFoundError,
    NWBDeprecationWarning,
    NWBRuleWarning,
    NWBZarrImageError,
    NWBZarrImageWarning,
    PerformanceWarning,
    ReadOnlyError,
    SchemaError,
    StoreExistsError,
    StoreNotFoundError,
    StoreUnreachableError,
)
from nwbzarr_image.external import (
    ExternalFileError,
    ExternalFileNotFoundError,
    ExternalImageError,
    ExternalPathError,
    ExternalVideo,
    ExternalVideoError,
    resolve_external,
)
from nwbzarr_image.external.resolver import ExternalResolver
from nwbzarr_image.io import consolidate, open, read, write  # noqa: A004
from nwbzarr_image.iterators import DataChunkIterator, GenericDataChunkIterator
from nwbzarr_image.model import (
    BaseImage,
    Device,
    ExternalImage,
    GrayscaleImage,
    Image,
    ImageMaskSeries,
    ImageReferences,
    Images,
    ImageSeries,
    IndexSeries,
    NWBFile,
    OpticalSeries,
    ProcessingModule,
    RGBAImage,
    RGBImage,
    Subject,
    TimeSeries,
    ZarrDataIO,
)
from nwbzarr_image.model.ports import Services, install
from nwbzarr_image.rechunk import rechunk_series
from nwbzarr_image.storage.direct_source import play
from nwbzarr_image.xr import DaskArrayViews

# the one place where the model's ports get their implementations (see nwbzarr_image.model.ports)
install(Services(arrays=DaskArrayViews(), external=ExternalResolver(None, cwd=True)))

__version__ = "0.1.0"

__all__ = [
    "AccessDeniedError", "ArgumentTypeError", "BaseImage", "CorruptDataError", "DataChunkIterator", "Device",
    "ExternalFileError", "ExternalFileNotFoundError", "ExternalImage", "ExternalImageError", "ExternalPathError",
    "ExternalVideo", "ExternalVideoError", "GenericDataChunkIterator", "GrayscaleImage", "Image", "ImageMaskSeries",
    "ImageReferences", "ImageSeries", "Images", "IndexSeries", "InvalidFileWarning", "LayoutError",
    "MissingChunkWarning", "MissingDependencyError", "NWBDeprecationWarning", "NWBFile", "NWBRuleWarning",
    "NWBZarrImageError", "NWBZarrImageWarning", "NameRequiredError", "NodeNotFoundError", "OpticalSeries",
    "PerformanceWarning", "ProcessingModule", "RGBAImage", "RGBImage", "ReadOnlyError", "SchemaError",
    "StoreExistsError", "StoreNotFoundError", "StoreUnreachableError", "Subject", "TimeSeries", "ZarrDataIO",
    "consolidate", "open", "play", "read", "rechunk_series", "resolve_external", "write", "__version__",
]
