"""Walk an HDF5 file once with h5py into plain data: groups, datasets, attributes, links, storage layout.

Nothing here touches zarr: the walk runs to the end before any zarr call, in the h5py thread (see
``thread.py``), and returns only Python and numpy values, so no h5py object outlives it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, TypedDict

import numpy as np

from nwbzarr_image.errors import InvalidFileWarning, warn

INLINE_BYTES = 16 * 1024  # numeric datasets up to this size are read during the walk (no request later)
SUPPORTED_FILTERS = {1, 2, 3, 32001, 32015}  # deflate, shuffle, fletcher32, blosc, zstd (numcodecs decodes them)
FILTER_NAMES = {1: "deflate", 2: "shuffle", 3: "fletcher32", 4: "szip", 5: "nbit", 6: "scaleoffset",
                32000: "lzf", 32001: "blosc", 32004: "lz4", 32008: "bitshuffle", 32015: "zstd", 32026: "blosc2"}


class Compound(TypedDict):
    """How a compound dataset became a fixed-width struct: its field names, and those that held references."""

    compound: list[str]
    references: list[str]


@dataclass
class Filter:
    """One filter of a dataset's HDF5 pipeline, in pipeline (encoding) order."""

    code: int
    values: tuple[int, ...]
    name: str


@dataclass
class H5Group:
    path: str
    attrs: dict[str, Any] = field(default_factory=dict)
    links: list[dict[str, str]] = field(default_factory=list)


@dataclass
class H5Dataset:
    """A dataset as plain data.

    ``kind`` is ``inline`` (values in ``value``), ``chunked`` (HDF5 chunks read by byte range, index listed
    later), ``contiguous`` (one byte range from ``offset``), ``empty`` (never allocated: fill value) or
    ``fallback`` (filters numcodecs cannot decode: read through h5py).
    """

    path: str
    shape: tuple[int, ...]
    dtype: np.dtype
    kind: str
    attrs: dict[str, Any] = field(default_factory=dict)
    value: Any = None
    chunks: tuple[int, ...] = ()
    filters: list[Filter] = field(default_factory=list)
    offset: int | None = None
    nbytes: int = 0
    fill: Any = 0
    dtype_name: str | Compound = ""


@dataclass
class H5Tree:
    groups: dict[str, H5Group] = field(default_factory=dict)
    datasets: dict[str, H5Dataset] = field(default_factory=dict)


def walk_file(f: Any, identity: str) -> H5Tree:
    """Every group and dataset of the open ``h5py.File`` ``f`` as plain data (recursively, links kept apart)."""
    import h5py

    tree = H5Tree()
    walker = _Walker(f, h5py, identity, tree)
    walker.group(f, "/")
    return tree


class _Walker:
    def __init__(self, f: Any, h5py: Any, identity: str, tree: H5Tree) -> None:
        self.f, self.h5py, self.identity, self.tree = f, h5py, identity, tree

    def warn(self, path: str, what: str) -> None:
        warn(InvalidFileWarning(f"read {self.identity}: {path}: {what}"))

    def group(self, group: Any, path: str) -> None:
        h5py = self.h5py
        node = H5Group(path, self.attrs(group, path))
        self.tree.groups[path] = node
        for name in group:
            child_path = f"{path.rstrip('/')}/{name}"
            link = group.get(name, getlink=True)
            if isinstance(link, h5py.SoftLink):
                target = link.path if link.path.startswith("/") else f"{path.rstrip('/')}/{link.path}"
                node.links.append({"source": ".", "path": target, "name": name})
                continue
            if isinstance(link, h5py.ExternalLink):
                self.warn(child_path, f"an external link to {link.filename}:{link.path} is left out; expected "
                                      "objects of this file. Open the linked file itself to read it.")
                continue
            try:
                child = group[name]
            except (KeyError, OSError) as err:
                self.warn(child_path, f"cannot be read and is left out ({err}).")
                continue
            if isinstance(child, h5py.Group):
                self.group(child, child_path)
            elif isinstance(child, h5py.Dataset):
                self.tree.datasets[child_path] = self.dataset(child, child_path)

    # -- attributes -------------------------------------------------------------------------------------------

    def attrs(self, obj: Any, path: str) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key in obj.attrs:
            try:
                value = obj.attrs[key]
            except (OSError, TypeError, ValueError) as err:
                self.warn(path, f"attribute {key!r} cannot be read and is left out ({err}).")
                continue
            if key == ".specloc":
                target = self.deref(value)
                out[key] = target.strip("/") if target else value
                continue
            out[key] = self.json_value(value)
        return out

    def deref(self, ref: Any) -> str | None:
        if not ref:
            return None
        try:
            return str(self.f[ref].name)
        except (KeyError, ValueError, OSError, TypeError):
            return None

    def json_value(self, value: Any) -> Any:
        h5py = self.h5py
        if isinstance(value, (h5py.Reference, h5py.RegionReference)):
            return {"_REFERENCE": {"source": ".", "path": self.deref(value) or ""}}
        if isinstance(value, bytes):
            return value.decode("utf-8", errors="replace")
        if isinstance(value, np.ndarray):
            if value.dtype.names:
                return [self.json_value(v) for v in value.tolist()]
            return [self.json_value(v) for v in value.reshape(-1).tolist()] if value.ndim <= 1 else \
                [self.json_value(v) for v in value]
        if isinstance(value, np.generic):
            return value.item()
        if isinstance(value, (list, tuple)):
            return [self.json_value(v) for v in value]
        return value

    # -- datasets ---------------------------------------------------------------------------------------------

    def dataset(self, ds: Any, path: str) -> H5Dataset:
        h5py = self.h5py
        attrs = self.attrs(ds, path)
        shape = tuple(int(n) for n in ds.shape) if ds.shape is not None else ()
        dtype = ds.dtype
        if h5py.check_string_dtype(dtype) is not None:
            return self.inline(ds, path, attrs, shape, "text")
        if h5py.check_ref_dtype(dtype) is not None:
            return self.inline(ds, path, attrs, shape, "object_reference")
        if dtype.names is not None:
            return self.inline(ds, path, attrs, shape, "compound")
        if dtype.kind not in "biuf":
            self.warn(path, f"the data type {dtype} is not supported and its values are read now.")
        plist = ds.id.get_create_plist()
        layout = plist.get_layout()
        filters = [Filter(int(code), tuple(int(v) for v in values),
                          FILTER_NAMES.get(int(code), name.decode() or f"filter {code}"))
                   for code, _flags, values, name in (plist.get_filter(i) for i in range(plist.get_nfilters()))]
        nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
        base = H5Dataset(path, shape, np.dtype(dtype), "inline", attrs, filters=filters, nbytes=nbytes,
                         fill=_fill(ds), dtype_name=_dtype_name(dtype))
        if not shape or layout == h5py.h5d.COMPACT or nbytes <= INLINE_BYTES or dtype.kind not in "biuf":
            base.value = np.asarray(ds[()]) if nbytes else np.zeros(shape, dtype)
            return base
        if layout == h5py.h5d.CONTIGUOUS:
            offset = ds.id.get_offset()
            if offset is None:
                base.kind = "empty"
            elif ds.external:
                base.kind, base.chunks = "fallback", _frame_chunks(shape, dtype)
            else:
                base.kind, base.offset, base.chunks = "contiguous", int(offset), _frame_chunks(shape, dtype)
            return base
        if layout != h5py.h5d.CHUNKED:  # virtual datasets
            base.kind, base.chunks = "fallback", _frame_chunks(shape, dtype)
            return base
        base.chunks = tuple(int(c) for c in ds.chunks)
        base.kind = "chunked" if all(f.code in SUPPORTED_FILTERS for f in filters) else "fallback"
        return base

    def inline(self, ds: Any, path: str, attrs: dict[str, Any], shape: tuple[int, ...], what: str) -> H5Dataset:
        raw = ds[()]
        if what == "text":
            value: Any = _texts(raw)
            dtype_name: str | Compound = "text"
        elif what == "object_reference":
            value = np.asarray([self.deref(r) or "" for r in np.asarray(raw, dtype=object).reshape(-1)],
                               dtype=object).reshape(shape)
            dtype_name = "object_reference"
        else:
            value, dtype_name = self.compound(np.asarray(raw), ds.dtype)
        return H5Dataset(path, shape, np.dtype(object) if what != "compound" else value.dtype, "inline", attrs,
                         value=value, dtype_name=dtype_name)

    def compound(self, raw: np.ndarray, dtype: np.dtype) -> tuple[np.ndarray, Compound]:
        """A compound dataset: references become path strings; strings become fixed-width text."""
        h5py = self.h5py
        fields: list[tuple[str, Any]] = []
        columns: dict[str, np.ndarray] = {}
        refs: list[str] = []
        for name in dtype.names or ():
            sub = dtype[name]
            column = raw[name]
            if h5py.check_ref_dtype(sub) is not None:
                texts = [self.deref(r) or "" for r in column.reshape(-1)]
                fields.append((name, "<U512"))
                columns[name] = np.asarray(texts, dtype="<U512").reshape(column.shape)
                refs.append(name)
            elif h5py.check_string_dtype(sub) is not None:
                texts = _texts(column).reshape(-1).tolist()
                width = max([len(t) for t in texts] + [1])
                fields.append((name, f"<U{width}"))
                columns[name] = np.asarray(texts, dtype=f"<U{width}").reshape(column.shape)
            else:
                fields.append((name, sub.newbyteorder("<") if sub.byteorder == ">" else sub))
                columns[name] = column
        out = np.zeros(raw.shape, dtype=fields)
        for name in dtype.names or ():
            out[name] = columns[name]
        return out, {"compound": [name for name, _ in fields], "references": refs}


def _texts(raw: Any) -> np.ndarray:
    arr = np.asarray(raw, dtype=object)
    flat = [v.decode("utf-8", errors="replace") if isinstance(v, bytes) else str(v) for v in arr.reshape(-1)]
    return np.asarray(flat, dtype=object).reshape(arr.shape)


def _fill(ds: Any) -> Any:
    try:
        value = ds.fillvalue
    except (OSError, TypeError, ValueError):
        return 0
    return value.item() if hasattr(value, "item") else value


def _dtype_name(dtype: np.dtype) -> str:
    return "bool" if dtype.kind == "b" else np.dtype(dtype).newbyteorder("=").name


def _frame_chunks(shape: tuple[int, ...], dtype: np.dtype, target: int = 16 * 1024 * 1024) -> tuple[int, ...]:
    """Virtual chunks of an uncompressed byte range: whole frames, about ``target`` bytes each."""
    if not shape:
        return ()
    frame = int(np.prod(shape[1:], dtype=np.int64)) * dtype.itemsize
    rows = max(1, min(shape[0], target // max(frame, 1)))
    return (max(rows, 1), *(max(n, 1) for n in shape[1:]))
