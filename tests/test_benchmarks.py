"""Every benchmark runs in its --quick mode (tiny data, one round) and prints its table: a broken benchmark
fails here, not on the day its numbers are needed. Nothing is timed: only the exit code and the table."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

# script -> names that its table must show (method names, as printed)
EXPECTED = {
    "bench_dask.py": ["ours", "raw-zarr", "hdmf-zarr", "== mean projection"],
    "bench_write.py": ["raw-zarr", "zarrs", "tensorstore", "codec-alone", "hdmf-zarr-array", "hdmf-zarr-dci",
                       "ours-array", "ours-iterator", "fastest other writer"],
    "bench_remote.py": ["ours nzi.read", "hdmf-zarr NWBZarrIO", "ours-v3", "hdmf-v3", "legacy-v2"],
    "bench_codecs.py": ["zstd L0 (default)", "blosc-zstd L3 shuffle", "RECOMMENDED"],
    "bench_external.py": ["external chunk 32", "internal (ours)", "pyav alone"],
    "bench_read.py": ["ours", "zarr-python", "zarrs", "tensorstore", "ours-http", "zarr-python-http",
                      "tensorstore-http", "-- full read to numpy", "-- HTTP playback",
                      "every method returned byte-identical values"],
    "bench_hdf5.py": ["== convert tiny", "hdmf-zarr", "== remote tiny: first frame", "pynwb-fsspec", "random frames",
                      "pynwb-blockcache", "pynwb-remfile", "second open"],
    "bench_scale.py": ["ours default", "raw-zarr c2 s32", "hdmf-zarr", "obj. 200 GB", "== 2. open many.nwb.zarr",
                       "ours http many", "hdmf-zarr http external", "frame ours"],
}


def run_quick(script: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run([sys.executable, str(REPO / "benchmarks" / script), "--quick"], capture_output=True,
                          text=True, cwd=REPO, env=env, timeout=600)


@pytest.mark.parametrize("script", sorted(EXPECTED))
def test_quick_run_exits_0_and_prints_its_table(script: str) -> None:
    result = run_quick(script)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    for name in EXPECTED[script]:
        assert name in result.stdout, f"{name!r} missing from the output of {script} --quick:\n{result.stdout}"
    assert "MISMATCH" not in result.stdout and "FAILED" not in result.stdout


def test_every_benchmark_script_is_run_here() -> None:
    scripts = {p.name for p in (REPO / "benchmarks").glob("bench_*.py")}
    assert scripts == set(EXPECTED)
