"""Read legacy Zarr v2 NWB files (hdmf-zarr <= 0.13) into node descriptions.

zarr-python 3 refuses these stores as a whole (object arrays with ``vlen-bytes``, ``json2`` or ``pickle``
filters and a ``0`` fill value), so the metadata is parsed here: numeric and text arrays become zarr
arrays built from that metadata (no request), object arrays are decoded chunk by chunk with numcodecs,
and pickled references with a restricted decoder that never unpickles.
"""

from __future__ import annotations

import itertools
import json
import math
from typing import Any

import dask.array as da
import numcodecs
import numpy as np
import zarr

from nwbzarr_image.errors import LayoutError
from nwbzarr_image.layout.nodes import GroupNode
from nwbzarr_image.lazy import as_dask, read_errors
from nwbzarr_image.storage.reader import array_node, group_node, safe_name
from nwbzarr_image.storage.zarr_compat import get_bytes, list_keys, v2_array

SAFE_OBJECT_FILTERS = {"vlen-utf8", "vlen-bytes", "json2", "pickle"}


def _get_json(store: Any, key: str) -> Any:
    raw = get_bytes(store, key)
    return None if raw is None else json.loads(raw)


def read_metadata(store: Any) -> tuple[dict[str, Any], bool] | None:
    """Every ``.zgroup``/``.zattrs``/``.zarray`` document by key, and whether they came consolidated;
    None when the store holds no v2 group."""
    consolidated = _get_json(store, ".zmetadata")
    if isinstance(consolidated, dict) and isinstance(consolidated.get("metadata"), dict):
        return consolidated["metadata"], True
    if get_bytes(store, ".zgroup") is None:
        return None
    keys = [k for k in list_keys(store) if k.rsplit("/", 1)[-1] in (".zgroup", ".zattrs", ".zarray")]
    return {k: _get_json(store, k) for k in keys}, False


class V2StoredArray:
    """A v2 array seen by the decoder (see ``StoredArray``): metadata now, values on demand."""

    def __init__(self, store: Any, path: str, meta: dict[str, Any], attrs: dict[str, Any], identity: str,
                 squeeze: bool) -> None:
        self.store, self.meta, self.attrs, self.identity = store, meta, attrs, identity
        self.path = "/" + path
        self.key = path
        self.squeeze = squeeze
        self.shape = () if squeeze else tuple(meta["shape"])
        self.dtype = np.dtype(meta["dtype"]) if not isinstance(meta["dtype"], list) else np.dtype(object)
        filters = [f.get("id") for f in meta.get("filters") or []]
        self.is_object = self.dtype == np.dtype(object)
        if self.is_object and not (set(filters) <= SAFE_OBJECT_FILTERS and filters):
            self.unsupported = f"object array with filters {filters}"
        else:
            self.unsupported = ""

    def _zarr(self) -> zarr.Array:
        return v2_array(self.store, self.key, dict(self.meta, attributes=self.attrs))

    def _values(self) -> np.ndarray:
        if self.unsupported:
            raise LayoutError(f"{self.path}: cannot decode a v2 {self.unsupported}; expected numeric, text, "
                              "vlen-bytes, json2 or pickled references.")
        with read_errors(f"{self.identity}{self.path}", self.path):
            if not self.is_object:
                return np.asarray(self._zarr()[...])
            return self._decode_objects()

    def _decode_objects(self) -> np.ndarray:
        shape, chunks = tuple(self.meta["shape"]), tuple(self.meta["chunks"])
        out = np.empty(shape, dtype=object)
        separator = self.meta.get("dimension_separator") or "."
        compressor = numcodecs.get_codec(self.meta["compressor"]) if self.meta.get("compressor") else None
        grid = [range(math.ceil(n / c)) if n else range(0) for n, c in zip(shape, chunks, strict=True)]
        for index in itertools.product(*grid):
            key = f"{self.key}/{separator.join(map(str, index))}" if index else f"{self.key}/0"
            raw = get_bytes(self.store, key)
            if raw is None:
                continue
            data: Any = compressor.decode(raw) if compressor is not None else raw
            for spec in reversed(self.meta.get("filters") or []):
                data = self._filter(spec, data)
            block = np.asarray(data, dtype=object).reshape(-1)[: math.prod(chunks)]
            region = tuple(slice(i * c, min((i + 1) * c, n)) for i, c, n in zip(index, chunks, shape, strict=True))
            size = math.prod(r.stop - r.start for r in region)
            block = np.resize(block, math.prod(chunks)).reshape(chunks)
            out[region] = block[tuple(slice(0, r.stop - r.start) for r in region)] if size else block
        return out

    def _filter(self, spec: dict[str, Any], data: Any) -> Any:
        kind = spec.get("id")
        if kind == "pickle":
            from nwbzarr_image.storage.safe_pickle import UnsafePickleError, decode_pickled_references

            try:
                return decode_pickled_references(bytes(data))
            except UnsafePickleError as err:
                raise UnsafePickleError(f"{self.path}: {err}") from err
        if kind == "vlen-bytes":
            return numcodecs.VLenBytes().decode(data)
        if kind == "vlen-utf8":
            return numcodecs.VLenUTF8().decode(data)
        if kind == "json2":
            return numcodecs.JSON().decode(data)
        raise LayoutError(f"{self.path}: unsupported v2 filter {kind!r}.")

    def load(self) -> Any:
        values = self._values()
        if self.squeeze:
            return values.reshape(-1)[0]
        return values[()] if values.ndim == 0 else values

    def lazy(self) -> Any:
        if self.is_object or self.unsupported:
            values = self._values()
            return da.from_array(values, chunks=values.shape or ())
        return as_dask(self._zarr(), f"{self.identity}{self.path}")

    def __repr__(self) -> str:
        return f"<v2 stored array {self.path} shape={self.shape} dtype={self.dtype}>"


def read_tree_v2(store: Any, identity: str) -> tuple[GroupNode, bool] | None:
    """The node tree of a v2 store and whether its metadata was consolidated; None if it is not v2."""
    found = read_metadata(store)
    if found is None:
        return None
    documents, consolidated = found
    groups = sorted({k[: -len(".zgroup")].rstrip("/") for k in documents if k.endswith(".zgroup")},
                    key=lambda p: p.count("/"))
    arrays = sorted(k[: -len(".zarray")].rstrip("/") for k in documents if k.endswith(".zarray"))
    if "" not in groups:
        raise LayoutError(f"{identity}: no root group (.zgroup); expected an NWB Zarr file.")

    def attrs_of(path: str) -> dict[str, Any]:
        found = documents.get(f"{path}/.zattrs" if path else ".zattrs")
        return dict(found) if isinstance(found, dict) else {}

    tree = group_node("", attrs_of(""))
    nodes: dict[str, GroupNode] = {"": tree}
    for path in groups[1:]:
        parent, _, name = path.rpartition("/")
        if parent in nodes and safe_name(name):
            nodes[path] = group_node(name, attrs_of(path))
            nodes[parent].children[name] = nodes[path]
    for path in arrays:
        parent, _, name = path.rpartition("/")
        meta = documents.get(f"{path}/.zarray")
        if parent not in nodes or not isinstance(meta, dict) or not safe_name(name):
            continue
        attrs = attrs_of(path)
        nodes[parent].children[name] = array_node(
            name, attrs, lambda squeeze, p=path, m=meta, a=attrs: V2StoredArray(store, p, m, a, identity, squeeze),
            tuple(meta["shape"]))
    return tree, consolidated
