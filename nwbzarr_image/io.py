"""read, write and open: an fsspec URL to an NWBFile and back."""

from __future__ import annotations

import warnings
from types import TracebackType
from typing import Any, Literal

import zarr
from zarr.abc.store import Store

from nwbzarr_image.errors import (
    ArgumentTypeError,
    LayoutError,
    ReadOnlyError,
    StoreExistsError,
    StoreNotFoundError,
)
from nwbzarr_image.layout import decode_file, encode_file
from nwbzarr_image.model import NWBFile
from nwbzarr_image.storage import stores
from nwbzarr_image.storage.reader import open_root, read_tree
from nwbzarr_image.storage.writer import group_attrs, write_tree

WriteMode = Literal["w", "w-"]
OpenMode = Literal["r", "r+", "a"]


def write(nwbfile: NWBFile, url: str, storage_options: dict[str, Any] | None = None,
          mode: WriteMode = "w-") -> None:
    """Write ``nwbfile`` as an NWB Zarr (format 3) file at ``url``.

    Parameters
    ----------
    nwbfile : NWBFile
        The file to write; arrays, dask arrays and lazily read series are all accepted as data.
    url : str
        A local path or any fsspec URL (``s3://``, ``memory://``, ...).
    storage_options : dict, optional
        Options for the fsspec file system (credentials, endpoint, ...).
    mode : {'w-', 'w'}
        ``'w-'`` (default) refuses an existing target; ``'w'`` replaces it.

    Notes
    -----
    The file is written next to the target under a hidden name and moved into place at the end,
    so a write that fails half way leaves nothing at ``url``.
    """
    if not isinstance(nwbfile, NWBFile):
        raise ArgumentTypeError(f"write: expected an NWBFile; got {type(nwbfile).__name__}.")
    if mode not in ("w", "w-"):
        raise ArgumentTypeError(f"write: mode must be 'w-' (refuse an existing file) or 'w' (replace it); got "
                                f"{mode!r}. Use open(url, 'a') to add to an existing file.")
    tree = encode_file(nwbfile)  # layout errors surface before anything is written
    location = stores.locate(url, storage_options)
    if location.read_only_protocol:
        stores.open_store(location, read_only=False)  # raises ReadOnlyError
    if mode == "w-" and location.exists():
        raise StoreExistsError(f"write: {url} already exists; mode 'w-' never replaces a file. Pass mode='w' to "
                               "replace it, or choose another path.")
    temp = location.sibling("partial")
    try:
        store = stores.open_store(location, read_only=False, path=temp)
        root = zarr.open_group(store, mode="w", zarr_format=3, attributes=group_attrs(tree))
        write_tree(root, tree)
        _consolidate(store)
        store.close()
        if location.exists():
            stores.remove(location, location.path)
        stores.move(location, temp, location.path)
    except BaseException:
        stores.remove(location, temp)
        raise


def read(url: str | Store, storage_options: dict[str, Any] | None = None, *, strict: bool = False) -> NWBFile:
    """Open the NWB file at ``url`` read-only; frame data stays in the store until computed.

    Parameters
    ----------
    url : str or zarr.abc.store.Store
        A local path, any fsspec URL (``https://``, ``s3://``, ``memory://``, ...) or a zarr store.
    storage_options : dict, optional
        Options for the fsspec file system.
    strict : bool
        Raise on values that break NWB rules instead of warning.

    Returns
    -------
    NWBFile
        Series ``data`` and ``timestamps`` are dask arrays chunked like the store.
    """
    if isinstance(url, Store):
        return _read(None, strict=strict, read_only=True, store=url)
    location = stores.locate(url, storage_options)
    return _read(location, strict=strict, read_only=True)


def _read(location: stores.Location | None, *, strict: bool, read_only: bool, store: Store | None = None
          ) -> NWBFile:
    if store is None:
        assert location is not None
        store = stores.open_store(location, read_only=read_only)
    name = location.url if location is not None else repr(store)
    try:
        root = open_root(store)
    except (FileNotFoundError, zarr.errors.GroupNotFoundError) as err:
        raise StoreNotFoundError(f"read: no Zarr group at {name}; expected the root of an NWB Zarr "
                                 "file. Check the path.") from err
    tree = read_tree(root, name)
    nwbfile = decode_file(tree, strict=strict)
    nwbfile.__dict__["_binding"] = (location, store)
    return nwbfile


class BoundFile:
    """An NWBFile bound to its store; use as a context manager (see :func:`open`)."""

    def __init__(self, location: stores.Location, mode: OpenMode, strict: bool) -> None:
        self.location = location
        self.mode = mode
        self.nwbfile = _read(location, strict=strict, read_only=mode == "r")

    def __enter__(self) -> NWBFile:
        return self.nwbfile

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if exc_type is None and self.mode != "r":
            self.flush()

    def flush(self) -> None:
        """Write objects added since opening, and re-consolidate the metadata."""
        if self.mode == "r":
            raise ReadOnlyError(f"{self.location.url} is open read-only; open it with mode='a' to change it.")
        tree = encode_file(self.nwbfile)
        store = stores.open_store(self.location, read_only=False)
        root = zarr.open_group(store, mode="r+", use_consolidated=False)
        write_tree(root, tree, skip_existing=True)
        _consolidate(store)


def open(url: str, mode: OpenMode = "r", storage_options: dict[str, Any] | None = None,  # noqa: A001
         *, strict: bool = False) -> BoundFile:
    """Open an NWB file bound to its store, as a context manager.

    Parameters
    ----------
    url : str
        A local path or any fsspec URL.
    mode : {'r', 'r+', 'a'}
        ``'r'`` read-only; ``'r+'``/``'a'`` also write, on leaving the ``with`` block, the objects added.
    storage_options : dict, optional
        Options for the fsspec file system.
    strict : bool
        Raise on values that break NWB rules instead of warning.

    Examples
    --------
    >>> with nzi.open("session.nwb.zarr", "a") as nwb:  # doctest: +SKIP
    ...     nwb.add_acquisition(series)
    """
    if mode not in ("r", "r+", "a"):
        raise ArgumentTypeError(f"open: mode must be 'r', 'r+' or 'a'; got {mode!r}. To create a file use "
                                "write(nwbfile, url).")
    location = stores.locate(url, storage_options)
    if mode != "r" and location.read_only_protocol:
        raise ReadOnlyError(f"open: {url} is read-only ({sorted(location.protocols)[0]}); got mode {mode!r}. "
                            "Open it with mode='r'.")
    return BoundFile(location, mode, strict)


def _consolidate(store: Any) -> None:
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Consolidated metadata is currently not part")
        zarr.consolidate_metadata(store)


__all__ = ["BoundFile", "LayoutError", "open", "read", "write"]
