"""Benchmark a dask mean projection over one stored NWB movie: ours vs raw zarr vs pynwb + hdmf-zarr.

What is measured
----------------
One deterministic uint16 movie (default 1200 frames of 512x512 = 629 MB; 1 MB = 1e6 bytes): a static
background plus seeded noise, written once by ``nzi.write`` from a ``DataChunkIterator`` with the library
defaults (whole-frame chunks of 8 frames = 4.2 MB, Blosc zstd 3 shuffle) into a temporary directory. The same
stored array is then reduced to its mean frame, ``data.mean(axis=0).compute()``, by:

* ``ours``: ``nzi.read(path).acquisition["movie"].data`` (dask, chunks = stored chunks).
* ``raw-zarr``: ``da.from_zarr(zarr.open_array(path + "/acquisition/movie/data"))``.
* ``hdmf-zarr``: ``hdmf_zarr.nwb.NWBZarrIO(path, "r").read().acquisition["movie"].data`` (a zarr.Array),
  wrapped by ``da.from_zarr``.

The clock covers opening the file, building the graph and computing (dask's threaded scheduler, one thread per
core, unless ``--cluster``: a ``dask.distributed.LocalCluster`` of 2 process workers x 1 thread, started once
and shared by all methods). Methods run round robin (default 6 rounds, each method leading two of them) so
bursts of other load hit them alike; ``seconds`` is the best round, ``median s`` the median. MB/s is
uncompressed movie bytes per second; ``x raw`` is raw-zarr's seconds / this method's seconds (target for ours:
>= 0.9). Every result is compared with the exact mean (integer sums in float64), so a broken reader cannot
look fast. The page cache is warm after the first round for every method alike.

Run (from the repository root)::

    .venv/bin/python benchmarks/bench_dask.py              # ~1 min on 2 cores
    .venv/bin/python benchmarks/bench_dask.py --cluster    # on 2 dask.distributed process workers
    .venv/bin/python benchmarks/bench_dask.py --frames 96 --rounds 1   # smoke test

The printed output is also written to ``benchmarks/results/bench_dask.txt`` (``--cluster``:
``bench_dask_cluster.txt``).
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import shlex
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path

import dask
import dask.array as da
import numpy as np
import zarr

import nwbzarr_image as nzi

RESULTS = Path(__file__).resolve().parent / "results"
SHAPE = (512, 512)
SEED = 20240607


def frames(n: int) -> Iterator[np.ndarray]:
    """The movie, frame by frame: a smooth background plus seeded noise (never held whole)."""
    rng = np.random.default_rng(SEED)
    y, x = np.mgrid[: SHAPE[0], : SHAPE[1]]
    background = 300 + 200 * np.sin(x / 40.0) * np.cos(y / 55.0)
    for start in range(0, n, 8):
        noise = rng.normal(0, 12, size=(min(8, n - start), *SHAPE))
        yield from np.clip(background + noise, 0, 65535).astype(np.uint16)


def write_movie(path: str, n: int) -> np.ndarray:
    """Write the movie with ``nzi.write``; return its exact mean frame."""
    total = np.zeros(SHAPE, np.float64)

    def counted() -> Iterator[np.ndarray]:
        for frame in frames(n):
            total[...] += frame
            yield frame

    nwb = nzi.NWBFile("bench", "bench-dask", datetime.datetime(2024, 1, 1, tzinfo=datetime.UTC))
    source = nzi.DataChunkIterator(counted(), maxshape=(n, *SHAPE), dtype=np.uint16, buffer_size=64)
    nwb.add_acquisition(nzi.ImageSeries("movie", source, "a.u.", rate=30.0))
    nzi.write(nwb, path)
    return total / n


def ours(path: str) -> da.Array:
    return nzi.read(path).acquisition["movie"].data


def raw_zarr(path: str) -> da.Array:
    return da.from_zarr(zarr.open_array(f"{path}/acquisition/movie/data", mode="r"))


def hdmf_zarr(path: str) -> da.Array:
    from hdmf_zarr.nwb import NWBZarrIO

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pynwb warns that the file caches no specification
        io = NWBZarrIO(path, mode="r")
        data = io.read().acquisition["movie"].data
    hdmf_zarr.io = io  # type: ignore[attr-defined]  # keep the file open until the compute is done
    return da.from_zarr(data)


METHODS: dict[str, Callable[[str], da.Array]] = {"ours": ours, "raw-zarr": raw_zarr, "hdmf-zarr": hdmf_zarr}


def run(path: str, method: Callable[[str], da.Array], expected: np.ndarray) -> tuple[float, tuple[int, ...]]:
    start = time.perf_counter()
    data = method(path)
    mean = data.mean(axis=0).compute()
    seconds = time.perf_counter() - start
    np.testing.assert_array_equal(mean, expected)
    return seconds, tuple(data.chunksize)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--frames", type=int, default=1200)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--cluster", action="store_true", help="run on a LocalCluster of 2 process workers")
    args = parser.parse_args()
    lines: list[str] = []

    def emit(line: str = "") -> None:
        print(line, flush=True)
        lines.append(line)

    command = ".venv/bin/python benchmarks/bench_dask.py" + "".join(f" {shlex.quote(a)}" for a in sys.argv[1:])
    emit(f"# command: {command}")
    emit(f"# date: {datetime.datetime.now(datetime.UTC).isoformat(timespec='seconds')}; load average at start "
         + " ".join(f"{v:.2f}" for v in os.getloadavg()))
    nbytes = args.frames * SHAPE[0] * SHAPE[1] * 2
    with tempfile.TemporaryDirectory(prefix="bench_dask_") as tmp:
        path = f"{tmp}/movie.nwb.zarr"
        expected = write_movie(path, args.frames)
        stored = sum(f.stat().st_size for f in Path(path).rglob("*") if f.is_file())
        chunks = zarr.open_array(f"{path}/acquisition/movie/data", mode="r").chunks
        emit(f"movie: uint16 ({args.frames}, {SHAPE[0]}, {SHAPE[1]}), {nbytes / 1e6:.1f} MB, stored "
             f"{stored / 1e6:.1f} MB, chunks {chunks}; mean projection data.mean(axis=0).compute()")
        cluster = client = None
        if args.cluster:
            from distributed import Client, LocalCluster

            cluster = LocalCluster(n_workers=2, processes=True, threads_per_worker=1, host="127.0.0.1",
                                   dashboard_address=None)
            client = Client(cluster)
        scheduler = "dask.distributed LocalCluster 2 process workers x 1 thread" if client else (
            f"threads ({os.cpu_count()} cores)")
        times: dict[str, list[float]] = {name: [] for name in METHODS}
        dask_chunks: dict[str, tuple[int, ...]] = {}
        try:
            names = list(METHODS)
            for round_ in range(args.rounds):
                for name in names[round_ % 3:] + names[:round_ % 3]:  # each method leads a round in turn
                    seconds, dask_chunks[name] = run(path, METHODS[name], expected)
                    times[name].append(seconds)
        finally:
            if client is not None and cluster is not None:
                client.close()
                cluster.close()
    best = {name: min(t) for name, t in times.items()}
    emit(f"scheduler: {scheduler}; {args.rounds} round(s), round robin; every result equals the exact mean")
    emit()
    emit(f"{'method':<10} {'seconds':>8} {'MB/s':>7} {'median s':>9} {'x raw':>6}  dask chunks   all runs s")
    for name in METHODS:
        emit(f"{name:<10} {best[name]:8.2f} {nbytes / 1e6 / best[name]:7.0f} {statistics.median(times[name]):9.2f} "
             f"{best['raw-zarr'] / best[name]:6.2f}  {dask_chunks[name]!s:<13} "
             + " ".join(f"{t:.2f}" for t in times[name]))
    emit()
    ratio = best["raw-zarr"] / best["ours"]
    emit(f"ours vs raw-zarr: {ratio:.2f}x ({'meets' if ratio >= 0.9 else 'MISSES'} the 0.9x target); "
         f"ours vs hdmf-zarr: {best['hdmf-zarr'] / best['ours']:.2f}x")
    emit(f"machine: nproc {os.cpu_count()}; {platform.machine()} {platform.system()}; python "
         f"{platform.python_version()}; numpy {np.__version__}; zarr {zarr.__version__}; dask {dask.__version__}")
    emit("load average at end " + " ".join(f"{v:.2f}" for v in os.getloadavg()))
    name = "bench_dask_cluster.txt" if args.cluster else "bench_dask.txt"
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / name).write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
