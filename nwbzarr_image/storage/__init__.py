"""Zarr and fsspec: stores, reading metadata into nodes, writing nodes into arrays."""

from nwbzarr_image.storage import zarr_compat  # noqa: F401  (first: the check of the installed zarr version)
