"""The harness every benchmark runs on: one process per method, round robin, byte-identical results, one report.

A script defines its methods as module-level functions ``method(params) -> dict[str, Timing]`` (one entry per
operation it times), makes its data in the parent, and calls :meth:`Suite.run`. The harness then starts one
fresh Python process per method and round (``script --child NAME --params JSON``), round robin over the
methods so that a burst of other load on the machine hits them alike; the child prints its timings as one JSON
line. Per operation the parent keeps the best and the median seconds over all runs, the peak RSS (the
process's high-water mark, reset before each operation) and a digest of the values the operation returned:
every method must return byte-identical values, or the report says which differ and the script exits 1.

``--quick`` (tiny data, one round) is what ``tests/test_benchmarks.py`` runs for every script.
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import os
import platform
import shlex
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

RESULT_TAG = "BENCH_RESULT "
REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "benchmarks" / "results"


# --------------------------------------------------------------------------- child side: timing one operation


def digest(value: Any) -> str:
    """dtype, shape and sha256 of an array (or of bytes / a list of arrays): equal digests = identical values."""
    if isinstance(value, (list, tuple)):
        h = hashlib.sha256()
        for item in value:
            h.update(digest(item).encode())
        return f"list[{len(value)}]:{h.hexdigest()[:16]}"
    if isinstance(value, (bytes, bytearray, memoryview)):
        return f"bytes:{hashlib.sha256(value).hexdigest()[:16]}"
    array = np.ascontiguousarray(np.asarray(value))  # no copy when it already is (no bytes copy either)
    h = hashlib.sha256(array.reshape(-1).view(np.uint8).data if array.size else b"")
    return f"{array.dtype.str}{list(array.shape)}:{h.hexdigest()[:16]}"


def reset_peak_rss() -> None:
    """Start a new high-water mark of the resident set (Linux: VmHWM := VmRSS)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass


def peak_rss_mb() -> float:
    """The resident set's high-water mark since the last reset, in MiB."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


@dataclass
class Timing:
    """One operation measured in one process: wall seconds of each repeat, digest of what it returned."""

    seconds: list[float]
    digest: str | None = None
    cpu: list[float] = field(default_factory=list)  # process CPU seconds (all threads) of each repeat
    nbytes: int = 0  # uncompressed bytes the operation delivers (for MB/s)
    peak_rss_mb: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)
    count: int = 0  # items per run (frames, requests, ...) for a rate column

    def as_json(self) -> dict[str, Any]:
        return {"seconds": self.seconds, "cpu": self.cpu, "digest": self.digest, "nbytes": self.nbytes,
                "peak_rss_mb": self.peak_rss_mb, "extra": self.extra, "count": self.count}


def measure(operation: Callable[[], Any], repeats: int = 1, *, nbytes: int = 0, count: int = 0,
            check: Callable[[Any], None] | None = None) -> Timing:
    """Run ``operation`` ``repeats`` times (timed); digest its result (every repeat must give the same)."""
    reset_peak_rss()
    seconds, cpu, digests = [], [], set()
    for _ in range(max(1, repeats)):
        start, start_cpu = time.perf_counter(), time.process_time()
        value = operation()
        seconds.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
        if check is not None:
            check(value)
        digests.add(digest(value) if value is not None else None)
        del value
    if len(digests) != 1:
        raise AssertionError(f"the repeats of one operation returned different values: {sorted(map(str, digests))}")
    return Timing(seconds, digests.pop(), cpu, nbytes=nbytes, peak_rss_mb=peak_rss_mb(), count=count)


Method = Callable[[dict[str, Any]], dict[str, Timing]]


def child_entry(argv: Sequence[str], methods: dict[str, Method]) -> None:
    """In a child (``--child NAME --params JSON``): run the method, print its result line and exit."""
    if "--child" not in argv:
        return
    name = argv[argv.index("--child") + 1]
    params = json.loads(argv[argv.index("--params") + 1])
    try:
        timings = methods[name](params)
        result = {"ok": True, "ops": {op: t.as_json() for op, t in timings.items()}}
    except Exception as err:  # reported by the parent as this method's error
        import traceback

        traceback.print_exc()
        result = {"ok": False, "error": f"{type(err).__name__}: {err}"}
    print(RESULT_TAG + json.dumps(result), flush=True)
    sys.exit(0)


# --------------------------------------------------------------------------- parent side


@dataclass
class OpResult:
    """An operation of one method over all its runs."""

    seconds: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)
    digests: set[str | None] = field(default_factory=set)
    nbytes: int = 0
    count: int = 0
    peak_rss_mb: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def best(self) -> float:
        return min(self.seconds)

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)

    @property
    def best_cpu(self) -> float | None:
        return min(self.cpu) if self.cpu else None


@dataclass
class Results:
    """What every method's runs gave, by method and operation."""

    methods: list[str]
    ops: dict[str, dict[str, OpResult]] = field(default_factory=dict)  # method -> op -> result
    errors: dict[str, str] = field(default_factory=dict)

    def op(self, method: str, op: str) -> OpResult | None:
        return self.ops.get(method, {}).get(op)

    def mismatches(self, reference: dict[str, str] | None = None) -> list[str]:
        """Operations whose methods did not all return the same values (or not the expected ones)."""
        problems = []
        names = sorted({op for per in self.ops.values() for op in per})
        for op in names:
            seen = {m: per[op].digests for m, per in self.ops.items() if op in per}
            flat = {d for ds in seen.values() for d in ds}
            if reference and op in reference:
                flat.add(reference[op])
            if len(flat) > 1:
                problems.append(f"{op}: values differ: " + "; ".join(f"{m} {sorted(map(str, d))}"
                                                                    for m, d in seen.items()))
        return problems

    def best(self, op: str) -> float | None:
        times = [r.best for m in self.methods if (r := self.op(m, op)) is not None]
        return min(times) if times else None

    def ratio(self, method: str, op: str, other: str, cpu: bool = False) -> float | None:
        """seconds (or CPU seconds) of ``method`` / those of ``other`` (best runs) for ``op``."""
        a, b = self.op(method, op), self.op(other, op)
        if not a or not b:
            return None
        if cpu:
            return a.best_cpu / b.best_cpu if a.best_cpu and b.best_cpu else None
        return a.best / b.best


class Suite:
    """The methods of one benchmark script and how to run them in child processes."""

    def __init__(self, script: str, methods: dict[str, Method], timeout_s: float = 1800.0) -> None:
        self.script = str(Path(script).resolve())
        self.methods = methods
        self.timeout_s = timeout_s

    def run(self, params: dict[str, Any], names: Iterable[str] | None = None, rounds: int = 1,
            env: dict[str, str] | None = None, progress: bool = True) -> Results:
        """Every method ``rounds`` times, each run a fresh process, round robin (each method leads in turn)."""
        order = list(names or self.methods)
        results = Results(order)
        for round_index in range(rounds):
            shift = round_index % len(order)
            for name in order[shift:] + order[:shift]:
                if name in results.errors:
                    continue
                outcome = self._child(name, params, env)
                if not outcome.get("ok"):
                    results.errors[name] = outcome.get("error", "no result")
                    print(f"  round {round_index + 1}/{rounds} {name}: ERROR {results.errors[name]}", flush=True)
                    continue
                per = results.ops.setdefault(name, {})
                for op, t in outcome["ops"].items():
                    r = per.setdefault(op, OpResult())
                    r.seconds += t["seconds"]
                    r.cpu += t.get("cpu", [])
                    r.digests.add(t["digest"])
                    r.nbytes, r.count = t["nbytes"], t["count"]
                    r.peak_rss_mb = max(r.peak_rss_mb, t["peak_rss_mb"])
                    r.extra.update(t["extra"])
                if progress:
                    summary = ", ".join(f"{op} {min(t['seconds']):.3f} s" for op, t in outcome["ops"].items())
                    print(f"  round {round_index + 1}/{rounds} {name}: {summary}", flush=True)
        return results

    def run_one(self, name: str, params: dict[str, Any], env: dict[str, str] | None = None) -> dict[str, Any]:
        """One fresh process running method ``name``: ``{"ok": True, "ops": {op: timing}}`` or ``{"ok": False,
        "error": ...}`` (for scripts that must do something between two processes, e.g. count requests)."""
        return self._child(name, params, env)

    def _child(self, name: str, params: dict[str, Any], env: dict[str, str] | None) -> dict[str, Any]:
        command = [sys.executable, self.script, "--child", name, "--params", json.dumps(params)]
        child_env = {**os.environ, **(env or {})}
        child_env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), child_env.get("PYTHONPATH", "")) if p)
        try:
            proc = subprocess.run(command, capture_output=True, text=True, timeout=self.timeout_s, cwd=REPO,
                                  env=child_env)
        except subprocess.TimeoutExpired:
            return {"ok": False, "error": f"timed out after {self.timeout_s:.0f} s"}
        lines = [line for line in proc.stdout.splitlines() if line.startswith(RESULT_TAG)]
        if not lines:
            tail = " | ".join(proc.stderr.strip().splitlines()[-3:])
            return {"ok": False, "error": f"child exited {proc.returncode} without a result: {tail}"}
        return dict(json.loads(lines[-1][len(RESULT_TAG):]))


# --------------------------------------------------------------------------- data and report


def smooth_field(rng: np.random.Generator, shape: tuple[int, int], sigma_px: float) -> np.ndarray:
    """Gaussian-filtered white noise (via FFT), rescaled to [0, 1]."""
    noise = rng.standard_normal(shape)
    ky = np.fft.fftfreq(shape[0])[:, None]
    kx = np.fft.rfftfreq(shape[1])[None, :]
    kernel = np.exp(-2.0 * (np.pi * sigma_px) ** 2 * (kx**2 + ky**2))
    field_ = np.fft.irfft2(np.fft.rfft2(noise) * kernel, s=shape)
    return (field_ - field_.min()) / (field_.max() - field_.min())


class Report:
    """Collects printed lines so they can also be written to the results file."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def emit(self, line: str = "") -> None:
        print(line, flush=True)
        self.lines.append(line)

    def save(self, name: str | Path) -> Path:
        path = RESULTS / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("\n".join(self.lines) + "\n")
        return path


def table(results: Results, op: str, *, labels: dict[str, str] | None = None, rate: str | None = None,
          extra: Sequence[tuple[str, Callable[[OpResult], str]]] = ()) -> list[str]:
    """One operation: a row per method with best and median seconds, MB/s (and ``rate``/s when the operation
    counts items), ratio to the best method, peak RSS; then ``extra`` columns."""
    labels = labels or {}
    best = results.best(op)
    width = max([len(labels.get(m, m)) for m in results.methods] + [6])
    head = f"{'method':<{width}} {'seconds':>8} {'median':>8} {'MB/s':>7}"
    if rate:
        head += f" {rate + '/s':>9}"
    head += f" {'x best':>7} {'CPU s':>7} {'peak RSS MB':>11}" + "".join(f" {name:>12}" for name, _ in extra)
    lines = [head]
    for method in results.methods:
        label = labels.get(method, method)
        if method in results.errors:
            lines.append(f"{label:<{width}} ERROR {results.errors[method]}")
            continue
        r = results.op(method, op)
        if r is None:
            continue
        mbs = f"{r.nbytes / 1e6 / r.best:7.0f}" if r.nbytes else f"{'-':>7}"
        line = f"{label:<{width}} {r.best:8.3f} {r.median:8.3f} {mbs}"
        if rate:
            line += f" {r.count / r.best:9.1f}" if r.count else f" {'-':>9}"
        cpu = f"{r.best_cpu:7.3f}" if r.best_cpu is not None else f"{'-':>7}"
        line += f" {r.best / best:7.2f} {cpu} {r.peak_rss_mb:11.0f}" if best else ""
        line += "".join(f" {fn(r):>12}" for _, fn in extra)
        lines.append(line)
    return lines


def header(argv: Sequence[str], rounds: int, notes: Iterable[str] = ()) -> list[str]:
    command = " ".join(shlex.quote(a) for a in [os.path.relpath(sys.executable), *argv])
    now = datetime.datetime.now().astimezone().isoformat(timespec="seconds")
    return [f"# command: {command}",
            f"# date: {now}; load average at start {' '.join(f'{x:.2f}' for x in os.getloadavg())}",
            f"# each method in a fresh process per round, {rounds} round(s), round robin; seconds = best run, "
            "median = median run; MB = 1e6 bytes uncompressed; x best = seconds / the fastest method's seconds; "
            "CPU s = least process CPU seconds (all threads) of a run: on a shared machine less disturbed than wall "
            "time; peak RSS = the process's high-water mark during the operation",
            *(f"# {note}" for note in notes)]


def machine_line(modules: Iterable[str] = ()) -> str:
    """Cores, platform, versions of the libraries compared, and the git commit measured."""
    versions = [f"python {platform.python_version()}", f"numpy {np.__version__}"]
    from importlib.metadata import PackageNotFoundError, version

    for name in ("zarr", "numcodecs", "dask", *modules):
        try:
            versions.append(f"{name} {version(name.replace('_', '-'))}")
        except PackageNotFoundError:
            versions.append(f"{name} (not installed)")
    try:
        head = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(REPO), "status", "--porcelain", "--", "nwbzarr_image"],
                               capture_output=True, text=True, check=True).stdout.strip()
        commit = f"{head}{' + uncommitted changes in nwbzarr_image/' if dirty else ''}"
    except (OSError, subprocess.CalledProcessError):
        commit = "unknown"
    return (f"machine: nproc {os.cpu_count()} (usable {len(os.sched_getaffinity(0))}); {platform.machine()} "
            f"{platform.system()} {platform.release()}; {'; '.join(versions)}; git {commit}; load average at end "
            f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}")


def common_args(parser: argparse.ArgumentParser, rounds: int) -> None:
    """--quick, --rounds, --only (and the hidden child arguments)."""
    parser.add_argument("--quick", action="store_true", help="tiny data and one round (the test suite runs this)")
    parser.add_argument("--rounds", type=int, default=None, help=f"rounds of one process per method (default "
                        f"{rounds}; 1 with --quick)")
    parser.add_argument("--only", action="append", default=None, help="run only this method (repeatable)")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--params", default=None, help=argparse.SUPPRESS)
