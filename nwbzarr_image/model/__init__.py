"""The NWB model: typed classes and their validation. Pure: no zarr, fsspec or dask imports."""

from nwbzarr_image.model.dataio import ZarrDataIO
from nwbzarr_image.model.device import Device
from nwbzarr_image.model.external_image import ExternalImage
from nwbzarr_image.model.file import NWBFile, ProcessingModule
from nwbzarr_image.model.generic import GenericDataset, GenericGroup
from nwbzarr_image.model.image_series import ImageMaskSeries, ImageSeries, OpticalSeries
from nwbzarr_image.model.images import (
    BaseImage,
    GrayscaleImage,
    Image,
    ImageReferences,
    Images,
    RGBAImage,
    RGBImage,
)
from nwbzarr_image.model.index_series import IndexSeries
from nwbzarr_image.model.subject import Subject
from nwbzarr_image.model.timeseries import TimeSeries

__all__ = [
    "BaseImage", "Device", "ExternalImage", "GenericDataset", "GenericGroup", "GrayscaleImage", "Image",
    "ImageMaskSeries", "ImageReferences", "ImageSeries", "Images", "IndexSeries", "NWBFile", "OpticalSeries",
    "ProcessingModule", "RGBAImage", "RGBImage", "Subject", "TimeSeries", "ZarrDataIO",
]
