"""Nodes of HDF5's version-1 chunk B-tree, parsed from the bytes h5py reads through our file object: which children
a read will need, so that they are fetched together instead of one request after the other."""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable
from dataclasses import dataclass

SIGNATURE = b"TREE"
HEADER = 24  # signature, node type, level, entries used, left and right sibling addresses (8-byte addresses)


@dataclass(frozen=True)
class Node:
    """One node: its level (0 = leaf, whose children are chunks), ``entries + 1`` keys (the element offset of the
    first chunk under each child, with a trailing 0 for the element axis; the last key bounds the last child)
    and the file addresses of its children."""

    level: int
    keys: tuple[tuple[int, ...], ...]
    children: tuple[int, ...]
    sizes: tuple[int, ...]  # of a leaf: the stored size of each chunk
    masks: tuple[int, ...]  # of a leaf: the filter mask of each chunk

    def entries(self) -> dict[tuple[int, ...], tuple[int, int, int]]:
        """Of a leaf: ``(address, size, filter_mask)`` of each chunk by its element offsets (element axis
        dropped)."""
        return {key[:-1]: (child, size, mask)
                for key, child, size, mask in zip(self.keys, self.children, self.sizes, self.masks, strict=False)}


def parse_node(data: bytes, rank: int) -> Node | None:
    """The node of a chunk index of a dataset of ``rank`` axes at the start of ``data``; None when ``data`` is not
    one (another B-tree type, or fewer bytes than the node declares)."""
    if len(data) < HEADER or data[:4] != SIGNATURE or data[4] != 1:
        return None
    level, entries = data[5], int.from_bytes(data[6:8], "little")
    key = 8 + 8 * (rank + 1)  # chunk size, filter mask, one offset per axis and the element axis
    if HEADER + key + entries * (key + 8) > len(data):
        return None
    keys, children, sizes, masks = [], [], [], []
    for i in range(entries + 1):
        at = HEADER + i * (key + 8)
        keys.append(tuple(int.from_bytes(data[at + 8 + 8 * j:at + 16 + 8 * j], "little") for j in range(rank + 1)))
        if i < entries:
            sizes.append(int.from_bytes(data[at:at + 4], "little"))
            masks.append(int.from_bytes(data[at + 4:at + 8], "little"))
            children.append(int.from_bytes(data[at + key:at + key + 8], "little"))
    return Node(level, tuple(keys), tuple(children), tuple(sizes), tuple(masks))


def covering(node: Node, wanted: list[tuple[int, ...]]) -> list[int]:
    """Indices of the children of ``node`` under which the chunks at element offsets ``wanted`` (each with a
    trailing 0) are: child ``i`` holds the chunks from key ``i`` up to key ``i + 1`` (HDF5 compares offsets
    axis by axis, the first axis first)."""
    firsts = list(node.keys[:-1])
    picked = {bisect_right(firsts, w) - 1 for w in wanted}
    return sorted(i for i in picked if 0 <= i < len(node.children))


def node_size(superblock: bytes, rank: int) -> int | None:
    """Bytes of a chunk B-tree node of a dataset of ``rank`` axes: ``2K`` entries, K from the superblock at the
    start of the file (32 unless a version-1 superblock says otherwise); None when the file does not start with a
    version 0/1 superblock with 8-byte addresses and lengths."""
    if len(superblock) < 28 or superblock[:8] != b"\x89HDF\r\n\x1a\n" or superblock[8] > 1:
        return None
    if superblock[13] != 8 or superblock[14] != 8:
        return None
    k = 32 if superblock[8] == 0 else int.from_bytes(superblock[24:26], "little")
    key = 8 + 8 * (rank + 1)
    return HEADER + (2 * k + 1) * key + 2 * k * 8


def chunk_btree_address(read: Callable[[int, int], bytes], header: int) -> int | None:
    """Address of the v1 B-tree indexing a chunked dataset's chunks, from the dataset's version-1 object header
    at ``header`` (its layout message, version 3); None for any other header or layout."""
    prefix = read(header, 16)
    if len(prefix) < 16 or prefix[0] != 1:
        return None
    count = int.from_bytes(prefix[2:4], "little")
    pending = [(header + 16, int.from_bytes(prefix[8:12], "little"))]
    seen = 0
    while pending and seen < count:
        start, length = pending.pop(0)
        data = read(start, length)
        at = 0
        while at + 8 <= len(data) and seen < count:
            kind, size = int.from_bytes(data[at:at + 2], "little"), int.from_bytes(data[at + 2:at + 4], "little")
            body = data[at + 8:at + 8 + size]
            seen += 1
            if kind == 0x10 and len(body) >= 16:  # continuation: more messages elsewhere
                pending.append((int.from_bytes(body[:8], "little"), int.from_bytes(body[8:16], "little")))
            elif kind == 8:  # data layout
                if len(body) >= 11 and body[0] == 3 and body[1] == 2:
                    return int.from_bytes(body[3:11], "little")
                return None
            at += 8 + size
    return None
