"""Subject (``/general/subject``): one text scalar per field, ``age`` with its ``reference`` attribute.

``age__reference`` reads as pynwb 4.2 reads it: the attribute when stored; without it (files before NWB 2.6,
which had none) None when the file's ``nwb_version`` is below 2.6, else the default 'birth'."""

from __future__ import annotations

import re
from typing import Any

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
            attrs = {"reference": subject.age__reference} if name == "age" and subject.age__reference else {}
            node.add(scalar(name, getattr(subject, name), "str", attrs))
    if subject.date_of_birth is not None:
        node.add(scalar("date_of_birth", iso(subject.date_of_birth), "str"))
    return encode_extras(subject, node, ctx)


def version_tuple(version: Any) -> tuple[int, ...] | None:
    """``'2.5.1-alpha'`` -> (2, 5, 1), ``'2.0b'`` -> (2, 0, 0); None when not a version."""
    found = re.match(r"\s*(\d+)\.(\d+)(?:\.(\d+))?", str(version)) if version is not None else None
    return None if found is None else tuple(int(part or 0) for part in found.groups())


def default_age_reference(nwb_version: Any) -> str | None:
    """What a missing ``reference`` means: None before NWB 2.6 (there was none), else 'birth'."""
    version = version_tuple(nwb_version)
    return None if version is not None and version < (2, 6, 0) else "birth"


def decode_subject(node: GroupNode, path: str, ctx: DecodeContext, nwb_version: Any = None) -> Subject:
    subject = Subject._blank("subject", node.attrs.get("object_id"))
    subject.extra_attrs = extra_attrs(node.attrs, set())
    reference = default_age_reference(nwb_version)
    for name, child in node.children.items():
        if not isinstance(child, ArrayNode) or name not in FIELDS:
            continue
        set_raw(subject, name, deferred(child, to_datetime if name == "date_of_birth" else to_text))
        if name == "age" and child.attrs.get("reference") is not None:
            reference = str(child.attrs["reference"])
    set_raw(subject, "age__reference", reference)
    ctx.keep_children(subject, node, path, set(FIELDS))
    return subject
