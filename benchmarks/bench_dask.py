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
core, unless ``--cluster``: a ``dask.distributed.LocalCluster`` of 2 process workers x 1 thread started in each
method's process before the clock). Each method runs in its own process per round (``benchmarks/_harness.py``:
round robin, best and median of ``--rounds`` x 2 runs, peak RSS); every result is compared with the exact mean
(integer sums in float64) and all methods must return identical bytes. Target for ours: >= 0.9x raw-zarr.

Run (from the repository root)::

    .venv/bin/python benchmarks/bench_dask.py              # ~1 min on 2 cores
    .venv/bin/python benchmarks/bench_dask.py --cluster    # on 2 dask.distributed process workers
    .venv/bin/python benchmarks/bench_dask.py --quick      # smoke test (the test suite runs it)

The printed output is also written to ``benchmarks/results/bench_dask.txt`` (``--cluster``:
``bench_dask_cluster.txt``; ``--quick``: ``quick/``).
"""

from __future__ import annotations

import argparse
import datetime
import sys
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
from _harness import Report, Suite, Timing, child_entry, common_args, header, machine_line, measure, table

SHAPE = (512, 512)
SEED = 20240607
REPEATS = 2


def frames(n: int, shape: tuple[int, int]) -> Iterator[np.ndarray]:
    """The movie, frame by frame: a smooth background plus seeded noise (never held whole)."""
    rng = np.random.default_rng(SEED)
    y, x = np.mgrid[: shape[0], : shape[1]]
    background = 300 + 200 * np.sin(x / 40.0) * np.cos(y / 55.0)
    for start in range(0, n, 8):
        noise = rng.normal(0, 12, size=(min(8, n - start), *shape))
        yield from np.clip(background + noise, 0, 65535).astype(np.uint16)


def write_movie(path: str, n: int, shape: tuple[int, int]) -> np.ndarray:
    """Write the movie with ``nzi.write``; return its exact mean frame."""
    import nwbzarr_image as nzi

    total = np.zeros(shape, np.float64)

    def counted() -> Iterator[np.ndarray]:
        for frame in frames(n, shape):
            total[...] += frame
            yield frame

    nwb = nzi.NWBFile("bench", "bench-dask", datetime.datetime(2024, 1, 1, tzinfo=datetime.UTC))
    source = nzi.DataChunkIterator(counted(), maxshape=(n, *shape), dtype=np.uint16, buffer_size=64)
    nwb.add_acquisition(nzi.ImageSeries("movie", source, "a.u.", rate=30.0))
    nzi.write(nwb, path)
    return total / n


# --------------------------------------------------------------------------- the methods (one per child)


def open_data(method: str, path: str) -> tuple[Any, Any]:
    import dask.array as da
    import zarr

    if method == "ours":
        import nwbzarr_image as nzi

        return nzi.read(path).acquisition["movie"].data, None
    if method == "raw-zarr":
        return da.from_zarr(zarr.open_array(f"{path}/acquisition/movie/data", mode="r")), None
    from hdmf_zarr.nwb import NWBZarrIO

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pynwb warns that the file caches no specification
        io = NWBZarrIO(path, mode="r")
        data = io.read().acquisition["movie"].data
    return da.from_zarr(data), io  # the io stays open until the compute is done


def projection(method: str, params: dict[str, Any]) -> dict[str, Timing]:
    import dask.array  # noqa: F401 - imported before the clock, like the readers

    cluster = client = None
    if params["cluster"]:
        from distributed import Client, LocalCluster

        cluster = LocalCluster(n_workers=2, processes=True, threads_per_worker=1, host="127.0.0.1",
                               dashboard_address=None)
        client = Client(cluster)
    expected = np.load(params["expected"])
    chunks: list[tuple[int, ...]] = []

    def run() -> np.ndarray:
        data, _io = open_data(method, params["path"])
        chunks.append(tuple(data.chunksize))
        return data.mean(axis=0).compute()

    try:
        timing = measure(run, REPEATS, nbytes=params["nbytes"],
                         check=lambda v: np.testing.assert_array_equal(v, expected))
    finally:
        if client is not None and cluster is not None:
            client.close()
            cluster.close()
    timing.extra["chunks"] = str(chunks[-1])
    return {"mean": timing}


METHODS = {name: (lambda params, name=name: projection(name, params)) for name in ("ours", "raw-zarr", "hdmf-zarr")}


def main(argv: list[str]) -> int:
    child_entry(argv, METHODS)
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--frames", type=int, default=None, help="movie frames (default 1200; 48 with --quick)")
    parser.add_argument("--cluster", action="store_true", help="run on a LocalCluster of 2 process workers")
    common_args(parser, rounds=3)
    args = parser.parse_args(argv[1:])
    n = args.frames or (48 if args.quick else 1200)
    shape = (128, 128) if args.quick else SHAPE
    rounds = args.rounds or (1 if args.quick else 3)
    report = Report()
    for line in header(argv, rounds, [f"{REPEATS} runs per process; the clock covers open + graph + compute"]):
        report.emit(line)
    nbytes = n * shape[0] * shape[1] * 2
    with tempfile.TemporaryDirectory(prefix="bench_dask_") as tmp:
        path = f"{tmp}/movie.nwb.zarr"
        np.save(f"{tmp}/expected.npy", write_movie(path, n, shape))
        stored = sum(f.stat().st_size for f in Path(path).rglob("*") if f.is_file())
        report.emit(f"movie: uint16 ({n}, {shape[0]}, {shape[1]}), {nbytes / 1e6:.1f} MB, stored {stored / 1e6:.1f} "
                    "MB; mean projection data.mean(axis=0).compute(); scheduler: "
                    + ("dask.distributed LocalCluster 2 process workers x 1 thread" if args.cluster else "threads"))
        results = Suite(__file__, METHODS).run({"path": path, "expected": f"{tmp}/expected.npy", "nbytes": nbytes,
                                                "cluster": args.cluster}, args.only, rounds)
    report.emit()
    report.emit("== mean projection")
    for line in table(results, "mean", extra=[("dask chunks", lambda r: r.extra.get("chunks", ""))]):
        report.emit(line)
    report.emit()
    problems = results.mismatches()
    for problem in problems:
        report.emit(f"MISMATCH {problem}")
    ratio = results.ratio("raw-zarr", "mean", "ours")
    if ratio is not None:
        report.emit(f"ours vs raw-zarr: {ratio:.2f}x ({'meets' if ratio >= 0.9 else 'MISSES'} the 0.9x target)")
    report.emit(machine_line(["hdmf_zarr"]))
    name = "bench_dask_cluster.txt" if args.cluster else "bench_dask.txt"
    report.save(f"quick/{name}" if args.quick else name)
    return 1 if problems or results.errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
