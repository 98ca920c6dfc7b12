"""Recognise an HDF5 file and open it as a read-only zarr store of its NWB Zarr v3 view."""

from __future__ import annotations

import os
from typing import Any

from nwbzarr_image.errors import CorruptDataError, LayoutError, MissingDependencyError, ReadOnlyError
from nwbzarr_image.hdf5 import cache
from nwbzarr_image.hdf5.ranges import HEAD_BLOCK, BlockFile, ByteSource
from nwbzarr_image.hdf5.store import Hdf5Store
from nwbzarr_image.hdf5.thread import run_h5
from nwbzarr_image.hdf5.view import ArraySource, build_view
from nwbzarr_image.hdf5.walk import FILTER_NAMES, walk_file

SIGNATURE = b"\x89HDF\r\n\x1a\n"
HDF5_SUFFIXES = (".nwb", ".h5", ".hdf5", ".hdf", ".he5", ".nwb.h5")
PIP_LINE = 'pip install "nwbzarr-image[hdf5]"'


def h5py_module() -> Any:
    try:
        import h5py
    except ImportError as err:
        raise MissingDependencyError(f"reading NWB HDF5 files needs h5py, which is not installed. Install it with: "
                                     f"{PIP_LINE}") from err
    try:  # registers the filters of hdf5plugin (Blosc2, LZ4, Bitshuffle, ...) for h5py's fallback reads
        import hdf5plugin  # noqa: F401
    except ImportError:
        pass
    return h5py


def has_signature(head: bytes) -> bool:
    """The HDF5 signature at offset 0, 512, 1024, 2048, ... (after a user block, per the HDF5 spec)."""
    offset = 0
    while offset + len(SIGNATURE) <= len(head):
        if head[offset:offset + len(SIGNATURE)] == SIGNATURE:
            return True
        offset = 512 if offset == 0 else offset * 2
    return False


def looks_like_hdf5_name(path: str) -> bool:
    return path.rstrip("/").lower().endswith(HDF5_SUFFIXES)


def open_if_hdf5(location: Any, read_only: bool, *, probe_remote: bool = False) -> Hdf5Store | None:
    """The store of the HDF5 file at ``location``, or None when it is not one (a Zarr directory).

    Local files are recognised by their signature; remote ones when their name ends like an HDF5 file, or,
    with ``probe_remote``, by the signature of their first bytes (after a Zarr open found nothing).
    """
    if location.is_local:
        if not os.path.isfile(location.path):
            return None
        with open(location.path, "rb") as fh:
            head = fh.read(4096)
        if not has_signature(head):
            raise LayoutError(f"read {location.url}: the file is not an HDF5 file (no HDF5 signature in its first "
                              "bytes) and a file cannot be a Zarr store; expected an NWB HDF5 file or an NWB Zarr "
                              "directory. Check the path.")
        _refuse_writes(location, read_only)
        size = os.path.getsize(location.path)
        return _open(ByteSource(location.url, location.fs, location.path, True, size), None, head)
    if not (probe_remote or looks_like_hdf5_name(location.path)):
        return None
    try:
        info = location.fs.info(location.path)
    except (FileNotFoundError, IsADirectoryError):
        return None
    if info.get("type") == "directory":
        return None
    size = int(info.get("size") or 0)
    source = ByteSource(location.url, location.fs, location.path, False, size)
    key = cache.key_of(location.url, info)
    cached = cache.load(key) if key else None
    if cached is not None:
        _refuse_writes(location, read_only)
        view, tables, looked_up = cached
        return Hdf5Store(source, view, tables, on_table=_saver(key), looked_up=looked_up)
    head = source.read(0, min(HEAD_BLOCK, size) if size else HEAD_BLOCK)
    if not has_signature(head):
        if looks_like_hdf5_name(location.path) and not probe_remote:
            raise LayoutError(f"read {location.url}: the file is not an HDF5 file (no HDF5 signature in its first "
                              f"bytes); expected an NWB HDF5 or NWB Zarr file. Check the URL.")
        return None
    _refuse_writes(location, read_only)
    store = _open(source, key, head)
    return store


def _refuse_writes(location: Any, read_only: bool) -> None:
    if not read_only:
        raise ReadOnlyError(f"open {location.url}: NWB HDF5 files are opened read-only; got a mode that writes. "
                            "Convert it first: nzi.write(nzi.read(url), 'out.nwb.zarr'), then open the copy.")


def _saver(key: str | None) -> Any:
    if not key:
        return None
    return lambda store: cache.save(key, store.view, store.tables, store.looked_up)


def _open(source: ByteSource, key: str | None, head: bytes) -> Hdf5Store:
    h5py = h5py_module()
    blocks = None if source.local else BlockFile(source.read, source.size, head, read_many=source.read_many)
    tree = run_h5(_walk, h5py, source, blocks)
    root = tree.groups.get("/")
    kind = root.attrs.get("neurodata_type") if root is not None else None
    if kind != "NWBFile":
        raise LayoutError(f"read {source.url}: the HDF5 file is not an NWB file: its root group has "
                          f"neurodata_type {kind!r}; expected 'NWBFile' (a file written by pynwb or MatNWB). Open "
                          "other HDF5 files with h5py.")
    view = build_view(tree)
    if key:
        cache.save(key, view, {})
    return Hdf5Store(source, view, on_table=_saver(key), blocks=blocks)


def open_h5py_file(target: Any, url: str) -> Any:
    """``h5py.File(target, "r")``, or our CorruptDataError naming ``url`` when h5py cannot open it (also a
    file cut after it was first opened)."""
    try:
        return h5py_module().File(target, "r")
    except OSError as err:
        raise CorruptDataError(f"read {url}: h5py cannot open the file ({err}); expected a complete HDF5 "
                               "file. It is truncated or damaged: fetch it again.") from err


def _walk(h5py: Any, source: ByteSource, blocks: BlockFile | None) -> Any:
    f = open_h5py_file(source.path if blocks is None else blocks, source.url)
    try:
        return walk_file(f, source.url)
    except (OSError, RuntimeError, KeyError) as err:
        raise CorruptDataError(f"read {source.url}: the HDF5 metadata cannot be read ({type(err).__name__}: "
                               f"{err}); expected a complete HDF5 file. It is truncated or damaged.") from err
    finally:
        f.close()


def filter_hint(source: ArraySource) -> str:
    names = [FILTER_NAMES.get(f.code, f.name) for f in source.filters]
    return (f"Its filters are {names}; h5py decodes third-party filters (LZ4, Bitshuffle, Blosc2, ...) only "
            "with hdf5plugin installed: pip install hdf5plugin.")
