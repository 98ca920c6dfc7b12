"""ProcessingModule: a typed group of data interfaces of any type."""

from __future__ import annotations

from nwbzarr_image.layout.codecs.common import extra_attrs, typed_attrs
from nwbzarr_image.layout.context import DecodeContext, EncodeContext
from nwbzarr_image.layout.nodes import GroupNode
from nwbzarr_image.layout.paths import join
from nwbzarr_image.model import ProcessingModule
from nwbzarr_image.model.file import Collection


def encode_module(module: ProcessingModule, ctx: EncodeContext) -> GroupNode:
    node = GroupNode(module.name, {**typed_attrs(module), "description": module.description})
    for child in module.data_interfaces.values():
        node.add(ctx.encode(child))
    return node


def decode_module(node: GroupNode, path: str, ctx: DecodeContext) -> ProcessingModule:
    module = ProcessingModule._blank(node.name, node.attrs.get("object_id"))
    module.description = str(node.attrs.get("description", ""))
    module.data_interfaces = Collection(f"{module.where} data_interfaces", module)
    for name, child in node.children.items():
        obj = ctx.decode(child, join(path, name))
        module.data_interfaces[name] = obj
        obj.parent = module
    module.extra_attrs = extra_attrs(node.attrs, {"description"})
    return module
