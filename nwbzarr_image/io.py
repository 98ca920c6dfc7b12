"""read, write and open: an fsspec URL to an NWBFile and back."""

from __future__ import annotations

import contextlib
import gc
import os
from collections.abc import Iterator
from types import TracebackType
from typing import Any, Literal

import zarr
from zarr.abc.store import Store

from nwbzarr_image.bound import StoreSource
from nwbzarr_image.errors import (
    ArgumentTypeError,
    LayoutError,
    NWBZarrImageError,
    PerformanceWarning,
    ReadOnlyError,
    StoreExistsError,
    StoreNotFoundError,
    warn,
)
from nwbzarr_image.external.binding import add_num_samples, base_of
from nwbzarr_image.hdf5 import open_if_hdf5
from nwbzarr_image.layout import GroupNode, decode_file, encode_file
from nwbzarr_image.layout.paths import COLLECTIONS
from nwbzarr_image.model import NWBFile
from nwbzarr_image.storage import stores
from nwbzarr_image.storage.consolidate import consolidate_file
from nwbzarr_image.storage.defaults import SHARD_ABOVE_BYTES, sharding
from nwbzarr_image.storage.reader import (
    is_consolidated,
    open_root,
    read_tree,
    read_tree_json,
    root_document,
    root_group,
)
from nwbzarr_image.storage.reader_v2 import read_tree_v2
from nwbzarr_image.storage.resume import write_resumable
from nwbzarr_image.storage.store_guard import guarded
from nwbzarr_image.storage.transaction import WriteMode, recover, write_file
from nwbzarr_image.storage.write_stream import add_new_nodes, write_store

OpenMode = Literal["r", "r+", "a"]


def write(nwbfile: NWBFile, url: str | os.PathLike[str] | Store, storage_options: dict[str, Any] | None = None,
          mode: WriteMode = "w-", *, shard_above: int | None = SHARD_ABOVE_BYTES, resumable: bool = False,
          restart: bool = False) -> None:
    """Write ``nwbfile`` as an NWB Zarr (format 3) file at ``url``.

    Parameters
    ----------
    nwbfile : NWBFile
        The file to write. Data may be numpy, dask or zarr arrays, lazily read series, or data-chunk
        iterators (streamed with bounded memory).
    url : str, os.PathLike or zarr.abc.store.Store
        A local path (str or ``pathlib.Path``), any fsspec URL (``s3://``, ``memory://``, ...) or an empty
        zarr store.
    storage_options : dict, optional
        Options for the fsspec file system (credentials, endpoint, ...).
    mode : {'w-', 'w'}
        ``'w-'`` (default) refuses an existing target; ``'w'`` replaces it.
    shard_above : int or None
        Frames of a series holding more than this many bytes (default 1 GiB), stored without explicit
        ``ZarrDataIO(chunks=..., shards=...)``, are sharded: shards of whole frames of about 64 MB, each one
        stored object (see ``nwbzarr_image.chunking.frame_shards``). ``None`` never shards by default.
    resumable : bool
        Make a conversion resumable: ``nwbfile`` must have been read from a local file (an NWB HDF5 file, say)
        and ``url`` be a local path. The file is written in ``URL.resume-<hash>`` next to ``url`` (the hash
        names the source's real path, size and mtime, and ``url``), which a killed writer leaves behind; the
        same write run again keeps every chunk and shard stored there and writes only the rest, then renames
        the directory into place. Work for another source, or for the source since changed, is removed (the
        ``nwbzarr_image.storage.resume`` logger says so); a second writer of ``url`` meanwhile is refused with
        ``StoreExistsError``.
    restart : bool
        With ``resumable``: discard the work of an interrupted run and start over.

    Notes
    -----
    A new file is written next to the target under a hidden name and moved into place, so a write that
    fails leaves nothing at ``url``; its iterator data is then streamed into place: after each flushed
    batch the stored shape covers exactly the frames written, so a killed writer leaves a readable file
    that ``append`` can resume. With ``mode='w'`` over an existing local (or memory) file, the whole new
    file is written under the hidden name first and then swapped in: at every moment ``url`` holds the
    complete old file or the complete new one (or, between two renames, nothing while the old one waits as
    a backup that the next ``read``, ``open`` or ``write`` puts back), even if the writer is killed.
    Object stores (s3, gcs, ...) cannot rename: there the file is written in place and deleted if the write
    fails, and with ``mode='w'`` the old file is deleted first.
    ImageSeries with ``external_file`` have their files' headers read relative to the directory of ``url``:
    ``starting_frame`` (and a given ``num_samples``) is checked against the frame counts, and ``num_samples``
    is written from them when not given (a ``NWBRuleWarning`` says so when the files cannot be read).
    """
    if not isinstance(nwbfile, NWBFile):
        raise ArgumentTypeError(f"write: expected an NWBFile; got {type(nwbfile).__name__}.")
    if mode not in ("w", "w-"):
        raise ArgumentTypeError(f"write: mode must be 'w-' (refuse an existing file) or 'w' (replace it); got "
                                f"{mode!r}. Use open(url, 'a') to add to an existing file.")
    url = stores.as_url(url)
    tree = encode_file(nwbfile)  # layout errors surface before anything is written
    if isinstance(url, Store):
        add_num_samples(tree, nwbfile, base_of(None, url))
        with sharding(shard_above):
            write_store(url, tree)
        return
    with stores.storage_errors(url, "write"), sharding(shard_above):
        location = stores.locate(url, storage_options)
        add_num_samples(tree, nwbfile, base_of(location))
        if resumable:
            _write_resumable(nwbfile, location, tree, mode, restart)
        else:
            write_file(location, tree, mode)


def _write_resumable(nwbfile: NWBFile, location: stores.Location, tree: GroupNode, mode: WriteMode,
                     restart: bool) -> None:
    source = getattr(nwbfile.source, "location", None)
    if source is None or not source.is_local or not os.path.isfile(source.path) or not location.is_local:
        got = "a target " + location.url if not location.is_local else \
            f"a file read from {source.url if source is not None else 'no file'}"
        raise ArgumentTypeError(f"write: resumable=True needs an NWBFile read from a local file and a local target; "
                                f"got {got}. Pass resumable=False, or convert a local copy to a local path.")
    recover(location)
    if mode == "w-" and location.exists():
        raise StoreExistsError(f"write: {location.url} already exists; mode 'w-' never replaces a file. Pass "
                               "mode='w' to replace it, or choose another path.")
    write_resumable(location, tree, source.path, mode, restart=restart)


def read(url: str | os.PathLike[str] | Store, storage_options: dict[str, Any] | None = None, *,
         strict: bool = False) -> NWBFile:
    """Open the NWB file at ``url`` read-only; frame data stays in the store until computed.

    Parameters
    ----------
    url : str, os.PathLike or zarr.abc.store.Store
        A local path (str or ``pathlib.Path``), any fsspec URL (``https://``, ``s3://``, ``memory://``, ...)
        or a zarr store.
    storage_options : dict, optional
        Options for the fsspec file system.
    strict : bool
        Raise on values that break NWB rules instead of warning.

    Returns
    -------
    NWBFile
        Series ``data`` and ``timestamps`` are dask arrays chunked like the store.
    """
    url = stores.as_url(url)
    if isinstance(url, Store):
        with stores.storage_errors(repr(url), "read"):
            return _read(None, strict=strict, read_only=True, store=url)
    with stores.storage_errors(url, "read"):
        location = stores.locate(url, storage_options)
        recover(location)  # a writer killed while replacing the file may have left it as a backup
        return _read(location, strict=strict, read_only=True)


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """Python's cyclic garbage collector paused while a file is opened: the metadata of a file of many nodes
    is millions of small objects, which each collection would walk again (half the time of opening 11,000
    arrays); reference counting still frees everything, and the collector resumes afterwards."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _read(location: stores.Location | None, *, strict: bool, read_only: bool, store: Store | None = None
          ) -> NWBFile:
    given = store
    if store is None:
        assert location is not None
        store = open_if_hdf5(location, read_only) or stores.open_store(location, read_only=read_only)
    else:
        store = guarded(store)
    name = location.url if location is not None else repr(given)
    with _collector_paused():
        try:
            tree, consolidated, version = _read_tree(store, name, strict)
        except StoreNotFoundError:
            hdf5 = open_if_hdf5(location, read_only, probe_remote=True) if location and not location.is_local \
                else None
            if hdf5 is None:
                raise
            store = hdf5  # a remote HDF5 file whose name does not say so
            tree, consolidated, version = _read_tree(store, name, strict)
        nwbfile = decode_file(tree, strict=strict, zarr_format=version, source=name)
    if not consolidated:
        warn(PerformanceWarning(
            f"read {name}: the file has no consolidated metadata, so opening it lists the store and reads the "
            "metadata of every node (one request each). Consolidate it once: nzi.consolidate(url)."))
    source = StoreSource(store, name, version, location, strict,
                         base_of(location, given if given is not None else store))
    source.nwbfile = nwbfile
    nwbfile.source = source
    if version == 3 and consolidated:
        for attr, base in COLLECTIONS.items():
            getattr(nwbfile, attr).find_missing = _late_finder(source, base)
    return nwbfile


def _late_finder(source: StoreSource, base: str) -> Any:
    """Look a name up in the store when the consolidated metadata lacks it (written without consolidating)."""

    def find(child: str) -> Any:
        return source.find_missing(f"{base}/{child}") if "/" not in child else None

    return find


def _read_tree(store: Store, name: str, strict: bool = False) -> tuple[GroupNode, bool, int]:
    """The node tree of a Zarr format 3 file, else of a legacy format 2 file (hdmf-zarr <= 0.13)."""
    try:
        return _read_tree_any(store, name, strict)
    except (NWBZarrImageError, OSError):
        raise
    except (ValueError, TypeError, KeyError, AttributeError) as err:  # zarr's and json's on broken metadata
        raise LayoutError(f"read {name}: the Zarr metadata is not valid ({type(err).__name__}: {err}); expected "
                          "the JSON documents of an NWB Zarr file. The file is damaged.") from err


def _read_tree_any(store: Store, name: str, strict: bool) -> tuple[GroupNode, bool, int]:
    try:
        document = root_document(store)  # the one request of opening a consolidated file
        tree = read_tree_json(store, document, name, strict) if document is not None else None
        if tree is not None:  # the plain case: no zarr object built per node
            return tree, True, 3
        root = open_root(store) if document is None else root_group(store, document)
        return read_tree(root, name, strict), is_consolidated(root), 3
    except (FileNotFoundError, zarr.errors.GroupNotFoundError, zarr.errors.NodeTypeValidationError) as err:
        missing: Exception = err
    try:
        legacy = read_tree_v2(store, name)
    except (FileNotFoundError, NotImplementedError) as err:
        legacy, missing = None, err
    if legacy is None:
        raise StoreNotFoundError(f"read: no Zarr group at {name}; expected the root of an NWB Zarr file. Check "
                                 "the path.") from missing
    return legacy[0], legacy[1], 2


def consolidate(url: str | os.PathLike[str], storage_options: dict[str, Any] | None = None) -> None:
    """Write consolidated metadata into the root ``zarr.json`` of a Zarr format 3 file, so that it opens
    with one request.

    Parameters
    ----------
    url : str or os.PathLike
        A local path or a writable fsspec URL.
    storage_options : dict, optional
        Options for the fsspec file system.
    """
    url = stores.as_url(url)
    with stores.storage_errors(url, "write"):
        location = stores.locate(url, storage_options)
        recover(location)
        consolidate_file(location)


class BoundFile:
    """An NWBFile bound to its store; use as a context manager (see :func:`open`)."""

    def __init__(self, location: stores.Location, mode: OpenMode, strict: bool,
                 shard_above: int | None = SHARD_ABOVE_BYTES) -> None:
        self.location = location
        self.mode = mode
        self.shard_above = shard_above
        self.nwbfile = _read(location, strict=strict, read_only=mode == "r")
        if mode != "r" and self.nwbfile.zarr_format != 3:
            raise ReadOnlyError(f"open {location.url}: legacy Zarr format 2 files (hdmf-zarr <= 0.13) are read-only; "
                                f"got mode {mode!r}. Convert it first: nzi.write(nzi.read(url), new_url).")
        if mode != "r":
            assert isinstance(self.nwbfile.source, StoreSource)
            self.nwbfile.source.enable_appends()

    def __enter__(self) -> NWBFile:
        return self.nwbfile

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if exc_type is None and self.mode != "r":
            with stores.storage_errors(self.location.url, "write"):
                self.flush()

    def flush(self) -> None:
        """Write objects added since opening, and re-consolidate the metadata."""
        if self.mode == "r":
            raise ReadOnlyError(f"{self.location.url} is open read-only; open it with mode='a' to change it.")
        tree = encode_file(self.nwbfile)
        add_num_samples(tree, self.nwbfile, base_of(self.location))
        with sharding(self.shard_above):
            add_new_nodes(stores.open_store(self.location, read_only=False), tree)


def open(url: str | os.PathLike[str], mode: OpenMode = "r",  # noqa: A001
         storage_options: dict[str, Any] | None = None, *, strict: bool = False,
         shard_above: int | None = SHARD_ABOVE_BYTES) -> BoundFile:
    """Open an NWB file bound to its store, as a context manager.

    Parameters
    ----------
    url : str or os.PathLike
        A local path or any fsspec URL.
    mode : {'r', 'r+', 'a'}
        ``'r'`` read-only; ``'r+'``/``'a'`` also write, on leaving the ``with`` block, the objects added.
    storage_options : dict, optional
        Options for the fsspec file system.
    strict : bool
        Raise on values that break NWB rules instead of warning.
    shard_above : int or None
        The sharding threshold of the series added (as in :func:`write`).

    Examples
    --------
    >>> with nzi.open("session.nwb.zarr", "a") as nwb:  # doctest: +SKIP
    ...     nwb.add_acquisition(series)
    """
    url = stores.as_url(url)
    if mode not in ("r", "r+", "a"):
        raise ArgumentTypeError(f"open: mode must be 'r', 'r+' or 'a'; got {mode!r}. To create a file use "
                                "write(nwbfile, url).")
    with stores.storage_errors(url, "open"):
        location = stores.locate(url, storage_options)
        recover(location)
        if mode != "r" and location.read_only_protocol:
            raise ReadOnlyError(f"open: {url} is read-only ({sorted(location.protocols)[0]}); got mode {mode!r}. "
                                "Open it with mode='r'.")
        return BoundFile(location, mode, strict, shard_above)


__all__ = ["BoundFile", "consolidate", "open", "read", "write"]
