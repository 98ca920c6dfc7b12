"""Read the metadata of a Zarr store into node descriptions; values stay in the store until used."""

from __future__ import annotations

import math
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
from nwbzarr_image.storage.guard import guard
from nwbzarr_image.storage.lazy import as_dask, named, read_errors, refused
from nwbzarr_image.storage.store_guard import check_group_depth, check_key
from nwbzarr_image.storage.zarr_compat import list_keys, run

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
