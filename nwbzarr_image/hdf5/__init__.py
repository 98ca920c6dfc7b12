"""NWB HDF5 files read through an in-memory NWB Zarr v3 view whose chunks are byte ranges of the HDF5 file."""

from nwbzarr_image.hdf5.opener import has_signature, open_if_hdf5
from nwbzarr_image.hdf5.store import Hdf5Store

__all__ = ["Hdf5Store", "has_signature", "open_if_hdf5"]
