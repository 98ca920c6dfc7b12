"""``nwbzarr-image info URL``: every series and image of a file, with its storage."""

from __future__ import annotations

import argparse
import math
from typing import Any

import numpy as np

from nwbzarr_image import io
from nwbzarr_image.external.resolver import describe_files
from nwbzarr_image.model import ExternalImage, Image, Images, ImageSeries, NWBFile, TimeSeries
from nwbzarr_image.model.core import raw
from nwbzarr_image.model.record import ArrayRecord


def add_info_parser(commands: Any) -> None:
    p = commands.add_parser("info", help="describe the image series of an NWB Zarr file",
                            description="Print each series' type, shape, dtype, chunks/shards, codec, "
                                        "rate and duration (with --full, compression ratios and external files).")
    p.add_argument("url", help="path or fsspec URL of an NWB Zarr file")
    p.add_argument("--full", action="store_true",
                   help="also read what the metadata does not hold: each series' compression ratio (a listing of "
                        "its chunks), the duration of timestamped series and the external files' headers; without "
                        "it, info costs exactly the requests of opening the file")
    p.set_defaults(run=run_info)


def codec_text(record: ArrayRecord) -> str:
    if not record.compressors:
        return "none"
    parts = []
    for codec in record.compressors:
        conf = codec.get("configuration", codec)
        detail = ",".join(f"{k}={v}" for k, v in conf.items() if k in ("cname", "clevel", "level", "shuffle"))
        name = codec.get("name", codec.get("id", "?"))
        parts.append(f"{name}({detail})" if detail else name)
    return "+".join(parts)


def storage_text(record: ArrayRecord, stored_bytes: int | None) -> str:
    shards = f", shards {record.shards}" if record.shards else ""
    text = f"chunks {record.chunks}{shards}, codec {codec_text(record)}"
    if stored_bytes is None:
        return text
    nbytes = math.prod(record.shape) * np.dtype(record.dtype).itemsize if record.dtype != "str" else 0
    ratio = f"{nbytes / stored_bytes:.2f}x" if stored_bytes and nbytes else "n/a"
    return f"{text}, compression {ratio}"


def series_lines(path: str, series: TimeSeries, sizes: bool) -> list[str]:
    data = series.data
    lines = [f"{path}  {series.neurodata_type}"]
    lines.append(f"    data: shape {tuple(data.shape)}, dtype {data.dtype}, unit {series.unit!r}")
    record = series.stored.array("data") if series.stored is not None else None
    if record is not None and series.data_link_target is None:
        source = series.file_source()
        stored = source.stored_bytes(record.path.lstrip("/") + "/") if sizes and source is not None else None
        lines.append(f"    storage: {storage_text(record, stored)}")
    if series.rate is not None:
        timing = f"rate {series.rate:g} Hz, starting_time {series.starting_time:g} s"
    else:
        timing = "timestamps"
    if series.rate is not None or sizes:
        duration = series.get_duration()  # with timestamps, reads the first and the last
        lines.append(f"    timing: {timing}, {series.num_samples} samples, duration "
                     f"{'unknown' if duration is None else f'{duration:.3f} s'}")
    else:
        lines.append(f"    timing: {timing}, {series.num_samples} samples")
    if isinstance(series, ImageSeries) and raw(series, "external_file") is not None:
        files = series.stored.array("external_file") if series.stored else None
        lines += external_lines(series) if sizes else [
            f"    external files: {files.shape[0] if files is not None else '?'} "
            f"(format {series.format!r}; --full lists them)"]
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


def file_lines(nwb: NWBFile, sizes: bool = False) -> list[str]:
    lines = [f"NWBFile {nwb.identifier!r}: {nwb.session_description}", f"  session start {nwb.session_start_time}"]
    placed = [("/acquisition", nwb.acquisition), ("/stimulus/presentation", nwb.stimulus),
              ("/stimulus/templates", nwb.stimulus_template)]
    placed += [(f"/processing/{name}", module.data_interfaces) for name, module in nwb.processing.items()]
    for base, collection in placed:
        for name, obj in collection.items():
            path = f"{base}/{name}"
            if isinstance(obj, TimeSeries):
                lines += series_lines(path, obj, sizes)
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
    print("\n".join(file_lines(nwb, sizes=args.full)))
    return 0
