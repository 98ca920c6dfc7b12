"""Converting NWB HDF5 files into NWB Zarr: everything carried over, read back by pynwb's NWBZarrIO equal to
NWBHDF5IO reading the source; frame-aligned chunks; a progress bar; nothing left behind on failure."""

from __future__ import annotations

import itertools
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import zarr
from hdf5_helpers import MOVIE, PYNWB, layouts_file, pynwb_h5, write_h5
from hdmf_zarr.nwb import NWBZarrIO
from interop_helpers import build_rich, compare_files

import nwbzarr_image as nzi
from nwbzarr_image.cli import main
from nwbzarr_image.hdf5.store import Hdf5Store


def _ecephys_file(path: Path) -> Path:
    from pynwb.behavior import Position, SpatialSeries
    from pynwb.ecephys import ElectricalSeries

    f = build_rich(PYNWB)
    probe = f.create_device(name="probe", description="silicon probe")
    shank = f.create_electrode_group(name="shank0", description="shank", location="CA1", device=probe)
    for i in range(4):
        f.add_electrode(group=shank, location="CA1", x=float(i), y=0.5, z=-1.0)
    region = f.create_electrode_table_region(region=[0, 1, 2, 3], description="all electrodes")
    f.add_acquisition(ElectricalSeries(name="ephys", data=np.arange(400, dtype=np.int16).reshape(100, 4),
                                       electrodes=region, rate=1000.0))
    f.add_trial_column(name="stim", description="stimulus id")
    f.add_trial(start_time=0.0, stop_time=1.0, stim=3, timeseries=[f.acquisition["vid"]])
    f.add_trial(start_time=2.0, stop_time=3.0, stim=5, timeseries=[f.acquisition["vid"]])
    position = Position(name="position")
    position.add_spatial_series(SpatialSeries(name="xy", data=np.linspace(0, 1, 40).reshape(20, 2),
                                              reference_frame="origin", rate=10.0))
    f.processing["behavior"].add(position)
    return write_h5(f, path)


def _plain(value: Any) -> Any:
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if hasattr(value, "idx_start") and hasattr(value, "timeseries"):  # a TimeSeriesReference
        return (value.idx_start, value.count, getattr(value.timeseries, "name", None))
    return getattr(value, "name", value)


def _frame(table: Any) -> Any:
    """A table's dataframe with objects (electrode groups, time series references) replaced by their names."""
    frame = table.to_dataframe()
    for column in frame.columns:
        frame[column] = [_plain(v) for v in frame[column]]
    return frame


def test_cli_convert_carries_everything_and_nwbzarrio_reads_it_equal(tmp_path: Path,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    source = _ecephys_file(tmp_path / "session.nwb")
    out = tmp_path / "session.nwb.zarr"
    assert main(["convert", str(source), str(out)]) == 0
    captured = capsys.readouterr()
    assert "converted" in captured.out and "task" in captured.err  # the tqdm bar
    with pynwb_h5(source) as expected, NWBZarrIO(str(out), mode="r") as io:
        got = io.read()
        errors = compare_files(expected, got)
        assert not errors, "\n".join(errors)
        assert _frame(got.electrodes).equals(_frame(expected.electrodes))
        assert _frame(got.trials).equals(_frame(expected.trials))
        assert got.acquisition["ephys"].electrodes.table is got.electrodes
        np.testing.assert_array_equal(got.acquisition["ephys"].data[:], expected.acquisition["ephys"].data[:])
        xy = got.processing["behavior"]["position"]["xy"]
        np.testing.assert_array_equal(xy.data[:], expected.processing["behavior"]["position"]["xy"].data[:])
        assert xy.reference_frame == "origin"
        assert got.electrodes["group"][0].location == "CA1"


def test_converted_tiny_chunk_movie_has_frame_aligned_chunks(tmp_path: Path) -> None:
    source = layouts_file(tmp_path / "layouts.nwb")
    out = tmp_path / "layouts.nwb.zarr"
    nzi.write(nzi.read(str(source)), str(out))
    for name in ("tiny", "gzip_shuffle", "fletcher32", "contiguous", "lzf"):
        array = zarr.open_array(str(out), path=f"acquisition/{name}/data", mode="r")
        assert tuple(array.chunks[1:]) == MOVIE.shape[1:]  # whole frames, whatever the HDF5 chunks were
        np.testing.assert_array_equal(array[...], MOVIE)


def test_convert_refuses_movie_options_for_an_nwb_file(tmp_path: Path) -> None:
    source = write_h5(build_rich(PYNWB), tmp_path / "rich.nwb")
    out = tmp_path / "rich.nwb.zarr"
    assert main(["convert", str(source), str(out), "--rate", "30"]) == 2
    assert not out.exists()


def test_frame_chunked_gzip_is_copied_raw_into_shards(tmp_path: Path) -> None:
    """Frame-aligned HDF5 chunks with codecs zarr has: the compressed bytes are copied, not decoded; NWBZarrIO and
    zarr read the shards back."""
    import h5py

    source = layouts_file(tmp_path / "layouts.nwb")
    out = tmp_path / "raw.nwb.zarr"
    nzi.write(nzi.read(str(source)), str(out))
    array = zarr.open_array(str(out), path="acquisition/gzip_shuffle/data", mode="r")
    assert array.chunks == (10, 64, 48) and array.shards == (50, 64, 48)
    assert [type(c).__name__ for c in array.compressors] == ["Shuffle", "Zlib"]
    shard = (out / "acquisition/gzip_shuffle/data/c.0.0.0").read_bytes()
    with h5py.File(source, "r") as h:
        dsid = h["acquisition/gzip_shuffle/data"].id
        raw = [dsid.read_direct_chunk((i * 10, 0, 0))[1] for i in range(5)]
    assert shard.startswith(b"".join(raw))  # the HDF5 chunks as they were, then the shard index
    assert len(shard) == sum(map(len, raw)) + 5 * 16 + 4
    np.testing.assert_array_equal(array[...], MOVIE)
    with NWBZarrIO(str(out), mode="r") as io:
        np.testing.assert_array_equal(io.read().acquisition["gzip_shuffle"].data[:], MOVIE)
    tiny = zarr.open_array(str(out), path="acquisition/tiny/data", mode="r")
    assert tiny.chunks[1:] == (64, 48) and [type(c).__name__ for c in tiny.compressors] != ["Zlib"]  # recoded


def _shard_files(root: Path) -> dict[str, bytes]:
    folder = root / "acquisition/gzip_shuffle/data"
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.name != "zarr.json"}


def test_raw_copy_without_the_kernel_copy_writes_the_same_shards(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """copy_file_range copies the chunks file to file; where the kernel refuses (another file system), pread
    and write give the same bytes."""
    import errno

    from nwbzarr_image.hdf5 import filecopy

    source = layouts_file(tmp_path / "layouts.nwb")
    kernel = tmp_path / "kernel.nwb.zarr"
    nzi.write(nzi.read(str(source)), str(kernel))
    calls: list[int] = []

    def refused(src: int, dst: int, count: int, offset_src: int | None = None) -> int:
        calls.append(count)
        raise OSError(errno.EXDEV, "Invalid cross-device link")

    monkeypatch.setattr(filecopy.os, "copy_file_range", refused)
    monkeypatch.setattr(filecopy, "STEP", 1000)  # many short reads and writes per chunk
    fallback = tmp_path / "fallback.nwb.zarr"
    nzi.write(nzi.read(str(source)), str(fallback))
    assert calls  # the kernel copy was tried, refused, and the copy went on without it
    assert _shard_files(fallback) == _shard_files(kernel) and len(_shard_files(kernel)) == 1
    np.testing.assert_array_equal(zarr.open_array(str(fallback), path="acquisition/gzip_shuffle/data")[...], MOVIE)


def test_raw_copy_of_a_file_cut_after_opening_fails_and_leaves_nothing(tmp_path: Path) -> None:
    import h5py
    from hdmf.backends.hdf5 import H5DataIO

    f = PYNWB.new_file()
    f.add_acquisition(PYNWB.new("ImageSeries", name="m", unit="n.a.", rate=30.0, description="frames",
                                data=H5DataIO(MOVIE, chunks=(10, 64, 48), compression="gzip")))
    source = write_h5(f, tmp_path / "movie.nwb")
    nwbfile = nzi.read(str(source))
    with h5py.File(source, "r") as h:
        chunks = [h["acquisition/m/data"].id.get_chunk_info_by_coord((i * 10, 0, 0)) for i in range(5)]
    last = max(chunks, key=lambda c: c.byte_offset)
    assert last.byte_offset + last.size >= max(c.byte_offset + c.size for c in chunks)
    with source.open("r+b") as fh:  # the movie's last chunk in the file now ends early
        fh.truncate(last.byte_offset + last.size // 2)
    out = tmp_path / "out.nwb.zarr"
    with pytest.raises(nzi.CorruptDataError, match=r"movie\.nwb: h5py cannot open the file \(.*truncated.*\).*"
                                                   "fetch it again"):
        nzi.write(nwbfile, str(out))  # listing the chunks opens the file again
    assert sorted(p.name for p in tmp_path.iterdir()) == ["movie.nwb"]


def test_rows_of_tiny_chunks_above_the_limit_are_cut_along_frames_and_each_chunk_written_once(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A whole-frame row of HDF5 chunks larger than MAX_ROW_BYTES (here 13 frames against a limit of 5) becomes
    dask blocks of whole frames of about BLOCK_BYTES; the output chunks divide the blocks, so every one is
    written once, with no rechunk between the tasks (no PerformanceWarning)."""
    import warnings

    from zarr.storage import LocalStore

    from nwbzarr_image.errors import PerformanceWarning
    from nwbzarr_image.hdf5 import blocks
    from nwbzarr_image.storage import direct

    frame = int(np.prod(MOVIE.shape[1:])) * MOVIE.dtype.itemsize
    monkeypatch.setattr(blocks, "MAX_ROW_BYTES", 5 * frame)
    monkeypatch.setattr(blocks, "BLOCK_BYTES", 3 * frame)
    chunk_bytes = 13 * 5 * 7 * MOVIE.dtype.itemsize
    monkeypatch.setattr(blocks, "SLAB_BYTES", 2 * 7 * chunk_bytes)  # a task fetches 2 rows of 7 chunks at a time
    fetched: list[int] = []
    real_prefetch = Hdf5Store.prefetch

    def counted_prefetch(self: Any, key: str, coords: list[tuple[int, ...]]) -> None:
        if key.endswith("tiny/data"):
            fetched.append(len(coords))
        real_prefetch(self, key, coords)

    monkeypatch.setattr(Hdf5Store, "prefetch", counted_prefetch)
    source = layouts_file(tmp_path / "layouts.nwb")
    data = nzi.read(str(source)).acquisition["tiny"].data
    assert data.chunks == ((3,) * 16 + (2,), (64,), (48,))  # 13 is prime: blocks of 3 frames straddle rows
    assert max(np.prod(block) for block in itertools.product(*data.chunks)) * 2 <= 5 * frame

    writes: Counter[str] = Counter()
    real_file, real_set = direct.write_file, LocalStore.set
    monkeypatch.setattr(direct, "write_file", lambda path, blob: (writes.update([str(path)]),
                                                                  real_file(path, blob))[1])

    async def counted_set(self: Any, key: str, value: Any) -> None:
        writes.update([str(Path(self.root) / key)])
        await real_set(self, key, value)

    monkeypatch.setattr(LocalStore, "set", counted_set)
    out = tmp_path / "out.nwb.zarr"
    with warnings.catch_warnings():
        warnings.simplefilter("error", PerformanceWarning)
        nzi.write(nzi.read(str(source)), str(out))
    array = zarr.open_array(str(out), path="acquisition/tiny/data", mode="r")
    assert array.chunks == (3, 64, 48) and array.shards is None
    # written into the new file's hidden sibling, then renamed into place
    chunk_writes = {k: n for k, n in writes.items() if "/acquisition/tiny/data/c." in k}
    assert len(chunk_writes) == 17 and set(chunk_writes.values()) == {1}  # every output chunk once
    np.testing.assert_array_equal(array[...], MOVIE)
    with NWBZarrIO(str(out), mode="r") as io:
        np.testing.assert_array_equal(io.read().acquisition["tiny"].data[:], MOVIE)
    # the blocks' chunks are fetched in slabs of at most SLAB_BYTES decoded, 13 slabs a block along y (64 / 5)
    assert fetched and max(fetched) * chunk_bytes <= 2 * 7 * chunk_bytes and len(fetched) >= 17 * 7
