"""Read a selection of a zarr array by fetching and decoding only the stored chunks it touches, directly.

For the layouts this library writes (bytes + Blosc, Zstd or Gzip, no filters; optionally inside shards with a
``bytes + crc32c`` index), numcodecs decodes each chunk straight into the output array: no per-chunk buffer
copies, no event-loop round trip per chunk on a local disk, and Blosc/Zstd release the GIL, so the chunks of
one read decode in parallel on all cores. On sharded arrays a selection costs only its inner chunks: the shard's
index is read once (one small range request) and kept in a bounded cache, then the inner chunks a selection
needs are fetched with one range request per run of adjacent chunks; a selection covering a whole shard
fetches the shard in one request. Of a Blosc chunk only part of which is selected (one frame of a chunk of
eight), only the Blosc blocks holding that part are decoded, and on a local disk read (``blosc_blocks.py``).
Anything else (other codecs, v2 arrays, fancy indexing) goes through zarr.
"""

from __future__ import annotations

import asyncio
import itertools
import math
import os
import struct
import threading
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numcodecs
import numpy as np
from zarr.abc.store import RangeByteRequest, SuffixByteRequest
from zarr.buffer import default_buffer_prototype
from zarr.codecs import BloscCodec, BytesCodec, Crc32cCodec, GzipCodec, ShardingCodec, ZstdCodec
from zarr.storage import LocalStore

from nwbzarr_image.errors import CorruptDataError, MissingChunkWarning, warn
from nwbzarr_image.limits import get_limits
from nwbzarr_image.storage import blosc_blocks
from nwbzarr_image.storage.bounded import bounded_decode
from nwbzarr_image.storage.zarr_compat import run

MAX_INDEXES = 4096  # shard indexes kept per array (16 bytes per inner chunk each)
EMPTY = 2**64 - 1  # offset and length of an inner chunk that is not stored
CONCURRENT_REQUESTS = 32
PART_HEAD_BYTES = 4096
SPLIT_PART_BYTES = 128 * 1024  # decoded bytes of Blosc blocks one core decodes of a chunk read alone
HOP_BYTES = 2**20  # a single chunk bigger than this decodes in the pool, not in the main thread
Selection = tuple[slice, ...]
_scratch = threading.local()


@lru_cache(maxsize=1)
def decode_pool() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=os.cpu_count() or 2, thread_name_prefix="nwbzarr-decode")


def _decoders(codecs: tuple[Any, ...], dtype: np.dtype) -> list[Any] | None:
    """numcodecs decoders for ``bytes`` + compressors, or None when a codec is not one of them."""
    if not codecs or not isinstance(codecs[0], BytesCodec):
        return None
    if dtype.itemsize > 1 and str(codecs[0].endian) != "little":
        return None
    steps: list[Any] = []
    for codec in codecs[1:]:
        if isinstance(codec, BloscCodec):
            steps.append(numcodecs.Blosc())
        elif isinstance(codec, ZstdCodec):
            steps.append(numcodecs.Zstd())
        elif isinstance(codec, GzipCodec):
            steps.append(numcodecs.GZip())
        else:
            return None
    return steps


@dataclass
class Piece:
    """One stored chunk a selection touches: where its bytes are and where its values go."""

    key: str  # the store key of the object holding it (the shard, when sharded)
    grid: tuple[int, ...]  # chunk index in the (inner) chunk grid
    source: tuple[slice, ...]  # the part of the chunk selected
    target: tuple[slice, ...]  # where that part goes in the output
    byte_range: tuple[int, int] | None = None  # inside the shard: (start, stop); None = the whole object
    data: bytes | None = None
    part_at: int | None = None  # data holds only the Blosc blocks from this decoded byte on (blosc_blocks.py)
    alone: bool = False  # the only chunk a read needs: its Blosc blocks may be decoded on several cores


class ChunkReader:
    """Reads basic selections of one zarr v3 array with plain codecs by fetching and decoding its chunks."""

    def __init__(self, array: Any, decoders: list[Any], inner: tuple[int, ...], shards: tuple[int, ...] | None,
                 index_crc: bool, index_at_end: bool, where: str, strict: bool) -> None:
        self.array = array
        self.store = array.store_path.store
        self.prefix = f"{array.path}/" if array.path else ""
        self.shape = tuple(int(n) for n in array.shape)
        self.dtype = np.dtype(array.dtype)
        self.chunks = inner
        self.chunk_bytes = math.prod(inner) * self.dtype.itemsize
        self.shards = shards
        self.decoders = decoders
        self.blosc_only = len(decoders) == 1 and isinstance(decoders[0], numcodecs.Blosc)
        self.index_crc, self.index_at_end = index_crc, index_at_end
        self.where, self.strict = where, strict
        self.fill = array.fill_value
        self.encoding = array.metadata.chunk_key_encoding
        root = getattr(self.store, "root", None)
        self.local_root = Path(root) if isinstance(self.store, LocalStore) and root is not None else None
        self.per_shard = tuple(s // c for s, c in zip(shards, inner, strict=True)) if shards else ()
        self.n_inner = math.prod(self.per_shard) if shards else 0
        self.index_bytes = self.n_inner * 16 + (4 if index_crc else 0)
        # shard key -> (index, the local file's (size, mtime) when read: a rewritten shard is read again)
        self._indexes: OrderedDict[str, tuple[np.ndarray, tuple[int, int] | None]] = OrderedDict()
        self._lock = threading.Lock()
        self._checked: set[str] = set()
        self._fetching: dict[str, threading.Event] = {}  # shard indexes being read, by key
        self.requests = 0  # store requests made (for tests and the benchmark)

    @classmethod
    def of(cls, array: Any, where: str, strict: bool = False) -> ChunkReader | None:
        """The reader for ``array``, or None when its layout is not one decoded here."""
        meta = array.metadata
        dtype = np.dtype(array.dtype) if hasattr(array.dtype, "kind") else None
        if getattr(meta, "zarr_format", 2) != 3 or dtype is None or dtype.kind not in "biuf" or array.ndim == 0:
            return None
        codecs = tuple(meta.codecs)
        if len(codecs) == 1 and isinstance(codecs[0], ShardingCodec):
            sharding = codecs[0]
            index = tuple(sharding.index_codecs)
            plain_index = (len(index) in (1, 2) and isinstance(index[0], BytesCodec)
                           and str(index[0].endian) == "little" and all(isinstance(c, Crc32cCodec) for c in index[1:]))
            decoders = _decoders(tuple(sharding.codecs), dtype)
            if decoders is None or not plain_index:
                return None
            shards = tuple(int(n) for n in meta.chunk_grid.chunk_shape)
            inner = tuple(int(n) for n in sharding.chunk_shape)
            if any(s % c for s, c in zip(shards, inner, strict=True)):
                return None
            return cls(array, decoders, inner, shards, len(index) == 2, str(sharding.index_location) == "end",
                       where, strict)
        decoders = _decoders(codecs, dtype)
        if decoders is None:
            return None
        inner = tuple(int(n) for n in meta.chunk_grid.chunk_shape)
        return cls(array, decoders, inner, None, False, True, where, strict)

    # ------------------------------------------------------------------ planning

    def pieces(self, selection: Selection) -> list[Piece]:
        """The chunks ``selection`` touches, each with its store key and the parts selected."""
        ranges = [range(s.start // c, -(-s.stop // c)) for s, c in zip(selection, self.chunks, strict=True)]
        out = []
        for grid in itertools.product(*ranges):
            source, target = [], []
            for g, c, s, n in zip(grid, self.chunks, selection, self.shape, strict=True):
                lo, hi = max(s.start, g * c), min(s.stop, (g + 1) * c, n)
                source.append(slice(lo - g * c, hi - g * c))
                target.append(slice(lo - s.start, hi - s.start))
            if self.shards:
                shard = tuple(g // p for g, p in zip(grid, self.per_shard, strict=True))
                key = self.prefix + self.encoding.encode_chunk_key(shard)
            else:
                key = self.prefix + self.encoding.encode_chunk_key(grid)
            out.append(Piece(key, grid, tuple(source), tuple(target)))
        return out

    def inner_position(self, grid: tuple[int, ...]) -> int:
        """The index (C order) of inner chunk ``grid`` inside its shard."""
        return int(np.ravel_multi_index(tuple(g % p for g, p in zip(grid, self.per_shard, strict=True)),
                                        self.per_shard))

    # ------------------------------------------------------------------ reading

    def read(self, selection: Selection) -> np.ndarray:
        """The values of a selection of slices (step 1, within the shape), decoded from the chunks it touches."""
        out = np.empty(tuple(s.stop - s.start for s in selection), dtype=self.dtype)
        if out.size == 0:
            return out
        pieces = self.pieces(selection)
        if len(pieces) == 1:
            pieces[0].alone = True
        missing: list[str] = []
        if self.local_root is not None and not self.shards:
            def one(piece: Piece) -> None:  # read and decode in the same thread: disk reads overlap decoding
                self._local_fetch([piece], missing)
                self._place(piece, out)

            self._each(one, pieces)
        elif self.local_root is not None:
            by_shard: dict[str, list[Piece]] = {}
            for piece in pieces:
                by_shard.setdefault(piece.key, []).append(piece)

            def shard(group: list[Piece]) -> None:  # one shard per thread: its reads overlap others' decoding
                self._fetch_sharded(group, missing)
                for piece in group:
                    self._place(piece, out)

            groups = list(by_shard.values())
            if len(groups) > 1:
                list(decode_pool().map(shard, groups))
            else:
                self._fetch_sharded(pieces, missing)
                self._each(lambda piece: self._place(piece, out), pieces)
        else:
            if self.shards:
                self._fetch_sharded(pieces, missing)
            else:
                self._fetch(pieces, missing)
            self._each(lambda piece: self._place(piece, out), pieces)
        if missing:
            self._report_missing(sorted(set(missing)))
        return out

    def _each(self, work: Any, pieces: list[Piece]) -> None:
        if len(pieces) > 1:
            list(decode_pool().map(work, pieces))
        elif pieces and self.blosc_only:
            work(pieces[0])  # decoded here and, in parts, in the pool (_decode_blosc)
        elif pieces and self.chunk_bytes > HOP_BYTES and threading.current_thread() is threading.main_thread():
            # numcodecs' Blosc spreads one chunk over its own threads when called from the main thread, which
            # on a busy machine waits for them; one pool thread decodes a big chunk at the same speed without
            # waiting (for a small one the hop to the pool costs more than it saves)
            decode_pool().submit(work, pieces[0]).result()
        elif pieces:
            work(pieces[0])

    def _place(self, piece: Piece, out: np.ndarray) -> None:
        if piece.data is None:
            out[piece.target] = self.fill
        else:
            self._decode_into(piece, out)

    def _inner_in_shard(self, grid: tuple[int, ...]) -> int:
        """How many inner chunks of the shard holding inner chunk ``grid`` lie within the array."""
        count = 1
        for g, p, c, n in zip(grid, self.per_shard, self.chunks, self.shape, strict=True):
            count *= min(p, -(-n // c) - (g // p) * p)
        return count

    def _fetch(self, pieces: list[Piece], missing: list[str]) -> None:
        if self.local_root is not None:
            return self._local_fetch(pieces, missing)
        values = self._get_many([(p.key, None) for p in pieces])
        for piece, value in zip(pieces, values, strict=True):
            piece.data = value
            if value is None:
                missing.append(piece.key[len(self.prefix):])
        return None

    def _local_fetch(self, pieces: list[Piece], missing: list[str]) -> None:
        """On a local disk the file reads happen with the decoding, in the pool (see _decode_into). Of a Blosc
        chunk only part of which is selected, only the blocks holding that part are read."""
        for piece in pieces:
            path = self._local_path(piece.key)
            try:
                with open(path, "rb") as f:
                    if piece.byte_range is None:
                        if not self._read_part(piece, f):
                            piece.data = f.read()
                    else:
                        start, stop = piece.byte_range
                        piece.data = os.pread(f.fileno(), stop - start, start)
                self._count(1)
            except FileNotFoundError:
                missing.append(piece.key[len(self.prefix):])

    def _fetch_sharded(self, pieces: list[Piece], missing: list[str]) -> None:
        by_shard: dict[str, list[Piece]] = {}
        for piece in pieces:
            by_shard.setdefault(piece.key, []).append(piece)
        whole = [key for key, group in by_shard.items()
                 if len(group) == self._inner_in_shard(group[0].grid) and key not in self._indexes]
        values = self._get_many([(key, None) for key in whole]) if whole else []
        for key, value in zip(whole, values, strict=True):
            if value is None:
                missing.append(key[len(self.prefix):])
                continue
            value = memoryview(value)  # type: ignore[assignment]  # inner chunks as views: no copies
            index = self._parse_index(key, bytes(value[-self.index_bytes:] if self.index_at_end
                                                 else value[:self.index_bytes]))
            self._keep_index(key, index)
            for piece in by_shard[key]:
                start, length = index[self.inner_position(piece.grid)]
                piece.data = None if start == EMPTY else value[start:start + length]
        rest = {key: group for key, group in by_shard.items() if key not in whole}
        indexes = self._indexes_of([key for key in rest])
        requests: list[tuple[str, tuple[int, int] | int | None]] = []
        runs: list[list[Piece]] = []
        for key, group in rest.items():
            found = indexes[key]
            if found is None:
                missing.append(key[len(self.prefix):])
                continue
            stored = []
            for piece in group:
                start, length = (int(v) for v in found[self.inner_position(piece.grid)])
                if start != EMPTY and length > get_limits().max_chunk_bytes:
                    raise self._corrupt(key, ValueError(f"its index gives an inner chunk of {length} bytes"))
                if start != EMPTY:
                    piece.byte_range = (start, start + length)
                    stored.append(piece)
            stored.sort(key=lambda p: p.byte_range)  # type: ignore[arg-type, return-value]
            for piece in stored:  # adjacent inner chunks: one range request
                if runs and runs[-1][-1].key == key and runs[-1][-1].byte_range[1] == piece.byte_range[0]:  # type: ignore[index]
                    runs[-1].append(piece)
                else:
                    runs.append([piece])
        for run_ in runs:
            requests.append((run_[0].key, (run_[0].byte_range[0], run_[-1].byte_range[1])))  # type: ignore[index]
        values = self._get_many(requests)
        for run_, value in zip(runs, values, strict=True):
            if value is None:
                missing.append(run_[0].key[len(self.prefix):])
                continue
            base = run_[0].byte_range[0]  # type: ignore[index]
            value = memoryview(value)  # type: ignore[assignment]
            for piece in run_:
                piece.data = value[piece.byte_range[0] - base:piece.byte_range[1] - base]  # type: ignore[index]

    def _indexes_of(self, keys: list[str]) -> dict[str, np.ndarray | None]:
        """The shard indexes of ``keys``: from the cache, else one small range request each (concurrently)."""
        found: dict[str, np.ndarray | None] = {}
        waits: list[tuple[str, threading.Event]] = []
        wanted: list[str] = []
        with self._lock:
            for key in keys:
                if key in self._indexes:
                    self._indexes.move_to_end(key)
                    index, stamp = self._indexes[key]
                    if stamp is None or stamp == self._stamp(key):
                        found[key] = index
                        continue
                fetching = self._fetching.get(key)
                if fetching is not None:  # another thread is reading this index: wait for it, not a 2nd request
                    waits.append((key, fetching))
                else:
                    self._fetching[key] = threading.Event()
                    wanted.append(key)
        try:
            found.update(self._read_indexes(wanted))
        finally:
            with self._lock:
                for key in wanted:
                    self._fetching.pop(key).set()
        for key, fetching in waits:
            fetching.wait()
            with self._lock:
                kept = self._indexes.get(key)
            found[key] = kept[0] if kept is not None else self._read_indexes([key])[key]
        return found

    def _read_indexes(self, wanted: list[str]) -> dict[str, np.ndarray | None]:
        """The indexes of shards ``wanted``, one small range request each (concurrently), kept."""
        found: dict[str, np.ndarray | None] = {}
        if wanted:
            if self.index_at_end:
                ranges: list[tuple[str, tuple[int, int] | int | None]] = [(k, -self.index_bytes) for k in wanted]
            else:
                ranges = [(k, (0, self.index_bytes)) for k in wanted]
            for key, raw in zip(wanted, self._get_many(ranges), strict=True):
                parsed = None if raw is None else self._parse_index(key, raw)
                if parsed is not None:  # a shard not stored (yet) is asked for again next time
                    self._keep_index(key, parsed)
                found[key] = parsed
        return found

    def _stamp(self, key: str) -> tuple[int, int] | None:
        """(size, mtime) of a local shard file; None elsewhere (a store rewriting shards under an open reader,
        e.g. an append in progress, is then caught by the size each inner chunk's header claims)."""
        if self.local_root is None:
            return None
        try:
            stat = os.stat(self.local_root / key)
        except OSError:
            return (-1, -1)
        return (stat.st_size, stat.st_mtime_ns)

    def _keep_index(self, key: str, index: np.ndarray) -> None:
        with self._lock:
            self._indexes[key] = (index, self._stamp(key))
            self._indexes.move_to_end(key)
            while len(self._indexes) > MAX_INDEXES:
                self._indexes.popitem(last=False)

    def _parse_index(self, key: str, raw: bytes) -> np.ndarray:
        if len(raw) != self.index_bytes:
            raise self._corrupt(key, ValueError(f"the shard index has {len(raw)} bytes, expected {self.index_bytes}"))
        body = raw[:self.n_inner * 16]
        if self.index_crc:
            (stored,) = struct.unpack("<I", raw[-4:])
            if stored != _crc32c(body):
                raise self._corrupt(key, ValueError("the shard index fails its crc32c checksum"))
        return np.frombuffer(body, dtype="<u8").reshape(self.n_inner, 2)

    def _get_many(self, requests: list[tuple[str, tuple[int, int] | int | None]]) -> list[bytes | None]:
        """Values (or byte ranges: (start, stop), or -n for the last n bytes) of store keys, concurrently."""
        if not requests:
            return []
        if self.local_root is not None:
            return [self._local_get(key, byte_range) for key, byte_range in requests]
        proto = default_buffer_prototype()
        limit = asyncio.Semaphore(CONCURRENT_REQUESTS) if len(requests) > 1 else None

        async def one(key: str, byte_range: tuple[int, int] | int | None) -> bytes | None:
            if isinstance(byte_range, int):
                request: Any = SuffixByteRequest(-byte_range)
            elif byte_range is not None:
                request = RangeByteRequest(*byte_range)
            else:
                request = None
            if limit is None:
                buffer = await self.store.get(key, proto, request)
            else:
                async with limit:
                    buffer = await self.store.get(key, proto, request)
            return None if buffer is None else buffer.to_bytes()

        async def all_of() -> list[bytes | None]:
            return list(await asyncio.gather(*(one(key, byte_range) for key, byte_range in requests)))

        values = run(all_of())
        self._count(len(requests))
        return [_ranged(value, byte_range) for value, (_, byte_range) in zip(values, requests, strict=True)]

    def _count(self, n: int) -> None:
        with self._lock:
            self.requests += n

    def _span(self, piece: Piece) -> tuple[int, int] | None:
        """The decoded bytes ``[start, stop)`` of its chunk that hold ``piece``'s selection (C order), when the
        chunk is Blosc-coded and the selection is not all of it."""
        if not self.blosc_only:
            return None
        if all(s.start == 0 and s.stop == c for s, c in zip(piece.source, self.chunks, strict=True)):
            return None
        first = int(np.ravel_multi_index(tuple(s.start for s in piece.source), self.chunks))
        last = int(np.ravel_multi_index(tuple(s.stop - 1 for s in piece.source), self.chunks))
        return first * self.dtype.itemsize, (last + 1) * self.dtype.itemsize

    def _read_part(self, piece: Piece, f: Any) -> bool:
        """Read only the Blosc blocks of the open chunk file ``f`` that ``piece`` needs; False (nothing read
        that counts) when the whole chunk is needed or is not one read in parts."""
        span = self._span(piece)
        if span is None:
            return False
        fd = f.fileno()
        size = os.fstat(fd).st_size
        head = os.pread(fd, PART_HEAD_BYTES, 0)  # the header and, for up to ~1,000 blocks, the block table

        def read(offset: int, count: int) -> bytes:
            if offset + count <= len(head):
                return head[offset:offset + count]
            return os.pread(fd, count, offset)

        part = blosc_blocks.planned(read, head, self.chunk_bytes, size, *span)
        if part is None:
            return False
        piece.data, piece.part_at = part
        return True

    def _local_path(self, key: str) -> Path:
        """The file of ``key``, checked as the store checks keys (no link out of the store is followed); each
        key is checked once (a bounded set of them is kept)."""
        inside = getattr(self.store, "_inside", None)
        if inside is not None and key not in self._checked:
            inside(key)
            with self._lock:
                if len(self._checked) > MAX_INDEXES:
                    self._checked.clear()
                self._checked.add(key)
        return self.local_root / key  # type: ignore[operator]

    def _local_get(self, key: str, byte_range: tuple[int, int] | int | None) -> bytes | None:
        path = self._local_path(key)
        try:
            with open(path, "rb") as f:
                self._count(1)
                if byte_range is None:
                    return f.read()
                if isinstance(byte_range, int):
                    f.seek(byte_range, os.SEEK_END)
                    return f.read()
                return os.pread(f.fileno(), byte_range[1] - byte_range[0], byte_range[0])  # no buffered copy
        except FileNotFoundError:
            return None
        except OSError as err:
            if isinstance(byte_range, int) and err.errno == 22:  # EINVAL: a file shorter than its index
                raise self._corrupt(key, err) from err
            raise

    # ------------------------------------------------------------------ decoding

    def _decode_into(self, piece: Piece, out: np.ndarray) -> None:
        whole = all(s.start == 0 and s.stop == c for s, c in zip(piece.source, self.chunks, strict=True))
        target = out[piece.target]
        try:
            if whole and target.flags.c_contiguous:
                self._decode_alone(piece, piece.data, target)  # type: ignore[arg-type]
                return
            data, at = piece.data, piece.part_at
            span = self._span(piece)
            if span is not None and at is None:
                part = blosc_blocks.sub_chunk_of(data, self.chunk_bytes, *span)  # type: ignore[arg-type]
                if part is not None:
                    data, at = part
            if at is not None:
                size = blosc_blocks.decoded_size(data)  # type: ignore[arg-type]
                if (at, at + size) == span and size == target.nbytes and target.flags.c_contiguous:
                    self._decode_alone(piece, data, target)  # type: ignore[arg-type]  # a frame filling its blocks
                    return
            chunk = self._scratch()
            if at is None:
                self._decode_alone(piece, data, chunk)  # type: ignore[arg-type]
            else:  # only the blocks holding the selection: the rest of the buffer is not read
                self._decode_alone(piece, data, chunk.reshape(-1).view(np.uint8)[at:at + size])  # type: ignore[arg-type]
            target[...] = chunk[piece.source]
        except CorruptDataError:
            raise
        except Exception as err:
            raise self._corrupt(piece.key, err) from err
        finally:
            piece.data, piece.part_at = None, None

    def _scratch(self) -> np.ndarray:
        """A chunk-sized buffer of this thread, reused: a fresh one would cost a page fault per 4 kB."""
        buffers = getattr(_scratch, "buffers", None)
        if buffers is None:
            buffers = _scratch.buffers = {}
        key = (self.chunks, self.dtype.str)
        buffer = buffers.get(key)
        if buffer is None:
            if len(buffers) > 4:
                buffers.clear()
            buffer = buffers[key] = np.empty(self.chunks, dtype=self.dtype)
        return buffer

    def _decode_alone(self, piece: Piece, data: bytes, dest: np.ndarray) -> None:
        """Decode ``data`` into ``dest``; the Blosc chunk of a read that needs only it is decoded on every core,
        its blocks split into parts (one read frame is then decoded in a fraction of the time one core takes)."""
        parts = None
        if piece.alone and self.blosc_only and dest.nbytes >= 2 * SPLIT_PART_BYTES and not _in_pool():
            parts = blosc_blocks.split(data, dest.nbytes, os.cpu_count() or 1, SPLIT_PART_BYTES)
        if parts is None:
            self._decode(data, dest)
            return
        flat = dest.reshape(-1).view(np.uint8)

        def one(part: tuple[bytes, int]) -> None:
            sub, at = part
            self._decode(sub, flat[at:at + blosc_blocks.decoded_size(sub)])

        others = [decode_pool().submit(one, part) for part in parts[1:]]
        try:
            one(parts[0])
        finally:
            for future in others:
                future.result()

    def _decode(self, data: bytes, dest: np.ndarray) -> None:
        expected = dest.nbytes
        value: Any = data
        for step in self.decoders[:-1]:
            value = bounded_decode(step, value, get_limits().max_chunk_bytes, self.where)
        if self.decoders and isinstance(self.decoders[-1], numcodecs.Blosc):
            size = struct.unpack_from("<I", value, 4)[0] if len(value) >= 16 else -1  # the header's nbytes
            if size != expected:
                raise ValueError(f"the chunk decodes to {size} bytes, expected {expected}")
            numcodecs.blosc.decompress(value, dest)  # the header's size was checked: exactly dest
            return
        if self.decoders:  # Zstd, Gzip: never more than the chunk's bytes (a hostile chunk cannot inflate)
            value = bounded_decode(self.decoders[-1], value, expected, self.where)
        if len(value) != expected:
            raise ValueError(f"the chunk holds {len(value)} bytes, expected {expected}")
        dest.reshape(-1).view(np.uint8)[:] = np.frombuffer(value, dtype=np.uint8)

    # ------------------------------------------------------------------ errors

    def _report_missing(self, names: list[str]) -> None:
        listed = ", ".join(names)
        if self.strict:
            raise CorruptDataError(f"{self.where}: chunk(s) {listed} are not stored; expected every chunk of the "
                                   "array (strict=True). Read without strict to get the fill value.")
        warn(MissingChunkWarning(
            f"{self.where}: chunk(s) {listed} are not stored, so their values read as the fill value "
            f"({self.fill}); zarr leaves out chunks equal to the fill value, but a lost chunk reads the same. "
            "Check with: nwbzarr-image validate URL."))

    def _corrupt(self, key: str, err: BaseException) -> CorruptDataError:
        return CorruptDataError(f"{self.where}: the stored values at {key[len(self.prefix):]} cannot be decoded "
                                f"({type(err).__name__}: {err}); a chunk is truncated or damaged. List them with: "
                                "nwbzarr-image validate --deep URL.")


def _in_pool() -> bool:
    """Whether this thread is one of the decode pool's (which must not wait for the pool)."""
    return threading.current_thread().name.startswith("nwbzarr-decode")


def _ranged(value: bytes | None, byte_range: tuple[int, int] | int | None) -> bytes | None:
    """The bytes asked for, also from a server that ignores ``Range`` and sends the whole object."""
    if value is None or byte_range is None:
        return value
    if isinstance(byte_range, int):
        return value[byte_range:] if len(value) > -byte_range else value
    start, stop = byte_range
    return value[start:stop] if len(value) > stop - start else value


def _crc32c(data: bytes) -> int:
    import google_crc32c

    return int(google_crc32c.value(data))
