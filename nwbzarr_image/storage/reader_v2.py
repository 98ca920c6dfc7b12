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

from nwbzarr_image.errors import CorruptDataError, LayoutError
from nwbzarr_image.layout.nodes import GroupNode
from nwbzarr_image.limits import get_limits
from nwbzarr_image.model.record import ArrayRecord
from nwbzarr_image.storage.bounded import (
    ARRAY_FILTERS,
    COMPRESSORS,
    NO_GROWTH,
    BoundedNumcodec,
    check_codec_id,
)
from nwbzarr_image.storage.guard import check_declared
from nwbzarr_image.storage.lazy import as_dask, named, read_errors, refused
from nwbzarr_image.storage.reader import array_node, check_load, group_node, safe_name
from nwbzarr_image.storage.store_guard import check_group_depth, check_key, json_depth
from nwbzarr_image.storage.zarr_compat import get_bytes, list_keys, v2_array

SAFE_OBJECT_FILTERS = {"vlen-utf8", "vlen-bytes", "json2", "pickle"}  # pickle: our restricted decoder only


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

    def _check(self) -> None:
        """Our LayoutError naming the node for a codec we do not decode or a size beyond the limits."""
        if self.unsupported:
            raise LayoutError(f"{self.path}: cannot decode a v2 {self.unsupported}; expected numeric, text, "
                              "vlen-bytes, json2 or pickled references.")
        compressor = self.meta.get("compressor")
        if compressor is not None:
            check_codec_id(compressor.get("id") if isinstance(compressor, dict) else compressor, self.path,
                           COMPRESSORS)
        allowed = SAFE_OBJECT_FILTERS if self.is_object else ARRAY_FILTERS | NO_GROWTH
        for spec in self.meta.get("filters") or []:
            codec_id = spec.get("id") if isinstance(spec, dict) else spec
            if not (self.is_object and codec_id == "pickle"):  # decoded by our restricted decoder, never unpickled
                check_codec_id(codec_id, self.path, allowed)
        shape, chunks = tuple(self.meta["shape"]), tuple(self.meta.get("chunks") or ())
        check_declared(self.path, shape, chunks, 8 if self.is_object else self.dtype.itemsize)

    def _bound(self) -> int:
        """The most bytes the compressor may decode one chunk into."""
        if self.is_object or self.meta.get("filters"):
            return get_limits().max_chunk_bytes
        return math.prod(self.meta["chunks"]) * self.dtype.itemsize

    def _compressor(self) -> Any:
        config = self.meta.get("compressor")
        return BoundedNumcodec(numcodecs.get_codec(dict(config)), self._bound(), "") if config else None

    def _zarr(self) -> zarr.Array:
        self._check()
        return v2_array(self.store, self.key, dict(self.meta, attributes=self.attrs, compressor=self._compressor()))

    def _values(self) -> np.ndarray:
        self._check()
        check_load(self.path, self.shape, self.dtype)
        with read_errors(f"{self.identity}{self.path}", self.path), named(self.path):
            if not self.is_object:
                return np.asarray(self._zarr()[...])
            return self._decode_objects()

    def _decode_objects(self) -> np.ndarray:
        shape, chunks = tuple(self.meta["shape"]), tuple(self.meta["chunks"])
        out = np.empty(shape, dtype=object)
        separator = self.meta.get("dimension_separator") or "."
        compressor = self._compressor()
        grid = [range(math.ceil(n / c)) if n else range(0) for n, c in zip(shape, chunks, strict=True)]
        for index in itertools.product(*grid):
            key = f"{self.key}/{separator.join(map(str, index))}" if index else f"{self.key}/0"
            raw = get_bytes(self.store, key)
            if raw is None:
                continue
            data: Any = compressor.decode(raw) if compressor is not None else raw
            for spec in reversed(self.meta.get("filters") or []):
                data = self._filter(spec, data, math.prod(chunks))
            block = np.asarray(data, dtype=object).reshape(-1)[: math.prod(chunks)]
            region = tuple(slice(i * c, min((i + 1) * c, n)) for i, c, n in zip(index, chunks, shape, strict=True))
            size = math.prod(r.stop - r.start for r in region)
            block = np.resize(block, math.prod(chunks)).reshape(chunks)
            out[region] = block[tuple(slice(0, r.stop - r.start) for r in region)] if size else block
        return out

    def _filter(self, spec: dict[str, Any], data: Any, items: int) -> Any:
        kind = spec.get("id")
        if kind == "pickle":
            from nwbzarr_image.storage.safe_pickle import UnsafePickleError, decode_pickled_references

            try:
                return decode_pickled_references(bytes(data), max_items=items)
            except UnsafePickleError as err:
                raise UnsafePickleError(f"{self.path}: {err}") from err
        raw = bytes(data)
        if kind in ("vlen-bytes", "vlen-utf8"):
            claimed = int.from_bytes(raw[:4], "little") if len(raw) >= 4 else -1
            if claimed != items or 4 + 4 * claimed > len(raw):
                raise CorruptDataError(f"{self.path}: a chunk of {kind} items claims {claimed} items in {len(raw)} "
                                       f"bytes; expected {items} (the chunk's shape). The chunk is damaged or hostile.")
            return (numcodecs.VLenBytes() if kind == "vlen-bytes" else numcodecs.VLenUTF8()).decode(raw)
        if kind == "json2":
            return self._json_items(raw, items)
        raise LayoutError(f"{self.path}: unsupported v2 filter {kind!r}.")

    def _json_items(self, raw: bytes, items: int) -> np.ndarray:
        """numcodecs' JSON filter, with the nesting and the declared shape checked before anything is built."""
        depth, limit = json_depth(raw), get_limits().max_json_depth
        if depth > limit:
            raise CorruptDataError(f"{self.path}: a json2 chunk nests {depth} levels deep; expected at most "
                                   f"max_json_depth={limit}. The chunk is damaged or hostile.")
        try:
            decoded = json.loads(raw)
            values, shape = decoded[:-2], tuple(int(n) for n in decoded[-1])
        except (ValueError, TypeError, IndexError) as err:
            raise CorruptDataError(f"{self.path}: a json2 chunk is not numcodecs' JSON list ({err}).") from err
        if math.prod(shape) != len(values) or len(values) > items:
            raise CorruptDataError(f"{self.path}: a json2 chunk declares shape {shape} for {len(values)} values; "
                                   f"expected at most {items} (the chunk's shape). The chunk is damaged or hostile.")
        out = np.empty(len(values), dtype=object)
        for i, value in enumerate(values):
            out[i] = value
        return out.reshape(shape)

    def load(self) -> Any:
        values = self._values()
        if self.squeeze:
            return values.reshape(-1)[0]
        return values[()] if values.ndim == 0 else values

    def lazy(self) -> Any:
        try:
            self._check()
        except LayoutError as err:
            return refused(self.shape, self.dtype, err)
        if self.is_object or self.unsupported:
            values = self._values()
            return da.from_array(values, chunks=values.shape or ())
        return as_dask(self._zarr(), f"{self.identity}{self.path}")

    def record(self) -> ArrayRecord:
        codecs = tuple(dict(c) for c in (*(self.meta.get("filters") or ()), self.meta.get("compressor")) if c)
        dtype = "str" if self.is_object else str(self.dtype)
        return ArrayRecord(self.path, self.shape, dtype, tuple(self.meta["chunks"]), None, codecs,
                           self.meta.get("fill_value"), "v2", self.meta.get("dimension_separator") or ".")

    def __repr__(self) -> str:
        return f"<v2 stored array {self.path} shape={self.shape} dtype={self.dtype}>"


def read_tree_v2(store: Any, identity: str) -> tuple[GroupNode, bool] | None:
    """The node tree of a v2 store and whether its metadata was consolidated; None if it is not v2."""
    found = read_metadata(store)
    if found is None:
        return None
    documents, consolidated = found
    check_group_depth(documents, identity)
    for key in documents:
        check_key(key, identity)  # keys of .zmetadata may say anything: none may leave the store
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
