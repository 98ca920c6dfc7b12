"""Consolidated metadata: absent (a warning naming the fix), stale (a node it lacks is still found), and
ImageSeries subtypes of other modules read as ImageSeries with their extras."""

from __future__ import annotations

import json
import warnings
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
import zarr
from builders import full_file, movie
from counting import CountingStore
from zarr.storage import LocalStore

import nwbzarr_image as nzi


def _drop_consolidated(path: Path) -> None:
    meta = json.loads((path / "zarr.json").read_text())
    meta.pop("consolidated_metadata")
    (path / "zarr.json").write_text(json.dumps(meta))


def test_missing_consolidated_metadata_warns_and_consolidate_fixes_it(tmp_path: Path) -> None:
    path = tmp_path / "f.nwb.zarr"
    nzi.write(full_file(), str(path))
    _drop_consolidated(path)
    with pytest.warns(nzi.PerformanceWarning, match=r"no consolidated metadata.*nzi\.consolidate\(url\)"):
        nwb = nzi.read(str(path))
    assert sorted(nwb.acquisition) == sorted(full_file().acquisition)
    np.testing.assert_array_equal(nwb.acquisition["vid"].data.compute(), full_file().acquisition["vid"].data)
    nzi.consolidate(str(path))
    store = CountingStore(LocalStore(str(path), read_only=True))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        nwb = nzi.read(store)
    assert store.reads == {"zarr.json": 1} and sorted(nwb.acquisition) == sorted(full_file().acquisition)


def test_writing_appending_and_consolidating_show_no_zarr_warning(tmp_path: Path) -> None:
    """zarr's warning that consolidated metadata is not in the format 3 specification is the library's to
    silence (every file it writes uses it), whatever the caller's warning filters."""
    path = str(tmp_path / "f.nwb.zarr")
    with warnings.catch_warnings(record=True) as caught:
        warnings.resetwarnings()
        warnings.simplefilter("always")
        nzi.write(full_file(), path)
        nzi.write(full_file(), path, mode="w")
        with nzi.open(path, "a") as nwb:
            nwb.add_acquisition(nzi.ImageSeries("added", movie((2, 3, 3), np.uint8), "n.a.", rate=1.0))
        nzi.consolidate(path)
    assert [str(w.message) for w in caught] == []
    assert "added" in nzi.read(path).acquisition


def _add_series_behind_the_metadata(path: Path) -> np.ndarray:
    """Another tool adds a series with plain zarr and does not re-consolidate."""
    frames = movie((3, 5, 4), np.uint8, 7)
    root = zarr.open_group(str(path), mode="r+", use_consolidated=False)
    group = root["acquisition"].create_group("late", attributes={
        "neurodata_type": "ImageSeries", "namespace": "core", "object_id": "late-1", "comments": "c",
        "description": "added later", "_LINKS": [{"source": ".", "path": "/general/devices/cam", "name": "device"}]})
    group.create_array("data", data=frames, attributes={"_DTYPE": "uint8", "unit": "n.a.", "conversion": 1.0,
                                                        "offset": 0.0, "resolution": -1.0})
    start = group.create_array("starting_time", shape=(), dtype="float64", attributes={
        "_DTYPE": "float64", "rate": 5.0, "unit": "seconds"})
    start[()] = 1.5
    return frames


def test_stale_consolidated_metadata_never_hides_a_node_asked_for(tmp_path: Path) -> None:
    path = tmp_path / "f.nwb.zarr"
    nzi.write(full_file(), str(path))
    frames = _add_series_behind_the_metadata(path)
    nwb = nzi.read(str(path))
    assert "late" not in list(nwb.acquisition)  # listing follows the consolidated metadata (one request)
    with pytest.warns(nzi.InvalidFileWarning, match=r"/acquisition/late is in the store but not in the file's "
                                                    r"consolidated metadata.*nzi\.consolidate\(url\)"):
        late = nwb.acquisition["late"]
    assert late.description == "added later" and late.rate == 5.0 and late.starting_time == 1.5
    assert late.device is nwb.devices["cam"]
    np.testing.assert_array_equal(late.data.compute(), frames)
    with pytest.raises(nzi.NodeNotFoundError, match="no object named 'nothing'"):
        nwb.acquisition["nothing"]
    nzi.consolidate(str(path))
    assert "late" in list(nzi.read(str(path)).acquisition)


def test_two_photon_series_from_pynwb_reads_as_image_series_and_writes_back(tmp_path: Path) -> None:
    import pynwb
    from hdmf_zarr.nwb import NWBZarrIO
    from pynwb.ophys import OpticalChannel, TwoPhotonSeries

    source = tmp_path / "pynwb.nwb.zarr"
    nwb = pynwb.NWBFile(session_description="s", identifier="id", session_start_time=datetime(2024, 1, 2, tzinfo=UTC))
    scope = nwb.create_device(name="scope")
    channel = OpticalChannel(name="green", description="green", emission_lambda=510.0)
    plane = nwb.create_imaging_plane(name="plane", optical_channel=channel, description="V1 plane", device=scope,
                                     excitation_lambda=920.0, indicator="GCaMP6f", location="V1", imaging_rate=30.0)
    frames = movie((6, 8, 7), np.uint16)
    nwb.add_acquisition(TwoPhotonSeries(name="tps", data=frames, imaging_plane=plane, rate=30.0, unit="a.u.",
                                        field_of_view=[0.1, 0.2], pmt_gain=2.0))
    with NWBZarrIO(str(source), mode="w") as io:
        io.write(nwb)
    ours = nzi.read(str(source))
    tps = ours.acquisition["tps"]
    assert isinstance(tps, nzi.ImageSeries) and (tps.neurodata_type, tps.namespace) == ("TwoPhotonSeries", "core")
    assert tps.rate == 30.0 and tps.unit == "a.u." and tps.data.chunks  # lazy
    np.testing.assert_array_equal(tps.data.compute(), frames)
    assert tps.extra_attrs == {"pmt_gain": 2.0}
    assert tps.extra_links == {"imaging_plane": "/general/optophysiology/plane"}
    np.testing.assert_allclose(tps.extra_children["field_of_view"].data.load(), [0.1, 0.2])
    copy = tmp_path / "copy.nwb.zarr"
    nzi.write(ours, str(copy))
    with NWBZarrIO(str(copy), mode="r") as io:
        back = io.read()
        again = back.acquisition["tps"]
        assert type(again).__name__ == "TwoPhotonSeries" and again.pmt_gain == 2.0
        assert again.imaging_plane.indicator == "GCaMP6f"
        np.testing.assert_array_equal(again.data[:], frames)


def test_extension_subtype_is_found_in_the_cached_schema(tmp_path: Path) -> None:
    """A type of another namespace that extends ImageSeries, known only from the file's /specifications."""
    path = tmp_path / "f.nwb.zarr"
    nzi.write(full_file(), str(path))
    root = zarr.open_group(str(path), mode="r+", use_consolidated=False)
    spec = {"groups": [{"neurodata_type_def": "MiniscopeSeries", "neurodata_type_inc": "ImageSeries"}]}
    specs = root.create_group("specifications").create_group("ndx-miniscope").create_group("0.1.0")
    specs.create_array("ndx-miniscope.extensions", shape=(), dtype=str, attributes={"_DTYPE": "str"})[()] = (
        json.dumps(spec))
    root.attrs[".specloc"] = "specifications"
    group = root["acquisition"].create_group("mini", attributes={
        "neurodata_type": "MiniscopeSeries", "namespace": "ndx-miniscope", "object_id": "m-1", "gain": 4})
    group.create_array("data", data=movie((4, 6, 6), np.uint8), attributes={"_DTYPE": "uint8", "unit": "n.a."})
    group.create_array("timestamps", data=np.arange(4.0), attributes={"_DTYPE": "float64", "unit": "seconds",
                                                                      "interval": 1})
    zarr.consolidate_metadata(str(path))
    mini = nzi.read(str(path)).acquisition["mini"]
    assert isinstance(mini, nzi.ImageSeries) and mini.neurodata_type == "MiniscopeSeries"
    assert mini.extra_attrs == {"gain": 4} and mini.data.shape == (4, 6, 6)
