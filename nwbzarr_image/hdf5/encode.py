"""Bytes for zarr from an HDF5 file: a byte range cut from a chunk, and a chunk decoded by h5py encoded again
with the codecs its ``zarr.json`` declares."""

from __future__ import annotations

from typing import Any

import numpy as np
from zarr.abc.store import ByteRequest, OffsetByteRequest, RangeByteRequest, SuffixByteRequest

from nwbzarr_image.hdf5.view import ArraySource


def cut(data: bytes, byte_range: ByteRequest | None) -> bytes:
    if byte_range is None:
        return data
    if isinstance(byte_range, RangeByteRequest):
        return data[byte_range.start:byte_range.end]
    if isinstance(byte_range, OffsetByteRequest):
        return data[byte_range.offset:]
    if isinstance(byte_range, SuffixByteRequest):
        return data[-byte_range.suffix:]
    raise TypeError(f"unexpected byte range {byte_range!r}")


def encode(values: np.ndarray, source: ArraySource) -> bytes:
    """A chunk decoded by h5py, encoded again with the codecs its zarr.json declares."""
    import numcodecs

    data: Any = np.ascontiguousarray(values, dtype=source.dtype).tobytes()
    itemsize = np.dtype(source.dtype).itemsize
    for f in source.filters:
        level = f.values[0] if f.values else 4
        codecs = {1: lambda lv=level: numcodecs.Zlib(level=lv), 2: lambda: numcodecs.Shuffle(elementsize=itemsize),
                  3: numcodecs.Fletcher32, 32001: lambda: numcodecs.Blosc(cname="lz4"),
                  32015: lambda: numcodecs.Zstd(level=3)}
        codec = codecs[f.code]()
        data = codec.encode(data)
    return bytes(data)
