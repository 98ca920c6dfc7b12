"""``nwbzarr-image convert INPUT OUTPUT``: a video, TIFF stack or .npy movie into an NWB Zarr file."""

from __future__ import annotations

import argparse
import math
import os
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from zarr.codecs import BloscCodec, ZstdCodec

from nwbzarr_image import io
from nwbzarr_image.cli.arguments import positive_int, positive_rate
from nwbzarr_image.errors import ArgumentTypeError, SchemaError, StoreExistsError, StoreNotFoundError
from nwbzarr_image.iterators.generic import GenericDataChunkIterator
from nwbzarr_image.model import ImageSeries, NWBFile, OpticalSeries, ZarrDataIO
from nwbzarr_image.storage import stores

VIDEO_SUFFIXES = {".mp4", ".avi", ".mkv", ".mov", ".m4v", ".webm", ".mpg", ".mpeg", ".wmv", ".flv"}
TIFF_SUFFIXES = {".tif", ".tiff"}
COMPRESSORS = ("default", "blosc-zstd[:LEVEL]", "blosc-lz4[:LEVEL]", "zstd[:LEVEL]", "none")
MAX_CHUNK_BYTES = 2**31 - 1  # the most Blosc compresses in one buffer


def add_convert_parser(commands: Any) -> None:
    p = commands.add_parser("convert", help="convert a video, TIFF stack, .npy movie or NWB HDF5 file into an NWB "
                                            "Zarr file",
                            description="Convert a movie or an NWB HDF5 file into an NWB Zarr file, streaming it "
                                        "with bounded memory.")
    p.add_argument("input", help="video (mp4, avi, mkv, ...), multi-page TIFF, .npy file, or NWB HDF5 file (.nwb)")
    p.add_argument("output", help="output path or fsspec URL of the .nwb.zarr file (must not exist)")
    p.add_argument("--name", help="name of the series (default: the input file's stem)")
    p.add_argument("--rate", type=positive_rate, help="frames per second (default: from the video container)")
    p.add_argument("--unit", default="n.a.", help="unit of the pixel values (default: n.a.)")
    p.add_argument("--description", help="description of the series")
    p.add_argument("--as", dest="kind", choices=("image", "optical"), default="image",
                   help="store as an ImageSeries (default) or an OpticalSeries")
    p.add_argument("--frames-per-chunk", type=positive_int,
                   help="frames per chunk (default: about 4 MB of whole frames)")
    p.add_argument("--shards", type=positive_int, metavar="FRAMES", help="frames per shard (a multiple of the chunk)")
    p.add_argument("--compressor", default="default", metavar="CODEC",
                   help=f"one of {', '.join(COMPRESSORS)} (default: Blosc zstd 3, the measured default)")
    p.add_argument("--session-start", help="ISO 8601 session start time (default: the input file's mtime, UTC)")
    p.add_argument("--external", action="store_true",
                   help="reference the video instead of copying its frames (format 'external'; the path is stored "
                        "relative to OUTPUT's directory when both are local)")
    p.add_argument("--overwrite", action="store_true", help="replace OUTPUT if it exists")
    p.add_argument("--strict", action="store_true",
                   help="NWB HDF5 input: read it with strict=True, so every chunk copied without re-encoding is "
                        "decoded first (a damaged one fails the conversion instead of being copied), and missing "
                        "chunks and values that break NWB rules are errors")
    p.add_argument("--restart", action="store_true",
                   help="NWB HDF5 input: discard the work of an interrupted conversion and start over (by default, "
                        "converting a local .nwb to a local OUTPUT is resumable: a killed or interrupted run leaves "
                        "OUTPUT.resume-<hash>, and the same command again keeps every chunk and shard written "
                        "there and writes only the rest; a changed input starts over)")
    p.add_argument("--no-progress", action="store_true", help="do not show a progress bar")
    p.set_defaults(run=run_convert)


def parse_compressor(text: str) -> Any:
    """``default``, ``none``, ``zstd``, ``blosc-zstd``, ``blosc-lz4``, each with an optional ``:LEVEL``."""
    name, _, level_text = text.partition(":")
    try:
        level = int(level_text) if level_text else None
    except ValueError:
        level = -1
    if name == "default" and level is None:
        return None
    if name == "none" and level is None:
        return False
    if name == "zstd" and (level is None or 0 <= level <= 22):
        return ZstdCodec(level=3 if level is None else level)
    if name in ("blosc-zstd", "blosc-lz4") and (level is None or 0 <= level <= 9):
        return BloscCodec(cname="zstd" if name == "blosc-zstd" else "lz4", clevel=3 if level is None else level,
                          shuffle="shuffle")
    raise ArgumentTypeError(f"--compressor: unknown codec {text!r}; expected one of {', '.join(COMPRESSORS)}.")


def open_source(path: str, progress: bool) -> tuple[GenericDataChunkIterator, float | None]:
    """The iterator for ``path`` and the frame rate it knows (None for TIFF and .npy)."""
    if not os.path.isfile(path):
        raise StoreNotFoundError(f"convert: input {path!r} does not exist or is not a file.")
    suffix = Path(path).suffix.lower()
    options: dict[str, Any] = {"display_progress": progress,
                               "progress_bar_options": {"desc": Path(path).name, "unit": "buffer"}}
    if suffix in VIDEO_SUFFIXES:
        from nwbzarr_image.iterators.video import VideoDataChunkIterator

        video = VideoDataChunkIterator(path, **options)
        return video, video.rate
    if suffix in TIFF_SUFFIXES:
        from nwbzarr_image.iterators.tiff import TiffDataChunkIterator

        return TiffDataChunkIterator(path, **options), None
    if suffix == ".npy":
        from nwbzarr_image.iterators.npy import NpyDataChunkIterator

        return NpyDataChunkIterator(path, **options), None
    raise SchemaError(f"convert: cannot read {path!r}; expected a video ({', '.join(sorted(VIDEO_SUFFIXES))}), a "
                      f"TIFF stack (.tif, .tiff) or a .npy file, got {suffix or 'no suffix'}.")


def _local_path(url: str) -> str | None:
    """The local file-system path of ``url``, or None for another file system."""
    if url.startswith("file://"):
        return url[len("file://"):]
    return None if "://" in url or "::" in url else url


def check_paths(args: argparse.Namespace) -> None:
    """Before anything is opened: the input exists, OUTPUT cannot destroy it, and exists only with --overwrite."""
    given = _local_path(args.input)
    if given is not None and not os.path.isfile(given):
        raise StoreNotFoundError(f"convert: input {args.input!r} does not exist or is not a file.")
    output = _local_path(args.output)
    if given is not None and output is not None:
        source, target = os.path.realpath(given), os.path.realpath(output.rstrip("/") or "/")
        relation = ("is" if target == source else "contains" if source.startswith(target.rstrip(os.sep) + os.sep)
                    else "lies inside" if target.startswith(source + os.sep) else None)
        if relation is not None:
            raise StoreExistsError(f"convert: OUTPUT {args.output!r} {relation} the input {args.input!r}; expected "
                                   "an output outside the input (writing it would destroy the input). Choose "
                                   "another OUTPUT.")
    if not args.overwrite:
        with stores.storage_errors(args.output, "write"):
            exists = stores.locate(args.output).exists()
        if exists:
            raise StoreExistsError(f"convert: {args.output} already exists; expected a new path. Pass --overwrite to "
                                   "replace it, or choose another OUTPUT.")


def _storage(source: GenericDataChunkIterator, args: argparse.Namespace) -> ZarrDataIO:
    compressors = parse_compressor(args.compressor)
    frames = max(source.num_frames, 1)
    frame_bytes = math.prod(source.maxshape[1:]) * source.dtype.itemsize
    chunks = None
    if args.frames_per_chunk is not None:
        if args.frames_per_chunk > frames:
            raise SchemaError(f"--frames-per-chunk: the input has {source.num_frames} frames; expected at most "
                              f"{frames}, got {args.frames_per_chunk}. Pass a smaller number.")
        if args.frames_per_chunk * frame_bytes > MAX_CHUNK_BYTES:
            raise SchemaError(f"--frames-per-chunk: {args.frames_per_chunk} frames of {frame_bytes} bytes make a "
                              f"chunk over 2 GiB; expected at most {MAX_CHUNK_BYTES // max(frame_bytes, 1)} frames. "
                              "Pass a smaller number (a few MB a chunk is best).")
        chunks = (args.frames_per_chunk, *source.maxshape[1:])
    shards = None
    if args.shards is not None:
        chunks = chunks or tuple(source.recommended_chunk_shape())
        if args.shards < chunks[0] or args.shards % chunks[0]:
            raise SchemaError(f"--shards must be a multiple of the frames per chunk ({chunks[0]}); got {args.shards}.")
        most = math.ceil(frames / chunks[0]) * chunks[0]
        if args.shards > most:
            raise SchemaError(f"--shards: the input has {source.num_frames} frames; expected at most {most} frames "
                              f"a shard, got {args.shards}. Pass a smaller multiple of {chunks[0]}.")
        shards = (args.shards, *source.maxshape[1:])
    return ZarrDataIO(source, chunks=chunks, compressors=compressors, shards=shards)


def _session_start(args: argparse.Namespace) -> datetime:
    if args.session_start:
        try:
            start = datetime.fromisoformat(args.session_start)
        except ValueError as err:
            raise SchemaError(f"--session-start: expected an ISO 8601 time such as 2024-01-02T09:00:00+00:00; got "
                              f"{args.session_start!r}.") from err
        return start if start.tzinfo else start.replace(tzinfo=UTC)
    return datetime.fromtimestamp(os.path.getmtime(args.input), tz=UTC)


def _no_rate(args: argparse.Namespace) -> SchemaError:
    return SchemaError(f"convert: {args.input!r} has no frame rate; pass --rate <frames per second>.")


def run_convert(args: argparse.Namespace) -> int:
    parse_compressor(args.compressor)  # bad options fail before the input is opened
    check_paths(args)
    from nwbzarr_image.cli.convert_nwb import is_nwb_hdf5, run_convert_nwb

    if is_nwb_hdf5(args.input):
        return run_convert_nwb(args)
    if args.strict:
        raise ArgumentTypeError(f"convert: --strict applies to NWB HDF5 input; got the movie {args.input!r}, whose "
                                "frames are decoded and re-encoded anyway. Drop --strict.")
    if args.restart:
        raise ArgumentTypeError(f"convert: --restart resumes NWB HDF5 conversions only; got the movie {args.input!r}, "
                                "whose conversion always starts over. Drop --restart.")
    if args.external:
        return run_external(args)
    if args.rate is None and Path(args.input).suffix.lower() in TIFF_SUFFIXES | {".npy"}:
        raise _no_rate(args)
    source, container_rate = open_source(args.input, progress=not args.no_progress)
    rate = args.rate if args.rate is not None else container_rate
    if rate is None or not (math.isfinite(rate) and rate > 0):
        raise _no_rate(args)
    name = args.name or Path(args.input).stem
    description = args.description or f"converted from {Path(args.input).name}"
    data = _storage(source, args)
    nwb = NWBFile(f"{name} converted by nwbzarr-image", str(uuid.uuid4()), _session_start(args))
    if args.kind == "optical":
        series: ImageSeries = OpticalSeries(name, data=data, unit=args.unit, rate=float(rate),
                                            description=description)
    else:
        series = ImageSeries(name, data, args.unit, rate=float(rate), description=description)
    nwb.add_acquisition(series)
    io.write(nwb, args.output, mode="w" if args.overwrite else "w-")
    shape = "x".join(str(n) for n in source.maxshape)
    print(f"wrote {type(series).__name__} '{name}' ({shape} {source.dtype}, {rate:g} Hz) to {args.output}")
    return 0


def stored_path(video: str, output: str) -> str:
    """The path to store for ``video``: relative to OUTPUT's directory when both are local, else absolute."""
    if "://" in output or "::" in output:
        return os.path.abspath(video)
    out_dir = os.path.dirname(os.path.abspath(output.rstrip("/")))
    try:
        return Path(os.path.relpath(os.path.abspath(video), out_dir)).as_posix()
    except ValueError:  # another drive (Windows)
        return os.path.abspath(video)


def run_external(args: argparse.Namespace) -> int:
    """``convert --external``: an ImageSeries that references the video (format 'external'), frames not copied."""
    given = [flag for flag, value in (("--frames-per-chunk", args.frames_per_chunk), ("--shards", args.shards),
                                      ("--compressor", None if args.compressor == "default" else args.compressor))
             if value is not None]
    if given:
        raise ArgumentTypeError(f"convert --external: {', '.join(given)} set how frames are stored; got them with "
                                "--external, which stores no frames. Drop them, or drop --external.")
    if Path(args.input).suffix.lower() not in VIDEO_SUFFIXES:
        raise SchemaError(f"convert --external: {args.input!r} is not a video; expected one of "
                          f"{', '.join(sorted(VIDEO_SUFFIXES))}. Convert TIFF and .npy movies without --external.")
    from nwbzarr_image.iterators.video import probe_video

    info = probe_video(args.input)
    rate = args.rate if args.rate is not None else info.rate
    if rate is None or not (math.isfinite(rate) and rate > 0):
        raise _no_rate(args)
    name = args.name or Path(args.input).stem
    path = stored_path(args.input, args.output)
    options: dict[str, Any] = {"unit": args.unit, "format": "external", "external_file": [path],
                               "starting_frame": [0], "rate": float(rate), "num_samples": info.num_frames,
                               "description": args.description or f"frames in {Path(args.input).name}"}
    series = OpticalSeries(name, **options) if args.kind == "optical" else ImageSeries(name, **options)
    nwb = NWBFile(f"{name} referenced by nwbzarr-image", str(uuid.uuid4()), _session_start(args))
    nwb.add_acquisition(series)
    io.write(nwb, args.output, mode="w" if args.overwrite else "w-")
    print(f"wrote {type(series).__name__} '{name}' referencing {path} ({info.num_frames} frames, {rate:g} Hz) "
          f"to {args.output}")
    if path.startswith("../") or os.path.isabs(path):
        print(f"note: {path} is outside the output's directory; readers must allow it: "
              "series.external_frames(allowed_roots=[...]) or allow_outside=True")
    return 0
