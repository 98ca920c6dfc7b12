"""The directory of a resumable write: what an earlier, killed run stored there is kept.

Every chunk and shard file is stored whole or not at all (zarr's ``LocalStore`` and
:func:`~nwbzarr_image.storage.direct.write_file` write a temporary file and rename it), so a chunk file that
exists is complete: while a directory is registered with :func:`resuming`, the writers ask :func:`is_stored`
before computing a chunk and skip the ones there. A :class:`KeepingGroup` keeps each group and array whose
stored metadata equals what would be written (so their chunks stay) and recreates the others.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import zarr
from zarr.abc.store import Store
from zarr.storage import LocalStore, MemoryStore

from nwbzarr_image.storage.steps import step
from nwbzarr_image.storage.zarr_compat import get_bytes

TEMPORARY = re.compile(r".*\.[0-9a-f]{8,32}\.partial")  # zarr's and write_file's files being written


@dataclass
class Tally:
    """Chunk and shard files of a resumed write: found stored (kept) and written by this run."""

    kept: int = 0
    written: int = 0


_active: dict[str, Tally] = {}
_count = threading.Lock()


@contextmanager
def resuming(root: str) -> Iterator[Tally]:
    """Make the writers keep the chunk files already under ``root`` for the duration of the block."""
    key = os.path.realpath(root)
    tally = _active[key] = Tally()
    try:
        yield tally
    finally:
        _active.pop(key, None)
        _real.clear()


_real: dict[str, str] = {}  # store roots as given -> real paths (a lookup per chunk, not a realpath)


def _tally(store: Any) -> tuple[str, Tally] | None:
    if not _active or not isinstance(store, LocalStore):
        return None
    given = str(store.root)
    root = _real.get(given)
    if root is None:
        root = _real[given] = os.path.realpath(given)
    tally = _active.get(root)
    return None if tally is None else (root, tally)


def active(store: Any) -> bool:
    """Whether ``store`` is the directory of a resumed write."""
    return _tally(store) is not None


def exists(store: Any, key: str) -> bool:
    """Whether the chunk or shard ``key`` is stored in a resumed write (always False outside one)."""
    found = _tally(store)
    return found is not None and os.path.isfile(os.path.join(found[0], key))


def keep(store: Any, count: int) -> None:
    """Count ``count`` chunk or shard files found stored and not written again."""
    found = _tally(store)
    if found is not None and count:
        with _count:
            found[1].kept += count


def is_stored(store: Any, key: str) -> bool:
    """Whether ``key`` is stored in a resumed write, counting it as kept when it is."""
    if exists(store, key):
        keep(store, 1)
        return True
    return False


def written(store: Any, key: str) -> None:
    """Report a chunk or shard file stored by a resumed write (a step the crash tests count)."""
    found = _tally(store)
    if found is None:
        return
    with _count:
        found[1].written += 1
    step(f"chunk written {key}")


def remove_temporaries(root: str) -> int:
    """Delete the half-written temporary files a killed writer left under ``root``; returns how many."""
    removed = 0
    for folder, _, files in os.walk(root):
        for name in files:
            if TEMPORARY.fullmatch(name):
                os.unlink(os.path.join(folder, name))
                removed += 1
    return removed


def chunk_files(root: str) -> int:
    """The chunk and shard files under ``root`` (every file but metadata and temporaries)."""
    return sum(1 for _, _, files in os.walk(root) for name in files
               if name != "zarr.json" and not TEMPORARY.fullmatch(name) and name != "resume.json")


def _normal(raw: bytes | None) -> str | None:
    """A metadata document compared by content (consolidated metadata is rewritten at the end anyway)."""
    if raw is None:
        return None
    doc = json.loads(raw)
    doc.pop("consolidated_metadata", None)
    return json.dumps(doc, sort_keys=True)


def _document(store: Store, path: str) -> str | None:
    return _normal(get_bytes(store, f"{path}/zarr.json" if path else "zarr.json"))


class KeepingGroup(zarr.Group):
    """A group of a resumed write: ``create_group`` and ``create_array`` keep a stored node whose metadata
    equals what they would write (and its chunks), and recreate any other."""

    @classmethod
    def root(cls, store: Store, attributes: dict[str, Any]) -> KeepingGroup:
        """The root group with ``attributes``: kept when stored with them, else everything is written anew."""
        probe = zarr.open_group(MemoryStore(), mode="w", zarr_format=3, attributes=attributes)
        stored = _document(store, "")
        if stored is not None and stored == _document(probe.store, ""):
            return cls(zarr.open_group(store, mode="r+", use_consolidated=False)._async_group)
        if stored is not None and isinstance(store, LocalStore):  # written otherwise: all of it anew
            for entry in os.listdir(store.root):
                if entry != "resume.json":
                    path = os.path.join(store.root, entry)
                    shutil.rmtree(path) if os.path.isdir(path) else os.unlink(path)
        group = zarr.open_group(store, mode="a", zarr_format=3, attributes=attributes)  # no root yet: made
        return cls(group._async_group)

    def _full(self, name: str) -> str:
        return f"{self.path}/{name}".lstrip("/")

    def __getitem__(self, path: str) -> Any:
        item = super().__getitem__(path)
        return KeepingGroup(item._async_group) if isinstance(item, zarr.Group) else item

    def create_group(self, *args: Any, **kwargs: Any) -> Any:
        name = args[0] if args else kwargs["name"]
        stored = _document(self.store, self._full(name))
        if stored is not None:
            probe = zarr.open_group(MemoryStore(), mode="w", zarr_format=3)
            probe.create_group(*args, **kwargs)
            if _document(probe.store, name) == stored:
                return KeepingGroup(zarr.open_group(self.store, path=self._full(name), mode="r+",
                                                    use_consolidated=False)._async_group)
        return KeepingGroup(super().create_group(*args, **kwargs)._async_group)

    def create_array(self, *args: Any, **kwargs: Any) -> Any:
        name = args[0] if args else kwargs["name"]
        stored = _document(self.store, self._full(name))
        if stored is not None:
            probe = zarr.open_group(MemoryStore(), mode="w", zarr_format=3)
            probe.create_array(*args, **kwargs)
            if _document(probe.store, name) == stored:
                array = zarr.open_array(self.store, path=self._full(name), mode="r+")
                return array.with_config(kwargs["config"]) if kwargs.get("config") else array
        return super().create_array(*args, **kwargs)


def unit_keys(array: Any, start: int, stop: int) -> list[str]:
    """The store keys of the shards (or chunks) of ``array`` holding the elements ``start:stop`` of its first
    axis, along every other axis whole."""
    import itertools
    import math

    shards = getattr(array, "shards", None)
    unit = tuple(shards) if shards else tuple(array.chunks)
    axes = [range(start // unit[0], math.ceil(stop / unit[0]))]
    axes += [range(math.ceil(n / u)) for n, u in zip(array.shape[1:], unit[1:], strict=True)]
    encode = array.metadata.chunk_key_encoding.encode_chunk_key
    prefix = f"{array.path}/" if array.path else ""
    return [prefix + encode(index) for index in itertools.product(*axes)]
