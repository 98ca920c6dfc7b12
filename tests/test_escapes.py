"""Nothing outside the store is read: no absolute or climbing key from any metadata, no symlink out of a local
store (chunks, arrays, groups), and ``write(read(x), y)`` never copies an outside byte."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from builders import full_file

import nwbzarr_image as nzi
from nwbzarr_image.preview import preview

FIXTURES = Path(__file__).parent / "fixtures" / "legacy_v2"


def _outside(tmp_path: Path) -> Path:
    """Another file, outside the attacked one (what an escape would read)."""
    other = tmp_path / "outside" / "other.nwb.zarr"
    other.parent.mkdir()
    nzi.write(full_file(), str(other))
    return other


@pytest.fixture
def pair(tmp_path: Path) -> tuple[Path, Path]:
    mine = tmp_path / "mine" / "f.nwb.zarr"
    mine.parent.mkdir()
    nzi.write(full_file(), str(mine))
    return mine, _outside(tmp_path)


def _absolute_v2(tmp_path: Path, prefix: str) -> Path:
    store = tmp_path / "v2.nwb.zarr"
    shutil.copytree(FIXTURES / "images_json.nwb.zarr", store)
    consolidated = json.loads((store / ".zmetadata").read_text())
    consolidated["metadata"] = {(f"{prefix}{key}" if "acquisition" in key else key): value
                                for key, value in consolidated["metadata"].items()}
    (store / ".zmetadata").write_text(json.dumps(consolidated))
    return store


@pytest.mark.parametrize("prefix", ["/", "/../", "stimulus/../../", "%2e%2e/", "\\\\"],
                         ids=["absolute", "absolute-climb", "climb", "encoded-climb", "backslash"])
def test_keys_leaving_the_store_in_consolidated_v2_metadata_are_refused(tmp_path: Path, prefix: str) -> None:
    store = _absolute_v2(tmp_path, prefix)
    with pytest.raises(nzi.LayoutError, match=r"asks for the key '.*acquisition.*', which leaves the store"):
        nzi.read(str(store))
    with pytest.raises(nzi.LayoutError, match="leaves the store"):
        nzi.read(str(store)).acquisition  # noqa: B018
    assert not (tmp_path / "copy.nwb.zarr").exists()


def test_keys_leaving_the_store_in_consolidated_v3_metadata_are_refused(pair: tuple[Path, Path]) -> None:
    mine, other = pair
    root = json.loads((mine / "zarr.json").read_text())
    entries = root["consolidated_metadata"]["metadata"]
    original = json.dumps(root)
    for key in (f"{other}/acquisition/vid/data", "acquisition/../../outside/other.nwb.zarr/acquisition/vid/data",
                "/acquisition/vid/data"):
        changed = json.loads(original)
        changed["consolidated_metadata"]["metadata"][key] = entries["acquisition/vid/data"]
        (mine / "zarr.json").write_text(json.dumps(changed))
        with pytest.raises(nzi.LayoutError, match=f"asks for the key '{key}', which leaves the store"):
            nzi.read(str(mine))


def test_a_store_object_given_to_read_is_guarded_too(tmp_path: Path) -> None:
    import zarr

    store = _absolute_v2(tmp_path, "/")
    with pytest.raises(nzi.LayoutError, match="leaves the store"):
        nzi.read(zarr.storage.LocalStore(str(store), read_only=True))


def _link(path: Path, target: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path)
    else:
        path.unlink()
    path.symlink_to(target, target_is_directory=target.is_dir())


@pytest.mark.parametrize("what", ["chunk", "array", "group"])
def test_symlinks_out_of_the_store_are_not_followed(pair: tuple[Path, Path], tmp_path: Path, what: str) -> None:
    mine, other = pair
    relative = {"chunk": "acquisition/vid/data/c.0.0.0", "array": "acquisition/vid/data",
                "group": "acquisition/vid"}[what]
    assert (mine / relative).exists() and (other / relative).exists()
    _link(mine / relative, other / relative)
    nwb = nzi.read(str(mine))
    message = rf"{relative.split('/c.')[0]}.* is a symbolic link to {other}.*outside the store's directory"
    with pytest.raises(nzi.LayoutError, match=message):
        nwb.acquisition["vid"].data.compute()
    np.testing.assert_array_equal(nwb.acquisition["stack"].data.compute(), full_file().acquisition["stack"].data)
    with pytest.raises(nzi.LayoutError, match="symbolic link"):
        preview(str(mine), "vid")
    copy = tmp_path / "copy.nwb.zarr"
    with pytest.raises(nzi.LayoutError, match="symbolic link"):
        nzi.write(nwb, str(copy))
    assert not copy.exists() and not any(p.name.startswith(".copy") for p in tmp_path.iterdir())


def test_a_group_behind_a_link_is_refused_when_metadata_is_listed(pair: tuple[Path, Path]) -> None:
    mine, other = pair
    root = json.loads((mine / "zarr.json").read_text())
    root.pop("consolidated_metadata")
    (mine / "zarr.json").write_text(json.dumps(root))
    _link(mine / "acquisition" / "vid", other / "acquisition" / "vid")
    with pytest.raises(nzi.LayoutError, match=r"acquisition/vid/zarr.json is a symbolic link to .*outside"):
        nzi.read(str(mine))


def test_links_inside_the_store_are_followed(pair: tuple[Path, Path]) -> None:
    mine, _ = pair
    chunk = mine / "acquisition/vid/data/c.0.0.0"
    kept = mine / "acquisition/vid/data/moved"
    chunk.rename(kept)
    chunk.symlink_to(kept)
    np.testing.assert_array_equal(nzi.read(str(mine)).acquisition["vid"].data.compute(),
                                  full_file().acquisition["vid"].data)
