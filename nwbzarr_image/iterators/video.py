"""VideoDataChunkIterator: read a video file with PyAV buffer by buffer, never the whole movie.

Frames are decoded once, in order, by a decoder kept open between buffers. A buffer that starts before the
decoder's position seeks to the last keyframe at or before it (found by one demux pass, no decoding) and decodes
forward from there.
"""

from __future__ import annotations

import bisect
import itertools
import math
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from nwbzarr_image.errors import MissingDependencyError, SchemaError, StoreNotFoundError
from nwbzarr_image.iterators.data_chunk import DataChunk, Selection
from nwbzarr_image.iterators.generic import GenericDataChunkIterator

_NAME = "VideoDataChunkIterator"


def _import_av() -> Any:
    try:
        import av
    except ImportError as err:
        raise MissingDependencyError(
            f'{_NAME}: reading video files needs av; install with pip install "nwbzarr-image[video]"') from err
    return av


@dataclass(frozen=True)
class VideoInfo:
    """What a video file holds, read from its header (and a demux pass when the header has no frame count).

    ``color`` is True when the stream is not grayscale, i.e. when the iterator returns RGB frames by default;
    ``rate`` is in Hz, NaN when the file states none; ``codec`` is FFmpeg's decoder name, e.g. ``"h264"``.
    """

    num_frames: int
    height: int
    width: int
    color: bool
    rate: float
    codec: str


@dataclass(frozen=True)
class _PacketScan:
    """One demux pass: the frame count, each frame's pts in presentation order and the keyframes' indices."""

    num_frames: int
    pts: tuple[int, ...] | None  # sorted; None when a packet has no pts
    keyframes: tuple[int, ...]   # frame indices of keyframes, ascending


def _open_stream(path: str) -> tuple[Any, Any]:
    """Open ``path`` and return (container, first video stream), with our errors for a missing or bad file."""
    av = _import_av()
    try:
        container = av.open(path, mode="r")
    except FileNotFoundError as err:
        raise StoreNotFoundError(f"{_NAME} '{path}': no such file; expected a video file. Check the path.") from err
    except (av.FFmpegError, OSError) as err:
        raise SchemaError(f"{_NAME} '{path}': cannot open the file; expected a video PyAV can read, got "
                          f"{type(err).__name__}: {err}. Check that the file is a complete video.") from err
    if not container.streams.video:
        kinds = sorted({s.type for s in container.streams}) or ["none"]
        container.close()
        raise SchemaError(f"{_NAME} '{path}': the file has no video stream; expected one, got streams of type "
                          f"{', '.join(kinds)}. Use a file with a video track.")
    stream = container.streams.video[0]
    stream.thread_type = "AUTO"
    return container, stream


def scan_demuxed(container: Any, stream: Any) -> _PacketScan:
    """One demux pass over ``stream`` (no decoding): frame count, sorted pts and keyframe indices.

    Raises ``av.FFmpegError`` for a damaged file; callers turn it into their own error.
    """
    pts: list[int] = []
    keys: list[int] = []
    count = 0
    for packet in container.demux(stream):
        if packet.size == 0 or packet.is_discard:
            continue
        count += 1
        if packet.pts is not None:
            pts.append(packet.pts)
            if packet.is_keyframe:
                keys.append(packet.pts)
    if len(pts) != count or len(set(pts)) != count:
        return _PacketScan(count, None, ())
    ordered = sorted(pts)
    return _PacketScan(len(ordered), tuple(ordered), tuple(sorted(bisect.bisect_left(ordered, k) for k in keys)))


def _scan_packets(path: str) -> _PacketScan:
    """Demux (without decoding) every packet of the video stream."""
    av = _import_av()
    container, stream = _open_stream(path)
    try:
        return scan_demuxed(container, stream)
    except av.FFmpegError as err:
        raise SchemaError(f"{_NAME} '{path}': cannot read the packets of the video stream; got "
                          f"{type(err).__name__}: {err}. Check that the file is complete.") from err
    finally:
        container.close()


def _is_gray(pix_fmt: str | None) -> bool:
    return pix_fmt is not None and pix_fmt.startswith("gray")


def _output_format(pix_fmt: str | None, color: bool) -> tuple[str, np.dtype]:
    """The PyAV format frames are converted to and the resulting dtype."""
    if color:
        return "rgb24", np.dtype(np.uint8)
    if _is_gray(pix_fmt) and pix_fmt not in ("gray", "gray8"):
        return "gray16le", np.dtype(np.uint16)  # 10 to 16-bit grayscale keeps its depth
    return "gray", np.dtype(np.uint8)


def _rate(stream: Any) -> float:
    rate = stream.average_rate or stream.guessed_rate
    return float(rate) if rate else math.nan


def _header_frames(stream: Any) -> int:
    return int(stream.frames) if stream.frames and stream.frames > 0 else 0


def probe_video(path: str | os.PathLike[str]) -> VideoInfo:
    """Describe the first video stream of ``path`` without decoding it.

    Parameters
    ----------
    path : str or os.PathLike
        A video file PyAV (FFmpeg) can read.

    Returns
    -------
    VideoInfo
    """
    path = os.fspath(path)
    container, stream = _open_stream(path)
    try:
        ctx = stream.codec_context
        num_frames = _header_frames(stream)
        info = (ctx.height, ctx.width, not _is_gray(ctx.pix_fmt), _rate(stream), ctx.name)
    finally:
        container.close()
    if not num_frames:
        num_frames = _scan_packets(path).num_frames
    return VideoInfo(num_frames, *info)


class VideoDataChunkIterator(GenericDataChunkIterator):
    """Iterate over the frames of a video file, decoding each frame once.

    Grayscale streams give ``(frames, height, width)`` uint8 (uint16 for 10 to 16-bit gray); other streams give
    ``(frames, height, width, 3)`` uint8 RGB. The frame count is the header's when it states one, otherwise
    the number of packets in the stream (counted by demuxing, without decoding).

    Parameters
    ----------
    file_path : str or os.PathLike
        A video file PyAV (FFmpeg) can read; the first video stream is used.
    color : bool, optional
        True for RGB frames, False for grayscale (luma); default: grayscale only when the stream is.
    buffer_gb, buffer_shape, chunk_mb, chunk_shape, display_progress, progress_bar_class, progress_bar_options
        As in :class:`GenericDataChunkIterator`. Buffers that split a frame keep the full frames of the current
        buffer in memory so that each frame is still decoded once.

    Attributes
    ----------
    frames_decoded : int
        Frames decoded so far; equals ``num_frames`` after one sequential pass.
    """

    def __init__(self, file_path: str | os.PathLike[str], *, color: bool | None = None,
                 buffer_gb: float | None = None, buffer_shape: tuple[int, ...] | None = None,
                 chunk_mb: float | None = None, chunk_shape: tuple[int, ...] | None = None,
                 display_progress: bool = False, progress_bar_class: Any = None,
                 progress_bar_options: dict[str, Any] | None = None) -> None:
        self.file_path = os.fspath(file_path)
        container, stream = _open_stream(self.file_path)
        try:
            ctx = stream.codec_context
            self._height, self._width, self._pix_fmt = int(ctx.height), int(ctx.width), ctx.pix_fmt
            self._rate = _rate(stream)
            num_frames = _header_frames(stream)
        finally:
            container.close()
        self._scan: _PacketScan | None = None
        if not num_frames:
            self._scan = _scan_packets(self.file_path)
            num_frames = self._scan.num_frames
        self._num_frames = num_frames
        self.color = (not _is_gray(self._pix_fmt)) if color is None else bool(color)
        self._format, self._frame_dtype = _output_format(self._pix_fmt, self.color)
        self.frames_decoded = 0
        self._container: Any = None
        self._frames: Iterator[Any] = iter(())
        self._next_index = 0
        self._cache: tuple[int, int, np.ndarray] | None = None
        super().__init__(buffer_gb=buffer_gb, buffer_shape=buffer_shape, chunk_mb=chunk_mb,
                         chunk_shape=chunk_shape, display_progress=display_progress,
                         progress_bar_class=progress_bar_class, progress_bar_options=progress_bar_options)

    @property
    def rate(self) -> float:
        """Frames per second (average rate of the stream, else FFmpeg's guess; NaN when unknown)."""
        return self._rate

    def _get_maxshape(self) -> tuple[int, ...]:
        frame = (self._height, self._width, 3) if self.color else (self._height, self._width)
        return (self._num_frames, *frame)

    def _get_dtype(self) -> np.dtype:
        return self._frame_dtype

    def __next__(self) -> DataChunk:
        try:
            return super().__next__()
        except StopIteration:
            self.close()
            raise

    def close(self) -> None:
        """Close the file; a later read reopens it."""
        if self._container is not None:
            self._container.close()
        self._container, self._frames, self._cache = None, iter(()), None

    def __enter__(self) -> VideoDataChunkIterator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _get_data(self, selection: Selection) -> np.ndarray:
        frames, space = selection[0], tuple(selection[1:])
        start, stop = frames.indices(self._num_frames)[:2]
        full_frame = all(s.indices(n)[:2] == (0, n) and s.step in (None, 1)
                         for s, n in zip(space, self.maxshape[1:], strict=True))
        if self._cache is not None and self._cache[:2] == (start, stop):
            return self._cache[2][(slice(None), *space)]
        block = self._read_frames(start, stop)
        self._cache = None if full_frame else (start, stop, block)
        return block if full_frame else block[(slice(None), *space)]

    def _read_frames(self, start: int, stop: int) -> np.ndarray:
        """Decode frames ``start:stop`` (full frames), continuing from the decoder's position when possible."""
        if self._container is None or start < self._next_index:
            self._restart(start)
        out = np.empty((max(stop - start, 0), *self.maxshape[1:]), dtype=self._frame_dtype)
        while self._next_index < stop:
            frame = next(self._frames, None)
            if frame is None:
                raise SchemaError(f"{_NAME} '{self.file_path}': the video ends early; expected {self._num_frames} "
                                  f"frames, got {self._next_index}. The header's frame count is wrong or the file "
                                  f"is truncated; re-encode or remux it (ffmpeg -i in -c copy out.mkv).")
            if self._next_index >= start:
                out[self._next_index - start] = frame.to_ndarray(format=self._format)
            self._next_index += 1
        return out

    def _decode(self, stream: Any) -> Iterator[Any]:
        av = _import_av()
        try:
            for frame in self._container.decode(stream):
                self.frames_decoded += 1
                yield frame
        except av.FFmpegError as err:
            raise SchemaError(f"{_NAME} '{self.file_path}': cannot decode frame {self._next_index}; got "
                              f"{type(err).__name__}: {err}. Check that the file is complete.") from err

    def _restart(self, start: int) -> None:
        """Reopen the file positioned at or before frame ``start``: at its keyframe, else at frame 0."""
        self.close()
        self._container, stream = _open_stream(self.file_path)
        self._frames, self._next_index = self._decode(stream), 0
        keyframe = self._keyframe_pts(start) if start > 0 else None
        if keyframe is None:
            return
        assert self._scan is not None and self._scan.pts is not None
        self._container.seek(keyframe, backward=True, any_frame=False, stream=stream)
        self._frames = self._decode(stream)
        first = next(self._frames, None)
        first_pts = None if first is None else first.pts
        index = bisect.bisect_left(self._scan.pts, first_pts) if first_pts is not None else -1
        if index < 0 or index > start or self._scan.pts[index] != first_pts:
            self.close()  # the seek landed somewhere we cannot place: decode from the start
            self._container, stream = _open_stream(self.file_path)
            self._frames = self._decode(stream)
            return
        self._frames, self._next_index = itertools.chain([first], self._frames), index

    def _keyframe_pts(self, start: int) -> int | None:
        """The pts of the last keyframe at or before frame ``start``, or None to decode from the start."""
        if self._scan is None:
            self._scan = _scan_packets(self.file_path)
        scan = self._scan
        if scan.pts is None or not scan.keyframes:
            return None
        position = bisect.bisect_right(scan.keyframes, start) - 1
        if position < 0 or scan.keyframes[position] == 0:
            return None
        return scan.pts[scan.keyframes[position]]
