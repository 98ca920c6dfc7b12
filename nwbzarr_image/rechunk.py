"""Copy a series into a pixel-trace-friendly chunking (small spatial tiles, many frames), out of core.

Frames are read in slabs of whole frames that fit the memory budget and written as tiles: one pass when a slab
holds ``frames_per_chunk`` frames; otherwise a first pass writes slab-deep tiles to a temporary array next to
the target and a second pass joins them along time (the rechunker algorithm), so memory stays bounded whatever
the movie and chunk sizes. Both passes run on the active dask scheduler (threads, or a dask.distributed cluster).
"""

from __future__ import annotations

import math
import os
from typing import Any

import numpy as np
import zarr

from nwbzarr_image.chunking import TARGET_CHUNK_BYTES
from nwbzarr_image.errors import ArgumentTypeError, NodeNotFoundError, SchemaError, StoreExistsError
from nwbzarr_image.io import open as open_file
from nwbzarr_image.io import read, write
from nwbzarr_image.model import ImageSeries, NWBFile, ProcessingModule, TimeSeries, ZarrDataIO
from nwbzarr_image.model.dataio import unwrap
from nwbzarr_image.storage import siblings, stores
from nwbzarr_image.storage.dask_store import store_dask
from nwbzarr_image.storage.defaults import CHUNK_KEY_ENCODING
from nwbzarr_image.storage.lazy import as_dask, as_lazy

SLAB_COPIES = 2.5  # a slab task holds the source chunks, the joined slab and the encoded tiles


def rechunk_series(
    source: TimeSeries | NWBFile,
    url: str | os.PathLike[str],
    name: str,
    *,
    series: str | None = None,
    tile: tuple[int, int] = (32, 32),
    frames_per_chunk: int | None = None,
    memory_gb: float = 1.0,
    module: str = "rechunked",
    storage_options: dict[str, Any] | None = None,
) -> ImageSeries:
    """Copy an image series into chunks of ``frames_per_chunk`` frames x ``tile`` pixels, with bounded memory.

    Reading one pixel's trace from the copy touches ``ceil(frames / frames_per_chunk)`` chunks, where the
    default whole-frame chunks cost one chunk per few frames.

    Parameters
    ----------
    source : ImageSeries or NWBFile
        The series to copy (typically read lazily with ``nzi.read``), or a file holding it (see ``series``).
    url : str or os.PathLike
        The NWB file to add the copy to (it may be the file the source was read from). When it does not exist,
        a new file with the source file's session metadata is written there.
    name : str
        Name of the new series.
    series : str, optional
        With an NWBFile source: the series' name (in acquisition, stimulus or a processing module) or its path
        (``"acquisition/imaging"``, ``"processing/ophys/raw"``).
    tile : (int, int)
        Chunk size along x and y (clipped to the frame); z or color stay whole.
    frames_per_chunk : int, optional
        Chunk length along time; by default as many frames as make a chunk of about 4 MB.
    memory_gb : float
        Memory one task may use (a slab of frames, its source chunks and the encoded tiles). Each thread or
        dask worker runs one task at a time, so a worker with a 2 GB limit and 2 threads takes ``memory_gb=1``.
    module : str
        Processing module the copy goes into (created when missing).
    storage_options : dict, optional
        fsspec options for ``url`` (and for the temporary array next to it).

    Returns
    -------
    ImageSeries
        The copy, read back lazily from ``url``: an ImageSeries (whatever the source's image type) with the
        source's unit, conversion, offset, resolution, description and timing (timestamps copied).
    """
    ts = _source_series(source, series)
    where = f"rechunk_series({ts.name!r})"
    data = as_lazy(unwrap(ts.data), where)
    if data.ndim not in (3, 4) or not data.shape[0]:
        raise SchemaError(f"{where}: expected stored frames (frames, x, y[, z]); got data of shape {data.shape}. "
                          "Rechunk a series whose frames are in the file.")
    chunks = _target_chunks(where, data, tile, frames_per_chunk)
    budget = _budget(where, memory_gb)
    frame_bytes = math.prod(data.shape[1:]) * data.dtype.itemsize
    slab = int(budget // (SLAB_COPIES * frame_bytes))
    if slab < 1:
        raise SchemaError(f"{where}: one frame ({frame_bytes / 2**20:.1f} MB, x{SLAB_COPIES} while copied) does "
                          f"not fit in memory_gb={memory_gb}; expected at least {SLAB_COPIES * frame_bytes / 2**30:.3f}"
                          ". Raise memory_gb.")
    target: str = stores.as_url(url)
    with stores.storage_errors(target, "write"):
        location = stores.locate(target, storage_options)
        nwbfile = None if location.exists() else _file_of(where, source, ts, target)
        if nwbfile is None:
            _check_free(location, module, name)
        if chunks[0] <= slab:
            _add(nwbfile, location, ts, name, module, data.rechunk((_slab_frames(data, chunks[0], slab),
                                                                    *data.shape[1:])), chunks)
        else:
            _two_passes(where, nwbfile, location, ts, name, module, data, chunks, slab, budget)
        back = read(target, storage_options)
    return back.processing[module][name]


def _source_series(source: Any, key: str | None) -> TimeSeries:
    if isinstance(source, TimeSeries):
        if key is not None:
            raise ArgumentTypeError(f"rechunk_series: 'series' names a series of an NWBFile source; got a series "
                                    f"({source.name!r}) and series={key!r}. Drop series=.")
        return source
    if not isinstance(source, NWBFile):
        raise ArgumentTypeError(f"rechunk_series: expected an ImageSeries or an NWBFile; got "
                                f"{type(source).__name__}. Pass nzi.read(url).acquisition[name].")
    if key is None:
        raise ArgumentTypeError("rechunk_series: with an NWBFile source, 'series' must name the series; got None. "
                                "Pass series='imaging' or series='processing/ophys/imaging'.")
    places: dict[str, Any] = {f"acquisition/{k}": v for k, v in source.acquisition.items()}
    places.update({f"stimulus/{k}": v for k, v in source.stimulus.items()})
    for mod_name, mod in source.processing.items():
        places.update({f"processing/{mod_name}/{k}": v for k, v in mod.data_interfaces.items()})
    found = [v for path, v in places.items() if isinstance(v, TimeSeries) and (path == key.strip("/") or (
        "/" not in key and path.rsplit("/", 1)[-1] == key))]
    if len(found) != 1:
        raise NodeNotFoundError(f"rechunk_series: series={key!r} must name exactly one series; found {len(found)} "
                                f"among {sorted(p for p, v in places.items() if isinstance(v, TimeSeries))}. "
                                "Pass its path.")
    return found[0]


def _target_chunks(where: str, data: Any, tile: Any, frames: int | None) -> tuple[int, ...]:
    ints = isinstance(tile, tuple | list) and all(isinstance(n, int | np.integer) and n > 0 for n in tile)
    if not ints or len(tile) != 2:
        raise ArgumentTypeError(f"{where}: 'tile' must be two positive ints (x, y); got {tile!r}. E.g. tile=(32, 32).")
    spatial = tuple(min(int(t), n) for t, n in zip(tile, data.shape[1:3], strict=True)) + tuple(data.shape[3:])
    if frames is None:
        frames = max(1, TARGET_CHUNK_BYTES // (math.prod(spatial) * data.dtype.itemsize))
    elif not isinstance(frames, int | np.integer) or frames < 1:
        raise ArgumentTypeError(f"{where}: 'frames_per_chunk' must be a positive int; got {frames!r}.")
    return (min(int(frames), int(data.shape[0])), *spatial)


def _budget(where: str, memory_gb: Any) -> float:
    if isinstance(memory_gb, bool) or not isinstance(memory_gb, int | float) or not memory_gb > 0:
        raise ArgumentTypeError(f"{where}: 'memory_gb' must be a positive number; got {memory_gb!r}.")
    return float(memory_gb) * 2**30


def _slab_frames(data: Any, frames: int, limit: int) -> int:
    """Frames per slab: a multiple of the target chunk's frames, and of the source's when that fits too."""
    source = int(max(data.chunks[0]))
    step = math.lcm(frames, source) if math.lcm(frames, source) <= limit else frames
    whole = math.ceil(data.shape[0] / step) * step
    return min((limit // step) * step, whole)


def _file_of(where: str, source: Any, ts: TimeSeries, url: str) -> NWBFile:
    """The source's file (for the session metadata of a new file at ``url``)."""
    node: Any = source if isinstance(source, NWBFile) else ts
    while node is not None and not isinstance(node, NWBFile):
        node = node.parent
    if node is None:
        raise SchemaError(f"{where}: {url} does not exist and the series belongs to no NWBFile to take the session "
                          "metadata from; expected an existing file. Write one first: nzi.write(nzi.NWBFile(...), "
                          "url).")
    return node


def _new_series(ts: TimeSeries, name: str, data: Any, chunks: tuple[int, ...]) -> ImageSeries:
    stamps = unwrap(ts.timestamps) if ts.timestamps is not None else None
    return ImageSeries(
        name, ZarrDataIO(data, chunks=chunks), ts.unit, resolution=ts.resolution, conversion=ts.conversion,
        offset=ts.offset, timestamps=as_lazy(stamps, name) if stamps is not None else None,
        starting_time=ts.starting_time if stamps is None else None, rate=ts.rate,
        description=ts.description,
        comments=f"copy of {ts.name!r} in chunks {chunks} (frames, x, y...) for pixel traces; "
                 "written by nwbzarr_image.rechunk_series")


def _add(nwbfile: NWBFile | None, location: stores.Location, ts: TimeSeries, name: str, module: str, data: Any,
         chunks: tuple[int, ...]) -> None:
    """Write the new series into ``module`` of the file at ``location`` (a new file from ``nwbfile``)."""
    new = _new_series(ts, name, data, chunks)
    if nwbfile is not None:
        out = NWBFile(nwbfile.session_description, nwbfile.identifier, nwbfile.session_start_time)
        out.add_processing_module(ProcessingModule(module, _module_description()))
        out.processing[module].add(new)
        write(out, location.url, location.storage_options)
        return
    with open_file(location.url, "a", location.storage_options) as target:
        if module not in target.processing:
            target.add_processing_module(ProcessingModule(module, _module_description()))
        target.processing[module].add(new)


def _check_free(location: stores.Location, module: str, name: str) -> None:
    existing = read(location.url, location.storage_options).processing
    if module in existing and name in existing[module].data_interfaces:
        raise StoreExistsError(f"rechunk_series: processing/{module}/{name} already exists in {location.url}; "
                               "expected a new name. Pass another name or module.")


def _module_description() -> str:
    return "series copied into pixel-trace chunking (small tiles, many frames) by nwbzarr_image.rechunk_series"


def _two_passes(where: str, nwbfile: NWBFile | None, location: stores.Location, ts: TimeSeries, name: str,
                module: str, data: Any, chunks: tuple[int, ...], slab: int, budget: float) -> None:
    """Slabs -> slab-deep tiles in a temporary array next to the target -> tiles joined along time."""
    chunk_bytes = math.prod(chunks) * data.dtype.itemsize
    if SLAB_COPIES * chunk_bytes > budget:
        fit = int(budget // (SLAB_COPIES * math.prod(chunks[1:]) * data.dtype.itemsize))
        raise SchemaError(f"{where}: one target chunk {chunks} ({chunk_bytes / 2**20:.1f} MB) does not fit in "
                          f"memory_gb={budget / 2**30:g}; expected frames_per_chunk <= {fit}. Lower "
                          "frames_per_chunk or raise memory_gb.")
    source_step = int(max(data.chunks[0]))
    depth = (slab // source_step) * source_step or slab
    with siblings.temporary(location, "rechunk") as temp:  # a killed run's is removed by the next read or write
        store = stores.open_store(location, read_only=False, path=temp)
        inner = zarr.create_array(store, shape=data.shape, dtype=data.dtype, chunks=(depth, *chunks[1:]),
                                  compressors=zarr.codecs.BloscCodec(cname="lz4", clevel=1), zarr_format=3,
                                  chunk_key_encoding=CHUNK_KEY_ENCODING)
        store_dask(inner, data.rechunk((depth, *data.shape[1:])))
        tiles = as_dask(inner, f"{location.url}/{temp}")  # chunks: the slab-deep tiles
        _add(nwbfile, location, ts, name, module, tiles.rechunk(chunks), chunks)
