"""Remote locations: a real S3-compatible server and a static HTTP server, both on 127.0.0.1."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from builders import full_file, movie
from servers import http_server

import nwbzarr_image as nzi


def _movie_file(start_time, frames: np.ndarray, **storage) -> nzi.NWBFile:
    nwb = nzi.NWBFile("s", "id", start_time)
    data = nzi.ZarrDataIO(frames, **storage) if storage else frames
    nwb.add_acquisition(nzi.ImageSeries("m", data, "a.u.", timestamps=np.arange(len(frames)) / 10))
    return nwb


# -- S3 ---------------------------------------------------------------------------------------------


def test_s3_write_read_append_read(s3, bucket: str, start_time) -> None:
    url = f"s3://{bucket}/session.nwb.zarr"
    frames = movie((20, 16, 12), np.uint16)
    nzi.write(_movie_file(start_time, frames, chunks=(5, 16, 12)), url, storage_options=s3.options())
    series = nzi.read(url, storage_options=s3.options()).acquisition["m"]
    assert series.data.chunksize == (5, 16, 12)
    np.testing.assert_array_equal(series.data[7].compute(), frames[7])
    more = movie((3, 16, 12), np.uint16, 5)
    with nzi.open(url, "a", storage_options=s3.options()) as f:
        f.acquisition["m"].append(more, timestamps=[2.0, 2.1, 2.2])
    back = nzi.read(url, storage_options=s3.options()).acquisition["m"]
    np.testing.assert_array_equal(back.data.compute(), np.concatenate([frames, more]))
    np.testing.assert_allclose(back.timestamps.compute()[-4:], [1.9, 2.0, 2.1, 2.2])
    assert not [p for p in s3.fs().ls(bucket) if "partial" in p]


def test_s3_full_file_round_trip(s3, bucket: str) -> None:
    url = f"s3://{bucket}/full.nwb.zarr"
    nwb = full_file()
    nzi.write(nwb, url, storage_options=s3.options())
    back = nzi.read(url, storage_options=s3.options())
    assert sorted(back.acquisition) == sorted(nwb.acquisition)
    assert [i.name for i in back.stimulus_template["templates"].order_of_images.data] == ["rgba", "gray", "rgb"]
    np.testing.assert_array_equal(back.acquisition["vid"].data.compute(), nwb.acquisition["vid"].data)


def test_s3_mode_w_dash_and_w(s3, bucket: str, start_time) -> None:
    url = f"s3://{bucket}/x.nwb.zarr"
    nzi.write(_movie_file(start_time, movie((2, 4, 4), np.uint8)), url, storage_options=s3.options())
    with pytest.raises(nzi.StoreExistsError):
        nzi.write(_movie_file(start_time, movie((2, 4, 4), np.uint8)), url, storage_options=s3.options())
    replacement = movie((3, 4, 4), np.uint8, 1)
    nzi.write(_movie_file(start_time, replacement), url, storage_options=s3.options(), mode="w")
    np.testing.assert_array_equal(nzi.read(url, storage_options=s3.options()).acquisition["m"].data.compute(),
                                  replacement)


def test_s3_missing_bucket_and_wrong_credentials_are_our_errors(s3, bucket: str, start_time) -> None:
    nwb = _movie_file(start_time, movie((2, 4, 4), np.uint8))
    with pytest.raises(nzi.StoreNotFoundError, match=r"write s3://no-such-bucket-x/f.nwb.zarr: not found"):
        nzi.write(nwb, "s3://no-such-bucket-x/f.nwb.zarr", storage_options=s3.options())
    url = f"s3://{bucket}/f.nwb.zarr"
    nzi.write(nwb, url, storage_options=s3.options())
    with pytest.raises(nzi.AccessDeniedError, match=r"read s3://.*access denied.*Check key/secret") as info:
        nzi.read(url, storage_options=s3.options(secret="wrong"))
    assert "botocore" not in str(info.value)
    with pytest.raises(nzi.AccessDeniedError):
        nzi.write(nwb, f"s3://{bucket}/g.nwb.zarr", storage_options=s3.options(key="AKIAWRONG", secret="x"))
    with pytest.raises(nzi.StoreNotFoundError, match="no Zarr group at"):
        nzi.read(f"s3://{bucket}/nothing.nwb.zarr", storage_options=s3.options())


def test_s3_dask_reads_one_object_per_chunk(s3, bucket: str, start_time) -> None:
    url = f"s3://{bucket}/c.nwb.zarr"
    frames = movie((12, 8, 8), np.uint8)
    nzi.write(_movie_file(start_time, frames, chunks=(4, 8, 8)), url, storage_options=s3.options())
    data = nzi.read(url, storage_options=s3.options()).acquisition["m"].data
    assert data.numblocks == (3, 1, 1)
    np.testing.assert_array_equal(data.mean(axis=0).compute(), frames.mean(axis=0))


# -- HTTP -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("series_count", [1, 12])
def test_http_open_costs_at_most_two_requests(tmp_path: Path, start_time, series_count: int) -> None:
    nwb = nzi.NWBFile("s", "id", start_time)
    cam = nwb.create_device("cam")
    for i in range(series_count):
        nwb.add_acquisition(nzi.ImageSeries(f"m{i}", movie((6, 8, 8), np.uint8, i), "n.a.", rate=10.0, device=cam,
                                            starting_time=float(i)))
    nwb.add_acquisition(nzi.ImageSeries("ext", external_file=["a.mp4"], rate=30.0, num_samples=10))
    nzi.write(nwb, str(tmp_path / "f.nwb.zarr"))
    with http_server(tmp_path) as server:
        back = nzi.read(f"{server.url}/f.nwb.zarr")
        assert server.total() <= 2, server.requests
        # fields held in metadata cost nothing more
        assert [back.acquisition[f"m{i}"].starting_time for i in range(series_count)] == list(
            map(float, range(series_count)))
        assert back.acquisition["ext"].num_samples == 10 and back.identifier == "id"
        assert back.acquisition["m0"].device is back.devices["cam"]
        assert server.total() <= 2, server.requests


def test_http_one_frame_costs_one_request_per_chunk(tmp_path: Path, start_time) -> None:
    frames = movie((40, 16, 16), np.uint16)
    nzi.write(_movie_file(start_time, frames, chunks=(8, 16, 16)), str(tmp_path / "f.nwb.zarr"))
    sharded = _movie_file(start_time, frames, chunks=(2, 16, 16), shards=(20, 16, 16))
    nzi.write(sharded, str(tmp_path / "s.nwb.zarr"))
    with http_server(tmp_path) as server:
        data = nzi.read(f"{server.url}/f.nwb.zarr").acquisition["m"].data
        server.reset()
        np.testing.assert_array_equal(data[17].compute(), frames[17])
        assert dict(server.requests) == {("GET", "/f.nwb.zarr/acquisition/m/data/c.2.0.0"): 1}
        server.reset()
        np.testing.assert_array_equal(data[6:10].compute(), frames[6:10])  # spans two chunks
        assert server.total() == 2
        sdata = nzi.read(f"{server.url}/s.nwb.zarr").acquisition["m"].data
        assert sdata.chunksize == (20, 16, 16)
        server.reset()
        np.testing.assert_array_equal(sdata[25].compute(), frames[25])
        assert {path for _, path in server.requests} == {"/s.nwb.zarr/acquisition/m/data/c.1.0.0"}


def test_http_is_read_only(tmp_path: Path, start_time) -> None:
    nzi.write(_movie_file(start_time, movie((2, 4, 4), np.uint8)), str(tmp_path / "f.nwb.zarr"))
    with http_server(tmp_path) as server:
        url = f"{server.url}/f.nwb.zarr"
        with pytest.raises(nzi.ReadOnlyError, match="URLs are read-only"):
            nzi.write(_movie_file(start_time, movie((2, 4, 4), np.uint8)), f"{server.url}/new.nwb.zarr")
        with pytest.raises(nzi.ReadOnlyError, match="is read-only"):
            nzi.open(url, "a")
        with nzi.open(url, "r") as f:
            assert f.acquisition["m"].data.shape == (2, 4, 4)
        assert all(method in ("GET", "HEAD") for method, _ in server.requests)


def test_http_chained_url_caches(tmp_path: Path, start_time) -> None:
    frames = movie((6, 4, 4), np.uint8)
    nzi.write(_movie_file(start_time, frames), str(tmp_path / "f.nwb.zarr"))
    with http_server(tmp_path) as server:
        url = f"simplecache::{server.url}/f.nwb.zarr"
        options = {"simplecache": {"cache_storage": str(tmp_path / "cache")}}
        for _ in range(2):
            np.testing.assert_array_equal(nzi.read(url, storage_options=options).acquisition["m"].data.compute(),
                                          frames)
        assert server.total() == 2, server.requests  # root metadata and one chunk once; then the cache


def test_http_missing_file_and_unreachable_server(tmp_path: Path) -> None:
    with http_server(tmp_path) as server:
        with pytest.raises(nzi.StoreNotFoundError):
            nzi.read(f"{server.url}/nothing.nwb.zarr")
        port = server.server_address[1]
    with pytest.raises((nzi.StoreUnreachableError, nzi.StoreNotFoundError)) as info:
        nzi.read(f"http://127.0.0.1:{port}/f.nwb.zarr")
    assert f"127.0.0.1:{port}" in str(info.value)


def test_a_read_only_bucket_reads_and_refuses_writes_with_our_error(s3, bucket: str, start_time) -> None:
    url = f"s3://{bucket}/ro.nwb.zarr"
    frames = movie((6, 8, 8), np.uint8)
    nzi.write(_movie_file(start_time, frames), url, storage_options=s3.options())
    reader = s3.options(key=s3.reader_key, secret=s3.reader_secret)
    np.testing.assert_array_equal(nzi.read(url, storage_options=reader).acquisition["m"].data.compute(), frames)
    with nzi.open(url, "r", storage_options=reader) as f:
        assert f.acquisition["m"].data.shape == (6, 8, 8)
    with pytest.raises(nzi.AccessDeniedError, match="access denied"):
        with nzi.open(url, "a", storage_options=reader) as f:
            f.acquisition["m"].append(frames[:1], timestamps=[9.0])
    with pytest.raises(nzi.AccessDeniedError):
        nzi.write(_movie_file(start_time, frames), f"s3://{bucket}/new.nwb.zarr", storage_options=reader)
    np.testing.assert_array_equal(nzi.read(url, storage_options=s3.options()).acquisition["m"].data.compute(), frames)
