"""Decompression that never produces more than a chunk holds, and the codecs a file may use.

Each compressor's declared size is checked before anything is allocated (the zstd frame header's content size, the
Blosc and LZ4 headers' byte counts); codecs without a declared size (zlib, gzip, bz2, lzma) are decompressed
incrementally with the output bounded. A codec that unpickles (numcodecs ``pickle``) never decodes a file's bytes,
whatever numcodecs' or zarr's opt-in says, and a codec outside the known ones is refused: its output cannot be
bounded.
"""

from __future__ import annotations

import bz2
import lzma
import struct
import zlib
from typing import Any

import numcodecs
import numpy as np
from numcodecs.abc import Codec

from nwbzarr_image.errors import CorruptDataError, LayoutError
from nwbzarr_image.limits import get_limits

__all__ = ["BoundedNumcodec", "bounded_decode", "check_codec_id", "is_unpickling"]

# numcodecs ids (v2 and the v3 "numcodecs.<id>" names) whose output size we bound
COMPRESSORS = {"blosc", "zstd", "lz4", "zlib", "gzip", "bz2", "lzma"}
NO_GROWTH = {"crc32", "crc32c", "adler32", "fletcher32", "jenkins_lookup3", "shuffle"}  # output <= input
ARRAY_FILTERS = {"delta", "bitround", "fixedscaleoffset", "quantize", "packbits", "astype", "categorize"}
OBJECT_FILTERS = {"vlen-utf8", "vlen-bytes", "vlen-array", "json2", "msgpack2", "pickle"}  # pickle: our own decoder
UNPICKLING = {"pickle"}
_FIX = ("If you trust the file and need it, raise the limit (nwbzarr_image.limits.set_limits(max_chunk_bytes=...) "
        "or NWBZARR_IMAGE_MAX_CHUNK_BYTES).")


def is_unpickling(codec_id: str) -> bool:
    """Whether a codec id (v2 ``pickle``, v3 ``numcodecs.pickle``, any case) names a codec that unpickles."""
    return str(codec_id).lower().rsplit(".", 1)[-1] in UNPICKLING


def check_codec_id(codec_id: Any, where: str, allowed: set[str]) -> str:
    """``codec_id`` if it is one of ``allowed`` and never unpickles, else our LayoutError naming the node."""
    name = str(codec_id)
    if is_unpickling(name):
        raise LayoutError(f"{where}: declares the codec {name!r}, which unpickles (runs code from the file); "
                          "expected a codec that decodes data only. Such files are never decoded, whatever "
                          "numcodecs' NUMCODECS_ALLOW_UNSAFE_PICKLE_DECODE or zarr's opt-in says; re-write the "
                          "data with another codec from a trusted copy.")
    if name not in allowed:
        raise LayoutError(f"{where}: declares the codec {name!r}, whose output size cannot be bounded; expected one "
                          f"of {sorted(allowed)}. Re-write the data with one of them.")
    return name


def _at(where: str) -> str:
    return f"{where}: " if where else ""


def _too_big(where: str, codec: str, claimed: int | None, bound: int) -> CorruptDataError:
    said = f"claims {claimed} decoded bytes" if claimed is not None else f"decodes to more than {bound} bytes"
    return CorruptDataError(f"{_at(where)}a chunk's {codec} data {said}; expected at most {bound} (what the chunk's "
                            f"shape holds, within max_chunk_bytes={get_limits().max_chunk_bytes}). The chunk is "
                            f"damaged or hostile. {_FIX}")


def _zstd_content_size(data: bytes) -> int | None:
    """The first frame's declared content size; None when the frame does not declare it."""
    if len(data) < 6 or data[:4] != b"\x28\xb5\x2f\xfd":
        raise ValueError("not a zstd frame")
    descriptor = data[4]
    fcs_flag, single = descriptor >> 6, (descriptor >> 5) & 1
    did_size = (0, 1, 2, 4)[descriptor & 3]
    fcs_size = (1 if single else 0, 2, 4, 8)[fcs_flag]
    start = 5 + (0 if single else 1) + did_size
    if fcs_size == 0:
        return None
    field = data[start:start + fcs_size]
    if len(field) != fcs_size:
        raise ValueError("truncated zstd frame header")
    value = int.from_bytes(field, "little")
    return value + 256 if fcs_size == 2 else value


def _stream(decompressor: Any, data: bytes, bound: int, where: str, codec: str) -> bytes:
    out = decompressor.decompress(data, bound + 1)
    if len(out) > bound:
        raise _too_big(where, codec, None, bound)
    return out


def _deflate_module() -> Any:
    """zlib-ng's drop-in zlib (inflates about twice as fast: most NWB HDF5 files are gzip) when installed (the
    ``[hdf5]`` extra), else zlib; the same streams, the same bytes."""
    try:
        from zlib_ng import zlib_ng
    except ImportError:
        return zlib
    return zlib_ng


DEFLATE = _deflate_module()
DEFLATE_ERRORS = tuple({zlib.error, DEFLATE.error})


def _inflate(data: bytes, wbits: int, bound: int, where: str, codec: str) -> bytes:
    parts: list[bytes] = []
    rest = data
    while True:
        inflater = DEFLATE.decompressobj(wbits)
        parts.append(inflater.decompress(rest, bound + 1 - sum(map(len, parts))))
        if sum(map(len, parts)) > bound or inflater.unconsumed_tail:
            raise _too_big(where, codec, None, bound)
        rest = inflater.unused_data
        if not rest or codec != "gzip":  # gzip data may hold several members
            return b"".join(parts)


def bounded_decode(codec: Codec, data: Any, bound: int, where: str) -> Any:
    """Decode ``data`` with the numcodecs ``codec`` into at most ``bound`` bytes, else our CorruptDataError."""
    codec_id = check_codec_id(codec.codec_id, where, COMPRESSORS | NO_GROWTH | ARRAY_FILTERS | OBJECT_FILTERS)
    raw = memoryview(data).cast("B") if not isinstance(data, bytes) else data
    try:
        if codec_id == "zstd":
            claimed = _zstd_content_size(bytes(raw[:18]))
            if claimed is None:
                return numcodecs.zstd.decompress(raw, np.empty(bound, np.uint8))  # must decode to exactly bound
            if claimed > bound:
                raise _too_big(where, codec_id, claimed, bound)
        elif codec_id == "blosc":
            if len(raw) < 16:
                raise ValueError(f"a Blosc frame has a 16-byte header; got {len(raw)} bytes")
            claimed = struct.unpack("<I", bytes(raw[4:8]))[0]  # the header's uncompressed size
            if claimed > bound:
                raise _too_big(where, codec_id, claimed, bound)
        elif codec_id == "lz4":
            claimed = struct.unpack("<I", bytes(raw[:4]))[0] if len(raw) >= 4 else 0
            if claimed > bound:
                raise _too_big(where, codec_id, claimed, bound)
        elif codec_id in ("zlib", "gzip"):
            return _inflate(bytes(raw), 31 if codec_id == "gzip" else 15, bound, where, codec_id)
        elif codec_id == "bz2":
            return _stream(bz2.BZ2Decompressor(), bytes(raw), bound, where, codec_id)
        elif codec_id == "lzma":
            return _stream(lzma.LZMADecompressor(), bytes(raw), bound, where, codec_id)
        return codec.decode(raw)
    except CorruptDataError:
        raise
    except (ValueError, RuntimeError, OSError, EOFError, lzma.LZMAError, *DEFLATE_ERRORS, struct.error) as err:
        raise CorruptDataError(f"{_at(where)}the stored values of a chunk cannot be decoded with {codec_id} "
                               f"({type(err).__name__}: {err}); the chunk is truncated or damaged. List them with: "
                               "nwbzarr-image validate --deep URL.") from err


class BoundedNumcodec(Codec):
    """A numcodecs compressor whose decode is :func:`bounded_decode` (encode is the compressor's own)."""

    codec_id = "bounded"  # zarr checks for a str on the class; each instance carries its compressor's id

    def __init__(self, inner: Codec, bound: int, where: str) -> None:
        self.inner, self.bound, self.where = inner, bound, where
        self.codec_id = inner.codec_id

    def encode(self, buf: Any) -> Any:
        return self.inner.encode(buf)

    def decode(self, buf: Any, out: Any = None) -> Any:
        decoded = bounded_decode(self.inner, buf, self.bound, self.where)
        if out is not None:
            out[...] = np.frombuffer(decoded, dtype=np.uint8).view(out.dtype).reshape(out.shape)
            return out
        return decoded

    def get_config(self) -> dict[str, Any]:
        return dict(self.inner.get_config())

    def __repr__(self) -> str:
        return f"BoundedNumcodec({self.inner!r}, bound={self.bound})"
