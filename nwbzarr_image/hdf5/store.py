"""A read-only zarr store over the NWB Zarr v3 view of an HDF5 file: metadata from memory, chunks by byte range."""

from __future__ import annotations

import asyncio
import builtins
import re
import threading
from collections.abc import AsyncIterator, Callable, Iterable
from typing import Any

import numpy as np
from zarr.abc.buffer import Buffer, BufferPrototype
from zarr.abc.store import ByteRequest, Store

from nwbzarr_image.errors import CorruptDataError, ReadOnlyError
from nwbzarr_image.hdf5.encode import cut, encode
from nwbzarr_image.hdf5.index import ChunkTable, linear_index, list_chunks
from nwbzarr_image.hdf5.kept import Kept
from nwbzarr_image.hdf5.lookup import look_up
from nwbzarr_image.hdf5.ranges import UNIT, BlockFile, ByteSource
from nwbzarr_image.hdf5.thread import run_h5
from nwbzarr_image.hdf5.view import ArraySource, View

LOOKUPS = 16384  # chunks of a remote dataset looked up one by one, at most; beyond (and 1/8 of it) it is listed
CHUNK_KEY = re.compile(r"^(.*)/c((?:/\d+)*)$")


class Hdf5Store(Store):
    """The view's keys: ``zarr.json`` documents and small values in memory; chunk keys of big datasets resolve
    to byte ranges of the HDF5 file through their chunk table (listed with h5py the first time the dataset is
    read, in the h5py thread). Pickles with its tables and no h5py handle.

    Parameters
    ----------
    source : ByteSource
        The HDF5 file's bytes.
    view : View
        The documents and chunk sources built from the walk.
    tables : dict, optional
        Chunk tables already listed (from the cache), by array key.
    on_table : callable, optional
        Called with the store after each newly listed table or batch of chunks looked up (to update the cache).
    blocks : BlockFile, optional
        The block cache of the walk, reused when h5py reopens a remote file.
    looked_up : dict, optional
        Chunks of remote datasets already looked up (from the cache): by array key, by linear chunk index,
        ``(offset, size, filter_mask)``.
    """

    supports_writes = False
    supports_deletes = False
    supports_partial_writes = False
    supports_listing = True

    def __init__(self, source: ByteSource, view: View, tables: dict[str, ChunkTable] | None = None,
                 on_table: Callable[[Hdf5Store], None] | None = None, blocks: BlockFile | None = None,
                 looked_up: dict[str, dict[int, tuple[int, int, int]]] | None = None) -> None:
        super().__init__(read_only=True)
        self.source, self.view = source, view
        self.tables: dict[str, ChunkTable] = dict(tables or {})
        self.on_table = on_table
        self.listings = 0  # chunk tables listed with h5py by this store
        self._h5: Any = None
        self._h5_blocks: BlockFile | None = None  # the file object h5py reads a remote file through
        self._blocks = blocks  # the metadata blocks the walk read: listing chunks later re-reads none of them
        self._lock = threading.RLock()
        self._recent: Kept[bytes] = Kept(1.0, len)  # chunk bytes as stored
        self._kept_decoded: Kept[np.ndarray] = Kept(0.25, lambda values: values.nbytes)  # chunks read in part
        self.looked_up = {k: dict(v) for k, v in (looked_up or {}).items()}  # chunks of remote datasets (locate)
        self._roots: dict[str, tuple[int, int] | None] = {}  # address and size of remote datasets' chunk B-tree roots
        self._nodes: set[str] | None = None

    # -- pickling (dask.distributed workers: tables travel, h5py does not) -----------------------------------

    def __getstate__(self) -> dict[str, Any]:
        return {"source": self.source, "view": self.view, "tables": self.tables}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["source"], state["view"], state["tables"])  # type: ignore[misc]
        self._is_open = True

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Hdf5Store) and other.source.url == self.source.url and other.view is self.view

    def __hash__(self) -> int:
        return hash(self.source.url)

    def __repr__(self) -> str:
        return f"Hdf5Store({self.source.url!r})"

    def with_read_only(self, read_only: bool = False) -> Hdf5Store:
        if not read_only:
            raise ReadOnlyError(f"{self.source.url}: HDF5 files are read-only here; got a request to write. "
                                "Convert it first: nzi.write(nzi.read(url), 'out.nwb.zarr').")
        return self

    def dask_plan(self, array: Any, strict: bool) -> tuple[tuple[int, ...], Any]:
        """Dask chunks and task source for ``as_dask`` (see ``blocks.py``)."""
        from nwbzarr_image.hdf5.blocks import dask_plan

        return dask_plan(array, strict)

    def raw_copy(self, key: str, group: Any, name: str, attrs: dict[str, Any], chunk_key_encoding: Any,
                 verify: bool = False) -> bool:
        """Write array ``key`` into ``group[name]`` by copying its compressed chunks (see ``rawcopy.py``);
        ``verify`` decodes each chunk first."""
        from nwbzarr_image.hdf5.rawcopy import raw_copy

        return raw_copy(self, key, group, name, attrs, chunk_key_encoding, verify=verify)

    @property
    def url(self) -> str:
        return self.source.url

    # -- reads ------------------------------------------------------------------------------------------------

    async def get(self, key: str, prototype: BufferPrototype, byte_range: ByteRequest | None = None
                  ) -> Buffer | None:
        data = self.view.entries.get(key)
        if data is None:
            data = self._recall(key)
        if data is None:
            parsed = self.parse(key)
            if parsed is None:
                return None
            data = await asyncio.to_thread(self.chunk, *parsed)
            if data is None:
                return None
            self._keep(key, data)
        return prototype.buffer.from_bytes(cut(data, byte_range))

    def _recall(self, key: str) -> bytes | None:
        return self._recent.get(key)

    def _keep(self, key: str, data: bytes) -> None:
        """Keep a chunk's bytes for later reads, within ``max_cached_bytes``."""
        self._recent.put(key, data)

    def decoded(self, key: str, coords: tuple[int, ...]) -> np.ndarray | None:
        """A chunk of array ``key`` kept decoded (see ``keep_decoded``), or None."""
        return self._kept_decoded.get((key, coords))

    def keep_decoded(self, key: str, coords: tuple[int, ...], values: np.ndarray) -> None:
        """Keep a decoded chunk read in part, within a quarter of ``max_cached_bytes``: frames read one at a time
        then decode each chunk once."""
        self._kept_decoded.put((key, coords), values)

    async def get_partial_values(self, prototype: BufferPrototype,
                                 key_ranges: Iterable[tuple[str, ByteRequest | None]]) -> list[Buffer | None]:
        return [await self.get(key, prototype, byte_range) for key, byte_range in key_ranges]

    async def exists(self, key: str) -> bool:
        if key in self.view.entries:
            return True
        parsed = self.parse(key)
        return parsed is not None and await asyncio.to_thread(self.stored, *parsed)

    def parse(self, key: str) -> tuple[ArraySource, tuple[int, ...]] | None:
        match = CHUNK_KEY.match(key)
        if match is None:
            return None
        source = self.view.sources.get(match.group(1))
        if source is None:
            return None
        coords = tuple(int(c) for c in match.group(2).split("/")[1:])
        if len(coords) != len(source.shape) or any(c >= n for c, n in zip(coords, source.grid, strict=True)):
            return None
        return source, coords

    def stored(self, source: ArraySource, coords: tuple[int, ...]) -> bool:
        if source.kind != "chunked":
            return True
        return self.locate(source, [coords])[0][1] > 0

    def table(self, source: ArraySource) -> ChunkTable:
        """The chunk table of a chunked dataset, listed with one ``chunk_iter`` pass on first use."""
        table = self.tables.get(source.key)
        if table is None:
            with self._lock:
                table = self.tables.get(source.key)
                if table is None:
                    table = run_h5(self._list, source)
                    self.tables[source.key] = table
                    self.listings += 1
                    if self.on_table is not None:
                        self.on_table(self)
        return table

    def _list(self, source: ArraySource) -> ChunkTable:
        dataset = self.h5()["/" + source.key]
        blocks = self._h5_blocks
        if blocks is None:
            return list_chunks(dataset, source.grid, source.chunks)
        blocks.index_rank = len(source.shape)  # the index nodes' children are fetched together
        before = set(blocks.blocks)
        try:
            return list_chunks(dataset, source.grid, source.chunks)
        finally:  # the table holds what the nodes said: their bytes (8 KB a leaf) are not kept
            blocks.index_rank = 0
            for unit in [u for u in blocks.blocks if u not in before]:
                del blocks.blocks[unit]

    def h5(self) -> Any:
        """The h5py file (opened in the h5py thread; only chunk listing and fallback reads use it)."""
        if self._h5 is None:
            from nwbzarr_image.hdf5.opener import open_h5py_file

            if self.source.local:
                self._h5 = open_h5py_file(self.source.path, self.source.url)
            else:
                blocks = self._blocks or BlockFile(self.source.read, self.source.size,
                                                   read_many=self.source.read_many)
                self._h5_blocks = blocks
                if self._blocks is not None:  # the walk read the metadata: what is left are index nodes
                    blocks.fresh = UNIT
                blocks.seek(0)
                self._h5 = open_h5py_file(blocks, self.source.url)
        return self._h5

    def ranges(self, source: ArraySource, coords: tuple[int, ...]) -> tuple[int, int, int] | None:
        """``(offset, size, filter_mask)`` of one chunk in the file; None when it is not stored."""
        if source.kind == "contiguous":
            frame = int(np.prod(source.shape[1:], dtype=np.int64)) * np.dtype(source.dtype).itemsize
            first = coords[0] * source.chunks[0]
            rows = min(source.chunks[0], source.shape[0] - first)
            return int(source.offset or 0) + first * frame, rows * frame, 0
        offset, size, mask = self.locate(source, [coords])[0]
        return (offset, size, mask) if size else None

    def locate(self, source: ArraySource, coords: list[tuple[int, ...]]) -> list[tuple[int, int, int]]:
        """``(offset, size, filter_mask)`` of chunks of a chunked dataset (size 0: not stored). A remote dataset
        whose chunk table is not listed looks up only these chunks, reading only the index nodes above them: a
        first frame of a tiny-chunk movie then reads a few nodes, not the whole index."""
        if not coords:
            return []
        linear = [linear_index(c, source.grid) for c in coords]
        if source.key in self.tables or self.source.local:
            table = self.table(source)
            return [table.lookup(i) for i in linear]
        known = self.looked_up.setdefault(source.key, {})
        missing = [(c, i) for c, i in zip(coords, linear, strict=True) if i not in known]
        if missing and len(known) + len(missing) > max(LOOKUPS, int(np.prod(source.grid, dtype=np.int64)) // 8):
            table = self.table(source)  # most of the dataset is read: its whole index, 12 bytes a chunk
            self.looked_up.pop(source.key, None)
            return [table.lookup(i) for i in linear]
        walked = True
        if missing:
            with self._lock:
                missing = [(c, i) for c, i in missing if i not in known]
                if missing:
                    walked = run_h5(self._look_up, source, missing, known)
                    if walked and self.on_table is not None:
                        self.on_table(self)
        if not walked:  # an index our B-tree walk does not read: listed whole, once, with chunk_iter
            table = self.table(source)
            self.looked_up.pop(source.key, None)
            return [table.lookup(i) for i in linear]
        return [known[i] for i in linear]

    def _look_up(self, source: ArraySource, missing: list[tuple[tuple[int, ...], int]],
                 known: dict[int, tuple[int, int, int]]) -> bool:
        return look_up(self.h5(), self._h5_blocks, source, missing, known, self._roots)

    def chunk(self, source: ArraySource, coords: tuple[int, ...], raw: bytes | None = None) -> bytes | None:
        """The bytes of one chunk as its declared codecs expect them (``raw``: already read from the file)."""
        if source.kind == "fallback":  # declared with the bytes codec only
            return run_h5(self._decoded, source, coords).tobytes()
        where = self.ranges(source, coords)
        if where is None:
            return None
        offset, size, mask = where
        if mask:
            return encode(run_h5(self._decoded, source, coords), source)
        self._check_within(source, coords, offset, size)
        data = raw if raw is not None else self.read_ranges([(offset, size)])[0]
        if len(data) < size:
            raise self._truncated(source, coords, offset, size, len(data))
        if source.kind == "contiguous" and len(data) < source.chunk_nbytes:
            data = data + bytes(source.chunk_nbytes - len(data))  # zarr's edge chunks are full-size
        return data

    def _check_within(self, source: ArraySource, coords: tuple[int, ...], offset: int, size: int) -> None:
        if self.source.size and offset + size > self.source.size:
            raise self._truncated(source, coords, offset, size, max(0, self.source.size - offset))

    def _truncated(self, source: ArraySource, coords: tuple[int, ...], offset: int, size: int, got: int
                   ) -> CorruptDataError:
        return CorruptDataError(f"read {self.source.url}: /{source.key} chunk {coords} lies beyond the end of the "
                                f"file; expected {size} bytes at offset {offset}, got {got}. The file is truncated "
                                "(an incomplete download or copy); fetch it again.")

    def _decoded(self, source: ArraySource, coords: tuple[int, ...]) -> np.ndarray:
        """One chunk read and decoded by h5py (filters numcodecs lacks, or skipped by a filter mask)."""
        starts = [c * n for c, n in zip(coords, source.chunks, strict=True)]
        region = tuple(slice(s, min(s + n, d)) for s, n, d in zip(starts, source.chunks, source.shape, strict=True))
        try:
            values = np.asarray(self.h5()["/" + source.key][region], dtype=source.dtype)
        except OSError as err:
            from nwbzarr_image.hdf5.opener import filter_hint

            raise CorruptDataError(f"read {self.source.url}: /{source.key} cannot be decoded by h5py ({err}); "
                                   f"expected a dataset h5py can read. {filter_hint(source)}") from err
        full = np.zeros(source.chunks, dtype=source.dtype)
        full[tuple(slice(0, r.stop - r.start) for r in region)] = values
        return full

    def read_ranges(self, ranges: list[tuple[int, int]]) -> list[bytes]:
        """The bytes of ``(offset, size)`` ranges of the file: the ends the walk already read (the first megabyte
        holds the start of the first chunks) come from its blocks, the rest with merged, concurrent requests."""
        blocks = self._h5_blocks or self._blocks
        if blocks is None:
            return self.source.read_many(ranges)
        ends = [blocks.cached_ends(offset, offset + size) for offset, size in ranges]
        missing = [(lo, hi - lo) for lo, hi in ends if hi > lo]
        fetched = iter(self.source.read_many(missing))
        out = []
        for (offset, size), (lo, hi) in zip(ranges, ends, strict=True):
            middle = next(fetched) if hi > lo else b""
            out.append(blocks.cached_bytes(offset, lo) + middle + blocks.cached_bytes(hi, offset + size))
        blocks.drop_transient()
        return out

    def prefetch(self, key: str, coords: list[tuple[int, ...]]) -> None:
        """Read the chunks ``coords`` of array ``key`` with merged, concurrent range requests into the recent
        chunks, for the zarr reads that follow (a task of a dask array calls this before reading its block)."""
        source = self.view.sources.get(key)
        if source is None or source.kind == "fallback":
            return
        wanted: list[tuple[str, tuple[int, ...], int, int]] = []
        keys = {c: f"{key}/c/" + "/".join(map(str, c)) for c in coords}
        coords = [c for c in coords if self._recall(keys[c]) is None]
        if source.kind == "chunked" and coords:
            self.locate(source, coords)  # looked up together: their index nodes are fetched together
        for c in coords:
            where = self.ranges(source, c)
            if where is not None and not where[2]:
                self._check_within(source, c, where[0], where[1])
                wanted.append((keys[c], c, where[0], where[1]))
        blobs = self.read_ranges([(offset, size) for _, _, offset, size in wanted])
        for (key_c, c, _, _), blob in zip(wanted, blobs, strict=True):
            data = self.chunk(source, c, blob)
            if data is not None:
                self._keep(key_c, data)

    # -- listing ----------------------------------------------------------------------------------------------

    def _all_nodes(self) -> set[str]:
        if self._nodes is None:
            self._nodes = set(self.view.entries)
        return self._nodes

    async def list(self) -> AsyncIterator[str]:
        for key in sorted(self._all_nodes()):
            yield key

    async def list_prefix(self, prefix: str) -> AsyncIterator[str]:
        for key in sorted(self._all_nodes()):
            if key.startswith(prefix):
                yield key
        for source in self.view.sources.values():  # chunk keys of byte-range arrays: only the stored ones
            if f"{source.key}/".startswith(prefix) or source.key.startswith(prefix):
                for key in await asyncio.to_thread(self.chunk_keys, source):
                    yield key

    def chunk_keys(self, source: ArraySource) -> builtins.list[str]:  # builtins: this class has a list()
        grid = source.grid
        if source.kind == "chunked":
            linear = np.flatnonzero(self.table(source).table["size"])
        else:
            linear = np.arange(int(np.prod(grid, dtype=np.int64)))
        coords = np.unravel_index(linear, grid) if len(grid) else ()
        return [f"{source.key}/c/" + "/".join(str(int(axis[i])) for axis in coords) for i in range(len(linear))]

    async def list_dir(self, prefix: str) -> AsyncIterator[str]:
        prefix = prefix.rstrip("/")
        base = f"{prefix}/" if prefix else ""
        seen: set[str] = set()
        for key in sorted(self._all_nodes()):
            if key.startswith(base):
                name = key[len(base):].split("/", 1)[0]
                if name not in seen:
                    seen.add(name)
                    yield name

    async def set(self, key: str, value: Buffer) -> None:
        raise ReadOnlyError(f"{self.source.url}: HDF5 files are read-only here. Convert the file to write it.")

    async def delete(self, key: str) -> None:
        raise ReadOnlyError(f"{self.source.url}: HDF5 files are read-only here. Convert the file to write it.")

    async def set_partial_values(self, key_start_values: Iterable[tuple[str, int, Any]]) -> None:
        raise ReadOnlyError(f"{self.source.url}: HDF5 files are read-only here.")

    def close(self) -> None:
        if self._h5 is not None:
            handle, self._h5 = self._h5, None
            run_h5(handle.close)
        super().close()
