"""Zarr arrays as dask arrays whose chunks are the stored chunks (or shards, when sharded).

The zarr array behind each task is wrapped in a :class:`ZarrSource`, which pickles as the pickled array (its
store with the ``storage_options`` it was opened with: an s3fs file system carries its endpoint and
credentials) and is unpickled once per process: dask.distributed process workers then read from local disk,
S3 or HTTP exactly as the client does, without opening a new file system for every task.
"""

from __future__ import annotations

import functools
import hashlib
import math
import os
import pickle
import sys
import threading
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import dask
import dask.array as da
import dask.local
import dask.threaded
import numpy as np
from dask.array.core import getter_nofancy
from dask.base import tokenize
from dask.blockwise import blockwise
from dask.highlevelgraph import HighLevelGraph
from dask.layers import ArraySliceDep

from nwbzarr_image.chunking import frame_chunks
from nwbzarr_image.errors import (
    ArgumentTypeError,
    CorruptDataError,
    MissingChunkWarning,
    NWBZarrImageError,
    StoreUnreachableError,
    storage_error,
    warn,
)

_CACHE_SIZE = 64
_cache: OrderedDict[bytes, Any] = OrderedDict()
_cache_lock = threading.Lock()


@contextmanager
def named(where: str) -> Iterator[None]:
    """Our CorruptDataError raised by a codec (which knows no node) names the node ``where``."""
    try:
        yield
    except CorruptDataError as err:
        if str(err).startswith(where):
            raise
        raise CorruptDataError(f"{where}: {err}") from err


class ZarrSource:
    """A zarr array as dask tasks see it: reads and writes pass through; pickles once, reopens once per process.

    Parameters
    ----------
    array : zarr.Array
        The array; its store must pickle (zarr's LocalStore and FsspecStore do).
    """

    def __init__(self, array: Any, blob: bytes | None = None, pid: int | None = None, strict: bool = False,
                 url: str = "") -> None:
        self.array = array
        self.strict = strict
        self.url = url or str(array.store_path)  # named in errors: the store's URL and the node's path
        self.shape = tuple(array.shape)
        self.dtype = np.dtype(array.dtype)
        self.ndim = len(self.shape)
        self._blob = blob
        self.pid = os.getpid() if pid is None else pid

    def check_reachable(self) -> None:
        """A store in another process's memory (``memory://``) reads as empty here: refuse instead."""
        if self.pid != os.getpid() and is_process_local(self.array.store):
            raise StoreUnreachableError(
                f"{self.array.store}: a memory store lives in the process that made it; expected a store that "
                f"other processes reach, got it in process {os.getpid()} (made in {self.pid}), e.g. a "
                "dask.distributed worker. Write the file to a local path or s3://, or compute with "
                "scheduler='threads'.")

    def __getitem__(self, key: Any) -> Any:
        self.check_reachable()
        where = f"/{self.array.path}" if self.array.path else repr(self.array.store)
        with read_errors(self.url, where, key):
            return self._read(key, where)

    def _read(self, key: Any, where: str) -> Any:
        from zarr.errors import ChunkNotFoundError

        try:
            with named(where):
                return self.array.with_config({"read_missing_chunks": False})[key]
        except ChunkNotFoundError as err:
            missing = str(err).split("Missing chunks:")[-1].split()
            names = ", ".join(m.strip("'") for m in missing if m.startswith("'"))
            if self.strict:
                raise CorruptDataError(f"{where}: chunk(s) {names} are not stored; expected every chunk of the "
                                       "array (strict=True). Read without strict to get the fill value.") from err
            warn(MissingChunkWarning(
                f"{where}: chunk(s) {names} are not stored, so their values read as the fill value "
                f"({self.array.fill_value}); zarr leaves out chunks equal to the fill value, but a lost chunk reads "
                "the same. Check with: nwbzarr-image validate URL."))
            with named(where):
                return self.array[key]

    def __setitem__(self, key: Any, value: Any) -> None:
        self.check_reachable()
        self.array[key] = value

    def __len__(self) -> int:
        return self.shape[0]

    def blob(self) -> bytes:
        """The pickled array (made once, however many tasks refer to it)."""
        if self._blob is None:
            self._blob = pickle.dumps(self.array, protocol=pickle.HIGHEST_PROTOCOL)
        return self._blob

    def __reduce__(self) -> tuple[Any, tuple[type, bytes, int, bool, str]]:
        return _restore, (type(self), self.blob(), self.pid, self.strict, self.url)

    def __repr__(self) -> str:
        return f"ZarrSource({self.array!r})"


@contextmanager
def read_errors(url: str, where: str, key: Any = ...) -> Iterator[None]:
    """Errors of reading stored values: the store's (unreachable, access refused) become ours naming ``url``;
    any other (a chunk that does not decode) is a :class:`CorruptDataError` naming the node ``where``."""
    try:
        yield
    except NWBZarrImageError:
        raise
    except Exception as err:
        ours = storage_error(err, url, "read")
        if ours is not None:  # the store failed: nothing is known about the stored values
            raise ours from err
        at = "" if key is ... else f" at {key}"
        raise CorruptDataError(f"{where}: the stored values{at} cannot be decoded ({type(err).__name__}: {err}); "
                               "a chunk is truncated or damaged. List them with: nwbzarr-image validate --deep "
                               "URL.") from err


def _restore(cls: type[ZarrSource], blob: bytes, pid: int, strict: bool = False, url: str = "") -> ZarrSource:
    return cls(reopen(blob), blob, pid, strict, url)


def reopen(blob: bytes) -> Any:
    """The zarr array pickled in ``blob``, unpickled once per process and then shared by every task using it."""
    key = hashlib.blake2b(blob, digest_size=20).digest()
    with _cache_lock:
        array = _cache.get(key)
        if array is not None:
            _cache.move_to_end(key)
    if array is None:
        array = pickle.loads(blob)  # our own pickle of a zarr array, carried in the task graph
        with _cache_lock:
            _cache[key] = array
            while len(_cache) > _CACHE_SIZE:
                _cache.popitem(last=False)
    return array


def is_process_local(store: Any) -> bool:
    """Whether a zarr store lives in this process's memory, where other processes cannot reach it."""
    from zarr.storage import FsspecStore, MemoryStore

    store = getattr(store, "_store", store)  # a wrapper (our guarded store) around the real one
    if isinstance(store, MemoryStore):
        return True
    if isinstance(store, FsspecStore):
        fs = getattr(store.fs, "sync_fs", store.fs)
        protocol = fs.protocol if isinstance(fs.protocol, (tuple, list)) else (fs.protocol,)
        return "memory" in protocol
    return False


def storage_chunks(array: Any) -> tuple[int, ...]:
    """The unit of one read: the shard shape of a sharded array, else the chunk shape."""
    shards = getattr(array, "shards", None)
    return tuple(shards) if shards else tuple(array.chunks)


def as_dask(array: Any, identity: str, strict: bool = False, source: ZarrSource | None = None) -> da.Array:
    """A dask array over a zarr array: one task per stored chunk/shard, nothing read until computed.

    ``identity`` (store URL + node path) names the graph deterministically without hashing any data. A
    ``source`` that reads selections itself (``selected_shape``/``read_direct``) makes a :class:`DirectArray`.
    """
    chunks = storage_chunks(array) if array.ndim else ()
    source = source if source is not None else ZarrSource(array, strict=strict, url=identity)
    plan = getattr(array.store, "dask_plan", None)  # HDF5 views: merged chunks, a source that prefetches
    if plan is not None and array.ndim:
        chunks, source = plan(array, strict)
        source.url = identity
    name = "nwbzarr-" + tokenize(identity, array.shape, str(array.dtype), chunks, strict)
    if array.ndim == 0:
        return da.from_array(source, chunks=(), name=name, asarray=True, inline_array=True)
    # a source that reads parts of its blocks lets dask pass selections through (x[5] reads one frame's chunks)
    lazy = da.from_array(source, chunks=chunks, name=name, asarray=True, fancy=getattr(source, "fancy", False),
                         inline_array=True)
    if hasattr(source, "read_direct"):
        return DirectArray.wrap(lazy, source, None)
    return lazy


def as_dask_deferred(source: Any, shape: tuple[int, ...], dtype: Any, chunks: tuple[int, ...], identity: str,
                     strict: bool = False) -> da.Array:
    """:func:`as_dask` for a ``source`` made on first use (a file's thousands of arrays cost nothing at open):
    the same graph and name, one task per stored chunk (shard), built without touching the source."""
    blocks = tuple(((c,) * (n // c) + ((n % c,) if n % c else ())) or (0,) for n, c in zip(shape, chunks,
                                                                                            strict=True))
    # named from what identifies the stored array (no hashing of the source, which is not made yet)
    key = f"{identity}|{shape}|{dtype}|{chunks}|{strict}".encode()
    name = "nwbzarr-" + hashlib.blake2b(key, digest_size=16).hexdigest()
    index = tuple(range(len(shape)))
    layer = blockwise(getter_nofancy, name, index, source, None, ArraySliceDep(blocks), index, numblocks={},
                      _data_producer=True)
    lazy = da.Array(HighLevelGraph.from_collections(name, layer, dependencies=()), name, blocks,
                    meta=_empty(len(shape), dtype))
    return DirectArray.wrap(lazy, source, None)


@functools.lru_cache(maxsize=64)
def _empty(ndim: int, dtype: Any) -> np.ndarray:
    """The meta of a dask array: an empty array of the dtype (dask only reads its type and dtype)."""
    return np.empty((0,) * ndim, dtype=dtype)


class _Refused:
    """Stands for an array whose values are refused (a codec or a size beyond the limits): reading raises."""

    def __init__(self, shape: tuple[int, ...], dtype: Any, error: NWBZarrImageError) -> None:
        self.shape, self.dtype, self.ndim, self.error = shape, np.dtype(dtype), len(shape), error

    def __getitem__(self, key: Any) -> Any:
        raise self.error


def refused(shape: tuple[int, ...], dtype: Any, error: NWBZarrImageError) -> da.Array:
    """A lazy array of ``shape`` whose computation raises ``error`` (so the rest of the file still reads);
    ``error`` itself when the shape is beyond what an array can describe."""
    import math

    if len(shape) > 32 or math.prod(shape) >= 2**62:
        raise error
    name = "nwbzarr-refused-" + tokenize(str(error), shape)
    return da.from_array(_Refused(tuple(shape), dtype, error), chunks=tuple(shape) or (), name=name, asarray=True,
                         inline_array=True)


LOCAL_SCHEDULERS = {dask.threaded.get, dask.local.get_sync}
LOCAL_NAMES = {"threads", "threading", "sync", "synchronous", "single-threaded"}
SMALL_SELECTION_BYTES = 64 * 2**20  # a plain selection up to this size is one dask task


class DirectArray(da.Array):
    """A dask array over stored chunks whose own ``compute`` (and ``np.asarray``), and that of a plain selection
    of it (``data[i]``, ``data[a:b, y0:y1]``), reads the chunks directly instead of building and scheduling a
    graph; every other operation is dask's and gives ordinary dask arrays. Under a dask.distributed client
    (or any scheduler but dask's local ones) computing goes through the graph as usual."""

    @classmethod
    def wrap(cls, array: da.Array, source: Any, key: Any) -> da.Array:
        array.__class__ = cls
        array._direct = (source, key)  # type: ignore[attr-defined]
        return array

    def __getitem__(self, key: Any) -> Any:
        source, base = getattr(self, "_direct", (None, None))
        shape = source.selected_shape(key) if source is not None and base is None else None
        if source is None or shape is None:
            return super().__getitem__(key)
        if math.prod(shape) * self.dtype.itemsize > SMALL_SELECTION_BYTES:
            return DirectArray.wrap(super().__getitem__(key), source, key)
        # a small selection is one task: no slicing of the whole graph (which costs more than reading a frame)
        # named by the key's repr (ints and slices: deterministic), cheaper than tokenizing it
        name = f"{self.name}-getitem-{hashlib.blake2b(repr(key).encode(), digest_size=8).hexdigest()}"
        task = functools.partial(source.read_direct, key)
        graph = HighLevelGraph.from_collections(name, {(name, *(0,) * len(shape)): (task,)}, dependencies=())
        meta = np.empty((0,) * len(shape), dtype=self.dtype)
        return DirectArray.wrap(da.Array(graph, name, tuple((n,) for n in shape), meta=meta), source, key)

    def compute(self, **kwargs: Any) -> Any:
        source, key = getattr(self, "_direct", (None, None))
        if source is not None and set(kwargs) <= {"scheduler"} and local_scheduler(kwargs.get("scheduler")):
            return source.read_direct(key)
        return super().compute(**kwargs)


def local_scheduler(scheduler: Any) -> bool:
    """Whether dask would compute in this process's threads (no dask.distributed client, no other scheduler).

    Like ``dask.base.get_scheduler``, without importing dask.distributed when nothing has (no client then).
    """
    if scheduler is None:
        scheduler = dask.config.get("scheduler", None)
    if scheduler is None:
        distributed = sys.modules.get("distributed")
        if distributed is not None:
            try:
                distributed.default_client()
                return False
            except ValueError:
                pass
        return True
    if isinstance(scheduler, str):
        return scheduler in LOCAL_NAMES
    return scheduler in LOCAL_SCHEDULERS


def as_lazy(data: Any, where: str) -> da.Array:
    """Any array-like as a dask array: dask as is, zarr arrays by their stored chunks, numpy by whole frames."""
    if isinstance(data, da.Array):
        return data
    if hasattr(data, "lazy") and hasattr(data, "load"):  # a stored array not yet loaded
        return data.lazy()
    if hasattr(data, "store_path") and hasattr(data, "chunks"):  # a zarr array
        return as_dask(data, f"{data.store_path}")
    if hasattr(data, "__next__") and not hasattr(data, "__array__"):
        raise ArgumentTypeError(f"{where}: expected array data; got a {type(data).__name__}, whose frames are only "
                                "read when the file is written. Write the file, then use the series read back: "
                                "nzi.read(url).")
    array = np.asarray(data)
    return da.from_array(array, chunks=frame_chunks(array.shape, array.dtype) if array.ndim else ())
