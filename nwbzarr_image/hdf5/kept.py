"""What an opened HDF5 file keeps after reading: chunk bytes and decoded chunks, least recently used dropped
first, within shares of ``max_cached_bytes`` (:mod:`nwbzarr_image.limits`)."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable

from nwbzarr_image.limits import get_limits


class Kept[T]:
    """A thread-safe LRU of values within ``share`` of ``max_cached_bytes`` (read at each insertion, so that
    ``set_limits`` applies to files already open); a value over a quarter of that share is not kept."""

    def __init__(self, share: float, size: Callable[[T], int]) -> None:
        self.share, self._size = share, size
        self._items: OrderedDict[Hashable, T] = OrderedDict()
        self.nbytes = 0
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> T | None:
        with self._lock:
            value = self._items.get(key)
            if value is not None:
                self._items.move_to_end(key)
            return value

    def put(self, key: Hashable, value: T) -> None:
        budget = int(get_limits().max_cached_bytes * self.share)
        n = self._size(value)
        with self._lock:
            if key in self._items or n > budget // 4:
                return
            self._items[key] = value
            self.nbytes += n
            while self.nbytes > budget:
                _, old = self._items.popitem(last=False)
                self.nbytes -= self._size(old)
