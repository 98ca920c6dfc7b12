"""Encode an NWBFile into node descriptions following the NWB Zarr convention of hdmf-zarr 0.14."""

from __future__ import annotations

from nwbzarr_image.layout.codecs import encode_object
from nwbzarr_image.layout.codecs.file import encode_file_root
from nwbzarr_image.layout.context import EncodeContext
from nwbzarr_image.layout.nodes import GroupNode
from nwbzarr_image.model import NWBFile


def encode_file(nwbfile: NWBFile) -> GroupNode:
    """The node tree of a whole file. The file and the data it holds are left unchanged."""
    return encode_file_root(nwbfile, EncodeContext(nwbfile, encode_object))

