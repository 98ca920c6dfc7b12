"""Read the metadata of a Zarr store into node descriptions; values stay in the store until used."""

from __future__ import annotations

import json
import math
import os
from typing import Any, Literal

import numpy as np
import zarr
from fsspec.implementations.local import LocalFileSystem
from fsspec.implementations.memory import MemoryFileSystem
from zarr.abc.store import Store
from zarr.storage import LocalStore, MemoryStore

from nwbzarr_image.errors import LayoutError
from nwbzarr_image.layout.nodes import ArrayNode, GroupNode, Link
from nwbzarr_image.limits import get_limits
from nwbzarr_image.model.record import ArrayRecord
from nwbzarr_image.storage.direct_source import ChunkSource
from nwbzarr_image.storage.guard import check_declared, guard
from nwbzarr_image.storage.lazy import as_dask, as_dask_deferred, named, read_errors, refused
from nwbzarr_image.storage.store_guard import check_group_depth, check_key
from nwbzarr_image.storage.zarr_compat import get_bytes, list_keys, run, v3_array, v3_group

RESERVED = {"_LINKS", "zarr_link", "_DTYPE", "zarr_dtype"}
# extra field of a 0-d array's consolidated metadata: the array has no stored chunk, its value is its fill value
# (see storage/consolidate.py; never in the array's own zarr.json)
VALUE_IN_FILL = "nwbzarr_image_value_in_fill"


class ZarrStoredArray:
    """A zarr array seen by the decoder: shape and dtype now, values on demand (see ``StoredArray``)."""

    def __init__(self, array: Any, identity: str, squeeze: bool = False, strict: bool = False) -> None:
        self.strict = strict
        self.identity = identity
        self.squeeze = squeeze
        self.shape = () if squeeze else tuple(array.shape)
        self.dtype = array.dtype
        self.path = "/" + array.path
        self._guard(array)

    def _guard(self, array: Any) -> None:
        self.problem: LayoutError | None = None
        try:
            self.array = guard(array, self.path)
        except LayoutError as err:  # raised when the values are used: the rest of the file reads
            self.array, self.problem = array, err

    def _checked(self) -> Any:
        if self.problem is not None:
            raise self.problem
        return self.array

    def load(self) -> Any:
        array = self._checked()
        if array.ndim == 0:
            known = metadata_value(array)
            if known is not None:
                return known
        check_load(self.path, self.shape, array.dtype)
        with read_errors(self.identity, self.path), named(self.path):
            value = array[...]
        if self.squeeze:
            value = value.reshape(-1)[0]
        elif isinstance(value, np.ndarray) and value.ndim == 0:
            value = value[()]
        return value

    def lazy(self) -> Any:
        if self.problem is not None:
            return refused(self.shape, self.dtype, self.problem)
        source = ChunkSource(self.array, strict=self.strict, url=self.identity)
        return as_dask(self.array, self.identity, self.strict, source)

    def record(self) -> ArrayRecord:
        return array_record(self.array, self.path, self.shape)

    def __repr__(self) -> str:
        return f"<stored array {self.path} shape={self.shape} dtype={self.dtype}>"


class MetadataStoredArray(ZarrStoredArray):
    """An array known from the consolidated metadata: shape and dtype from its JSON entry, and the zarr array
    (with its codecs checked) made on first use, so opening a file of many arrays builds none of them."""

    def __init__(self, store: Any, path: str, entry: dict[str, Any], dtype: Any, identity: str,
                 squeeze: bool = False, strict: bool = False) -> None:
        self.strict = strict
        self.identity = identity
        self.squeeze = squeeze
        self.shape = () if squeeze else tuple(entry["shape"])
        self.dtype = dtype
        self.path = "/" + path
        self._make: tuple[Any, str, dict[str, Any]] | None = (store, path, entry)
        self._array: Any = None
        self._problem: LayoutError | None = None

    def _made(self) -> None:
        """Make the zarr array (and check its codecs) on first use."""
        if self._make is not None:
            store, path, entry = self._make
            self._make = None
            self._guard(v3_array(store, path, entry))

    @property
    def array(self) -> Any:
        self._made()
        return self._array

    @array.setter
    def array(self, value: Any) -> None:
        self._array = value

    @property
    def problem(self) -> LayoutError | None:
        self._made()
        return self._problem

    @problem.setter
    def problem(self, value: LayoutError | None) -> None:
        self._problem = value

    def record(self) -> ArrayRecord:
        made = self._make
        record = _json_record(made[2], self.path, self.shape, self.dtype) if made is not None else None
        return record if record is not None else super().record()

    def lazy(self) -> Any:
        made = self._make
        chunks = _grid(made[2]) if made is not None and self.shape else None
        if made is None or chunks is None or getattr(made[0], "dask_plan", None) is not None:
            return super().lazy()
        itemsize = getattr(self.dtype, "itemsize", 0) or 8
        try:  # the guard's checks of declared sizes, before any graph is built from them
            check_declared(self.path, self.shape, chunks, int(itemsize))
        except LayoutError as err:
            return refused(self.shape, self.dtype, err)
        return as_dask_deferred(DeferredSource(self), self.shape, self.dtype, chunks, self.identity, self.strict)


def _grid(entry: dict[str, Any]) -> tuple[int, ...] | None:
    """The unit of one task from an array's JSON: its chunk grid (the shard shape when sharded), if regular."""
    grid = entry.get("chunk_grid")
    shape = grid.get("configuration", {}).get("chunk_shape") if isinstance(grid, dict) else None
    if not isinstance(grid, dict) or grid.get("name") != "regular" or not isinstance(shape, list) or not all(
            isinstance(n, int) and not isinstance(n, bool) and n > 0 for n in shape) or len(shape) != len(
            entry["shape"]):
        return None
    return tuple(shape)


def _json_record(entry: dict[str, Any], path: str, shape: tuple[int, ...], dtype: Any) -> ArrayRecord | None:
    """:func:`array_record` from an array's JSON entry (zarr wrote it: the same dicts), or None if unusual."""
    grid, codecs = _grid(entry), entry.get("codecs")
    if grid is None or not isinstance(codecs, list) or not all(isinstance(c, dict) for c in codecs) or not codecs:
        return None
    chunks, shards = grid, None
    if codecs[0].get("name") == "sharding_indexed":
        inner = codecs[0].get("configuration", {}).get("chunk_shape")
        if not isinstance(inner, list):
            return None
        chunks, shards = tuple(inner), grid
    encoding = entry.get("chunk_key_encoding", {"name": "default"})
    if not isinstance(encoding, dict) or encoding.get("name") not in ("default", "v2"):
        return None
    separator = (encoding.get("configuration") or {}).get("separator") or (
        "/" if encoding["name"] == "default" else ".")
    name = "str" if dtype.kind in "OTU" else str(dtype)
    return ArrayRecord(path, shape, name, chunks, shards, tuple(codecs), entry.get("fill_value"), encoding["name"],
                       separator)


class DeferredSource(ChunkSource):
    """The dask source of a :class:`MetadataStoredArray`: a ChunkSource whose zarr array is made on first use
    (pickled, it is a plain ChunkSource of that array)."""

    def __init__(self, stored: MetadataStoredArray) -> None:  # no array yet: ZarrSource.__init__ needs one
        self.stored = stored
        self.strict, self.url = stored.strict, stored.identity
        self.shape, self.dtype, self.ndim = stored.shape, stored.dtype, len(stored.shape)
        self._blob: bytes | None = None
        self.pid = os.getpid()

    @property
    def array(self) -> Any:
        if self.stored.problem is not None:  # a codec or a size beyond the limits: reading raises
            raise self.stored.problem
        return self.stored.array

    def selected_shape(self, key: Any) -> tuple[int, ...] | None:
        return None if self.stored.problem is not None else super().selected_shape(key)

    def __reduce__(self) -> Any:
        plain = ChunkSource(self.array, self.blob(), self.pid, self.strict, self.url)
        return plain.__reduce__()


def check_load(where: str, shape: tuple[int, ...], dtype: Any) -> None:
    """Our LayoutError if reading an array whole would decode more than max_load_bytes."""
    kind, itemsize = getattr(dtype, "kind", "O"), int(getattr(dtype, "itemsize", 0) or 0)
    size = math.prod(shape) * (8 if kind in "OT" or not itemsize else itemsize)
    limit = get_limits().max_load_bytes
    if size > limit:
        raise LayoutError(f"{where}: reading it whole takes {size} bytes; expected at most max_load_bytes={limit}. "
                          "The file is damaged or hostile; if it is real, raise the limit "
                          "(nwbzarr_image.limits.set_limits or NWBZARR_IMAGE_MAX_LOAD_BYTES).")


def array_record(array: Any, path: str, shape: tuple[int, ...]) -> ArrayRecord:
    """The declared storage facts of a zarr array, from its metadata alone (no request)."""
    meta = array.metadata
    if meta.zarr_format == 3:
        codecs = tuple(c.to_dict() for c in meta.codecs)
        shards = tuple(array.shards) if array.shards else None
        fill = meta.to_dict().get("fill_value")
    else:
        codecs = tuple(c.get_config() for c in (*(meta.filters or ()), meta.compressor) if c is not None)
        shards, fill = None, meta.fill_value
    dtype = "str" if array.dtype.kind in "OTU" else str(array.dtype)
    encoding = getattr(meta, "chunk_key_encoding", None)
    name = getattr(encoding, "name", "v2") if meta.zarr_format == 3 else "v2"
    separator = getattr(encoding, "separator", None) or getattr(meta, "dimension_separator", None) or "."
    return ArrayRecord(path, shape, dtype, tuple(array.chunks), shards, codecs, fill, name, separator)


def stored_keys(store: Any, prefix: str) -> set[str]:
    """The keys under ``prefix`` in ``store`` (one listing)."""
    return set(list_keys(store, prefix))


def stored_bytes(store: Any, prefix: str) -> int:
    """The bytes stored under ``prefix`` in ``store``."""
    return int(run(store.getsize_prefix(prefix)))


def metadata_value(array: Any) -> Any:
    """The value of a 0-d array when its metadata holds it, else None (no request either way).

    Our writer stores each scalar as the array's fill value, with no chunk, and marks it so in the consolidated
    metadata (``VALUE_IN_FILL``) after checking that the store holds no chunk for it. Only a marked array is
    taken from its fill value; any other (a foreign file, a file re-consolidated after another writer stored a
    chunk, a file opened without consolidated metadata) is read from its chunk. On a local disk or in memory,
    where looking costs no request, a marked array is taken from its fill value only while it still has no chunk
    (a chunk stored later by another writer, without re-consolidating, is then read).
    """
    meta = array.metadata
    if getattr(meta, "zarr_format", 2) != 3 or VALUE_IN_FILL not in (getattr(meta, "extra_fields", None) or {}):
        return None
    store = array.store_path.store
    if _is_local(store) and run(store.exists(f"{array.store_path.path}/{meta.encode_chunk_key(())}".lstrip("/"))):
        return None
    fill = meta.fill_value
    return fill.item() if hasattr(fill, "item") else fill


def _is_local(store: Any) -> bool:
    """A store where looking costs no request: the local disk or memory (zarr's stores, fsspec's, or a wrapper
    of one)."""
    while isinstance(getattr(store, "_store", None), Store):  # WrapperStore
        store = store._store
    if isinstance(store, (LocalStore, MemoryStore)):
        return True
    fs = getattr(store, "fs", None)
    return isinstance(fs, (LocalFileSystem, MemoryFileSystem)) or isinstance(getattr(fs, "sync_fs", None), (
        LocalFileSystem, MemoryFileSystem))


def open_root(store: Any, *, consolidated: bool | None = None, mode: Literal["r", "r+"] = "r") -> zarr.Group:
    """Open the root group of a Zarr format 3 file (one request when its metadata is consolidated)."""
    return zarr.open_group(store, mode=mode, use_consolidated=consolidated, zarr_format=3)


def root_document(store: Any) -> dict[str, Any] | None:
    """The root ``zarr.json`` of a Zarr format 3 group (one request); None when it is of another kind (zarr
    then reads it again and says what is wrong). No ``zarr.json`` at all raises ``GroupNotFoundError``."""
    raw = get_bytes(store, "zarr.json")
    if raw is None:
        raise zarr.errors.GroupNotFoundError(store, "")
    document = json.loads(raw)
    if not isinstance(document, dict) or document.get("zarr_format") != 3 or document.get("node_type") != "group":
        return None
    return document


def root_group(store: Any, document: dict[str, Any]) -> zarr.Group:
    """The root group from its document already read (no second request)."""
    return v3_group(store, document)


def is_consolidated(root: zarr.Group) -> bool:
    return root.metadata.consolidated_metadata is not None


def read_tree(root: zarr.Group, identity: str, strict: bool = False) -> GroupNode:
    """The whole node tree, from the root's (consolidated) metadata: no chunk is read."""
    tree = _group_node("", root)
    nodes: dict[str, GroupNode] = {"": tree}
    prefix = f"{root.path}/" if root.path else ""
    members = list(root.members(max_depth=get_limits().max_group_depth))  # deeper nodes are never listed
    check_group_depth([path for path, _ in members], identity)
    for path, _ in members:
        check_key(path, identity)  # a consolidated key may say anything: none may leave the store
    for path, member in sorted(members, key=lambda item: item[0].count("/")):
        parent_path, _, name = path.rpartition("/")
        parent = nodes.get(parent_path)
        if parent is None or not safe_name(name):
            continue
        if isinstance(member, zarr.Group):
            node = _group_node(name, member)
            nodes[path] = node
            parent.children[name] = node
        else:
            parent.children[name] = _array_node(name, member, f"{identity}/{prefix}{path}", strict)
    return tree


# data types whose numpy dtype the JSON names (what zarr's array.dtype gives); any other makes the reader use zarr
_JSON_DTYPES: dict[str, Any] = {name: np.dtype(name) for name in (
    "bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64", "float16", "float32",
    "float64", "complex64", "complex128")}
_JSON_DTYPES["string"] = np.dtypes.StringDType()


def read_tree_json(store: Any, root: dict[str, Any], identity: str, strict: bool = False) -> GroupNode | None:
    """The node tree from a root ``zarr.json`` document with consolidated metadata, without building a zarr
    object per node; None when an entry is not of the plain kinds this covers (zarr then reads the file)."""
    consolidated = root.get("consolidated_metadata")
    entries = consolidated.get("metadata") if isinstance(consolidated, dict) else None
    if root.get("zarr_format") != 3 or root.get("node_type") != "group" or not isinstance(entries, dict):
        return None
    attrs = _plain_attrs(root)
    if attrs is None:
        return None
    if not all(isinstance(path, str) and isinstance(entry, dict) and entry.get("zarr_format") == 3 and all(
            safe_name(part) and not part.startswith("__") for part in path.split("/"))
            for path, entry in entries.items()):
        return None  # anything unusual is zarr's to read (and to refuse)
    check_group_depth(entries, identity)
    for path in entries:
        check_key(path, identity)  # a consolidated key may say anything: none may leave the store
    tree = group_node("", attrs)
    nodes: dict[str, GroupNode] = {"": tree}
    for path in sorted(entries, key=lambda p: p.count("/")):
        entry = entries[path]
        parent_path, _, name = path.rpartition("/")
        parent = nodes.get(parent_path)
        if parent is None or not safe_name(name):
            continue
        kind, attrs = entry.get("node_type"), _plain_attrs(entry)
        if attrs is None:
            return None
        if kind == "group":
            nested = entry.get("consolidated_metadata")
            if isinstance(nested, dict) and nested.get("metadata"):
                return None  # the root's flat listing is zarr-python's layout; anything else is zarr's to read
            nodes[path] = parent.children[name] = group_node(name, attrs)
            continue
        shape, data_type = entry.get("shape"), entry.get("data_type")
        dtype = _JSON_DTYPES.get(data_type) if isinstance(data_type, str) else None
        if kind != "array" or dtype is None or not isinstance(shape, list) or not all(
                isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in shape):
            return None
        parent.children[name] = array_node(
            name, attrs,
            lambda squeeze, p=path, e=entry, d=dtype: MetadataStoredArray(store, p, e, d, f"{identity}/{p}",
                                                                          squeeze, strict),
            tuple(shape))
    return tree


def _plain_attrs(entry: dict[str, Any]) -> dict[str, Any] | None:
    attrs = entry.get("attributes", {})
    return dict(attrs) if isinstance(attrs, dict) else None


def safe_name(name: str) -> bool:
    """A node name from a file that can be written back without leaving the store."""
    return bool(name) and name not in (".", "..") and "\\" not in name and "\x00" not in name


def _attrs(node: Any) -> dict[str, Any]:
    return dict(node.attrs.asdict()) if hasattr(node.attrs, "asdict") else dict(node.attrs)


def _group_node(name: str, group: zarr.Group) -> GroupNode:
    return group_node(name, _attrs(group))


def group_node(name: str, attrs: dict[str, Any]) -> GroupNode:
    """A group's node from its attributes: links (``_LINKS`` or v2 ``zarr_link``) apart from the rest."""
    raw_links = attrs.get("_LINKS", attrs.get("zarr_link", [])) or []
    links = [Link(str(item.get("name")), str(item.get("path", "")), str(item.get("source", ".")))
             for item in raw_links if isinstance(item, dict)]
    return GroupNode(name, {k: v for k, v in attrs.items() if k not in RESERVED}, links)


def _array_node(name: str, array: Any, identity: str, strict: bool) -> ArrayNode:
    attrs = _attrs(array)
    return array_node(name, attrs, lambda squeeze: ZarrStoredArray(array, identity, squeeze, strict),
                      tuple(array.shape))


def array_node(name: str, attrs: dict[str, Any], stored: Any, shape: tuple[int, ...]) -> ArrayNode:
    """An array's node: ``_DTYPE`` (v2: ``zarr_dtype``) apart; a v2 ``(1,)`` scalar is seen as 0-d."""
    dtype = attrs.get("_DTYPE", attrs.get("zarr_dtype", ""))
    squeeze = dtype == "scalar" and shape == (1,)
    if not isinstance(dtype, str):
        dtype = "compound"
    return ArrayNode(name, stored(squeeze), dtype, {k: v for k, v in attrs.items() if k not in RESERVED})


def read_subtree(store: Any, path: str, identity: str) -> GroupNode | None:
    """The node tree of one group read from the store itself, bypassing consolidated metadata; None if the
    store has no group there."""
    try:
        group = zarr.open_group(store, path=path.strip("/"), mode="r", use_consolidated=False, zarr_format=3)
    except (FileNotFoundError, zarr.errors.GroupNotFoundError, zarr.errors.NodeTypeValidationError):
        return None
    node = read_tree(group, identity)
    node.name = path.rstrip("/").rsplit("/", 1)[-1]
    return node
