"""Write node descriptions into a Zarr v3 group: arrays with their codecs, chunks and attributes."""

from __future__ import annotations

from typing import Any

import dask.array as da
import numpy as np
import zarr

from nwbzarr_image.errors import LayoutError
from nwbzarr_image.layout.nodes import ArrayNode, GroupNode
from nwbzarr_image.model.dataio import ZarrDataIO
from nwbzarr_image.storage import defaults
from nwbzarr_image.storage.dask_store import recommended_chunks, store_dask, task_frames
from nwbzarr_image.storage.defaults import frame_chunks
from nwbzarr_image.storage.direct import write_block
from nwbzarr_image.storage.stream import StreamJob, initial_shape, is_iterator

NUMERIC_DTYPES = {"uint8", "uint16", "uint32", "uint64", "int8", "int16", "int32", "int64", "float32", "float64",
                  "bool"}
TEXT_DTYPES = {"str", "text", "utf", "utf8", "ascii", "bytes", "isodatetime", "object_reference"}


def write_tree(group: zarr.Group, node: GroupNode, *, skip_existing: bool = False,
               created: list[str] | None = None) -> list[StreamJob]:
    """Write ``node``'s attributes, links and children into ``group`` (which already exists).

    Arrays whose values come from iterators are created (empty) and returned as jobs to stream.
    The paths of the nodes created are added to ``created``.
    """
    jobs: list[StreamJob] = []
    created = created if created is not None else []
    for name, child in node.children.items():
        if isinstance(child, GroupNode):
            if name in group and ((skip_existing and child.existing) or (not child.attrs and not child.links)):
                sub = group[name]
            else:
                sub = group.create_group(name, attributes=group_attrs(child), overwrite=True)
                created.append(sub.path)
            jobs += write_tree(sub, child, skip_existing=skip_existing, created=created)  # type: ignore[arg-type]
        elif not (skip_existing and child.existing and name in group):
            job = write_array(group, child)
            created.append(f"{group.path}/{name}".lstrip("/"))
            if job is not None:
                jobs.append(job)
    return jobs


def group_attrs(node: GroupNode) -> dict[str, Any]:
    attrs = dict(node.attrs)
    if node.links:
        attrs["_LINKS"] = [link.to_json() for link in node.links]
    return attrs


def _values(node: ArrayNode) -> tuple[Any, ZarrDataIO | None]:
    io = node.value if isinstance(node.value, ZarrDataIO) else None
    value = io.data if io is not None else node.value
    if hasattr(value, "lazy") and hasattr(value, "load"):  # a StoredArray being copied
        value = value.lazy() if np.dtype(value.dtype).kind in "biufc" and value.shape else value.load()
    if isinstance(value, zarr.Array):
        value = da.from_zarr(value)
    return value, io


def _copied_raw(group: zarr.Group, node: ArrayNode) -> bool:
    """A stored array whose store can copy its encoded chunks as they are (an HDF5 file's view: frame-aligned
    chunks with codecs zarr has) is written that way, with no decoding (a file read with ``strict=True``
    decodes each chunk to check it)."""
    array = getattr(node.value, "array", None)
    if array is None:  # never the truth value: an iterator's array may be numpy
        array = getattr(_stored_source(node.value), "array", None)
    copier = getattr(getattr(array, "store", None), "raw_copy", None)
    if copier is None or array is None or not array.ndim:
        return False
    attrs = {"_DTYPE": node.dtype or np.dtype(array.dtype).name, **node.attrs}
    strict = bool(getattr(node.value, "strict", False) or getattr(_stored_source(node.value), "strict", False))
    return bool(copier(array.path, group, node.name, attrs, defaults.CHUNK_KEY_ENCODING, verify=strict))


def _stored_source(value: Any) -> Any:
    """The source of a dask array that is exactly a stored array as read (``lazy.as_dask``, no operation on
    it), else None."""
    if not isinstance(value, da.Array) or not value.name.startswith("nwbzarr-") or len(value.dask.layers) != 1:
        return None
    task = next(iter(value.__dask_graph__().values()), None)
    for arg in getattr(task, "args", ()):
        arg = getattr(arg, "value", arg)
        if hasattr(arg, "array") and hasattr(arg, "blob") and tuple(arg.shape) == tuple(value.shape):
            return arg
    return None


def write_array(group: zarr.Group, node: ArrayNode) -> StreamJob | None:
    """Create the array of ``node`` and write its values; an iterator's values are left to a StreamJob."""
    if _copied_raw(group, node):
        return None
    value, io = _values(node)
    if is_iterator(value):
        return _create_streamed(group, node, value, io)
    is_text = node.dtype in TEXT_DTYPES
    if not isinstance(value, (np.ndarray, da.Array)) or is_text:
        if is_text:  # via object: numpy's StringDType (zarr's "string" arrays) does not cast to str directly
            value = np.asarray(np.asarray(value, dtype=object), dtype=str)
        else:
            value = np.asarray(value)
    shape = tuple(int(n) for n in value.shape)
    dtype = str if is_text else value.dtype
    attrs = {"_DTYPE": node.dtype or np.dtype(value.dtype).name, **node.attrs}
    if node.role == "scalar" or shape == ():
        item = value[()] if isinstance(value, np.ndarray) else np.asarray(value)[()]
        if not is_text and node.dtype in NUMERIC_DTYPES:
            dtype = np.dtype(node.dtype)  # e.g. num_samples is uint32, whatever Python int it came from
            item = dtype.type(item)
        fill = str(item) if is_text else item
        # The value is also the fill value: the array needs no chunk, and a reader gets it from metadata.
        group.create_array(node.name, shape=(), dtype=dtype, fill_value=fill, attributes=attrs, overwrite=True,
                           chunk_key_encoding=defaults.CHUNK_KEY_ENCODING)
        return None
    # dask frames and series without explicit chunks are stored in chunks their tasks cover whole (no rechunk)
    recommended = (recommended_chunks(value) if isinstance(value, da.Array) and node.role in ("frames", "series")
                   else None)
    arr = _create(group, node, shape, dtype, None if is_text else value.dtype, io, recommended,
                  dask_step=task_frames(value) if isinstance(value, da.Array) else None)
    if all(shape):
        _fill(arr, value)
    return None


def _create(group: zarr.Group, node: ArrayNode, shape: tuple[int, ...], dtype: Any, numeric: Any,
            io: ZarrDataIO | None, recommended: tuple[int, ...] | None, grows: bool = False,
            dask_step: int | None = None, length_known: bool = True) -> zarr.Array:
    chunks, shards = _layout(node, shape, numeric, io, recommended, grows)
    if shards is None and length_known and (io is None or io.chunks is None):
        shards = _default_shards(node, shape, numeric, chunks, dask_step)
    return group.create_array(
        node.name, shape=shape, dtype=dtype, chunks=chunks, shards=shards,
        compressors=_compressors(node, numeric, io),
        filters=io.filters if io is not None and io.filters is not None else "auto",
        serializer=io.serializer if io is not None and io.serializer is not None else "auto",
        fill_value=io.fillvalue if io is not None and io.fillvalue is not None else None,
        attributes={"_DTYPE": node.dtype or np.dtype(numeric).name, **node.attrs}, overwrite=True,
        chunk_key_encoding=defaults.CHUNK_KEY_ENCODING,
        config={"write_empty_chunks": True},  # every chunk stored: a missing one always means a lost one
    )


def _create_streamed(group: zarr.Group, node: ArrayNode, iterator: Any, io: ZarrDataIO | None) -> StreamJob:
    """Preallocate the array (its full length when known) for an iterator; the job fills it."""
    shape, known = initial_shape(iterator)
    dtype = np.dtype(iterator.dtype)
    recommended = iterator.recommended_chunk_shape() if hasattr(iterator, "recommended_chunk_shape") else None
    if node.role == "frames" and recommended is None:
        recommended = frame_chunks((known or 2**31, *shape[1:]), dtype)
    # an iterator of unknown length is not sharded by default: its size is not known when the array is made
    arr = _create(group, node, shape, dtype, dtype, io, recommended, grows=True, length_known=known is not None)
    return StreamJob(arr.path, iterator, known)


def _layout(node: ArrayNode, shape: tuple[int, ...], dtype: Any, io: ZarrDataIO | None,
            recommended: tuple[int, ...] | None = None, grows: bool = False
            ) -> tuple[tuple[int, ...], tuple[int, ...] | None]:
    if io is not None and io.chunks is not None:
        chunks = io.chunks
    elif recommended is not None:
        chunks = tuple(recommended)
    elif node.role == "frames" and dtype is not None:
        chunks = defaults.frame_chunks(shape, dtype)
    elif node.role == "series":
        chunks = defaults.series_chunks(shape)
    else:
        chunks = defaults.single_chunk(shape)
    # a streamed array's first axis grows past its initial shape: its chunks are not clipped to it
    chunks = tuple(max(1, c if (grows and i == 0) else min(c, n)) if n or (grows and i == 0) else 1
                   for i, (c, n) in enumerate(zip(chunks, shape, strict=True)))
    shards = io.shards if io is not None else None
    if shards is not None and io is not None and io.chunks is None:
        raise LayoutError(f"{node.name}: shards need an explicit chunk shape; got shards={shards} and no chunks. "
                          "Pass ZarrDataIO(..., chunks=..., shards=...).")
    return chunks, shards


def _default_shards(node: ArrayNode, shape: tuple[int, ...], dtype: Any, chunks: tuple[int, ...],
                    dask_step: int | None) -> tuple[int, ...] | None:
    """Shards for frames above the threshold (chunking.frame_shards). A dask array of several tasks gets one
    shard per task instead, so that each task writes one object and holds no more than its own block."""
    if node.role != "frames" or dtype is None:
        return None
    shards = defaults.frame_shards(shape, dtype, chunks, above=defaults.shard_above())
    if shards is None or dask_step is None:
        return shards
    return (dask_step, *shape[1:]) if dask_step % chunks[0] == 0 and dask_step >= 2 * chunks[0] else None


def _compressors(node: ArrayNode, dtype: Any, io: ZarrDataIO | None) -> Any:
    choice = io.compressors if io is not None else None
    if choice is False:
        return None
    if choice is None or choice is True:
        return defaults.frame_compressor(dtype) if node.role == "frames" and dtype is not None else "auto"
    return choice


def _fill(arr: zarr.Array, value: Any) -> None:
    if isinstance(value, da.Array):
        # in parallel on the active dask scheduler; each task writes whole chunks/shards, so no lock
        store_dask(arr, value)
    else:
        write_block(arr, 0, np.asarray(value))  # every chunk encoded and stored on all cores
