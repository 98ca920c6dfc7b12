"""Resolving the links of decoded objects (``data``, ``timestamps``, ``device``, ...) among the file's objects."""

from __future__ import annotations

import posixpath
from typing import Any

from nwbzarr_image.layout.codecs.series import DATA_ATTRS
from nwbzarr_image.layout.context import DecodeContext
from nwbzarr_image.model import Device, Images, ImageSeries, TimeSeries
from nwbzarr_image.model.core import raw, set_raw

# the type NWB requires of each link's target (data and timestamps: the series whose dataset is linked)
REQUIRED: dict[str, type] = {"device": Device, "masked_imageseries": ImageSeries, "indexed_images": Images,
                             "indexed_timeseries": ImageSeries, "data": TimeSeries, "timestamps": TimeSeries}


def resolve_links(ctx: DecodeContext) -> None:
    """Point every pending link at its target object; links out of the file, to missing objects or making
    cycles are dropped with a problem report."""
    for obj, name, target_path, source in ctx.pending_links:
        where = obj.stored.path if obj.stored is not None else ""
        if source.strip() not in (".", "./", ""):
            ctx.problem(f"{obj.where}: link '{name}' points to {target_path!r} in another file ({source!r}); links "
                        "outside this file are not followed and the link is dropped", where)
            continue
        norm = "/" + posixpath.normpath("/" + target_path).strip("/")
        member = None
        if name in ("data", "timestamps"):
            owner_path, _, member = norm.rpartition("/")
            target = ctx.by_path.get(owner_path)
        else:
            target = ctx.by_path.get(norm)
        if target is None or (member is not None and member != name):
            ctx.problem(f"{obj.where}: link '{name}' points to {norm!r}, which is not in this file; the link "
                        "is dropped", where)
            continue
        required = REQUIRED.get(name)
        if required is not None and not isinstance(target, required):
            kind = getattr(target, "neurodata_type", type(target).__name__)
            ctx.problem(f"{obj.where}: link '{name}' points to {norm!r}, a {kind}; expected a {required.__name__}"
                        f"{' (the series whose dataset is linked)' if required is TimeSeries else ''}; the link is "
                        "dropped", where)
            continue
        if name in ("data", "timestamps") and _closes_a_cycle(obj, target, name):
            ctx.problem(f"{obj.where}: link '{name}' to {norm!r} makes a cycle of links; the link is dropped", where)
            continue
        if name == "data":
            obj._set_data(target)  # type: ignore[attr-defined]
            for attr in DATA_ATTRS:
                if raw(obj, attr) is None:  # a link carries its target's attributes
                    set_raw(obj, attr, raw(target, attr))
        elif name == "timestamps":
            obj._set_timestamps(target)  # type: ignore[attr-defined]
        else:
            set_raw(obj, name, target)
    ctx.pending_links = []


def _closes_a_cycle(obj: Any, target: Any, name: str) -> bool:
    """Whether following ``target``'s links of the same kind leads back to ``obj``."""
    seen: set[int] = set()
    current = target
    while isinstance(current, TimeSeries) and id(current) not in seen:
        if current is obj:
            return True
        seen.add(id(current))
        current = current.own_data() if name == "data" else current.own_timestamps()
    return isinstance(current, TimeSeries)
