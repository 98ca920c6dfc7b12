"""Every warning of the library points at the caller's line (here: this file), from the read path, from dask
tasks (computed in this thread or in worker threads) and from the model; one helper emits them all."""

from __future__ import annotations

import ast
import json
import sys
import warnings
from datetime import datetime
from pathlib import Path

import dask
import h5py
import numpy as np
import pytest
from builders import edit_metadata
from hdf5_helpers import PYNWB, write_h5

import nwbzarr_image as nzi

PACKAGE = Path(nzi.__file__).parent


def _places(caught: list[warnings.WarningMessage], category: type[Warning]) -> tuple[set[tuple[str, int]], str]:
    """Where the warnings of ``category`` point, and their messages joined."""
    mine = [w for w in caught if isinstance(w.message, category)]
    return {(w.filename, w.lineno) for w in mine}, " | ".join(str(w.message) for w in mine)


def test_missing_consolidated_metadata_warns_at_the_read_call(good: Path) -> None:
    meta = json.loads((good / "zarr.json").read_text())
    meta.pop("consolidated_metadata")
    (good / "zarr.json").write_text(json.dumps(meta))
    with pytest.warns(nzi.PerformanceWarning) as caught:
        line = _line() + 1
        nwb = nzi.read(str(good))
    places, messages = _places(caught.list, nzi.PerformanceWarning)
    assert places == {(__file__, line)}
    assert "no consolidated metadata" in messages and "vid" in nwb.acquisition


def test_a_damaged_file_warns_at_the_read_call(good: Path) -> None:
    edit_metadata(good, "acquisition/vid/starting_time", lambda m: m["attributes"].update(rate="fast"))
    with pytest.warns(nzi.InvalidFileWarning) as caught:
        line = _line() + 1
        nzi.read(str(good))
    places, messages = _places(caught.list, nzi.InvalidFileWarning)
    assert places == {(__file__, line)}
    assert "attribute 'rate' must be a number; got 'fast'" in messages


@pytest.mark.parametrize("scheduler", ["sync", "threads"])
def test_a_missing_chunk_warns_at_the_compute_call(good: Path, scheduler: str) -> None:
    (good / "acquisition/vid/data/c.0.0.0").unlink()
    data = nzi.read(str(good)).acquisition["vid"].data
    with pytest.warns(nzi.MissingChunkWarning) as caught, dask.config.set(scheduler=scheduler):
        line = _line() + 1
        values = data.compute()
    places, messages = _places(caught.list, nzi.MissingChunkWarning)
    assert places == {(__file__, line)} and "c.0.0.0 are not stored" in messages
    assert not values.any()  # the fill value


def test_a_missing_chunk_read_by_indexing_warns_at_the_indexing_line(good: Path) -> None:
    (good / "acquisition/vid/data/c.0.0.0").unlink()
    data = nzi.read(str(good)).acquisition["vid"].data
    with pytest.warns(nzi.MissingChunkWarning) as caught:
        line = _line() + 1
        frame = np.asarray(data[0])
    places, messages = _places(caught.list, nzi.MissingChunkWarning)
    assert places == {(__file__, line)} and "c.0.0.0 are not stored" in messages
    assert frame.shape == data.shape[1:] and not frame.any()


def test_a_damaged_hdf5_file_warns_at_the_read_call_though_h5py_runs_in_its_own_thread(tmp_path: Path) -> None:
    path = write_h5(PYNWB.new_file(), tmp_path / "f.nwb")
    with h5py.File(path, "r+") as h:
        h["acquisition"]["elsewhere"] = h5py.ExternalLink("other.nwb", "/acquisition/x")
    with pytest.warns(nzi.InvalidFileWarning) as caught:
        line = _line() + 1
        nwb = nzi.read(str(path))
    places, messages = _places(caught.list, nzi.InvalidFileWarning)
    assert places == {(__file__, line)}
    assert "/acquisition/elsewhere: an external link to other.nwb:/acquisition/x is left out" in messages
    assert "elsewhere" not in nwb.acquisition


def test_a_model_rule_warns_at_the_constructor_call() -> None:
    with pytest.warns(nzi.NWBRuleWarning) as caught:
        line = _line() + 1
        nwb = nzi.NWBFile("s", "id", datetime(2024, 1, 2, 3, 4, 5))
    places, messages = _places(caught.list, nzi.NWBRuleWarning)
    assert places == {(__file__, line)}
    assert "has no time zone" in messages and nwb.session_start_time.tzinfo is not None


def test_a_rule_checked_deep_in_the_model_warns_at_the_constructor_call() -> None:
    with pytest.warns(nzi.NWBRuleWarning) as caught:
        line = _line() + 1
        nzi.TimeSeries("t", np.zeros(3), "m", rate=0.0)
    places, messages = _places(caught.list, nzi.NWBRuleWarning)
    assert places == {(__file__, line)}
    assert "rate of 0.0 Hz" in messages


def _line() -> int:
    """The caller's line number."""
    return sys._getframe(1).f_lineno


def _calls_warnings_warn(tree: ast.AST) -> list[int]:
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Attribute) and func.attr in ("warn", "warn_explicit") and \
                    isinstance(func.value, ast.Name) and func.value.id == "warnings":
                lines.append(node.lineno)
        if isinstance(node, ast.ImportFrom) and node.module == "warnings" and \
                any(alias.name in ("warn", "warn_explicit") for alias in node.names):
            lines.append(node.lineno)
    return lines


def test_only_the_helper_calls_warnings_warn() -> None:
    offenders = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        lines = _calls_warnings_warn(ast.parse(path.read_text(), str(path)))
        if lines and path != PACKAGE / "errors.py":
            offenders[str(path.relative_to(PACKAGE))] = lines
    assert offenders == {}, "emit warnings with nwbzarr_image.errors.warn(...)"
    assert _calls_warnings_warn(ast.parse((PACKAGE / "errors.py").read_text()))  # the helper itself
