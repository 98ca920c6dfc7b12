"""info, validate, preview, view and rechunk_series on NWB HDF5 files (written by pynwb in the test)."""

from __future__ import annotations

import http.client
import json
from pathlib import Path

import h5py
import numpy as np
import pytest
from hdf5_helpers import MOVIE, layouts_file
from preview_helpers import auto, decode_png, expected

import nwbzarr_image as nzi
from nwbzarr_image.cli import main
from nwbzarr_image.preview import preview
from nwbzarr_image.validate import validate
from nwbzarr_image.viewer import ViewerApp, ViewerServer


@pytest.fixture(scope="module")
def layouts_h5(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return layouts_file(tmp_path_factory.mktemp("layouts") / "layouts.nwb")


def test_info_lists_series_with_their_hdf5_storage(layouts_h5: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["info", str(layouts_h5)]) == 0
    out = capsys.readouterr().out
    assert "/acquisition/gzip_shuffle" in out and "/acquisition/tiny" in out and "(50, 64, 48)" in out
    assert "numcodecs.zlib" in out and "numcodecs.shuffle" in out


def test_validate_finds_nothing_wrong_and_reports_missing_chunks(layouts_h5: Path, tmp_path: Path) -> None:
    problems = validate(str(layouts_h5), deep=True)
    assert [p for p in problems if p.severity == "error"] == [], problems
    holes = tmp_path / "holes.nwb"
    holes.write_bytes(layouts_h5.read_bytes())
    with h5py.File(holes, "r+") as h:
        ds = h["acquisition/gzip_shuffle"].create_dataset("extra", shape=(50, 64, 48), dtype="u2", chunks=(10, 64, 48))
        del h["acquisition/gzip_shuffle/data"]
        h["acquisition/gzip_shuffle"].move("extra", "data")
        ds[:10] = MOVIE[:10]
        ds.attrs["unit"] = "n.a."
    found = [p for p in validate(str(holes)) if p.path == "/acquisition/gzip_shuffle/data"]
    assert sorted(str(p).split("chunk ")[1].split(" ")[0] for p in found) == [f"c/{i}/0/0" for i in range(1, 5)]
    assert main(["validate", str(layouts_h5)]) == 0


def test_preview_renders_a_frame_of_an_hdf5_series(layouts_h5: Path, tmp_path: Path) -> None:
    image = preview(str(layouts_h5), "tiny", frame=12)
    np.testing.assert_array_equal(image.pixels, expected(MOVIE[12], *auto(MOVIE[12])))
    out = tmp_path / "p.png"
    assert main(["preview", str(layouts_h5), "gzip_shuffle", "--frame", "3", "--out", str(out)]) == 0
    np.testing.assert_array_equal(decode_png(out), expected(MOVIE[3], *auto(MOVIE[3])))


def test_viewer_serves_frames_of_an_hdf5_file(layouts_h5: Path) -> None:
    server = ViewerServer(ViewerApp.open(str(layouts_h5)))
    server.start()
    try:
        def get(target: str) -> tuple[int, bytes]:
            connection = http.client.HTTPConnection("127.0.0.1", server.server_address[1], timeout=30)
            connection.request("GET", target)
            response = connection.getresponse()
            result = response.status, response.read()
            connection.close()
            return result

        status, body = get("/api/file")
        items = {item["path"]: item for item in json.loads(body)["items"]}
        assert status == 200 and items["/acquisition/fletcher32"]["frames"] == 50
        status, body = get("/api/frame?path=/acquisition/fletcher32&frame=7")
        assert status == 200
        np.testing.assert_array_equal(decode_png(body), expected(MOVIE[7], *auto(MOVIE[7])))
    finally:
        server.stop()


def test_rechunk_series_from_an_hdf5_file(layouts_h5: Path, tmp_path: Path) -> None:
    source = nzi.read(str(layouts_h5)).acquisition["tiny"]
    out = tmp_path / "traces.nwb.zarr"
    copy = nzi.rechunk_series(source, str(out), name="tiny_traces", tile=(16, 16), frames_per_chunk=25)
    assert copy.data.chunksize == (25, 16, 16)
    np.testing.assert_array_equal(copy.data.compute(), MOVIE)
    np.testing.assert_array_equal(copy.timestamps.compute(), source.timestamps.compute())
    with pytest.raises(nzi.ReadOnlyError):
        nzi.rechunk_series(source, str(layouts_h5), name="in_place")
