"""Device: a typed group whose fields are attributes."""

from __future__ import annotations

from nwbzarr_image.layout.codecs.common import extra_attrs, typed_attrs
from nwbzarr_image.layout.codecs.generic import encode_extras
from nwbzarr_image.layout.context import DecodeContext, EncodeContext
from nwbzarr_image.layout.nodes import GroupNode
from nwbzarr_image.model import Device

FIELDS = ("description", "manufacturer", "model_number", "model_name", "serial_number")


def encode_device(dev: Device, ctx: EncodeContext) -> GroupNode:
    attrs = typed_attrs(dev)
    for key in FIELDS:
        if getattr(dev, key) is not None:
            attrs[key] = getattr(dev, key)
    return encode_extras(dev, GroupNode(dev.name, attrs), ctx)


def decode_device(node: GroupNode, path: str, ctx: DecodeContext) -> Device:
    dev = Device._blank(node.name, node.attrs.get("object_id"))
    for key in FIELDS:
        if node.attrs.get(key) is not None:
            setattr(dev, key, str(node.attrs[key]))
    dev.extra_attrs = extra_attrs(node.attrs, set(FIELDS))
    ctx.keep_children(dev, node, path, set())
    dev._seal()
    return dev
