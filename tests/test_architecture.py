"""The declared structure: storage records on decoded objects, ports instead of hidden state, inputs left
unchanged by writing, info and validate that do not open the store a second time."""

from __future__ import annotations

import ast
import copy
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from builders import full_file, movie
from servers import http_server

import nwbzarr_image as nzi
from nwbzarr_image import validate as validate_module
from nwbzarr_image.bound import StoreSource
from nwbzarr_image.cli import main
from nwbzarr_image.model.ports import FileSource
from nwbzarr_image.model.record import ArrayRecord, StorageRecord
from nwbzarr_image.storage import stores

PACKAGE = Path(nzi.__file__).parent
LEGACY = Path(__file__).parent / "fixtures" / "legacy_v2"


def _dict_accesses(path: Path) -> list[int]:
    tree = ast.parse(path.read_text())
    return [node.lineno for node in ast.walk(tree) if isinstance(node, ast.Attribute) and node.attr == "__dict__"]


def test_no_dict_access_outside_the_model() -> None:
    offenders = {str(p.relative_to(PACKAGE)): lines for p in PACKAGE.rglob("*.py")
                 if "model" not in p.relative_to(PACKAGE).parts and (lines := _dict_accesses(p))}
    assert offenders == {}


def test_every_decoded_object_carries_its_record(tmp_path: Path) -> None:
    path = tmp_path / "f.nwb.zarr"
    nzi.write(full_file(), str(path))
    nwb = nzi.read(str(path))
    assert nwb.stored == StorageRecord("/", 3, nwb.stored.arrays, str(path))
    assert set(nwb.stored.arrays) == {"identifier", "session_description", "session_start_time",
                                      "timestamps_reference_time", "file_create_date"}
    expected_paths = {
        nwb.acquisition["vid"]: "/acquisition/vid", nwb.devices["cam"]: "/general/devices/cam",
        nwb.stimulus_template["templates"]: "/stimulus/templates/templates",
        nwb.stimulus_template["templates"]["gray"]: "/stimulus/templates/templates/gray",
        nwb.processing["ophys"]: "/processing/ophys", nwb.processing["ophys"]["mean"]: "/processing/ophys/mean",
        nwb.subject: "/general/subject",
    }
    for obj, where in expected_paths.items():
        assert isinstance(obj.stored, StorageRecord) and obj.stored.path == where and obj.stored.zarr_format == 3
    data = nwb.acquisition["vid"].stored.array("data")
    assert isinstance(data, ArrayRecord)
    assert (data.path, data.shape, data.dtype, data.shards) == ("/acquisition/vid/data", (6, 5, 4), "uint8", None)
    assert data.chunks == tuple(nwb.acquisition["vid"].data.chunksize)
    assert data.compressors[0]["name"] == "blosc" and data.compressors[0]["configuration"]["cname"] == "zstd"
    assert nwb.acquisition["dff"].stored.array("timestamps") is None  # linked, not stored here
    assert nwb.stimulus_template["templates"]["rgb"].stored.array("").shape == (5, 4, 3)
    with pytest.raises(AttributeError):
        data.shape = (1,)  # type: ignore[misc]  # frozen


def test_records_of_a_sharded_series(tmp_path: Path, start_time) -> None:
    nwb = nzi.NWBFile("s", "s", start_time)
    nwb.add_acquisition(nzi.ImageSeries("m", nzi.ZarrDataIO(movie((8, 6, 4), np.uint16), chunks=(2, 6, 4),
                                                                shards=(4, 6, 4)), "n.a.", rate=1.0))
    nzi.write(nwb, str(tmp_path / "s.nwb.zarr"))
    record = nzi.read(str(tmp_path / "s.nwb.zarr")).acquisition["m"].stored.array("data")
    assert (record.chunks, record.shards, record.storage_unit) == ((2, 6, 4), (4, 6, 4), (4, 6, 4))
    assert record.codecs[0]["name"] == "sharding_indexed" and record.compressors[0]["name"] == "blosc"


def test_legacy_v2_records() -> None:
    nwb = nzi.read(str(LEGACY / "images_json.nwb.zarr"))
    assert nwb.zarr_format == 2 and nwb.stored.zarr_format == 2
    series = next(s for s in nwb.walk_objects() if isinstance(s, nzi.ImageSeries) and s.stored.array("data"))
    record = series.stored.array("data")
    assert record.key_encoding == "v2" and record.shape == tuple(series.data.shape)
    assert record.chunk_key((0,) * len(record.shape)) == record.separator.join("0" * len(record.shape))


def test_the_file_source_is_a_declared_port(tmp_path: Path) -> None:
    nzi.write(full_file(), str(tmp_path / "f.nwb.zarr"))
    nwb = nzi.read(str(tmp_path / "f.nwb.zarr"))
    source = nwb.source
    assert isinstance(source, StoreSource) and source.read_only and source.appender is None
    members = {"url", "zarr_format", "read_only", "appender", "external", "find_missing", "stored_keys",
               "stored_bytes"}
    assert members <= set(dir(source)) and members <= set(FileSource.__annotations__) | {
        name for name in vars(FileSource) if not name.startswith("_")}
    assert nwb.acquisition["vid"].file_source() is source  # found through the parents
    with nzi.open(str(tmp_path / "f.nwb.zarr"), "a") as f:
        assert f.source.appender is not None and not f.source.read_only


def _unchanged(before: Any, after: Any, where: str) -> None:
    if isinstance(before, nzi.ZarrDataIO):
        assert type(after) is nzi.ZarrDataIO
        for attr in ("chunks", "shards", "fillvalue", "filters"):
            assert getattr(after, attr) == getattr(before, attr), f"{where}.{attr}"
        _unchanged(before.data, after.data, f"{where}.data")
    elif isinstance(before, np.ndarray):
        assert isinstance(after, np.ndarray) and after.dtype == before.dtype, where
        np.testing.assert_array_equal(after, before, err_msg=where)
    else:
        assert type(after) is type(before) and after == before, where


def test_writing_never_changes_its_inputs(tmp_path: Path, start_time) -> None:
    inputs = {
        "fov": nzi.ZarrDataIO(np.array([3, 2], np.int64)),  # stored as float64: a copy is converted
        "control": [0, 1, 1],  # a list: stored as uint8
        "index": nzi.ZarrDataIO(np.array([0, 1, 0], np.int64)),  # stored as uint64
        "stamps": nzi.ZarrDataIO(np.array([0, 1, 2], np.int32)),  # stored as float64
        "frames": movie((3, 4, 5), np.uint8),
        "dimension": [4, 5],
    }
    snapshot = copy.deepcopy(inputs)
    nwb = nzi.NWBFile("m", "m", start_time)
    images = nzi.Images("imgs", [nzi.GrayscaleImage("g", movie((4, 5), np.uint8))])
    nwb.add_stimulus_template(images)
    nwb.add_stimulus(nzi.OpticalSeries("o", 1.0, inputs["fov"], "up", inputs["frames"], "n.a.",
                                       timestamps=inputs["stamps"], control=inputs["control"],
                                       control_description=["a", "b"], dimension=inputs["dimension"]))
    nwb.add_stimulus(nzi.IndexSeries("i", inputs["index"], "N/A", indexed_images=images, rate=1.0))
    nzi.write(nwb, str(tmp_path / "m.nwb.zarr"))
    for name, before in snapshot.items():
        _unchanged(before, inputs[name], name)
    back = nzi.read(str(tmp_path / "m.nwb.zarr"))
    assert back.stimulus["o"].field_of_view.dtype == np.float64  # the stored form is still the NWB one
    assert back.stimulus["i"].data.dtype == np.uint64  # hdmf: unsigned of at least the same size


def _count_opens(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    opened: list[str] = []
    real = stores.open_store

    def counting(location: stores.Location, *, read_only: bool) -> Any:
        opened.append(location.url)
        return real(location, read_only=read_only)

    monkeypatch.setattr(stores, "open_store", counting)
    return opened


def test_validate_opens_the_store_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "f.nwb.zarr"
    nzi.write(full_file(), str(path))
    opened = _count_opens(monkeypatch)
    problems = validate_module.validate(str(path), deep=True)
    assert validate_module.errors(problems) == [] and opened == [str(path)]
    (path / "acquisition" / "vid" / "data" / "c.0.0.0").unlink()
    opened.clear()
    missing = [p for p in validate_module.validate(str(path)) if "is not stored" in p.message]
    assert [p.path for p in missing] == ["/acquisition/vid/data"] and opened == [str(path)]


def _info_file(start_time: Any) -> nzi.NWBFile:
    """Series timed by rate (with a starting time that is not the fill value 0.0: see the README on scalars)
    and by timestamps, an external-file series, a sharded series, images."""
    nwb = nzi.NWBFile("info", "info", start_time)
    cam = nwb.create_device("cam")
    nwb.add_acquisition(nzi.ImageSeries("vid", movie((6, 5, 4), np.uint8), "n.a.", rate=30.0, starting_time=2.5,
                                        device=cam))
    nwb.add_acquisition(nzi.ImageSeries("stack", nzi.ZarrDataIO(movie((4, 4, 5), np.uint16), chunks=(1, 4, 5),
                                                                shards=(2, 4, 5)), "a.u.", timestamps=[0, 1, 2, 3.0]))
    nwb.add_acquisition(nzi.ImageSeries("ext", external_file=["a.mp4"], starting_frame=[0], rate=30.0,
                                        starting_time=1.0, num_samples=25, format="external"))
    nwb.add_stimulus_template(nzi.Images("imgs", [nzi.GrayscaleImage("g", movie((4, 5), np.uint8))]))
    return nwb


def test_info_costs_exactly_the_requests_of_read(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                 start_time: Any) -> None:
    nzi.write(_info_file(start_time), str(tmp_path / "f.nwb.zarr"))
    with http_server(tmp_path) as server:
        url = f"{server.url}/f.nwb.zarr"
        nzi.read(url)
        read_requests = sorted(server.requests.elements())
        server.reset()
        assert main(["info", url]) == 0
        info_requests = sorted(server.requests.elements())
    assert info_requests == read_requests and len(read_requests) >= 1
    text = capsys.readouterr().out
    assert "/acquisition/vid  ImageSeries" in text and "chunks (6, 5, 4), codec blosc(" in text
    assert "rate 30 Hz, starting_time 2.5 s, 6 samples, duration 0.167 s" in text
    assert "chunks (1, 4, 5), shards (2, 4, 5)" in text and "timing: timestamps, 4 samples\n" in text
    assert "external files: 1 (format 'external'; --full lists them)" in text
