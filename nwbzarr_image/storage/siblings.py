"""Hidden siblings of a local file: ``.NAME.partial-*`` (a file being written), ``.NAME.old-*`` (the file
being replaced), ``.NAME.trash-*`` (a replaced file being deleted) and ``.NAME.rechunk-*`` (the temporary
array of ``rechunk_series``).

The writer that owns a sibling holds an exclusive ``flock`` on it for as long as it uses it, and the kernel
drops that lock when the writer dies, however it dies. So a sibling that can be locked is a dead writer's
leftover, and :func:`recover` puts back a backup whose replacement never arrived and removes the rest; a
sibling that is locked belongs to a live writer and is left alone.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager, suppress

from nwbzarr_image.storage import stores

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows has no flock: leftovers are never touched there
    fcntl = None  # type: ignore[assignment]

KINDS = ("partial", "old", "trash", "rechunk")


class Held:
    """An open descriptor of a path, exclusively locked; :meth:`release` closes it (and unlocks)."""

    def __init__(self, fd: int | None) -> None:
        self.fd = fd

    def release(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


def lock(path: str, *, wait: bool) -> Held | None:
    """Lock the file or directory at ``path``; None when it is gone, or (``wait=False``) when a live
    process holds its lock."""
    if fcntl is None:
        return None if not wait else Held(None)
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            os.close(fd)
            return None
        # the path may have been removed or replaced while we waited: the lock must be on what is there now
        now, held = os.stat(path), os.fstat(fd)
        if (now.st_dev, now.st_ino) != (held.st_dev, held.st_ino):
            os.close(fd)
            return None
    except FileNotFoundError:
        os.close(fd)
        return None
    except BaseException:
        os.close(fd)
        raise
    return Held(fd)


def create(location: stores.Location, kind: str) -> tuple[str, Held]:
    """A new empty directory next to the location (its parent is created as needed), locked by this process."""
    os.makedirs(os.path.dirname(location.path.rstrip("/")) or ".", exist_ok=True)
    for _ in range(8):
        path = location.sibling(kind)
        os.mkdir(path)
        held = lock(path, wait=True)
        if held is not None:
            return path, held
        # another process's recover() removed it before we locked it (it looked like a leftover): again
    raise OSError(f"{location.url}: could not create a locked directory next to it ({path}).")


def delete(path: str) -> None:
    """Remove a file, a symlink or a directory tree."""
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path)
    else:
        os.unlink(path)


def leftovers(location: stores.Location) -> list[tuple[str, str]]:
    """(kind, path) of every hidden sibling of the location; backups first, the newest first."""
    parent, name = os.path.split(location.path.rstrip("/"))
    try:
        entries = os.listdir(parent or ".")
    except OSError:
        return []
    pattern = re.compile(rf"\.{re.escape(name)}\.({'|'.join(KINDS)})-[0-9a-f]{{8}}")
    found = [(m.group(1), os.path.join(parent, entry)) for entry in entries if (m := pattern.fullmatch(entry))]

    def order(item: tuple[str, str]) -> tuple[bool, float]:
        try:
            changed = os.lstat(item[1]).st_ctime
        except OSError:
            changed = 0.0
        return item[0] != "old", -changed

    return sorted(found, key=order)


def recover(location: stores.Location) -> None:
    """Finish what dead writers left at a local location: a backup whose path is empty goes back into place
    (the writer died between moving the old file aside and moving the new one in); every other leftover is
    removed. Siblings of live writers are left alone; best effort (a read-only directory keeps them)."""
    if not location.is_local or fcntl is None:
        return
    for kind, path in leftovers(location):
        missing = kind == "old" and not os.path.lexists(location.path)
        # a live writer holding a backup while the path is empty is between its two renames: wait for it
        held = lock(path, wait=missing)
        if held is None:
            continue
        try:
            if kind == "old" and not os.path.lexists(location.path):
                os.rename(path, location.path)
            else:
                delete(path)
        except OSError:
            pass
        finally:
            held.release()


@contextmanager
def temporary(location: stores.Location, kind: str) -> Iterator[str]:
    """A hidden sibling for the duration of a block (locked on a local disk), removed at its end."""
    if not location.is_local:
        path = location.sibling(kind)
        try:
            yield path
        finally:
            stores.remove(location, path)
        return
    path, held = create(location, kind)
    try:
        yield path
    finally:
        discard(path, held)


def discard(path: str, held: Held) -> None:
    """Remove a sibling this process holds, then unlock it."""
    try:
        with suppress(FileNotFoundError):
            delete(path)
    finally:
        held.release()
