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
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import av
import numpy as np
from _harness import (  # benchmarks/_harness.py: run the scripts from the repository root
    Report,
    Results,
    Suite,
    Timing,
    child_entry,
    common_args,
    header,
    machine_line,
    measure,
)

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


def random_reads(kind: str, url: str, fpc: int, picks: list[int], cold: bool) -> Timing:
    """One ``arr[i].compute()`` per pick (synchronous scheduler), each timed; frames decoded per read."""
    arr, video = open_array(kind, url, fpc)
    times, counts, frames = [], [], []
    for i in picks:
        if cold and video is not None:
            video.close()  # no kept frames, no open decoder: open, seek, decode from the keyframe
        before, t0 = decoded(video), time.perf_counter()
        frames.append(arr[i].compute(scheduler="synchronous"))
        times.append(time.perf_counter() - t0)
        counts.append(decoded(video) - before)
    from _harness import digest

    return Timing(times, digest(frames), extra={"counts": counts})


def method(kind: str, fpc: int, params: dict[str, Any]) -> dict[str, Timing]:
    url, picks = params["urls"][kind], params["picks"]
    out = {"warm": random_reads(kind, url, fpc, picks, cold=False),
           "cold": random_reads(kind, url, fpc, picks, cold=True)}
    arr, video = open_array(kind, url, fpc)

    def in_order() -> None:
        for k in range(arr.numblocks[0]):
            assert arr.blocks[k].compute(scheduler="synchronous").shape[0] == arr.chunks[0][k]

    out["ordered"] = measure(in_order, count=params["frames"], nbytes=params["nbytes"])
    out["ordered"].extra["decoded"] = decoded(video)
    arr, video = open_array(kind, url, fpc)
    out["whole"] = measure(arr.compute, count=params["frames"], nbytes=params["nbytes"])
    out["whole"].extra["decoded"] = decoded(video)
    out["whole"].extra["chunk"] = arr.chunks[0][0]
    return out


METHODS = {"external chunk 32": lambda p: method("external", 32, p),
           "external chunk 1": lambda p: method("external", 1, p),
           "internal (ours)": lambda p: method("internal", 0, p)}


def latency(times: list[float], counts: list[int]) -> tuple[float, float, float]:
    """Median and 90th percentile ms, and mean frames decoded, of the reads after the first."""
    t = sorted(times[1:]) or times
    return (statistics.median(t) * 1e3, t[min(len(t) - 1, int(0.9 * len(t)))] * 1e3,
            statistics.mean(counts[1:] or counts))


def rows(results: Results, n: int, nbytes: int, pyav_s: float) -> list[str]:
    out = [f"{'method':<20} {'chunk':>5} {'first ms':>8} {'warm ms':>7} {'p90':>5} {'dec/rd':>6} {'cold ms':>7} "
           f"{'p90':>5} {'dec/rd':>6} {'in-order fr/s':>13} {'MB/s':>5} {'decoded':>7} {'compute fr/s':>12} "
           f"{'decoded':>7} {'peak RSS MB':>11}"]
    for name in results.methods:
        if name in results.errors:
            out.append(f"{name:<20} ERROR {results.errors[name]}")
            continue
        warm, cold = results.op(name, "warm"), results.op(name, "cold")
        ordered, whole = results.op(name, "ordered"), results.op(name, "whole")
        assert warm and cold and ordered and whole
        wm, wp, wd = latency(warm.seconds, warm.extra["counts"])
        cm, cp, cd = latency(cold.seconds, cold.extra["counts"])
        ext = "external" in name
        out.append(f"{name:<20} {whole.extra['chunk']:>5} {warm.seconds[0] * 1e3:>8.1f} {wm:>7.2f} {wp:>5.1f} "
                   f"{wd:>6.1f} {cm:>7.2f} {cp:>5.1f} {cd:>6.1f} {n / ordered.best:>13.0f} "
                   f"{nbytes / ordered.best / 1e6:>5.0f} {ordered.extra['decoded'] if ext else '-':>7} "
                   f"{n / whole.best:>12.0f} {whole.extra['decoded'] if ext else '-':>7} {whole.peak_rss_mb:>11.0f}")
    out.append(f"{'pyav alone (1 pass)':<20} {'':>5} {'':>8} {'':>7} {'':>5} {'':>6} {'':>7} {'':>5} {'':>6} "
               f"{n / pyav_s:>13.0f} {nbytes / pyav_s / 1e6:>5.0f} {n:>7}")
    return out


def run_gop(report: Report, n: int, gop: int, picks_n: int, rounds: int) -> list[str]:
    """Make the video with keyframes every ``gop`` frames, both NWB files, and measure them; the mismatches."""
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
        from _harness import digest

        expected = {"warm": digest([reference[i] for i in picks]), "cold": digest([reference[i] for i in picks]),
                    "whole": digest(reference)}
        params = {"urls": {"external": ext_url, "internal": int_url}, "picks": picks, "frames": n,
                  "nbytes": reference.nbytes}
        del reference
        results = Suite(__file__, METHODS).run(params, None, rounds)
        for line in rows(results, n, params["nbytes"], pyav_s):
            report.emit(line)
        problems = results.mismatches(expected)
        internal = results.op("internal (ours)", "cold")
        ext1, ext32 = results.op("external chunk 1", "cold"), results.op("external chunk 32", "cold")
        if internal and ext1 and ext32:
            internal_ms = latency(internal.seconds, internal.extra["counts"])[0]
            cold = {k: latency(r.seconds, r.extra["counts"])[0] / internal_ms for k, r in ((1, ext1), (32, ext32))}
            seq = results.ratio("internal (ours)", "ordered", "external chunk 32")
            report.emit(f"ratios: cold random frame latency external/internal = {cold[1]:.1f}x (chunk 1), "
                        f"{cold[32]:.1f}x (chunk 32); in-order throughput external (chunk 32)/internal = {seq:.2f}x")
        return problems + [f"{m}: {e}" for m, e in results.errors.items()]


def main(argv: list[str]) -> int:
    child_entry(argv, METHODS)
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--frames", type=int, default=900)
    parser.add_argument("--gops", type=lambda t: [int(v) for v in t.split(",")], default=[250, 30],
                        help="keyframe intervals to measure, comma-separated (default 250,30)")
    parser.add_argument("--random", type=int, default=40)
    common_args(parser, rounds=1)
    args = parser.parse_args(argv[1:])
    n, picks_n = (60, 5) if args.quick else (args.frames, args.random)
    if args.quick:
        args.gops = [30]
    report = Report()
    for line in header(argv, args.rounds or 1):
        report.emit(line)
    report.emit(f"# random: {picks_n} frames at seeded random indices, one arr[i].compute() each; first = the first "
                "read (external: also demuxes the file once to find keyframes); warm = later reads, one reader "
                "(frames decoded on the way are kept); cold = video.close() before each read; dec/rd = frames "
                "PyAV decoded per read")
    report.emit("# in-order = arr.blocks[k].compute() for k in order; compute = arr.compute() (dask threads, its "
                "own order, plus assembling one array); decoded = frames PyAV decoded in that pass; MB = 1e6 bytes "
                "of RGB frames")
    problems = []
    for gop in args.gops:
        problems += run_gop(report, n, gop, picks_n, args.rounds or 1)
    for problem in problems:
        report.emit(f"MISMATCH {problem}")
    if not problems:
        report.emit("every method returned the frames PyAV decodes, byte for byte")
    report.emit(machine_line(["av"]))
    report.save(RESULTS_PATH.parent / "quick" / RESULTS_PATH.name if args.quick else RESULTS_PATH)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
