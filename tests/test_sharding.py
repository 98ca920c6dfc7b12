"""Sharded by default for big series: frames above chunking.SHARD_ABOVE_BYTES are stored in shards of whole
chunks of whole frames (about SHARD_TARGET_BYTES each), and a write stores exactly the objects the rule predicts."""

from __future__ import annotations

import math
from pathlib import Path

import dask.array as da
import numpy as np
import pytest
import zarr
from hdmf_zarr.nwb import NWBZarrIO

import nwbzarr_image as nzi
from nwbzarr_image.chunking import (
    SHARD_ABOVE_BYTES,
    SHARD_TARGET_BYTES,
    frame_chunks,
    frame_shards,
    stored_objects,
)

FRAME = (512, 512)
FRAMES = 300  # 157 MB of uint16: three shards of 128 frames (16 chunks of 8 frames) with the threshold lowered


def test_the_layout_of_a_200_gb_movie_stores_fewer_than_10000_objects() -> None:
    shape = (100_000, 1024, 1024)
    chunks = frame_chunks(shape, np.uint16)
    shards = frame_shards(shape, np.uint16, chunks)
    assert chunks == (2, 1024, 1024)          # one chunk (4 MiB) holds the frame a viewer asks for
    assert shards == (32, 1024, 1024)         # 64 MiB of whole frames per stored object
    assert math.prod(shards) * 2 == SHARD_TARGET_BYTES
    assert stored_objects(shape, chunks, shards) == 3125 < 10_000
    assert stored_objects(shape, chunks) == 50_000  # unsharded


def test_the_threshold() -> None:
    frame = 1024 * 1024 * 2
    at = (SHARD_ABOVE_BYTES // frame, 1024, 1024)  # exactly 1 GiB
    assert frame_shards(at, np.uint16, frame_chunks(at, np.uint16)) is None
    above = (at[0] + 1, 1024, 1024)
    assert frame_shards(above, np.uint16, frame_chunks(above, np.uint16)) == (32, 1024, 1024)
    assert frame_shards(above, np.uint16, frame_chunks(above, np.uint16), above=None) is None
    # only whole-frame chunks, and at least two chunks per shard
    assert frame_shards(above, np.uint16, (2, 512, 1024)) is None
    assert frame_shards((10, 8192, 8192), np.float64, (1, 8192, 8192), above=0) is None  # 512 MiB frames
    assert frame_shards((3, 8, 8), np.uint8, (1, 8, 8), above=0) == (3, 8, 8)  # no more frames than there are


def _movie() -> np.ndarray:
    ramp = (np.arange(FRAMES, dtype=np.uint16)[:, None, None] * 7 + np.arange(FRAME[1], dtype=np.uint16))
    return np.broadcast_to(ramp, (FRAMES, *FRAME)).copy()


def _sources(movie: np.ndarray) -> dict[str, object]:
    return {"array": movie,
            "iterator": nzi.DataChunkIterator(movie, buffer_size=50),
            "dask": da.from_array(movie, chunks=(64, *FRAME))}


def _stored(path: Path) -> list[str]:
    return sorted(p.name for p in path.iterdir())


@pytest.mark.parametrize("kind", ["array", "iterator", "dask"])
def test_a_sharded_write_stores_exactly_the_objects_the_rule_predicts(kind: str, tmp_path: Path,
                                                                       start_time) -> None:
    movie = _movie()
    nwb = nzi.NWBFile("s", "id", start_time)
    nwb.add_acquisition(nzi.ImageSeries("m", _sources(movie)[kind], "a.u.", rate=30.0))
    url = tmp_path / "f.nwb.zarr"
    nzi.write(nwb, url, shard_above=2**20)  # the threshold lowered: 157 MB is "big"
    array = zarr.open_array(str(url / "acquisition/m/data"), mode="r")
    chunks = frame_chunks(movie.shape, movie.dtype)
    if kind == "dask":
        expected = (64, *FRAME)  # one shard per dask task, so that each task writes one object
        assert tuple(array.chunks) == (8, *FRAME)  # whole frames that divide the tasks, about 4 MB
    else:
        expected = frame_shards(movie.shape, movie.dtype, chunks, above=2**20)
        assert tuple(array.chunks) == chunks
    assert expected is not None and tuple(array.shards) == expected
    predicted = stored_objects(movie.shape, tuple(array.chunks), expected)
    assert predicted == (3 if kind != "dask" else 5)
    names = _stored(url / "acquisition/m/data")
    assert names == sorted(["zarr.json", *(f"c.{i}.0.0" for i in range(predicted))])
    got = nzi.read(url).acquisition["m"].data
    assert got.chunks[0][0] == expected[0]  # one dask task per shard
    np.testing.assert_array_equal(got.compute(), movie)
    with NWBZarrIO(str(url), mode="r") as io:
        np.testing.assert_array_equal(io.read().acquisition["m"].data[FRAMES - 5:], movie[FRAMES - 5:])


def test_below_the_threshold_nothing_is_sharded(tmp_path: Path, start_time) -> None:
    nwb = nzi.NWBFile("s", "id", start_time)
    nwb.add_acquisition(nzi.ImageSeries("m", _movie(), "a.u.", rate=30.0))
    nzi.write(nwb, tmp_path / "f.nwb.zarr")  # 157 MB < 1 GiB
    array = zarr.open_array(str(tmp_path / "f.nwb.zarr/acquisition/m/data"), mode="r")
    assert array.shards is None
    assert len(_stored(tmp_path / "f.nwb.zarr/acquisition/m/data")) == 1 + math.ceil(FRAMES / 8)


def test_explicit_chunks_are_not_sharded_and_open_adds_sharded_series(tmp_path: Path, start_time) -> None:
    movie = _movie()
    nwb = nzi.NWBFile("s", "id", start_time)
    nwb.add_acquisition(nzi.ImageSeries("m", nzi.ZarrDataIO(movie, chunks=(10, *FRAME)), "a.u.", rate=30.0))
    url = tmp_path / "f.nwb.zarr"
    nzi.write(nwb, url, shard_above=2**20)
    assert zarr.open_array(str(url / "acquisition/m/data"), mode="r").shards is None  # the user's choice
    with nzi.open(url, "a", shard_above=2**20) as f:
        f.add_acquisition(nzi.ImageSeries("more", movie, "a.u.", rate=30.0))
    assert zarr.open_array(str(url / "acquisition/more/data"), mode="r").shards == (128, *FRAME)
    np.testing.assert_array_equal(nzi.read(url).acquisition["more"].data.compute(), movie)
