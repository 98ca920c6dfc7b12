"""The one thread in which h5py runs.

h5py holds a global lock while it calls back into a Python file object; if zarr's event loop thread then
needs that lock (a garbage-collected h5py object, an h5py call) while the file object waits for I/O, both stop
(the kerchunk / hdmf-zarr deadlock). Every h5py call of this package therefore runs in this thread, never in
zarr's loop, and h5py objects never leave it. The same holds for fsspec's loop, through which a remote file object
reads: a cyclic garbage collection there that frees anyone's h5py object (pynwb's objects hold them in cycles)
waits for the lock the h5py thread holds while it waits for that loop. So each call runs with the cyclic collector
off (the known workaround; reference counting still frees everything not in a cycle).
"""

from __future__ import annotations

import gc
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
    return executor.submit(_without_gc, fn, *args).result()


def _without_gc[T](fn: Callable[..., T], *args: Any) -> T:
    enabled = gc.isenabled()
    gc.disable()
    try:
        return fn(*args)
    finally:
        if enabled:
            gc.enable()
