"""Zarr and fsspec: stores, reading metadata into nodes, writing nodes into arrays."""
