"""Encode an NWBFile into node descriptions following the NWB Zarr convention of hdmf-zarr 0.14."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import numpy as np

from nwbzarr_image.errors import LayoutError, SchemaError
from nwbzarr_image.layout.nodes import NWB_VERSION, ArrayNode, GroupNode, Link, Role
from nwbzarr_image.layout.paths import COLLECTIONS, object_paths
from nwbzarr_image.model import (
    Device,
    GenericDataset,
    GenericGroup,
    Image,
    ImageMaskSeries,
    Images,
    ImageSeries,
    IndexSeries,
    NWBFile,
    OpticalSeries,
    ProcessingModule,
    Subject,
    TimeSeries,
)
from nwbzarr_image.model.core import Container, raw
from nwbzarr_image.model.dataio import ZarrDataIO, unwrap
from nwbzarr_image.model.parse import shape_of


def encode_file(nwbfile: NWBFile) -> GroupNode:
    """The node tree of a whole file."""
    enc = _Encoder(nwbfile)
    return enc.root()


def iso(value: datetime) -> str:
    return value.isoformat()


def typed_attrs(obj: Container) -> dict[str, Any]:
    attrs = dict(obj.extra_attrs)
    attrs.update({"namespace": obj.namespace, "neurodata_type": obj.neurodata_type, "object_id": obj.object_id})
    return attrs


def scalar(name: str, value: Any, dtype: str, attrs: dict[str, Any] | None = None) -> ArrayNode:
    return ArrayNode(name, value, dtype, dict(attrs or {}), role="scalar", existing=False)


def text_array(name: str, values: Any, dims: list[str] | None = None, attrs: dict[str, Any] | None = None
               ) -> ArrayNode:
    out = dict(attrs or {})
    if dims:
        out["_ARRAY_DIMENSIONS"] = dims
    return ArrayNode(name, [str(v) for v in np.asarray(unwrap(values)).ravel().tolist()], "str", out)


def dtype_name(value: Any) -> str:
    dtype = getattr(unwrap(value), "dtype", None)
    if dtype is None:
        return np.asarray(unwrap(value)).dtype.name
    return np.dtype(dtype).name if not str(dtype).startswith(("<U", "|S", "<S", "StringDType")) else "str"


def as_unsigned(where: str, arg: str, value: Any, minimum: type) -> Any:
    """hdmf's rule for unsigned spec dtypes: signed ints become unsigned of at least the same size."""
    data = unwrap(value)
    if isinstance(data, (list, tuple)):
        data = np.asarray(data)
    dtype = getattr(data, "dtype", None)
    if dtype is None or np.dtype(dtype).kind != "i" or not hasattr(data, "astype"):
        return value
    if isinstance(data, np.ndarray) and data.size and data.min() < 0:
        raise SchemaError(f"{where}: '{arg}' must hold non-negative integers (stored as unsigned); got minimum "
                          f"{data.min()}. Fix the negative values.")
    target = np.dtype(f"u{max(np.dtype(dtype).itemsize, np.dtype(minimum).itemsize)}")
    converted = data.astype(target)
    if isinstance(value, ZarrDataIO):
        value.data = converted
        return value
    return converted


def as_float64(value: Any) -> Any:
    data = unwrap(value)
    if isinstance(data, (list, tuple)):
        converted = np.asarray(data, dtype=np.float64)
    elif hasattr(data, "astype") and np.dtype(data.dtype) != np.float64:
        converted = data.astype(np.float64)
    else:
        return value
    if isinstance(value, ZarrDataIO):
        value.data = converted
        return value
    return converted


def as_array(value: Any) -> Any:
    data = unwrap(value)
    if isinstance(data, (list, tuple)):
        converted = np.asarray(data)
        if isinstance(value, ZarrDataIO):
            value.data = converted
            return value
        return converted
    return value


def frame_dims(obj: ImageSeries, ndim: int) -> list[str] | None:
    if ndim == 3:
        return ["frame", "x", "y"]
    if ndim == 4:
        return ["frame", "x", "y", "r, g, b" if isinstance(obj, OpticalSeries) else "z"]
    return None


def series_dims(ndim: int) -> list[str] | None:
    return [["num_times"], ["num_times", "num_DIM2"], ["num_times", "num_DIM2", "num_DIM3"],
            ["num_times", "num_DIM2", "num_DIM3", "num_DIM4"]][ndim - 1] if 1 <= ndim <= 4 else None


class _Encoder:
    def __init__(self, nwbfile: NWBFile) -> None:
        self.nwbfile = nwbfile
        self.paths = object_paths(nwbfile)

    def path_of(self, owner: Container, arg: str, target: Container) -> str:
        try:
            return self.paths[id(target)]
        except KeyError:
            raise LayoutError(
                f"{owner.where}: '{arg}' points to {target.where}, which is not in this NWBFile; add it first "
                "(nwbfile.add_device / add_acquisition / add_stimulus / add_stimulus_template)."
            ) from None

    def root(self) -> GroupNode:
        f = self.nwbfile
        root = GroupNode("", attrs={**f.extra_attrs, "namespace": "core", "neurodata_type": "NWBFile",
                                    "nwb_version": NWB_VERSION, "object_id": f.object_id},
                         existing=_is_stored(f))
        for name in ("identifier", "session_description"):
            root.add(_keep(f, scalar(name, getattr(f, name), "str")))
        for name in ("session_start_time", "timestamps_reference_time"):
            root.add(_keep(f, scalar(name, iso(getattr(f, name)), "str")))
        root.add(_keep(f, text_array("file_create_date", [iso(d) for d in f.file_create_date],
                                     ["num_modifications"])))
        for attr, path in COLLECTIONS.items():
            objects = list(getattr(f, attr).values())
            if not objects:
                continue
            group = root
            for part in path.strip("/").split("/"):
                group = group.group(part)
            for obj in objects:
                group.add(self.encode(obj))
        for group_path in ("stimulus/presentation", "stimulus/templates"):
            root.group("stimulus").group(group_path.split("/")[1])
        for path, node in f.extra_nodes.items():
            parent = root
            parts = path.strip("/").split("/")
            for part in parts[:-1]:
                parent = parent.group(part)
            parent.add(self.encode(node))
        for name in ("acquisition", "analysis", "processing", "general"):
            root.group(name)
        if f.subject is not None:
            root.group("general").add(_keep(f.subject, self.subject(f.subject)))
        return root

    def subject(self, subject: Subject) -> GroupNode:
        node = GroupNode("subject", typed_attrs(subject))
        for name in ("age", "description", "genotype", "sex", "species", "subject_id", "weight", "strain"):
            if getattr(subject, name) is not None:
                attrs = {"reference": subject.age__reference} if name == "age" else {}
                node.add(scalar(name, getattr(subject, name), "str", attrs))
        if subject.date_of_birth is not None:
            node.add(scalar("date_of_birth", iso(subject.date_of_birth), "str"))
        return self.extras(subject, node)

    def encode(self, obj: Any) -> GroupNode | ArrayNode:
        if isinstance(obj, (GenericGroup, GenericDataset)):
            node = self.generic(obj)
        elif isinstance(obj, Device):
            node = self.device(obj)
        elif isinstance(obj, TimeSeries):
            node = self.series(obj)
        elif isinstance(obj, Images):
            node = self.images(obj)
        elif isinstance(obj, Image):
            node = self.image(obj)
        elif isinstance(obj, ProcessingModule):
            node = GroupNode(obj.name, {**typed_attrs(obj), "description": obj.description})
            for child in obj.data_interfaces.values():
                node.add(self.encode(child))
        else:
            raise LayoutError(f"cannot store {type(obj).__name__} {getattr(obj, 'name', '')!r}: not an NWB type "
                              "this library writes.")
        return _keep(obj, node)

    def device(self, dev: Device) -> GroupNode:
        attrs = typed_attrs(dev)
        for key in ("description", "manufacturer", "model_number", "model_name", "serial_number"):
            if getattr(dev, key) is not None:
                attrs[key] = getattr(dev, key)
        return self.extras(dev, GroupNode(dev.name, attrs))

    def series(self, ts: TimeSeries) -> GroupNode:
        node = GroupNode(ts.name, {**typed_attrs(ts), "comments": ts.comments, "description": ts.description})
        if isinstance(ts, ImageMaskSeries):
            node.links.append(Link("masked_imageseries", self.path_of(ts, "masked_imageseries",
                                                                      ts.masked_imageseries)))
        if isinstance(ts, IndexSeries):
            for arg in ("indexed_timeseries", "indexed_images"):
                target = getattr(ts, arg)
                if target is not None:
                    node.links.append(Link(arg, self.path_of(ts, arg, target)))
        if isinstance(ts, ImageSeries) and ts.device is not None:
            node.links.append(Link("device", self.path_of(ts, "device", ts.device)))
        node.links += [Link(name, path) for name, path in ts.__dict__.get("extra_links", {}).items()]
        self.series_data(ts, node)
        self.series_time(ts, node)
        if raw(ts, "control") is not None:
            node.add(ArrayNode("control", as_unsigned(ts.where, "control", as_array(ts.control), np.uint8),
                               "", {"_ARRAY_DIMENSIONS": ["num_times"]}, role="series"))
        if raw(ts, "control_description") is not None:
            node.add(text_array("control_description", ts.control_description, ["num_control_values"]))
        if isinstance(ts, ImageSeries):
            self.image_series_fields(ts, node)
        if isinstance(ts, OpticalSeries):
            if raw(ts, "distance") is not None:
                node.add(scalar("distance", float(ts.distance), "float64"))
            if raw(ts, "field_of_view") is not None:
                fov = as_float64(as_array(ts.field_of_view))
                dims = ["width, height"] if shape_of(fov) == (2,) else ["width, height, depth"]
                node.add(ArrayNode("field_of_view", fov, "", {"_ARRAY_DIMENSIONS": dims}))
            if raw(ts, "orientation") is not None:
                node.add(scalar("orientation", ts.orientation, "str"))
        for child in node.children.values():
            if isinstance(child, ArrayNode) and not child.dtype:
                child.dtype = dtype_name(child.value)
        return self.extras(ts, node)

    def series_data(self, ts: TimeSeries, node: GroupNode) -> None:
        link = ts.data_link_target
        if link is not None:
            owner = link
            while owner.data_link_target is not None:
                owner = owner.data_link_target
            node.links.append(Link("data", self.path_of(ts, "data", owner) + "/data"))
            return
        attrs: dict[str, Any] = {"conversion": ts.conversion, "offset": ts.offset, "resolution": ts.resolution,
                                 "unit": ts.unit}
        if raw(ts, "continuity") is not None and not isinstance(ts, (ImageSeries, IndexSeries)):
            attrs["continuity"] = ts.continuity
        data = as_array(ts.__dict__.get("_data"))
        if isinstance(ts, IndexSeries):
            data = as_unsigned(ts.where, "data", data, np.uint32)
        shape = shape_of(data) or ()
        if isinstance(ts, ImageSeries):
            dims, role = frame_dims(ts, len(shape)), "frames"
        else:
            dims, role = series_dims(len(shape)), "series"
        if dims:
            attrs["_ARRAY_DIMENSIONS"] = dims
        node.add(ArrayNode("data", data, "", attrs, role=_role(role, shape)))

    def series_time(self, ts: TimeSeries, node: GroupNode) -> None:
        link = ts.timestamps_link_target
        if link is not None:
            owner = link
            while owner.timestamps_link_target is not None:
                owner = owner.timestamps_link_target
            if owner.timestamps is None:
                raise LayoutError(f"{ts.where}: 'timestamps' links to {owner.where}, which is timed by rate and "
                                  "has no timestamps to link to; pass timestamps=<array> or rate= instead.")
            node.links.append(Link("timestamps", self.path_of(ts, "timestamps", owner) + "/timestamps"))
        elif ts.__dict__.get("_timestamps") is not None:
            node.add(ArrayNode("timestamps", as_float64(ts.__dict__["_timestamps"]), "float64",
                               {"interval": 1, "unit": "seconds", "_ARRAY_DIMENSIONS": ["num_times"]},
                               role="series"))
        if ts.rate is not None:
            start = ts.starting_time if raw(ts, "starting_time") is not None else 0.0
            node.add(scalar("starting_time", float(start), "float64", {"rate": ts.rate, "unit": "seconds"}))

    def image_series_fields(self, ts: ImageSeries, node: GroupNode) -> None:
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
            node.add(scalar("num_samples", n, "uint32" if 0 <= n < 2**32 else "int64"))

    def images(self, imgs: Images) -> GroupNode:
        node = GroupNode(imgs.name, {**typed_attrs(imgs), "description": imgs.description})
        for image in imgs.images.values():
            node.add(_keep(image, self.image(image)))
        order = imgs.order_of_images
        if order is not None:
            refs = [self.path_of(imgs, "order_of_images", image) for image in order.data]
            attrs = {**typed_attrs(order), "_ARRAY_DIMENSIONS": ["num_images"]}
            node.add(_keep(order, ArrayNode("order_of_images", refs, "object_reference", attrs)))
        return self.extras(imgs, node)

    def image(self, image: Image) -> ArrayNode:
        attrs = typed_attrs(image)
        if image.description is not None:
            attrs["description"] = image.description
        if image.resolution is not None:
            attrs["resolution"] = image.resolution
        data = as_array(image.data)
        return ArrayNode(image.name, data, dtype_name(data), attrs, role="small")

    def extras(self, obj: Container, node: GroupNode) -> GroupNode:
        """Children the file had that this library does not model (kept on read, written back)."""
        for child in obj.__dict__.get("extra_children", {}).values():
            if child.name not in node.children:
                node.add(_keep(child, self.generic(child)))
        return node

    def generic(self, obj: GenericGroup | GenericDataset) -> GroupNode | ArrayNode:
        if isinstance(obj, GenericDataset):
            attrs = {k: v for k, v in obj.attrs.items() if k != "_DTYPE"}
            value = obj.data
            role: Role = "scalar" if shape_of(value) == () else "small"
            return ArrayNode(obj.name, value, obj.attrs.get("_DTYPE") or dtype_name(value), attrs, role=role)
        node = GroupNode(obj.name, dict(obj.attrs))
        node.links = [Link(name, path) for name, path in obj.links.items()]
        for child in obj.children.values():
            node.add(self.encode(child))
        return node


def _role(role: Role, shape: tuple[int, ...]) -> Role:
    return "scalar" if shape == () else role


def _is_stored(obj: Any) -> bool:
    return obj.__dict__.get("_stored_path") is not None


def _keep(obj: Any, node: GroupNode | ArrayNode) -> GroupNode | ArrayNode:
    """Mark the node of an object that already is in the store, so that appending skips it."""
    node.existing = _is_stored(obj)
    if node.existing and isinstance(node, GroupNode):
        for child in node.children.values():
            if isinstance(child, ArrayNode):
                child.existing = True
    return node


