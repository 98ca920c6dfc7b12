"""Decode node descriptions read from a store into an NWBFile (the read path)."""

from __future__ import annotations

import posixpath
import warnings
from typing import Any

import numpy as np

from nwbzarr_image.errors import InvalidFileWarning, LayoutError
from nwbzarr_image.layout.decode_parts import ImagesAndSubject
from nwbzarr_image.layout.nodes import ArrayNode, GroupNode
from nwbzarr_image.layout.paths import COLLECTIONS, FIXED_GROUPS, ROOT_DATASETS, join
from nwbzarr_image.layout.specs import Ancestry, cached_spec_texts
from nwbzarr_image.layout.values import deferred, to_datetime, to_number, to_text, to_texts
from nwbzarr_image.model import (
    Device,
    GenericDataset,
    GenericGroup,
    GrayscaleImage,
    Image,
    ImageMaskSeries,
    ImageSeries,
    IndexSeries,
    NWBFile,
    OpticalSeries,
    ProcessingModule,
    RGBAImage,
    RGBImage,
    TimeSeries,
)
from nwbzarr_image.model.core import Checker, Container

SERIES_TYPES: dict[str, type[TimeSeries]] = {
    "TimeSeries": TimeSeries, "ImageSeries": ImageSeries, "ImageMaskSeries": ImageMaskSeries,
    "OpticalSeries": OpticalSeries, "IndexSeries": IndexSeries,
}
IMAGE_TYPES: dict[str, type[Image]] = {
    "Image": Image, "GrayscaleImage": GrayscaleImage, "RGBImage": RGBImage, "RGBAImage": RGBAImage,
}
TYPE_ATTRS = {"namespace", "neurodata_type", "object_id"}
TIMESERIES_MEMBERS = {"data", "timestamps", "starting_time", "control", "control_description"}
IMAGE_SERIES_MEMBERS = TIMESERIES_MEMBERS | {"dimension", "external_file", "format", "num_samples"}
OPTICAL_MEMBERS = IMAGE_SERIES_MEMBERS | {"distance", "field_of_view", "orientation"}


def members_of(cls: type) -> set[str]:
    """The datasets of a series that the model holds; any other child is kept as is."""
    if issubclass(cls, OpticalSeries):
        return OPTICAL_MEMBERS
    return IMAGE_SERIES_MEMBERS if issubclass(cls, ImageSeries) else TIMESERIES_MEMBERS
SUBJECT_FIELDS = ("age", "description", "genotype", "sex", "species", "subject_id", "weight", "strain",
                  "date_of_birth")
MODELLED_GROUPS = {*SERIES_TYPES, "Images", "Device", "ProcessingModule", "Subject", "NWBFile"}
LINK_FIELDS = ("device", "masked_imageseries", "indexed_images", "indexed_timeseries")


def decode_file(root: GroupNode, *, strict: bool = False, ancestry: Ancestry | None = None) -> NWBFile:
    """Build an NWBFile from the node tree of a store (values stay in the store until used).

    ``ancestry`` tells which types a type extends (for ImageSeries subtypes of other modules and
    extensions); by default the file's cached schema under ``/specifications`` is used. The returned
    file keeps its decoder as ``late_decoder`` to decode nodes found later (see ``decode_late``).
    """
    decoder = _Decoder(strict, ancestry or Ancestry(lambda: cached_spec_texts(root)))
    nwbfile = decoder.file(root)
    nwbfile.__dict__["late_decoder"] = decoder
    return nwbfile


def decode_late(nwbfile: NWBFile, node: GroupNode | ArrayNode, path: str) -> Any:
    """Decode one node that the file's consolidated metadata did not list, resolving its links against
    the objects already read."""
    decoder: _Decoder = nwbfile.__dict__["late_decoder"]
    decoder.pending_links, decoder.to_check = [], []
    obj = decoder.object(node, path)
    obj.parent = nwbfile
    decoder.resolve_links()
    for item, item_path in decoder.to_check:
        decoder.check(item, item_path)
    return obj


class _Decoder(ImagesAndSubject):
    def __init__(self, strict: bool, ancestry: Ancestry) -> None:
        self.strict = strict
        self.ancestry = ancestry
        self.by_path: dict[str, Any] = {}
        self.pending_links: list[tuple[Container, str, str, str]] = []
        self.to_check: list[tuple[Container, str]] = []

    def number(self, attrs: dict[str, Any], key: str, default: float | None, path: str) -> float | None:
        """A float attribute; a value of another type is reported and the default used."""
        value = attrs.get(key, default)
        if value is None or (isinstance(value, (int, float)) and not isinstance(value, bool)):
            return None if value is None else float(value)
        self.problem(f"attribute '{key}' must be a number; got {value!r:.60}; {default} is used", path)
        return default

    def checker(self, path: str) -> Checker:
        return Checker("read", self.strict, path)

    def problem(self, message: str, path: str) -> None:
        self.checker(path).problem(message)

    # -- the file -----------------------------------------------------------------------------

    def file(self, root: GroupNode) -> NWBFile:
        if root.attrs.get("neurodata_type") != "NWBFile":
            raise LayoutError(f"the root group is not an NWBFile: its neurodata_type is "
                              f"{root.attrs.get('neurodata_type')!r}. Open the root of an NWB file.")
        f = NWBFile._blank("root", root.attrs.get("object_id"))
        f._init_collections()
        f.extra_attrs = {k: v for k, v in root.attrs.items() if k not in TYPE_ATTRS | {"nwb_version"}}
        f.nwb_version = root.attrs.get("nwb_version")
        f.__dict__["_stored_path"] = "/"
        for name in ROOT_DATASETS:
            node = root.children.get(name)
            if not isinstance(node, ArrayNode):
                self.problem(f"NWBFile: required dataset '/{name}' is missing", f"/{name}")
                continue
            convert = {"file_create_date": lambda v: [to_datetime(x) for x in np.asarray(v, dtype=object).ravel()],
                       "session_start_time": to_datetime, "timestamps_reference_time": to_datetime}.get(name, to_text)
            f.__dict__["_field_" + name] = deferred(node, convert)
        for attr, path in COLLECTIONS.items():
            group = self.group_at(root, path)
            if group is None:
                continue
            for name, child in group.children.items():
                obj = self.object(child, join(path, name))
                getattr(f, attr)[name] = obj
                obj.parent = f
        self.subject(f, root)
        self.keep_unknown(f, root)
        self.resolve_links()
        for obj, path in self.to_check:
            self.check(obj, path)
        f._seal()
        return f

    def group_at(self, root: GroupNode, path: str) -> GroupNode | None:
        node: Any = root
        for part in path.strip("/").split("/"):
            node = node.children.get(part) if isinstance(node, GroupNode) else None
        return node if isinstance(node, GroupNode) else None

    def keep_unknown(self, f: NWBFile, root: GroupNode) -> None:
        """Children of the root, /general and /stimulus that are neither fixed groups nor collections
        (/general/subject of another form, /intervals, /units, /specifications, ...): kept as generic nodes."""
        fixed = {p.strip("/") for p in FIXED_GROUPS} | set(ROOT_DATASETS)
        for parent in ("", "general", "stimulus"):
            group = root if parent == "" else self.group_at(root, parent)
            for name, child in (group.children.items() if group is not None else ()):
                rel = f"{parent}/{name}".strip("/")
                if rel in fixed or (rel == "general/subject" and f.subject is not None):
                    continue
                f.extra_nodes["/" + rel] = self.generic(child, "/" + rel)

    def object(self, node: GroupNode | ArrayNode, path: str) -> Any:
        kind = node.attrs.get("neurodata_type")
        namespace = node.attrs.get("namespace")
        base = self.image_series_base(node, kind, namespace)
        if base is not None:
            obj: Any = self.series(node, path, SERIES_TYPES[base])
            obj.neurodata_type, obj.namespace = kind, namespace  # written back as the subtype it is
        elif isinstance(node, GroupNode) and namespace == "core" and kind in SERIES_TYPES:
            obj = self.series(node, path, SERIES_TYPES[kind])
        elif isinstance(node, GroupNode) and namespace == "core" and kind == "Images":
            obj = self.images(node, path)
        elif isinstance(node, GroupNode) and namespace == "core" and kind == "Device":
            obj = self.device(node, path)
        elif isinstance(node, GroupNode) and namespace == "core" and kind == "ProcessingModule":
            obj = ProcessingModule._blank(node.name, node.attrs.get("object_id"))
            obj.description = str(node.attrs.get("description", ""))
            obj.data_interfaces = _collection(obj)
            for name, child in node.children.items():
                obj.data_interfaces[name] = self.object(child, join(path, name))
                obj.data_interfaces[name].parent = obj
            obj.extra_attrs = _extra(node.attrs, {"description"})
        else:
            obj = self.generic(node, path)
        obj.__dict__["_stored_path"] = path
        self.by_path[path] = obj
        return obj

    def image_series_base(self, node: GroupNode | ArrayNode, kind: Any, namespace: Any) -> str | None:
        """For a subtype of ImageSeries from another module or namespace: the closest type we model."""
        if not isinstance(node, GroupNode) or not isinstance(kind, str) or (namespace == "core" and
                                                                          kind in MODELLED_GROUPS):
            return None
        chain = self.ancestry(kind)
        if "ImageSeries" not in chain:
            return None
        return next(parent for parent in chain if parent in SERIES_TYPES)

    def generic(self, node: GroupNode | ArrayNode, path: str) -> GenericGroup | GenericDataset:
        if isinstance(node, ArrayNode):
            attrs = dict(node.attrs)
            if node.dtype:
                attrs["_DTYPE"] = node.dtype
            obj: Any = GenericDataset._blank(node.name, node.attrs.get("object_id"))
            obj.data, obj.attrs = node.value, attrs
        else:
            obj = GenericGroup._blank(node.name, node.attrs.get("object_id"))
            obj.attrs = dict(node.attrs)
            obj.links = {link.name: link.path for link in node.links}
            obj.children = {name: self.generic(child, join(path, name)) for name, child in node.children.items()}
        obj.__dict__["_stored_path"] = path
        self.by_path.setdefault(path, obj)
        return obj

    def device(self, node: GroupNode, path: str) -> Device:
        dev = Device._blank(node.name, node.attrs.get("object_id"))
        fields = ("description", "manufacturer", "model_number", "model_name", "serial_number")
        for key in fields:
            if node.attrs.get(key) is not None:
                setattr(dev, key, str(node.attrs[key]))
        dev.extra_attrs = _extra(node.attrs, set(fields))
        self.keep_children(dev, node, path, set())
        dev._seal()
        return dev

    def keep_children(self, obj: Container, node: GroupNode, path: str, known: set[str]) -> None:
        extra = {name: self.generic(child, join(path, name))
                 for name, child in node.children.items() if name not in known}
        if extra:
            obj.__dict__["extra_children"] = extra

    def series(self, node: GroupNode, path: str, cls: type[TimeSeries]) -> TimeSeries:
        ts = cls._blank(node.name, node.attrs.get("object_id"))
        ts.__dict__.update({"data_link": set(), "timestamp_link": set()})
        kids = node.children
        ts.comments = str(node.attrs.get("comments", "no comments"))
        ts.description = str(node.attrs.get("description", "no description"))
        ts.extra_attrs = _extra(node.attrs, {"comments", "description"})
        data = kids.get("data")
        if isinstance(data, ArrayNode):
            ts._set_data(data.value.lazy())
            a = data.attrs
            if "unit" not in a:
                self.problem(f"{ts.where}: data has no 'unit' attribute, which NWB requires; "
                             f"'{TimeSeries.DEFAULT_UNIT}' is used", path)
            ts.unit = str(a.get("unit", TimeSeries.DEFAULT_UNIT))
            ts.conversion = self.number(a, "conversion", 1.0, f"{path}/data")
            ts.resolution = self.number(a, "resolution", -1.0, f"{path}/data")
            ts.offset = self.number(a, "offset", 0.0, f"{path}/data")
            if cls is TimeSeries and a.get("continuity") is not None:
                ts.continuity = str(a["continuity"])
        elif cls is not ImageSeries and not issubclass(cls, ImageSeries):
            ts._set_data(cls.DEFAULT_DATA)
        if isinstance(kids.get("timestamps"), ArrayNode):
            ts._set_timestamps(kids["timestamps"].value.lazy())
        start = kids.get("starting_time")
        if isinstance(start, ArrayNode):
            ts.__dict__["_field_starting_time"] = deferred(start, lambda v: float(to_number(v)))
            if start.attrs.get("rate") is not None:
                ts.rate = self.number(start.attrs, "rate", None, f"{path}/starting_time")
        if isinstance(kids.get("control"), ArrayNode):
            ts.control = kids["control"].value.lazy()
        if isinstance(kids.get("control_description"), ArrayNode):
            ts.control_description = deferred(kids["control_description"], to_texts)
        if isinstance(ts, ImageSeries):
            self.image_series_fields(ts, kids)
        if isinstance(ts, OpticalSeries):
            if isinstance(kids.get("distance"), ArrayNode):
                ts.distance = deferred(kids["distance"], lambda v: float(to_number(v)))
            if isinstance(kids.get("field_of_view"), ArrayNode):
                ts.field_of_view = deferred(kids["field_of_view"], np.asarray)
            if isinstance(kids.get("orientation"), ArrayNode):
                ts.orientation = deferred(kids["orientation"], to_text)
        for link in node.links:
            if link.name in ("data", "timestamps") or link.name in LINK_FIELDS:
                self.pending_links.append((ts, link.name, link.path, link.source))
            else:
                ts.__dict__.setdefault("extra_links", {})[link.name] = link.path
        self.keep_children(ts, node, path, members_of(cls))
        self.to_check.append((ts, path))
        return ts

    def image_series_fields(self, ts: ImageSeries, kids: dict[str, Any]) -> None:
        if isinstance(kids.get("dimension"), ArrayNode):
            ts.dimension = deferred(kids["dimension"], np.asarray)
        ext = kids.get("external_file")
        if isinstance(ext, ArrayNode):
            ts.external_file = deferred(ext, to_texts)
            if ext.attrs.get("starting_frame") is not None:
                try:
                    ts.starting_frame = np.asarray(ext.attrs["starting_frame"], dtype=np.int64).reshape(-1)
                except (TypeError, ValueError):
                    self.problem(f"{ts.where}: external_file's 'starting_frame' attribute is not a list of "
                                 f"integers; got {ext.attrs['starting_frame']!r:.60}; it is ignored",
                                 f"{ext.value.path}")
        if isinstance(kids.get("format"), ArrayNode):
            ts.format = deferred(kids["format"], to_text)
        if isinstance(kids.get("num_samples"), ArrayNode):
            ts.__dict__["_field__num_samples"] = deferred(kids["num_samples"], lambda v: int(to_number(v)))

    def resolve_links(self) -> None:
        for obj, name, target_path, source in self.pending_links:
            if source.strip() not in (".", "./", ""):
                self.problem(f"{obj.where}: link '{name}' points into another file ({source!r}); links outside "
                             "this file are not followed and the link is dropped", self._path(obj))
                continue
            norm = "/" + posixpath.normpath("/" + target_path).strip("/")
            member = None
            if name in ("data", "timestamps"):
                owner_path, _, member = norm.rpartition("/")
                target = self.by_path.get(owner_path)
            else:
                target = self.by_path.get(norm)
            if target is None or (member is not None and member != name):
                self.problem(f"{obj.where}: link '{name}' points to {norm!r}, which is not in this file; the link "
                             "is dropped", self._path(obj))
                continue
            if name in ("data", "timestamps") and self._closes_a_cycle(obj, target, name):
                self.problem(f"{obj.where}: link '{name}' to {norm!r} makes a cycle of links; the link is dropped",
                             self._path(obj))
                continue
            if name == "data":
                obj._set_data(target)
                for attr in ("unit", "conversion", "offset", "resolution"):
                    if obj.__dict__.get("_field_" + attr) is None:  # a link carries its target's attributes
                        obj.__dict__["_field_" + attr] = target.__dict__.get("_field_" + attr)
            elif name == "timestamps":
                obj._set_timestamps(target)
            else:
                obj.__dict__["_field_" + name] = target

    @staticmethod
    def _closes_a_cycle(obj: Any, target: Any, name: str) -> bool:
        """Whether following ``target``'s links of the same kind leads back to ``obj``."""
        seen: set[int] = set()
        current = target
        while isinstance(current, TimeSeries) and id(current) not in seen:
            if current is obj:
                return True
            seen.add(id(current))
            current = current.__dict__.get("_data" if name == "data" else "_timestamps")
        return isinstance(current, TimeSeries)

    def _path(self, obj: Container) -> str:
        return obj.__dict__.get("_stored_path", "")

    def check(self, obj: Any, path: str) -> None:
        checker = self.checker(path)
        with warnings.catch_warnings():
            warnings.simplefilter("always", InvalidFileWarning)
            if isinstance(obj, IndexSeries):
                obj._check_index(checker)
            elif isinstance(obj, ImageSeries):
                obj._check_image(checker)
            else:
                obj._check_timing(checker)
                obj._check_lengths(checker)
        obj._seal()


def _split(rel: str) -> tuple[str, str]:
    parent, _, name = rel.rpartition("/")
    return parent, name


def _extra(attrs: dict[str, Any], known: set[str]) -> dict[str, Any]:
    return {k: v for k, v in attrs.items() if k not in TYPE_ATTRS | known}


def _collection(owner: Container) -> Any:
    from nwbzarr_image.model.file import Collection

    return Collection(f"{owner.where} data_interfaces", owner)
