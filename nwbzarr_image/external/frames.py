"""All frames of an ImageSeries' external files, in order, as one lazy dask array."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import dask.array as da
import numpy as np
from dask.base import tokenize
from dask.highlevelgraph import HighLevelGraph
from dask.typing import Key

from nwbzarr_image.errors import ArgumentTypeError
from nwbzarr_image.external.decoder import VideoFile
from nwbzarr_image.external.errors import ExternalVideoError

DEFAULT_FRAMES_PER_CHUNK = 32


def check_frame_counts(where: str, names: Sequence[str], counts: Sequence[int], starting_frame: Any,
                       num_samples: int | None) -> int:
    """The total frame count, after checking ``starting_frame`` (and ``num_samples`` when given) against it.

    Raises
    ------
    ExternalVideoError
        A starting frame or ``num_samples`` disagrees with the files' frame counts.
    """
    expected = [int(v) for v in np.cumsum([0, *counts[:-1]])] if counts else []
    given = [int(v) for v in np.asarray(starting_frame if starting_frame is not None else [0]).ravel()]
    listing = ", ".join(f"{n!r}: {c}" for n, c in zip(names, counts, strict=True))
    for i, (name, want, got) in enumerate(zip(names, expected, given, strict=False)):
        if want != got:
            raise ExternalVideoError(
                f"{where}: starting_frame of external file {name!r} (file {i + 1} of {len(names)}) disagrees with "
                f"the files' frame counts ({listing}); expected {want}, got {got}. Set starting_frame={expected} "
                "(the cumulative frame counts).")
    total = int(sum(counts))
    if num_samples is not None and int(num_samples) != total:
        raise ExternalVideoError(f"{where}: num_samples disagrees with the frame counts of the external files "
                                 f"({listing}); expected {total}, got {int(num_samples)}. Set num_samples={total}.")
    return total


def _read_block(video: VideoFile, start: int, stop: int) -> np.ndarray:
    return video.read(start, stop)


class ExternalVideo:
    """The frames of an ImageSeries' external video files, in order, read on demand.

    Made by :meth:`ImageSeries.external_video`; the frame counts are checked against ``starting_frame``
    (and ``num_samples`` when stored) when it is made.

    Parameters
    ----------
    files : sequence of VideoFile
        The opened files, in the order of ``external_file``.
    starting_frame : array-like of int, optional
        The stored ``starting_frame``; ``[0]`` when missing.
    num_samples : int, optional
        The stored ``num_samples``.
    where : str
        The object named in error messages.

    Attributes
    ----------
    files : list of VideoFile
    frame_counts : list of int
        Frames in each file.
    """

    def __init__(self, files: Sequence[VideoFile], starting_frame: Any = None, num_samples: int | None = None,
                 *, where: str = "ImageSeries") -> None:
        self.files, self.where = list(files), where
        first = self.files[0]
        for video in self.files[1:]:
            if (video.frame_shape, video.dtype) != (first.frame_shape, first.dtype):
                raise ExternalVideoError(
                    f"{where}: external file {video.target.text!r} has frames {video.frame_shape} {video.dtype}; "
                    f"expected {first.frame_shape} {first.dtype} like {first.target.text!r}. All files of a "
                    "series must share the frame size and color; re-encode the odd one.")
        self.frame_counts = [video.num_frames for video in self.files]
        self.num_frames = check_frame_counts(where, [v.target.text for v in self.files], self.frame_counts,
                                             starting_frame, num_samples)
        self.starts = [int(v) for v in np.cumsum([0, *self.frame_counts])]

    @property
    def shape(self) -> tuple[int, ...]:
        return (self.num_frames, *self.files[0].frame_shape)

    @property
    def dtype(self) -> np.dtype:
        return self.files[0].dtype

    @property
    def frames_decoded(self) -> int:
        """Frames decoded so far, all files together (in this process)."""
        return sum(video.frames_decoded for video in self.files)

    def read(self, start: int, stop: int) -> np.ndarray:
        """Frames ``start:stop`` of the whole series as a numpy array (decoded now)."""
        start, stop = slice(start, stop).indices(self.num_frames)[:2]
        self.files[0].check_read(stop - start)
        parts = [np.empty((0, *self.shape[1:]), self.dtype)]
        for video, first in zip(self.files, self.starts, strict=False):
            lo, hi = max(start, first) - first, min(stop, first + video.num_frames) - first
            if lo < hi:
                parts.append(video.read(lo, hi))
        return np.concatenate(parts)

    def chunk_ranges(self, frames_per_chunk: int = DEFAULT_FRAMES_PER_CHUNK) -> list[tuple[int, int, int]]:
        """``(file index, start, stop)`` of each chunk: ``frames_per_chunk`` frames, never spanning two files."""
        if isinstance(frames_per_chunk, bool) or not isinstance(frames_per_chunk, (int, np.integer)) \
                or frames_per_chunk < 1:
            raise ArgumentTypeError(f"{self.where}: frames_per_chunk must be a positive int; got "
                                    f"{frames_per_chunk!r}. Pass e.g. frames_per_chunk=32.")
        step = min(int(frames_per_chunk), *(video.frames_that_fit() for video in self.files))
        return [(i, lo, min(lo + step, n)) for i, n in enumerate(self.frame_counts) for lo in range(0, n, step)]

    def to_dask(self, frames_per_chunk: int = DEFAULT_FRAMES_PER_CHUNK) -> da.Array:
        """One lazy dask array ``(frames, height, width[, 3])``; each chunk is decoded when computed.

        Parameters
        ----------
        frames_per_chunk : int
            Frames per dask chunk; chunks end at file boundaries, so the last chunk of each file may be
            shorter. Fewer when that many frames exceed ``max_video_read_bytes`` (:mod:`nwbzarr_image.limits`).
        """
        ranges = self.chunk_ranges(frames_per_chunk)
        if not ranges:
            return da.zeros(self.shape, dtype=self.dtype, chunks=self.shape or ())
        rest = self.shape[1:]
        name = "external-frames-" + tokenize([v.target.url for v in self.files], self.frame_counts, self.shape,
                                             str(self.dtype), frames_per_chunk)
        zeros = (0,) * len(rest)
        graph: dict[Key, Any] = {(name, k, *zeros): (_read_block, self.files[i], lo, hi)
                                 for k, (i, lo, hi) in enumerate(ranges)}
        chunks = (tuple(hi - lo for _, lo, hi in ranges), *((n,) for n in rest))
        return da.Array(HighLevelGraph.from_collections(name, graph, dependencies=()), name, chunks,
                        dtype=self.dtype)

    def close(self) -> None:
        """Close the files' open decoders."""
        for video in self.files:
            video.close()

    def __repr__(self) -> str:
        return (f"<ExternalVideo {self.where}: {len(self.files)} file(s), {self.num_frames} frames "
                f"{self.shape[1:]} {self.dtype}>")
