"""Decode node descriptions read from a store into an NWBFile (the read path)."""

from __future__ import annotations

from typing import Any

from nwbzarr_image.layout.codecs import decode_object
from nwbzarr_image.layout.codecs.file import decode_file_root
from nwbzarr_image.layout.context import DecodeContext, Node
from nwbzarr_image.layout.links import resolve_links
from nwbzarr_image.layout.nodes import GroupNode
from nwbzarr_image.layout.specs import Ancestry, cached_spec_texts
from nwbzarr_image.model import NWBFile


def decode_file(root: GroupNode, *, strict: bool = False, ancestry: Ancestry | None = None, zarr_format: int = 3,
                source: str = "") -> NWBFile:
    """Build an NWBFile from the node tree of a store (values stay in the store until used).

    ``ancestry`` tells which types a type extends (for ImageSeries subtypes of other modules and
    extensions); by default the file's cached schema under ``/specifications`` is used. Every decoded object
    gets its :class:`~nwbzarr_image.model.record.StorageRecord` (``obj.stored``), made of ``zarr_format``,
    ``source`` and what the tree says of its arrays.
    """
    ctx = DecodeContext(strict, ancestry or Ancestry(lambda: cached_spec_texts(root)), decode_object,
                        zarr_format=zarr_format, source=source)
    nwbfile = decode_file_root(root, ctx)
    resolve_links(ctx)
    ctx.run_checks()
    nwbfile._seal()
    return nwbfile


def decode_late(nwbfile: NWBFile, node: Node, path: str, *, strict: bool = False) -> Any:
    """Decode one node that the file's consolidated metadata did not list, resolving its links against
    the objects already read."""
    stored = nwbfile.stored
    ctx = DecodeContext(strict, Ancestry(), decode_object, zarr_format=stored.zarr_format if stored else 3,
                        source=stored.source if stored else "")
    ctx.by_path.update({obj.stored.path: obj for obj in nwbfile.walk_objects() if obj.stored is not None})
    obj = ctx.decode(node, path)
    obj.parent = nwbfile
    resolve_links(ctx)
    ctx.run_checks()
    return obj
