"""A disk cache of the views of remote HDF5 files (documents, chunk sources and binary chunk tables), keyed by
URL + size + ETag / Last-Modified, so that a second open of the same file costs one request.

Stored as one ``.npz`` per file (numpy arrays and JSON text, never pickle). ``NWBZARR_IMAGE_CACHE`` names the
directory; ``off`` disables the cache.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from nwbzarr_image.hdf5.index import TABLE_DTYPE, ChunkTable
from nwbzarr_image.hdf5.view import ArraySource, View
from nwbzarr_image.hdf5.walk import Filter

VERSION = 1
VERSION_FIELDS = ("ETag", "etag", "Last-Modified", "LastModified", "mtime", "last_modified", "generation")


def directory() -> Path | None:
    setting = os.environ.get("NWBZARR_IMAGE_CACHE", "")
    if setting.lower() in ("off", "0", "none", "false"):
        return None
    if setting:
        return Path(setting)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "nwbzarr_image" / "hdf5"


def key_of(url: str, info: dict[str, Any]) -> str | None:
    """The cache key of a remote file, or None when the server tells no version (then nothing is cached)."""
    version = next((str(info[f]) for f in VERSION_FIELDS if info.get(f)), None)
    if version is None or not info.get("size"):
        return None
    return hashlib.sha256(json.dumps([VERSION, url, int(info["size"]), version]).encode()).hexdigest()[:40]


def _path(key: str) -> Path | None:
    folder = directory()
    return None if folder is None else folder / f"{key}.npz"


LOOKED_UP_DTYPE = np.dtype([("linear", "<u8"), ("offset", "<u8"), ("size", "<u4"), ("mask", "<u4")])
LookedUp = dict[str, dict[int, tuple[int, int, int]]]  # by array key: chunks looked up one by one, by linear index


def save(key: str, view: View, tables: dict[str, ChunkTable], looked_up: LookedUp | None = None) -> None:
    """Write the view, the listed chunk tables and the chunks looked up without a listing (remote frame reads
    look up only the chunks they need)."""
    path = _path(key)
    if path is None:
        return
    keys = sorted(view.entries)
    blob = b"".join(view.entries[k] for k in keys)
    ends = np.cumsum([len(view.entries[k]) for k in keys], dtype=np.int64)
    table_keys = sorted(tables)
    partial = sorted(k for k, v in (looked_up or {}).items() if v and k not in tables)
    meta = {"version": VERSION, "keys": keys, "tables": table_keys, "looked_up": partial,
            "sources": [{"key": s.key, "kind": s.kind, "shape": s.shape, "chunks": s.chunks, "dtype": s.dtype,
                         "offset": s.offset, "filters": [[f.code, list(f.values), f.name] for f in s.filters]}
                        for s in view.sources.values()]}
    arrays: dict[str, np.ndarray] = {"meta": np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8),
                                     "blob": np.frombuffer(blob, dtype=np.uint8), "ends": ends}
    for i, k in enumerate(table_keys):
        arrays[f"t{i}"] = tables[k].table
        arrays[f"m{i}"] = np.asarray(sorted(tables[k].masks.items()), dtype=np.int64).reshape(-1, 2)
    for i, k in enumerate(partial):
        entries = sorted((looked_up or {})[k].items())
        arrays[f"l{i}"] = np.array([(i_, *e) for i_, e in entries], dtype=LOOKED_UP_DTYPE)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(dir=path.parent, suffix=".partial")
        with os.fdopen(fd, "wb") as fh:
            np.savez(fh, allow_pickle=False, **arrays)
        os.replace(temp, path)
    except OSError:
        return  # a cache that cannot be written only costs requests next time


def load(key: str) -> tuple[View, dict[str, ChunkTable], LookedUp] | None:
    path = _path(key)
    if path is None or not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(bytes(data["meta"]).decode())
            if meta.get("version") != VERSION:
                return None
            blob, ends = bytes(data["blob"]), data["ends"].tolist()
            starts = [0, *ends[:-1]]
            entries = {k: blob[s:e] for k, s, e in zip(meta["keys"], starts, ends, strict=True)}
            tables = {}
            for i, k in enumerate(meta["tables"]):
                table = np.asarray(data[f"t{i}"])
                if table.dtype != TABLE_DTYPE:
                    return None
                tables[k] = ChunkTable(table, {int(a): int(b) for a, b in np.asarray(data[f"m{i}"]).tolist()})
            looked_up: LookedUp = {}
            for i, k in enumerate(meta.get("looked_up", [])):
                rows = np.asarray(data[f"l{i}"])
                if rows.dtype != LOOKED_UP_DTYPE:
                    return None
                looked_up[k] = {int(r["linear"]): (int(r["offset"]), int(r["size"]), int(r["mask"])) for r in rows}
    except (OSError, ValueError, KeyError, zipfile.BadZipFile, json.JSONDecodeError):
        return None
    sources = {s["key"]: ArraySource(s["key"], s["kind"], tuple(s["shape"]), tuple(s["chunks"]), s["dtype"],
                                     s["offset"], [Filter(c, tuple(v), n) for c, v, n in s["filters"]])
               for s in meta["sources"]}
    return View(entries, sources), tables, looked_up
