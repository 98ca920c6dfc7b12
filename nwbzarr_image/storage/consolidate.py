"""Consolidated metadata: the root ``zarr.json`` lists the metadata of every node, so a file opens with one
request. The one place that silences zarr's warning about it (consolidated metadata is not yet in the
Zarr format 3 specification, and every NWB Zarr file uses it)."""

from __future__ import annotations

import warnings
from typing import Any

import zarr

from nwbzarr_image.errors import ReadOnlyError
from nwbzarr_image.storage import stores
from nwbzarr_image.storage.reader import open_root

NOT_IN_SPEC_WARNING = "Consolidated metadata is currently not part"


def consolidate(store: Any) -> None:
    """Write the metadata of every node of ``store`` into its root ``zarr.json``."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=NOT_IN_SPEC_WARNING)
        zarr.consolidate_metadata(store)


def consolidate_file(location: stores.Location) -> None:
    """Consolidate the Zarr format 3 file at ``location``; legacy format 2 files are never changed."""
    store = stores.open_store(location, read_only=False)
    if open_root(store, consolidated=False).metadata.zarr_format != 3:
        raise ReadOnlyError(f"consolidate {location.url}: only Zarr format 3 files are changed by this library.")
    consolidate(store)
