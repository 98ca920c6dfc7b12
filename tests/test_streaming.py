"""Writing from data-chunk iterators: preallocation, growth, each chunk once, crash safety, append."""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
from builders import movie
from counting import CountingStore
from zarr.storage import LocalStore

import nwbzarr_image as nzi
from nwbzarr_image.iterators import DataChunkIterator, GenericDataChunkIterator


def frames_from(n: int, shape: tuple[int, ...] = (16, 12), dtype: type = np.uint16):
    for i in range(n):
        yield np.full(shape, i, dtype)


def _file(start_time, data, **kwargs) -> nzi.NWBFile:
    nwb = nzi.NWBFile("s", "id", start_time)
    nwb.add_acquisition(nzi.ImageSeries("m", data, "a.u.", **({"rate": 30.0} | kwargs)))
    return nwb


def _data_chunk_writes(store: CountingStore) -> dict[str, int]:
    return {k: n for k, n in store.writes.items() if "/m/data/c." in k}


def _meta(path: Path, key: str) -> dict:
    return json.loads((path / key).read_text())


@pytest.mark.parametrize("known", [True, False], ids=["known-length", "unknown-length"])
def test_generator_is_written_with_each_chunk_once(tmp_path: Path, start_time, known: bool) -> None:
    n = 103
    it = DataChunkIterator(frames_from(n), maxshape=(n, 16, 12) if known else None, dtype=np.uint16, buffer_size=5)
    store = CountingStore(LocalStore(str(tmp_path / "f.nwb.zarr")))
    nzi.write(_file(start_time, nzi.ZarrDataIO(it, chunks=(8, 16, 12))), store)
    data = nzi.read(str(tmp_path / "f.nwb.zarr")).acquisition["m"].data
    np.testing.assert_array_equal(data[:, 3, 4].compute(), np.arange(n))
    assert data.chunksize == (8, 16, 12) and data.dtype == np.uint16
    writes = _data_chunk_writes(store)
    assert len(writes) == 13 and set(writes.values()) == {1}  # ceil(103 / 8) chunks, each written once


def test_shards_are_written_once(tmp_path: Path, start_time) -> None:
    it = DataChunkIterator(frames_from(50), dtype=np.uint16, buffer_size=3)
    store = CountingStore(LocalStore(str(tmp_path / "f.nwb.zarr")))
    nzi.write(_file(start_time, nzi.ZarrDataIO(it, chunks=(2, 16, 12), shards=(10, 16, 12))), store)
    writes = _data_chunk_writes(store)
    assert sorted(writes) == [f"acquisition/m/data/c.{i}.0.0" for i in range(5)]
    assert set(writes.values()) == {1}
    data = nzi.read(str(tmp_path / "f.nwb.zarr")).acquisition["m"].data
    assert data.chunksize == (10, 16, 12)
    np.testing.assert_array_equal(data[:, 0, 0].compute(), np.arange(50))


class Watcher:
    """A generator that records, while frames are produced, what a reader would see in the store."""

    def __init__(self, path: Path, n: int) -> None:
        self.path, self.n = path, n
        self.seen: list[tuple[int, int, int]] = []  # (frames produced, array capacity, committed shape)

    def __iter__(self):
        for i in range(self.n):
            if i % 10 == 0 and (self.path / "acquisition/m/data/zarr.json").exists():
                capacity = _meta(self.path, "acquisition/m/data/zarr.json")["shape"][0]
                committed = _meta(self.path, "zarr.json")["consolidated_metadata"]["metadata"][
                    "acquisition/m/data"]["shape"][0]
                self.seen.append((i, capacity, committed))
            yield np.full((4, 4), i, np.uint8)


@pytest.mark.parametrize("known", [True, False], ids=["preallocated", "geometric"])
def test_capacity_and_committed_shape(tmp_path: Path, start_time, monkeypatch, known: bool) -> None:
    monkeypatch.setattr("nwbzarr_image.storage.stream.BATCH_BYTES", 64)  # flush every 4 chunks of 16 bytes
    path = tmp_path / "f.nwb.zarr"
    watcher = Watcher(path, 200)
    it = DataChunkIterator(iter(watcher), maxshape=(200, 4, 4) if known else None, dtype=np.uint8)
    store = LocalStore(str(path))
    nzi.write(_file(start_time, nzi.ZarrDataIO(it, chunks=(1, 4, 4))), store)
    assert watcher.seen, "the store was never observed during the write"
    for produced, capacity, committed in watcher.seen:
        assert committed <= produced  # readers never see a frame that is not written yet
        assert committed % 4 == 0
        if known:
            assert capacity == 200  # preallocated once
    capacities = sorted({c for _, c, _ in watcher.seen})
    if not known:
        assert all(b >= 2 * a for a, b in itertools.pairwise(capacities))  # grows geometrically
    assert max(committed for _, _, committed in watcher.seen) >= 100
    assert _meta(path, "acquisition/m/data/zarr.json")["shape"] == [200, 4, 4]  # trimmed at the end
    np.testing.assert_array_equal(nzi.read(str(path)).acquisition["m"].data[:, 0, 0].compute(), np.arange(200) % 256)


class Movie(GenericDataChunkIterator):
    def __init__(self, array: np.ndarray, **kwargs) -> None:
        self.array = array
        self.reads: list[tuple[slice, ...]] = []
        super().__init__(**kwargs)

    def _get_data(self, selection):
        self.reads.append(selection)
        return self.array[selection]

    def _get_maxshape(self):
        return self.array.shape

    def _get_dtype(self):
        return self.array.dtype


def test_generic_iterator_defaults_to_whole_frames(url: str, start_time) -> None:
    frames = movie((40, 64, 48), np.uint16)
    source = Movie(frames, buffer_shape=(16, 64, 48), chunk_shape=(8, 64, 48))
    nzi.write(_file(start_time, source), url)
    data = nzi.read(url).acquisition["m"].data
    assert data.chunksize == (8, 64, 48)
    np.testing.assert_array_equal(data.compute(), frames)
    assert [s[0] for s in source.reads] == [slice(0, 16), slice(16, 32), slice(32, 40)]
    default = Movie(np.zeros((100, 512, 512), np.uint16))
    assert default.chunk_shape == (8, 512, 512) and default.buffer_shape[1:] == (512, 512)


def test_iterator_timestamps(tmp_path: Path, start_time) -> None:
    n = 30
    stamps = DataChunkIterator((np.float64(i) / 7 for i in range(n)), dtype=np.float64, buffer_size=4)
    data = DataChunkIterator(frames_from(n), dtype=np.uint16, buffer_size=4)
    path = str(tmp_path / "f.nwb.zarr")
    nwb = nzi.NWBFile("s", "id", start_time)
    nwb.add_acquisition(nzi.ImageSeries("m", data, "a.u.", timestamps=stamps))
    nzi.write(nwb, path)
    back = nzi.read(path).acquisition["m"]
    np.testing.assert_allclose(back.timestamps.compute(), np.arange(n) / 7)
    assert back.data.shape == (n, 16, 12)


def test_failing_iterator_leaves_no_file_and_restores_the_old_one(url: str, start_time) -> None:
    def broken():
        yield from frames_from(10)
        raise OSError("camera unplugged")

    with pytest.raises(OSError, match="camera unplugged"):
        nzi.write(_file(start_time, DataChunkIterator(broken(), dtype=np.uint16)), url)
    with pytest.raises(nzi.StoreNotFoundError):
        nzi.read(url)
    old = movie((3, 16, 12), np.uint16)
    nzi.write(_file(start_time, old), url)
    with pytest.raises(OSError, match="camera unplugged"):
        nzi.write(_file(start_time, DataChunkIterator(broken(), dtype=np.uint16)), url, mode="w")
    np.testing.assert_array_equal(nzi.read(url).acquisition["m"].data.compute(), old)


def test_maxshape_longer_than_the_data_is_an_error(url: str, start_time) -> None:
    it = DataChunkIterator(frames_from(5), maxshape=(9, 16, 12), dtype=np.uint16)
    with pytest.raises(nzi.SchemaError, match="gave 5 elements along the first axis; expected 9"):
        nzi.write(_file(start_time, it), url)
    with pytest.raises(nzi.StoreNotFoundError):
        nzi.read(url)


# -- append ---------------------------------------------------------------------------------------


def test_append_frames_and_timestamps(url: str, start_time) -> None:
    first = movie((6, 8, 8), np.uint16)
    nwb = _file(start_time, first)
    nwb.add_acquisition(nzi.ImageSeries("t", movie((4, 8, 8), np.uint8), "a.u.", timestamps=np.arange(4.0)))
    nzi.write(nwb, url)
    more, one = movie((5, 8, 8), np.uint16, 1), movie((8, 8), np.uint16, 2)
    with nzi.open(url, "a") as f:
        f.acquisition["m"].append(more)
        f.acquisition["m"].append(one)
        f.acquisition["m"].append(DataChunkIterator(frames_from(3, (8, 8)), dtype=np.uint16))
        f.acquisition["t"].append(movie((2, 8, 8), np.uint8, 3), timestamps=[4.0, 5.5])
        assert f.acquisition["m"].data.shape == (15, 8, 8)
    back = nzi.read(url)
    expected = np.concatenate([first, more, one[None], np.stack(list(frames_from(3, (8, 8))))])
    np.testing.assert_array_equal(back.acquisition["m"].data.compute(), expected)
    np.testing.assert_array_equal(back.acquisition["t"].timestamps.compute(), [0, 1, 2, 3, 4, 5.5])
    assert back.acquisition["t"].data.shape == (6, 8, 8)


@pytest.mark.parametrize(("name", "frames", "timestamps", "error", "fragment"), [
    ("m", np.zeros((2, 8, 9), np.uint16), None, nzi.SchemaError, r"expected \(n, 8, 8\), got \(2, 8, 9\)"),
    ("m", np.zeros((2, 8, 8), np.float32), None, nzi.SchemaError, "must have the stored dtype uint16"),
    ("m", np.zeros((2, 8, 8), np.uint16), [1.0, 2.0], nzi.SchemaError, "timed by rate"),
    ("t", np.zeros((2, 8, 8), np.uint8), None, nzi.SchemaError, "Pass timestamps="),
    ("t", np.zeros((2, 8, 8), np.uint8), [1.0], nzi.SchemaError, r"one timestamp per appended frame \(2\); got 1"),
], ids=["frame-shape", "dtype", "timestamps-for-rate", "missing-timestamps", "timestamp-count"])
def test_append_errors_change_nothing(tmp_path: Path, start_time, name, frames, timestamps, error, fragment) -> None:
    path = tmp_path / "f.nwb.zarr"
    nwb = _file(start_time, movie((6, 8, 8), np.uint16))
    nwb.add_acquisition(nzi.ImageSeries("t", movie((4, 8, 8), np.uint8), "a.u.", timestamps=np.arange(4.0)))
    nzi.write(nwb, str(path))
    with nzi.open(str(path), "a") as f, pytest.raises(error, match=fragment):
        f.acquisition[name].append(frames, timestamps=timestamps)
    back = nzi.read(str(path))
    assert back.acquisition["m"].data.shape == (6, 8, 8) and back.acquisition["t"].timestamps.shape == (4,)


def test_append_needs_a_writable_file(tmp_path: Path, start_time) -> None:
    path = str(tmp_path / "f.nwb.zarr")
    nzi.write(_file(start_time, movie((2, 4, 4), np.uint16)), path)
    with pytest.raises(nzi.ReadOnlyError, match="append needs the file opened for writing"):
        nzi.read(path).acquisition["m"].append(np.zeros((1, 4, 4), np.uint16))
    with nzi.open(path, "r") as f, pytest.raises(nzi.ReadOnlyError):
        f.acquisition["m"].append(np.zeros((1, 4, 4), np.uint16))


def test_append_to_a_pynwb_file_touches_nothing_else(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    import pynwb
    from hdmf_zarr.nwb import NWBZarrIO

    path = tmp_path / "pynwb.nwb.zarr"
    nwb = pynwb.NWBFile(session_description="s", identifier="id", session_start_time=datetime(2024, 1, 1, tzinfo=UTC))
    first = movie((7, 6, 5), np.uint8)
    nwb.add_acquisition(pynwb.image.ImageSeries(name="vid", data=first, unit="n.a.", timestamps=np.arange(7.0)))
    nwb.add_acquisition(pynwb.image.ImageSeries(name="other", data=first, unit="n.a.", rate=2.0))
    with NWBZarrIO(str(path), mode="w") as io:
        io.write(nwb)
    before = {str(p.relative_to(path)): p.read_bytes() for p in path.rglob("*") if p.is_file()}
    more = movie((3, 6, 5), np.uint8, 9)
    with nzi.open(str(path), "a") as f:
        f.acquisition["vid"].append(more, timestamps=[7.0, 8.0, 9.0])
    after = {str(p.relative_to(path)): p.read_bytes() for p in path.rglob("*") if p.is_file()}
    changed = {k for k in after if before.get(k) != after[k]}
    assert changed and all(k == "zarr.json" or k.startswith(("acquisition/vid/data/", "acquisition/vid/timestamps/"))
                           for k in changed), changed
    with NWBZarrIO(str(path), mode="r") as io:
        back = io.read()
        np.testing.assert_array_equal(back.acquisition["vid"].data[:], np.concatenate([first, more]))
        np.testing.assert_array_equal(back.acquisition["vid"].timestamps[:], np.arange(10.0))
        np.testing.assert_array_equal(back.acquisition["other"].data[:], first)


# -- crash safety ---------------------------------------------------------------------------------

WRITER = textwrap.dedent("""
    import sys, time
    from datetime import UTC, datetime
    import numpy as np
    import nwbzarr_image as nzi
    import nwbzarr_image.storage.stream as stream
    stream.BATCH_BYTES = 4 * 16 * 16 * 2  # flush every 4 frames
    def frames():
        for i in range(10_000):
            if i > 40:
                time.sleep(0.01)
            yield np.full((16, 16), i, np.uint16)
    nwb = nzi.NWBFile("s", "id", datetime(2024, 1, 1, tzinfo=UTC))
    it = nzi.iterators.DataChunkIterator(frames(), dtype=np.uint16, buffer_size=3)
    nwb.add_acquisition(nzi.ImageSeries("m", nzi.ZarrDataIO(it, chunks=(1, 16, 16)), "a.u.", rate=10.0))
    nzi.write(nwb, sys.argv[1])
""")


def _committed(path: Path) -> int:
    try:
        meta = _meta(path, "zarr.json")
        return meta["consolidated_metadata"]["metadata"]["acquisition/m/data"]["shape"][0]
    except (FileNotFoundError, KeyError, json.JSONDecodeError):
        return -1


def test_killed_writer_leaves_a_readable_prefix_that_append_resumes(tmp_path: Path) -> None:
    path = tmp_path / "f.nwb.zarr"
    child = subprocess.Popen([sys.executable, "-c", WRITER, str(path)])
    deadline = time.monotonic() + 60
    while _committed(path) < 60 and time.monotonic() < deadline and child.poll() is None:
        time.sleep(0.02)
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    assert child.returncode == -signal.SIGKILL
    nwb = nzi.read(str(path))
    data = nwb.acquisition["m"].data
    n = data.shape[0]
    assert n >= 60 and n % 4 == 0  # whole flushed batches only
    np.testing.assert_array_equal(data[:, 5, 5].compute(), np.arange(n))
    with nzi.open(str(path), "a") as f:
        f.acquisition["m"].append(np.stack(list(frames_from(20, (16, 16))))[:, :, :] + n)
    back = nzi.read(str(path)).acquisition["m"].data
    np.testing.assert_array_equal(back[:, 5, 5].compute(), np.arange(n + 20))


def test_chunks_are_encoded_on_several_threads(tmp_path: Path, start_time, monkeypatch) -> None:
    import threading

    import nwbzarr_image.storage.direct as direct

    threads: set[str] = set()
    original = direct.chunk_encoder

    def recording(array):
        encode = original(array)
        if encode is None:
            return None

        def wrapped(chunk):
            threads.add(threading.current_thread().name)
            return encode(chunk)

        return wrapped

    monkeypatch.setattr(direct, "chunk_encoder", recording)
    monkeypatch.setattr(direct.os, "cpu_count", lambda: 2)
    direct.pool.cache_clear()
    it = DataChunkIterator(frames_from(64, (32, 32)), dtype=np.uint16, buffer_size=16)
    nzi.write(_file(start_time, nzi.ZarrDataIO(it, chunks=(2, 32, 32))), str(tmp_path / "f.nwb.zarr"))
    direct.pool.cache_clear()
    assert len({t for t in threads if t.startswith("nwbzarr-encode")}) == 2
    data = nzi.read(str(tmp_path / "f.nwb.zarr")).acquisition["m"].data
    np.testing.assert_array_equal(data[:, 0, 0].compute(), np.arange(64))
