"""One external video file decoded with PyAV by frame ranges, seeking to keyframes.

A read of frames ``start:stop`` continues an idle decoder already positioned at or before ``start`` when no
keyframe lies between (sequential reads decode each frame once); otherwise it opens the file, seeks to the
last keyframe at or before ``start`` (keyframes found by one demux pass over the file, no decoding) and
decodes forward. The frames decoded on the way (keyframe .. start) are kept, up to ``CACHE_BYTES`` per file,
for the read that wants them, and reads of one file take turns (PyAV's frame threads use the cores), so
chunks computed in any order and on any number of dask threads still decode each frame about once. Local files
are opened by path; others through an fsspec file object.
"""

from __future__ import annotations

import bisect
import itertools
import threading
from collections.abc import Iterator
from typing import Any

import numpy as np

from nwbzarr_image.external.errors import ExternalFileNotFoundError, ExternalVideoError
from nwbzarr_image.external.paths import ExternalTarget
from nwbzarr_image.iterators.video import (
    _header_frames,
    _import_av,
    _is_gray,
    _output_format,
    _PacketScan,
    _rate,
    scan_demuxed,
)
from nwbzarr_image.limits import get_limits

MAX_IDLE = 2  # decoders kept open per file, for reads that continue where another stopped
# Demuxers of plain media files. Playlists and lists that make FFmpeg open other files or URLs (hls, concat,
# image2 sequences, tee, ...) are left out, and FFmpeg may open nothing but local files: an external file can
# only ever read itself.
FORMATS = ("mov,mp4,m4a,3gp,3g2,mj2,matroska,webm,avi,mpeg,mpegts,mpegvideo,m4v,flv,ogg,h264,hevc,mjpeg,gif,asf,"
           "nut,ivf,yuv4mpegpipe,dv,rawvideo")


def open_options() -> dict[str, str]:
    """FFmpeg's options for opening an external file: local files only, plain video demuxers only, and no frame
    beyond max_video_frame_pixels decoded, not even while probing the streams (``options`` reach them too)."""
    return {"protocol_whitelist": "file", "format_whitelist": FORMATS,
            "max_pixels": str(get_limits().max_video_frame_pixels)}
CACHE_BYTES = 256 * 2**20  # decoded frames kept per file when a read decodes past them on its way (see read)


class _Decoder:
    """An open container and its frame iterator; ``next_index`` is the index of the next frame it yields."""

    def __init__(self, owner: VideoFile) -> None:
        self.owner = owner
        self.container, self.handle, self.stream = owner._open()
        self.next_index = 0
        self.frames: Iterator[Any] = self._decode()

    def _decode(self) -> Iterator[Any]:
        av = _import_av()
        try:
            for frame in self.container.decode(self.stream):
                self.owner._count_decoded()
                yield frame
        except av.FFmpegError as err:
            raise ExternalVideoError(f"{self.owner.where}: cannot decode frame {self.next_index} of external file "
                                     f"{self.owner.target.text!r} ({self.owner.target.url}); got "
                                     f"{type(err).__name__}: {err}. Check that the file is complete.") from err

    def close(self) -> None:
        self.container.close()
        if self.handle is not None:
            self.handle.close()


class VideoFile:
    """Frames of one external video file, read by frame ranges.

    Parameters
    ----------
    target : ExternalTarget
        The resolved file.
    color : bool, optional
        True for RGB frames ``(height, width, 3)``, False for grayscale ``(height, width)``; default: grayscale
        only when the stream is.
    where : str
        The object named in error messages.

    Attributes
    ----------
    num_frames : int
        Frames in the file: the header's count, else the number of packets (one demux pass).
    frames_decoded : int
        Frames decoded so far by this object (in this process).
    """

    def __init__(self, target: ExternalTarget, *, color: bool | None = None, where: str = "ImageSeries") -> None:
        self.target, self.where = target, where
        self._lock = threading.Lock()
        self._decoding = threading.Lock()
        self._idle: list[_Decoder] = []
        self._cache: dict[int, tuple[Any, int]] = {}  # frame index -> (decoded av.VideoFrame, bytes)
        self._cache_bytes = 0
        self._scan: _PacketScan | None = None
        self.frames_decoded = 0
        container, handle, stream = self._open()
        try:
            ctx = stream.codec_context
            height, width, pix_fmt = int(ctx.height), int(ctx.width), ctx.pix_fmt
            self.rate, self.codec = _rate(stream), ctx.name
            num_frames = _header_frames(stream)
        finally:
            container.close()
            if handle is not None:
                handle.close()
        self.color = (not _is_gray(pix_fmt)) if color is None else bool(color)
        self.format, self.dtype = _output_format(pix_fmt, self.color)
        self.frame_shape: tuple[int, ...] = (height, width, 3) if self.color else (height, width)
        limit = get_limits().max_video_frame_pixels
        if height * width > limit:
            raise ExternalVideoError(f"{where}: external file {target.text!r} ({target.url}) has frames of {width} x "
                                     f"{height} pixels; expected at most max_video_frame_pixels={limit}. The file "
                                     "is damaged or hostile; if it is real, raise the limit (nwbzarr_image.limits."
                                     "set_limits or NWBZARR_IMAGE_MAX_VIDEO_FRAME_PIXELS).")
        self.frame_bytes = int(np.prod(self.frame_shape)) * np.dtype(self.dtype).itemsize
        self.num_frames = num_frames or self._packets().num_frames

    def __getstate__(self) -> dict[str, Any]:
        state = dict(vars(self))
        state.update(_lock=None, _decoding=None, _idle=[], _cache={}, _cache_bytes=0, frames_decoded=0)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        vars(self).update(state)
        self._lock, self._decoding = threading.Lock(), threading.Lock()

    def _open(self) -> tuple[Any, Any, Any]:
        """(container, fsspec file or None, first video stream), with our errors."""
        av = _import_av()
        target, handle = self.target, None
        try:
            if target.is_local:
                container = av.open(target.path, mode="r", options=open_options())
            else:
                handle = target.fs.open(target.path, "rb")
                container = av.open(handle, mode="r", options=open_options())
        except FileNotFoundError as err:
            raise ExternalFileNotFoundError(f"{self.where}: external file {target.text!r} not found at "
                                            f"{target.url}; expected a video file there. Check the path (relative "
                                            "paths start at the NWB file's directory).") from err
        except (av.FFmpegError, OSError) as err:
            if handle is not None:
                handle.close()
            raise ExternalVideoError(f"{self.where}: cannot open external file {target.text!r} ({target.url}); "
                                     f"expected a plain video file, got {type(err).__name__}: {err}. Only video "
                                     "files are opened: playlists (HLS .m3u8), concat lists and image sequences "
                                     "are refused. Check that the file is a complete video.") from err
        if not container.streams.video:
            container.close()
            if handle is not None:
                handle.close()
            raise ExternalVideoError(f"{self.where}: external file {target.text!r} has no video stream; expected "
                                     "one. Point external_file at the video.")
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        # frames bigger than the limit are refused by FFmpeg too, whatever size the container declared
        stream.codec_context.options = {"max_pixels": str(get_limits().max_video_frame_pixels)}
        return container, handle, stream

    def _count_decoded(self) -> None:
        with self._lock:
            self.frames_decoded += 1

    def _packets(self) -> _PacketScan:
        """One demux pass (no decoding): frame count, presentation timestamps and keyframe indices."""
        if self._scan is not None:
            return self._scan
        av = _import_av()
        container, handle, stream = self._open()
        try:
            self._scan = scan_demuxed(container, stream)
        except av.FFmpegError as err:
            raise ExternalVideoError(f"{self.where}: cannot read the packets of external file {self.target.text!r}; "
                                     f"got {type(err).__name__}: {err}. Check that the file is complete.") from err
        finally:
            container.close()
            if handle is not None:
                handle.close()
        return self._scan

    def keyframe_before(self, index: int) -> int:
        """Index of the last keyframe at or before frame ``index`` (0 when seeking is impossible)."""
        if index <= 0:
            return 0
        scan = self._packets()
        if scan.pts is None or not scan.keyframes:
            return 0
        return scan.keyframes[max(bisect.bisect_right(scan.keyframes, index) - 1, 0)]

    def read(self, start: int, stop: int) -> np.ndarray:
        """Frames ``start:stop`` (0 <= start <= stop <= num_frames) as one numpy array."""
        self.check_read(stop - start)
        out = np.empty((max(stop - start, 0), *self.frame_shape), dtype=self.dtype)
        first, end = start, stop
        # one read decodes a file at a time (PyAV's frame threads use the cores): a read waiting here then finds
        # the frames that the read before it decoded on the way, instead of decoding them again in parallel
        with self._decoding:
            with self._lock:  # frames decoded earlier on the way to another range
                while first < end and first in self._cache:
                    out[first - start] = self._cached(first)
                    first += 1
                while end > first and end - 1 in self._cache:
                    out[end - 1 - start] = self._cached(end - 1)
                    end -= 1
            if first < end:
                self._decode_into(out[first - start:end - start], first, end)
        return out

    def frames_that_fit(self) -> int:
        """The most frames one read may decode (max_video_read_bytes), at least one."""
        return max(1, get_limits().max_video_read_bytes // max(1, self.frame_bytes))

    def check_read(self, count: int) -> None:
        """Our ExternalVideoError naming the file and the limit if ``count`` frames are beyond the read limit."""
        limit = get_limits().max_video_read_bytes
        if count > 1 and count * self.frame_bytes > limit:
            raise ExternalVideoError(f"{self.where}: reading {count} frames of external file {self.target.text!r} "
                                     f"({self.frame_shape} {np.dtype(self.dtype)}) takes {count * self.frame_bytes} "
                                     f"bytes; expected at most max_video_read_bytes={limit}. Read at most "
                                     f"{self.frames_that_fit()} frames at a time, or raise the limit "
                                     "(NWBZARR_IMAGE_MAX_VIDEO_READ_BYTES).")

    def _cached(self, index: int) -> np.ndarray:
        frame, size = self._cache.pop(index)
        self._cache_bytes -= size
        return frame.to_ndarray(format=self.format)

    def _keep(self, index: int, frame: Any) -> None:
        """Keep a frame decoded on the way to a later one, for the read that wants it (bounded by CACHE_BYTES)."""
        size = sum(plane.buffer_size for plane in frame.planes)
        with self._lock:
            if index in self._cache or size > CACHE_BYTES:
                return
            while self._cache_bytes + size > CACHE_BYTES:
                self._cache_bytes -= self._cache.pop(next(iter(self._cache)))[1]
            self._cache[index] = (frame, size)
            self._cache_bytes += size

    def _decode_into(self, out: np.ndarray, start: int, stop: int) -> None:
        decoder = self._take(start)
        try:
            while decoder.next_index < stop:
                frame = next(decoder.frames, None)
                if frame is None:
                    raise ExternalVideoError(
                        f"{self.where}: external file {self.target.text!r} ends early; expected {self.num_frames} "
                        f"frames, got {decoder.next_index}. The header's frame count is wrong or the file is "
                        "truncated; remux it (ffmpeg -i in -c copy out.mkv).")
                if decoder.next_index >= start:
                    out[decoder.next_index - start] = frame.to_ndarray(format=self.format)
                else:
                    self._keep(decoder.next_index, frame)
                decoder.next_index += 1
        except BaseException:
            decoder.close()
            raise
        self._give(decoder)

    def _take(self, start: int) -> _Decoder:
        """An idle decoder that can continue to ``start`` no worse than a seek would, else a new one."""
        with self._lock:
            exact = [d for d in self._idle if d.next_index == start]
            if exact:
                self._idle.remove(exact[0])
                return exact[0]
        keyframe = self.keyframe_before(start)
        with self._lock:
            ready = [d for d in self._idle if keyframe <= d.next_index <= start]
            if ready:
                best = max(ready, key=lambda d: d.next_index)
                self._idle.remove(best)
                return best
            spare = self._idle.pop(0) if self._idle else None
        return self._positioned(start, spare)

    def _give(self, decoder: _Decoder) -> None:
        """Keep a decoder that has frames left for a read that continues it; close the oldest beyond MAX_IDLE."""
        extra: _Decoder | None = decoder
        with self._lock:
            if decoder.next_index < self.num_frames:
                self._idle.append(decoder)
                extra = self._idle.pop(0) if len(self._idle) > MAX_IDLE else None
        if extra is not None:
            extra.close()

    def _positioned(self, start: int, spare: _Decoder | None = None) -> _Decoder:
        """A decoder whose next frame is at or before ``start``: at its keyframe, else at frame 0.

        ``spare``, an idle decoder, is moved by seeking rather than opening the file again (PyAV flushes the
        decoder on seek); without a keyframe index the file is decoded from the start by a new decoder.
        """
        keyframe = self.keyframe_before(start)
        scan = self._packets() if (keyframe or spare is not None) else None
        if scan is None or scan.pts is None or not scan.keyframes:
            if spare is not None:
                spare.close()
            return _Decoder(self)
        decoder = spare if spare is not None else _Decoder(self)
        if spare is None and keyframe == 0:
            return decoder
        decoder.container.seek(scan.pts[keyframe], backward=True, any_frame=False, stream=decoder.stream)
        decoder.frames = decoder._decode()
        first = next(decoder.frames, None)
        first_pts = None if first is None else first.pts
        index = bisect.bisect_left(scan.pts, first_pts) if first_pts is not None else -1
        if index < 0 or index > start or index >= len(scan.pts) or scan.pts[index] != first_pts:
            decoder.close()  # the seek landed somewhere we cannot place: decode from the start
            return _Decoder(self)
        decoder.frames, decoder.next_index = itertools.chain([first], decoder.frames), index
        return decoder

    def close(self) -> None:
        """Close the idle decoders and drop kept frames; a later read reopens the file."""
        with self._lock:
            idle, self._idle = self._idle, []
            self._cache, self._cache_bytes = {}, 0
        for decoder in idle:
            decoder.close()
