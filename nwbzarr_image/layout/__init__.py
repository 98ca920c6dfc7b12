"""The NWB Zarr convention as a pure translation: objects <-> node descriptions. No zarr import."""

from nwbzarr_image.layout.decode import decode_file, decode_late
from nwbzarr_image.layout.encode import encode_file
from nwbzarr_image.layout.nodes import ArrayNode, GroupNode, Link

__all__ = ["ArrayNode", "GroupNode", "Link", "decode_file", "decode_late", "encode_file"]
