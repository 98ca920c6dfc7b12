"""Subject (``/general/subject``): one text scalar per field, ``age`` with its ``reference`` attribute."""

from __future__ import annotations

from nwbzarr_image.layout.codecs.common import extra_attrs, iso, scalar, typed_attrs
from nwbzarr_image.layout.codecs.generic import encode_extras
from nwbzarr_image.layout.context import DecodeContext, EncodeContext
from nwbzarr_image.layout.nodes import ArrayNode, GroupNode
from nwbzarr_image.layout.values import deferred, to_datetime, to_text
from nwbzarr_image.model import Subject
from nwbzarr_image.model.core import set_raw

PATH = "/general/subject"
TEXT_FIELDS = ("age", "description", "genotype", "sex", "species", "subject_id", "weight", "strain")
FIELDS = (*TEXT_FIELDS, "date_of_birth")


def encode_subject(subject: Subject, ctx: EncodeContext) -> GroupNode:
    node = GroupNode("subject", typed_attrs(subject))
    for name in TEXT_FIELDS:
        if getattr(subject, name) is not None:
            attrs = {"reference": subject.age__reference} if name == "age" else {}
            node.add(scalar(name, getattr(subject, name), "str", attrs))
    if subject.date_of_birth is not None:
        node.add(scalar("date_of_birth", iso(subject.date_of_birth), "str"))
    return encode_extras(subject, node, ctx)


def decode_subject(node: GroupNode, path: str, ctx: DecodeContext) -> Subject:
    subject = Subject._blank("subject", node.attrs.get("object_id"))
    subject.extra_attrs = extra_attrs(node.attrs, set())
    for name, child in node.children.items():
        if not isinstance(child, ArrayNode) or name not in FIELDS:
            continue
        set_raw(subject, name, deferred(child, to_datetime if name == "date_of_birth" else to_text))
        if name == "age":
            subject.age__reference = str(child.attrs.get("reference", "birth"))
    ctx.keep_children(subject, node, path, set(FIELDS))
    return subject
