"""Links are checked against the type NWB requires of their target: a wrong or broken one is dropped with an
InvalidFileWarning naming both paths (strict=True raises), validate reports an ERROR, and every command keeps
working on the rest of the file."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
from builders import full_file

import nwbzarr_image as nzi
from nwbzarr_image.preview import preview
from nwbzarr_image.validate import validate
from nwbzarr_image.viewer.app import ViewerApp


def _set_link(path: Path, group: str, name: str, target: str, source: str = ".") -> None:
    """Point link ``name`` of ``group`` at ``target``, in its zarr.json and the consolidated copy."""
    own = path / group / "zarr.json"
    meta = json.loads(own.read_text())
    links = [link for link in meta["attributes"].get("_LINKS", []) if link["name"] != name]
    meta["attributes"]["_LINKS"] = [*links, {"name": name, "path": target, "source": source}]
    own.write_text(json.dumps(meta))
    root = json.loads((path / "zarr.json").read_text())
    root["consolidated_metadata"]["metadata"][group] = meta
    (path / "zarr.json").write_text(json.dumps(root))


CASES = {
    "device-to-series": ("acquisition/vid", "device", "/acquisition/stack", "Device"),
    "device-to-images": ("acquisition/vid", "device", "/stimulus/templates/templates", "Device"),
    "data-to-device": ("acquisition/dff", "data", "/general/devices/cam/data", "TimeSeries"),
    "data-to-images": ("acquisition/dff", "data", "/stimulus/templates/templates/data", "TimeSeries"),
    "timestamps-to-device": ("acquisition/dff", "timestamps", "/general/devices/cam/timestamps", "TimeSeries"),
    "indexed-images-to-series": ("stimulus/presentation/shown", "indexed_images", "/acquisition/vid", "Images"),
    "masked-to-device": ("acquisition/mask", "masked_imageseries", "/general/devices/cam", "ImageSeries"),
    "masked-to-missing": ("acquisition/mask", "masked_imageseries", "/acquisition/nothing", None),
    "device-to-other-file": ("acquisition/vid", "device", "/general/devices/cam", None),
}


def _damaged(tmp_path: Path, case: str) -> tuple[Path, str, str, str]:
    path = tmp_path / "f.nwb.zarr"
    nzi.write(full_file(), str(path))
    group, name, target, _ = CASES[case]
    if name == "data":  # the series holds no data of its own: only the link
        shutil.rmtree(path / group / "data")
        root = json.loads((path / "zarr.json").read_text())
        del root["consolidated_metadata"]["metadata"][f"{group}/data"]
        (path / "zarr.json").write_text(json.dumps(root))
    _set_link(path, group, name, target, "../other.nwb.zarr" if case == "device-to-other-file" else ".")
    return path, group, name, target


@pytest.mark.parametrize("case", list(CASES))
def test_a_link_to_the_wrong_type_or_nowhere_is_dropped_and_the_rest_works(tmp_path: Path, case: str) -> None:
    path, group, name, target = _damaged(tmp_path, case)
    expected = CASES[case][3]
    with pytest.warns(nzi.InvalidFileWarning) as caught:
        nwb = nzi.read(str(path))
    messages = [str(w.message) for w in caught if isinstance(w.message, nzi.InvalidFileWarning)]
    shown = target.rsplit("/", 1)[0] if name in ("data", "timestamps") else target
    assert any(f"link '{name}'" in m and shown in m and f"/{group}" in m for m in messages), messages
    if expected is not None:
        assert any(f"expected a {expected}" in m for m in messages), messages
    _assert_dropped(getattr(_find(nwb, group), name))
    with pytest.raises(nzi.SchemaError, match=f"link '{name}'"):
        nzi.read(str(path), strict=True)
    problems = validate(str(path))
    assert any(p.severity == "error" and f"link '{name}'" in p.message for p in problems), problems
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", nzi.NWBZarrImageWarning)
        np.testing.assert_array_equal(nzi.read(str(path)).acquisition["stack"].data.compute(),
                                      full_file().acquisition["stack"].data)
        assert preview(str(path), "vid").describe()
        app = ViewerApp(nzi.read(str(path)), str(path))
        assert app.listing() and app.frame("/acquisition/vid", 0)[0][:4] == b"\x89PNG"
        copy = tmp_path / "copy.nwb.zarr"
        nzi.write(nzi.read(str(path)), str(copy))
        again = nzi.read(str(copy))
        _assert_dropped(getattr(_find(again, group), name))
        np.testing.assert_array_equal(again.acquisition["vid"].data.compute(), full_file().acquisition["vid"].data)
        with nzi.open(str(path), "a") as bound:
            bound.add_acquisition(nzi.ImageSeries("added", np.zeros((2, 3, 3), np.uint8), "n.a.", rate=1.0))
        assert "added" in nzi.read(str(path)).acquisition
    info = subprocess.run([sys.executable, "-c", "import sys; from nwbzarr_image.cli import main; "
                           "sys.exit(main(sys.argv[1:]))", "info", str(path)], capture_output=True, text=True,
                          timeout=300)
    assert info.returncode == 0 and "Traceback" not in info.stderr, info.stderr


def _assert_dropped(value: object) -> None:
    """The link's field holds nothing (a series whose data link is dropped reads as having no frames)."""
    assert value is None or getattr(value, "size", None) == 0, value


def _find(nwb: nzi.NWBFile, group: str) -> object:
    top, *rest = group.split("/")
    if top == "stimulus":
        return nwb.stimulus[rest[-1]]
    return nwb.acquisition[rest[-1]]


def test_a_series_missing_from_stale_consolidated_metadata_is_previewed_by_name_and_path(tmp_path: Path) -> None:
    path = tmp_path / "f.nwb.zarr"
    nzi.write(full_file(), str(path))
    root = json.loads((path / "zarr.json").read_text())
    entries = root["consolidated_metadata"]["metadata"]
    for key in [k for k in entries if k.startswith("acquisition/vid")]:
        del entries[key]
    (path / "zarr.json").write_text(json.dumps(root))
    for name in ("vid", "/acquisition/vid", "acquisition/vid"):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            shown = preview(str(path), name)
        assert "/acquisition/vid" in shown.describe()
        assert any("/acquisition/vid is in the store but not in the file's consolidated metadata" in str(w.message)
                   for w in caught), [str(w.message) for w in caught]
