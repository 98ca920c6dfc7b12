"""NWBFile: the root group, its required datasets, the collections, ``/general/subject``, and the groups the
file has that this library does not model."""

from __future__ import annotations

from typing import Any

import numpy as np

from nwbzarr_image.errors import LayoutError
from nwbzarr_image.layout.codecs.common import TYPE_ATTRS, iso, scalar, text_array
from nwbzarr_image.layout.codecs.general import decode_general, encode_general
from nwbzarr_image.layout.codecs.subject import PATH as SUBJECT_PATH
from nwbzarr_image.layout.codecs.subject import decode_subject, encode_subject
from nwbzarr_image.layout.context import DecodeContext, EncodeContext, keep
from nwbzarr_image.layout.nodes import NWB_VERSION, ArrayNode, GroupNode
from nwbzarr_image.layout.paths import COLLECTIONS, FIXED_GROUPS, ROOT_DATASETS, join
from nwbzarr_image.layout.values import deferred, to_datetime, to_text
from nwbzarr_image.model import NWBFile
from nwbzarr_image.model.core import set_raw


def encode_file_root(f: NWBFile, ctx: EncodeContext) -> GroupNode:
    root = GroupNode("", attrs={**f.extra_attrs, "namespace": "core", "neurodata_type": "NWBFile",
                                "nwb_version": NWB_VERSION, "object_id": f.object_id})
    for name in ("identifier", "session_description"):
        root.add(scalar(name, getattr(f, name), "str"))
    for name in ("session_start_time", "timestamps_reference_time"):
        root.add(scalar(name, iso(getattr(f, name)), "str"))
    root.add(text_array("file_create_date", [iso(d) for d in f.file_create_date], ["num_modifications"]))
    keep(f, root)
    for attr, path in COLLECTIONS.items():
        objects = list(getattr(f, attr).values())
        if not objects:
            continue
        group = root
        for part in path.strip("/").split("/"):
            group = group.group(part)
        for obj in objects:
            group.add(ctx.encode(obj))
    for group_path in ("stimulus/presentation", "stimulus/templates"):
        root.group("stimulus").group(group_path.split("/")[1])
    for path, node in f.extra_nodes.items():
        parent = root
        parts = path.strip("/").split("/")
        for part in parts[:-1]:
            parent = parent.group(part)
        parent.add(ctx.encode(node))
    for name in ("acquisition", "analysis", "processing", "general"):
        root.group(name)
    encode_general(f, root.group("general"))
    if f.subject is not None:
        root.group("general").add(keep(f.subject, encode_subject(f.subject, ctx)))
    return root


def _root_value(name: str) -> Any:
    if name == "file_create_date":
        return lambda v: [to_datetime(x) for x in np.asarray(v, dtype=object).ravel()]
    return to_datetime if name in ("session_start_time", "timestamps_reference_time") else to_text


def decode_file_root(root: GroupNode, ctx: DecodeContext) -> NWBFile:
    if root.attrs.get("neurodata_type") != "NWBFile":
        raise LayoutError(f"the root group is not an NWBFile: its neurodata_type is "
                          f"{root.attrs.get('neurodata_type')!r}. Open the root of an NWB file.")
    f = NWBFile._blank("root", root.attrs.get("object_id"))
    f._init_collections()
    f.extra_attrs = {k: v for k, v in root.attrs.items() if k not in TYPE_ATTRS | {"nwb_version"}}
    f.nwb_version = root.attrs.get("nwb_version")
    ctx.place(f, root, "/")
    for name in ROOT_DATASETS:
        node = root.children.get(name)
        if not isinstance(node, ArrayNode):
            ctx.problem(f"NWBFile: required dataset '/{name}' is missing", f"/{name}")
            continue
        set_raw(f, name, deferred(node, _root_value(name)))
    for attr, path in COLLECTIONS.items():
        group = group_at(root, path)
        if group is None:
            continue
        for name, child in group.children.items():
            obj = ctx.decode(child, join(path, name))
            getattr(f, attr)[name] = obj
            obj.parent = f
    subject = group_at(root, SUBJECT_PATH)
    if subject is not None and subject.attrs.get("neurodata_type") == "Subject":
        f.subject = decode_subject(subject, SUBJECT_PATH, ctx, f.nwb_version)
        ctx.place(f.subject, subject, SUBJECT_PATH)
        f.subject.parent = f
    general = decode_general(f, group_at(root, "/general"))
    _keep_unknown(f, root, ctx, {f"general/{name}" for name in general})
    return f


def group_at(root: GroupNode, path: str) -> GroupNode | None:
    node: Any = root
    for part in path.strip("/").split("/"):
        node = node.children.get(part) if isinstance(node, GroupNode) else None
    return node if isinstance(node, GroupNode) else None


def _keep_unknown(f: NWBFile, root: GroupNode, ctx: DecodeContext, modelled: set[str]) -> None:
    """Children of the root, /general and /stimulus that are neither fixed groups nor collections
    (/general/subject of another form, /intervals, /units, /specifications, ...): kept as generic nodes."""
    fixed = {p.strip("/") for p in FIXED_GROUPS} | set(ROOT_DATASETS) | modelled
    for parent in ("", "general", "stimulus"):
        group = root if parent == "" else group_at(root, parent)
        for name, child in (group.children.items() if group is not None else ()):
            rel = f"{parent}/{name}".strip("/")
            if rel in fixed or (rel == "general/subject" and f.subject is not None):
                continue
            f.extra_nodes["/" + rel] = ctx.decode_generic(child, "/" + rel)
