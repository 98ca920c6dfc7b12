"""The repository itself: the README's main job runs, lint and the import-layer contract hold."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import nwbzarr_image as nzi

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def test_example_writes_and_reads_back(tmp_path: Path) -> None:
    out = tmp_path / "example.nwb.zarr"
    result = subprocess.run([sys.executable, str(ROOT / "examples/write_and_read.py"), str(out)],
                            capture_output=True, text=True, check=True)
    assert "frame 123 read back equal" in result.stdout
    series = nzi.read(str(out)).acquisition["imaging"]
    assert series.data.shape == (300, 256, 256) and series.rate == 30.0


def _readme_blocks() -> list[str]:
    return re.findall(r"```(?:bash|sh)\n(.*?)```", (ROOT / "README.md").read_text(), flags=re.S)


def test_readme_main_job_runs(tmp_path: Path) -> None:
    """The README's first command, after its install step, run as written (with this venv's bin)."""
    steps = [s.strip() for s in _readme_blocks()[0].strip().split("&&")]
    assert steps[0] == "python3 -m venv .venv" and steps[1].startswith(".venv/bin/pip install -e ")
    for step in steps[2:]:
        argv = step.split()
        argv[0] = str(BIN / argv[0].removeprefix(".venv/bin/"))
        argv = [str(ROOT / a) if a.startswith("examples/") else a for a in argv]
        result = subprocess.run(argv, cwd=tmp_path, capture_output=True, text=True)
        assert result.returncode == 0, f"{step}: {result.stderr}"
    assert "ImageSeries" in result.stdout and "compression" in result.stdout
    series = nzi.read(str(tmp_path / "sample.nwb.zarr")).acquisition["sample"]
    assert series.data.shape == (150, 240, 320, 3) and series.rate == 30.0


def test_readme_starts_with_the_two_setup_commands() -> None:
    blocks = _readme_blocks()
    assert "nwbzarr-image convert" in blocks[0] and "nwbzarr-image info" in blocks[0]
    assert 'pip install -e ".[test]"' in blocks[1] and "pytest" in blocks[1]
    ci = (ROOT / ".ci/run").read_text()
    assert blocks[1].strip().splitlines()[-1].strip() in ci


@pytest.mark.parametrize("tool", [["ruff", "check", "nwbzarr_image", "tests", "benchmarks", "examples"],
                                  ["lint-imports"]], ids=["ruff", "import-layers"])
def test_code_quality(tool: list[str]) -> None:
    exe = BIN / tool[0]
    assert exe.exists() or shutil.which(tool[0]), f"{tool[0]} is a test dependency; install '.[test]'"
    result = subprocess.run([str(exe if exe.exists() else tool[0]), *tool[1:]], cwd=ROOT, capture_output=True,
                            text=True)
    assert result.returncode == 0, result.stdout + result.stderr
