"""A zarr store wrapper that counts reads and writes by key (tests assert on counts, never on time)."""

from __future__ import annotations

from collections import Counter
from typing import Any

from zarr.abc.buffer import Buffer, BufferPrototype
from zarr.abc.store import ByteRequest
from zarr.storage import WrapperStore


class CountingStore(WrapperStore[Any]):
    """Counts ``get`` calls (reads, one per byte range of ``get_ranges``) and ``set`` calls (writes) per key;
    zarr's synchronous path is turned off for it, so every read and write is counted."""

    def __init__(self, store: Any) -> None:
        super().__init__(store)
        self.reads: Counter[str] = Counter()
        self.writes: Counter[str] = Counter()
        self.lists = 0

    def _with_store(self, store: Any) -> CountingStore:
        return type(self)(store)

    async def get(self, key: str, prototype: BufferPrototype, byte_range: ByteRequest | None = None
                  ) -> Buffer | None:
        self.reads[key] += 1
        return await self._store.get(key, prototype, byte_range)

    async def get_partial_values(self, prototype: BufferPrototype, key_ranges: Any) -> list[Buffer | None]:
        key_ranges = list(key_ranges)
        for key, _ in key_ranges:
            self.reads[key] += 1
        return await self._store.get_partial_values(prototype, key_ranges)

    async def get_ranges(self, key: str, byte_ranges: Any, **kwargs: Any) -> Any:
        """zarr's sharding codec reads inner chunks through this (one read per byte range)."""
        async for group in super().get_ranges(key, byte_ranges, **kwargs):
            self.reads[key] += len(group)
            yield group

    @property
    def _supports_sync_io(self) -> bool:
        return False  # zarr's synchronous fast path (get_sync/set_sync) would bypass the counters

    async def set(self, key: str, value: Buffer) -> None:
        self.writes[key] += 1
        await self._store.set(key, value)

    def list(self) -> Any:
        self.lists += 1
        return self._store.list()

    def list_dir(self, prefix: str) -> Any:
        self.lists += 1
        return self._store.list_dir(prefix)

    def list_prefix(self, prefix: str) -> Any:
        self.lists += 1
        return self._store.list_prefix(prefix)

    def chunk_reads(self) -> Counter[str]:
        return Counter({k: n for k, n in self.reads.items() if not k.endswith("zarr.json")})

    def metadata_reads(self) -> Counter[str]:
        return Counter({k: n for k, n in self.reads.items() if k.endswith(("zarr.json", ".zgroup", ".zattrs",
                                                                            ".zarray", ".zmetadata"))})
