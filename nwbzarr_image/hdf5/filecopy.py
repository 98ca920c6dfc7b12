"""Copy byte ranges of a local file into a new local file in the kernel (``copy_file_range``; ``pread`` and
``write`` where the kernel cannot), written under a temporary name and renamed into place, as zarr's LocalStore
writes, so a chunk file that exists is complete."""

from __future__ import annotations

import errno
import os
import uuid
from pathlib import Path
from typing import Any

from zarr.storage import LocalStore

STEP = 64 * 1024 * 1024  # bytes per call of the fallback copy
NO_KERNEL_COPY = {errno.EXDEV, errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP, errno.EPERM}


def local_root(store: Any, array: Any) -> Path | None:
    """The directory of ``array``'s store when both it and the HDF5 file ``store`` reads are on local disks."""
    target = getattr(array, "store", None)
    if not getattr(store.source, "local", False) or not isinstance(target, LocalStore):
        return None
    return Path(str(target.root))


def copy_ranges(source: str, ranges: list[tuple[int, int]], path: Path, tail: bytes) -> tuple[int, int] | None:
    """Write the ``(offset, size)`` ranges of file ``source`` in turn, then ``tail``, as the file ``path``.
    Returns None, or (which range, bytes copied of it) when the source ended inside a range (nothing is then
    left at ``path``)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.partial")
    src = os.open(source, os.O_RDONLY)
    try:
        with open(temp, "wb") as out:
            dst = out.fileno()
            for i, (offset, size) in enumerate(ranges):
                done = _copy(src, dst, offset, size)
                if done < size:
                    temp.unlink()
                    return i, done
            out.write(tail)
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    finally:
        os.close(src)
    return None


def _copy(src: int, dst: int, offset: int, size: int) -> int:
    """Copy ``size`` bytes from ``offset`` of ``src`` to the end of ``dst``; the bytes copied (fewer at the end
    of the source)."""
    done = 0
    kernel = hasattr(os, "copy_file_range")
    while done < size:
        if kernel:
            try:
                n = os.copy_file_range(src, dst, size - done, offset + done)
            except OSError as err:
                if err.errno not in NO_KERNEL_COPY:
                    raise
                kernel = False
                continue
        else:
            data = os.pread(src, min(STEP, size - done), offset + done)
            view = memoryview(data)
            while view:  # a write may take only part
                view = view[os.write(dst, view):]
            n = len(data)
        if n == 0:
            break
        done += n
    return done
