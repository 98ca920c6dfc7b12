"""Plain HDF5 walk data -> an in-memory NWB Zarr v3 view in hdmf-zarr 0.14's convention.

Every node gets its ``zarr.json`` (groups with ``_LINKS``, arrays with ``_DTYPE``); the root carries them all as
inline consolidated metadata, so opening the view is one lookup. Values read during the walk (scalars, strings,
references, small arrays) are served from memory; the chunks of big datasets are byte ranges of the HDF5 file,
decoded by the numcodecs codecs declared here from the HDF5 filter pipeline.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from nwbzarr_image.hdf5.walk import Compound, Filter, H5Dataset, H5Tree

SEPARATOR = "/"
# storage/reader.py's mark of a 0-d array whose value is its fill value (no chunk): read without a store lookup
VALUE_IN_FILL = "nwbzarr_image_value_in_fill"


@dataclass
class ArraySource:
    """Where the chunks of one view array come from (everything a worker process needs, no h5py)."""

    key: str  # the array's path in the view, without a leading "/"
    kind: str  # chunked | contiguous | fallback
    shape: tuple[int, ...]
    chunks: tuple[int, ...]
    dtype: str
    offset: int | None = None
    filters: list[Filter] = field(default_factory=list)

    @property
    def grid(self) -> tuple[int, ...]:
        return tuple(math.ceil(n / c) for n, c in zip(self.shape, self.chunks, strict=True))

    @property
    def chunk_nbytes(self) -> int:
        return int(np.prod(self.chunks, dtype=np.int64)) * np.dtype(self.dtype).itemsize


@dataclass
class View:
    entries: dict[str, bytes]
    sources: dict[str, ArraySource]


def build_view(tree: H5Tree) -> View:
    """The zarr.json documents, in-memory chunks and chunk sources of the whole file."""
    docs: dict[str, dict[str, Any]] = {}
    entries: dict[str, bytes] = {}
    sources: dict[str, ArraySource] = {}
    for path, group in tree.groups.items():
        attrs = dict(group.attrs)
        if group.links:
            attrs["_LINKS"] = group.links
        docs[path.strip("/")] = {"zarr_format": 3, "node_type": "group", "attributes": attrs}
    for path, ds in tree.datasets.items():
        key = path.strip("/")
        doc, chunk = array_doc(ds)
        docs[key] = doc
        if chunk is not None:
            entries[f"{key}/c" + (SEPARATOR + SEPARATOR.join("0" * len(ds.shape)) if ds.shape else "")] = chunk
        if ds.kind in ("chunked", "contiguous", "fallback"):
            sources[key] = ArraySource(key, ds.kind, ds.shape, ds.chunks, ds.dtype.str, ds.offset, ds.filters)
    root = dict(docs.pop(""))
    consolidated = {k: docs[k] for k in sorted(docs)}
    for key, doc in consolidated.items():
        if doc["node_type"] == "array" and doc["shape"] == []:  # scalars are never chunks of the view
            consolidated[key] = {**doc, VALUE_IN_FILL: {"must_understand": False}}
    root["consolidated_metadata"] = {"kind": "inline", "must_understand": False, "metadata": consolidated}
    entries["zarr.json"] = _dumps(root)
    for key, doc in docs.items():
        entries[f"{key}/zarr.json"] = _dumps(doc)
    return View(entries, sources)


def _dumps(doc: dict[str, Any]) -> bytes:
    return json.dumps(doc, default=_json_default).encode()


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    raise TypeError(f"cannot store {type(value).__name__} in JSON")


def _base(shape: tuple[int, ...], chunks: tuple[int, ...], data_type: Any, fill: Any, codecs: list[Any],
          attrs: dict[str, Any]) -> dict[str, Any]:
    return {"zarr_format": 3, "node_type": "array", "shape": list(shape), "data_type": data_type,
            "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": [max(int(c), 1) for c in chunks]}},
            "chunk_key_encoding": {"name": "default", "configuration": {"separator": SEPARATOR}},
            "fill_value": fill, "codecs": codecs, "attributes": attrs}


def array_doc(ds: H5Dataset) -> tuple[dict[str, Any], bytes | None]:
    """The zarr.json of one dataset and, for values read during the walk, its single chunk's bytes."""
    attrs = dict(ds.attrs)
    if ds.dtype_name in ("text", "object_reference"):
        attrs["_DTYPE"] = "str" if ds.dtype_name == "text" else "object_reference"
        codecs = [{"name": "vlen-utf8", "configuration": {}}]
        if not ds.shape:
            return _base((), (), "string", str(ds.value[()]), codecs, attrs), None
        from numcodecs import VLenUTF8

        chunk = bytes(VLenUTF8().encode(np.asarray(ds.value, dtype=object).reshape(-1)))
        return _base(ds.shape, ds.shape, "string", "", codecs, attrs), chunk if all(ds.shape) else None
    if isinstance(ds.dtype_name, dict):
        return _compound_doc(ds, ds.dtype_name, attrs)
    attrs["_DTYPE"] = ds.dtype_name
    dtype = np.dtype(ds.dtype)
    data_type = "bool" if dtype.kind == "b" else dtype.newbyteorder("=").name
    fill = _json_fill(ds.fill, dtype)
    if ds.kind == "inline":
        value = np.asarray(ds.value, dtype=dtype)
        if not ds.shape:
            return _base((), (), data_type, _json_fill(value[()], dtype), [_bytes_codec(dtype)], attrs), None
        values = np.ascontiguousarray(value).tobytes() if value.size else None
        return _base(ds.shape, ds.shape, data_type, fill, [_bytes_codec(dtype)], attrs), values
    chunks = ds.chunks or tuple(max(n, 1) for n in ds.shape)
    codecs = [_bytes_codec(dtype)]
    if ds.kind == "chunked":
        codecs += [filter_codec(f, dtype) for f in ds.filters]
    return _base(ds.shape, chunks, data_type, fill, codecs, attrs), None


def _compound_doc(ds: H5Dataset, compound: Compound, attrs: dict[str, Any]) -> tuple[dict[str, Any], bytes | None]:
    value: np.ndarray = ds.value
    fields: list[dict[str, Any]] = []
    fill: dict[str, Any] = {}
    for name in value.dtype.names or ():
        sub = value.dtype[name]
        if sub.kind == "U":
            fields.append({"name": name, "data_type": {"name": "fixed_length_utf32",
                                                       "configuration": {"length_bytes": sub.itemsize}}})
            fill[name] = ""
        else:
            fields.append({"name": name, "data_type": "bool" if sub.kind == "b" else sub.newbyteorder("=").name})
            fill[name] = 0
    attrs["_DTYPE"] = [{"name": f["name"], "dtype": "object_reference" if f["name"] in compound["references"]
                        else (f["data_type"] if isinstance(f["data_type"], str) else "text")} for f in fields]
    if compound["references"]:
        attrs["_REFERENCE_FIELDS"] = list(compound["references"])
    doc = _base(ds.shape, ds.shape, {"name": "struct", "configuration": {"fields": fields}}, fill,
                [{"name": "bytes", "configuration": {"endian": "little"}}], attrs)
    return doc, (np.ascontiguousarray(value).tobytes() if value.size else None)


def _bytes_codec(dtype: np.dtype) -> dict[str, Any]:
    if dtype.itemsize == 1:
        return {"name": "bytes"}
    return {"name": "bytes", "configuration": {"endian": "big" if dtype.byteorder == ">" else "little"}}


def _json_fill(value: Any, dtype: np.dtype) -> Any:
    if isinstance(value, np.generic):
        value = value.item()
    if dtype.kind == "b":
        return bool(value)
    if dtype.kind == "f":
        value = float(value)
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "Infinity" if value > 0 else "-Infinity"
        return value
    if dtype.kind in "iu":
        return int(value)
    return value


def filter_codec(f: Filter, dtype: np.dtype) -> dict[str, Any]:
    """The numcodecs zarr v3 codec that decodes one HDF5 filter (the walk let through only these)."""
    if f.code == 1:
        return {"name": "numcodecs.zlib", "configuration": {"level": f.values[0] if f.values else 4}}
    if f.code == 2:
        return {"name": "numcodecs.shuffle", "configuration": {"elementsize": dtype.itemsize}}
    if f.code == 3:
        return {"name": "numcodecs.fletcher32", "configuration": {}}
    if f.code == 32001:  # decoding reads the blosc header; the settings below only matter for encoding
        clevel = f.values[4] if len(f.values) > 4 else 5
        return {"name": "numcodecs.blosc", "configuration": {"cname": "lz4", "clevel": clevel, "shuffle": 1,
                                                               "blocksize": 0}}
    if f.code == 32015:
        return {"name": "numcodecs.zstd", "configuration": {"level": f.values[0] if f.values else 3}}
    raise ValueError(f"no codec for HDF5 filter {f.code} ({f.name})")
