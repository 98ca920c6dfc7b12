"""``nwbzarr-image info URL``: every series and image of a file, with its storage."""

from __future__ import annotations

import argparse
from typing import Any

import zarr

from nwbzarr_image import io
from nwbzarr_image.external.resolver import describe_files
from nwbzarr_image.model import ExternalImage, Image, Images, ImageSeries, NWBFile, TimeSeries
from nwbzarr_image.storage.reader import open_root


def add_info_parser(commands: Any) -> None:
    p = commands.add_parser("info", help="describe the image series of an NWB Zarr file",
                            description="Print each series' type, shape, dtype, chunks/shards, codec, "
                                        "compression ratio, rate and duration.")
    p.add_argument("url", help="path or fsspec URL of an NWB Zarr file")
    p.set_defaults(run=run_info)


def codec_text(array: Any) -> str:
    codecs = [c.to_dict() if hasattr(c, "to_dict") else _numcodecs_dict(c) for c in array.compressors]
    if not codecs:
        return "none"
    parts = []
    for codec in codecs:
        conf = codec.get("configuration", {})
        detail = ",".join(f"{k}={v}" for k, v in conf.items() if k in ("cname", "clevel", "level", "shuffle"))
        parts.append(f"{codec['name']}({detail})" if detail else codec["name"])
    return "+".join(parts)


def _numcodecs_dict(codec: Any) -> dict[str, Any]:
    """A format 2 (numcodecs) codec in the shape of a format 3 one."""
    if not hasattr(codec, "get_config"):
        return {"name": str(codec)}
    config = dict(codec.get_config())
    return {"name": str(config.pop("id", type(codec).__name__)), "configuration": config}


def storage_text(array: Any) -> str:
    stored = array.nbytes_stored()
    ratio = f"{array.nbytes / stored:.2f}x" if stored else "n/a"
    shards = f", shards {tuple(array.shards)}" if array.shards else ""
    return f"chunks {tuple(array.chunks)}{shards}, codec {codec_text(array)}, compression {ratio}"


def series_lines(path: str, series: TimeSeries, root: zarr.Group) -> list[str]:
    data = series.data
    lines = [f"{path}  {series.neurodata_type}"]
    lines.append(f"    data: shape {tuple(data.shape)}, dtype {data.dtype}, unit {series.unit!r}")
    key = f"{path.strip('/')}/data"
    if key in root and series.data_link_target is None:
        lines.append(f"    storage: {storage_text(root[key])}")
    if series.rate is not None:
        timing = f"rate {series.rate:g} Hz, starting_time {series.starting_time:g} s"
    else:
        timing = "timestamps"
    duration = series.get_duration()
    lines.append(f"    timing: {timing}, {series.num_samples} samples, duration "
                 f"{'unknown' if duration is None else f'{duration:.3f} s'}")
    if isinstance(series, ImageSeries) and series.external_file is not None:
        lines += external_lines(series)
    if series.description and series.description != "no description":
        lines.append(f"    description: {series.description}")
    return lines


def external_lines(series: ImageSeries) -> list[str]:
    """One line per external file: path as stored, starting frame, frame count and stream (or why not read)."""
    rows = describe_files(series)
    counted = [video.num_frames for _, _, video, _ in rows if video is not None]
    total = f", {sum(counted)} frames in all" if len(counted) == len(rows) else ""
    lines = [f"    external files: {len(rows)}{total} (format {series.format!r}, num_samples "
             f"{series.explicit_num_samples if series.explicit_num_samples is not None else 'not stored'})"]
    for text, start, video, why in rows:
        if video is None:
            lines.append(f"      {text}  starting frame {start}, not read: {why}")
            continue
        frame = "x".join(str(n) for n in video.frame_shape)
        lines.append(f"      {text}  starting frame {start}, {video.num_frames} frames ({frame} {video.dtype}, "
                     f"{video.codec}, {video.rate:g} Hz)")
    return lines


def file_lines(nwb: NWBFile, root: zarr.Group) -> list[str]:
    lines = [f"NWBFile {nwb.identifier!r}: {nwb.session_description}", f"  session start {nwb.session_start_time}"]
    placed = [("/acquisition", nwb.acquisition), ("/stimulus/presentation", nwb.stimulus),
              ("/stimulus/templates", nwb.stimulus_template)]
    placed += [(f"/processing/{name}", module.data_interfaces) for name, module in nwb.processing.items()]
    for base, collection in placed:
        for name, obj in collection.items():
            path = f"{base}/{name}"
            if isinstance(obj, TimeSeries):
                lines += series_lines(path, obj, root)
            elif isinstance(obj, Images):
                lines.append(f"{path}  Images, {len(obj)} images")
                for image in obj:
                    if isinstance(image, ExternalImage):
                        lines.append(f"    {image.name}: ExternalImage {image.image_format} file {image.data!r}")
                        continue
                    lines.append(f"    {image.name}: {image.neurodata_type} {tuple(image.data.shape)} "
                                 f"{image.data.dtype}")
            elif not isinstance(obj, (Image, ExternalImage)):
                lines.append(f"{path}  {getattr(obj, 'attrs', {}).get('neurodata_type', type(obj).__name__)}")
    return lines


def run_info(args: argparse.Namespace) -> int:
    nwb = io.read(args.url)
    store = nwb.__dict__["_binding"][1]  # the store read (a Zarr store, or an HDF5 file's view)
    if nwb.__dict__.get("zarr_format") == 2:  # legacy hdmf-zarr file: each array's own .zarray
        root = zarr.open_group(store, mode="r", zarr_format=2, use_consolidated=False)
    else:
        root = open_root(store)
    print("\n".join(file_lines(nwb, root)))
    return 0
