"""Benchmark reading one stored NWB movie: ours vs zarr-python vs zarrs' codec pipeline vs TensorStore.

What is measured
----------------
The two-photon-like uint16 movie of ``bench_write.py`` (default 600 x 512 x 512 = 315 MB; 1 MB = 1e6 bytes),
written once by ``nzi.write`` in two layouts: ``unsharded`` (the library default: chunks of 8 whole frames,
Blosc zstd 3 shuffle) and ``sharded`` (chunks of 1 frame in shards of 32 frames, same codec). On each layout,
every method opens the array once (untimed) and times, best of 2 runs per process:

* ``full``: the whole movie to numpy. ``random``: 100 single frames at seeded random indices, one read each.
  ``trace``: a 64x64-pixel window over all frames. ``mean``: the mean frame with dask,
  ``data.mean(axis=0).compute()`` (threaded scheduler).

The methods, each in its own process (``benchmarks/_harness.py``; round robin over ``--rounds``):

* ``ours``: ``nzi.read(path).acquisition["movie"].data`` (dask): ``data.compute()``, ``np.asarray(data[i])``,
  ``np.asarray(data[:, y:y+64, x:x+64])``, ``data.mean(axis=0).compute()``.
* ``zarr-python``: ``zarr.open_array(path)``: ``arr[...]``, ``arr[i]``, ``arr[:, y:y+64, x:x+64]``; mean with
  ``da.from_zarr(arr)``.
* ``zarrs``: the same with ``zarr.config.set({"codec_pipeline.path": "zarrs.ZarrsCodecPipeline"})``.
* ``tensorstore``: ``ts.open({"driver": "zarr3", "kvstore": {"driver": "file", ...}})``: ``.read().result()``;
  mean with dask over ``da.from_array`` of the TensorStore array, chunked like ours.

Over HTTP (a loopback ``http.server`` with Range support, ``--latency`` added to every request, default 20 ms):
``playback`` reads frames 0, 1, 2, ... one after the other (ours: ``nzi.play(series)``, which reads ahead of
the playhead with concurrent requests, memory bounded; the others: one ``arr[i]`` after another) and
``random`` reads 20 seeded random frames; frames/s and requests are shown.

Every method must return byte-identical values for each operation (sha256 of the arrays), else the script says
MISMATCH and exits 1. Targets (issue 14): ours <= 1.1x TensorStore for full, mean and random (local); playback
over HTTP >= 2x zarr-python's frames/s.

Run (from the repository root)::

    .venv/bin/python benchmarks/bench_read.py            # ~5 min on 2 cores
    .venv/bin/python benchmarks/bench_read.py --quick    # tiny movie, one round (the test suite runs it)

The printed output is also written to ``benchmarks/results/bench_read.txt``.
"""

from __future__ import annotations

import argparse
import datetime
import shutil
import sys
import tempfile
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
    header,
    machine_line,
    measure,
    table,
)

SEED = 20240607
REPEATS = 2
RANDOM_FRAMES = 100
HTTP_RANDOM_FRAMES = 20
TRACE = 64
ARRAY = "acquisition/movie/data"
LAYOUTS = {"unsharded": {"chunks": 8, "shards": None}, "sharded": {"chunks": 1, "shards": 32}}
LOCAL = ("ours", "zarr-python", "zarrs", "tensorstore")
REMOTE = ("ours-http", "zarr-python-http", "tensorstore-http")


def write_file(path: Path, movie: np.ndarray, layout: dict[str, Any]) -> None:
    import nwbzarr_image as nzi

    chunks = (layout["chunks"], *movie.shape[1:])
    shards = (layout["shards"], *movie.shape[1:]) if layout["shards"] else None
    nwb = nzi.NWBFile("bench_read", "bench-read", datetime.datetime(2024, 6, 7, tzinfo=datetime.UTC))
    nwb.add_acquisition(nzi.ImageSeries("movie", nzi.ZarrDataIO(movie, chunks=chunks, shards=shards), "a.u.",
                                        rate=30.0))
    nzi.write(nwb, str(path))


# --------------------------------------------------------------------------- readers (in the child processes)


class TensorStoreArray:
    """A TensorStore array as dask's ``from_array`` sees it."""

    def __init__(self, array: Any) -> None:
        self.array = array
        self.shape = tuple(array.shape)
        self.dtype = np.dtype(array.dtype.numpy_dtype)
        self.ndim = len(self.shape)

    def __getitem__(self, key: Any) -> np.ndarray:
        return np.asarray(self.array[key].read().result())


def open_reader(method: str, url: str) -> dict[str, Any]:
    """The four operations of one method on the array at ``url``, as functions of no argument (or of i)."""
    import dask.array as da
    import zarr

    kind = method.removesuffix("-http")
    if kind == "ours":
        import nwbzarr_image as nzi

        series = nzi.read(url.rsplit("/acquisition", 1)[0]).acquisition["movie"]
        data = series.data
        return {"full": data.compute, "frame": lambda i: np.asarray(data[i]), "trace": lambda y, x: np.asarray(
            data[:, y:y + TRACE, x:x + TRACE]), "mean": lambda: data.mean(axis=0).compute(),
            "play": lambda n: nzi.play(series, 0, n), "chunks": data.chunks}
    if kind == "tensorstore":
        import tensorstore as ts

        if url.startswith("http"):
            kvstore = {"driver": "http", "base_url": url}
        else:
            kvstore = {"driver": "file", "path": url}
        array = ts.open({"driver": "zarr3", "kvstore": kvstore}, read=True).result()
        adapter = TensorStoreArray(array)
        meta = zarr.open_array(url, mode="r")
        dask_chunks = meta.shards or meta.chunks
        return {"full": lambda: adapter[...], "frame": lambda i: adapter[i],
                "trace": lambda y, x: adapter[:, y:y + TRACE, x:x + TRACE],
                "mean": lambda: da.from_array(adapter, chunks=dask_chunks).mean(axis=0).compute(),
                "play": lambda n: (adapter[i] for i in range(n)), "chunks": dask_chunks}
    if kind == "zarrs":
        import zarrs  # noqa: F401 - registers the pipeline

        zarr.config.set({"codec_pipeline.path": "zarrs.ZarrsCodecPipeline"})
    arr = zarr.open_array(url, mode="r")
    return {"full": lambda: arr[...], "frame": lambda i: arr[i], "trace": lambda y, x: arr[:, y:y + TRACE,
                                                                                                 x:x + TRACE],
            "mean": lambda: da.from_zarr(arr).mean(axis=0).compute(), "play": lambda n: (arr[i] for i in range(n)),
            "chunks": arr.chunks}


def local(method: str, params: dict[str, Any]) -> dict[str, Timing]:
    reader = open_reader(method, f"{params['path']}/{ARRAY}")
    nbytes, frame_bytes = params["nbytes"], params["frame_bytes"]
    picks, (y, x) = params["picks"], params["trace"]
    out = {"full": measure(reader["full"], REPEATS, nbytes=nbytes),
           "mean": measure(reader["mean"], REPEATS, nbytes=nbytes),
           "random": measure(lambda: [reader["frame"](i) for i in picks], REPEATS, nbytes=frame_bytes * len(picks),
                             count=len(picks)),
           "trace": measure(lambda: reader["trace"](y, x), REPEATS, nbytes=params["frames"] * TRACE * TRACE * 2)}
    return out


def remote(method: str, params: dict[str, Any]) -> dict[str, Timing]:
    import urllib.request

    base = params["base"]
    reader = open_reader(method, f"{base}/{Path(params['path']).name}/{ARRAY}")

    def mark(phase: str) -> None:
        with urllib.request.urlopen(f"{base}/__phase__/{method}/{phase}", timeout=10) as response:
            response.read()

    n, picks, frame_bytes = params["play_frames"], params["http_picks"], params["frame_bytes"]
    mark("playback")
    play = measure(lambda: list(reader["play"](n)), 1, nbytes=frame_bytes * n, count=n)
    mark("random")
    rand = measure(lambda: [reader["frame"](i) for i in picks], 1, nbytes=frame_bytes * len(picks), count=len(picks))
    mark("done")
    return {"playback": play, "random": rand}


METHODS = {**{m: (lambda p, m=m: local(m, p)) for m in LOCAL}, **{m: (lambda p, m=m: remote(m, p)) for m in REMOTE}}


# --------------------------------------------------------------------------- parent


def serve(root: Path, latency: float) -> Any:
    sys.path.insert(0, str(REPO / "tests"))
    from servers import http_server  # the tests' loopback server: counts requests, answers Range

    return http_server(root, latency=latency, ranges=True)


def requests_by_phase(server: Any) -> dict[tuple[str, str], tuple[int, int]]:
    """(method, phase) -> (requests, bytes sent), from the server's phase-marked counts."""
    out: dict[tuple[str, str], tuple[int, int]] = {}
    for (phase, _command, _path), n in server.phase_requests.items():
        method, _, step = phase.rpartition("/")
        if method:
            count, sent = out.get((method, step), (0, 0))
            out[(method, step)] = (count + n, sent)
    for phase, sent in server.phase_bytes.items():
        method, _, step = phase.rpartition("/")
        if (method, step) in out:
            out[(method, step)] = (out[(method, step)][0], out[(method, step)][1] + sent)
    return out


def run_layout(report: Report, name: str, path: Path, params: dict[str, Any], args: argparse.Namespace,
               rounds: int) -> tuple[Results, Results]:
    suite = Suite(__file__, METHODS)
    local_methods = [m for m in LOCAL if not args.only or m in args.only]
    results = suite.run({**params, "path": str(path)}, local_methods, rounds)
    report.emit()
    layout = LAYOUTS[name]
    report.emit(f"== {name}: chunks of {layout['chunks']} frame(s)"
                + (f" in shards of {layout['shards']} frames" if layout["shards"] else "") + ", local disk")
    for op, title in (("full", "full read to numpy"), ("mean", "dask mean projection"),
                      ("random", f"{len(params['picks'])} random single frames"),
                      ("trace", f"{TRACE}x{TRACE}-pixel trace over all frames")):
        report.emit(f"-- {title}")
        for line in table(results, op, rate="frames" if op == "random" else None):
            report.emit(line)
    remote_methods = [m for m in REMOTE if not args.only or m in args.only]
    with serve(path.parent, args.latency) as server:
        http = suite.run({**params, "path": str(path), "base": server.url}, remote_methods, rounds)
        counted = requests_by_phase(server)
    runs = max(1, rounds)
    report.emit(f"-- over HTTP, {args.latency * 1000:g} ms per request: sequential playback of "
                f"{params['play_frames']} frames, then {len(params['http_picks'])} random frames (req/KB per run)")
    for op in ("playback", "random"):
        report.emit(f"-- HTTP {op}")
        lines = table(http, op, rate="frames")
        report.emit(lines[0] + f" {'requests':>9} {'MB sent':>8}")
        for method, line in zip(http.methods, lines[1:], strict=False):
            count, sent = counted.get((method, op), (0, 0))
            report.emit(line + f" {count / runs:9.0f} {sent / runs / 1e6:8.2f}")
    return results, http


def summary(report: Report, layout: str, local_results: Results, http: Results) -> None:
    for op in ("full", "mean", "random", "trace"):
        ratio = local_results.ratio("ours", op, "tensorstore")
        cpu = local_results.ratio("ours", op, "tensorstore", cpu=True)
        if ratio is not None:
            target = f" (target <= 1.10: {'meets' if ratio <= 1.1 else 'MISSES'})" if op != "trace" else ""
            report.emit(f"{layout} {op}: ours / tensorstore = {ratio:.2f}{target}; CPU seconds "
                        f"{cpu if cpu is None else round(cpu, 2)}")
    ours, zp = http.op("ours-http", "playback"), http.op("zarr-python-http", "playback")
    if ours and zp:
        speedup = zp.best / ours.best
        report.emit(f"{layout} HTTP playback: ours {ours.count / ours.best:.1f} frames/s, zarr-python "
                    f"{zp.count / zp.best:.1f} frames/s = {speedup:.2f}x (target >= 2.00x: "
                    f"{'meets' if speedup >= 2 else 'MISSES'})")


def main(argv: list[str]) -> int:
    child_entry(argv, METHODS)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=None, help="movie frames (default 600; 32 with --quick)")
    parser.add_argument("--latency", type=float, default=None, help="seconds added per HTTP request (0.020)")
    parser.add_argument("--layout", choices=list(LAYOUTS), action="append", default=None)
    common_args(parser, rounds=3)
    args = parser.parse_args(argv[1:])
    n = args.frames or (32 if args.quick else 600)
    size = 64 if args.quick else 512
    rounds = args.rounds or (1 if args.quick else 3)
    args.latency = args.latency if args.latency is not None else (0.002 if args.quick else 0.020)
    report = Report()
    for line in header(argv, rounds, [f"{REPEATS} timed runs per process and local operation, 1 per HTTP "
                                      "operation; the array is opened once before the clock"]):
        report.emit(line)
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from bench_write import SyntheticMovie

    rng = np.random.default_rng(SEED + 1)
    tmp = Path(tempfile.mkdtemp(prefix="bench_read_", dir="/tmp"))
    problems: list[str] = []
    errors: dict[str, str] = {}
    try:
        movie = SyntheticMovie(n).block(0, n)
        if size != movie.shape[1]:
            movie = np.ascontiguousarray(movie[:, :size, :size])
        frame_bytes = movie[0].nbytes
        params = {"frames": n, "nbytes": movie.nbytes, "frame_bytes": frame_bytes,
                  "picks": rng.integers(0, n, 10 if args.quick else RANDOM_FRAMES).tolist(),
                  "http_picks": rng.integers(0, n, 5 if args.quick else HTTP_RANDOM_FRAMES).tolist(),
                  "trace": [size // 2 - TRACE // 2] * 2 if size > TRACE else [0, 0],
                  "play_frames": n if args.quick else min(n, 160)}
        report.emit(f"movie: uint16 {movie.shape} ({movie.nbytes / 1e6:.1f} MB), bench_write.py's synthetic "
                    f"two-photon movie; Blosc zstd 3 shuffle; files in {tmp}")
        for name in args.layout or list(LAYOUTS):
            path = tmp / name / "movie.nwb.zarr"
            write_file(path, movie, LAYOUTS[name])
            stored = sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
            report.emit(f"{name}: stored {stored / 1e6:.1f} MB ({movie.nbytes / stored:.2f}x)")
            local_results, http = run_layout(report, name, path, params, args, rounds)
            for results in (local_results, http):
                problems += [f"{name}: {p}" for p in results.mismatches()]
                errors.update({f"{name} {m}": e for m, e in results.errors.items()})
            report.emit()
            summary(report, name, local_results, http)
            shutil.rmtree(path)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    for problem in problems:
        report.emit(f"MISMATCH {problem}")
    for method, error in errors.items():
        report.emit(f"ERROR {method}: {error}")
    if not problems:
        report.emit("every method returned byte-identical values for every operation")
    report.emit(machine_line(["tensorstore", "zarrs", "fsspec", "aiohttp"]))
    report.save("quick/bench_read.txt" if args.quick else "bench_read.txt")
    return 1 if problems or errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
