"""Benchmark writing one NWB ImageSeries movie to a local Zarr v3 store: ours vs pynwb + hdmf-zarr vs raw zarr.

What is measured
----------------
One deterministic uint16 two-photon-like movie, 512x512 pixels (default 600 frames = 314.6 MB; 1 MB = 1e6
bytes): smooth static "anatomy" background (~100-2000), 300 gaussian cells with sparse calcium-like
transients, shot noise plus a little read noise. It is generated block by block (8 frames at a time) from a
seed, so a frame generator reproduces it without ever holding it all. Shot noise uses the gaussian
approximation of Poisson (``expected + sqrt(expected + read_noise**2) * z``, exact enough at >= 100 counts),
with ``z`` drawn from a seeded bank of 17 standard-normal frames, each frame taking a random bank entry and a
random 2-D circular shift: exact ``rng.poisson`` costs ~11 ms a frame here, which would make the generator,
not the writer, the bottleneck of the iterator methods. The frames of one chunk never share noise, so blosc
cannot exploit the bank (the compression ratio is the one bench_codecs.py measures on exact Poisson noise).

Every method writes the same values with the same chunks (whole frames, ``frame_chunks(shape, dtype)`` from
``nwbzarr_image.storage.defaults``, 8 frames = 4.2 MB) and the same codec (``frame_compressor(np.uint16)``:
Blosc zstd level 3, byte shuffle, typesize 2) into a fresh directory, each in its own subprocess:

* ``raw-zarr``: ``zarr.create_array(store, shape, chunks, dtype, compressors)`` then ``arr[...] = movie``.
* ``codec-alone``: ``numcodecs.Blosc(cname="zstd", clevel=3, shuffle=SHUFFLE, typesize=2).encode`` of every
  chunk on a ThreadPoolExecutor with ``os.cpu_count()`` threads, no I/O: the lower bound for the time.
* ``hdmf-zarr-array``: pynwb ``NWBFile`` + ``ImageSeries(data=hdmf_zarr.ZarrDataIO(movie, chunks=...,
  compressors=BloscCodec(...)))`` written by ``hdmf_zarr.nwb.NWBZarrIO(path, mode="w").write(nwbfile)``.
* ``hdmf-zarr-dci``: the same with ``ZarrDataIO(hdmf.data_utils.DataChunkIterator(frame_generator,
  maxshape=(n, 512, 512), dtype=np.uint16, buffer_size=8), ...)``. ``NWBZarrIO.write`` is left at its
  defaults: ``number_of_jobs=1`` (and its parallel path only takes GenericDataChunkIterator), so the chunks
  are written one ``dset[selection] = buffer`` at a time.
* ``ours-array``: ``nzi.NWBFile`` + ``nzi.ImageSeries("movie", movie, "a.u.", rate=30.0)`` with the
  library defaults (the script asserts, from the written ``zarr.json``, that they give these chunks and this
  codec), written by ``nzi.write(nwb, path)``.
* ``ours-iterator``: the same with ``data=DataChunkIterator(frame_generator, maxshape=(n, 512, 512),
  dtype=np.uint16, buffer_size=8)`` (``nzi.DataChunkIterator``, else ``nwbzarr_image.iterators``). If the
  library says writing from an iterator is "not supported yet", the row says "not available" and the run
  goes on.

The in-memory methods load the movie (generated once by the parent into a ``.npy`` next to the stores)
before the clock starts; the iterator methods generate frames inside the timed write, and the time spent in
the generator (wall time, so it includes any contention with the writer) is reported as ``gen s``. The
``generator alone`` line gives the cost of producing the frames with nothing else running.

Timing: every method runs in a fresh process per round (default 3 rounds, round robin over the methods, so
a burst of other load on the machine hits them alike), and each process writes twice (fresh store each
time); ``seconds`` is the best of those 6 wall times of the write call (store creation/open to close,
including hdmf-zarr's spec caching and metadata consolidation and our final move into place; the page cache
is not flushed, ``sync`` runs untimed before each write). Also shown: the median, ``cold s`` (median of
the first write of each process, what a one-shot conversion pays), and ``CPU s``, the
median process CPU seconds (all threads) of one write, which other processes on the machine disturb much
less than wall time. For each method: MB/s (uncompressed), throughput relative to hdmf-zarr-array and to
raw-zarr, peak RSS of its processes (``ru_maxrss``; it includes the 315 MB movie for the in-memory
methods, so ``RSS0``, the resident size just before the first write, is shown too), stored MB (whole store
on disk) and compression ratio (movie bytes / data chunk bytes). After every write the child checks the
array's shape, dtype, chunk shape and codecs, compares several frames read back with zarr to the frames
regenerated from the seed, and hashes chunk 0: the parent requires the same codec metadata and
byte-identical chunk 0 from every method, so a broken writer cannot look fast. The stores are deleted as
soon as they are checked.

``--big``: ``ours-iterator`` on an 8000-frame (4.19 GB) generated movie (target: peak RSS < 600 MB), then
``hdmf-zarr-dci`` on the same movie if it finishes within 180 s (killed and reported as skipped otherwise).

Run (from the repository root)::

    .venv/bin/python benchmarks/bench_write.py                # default, ~1.5 min on 2 cores
    .venv/bin/python benchmarks/bench_write.py --quick        # 24 frames, one round (the test suite runs it)
    .venv/bin/python benchmarks/bench_write.py --only ours-array
    .venv/bin/python benchmarks/bench_write.py --big          # 4 GB streamed write, ~1-4 min

The printed output is also written to ``benchmarks/results/bench_write.txt``.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import datetime
import hashlib
import json
import os
import platform
import resource
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from _harness import Report, Suite, Timing, child_entry, smooth_field  # benchmarks/_harness.py: from the repo root

SEED = 20240607
FRAME_SHAPE = (512, 512)
DTYPE = np.dtype(np.uint16)
DEFAULT_FRAMES = 600  # 600 x 512 x 512 x 2 bytes = 314.6 MB
QUICK_FRAMES = 24
BIG_FRAMES = 8000  # 4.19 GB
BIG_RSS_TARGET_MB = 600.0
BIG_DCI_TIMEOUT_S = 180.0
CHILD_TIMEOUT_S = 1800.0
DEFAULT_ROUNDS = 3
DEFAULT_REPEATS = 2
N_CELLS = 300
CELL_HALF = 12
NOISE_BANK = 17
READ_NOISE = 3.0
GEN_BLOCK = 8  # frames generated at a time
TARGET_VS_HDMF = 2.0
TARGET_VS_CODEC = 1.25
TARGET_VS_FASTEST = 1.1  # issue 14: ours <= 1.1x the fastest of zarr-python, zarrs and TensorStore
METHODS = ("raw-zarr", "zarrs", "tensorstore", "codec-alone", "hdmf-zarr-array", "hdmf-zarr-dci", "ours-array",
           "ours-iterator")
BIG_METHODS = ("ours-iterator", "hdmf-zarr-dci")
ITERATOR_METHODS = ("hdmf-zarr-dci", "ours-iterator")
RESULTS_PATH = Path(__file__).resolve().parent / "results" / "bench_write.txt"


# --------------------------------------------------------------------------- output




# --------------------------------------------------------------------------- synthetic data


def calcium_traces(rng: np.random.Generator, n_cells: int, n_frames: int) -> np.ndarray:
    """Sparse spikes convolved with an exponential decay: dF/F per cell and frame (float32)."""
    traces = np.zeros((n_cells, n_frames), dtype=np.float32)
    decay = np.exp(-1.0 / rng.uniform(5.0, 15.0, n_cells))
    level = np.zeros(n_cells)
    for start in range(0, n_frames, 1024):  # draw spikes in blocks: no (n_cells, n_frames) float64 temporaries
        stop = min(start + 1024, n_frames)
        spikes = (rng.random((n_cells, stop - start)) < 0.01) * rng.lognormal(0.0, 0.5, (n_cells, stop - start))
        for t in range(stop - start):
            level = level * decay + spikes[:, t]
            traces[:, start + t] = level
    return traces


class SyntheticMovie:
    """A uint16 imaging movie (n_frames, 512, 512) defined by a seed; any block of frames can be regenerated."""

    def __init__(self, n_frames: int, seed: int = SEED) -> None:
        self.n_frames = n_frames
        self.shape = (n_frames, *FRAME_SHAPE)
        rng = np.random.default_rng(seed)
        anatomy = 0.7 * smooth_field(rng, FRAME_SHAPE, 40.0) + 0.3 * smooth_field(rng, FRAME_SHAPE, 4.0)
        self.background = (100.0 + 1900.0 * anatomy**2).astype(np.float32)
        height, width = FRAME_SHAPE
        half = CELL_HALF
        yy, xx = np.mgrid[-half : half + 1, -half : half + 1]
        self.cy = rng.integers(half, height - half, N_CELLS)
        self.cx = rng.integers(half, width - half, N_CELLS)
        sigma = rng.uniform(2.5, 4.0, N_CELLS)
        self.footprints = np.exp(-(yy[None] ** 2 + xx[None] ** 2) / (2 * sigma[:, None, None] ** 2)).astype(np.float32)
        self.brightness = rng.uniform(200.0, 800.0, N_CELLS).astype(np.float32)
        self.traces = calcium_traces(rng, N_CELLS, n_frames)
        self.noise_bank = rng.standard_normal((NOISE_BANK, *FRAME_SHAPE), dtype=np.float32)
        self.bank_index = rng.integers(0, NOISE_BANK, n_frames)
        self.shift_y = rng.integers(0, height, n_frames)
        self.shift_x = rng.integers(0, width, n_frames)

    @property
    def nbytes(self) -> int:
        return int(np.prod(self.shape)) * DTYPE.itemsize

    def block(self, start: int, stop: int) -> np.ndarray:
        """Frames [start, stop) as a fresh uint16 array."""
        expected = np.empty((stop - start, *FRAME_SHAPE), dtype=np.float32)
        expected[:] = self.background
        half = CELL_HALF
        for i in range(N_CELLS):
            amplitude = self.brightness[i] * (1.0 + self.traces[i, start:stop])
            y, x = self.cy[i], self.cx[i]
            patch = expected[:, y - half : y + half + 1, x - half : x + half + 1]
            patch += amplitude[:, None, None] * self.footprints[i]
        out = np.empty(expected.shape, dtype=DTYPE)
        sd = np.empty(FRAME_SHAPE, dtype=np.float32)
        for j, t in enumerate(range(start, stop)):
            z = np.roll(self.noise_bank[self.bank_index[t]], (self.shift_y[t], self.shift_x[t]), axis=(0, 1))
            np.add(expected[j], READ_NOISE**2, out=sd)
            np.sqrt(sd, out=sd)
            sd *= z
            sd += expected[j]
            np.rint(sd, out=sd)
            np.clip(sd, 0, 65535, out=sd)
            out[j] = sd
        return out

    def blocks(self, size: int = GEN_BLOCK) -> Iterator[tuple[int, np.ndarray]]:
        for start in range(0, self.n_frames, size):
            yield start, self.block(start, min(start + size, self.n_frames))

    def frames(self, clock: list[float] | None = None) -> Iterator[np.ndarray]:
        """One frame at a time, generated a block at a time; time spent generating is added to clock[0]."""
        blocks = self.blocks()
        while True:
            start = time.perf_counter()
            item = next(blocks, None)
            if clock is not None:
                clock[0] += time.perf_counter() - start
            if item is None:
                return
            yield from item[1]


# --------------------------------------------------------------------------- child: one method


def rss_now_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20  # MiB, like ru_maxrss / 1024


_CPU = [0.0, 0.0]  # process CPU seconds at clock_start, CPU seconds of the last timed region


def cpu_seconds() -> float:
    times = os.times()
    return times.user + times.system  # all threads of this process


def clock_start() -> float:
    _CPU[0] = cpu_seconds()
    return time.perf_counter()


def clock_stop(start: float) -> float:
    """Wall seconds since ``start``; the CPU seconds of the same region go to _CPU[1]."""
    seconds = time.perf_counter() - start
    _CPU[1] = cpu_seconds() - _CPU[0]
    return seconds


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux


def storage_layout(n_frames: int) -> tuple[tuple[int, ...], Any]:
    from nwbzarr_image.storage.defaults import frame_chunks, frame_compressor

    shape = (n_frames, *FRAME_SHAPE)
    return tuple(frame_chunks(shape, DTYPE)), frame_compressor(DTYPE)


def silence_pynwb_warnings() -> None:
    """Ignore the one warning the pynwb/hdmf-zarr path emits here (checked with ``-W always``): zarr's
    ZarrUserWarning that consolidated metadata is not in the Zarr 3 spec, raised by the
    ``zarr.consolidate_metadata`` call in ``NWBZarrIO.write``. Anything else still shows on stderr."""
    warnings.filterwarnings("ignore", message="Consolidated metadata is currently not part in the Zarr format 3",
                            category=UserWarning, module=r"zarr\.")


def spot_check_indices(n_frames: int) -> list[int]:
    rng = np.random.default_rng(SEED + 7)
    picks = {0, 1, n_frames // 3, n_frames // 2, n_frames - 2, n_frames - 1, *rng.integers(0, n_frames, 4).tolist()}
    return sorted(i for i in picks if 0 <= i < n_frames)


def find_movie_array(store: Path, shape: tuple[int, ...]) -> Path:
    """The directory of the (only) zarr array of the movie's shape in a local store."""
    found = []
    for meta in store.rglob("zarr.json"):
        doc = json.loads(meta.read_text())
        if doc.get("node_type") == "array" and tuple(doc.get("shape", ())) == shape:
            found.append(meta.parent)
    if len(found) != 1:
        raise AssertionError(f"expected one array of shape {shape} in {store}; found {found}")
    return found[0]


def dir_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def chunk0_key(ndim: int, separator: str = "/") -> str:
    return "c" + separator + separator.join("0" * ndim)


def chunk_files(array_dir: Path, separator: str) -> list[Path]:
    """The chunk files of an array: under c/ ("/" keys) or c.i.j.k next to zarr.json ("." keys)."""
    if separator == "/":
        return [p for p in (array_dir / "c").rglob("*") if p.is_file()]
    return [p for p in array_dir.iterdir() if p.is_file() and p.name.startswith("c" + separator)]


def check_store(store: Path, movie: SyntheticMovie, chunks: tuple[int, ...], compressor: Any) -> dict[str, Any]:
    """Check layout and values of the written movie; return metadata for the parent's cross-method checks."""
    import zarr

    array_dir = find_movie_array(store, movie.shape)
    meta = json.loads((array_dir / "zarr.json").read_text())
    chunk_shape = tuple(meta["chunk_grid"]["configuration"]["chunk_shape"])
    codecs = meta["codecs"]
    if meta["data_type"] != DTYPE.name:
        raise AssertionError(f"data_type {meta['data_type']}, expected {DTYPE.name}")
    if chunk_shape != chunks:
        raise AssertionError(f"chunk shape {chunk_shape}, expected {chunks}")
    blosc = [c for c in codecs if c["name"] == "blosc"]
    expected = compressor.to_dict()["configuration"]
    if len(blosc) != 1 or any(blosc[0]["configuration"].get(k) != v for k, v in expected.items()
                              if k in ("cname", "clevel", "shuffle")) or blosc[0]["configuration"]["typesize"] != 2:
        raise AssertionError(f"codecs {codecs}, expected blosc {expected} with typesize 2")
    arr = zarr.open_array(str(array_dir), mode="r")
    indices = spot_check_indices(movie.n_frames)
    for t in indices:
        if not np.array_equal(arr[t], movie.block(t, t + 1)[0]):
            raise AssertionError(f"frame {t} read back differs from the generated frame")
    separator = meta.get("chunk_key_encoding", {}).get("configuration", {}).get("separator", "/")
    files = chunk_files(array_dir, separator)
    data_bytes = sum(p.stat().st_size for p in files)
    n_chunks = len(files)
    expected_chunks = -(-movie.n_frames // chunks[0])
    if n_chunks != expected_chunks:
        raise AssertionError(f"{n_chunks} chunk files, expected {expected_chunks}")
    return {
        "array": str(array_dir.relative_to(store)),
        "chunk_shape": list(chunk_shape),
        "codecs": codecs,
        "checked_frames": len(indices),
        "data_bytes": data_bytes,
        "store_bytes": dir_bytes(store),
        "chunk0_sha": hashlib.sha256((array_dir / chunk0_key(len(chunk_shape), separator)).read_bytes()
                                     ).hexdigest()[:16],
    }


def load_movie(path: str, n_frames: int) -> np.ndarray:
    movie = np.load(path)
    if movie.shape != (n_frames, *FRAME_SHAPE) or movie.dtype != DTYPE:
        raise AssertionError(f"movie file {path}: {movie.shape} {movie.dtype}")
    return movie


def nwb_session_start() -> datetime.datetime:
    return datetime.datetime(2024, 6, 7, 12, 0, tzinfo=datetime.UTC)


def run_raw_zarr(store: Path, movie: np.ndarray, chunks: tuple[int, ...], compressor: Any,
                 pipeline: str | None = None) -> float:
    import zarr

    if pipeline is not None:
        import zarrs  # noqa: F401 - registers its codec pipeline

        zarr.config.set({"codec_pipeline.path": pipeline})
    start = clock_start()
    arr = zarr.create_array(str(store), shape=movie.shape, chunks=chunks, dtype=movie.dtype,
                            compressors=compressor, fill_value=0)
    arr[...] = movie
    return clock_stop(start)


def run_tensorstore(store: Path, movie: np.ndarray, chunks: tuple[int, ...]) -> float:
    """TensorStore's zarr3 driver, the same chunks and codec (Blosc zstd 3 byte shuffle, typesize 2)."""
    import tensorstore as ts

    blosc = {"cname": "zstd", "clevel": 3, "shuffle": "shuffle", "typesize": DTYPE.itemsize, "blocksize": 0}
    spec = {"driver": "zarr3", "kvstore": {"driver": "file", "path": str(store)}, "create": True,
            "metadata": {"shape": list(movie.shape), "data_type": DTYPE.name, "fill_value": 0,
                         "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": list(chunks)}},
                         "chunk_key_encoding": {"name": "default"},
                         "codecs": [{"name": "bytes", "configuration": {"endian": "little"}},
                                    {"name": "blosc", "configuration": blosc}]}}
    start = clock_start()
    array = ts.open(spec).result()
    array.write(movie).result()
    return clock_stop(start)


def run_codec_alone(movie: np.ndarray, chunks: tuple[int, ...], pool: concurrent.futures.Executor
                    ) -> tuple[float, dict[str, Any]]:
    import numcodecs

    codec = numcodecs.Blosc(cname="zstd", clevel=3, shuffle=numcodecs.Blosc.SHUFFLE, typesize=DTYPE.itemsize)
    step = chunks[0]
    starts = list(range(0, movie.shape[0], step))
    kept = sorted({0, len(starts) // 2, len(starts) - 1})  # encoded chunks kept for the round-trip check

    def encode(k: int) -> tuple[int, bytes | None]:
        block = movie[starts[k] : starts[k] + step]
        if block.shape[0] < step:  # zarr encodes an edge chunk padded to the full chunk shape
            padded = np.zeros((step, *movie.shape[1:]), dtype=movie.dtype)
            padded[: block.shape[0]] = block
            block = padded
        encoded = codec.encode(np.ascontiguousarray(block))
        # like a store write, the encoded bytes are let go (keeping all of them would time page faults too)
        return len(encoded), (encoded if k in kept else None)

    start = clock_start()
    encoded = list(pool.map(encode, range(len(starts))))
    seconds = clock_stop(start)
    for k in kept:
        decoded = np.frombuffer(codec.decode(encoded[k][1]), dtype=movie.dtype).reshape((step, *movie.shape[1:]))
        n = min(step, movie.shape[0] - starts[k])
        if not np.array_equal(decoded[:n], movie[starts[k] : starts[k] + n]):
            raise AssertionError(f"codec round trip differs at chunk {k}")
    return seconds, {
        "data_bytes": sum(length for length, _ in encoded), "store_bytes": 0,
        "checked_frames": len(kept) * step, "threads": getattr(pool, "_max_workers", None),
        "chunk0_sha": hashlib.sha256(bytes(encoded[0][1])).hexdigest()[:16],  # type: ignore[arg-type]
        "chunk_shape": [step, *movie.shape[1:]],
    }


def pynwb_file(data: Any) -> Any:
    import pynwb
    from pynwb.image import ImageSeries

    nwbfile = pynwb.NWBFile(session_description="bench_write", identifier="bench-write",
                            session_start_time=nwb_session_start())
    nwbfile.add_acquisition(ImageSeries(name="movie", data=data, unit="a.u.", rate=30.0))
    return nwbfile


def run_hdmf_zarr(store: Path, data: Any, chunks: tuple[int, ...], compressor: Any) -> float:
    from hdmf_zarr import ZarrDataIO
    from hdmf_zarr.nwb import NWBZarrIO

    nwbfile = pynwb_file(ZarrDataIO(data, chunks=chunks, compressors=compressor))
    start = clock_start()
    with NWBZarrIO(str(store), mode="w") as io:
        io.write(nwbfile)  # defaults: number_of_jobs=1, max_threads_per_process=None, consolidate_metadata=True
    return clock_stop(start)


def ours_data_chunk_iterator() -> Any:
    import nwbzarr_image as nzi

    if hasattr(nzi, "DataChunkIterator"):
        return nzi.DataChunkIterator
    from nwbzarr_image.iterators import DataChunkIterator

    return DataChunkIterator


def run_ours(store: Path, data: Any) -> float:
    import nwbzarr_image as nzi

    nwb = nzi.NWBFile("bench_write", "bench-write", nwb_session_start())
    nwb.add_acquisition(nzi.ImageSeries("movie", data, "a.u.", rate=30.0))
    start = clock_start()
    nzi.write(nwb, str(store))
    return clock_stop(start)


def write_method(method: str, params: dict[str, Any]) -> dict[str, Timing]:
    """In a child (``benchmarks/_harness.py``): one method ``repeats`` times; the best run's checks as extras,
    chunk 0's sha256 as the digest every method must share."""
    args = argparse.Namespace(child=method, frames=params["frames"], out_dir=params["out_dir"],
                              movie_file=params["movie_file"], repeats=params["repeats"])
    result = child_main(args)
    if "error" in result:
        sys.stderr.write(result.get("traceback", ""))
        raise RuntimeError(result["error"])
    timing = Timing(result["all_seconds"], result["chunk0_sha"], result["all_cpu_seconds"],
                    peak_rss_mb=result["peak_rss_mb"], extra=result)
    return {"write": timing}


def child_main(args: argparse.Namespace) -> dict[str, Any]:
    """Run one method ``--repeats`` times in this (fresh) process; the best run's result (or the error)."""
    silence_pynwb_warnings()
    method = args.child
    n_frames = args.frames
    result: dict[str, Any] = {"method": method, "n_frames": n_frames}
    pool = None
    try:
        if method not in METHODS:
            raise ValueError(f"unknown method {method!r}")
        chunks, compressor = storage_layout(n_frames)
        generated = SyntheticMovie(n_frames)
        movie = None if method in ITERATOR_METHODS else load_movie(args.movie_file, n_frames)
        if method == "codec-alone":
            pool = concurrent.futures.ThreadPoolExecutor(max_workers=os.cpu_count() or 1)
            list(pool.map(str, range(pool._max_workers)))  # threads started before the clock
        if method == "ours-iterator":
            iterator_cls = ours_data_chunk_iterator()
            result["iterator"] = f"{iterator_cls.__module__}.{iterator_cls.__qualname__}"
        result["rss_before_mb"] = rss_now_mb()
        runs: list[dict[str, Any]] = []
        for repeat in range(args.repeats):
            store = Path(args.out_dir) / f"{method}-{repeat}.zarr"
            os.sync()  # the previous run's dirty pages are not written back during this one
            clock = [0.0]
            if method == "codec-alone":
                seconds, checks = run_codec_alone(movie, chunks, pool)
            else:
                if method == "raw-zarr":
                    seconds = run_raw_zarr(store, movie, chunks, compressor)
                elif method == "zarrs":
                    seconds = run_raw_zarr(store, movie, chunks, compressor, "zarrs.ZarrsCodecPipeline")
                elif method == "tensorstore":
                    seconds = run_tensorstore(store, movie, chunks)
                elif method == "hdmf-zarr-array":
                    seconds = run_hdmf_zarr(store, movie, chunks, compressor)
                elif method == "ours-array":
                    seconds = run_ours(store, movie)
                elif method == "hdmf-zarr-dci":
                    from hdmf.data_utils import DataChunkIterator

                    data = DataChunkIterator(data=generated.frames(clock), maxshape=generated.shape, dtype=DTYPE,
                                             buffer_size=chunks[0])
                    seconds = run_hdmf_zarr(store, data, chunks, compressor)
                else:  # ours-iterator
                    data = iterator_cls(generated.frames(clock), maxshape=generated.shape, dtype=DTYPE,
                                        buffer_size=chunks[0])
                    seconds = run_ours(store, data)
                checks = check_store(store, generated, chunks, compressor)  # every run, not just the best
                shutil.rmtree(store)
            runs.append({"seconds": seconds, "cpu_seconds": _CPU[1], "gen_seconds": clock[0], **checks})
        best = min(runs, key=lambda run: run["seconds"])
        result.update(best)
        if method not in ITERATOR_METHODS:
            del result["gen_seconds"]
        result["all_seconds"] = [run["seconds"] for run in runs]
        result["all_cpu_seconds"] = [run["cpu_seconds"] for run in runs]
        result["cold_seconds"] = [runs[0]["seconds"]]  # the first write of this fresh process
        result["peak_rss_mb"] = peak_rss_mb()
    except BaseException as err:  # reported to the parent, which carries on
        result["error"] = f"{type(err).__name__}: {err}"
        result["traceback"] = traceback.format_exc()
    finally:
        if pool is not None:
            pool.shutdown()
    return result


CHILD_METHODS = {name: (lambda params, name=name: write_method(name, params)) for name in METHODS}


# --------------------------------------------------------------------------- parent


@dataclass
class Row:
    method: str
    result: dict[str, Any] = field(default_factory=dict)
    status: str = "ok"  # ok | not available | FAILED | skipped
    reason: str = ""

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def seconds(self) -> float:
        return float(self.result["seconds"])

    @property
    def median_seconds(self) -> float:
        return float(statistics.median(self.result["all_seconds"]))

    @property
    def cold_seconds(self) -> float:
        return float(statistics.median(self.result["cold_seconds"]))

    @property
    def cpu_seconds(self) -> float:
        return float(statistics.median(self.result["all_cpu_seconds"]))


def run_child(method: str, n_frames: int, out_dir: Path, movie_file: Path | None, timeout: float, repeats: int
              ) -> Row:
    os.sync()
    params = {"frames": n_frames, "out_dir": str(out_dir), "movie_file": str(movie_file) if movie_file else None,
              "repeats": repeats}
    outcome = Suite(__file__, CHILD_METHODS, timeout_s=timeout).run_one(method, params)  # a fresh process
    if not outcome.get("ok"):
        error = str(outcome.get("error", "no result"))
        if error.startswith("timed out"):
            return Row(method, status="skipped", reason=f"did not finish within {timeout:.0f} s (killed)")
        error = error.removeprefix("RuntimeError: ")
        return Row(method, status="not available" if "not supported yet" in error else "FAILED", reason=error)
    return Row(method, outcome["ops"]["write"]["extra"])


def merge_rows(old: Row | None, new: Row) -> Row:
    """Best run over the method's processes; peak RSS is the highest of them; any failure wins."""
    if old is None:
        return new
    if not new.ok:
        return new
    best = new.result if new.seconds < old.seconds else old.result
    merged = dict(best)
    merged["all_seconds"] = old.result["all_seconds"] + new.result["all_seconds"]
    merged["all_cpu_seconds"] = old.result["all_cpu_seconds"] + new.result["all_cpu_seconds"]
    merged["cold_seconds"] = old.result["cold_seconds"] + new.result["cold_seconds"]
    merged["peak_rss_mb"] = max(old.result["peak_rss_mb"], new.result["peak_rss_mb"])
    merged["rss_before_mb"] = max(old.result["rss_before_mb"], new.result["rss_before_mb"])
    return Row(new.method, merged)


def cross_check(rows: list[Row], report: Report) -> None:
    """All methods must store the same codec metadata and byte-identical chunk 0 (the data are identical)."""
    done = [r for r in rows if r.ok]
    if not done:
        return
    shas = {r.method: r.result["chunk0_sha"] for r in done}
    codecs = {r.method: json.dumps(r.result["codecs"], sort_keys=True) for r in done if "codecs" in r.result}
    chunks = {r.method: tuple(r.result["chunk_shape"]) for r in done}
    problems = []
    if len(set(shas.values())) > 1:
        problems.append(f"chunk 0 bytes differ: {shas}")
    if len(set(codecs.values())) > 1:
        problems.append(f"codec metadata differ: { {m: json.loads(c) for m, c in codecs.items()} }")
    if len(set(chunks.values())) > 1:
        problems.append(f"chunk shapes differ: {chunks}")
    for problem in problems:
        report.emit(f"CROSS-CHECK FAILED: {problem}")
    if not problems:
        some = next(iter(codecs.values()), "[]")
        report.emit(f"cross-check: chunks {next(iter(chunks.values()))}, codecs {some}; chunk 0 sha256 "
                    f"{next(iter(shas.values()))} identical for {len(done)} method(s)")


def format_rows(rows: list[Row], nbytes: int) -> list[str]:
    by_name = {r.method: r for r in rows if r.ok}
    hdmf = by_name.get("hdmf-zarr-array")
    raw = by_name.get("raw-zarr")
    megabytes = nbytes / 1e6
    lines = [
        f"{'method':<16} {'seconds':>7} {'MB/s':>5} {'median s':>8} {'cold s':>6} {'x hdmf-arr':>10} "
        f"{'x raw-zarr':>10} {'CPU s':>5} {'peakRSS MB':>10} {'RSS0 MB':>7} {'stored MB':>9} {'c.ratio':>7} "
        f"{'gen s':>5} {'checked':>7}  all runs s",
    ]
    for r in rows:
        if not r.ok:
            lines.append(f"{r.method:<16} {r.status}: {r.reason}")
            continue
        res = r.result
        vs_hdmf = f"{hdmf.seconds / r.seconds:.2f}" if hdmf else "n/a"
        vs_raw = f"{raw.seconds / r.seconds:.2f}" if raw else "n/a"
        stored = f"{res['store_bytes'] / 1e6:.1f}" if res.get("store_bytes") else "(none)"
        gen = f"{res['gen_seconds']:.1f}" if "gen_seconds" in res else ""
        lines.append(
            f"{r.method:<16} {r.seconds:>7.2f} {megabytes / r.seconds:>5.0f} {r.median_seconds:>8.2f} "
            f"{r.cold_seconds:>6.2f} {vs_hdmf:>10} "
            f"{vs_raw:>10} {r.cpu_seconds:>5.2f} {res['peak_rss_mb']:>10.0f} {res['rss_before_mb']:>7.0f} "
            f"{stored:>9} {nbytes / res['data_bytes']:>7.3f} {gen:>5} {res['checked_frames']:>4} fr  "
            f"{' '.join(f'{t:.2f}' for t in res['all_seconds'])}"
        )
    return lines


def ratio_line(label: str, rows: dict[str, Row], fast: str, slow: str, target: float, inverse: bool) -> str:
    """'label: X.XXx' as throughput ratio (slow time / fast time) of the best runs, or a time ratio when inverse;
    the same from the median runs and from median CPU seconds follows in parentheses."""
    a, b = rows.get(fast), rows.get(slow)
    if a is None or not a.ok or b is None or not b.ok:
        missing = [f"{name}: {row.status} ({row.reason})" if row else f"{name}: not run" for name, row in
                   ((fast, a), (slow, b)) if row is None or not row.ok]
        return f"{label}: n/a ({'; '.join(missing)})"
    if inverse:
        value = a.seconds / b.seconds
        median, cold = a.median_seconds / b.median_seconds, a.cold_seconds / b.cold_seconds
        verdict = "meets" if value <= target else "MISSES"
        return (f"{label}: {value:.2f} (target <= {target:.2f}: {verdict}; medians {median:.2f}, first writes "
                f"{cold:.2f}, CPU seconds {a.cpu_seconds / b.cpu_seconds:.2f})")
    value = b.seconds / a.seconds
    median, cold = b.median_seconds / a.median_seconds, b.cold_seconds / a.cold_seconds
    verdict = "meets" if value >= target else "MISSES"
    return (f"{label}: {value:.2f}x (target >= {target:.2f}x: {verdict}; medians {median:.2f}x, first writes "
            f"{cold:.2f}x, CPU seconds {b.cpu_seconds / a.cpu_seconds:.2f}x)")


def machine_line() -> str:
    import dask
    import hdmf
    import hdmf_zarr
    import numcodecs
    import pynwb
    import zarr

    import nwbzarr_image

    try:
        repo = Path(__file__).resolve().parent.parent
        head = subprocess.run(["git", "-C", str(repo), "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(repo), "status", "--porcelain", "--", "nwbzarr_image"],
                               capture_output=True, text=True, check=True).stdout.strip()
        commit = f"{head}{' + uncommitted changes in nwbzarr_image/' if dirty else ''}"
    except (OSError, subprocess.CalledProcessError):
        commit = "unknown"
    return (
        f"machine: nproc {os.cpu_count()} (usable {len(os.sched_getaffinity(0))}); {platform.machine()} "
        f"{platform.system()} {platform.release()}; python {platform.python_version()}; numpy {np.__version__}; "
        f"zarr {zarr.__version__}; numcodecs {numcodecs.__version__}; dask {dask.__version__}; "
        f"pynwb {pynwb.__version__}; hdmf {hdmf.__version__}; hdmf-zarr {hdmf_zarr.__version__}; "
        f"nwbzarr_image {nwbzarr_image.__version__} (git {commit}); zarr async.concurrency="
        f"{zarr.config.get('async.concurrency')}, threading.max_workers={zarr.config.get('threading.max_workers')}"
    )


def header_lines(argv: list[str], rounds: int, repeats: int) -> list[str]:
    command = " ".join(shlex.quote(a) for a in [os.path.relpath(sys.executable), *argv])
    now = datetime.datetime.now().astimezone().isoformat(timespec="seconds")
    return [
        f"# command: {command}",
        f"# date: {now}; load average at start {' '.join(f'{x:.2f}' for x in os.getloadavg())}",
        f"# seconds = best of {rounds * repeats} timed write(s): {rounds} round(s), each running every method in a "
        f"fresh process that writes {repeats} time(s) (all listed under 'all runs s')",
        "# MB = 1e6 bytes of uncompressed movie; 'x hdmf-arr' / 'x raw-zarr' = throughput relative to "
        "hdmf-zarr-array / raw-zarr (their seconds / this seconds)",
        "# peakRSS = ru_maxrss of the method's own processes (highest); RSS0 = resident MB just before the write "
        "(imports + in-memory movie); stored MB = whole store on disk; c.ratio = movie bytes / data chunk bytes",
        "# cold s = median of the first write of each process (what a one-shot conversion pays: e.g. first-touch "
        "page faults of fresh buffers)",
        "# CPU s = median CPU seconds (user + system, all threads) of the process during one write; gen s = "
        "seconds spent in the frame generator inside the best write (iterator methods); checked = frames "
        "compared with the frames regenerated from the seed",
    ]


def remove_store(out_dir: Path, method: str) -> None:
    """The method's stores (one per repeat) and any hidden temporary an interrupted write left."""
    for pattern in (f"{method}-*.zarr", f".{method}-*"):
        for path in out_dir.glob(pattern):
            shutil.rmtree(path, ignore_errors=True)


def make_movie_file(movie: SyntheticMovie, path: Path) -> float:
    """Generate the movie block by block into a .npy file; returns the generation seconds (no I/O)."""
    out = np.lib.format.open_memmap(path, mode="w+", dtype=DTYPE, shape=movie.shape)
    seconds = 0.0
    blocks = movie.blocks()
    while True:
        start = time.perf_counter()
        item = next(blocks, None)
        seconds += time.perf_counter() - start
        if item is None:
            break
        first, block = item
        out[first : first + len(block)] = block
    out.flush()
    del out
    return seconds


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=None,
                        help=f"movie frames (default {DEFAULT_FRAMES} = 315 MB; {BIG_FRAMES} with --big)")
    parser.add_argument("--quick", action="store_true",
                        help=f"{QUICK_FRAMES} frames, one round, one write per process (the test suite runs it)")
    parser.add_argument("--out-dir", default=None,
                        help="directory for the stores (default: a fresh temporary directory under /tmp, removed "
                        "at the end); the stores are deleted after each method either way")
    parser.add_argument("--only", choices=METHODS, default=None, help="run one method")
    parser.add_argument("--big", action="store_true",
                        help=f"stream a {BIG_FRAMES}-frame (4.2 GB) movie with {' and '.join(BIG_METHODS)} "
                        f"(hdmf-zarr-dci killed after {BIG_DCI_TIMEOUT_S:.0f} s)")
    parser.add_argument("--rounds", type=int, default=None,
                        help=f"rounds of one process per method (default {DEFAULT_ROUNDS}; 1 with --big)")
    parser.add_argument("--repeats", type=int, default=None,
                        help=f"timed writes per process (default {DEFAULT_REPEATS}; 1 with --big); the best of "
                        "rounds x repeats is reported")
    args = parser.parse_args(argv)
    if args.big and args.only is not None and args.only not in BIG_METHODS:
        parser.error(f"--big runs {', '.join(BIG_METHODS)}; --only {args.only} is not one of them")
    return args


def main(argv: list[str]) -> int:
    child_entry(argv, CHILD_METHODS)
    args = parse_args(argv[1:])
    if args.frames is not None:
        n_frames = args.frames
    elif args.big:
        n_frames = BIG_FRAMES
    else:
        n_frames = QUICK_FRAMES if args.quick else DEFAULT_FRAMES
    repeats = args.repeats or (1 if args.big or args.quick else DEFAULT_REPEATS)
    rounds = args.rounds or (1 if args.big or args.quick else DEFAULT_ROUNDS)
    methods = list(BIG_METHODS if args.big else METHODS)
    if args.only is not None:
        methods = [args.only]

    report = Report()
    for line in header_lines(argv, rounds, repeats):
        report.emit(line)
    created_dir = args.out_dir is None
    out_dir = Path(tempfile.mkdtemp(prefix="bench_write_", dir="/tmp")) if created_dir else Path(args.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    total_start = time.perf_counter()
    movie_file: Path | None = None
    try:
        chunks, compressor = storage_layout(n_frames)
        movie = SyntheticMovie(n_frames)
        report.emit(
            f"movie: {DTYPE.name} {movie.shape}, {movie.nbytes / 1e6:.1f} MB, seed {SEED}; chunks {chunks} "
            f"({np.prod(chunks) * DTYPE.itemsize / 1e6:.2f} MB, {-(-n_frames // chunks[0])} chunks); codec "
            f"blosc {getattr(compressor.cname, 'value', compressor.cname)} clevel {compressor.clevel} "
            f"{getattr(compressor.shuffle, 'value', compressor.shuffle)} (typesize from "
            f"the dtype: {DTYPE.itemsize}); stores in {out_dir}"
        )
        if any(m not in ITERATOR_METHODS for m in methods):
            movie_file = out_dir / "movie.npy"
            gen_seconds = make_movie_file(movie, movie_file)
        else:
            probe = SyntheticMovie(min(n_frames, 200))
            start = time.perf_counter()
            for _ in probe.blocks():
                pass
            gen_seconds = (time.perf_counter() - start) * n_frames / probe.n_frames
        report.emit(f"generator alone: {gen_seconds:.1f} s for the movie ({movie.nbytes / 1e6 / gen_seconds:.0f} "
                    f"MB/s){' (extrapolated from 200 frames)' if movie_file is None and n_frames > 200 else ''}")
        del movie
        report.emit()

        rows: dict[str, Row] = {}
        for round_index in range(rounds):  # round robin: a burst of other load hits every method alike
            for method in methods:
                if method in rows and not rows[method].ok:
                    continue  # failed, not available or timed out: not retried
                timeout = BIG_DCI_TIMEOUT_S if args.big and method == "hdmf-zarr-dci" else CHILD_TIMEOUT_S
                row = run_child(method, n_frames, out_dir, movie_file, timeout, repeats)
                remove_store(out_dir, method)
                rows[method] = merge_rows(rows.get(method), row)
                if row.ok:
                    res = row.result
                    extra = f", generator {res['gen_seconds']:.1f} s" if "gen_seconds" in res else ""
                    runs = " ".join(f"{t:.2f}" for t in res["all_seconds"])
                    print(f"  round {round_index + 1}/{rounds} {method}: {runs} s, peak RSS "
                          f"{res['peak_rss_mb']:.0f} MB{extra}", flush=True)
                else:
                    print(f"  round {round_index + 1}/{rounds} {method}: {row.status} ({row.reason})", flush=True)

        nbytes = n_frames * int(np.prod(FRAME_SHAPE)) * DTYPE.itemsize
        report.emit(f"== write {DTYPE.name} {(n_frames, *FRAME_SHAPE)} ({nbytes / 1e6:.1f} MB) to a local directory"
                    f"{' (--big)' if args.big else ''}")
        for line in format_rows(list(rows.values()), nbytes):
            report.emit(line)
        notes = [r for r in rows.values() if r.method == "ours-iterator" and r.status == "not available"]
        for r in notes:
            report.emit(f"ours-iterator: not available ({r.reason})")
        report.emit()
        cross_check(list(rows.values()), report)
        if "ours-iterator" in rows and rows["ours-iterator"].ok:
            report.emit(f"ours-iterator used {rows['ours-iterator'].result['iterator']}")
        report.emit("hdmf-zarr NWBZarrIO.write defaults used: number_of_jobs=1, max_threads_per_process=None, "
                    "multiprocessing_context=None, consolidate_metadata=True (parallel jobs only apply to "
                    "GenericDataChunkIterator)")
        report.emit()
        report.emit("== summary")
        if args.big:
            ours = rows.get("ours-iterator")
            if ours is not None and ours.ok:
                rss = ours.result["peak_rss_mb"]
                verdict = "meets" if rss < BIG_RSS_TARGET_MB else "MISSES"
                report.emit(f"ours-iterator (big): {nbytes / 1e6 / ours.seconds:.0f} MB/s, peak RSS {rss:.0f} MB "
                            f"(target < {BIG_RSS_TARGET_MB:.0f} MB: {verdict})")
            elif ours is not None:
                report.emit(f"ours-iterator (big): {ours.status} ({ours.reason})")
            dci = rows.get("hdmf-zarr-dci")
            if dci is not None and dci.ok:
                report.emit(f"hdmf-zarr-dci (big): {nbytes / 1e6 / dci.seconds:.0f} MB/s, peak RSS "
                            f"{dci.result['peak_rss_mb']:.0f} MB")
            elif dci is not None:
                report.emit(f"hdmf-zarr-dci (big): skipped ({dci.reason})" if dci.status == "skipped"
                            else f"hdmf-zarr-dci (big): {dci.status} ({dci.reason})")
            report.emit(ratio_line("ours-iterator vs hdmf-zarr-dci", rows, "ours-iterator", "hdmf-zarr-dci",
                                   TARGET_VS_HDMF, inverse=False))
        else:
            report.emit(ratio_line("ours-array vs hdmf-zarr-array", rows, "ours-array", "hdmf-zarr-array",
                                   TARGET_VS_HDMF, inverse=False))
            report.emit(ratio_line("ours-iterator vs hdmf-zarr-dci", rows, "ours-iterator", "hdmf-zarr-dci",
                                   TARGET_VS_HDMF, inverse=False))
            report.emit(ratio_line("ours-array time / codec-alone time", rows, "ours-array", "codec-alone",
                                   TARGET_VS_CODEC, inverse=True))
            others = [rows[m] for m in ("raw-zarr", "zarrs", "tensorstore") if m in rows and rows[m].ok]
            if others and "ours-array" in rows and rows["ours-array"].ok:
                fastest = min(others, key=lambda row: row.seconds)
                report.emit(ratio_line(f"ours-array time / fastest other writer ({fastest.method}) time", rows,
                                       "ours-array", fastest.method, TARGET_VS_FASTEST, inverse=True))
        report.emit(machine_line())
        report.emit(f"load average at end {' '.join(f'{x:.2f}' for x in os.getloadavg())} (other processes share "
                    "this machine's cores: compare medians and CPU seconds when the best runs disagree)")
        report.emit(f"total time {time.perf_counter() - total_start:.0f} s")
    finally:
        for method in methods:
            remove_store(out_dir, method)
        if movie_file is not None:
            movie_file.unlink(missing_ok=True)
        if created_dir:
            shutil.rmtree(out_dir, ignore_errors=True)
    report.save(RESULTS_PATH.parent / "quick" / RESULTS_PATH.name if args.quick else RESULTS_PATH)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
