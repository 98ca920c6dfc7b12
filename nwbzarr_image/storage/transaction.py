"""Writing a whole file at a URL: a new file appears whole, and a replaced file is there, old or new, at
every moment, even if the writer is killed.

Where the file system renames (local disk, memory):

* a new file: the skeleton is written into a hidden sibling ``.NAME.partial-*`` and renamed into place;
  iterator data is then streamed in place (a killed writer leaves a readable prefix that ``append`` resumes);
* a replacement: the whole new file, streams included, is written into ``.NAME.partial-*``; then the old file
  is renamed to ``.NAME.old-*``, the new one into place, and the old one to ``.NAME.trash-*`` and deleted.
  Between the two renames the path is empty while the backup exists: the next ``read``, ``open`` or
  ``write`` of the path puts the backup back if its writer is dead (:func:`siblings.recover`).

Object stores cannot rename (a move copies every object): the file is written in place and deleted if the
write fails; with ``mode='w'`` the old file is deleted first, so replacing there is not crash-safe.
"""

from __future__ import annotations

import errno
import os
from typing import Literal

from nwbzarr_image.errors import StoreExistsError
from nwbzarr_image.layout import GroupNode
from nwbzarr_image.storage import siblings, stores
from nwbzarr_image.storage.steps import step
from nwbzarr_image.storage.write_stream import stream, write_skeleton

WriteMode = Literal["w", "w-"]


def recover(location: stores.Location) -> None:
    """Put back or remove what a killed writer left next to ``location`` (a no-op unless something was)."""
    siblings.recover(location)


def write_file(location: stores.Location, tree: GroupNode, mode: WriteMode) -> None:
    """Write ``tree`` as the file at ``location``; ``mode='w'`` replaces an existing one."""
    if location.read_only_protocol:
        stores.open_store(location, read_only=False)  # raises ReadOnlyError
    recover(location)
    if mode == "w-" and location.exists():
        raise StoreExistsError(f"write: {location.url} already exists; mode 'w-' never replaces a file. Pass "
                               "mode='w' to replace it, or choose another path.")
    if not location.renames:
        _write_in_place(location, tree)
    elif location.exists():
        _replace(location, tree)
    else:
        _create(location, tree)


class _Partial:
    """The hidden sibling a file is written into: locked while in use, removed unless moved into place."""

    def __init__(self, location: stores.Location, written: tuple[str, siblings.Held] | None = None) -> None:
        self.location = location
        self.in_place = False
        if written is not None:  # a complete file written elsewhere (a resumable conversion's directory)
            self.path, self.held = written
            return
        if location.is_local:
            self.path, self.held = siblings.create(location, "partial")
        else:
            self.path, self.held = location.sibling("partial"), siblings.Held(None)
        step("partial created")

    def __enter__(self) -> _Partial:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.in_place:
            self.held.release()
        elif self.location.is_local:
            siblings.discard(self.path, self.held)
        else:
            stores.remove(self.location, self.path)

    def move_into_place(self) -> None:
        """Rename the new file to the location, which must be free (a file that appeared meanwhile stays)."""
        try:
            stores.move(self.location, self.path, self.location.path)
        except OSError as err:
            if err.errno not in (errno.ENOTEMPTY, errno.EEXIST, errno.ENOTDIR):
                raise
            raise StoreExistsError(f"write: {self.location.url} appeared while this file was written; expected "
                                   "the path to stay free. Nothing was changed; write again with mode='w' to "
                                   "replace it.") from err
        self.in_place = True
        step("new file in place")


def place(location: stores.Location, path: str, held: siblings.Held, mode: WriteMode) -> None:
    """Move the complete file at the local ``path`` (locked by ``held``, which stays held) to the location:
    renamed into a free path, or with ``mode='w'`` swapped in over an existing file (as a replacement is)."""
    written = _Partial(location, (path, held))
    if mode == "w" and os.path.lexists(location.path):
        _swap_local(location, written)
    else:
        written.move_into_place()


def _create(location: stores.Location, tree: GroupNode) -> None:
    with _Partial(location) as partial:
        store = stores.open_store(location, read_only=False, path=partial.path)
        jobs = write_skeleton(store, tree)
        store.close()
        step("skeleton written")
        partial.move_into_place()
    try:
        if jobs:
            stream(stores.open_store(location, read_only=False), jobs)
    except BaseException:
        stores.remove(location, location.path)
        raise


def _replace(location: stores.Location, tree: GroupNode) -> None:
    with _Partial(location) as partial:
        store = stores.open_store(location, read_only=False, path=partial.path)
        jobs = write_skeleton(store, tree)
        step("skeleton written")
        if jobs:
            stream(store, jobs)
        store.close()
        step("new file complete")
        if location.is_local:
            _swap_local(location, partial)
        else:
            _swap(location, partial.path)
            partial.in_place = True


def _swap_local(location: stores.Location, partial: _Partial) -> None:
    path, new = location.path, partial.path
    # lock the old file: a concurrent replacement of it goes first, and then its new file is the one replaced
    while (held := siblings.lock(path, wait=True)) is None:
        siblings.recover(location)  # waits for a writer between its two renames (or puts a dead one's backup back)
        if not os.path.exists(path):
            partial.move_into_place()
            return
    try:
        backup = location.sibling("old")
        os.rename(path, backup)
        step("old file moved aside")
        try:
            os.rename(new, path)
        except BaseException:
            os.rename(backup, path)
            raise
        partial.in_place = True
        step("new file in place")
        trash = location.sibling("trash")
        os.rename(backup, trash)
        step("old file in the trash")
        try:
            siblings.delete(trash)
        except OSError:
            return  # the new file is in place; the next recover() removes the rest
        step("old file removed")
    finally:
        held.release()


def _swap(location: stores.Location, new: str) -> None:
    """The same on a file system that renames but has no processes to outlive (memory)."""
    backup = location.sibling("old")
    stores.move(location, location.path, backup)
    try:
        stores.move(location, new, location.path)
    except BaseException:
        stores.move(location, backup, location.path)
        raise
    stores.remove(location, backup)


def _write_in_place(location: stores.Location, tree: GroupNode) -> None:
    stores.remove(location, location.path)
    try:
        store = stores.open_store(location, read_only=False)
        jobs = write_skeleton(store, tree)
        if jobs:
            stream(stores.open_store(location, read_only=False), jobs)
    except BaseException:
        stores.remove(location, location.path)
        raise
