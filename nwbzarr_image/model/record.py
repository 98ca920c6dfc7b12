"""What the reader learned about an object: where it is stored and how (declared, frozen, typed).

Like xarray's ``Variable.encoding``, these are storage facts kept beside the values: ``info`` and
``validate`` read them instead of opening the store again, and a writer may reuse them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class ArrayRecord:
    """One stored array.

    Parameters
    ----------
    path : str
        Absolute path of the array in the file (``/acquisition/cam/data``).
    shape : tuple of int
        Stored shape.
    dtype : str
        NumPy dtype string of the stored values (``"uint16"``, ``"float64"``, ``"str"``, ``"object"``).
    chunks : tuple of int
        Chunk shape (the inner chunks when sharded).
    shards : tuple of int or None
        Shard shape, or None when not sharded.
    codecs : tuple of dict
        The codec chain as JSON-like dicts (``{"name": ..., "configuration": {...}}``), serializer included.
    fill_value : object
        The array's fill value as stored in its metadata (JSON-like).
    key_encoding : {'default', 'v2'}
        How chunk keys are made (zarr's chunk key encodings).
    separator : str
        The chunk key separator (``"/"`` or ``"."``).
    """

    path: str
    shape: tuple[int, ...]
    dtype: str
    chunks: tuple[int, ...]
    shards: tuple[int, ...] | None = None
    codecs: tuple[dict[str, Any], ...] = ()
    fill_value: Any = None
    key_encoding: str = "default"
    separator: str = "/"

    @property
    def storage_unit(self) -> tuple[int, ...]:
        """The shape of one stored object: the shard when sharded, else the chunk."""
        return self.shards if self.shards is not None else self.chunks

    @property
    def compressors(self) -> tuple[dict[str, Any], ...]:
        """The bytes-to-bytes codecs (the serializer and array-to-array codecs left out)."""
        skip = {"bytes", "transpose", "vlen-utf8", "vlen-bytes"}
        chain: list[dict[str, Any]] = []
        for codec in self.codecs:
            if codec.get("name") == "sharding_indexed":
                chain += list(codec.get("configuration", {}).get("codecs", []))
            else:
                chain.append(codec)
        return tuple(c for c in chain if c.get("name") not in skip)

    def chunk_key(self, index: tuple[int, ...]) -> str:
        """The key of the stored object at grid position ``index``, relative to the array."""
        if self.key_encoding == "v2":
            return self.separator.join(map(str, index)) if index else "0"
        return self.separator.join(("c", *map(str, index)))


@dataclass(frozen=True)
class StorageRecord:
    """Where a decoded object came from.

    Parameters
    ----------
    path : str
        Absolute path of the object's group (or dataset) in the file.
    zarr_format : int
        2 for legacy hdmf-zarr <= 0.13 files, 3 otherwise.
    arrays : dict of str to ArrayRecord
        The object's own stored arrays by member name (``"data"``, ``"timestamps"``, ...); for an object that
        is itself a dataset (an Image), the key ``""``.
    source : str
        The URL (or store description) of the file.
    """

    path: str
    zarr_format: int = 3
    arrays: dict[str, ArrayRecord] = field(default_factory=dict)
    source: str = ""

    def array(self, member: str) -> ArrayRecord | None:
        """The record of a member array, or None when it is not stored here (absent or linked)."""
        return self.arrays.get(member)
