"""Chunks of a remote HDF5 dataset looked up as reads need them, without listing its whole index: the B-tree is
walked down from its root through the nodes above the wanted chunks only, each level's nodes fetched together
(a first frame of a tiny-chunk movie reads a few leaves, not the thousands of a DANDI-sized index)."""

from __future__ import annotations

from typing import Any

from nwbzarr_image.hdf5.btree import chunk_btree_address, node_size
from nwbzarr_image.hdf5.ranges import MAX_REQUEST, BlockFile
from nwbzarr_image.hdf5.view import ArraySource

Entry = tuple[int, int, int]  # offset, size (0: not stored), filter mask


def look_up(h5: Any, blocks: BlockFile | None, source: ArraySource, missing: list[tuple[tuple[int, ...], int]],
            known: dict[int, Entry], roots: dict[str, tuple[int, int] | None]) -> bool:
    """Record in ``known`` (by linear index) the entry of each chunk of ``missing`` (grid coordinates, linear
    index); call in the h5py thread. ``roots`` keeps each dataset's B-tree root (None: not a version-1 B-tree
    this parser reads). False, with nothing recorded, for such a dataset: its caller lists the whole index once
    with ``chunk_iter`` (never one ``get_chunk_info`` call per chunk)."""
    offsets = [tuple(c * n for c, n in zip(coords, source.chunks, strict=True)) for coords, _ in missing]
    found = None
    if blocks is not None:
        blocks.index_rank = len(source.shape)
        blocks.index_wanted = sorted((*o, 0) for o in offsets)
        blocks.span_budget = min(MAX_REQUEST, len(missing) * source.chunk_nbytes)  # what the read decodes
        try:
            if source.key not in roots:
                roots[source.key] = _root(h5, source, blocks)
            root = roots[source.key]
            if root is not None:
                found = blocks.look_up(*root)
        finally:
            blocks.index_rank, blocks.index_wanted, blocks.span_budget = 0, None, 0
    if found is None:
        return False
    for (_, i), offset in zip(missing, offsets, strict=True):
        known[i] = found.get(offset, (0, 0, 0))
    return True


def _root(h5: Any, source: ArraySource, blocks: BlockFile) -> tuple[int, int] | None:
    """Address and node size of a dataset's chunk B-tree (version-0/1 superblock, version-1 object header and
    layout message 3, as pynwb writes), from bytes the walk fetched; None for other layouts."""
    from nwbzarr_image.hdf5.opener import h5py_module

    size = node_size(blocks.pread(0, 28), len(source.shape))
    if not size:
        return None
    # h5g.get_objinfo gives the object header's address without reading the index (h5o.get_info reads all of it)
    header = h5py_module().h5g.get_objinfo(h5.id, ("/" + source.key).encode()).objno[0]
    address = chunk_btree_address(blocks.pread, int(header))
    return None if address is None else (address, size)
