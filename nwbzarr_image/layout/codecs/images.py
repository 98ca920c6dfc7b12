"""Images and their images (GrayscaleImage, RGBImage, RGBAImage, Image; ExternalImage: a 0-d text dataset holding
the file's path, with ``image_format``, ``image_mode`` and ``description`` attributes), with ``order_of_images``:
an ``object_reference`` array of the images' absolute paths."""

from __future__ import annotations

from typing import Any

import numpy as np

from nwbzarr_image.errors import LayoutError
from nwbzarr_image.layout.codecs.common import as_array, dtype_name, extra_attrs, scalar, typed_attrs
from nwbzarr_image.layout.codecs.generic import encode_extras
from nwbzarr_image.layout.context import DecodeContext, EncodeContext, keep
from nwbzarr_image.layout.nodes import ArrayNode, GroupNode
from nwbzarr_image.layout.paths import join
from nwbzarr_image.layout.values import deferred, ref_path, to_text
from nwbzarr_image.model import (
    BaseImage,
    ExternalImage,
    GrayscaleImage,
    Image,
    ImageReferences,
    Images,
    RGBAImage,
    RGBImage,
)
from nwbzarr_image.model.core import set_raw
from nwbzarr_image.model.parse import Deferred

IMAGE_TYPES: dict[str, type[Image]] = {
    "Image": Image, "GrayscaleImage": GrayscaleImage, "RGBImage": RGBImage, "RGBAImage": RGBAImage,
}
IMAGE_ATTRS = {"resolution", "description", "_ARRAY_DIMENSIONS"}
EXTERNAL_ATTRS = ("description", "image_format", "image_mode")


def encode_external_image(image: ExternalImage, ctx: EncodeContext) -> ArrayNode:
    attrs = typed_attrs(image)
    for key in EXTERNAL_ATTRS:
        if getattr(image, key) is not None:
            attrs[key] = getattr(image, key)
    return scalar(image.name, str(image.data), "str", attrs)


def decode_external_image(node: ArrayNode, path: str, ctx: DecodeContext) -> ExternalImage:
    image = ExternalImage._blank(node.name, node.attrs.get("object_id"))
    set_raw(image, "data", deferred(node, to_text))
    for key in EXTERNAL_ATTRS:
        if node.attrs.get(key) is not None:
            setattr(image, key, str(node.attrs[key]))
    image.extra_attrs = extra_attrs(node.attrs, set(EXTERNAL_ATTRS))
    ctx.place(image, node, path)
    ctx.check_later(image, path)
    return image


def encode_image(image: Image, ctx: EncodeContext) -> ArrayNode:
    attrs = typed_attrs(image)
    if image.description is not None:
        attrs["description"] = image.description
    if image.resolution is not None:
        attrs["resolution"] = image.resolution
    data = as_array(image.data)
    return ArrayNode(image.name, data, dtype_name(data), attrs, role="small")


def encode_images(imgs: Images, ctx: EncodeContext) -> GroupNode:
    node = GroupNode(imgs.name, {**typed_attrs(imgs), "description": imgs.description})
    for image in imgs.images.values():
        if isinstance(image, ExternalImage):
            encoded = encode_external_image(image, ctx)
        elif isinstance(image, Image):
            encoded = encode_image(image, ctx)
        else:
            raise LayoutError(f"{imgs.where}: {image.where} has no NWB layout; expected an Image (GrayscaleImage, "
                              f"RGBImage, RGBAImage) or an ExternalImage, got {type(image).__name__}. Store it as "
                              "one of those.")
        node.add(keep(image, encoded))
    order = imgs.order_of_images
    if order is not None:
        refs = [ctx.path_of(imgs, "order_of_images", image) for image in order.data]
        attrs = {**typed_attrs(order), "_ARRAY_DIMENSIONS": ["num_images"]}
        node.add(keep(order, ArrayNode("order_of_images", refs, "object_reference", attrs)))
    return encode_extras(imgs, node, ctx)


def decode_image(node: ArrayNode, path: str, ctx: DecodeContext, cls: type[Image]) -> Image:
    image = cls._blank(node.name, node.attrs.get("object_id"))
    stored = node.value
    # the dask array is made when the pixels are first used: a file of 10,000 images opens without 10,000 graphs
    set_raw(image, "data", Deferred(stored.lazy, tuple(stored.shape), getattr(stored, "dtype", None)))
    if node.attrs.get("resolution") is not None:
        image.resolution = ctx.number(node.attrs, "resolution", None, path)
    if node.attrs.get("description") is not None:
        image.description = str(node.attrs["description"])
    image.extra_attrs = extra_attrs(node.attrs, IMAGE_ATTRS)
    ctx.place(image, node, path)
    return image


def decode_images(node: GroupNode, path: str, ctx: DecodeContext) -> Images:
    imgs = Images._blank(node.name, node.attrs.get("object_id"))
    imgs.images = {}
    imgs.description = str(node.attrs.get("description", "no description"))
    imgs.extra_attrs = extra_attrs(node.attrs, {"description"})
    for name, child in node.children.items():
        kind = child.attrs.get("neurodata_type")
        if isinstance(child, ArrayNode) and kind in (*IMAGE_TYPES, "ExternalImage"):
            image: BaseImage = (decode_external_image(child, join(path, name), ctx) if kind == "ExternalImage"
                                else decode_image(child, join(path, name), ctx, IMAGE_TYPES[kind]))
            image.parent = imgs
            imgs.images[name] = image
    order = node.children.get("order_of_images")
    if isinstance(order, ArrayNode):
        set_raw(imgs, "_order", _order_of_images(order, join(path, "order_of_images"), ctx))
    ctx.keep_children(imgs, node, path, set(imgs.images) | {"order_of_images"})
    return imgs


def _order_of_images(node: ArrayNode, path: str, ctx: DecodeContext) -> Deferred:
    def load() -> ImageReferences:
        refs = ImageReferences._blank("order_of_images", node.attrs.get("object_id"))
        refs.data = []
        for ref in np.asarray(node.value.load(), dtype=object).ravel():
            if isinstance(ref, dict) and str(ref.get("source", ".")).strip() not in (".", "./", ""):
                ctx.problem(f"Images.order_of_images: reference {ref!r} points into another file; it is "
                            "left out", path)
                continue
            target: Any = ctx.by_path.get(ref_path(ref))
            if isinstance(target, BaseImage):
                refs.data.append(target)
            else:
                ctx.problem(f"Images.order_of_images: reference {ref_path(ref)!r} does not point to an "
                            "image of this file; it is left out", path)
        ctx.place(refs, node, path, register=False)
        return refs

    return Deferred(load, tuple(node.value.shape))
