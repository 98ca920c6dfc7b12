"""nwbzarr_image: the NWB image types (pynwb.image) stored on Zarr, read lazily through dask."""

from nwbzarr_image.errors import (
    AccessDeniedError,
    ArgumentTypeError,
    InvalidFileWarning,
    LayoutError,
    MissingDependencyError,
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
from nwbzarr_image.io import consolidate, open, read, write  # noqa: A004
from nwbzarr_image.iterators import DataChunkIterator, GenericDataChunkIterator
from nwbzarr_image.model import (
    Device,
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

__version__ = "0.1.0"

__all__ = [
    "AccessDeniedError", "ArgumentTypeError", "DataChunkIterator", "Device", "GenericDataChunkIterator",
    "GrayscaleImage", "Image", "ImageMaskSeries", "ImageReferences", "ImageSeries", "Images", "IndexSeries",
    "InvalidFileWarning", "LayoutError", "MissingDependencyError", "NWBDeprecationWarning", "NWBFile",
    "NWBRuleWarning", "NWBZarrImageError", "NWBZarrImageWarning", "NodeNotFoundError", "OpticalSeries",
    "PerformanceWarning", "ProcessingModule", "RGBAImage", "RGBImage", "ReadOnlyError", "SchemaError",
    "StoreExistsError", "StoreNotFoundError", "StoreUnreachableError", "Subject", "TimeSeries", "ZarrDataIO",
    "__version__", "consolidate", "open", "read", "write",
]
