"""External video files: stored as NWB stores them, read as one lazy dask array, paths resolved safely."""

from __future__ import annotations

import os
import pickle
import uuid
from datetime import UTC, datetime
from pathlib import Path

import av
import fsspec
import numpy as np
import pytest
import zarr

import nwbzarr_image as nzi
from nwbzarr_image.cli import main
from nwbzarr_image.external import ExternalBase, resolve_external

HEIGHT, WIDTH, RATE = 48, 64, 25
GOP10 = {"g": "10", "keyint_min": "10", "sc_threshold": "0", "bframes": "2"}
START = datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)


def source(n: int, color: bool, offset: int = 0) -> np.ndarray:
    """Frames whose left half encodes the frame index and right half the position."""
    yy, xx = np.mgrid[0:HEIGHT, 0:WIDTH]
    index = ((np.arange(n)[:, None, None] + offset) * 5 % 256) * np.ones((1, HEIGHT, WIDTH), np.int64)
    gray = np.where(xx < WIDTH // 2, index, (yy * 3 + xx) % 256)
    if not color:
        return gray.astype(np.uint8)
    return np.stack([gray, (xx * 4) % 256 + 0 * gray, 255 - gray], axis=-1).astype(np.uint8)


def write_video(path: Path, codec: str, pix_fmt: str, frames: np.ndarray, options: dict | None = None) -> Path:
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream(codec, rate=RATE)
        stream.width, stream.height, stream.pix_fmt = WIDTH, HEIGHT, pix_fmt
        stream.options = options or {}
        for image in frames:
            fmt = "rgb24" if image.ndim == 3 else "gray"
            container.mux(stream.encode(av.VideoFrame.from_ndarray(image, format=fmt)))
        container.mux(stream.encode())
    return path


def pyav_decode(path: Path, fmt: str) -> np.ndarray:
    with av.open(str(path)) as container:
        return np.stack([frame.to_ndarray(format=fmt) for frame in container.decode(video=0)])


def mp4(path: Path, n: int, offset: int = 0) -> Path:
    return write_video(path, "libx264", "yuv420p", source(n, True, offset), GOP10)


def series_file(names: list[str], counts: list[int], **kwargs: object) -> nzi.NWBFile:
    nwb = nzi.NWBFile("external", str(uuid.uuid4()), START)
    starts = [int(v) for v in np.cumsum([0, *counts[:-1]])]
    options = {"rate": 25.0, "num_samples": sum(counts), **kwargs}
    nwb.add_acquisition(nzi.ImageSeries("cam", external_file=names, starting_frame=starts, **options))
    return nwb


def written(tmp_path: Path, names: list[str], counts: list[int], **kwargs: object) -> nzi.ImageSeries:
    """Write a series referencing ``names`` into tmp_path/s.nwb.zarr; return it read back."""
    nzi.write(series_file(names, counts, **kwargs), str(tmp_path / "s.nwb.zarr"))
    return nzi.read(str(tmp_path / "s.nwb.zarr")).acquisition["cam"]


# (file, codec, pix_fmt, source color, options, color asked, PyAV format of the reference)
KINDS = {
    "mp4-h264-rgb": ("v.mp4", "libx264", "yuv420p", True, GOP10, None, "rgb24"),
    "mp4-h264-gray": ("v.mp4", "libx264", "yuv420p", False, GOP10, False, "gray"),
    "avi-ffv1-gray": ("v.avi", "ffv1", "gray", False, None, None, "gray"),
    "avi-ffv1-rgb": ("v.avi", "ffv1", "bgr0", True, None, None, "rgb24"),
}


@pytest.mark.parametrize("kind", list(KINDS), ids=list(KINDS))
def test_frames_equal_pyav_decode(tmp_path: Path, kind: str) -> None:
    name, codec, pix_fmt, color, options, ask, fmt = KINDS[kind]
    path = write_video(tmp_path / name, codec, pix_fmt, source(45, color), options)
    series = written(tmp_path, [name], [45])
    arr = series.external_frames(frames_per_chunk=16, color=ask)
    reference = pyav_decode(path, fmt)
    assert arr.chunks[0] == (16, 16, 13) and arr.shape == reference.shape and arr.dtype == np.uint8
    np.testing.assert_array_equal(arr.compute(), reference)
    if codec == "ffv1":  # lossless: the frames are the source
        np.testing.assert_array_equal(reference, source(45, color))


def test_multi_file_series_in_order_chunks_never_span_files(tmp_path: Path) -> None:
    mp4(tmp_path / "a.mp4", 20)
    write_video(tmp_path / "b.avi", "ffv1", "bgr0", source(35, True, 20))
    mp4(tmp_path / "c.mp4", 12, 55)
    series = written(tmp_path, ["a.mp4", "b.avi", "c.mp4"], [20, 35, 12])
    video = series.external_video()
    assert video.frame_counts == [20, 35, 12] and video.shape == (67, HEIGHT, WIDTH, 3)
    arr = video.to_dask(16)
    assert arr.chunks[0] == (16, 4, 16, 16, 3, 12)
    reference = np.concatenate([pyav_decode(tmp_path / n, "rgb24") for n in ("a.mp4", "b.avi", "c.mp4")])
    np.testing.assert_array_equal(arr.compute(scheduler="synchronous"), reference)
    assert video.frames_decoded == 67  # dask's order, not ours: frames decoded on the way are kept
    in_order = series.external_video()
    blocks = [in_order.to_dask(16).blocks[i].compute() for i in range(6)]
    np.testing.assert_array_equal(np.concatenate(blocks), reference)
    assert in_order.frames_decoded == 67  # each read continues the decoder the previous one left
    threaded = series.external_video()
    np.testing.assert_array_equal(threaded.to_dask(8).compute(scheduler="threads", num_workers=4), reference)
    assert threaded.frames_decoded == 67  # reads of one file take turns, and find what the others decoded
    np.testing.assert_array_equal(video.read(15, 60), reference[15:60])
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(arr))[50:58].compute(), reference[50:58])


def test_late_frame_seeks_to_the_nearest_keyframe(tmp_path: Path) -> None:
    mp4(tmp_path / "v.mp4", 100)
    reference = pyav_decode(tmp_path / "v.mp4", "rgb24")
    video = written(tmp_path, ["v.mp4"], [100]).external_video()
    late = video.to_dask(1)[95]
    assert video.frames_decoded == 0  # lazy: nothing decoded until computed
    np.testing.assert_array_equal(late.compute(), reference[95])
    assert video.frames_decoded == 6  # keyframe 90 .. 95, not 96 frames from the start
    np.testing.assert_array_equal(video.to_dask(32)[70].compute(), reference[70])
    assert video.frames_decoded == 6 + 36 - 32 + 32  # chunk 64:96 from keyframe 60
    np.testing.assert_array_equal(video.to_dask(32)[96:].compute(), reference[96:])
    assert video.frames_decoded == 42 + 4  # continues the decoder left at 96: no seek, no frame twice


def test_stores_what_nwb_stores(tmp_path: Path) -> None:
    mp4(tmp_path / "a.mp4", 20)
    mp4(tmp_path / "b.mp4", 10)
    series = written(tmp_path, ["a.mp4", "b.mp4"], [20, 10])
    root = zarr.open_group(str(tmp_path / "s.nwb.zarr"), mode="r")
    ext = root["acquisition/cam/external_file"]
    assert list(ext[...]) == ["a.mp4", "b.mp4"] and ext.attrs["starting_frame"] == [0, 20]
    assert root["acquisition/cam/format"][...] == "external" and int(root["acquisition/cam/num_samples"][...]) == 30
    assert root["acquisition/cam/data"].shape == (0, 0, 0)
    assert (series.format, list(series.external_file), series.num_samples) == ("external", ["a.mp4", "b.mp4"], 30)
    from hdmf_zarr.nwb import NWBZarrIO

    with NWBZarrIO(str(tmp_path / "s.nwb.zarr"), mode="r") as io:
        theirs = io.read().acquisition["cam"]
        assert list(theirs.external_file[:]) == ["a.mp4", "b.mp4"] and list(theirs.starting_frame) == [0, 20]
        assert theirs.num_samples == 30 and theirs.format == "external"


def test_num_samples_derived_from_the_files_when_readable(tmp_path: Path) -> None:
    mp4(tmp_path / "a.mp4", 20)
    mp4(tmp_path / "b.mp4", 10)
    series = written(tmp_path, ["a.mp4", "b.mp4"], [20, 10], rate=None, num_samples=None,
                     timestamps=np.arange(30) / 25)
    assert series.explicit_num_samples == 30
    with nzi.open(str(tmp_path / "s.nwb.zarr"), "a") as nwb:  # added to an open file: derived as well
        nwb.add_acquisition(nzi.ImageSeries("more", external_file=["b.mp4"], timestamps=np.arange(10) / 25))
    assert nzi.read(str(tmp_path / "s.nwb.zarr")).acquisition["more"].explicit_num_samples == 10


def test_num_samples_unreadable_files_warn_with_the_fix(tmp_path: Path) -> None:
    mp4(tmp_path / "a.mp4", 20)
    nwb = series_file(["a.mp4"], [20], rate=None, num_samples=None, timestamps=np.arange(20) / 25)
    elsewhere = tmp_path / "elsewhere"
    with pytest.warns(nzi.NWBRuleWarning, match=r"num_samples is not written.*'a.mp4' not found.*"
                                                r"Pass num_samples=<total frames>"):
        nzi.write(nwb, str(elsewhere / "s.nwb.zarr"))  # resolved where the file is written, not in the cwd
    assert nzi.read(str(elsewhere / "s.nwb.zarr")).acquisition["cam"].explicit_num_samples is None


@pytest.mark.parametrize(("counts", "kwargs", "fragment"), [
    ([25, 10], {}, r"starting_frame of external file 'b.mp4' \(file 2 of 2\) disagrees with the files' frame "
                   r"counts \('a.mp4': 20, 'b.mp4': 10\); expected 20, got 25. Set starting_frame=\[0, 20\]"),
    ([20, 10], {"num_samples": 31}, r"num_samples disagrees .*\('a.mp4': 20, 'b.mp4': 10\); expected 30, got 31"),
], ids=["starting_frame", "num_samples"])
def test_frame_count_mismatch_is_our_error(tmp_path: Path, counts: list[int], kwargs: dict, fragment: str) -> None:
    mp4(tmp_path / "a.mp4", 20)
    mp4(tmp_path / "b.mp4", 10)
    with pytest.raises(nzi.ExternalVideoError, match=fragment) as info:
        nzi.write(series_file(["a.mp4", "b.mp4"], counts, **kwargs), str(tmp_path / "s.nwb.zarr"))
    assert isinstance(info.value, ValueError) and not (tmp_path / "s.nwb.zarr").exists()


def _base(tmp_path: Path) -> ExternalBase:
    return ExternalBase.of_url(str(tmp_path / "data" / "s.nwb.zarr"))


@pytest.mark.parametrize(("base", "path", "options", "expected"), [
    ("local", "v.mp4", {}, "{d}/v.mp4"),
    ("local", "sub/../v.mp4", {}, "{d}/v.mp4"),
    ("local", "sub\\v.mp4", {}, "{d}/sub/v.mp4"),
    ("local", "../v.mp4", {}, nzi.ExternalPathError),
    ("local", "sub/../../v.mp4", {}, nzi.ExternalPathError),
    ("local", "/abs/v.mp4", {}, nzi.ExternalPathError),
    ("local", "/abs/v.mp4", {"allow_outside": True}, "/abs/v.mp4"),
    ("local", "/abs/v.mp4", {"allowed_roots": ["/abs"]}, "/abs/v.mp4"),
    ("local", "/abs2/v.mp4", {"allowed_roots": ["/abs"]}, nzi.ExternalPathError),
    ("local", "../v.mp4", {"allowed_roots": ["{t}"]}, "{t}/v.mp4"),
    ("local", "s3://bucket/v.mp4", {}, nzi.ExternalPathError),
    ("local", "", {}, nzi.ExternalFileError),
    ("local", "v\x00.mp4", {}, nzi.ExternalFileError),
    ("memory://x/y/s.nwb.zarr", "v.mp4", {}, "memory:///x/y/v.mp4"),
    ("memory://x/y/s.nwb.zarr", "../v.mp4", {}, nzi.ExternalPathError),
    ("https://host/d/s.nwb.zarr", "sub/v.mp4", {}, "https://host/d/sub/v.mp4"),
    ("https://host/d/s.nwb.zarr", "../../v.mp4", {}, nzi.ExternalPathError),
    ("https://host/d/s.nwb.zarr", "../v.mp4", {"allowed_roots": ["https://host/"]}, "https://host/v.mp4"),
    ("https://host/d/s.nwb.zarr", "https://other/v.mp4", {}, nzi.ExternalPathError),
    ("s3://bucket/d/s.nwb.zarr", "v.mp4", {}, "s3://bucket/d/v.mp4"),
    ("s3://bucket/d/s.nwb.zarr", "../../other/v.mp4", {}, nzi.ExternalPathError),
])
def test_resolve_external(tmp_path: Path, base: str, path: str, options: dict, expected: object) -> None:
    located = _base(tmp_path) if base == "local" else ExternalBase.of_url(base)
    options = {k: [r.format(t=tmp_path) for r in v] if k == "allowed_roots" else v for k, v in options.items()}
    if isinstance(expected, type):
        fragment = "expected .*allow" if expected is nzi.ExternalPathError else "empty or holds a NUL"
        with pytest.raises(expected, match=fragment):
            resolve_external(located, path, **options)
        return
    target = resolve_external(located, path, **options)
    assert target.url == expected.format(d=tmp_path / "data", t=tmp_path)


def test_symlink_out_of_the_directory_is_refused(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    outside = mp4(tmp_path / "v.mp4", 5)
    os.symlink(outside, tmp_path / "data" / "link.mp4")
    with pytest.raises(nzi.ExternalPathError, match="outside the NWB file's directory") as info:
        resolve_external(_base(tmp_path), "link.mp4")
    assert isinstance(info.value, PermissionError) and isinstance(info.value, nzi.NWBZarrImageError)
    assert resolve_external(_base(tmp_path), "link.mp4", allowed_roots=[tmp_path]).path == str(tmp_path / "data"
                                                                                                 / "link.mp4")


def test_read_refuses_paths_outside_unless_allowed(tmp_path: Path) -> None:
    mp4(tmp_path / "v.mp4", 8)
    nwb = series_file([str(tmp_path / "v.mp4")], [8])
    nzi.write(nwb, str(tmp_path / "data" / "s.nwb.zarr"))
    series = nzi.read(str(tmp_path / "data" / "s.nwb.zarr")).acquisition["cam"]
    with pytest.raises(nzi.ExternalPathError, match="absolute path"):
        series.external_frames()
    reference = pyav_decode(tmp_path / "v.mp4", "rgb24")
    np.testing.assert_array_equal(series.external_frames(allow_outside=True).compute(), reference)
    np.testing.assert_array_equal(series.external_frames(allowed_roots=[tmp_path]).compute(), reference)


def test_missing_file_and_other_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    mp4(tmp_path / "a.mp4", 8)
    write_video(tmp_path / "g.avi", "ffv1", "gray", source(4, False))
    nzi.write(series_file(["a.mp4", "gone.mp4"], [8, 4], num_samples=12), str(tmp_path / "s.nwb.zarr"))
    series = nzi.read(str(tmp_path / "s.nwb.zarr")).acquisition["cam"]
    with pytest.raises(nzi.ExternalFileNotFoundError, match=r"'gone.mp4' not found at .*gone.mp4") as info:
        series.external_frames()
    assert isinstance(info.value, FileNotFoundError)
    mixed = nzi.ImageSeries("mixed", external_file=["a.mp4", "g.avi"], starting_frame=[0, 8], rate=25.0,
                            num_samples=12)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(nzi.ExternalVideoError, match=r"'g.avi' has frames \(48, 64\) uint8; expected \(48, 64, 3\)"):
        mixed.external_frames()
    with pytest.raises(nzi.ArgumentTypeError, match="frames_per_chunk must be a positive int"):
        mixed.external_video(color=False).to_dask(0)
    with pytest.raises(nzi.SchemaError, match="has no external_file"):
        nzi.ImageSeries("d", np.zeros((2, 4, 4), np.uint8), "n.a.", rate=1.0).external_frames()


def test_series_not_read_from_a_file_resolves_against_the_cwd(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    mp4(tmp_path / "v.mp4", 12)
    monkeypatch.chdir(tmp_path)
    series = nzi.ImageSeries("cam", external_file=["v.mp4"], rate=25.0, num_samples=12)
    np.testing.assert_array_equal(series.external_frames().compute(), pyav_decode(tmp_path / "v.mp4", "rgb24"))


def test_memory_and_store_object_locations(tmp_path: Path) -> None:
    fs = fsspec.filesystem("memory")
    root = f"/{uuid.uuid4().hex}"
    fs.pipe(f"{root}/videos/v.mp4", mp4(tmp_path / "v.mp4", 12).read_bytes())
    url = f"memory://{root}/s.nwb.zarr"
    try:
        nzi.write(series_file(["videos/v.mp4"], [12], rate=None, num_samples=None, timestamps=np.arange(12) / 25),
                  url)
        series = nzi.read(url).acquisition["cam"]
        assert series.explicit_num_samples == 12
        np.testing.assert_array_equal(series.external_frames(frames_per_chunk=5).compute(),
                                      pyav_decode(tmp_path / "v.mp4", "rgb24"))
    finally:
        fs.rm(root, recursive=True)
    store = zarr.storage.MemoryStore()
    nzi.write(series_file(["v.mp4"], [12]), store)
    with pytest.raises(nzi.ExternalFileError, match=r"Read it with nzi.read\(url\)"):
        nzi.read(store).acquisition["cam"].external_frames()
    nzi.write(series_file(["v.mp4"], [12]), str(tmp_path / "s.nwb.zarr"))
    local = nzi.read(zarr.storage.LocalStore(tmp_path / "s.nwb.zarr", read_only=True)).acquisition["cam"]
    assert local.external_frames().shape == (12, HEIGHT, WIDTH, 3)


def test_http_location(tmp_path: Path) -> None:
    from servers import http_server

    mp4(tmp_path / "v.mp4", 40)
    nzi.write(series_file(["v.mp4"], [40]), str(tmp_path / "s.nwb.zarr"))
    with http_server(tmp_path) as server:
        series = nzi.read(f"{server.url}/s.nwb.zarr").acquisition["cam"]
        video = series.external_video()
        assert video.files[0].target.url == f"{server.url}/v.mp4"
        np.testing.assert_array_equal(video.to_dask(10)[30:34].compute(),
                                      pyav_decode(tmp_path / "v.mp4", "rgb24")[30:34])
        assert video.frames_decoded == 10  # chunk 30:40 from keyframe 30, through an fsspec file object


def test_cli_convert_external_then_info(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "videos").mkdir()
    mp4(tmp_path / "videos" / "cam.mp4", 30)
    out = tmp_path / "out.nwb.zarr"
    assert main(["convert", str(tmp_path / "videos" / "cam.mp4"), str(out), "--external", "--no-progress"]) == 0
    series = nzi.read(str(out)).acquisition["cam"]
    assert list(series.external_file) == ["videos/cam.mp4"] and series.rate == 25.0
    assert series.explicit_num_samples == 30 and list(series.starting_frame) == [0]
    assert sum(f.stat().st_size for f in out.rglob("*") if f.is_file()) < 20_000  # referenced, not copied
    np.testing.assert_array_equal(series.external_frames().compute(),
                                  pyav_decode(tmp_path / "videos" / "cam.mp4", "rgb24"))
    capsys.readouterr()
    assert main(["info", str(out), "--full"]) == 0
    text = capsys.readouterr().out
    assert "external files: 1, 30 frames in all (format 'external', num_samples 30)" in text
    assert "videos/cam.mp4  starting frame 0, 30 frames (48x64x3 uint8, h264, 25 Hz)" in text
    assert main(["convert", str(tmp_path / "videos" / "cam.mp4"), str(tmp_path / "x.nwb.zarr"), "--external",
                 "--shards", "8"]) == 2
    assert "--shards set how frames are stored" in capsys.readouterr().err
    assert not (tmp_path / "x.nwb.zarr").exists()


def test_cli_info_does_not_open_files_outside(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    mp4(tmp_path / "v.mp4", 6)
    out = tmp_path / "data" / "o.nwb.zarr"
    assert main(["convert", str(tmp_path / "v.mp4"), str(out), "--external", "--no-progress"]) == 0
    assert "note: ../v.mp4 is outside the output's directory" in capsys.readouterr().out
    assert main(["info", str(out), "--full"]) == 0
    assert "../v.mp4  starting frame 0, not read: ExternalPathError" in capsys.readouterr().out
