"""Resource limits applied to every file read, checked before anything is allocated.

A file's metadata declares shapes, chunk sizes and nesting; a hostile or damaged file can declare sizes no machine
holds. Each limit below is checked against what the metadata declares (or a codec's header claims) before memory is
set aside for it, and an input beyond a limit is our :class:`~nwbzarr_image.errors.LayoutError` (or
:class:`~nwbzarr_image.errors.CorruptDataError` for chunk contents) naming the node and the limit.

The defaults cover every real NWB file we know of (hdmf-zarr writes chunks of a few MB, zarr's automatic chunking
stays under 64 MB, NWB paths are under ten groups deep). To read a file beyond a limit, raise it:

- for this process: ``nwbzarr_image.limits.set_limits(max_chunk_bytes=2**30)`` (returns the previous limits), or
  ``with nwbzarr_image.limits.raised(max_chunk_bytes=2**30): ...``;
- for every process, dask.distributed workers included: the environment variable named after the limit, e.g.
  ``NWBZARR_IMAGE_MAX_CHUNK_BYTES=1073741824``, set before the process starts.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from nwbzarr_image.errors import ArgumentTypeError

__all__ = ["Limits", "get_limits", "raised", "set_limits"]

ENV_PREFIX = "NWBZARR_IMAGE_"


@dataclass(frozen=True)
class Limits:
    """The limits of one process (see the module documentation for how to raise them).

    Attributes
    ----------
    max_ndim : int
        Dimensions of one array (numpy's own maximum is 64).
    max_elements : int
        Elements one array declares (its shape's product): 2**50, a petabyte of uint8.
    max_chunks : int
        Chunks (or shards) of one array: one dask task each, so this bounds the task graph.
    max_chunk_bytes : int
        Decoded bytes of one chunk (or one shard, the unit of a read), and the most any codec may decode a chunk
        into; 8 bytes count for each element of a text or object array.
    max_load_bytes : int
        Decoded bytes of an array read whole (attributes-like datasets: text, references, scalars).
    max_chunks_per_shard : int
        Inner chunks of one shard (its index takes 16 bytes each).
    max_metadata_bytes : int
        Bytes of one metadata document (``zarr.json``, ``.zmetadata``, ``.zarray``, ...).
    max_json_depth : int
        Nesting of arrays and objects in one metadata document.
    max_group_depth : int
        Nesting of groups (NWB files are under ten deep).
    max_reference_entries : int
        Entries of one pickled object reference (hdmf-zarr's hold four to six).
    max_video_frame_pixels : int
        Pixels of one frame of an external video file, or of an external image (2**25: 8K UHD is 7680 x 4320),
        checked against the file's header before decoding and, for videos, by FFmpeg (``max_pixels``) on every
        frame.
    max_video_read_bytes : int
        Decoded bytes of the frames one read of an external video file returns (one dask task, one preview);
        ``external_frames`` makes chunks of fewer frames than asked when that many would not fit.
    max_cached_bytes : int
        Chunk bytes (as stored: compressed) an opened HDF5 file keeps after reading them, least recently used
        dropped first, so that random frame reads revisiting a chunk do not fetch it again over the network; a
        quarter more holds chunks decoded for reads of part of them (a frame of a frame-chunked movie), so that
        the next frames of a chunk decode nothing.
    """

    max_ndim: int = 32
    max_elements: int = 2**50
    max_chunks: int = 2**22
    max_chunk_bytes: int = 256 * 2**20
    max_load_bytes: int = 256 * 2**20
    max_chunks_per_shard: int = 2**20
    max_metadata_bytes: int = 128 * 2**20
    max_json_depth: int = 128
    max_group_depth: int = 256
    max_reference_entries: int = 64
    max_video_frame_pixels: int = 2**25
    max_video_read_bytes: int = 256 * 2**20
    max_cached_bytes: int = 512 * 2**20


def _from_environment() -> Limits:
    changes = {}
    for item in dataclasses.fields(Limits):
        text = os.environ.get(ENV_PREFIX + item.name.upper())
        if text is not None:
            changes[item.name] = _positive(item.name, text.strip(), ENV_PREFIX + item.name.upper())
    return Limits(**changes)


def _positive(name: str, value: object, where: str) -> int:
    try:
        number = int(value)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        number = 0
    if isinstance(value, bool) or number <= 0:
        raise ArgumentTypeError(f"limit '{name}' ({where}) must be a positive integer; got {value!r}.")
    return number


_current = _from_environment()


def get_limits() -> Limits:
    """The limits in force in this process.

    Returns
    -------
    Limits
    """
    return _current


def set_limits(**changes: int) -> Limits:
    """Change limits for this process (not for other processes: use the environment variables there).

    Parameters
    ----------
    **changes : int
        New values by name, e.g. ``max_chunk_bytes=2**30``.

    Returns
    -------
    Limits
        The limits in force before the change (pass their fields back to restore them).
    """
    global _current
    names = {item.name for item in dataclasses.fields(Limits)}
    for name, value in changes.items():
        if name not in names:
            raise ArgumentTypeError(f"set_limits: no limit named {name!r}; expected one of {sorted(names)}.")
        changes[name] = _positive(name, value, "set_limits")
    previous, _current = _current, dataclasses.replace(_current, **changes)
    return previous


@contextmanager
def raised(**changes: int) -> Iterator[Limits]:
    """Change limits inside a ``with`` block, then restore them.

    Examples
    --------
    >>> with raised(max_chunk_bytes=2**30):  # doctest: +SKIP
    ...     frames = nzi.read(url).acquisition["movie"].data.compute()
    """
    global _current
    previous = set_limits(**changes)
    try:
        yield _current
    finally:
        _current = previous
