"""NWB HDF5 input: bad files give our errors naming the file and the path; h5py runs only in its own thread,
before zarr, and lists each dataset's chunks once with chunk_iter; writing is refused; h5py is optional."""

from __future__ import annotations

import sys
import threading
import zlib
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pytest
import zarr
from hdf5_helpers import MOVIE, PYNWB, add_raw_dataset, image_series_group, layouts_file, write_h5
from hdmf.backends.hdf5 import H5DataIO

import nwbzarr_image as nzi
from nwbzarr_image.hdf5 import opener, store
from nwbzarr_image.hdf5.thread import THREAD_NAME


@pytest.fixture(scope="module")
def layouts_h5(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return layouts_file(tmp_path_factory.mktemp("layouts") / "layouts.nwb")


def _movie_file(path: Path, **storage: Any) -> Path:
    f = PYNWB.new_file()
    f.add_acquisition(PYNWB.new("ImageSeries", name="m", data=H5DataIO(MOVIE, **storage) if storage else MOVIE,
                                unit="n.a.", rate=10.0, description="movie"))
    return write_h5(f, path)


# -- bad input -----------------------------------------------------------------------------------------------------

def test_truncated_file_is_our_error_naming_it(tmp_path: Path) -> None:
    path = _movie_file(tmp_path / "cut.nwb", chunks=(10, 64, 48), compression="gzip")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(nzi.CorruptDataError, match=r"cut\.nwb.*truncated or damaged"):
        nzi.read(str(path))


def test_hdf5_file_that_is_not_nwb(tmp_path: Path) -> None:
    path = tmp_path / "plain.h5"
    with h5py.File(path, "w") as h:
        h.create_dataset("images", data=MOVIE)
        h.attrs["creator"] = "a microscope"
    with pytest.raises(nzi.LayoutError, match=r"plain\.h5.*not an NWB file.*expected 'NWBFile'"):
        nzi.read(str(path))


def test_local_file_that_is_not_hdf5(tmp_path: Path) -> None:
    path = tmp_path / "noise.nwb"
    path.write_bytes(b"not an hdf5 file at all" * 100)
    with pytest.raises(nzi.LayoutError, match=r"noise\.nwb.*no HDF5 signature"):
        nzi.read(str(path))


def test_missing_chunks_warn_naming_the_path_and_raise_when_strict(tmp_path: Path) -> None:
    path = write_h5(PYNWB.new_file(), tmp_path / "holes.nwb")
    with h5py.File(path, "r+") as h:
        group = image_series_group(h, "acquisition/holes")
        ds = group.create_dataset("data", shape=MOVIE.shape, dtype=MOVIE.dtype, chunks=(10, 64, 48),
                                  compression="gzip")
        ds[:20] = MOVIE[:20]  # chunks 2..4 are never written
        ds.attrs["unit"] = "n.a."
        group.create_dataset("timestamps", data=np.arange(50.0))
    series = nzi.read(str(path)).acquisition["holes"]
    np.testing.assert_array_equal(series.data[:20].compute(), MOVIE[:20])
    with pytest.warns(nzi.MissingChunkWarning, match="/acquisition/holes/data"):
        assert not series.data[30:40].compute().any()
    strict = nzi.read(str(path), strict=True).acquisition["holes"]
    with pytest.raises(nzi.CorruptDataError, match="/acquisition/holes/data"):
        strict.data[30:40].compute()


def test_unsupported_filter_without_fallback(tmp_path: Path) -> None:
    """A filter neither numcodecs nor h5py (with hdf5plugin) can decode: our error at read time, naming it."""
    path = write_h5(PYNWB.new_file(), tmp_path / "odd.nwb")
    values = np.arange(40 * 64 * 48, dtype=np.uint16).reshape(40, 64, 48)
    with h5py.File(path, "r+") as h:
        image_series_group(h, "acquisition/packed")
        add_raw_dataset(h, "acquisition/packed", "data", values, (10, 64, 48), [(32999, (0,))],
                        lambda i, block: block.tobytes())
        h["acquisition/packed/data"].attrs["unit"] = "n.a."
        h["acquisition/packed"].create_dataset("timestamps", data=np.arange(40.0))
    series = nzi.read(str(path)).acquisition["packed"]  # opening works: values are read on demand
    assert series.data.shape == (40, 64, 48)
    with pytest.raises(nzi.CorruptDataError, match=r"odd\.nwb: /acquisition/packed/data cannot be decoded.*"
                                                   r"'filter 32999'.*hdf5plugin"):
        series.data[3].compute()


def _damaged_movie(tmp_path: Path) -> Path:
    """A frame-chunked gzip movie (converted raw) whose chunk of frames 20-29 is overwritten in the middle."""
    path = _movie_file(tmp_path / "bad.nwb", chunks=(10, 64, 48), compression="gzip")
    with h5py.File(path, "r") as h:
        info = h["acquisition/m/data"].id.get_chunk_info_by_coord((20, 0, 0))
    with path.open("r+b") as fh:
        fh.seek(info.byte_offset + 20)
        fh.write(b"\xff" * 64)
    return path


def test_damaged_chunk_is_our_error_and_a_strict_conversion_leaves_nothing(tmp_path: Path) -> None:
    nwbfile = nzi.read(str(_damaged_movie(tmp_path)), strict=True)
    np.testing.assert_array_equal(nwbfile.acquisition["m"].data[:20].compute(), MOVIE[:20])
    with pytest.raises(nzi.CorruptDataError, match="/acquisition/m/data"):
        nwbfile.acquisition["m"].data[25].compute()
    out = tmp_path / "out.nwb.zarr"
    with pytest.raises(nzi.CorruptDataError, match=r"/acquisition/m/data chunk \(2, 0, 0\) cannot be decoded"):
        nzi.write(nwbfile, str(out))
    assert not out.exists() and not [p for p in tmp_path.iterdir() if "partial" in p.name]


def test_raw_conversion_copies_a_damaged_chunk_as_it_is(tmp_path: Path) -> None:
    """Without strict, compressed chunks are copied undecoded: the damage moves to the copy, and reading that
    frame of the copy fails the same way, while every other frame is intact."""
    path = _damaged_movie(tmp_path)
    out = tmp_path / "out.nwb.zarr"
    nzi.write(nzi.read(str(path)), str(out))
    copy = nzi.read(str(out)).acquisition["m"]
    record = copy.stored.arrays["data"]  # the raw copy keeps the source's chunks, packed into shards
    assert record.chunks == (10, 64, 48) and record.shards is not None
    with pytest.raises(nzi.CorruptDataError, match="/acquisition/m/data"):
        copy.data[25].compute()
    stored = zarr.open_array(str(out / "acquisition/m/data"), mode="r")  # inner chunks one by one
    np.testing.assert_array_equal(stored[:20], MOVIE[:20])
    np.testing.assert_array_equal(stored[30:], MOVIE[30:])


def test_writing_an_hdf5_file_is_refused(layouts_h5: Path) -> None:
    with pytest.raises(nzi.ReadOnlyError, match=r"read-only.*Convert it first"):
        nzi.open(str(layouts_h5), "a")


def test_without_h5py_the_error_names_the_pip_line(layouts_h5: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "h5py", None)
    with pytest.raises(nzi.MissingDependencyError, match=r'pip install "nwbzarr-image\[hdf5\]"'):
        nzi.read(str(layouts_h5))


# -- h5py and zarr's event loop never run together; chunk_iter once --------------------------------------------------

def test_walk_runs_in_the_h5py_thread_before_any_zarr_read(layouts_h5: Path, monkeypatch: pytest.MonkeyPatch
                                                          ) -> None:
    events: list[tuple[str, str]] = []
    real_walk, real_get = opener.walk_file, store.Hdf5Store.get

    def walk(f: Any, identity: str) -> Any:
        events.append(("walk", threading.current_thread().name))
        return real_walk(f, identity)

    async def get(self: Any, key: str, *args: Any, **kwargs: Any) -> Any:
        events.append(("zarr get", threading.current_thread().name))
        return await real_get(self, key, *args, **kwargs)

    monkeypatch.setattr(opener, "walk_file", walk)
    monkeypatch.setattr(store.Hdf5Store, "get", get)
    nzi.read(str(layouts_h5)).acquisition["gzip_shuffle"].data[3].compute()
    assert events[0][0] == "walk" and events[0][1].startswith(THREAD_NAME)
    assert all(kind == "zarr get" and not name.startswith(THREAD_NAME) for kind, name in events[1:])
    assert len(events) > 1


def test_chunks_are_listed_once_with_chunk_iter_on_first_read(layouts_h5: Path, monkeypatch: pytest.MonkeyPatch
                                                             ) -> None:
    calls: list[tuple[str, str]] = []
    real = store.list_chunks

    class OnlyChunkIter:
        def __init__(self, dsid: Any) -> None:
            self.dsid = dsid

        def chunk_iter(self, callback: Any) -> None:
            calls.append(("chunk_iter", threading.current_thread().name))
            self.dsid.chunk_iter(callback)

        def __getattr__(self, name: str) -> Any:
            raise AssertionError(f"the chunk index was read with {name}, not chunk_iter")

    class Dataset:
        def __init__(self, ds: Any) -> None:
            self.id = OnlyChunkIter(ds.id)

    monkeypatch.setattr(store, "list_chunks", lambda ds, grid, chunks: real(Dataset(ds), grid, chunks))
    nwbfile = nzi.read(str(layouts_h5))
    assert calls == []  # opening lists no chunk index
    data = nwbfile.acquisition["tiny"].data
    np.testing.assert_array_equal(data[7].compute(), MOVIE[7])
    np.testing.assert_array_equal(data[40:].compute(), MOVIE[40:])
    np.testing.assert_array_equal(data.compute(), MOVIE)
    assert len(calls) == 1 and calls[0][1].startswith(THREAD_NAME)
    table = nwbfile.source.store.tables["acquisition/tiny/data"]
    assert table.table.dtype.itemsize == 12 and len(table.table) == 4 * 13 * 7
    np.testing.assert_array_equal(nwbfile.acquisition["gzip_shuffle"].data[1].compute(), MOVIE[1])
    assert len(calls) == 2


def test_damaged_gzip_chunk_is_not_a_zlib_traceback(tmp_path: Path) -> None:
    path = write_h5(PYNWB.new_file(), tmp_path / "z.nwb")
    values = np.arange(20 * 64 * 48, dtype=np.uint16).reshape(20, 64, 48)
    with h5py.File(path, "r+") as h:
        image_series_group(h, "acquisition/z")
        add_raw_dataset(h, "acquisition/z", "data", values, (10, 64, 48), [(1, (4,))],
                        lambda i, block: zlib.compress(block.tobytes())[: 100 if i == 1 else None])
        h["acquisition/z/data"].attrs["unit"] = "n.a."
        h["acquisition/z"].create_dataset("timestamps", data=np.arange(20.0))
    series = nzi.read(str(path)).acquisition["z"]
    np.testing.assert_array_equal(series.data[:10].compute(), values[:10])
    with pytest.raises(nzi.CorruptDataError, match="/acquisition/z/data"):
        series.data[15].compute()


def test_external_link_is_left_out_with_a_warning(tmp_path: Path) -> None:
    other = _movie_file(tmp_path / "other.nwb")
    path = _movie_file(tmp_path / "linking.nwb", chunks=(10, 64, 48), compression="gzip")
    with h5py.File(path, "r+") as h:
        h["acquisition/borrowed"] = h5py.ExternalLink(str(other), "/acquisition/m")
    with pytest.warns(nzi.InvalidFileWarning, match=r"/acquisition/borrowed: an external link to .*other\.nwb"):
        nwbfile = nzi.read(str(path))
    assert sorted(nwbfile.acquisition) == ["m"]
    np.testing.assert_array_equal(nwbfile.acquisition["m"].data[4].compute(), MOVIE[4])


def test_cli_convert_strict_decodes_every_copied_chunk(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                                        ) -> None:
    from nwbzarr_image.cli import main

    path = _damaged_movie(tmp_path)
    strict_out = tmp_path / "strict.nwb.zarr"
    assert main(["convert", str(path), str(strict_out), "--strict", "--no-progress"]) != 0
    assert "chunk (2, 0, 0) cannot be decoded" in capsys.readouterr().err
    assert not strict_out.exists() and not [p for p in tmp_path.iterdir() if "partial" in p.name]
    plain_out = tmp_path / "plain.nwb.zarr"
    assert main(["convert", str(path), str(plain_out), "--no-progress"]) == 0
    np.testing.assert_array_equal(zarr.open_array(str(plain_out / "acquisition/m/data"), mode="r")[30:],
                                  MOVIE[30:])
