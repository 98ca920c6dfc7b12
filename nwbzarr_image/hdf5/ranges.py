"""Byte ranges of one HDF5 file: local preads, or fsspec range requests merged and sent concurrently; and a
block-cached file object through which h5py reads the metadata of a remote file in few, growing requests."""

from __future__ import annotations

import io
import os
import threading
from collections.abc import Callable, Sequence
from typing import Any

from nwbzarr_image.errors import PerformanceWarning, warn
from nwbzarr_image.hdf5.btree import Node, covering, parse_node

MERGE_GAP = 64 * 1024  # ranges closer than this are read by one request (at most this much is read in vain)
MAX_REQUEST = 64 * 1024 * 1024
HEAD_BLOCK = 1024 * 1024  # the first request of a remote file: superblock, root group, first object headers
BLOCK = 256 * 1024  # a metadata read elsewhere in the file fetches this much
UNIT = 4 * 1024  # the pieces a BlockFile keeps
TAIL = 1024 * 1024  # a metadata read this close to the end of the file fetches the rest of it
MAX_BLOCK = 16 * 1024 * 1024


def merge(ranges: Sequence[tuple[int, int]], gap: int = MERGE_GAP, limit: int = MAX_REQUEST
          ) -> list[tuple[int, int, list[int]]]:
    """Group ``(offset, size)`` ranges into ``(start, end, members)`` requests: sorted, neighbours closer than
    ``gap`` bytes merged, no request over ``limit`` bytes unless a single range is."""
    order = sorted(range(len(ranges)), key=lambda i: ranges[i][0])
    out: list[tuple[int, int, list[int]]] = []
    for i in order:
        start, size = ranges[i]
        end = start + size
        if out and start - out[-1][1] <= gap and max(end, out[-1][1]) - out[-1][0] <= limit:
            last = out[-1]
            out[-1] = (last[0], max(last[1], end), [*last[2], i])
        else:
            out.append((start, end, [i]))
    return out


class ByteSource:
    """Reads byte ranges of the file at ``location`` (picklable: reopens its handle in each process).

    ``requests`` and ``bytes_read`` count what was read, for tests and benchmarks.
    """

    def __init__(self, url: str, fs: Any, path: str, local: bool, size: int = 0) -> None:
        self.url, self.fs, self.path, self.local, self.size = url, fs, path, local, size
        self.requests = 0
        self.bytes_read = 0
        self._fd: int | None = None
        self._pid = -1
        self._lock = threading.Lock()
        self._warned = False

    def __getstate__(self) -> dict[str, Any]:
        return {"url": self.url, "fs": self.fs, "path": self.path, "local": self.local, "size": self.size}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(**state)  # type: ignore[misc]

    def _count(self, n: int, nbytes: int) -> None:
        with self._lock:
            self.requests += n
            self.bytes_read += nbytes

    def _descriptor(self) -> int:
        if self._fd is None or self._pid != os.getpid():
            self._fd, self._pid = os.open(self.path, os.O_RDONLY | getattr(os, "O_BINARY", 0)), os.getpid()
        return self._fd

    def read(self, offset: int, size: int) -> bytes:
        """``size`` bytes from ``offset`` (fewer at the end of the file)."""
        return self.read_many([(offset, size)])[0]

    def read_many(self, ranges: Sequence[tuple[int, int]]) -> list[bytes]:
        """Every range, neighbours merged into one request and the requests sent concurrently."""
        if not ranges:
            return []
        groups = merge(ranges)
        if self.local:
            fd = self._descriptor()
            blobs = [os.pread(fd, end - start, start) for start, end, _ in groups]
        else:
            blobs = self.fs.cat_ranges([self.path] * len(groups), [g[0] for g in groups], [g[1] for g in groups],
                                       on_error="raise")
            for blob in blobs:
                if isinstance(blob, BaseException):
                    raise blob
            blobs = [self._ranged(blob, start, end) for blob, (start, end, _) in zip(blobs, groups, strict=True)]
        self._count(len(groups), sum(len(b) for b in blobs))
        out: list[bytes] = [b""] * len(ranges)
        for (start, _end, members), blob in zip(groups, blobs, strict=True):
            for i in members:
                offset, size = ranges[i]
                out[i] = bytes(blob[offset - start:offset - start + size])
        return out

    def _ranged(self, blob: bytes, start: int, end: int) -> bytes:
        """``blob`` as the bytes ``start:end``: a server that ignores Range headers answers 200 with the whole
        file, which fsspec hands over as if it were the range asked for."""
        if len(blob) <= end - start:
            return blob
        if not self._warned:
            self._warned = True
            warn(PerformanceWarning(
                f"read {self.url}: the server ignores HTTP Range requests and sends the whole file ({len(blob)} "
                f"bytes) for each read of a byte range; expected 206 Partial Content. The values are right, but "
                "every read costs the whole file: serve it from a server that supports Range requests."))
        return blob[start:end]

    def close(self) -> None:
        if self._fd is not None and self._pid == os.getpid():
            os.close(self._fd)
        self._fd = None


class BlockFile(io.RawIOBase):
    """A read-only file object for h5py over ``read(offset, size)``: bytes kept in ``UNIT`` pieces for the whole
    walk. A read elsewhere fetches ``fresh`` bytes (aligned); a read right after the previous fetch fetches twice
    as many as that fetch (remfile's scheme), so metadata spread over a file costs few requests. After the walk,
    ``fresh`` drops to one unit: chunk index nodes are a few KB each, scattered among the chunks."""

    def __init__(self, read: Callable[[int, int], bytes], size: int, head: bytes = b"", fresh: int = BLOCK,
                 read_many: Callable[[Sequence[tuple[int, int]]], list[bytes]] | None = None) -> None:
        super().__init__()
        self._read, self.size, self.pos = read, size, 0
        self._read_many = read_many
        self.fresh = fresh
        self.index_rank = 0  # while a chunk index is read: its dataset's rank (see _children)
        self.index_wanted: list[tuple[int, ...]] | None = None  # while chunks are looked up: their offsets
        self.span_budget = 0  # while chunks are looked up: the most bytes one request may fetch around their nodes
        self.transient: set[int] = set()  # pieces of chunk bytes fetched with nodes (dropped after the read)
        self.nodes: dict[int, tuple[Node, int]] = {}  # internal chunk B-tree nodes read, by address (and size)
        self.blocks: dict[int, bytes] = {}
        self._run = 1
        whole = len(head) if head and len(head) == size else len(head) // UNIT * UNIT
        for i in range(0, whole, UNIT):
            self.blocks[i // UNIT] = head[i:i + UNIT]

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self.pos, io.SEEK_END: self.size}[whence]
        self.pos = max(0, base + offset)
        return self.pos

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        end = min(self.pos + len(view), self.size)
        if end <= self.pos:
            return 0
        first, last = self.pos // UNIT, (end - 1) // UNIT
        for i in range(first, last + 1):
            if i not in self.blocks:
                self._fetch(i, last)
        piece = self.cached_bytes(self.pos, end)
        view[:len(piece)] = piece
        if self.index_rank and piece[:4] == b"TREE":
            self._children(self.pos, piece)
        self.pos += len(piece)
        return len(piece)

    def _children(self, at: int, data: bytes) -> None:
        """A node of a chunk B-tree was read at ``at`` (h5py reads each node whole): fetch the children h5py will
        read next."""
        node = parse_node(data, self.index_rank)
        if node is None:
            return
        if node.level > 0:
            self.nodes[at] = (node, len(data))
            self._fetch_children(node, len(data))

    def _fetch_children(self, node: Node, size: int) -> None:
        """Fetch with concurrent requests the children (nodes of ``size`` bytes) of an internal node that are not
        here: all while listing; while looking up chunks, those covering ``index_wanted``."""
        if self._read_many is None:
            return
        picked = range(len(node.children)) if self.index_wanted is None else covering(node, self.index_wanted)
        spans = [(c // UNIT, (c + size - 1) // UNIT) for c in (node.children[i] for i in picked)]
        if any(last * UNIT >= self.size for _, last in spans):
            return  # not what this parser expects: leave the reads to h5py
        spans = [(a, b) for a, b in spans if any(u not in self.blocks for u in range(a, b + 1))]
        if self.index_wanted is not None and len(spans) > 1:
            low, high = min(a for a, _ in spans), max(b for _, b in spans)
            if (high - low + 1) * UNIT <= self.span_budget:
                # the bytes between the nodes a read needs are, in a file written in order, that read's chunks:
                # one request fetches nodes and chunks together (at most the read's decoded size in vain)
                nodes = {u for a, b in spans for u in range(a, b + 1)}
                data = self._read_many([(low * UNIT, min((high + 1) * UNIT, self.size) - low * UNIT)])[0]
                for u in range(low, high + 1):
                    if u not in self.blocks and (u - low) * UNIT < len(data):
                        self.blocks[u] = data[(u - low) * UNIT:(u - low + 1) * UNIT]
                        if u not in nodes:
                            self.transient.add(u)
                return
        wanted = sorted({(u * UNIT, min(UNIT, self.size - u * UNIT)) for a, b in spans for u in range(a, b + 1)
                         if u not in self.blocks})
        for (start, _), piece in zip(wanted, self._read_many(wanted), strict=True):
            self.blocks.setdefault(start // UNIT, piece)

    def look_up(self, root: int, size: int) -> dict[tuple[int, ...], tuple[int, int, int]] | None:
        """``(address, size, filter_mask)`` of the stored chunks among ``index_wanted``, by element offsets, found
        by walking down the chunk B-tree from its root node (``size`` bytes at ``root``): only the nodes above
        these chunks are read, the nodes of one level together. None when a node is not one this parser reads
        (the caller then asks h5py)."""
        if self.index_wanted is None:
            return None
        return self._walk_down(root, size)  # the nodes' bytes are kept (at most LOOKUPS chunks are looked up)

    def _walk_down(self, root: int, size: int) -> dict[tuple[int, ...], tuple[int, int, int]] | None:
        assert self.index_wanted is not None
        found: dict[tuple[int, ...], tuple[int, int, int]] = {}
        frontier = [root]
        while frontier:
            below: list[int] = []
            for at in frontier:
                node = self._node(at, size)
                if node is None:
                    return None
                if node.level == 0:
                    found.update(node.entries())
                    continue
                self._fetch_children(node, size)
                below.extend(node.children[i] for i in covering(node, self.index_wanted))
            frontier = below
        return found

    def _node(self, at: int, size: int) -> Node | None:
        entry = self.nodes.get(at)
        if entry is not None:
            return entry[0]
        if at + size > self.size:
            return None
        node = parse_node(self.pread(at, size), self.index_rank)
        if node is not None and node.level > 0:
            self.nodes[at] = (node, size)
        return node

    def pread(self, at: int, size: int) -> bytes:
        """``size`` bytes at ``at``, from what is kept or fetched (no node hook: the caller parses them)."""
        data = self.cached_bytes(at, min(at + size, self.size))
        if len(data) < min(size, self.size - at):
            rank, pos, self.index_rank = self.index_rank, self.pos, 0
            try:
                self.seek(at)
                data = self.read(size) or b""
            finally:
                self.index_rank, self.pos = rank, pos
        return data

    def drop_transient(self) -> None:
        """Forget the chunk bytes fetched along with index nodes (once the read that needed them has them)."""
        for u in list(self.transient):
            self.blocks.pop(u, None)
        self.transient.clear()

    def _fetch(self, first: int, last: int) -> None:
        fresh = max(1, self.fresh // UNIT)
        start = first - first % fresh
        while start < first and start in self.blocks:
            start += 1
        sequential = (start - 1) in self.blocks
        self._run = min(self._run * 2, MAX_BLOCK // UNIT) if sequential else fresh
        count = max(last - start + 1, self._run)
        if self.fresh >= BLOCK and self.size - start * UNIT <= TAIL:
            count = -(-(self.size - start * UNIT) // UNIT)  # h5py writes its last metadata at the end: take it all
        while count > 1 and (start + count - 1) in self.blocks:  # readinto fetches any other missing piece
            count -= 1
        data = self._read(start * UNIT, min(count * UNIT, self.size - start * UNIT))
        for k in range(count):
            piece = data[k * UNIT:(k + 1) * UNIT]
            if piece and start + k not in self.blocks:
                self.blocks[start + k] = piece

    def cached_ends(self, start: int, end: int) -> tuple[int, int]:
        """``(lo, hi)``: the bytes ``start:lo`` and ``hi:end`` are kept here, ``lo:hi`` are not all kept."""
        lo = start
        while lo < end and lo // UNIT in self.blocks:
            lo = min(end, (lo // UNIT + 1) * UNIT)
        hi = end
        while hi > lo and (hi - 1) // UNIT in self.blocks:
            hi = max(lo, (hi - 1) // UNIT * UNIT)
        return lo, hi

    def cached_bytes(self, start: int, end: int) -> bytes:
        """The kept bytes ``start:end`` (stops early at a piece not kept or at the end of the file)."""
        parts = []
        pos = start
        while pos < end:
            i = pos // UNIT
            block = self.blocks.get(i)
            if block is None:
                break
            piece = block[pos - i * UNIT:min(end, (i + 1) * UNIT) - i * UNIT]
            if not piece:
                break
            parts.append(piece)
            pos += len(piece)
        return b"".join(parts)
