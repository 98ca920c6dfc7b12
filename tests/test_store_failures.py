"""A store that fails while a file is read (metadata or chunks, through the dask arrays too) is the caller's
StoreUnreachableError naming the URL; only values that do not decode are CorruptDataError."""

from __future__ import annotations

import errno
import gzip
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from builders import full_file, movie
from servers import http_server
from zarr.abc.buffer import Buffer, BufferPrototype
from zarr.abc.store import ByteRequest
from zarr.codecs import GzipCodec
from zarr.storage import LocalStore, WrapperStore

import nwbzarr_image as nzi
from nwbzarr_image.errors import storage_error
from nwbzarr_image.limits import raised


class FailingStore(WrapperStore[Any]):
    """Reads through to ``store`` until ``failure`` is set; then every read of a key it selects raises it."""

    def __init__(self, store: Any, failure: Exception | None = None,
                 selects: Callable[[str], bool] = lambda key: True) -> None:
        super().__init__(store)
        self.failure = failure
        self.selects = selects
        self.failed: list[str] = []

    def _with_store(self, store: Any) -> FailingStore:
        return type(self)(store, self.failure, self.selects)

    def _check(self, key: str) -> None:
        if self.failure is not None and self.selects(key):
            self.failed.append(key)
            raise self.failure

    async def get(self, key: str, prototype: BufferPrototype, byte_range: ByteRequest | None = None
                  ) -> Buffer | None:
        self._check(key)
        return await self._store.get(key, prototype, byte_range)

    def get_sync(self, key: str, *, prototype: BufferPrototype | None = None,
                 byte_range: ByteRequest | None = None) -> Buffer | None:
        self._check(key)
        return self._store.get_sync(key, prototype=prototype, byte_range=byte_range)

    async def get_partial_values(self, prototype: BufferPrototype, key_ranges: Any) -> list[Buffer | None]:
        key_ranges = list(key_ranges)
        for key, _ in key_ranges:
            self._check(key)
        return await self._store.get_partial_values(prototype, key_ranges)


def _chunk(key: str) -> bool:
    return not key.endswith("zarr.json")


def test_a_connection_error_while_opening_is_unreachable_naming_the_url(good: Path) -> None:
    store = FailingStore(LocalStore(str(good), read_only=True), ConnectionError("connection reset by peer"))
    with pytest.raises(nzi.StoreUnreachableError) as info:
        nzi.read(store)
    assert store.failed == ["zarr.json"]
    message = str(info.value)
    assert f"read {store!r}: cannot reach the server (ConnectionError: connection reset by peer)" in message
    assert good.as_posix() in message and not isinstance(info.value, nzi.CorruptDataError)


def test_a_connection_error_while_computing_the_data_is_unreachable_naming_the_url(good: Path) -> None:
    store = FailingStore(LocalStore(str(good), read_only=True), selects=_chunk)
    data = nzi.read(store).acquisition["vid"].data
    np.testing.assert_array_equal(data[:2].compute(), full_file().acquisition["vid"].data[:2])  # reads before
    store.failure = ConnectionError("connection reset by peer")
    with pytest.raises(nzi.StoreUnreachableError) as info:
        data.compute()
    assert store.failed and all(key.startswith("acquisition/vid/data/c.") for key in store.failed)
    assert str(info.value).startswith(f"read {store!r}/acquisition/vid/data: cannot reach the server "
                                      "(ConnectionError: connection reset by peer)")
    assert good.as_posix() in str(info.value) and not isinstance(info.value, nzi.CorruptDataError)


def test_an_io_error_inside_the_store_is_unreachable_too(good: Path) -> None:
    store = FailingStore(LocalStore(str(good), read_only=True), selects=_chunk)
    data = nzi.read(store).acquisition["vid"].data
    store.failure = OSError(errno.EIO, "Input/output error")
    with pytest.raises(nzi.StoreUnreachableError, match=r"/acquisition/vid/data: the storage failed \(OSError: "
                                                        r"\[Errno 5\] Input/output error\); expected it to answer"):
        data.compute()


def test_a_failing_store_while_loading_a_stored_value_is_unreachable(good: Path) -> None:
    store = FailingStore(LocalStore(str(good), read_only=True), selects=_chunk)
    timestamps = nzi.read(store).acquisition["stack"].timestamps
    store.failure = ConnectionError("connection reset by peer")
    with pytest.raises(nzi.StoreUnreachableError, match=r"/acquisition/stack/timestamps: cannot reach the server"):
        np.asarray(timestamps)


def test_a_server_gone_between_read_and_compute_is_unreachable_naming_the_url(tmp_path: Path, start_time) -> None:
    frames = movie((6, 4, 4), np.uint8)
    nwb = nzi.NWBFile("s", "id", start_time)
    nwb.add_acquisition(nzi.ImageSeries("m", frames, "n.a.", rate=1.0))
    nzi.write(nwb, str(tmp_path / "f.nwb.zarr"))
    with http_server(tmp_path) as server:
        url = f"{server.url}/f.nwb.zarr"
        data = nzi.read(url).acquisition["m"].data
    with pytest.raises(nzi.StoreUnreachableError) as info:
        data.compute()
    assert str(info.value).startswith(f"read {url}/acquisition/m/data: cannot reach the server")


def test_a_damaged_gzip_chunk_is_corrupt_data(tmp_path: Path, start_time) -> None:
    path = tmp_path / "f.nwb.zarr"
    nwb = nzi.NWBFile("s", "id", start_time)
    nwb.add_acquisition(nzi.ImageSeries("m", nzi.ZarrDataIO(movie((6, 4, 4), np.uint8), chunks=(3, 4, 4),
                                                            compressors=[GzipCodec()]), "n.a.", rate=1.0))
    nzi.write(nwb, str(path))
    chunk = path / "acquisition/m/data/c.0.0.0"
    chunk.write_bytes(b"\x1f\x8b" + b"\x00" * 30)  # a gzip header, then garbage
    data = nzi.read(str(path)).acquisition["m"].data
    with pytest.raises(nzi.CorruptDataError, match=r"/acquisition/m/data: the stored values .*cannot be decoded"):
        data.compute()


def test_an_os_error_raised_outside_a_store_is_not_the_storage_s() -> None:
    with pytest.raises(OSError) as info:
        gzip.decompress(b"\x1f\x8b" + b"\x00" * 30)  # a codec's OSError (gzip.BadGzipFile)
    assert storage_error(info.value, "file:///f.nwb.zarr", "read") is None
    unreachable = storage_error(ConnectionError("reset"), "s3://b/f.nwb.zarr", "read")
    assert isinstance(unreachable, nzi.StoreUnreachableError)
    assert str(unreachable) == ("read s3://b/f.nwb.zarr: cannot reach the server (ConnectionError: reset). Check the "
                                "URL and endpoint_url in storage_options.")


def test_validate_deep_reports_a_failing_store_as_unreachable_not_as_a_damaged_chunk(good: Path) -> None:
    from nwbzarr_image.validate import validate

    store = FailingStore(LocalStore(str(good), read_only=True), ConnectionError("connection reset by peer"),
                         selects=lambda key: key.startswith("acquisition/vid/data/c"))
    assert validate(store) == []  # no chunk is read without deep
    with pytest.raises(nzi.StoreUnreachableError, match=r"validate .*acquisition/vid/data: cannot reach the server"):
        validate(store, deep=True)
    assert store.failed


def test_an_hdf5_server_gone_between_read_and_compute_is_unreachable_naming_the_url(tmp_path: Path,
                                                                                    monkeypatch) -> None:
    from hdf5_helpers import PYNWB, write_h5
    from hdmf.backends.hdf5 import H5DataIO

    monkeypatch.setenv("NWBZARR_IMAGE_CACHE", str(tmp_path / "cache"))
    frames = np.random.default_rng(0).integers(0, 60000, (400, 64, 64), dtype=np.uint16)  # beyond the walk's blocks
    f = PYNWB.new_file()
    f.add_acquisition(PYNWB.new("ImageSeries", name="m", unit="n.a.", rate=30.0, description="frames",
                                data=H5DataIO(frames, chunks=(10, 64, 64), compression="gzip")))
    write_h5(f, tmp_path / "s.nwb")
    with raised(max_cached_bytes=2**16):  # less than a chunk is kept: the compute must reach the server
        with http_server(tmp_path, ranges=True) as server:
            url = f"{server.url}/s.nwb"
            data = nzi.read(url).acquisition["m"].data
            np.testing.assert_array_equal(data[:10].compute(), frames[:10])
        with pytest.raises(nzi.StoreUnreachableError) as info:
            data.compute()
    assert str(info.value).startswith(f"read {url}/acquisition/m/data: cannot reach the server")
