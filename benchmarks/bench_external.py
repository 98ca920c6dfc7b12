"""Benchmark reading frames of an external mp4 (``ImageSeries.external_frames``) against the same frames stored
in the NWB Zarr file (``ImageSeries.data``, ours).

What is measured
----------------
One deterministic behaviour-camera-like video, ``--frames`` (default 900) RGB frames of 480x640 at 30 fps (a
textured arena, a moving bright "animal" and seeded noise), encoded with libx264 (crf 18, yuv420p), once per
keyframe interval in ``--gops`` (default: 250, x264's default, then 30, a camera's usual), into ``video.mp4``
next to two NWB files in a temporary directory:

* ``external``: ``ImageSeries(external_file=["video.mp4"], starting_frame=[0], rate=30, num_samples=N)``, read
  with ``series.external_frames(frames_per_chunk=C)`` (PyAV decode on demand; C = 32 and 1 are shown).
* ``internal``: the frames PyAV decodes from that mp4, stored with ``nzi.write`` (library defaults: whole-frame
  chunks of about 4 MB, Blosc zstd 3 bit-shuffle), read with ``series.data`` (dask over zarr).

Both are checked equal frame for frame (a read that is wrong cannot look fast). Then, each from a fresh
``nzi.read`` (untimed):

1. ``random``: ``--random`` (default 40) frames at seeded random indices, one ``arr[i].compute()`` each
   (synchronous scheduler); median and 90th percentile milliseconds, and the frames PyAV decoded per read
   (the count, exact on any machine, is the regression gate; ``first`` is the first read, which for external
   files also demuxes the file once to find the keyframes). ``warm``: one reader for all reads (frames decoded
   on the way to a frame are kept, up to 256 MB, and may serve later reads); ``cold``: ``video.close()``
   before each read, so each read opens the file, seeks to the keyframe and decodes from there.
2. ``in order``: every dask block computed one after the other (``arr.blocks[k].compute()``): frames/s and
   MB/s of RGB frames (1 MB = 1e6 bytes), and frames decoded in all.
3. ``compute``: ``arr.compute()`` with dask's default threaded scheduler (its own order of chunks), which also
   assembles one numpy array of all frames (a copy the in-order pass does not make).

Anchor, same run: ``pyav alone``, one PyAV pass ``container.decode`` + ``to_ndarray("rgb24")`` over the file, with the
reader's settings (frame threading ``thread_type="AUTO"``), into one preallocated array.
Wall time varies 10-30% on a shared machine; decoded-frame counts do not.

Run (from the repository root)::

    .venv/bin/python benchmarks/bench_external.py            # ~1 min on 2 cores
    .venv/bin/python benchmarks/bench_external.py --quick    # 150 frames, smoke test

The printed output is also written to ``benchmarks/results/bench_external.txt``.
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
import uuid
from pathlib import Path
from typing import Any

import av
import dask
import numpy as np
from _harness import Report  # benchmarks/_report.py: run the scripts from the repository root

import nwbzarr_image as nzi

RESULTS_PATH = Path(__file__).resolve().parent / "results" / "bench_external.txt"
HEIGHT, WIDTH, RATE, SEED = 480, 640, 30, 20240607
START = datetime.datetime(2024, 1, 2, 9, 0, tzinfo=datetime.UTC)




def make_video(path: Path, frames: int, gop: int) -> None:
    """A textured arena with a moving bright blob and seeded noise, encoded with libx264."""
    rng = np.random.default_rng(SEED)
    yy, xx = np.mgrid[0:HEIGHT, 0:WIDTH].astype(np.float32)
    arena = 60 + 40 * np.sin(xx / 23) * np.cos(yy / 31) + rng.normal(0, 6, (HEIGHT, WIDTH))
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("libx264", rate=RATE)
        stream.width, stream.height, stream.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        stream.options = {"crf": "18", "g": str(gop), "keyint_min": str(gop), "sc_threshold": "0"}
        for i in range(frames):
            cy, cx = HEIGHT / 2 + 150 * np.sin(i / 40), WIDTH / 2 + 220 * np.cos(i / 55)
            blob = 150 * np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / 900)
            gray = np.clip(arena + blob + rng.normal(0, 5, (HEIGHT, WIDTH)), 0, 255)
            rgb = np.stack([gray, gray * 0.9, gray * 0.8], axis=-1).astype(np.uint8)
            container.mux(stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")))
        container.mux(stream.encode())


def pyav_pass(path: Path, n: int) -> tuple[np.ndarray, float]:
    """One PyAV pass with the reader's settings (frame threading, RGB conversion into one array)."""
    start = time.perf_counter()
    frames = np.empty((n, HEIGHT, WIDTH, 3), np.uint8)
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        for i, frame in enumerate(container.decode(stream)):
            frames[i] = frame.to_ndarray(format="rgb24")
    return frames, time.perf_counter() - start


def write_files(folder: Path, frames: np.ndarray) -> tuple[str, str]:
    n = len(frames)
    ext = nzi.NWBFile("external video", str(uuid.uuid4()), START)
    ext.add_acquisition(nzi.ImageSeries("cam", external_file=["video.mp4"], starting_frame=[0], rate=float(RATE),
                                        num_samples=n))
    internal = nzi.NWBFile("internal video", str(uuid.uuid4()), START)
    internal.add_acquisition(nzi.ImageSeries("cam", frames, "n.a.", rate=float(RATE)))
    urls = str(folder / "external.nwb.zarr"), str(folder / "internal.nwb.zarr")
    nzi.write(ext, urls[0])
    nzi.write(internal, urls[1])
    return urls


def open_array(kind: str, url: str, frames_per_chunk: int) -> tuple[Any, Any]:
    """(dask array, ExternalVideo or None) from a fresh read."""
    series = nzi.read(url).acquisition["cam"]
    if kind == "internal":
        return series.data, None
    video = series.external_video()
    return video.to_dask(frames_per_chunk), video


def decoded(video: Any) -> int:
    return video.frames_decoded if video is not None else 0


def measure(kind: str, url: str, fpc: int, reference: np.ndarray, picks: list[int]) -> dict[str, Any]:
    random: dict[str, tuple[list[float], list[int]]] = {}
    for mode in ("warm", "cold"):
        arr, video = open_array(kind, url, fpc)
        times, counts = [], []
        for i in picks:
            if mode == "cold" and video is not None:
                video.close()  # no kept frames, no open decoder: open, seek, decode from the keyframe
            before, t0 = decoded(video), time.perf_counter()
            frame = arr[i].compute(scheduler="synchronous")
            times.append(time.perf_counter() - t0)
            counts.append(decoded(video) - before)
            assert np.array_equal(frame, reference[i]), (kind, i)
        random[mode] = times, counts
    arr, video = open_array(kind, url, fpc)
    t0 = time.perf_counter()
    for k in range(arr.numblocks[0]):
        block = arr.blocks[k].compute(scheduler="synchronous")
        assert block.shape[0] == arr.chunks[0][k]
    ordered = (time.perf_counter() - t0, decoded(video))
    arr, video = open_array(kind, url, fpc)
    t0 = time.perf_counter()
    everything = arr.compute()
    whole = (time.perf_counter() - t0, decoded(video))
    assert np.array_equal(everything, reference), kind
    return {"random": random, "ordered": ordered, "whole": whole, "chunk": arr.chunks[0][0]}


def latency(times: list[float], counts: list[int]) -> tuple[float, float, float]:
    """Median and 90th percentile ms, and mean frames decoded, of the reads after the first."""
    t = sorted(times[1:]) or times
    return (statistics.median(t) * 1e3, t[min(len(t) - 1, int(0.9 * len(t)))] * 1e3,
            statistics.mean(counts[1:] or counts))


def rows(results: dict[str, dict[str, Any]], n: int, nbytes: int, pyav_s: float) -> list[str]:
    out = [f"{'method':<20} {'chunk':>5} {'first ms':>8} {'warm ms':>7} {'p90':>5} {'dec/rd':>6} {'cold ms':>7} "
           f"{'p90':>5} {'dec/rd':>6} {'in-order fr/s':>13} {'MB/s':>5} {'decoded':>7} {'compute fr/s':>12} "
           f"{'decoded':>7}"]
    for name, r in results.items():
        (warm_t, warm_c), (cold_t, cold_c) = r["random"]["warm"], r["random"]["cold"]
        wm, wp, wd = latency(warm_t, warm_c)
        cm, cp, cd = latency(cold_t, cold_c)
        (ts, td), (ws, wdec) = r["ordered"], r["whole"]
        ext = "external" in name
        out.append(f"{name:<20} {r['chunk']:>5} {warm_t[0] * 1e3:>8.1f} {wm:>7.2f} {wp:>5.1f} {wd:>6.1f} {cm:>7.2f} "
                   f"{cp:>5.1f} {cd:>6.1f} {n / ts:>13.0f} {nbytes / ts / 1e6:>5.0f} {td if ext else '-':>7} "
                   f"{n / ws:>12.0f} {wdec if ext else '-':>7}")
    out.append(f"{'pyav alone (1 pass)':<20} {'':>5} {'':>8} {'':>7} {'':>5} {'':>6} {'':>7} {'':>5} {'':>6} "
               f"{n / pyav_s:>13.0f} {nbytes / pyav_s / 1e6:>5.0f} {n:>7}")
    return out


def run_gop(report: Report, n: int, gop: int, picks_n: int) -> None:
    """Make the video with keyframes every ``gop`` frames, both NWB files, and measure them."""
    with tempfile.TemporaryDirectory(prefix="bench_external_") as tmp:
        folder = Path(tmp)
        make_video(folder / "video.mp4", n, gop)
        reference, _ = pyav_pass(folder / "video.mp4", n)
        pyav_s = min(pyav_pass(folder / "video.mp4", n)[1] for _ in range(2))
        ext_url, int_url = write_files(folder, reference)
        stored = sum(f.stat().st_size for f in Path(int_url).rglob("*") if f.is_file())
        report.emit("")
        report.emit(f"== keyframe every {gop} frames: {n} RGB frames {HEIGHT}x{WIDTH} at {RATE} fps, libx264 crf 18, "
                    f"{(folder / 'video.mp4').stat().st_size / 1e6:.1f} MB mp4; internal copy {stored / 1e6:.1f} MB "
                    f"(chunks {nzi.read(int_url).acquisition['cam'].data.chunks[0][0]} frames); "
                    f"{reference.nbytes / 1e6:.0f} MB of RGB frames")
        picks = [int(i) for i in np.random.default_rng(SEED).integers(0, n, picks_n)]
        results = {
            "external chunk 32": measure("external", ext_url, 32, reference, picks),
            "external chunk 1": measure("external", ext_url, 1, reference, picks),
            "internal (ours)": measure("internal", int_url, 0, reference, picks),
        }
        for line in rows(results, n, reference.nbytes, pyav_s):
            report.emit(line)
        internal_ms = latency(*results["internal (ours)"]["random"]["cold"])[0]
        cold = {k: latency(*results[f"external chunk {k}"]["random"]["cold"])[0] / internal_ms for k in (1, 32)}
        seq = results["internal (ours)"]["ordered"][0] / results["external chunk 32"]["ordered"][0]
        report.emit(f"ratios: cold random frame latency external/internal = {cold[1]:.1f}x (chunk 1), "
                    f"{cold[32]:.1f}x (chunk 32); in-order throughput external (chunk 32)/internal = {seq:.2f}x")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--frames", type=int, default=900)
    parser.add_argument("--gops", type=lambda t: [int(v) for v in t.split(",")], default=[250, 30],
                        help="keyframe intervals to measure, comma-separated (default 250,30)")
    parser.add_argument("--random", type=int, default=40)
    parser.add_argument("--quick", action="store_true",
                        help="60 frames, keyframes every 30, 5 random reads (the test suite runs it)")
    args = parser.parse_args(argv[1:])
    n, picks_n = (60, 5) if args.quick else (args.frames, args.random)
    if args.quick:
        args.gops = [30]
    report = Report()
    command = " ".join(shlex.quote(a) for a in [os.path.relpath(sys.executable), *argv])
    report.emit(f"# command: {command}")
    report.emit(f"# date: {datetime.datetime.now().astimezone().isoformat(timespec='seconds')}; load average "
                f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    report.emit(f"# random: {picks_n} frames at seeded random indices, one arr[i].compute() each; first = the first "
                "read (external: also demuxes the file once to find keyframes); warm = later reads, one reader "
                "(frames decoded on the way are kept); cold = video.close() before each read; dec/rd = frames "
                "PyAV decoded per read")
    report.emit("# in-order = arr.blocks[k].compute() for k in order; compute = arr.compute() (dask threads, its "
                "own order, plus assembling one array); decoded = frames PyAV decoded in that pass; MB = 1e6 bytes "
                "of RGB frames")
    for gop in args.gops:
        run_gop(report, n, gop, picks_n)
    report.emit(f"machine: nproc {os.cpu_count()}; {platform.machine()} {platform.system()}; python "
                f"{platform.python_version()}; av {av.__version__}; dask {dask.__version__}; numpy {np.__version__}")
    report.save(RESULTS_PATH.parent / "quick" / RESULTS_PATH.name if args.quick else RESULTS_PATH)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
