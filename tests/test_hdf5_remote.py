"""NWB HDF5 files over HTTP (the counting loopback server) and S3 (moto): requests counted, values compared."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from hdf5_helpers import PYNWB, pynwb_h5, write_h5
from hdmf.backends.hdf5 import H5DataIO
from interop_helpers import build_rich, compare_files, frames
from servers import http_server

import nwbzarr_image as nzi
from nwbzarr_image.hdf5 import Hdf5Store

TINY = frames((400, 128, 128), np.uint16)  # chunks (40, 16, 16): one frame touches 8 x 8 = 64 chunks
FRAMED = frames((60, 96, 80), np.uint8)


pytestmark = pytest.mark.usefixtures("hdf5_cache")  # each test with its own cache of remote views


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A file with a few image series: frame-chunked gzip, tiny proportional chunks, contiguous, and the rest of
    the rich content (links, references, images, external files)."""
    f = build_rich(PYNWB)
    f.add_acquisition(PYNWB.new("ImageSeries", name="framed", unit="n.a.", rate=30.0, description="frame chunks",
                                data=H5DataIO(FRAMED, chunks=(10, 96, 80), compression="gzip", shuffle=True)))
    f.add_acquisition(PYNWB.new("ImageSeries", name="tiny", unit="n.a.", rate=30.0, description="tiny chunks",
                                data=H5DataIO(TINY, chunks=(40, 16, 16), compression="gzip")))
    f.add_acquisition(PYNWB.new("ImageSeries", name="plain", unit="n.a.", rate=30.0, description="contiguous",
                                data=FRAMED))
    return write_h5(f, tmp_path_factory.mktemp("served") / "session.nwb")


def test_http_open_frame_and_second_open_requests(served: Path, tmp_path: Path, capsys) -> None:
    root = tmp_path / "www"
    root.mkdir()
    shutil.copy(served, root / "session.nwb")
    with http_server(root, ranges=True) as server:
        url = f"{server.url}/session.nwb"
        got = nzi.read(url)
        opened = server.total()
        server.reset()
        tiny = got.acquisition["tiny"].data
        np.testing.assert_array_equal(tiny[277].compute(), TINY[277])
        first_frame = server.total()
        server.reset()
        np.testing.assert_array_equal(tiny[5].compute(), TINY[5])
        next_frame = server.total()
        server.reset()
        np.testing.assert_array_equal(got.acquisition["framed"].data[33].compute(), FRAMED[33])
        framed = server.total()
        with pynwb_h5(served) as expected:
            errors = compare_files(expected, got)
            assert not errors, "\n".join(errors)
        server.reset()
        again = nzi.read(url)
        second_open = server.total()
        np.testing.assert_array_equal(again.acquisition["tiny"].data[399].compute(), TINY[399])
        print(f"\nHTTP requests: open {opened}, first tiny-chunk frame (64 chunks, with the chunk index) "
              f"{first_frame}, next tiny frame {next_frame}, one frame-chunked frame {framed}, second open "
              f"{second_open}")
    assert opened <= 4  # (issue target: 10) size, first megabyte, the rest from the last megabyte, one block
    assert first_frame <= 16 and next_frame <= 2 and framed <= 1
    assert second_open <= 2


def test_http_without_an_hdf5_suffix_is_probed_after_zarr(served: Path, tmp_path: Path) -> None:
    root = tmp_path / "www"
    (root / "assets" / "abc").mkdir(parents=True)
    shutil.copy(served, root / "assets" / "abc" / "download")
    with http_server(root, ranges=True) as server:
        got = nzi.read(f"{server.url}/assets/abc/download")
        assert isinstance(got.source.store, Hdf5Store)
        np.testing.assert_array_equal(got.acquisition["framed"].data[:3].compute(), FRAMED[:3])


def test_s3_read_with_storage_options(s3, bucket: str, served: Path) -> None:
    url = f"s3://{bucket}/dandi/session.nwb"
    s3.fs().put(str(served), url)
    got = nzi.read(url, storage_options=s3.options())
    with pynwb_h5(served) as expected:
        errors = compare_files(expected, got)
        assert not errors, "\n".join(errors)
    np.testing.assert_array_equal(got.acquisition["tiny"].data[60].compute(), TINY[60])
    np.testing.assert_array_equal(got.acquisition["plain"].data.compute(), FRAMED)
    with pytest.raises(nzi.AccessDeniedError):
        nzi.read(url, storage_options=s3.options(key=s3.key, secret="wrong"))


def test_s3_open_for_writing_is_refused(s3, bucket: str, served: Path) -> None:
    url = f"s3://{bucket}/session.nwb"
    s3.fs().put(str(served), url)
    with pytest.raises(nzi.ReadOnlyError, match="read-only"):
        nzi.open(url, "a", storage_options=s3.options())


def test_http_server_that_ignores_range_requests_still_gives_the_right_values(served: Path, tmp_path: Path) -> None:
    """A server answering every ranged GET with 200 and the whole file: the values are right, and a
    PerformanceWarning says what it costs."""
    root = tmp_path / "www"
    root.mkdir()
    shutil.copy(served, root / "session.nwb")
    with http_server(root) as server, pytest.warns(nzi.PerformanceWarning, match="ignores HTTP Range requests"):
        got = nzi.read(f"{server.url}/session.nwb")
        np.testing.assert_array_equal(got.acquisition["framed"].data[:12].compute(), FRAMED[:12])
        np.testing.assert_array_equal(got.acquisition["tiny"].data[60].compute(), TINY[60])
        np.testing.assert_array_equal(got.acquisition["plain"].data.compute(), FRAMED)
