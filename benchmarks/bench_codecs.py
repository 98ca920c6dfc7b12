"""Benchmark zarr v3 compressors for NWB frame arrays and recommend a default.

What is measured
----------------
Two deterministic synthetic datasets (seeded numpy, generated once):

* ``imaging``: uint16 two-photon-like movie, 512x512 pixels (default 200 frames,
  ~100 MB): smooth static "anatomy" background (~100-2000), a few hundred
  gaussian cells with sparse calcium-like transients (exponential decay),
  Poisson shot noise plus a little read noise.
* ``video``: uint8 behaviour-camera-like video, 480x640 pixels (default 300
  frames, ~92 MB): smooth static scene, one moving bright blob, gaussian
  sensor noise.

Every candidate is a zarr v3 codec list used through zarr-python itself: the
data is written with ``arr[:] = data`` into a fresh ``zarr.storage.MemoryStore``
array whose chunks hold whole frames (~4 MB per chunk) and read back with
``arr[:]``, using zarr's default async concurrency and thread pool (the zarr
config is not modified). Each candidate runs in its own process (``benchmarks/_harness.py``), which loads the
datasets the parent generated; every candidate must read back the very bytes written (digests checked; ``--quick``
measures 4 candidates on 8 frames). For each candidate and dataset the script reports

* compression ratio = uncompressed bytes / sum of stored chunk bytes
  (``zarr.json`` metadata excluded),
* write and read throughput in uncompressed MB/s (1 MB = 1e6 bytes), best of
  3 timed runs after one untimed warm-up run (first runs are markedly slower:
  thread pool start-up, allocator growth),
* peak RSS of the process so far (``resource.getrusage``, a high-water mark,
  so it mostly reflects the datasets held in memory),
* ratio / write speed / read speed relative to the zarr 3 default
  ``ZstdCodec(level=0)``, which is what hdmf-zarr 0.14 writes when no
  compressor is given.

Recommendation rule: among the candidates whose compression ratio on the
uint16 imaging movie is >= 97% of the best ratio on that movie, pick the one
with the highest write throughput on that movie. It is printed as a Python
expression (``RECOMMENDED: ...``) ready to paste into the library.

Blosc ``typesize`` is left to zarr (``typesize=None``), which evolves it from
the array dtype; the script checks that the resulting codec has
``typesize == dtype.itemsize`` and that the stored chunk is byte-identical to
numcodecs ``Blosc(..., typesize=itemsize)``.

Run (from the repository root)::

    .venv/bin/python benchmarks/bench_codecs.py            # full, ~2-3 min on 2 cores
    .venv/bin/python benchmarks/bench_codecs.py --quick    # fewer frames, smoke test
    .venv/bin/python benchmarks/bench_codecs.py --frames 100

The printed output is also written to ``benchmarks/results/bench_codecs.txt``.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import shlex
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numcodecs
import numpy as np
import zarr
from _harness import (  # benchmarks/_harness.py: run the scripts from the repository root
    Report,
    Results,
    Suite,
    Timing,
    child_entry,
    common_args,
    digest,
    machine_line,
    measure,
    smooth_field,
)
from zarr.abc.codec import BytesBytesCodec
from zarr.codecs import BloscCodec, ZstdCodec

SEED = 20240607
N_REPEATS = 3
N_WARMUP = 1  # untimed first write/read: thread pool start-up, allocator growth
CHUNK_TARGET_BYTES = 4 * 1024 * 1024
MIN_RATIO_FRACTION = 0.97
DEFAULT_FRAMES = 200
QUICK_FRAMES = 8
VIDEO_FRAMES_PER_IMAGING_FRAME = 1.5
IMAGING_SHAPE = (512, 512)
VIDEO_SHAPE = (480, 640)
RESULTS_PATH = Path(__file__).resolve().parent / "results" / "bench_codecs.txt"


# --------------------------------------------------------------------------- output




# --------------------------------------------------------------------------- candidates


@dataclass(frozen=True)
class Candidate:
    """One compressor configuration (kind is 'none', 'zstd' or 'blosc')."""

    kind: str
    level: int = 0
    cname: str = ""
    shuffle: str = ""

    @property
    def label(self) -> str:
        if self.kind == "none":
            return "none"
        if self.kind == "zstd":
            suffix = " (default)" if self.is_default else ""
            return f"zstd L{self.level}{suffix}"
        return f"blosc-{self.cname} L{self.level} {self.shuffle}"

    @property
    def is_default(self) -> bool:
        return self.kind == "zstd" and self.level == 0

    def expression(self) -> str:
        if self.kind == "none":
            return "None"
        if self.kind == "zstd":
            return f"ZstdCodec(level={self.level})"
        return f"BloscCodec(cname='{self.cname}', clevel={self.level}, shuffle='{self.shuffle}')"

    def compressors(self) -> tuple[BytesBytesCodec, ...] | None:
        if self.kind == "none":
            return None
        if self.kind == "zstd":
            return (ZstdCodec(level=self.level),)
        return (BloscCodec(cname=self.cname, clevel=self.level, shuffle=self.shuffle),)


def make_candidates() -> list[Candidate]:
    candidates = [Candidate("none")]
    candidates += [Candidate("zstd", level) for level in (0, 1, 3, 5)]
    for level in (1, 3, 5):
        for shuffle in ("bitshuffle", "shuffle"):
            candidates.append(Candidate("blosc", level, "zstd", shuffle))
    for shuffle in ("bitshuffle", "shuffle"):
        candidates.append(Candidate("blosc", 5, "lz4", shuffle))
    return candidates


# --------------------------------------------------------------------------- synthetic data


def calcium_traces(rng: np.random.Generator, n_cells: int, n_frames: int) -> np.ndarray:
    """Sparse spikes convolved with an exponential decay: dF/F per cell and frame."""
    spikes = (rng.random((n_cells, n_frames)) < 0.01) * rng.lognormal(0.0, 0.5, (n_cells, n_frames))
    tau_frames = rng.uniform(5.0, 15.0, n_cells)
    traces = np.zeros((n_cells, n_frames))
    level = np.zeros(n_cells)
    decay = np.exp(-1.0 / tau_frames)
    for t in range(n_frames):
        level = level * decay + spikes[:, t]
        traces[:, t] = level
    return traces


def add_cells(rng: np.random.Generator, movie: np.ndarray, n_cells: int) -> None:
    """Add gaussian cell footprints modulated by calcium transients, in place."""
    n_frames, height, width = movie.shape
    traces = calcium_traces(rng, n_cells, n_frames)
    half = 12
    yy, xx = np.mgrid[-half : half + 1, -half : half + 1]
    for i in range(n_cells):
        cy = int(rng.integers(half, height - half))
        cx = int(rng.integers(half, width - half))
        sigma = rng.uniform(2.5, 4.0)
        footprint = np.exp(-(yy**2 + xx**2) / (2 * sigma**2)).astype(np.float32)
        brightness = rng.uniform(200.0, 800.0) * (1.0 + traces[i]).astype(np.float32)
        patch = movie[:, cy - half : cy + half + 1, cx - half : cx + half + 1]
        patch += brightness[:, None, None] * footprint[None]


def make_imaging_movie(n_frames: int, seed: int = SEED) -> np.ndarray:
    """uint16 2-photon-like movie (n_frames, 512, 512) with shot and read noise."""
    rng = np.random.default_rng(seed)
    shape = IMAGING_SHAPE
    anatomy = 0.7 * smooth_field(rng, shape, 40.0) + 0.3 * smooth_field(rng, shape, 4.0)
    background = (100.0 + 1900.0 * anatomy**2).astype(np.float32)
    expected = np.broadcast_to(background, (n_frames, *shape)).copy()
    add_cells(rng, expected, n_cells=300)
    movie = np.empty((n_frames, *shape), dtype=np.uint16)
    for t in range(n_frames):
        frame = rng.poisson(expected[t]) + 3.0 * rng.standard_normal(shape)
        movie[t] = np.clip(np.rint(frame), 0, 65535)
    return movie


def make_behavior_video(n_frames: int, seed: int = SEED + 1) -> np.ndarray:
    """uint8 camera-like video (n_frames, 480, 640): static scene, moving blob, noise."""
    rng = np.random.default_rng(seed)
    height, width = VIDEO_SHAPE
    scene = (40.0 + 150.0 * smooth_field(rng, (height, width), 30.0)).astype(np.float32)
    ys = np.arange(height, dtype=np.float32)
    xs = np.arange(width, dtype=np.float32)
    video = np.empty((n_frames, height, width), dtype=np.uint8)
    for t in range(n_frames):
        cy = height / 2 + 150 * np.sin(2 * np.pi * t / 120)
        cx = width / 2 + 220 * np.sin(2 * np.pi * t / 90 + 0.7)
        blob = 70.0 * np.outer(np.exp(-((ys - cy) ** 2) / (2 * 25.0**2)), np.exp(-((xs - cx) ** 2) / (2 * 25.0**2)))
        frame = scene + blob + 1.0 * rng.standard_normal((height, width), dtype=np.float32)
        video[t] = np.clip(np.rint(frame), 0, 255)
    return video


# --------------------------------------------------------------------------- measurement


@dataclass
class Result:
    candidate: Candidate
    ratio: float
    write_mbps: float
    read_mbps: float
    peak_rss_mb: float


def chunk_frames_for(frame_bytes: int) -> int:
    """Whole frames per chunk so that a chunk holds ~CHUNK_TARGET_BYTES."""
    return max(1, round(CHUNK_TARGET_BYTES / frame_bytes))


def whole_chunks(n_frames: int, frame_bytes: int) -> int:
    """Round n_frames up to whole chunks: zarr stores a partial edge chunk at full size."""
    per_chunk = chunk_frames_for(frame_bytes)
    return -(-n_frames // per_chunk) * per_chunk


def frames_per_chunk(data: np.ndarray) -> int:
    return min(data.shape[0], chunk_frames_for(data[0].nbytes))


def create_array(data: np.ndarray, candidate: Candidate) -> tuple[zarr.Array, dict]:
    """Empty zarr v3 array in a fresh MemoryStore; returns it with the store's dict."""
    store_dict: dict = {}
    store = zarr.storage.MemoryStore(store_dict=store_dict)
    arr = zarr.create_array(
        store,
        shape=data.shape,
        chunks=(frames_per_chunk(data), *data.shape[1:]),
        dtype=data.dtype,
        compressors=candidate.compressors(),
        fill_value=0,
    )
    return arr, store_dict


def stored_chunk_bytes(store_dict: dict) -> int:
    return sum(len(buf) for key, buf in store_dict.items() if not key.endswith("zarr.json"))


def measure_candidate(label: str, params: dict[str, Any]) -> dict[str, Timing]:
    """In a child: write and read each dataset with one candidate (best of N after a warm-up), its ratio."""
    out: dict[str, Timing] = {}
    for name, path in params["datasets"].items():
        out[f"{name} write"], out[f"{name} read"] = measure_dataset(CANDIDATES[label], np.load(path))
    return out


def measure_dataset(candidate: Candidate, data: np.ndarray) -> tuple[Timing, Timing]:
    arrays = [create_array(data, candidate) for _ in range(N_WARMUP + N_REPEATS)]
    for arr, _ in arrays[:N_WARMUP]:  # thread pool start-up, allocator growth
        arr[:] = data
    todo = iter(arrays[N_WARMUP:])

    def write() -> None:
        next(todo)[0][:] = data

    written = measure(write, N_REPEATS, nbytes=data.nbytes)
    arr, store_dict = arrays[-1]
    for _ in range(N_WARMUP):
        arr[:]
    read = measure(lambda: arr[:], N_REPEATS, nbytes=data.nbytes)
    read.extra["ratio"] = data.nbytes / stored_chunk_bytes(store_dict)
    return written, read


CANDIDATES = {c.label: c for c in make_candidates()}
QUICK_CANDIDATES = ["none", "zstd L0 (default)", "blosc-zstd L3 bitshuffle", "blosc-zstd L3 shuffle"]
METHODS = {label: (lambda params, label=label: measure_candidate(label, params)) for label in CANDIDATES}


def results_of(run: Results, name: str, data: np.ndarray) -> list[Result]:
    """The harness's timings of dataset ``name`` as one Result per candidate."""
    out = []
    for label, candidate in CANDIDATES.items():
        if label not in run.methods:
            continue
        write, read = run.op(label, f"{name} write"), run.op(label, f"{name} read")
        if write is None or read is None:
            raise AssertionError(f"{label}: {run.errors.get(label, 'no result')}")
        out.append(Result(candidate, read.extra["ratio"], data.nbytes / 1e6 / write.best,
                          data.nbytes / 1e6 / read.best, max(write.peak_rss_mb, read.peak_rss_mb)))
    return out


def check_blosc_typesize(data: np.ndarray, report: Report) -> None:
    """Verify zarr evolves BloscCodec.typesize from the dtype (typesize left as None)."""
    small = np.ascontiguousarray(data[:2])
    candidate = Candidate("blosc", 1, "zstd", "shuffle")
    arr, store_dict = create_array(small, candidate)
    arr[:] = small
    codec = arr.compressors[0]
    assert isinstance(codec, BloscCodec)
    if codec.typesize != small.dtype.itemsize:
        raise AssertionError(f"BloscCodec.typesize={codec.typesize}, expected {small.dtype.itemsize}")
    reference = numcodecs.Blosc(cname="zstd", clevel=1, shuffle=numcodecs.Blosc.SHUFFLE, typesize=small.dtype.itemsize)
    chunk_key = "c/" + "/".join("0" * small.ndim)
    expected = reference.encode(np.ascontiguousarray(small[: arr.chunks[0]]))
    identical = store_dict[chunk_key].to_bytes() == bytes(expected)
    if not identical:
        raise AssertionError("stored blosc chunk differs from numcodecs Blosc(typesize=itemsize)")
    report.emit(
        f"blosc typesize check ({small.dtype}): BloscCodec(typesize=None) evolved to "
        f"typesize={codec.typesize}; chunk identical to numcodecs Blosc(typesize={small.dtype.itemsize}): OK"
    )


# --------------------------------------------------------------------------- reporting


def format_table(name: str, data: np.ndarray, results: list[Result]) -> list[str]:
    default = next(r for r in results if r.candidate.is_default)
    chunk = (frames_per_chunk(data), *data.shape[1:])
    chunk_mb = np.prod(chunk) * data.dtype.itemsize / 1e6
    lines = [
        f"== {name}: {data.dtype} {data.shape}, {data.nbytes / 1e6:.1f} MB, chunks {chunk} ({chunk_mb:.2f} MB)",
        (
            f"{'codec':<30} {'ratio':>6} {'write MB/s':>10} {'read MB/s':>9} "
            f"{'ratio x def':>11} {'write x def':>11} {'read x def':>10} {'peakRSS MB':>10}"
        ),
    ]
    for r in results:
        lines.append(
            f"{r.candidate.label:<30} {r.ratio:>6.3f} {r.write_mbps:>10.0f} {r.read_mbps:>9.0f} "
            f"{r.ratio / default.ratio:>11.3f} {r.write_mbps / default.write_mbps:>11.2f} "
            f"{r.read_mbps / default.read_mbps:>10.2f} {r.peak_rss_mb:>10.0f}"
        )
    return lines


def recommend(imaging: list[Result], video: list[Result]) -> list[str]:
    best_ratio = max(r.ratio for r in imaging)
    eligible = [r for r in imaging if r.ratio >= MIN_RATIO_FRACTION * best_ratio]
    choice = max(eligible, key=lambda r: r.write_mbps)
    default = next(r for r in imaging if r.candidate.is_default)
    on_video = next(r for r in video if r.candidate == choice.candidate)
    video_default = next(r for r in video if r.candidate.is_default)
    return [
        "== recommendation",
        (
            f"rule: among candidates with imaging (uint16) ratio >= {MIN_RATIO_FRACTION:.0%} of the best "
            f"({best_ratio:.3f} -> threshold {MIN_RATIO_FRACTION * best_ratio:.3f}), "
            "take the highest imaging write MB/s"
        ),
        f"eligible: {', '.join(r.candidate.label for r in eligible)}",
        (
            f"imaging: ratio {choice.ratio:.3f} ({choice.ratio / default.ratio:.3f}x default), "
            f"write {choice.write_mbps:.0f} MB/s ({choice.write_mbps / default.write_mbps:.2f}x default), "
            f"read {choice.read_mbps:.0f} MB/s ({choice.read_mbps / default.read_mbps:.2f}x default)"
        ),
        (
            f"video:   ratio {on_video.ratio:.3f} ({on_video.ratio / video_default.ratio:.3f}x default), "
            f"write {on_video.write_mbps:.0f} MB/s ({on_video.write_mbps / video_default.write_mbps:.2f}x default), "
            f"read {on_video.read_mbps:.0f} MB/s ({on_video.read_mbps / video_default.read_mbps:.2f}x default)"
        ),
        f"RECOMMENDED: {choice.candidate.expression()}",
        *per_dtype_shuffle(choice.candidate, video),
    ]


def per_dtype_shuffle(choice: Candidate, video: list[Result]) -> list[str]:
    """Byte shuffle does nothing on 1-byte pixels: pick the shuffle for uint8 video at the same level,
    and check that the library's default (nwbzarr_image.storage.defaults.frame_compressor) matches."""
    from nwbzarr_image.storage.defaults import frame_compressor

    same = [r for r in video if (r.candidate.kind, r.candidate.cname, r.candidate.level)
            == (choice.kind, choice.cname, choice.level)]
    best = max(same, key=lambda r: r.write_mbps)
    lines = [f"RECOMMENDED for 1-byte pixels: {best.candidate.expression()} "
             f"(video ratio {best.ratio:.3f}, write {best.write_mbps:.0f} MB/s)"]
    expected = {"uint16": choice, "uint8": best.candidate}
    for dtype, candidate in expected.items():
        codec = frame_compressor(np.dtype(dtype))
        ok = (str(codec.cname), codec.clevel, str(codec.shuffle)) == (
            candidate.cname, candidate.level, candidate.shuffle)
        lines.append(f"library default for {dtype}: {codec.to_dict()['configuration']} -> "
                     f"{'matches' if ok else 'DIFFERS FROM'} the measurement")
    return lines


def header_lines(argv: list[str]) -> list[str]:
    command = " ".join(shlex.quote(a) for a in [os.path.relpath(sys.executable), *argv])
    now = datetime.datetime.now().astimezone().isoformat(timespec="seconds")
    return [
        f"# command: {command}",
        (
            f"# date: {now}; nproc: {os.cpu_count()} (usable {len(os.sched_getaffinity(0))}); "
            f"python {platform.python_version()}; zarr {zarr.__version__}; numcodecs {numcodecs.__version__}; "
            f"numpy {np.__version__}"
        ),
        (
            f"# zarr async.concurrency={zarr.config.get('async.concurrency')}, "
            f"threading.max_workers={zarr.config.get('threading.max_workers')}; "
            f"best of {N_REPEATS} runs after {N_WARMUP} warm-up; "
            "MB = 1e6 bytes of uncompressed data; 'x def' = relative to ZstdCodec(level=0) "
            "(zarr 3 / hdmf-zarr 0.14 default); peakRSS = process high-water mark so far"
        ),
    ]


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--frames",
        type=int,
        default=None,
        help=f"imaging movie frames (default {DEFAULT_FRAMES}); the video gets "
        f"{VIDEO_FRAMES_PER_IMAGING_FRAME}x as many",
    )
    common_args(parser, rounds=1)
    return parser.parse_args(argv)


def main(argv: list[str]) -> int:
    child_entry(argv, METHODS)
    args = parse_args(argv[1:])
    n_frames = args.frames or (QUICK_FRAMES if args.quick else DEFAULT_FRAMES)
    report = Report()
    for line in header_lines(argv):
        report.emit(line)

    start = time.perf_counter()
    n_video = round(n_frames * VIDEO_FRAMES_PER_IMAGING_FRAME)
    datasets = {
        "imaging": make_imaging_movie(whole_chunks(n_frames, IMAGING_SHAPE[0] * IMAGING_SHAPE[1] * 2)),
        "video": make_behavior_video(whole_chunks(n_video, VIDEO_SHAPE[0] * VIDEO_SHAPE[1])),
    }
    report.emit(f"data generated in {time.perf_counter() - start:.1f} s")
    for data in datasets.values():
        check_blosc_typesize(data, report)

    with tempfile.TemporaryDirectory(prefix="bench_codecs_") as tmp:
        paths = {}
        for name, data in datasets.items():
            paths[name] = f"{tmp}/{name}.npy"
            np.save(paths[name], data)
        names = args.only or (QUICK_CANDIDATES if args.quick else None)
        run = Suite(__file__, METHODS).run({"datasets": paths}, names, args.rounds or 1)
    expected = {f"{name} read": digest(data) for name, data in datasets.items()}
    problems = run.mismatches(expected)
    results: dict[str, list[Result]] = {}
    for name, data in datasets.items():
        results[name] = results_of(run, name, data)
        report.emit()
        for line in format_table(name, data, results[name]):
            report.emit(line)
    for problem in problems:
        report.emit(f"MISMATCH {problem}")

    report.emit()
    for line in recommend(results["imaging"], results["video"]):
        report.emit(line)
    report.emit(machine_line())
    report.emit(f"total time {time.perf_counter() - start:.0f} s")
    report.save(RESULTS_PATH.parent / "quick" / RESULTS_PATH.name if args.quick else RESULTS_PATH)
    return 1 if problems or run.errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
