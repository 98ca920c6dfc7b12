"""The one thread in which h5py runs.

h5py holds a global lock while it calls back into a Python file object; if zarr's event loop thread then
needs that lock (a garbage-collected h5py object, an h5py call) while the file object waits for I/O, both stop
(the kerchunk / hdmf-zarr deadlock). Every h5py call of this package therefore runs in this thread, never in
zarr's loop, and h5py objects never leave it.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

THREAD_NAME = "nwbzarr-h5py"
_executor: ThreadPoolExecutor | None = None
_pid = -1
_lock = threading.Lock()


def in_h5py_thread() -> bool:
    return threading.current_thread().name.startswith(THREAD_NAME)


def run_h5[T](fn: Callable[..., T], *args: Any) -> T:
    """``fn(*args)`` in the h5py thread, waiting for its result (directly when already there)."""
    global _executor, _pid
    if in_h5py_thread():
        return fn(*args)
    with _lock:
        if _executor is None or _pid != os.getpid():  # a forked child has no such thread
            _executor, _pid = ThreadPoolExecutor(max_workers=1, thread_name_prefix=THREAD_NAME), os.getpid()
        executor = _executor
    return executor.submit(fn, *args).result()
