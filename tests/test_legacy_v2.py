"""Legacy Zarr v2 files written by pynwb + hdmf-zarr 0.13 (fixtures made by tests/fixtures/legacy_v2/)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import dask.array as da
import numpy as np
import pytest
from counting import CountingStore
from servers import http_server
from zarr.storage import LocalStore

import nwbzarr_image as nzi

FIXTURES = Path(__file__).parent / "fixtures" / "legacy_v2"
EXPECTED = json.loads((FIXTURES / "expected.json").read_text())["stores"]
COLLECTION_OF = {"/acquisition": "acquisition", "/stimulus/presentation": "stimulus",
                 "/stimulus/templates": "stimulus_template"}


def find(nwb: nzi.NWBFile, path: str) -> Any:
    parent, _, name = path.rpartition("/")
    if parent in COLLECTION_OF:
        return getattr(nwb, COLLECTION_OF[parent])[name]
    if parent == "/general/devices":
        return nwb.devices[name]
    node = nwb.extra_nodes["/" + path.strip("/").split("/")[0] + "/" + path.strip("/").split("/")[1]]
    for part in path.strip("/").split("/")[2:]:
        node = node.children[part]
    return node


def stored_path(obj: Any) -> str:
    return obj.stored.path


def check_array(got: Any, expected: dict[str, Any], where: str) -> None:
    values = np.asarray(got.compute() if isinstance(got, da.Array) else got)
    assert list(values.shape) == expected["shape"], where
    assert values.dtype == np.dtype(expected["dtype"]), where
    if "values" in expected and values.size:
        np.testing.assert_array_equal(values, np.asarray(expected["values"]), err_msg=where)
    if "sum" in expected:
        assert float(values.sum()) == pytest.approx(expected["sum"]), where


def check_series(series: Any, exp: dict[str, Any], path: str) -> None:
    assert (series.neurodata_type, series.namespace, series.object_id) == (
        exp["neurodata_type"], exp["namespace"], exp["object_id"]), path
    assert isinstance(series.data, da.Array), path
    check_array(series.data, exp["data"], f"{path}/data")
    for attr in ("unit", "conversion", "offset", "resolution"):
        assert getattr(series, attr) == exp["data"][attr], f"{path}.{attr}"
    for attr in ("comments", "description", "rate", "starting_time", "starting_time_unit"):
        assert getattr(series, attr) == exp[attr], f"{path}.{attr}"
    if exp["timestamps"] is None:
        assert series.timestamps is None, path
    else:
        check_array(series.timestamps, exp["timestamps"], f"{path}/timestamps")
        assert (series.timestamps_unit, series.interval) == (exp["timestamps"]["unit"], exp["timestamps"]["interval"])
    for name, target in exp["links"].items():
        if name in ("timestamps", "data"):
            owner = getattr(series, f"{name}_link_target")
            assert f"{stored_path(owner)}/{name}" == target, f"{path} link {name}"
        elif name in ("device", "masked_imageseries", "indexed_images", "indexed_timeseries"):
            assert stored_path(getattr(series, name)) == target, f"{path} link {name}"
        else:
            assert series.extra_links[name] == target, f"{path} link {name}"
    for attr in ("external_file", "format", "num_samples", "distance", "orientation"):
        if attr in exp:
            assert getattr(series, attr) == exp[attr], f"{path}.{attr}"
    for attr in ("starting_frame", "dimension"):
        if attr in exp:
            np.testing.assert_array_equal(getattr(series, attr), exp[attr], err_msg=f"{path}.{attr}")
    if "control" in exp:
        check_array(series.control, exp["control"], f"{path}/control")
        assert series.control_description == exp["control_description"]
    if exp["neurodata_type"] == "OpticalSeries":
        np.testing.assert_allclose(series.field_of_view, exp["field_of_view"])
    if exp["neurodata_type"] == "TwoPhotonSeries":  # an ImageSeries subtype from pynwb.ophys, extras kept
        assert isinstance(series, nzi.ImageSeries)
        assert series.extra_attrs["pmt_gain"] == exp["pmt_gain"]
        assert series.extra_attrs["scan_line_rate"] == exp["scan_line_rate"]
        np.testing.assert_allclose(series.extra_children["field_of_view"].data.load(),
                                   exp["field_of_view"])


def check_images(images: nzi.Images, exp: dict[str, Any], path: str) -> None:
    assert (images.description, images.object_id) == (exp["description"], exp["object_id"])
    for name, image_exp in exp["images"].items():
        image = images.images[name]
        assert (image.neurodata_type, image.object_id) == (image_exp["neurodata_type"], image_exp["object_id"])
        check_array(image.data, image_exp["data"], f"{path}/{name}")
        assert image.resolution == image_exp.get("resolution") and image.description == image_exp.get("description")
    order = images.order_of_images
    assert [stored_path(i) for i in order.data] == exp["order_of_images"]["targets"]
    assert order.object_id == exp["order_of_images"]["object_id"]


def check_file(nwb: nzi.NWBFile, expected: dict[str, Any]) -> None:
    root = expected["root"]
    assert (nwb.identifier, nwb.session_description, nwb.object_id) == (
        root["identifier"], root["session_description"], root["object_id"])
    assert nwb.session_start_time.isoformat() == root["session_start_time"]
    assert nwb.timestamps_reference_time.isoformat() == root["timestamps_reference_time"]
    assert [d.isoformat() for d in nwb.file_create_date] == root["file_create_date"]
    for path, exp in expected["devices"].items():
        device = nwb.devices[exp["name"]]
        assert (device.description, device.object_id, stored_path(device)) == (exp["description"], exp["object_id"],
                                                                                 path)
    if expected["subject"]:
        for attr in ("age", "age__reference", "species", "sex", "subject_id", "strain", "weight", "genotype",
                     "description", "object_id"):
            assert getattr(nwb.subject, attr) == expected["subject"][attr], attr
        assert nwb.subject.date_of_birth.isoformat() == expected["subject"]["date_of_birth"]
    for path, exp in expected["objects"].items():
        obj = find(nwb, path)
        if exp["neurodata_type"] == "Images":
            check_images(obj, exp, path)
        elif "data" in exp and "comments" in exp:
            check_series(obj, exp, path)
        else:  # e.g. an ImagingPlane: kept as a generic group with its type and links
            assert (obj.attrs["neurodata_type"], obj.attrs["object_id"]) == (exp["neurodata_type"], exp["object_id"])
            for name, target in exp.get("links", {}).items():
                assert obj.links[name] == target


@pytest.mark.parametrize("store", ["images_pickle.nwb.zarr", "images_json.nwb.zarr"])
def test_every_image_type_reads_locally(store: str) -> None:
    nwb = nzi.read(str(FIXTURES / store))
    assert nwb.zarr_format == 2
    check_file(nwb, EXPECTED[store])


def test_file_without_consolidated_metadata_opens_with_a_warning() -> None:
    with pytest.warns(nzi.PerformanceWarning, match=r"no consolidated metadata.*nzi.consolidate\(url\)"):
        nwb = nzi.read(str(FIXTURES / "no_consolidated.nwb.zarr"))
    check_file(nwb, EXPECTED["no_consolidated.nwb.zarr"])


def test_reading_is_lazy_and_opening_reads_only_the_consolidated_metadata() -> None:
    store = CountingStore(LocalStore(str(FIXTURES / "images_pickle.nwb.zarr"), read_only=True))
    nwb = nzi.read(store)
    # v2 scalars live in chunks, read when used: opening reads none (not even the external series' format)
    assert dict(store.reads) == {"zarr.json": 1, ".zmetadata": 1}
    external = nwb.acquisition["external_video"]
    assert (external.format, external.num_samples) == ("external", 20)
    assert set(store.reads) == {"zarr.json", ".zmetadata", "acquisition/external_video/format/0",
                                "acquisition/external_video/num_samples/0"}
    video = nwb.acquisition["behavior_video"]
    assert video.rate is None and video.data.shape == (4, 6, 5)
    video.data[1].compute()
    assert [k for k in store.reads if "/data/" in k] == ["acquisition/behavior_video/data/0.0.0"]


def test_legacy_files_over_http(tmp_path: Path) -> None:
    shutil.copytree(FIXTURES / "images_pickle.nwb.zarr", tmp_path / "f.nwb.zarr")
    with http_server(tmp_path) as server:
        nwb = nzi.read(f"{server.url}/f.nwb.zarr")
        # zarr.json (absent: not format 3) and .zmetadata; no scalar is read to open the file
        assert server.total() == 2, server.requests
        check_file(nwb, EXPECTED["images_pickle.nwb.zarr"])


def test_legacy_files_are_read_only(tmp_path: Path) -> None:
    copy = tmp_path / "f.nwb.zarr"
    shutil.copytree(FIXTURES / "images_json.nwb.zarr", copy)
    with pytest.raises(nzi.ReadOnlyError, match=r"legacy Zarr format 2 files .* are read-only"):
        nzi.open(str(copy), "a")


def test_legacy_file_converts_to_format_3_that_pynwb_reads(tmp_path: Path) -> None:
    from hdmf_zarr.nwb import NWBZarrIO

    out = tmp_path / "v3.nwb.zarr"
    nzi.write(nzi.read(str(FIXTURES / "images_pickle.nwb.zarr")), str(out))
    check_file(nzi.read(str(out)), EXPECTED["images_pickle.nwb.zarr"])
    with NWBZarrIO(str(out), mode="r") as io:
        pyf = io.read()
        assert type(pyf.acquisition["two_photon"]).__name__ == "TwoPhotonSeries"
        assert pyf.acquisition["two_photon"].imaging_plane.indicator
        assert [i.name for i in pyf.stimulus_template["template_images"].order_of_images.data] == [
            "rgba", "gray", "rgb"]


def test_hostile_pickle_is_refused_and_nothing_runs() -> None:
    marker = Path("/tmp/nwbzarr_pwned_legacy_v2")
    marker.unlink(missing_ok=True)
    nwb = nzi.read(str(FIXTURES / "hostile_pickle.nwb.zarr"))
    images = nwb.stimulus_template["images"] if "images" in nwb.stimulus_template else next(
        iter(nwb.stimulus_template.values()))
    assert sorted(images.images) == ["gray", "rgb"]  # the rest of the file reads
    with pytest.raises(nzi.LayoutError, match=r"order_of_images.*global 'posix.system' is not allowed"):
        images.order_of_images  # noqa: B018 - the access decodes the references
    assert not marker.exists()
