"""zarr-python's internals are used in one module, behind a check of the installed zarr version."""

from __future__ import annotations

import ast
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import zarr

import nwbzarr_image as nzi
from nwbzarr_image.storage import zarr_compat

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = Path(nzi.__file__).parent
COMPAT = PACKAGE / "storage" / "zarr_compat.py"


@pytest.mark.parametrize("version", ["3.4.0", "3.4.2", "3.12.1", "3.4.3.dev2+g0123abc"])
def test_supported_zarr_versions_pass(version: str) -> None:
    zarr_compat.check_version(version)  # no error: the gate lets these through


@pytest.mark.parametrize("version", ["3.3.9", "4.0.0", "4.0.0a1", "2.18.3", "unknown"])
def test_other_zarr_versions_are_our_error_naming_the_requirement(version: str) -> None:
    with pytest.raises(nzi.MissingDependencyError, match=rf"zarr '{version}'.*expected zarr>=3\.4,<4, got "
                                                         rf"{version}\. .*pip install 'zarr>=3\.4,<4'"):
        zarr_compat.check_version(version)


def test_importing_the_library_with_an_unsupported_zarr_fails_with_the_fix() -> None:
    code = "import zarr; zarr.__version__ = '4.0.0'; import nwbzarr_image"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 1
    last = result.stderr.strip().splitlines()[-1]
    assert last == ("nwbzarr_image.errors.MissingDependencyError: zarr '4.0.0': this zarr-python version is not "
                    "supported; expected zarr>=3.4,<4, got 4.0.0. Install a supported one: pip install "
                    "'zarr>=3.4,<4'.")


def test_the_installed_zarr_and_the_declared_requirement_match_the_gate() -> None:
    zarr_compat.check_version(zarr.__version__)
    dependencies = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    assert zarr_compat.REQUIREMENT in dependencies


def _zarr_internals(tree: ast.AST) -> list[str]:
    """The zarr internals a module imports or reaches: ``zarr.core`` and private modules (``zarr.storage._x``)."""
    def internal(name: str) -> bool:
        parts = name.split(".")
        return parts[0] == "zarr" and len(parts) > 1 and (parts[1] == "core" or any(p.startswith("_")
                                                                                     for p in parts[1:]))

    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names if internal(alias.name)]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found += [node.module] if internal(node.module) else []
            found += [f"{node.module}.{a.name}" for a in node.names
                      if node.module == "zarr" and (a.name == "core" or a.name.startswith("_"))]
        elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "zarr" and \
                (node.attr == "core" or node.attr.startswith("_")):
            found.append(f"zarr.{node.attr}")
    return found


def test_only_the_compat_module_uses_zarr_internals() -> None:
    found = {str(path.relative_to(PACKAGE)): names for path in sorted(PACKAGE.rglob("*.py"))
             if path != COMPAT and (names := _zarr_internals(ast.parse(path.read_text(), str(path))))}
    assert found == {}, "use zarr's public API, or add what is missing to storage/zarr_compat.py"
    assert "zarr.core.sync" in _zarr_internals(ast.parse(COMPAT.read_text()))  # the check sees imports


def test_the_check_sees_every_way_to_reach_an_internal() -> None:
    source = ("import zarr.core.sync\nfrom zarr.core.buffer import Buffer\nfrom zarr import core\n"
              "from zarr.storage._fsspec import _make_async\nimport zarr\nzarr.core.sync.sync(None)\n"
              "from zarr.storage import LocalStore\nfrom zarr.abc.store import Store\n")
    assert _zarr_internals(ast.parse(source)) == ["zarr.core.sync", "zarr.core.buffer", "zarr.core",
                                                  "zarr.storage._fsspec", "zarr.core"]
