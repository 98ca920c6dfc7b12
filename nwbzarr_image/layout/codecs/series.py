"""The TimeSeries family: TimeSeries, ImageSeries (and subtypes of other namespaces), ImageMaskSeries,
OpticalSeries, IndexSeries. What each type stores is stated here once, for both directions."""

from __future__ import annotations

from typing import Any

import numpy as np

from nwbzarr_image.errors import LayoutError
from nwbzarr_image.layout.codecs.common import (
    as_array,
    as_float64,
    as_unsigned,
    dtype_name,
    extra_attrs,
    scalar,
    text_array,
    typed_attrs,
)
from nwbzarr_image.layout.codecs.generic import encode_extras
from nwbzarr_image.layout.context import DecodeContext, EncodeContext
from nwbzarr_image.layout.nodes import ArrayNode, GroupNode, Link, Role
from nwbzarr_image.layout.values import deferred, to_number, to_text, to_texts
from nwbzarr_image.model import ImageMaskSeries, ImageSeries, IndexSeries, OpticalSeries, TimeSeries
from nwbzarr_image.model.core import raw, set_raw
from nwbzarr_image.model.dataio import unwrap
from nwbzarr_image.model.parse import shape_of

# the datasets of each type that the model holds; any other child is kept as it is
TIMESERIES_MEMBERS = frozenset({"data", "timestamps", "starting_time", "control", "control_description"})
IMAGE_SERIES_MEMBERS = TIMESERIES_MEMBERS | {"dimension", "external_file", "format", "num_samples"}
OPTICAL_MEMBERS = IMAGE_SERIES_MEMBERS | {"distance", "field_of_view", "orientation"}
# the links of each type that the model holds (besides data and timestamps links)
LINK_FIELDS = {ImageMaskSeries: ("masked_imageseries",), IndexSeries: ("indexed_timeseries", "indexed_images"),
               ImageSeries: ("device",)}
DATA_ATTRS = ("conversion", "offset", "resolution", "unit")


def members_of(cls: type) -> frozenset[str]:
    if issubclass(cls, OpticalSeries):
        return OPTICAL_MEMBERS
    return IMAGE_SERIES_MEMBERS if issubclass(cls, ImageSeries) else TIMESERIES_MEMBERS


def link_fields(cls: type) -> tuple[str, ...]:
    return tuple(name for base, names in LINK_FIELDS.items() if issubclass(cls, base) for name in names)


def num_samples_dtype(n: int) -> str:
    return "uint32" if 0 <= n < 2**32 else "int64"


# -- encoding ----------------------------------------------------------------------------------


def encode_series(ts: TimeSeries, ctx: EncodeContext) -> GroupNode:
    node = GroupNode(ts.name, {**typed_attrs(ts), "comments": ts.comments, "description": ts.description})
    for name in link_fields(type(ts)):
        target = getattr(ts, name)
        if target is not None:
            node.links.append(Link(name, ctx.path_of(ts, name, target)))
    _encode_data(ts, node, ctx)
    _encode_time(ts, node, ctx)
    if raw(ts, "control") is not None:
        node.add(ArrayNode("control", as_unsigned(ts.where, "control", as_array(ts.control), np.uint8),
                           "", {"_ARRAY_DIMENSIONS": ["num_times"]}, role="series"))
    if raw(ts, "control_description") is not None:
        node.add(text_array("control_description", ts.control_description, ["num_control_values"]))
    if isinstance(ts, ImageSeries):
        _encode_image_fields(ts, node)
    if isinstance(ts, OpticalSeries):
        _encode_optical_fields(ts, node)
    for child in node.children.values():
        if isinstance(child, ArrayNode) and not child.dtype:
            child.dtype = dtype_name(child.value)
    return encode_extras(ts, node, ctx)


def _link_owner(ts: TimeSeries, link: str) -> TimeSeries | None:
    """The series at the end of a chain of data (or timestamps) links, which holds the array; None if no link."""
    owner: TimeSeries | None = getattr(ts, link)
    while owner is not None and getattr(owner, link) is not None:
        owner = getattr(owner, link)
    return owner


def _encode_data(ts: TimeSeries, node: GroupNode, ctx: EncodeContext) -> None:
    owner = _link_owner(ts, "data_link_target")
    if owner is not None:
        node.links.append(Link("data", ctx.path_of(ts, "data", owner) + "/data"))
        return
    attrs: dict[str, Any] = {name: getattr(ts, name) for name in DATA_ATTRS}
    if raw(ts, "continuity") is not None and not isinstance(ts, (ImageSeries, IndexSeries)):
        attrs["continuity"] = ts.continuity
    data = as_array(ts.own_data())
    if isinstance(ts, IndexSeries):
        data = as_unsigned(ts.where, "data", data, np.uint32)
    shape = shape_of(data) or ()
    dims = ts.data_dims(len(shape))
    if dims:
        attrs["_ARRAY_DIMENSIONS"] = list(dims)
    role: Role = "scalar" if shape == () else "frames" if isinstance(ts, ImageSeries) else "series"
    node.add(ArrayNode("data", data, "", attrs, role=role))


def _encode_time(ts: TimeSeries, node: GroupNode, ctx: EncodeContext) -> None:
    owner = _link_owner(ts, "timestamps_link_target")
    if owner is not None:
        if owner.timestamps is None:
            raise LayoutError(f"{ts.where}: 'timestamps' links to {owner.where}, which is timed by rate and "
                              "has no timestamps to link to; pass timestamps=<array> or rate= instead.")
        node.links.append(Link("timestamps", ctx.path_of(ts, "timestamps", owner) + "/timestamps"))
    elif ts.own_timestamps() is not None:
        node.add(ArrayNode("timestamps", as_float64(ts.own_timestamps()), "float64",
                           {"interval": 1, "unit": "seconds", "_ARRAY_DIMENSIONS": ["num_times"]},
                           role="series"))
    if ts.rate is not None:
        start = ts.starting_time if raw(ts, "starting_time") is not None else 0.0
        node.add(scalar("starting_time", float(start), "float64", {"rate": ts.rate, "unit": "seconds"}))


def _encode_image_fields(ts: ImageSeries, node: GroupNode) -> None:
    if raw(ts, "dimension") is not None:
        node.add(ArrayNode("dimension", as_array(ts.dimension), "", {"_ARRAY_DIMENSIONS": ["rank"]}))
    if raw(ts, "external_file") is not None:
        attrs: dict[str, Any] = {"_ARRAY_DIMENSIONS": ["num_files"]}
        if raw(ts, "starting_frame") is not None:
            attrs["starting_frame"] = [int(v) for v in np.asarray(unwrap(ts.starting_frame)).ravel()]
        node.add(text_array("external_file", ts.external_file, attrs=attrs))
    if raw(ts, "format") is not None:
        node.add(scalar("format", ts.format, "str"))
    if ts.explicit_num_samples is not None:
        n = int(ts.explicit_num_samples)
        node.add(scalar("num_samples", n, num_samples_dtype(n)))


def _encode_optical_fields(ts: OpticalSeries, node: GroupNode) -> None:
    if raw(ts, "distance") is not None:
        node.add(scalar("distance", float(ts.distance), "float64"))
    if raw(ts, "field_of_view") is not None:
        fov = as_float64(as_array(ts.field_of_view))
        dims = ["width, height"] if shape_of(fov) == (2,) else ["width, height, depth"]
        node.add(ArrayNode("field_of_view", fov, "", {"_ARRAY_DIMENSIONS": dims}))
    if raw(ts, "orientation") is not None:
        node.add(scalar("orientation", ts.orientation, "str"))


# -- decoding ----------------------------------------------------------------------------------


def decode_series(node: GroupNode, path: str, ctx: DecodeContext, cls: type[TimeSeries]) -> TimeSeries:
    ts = cls._blank(node.name, node.attrs.get("object_id"))
    kids = node.children
    ts.comments = str(node.attrs.get("comments", "no comments"))
    ts.description = str(node.attrs.get("description", "no description"))
    ts.extra_attrs = extra_attrs(node.attrs, {"comments", "description"})
    _decode_data(ts, kids.get("data"), path, ctx, cls)
    if isinstance(stamps := kids.get("timestamps"), ArrayNode):
        ts._set_timestamps(stamps.value.lazy())
    start = kids.get("starting_time")
    if isinstance(start, ArrayNode):
        set_raw(ts, "starting_time", deferred(start, lambda v: float(to_number(v))))
        if start.attrs.get("rate") is not None:
            ts.rate = ctx.number(start.attrs, "rate", None, f"{path}/starting_time")
    if isinstance(control := kids.get("control"), ArrayNode):
        ts.control = control.value.lazy()
    if isinstance(described := kids.get("control_description"), ArrayNode):
        ts.control_description = deferred(described, to_texts)
    if isinstance(ts, ImageSeries):
        _decode_image_fields(ts, kids, ctx)
    if isinstance(ts, OpticalSeries):
        _decode_optical_fields(ts, kids)
    known_links = {"data", "timestamps", *link_fields(cls)}
    for link in node.links:
        if link.name in known_links:
            ctx.pending_links.append((ts, link.name, link.path, link.source))
        else:
            ts.extra_links[link.name] = link.path
    ctx.keep_children(ts, node, path, set(members_of(cls)))
    ctx.check_later(ts, path)
    return ts


def _decode_data(ts: TimeSeries, data: Any, path: str, ctx: DecodeContext, cls: type[TimeSeries]) -> None:
    if isinstance(data, ArrayNode):
        ts._set_data(data.value.lazy())
        a = data.attrs
        if "unit" not in a:
            ctx.problem(f"{ts.where}: data has no 'unit' attribute, which NWB requires; "
                        f"'{TimeSeries.DEFAULT_UNIT}' is used", path)
        ts.unit = str(a.get("unit", TimeSeries.DEFAULT_UNIT))
        ts.conversion = ctx.number(a, "conversion", 1.0, f"{path}/data")
        ts.resolution = ctx.number(a, "resolution", -1.0, f"{path}/data")
        ts.offset = ctx.number(a, "offset", 0.0, f"{path}/data")
        if cls is TimeSeries and a.get("continuity") is not None:
            ts.continuity = str(a["continuity"])
    elif not issubclass(cls, ImageSeries):
        ts._set_data(cls.DEFAULT_DATA)


def _decode_image_fields(ts: ImageSeries, kids: dict[str, Any], ctx: DecodeContext) -> None:
    if isinstance(kids.get("dimension"), ArrayNode):
        ts.dimension = deferred(kids["dimension"], np.asarray)
    ext = kids.get("external_file")
    if isinstance(ext, ArrayNode):
        ts.external_file = deferred(ext, to_texts)
        if ext.attrs.get("starting_frame") is not None:
            try:
                ts.starting_frame = np.asarray(ext.attrs["starting_frame"], dtype=np.int64).reshape(-1)
            except (TypeError, ValueError):
                ctx.problem(f"{ts.where}: external_file's 'starting_frame' attribute is not a list of "
                            f"integers; got {ext.attrs['starting_frame']!r:.60}; it is ignored", f"{ext.value.path}")
    if isinstance(kids.get("format"), ArrayNode):
        ts.format = deferred(kids["format"], to_text)
    if isinstance(kids.get("num_samples"), ArrayNode):
        set_raw(ts, "_num_samples", deferred(kids["num_samples"], lambda v: int(to_number(v))))


def _decode_optical_fields(ts: OpticalSeries, kids: dict[str, Any]) -> None:
    if isinstance(kids.get("distance"), ArrayNode):
        ts.distance = deferred(kids["distance"], lambda v: float(to_number(v)))
    if isinstance(kids.get("field_of_view"), ArrayNode):
        ts.field_of_view = deferred(kids["field_of_view"], np.asarray)
    if isinstance(kids.get("orientation"), ArrayNode):
        ts.orientation = deferred(kids["orientation"], to_text)
