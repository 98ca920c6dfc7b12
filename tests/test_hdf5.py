"""NWB HDF5 files (written here by pynwb's NWBHDF5IO) read lazily: every field equal to what NWBHDF5IO reads."""

from __future__ import annotations

import json
import pickle
import zlib
from pathlib import Path
from typing import Any

import dask.array as da
import h5py
import numpy as np
import pytest
import zarr
from hdf5_helpers import (
    LAYOUTS,
    MOVIE,
    PYNWB,
    TIMES,
    add_raw_dataset,
    image_series_group,
    layouts_file,
    pynwb_h5,
    write_h5,
)
from interop_helpers import build_rich, compare_files, frames

import nwbzarr_image as nzi
from nwbzarr_image.hdf5 import Hdf5Store, has_signature
from nwbzarr_image.hdf5.ranges import merge


def listing(errors: list[str]) -> str:
    return f"{len(errors)} field(s) differ:\n" + "\n".join(errors)


def store_of(nwbfile: nzi.NWBFile) -> Hdf5Store:
    store = nwbfile.source.store
    assert isinstance(store, Hdf5Store)
    return store


@pytest.fixture(scope="module")
def rich_h5(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_h5(build_rich(PYNWB), tmp_path_factory.mktemp("rich") / "rich.nwb")


@pytest.fixture(scope="module")
def layouts_h5(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return layouts_file(tmp_path_factory.mktemp("layouts") / "layouts.nwb")


# -- 1. every object equals what pynwb reads -----------------------------------------------------------------------

def test_every_field_equals_pynwb_reading_the_same_hdf5_file(rich_h5: Path) -> None:
    got = nzi.read(str(rich_h5))
    with pynwb_h5(rich_h5) as expected:
        errors = compare_files(expected, got)
        assert not errors, listing(errors)
        assert got.object_id == expected.object_id
    acq = got.acquisition
    assert acq["mask"].masked_imageseries is acq["vid"]  # soft links in HDF5 -> the same objects
    assert acq["index_ts"].indexed_timeseries is acq["vid"]
    assert got.stimulus["index"].indexed_images is got.stimulus_template["images"]
    assert acq["vid"].device is got.devices["camera"]
    assert acq["vid_f32"].timestamps_link_target is acq["vid16"]
    assert got.processing["behavior"]["vid_alias"].data_link_target is acq["vid"]
    order = got.stimulus_template["images"].order_of_images  # object references -> the images themselves
    assert [image.name for image in order.data] == ["rgb", "gray", "rgba", "plain"]
    assert order.data[0] is got.stimulus_template["images"].images["rgb"]
    assert acq["ext"].external_file == ["videos/session_part_a.avi", "videos/session_part_b.avi"]
    assert got.subject.subject_id == "mouse-7"
    for series in (acq["vid"], acq["vid16"], acq["mask"], got.stimulus["optical"]):
        assert isinstance(series.data, da.Array)
    assert isinstance(acq["vid16"].timestamps, da.Array)


def test_view_follows_hdmf_zarr_convention(rich_h5: Path) -> None:
    """The in-memory view is what hdmf-zarr 0.14 writes: _LINKS, object_reference arrays, 0-d scalars, strings;
    pynwb's own NWBZarrIO reads it."""
    from hdmf_zarr.nwb import NWBZarrIO

    store = store_of(nzi.read(str(rich_h5)))
    root = json.loads(store.view.entries["zarr.json"])
    assert root["attributes"]["neurodata_type"] == "NWBFile" and root["attributes"][".specloc"] == "specifications"
    mask = json.loads(store.view.entries["acquisition/mask/zarr.json"])["attributes"]
    assert {"source": ".", "path": "/acquisition/vid", "name": "masked_imageseries"} in mask["_LINKS"]
    order = zarr.open_array(store, path="stimulus/templates/images/order_of_images", mode="r")
    assert order.attrs["_DTYPE"] == "object_reference"
    assert list(order[...]) == [f"/stimulus/templates/images/{n}" for n in ("rgb", "gray", "rgba", "plain")]
    identifier = zarr.open_array(store, path="identifier", mode="r")
    assert identifier.shape == () and identifier[()] == "nwbzarr-image-interop-0001"
    with NWBZarrIO(store, mode="r") as io:
        back = io.read()
        errors = compare_files(back, nzi.read(str(rich_h5)))
        assert not errors, listing(errors)


def test_signature_found_after_a_user_block(tmp_path: Path) -> None:
    path = tmp_path / "ub.nwb"
    nwbfile = PYNWB.new_file()
    nwbfile.add_acquisition(PYNWB.new("ImageSeries", name="m", data=MOVIE[:5], unit="n.a.", rate=2.0,
                                      description="after a 512-byte user block"))
    plain = write_h5(nwbfile, tmp_path / "plain.nwb")
    with h5py.File(plain, "r") as src, h5py.File(path, "w", userblock_size=512) as dst:
        for key, value in src.attrs.items():
            dst.attrs[key] = value
        for name in src:
            src.copy(src[name], dst, name=name)
    head = path.read_bytes()[:2048]
    assert not head.startswith(b"\x89HDF") and has_signature(head)
    got = nzi.read(str(path))
    np.testing.assert_array_equal(got.acquisition["m"].data.compute(), MOVIE[:5])


# -- layouts: chunks read by byte range, decoded by numcodecs --------------------------------------------------------

CODECS = {"gzip_shuffle": ["bytes", "numcodecs.shuffle", "numcodecs.zlib"], "contiguous": ["bytes"],
          "fletcher32": ["bytes", "numcodecs.zlib", "numcodecs.fletcher32"], "tiny": ["bytes", "numcodecs.zlib"],
          "lzf": ["bytes"]}


@pytest.mark.parametrize("layout", [*LAYOUTS, "compact"])
def test_layouts_read_equal_to_pynwb(layouts_h5: Path, layout: str) -> None:
    got = nzi.read(str(layouts_h5))
    with pynwb_h5(layouts_h5) as expected:
        errors = compare_files(expected, got)
        assert not errors, listing(errors)
        np.testing.assert_array_equal(got.acquisition[layout].data.compute(), expected.acquisition[layout].data[:])
    if layout != "compact":
        np.testing.assert_array_equal(got.acquisition[layout].timestamps.compute(), TIMES)
        doc = json.loads(store_of(got).view.entries[f"acquisition/{layout}/data/zarr.json"])
        assert [c["name"] for c in doc["codecs"]] == CODECS[layout]


def test_chunked_frames_are_byte_range_reads(layouts_h5: Path) -> None:
    got = nzi.read(str(layouts_h5))
    store = store_of(got)
    before = store.source.requests
    assert before == 0  # the walk read the metadata through h5py; the view is in memory
    series = got.acquisition["gzip_shuffle"]
    np.testing.assert_array_equal(series.data[23].compute(), MOVIE[23])
    assert store.source.requests == 1  # the one (10, 64, 48) chunk holding frame 23
    store.source.requests = 0
    np.testing.assert_array_equal(got.acquisition["tiny"].data[23].compute(), MOVIE[23])
    # 13 x 7 chunks cover one frame; rows of chunks that touch in the file merge into fewer requests
    assert 1 <= store.source.requests <= 13 * 7
    store.source.requests = 0
    np.testing.assert_array_equal(got.acquisition["contiguous"].data[40:42].compute(), MOVIE[40:42])
    assert store.source.requests == 1


def test_tiny_chunks_give_whole_frame_dask_blocks(layouts_h5: Path) -> None:
    data = nzi.read(str(layouts_h5)).acquisition["tiny"].data
    assert data.chunks[1:] == ((64,), (48,))  # whole frames: 13 x 7 HDF5 chunks merged into each block
    assert data.numblocks == (1, 1, 1)  # 50 frames are far below 64 MB
    np.testing.assert_array_equal(data.compute(), MOVIE)


def test_block_shape_merges_small_chunks_and_splits_huge_rows() -> None:
    from nwbzarr_image.hdf5.blocks import block_shape
    from nwbzarr_image.hdf5.view import ArraySource

    tiny = ArraySource("d", "chunked", (36000, 512, 512), (385, 35, 35), "<u2")
    # a whole-frame row of chunks is 192 MB: cut along frames into 64 MB blocks (385 has no divisor in 128-256)
    assert block_shape(tiny) == (128, 512, 512)
    frame_chunks = ArraySource("d", "chunked", (36000, 512, 512), (20, 512, 512), "<u2")
    assert block_shape(frame_chunks) == (120, 512, 512)
    huge_rows = ArraySource("d", "chunked", (36000, 512, 512), (2254, 14, 14), "<u2")
    assert block_shape(huge_rows) == (161, 512, 512)  # a 1.2 GB row: 14 blocks of 161 frames (80 MB), whole frames
    small_rows = ArraySource("d", "chunked", (36000, 512, 512), (200, 32, 32), "<u2")
    assert block_shape(small_rows) == (200, 512, 512)  # a 100 MB row stays one block
    huge_frame = ArraySource("d", "chunked", (100, 16384, 16384), (1, 1024, 1024), "<u2")
    rows = block_shape(huge_frame)  # a 512 MB frame: only then split along y, at chunk edges
    assert rows[0] == 1 and rows[1] % 1024 == 0 and rows[2] == 16384 and rows[1] * 16384 * 2 <= 128 * 2**20
    for chunks in [(385, 35, 35), (20, 512, 512), (2254, 14, 14), (200, 32, 32), (7, 3, 3), (36000, 1, 1)]:
        got = block_shape(ArraySource("d", "chunked", (36000, 512, 512), chunks, "<u2"))
        assert got[1:] == (512, 512) and got[0] * 512 * 512 * 2 <= 128 * 2**20


def test_merge_joins_neighbouring_ranges() -> None:
    assert merge([(100, 10), (0, 50), (50, 50), (10_000_000, 5)]) == [(0, 110, [1, 2, 0]),
                                                                       (10_000_000, 10_000_005, [3])]


def test_filter_mask_chunk_falls_back_to_h5py(tmp_path: Path) -> None:
    """A chunk written with some filters skipped (non-zero filter mask) is decoded by h5py, the others by zarr."""
    path = write_h5(PYNWB.new_file(), tmp_path / "mask.nwb")
    values = frames((40, 64, 48), np.uint16)
    with h5py.File(path, "r+") as h:
        image_series_group(h, "acquisition/masked")
        add_raw_dataset(h, "acquisition/masked", "data", values, (4, 64, 48), [(1, (6,))],
                        lambda i, block: block.tobytes() if i == 1 else zlib.compress(block.tobytes(), 6),
                        masks=lambda i: 1 if i == 1 else 0)
        h["acquisition/masked/data"].attrs["unit"] = "n.a."
        h["acquisition/masked"].create_dataset("timestamps", data=np.arange(40.0))
        np.testing.assert_array_equal(h["acquisition/masked/data"][()], values)
    nwbfile = nzi.read(str(path))
    np.testing.assert_array_equal(nwbfile.acquisition["masked"].data.compute(), values)
    store = store_of(nwbfile)
    assert store.view.sources["acquisition/masked/data"].kind == "chunked"
    assert store.tables["acquisition/masked/data"].masks == {1: 1}  # only chunk 1 went through h5py


def test_external_file_series_has_no_chunks(rich_h5: Path) -> None:
    got = nzi.read(str(rich_h5))
    ext = got.acquisition["ext"]
    assert ext.data is None or ext.data.shape[0] == 0
    assert list(ext.starting_frame) == [0, 100] and ext.explicit_num_samples == 250


# -- pynwb subtypes and extensions -----------------------------------------------------------------------------------

def _ophys_file() -> Any:
    from pynwb.ophys import OnePhotonSeries, OpticalChannel, TwoPhotonSeries

    f = PYNWB.new_file()
    scope = f.create_device(name="scope", description="two-photon microscope")
    channel = OpticalChannel(name="green", description="green", emission_lambda=510.0)
    plane = f.create_imaging_plane(name="plane", optical_channel=channel, description="V1 plane", device=scope,
                                   excitation_lambda=920.0, indicator="GCaMP6f", location="V1", imaging_rate=30.0)
    from hdmf.backends.hdf5 import H5DataIO

    f.add_acquisition(TwoPhotonSeries(name="tps", data=H5DataIO(MOVIE, chunks=(5, 64, 48), compression="gzip"),
                                      imaging_plane=plane, rate=30.0, unit="a.u.", field_of_view=[0.1, 0.2],
                                      pmt_gain=2.0, device=scope))
    f.add_acquisition(OnePhotonSeries(name="ops", data=MOVIE[:10], imaging_plane=plane, rate=10.0, unit="a.u.",
                                      exposure_time=0.01, binning=2))
    return f


def test_two_photon_and_one_photon_series_kept_as_image_series(tmp_path: Path) -> None:
    path = write_h5(_ophys_file(), tmp_path / "ophys.nwb")
    got = nzi.read(str(path))
    with pynwb_h5(path) as expected:
        for name in ("tps", "ops"):
            ours, theirs = got.acquisition[name], expected.acquisition[name]
            assert isinstance(ours, nzi.ImageSeries)
            assert (ours.neurodata_type, ours.namespace) == (type(theirs).__name__, "core")
            assert ours.object_id == theirs.object_id and ours.rate == theirs.rate and ours.unit == theirs.unit
            np.testing.assert_array_equal(ours.data.compute(), theirs.data[:])
            assert ours.extra_links["imaging_plane"] == "/general/optophysiology/plane"
        assert got.acquisition["tps"].extra_attrs == {"pmt_gain": 2.0}
        assert got.acquisition["tps"].device is got.devices["scope"]
        np.testing.assert_allclose(got.acquisition["tps"].extra_children["field_of_view"].data.load(),
                                   expected.acquisition["tps"].field_of_view[:])
        assert got.acquisition["ops"].extra_attrs == {"exposure_time": 0.01, "binning": 2}


def test_unknown_extension_type_is_kept_generically(tmp_path: Path) -> None:
    path = write_h5(build_rich(PYNWB), tmp_path / "ext.nwb")
    with pynwb_h5(path) as expected:
        object_ids = {name: obj.object_id for name, obj in expected.acquisition.items()}
    with h5py.File(path, "r+") as h:
        fancy = h["acquisition"].create_group("fancy")
        fancy.attrs.update({"neurodata_type": "FancySeries", "namespace": "ndx-fancy", "object_id": "f-1",
                            "gain": 3.5})
        fancy.create_dataset("values", data=np.arange(6, dtype=np.int16)).attrs["unit"] = "V"
        fancy["device"] = h5py.SoftLink("/general/devices/camera")
        fancy.create_dataset("big", data=frames((64, 64, 8), np.uint16), chunks=(16, 64, 8), compression="gzip")
    got = nzi.read(str(path))
    generic = got.acquisition["fancy"]
    assert isinstance(generic, nzi.model.GenericGroup)
    assert generic.attrs["neurodata_type"] == "FancySeries" and generic.attrs["gain"] == 3.5
    assert generic.links == {"device": "/general/devices/camera"}
    np.testing.assert_array_equal(generic.children["values"].data.load(), np.arange(6))
    np.testing.assert_array_equal(generic.children["big"].data.load(), frames((64, 64, 8), np.uint16))
    assert {n: o.object_id for n, o in got.acquisition.items() if n != "fancy"} == object_ids


# -- pickling for process workers ------------------------------------------------------------------------------------

def test_arrays_pickle_with_their_chunk_table_and_no_h5py_handle(layouts_h5: Path) -> None:
    data = nzi.read(str(layouts_h5)).acquisition["tiny"].data
    blob = pickle.dumps(data)
    assert b"h5py" not in blob
    back = pickle.loads(blob)  # our own pickle, made just above
    np.testing.assert_array_equal(back.compute(), MOVIE)


def test_distributed_process_workers_read_without_h5py(layouts_h5: Path) -> None:
    from distributed import Client, LocalCluster

    series = nzi.read(str(layouts_h5)).acquisition["gzip_shuffle"]
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        total = client.compute(series.data.astype(np.int64).sum()).result()
        loaded = client.run(lambda: __import__("sys").modules.get("h5py") is not None)
    assert total == int(MOVIE.astype(np.int64).sum())
    assert not any(loaded.values()), loaded


def test_opening_reads_scalars_and_strings_from_the_view_metadata(layouts_h5: Path, monkeypatch) -> None:
    """Everything the decoder needs is in the root zarr.json of the view: one lookup, no chunk key asked."""
    asked: list[str] = []
    real = Hdf5Store.get

    async def get(self: Any, key: str, *args: Any, **kwargs: Any) -> Any:
        asked.append(key)
        return await real(self, key, *args, **kwargs)

    monkeypatch.setattr(Hdf5Store, "get", get)
    nwbfile = nzi.read(str(layouts_h5))
    assert nwbfile.identifier and nwbfile.session_start_time.year == 2024
    assert nwbfile.acquisition["tiny"].comments == "tiny" and nwbfile.acquisition["compact"].rate == 20.0
    assert asked == ["zarr.json"]


PLUGIN_FILTERS = {  # name -> (hdf5plugin filter, how its chunks are read, codecs declared in the view)
    "blosc_zstd": ("Blosc", {"cname": "zstd", "clevel": 5, "shuffle": 1}, "chunked", ["bytes", "numcodecs.blosc"]),
    "blosc_bitshuffle": ("Blosc", {"cname": "lz4", "clevel": 3, "shuffle": 2}, "chunked",
                         ["bytes", "numcodecs.blosc"]),
    "zstd": ("Zstd", {"clevel": 3}, "chunked", ["bytes", "numcodecs.zstd"]),
    "lz4": ("LZ4", {}, "fallback", ["bytes"]),
    "bitshuffle": ("Bitshuffle", {"cname": "lz4"}, "fallback", ["bytes"]),
}


@pytest.mark.parametrize("name", sorted(PLUGIN_FILTERS))
def test_hdf5plugin_filters(tmp_path: Path, name: str) -> None:
    """Blosc and zstd chunks are decoded by numcodecs from byte ranges; LZ4 and Bitshuffle through h5py with
    hdf5plugin's filters."""
    import hdf5plugin

    cls, options, kind, codecs = PLUGIN_FILTERS[name]
    path = write_h5(PYNWB.new_file(), tmp_path / "plugins.nwb")
    with h5py.File(path, "r+") as h:
        group = image_series_group(h, f"acquisition/{name}")
        data = group.create_dataset("data", data=MOVIE, chunks=(10, 64, 48), **getattr(hdf5plugin, cls)(**options))
        data.attrs["unit"] = "n.a."
        group.create_dataset("timestamps", data=TIMES)
    nwbfile = nzi.read(str(path))
    store = store_of(nwbfile)
    assert store.view.sources[f"acquisition/{name}/data"].kind == kind
    assert [c["name"] for c in json.loads(store.view.entries[f"acquisition/{name}/data/zarr.json"])["codecs"]] == codecs
    np.testing.assert_array_equal(nwbfile.acquisition[name].data.compute(), MOVIE)
    np.testing.assert_array_equal(nwbfile.acquisition[name].data[17].compute(), MOVIE[17])
