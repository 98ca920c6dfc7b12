"""Groups and datasets of types this library does not model: kept as they are, written back as they were."""

from __future__ import annotations

from typing import Any

from nwbzarr_image.layout.codecs.common import dtype_name
from nwbzarr_image.layout.context import DecodeContext, EncodeContext, Node
from nwbzarr_image.layout.nodes import ArrayNode, GroupNode, Link, Role
from nwbzarr_image.layout.paths import join
from nwbzarr_image.model import GenericDataset, GenericGroup
from nwbzarr_image.model.parse import shape_of


def encode_generic(obj: GenericGroup | GenericDataset, ctx: EncodeContext) -> Node:
    if isinstance(obj, GenericDataset):
        attrs = {k: v for k, v in obj.attrs.items() if k != "_DTYPE"}
        value = obj.data
        role: Role = "scalar" if shape_of(value) == () else "small"
        return ArrayNode(obj.name, value, obj.attrs.get("_DTYPE") or dtype_name(value), attrs, role=role)
    node = GroupNode(obj.name, dict(obj.attrs))
    node.links = [Link(name, path) for name, path in obj.links.items()]
    for child in obj.children.values():
        node.add(ctx.encode(child))
    return node


def decode_generic(node: Node, path: str, ctx: DecodeContext) -> GenericGroup | GenericDataset:
    obj: GenericGroup | GenericDataset
    if isinstance(node, ArrayNode):
        attrs = dict(node.attrs)
        if node.dtype:
            attrs["_DTYPE"] = node.dtype
        dataset = GenericDataset._blank(node.name, node.attrs.get("object_id"))
        dataset.data, dataset.attrs = node.value, attrs
        obj = dataset
    else:
        group = GenericGroup._blank(node.name, node.attrs.get("object_id"))
        group.attrs = dict(node.attrs)
        group.links = {link.name: link.path for link in node.links}
        group.children = {name: decode_generic(child, join(path, name), ctx) for name, child in node.children.items()}
        obj = group
    ctx.place(obj, node, path, register=False)
    return obj


def encode_extras(obj: Any, node: GroupNode, ctx: EncodeContext) -> GroupNode:
    """Children the file had that this library does not model (kept on read, written back)."""
    for child in obj.extra_children.values():
        if child.name not in node.children:
            node.add(ctx.encode(child))
    node.links += [Link(name, path) for name, path in obj.extra_links.items()
                   if all(link.name != name for link in node.links)]
    return node
