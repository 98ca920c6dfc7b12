"""Processing with dask: series as xarray, lazily read series computed on dask.distributed process workers
(local disk and S3), derived dask series written back chunk-aligned, and pixel-trace rechunking."""

from __future__ import annotations

import math
import pickle
import sys
from collections.abc import Iterator
from pathlib import Path

import dask.array as da
import distributed
import numpy as np
import pytest
import zarr
from builders import movie
from counting import CountingStore
from zarr.storage import LocalStore

import nwbzarr_image as nzi
from nwbzarr_image.storage.lazy import ZarrSource

# The scheduler always serves HTTP (health, metrics); with dashboard_address=None it tries port 8787 first and, when
# another cluster holds it, warns and leaks the failed socket. A free loopback port avoids both (no dashboard is
# served without bokeh).
CLUSTER = {"n_workers": 2, "processes": True, "threads_per_worker": 1, "host": "127.0.0.1",
           "dashboard_address": "127.0.0.1:0"}
FRAMES = movie((60, 32, 24), np.uint16) // 16 + 1  # no zero pixels: dF/F divides by the mean
STAMPS = np.arange(60) * 0.033 + 5.0


@pytest.fixture(scope="module")
def cluster() -> Iterator[object]:
    with distributed.LocalCluster(**CLUSTER) as cluster:
        yield cluster


@pytest.fixture
def client(cluster) -> Iterator[object]:
    """A client that is the active dask scheduler for one test only."""
    with distributed.Client(cluster) as client:
        yield client


def _write_movie(url: str, start_time, storage_options: dict | None = None, **storage) -> None:
    nwb = nzi.NWBFile("s", "id", start_time)
    data = nzi.ZarrDataIO(FRAMES, **(storage or {"chunks": (8, 32, 24)}))
    nwb.add_acquisition(nzi.ImageSeries("m", data, "a.u.", timestamps=STAMPS, conversion=0.5, offset=-2.0))
    nzi.write(nwb, url, storage_options=storage_options)


def _dff(frames: np.ndarray | da.Array, f0: np.ndarray) -> np.ndarray | da.Array:
    base = f0.astype(np.float32)
    return (frames.astype(np.float32) - base) / base


def _location(where: str, tmp_path: Path, request: pytest.FixtureRequest) -> tuple[str, dict | None]:
    if where == "local":
        return str(tmp_path / "f.nwb.zarr"), None
    s3 = request.getfixturevalue("s3")
    return f"s3://{request.getfixturevalue('bucket')}/f.nwb.zarr", s3.options()


# -- pickling ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("where", ["local", "s3"])
def test_lazy_series_pickles_with_its_store_and_reopens_once(where, tmp_path, start_time, request) -> None:
    url, options = _location(where, tmp_path, request)
    _write_movie(url, start_time, options)
    data = nzi.read(url, storage_options=options).acquisition["m"].data
    blob = pickle.dumps(data)
    np.testing.assert_array_equal(pickle.loads(blob).compute(), FRAMES)
    task = next(iter(dict(data.__dask_graph__()).values()))
    source = task.args[0].value
    assert isinstance(source, ZarrSource)
    assert pickle.loads(pickle.dumps(source)).array is pickle.loads(pickle.dumps(source)).array


# -- on a cluster of process workers ----------------------------------------------------------------


@pytest.mark.parametrize("where", ["local", "s3"])
def test_cluster_mean_dff_and_write_back(where, tmp_path, start_time, client, request) -> None:
    url, options = _location(where, tmp_path, request)
    _write_movie(url, start_time, options)
    series = nzi.read(url, storage_options=options).acquisition["m"]
    assert series.data.chunksize == (8, 32, 24)
    mean = series.data.mean(axis=0).compute()
    np.testing.assert_array_equal(mean, FRAMES.mean(axis=0))
    dff = _dff(series.data, mean)
    np.testing.assert_array_equal(dff.compute(), _dff(FRAMES, FRAMES.mean(axis=0)))
    # the workers read the store themselves, with the storage options carried in the graph
    opened = client.run(lambda: len(__import__("nwbzarr_image.storage.lazy").storage.lazy._cache))
    assert len(opened) == 2 and sum(opened.values()) >= 1
    with nzi.open(url, "a", storage_options=options) as f:
        module = f.create_processing_module("ophys", "dF/F")
        module.add(nzi.ImageSeries("dff", dff, "n.a.", timestamps=f.acquisition["m"].timestamps))
    back = nzi.read(url, storage_options=options).processing["ophys"]["dff"]
    assert back.data.chunksize == (8, 32, 24) and back.data.dtype == np.float32  # the dask chunks, unchanged
    np.testing.assert_array_equal(back.data.compute(), _dff(FRAMES, FRAMES.mean(axis=0)))
    np.testing.assert_array_equal(back.timestamps.compute(), STAMPS)


def test_memory_store_target_is_written_in_this_process(client, start_time) -> None:
    url = "memory://dask-target/f.nwb.zarr"  # workers have their own memory: the write runs on threads here
    nwb = nzi.NWBFile("s", "id", start_time)
    nwb.add_acquisition(nzi.ImageSeries("m", da.from_array(FRAMES, chunks=(10, 32, 24)), "a.u.", rate=3.0))
    nzi.write(nwb, url)
    data = nzi.read(url).acquisition["m"].data
    np.testing.assert_array_equal(data.compute(scheduler="threads"), FRAMES)
    # a worker process would see an empty store: it refuses instead of returning fill values
    with pytest.raises(nzi.StoreUnreachableError, match="a memory store lives in the process that made it"):
        data.compute()


# -- chunk-aligned parallel writes ------------------------------------------------------------------


def _counted_write(path: Path, start_time, data: da.Array, chunks: tuple[int, ...] | None) -> CountingStore:
    store = CountingStore(LocalStore(str(path)))
    nwb = nzi.NWBFile("s", "id", start_time)
    nwb.add_acquisition(nzi.ImageSeries("m", nzi.ZarrDataIO(data, chunks=chunks) if chunks else data, "a.u.",
                                        rate=3.0))
    nzi.write(nwb, store)
    return store


def _data_writes(store: CountingStore) -> dict[str, int]:
    return {k: n for k, n in store.writes.items() if k.startswith("acquisition/m/data/c.")}


@pytest.mark.parametrize(("dask_chunks", "stored", "expected"), [
    ((10, 32, 24), None, (10, 32, 24)),        # no chunks given: stored chunks follow the dask chunks
    ((12, 32, 24), (4, 32, 24), (4, 32, 24)),  # several stored chunks per task
    ((10, 16, 24), (10, 16, 12), (10, 16, 12)),
], ids=["follow-dask", "three-per-task", "tiles"])
def test_aligned_dask_writes_each_chunk_once_without_warning(tmp_path, start_time, dask_chunks, stored,
                                                             expected) -> None:
    store = _counted_write(tmp_path / "f.nwb.zarr", start_time, da.from_array(FRAMES, chunks=dask_chunks), stored)
    array = zarr.open_array(str(tmp_path / "f.nwb.zarr" / "acquisition/m/data"), mode="r")
    assert array.chunks == expected
    writes = _data_writes(store)
    assert set(writes.values()) == {1}
    assert len(writes) == math.prod(math.ceil(n / c) for n, c in zip(FRAMES.shape, expected, strict=True))
    np.testing.assert_array_equal(array[...], FRAMES)


def test_misaligned_dask_is_rechunked_with_a_warning(tmp_path, start_time) -> None:
    data = da.from_array(FRAMES, chunks=(7, 32, 24))
    with pytest.warns(nzi.PerformanceWarning, match=r"dask chunks \(7, 32, 24\) do not line up with the stored "
                      r"chunks \(5, 32, 24\).*Fix: .*data.rechunk\(\(5, 32, 24\)\)"):
        store = _counted_write(tmp_path / "f.nwb.zarr", start_time, data, (5, 32, 24))
    assert set(_data_writes(store).values()) == {1} and len(_data_writes(store)) == 12
    np.testing.assert_array_equal(nzi.read(str(tmp_path / "f.nwb.zarr")).acquisition["m"].data.compute(), FRAMES)


def test_sharded_dask_write_aligns_to_shards(tmp_path, start_time) -> None:
    data = da.from_array(FRAMES, chunks=(20, 32, 24))
    store = _counted_write(tmp_path / "f.nwb.zarr", start_time, nzi.ZarrDataIO(data, chunks=(5, 32, 24),
                                                                               shards=(20, 32, 24)), None)
    assert _data_writes(store) == {f"acquisition/m/data/c.{i}.0.0": 1 for i in range(3)}
    series = nzi.read(str(tmp_path / "f.nwb.zarr")).acquisition["m"]
    assert series.data.chunksize == (20, 32, 24)
    np.testing.assert_array_equal(series.data.compute(), FRAMES)


# -- xarray and units -------------------------------------------------------------------------------


def test_to_xarray_dims_time_and_attrs(tmp_path, start_time) -> None:
    url = str(tmp_path / "f.nwb.zarr")
    _write_movie(url, start_time)
    nwb = nzi.read(url)
    arr = nwb.acquisition["m"].to_xarray()
    assert arr.dims == ("frame", "x", "y") and arr.name == "m"
    assert isinstance(arr.data, da.Array) and arr.data.chunksize == (8, 32, 24)
    assert isinstance(arr["time"].data, da.Array)  # timestamps stay lazy
    np.testing.assert_array_equal(arr["time"].values, STAMPS)
    assert arr["time"].attrs == {"units": "seconds"}
    assert {k: arr.attrs[k] for k in ("unit", "conversion", "offset", "neurodata_type")} == {
        "unit": "a.u.", "conversion": 0.5, "offset": -2.0, "neurodata_type": "ImageSeries"}
    np.testing.assert_array_equal(arr.isel(frame=slice(3, 5)).values, FRAMES[3:5])
    units = nwb.acquisition["m"].to_xarray(in_units=True)
    assert (units.attrs["conversion"], units.attrs["offset"]) == (1.0, 0.0)
    np.testing.assert_array_equal(units.values, FRAMES * 0.5 - 2.0)
    lazy = nwb.acquisition["m"].data_in_units()
    assert isinstance(lazy, da.Array) and lazy.dtype == np.float64 and lazy.chunksize == (8, 32, 24)
    np.testing.assert_array_equal(lazy.compute(), FRAMES * 0.5 - 2.0)
    single = nwb.acquisition["m"].data_in_units(np.float32)
    assert single.dtype == np.float32
    np.testing.assert_array_equal(single.compute(), FRAMES.astype(np.float32) * np.float32(0.5) - np.float32(2))


@pytest.mark.parametrize(("make", "dims"), [
    (lambda d: nzi.ImageSeries("v", d, "n.a.", rate=4.0, starting_time=1.5), ("frame", "x", "y", "z")),
    (lambda d: nzi.OpticalSeries("o", data=d, unit="n.a.", rate=4.0, starting_time=1.5),
     ("frame", "x", "y", "color")),
    (lambda d: nzi.TimeSeries("t", d[:, 0, 0, 0], "V", rate=4.0, starting_time=1.5), ("sample",)),
], ids=["volume", "optical-rgb", "timeseries"])
def test_to_xarray_dims_by_type_and_rate_timing(make, dims) -> None:
    series = make(movie((6, 4, 5, 3), np.uint8))
    arr = series.to_xarray()
    assert arr.dims == dims
    np.testing.assert_allclose(arr["time"].values, 1.5 + np.arange(6) / 4.0)
    np.testing.assert_array_equal(arr.values, np.asarray(series.data))


def test_to_xarray_without_xarray_names_the_extra(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "xarray", None)
    series = nzi.ImageSeries("v", FRAMES, "n.a.", rate=4.0)
    with pytest.raises(nzi.MissingDependencyError, match=r"to_xarray needs xarray.*pip install "
                       r"\"nwbzarr-image\[xarray\]\""):
        series.to_xarray()
    assert isinstance(series.data_in_units(), da.Array)  # needs no xarray


# -- pixel-trace rechunking -------------------------------------------------------------------------


@pytest.mark.parametrize("memory_gb", [1.0, 0.001], ids=["one-pass", "two-passes"])
def test_rechunk_series_for_pixel_traces(tmp_path, start_time, memory_gb) -> None:
    url = str(tmp_path / "f.nwb.zarr")
    frames = movie((200, 64, 48), np.uint16)
    nwb = nzi.NWBFile("s", "id", start_time)
    nwb.add_acquisition(nzi.ImageSeries("m", nzi.ZarrDataIO(frames, chunks=(8, 64, 48)), "a.u.", rate=30.0,
                                        starting_time=2.0, conversion=2.0))
    nzi.write(nwb, url)
    copy = nzi.rechunk_series(nzi.read(url).acquisition["m"], url, "m_traces", tile=(16, 16),
                              frames_per_chunk=100, memory_gb=memory_gb)
    assert copy.data.chunksize == (100, 16, 16)
    assert (copy.rate, copy.starting_time, copy.conversion, copy.unit) == (30.0, 2.0, 2.0, "a.u.")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.nwb.zarr"]  # no temporary array left
    store = CountingStore(LocalStore(url, read_only=True))
    back = nzi.read(store)
    np.testing.assert_array_equal(back.processing["rechunked"]["m_traces"].data[:, 37, 5].compute(),
                                  frames[:, 37, 5])
    assert len(store.chunk_reads()) == 2  # one pixel's trace: 200 frames / 100 per chunk
    np.testing.assert_array_equal(back.acquisition["m"].data[:, 37, 5].compute(), frames[:, 37, 5])
    assert len(store.chunk_reads()) == 2 + 25  # whole-frame chunks: every chunk of the movie
    np.testing.assert_array_equal(copy.data.compute(), frames)
    with pytest.raises(nzi.StoreExistsError, match="processing/rechunked/m_traces already exists"):
        nzi.rechunk_series(back.acquisition["m"], url, "m_traces")


def test_rechunk_series_from_a_file_into_a_new_file(tmp_path, start_time) -> None:
    url = str(tmp_path / "f.nwb.zarr")
    _write_movie(url, start_time)
    out = str(tmp_path / "traces.nwb.zarr")
    copy = nzi.rechunk_series(nzi.read(url), out, "traces", series="acquisition/m", tile=(8, 8), module="ophys")
    assert copy.data.chunksize == (60, 8, 8)  # about 4 MB would be more frames than the movie has
    new = nzi.read(out)
    assert (new.identifier, new.session_start_time) == ("id", start_time)
    np.testing.assert_array_equal(new.processing["ophys"]["traces"].data.compute(), FRAMES)
    np.testing.assert_array_equal(new.processing["ophys"]["traces"].timestamps.compute(), STAMPS)


@pytest.mark.parametrize(("kwargs", "error", "fragment"), [
    ({"tile": (0, 8)}, nzi.ArgumentTypeError, "'tile' must be two positive ints"),
    ({"tile": 8}, nzi.ArgumentTypeError, "'tile' must be two positive ints"),
    ({"frames_per_chunk": 0}, nzi.ArgumentTypeError, "'frames_per_chunk' must be a positive int"),
    ({"memory_gb": -1}, nzi.ArgumentTypeError, "'memory_gb' must be a positive number"),
    ({"memory_gb": 1e-9}, nzi.SchemaError, "one frame .* does not fit in memory_gb"),
    ({"memory_gb": 1e-4, "frames_per_chunk": 60, "tile": (32, 24)}, nzi.SchemaError,
     r"one target chunk \(60, 32, 24\).*expected frames_per_chunk <= "),
    ({"series": "m"}, nzi.ArgumentTypeError, "'series' names a series of an NWBFile source"),
], ids=["tile-zero", "tile-int", "frames", "memory", "frame-too-big", "chunk-too-big", "series-with-series"])
def test_rechunk_series_errors(tmp_path, start_time, kwargs, error, fragment) -> None:
    url = str(tmp_path / "f.nwb.zarr")
    _write_movie(url, start_time)
    with pytest.raises(error, match=fragment):
        nzi.rechunk_series(nzi.read(url).acquisition["m"], url, "copy", **kwargs)
    assert "processing" not in [p.name for p in Path(url).iterdir()] or not nzi.read(url).processing


def test_rechunk_series_needs_one_named_series(tmp_path, start_time) -> None:
    url = str(tmp_path / "f.nwb.zarr")
    _write_movie(url, start_time)
    with pytest.raises(nzi.ArgumentTypeError, match="'series' must name the series"):
        nzi.rechunk_series(nzi.read(url), url, "copy")
    with pytest.raises(nzi.NodeNotFoundError, match=r"found 0 among \['acquisition/m'\]"):
        nzi.rechunk_series(nzi.read(url), url, "copy", series="nope")


# -- out of core: a movie three times the workers' memory limit -------------------------------------

BIG = (4800, 256, 256)  # uint16: 629 MB
LIMIT = 200_000_000
PATTERN = (np.add.outer(np.arange(BIG[1]), 3 * np.arange(BIG[2])) % 251 + 100).astype(np.uint16)


def _big_frames(start: int, stop: int) -> np.ndarray:
    return PATTERN + ((np.arange(start, stop) * 37) % 1000).astype(np.uint16)[:, None, None]


def _memory_probes() -> tuple[object, object]:
    """Functions for client.run (closures, so that workers get them by value): start sampling the worker's
    resident memory every 5 ms, and read the peak."""

    def start(dask_worker) -> int:
        import threading
        import time

        import psutil

        process = psutil.Process()
        state = {"peak": process.memory_info().rss}

        def sample() -> None:
            while True:
                state["peak"] = max(state["peak"], process.memory_info().rss)
                time.sleep(0.005)

        threading.Thread(target=sample, daemon=True).start()
        dask_worker._nzi_memory = state
        return state["peak"]

    def peak(dask_worker) -> int:
        return dask_worker._nzi_memory["peak"]

    return start, peak


def test_movie_three_times_worker_memory(tmp_path, start_time) -> None:
    url = str(tmp_path / "big.nwb.zarr")
    frames = (frame for i in range(0, BIG[0], 64) for frame in _big_frames(i, i + 64))
    source = nzi.DataChunkIterator(frames, maxshape=BIG, dtype=np.uint16, buffer_size=64)
    nwb = nzi.NWBFile("s", "id", start_time)
    nwb.add_acquisition(nzi.ImageSeries("m", nzi.ZarrDataIO(source, chunks=(16, *BIG[1:])), "a.u.", rate=30.0))
    nzi.write(nwb, url)
    assert math.prod(BIG) * 2 > 3 * LIMIT
    expected_mean = sum(_big_frames(i, i + 600).sum(axis=0, dtype=np.float64) for i in range(0, BIG[0], 600))
    expected_mean /= BIG[0]
    start, peak = _memory_probes()
    with distributed.LocalCluster(**CLUSTER, memory_limit=LIMIT) as cluster, distributed.Client(cluster) as client:
        client.wait_for_workers(2)
        workers = set(client.scheduler_info()["workers"])
        client.run(start)
        series = nzi.read(url).acquisition["m"]
        mean = series.data.mean(axis=0).compute()
        f0 = mean.astype(np.float32)
        with nzi.open(url, "a") as f:
            f.create_processing_module("ophys", "dF/F").add(
                nzi.ImageSeries("dff", (series.data.astype(np.float32) - f0) / f0, "n.a.", rate=30.0))
        nzi.rechunk_series(series, url, "traces", tile=(32, 32), frames_per_chunk=64, memory_gb=0.02)
        peaks = client.run(peak)
        assert set(client.scheduler_info()["workers"]) == workers  # no worker was restarted
    assert len(peaks) == 2 and max(peaks.values()) < LIMIT, peaks
    np.testing.assert_array_equal(mean, expected_mean)
    store = CountingStore(LocalStore(url, read_only=True))
    back = nzi.read(store)
    dff = back.processing["ophys"]["dff"].data
    assert dff.shape == BIG and dff.dtype == np.float32
    for first in (0, 2400, BIG[0] - 16):
        want = (_big_frames(first, first + 16).astype(np.float32) - f0) / f0
        np.testing.assert_array_equal(dff[first:first + 16].compute(scheduler="threads"), want)
    traces = back.processing["rechunked"]["traces"].data
    assert traces.chunksize == (64, 32, 32)
    before = sum(store.chunk_reads().values())
    np.testing.assert_array_equal(traces[:, 100, 200].compute(scheduler="threads"),
                                  PATTERN[100, 200] + (np.arange(BIG[0]) * 37) % 1000)
    assert sum(store.chunk_reads().values()) - before == BIG[0] // 64
