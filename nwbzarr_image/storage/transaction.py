"""Writing a whole file at a URL: it appears complete or not at all, and a replaced file comes back if the
new one fails."""

from __future__ import annotations

from typing import Literal

from nwbzarr_image.errors import StoreExistsError
from nwbzarr_image.layout import GroupNode
from nwbzarr_image.storage import stores
from nwbzarr_image.storage.write_stream import stream, write_skeleton

WriteMode = Literal["w", "w-"]


def write_file(location: stores.Location, tree: GroupNode, mode: WriteMode) -> None:
    """Write ``tree`` as the file at ``location``; ``mode='w'`` replaces an existing one.

    Where the file system renames (local disk, memory), the skeleton is written into a hidden sibling and
    moved into place; object stores cannot rename, so there the file is written in place and deleted if the
    write fails. Iterator data is then streamed into place.
    """
    if location.read_only_protocol:
        stores.open_store(location, read_only=False)  # raises ReadOnlyError
    if mode == "w-" and location.exists():
        raise StoreExistsError(f"write: {location.url} already exists; mode 'w-' never replaces a file. Pass "
                               "mode='w' to replace it, or choose another path.")
    if location.renames:
        temp = location.sibling("partial")
        try:
            store = stores.open_store(location, read_only=False, path=temp)
            jobs = write_skeleton(store, tree)
            store.close()
            backup = stores.replace(location, temp)
        except BaseException:
            stores.remove(location, temp)
            raise
    else:
        # object stores have no rename (a move copies every object): write in place, delete on failure
        stores.remove(location, location.path)
        backup = None
        try:
            jobs = write_skeleton(stores.open_store(location, read_only=False), tree)
        except BaseException:
            stores.remove(location, location.path)
            raise
    try:
        if jobs:
            stream(stores.open_store(location, read_only=False), jobs)
    except BaseException:
        stores.remove(location, location.path)
        if backup is not None:
            stores.move(location, backup, location.path)
        raise
    if backup is not None:
        stores.remove(location, backup)
