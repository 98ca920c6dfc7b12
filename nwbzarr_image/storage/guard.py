"""Zarr arrays read with bounded decoding: declared sizes checked, codecs checked, decompression bounded.

:func:`guard` checks an array's declared shape, chunks and shards against :mod:`nwbzarr_image.limits` and returns
the same array with each codec replaced by a subclass of its own class whose decode checks the size the data
claims (and bounds it) before decoding. The codecs live in the array's metadata, so the guard survives
``with_config`` and pickling to dask workers; the subclasses serialize exactly as their parents.
"""

from __future__ import annotations

import math
import struct
from typing import Any

import numcodecs
import numpy as np
import zarr
from zarr.abc.codec import ArrayBytesCodec, BytesBytesCodec
from zarr.codecs import (
    BloscCodec,
    BytesCodec,
    Crc32cCodec,
    GzipCodec,
    ShardingCodec,
    TransposeCodec,
    VLenBytesCodec,
    VLenUTF8Codec,
    ZstdCodec,
)
from zarr.codecs import numcodecs as zn

from nwbzarr_image.errors import CorruptDataError, LayoutError
from nwbzarr_image.limits import get_limits
from nwbzarr_image.storage.bounded import bounded_decode, is_unpickling
from nwbzarr_image.storage.zarr_compat import array_with_codecs

__all__ = ["check_declared", "guard", "spec_bound"]


def check_declared(where: str, shape: tuple[int, ...], chunks: tuple[int, ...], itemsize: int,
                   inner: tuple[int, ...] | None = None) -> None:
    """Our LayoutError naming the node and the limit if a declared shape, chunk or shard exceeds a limit."""
    limits = get_limits()
    fix = "If the file is real, raise the limit (nwbzarr_image.limits.set_limits or NWBZARR_IMAGE_{})."
    if len(shape) > limits.max_ndim:
        raise LayoutError(f"{where}: declares {len(shape)} dimensions; expected at most max_ndim={limits.max_ndim}. "
                          + fix.format("MAX_NDIM"))
    if any(type(n) is not int or n < 0 for n in (*shape, *chunks)) or len(chunks) != len(shape):
        raise LayoutError(f"{where}: declares shape {shape} and chunks {chunks}; expected non-negative integers, "
                          "one chunk size per dimension. The file is damaged.")
    elements = math.prod(shape)
    if elements > limits.max_elements:
        raise LayoutError(f"{where}: declares shape {shape} ({elements} elements); expected at most max_elements="
                          f"{limits.max_elements}. The file is damaged or hostile. " + fix.format("MAX_ELEMENTS"))
    if elements and 0 in chunks:
        raise LayoutError(f"{where}: declares chunks {chunks}; expected chunk sizes of at least 1.")
    count = math.prod(math.ceil(n / c) for n, c in zip(shape, chunks, strict=True)) if elements else 0
    if count > limits.max_chunks:
        raise LayoutError(f"{where}: declares {count} chunks (shape {shape}, chunks {chunks}); expected at most "
                          f"max_chunks={limits.max_chunks}. The file is damaged or hostile. "
                          + fix.format("MAX_CHUNKS"))
    for unit, size in ((chunks, math.prod(chunks) * itemsize), (inner, math.prod(inner or ()) * itemsize)):
        if unit is not None and size > limits.max_chunk_bytes:
            raise LayoutError(f"{where}: declares chunks {unit} of {size} bytes; expected at most max_chunk_bytes="
                              f"{limits.max_chunk_bytes}. The file is damaged or hostile. "
                              + fix.format("MAX_CHUNK_BYTES"))
    if inner is not None:
        per_shard = math.prod(c // i if i else 0 for c, i in zip(chunks, inner, strict=True))
        if per_shard > limits.max_chunks_per_shard:
            raise LayoutError(f"{where}: declares shards {chunks} of {per_shard} chunks {inner}; expected at most "
                              f"max_chunks_per_shard={limits.max_chunks_per_shard}. "
                              + fix.format("MAX_CHUNKS_PER_SHARD"))


def spec_bound(chunk_spec: Any) -> int:
    """The bytes a chunk of ``chunk_spec`` holds (text and objects: the max_chunk_bytes limit)."""
    try:
        native = chunk_spec.dtype.to_native_dtype()
    except Exception:
        native = np.dtype(object)
    if native.kind in "OT" or not native.itemsize:
        return get_limits().max_chunk_bytes
    return math.prod(chunk_spec.shape) * native.itemsize


class _Bounded:
    """Mixin for a bytes-to-bytes codec: decoding checks the claimed size, and bounds it."""

    decoder: Any = None  # the numcodecs codec deciding the bound (None: output never exceeds the input)

    def _decode_sync(self, chunk_bytes: Any, chunk_spec: Any) -> Any:
        decoded = bounded_decode(type(self).decoder, chunk_bytes.as_array_like(), spec_bound(chunk_spec), "")
        return chunk_spec.prototype.buffer.from_bytes(bytes(decoded) if not isinstance(decoded, bytes) else decoded)

    async def _decode_single(self, chunk_bytes: Any, chunk_spec: Any) -> Any:
        import asyncio

        return await asyncio.to_thread(self._decode_sync, chunk_bytes, chunk_spec)


class _BoundedVLen:
    """Mixin for a variable-length array-to-bytes codec: the item count in the header must be the chunk's."""

    def _decode_sync(self, chunk_bytes: Any, chunk_spec: Any) -> Any:
        raw = chunk_bytes.as_array_like()
        expected = math.prod(chunk_spec.shape)
        claimed = struct.unpack("<I", bytes(raw[:4]))[0] if len(raw) >= 4 else -1
        if claimed != expected or 4 + 4 * claimed > len(raw):
            raise CorruptDataError(f"a chunk of variable-length items claims {claimed} items in {len(raw)} bytes; "
                                   f"expected {expected} (the chunk's shape {tuple(chunk_spec.shape)}). The chunk is "
                                   "damaged or hostile.")
        return super()._decode_sync(chunk_bytes, chunk_spec)  # type: ignore[misc]

    async def _decode_single(self, chunk_bytes: Any, chunk_spec: Any) -> Any:
        return self._decode_sync(chunk_bytes, chunk_spec)


def _subclass(parent: type, mixin: type, decoder: Any = None) -> type:
    name = f"Bounded{parent.__name__}"
    cls = type(name, (mixin, parent), {"__module__": __name__, "__qualname__": name, "decoder": decoder})
    globals()[name] = cls  # importable by name: arrays pickle for dask.distributed workers
    return cls


_BOUNDED: dict[type, type] = {
    ZstdCodec: _subclass(ZstdCodec, _Bounded, numcodecs.Zstd()),
    BloscCodec: _subclass(BloscCodec, _Bounded, numcodecs.Blosc()),
    GzipCodec: _subclass(GzipCodec, _Bounded, numcodecs.GZip()),
    zn.Zstd: _subclass(zn.Zstd, _Bounded, numcodecs.Zstd()),
    zn.Blosc: _subclass(zn.Blosc, _Bounded, numcodecs.Blosc()),
    zn.LZ4: _subclass(zn.LZ4, _Bounded, numcodecs.LZ4()),
    zn.Zlib: _subclass(zn.Zlib, _Bounded, numcodecs.Zlib()),
    zn.GZip: _subclass(zn.GZip, _Bounded, numcodecs.GZip()),
    zn.BZ2: _subclass(zn.BZ2, _Bounded, numcodecs.BZ2()),
    zn.LZMA: _subclass(zn.LZMA, _Bounded, numcodecs.LZMA()),
    VLenUTF8Codec: _subclass(VLenUTF8Codec, _BoundedVLen),
    VLenBytesCodec: _subclass(VLenBytesCodec, _BoundedVLen),
}
_SAFE = (BytesCodec, TransposeCodec, Crc32cCodec, zn.Shuffle, zn.CRC32, zn.CRC32C, zn.Adler32, zn.Fletcher32,
         zn.JenkinsLookup3, zn.Delta, zn.BitRound, zn.FixedScaleOffset, zn.Quantize, zn.PackBits, zn.AsType)


def _codec_name(codec: Any) -> str:
    try:
        return str(codec.to_dict().get("name", type(codec).__name__))
    except Exception:
        return type(codec).__name__


def _bounded(codec: Any, where: str) -> Any:
    name = _codec_name(codec)
    if is_unpickling(name) or "pickle" in type(codec).__name__.lower():
        raise LayoutError(f"{where}: declares the codec {name!r}, which unpickles (runs code from the file); "
                          "expected a codec that decodes data only. Such files are never decoded, whatever "
                          "numcodecs' NUMCODECS_ALLOW_UNSAFE_PICKLE_DECODE or zarr's opt-in says.")
    if type(codec) in _BOUNDED.values():
        return codec
    if isinstance(codec, ShardingCodec):
        return ShardingCodec(chunk_shape=codec.chunk_shape, codecs=[_bounded(c, where) for c in codec.codecs],
                             index_codecs=[_bounded(c, where) for c in codec.index_codecs],
                             index_location=codec.index_location)
    bounded = _BOUNDED.get(type(codec))
    if bounded is not None:
        clone: object = object.__new__(bounded)
        vars(clone).update(vars(codec))
        return clone
    if type(codec) in _SAFE or (not isinstance(codec, (BytesBytesCodec, ArrayBytesCodec))
                                and type(codec).__module__.startswith("zarr.codecs")):
        return codec
    raise LayoutError(f"{where}: declares the codec {name!r}, whose decoded size cannot be bounded; expected one of "
                      "zarr's codecs or numcodecs' compressors. Re-write the data with one of them.")


def guard(array: zarr.Array, where: str) -> zarr.Array:
    """``array`` with its declared sizes checked and its codecs bounded (see the module documentation)."""
    meta = array.metadata
    shape = tuple(int(n) for n in array.shape)
    itemsize = _itemsize(array)
    if meta.zarr_format != 3:
        check_declared(where, shape, tuple(array.chunks), itemsize)
        return array
    codecs = list(meta.codecs)
    sharding = next((c for c in codecs if isinstance(c, ShardingCodec)), None)
    outer = tuple(int(n) for n in (array.shards or array.chunks))
    check_declared(where, shape, outer, itemsize, tuple(sharding.chunk_shape) if sharding is not None else None)
    return array_with_codecs(array, tuple(_bounded(c, where) for c in codecs))


def _itemsize(array: zarr.Array) -> int:
    dtype = np.dtype(array.dtype) if not hasattr(array.dtype, "itemsize") else array.dtype
    kind = getattr(dtype, "kind", "O")
    return 8 if kind in "OT" or not getattr(dtype, "itemsize", 0) else int(dtype.itemsize)
