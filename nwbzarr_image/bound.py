"""A file bound to the store it was read from: the :class:`~nwbzarr_image.model.ports.FileSource` that
``read`` and ``open`` give an NWBFile, so that its objects can append, resolve external files and find
nodes the consolidated metadata lacks, without opening the store again."""

from __future__ import annotations

from typing import Any

from zarr.abc.store import Store

from nwbzarr_image.errors import InvalidFileWarning, warn
from nwbzarr_image.external.binding import base_of
from nwbzarr_image.external.paths import ExternalBase
from nwbzarr_image.external.resolver import ExternalResolver
from nwbzarr_image.layout import decode_late
from nwbzarr_image.model import NWBFile
from nwbzarr_image.model.ports import Appender
from nwbzarr_image.storage import stores
from nwbzarr_image.storage.append import Appender as StoreAppender
from nwbzarr_image.storage.reader import read_subtree, stored_bytes, stored_keys


class StoreSource:
    """The store of a file that was read, as its objects see it.

    Parameters
    ----------
    store : zarr.abc.store.Store
        The open store (read-only for ``read``).
    url : str
        Its URL, or a description of a store object.
    zarr_format : int
        The file's Zarr format.
    location : Location or None
        Where the store is (None for a store object): external files resolve against its directory.
    strict : bool
        Whether the file was read with ``strict=True``.
    base : ExternalBase, optional
        The directory external files resolve against (default: that of ``location`` or ``store``).
    """

    def __init__(self, store: Store, url: str, zarr_format: int, location: stores.Location | None,
                 strict: bool = False, base: ExternalBase | None = None) -> None:
        self.store = store
        self.url = url
        self.zarr_format = zarr_format
        self.location = location
        self.strict = strict
        self.read_only = True
        self.nwbfile: NWBFile | None = None
        self._appender: Appender | None = None
        self._external = ExternalResolver(base if base is not None else base_of(location, store))

    @property
    def appender(self) -> Appender | None:
        return self._appender

    @property
    def external(self) -> ExternalResolver:
        return self._external

    def enable_appends(self) -> None:
        """Let the file's series append (``open(url, 'a')``)."""
        assert self.location is not None
        self.read_only = False
        self._appender = StoreAppender(stores.open_store(self.location, read_only=False), self.url)

    def find_missing(self, path: str) -> Any:
        """Read the node at ``path`` from the store itself when the consolidated metadata lacks it."""
        name = path.rstrip("/").rsplit("/", 1)[-1]
        if self.nwbfile is None or self.zarr_format != 3 or name in (".", ".."):
            return None
        with stores.storage_errors(self.url, "read"):
            node = read_subtree(self.store, path, self.url)
        if node is None:
            return None
        warn(InvalidFileWarning(
            f"read {self.url}: {path} is in the store but not in the file's consolidated metadata (it was added "
            "without consolidating); it is read from the store. Fix the file with nzi.consolidate(url)."))
        return decode_late(self.nwbfile, node, path, strict=self.strict)

    def stored_keys(self, prefix: str) -> set[str]:
        return stored_keys(self.store, prefix)

    def stored_bytes(self, prefix: str) -> int:
        return stored_bytes(self.store, prefix)
