"""write/read/open: modes, refusing existing targets, no partial files, clear errors."""

from __future__ import annotations

import os
from pathlib import Path

import dask
import dask.array as da
import fsspec
import numpy as np
import pytest
import zarr
from builders import full_file, movie

import nwbzarr_image as nzi


def _small(start_time, name: str = "m", frames: np.ndarray | None = None) -> nzi.NWBFile:
    nwb = nzi.NWBFile("s", "id", start_time)
    nwb.add_acquisition(nzi.ImageSeries(name, movie((4, 3, 3), np.uint8) if frames is None else frames, "n.a.",
                                        rate=1.0))
    return nwb


def _listing(url: str) -> list[str]:
    fs, path = fsspec.core.url_to_fs(url)
    parent = os.path.dirname(path.rstrip("/"))
    return sorted(fs.ls(parent, detail=False)) if fs.exists(parent) else []


def test_mode_w_dash_refuses_an_existing_target(url: str, start_time) -> None:
    nzi.write(_small(start_time, "first"), url)
    with pytest.raises(nzi.StoreExistsError, match="already exists; mode 'w-' never replaces"):
        nzi.write(_small(start_time, "second"), url)
    assert list(nzi.read(url).acquisition) == ["first"]


def test_mode_w_replaces(url: str, start_time) -> None:
    nzi.write(_small(start_time, "first"), url)
    nzi.write(_small(start_time, "second"), url, mode="w")
    assert list(nzi.read(url).acquisition) == ["second"]
    assert [p for p in _listing(url) if ".partial-" in p] == []


def _failing_frames() -> da.Array:
    def boom(block: np.ndarray) -> np.ndarray:
        raise RuntimeError("source failed half way")

    good = da.zeros((8, 4, 4), dtype=np.uint8, chunks=(4, 4, 4))
    return da.concatenate([good, good.map_blocks(boom, dtype=np.uint8)])


def test_failed_write_leaves_nothing(url: str, start_time) -> None:
    nwb = _small(start_time)
    nwb.add_acquisition(nzi.ImageSeries("bad", _failing_frames(), "n.a.", rate=1.0))
    before = _listing(url)
    with dask.config.set(scheduler="synchronous"), pytest.raises(RuntimeError, match="half way"):
        nzi.write(nwb, url)
    assert _listing(url) == before
    with pytest.raises(nzi.StoreNotFoundError):
        nzi.read(url)


def test_failed_replace_keeps_the_old_file(url: str, start_time) -> None:
    frames = movie((4, 3, 3), np.uint8)
    nzi.write(_small(start_time, "old", frames), url)
    nwb = _small(start_time)
    nwb.add_acquisition(nzi.ImageSeries("bad", _failing_frames(), "n.a.", rate=1.0))
    with dask.config.set(scheduler="synchronous"), pytest.raises(RuntimeError):
        nzi.write(nwb, url, mode="w")
    back = nzi.read(url)
    assert list(back.acquisition) == ["old"]
    np.testing.assert_array_equal(back.acquisition["old"].data.compute(), frames)


def test_link_to_an_object_outside_the_file_fails_before_writing(url: str, start_time) -> None:
    nwb = nzi.NWBFile("s", "id", start_time)
    stray = nzi.Device("stray")
    nwb.add_acquisition(nzi.ImageSeries("m", movie((2, 2, 2), np.uint8), "n.a.", rate=1.0, device=stray))
    with pytest.raises(nzi.LayoutError, match=r"'device' points to Device 'stray', which is not in this NWBFile"):
        nzi.write(nwb, url)
    assert _listing(url) == []


@pytest.mark.parametrize(("args", "error", "fragment"), [
    ((None, "x.nwb.zarr"), nzi.ArgumentTypeError, "expected an NWBFile; got NoneType"),
    (("FILE", "x.nwb.zarr", None, "a"), nzi.ArgumentTypeError, "mode must be 'w-'"),
    (("FILE", "http://127.0.0.1:9/x.nwb.zarr"), nzi.ReadOnlyError, "URLs are read-only"),
], ids=["not-a-file", "bad-mode", "http-is-read-only"])
def test_write_errors(tmp_path: Path, start_time, monkeypatch: pytest.MonkeyPatch, args, error, fragment) -> None:
    monkeypatch.chdir(tmp_path)
    args = tuple(_small(start_time) if a == "FILE" else a for a in args)
    with pytest.raises(error, match=fragment):
        nzi.write(*args)
    assert os.listdir(tmp_path) == []


def test_read_errors(tmp_path: Path) -> None:
    with pytest.raises(nzi.StoreNotFoundError, match="no Zarr group at"):
        nzi.read(str(tmp_path / "missing.nwb.zarr"))
    zarr.open_group(str(tmp_path / "plain.zarr"), mode="w", attributes={"title": "not NWB"})
    with pytest.raises(nzi.LayoutError, match="the root group is not an NWBFile"):
        nzi.read(str(tmp_path / "plain.zarr"))
    with pytest.raises(nzi.ArgumentTypeError, match="mode must be 'r', 'r\\+' or 'a'"):
        nzi.open(str(tmp_path / "plain.zarr"), "w")
    with pytest.raises(nzi.ReadOnlyError, match="is read-only"):
        nzi.open("http://127.0.0.1:9/x.nwb.zarr", "a")


def _snapshot(path: Path) -> dict[str, tuple[int, bytes]]:
    return {str(p.relative_to(path)): (p.stat().st_mtime_ns, p.read_bytes()) for p in path.rglob("*") if p.is_file()}


def test_read_and_open_r_never_write(tmp_path: Path) -> None:
    path = tmp_path / "f.nwb.zarr"
    nzi.write(full_file(), str(path))
    before = _snapshot(path)
    nwb = nzi.read(str(path))
    nwb.acquisition["vid"].data.compute()
    with nzi.open(str(path), "r") as f:
        f.add_acquisition(nzi.ImageSeries("new", movie((2, 2, 2), np.uint8), "n.a.", rate=1.0))
    assert _snapshot(path) == before


def test_append_mode_writes_only_new_objects(tmp_path: Path, start_time) -> None:
    path = tmp_path / "f.nwb.zarr"
    nzi.write(full_file(), str(path))
    before = _snapshot(path)
    frames = movie((3, 2, 2), np.uint16)
    with nzi.open(str(path), "a") as nwb:
        module = nwb.processing["ophys"]
        module.add(nzi.ImageSeries("added", frames, "a.u.", rate=3.0))
    after = _snapshot(path)
    changed = {k for k in before if after.get(k) != before[k]}
    assert changed == {"zarr.json"}  # only the consolidated metadata is rewritten
    new = sorted(set(after) - set(before))
    assert all(k.startswith("processing/ophys/added/") for k in new) and new
    back = nzi.read(str(path))
    np.testing.assert_array_equal(back.processing["ophys"]["added"].data.compute(), frames)
    np.testing.assert_array_equal(back.processing["ophys"]["mean"].data.compute(),
                                  full_file().processing["ophys"]["mean"].data)
