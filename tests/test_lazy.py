"""Reading is lazy: dask arrays chunked like the store, no chunk read on open, one metadata read."""

from __future__ import annotations

from pathlib import Path

import dask.array as da
import numpy as np
import pytest
import zarr
from builders import full_file, movie
from counting import CountingStore
from zarr.storage import LocalStore

import nwbzarr_image as nzi


def _counting(path: Path | str) -> CountingStore:
    return CountingStore(LocalStore(str(path), read_only=True))


def test_open_reads_only_the_root_metadata(tmp_path: Path) -> None:
    path = tmp_path / "f.nwb.zarr"
    nzi.write(full_file(), str(path))
    store = _counting(path)
    nwb = nzi.read(store)
    assert store.reads == {"zarr.json": 1}
    assert store.lists == 0
    # touching metadata-only fields reads nothing more: scalars we write live in the metadata
    ext = nwb.acquisition["ext"]
    assert (ext.format, ext.num_samples, nwb.identifier, ext.rate) == ("external", 25, "full-1", 30.0)
    assert nwb.acquisition["vid"].data.shape == (6, 5, 4)
    assert store.reads == {"zarr.json": 1}


def test_computing_one_frame_reads_one_chunk(tmp_path: Path, start_time) -> None:
    path = tmp_path / "f.nwb.zarr"
    nwb = nzi.NWBFile("s", "id", start_time)
    frames = movie((40, 16, 16), np.uint16)
    nwb.add_acquisition(nzi.ImageSeries("m", nzi.ZarrDataIO(frames, chunks=(8, 16, 16)), "n.a.", rate=5.0))
    nzi.write(nwb, str(path))
    store = _counting(path)
    data = nzi.read(store).acquisition["m"].data
    np.testing.assert_array_equal(data[17].compute(), frames[17])
    assert store.chunk_reads() == {"acquisition/m/data/c.2.0.0": 1}


@pytest.mark.parametrize(("chunks", "shards"), [((8, 16, 16), None), ((4, 16, 16), (20, 16, 16))],
                         ids=["chunked", "sharded"])
def test_dask_chunks_match_storage(tmp_path: Path, start_time, chunks, shards) -> None:
    path = str(tmp_path / "f.nwb.zarr")
    nwb = nzi.NWBFile("s", "id", start_time)
    frames = movie((50, 16, 16), np.uint8)
    ts = np.arange(50) / 7.0
    nwb.add_acquisition(nzi.ImageSeries("m", nzi.ZarrDataIO(frames, chunks=chunks, shards=shards), "n.a.",
                                        timestamps=ts))
    nzi.write(nwb, path)
    series = nzi.read(path).acquisition["m"]
    assert isinstance(series.data, da.Array) and isinstance(series.timestamps, da.Array)
    unit = shards or chunks
    assert series.data.chunksize == unit
    assert series.data.chunks[0] == tuple([unit[0]] * (50 // unit[0]) + ([50 % unit[0]] if 50 % unit[0] else []))
    stored = zarr.open_array(f"{path}/acquisition/m/data", mode="r")
    assert stored.chunks == chunks and stored.shards == shards
    assert series.timestamps.chunks == ((50,),)
    np.testing.assert_array_equal(series.data.compute(), frames)
    np.testing.assert_array_equal(series.timestamps.compute(), ts)


def test_graph_names_are_deterministic(tmp_path: Path) -> None:
    path = str(tmp_path / "f.nwb.zarr")
    nzi.write(full_file(), path)
    a = nzi.read(path).acquisition["vid"].data
    b = nzi.read(path).acquisition["vid"].data
    assert a.name == b.name
    assert a.name != nzi.read(path).acquisition["mask"].data.name


def _add_foreign_nodes(path: str) -> None:
    """What other tools put in files: extension types, extra groups, extra members and attributes."""
    root = zarr.open_group(path, mode="r+", use_consolidated=False)
    fancy = root["acquisition"].create_group("fancy", attributes={
        "neurodata_type": "FancySeries", "namespace": "ndx-fancy", "object_id": "f-1", "gain": 3.5,
        "_LINKS": [{"source": ".", "path": "/general/devices/cam", "name": "device"}]})
    fancy.create_array("values", data=np.arange(6, dtype=np.int16), attributes={"_DTYPE": "int16", "unit": "V"})
    subject = root["general/subject"]
    subject.create_array("favourite_food", shape=(), dtype=str, fill_value="cheese", attributes={"_DTYPE": "str"})
    lab = root["general"].create_group("lab_meta", attributes={
        "neurodata_type": "LabMetaData", "namespace": "ndx-lab", "object_id": "l-1"})
    lab.create_array("rig", shape=(), dtype=str, fill_value="rig 3", attributes={"_DTYPE": "str"})
    root["acquisition/vid"].create_group("sync", attributes={"note": "lab sync"})
    root["acquisition/vid"].attrs["lab_note"] = "kept"
    intervals = root.create_group("intervals")
    intervals.create_group("trials", attributes={"neurodata_type": "TimeIntervals", "namespace": "core",
                                                 "object_id": "t-1", "description": "trials"})
    zarr.consolidate_metadata(path)


def _check_foreign_nodes(nwb: nzi.NWBFile) -> None:
    fancy = nwb.acquisition["fancy"]
    assert isinstance(fancy, nzi.model.GenericGroup)
    assert fancy.attrs["neurodata_type"] == "FancySeries" and fancy.attrs["gain"] == 3.5
    assert fancy.links == {"device": "/general/devices/cam"}
    np.testing.assert_array_equal(fancy.children["values"].data.load(), np.arange(6))
    assert (nwb.subject.species, nwb.subject.subject_id) == ("Mus musculus", "m1")
    assert nwb.subject.extra_children["favourite_food"].data.load() == "cheese"
    assert nwb.extra_nodes["/general/lab_meta"].attrs["neurodata_type"] == "LabMetaData"
    assert nwb.extra_nodes["/general/lab_meta"].children["rig"].data.load() == "rig 3"
    assert nwb.extra_nodes["/intervals"].children["trials"].attrs["description"] == "trials"
    vid = nwb.acquisition["vid"]
    assert vid.extra_attrs == {"lab_note": "kept"}
    assert vid.extra_children["sync"].attrs == {"note": "lab sync"}


def test_unknown_types_and_groups_are_read_and_kept(tmp_path: Path) -> None:
    path = str(tmp_path / "f.nwb.zarr")
    nzi.write(full_file(), path)
    _add_foreign_nodes(path)
    nwb = nzi.read(path)
    _check_foreign_nodes(nwb)
    assert nwb.acquisition["vid"].data.shape == (6, 5, 4)
    copy = str(tmp_path / "copy.nwb.zarr")
    nzi.write(nwb, copy)
    _check_foreign_nodes(nzi.read(copy))


def test_adding_to_a_file_keeps_unknown_nodes(tmp_path: Path, start_time) -> None:
    path = str(tmp_path / "f.nwb.zarr")
    nzi.write(full_file(), path)
    _add_foreign_nodes(path)
    frames = movie((3, 4, 4), np.uint8)
    with nzi.open(path, "a") as nwb:
        nwb.add_acquisition(nzi.ImageSeries("later", frames, "n.a.", rate=2.0))
    back = nzi.read(path)
    _check_foreign_nodes(back)
    np.testing.assert_array_equal(back.acquisition["later"].data.compute(), frames)
    np.testing.assert_array_equal(back.acquisition["vid"].data.compute(), full_file_vid())


def full_file_vid() -> np.ndarray:
    return movie((6, 5, 4), np.uint8)
