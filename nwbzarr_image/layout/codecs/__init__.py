"""One codec per NWB type family, encoding and decoding side by side; this module picks the codec.

Adding a field to a type touches its codec module only; adding a type adds one module and one entry below.
"""

from __future__ import annotations

from typing import Any

from nwbzarr_image.errors import LayoutError
from nwbzarr_image.layout.codecs.device import decode_device, encode_device
from nwbzarr_image.layout.codecs.generic import decode_generic, encode_generic
from nwbzarr_image.layout.codecs.images import decode_images, encode_external_image, encode_image, encode_images
from nwbzarr_image.layout.codecs.module import decode_module, encode_module
from nwbzarr_image.layout.codecs.series import decode_series, encode_series
from nwbzarr_image.layout.context import DecodeContext, EncodeContext, Node
from nwbzarr_image.layout.nodes import GroupNode
from nwbzarr_image.model import (
    Device,
    ExternalImage,
    GenericDataset,
    GenericGroup,
    Image,
    ImageMaskSeries,
    Images,
    ImageSeries,
    IndexSeries,
    OpticalSeries,
    ProcessingModule,
    TimeSeries,
)

# core neurodata_type -> model class, for the series family
SERIES_TYPES: dict[str, type[TimeSeries]] = {
    "TimeSeries": TimeSeries, "ImageSeries": ImageSeries, "ImageMaskSeries": ImageMaskSeries,
    "OpticalSeries": OpticalSeries, "IndexSeries": IndexSeries,
}
# core group types with a codec of their own
GROUP_DECODERS = {"Images": decode_images, "Device": decode_device, "ProcessingModule": decode_module}
MODELLED_GROUPS = {*SERIES_TYPES, *GROUP_DECODERS, "Subject", "NWBFile"}


def encode_object(obj: Any, ctx: EncodeContext) -> Node:
    """The node of any object the library writes."""
    if isinstance(obj, (GenericGroup, GenericDataset)):
        return encode_generic(obj, ctx)
    if isinstance(obj, Device):
        return encode_device(obj, ctx)
    if isinstance(obj, TimeSeries):
        return encode_series(obj, ctx)
    if isinstance(obj, Images):
        return encode_images(obj, ctx)
    if isinstance(obj, Image):
        return encode_image(obj, ctx)
    if isinstance(obj, ExternalImage):
        return encode_external_image(obj, ctx)
    if isinstance(obj, ProcessingModule):
        return encode_module(obj, ctx)
    raise LayoutError(f"cannot store {type(obj).__name__} {getattr(obj, 'name', '')!r}: not an NWB type "
                      "this library writes.")


def decode_object(node: Node, path: str, ctx: DecodeContext) -> Any:
    """The object of any node inside a collection or processing module."""
    kind = node.attrs.get("neurodata_type")
    namespace = node.attrs.get("namespace")
    obj: Any
    base = _image_series_base(node, kind, namespace, ctx)
    if base is not None:
        obj = decode_series(node, path, ctx, SERIES_TYPES[base])  # type: ignore[arg-type]
        obj.neurodata_type, obj.namespace = kind, namespace  # written back as the subtype it is
    elif isinstance(node, GroupNode) and namespace == "core" and kind in SERIES_TYPES:
        obj = decode_series(node, path, ctx, SERIES_TYPES[kind])
    elif isinstance(node, GroupNode) and namespace == "core" and kind in GROUP_DECODERS:
        obj = GROUP_DECODERS[kind](node, path, ctx)
    else:
        return decode_generic(node, path, ctx)
    ctx.place(obj, node, path)
    return obj


def _image_series_base(node: Node, kind: Any, namespace: Any, ctx: DecodeContext) -> str | None:
    """For a subtype of ImageSeries from another module or namespace: the closest type we model."""
    if not isinstance(node, GroupNode) or not isinstance(kind, str) or (namespace == "core" and
                                                                      kind in MODELLED_GROUPS):
        return None
    chain = ctx.ancestry(kind)
    if "ImageSeries" not in chain:
        return None
    return next(parent for parent in chain if parent in SERIES_TYPES)
