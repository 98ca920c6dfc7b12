"""The parts of the read path for Images (with their ordered references) and the Subject."""

from __future__ import annotations

from typing import Any

import numpy as np

from nwbzarr_image.layout.nodes import ArrayNode, GroupNode
from nwbzarr_image.layout.paths import join
from nwbzarr_image.layout.values import deferred, ref_path, to_datetime, to_text
from nwbzarr_image.model import GrayscaleImage, Image, ImageReferences, Images, NWBFile, RGBAImage, RGBImage, Subject
from nwbzarr_image.model.parse import Deferred

IMAGE_TYPES: dict[str, type[Image]] = {
    "Image": Image, "GrayscaleImage": GrayscaleImage, "RGBImage": RGBImage, "RGBAImage": RGBAImage,
}
SUBJECT_FIELDS = ("age", "description", "genotype", "sex", "species", "subject_id", "weight", "strain",
                  "date_of_birth")
TYPE_ATTRS = {"namespace", "neurodata_type", "object_id"}


def _extra(attrs: dict[str, Any], known: set[str]) -> dict[str, Any]:
    return {k: v for k, v in attrs.items() if k not in TYPE_ATTRS | known}


class ImagesAndSubject:
    """Mixed into the decoder, which provides ``by_path``, ``problem``, ``group_at`` and ``keep_children``."""

    by_path: dict[str, Any]

    def problem(self, message: str, path: str) -> None:  # pragma: no cover - provided by the decoder
        raise NotImplementedError

    def group_at(self, root: GroupNode, path: str) -> GroupNode | None:  # pragma: no cover
        raise NotImplementedError

    def keep_children(self, obj: Any, node: GroupNode, path: str, known: set[str]) -> None:  # pragma: no cover
        raise NotImplementedError

    def subject(self, f: NWBFile, root: GroupNode) -> None:
        node = self.group_at(root, "/general/subject")
        if node is None or node.attrs.get("neurodata_type") != "Subject":
            return
        subject = Subject._blank("subject", node.attrs.get("object_id"))
        subject.extra_attrs = _extra(node.attrs, set())
        for name, child in node.children.items():
            if not isinstance(child, ArrayNode) or name not in SUBJECT_FIELDS:
                continue
            subject.__dict__["_field_" + name] = deferred(child, to_datetime if name == "date_of_birth" else to_text)
            if name == "age":
                subject.age__reference = str(child.attrs.get("reference", "birth"))
        self.keep_children(subject, node, "/general/subject", set(SUBJECT_FIELDS))
        subject.__dict__["_stored_path"] = "/general/subject"
        subject.parent = f
        f.subject = subject

    # -- objects --------------------------------------------------------------------------------

    def images(self, node: GroupNode, path: str) -> Images:
        imgs = Images._blank(node.name, node.attrs.get("object_id"))
        imgs.images = {}
        imgs.description = str(node.attrs.get("description", "no description"))
        imgs.extra_attrs = _extra(node.attrs, {"description"})
        for name, child in node.children.items():
            kind = child.attrs.get("neurodata_type")
            if isinstance(child, ArrayNode) and kind in IMAGE_TYPES:
                image = IMAGE_TYPES[kind]._blank(name, child.attrs.get("object_id"))
                image.data = child.value.lazy()
                if child.attrs.get("resolution") is not None:
                    image.resolution = self.number(child.attrs, "resolution", None, join(path, name))
                if child.attrs.get("description") is not None:
                    image.description = str(child.attrs["description"])
                image.extra_attrs = _extra(child.attrs, {"resolution", "description", "_ARRAY_DIMENSIONS"})
                image.__dict__["_stored_path"] = join(path, name)
                image.parent = imgs
                imgs.images[name] = image
                self.by_path[join(path, name)] = image
        order = node.children.get("order_of_images")
        if isinstance(order, ArrayNode):
            imgs.__dict__["_field__order"] = self.order_of_images(order, join(path, "order_of_images"))
        self.keep_children(imgs, node, path, set(imgs.images) | {"order_of_images"})
        return imgs

    def order_of_images(self, node: ArrayNode, path: str) -> Deferred:
        def load() -> ImageReferences:
            refs = ImageReferences._blank("order_of_images", node.attrs.get("object_id"))
            refs.data = []
            for ref in np.asarray(node.value.load(), dtype=object).ravel():
                if isinstance(ref, dict) and str(ref.get("source", ".")).strip() not in (".", "./", ""):
                    self.problem(f"Images.order_of_images: reference {ref!r} points into another file; it is "
                                 "left out", path)
                    continue
                target = self.by_path.get(ref_path(ref))
                if isinstance(target, Image):
                    refs.data.append(target)
                else:
                    self.problem(f"Images.order_of_images: reference {ref_path(ref)!r} does not point to an "
                                 "image of this file; it is left out", path)
            refs.__dict__["_stored_path"] = path
            return refs

        return Deferred(load, tuple(node.value.shape))

    # -- links and checks -----------------------------------------------------------------------
