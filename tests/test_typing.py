"""Types: the package ships ``py.typed`` and mypy passes on it, strict for the model and the layout."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STRICT_CODES = {"no-untyped-def", "no-any-return", "no-untyped-call", "type-arg"}
PROBE = '''\
from typing import Any


def untyped(x):
    return x


def generic(values: list) -> int:
    return len(values)


def returns_any(value: Any) -> int:
    untyped(1)
    return value
'''


def _mypy(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mypy", *args], cwd=cwd, capture_output=True, text=True)


def test_mypy_passes_on_the_package() -> None:
    result = _mypy(cwd=ROOT)  # the repo's [tool.mypy]: packages = ["nwbzarr_image"]
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Success: no issues found" in result.stdout


def test_model_and_layout_are_strict_and_nothing_else(tmp_path: Path) -> None:
    """The repo's mypy config on a probe package: the strict checks fire in model/ and layout/ only.

    (mypy applies ``strict = true`` to every module even inside an override, so the config lists the flags.)
    """
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    package = tmp_path / "nwbzarr_image"
    for sub in ("model", "layout"):
        (package / sub).mkdir(parents=True)
        (package / sub / "__init__.py").write_text("")
        (package / sub / "probe.py").write_text(PROBE)
    (package / "__init__.py").write_text("")
    (package / "outer.py").write_text(PROBE)
    result = _mypy(cwd=tmp_path)
    codes: dict[str, set[str]] = {}
    for line in result.stdout.splitlines():
        if ": error: " in line:
            codes.setdefault(line.split(":")[0], set()).add(line.rsplit("[", 1)[1].rstrip("]"))
    assert codes == {"nwbzarr_image/model/probe.py": STRICT_CODES, "nwbzarr_image/layout/probe.py": STRICT_CODES}, \
        result.stdout


def test_py_typed_is_shipped() -> None:
    assert (ROOT / "nwbzarr_image" / "py.typed").is_file()
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "py.typed" in config["tool"]["setuptools"]["package-data"]["nwbzarr_image"]
    assert any(dep.startswith("mypy") for dep in config["project"]["optional-dependencies"]["test"])
