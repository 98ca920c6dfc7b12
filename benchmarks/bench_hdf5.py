"""Benchmark NWB HDF5 input: convert to NWB Zarr (ours vs hdmf-zarr's export) and remote reads over HTTP (ours vs
pynwb + h5py over fsspec, with and without a block cache, vs remfile).

What is measured
----------------
Two pynwb-written HDF5 files (``NWBHDF5IO``) of one deterministic uint16 movie (default 640 frames of 512 x 512 =
336 MB; 1 MB = 1e6 bytes; a smooth background plus seeded noise), one ImageSeries each:

* ``framed``: ``H5DataIO(chunks=(20, 512, 512), compression="gzip", shuffle=True)`` (frame-aligned chunks);
* ``tiny``: ``H5DataIO(chunks=(128, 32, 32), compression="gzip")``, hdmf's proportional style (one frame
  touches 16 x 16 = 256 chunks).

Convert (``--part convert``): the clock covers opening the source and writing the whole Zarr file.

* ``ours``: ``nzi.write(nzi.read(h5), out)`` (HDF5 chunks read by byte range, decoded, re-encoded by dask tasks);
* ``hdmf-zarr``: ``NWBZarrIO(out, "w").export(src_io=NWBHDF5IO(h5, "r"), write_args={"link_data": False})``.

Each returns frames 0, n/2 and n-1 read back from its output (digests must match).

Remote (``--part remote``): the files are served by the tests' counting HTTP server (``tests/servers.py``,
answering Range requests) with ``--latency`` (default 20 ms) added to every request, started inside each
method's process. Operations: ``open`` (to the series' data object), ``first frame`` (frame 0), ``random frames``
(seeded random frames, one at a time: 100 of ``framed``, 10 of ``tiny``, where each frame decodes 256 chunks and
fsspec's default read-ahead re-reads megabytes per chunk), and for ours ``second open`` (the cached view: disk
cache on). Columns ``requests`` and ``MB sent`` are counted by the server. Methods: ``ours``
(``nzi.read(url)``, cache cleared first), ``pynwb-fsspec`` (fsspec HTTP file with its defaults + h5py +
``NWBHDF5IO(file=...)``), ``pynwb-blockcache`` (the same with ``cache_type="blockcache", block_size=1 MiB``),
``pynwb-remfile`` (``remfile.File(url)``). Each method's process imports its libraries before the clock
(h5py, fsspec's HTTP file system and aiohttp, pynwb), and for ours dask looks up its scheduler once (its first
compute imports ``distributed`` to look for a client, ~0.2 s once a process). The fsspec methods run with
Python's cyclic garbage collector off: h5py over an fsspec file
otherwise deadlocks when a collection in fsspec's loop thread frees an h5py object (the block-cache run used to hang
until ``FSTimeoutError``). Every frame read by every method is compared (digests).

Run (from the repository root)::

    .venv/bin/python benchmarks/bench_hdf5.py            # both parts, ~10 min on 2 cores
    .venv/bin/python benchmarks/bench_hdf5.py --quick    # smoke test (the test suite runs it)

The printed output is also written to ``benchmarks/results/bench_hdf5.txt`` (``--part remote``:
``bench_hdf5_remote.txt``; ``--quick``: under ``quick/``).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
from _harness import (
    REPO,
    Report,
    Suite,
    Timing,
    child_entry,
    common_args,
    header,
    machine_line,
    measure,
    smooth_field,
    table,
)

SEED = 20261201
FRAME = (512, 512)
LAYOUTS = {"framed": {"chunks": (20, 512, 512), "compression": "gzip", "shuffle": True},
           "tiny": {"chunks": (128, 32, 32), "compression": "gzip"}}


def movie(n: int, shape: tuple[int, int]) -> np.ndarray:
    rng = np.random.default_rng(SEED)
    background = 300 + 400 * smooth_field(rng, shape, 12.0)
    out = np.empty((n, *shape), np.uint16)
    for i in range(n):
        out[i] = np.clip(background + rng.normal(0, 12, size=shape), 0, 65535)
    return out


def write_h5(path: Path, data: np.ndarray, layout: dict[str, Any]) -> None:
    from datetime import UTC, datetime

    import pynwb
    from hdmf.backends.hdf5 import H5DataIO

    chunks = tuple(min(c, n) for c, n in zip(layout["chunks"], data.shape, strict=True))
    nwb = pynwb.NWBFile(session_description="bench", identifier="bench-hdf5",
                        session_start_time=datetime(2024, 1, 1, tzinfo=UTC))
    nwb.add_acquisition(pynwb.image.ImageSeries(name="movie", data=H5DataIO(data, **{**layout, "chunks": chunks}),
                                                unit="a.u.", rate=30.0, description="benchmark movie"))
    with pynwb.NWBHDF5IO(str(path), "w") as io:
        io.write(nwb)


READS = {"framed": 100, "tiny": 10}  # random frames read one at a time (a tiny-chunk frame decodes 256 chunks)


def picks(n: int, count: int) -> list[int]:
    return [int(i) for i in np.random.default_rng(SEED + 1).integers(0, n, count)]


# --------------------------------------------------------------------------- convert methods


def _read_back(path: str, n: int) -> list[np.ndarray]:
    import zarr

    array = zarr.open_array(path, path="acquisition/movie/data", mode="r")
    return [np.asarray(array[i]) for i in (0, n // 2, n - 1)]


def convert_ours(params: dict[str, Any]) -> dict[str, Timing]:
    import h5py  # noqa: F401 - before the clock, as pynwb's import (outside the clock) imports it for hdmf-zarr

    import nwbzarr_image as nzi

    out = os.path.join(params["tmp"], f"ours-{params['layout']}.nwb.zarr")
    shutil.rmtree(out, ignore_errors=True)

    def run() -> list[np.ndarray]:
        nzi.write(nzi.read(params["h5"]), out)
        return _read_back(out, params["n"])

    timing = measure(run, nbytes=params["nbytes"])
    shutil.rmtree(out, ignore_errors=True)
    return {f"convert {params['layout']}": timing}


def convert_hdmf(params: dict[str, Any]) -> dict[str, Timing]:
    from hdmf_zarr.nwb import NWBZarrIO
    from pynwb import NWBHDF5IO

    out = os.path.join(params["tmp"], f"hdmf-{params['layout']}.nwb.zarr")
    shutil.rmtree(out, ignore_errors=True)

    def run() -> list[np.ndarray]:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with NWBHDF5IO(params["h5"], "r") as src, NWBZarrIO(out, mode="w") as dst:
                dst.export(src_io=src, write_args={"link_data": False})
        return _read_back(out, params["n"])

    timing = measure(run, nbytes=params["nbytes"])
    shutil.rmtree(out, ignore_errors=True)
    return {f"convert {params['layout']}": timing}


# --------------------------------------------------------------------------- remote methods


def _remote(params: dict[str, Any], open_data: Any, cached_open: Any = None) -> dict[str, Timing]:
    """Serve the files, then time open / first frame / random frames per layout, counting requests and bytes."""
    sys.path.insert(0, str(REPO / "tests"))
    from servers import http_server

    out: dict[str, Timing] = {}
    with http_server(Path(params["root"]), latency=params["latency"], ranges=True) as server:
        def counted(name: str, layout: str, operation: Any) -> Any:
            server.reset()
            holder: list[Any] = []
            timing = measure(lambda: holder.append(operation()), count=1)
            timing.digest = _digest_of(holder[-1])
            timing.extra = {f"{name} requests": server.total(), f"{name} MB": server.bytes_sent / 1e6}
            out[f"{name} {layout}"] = timing
            return holder[-1]

        for layout in LAYOUTS:
            url = f"{server.url}/{layout}.nwb"
            data = counted("open", layout, lambda u=url: open_data(u))
            counted("first frame", layout, lambda d=data: np.asarray(d[0]))
            counted("random frames", layout,
                    lambda d=data, k=READS[layout]: [np.asarray(d[i]) for i in picks(params["n"], k)])
            if cached_open is not None:
                counted("second open", layout, lambda u=url: cached_open(u))
    return out


def _digest_of(value: Any) -> str | None:
    from _harness import digest

    return digest(value) if isinstance(value, (np.ndarray, list)) else None


def _ours_data(url: str) -> Any:
    import nwbzarr_image as nzi

    data = nzi.read(url).acquisition["movie"].data
    return _Frames(data)


class _Frames:
    """``frames[i]`` of a dask array, computed one frame at a time."""

    def __init__(self, data: Any) -> None:
        self.data = data

    def __getitem__(self, i: int) -> np.ndarray:
        return np.asarray(self.data[i].compute())


def remote_ours(params: dict[str, Any]) -> dict[str, Timing]:
    os.environ["NWBZARR_IMAGE_CACHE"] = os.path.join(params["tmp"], f"cache-{time.time_ns()}")
    import dask.base

    import nwbzarr_image as nzi

    dask.base.get_scheduler()  # once a process, before the clock: dask looks for a distributed client (an import)
    _import_http()
    return _remote(params, _ours_data, lambda url: (nzi.read(url), None)[1])


def _pynwb_data(handle: Any) -> Any:
    import h5py
    from pynwb import NWBHDF5IO

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        io = NWBHDF5IO(file=h5py.File(handle, "r"), mode="r")
        return io.read().acquisition["movie"].data


def _import_http() -> None:
    """fsspec's HTTP file system and aiohttp (~0.15 s), and h5py, imported before the clock by every method that
    uses them (remfile's requests is imported with remfile)."""
    import fsspec.implementations.http  # noqa: F401
    import h5py  # noqa: F401


def _import_pynwb() -> None:
    """pynwb, hdmf and h5py imported before the clock (as ours is)."""
    import pynwb  # noqa: F401

    _import_http()


def _no_gc_in_fsspec_loop() -> None:
    """h5py over an fsspec file deadlocks when Python's cyclic garbage collector runs in fsspec's event-loop thread
    and frees an h5py object: it waits for h5py's lock, held by the main thread inside an h5py read that waits for
    that loop (seen here as the block-cache run hanging until ``FSTimeoutError``; kerchunk#588, hdmf-zarr#362).
    The known workaround, used for both fsspec methods: no cyclic collection in their processes."""
    import gc

    gc.disable()


def remote_fsspec(params: dict[str, Any]) -> dict[str, Timing]:
    import fsspec

    _import_pynwb()
    _no_gc_in_fsspec_loop()

    return _remote(params, lambda url: _pynwb_data(fsspec.open(url, "rb").open()))


def remote_blockcache(params: dict[str, Any]) -> dict[str, Timing]:
    import fsspec

    _import_pynwb()
    _no_gc_in_fsspec_loop()

    return _remote(params, lambda url: _pynwb_data(
        fsspec.open(url, "rb", cache_type="blockcache", block_size=2**20).open()))


def remote_remfile(params: dict[str, Any]) -> dict[str, Timing]:
    import remfile

    _import_pynwb()

    return _remote(params, lambda url: _pynwb_data(remfile.File(url)))


def convert_codecs(params: dict[str, Any]) -> dict[str, Timing]:
    """The codecs alone, the floor of any recoding conversion: every HDF5 chunk read as stored
    (``read_direct_chunk``) and decoded (zlib-ng or zlib, then shuffle), and the movie encoded again with our
    default codec (Blosc zstd 3, chunks of 8 frames), each on every core; nothing written."""
    from concurrent.futures import ThreadPoolExecutor

    import h5py
    import numcodecs

    try:  # the inflate our reader uses when installed ([hdf5] extra), about twice zlib's speed
        from zlib_ng import zlib_ng as inflate
    except ImportError:
        import zlib as inflate

    def run() -> list[np.ndarray]:
        with h5py.File(params["h5"], "r") as f:
            dataset = f["acquisition/movie/data"]
            shuffled = dataset.shuffle
            movie = np.empty(dataset.shape, dataset.dtype)
            starts = [c.chunk_offset for c in _chunk_infos(dataset)]
            raw = [dataset.id.read_direct_chunk(start)[1] for start in starts]
        unshuffle = numcodecs.Shuffle(elementsize=movie.dtype.itemsize)
        chunk_shape = dataset.chunks

        def decode(i: int) -> None:
            values = inflate.decompress(raw[i])
            if shuffled:
                values = unshuffle.decode(values)
            block = np.frombuffer(values, movie.dtype).reshape(chunk_shape)
            region = tuple(slice(o, min(o + c, n)) for o, c, n in zip(starts[i], chunk_shape, movie.shape, strict=True))
            movie[region] = block[tuple(slice(0, r.stop - r.start) for r in region)]

        codec = numcodecs.Blosc(cname="zstd", clevel=3, shuffle=numcodecs.Blosc.SHUFFLE)
        with ThreadPoolExecutor(os.cpu_count() or 1) as pool:
            list(pool.map(decode, range(len(raw))))
            list(pool.map(lambda a: codec.encode(movie[a:a + 8]), range(0, len(movie), 8)))
        return [np.asarray(movie[i]) for i in (0, params["n"] // 2, params["n"] - 1)]

    return {f"convert {params['layout']}": measure(run, nbytes=params["nbytes"])}


def _chunk_infos(dataset: Any) -> list[Any]:
    infos: list[Any] = []
    dataset.id.chunk_iter(infos.append)
    return infos


CONVERT = {"ours": convert_ours, "hdmf-zarr": convert_hdmf, "codecs-alone": convert_codecs}
REMOTE = {"ours": remote_ours, "pynwb-fsspec": remote_fsspec, "pynwb-blockcache": remote_blockcache,
          "pynwb-remfile": remote_remfile}
METHODS = {**{f"convert-{k}": v for k, v in CONVERT.items()}, **{f"remote-{k}": v for k, v in REMOTE.items()}}


# --------------------------------------------------------------------------- parent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    common_args(parser, rounds=1)
    parser.add_argument("--frames", type=int, default=640, help="frames of the movie (512 x 512 uint16)")
    parser.add_argument("--latency", type=float, default=0.02, help="seconds added to every HTTP request")
    parser.add_argument("--part", choices=("convert", "remote", "both"), default="both")
    args = parser.parse_args()
    n, frame = (24, (64, 64)) if args.quick else (args.frames, FRAME)
    rounds = args.rounds or 1
    report = Report()
    with tempfile.TemporaryDirectory(prefix="bench-hdf5-") as tmp:
        root = Path(tmp) / "www"
        root.mkdir()
        data = movie(n, frame)
        for layout, options in LAYOUTS.items():
            write_h5(root / f"{layout}.nwb", data, options)
        sizes = {layout: (root / f"{layout}.nwb").stat().st_size / 1e6 for layout in LAYOUTS}
        del data
        for line in header(sys.argv, rounds, [
                f"movie {n} x {frame[0]} x {frame[1]} uint16 = {n * frame[0] * frame[1] * 2 / 1e6:.0f} MB raw; "
                f"files: " + ", ".join(f"{k} {LAYOUTS[k]['chunks']} gzip {v:.0f} MB" for k, v in sizes.items()),
                f"remote: loopback HTTP with {args.latency * 1000:.0f} ms per request"]):
            report.emit(line)
        base = {"n": n, "nbytes": n * frame[0] * frame[1] * 2, "tmp": tmp, "root": str(root),
                "latency": args.latency}
        suite = Suite(__file__, METHODS)
        failed = False
        if args.part in ("convert", "both"):
            for layout in LAYOUTS:
                params = {**base, "layout": layout, "h5": str(root / f"{layout}.nwb")}
                names = [f"convert-{k}" for k in CONVERT if not args.only or f"convert-{k}" in args.only]
                results = suite.run(params, names, rounds)
                report.emit(f"\n== convert {layout} ({sizes[layout]:.0f} MB HDF5) to NWB Zarr")
                for line in table(results, f"convert {layout}", labels={m: m[len('convert-'):] for m in names}):
                    report.emit(line)
                ratio = results.ratio("convert-hdmf-zarr", f"convert {layout}", "convert-ours")
                if ratio:
                    report.emit(f"ours is {ratio:.1f}x faster than hdmf-zarr's export")
                floor = results.ratio("convert-hdmf-zarr", f"convert {layout}", "convert-codecs-alone")
                if floor:
                    report.emit(f"decoding and encoding alone (no file written) is {floor:.1f}x faster than "
                                "hdmf-zarr's export: the bound of a conversion that recodes")
                for problem in results.mismatches():
                    failed = True
                    report.emit(f"MISMATCH {problem}")
        if args.part in ("remote", "both"):
            names = [f"remote-{k}" for k in REMOTE if not args.only or f"remote-{k}" in args.only]
            results = suite.run(base, names, rounds)
            for layout in LAYOUTS:
                for op in ("open", "first frame", "random frames", "second open"):
                    key = f"{op} {layout}"
                    if not any(results.op(m, key) for m in names):
                        continue
                    what = f"{READS[layout]} random frames, one at a time" if op == "random frames" else op
                    report.emit(f"\n== remote {layout}: {what}")
                    extra = [("requests", lambda r, o=op: str(r.extra.get(f"{o} requests", "-"))),
                             ("MB sent", lambda r, o=op: f"{r.extra.get(f'{o} MB', 0):.2f}")]
                    for line in table(results, key, labels={m: m[len('remote-'):] for m in names}, extra=extra):
                        report.emit(line)
            for problem in results.mismatches():
                if "second open" not in problem:
                    failed = True
                    report.emit(f"MISMATCH {problem}")
        report.emit("\n" + machine_line(("h5py", "pynwb", "hdmf_zarr", "fsspec", "remfile")))
    name = "bench_hdf5_remote.txt" if args.part == "remote" else "bench_hdf5.txt"
    report.save(f"quick/{name}" if args.quick else name)
    return 1 if failed else 0


if __name__ == "__main__":
    child_entry(sys.argv, METHODS)
    sys.exit(main())
