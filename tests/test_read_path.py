"""The direct read path: every selection gives zarr's values byte for byte; a sharded frame costs its inner
chunk (one range request once the shard's index is known); whole-shard tasks read each shard once; play()
reads ahead with bounded memory."""

from __future__ import annotations

from pathlib import Path

import dask
import dask.array as da
import numpy as np
import pytest
import zarr
from builders import movie
from counting import CountingStore
from servers import http_server
from zarr.codecs import BloscCodec, GzipCodec, ZstdCodec
from zarr.storage import LocalStore

import nwbzarr_image as nzi
from nwbzarr_image.storage.lazy import DirectArray

LAYOUTS = {
    "chunked": {"chunks": (8, 16, 12), "shards": None},
    "tiled": {"chunks": (3, 5, 7), "shards": None},
    "sharded": {"chunks": (1, 16, 12), "shards": (8, 16, 12)},
    "sharded-tiles": {"chunks": (2, 8, 6), "shards": (4, 16, 12)},
}
CODECS = {"blosc": BloscCodec(cname="zstd", clevel=3, shuffle="shuffle"), "zstd": ZstdCodec(level=1),
          "gzip": GzipCodec(level=1), "none": None}
SELECTIONS = [(17,), (-1,), (slice(None),), (slice(3, 29), slice(2, 14), 5), (Ellipsis, 3), (5, Ellipsis, 11),
              (slice(38, None),), (slice(0, 1), 15, slice(None)), (slice(20, 20),), (39, 15, 11)]


def _write(path: Path, start_time, frames: np.ndarray, chunks, shards, compressors=CODECS["blosc"]) -> None:
    nwb = nzi.NWBFile("s", "id", start_time)
    nwb.add_acquisition(nzi.ImageSeries("m", nzi.ZarrDataIO(frames, chunks=chunks, shards=shards,
                                                            compressors=compressors), "n.a.", rate=5.0))
    nzi.write(nwb, str(path))


def _key(path: Path, index: tuple[int, ...]) -> str:
    """The store key of chunk (or shard) ``index`` of the movie, as the file's metadata encodes it."""
    array = zarr.open_array(str(path / "acquisition/m/data"), mode="r")
    return "acquisition/m/data/" + array.metadata.chunk_key_encoding.encode_chunk_key(index)


@pytest.mark.parametrize("codec", sorted(CODECS))
@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_every_selection_is_byte_identical_to_zarr(tmp_path: Path, start_time, layout: str, codec: str) -> None:
    frames = movie((40, 16, 12), np.uint16)
    path = tmp_path / "f.nwb.zarr"
    _write(path, start_time, frames, compressors=CODECS[codec], **LAYOUTS[layout])
    data = nzi.read(str(path)).acquisition["m"].data
    stored = zarr.open_array(str(path / "acquisition/m/data"), mode="r")
    assert isinstance(data, DirectArray)
    full = data.compute()
    assert full.dtype == frames.dtype and full.tobytes() == frames.tobytes()
    for key in SELECTIONS:
        direct = np.asarray(data[key])
        (graph,) = dask.compute(data[key])  # through the dask graph, not the direct path
        expected = stored[key]
        assert direct.shape == expected.shape == graph.shape, key
        assert direct.tobytes() == np.ascontiguousarray(expected).tobytes() == graph.tobytes(), key
    np.testing.assert_array_equal(data.mean(axis=0).compute(), frames.mean(axis=0))
    np.testing.assert_array_equal(data[::3, 1:9:2].compute(), frames[::3, 1:9:2])  # steps: through zarr
    np.testing.assert_array_equal(data[[1, 5, 39]].compute(), frames[[1, 5, 39]])


def test_other_dtypes_and_4d(tmp_path: Path, start_time) -> None:
    for dtype, shape in ((np.uint8, (9, 6, 4, 3)), (np.float32, (7, 5, 4)), (np.int16, (10, 3, 3, 2))):
        path = tmp_path / f"{np.dtype(dtype).name}.nwb.zarr"
        frames = movie(shape, dtype)
        _write(path, start_time, frames, (2, *shape[1:]), (4, *shape[1:]))
        data = nzi.read(str(path)).acquisition["m"].data
        assert data.compute().tobytes() == frames.tobytes()
        assert np.asarray(data[5]).tobytes() == frames[5].tobytes()
        assert np.asarray(data[..., 1]).tobytes() == np.ascontiguousarray(frames[..., 1]).tobytes()


def test_a_sharded_frame_costs_its_inner_chunk_and_the_index_once(tmp_path: Path, start_time) -> None:
    frames = movie((40, 16, 12), np.uint16)
    path = tmp_path / "f.nwb.zarr"
    _write(path, start_time, frames, (1, 16, 12), (8, 16, 12))
    store = CountingStore(LocalStore(str(path), read_only=True))
    data = nzi.read(store).acquisition["m"].data
    shard1 = _key(path, (1, 0, 0))
    np.testing.assert_array_equal(data[9].compute(), frames[9])
    assert store.chunk_reads() == {shard1: 2}  # the shard's index, then the frame's inner chunk
    for i in (10, 15, 8):
        np.testing.assert_array_equal(np.asarray(data[i]), frames[i])
    assert store.chunk_reads() == {shard1: 5}  # one request per frame: the index is kept
    np.testing.assert_array_equal(data[10:13].compute(), frames[10:13])
    assert store.chunk_reads() == {shard1: 6}  # adjacent inner chunks: one range request


def test_computations_read_each_shard_once(tmp_path: Path, start_time) -> None:
    frames = movie((40, 16, 12), np.uint16)
    path = tmp_path / "f.nwb.zarr"
    _write(path, start_time, frames, (1, 16, 12), (8, 16, 12))
    store = CountingStore(LocalStore(str(path), read_only=True))
    data = nzi.read(store).acquisition["m"].data
    assert data.chunksize == (8, 16, 12) and data.numblocks == (5, 1, 1)  # one task per shard
    np.testing.assert_array_equal(data.mean(axis=0).compute(), frames.mean(axis=0))
    assert store.chunk_reads() == {_key(path, (k, 0, 0)): 1 for k in range(5)}
    store.reads.clear()
    assert data.compute().tobytes() == frames.tobytes()
    assert store.chunk_reads() == {_key(path, (k, 0, 0)): 1 for k in range(5)}


def test_over_http_a_sharded_frame_is_one_range_request_of_its_stored_size(tmp_path: Path, start_time) -> None:
    frames = movie((64, 32, 32), np.uint16)
    _write(tmp_path / "f.nwb.zarr", start_time, frames, (1, 32, 32), (32, 32, 32))
    shard = tmp_path / "f.nwb.zarr" / _key(tmp_path / "f.nwb.zarr", (0, 0, 0))
    index = np.frombuffer(shard.read_bytes()[-(32 * 16 + 4):-4], "<u8").reshape(32, 2)
    with http_server(tmp_path, ranges=True) as server:
        data = nzi.read(f"{server.url}/f.nwb.zarr").acquisition["m"].data
        server.reset()
        np.testing.assert_array_equal(np.asarray(data[3]), frames[3])
        assert server.total() == 2 and server.bytes_sent == 32 * 16 + 4 + int(index[3, 1])
        for i in (4, 20, 31):
            server.reset()
            np.testing.assert_array_equal(np.asarray(data[i]), frames[i])
            assert server.total() == 1, server.requests
            assert server.bytes_sent == int(index[i, 1]) < shard.stat().st_size // 16
            (_path, asked), = server.ranges_asked
            assert asked == f"bytes={index[i, 0]}-{index[i, 0] + index[i, 1] - 1}"


def test_a_missing_shard_warns_and_a_damaged_index_is_our_error(tmp_path: Path, start_time) -> None:
    frames = movie((24, 8, 8), np.uint8)
    path = tmp_path / "f.nwb.zarr"
    _write(path, start_time, frames, (2, 8, 8), (8, 8, 8))
    (path / _key(path, (1, 0, 0))).unlink()
    data = nzi.read(str(path)).acquisition["m"].data
    with pytest.warns(nzi.MissingChunkWarning, match=r"/acquisition/m/data: chunk\(s\) c.1.0.0 are not stored"):
        values = np.asarray(data[6:12])
    np.testing.assert_array_equal(values[:2], frames[6:8])
    assert not values[2:].any()
    with pytest.raises(nzi.CorruptDataError, match=r"c.1.0.0 are not stored"):
        nzi.read(str(path), strict=True).acquisition["m"].data[9].compute()
    shard0 = path / _key(path, (0, 0, 0))
    raw = bytearray(shard0.read_bytes())
    raw[-10] ^= 0xFF  # inside the index: its crc32c no longer matches
    shard0.write_bytes(bytes(raw))
    with pytest.raises(nzi.CorruptDataError, match=r"c.0.0.0 cannot be decoded .*crc32c"):
        np.asarray(nzi.read(str(path)).acquisition["m"].data[1])
    np.testing.assert_array_equal(np.asarray(nzi.read(str(path)).acquisition["m"].data[17]), frames[17])


def test_a_damaged_inner_chunk_is_our_error(tmp_path: Path, start_time) -> None:
    frames = movie((16, 8, 8), np.uint16)
    path = tmp_path / "f.nwb.zarr"
    _write(path, start_time, frames, (2, 8, 8), (8, 8, 8))
    shard = path / _key(path, (0, 0, 0))
    raw = bytearray(shard.read_bytes())
    raw[0:16] = b"\x00" * 16  # the first inner chunk's blosc header
    shard.write_bytes(bytes(raw))
    data = nzi.read(str(path)).acquisition["m"].data
    with pytest.raises(nzi.CorruptDataError, match=r"/acquisition/m/data: the stored values at c.0.0.0 cannot be"):
        np.asarray(data[0])


def test_play_gives_every_frame_in_order_reading_ahead_with_bounded_memory(tmp_path: Path, start_time) -> None:
    frames = movie((80, 16, 16), np.uint16)
    path = tmp_path / "f.nwb.zarr"
    _write(path, start_time, frames, (4, 16, 16), None)
    store = CountingStore(LocalStore(str(path), read_only=True))
    series = nzi.read(store).acquisition["m"]
    chunk_bytes = 4 * 16 * 16 * 2
    player = nzi.play(series, 5, 70, ahead_bytes=3 * chunk_bytes)
    first = next(player)
    np.testing.assert_array_equal(first, frames[5])
    assert 1 < len(store.chunk_reads()) <= 4  # the playhead's chunk and at most 3 ahead
    rest = np.stack(list(player))
    np.testing.assert_array_equal(rest, frames[6:70])
    assert set(store.chunk_reads().values()) == {1}  # every chunk read once
    np.testing.assert_array_equal(np.stack(list(nzi.play(frames[:7]))), frames[:7])  # any array plays
    np.testing.assert_array_equal(np.stack(list(nzi.play(series.data[:, 2:9, 3], 70))), frames[70:, 2:9, 3])
    np.testing.assert_array_equal(np.stack(list(nzi.play(da.from_array(frames, chunks=(9, 16, 16)), -3))),
                                  frames[-3:])


def test_play_over_http_makes_one_request_per_chunk(tmp_path: Path, start_time) -> None:
    frames = movie((48, 16, 16), np.uint16)
    _write(tmp_path / "u.nwb.zarr", start_time, frames, (8, 16, 16), None)
    _write(tmp_path / "s.nwb.zarr", start_time, frames, (1, 16, 16), (16, 16, 16))
    with http_server(tmp_path, ranges=True) as server:
        for name, expected in (("u", 6), ("s", 3)):  # sharded: each whole shard in one request
            series = nzi.read(f"{server.url}/{name}.nwb.zarr").acquisition["m"]
            server.reset()
            np.testing.assert_array_equal(np.stack(list(nzi.play(series))), frames)
            assert server.total() == expected, (name, server.requests)


def test_viewer_playback_over_http_is_one_request_per_frame_after_each_shards_first(tmp_path: Path,
                                                                                    start_time) -> None:
    from nwbzarr_image.viewer.app import ViewerApp

    frames = movie((24, 16, 16), np.uint16)
    _write(tmp_path / "s.nwb.zarr", start_time, frames, (1, 16, 16), (8, 16, 16))
    with http_server(tmp_path, ranges=True) as server:
        app = ViewerApp.open(f"{server.url}/s.nwb.zarr")
        counts = []
        for index in range(24):
            server.reset()
            png, headers = app.frame("/acquisition/m", index, "none")
            assert headers["X-Frame"] == str(index) and png.startswith(b"\x89PNG")
            counts.append(server.total())
    assert counts == [2, 1, 1, 1, 1, 1, 1, 1] * 3  # each shard: its index with the first frame, then one range


def test_a_rewritten_shard_is_read_again_not_through_its_old_index(tmp_path: Path, start_time) -> None:
    frames = movie((16, 8, 8), np.uint16)
    path = tmp_path / "f.nwb.zarr"
    _write(path, start_time, frames, (1, 8, 8), (8, 8, 8))
    data = nzi.read(str(path)).acquisition["m"].data
    np.testing.assert_array_equal(np.asarray(data[3]), frames[3])  # shard 0's index is now kept
    newer = movie((8, 8, 8), np.uint16, seed=7)
    zarr.open_array(str(path / "acquisition/m/data"), mode="r+")[0:8] = newer  # e.g. another process appending
    np.testing.assert_array_equal(np.asarray(data[3]), newer[3])
    np.testing.assert_array_equal(np.asarray(data[9]), frames[9])


def test_play_of_a_file_read_by_url_reads_ahead_in_whole_chunks(tmp_path: Path, start_time) -> None:
    from nwbzarr_image.storage.direct_source import ChunkSource

    frames = movie((48, 16, 16), np.uint16)
    _write(tmp_path / "s.nwb.zarr", start_time, frames, (1, 16, 16), (16, 16, 16))
    series = nzi.read(str(tmp_path / "s.nwb.zarr")).acquisition["m"]
    source = series.data._direct[0]
    made = source if isinstance(source, ChunkSource) else source.source()
    assert isinstance(made, ChunkSource) and made.reader is not None
    np.testing.assert_array_equal(np.stack(list(nzi.play(series, 3, 40, ahead_bytes=4 * 16 * 16 * 2 * 4))),
                                  frames[3:40])
    # units of 4 frames (a quarter of ahead_bytes) cut at shard ends, not whole shards: 3-7, 7-11, 11-15, 15-16,
    # 16-20, ..., 28-32, 32-36, 36-40 are 10 range requests, plus the 3 shards' indexes
    assert made.reader.requests == 3 + 10, made.reader.requests
