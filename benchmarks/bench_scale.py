"""Benchmark files at scale: the sharding rule's measurement, and opening files of many objects; ours vs raw
zarr-python and pynwb + hdmf-zarr 0.14.

What is measured
----------------
1. ``layout``: one deterministic uint16 movie (default 256 frames of 1024 x 1024 = 537 MB; a smooth background
   plus seeded Poisson noise), streamed from a generator by each method into a new file (Blosc zstd 3 shuffle):
   ``ours cN sM`` = ``nzi.write`` with ``ZarrDataIO(DataChunkIterator(...), chunks=(N, ...), shards=(M, ...))``
   (``s-``: not sharded), ``ours default`` = no ZarrDataIO, the library's rule (``chunking.frame_shards``;
   the movie is made "big" with ``write(..., shard_above=0)``), ``raw-zarr c2 s32`` = ``zarr.create_array`` with
   the rule's chunks and shards and ``array[a:b] = block`` per shard, ``hdmf-zarr`` = pynwb + hdmf-zarr 0.14
   ``NWBZarrIO.write`` of an ``ImageSeries`` over hdmf's ``DataChunkIterator`` (its defaults). Per method:
   write seconds and peak RSS; objects stored for the movie, and for a 100,000-frame movie of the same frames
   (200 GB) under the same layout; then one frame (``--frame``) read cold through zarr (``zarr.open_array(...)
   [k]`` on a store that counts ``get`` calls and bytes returned): requests and bytes per frame. The frame read
   back must be byte-identical for every method.
2. ``open``: a file written by ``nzi.write`` holding ``--images`` (10,000) 8 x 8 GrayscaleImages in one Images
   with ``order_of_images`` over all of them and ``--series`` (1,000) small ImageSeries, opened locally and over
   HTTP (``tests/servers.py``'s counting server on 127.0.0.1, in the child) by ``nzi.read`` and by hdmf-zarr's
   ``NWBZarrIO(path, "r").read()``; and a pynwb-written reference file with an external-file ImageSeries (and an
   in-file one) opened over HTTP. Per open: seconds and requests. Both readers must see the same names.
3. ``frames``: the rule's sharded movie of part 1 over HTTP: requests and bytes for one frame read by ours
   (``.data[k].compute()``), by zarr (``array[k]``) and by hdmf-zarr (``.data[k]``), each in a fresh process.

Run (from the repository root)::

    .venv/bin/python benchmarks/bench_scale.py            # ~10 min on 2 cores
    .venv/bin/python benchmarks/bench_scale.py --quick    # smoke test (the test suite runs it)

The printed output is also written to ``benchmarks/results/bench_scale.txt`` (``--quick``: ``quick/``).
"""

from __future__ import annotations

import argparse
import math
import shutil
import sys
import tempfile
import warnings
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from _harness import (
    REPO,
    Report,
    Results,
    Suite,
    Timing,
    child_entry,
    common_args,
    digest,
    header,
    machine_line,
    measure,
    smooth_field,
    table,
)

SEED = 20261201
BIG_FRAMES = 100_000  # the 200 GB movie of the issue (1024 x 1024 uint16)
START = datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)
LAYOUTS: dict[str, tuple[int, int | None]] = {  # method -> (frames per chunk, frames per shard or None)
    "ours c2 s-": (2, None), "ours c1 s-": (1, None),
    "ours c2 s8": (2, 8), "ours c2 s16": (2, 16), "ours c2 s32": (2, 32), "ours c2 s64": (2, 64),
    "ours c2 s128": (2, 128), "ours c1 s32": (1, 32),
}
SHARDED_RULE = "ours default"


# --------------------------------------------------------------------------- data


def movie_frames(n: int, shape: tuple[int, int]) -> Iterator[np.ndarray]:
    """The movie frame by frame (never held whole): a smooth background plus seeded Poisson noise."""
    background = 200 + 1800 * smooth_field(np.random.default_rng(SEED), shape, 12.0)
    for start in range(0, n, 8):
        rng = np.random.default_rng(SEED + start)
        yield from rng.poisson(background, (min(8, n - start), *shape)).astype(np.uint16)


class CountingStore:
    """Wraps a zarr store: counts the reads (``get``, ``get_partial_values``, ``get_ranges``: one per byte range)
    and the bytes they return (zarr's synchronous path is turned off for it, so every read goes through them)."""

    @staticmethod
    def wrap(store: Any) -> Any:
        from zarr.storage import WrapperStore

        class Counting(WrapperStore):  # type: ignore[type-arg]
            requests = 0
            nbytes = 0

            async def get(self, key, prototype, byte_range=None):  # type: ignore[no-untyped-def]
                value = await self._store.get(key, prototype, byte_range)
                type(self).requests += 1
                type(self).nbytes += len(value) if value is not None else 0
                return value

            async def get_partial_values(self, prototype, key_ranges):  # type: ignore[no-untyped-def]
                values = await self._store.get_partial_values(prototype, list(key_ranges))
                type(self).requests += len(values)
                type(self).nbytes += sum(len(v) for v in values if v is not None)
                return values

            async def get_ranges(self, key, byte_ranges, **kwargs):  # type: ignore[no-untyped-def]
                async for group in super().get_ranges(key, byte_ranges, **kwargs):
                    type(self).requests += len(group)
                    type(self).nbytes += sum(len(v) for _, v in group if v is not None)
                    yield group

            @property
            def _supports_sync_io(self) -> bool:
                return False  # zarr's synchronous fast path would read past the counters

        return Counting(store)


# --------------------------------------------------------------------------- 1. layout (child side)


def _write_layout(name: str, path: Path, n: int, shape: tuple[int, int]) -> None:
    import zarr

    import nwbzarr_image as nzi
    from nwbzarr_image.storage.defaults import frame_compressor

    if name.startswith("raw-zarr"):
        array = zarr.create_array(str(path), shape=(n, *shape), dtype=np.uint16, chunks=(2, *shape),
                                  shards=(32, *shape), compressors=frame_compressor(np.uint16))
        block: list[np.ndarray] = []
        start = 0
        for frame in movie_frames(n, shape):
            block.append(frame)
            if len(block) == 32:
                array[start:start + 32] = np.stack(block)
                start, block = start + 32, []
        if block:
            array[start:start + len(block)] = np.stack(block)
        return
    if name == "hdmf-zarr":
        from hdmf.data_utils import DataChunkIterator
        from hdmf_zarr.nwb import NWBZarrIO
        from pynwb import NWBFile
        from pynwb.image import ImageSeries

        nwb = NWBFile(session_description="s", identifier="id", session_start_time=START)
        data = DataChunkIterator(movie_frames(n, shape), maxshape=(n, *shape), dtype=np.dtype(np.uint16),
                                 buffer_size=8)
        nwb.add_acquisition(ImageSeries(name="m", data=data, unit="a.u.", rate=30.0))
        with NWBZarrIO(str(path), mode="w") as io:
            io.write(nwb)
        return
    source = nzi.DataChunkIterator(movie_frames(n, shape), maxshape=(n, *shape), dtype=np.uint16, buffer_size=8)
    nwb = nzi.NWBFile("s", "id", START)
    if name == SHARDED_RULE:
        nwb.add_acquisition(nzi.ImageSeries("m", source, "a.u.", rate=30.0))
        nzi.write(nwb, str(path), shard_above=0)  # the rule, as for a movie above the threshold
        return
    chunk, shard = LAYOUTS[name]
    io = nzi.ZarrDataIO(source, chunks=(chunk, *shape), shards=(shard, *shape) if shard else None)
    nwb.add_acquisition(nzi.ImageSeries("m", io, "a.u.", rate=30.0))
    nzi.write(nwb, str(path))


def data_path(name: str, path: Path) -> Path:
    return path if name.startswith("raw-zarr") else path / "acquisition/m/data"


def layout(name: str, params: dict[str, Any]) -> dict[str, Timing]:
    import zarr
    from zarr.storage import LocalStore

    n, shape = params["frames"], tuple(params["shape"])
    path = Path(params["dir"]) / f"{name.replace(' ', '_')}.zarr"

    def write() -> None:
        shutil.rmtree(path, ignore_errors=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # hdmf: no cached namespaces; zarr: consolidated metadata
            _write_layout(name, path, n, shape)

    timing = measure(write, nbytes=n * math.prod(shape) * 2, count=n)
    folder = data_path(name, path)
    objects = sum(1 for p in folder.rglob("*") if p.is_file() and p.name != "zarr.json")
    array = zarr.open_array(str(folder), mode="r")
    unit = int((array.shards or array.chunks)[0])
    timing.extra.update(objects=objects, objects_200gb=math.ceil(BIG_FRAMES / unit) * math.prod(
        math.ceil(s / c) for s, c in zip(shape, (array.shards or array.chunks)[1:], strict=True)),
        chunks=str(tuple(array.chunks)), shards=str(tuple(array.shards)) if array.shards else "-",
        stored_mb=sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 1e6)
    store = CountingStore.wrap(LocalStore(str(folder), read_only=True))
    counted = zarr.open_array(store, mode="r")
    before = (type(store).requests, type(store).nbytes)
    frame = measure(lambda: counted[params["frame"]])
    frame.extra.update(requests=type(store).requests - before[0], kb=(type(store).nbytes - before[1]) / 1e3)
    return {"write": timing, "frame": frame}


# --------------------------------------------------------------------------- 2. open (child side)


def _names(nwb: Any) -> list[str]:
    """What both readers must see: the images in order, the series (not timed: hdmf-zarr resolves
    order_of_images when it is used, ~0.8x its open time again for 10,000 images)."""
    templates = dict(nwb.stimulus_template).get("stack")  # no lookup of a missing name in the store
    order = [] if templates is None else [img.name for img in templates.order_of_images.data]
    return [*order, *sorted(nwb.acquisition)]


def open_file(reader: str, where: str, params: dict[str, Any]) -> dict[str, Timing]:
    """The clock and the request count cover ``nzi.read(url)`` / ``NWBZarrIO(url, "r").read()`` only."""
    sys.path.insert(0, str(REPO / "tests"))
    from servers import http_server

    folder, name = Path(params["open_dir"]), params["open_file"]
    opened: list[Any] = []
    with warnings.catch_warnings(), http_server(folder) as server:
        warnings.simplefilter("ignore")
        if reader == "ours":
            import nwbzarr_image as nzi

            def read(url: str) -> None:
                opened.append(nzi.read(url))
        else:
            from hdmf_zarr.nwb import NWBZarrIO

            def read(url: str) -> None:
                io = NWBZarrIO(url, mode="r")
                opened.append(io.read())
                opened.append(io)  # kept open until the names are read

        url = str(folder / name) if where == "local" else f"{server.url}/{name}"
        timing = measure(lambda: read(url))
        timing.extra["requests"] = server.total() if where == "http" else "-"
        timing.digest = digest(np.array(_names(opened[0])))
        if reader != "ours":
            opened[1].close()
    return {f"open {name} ({where})": timing}


# --------------------------------------------------------------------------- 3. frames over HTTP (child side)


def http_frame(reader: str, params: dict[str, Any]) -> dict[str, Timing]:
    sys.path.insert(0, str(REPO / "tests"))
    from servers import http_server

    folder = Path(params["dir"])
    name, k = f"{SHARDED_RULE.replace(' ', '_')}.zarr", params["frame"]
    with warnings.catch_warnings(), http_server(folder, ranges=True) as server:
        warnings.simplefilter("ignore")
        url = f"{server.url}/{name}"
        if reader == "ours":
            import nwbzarr_image as nzi

            data = nzi.read(url).acquisition["m"].data
            server.reset()
            timing = measure(lambda: data[k].compute())
        elif reader == "raw-zarr":
            import zarr

            array = zarr.open_array(f"{url}/acquisition/m/data", mode="r")
            server.reset()
            timing = measure(lambda: array[k])
        else:
            from hdmf_zarr.nwb import NWBZarrIO

            io = NWBZarrIO(url, mode="r")
            data = io.read().acquisition["m"].data
            server.reset()
            timing = measure(lambda: np.asarray(data[k]))
        timing.extra.update(requests=server.total(), kb=server.bytes_sent / 1e3)
    return {"one frame over HTTP": timing}


LAYOUT_METHODS = [*LAYOUTS, SHARDED_RULE, "raw-zarr c2 s32", "hdmf-zarr"]
OPEN_METHODS = {f"{reader} {where} {key}": (reader, where, key) for key in ("many", "external")
                for reader in ("ours", "hdmf-zarr") for where in ("local", "http")}
FRAME_METHODS = {f"frame {reader}": reader for reader in ("ours", "raw-zarr", "hdmf-zarr")}
METHODS: dict[str, Any] = {
    **{name: (lambda p, name=name: layout(name, p)) for name in LAYOUT_METHODS},
    **{name: (lambda p, spec=spec: open_file(spec[0], spec[1], {**p, "open_file": p["files"][spec[2]]}))
       for name, spec in OPEN_METHODS.items()},
    **{name: (lambda p, reader=reader: http_frame(reader, p)) for name, reader in FRAME_METHODS.items()},
}


# --------------------------------------------------------------------------- parent: the files to open


def write_many(path: Path, images: int, series: int) -> None:
    import nwbzarr_image as nzi

    nwb = nzi.NWBFile("many objects", "many-1", START)
    rng = np.random.default_rng(SEED)
    pictures = [nzi.GrayscaleImage(f"img_{i:05d}", rng.integers(0, 255, (8, 8), dtype=np.uint8))
                for i in range(images)]
    nwb.add_stimulus_template(nzi.Images("stack", images=pictures, description="many images",
                                         order_of_images=nzi.ImageReferences("order_of_images", pictures[::-1])))
    for i in range(series):
        nwb.add_acquisition(nzi.ImageSeries(f"s_{i:04d}", rng.integers(0, 255, (2, 4, 4), dtype=np.uint8), "n.a.",
                                            rate=30.0, starting_time=float(i)))
    nzi.write(nwb, str(path))


def write_external_reference(path: Path) -> None:
    """pynwb + hdmf-zarr 0.14: an external-file ImageSeries and one with its frames in the file."""
    from hdmf_zarr.nwb import NWBZarrIO
    from pynwb import NWBFile
    from pynwb.image import ImageSeries

    nwb = NWBFile(session_description="reference", identifier="ref-1", session_start_time=START)
    nwb.add_acquisition(ImageSeries(name="behavior", external_file=["behavior.mp4"], format="external",
                                    starting_frame=[0], rate=30.0, num_samples=900, unit="n.a."))
    nwb.add_acquisition(ImageSeries(name="stack", data=np.zeros((4, 8, 8), np.uint8), unit="n.a.", rate=10.0))
    with warnings.catch_warnings(), NWBZarrIO(str(path), mode="w") as io:
        warnings.simplefilter("ignore")
        io.write(nwb)


def count_objects(path: Path) -> int:
    return sum(1 for p in path.rglob("*") if p.is_file())


def main(argv: list[str]) -> int:
    child_entry(argv, METHODS)
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--frames", type=int, default=None, help="movie frames (default 256; 24 with --quick)")
    parser.add_argument("--frame", type=int, default=None, help="the frame read (default frames // 2 + 1)")
    parser.add_argument("--images", type=int, default=None, help="images in the many-objects file (10000)")
    parser.add_argument("--series", type=int, default=None, help="series in the many-objects file (1000)")
    common_args(parser, rounds=2)
    args = parser.parse_args(argv[1:])
    n = args.frames or (24 if args.quick else 256)
    shape = (64, 64) if args.quick else (1024, 1024)
    images, series = args.images or (100 if args.quick else 10_000), args.series or (10 if args.quick else 1_000)
    rounds = args.rounds or (1 if args.quick else 2)
    report = Report()
    for line in header(argv, rounds, ["objects = files stored for the movie's data array besides its zarr.json"]):
        report.emit(line)
    with tempfile.TemporaryDirectory(prefix="bench_scale_") as tmp:
        open_dir = Path(tmp) / "open"
        open_dir.mkdir()
        names = [m for m in METHODS if not args.only or m in args.only]
        if any(m in OPEN_METHODS for m in names):
            write_many(open_dir / "many.nwb.zarr", images, series)
            write_external_reference(open_dir / "reference.nwb.zarr")
        files = {"many": "many.nwb.zarr", "external": "reference.nwb.zarr"}
        params = {"frames": n, "shape": shape, "frame": args.frame or n // 2 + 1, "dir": tmp,
                  "open_dir": str(open_dir), "files": files}
        report.emit(f"movie: uint16 ({n}, {shape[0]}, {shape[1]}), {n * math.prod(shape) * 2 / 1e6:.1f} MB, "
                    f"frame {params['frame']} read; 200 GB = {BIG_FRAMES} frames of {shape[0]}x{shape[1]}")
        if (open_dir / "many.nwb.zarr").exists():
            report.emit(f"many.nwb.zarr: {images} GrayscaleImages + {series} ImageSeries, "
                        f"{count_objects(open_dir / 'many.nwb.zarr')} files; reference.nwb.zarr (pynwb): "
                        f"{count_objects(open_dir / 'reference.nwb.zarr')} files")
        layout_results, open_results, frame_results = (
            Suite(__file__, METHODS).run(params, chosen, rounds) if chosen else Results([])
            for chosen in ([m for m in names if m in group] for group in (LAYOUT_METHODS, OPEN_METHODS,
                                                                          FRAME_METHODS)))
    columns = [("chunks", lambda r: r.extra.get("chunks", "")), ("shards", lambda r: r.extra.get("shards", "")),
               ("objects", lambda r: str(r.extra.get("objects", ""))),
               ("obj. 200 GB", lambda r: str(r.extra.get("objects_200gb", ""))),
               ("stored MB", lambda r: f"{r.extra.get('stored_mb', 0):.0f}")]
    report.emit()
    report.emit("== 1. layout: write (streamed from a generator)")
    for line in table(layout_results, "write", rate="frames", extra=columns):
        report.emit(line)
    report.emit()
    report.emit("== 1. layout: one frame read cold through zarr")
    for line in table(layout_results, "frame", extra=[("requests", lambda r: str(r.extra.get("requests", ""))),
                                                      ("kB read", lambda r: f"{r.extra.get('kb', 0):.0f}")]):
        report.emit(line)
    requests = [("requests", lambda r: str(r.extra.get("requests", "")))]
    for op in sorted({op for per in open_results.ops.values() for op in per}):
        report.emit()
        report.emit(f"== 2. {op}")
        sub = Results([m for m in open_results.methods if open_results.op(m, op)], open_results.ops)
        for line in table(sub, op, extra=requests):
            report.emit(line)
    report.emit()
    report.emit("== 3. one frame of the rule's sharded movie over HTTP")
    for line in table(frame_results, "one frame over HTTP", extra=[
            *requests, ("kB sent", lambda r: f"{r.extra.get('kb', 0):.0f}")]):
        report.emit(line)
    report.emit()
    problems = [*layout_results.mismatches(), *open_results.mismatches(), *frame_results.mismatches()]
    errors = {**layout_results.errors, **open_results.errors, **frame_results.errors}
    for problem in problems:
        report.emit(f"MISMATCH {problem}")
    for name, error in errors.items():
        report.emit(f"ERROR {name}: {error}")
    report.emit(machine_line(["hdmf_zarr", "pynwb"]))
    report.save("quick/bench_scale.txt" if args.quick else "bench_scale.txt")
    return 1 if problems or errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
