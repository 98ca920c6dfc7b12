"""A zarr store wrapper that counts reads and writes by key (tests assert on counts, never on time)."""

from __future__ import annotations

from collections import Counter
from typing import Any

from zarr.abc.buffer import Buffer, BufferPrototype
from zarr.abc.store import ByteRequest
from zarr.storage import WrapperStore


class CountingStore(WrapperStore[Any]):
    """Counts ``get`` calls (reads) and ``set`` calls (writes) per key."""

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
