"""Sources that never load a whole movie: video (PyAV), multi-page TIFF (tifffile) and memory-mapped .npy."""

from __future__ import annotations

import struct
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np
import pytest
import tifffile

from nwbzarr_image.errors import MissingDependencyError, SchemaError, StoreNotFoundError
from nwbzarr_image.iterators.npy import NpyDataChunkIterator, open_npy
from nwbzarr_image.iterators.tiff import TiffDataChunkIterator
from nwbzarr_image.iterators.video import VideoDataChunkIterator, VideoInfo, probe_video

FRAMES, HEIGHT, WIDTH, RATE = 45, 48, 64, 25


def source_frames(color: bool, dtype: type = np.uint8) -> np.ndarray:
    """Frames whose values encode the frame index (left half) and the position (right half)."""
    scale = 257 if dtype is np.uint16 else 1
    yy, xx = np.mgrid[0:HEIGHT, 0:WIDTH]
    index = (np.arange(FRAMES)[:, None, None] * 5 % 256) * np.ones((1, HEIGHT, WIDTH), dtype=np.int64)
    gray = np.where(xx < WIDTH // 2, index, (yy * 3 + xx) % 256)
    if not color:
        return (gray * scale).astype(dtype)
    return np.stack([gray, (xx * 4) % 256 + 0 * gray, (255 - gray)], axis=-1).astype(dtype)


def write_video(path: Path, codec: str, pix_fmt: str, frames: np.ndarray,
                options: dict[str, str] | None = None) -> Path:
    """Encode ``frames`` with PyAV at RATE fps."""
    source_format = "gray16le" if frames.dtype == np.uint16 else ("rgb24" if frames.ndim == 4 else "gray")
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream(codec, rate=RATE)
        stream.width, stream.height, stream.pix_fmt = WIDTH, HEIGHT, pix_fmt
        stream.options = options or {}
        for image in frames:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(image, format=source_format)))
        container.mux(stream.encode())
    return path


def pyav_decode(path: Path, fmt: str) -> np.ndarray:
    """PyAV's own decode of every frame, the reference for our iterator."""
    with av.open(str(path)) as container:
        return np.stack([frame.to_ndarray(format=fmt) for frame in container.decode(video=0)])


H264_GOP10 = {"g": "10", "keyint_min": "10", "sc_threshold": "0", "bframes": "2"}
# (file name, codec, pix_fmt, color of the source, dtype, lossless, encoder options)
VIDEOS = {
    "mp4-h264-rgb": ("v.mp4", "libx264", "yuv420p", True, np.uint8, False, H264_GOP10),
    "mkv-h264-rgb": ("v.mkv", "libx264", "yuv420p", True, np.uint8, False, None),
    "avi-mpeg4-rgb": ("v.avi", "mpeg4", "yuv420p", True, np.uint8, False, None),
    "avi-ffv1-gray": ("v.avi", "ffv1", "gray", False, np.uint8, True, None),
    "mkv-ffv1-rgb": ("v.mkv", "ffv1", "bgr0", True, np.uint8, True, None),
    "mkv-ffv1-gray16": ("v.mkv", "ffv1", "gray16le", False, np.uint16, True, None),
}


@dataclass(frozen=True)
class Video:
    path: Path
    source: np.ndarray
    color: bool
    lossless: bool
    codec: str


@pytest.fixture(params=list(VIDEOS), ids=list(VIDEOS))
def video(request: pytest.FixtureRequest, tmp_path: Path) -> Video:
    """A test video for each container and codec."""
    name, codec, pix_fmt, color, dtype, lossless, options = VIDEOS[request.param]
    frames = source_frames(color, dtype)
    return Video(write_video(tmp_path / name, codec, pix_fmt, frames, options), frames, color, lossless, codec)


def frame_shape(color: bool) -> tuple[int, ...]:
    return (HEIGHT, WIDTH, 3) if color else (HEIGHT, WIDTH)


def assemble(iterator: object, shape: tuple[int, ...], dtype: np.dtype) -> tuple[np.ndarray, int]:
    """Write every DataChunk into a fresh array; return it and the number of chunks."""
    out = np.zeros(shape, dtype=dtype)
    count = 0
    for chunk in iterator:
        out[chunk.selection] = chunk.data
        count += 1
    return out, count


def test_video_equals_pyav_decode_frame_for_frame(video: Video) -> None:
    path, source, color, lossless = video.path, video.source, video.color, video.lossless
    fmt = "rgb24" if color else ("gray16le" if source.dtype == np.uint16 else "gray")
    reference = pyav_decode(path, fmt)
    shape = frame_shape(color)
    iterator = VideoDataChunkIterator(path, chunk_shape=(5, *shape), buffer_shape=(10, *shape))
    assert (iterator.maxshape, iterator.shape, iterator.dtype) == ((FRAMES, *shape), (FRAMES, *shape), source.dtype)
    assert (iterator.num_frames, iterator.rate, iterator.color) == (FRAMES, 25.0, color)
    data, chunks = assemble(iterator, iterator.maxshape, iterator.dtype)
    assert chunks == 5
    assert len(reference) == FRAMES
    assert np.array_equal(data, reference)
    assert iterator.frames_decoded == FRAMES  # sequential buffers continue the decoder: each frame once
    if lossless:
        assert np.array_equal(data, source)
    else:  # lossy, but still the same pictures
        assert np.abs(data.astype(int) - source.astype(int)).mean() < 8


def test_probe_video_matches_decoding(video: Video) -> None:
    decoder = {"libx264": "h264"}.get(video.codec, video.codec)
    assert probe_video(video.path) == VideoInfo(num_frames=len(pyav_decode(video.path, "gray")), height=HEIGHT,
                                                width=WIDTH, color=video.color, rate=25.0, codec=decoder)
    assert probe_video(str(video.path)).num_frames == FRAMES


def test_frame_count_from_header_or_packets(tmp_path: Path) -> None:
    frames = source_frames(True)
    mp4 = write_video(tmp_path / "v.mp4", "libx264", "yuv420p", frames)
    mkv = write_video(tmp_path / "v.mkv", "libx264", "yuv420p", frames)
    with av.open(str(mp4)) as container:
        assert container.streams.video[0].frames == FRAMES  # mp4 states the count
    with av.open(str(mkv)) as container:
        assert container.streams.video[0].frames == 0  # Matroska does not: counted by demuxing
    assert VideoDataChunkIterator(mkv).num_frames == len(pyav_decode(mkv, "gray")) == FRAMES


@pytest.mark.parametrize("color", [True, False], ids=["rgb", "gray"])
def test_video_color_override(tmp_path: Path, color: bool) -> None:
    source = source_frames(not color)
    path = write_video(tmp_path / "v.avi", "ffv1", "bgr0" if not color else "gray", source)
    iterator = VideoDataChunkIterator(path, color=color)
    data, _ = assemble(iterator, iterator.maxshape, iterator.dtype)
    assert data.shape == (FRAMES, *frame_shape(color))
    assert np.array_equal(data, pyav_decode(path, "rgb24" if color else "gray"))
    if color:  # gray source: three equal channels
        assert np.array_equal(data, np.repeat(source[..., None], 3, axis=-1))


@pytest.mark.parametrize("color", [True, False], ids=["rgb", "gray"])
def test_video_spatial_buffers_decode_each_frame_once(tmp_path: Path, color: bool) -> None:
    source = source_frames(color)
    path = write_video(tmp_path / "v.mkv", "ffv1", "bgr0" if color else "gray", source)
    half = (HEIGHT // 2, WIDTH // 2, 3) if color else (HEIGHT // 2, WIDTH // 2)
    iterator = VideoDataChunkIterator(path, chunk_shape=(5, *half), buffer_shape=(15, *half))
    data, chunks = assemble(iterator, iterator.maxshape, iterator.dtype)
    assert chunks == 3 * 4
    assert np.array_equal(data, source)
    assert iterator.frames_decoded == FRAMES


def test_video_backward_read_seeks_to_keyframe(tmp_path: Path) -> None:
    path = write_video(tmp_path / "v.mp4", "libx264", "yuv420p", source_frames(True), H264_GOP10)
    reference = pyav_decode(path, "rgb24")
    everything = (slice(None),) * 3
    with VideoDataChunkIterator(path) as iterator:
        reads = [(slice(0, 10), 10), (slice(35, 45), 35), (slice(31, 35), 5), (slice(2, 4), 4), (slice(4, 8), 4)]
        for frames, decoded in reads:
            before = iterator.frames_decoded
            assert np.array_equal(iterator._get_data((frames, *everything)), reference[frames])
            assert iterator.frames_decoded - before == decoded, frames  # 31:35 starts at the keyframe 30
        assert np.array_equal(iterator._get_data((slice(40, 45), slice(8, 20), slice(0, 64, 2), slice(1, 2))),
                              reference[40:45, 8:20, ::2, 1:2])


def test_video_import_does_not_import_av() -> None:
    code = ("import sys, nwbzarr_image, nwbzarr_image.iterators.video, nwbzarr_image.iterators.tiff; "
            "print('av' in sys.modules, 'tifffile' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.split() == ["False", "False"]


def write_audio(path: Path) -> Path:
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("pcm_s16le", rate=8000)
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 800), np.int16), format="s16", layout="mono")
        frame.sample_rate, frame.pts = 8000, 0
        container.mux(stream.encode(frame))
        container.mux(stream.encode())
    return path


def write_text(path: Path) -> Path:
    path.write_text("not a video")
    return path


# case: (make the file, error, message fragment, type of the wrapped error)
VIDEO_ERRORS = {
    "missing": (lambda d: d / "absent.mp4", StoreNotFoundError, "no such file", FileNotFoundError),
    "text-as-mp4": (lambda d: write_text(d / "notes.mp4"), SchemaError, "cannot open the file", av.FFmpegError),
    "audio-only": (lambda d: write_audio(d / "tone.mkv"), SchemaError, "no video stream; expected one, got streams "
                   "of type audio", type(None)),
}


@pytest.mark.parametrize("open_source", [VideoDataChunkIterator, probe_video], ids=["iterator", "probe"])
@pytest.mark.parametrize("case", list(VIDEO_ERRORS), ids=list(VIDEO_ERRORS))
def test_video_errors(tmp_path: Path, case: str, open_source: object) -> None:
    make, error, fragment, cause = VIDEO_ERRORS[case]
    path = make(tmp_path)
    with pytest.raises(error, match=fragment) as info:
        open_source(path)
    assert f"'{path}'" in str(info.value)
    assert isinstance(info.value.__cause__, cause)


def test_sample_video_script(tmp_path: Path) -> None:
    script = Path(__file__).parents[1] / "examples" / "make_sample_video.py"
    out = tmp_path / "behavior.mp4"
    subprocess.run([sys.executable, str(script), str(out)], capture_output=True, text=True, check=True)
    assert probe_video(out) == VideoInfo(num_frames=150, height=240, width=320, color=True, rate=30.0, codec="h264")
    assert out.stat().st_size < 1_000_000
    with VideoDataChunkIterator(out, chunk_shape=(10, 240, 320, 3), buffer_shape=(10, 240, 320, 3)) as iterator:
        first = next(iterator)
    assert first.data.shape == (10, 240, 320, 3) and first.data.max() > 200 > 100 > first.data.mean()


@pytest.mark.parametrize(("module", "source", "hint"), [
    ("av", lambda p: VideoDataChunkIterator(p), 'pip install "nwbzarr-image[video]"'),
    ("tifffile", lambda p: TiffDataChunkIterator(p), 'pip install "nwbzarr-image[tiff]"'),
], ids=["av", "tifffile"])
def test_missing_dependency(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, module: str, source: object,
                            hint: str) -> None:
    monkeypatch.setitem(sys.modules, module, None)
    with pytest.raises(MissingDependencyError, match=f"needs {module}") as info:
        source(tmp_path / "x")
    assert hint in str(info.value)
    assert isinstance(info.value, ImportError)


# ------------------------------------------------------------------------------------------------------- TIFF
TIFF_STACK = np.arange(30 * 32 * 40, dtype=np.uint16).reshape(30, 32, 40) * 7


def single_ifd(path: Path) -> Path:
    """Cut the IFD chain after the first page, as ImageJ does for stacks over 4 GB (data stays contiguous)."""
    with tifffile.TiffFile(path) as tif:
        offset, byteorder = tif.pages[0].offset, tif.byteorder
    raw = bytearray(path.read_bytes())
    entries = struct.unpack(f"{byteorder}H", raw[offset:offset + 2])[0]
    raw[offset + 2 + 12 * entries:offset + 6 + 12 * entries] = b"\0\0\0\0"
    path.write_bytes(bytes(raw))
    with tifffile.TiffFile(path) as tif:
        assert len(tif.pages) == 1 and tif.series[0].shape == TIFF_STACK.shape
    return path


TIFFS = {
    "pages": lambda p: tifffile.imwrite(p, TIFF_STACK),
    "imagej": lambda p: tifffile.imwrite(p, TIFF_STACK, imagej=True, metadata={"axes": "TYX"}),
    "imagej-one-ifd": lambda p: (tifffile.imwrite(p, TIFF_STACK, imagej=True), single_ifd(p)),
}


@pytest.mark.parametrize("kind", list(TIFFS), ids=list(TIFFS))
def test_tiff_values_and_pages_read_per_buffer(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "stack.tif"
    TIFFS[kind](path)
    with TiffDataChunkIterator(path, chunk_shape=(5, 32, 40), buffer_shape=(10, 32, 40)) as iterator:
        assert (iterator.maxshape, iterator.dtype, iterator.num_frames) == ((30, 32, 40), np.uint16, 30)
        first = next(iterator)
        assert first.selection == (slice(0, 10), slice(0, 32), slice(0, 40))
        assert np.array_equal(first.data, TIFF_STACK[:10])
        assert iterator.pages_read == 10  # one buffer reads only its pages
        data, chunks = assemble(iterator, (30, 32, 40), np.uint16)
        assert chunks == 2 and iterator.pages_read == 30
        assert np.array_equal(data[10:], TIFF_STACK[10:])
        assert iterator._tif is None  # closed when the iteration ended
        assert np.array_equal(iterator._get_data((slice(28, 30), slice(4, 8), slice(0, 40, 3))),
                              TIFF_STACK[28:30, 4:8, ::3])
    assert iterator._tif is None


def test_tiff_rgb_pages_keep_samples(tmp_path: Path) -> None:
    stack = np.random.default_rng(1).integers(0, 255, (6, 8, 9, 3), dtype=np.uint8)
    tifffile.imwrite(tmp_path / "rgb.tif", stack, photometric="rgb")
    with TiffDataChunkIterator(tmp_path / "rgb.tif", chunk_shape=(2, 8, 9, 3), buffer_shape=(4, 8, 9, 3)) as it:
        assert it.maxshape == (6, 8, 9, 3)
        data, chunks = assemble(it, it.maxshape, it.dtype)
    assert chunks == 2 and np.array_equal(data, stack)


def test_tiff_errors(tmp_path: Path) -> None:
    tifffile.imwrite(tmp_path / "hyper.tif", np.zeros((3, 2, 2, 8, 9), np.uint8), imagej=True,
                     metadata={"axes": "TZCYX"})
    (tmp_path / "notes.tif").write_text("not a tiff")
    cases = [("absent.tif", StoreNotFoundError, "no such file"), ("notes.tif", SchemaError, "cannot read the file"),
             ("hyper.tif", SchemaError, "expected one frame axis")]
    for name, error, fragment in cases:
        with pytest.raises(error, match=fragment) as info:
            TiffDataChunkIterator(tmp_path / name)
        assert str(tmp_path / name) in str(info.value)


# ------------------------------------------------------------------------------------------------------- npy
def test_npy_is_memory_mapped_and_iterated(tmp_path: Path) -> None:
    values = np.arange(20 * 8 * 6, dtype=np.int16).reshape(20, 8, 6) - 300
    np.save(tmp_path / "movie.npy", values)
    mapped = open_npy(tmp_path / "movie.npy")
    assert isinstance(mapped, np.memmap) and not mapped.flags.writeable
    assert np.array_equal(mapped, values)
    iterator = NpyDataChunkIterator(tmp_path / "movie.npy", chunk_shape=(4, 8, 6), buffer_shape=(8, 8, 6))
    assert (iterator.maxshape, iterator.dtype) == ((20, 8, 6), np.int16)
    data, chunks = assemble(iterator, (20, 8, 6), np.int16)
    assert chunks == 3 and np.array_equal(data, values)


def test_npy_errors(tmp_path: Path) -> None:
    np.save(tmp_path / "objects.npy", np.array([{"a": 1}, None], dtype=object), allow_pickle=True)
    np.save(tmp_path / "scalar.npy", np.float32(3))
    (tmp_path / "notes.npy").write_text("not an array")
    cases = [("absent.npy", StoreNotFoundError, "no such file"), ("objects.npy", SchemaError, "object arrays"),
             ("scalar.npy", SchemaError, "a scalar has no frames"), ("notes.npy", SchemaError, "not a .npy file")]
    for name, error, fragment in cases:
        for source in (open_npy, NpyDataChunkIterator):
            with pytest.raises(error, match=fragment) as info:
                source(tmp_path / name)
            assert str(tmp_path / name) in str(info.value)
