"""What ``io`` does for external files: attach resolvers on read, write ``num_samples`` derived from the files."""

from __future__ import annotations

from typing import Any

from zarr.abc.store import Store
from zarr.storage import FsspecStore, LocalStore

from nwbzarr_image.errors import NWBRuleWarning, warn
from nwbzarr_image.external.decoder import VideoFile
from nwbzarr_image.external.errors import ExternalFileError
from nwbzarr_image.external.frames import check_frame_counts
from nwbzarr_image.external.paths import ExternalBase
from nwbzarr_image.external.resolver import ExternalResolver, external_texts
from nwbzarr_image.layout import GroupNode
from nwbzarr_image.layout.codecs.common import scalar
from nwbzarr_image.layout.paths import object_paths
from nwbzarr_image.model import ImageSeries, NWBFile
from nwbzarr_image.model.core import raw
from nwbzarr_image.storage.stores import Location


def base_of(location: Location | None, store: Store | None = None) -> ExternalBase | None:
    """The directory holding the NWB file at ``location`` (or in ``store``); None when it has no place."""
    if location is not None:
        return ExternalBase.of_file(location.fs, location.path, location.storage_options)
    if isinstance(store, LocalStore):
        return ExternalBase.of_file(ExternalBase.cwd().fs, str(store.root))
    if isinstance(store, FsspecStore):
        fs = getattr(store.fs, "sync_fs", None)
        return ExternalBase.of_file(fs, store.path) if fs is not None else None
    return None


def _unreadable(series: ImageSeries, base: ExternalBase | None, reason: str) -> None:
    place = base.label if base is not None else "a zarr store object with no location"
    warn(NWBRuleWarning(
        f"{series.where}: num_samples is not written: the external files cannot be read relative to where the NWB "
        f"file is written ({place}): {reason}; expected readable files to count their frames. Pass "
        "num_samples=<total frames>, or write the NWB file next to its external files."))


def frame_total(series: ImageSeries, base: ExternalBase | None) -> int | None:
    """The total frame count of the series' files, checked against starting_frame and num_samples; None (after
    a warning when num_samples is missing) when a file cannot be read."""
    resolver = ExternalResolver(base)
    try:
        targets = resolver.targets(series, allow_outside=True)  # the writer's own paths: any place is fine
        counts = [VideoFile(target, where=series.where).num_frames for target in targets]
    except (ExternalFileError, OSError) as err:
        if series.explicit_num_samples is None:
            _unreadable(series, base, str(err).removeprefix(f"{series.where}: ").split("; expected")[0])
        return None
    return check_frame_counts(series.where, external_texts(series), counts, series.starting_frame,
                              series.explicit_num_samples)


def add_num_samples(tree: GroupNode, nwbfile: NWBFile, base: ExternalBase | None) -> None:
    """Check the frame counts of every new external series and add the derived ``num_samples`` to ``tree``."""
    paths = object_paths(nwbfile)
    for obj in nwbfile.walk_objects():
        if not isinstance(obj, ImageSeries) or raw(obj, "external_file") is None:
            continue
        if obj.stored is not None or id(obj) not in paths:
            continue  # already in the file: written (and checked) before
        total = frame_total(obj, base)
        if total is None or obj.explicit_num_samples is not None:
            continue
        node: Any = tree
        for part in paths[id(obj)].strip("/").split("/"):
            node = node.children[part]
        node.add(scalar("num_samples", total, "uint32" if total < 2**32 else "int64"))
