"""Stores that read nothing outside themselves, and no metadata document beyond the limits.

Every key a read asks for is checked first: an absolute key, a key with ``.``/``..`` segments (also
percent-encoded, as an HTTP server would decode them), a backslash or a NUL byte is our LayoutError. On a local
disk, a key whose file or directory is a symbolic link resolving outside the store's directory is refused too.
Metadata documents (``zarr.json``, ``.zarray``, ``.zgroup``, ``.zattrs``, ``.zmetadata``) are read at most
``max_metadata_bytes`` long and their JSON nesting is checked before any parser sees them.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import unquote

import numpy as np
from zarr.abc.buffer import Buffer, BufferPrototype
from zarr.abc.store import ByteRequest, RangeByteRequest
from zarr.buffer import default_buffer_prototype
from zarr.storage import FsspecStore, LocalStore, WrapperStore

from nwbzarr_image.errors import LayoutError
from nwbzarr_image.limits import get_limits

__all__ = ["GuardedFsspecStore", "GuardedLocalStore", "GuardedStore", "check_document", "check_key", "guarded",
           "json_depth"]

DOCUMENTS = {"zarr.json", ".zarray", ".zgroup", ".zattrs", ".zmetadata"}
_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BLOCK = 1 << 20


def check_key(key: str, where: str) -> None:
    """Our LayoutError if ``key`` would leave the store (absolute, ``..``, backslash, NUL), decoded or not."""
    for form in {key, unquote(key), unquote(unquote(key))}:
        parts = form.split("/")
        if form.startswith("/") or "\\" in form or "\x00" in form or any(p in (".", "..") for p in parts):
            raise LayoutError(f"{where}: the file asks for the key {key!r}, which leaves the store; expected a "
                              "relative key inside it. The file's metadata is damaged or hostile; nothing outside "
                              "the store is read.")


def json_depth(raw: bytes) -> int:
    """The nesting depth of the arrays and objects of a JSON text, without parsing it (no recursion)."""
    text = _STRING.sub(b'""', raw)
    depth, deepest = 0, 0
    for start in range(0, len(text), _BLOCK):
        block = np.frombuffer(text[start:start + _BLOCK], dtype=np.uint8)
        step = ((block == 0x5B) | (block == 0x7B)).astype(np.int32) - ((block == 0x5D) | (block == 0x7D))
        running = np.cumsum(step) + depth
        if running.size:
            deepest = max(deepest, int(running.max()))
            depth = int(running[-1])
    return deepest


def check_document(key: str, raw: bytes, where: str) -> None:
    """Our LayoutError if a metadata document is longer or nested deeper than the limits."""
    limits = get_limits()
    if len(raw) > limits.max_metadata_bytes:
        raise LayoutError(f"{where}: the metadata document {key!r} is over {limits.max_metadata_bytes} bytes; "
                          "expected at most max_metadata_bytes. The file is damaged or hostile; if it is real, "
                          "raise the limit (NWBZARR_IMAGE_MAX_METADATA_BYTES).")
    depth = json_depth(raw)
    if depth > limits.max_json_depth:
        raise LayoutError(f"{where}: the metadata document {key!r} nests {depth} levels deep; expected at most "
                          f"max_json_depth={limits.max_json_depth}. The file is damaged or hostile; if it is "
                          "real, raise the limit (NWBZARR_IMAGE_MAX_JSON_DEPTH).")
    if key.endswith(".zmetadata") or b'"consolidated_metadata"' in raw:
        paths = _consolidated_paths(raw)
        check_group_depth(paths, where)
        for path in paths:
            check_key(path, where)


def _consolidated_paths(raw: bytes) -> list[str]:
    """The node paths a consolidated document lists (v3 root ``zarr.json`` or v2 ``.zmetadata``)."""
    try:
        doc = json.loads(raw)  # safe: the nesting was checked above
    except ValueError:
        return []  # zarr reports the broken document
    found = (doc.get("consolidated_metadata") or {}).get("metadata") if isinstance(doc, dict) else None
    if found is None and isinstance(doc, dict):
        found = doc.get("metadata")
    return [str(k) for k in found] if isinstance(found, dict) else []


def check_group_depth(paths: Iterable[str], where: str) -> None:
    """Our LayoutError if a node path is nested deeper than ``max_group_depth``."""
    limit = get_limits().max_group_depth
    deepest = max((p.strip("/").count("/") + 1 for p in paths), default=0)
    if deepest > limit:
        raise LayoutError(f"{where}: the file nests groups {deepest} deep; expected at most max_group_depth={limit}. "
                          "The file is damaged or hostile; if it is real, raise the limit "
                          "(NWBZARR_IMAGE_MAX_GROUP_DEPTH).")


def _is_document(key: str) -> bool:
    return key.rsplit("/", 1)[-1] in DOCUMENTS


class _Guard:
    """The checks shared by the guarded stores (``_inside`` adds the local symlink check)."""

    def _inside(self, key: str) -> None:
        check_key(key, str(self))

    def _document_range(self, key: str, byte_range: ByteRequest | None) -> ByteRequest | None:
        if byte_range is None and _is_document(key):
            return RangeByteRequest(0, get_limits().max_metadata_bytes + 1)
        return byte_range

    def _checked(self, key: str, found: Buffer | None, byte_range: ByteRequest | None) -> Buffer | None:
        if found is not None and byte_range is None and _is_document(key):
            check_document(key, found.to_bytes(), str(self))
        return found

    async def get(self, key: str, prototype: BufferPrototype | None = None,
                  byte_range: ByteRequest | None = None) -> Buffer | None:
        self._inside(key)
        found = await super().get(key, prototype or default_buffer_prototype(),  # type: ignore[misc]
                                  self._document_range(key, byte_range))
        return self._checked(key, found, byte_range)

    def get_sync(self, key: str, *, prototype: BufferPrototype | None = None,
                 byte_range: ByteRequest | None = None) -> Buffer | None:
        self._inside(key)
        found = super().get_sync(key, prototype=prototype,  # type: ignore[misc]
                                 byte_range=self._document_range(key, byte_range))
        return self._checked(key, found, byte_range)

    async def get_partial_values(self, prototype: BufferPrototype,
                                 key_ranges: Iterable[tuple[str, ByteRequest | None]]) -> list[Buffer | None]:
        pairs = list(key_ranges)
        for key, _ in pairs:
            self._inside(key)
        return [self._checked(key, found, byte_range) for (key, byte_range), found in zip(
            pairs, await super().get_partial_values(prototype, pairs), strict=True)]  # type: ignore[misc]

    async def exists(self, key: str) -> bool:
        self._inside(key)
        return bool(await super().exists(key))  # type: ignore[misc]


class GuardedLocalStore(_Guard, LocalStore):
    """A LocalStore that refuses keys leaving it, and symbolic links resolving outside its directory."""

    def _inside(self, key: str) -> None:
        check_key(key, str(self))
        root = getattr(self, "_real_root", None)
        if root is None:
            root = self._real_root = os.path.realpath(self.root)
        target = os.path.realpath(os.path.join(root, key))
        if target != root and not target.startswith(root.rstrip(os.sep) + os.sep):
            raise LayoutError(f"{self.root}: {key} is a symbolic link to {target}, outside the store's directory "
                              f"{root}; expected a file inside it. Links out of a store are never followed; copy "
                              "the data into the store instead.")


class GuardedFsspecStore(_Guard, FsspecStore):
    """An FsspecStore that refuses keys leaving it (after percent-decoding, as servers do)."""


class GuardedStore(_Guard, WrapperStore):
    """Any zarr store, wrapped with the key and document checks."""

    def get_ranges(self, key: str, byte_ranges: Any, **kwargs: Any) -> Any:
        self._inside(key)
        return super().get_ranges(key, byte_ranges, **kwargs)

    def __str__(self) -> str:
        return str(self._store)


def guarded(store: Any) -> Any:
    """``store`` with the checks: zarr's local and fsspec stores as their guarded subclasses, others wrapped."""
    if isinstance(store, _Guard):
        return store
    if type(store) is LocalStore:
        return GuardedLocalStore(store.root, read_only=store.read_only)
    if type(store) is FsspecStore:
        return GuardedFsspecStore(fs=store.fs, path=store.path, read_only=store.read_only,
                                  allowed_exceptions=store.allowed_exceptions)
    return GuardedStore(store)
