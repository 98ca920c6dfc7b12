"""Decode only the Blosc blocks a selection needs.

A Blosc (1.x format) chunk is a 16-byte header, a table of block starts, and blocks of ``blocksize`` decoded
bytes each compressed on its own (the last may be shorter). A selection that lies within a few blocks of a chunk
(one frame of a chunk of 8 frames covers 1/8 of it) needs only those: they are copied, with their starts
rebased, into a smaller chunk of the same format whose header declares just those blocks, and Blosc decodes that
(its own shuffle and codecs, so the values are those of a full decode). Reading a random frame then costs the
decoding (and, on a local disk, the reading) of that frame's blocks instead of the whole chunk.

Everything read from the chunk is checked before use; a chunk this does not understand (another format version,
a stored-as-is chunk, starts out of bounds) is left to the full decode, which reports damage.
"""

from __future__ import annotations

import itertools
import struct
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

HEADER_BYTES = 16
FORMAT_VERSION = 2  # the Blosc 1.x chunk format (c-blosc 1.x, numcodecs' Blosc)
MEMCPYED = 0x2  # the data follows the header as is, no blocks
Reader = Callable[[int, int], bytes]  # (offset, size) -> bytes of the chunk


@dataclass(frozen=True)
class Header:
    """The fields of a Blosc 1.x chunk header this needs."""

    raw: bytes
    nbytes: int  # decoded size
    blocksize: int
    cbytes: int  # size of the whole chunk

    @property
    def nblocks(self) -> int:
        return -(-self.nbytes // self.blocksize)


def header(data: bytes, nbytes: int, cbytes: int) -> Header | None:
    """The header of a chunk of ``cbytes`` stored bytes that must decode to ``nbytes``; None when it is not one
    whose blocks can be decoded on their own."""
    if len(data) < HEADER_BYTES:
        return None
    version, _, flags, _, declared, blocksize, total = struct.unpack_from("<BBBBIII", data)
    if version != FORMAT_VERSION or flags & MEMCPYED or declared != nbytes or total != cbytes:
        return None
    if not 0 < blocksize <= nbytes:
        return None
    found = Header(bytes(data[:HEADER_BYTES]), declared, blocksize, total)
    if HEADER_BYTES + 4 * found.nblocks > cbytes:
        return None
    return found


def block_span(head: Header, start: int, stop: int) -> tuple[int, int]:
    """The blocks (first, stop) holding decoded bytes ``[start, stop)``. Blosc refuses a chunk smaller than its
    block size, so a span of only the short last block takes the block before it too."""
    first, last = start // head.blocksize, -(-stop // head.blocksize)
    if last - first == 1 and first == head.nblocks - 1 and head.nbytes % head.blocksize:
        first = max(0, first - 1)
    return first, last


Extents = tuple[np.ndarray, np.ndarray]  # where each block starts and ends in the stored chunk


def extents(read: Reader, head: Header) -> Extents | None:
    """Where each block of the chunk read by ``read`` starts and ends; None when the block table is not
    consistent (out of bounds, or two blocks at one place)."""
    nblocks = head.nblocks
    table = HEADER_BYTES + 4 * nblocks
    starts = np.frombuffer(read(HEADER_BYTES, 4 * nblocks), dtype="<u4").astype(np.int64)
    if len(starts) != nblocks or starts.min(initial=table) < table or starts.max(initial=0) >= head.cbytes:
        return None
    # blocks may be stored out of order (c-blosc's threads write them as they finish): a block ends where the
    # next stored block starts
    ordered = np.unique(starts)
    if len(ordered) != nblocks:
        return None
    return starts, np.append(ordered[1:], head.cbytes)[np.searchsorted(ordered, starts)]


def sub_chunk(read: Reader, head: Header, blocks: tuple[int, int], where: Extents | None = None) -> bytes | None:
    """A Blosc chunk of blocks ``[first, stop)`` of the chunk read by ``read`` (``where``: its block extents, when
    known): it decodes to the bytes from ``first * blocksize`` on. None when the block table is not consistent."""
    where = where if where is not None else extents(read, head)
    if where is None:
        return None
    starts, ends = where
    first, stop = blocks
    lo, hi = int(starts[first:stop].min()), int(ends[first:stop].max())
    span = read(lo, hi - lo)
    if len(span) != hi - lo:
        return None
    pieces, new_starts, at = [], [], HEADER_BYTES + 4 * (stop - first)
    for j in range(first, stop):
        begin, end = int(starts[j]) - lo, int(ends[j]) - lo
        pieces.append(span[begin:end])
        new_starts.append(at)
        at += end - begin
    nbytes = min(head.nbytes, stop * head.blocksize) - first * head.blocksize
    new_header = head.raw[:4] + struct.pack("<III", nbytes, head.blocksize, at)
    return b"".join([new_header, np.asarray(new_starts, dtype="<u4").tobytes(), *pieces])


def decoded_size(chunk: bytes) -> int:
    """The decoded size a (sub) chunk's header declares."""
    return int(struct.unpack_from("<I", chunk, 4)[0])


def sub_chunk_of(data: bytes, nbytes: int, start: int, stop: int) -> tuple[bytes, int] | None:
    """The Blosc chunk of the blocks of ``data`` (a whole stored chunk decoding to ``nbytes``) that hold decoded
    bytes ``[start, stop)``, and the decoded offset it starts at; None when the whole chunk must be decoded."""
    return planned(lambda offset, size: data[offset:offset + size], data[:HEADER_BYTES], nbytes, len(data),
                   start, stop)


def planned(read: Reader, first_bytes: bytes, nbytes: int, cbytes: int, start: int, stop: int
            ) -> tuple[bytes, int] | None:
    """As ``sub_chunk_of`` for a chunk read by ``read`` (``first_bytes`` its header): None when the blocks needed
    are all of them or the chunk is not one this decodes in parts."""
    head = header(first_bytes, nbytes, cbytes)
    if head is None:
        return None
    blocks = block_span(head, start, stop)
    if blocks[1] - blocks[0] >= head.nblocks:
        return None
    chunk = sub_chunk(read, head, blocks)
    return None if chunk is None else (chunk, blocks[0] * head.blocksize)


def split(data: bytes, nbytes: int, parts: int, min_part_bytes: int) -> list[tuple[bytes, int]] | None:
    """``data`` (a whole stored chunk decoding to ``nbytes``) as up to ``parts`` chunks of consecutive blocks of
    at least ``min_part_bytes`` decoded bytes each, with the decoded offset of each, so that one chunk can be
    decoded on several cores; None when it has fewer than two such parts or is not one this decodes in parts."""
    head = header(data[:HEADER_BYTES], nbytes, len(data))
    if head is None:
        return None
    count = min(parts, head.nblocks, nbytes // max(min_part_bytes, 1))
    if count < 2:
        return None
    edges = [round(i * head.nblocks / count) for i in range(count + 1)]
    if edges[-1] - edges[-2] == 1 and head.nbytes % head.blocksize:  # never the short last block alone
        del edges[-2]
    if len(edges) < 3:
        return None

    def read(offset: int, size: int) -> bytes:
        return data[offset:offset + size]

    where = extents(read, head)  # the block table parsed once for every part
    if where is None:
        return None
    out = []
    for first, stop in itertools.pairwise(edges):
        chunk = sub_chunk(read, head, (first, stop), where)
        if chunk is None:
            return None
        out.append((chunk, first * head.blocksize))
    return out
