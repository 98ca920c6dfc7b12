"""Storage defaults (whole frames per chunk, the measured codec) and ZarrDataIO overrides."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import zarr
from builders import movie
from zarr.codecs import BloscCodec, ZstdCodec

import nwbzarr_image as nzi
from nwbzarr_image.storage import defaults


def _write(tmp_path: Path, start_time, data) -> zarr.Array:
    path = str(tmp_path / "f.nwb.zarr")
    nwb = nzi.NWBFile("s", "id", start_time)
    nwb.add_acquisition(nzi.ImageSeries("m", data, "n.a.", rate=1.0))
    nzi.write(nwb, path)
    return zarr.open_array(f"{path}/acquisition/m/data", mode="r")


@pytest.mark.parametrize(("shape", "dtype", "expected"), [
    ((1000, 512, 512), np.uint16, (8, 512, 512)),      # 0.5 MB frames -> 8 frames = 4 MB
    ((36000, 480, 640), np.uint8, (13, 480, 640)),     # 0.3 MB frames -> 13 frames
    ((10, 512, 512), np.uint16, (8, 512, 512)),
    ((3, 64, 64), np.uint8, (3, 64, 64)),              # small movies: one chunk
    ((100, 4096, 4096), np.uint16, (1, 4096, 4096)),   # a frame over 4 MB still stays whole
    ((50, 100, 100, 3), np.uint8, (50, 100, 100, 3)),
    ((0, 0, 0), np.uint8, (1, 1, 1)),
], ids=["imaging", "video", "short", "tiny", "huge-frame", "rgb", "empty"])
def test_default_chunks_are_whole_frames(shape, dtype, expected) -> None:
    chunks = defaults.frame_chunks(shape, dtype)
    if shape[0]:
        assert chunks[1:] == shape[1:]
    assert chunks == expected


def test_default_codec_is_written(tmp_path: Path, start_time) -> None:
    arr = _write(tmp_path, start_time, movie((20, 64, 64), np.uint16))
    assert arr.chunks == (20, 64, 64)
    (codec,) = arr.compressors
    assert isinstance(codec, BloscCodec)
    assert (str(codec.cname), codec.clevel, str(codec.shuffle)) == ("zstd", 3, "shuffle")
    arr8 = _write(tmp_path / "b", start_time, movie((20, 64, 64), np.uint8))
    assert str(arr8.compressors[0].shuffle) == "bitshuffle"


def test_zarr_data_io_overrides_everything(tmp_path: Path, start_time) -> None:
    frames = movie((12, 8, 8), np.uint16)
    io = nzi.ZarrDataIO(frames, chunks=(2, 4, 8), fillvalue=7, compressors=ZstdCodec(level=9),
                        shards=(6, 8, 8))
    arr = _write(tmp_path, start_time, io)
    assert (arr.chunks, arr.shards, arr.fill_value) == ((2, 4, 8), (6, 8, 8), 7)
    assert isinstance(arr.compressors[0], ZstdCodec) and arr.compressors[0].level == 9
    np.testing.assert_array_equal(arr[...], frames)


def test_zarr_data_io_without_compression(tmp_path: Path, start_time) -> None:
    arr = _write(tmp_path, start_time, nzi.ZarrDataIO(movie((4, 8, 8), np.uint8), compressors=False))
    assert arr.compressors == ()
    meta = json.loads((tmp_path / "f.nwb.zarr/acquisition/m/data/zarr.json").read_text())
    assert [c["name"] for c in meta["codecs"]] == ["bytes"]


@pytest.mark.parametrize(("kwargs", "error", "fragment"), [
    (dict(chunks=(2, 2)), nzi.SchemaError, "'chunks' must have one entry per dimension"),
    (dict(chunks=(2, 0, 2)), nzi.ArgumentTypeError, "'chunks' must be a sequence of positive ints"),
    (dict(chunks=(2, 4, 4), shards=(3, 4, 4)), nzi.SchemaError, "'shards' must be a multiple of 'chunks'"),
    (dict(chunks="auto"), nzi.ArgumentTypeError, "'chunks' must be a sequence of positive ints"),
], ids=["rank", "zero", "shard-multiple", "str"])
def test_zarr_data_io_errors(kwargs, error, fragment) -> None:
    with pytest.raises(error, match=fragment):
        nzi.ZarrDataIO(np.zeros((4, 4, 4), np.uint8), **kwargs)


def test_zarr_data_io_rejects_non_arrays() -> None:
    with pytest.raises(nzi.ArgumentTypeError, match="'data' must be array-like"):
        nzi.ZarrDataIO("frames.mp4")


def test_small_arrays_use_one_chunk(tmp_path: Path, start_time) -> None:
    path = str(tmp_path / "f.nwb.zarr")
    nwb = nzi.NWBFile("s", "id", start_time)
    nwb.add_acquisition(nzi.ImageSeries("m", movie((300, 4, 4), np.uint8), "n.a.", timestamps=np.arange(300.0),
                                        control=np.zeros(300, np.uint8), control_description=["x"]))
    nzi.write(nwb, path)
    root = zarr.open_group(path, mode="r")
    assert root["acquisition/m/timestamps"].chunks == (300,)
    assert root["acquisition/m/control_description"].chunks == (1,)
    assert root["identifier"].shape == () and root["identifier"][()] == "id"
