"""nwbzarr-image validate: good files pass; each kind of corruption is reported with its path, exit 1."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from builders import edit_metadata

import nwbzarr_image as nzi
from nwbzarr_image.validate import validate

FIXTURES = Path(__file__).parent / "fixtures" / "legacy_v2"
EXE = str(Path(sys.executable).parent / "nwbzarr-image")


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([EXE, "validate", *args], capture_output=True, text=True)


def test_good_files_are_valid(good: Path) -> None:
    result = _run(str(good), "--deep", "--strict")
    assert result.returncode == 0 and result.stdout.strip() == "valid: no error found"
    assert validate(str(FIXTURES / "images_pickle.nwb.zarr")) == []


def test_a_pynwb_file_is_valid(tmp_path: Path) -> None:
    from hdmf_zarr.nwb import NWBZarrIO
    from interop_helpers import Lib, build_rich

    path = tmp_path / "pynwb.nwb.zarr"
    with NWBZarrIO(str(path), mode="w") as io:
        io.write(build_rich(Lib("pynwb")))
    result = _run(str(path))
    assert result.returncode == 0, result.stdout
    assert [p for p in validate(str(path)) if p.severity == "error"] == []


def _drop_unit(meta: dict) -> None:
    del meta["attributes"]["unit"]


def _two_dimensional(meta: dict) -> None:
    meta["shape"], meta["chunk_grid"]["configuration"]["chunk_shape"] = [30, 4], [30, 4]


def _bad_device_link(meta: dict) -> None:
    meta["attributes"]["_LINKS"] = [{"source": ".", "path": "/general/devices/gone", "name": "device"}]


def _negative_rate(meta: dict) -> None:
    meta["attributes"]["rate"] = -30.0


@pytest.mark.parametrize(("key", "change", "path", "fragment"), [
    ("acquisition/vid/data", _drop_unit, "/acquisition/vid", "data has no 'unit' attribute"),
    ("acquisition/vid/data", _two_dimensional, "/acquisition/vid", "data has shape (30, 4)"),
    ("acquisition/vid", _bad_device_link, "/acquisition/vid", "link 'device' points to '/general/devices/gone'"),
    ("acquisition/vid/starting_time", _negative_rate, "/acquisition/vid", "rate must not be a negative value"),
], ids=["missing-unit", "wrong-shape", "broken-link", "negative-rate"])
def test_corruption_is_reported_with_its_path(good: Path, key, change, path, fragment) -> None:
    edit_metadata(good, key, change)
    result = _run(str(good))
    assert result.returncode == 1
    lines = [line for line in result.stdout.splitlines() if line.startswith("ERROR")]
    assert any(line.startswith(f"ERROR {path}") and fragment in line for line in lines), result.stdout
    assert result.stdout.strip().splitlines()[-1].startswith("invalid: ")


def test_a_reference_to_a_missing_image(good: Path) -> None:
    key = good / "stimulus/templates/templates/order_of_images/zarr.json"
    meta = json.loads(key.read_text())
    meta["fill_value"] = "/stimulus/templates/templates/nothing"  # the stored chunk still holds real paths
    (good / "stimulus/templates/templates/gray").rename(good / "stimulus/templates/templates/moved")
    nzi.consolidate(str(good))
    problems = validate(str(good))
    assert any(p.path.endswith("order_of_images") and "'/stimulus/templates/templates/gray' does not point to an "
               "image" in p.message for p in problems), problems


def test_missing_and_truncated_chunks(good: Path) -> None:
    chunk = good / "acquisition/stack/data/c.0.0.0.0"
    chunk.unlink()
    result = _run(str(good))
    assert result.returncode == 0 and "WARNING /acquisition/stack/data: chunk c.0.0.0.0 is not stored" in result.stdout
    assert _run(str(good), "--strict").returncode == 1
    data = good / "acquisition/vid/data/c.0.0.0"
    data.write_bytes(data.read_bytes()[:10])
    result = _run(str(good), "--deep")
    assert result.returncode == 1
    assert "ERROR /acquisition/vid/data: chunk c.0.0.0 cannot be decoded" in result.stdout


def test_an_unreadable_file(tmp_path: Path) -> None:
    result = _run(str(tmp_path / "missing.nwb.zarr"))
    assert result.returncode == 1 and "ERROR /: cannot be read: read: no Zarr group at" in result.stdout
