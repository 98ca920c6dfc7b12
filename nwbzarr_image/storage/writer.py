"""Write node descriptions into a Zarr v3 group: arrays with their codecs, chunks and attributes."""

from __future__ import annotations

from typing import Any

import dask.array as da
import numpy as np
import zarr

from nwbzarr_image.errors import ArgumentTypeError, LayoutError
from nwbzarr_image.layout.nodes import ArrayNode, GroupNode
from nwbzarr_image.model.dataio import ZarrDataIO
from nwbzarr_image.storage import defaults

NUMERIC_DTYPES = {"uint8", "uint16", "uint32", "uint64", "int8", "int16", "int32", "int64", "float32", "float64",
                  "bool"}
TEXT_DTYPES = {"str", "text", "utf", "utf8", "ascii", "bytes", "isodatetime", "object_reference"}


def write_tree(group: zarr.Group, node: GroupNode, *, skip_existing: bool = False) -> None:
    """Write ``node``'s attributes, links and children into ``group`` (which already exists)."""
    for name, child in node.children.items():
        if isinstance(child, GroupNode):
            if skip_existing and child.existing and name in group:
                sub = group[name]
            elif name in group and not child.attrs and not child.links:
                sub = group[name]
            else:
                sub = group.create_group(name, attributes=group_attrs(child), overwrite=True)
            write_tree(sub, child, skip_existing=skip_existing)  # type: ignore[arg-type]
        elif not (skip_existing and child.existing and name in group):
            write_array(group, child)


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
    if hasattr(value, "__next__") or (hasattr(value, "maxshape") and not hasattr(value, "shape")):
        raise ArgumentTypeError(f"{node.name}: writing from a data-chunk iterator is not supported yet; got "
                                f"{type(value).__name__}. Pass the data as an array.")
    return value, io


def write_array(group: zarr.Group, node: ArrayNode) -> zarr.Array:
    value, io = _values(node)
    is_text = node.dtype in TEXT_DTYPES
    if not isinstance(value, (np.ndarray, da.Array)) or is_text:
        value = np.asarray(value, dtype=str if is_text else None)
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
        return group.create_array(node.name, shape=(), dtype=dtype, fill_value=fill, attributes=attrs,
                                  overwrite=True)
    chunks, shards = _layout(node, shape, value.dtype if not is_text else None, io)
    arr = group.create_array(
        node.name, shape=shape, dtype=dtype, chunks=chunks, shards=shards,
        compressors=_compressors(node, value.dtype if not is_text else None, io),
        filters=io.filters if io is not None and io.filters is not None else "auto",
        serializer=io.serializer if io is not None and io.serializer is not None else "auto",
        fill_value=io.fillvalue if io is not None and io.fillvalue is not None else None,
        attributes=attrs, overwrite=True,
    )
    if all(shape):
        _fill(arr, value)
    return arr


def _layout(node: ArrayNode, shape: tuple[int, ...], dtype: Any, io: ZarrDataIO | None
            ) -> tuple[tuple[int, ...], tuple[int, ...] | None]:
    if io is not None and io.chunks is not None:
        chunks = io.chunks
    elif node.role == "frames" and dtype is not None:
        chunks = defaults.frame_chunks(shape, dtype)
    elif node.role == "series":
        chunks = defaults.series_chunks(shape)
    else:
        chunks = defaults.single_chunk(shape)
    chunks = tuple(max(1, min(c, n)) if n else 1 for c, n in zip(chunks, shape, strict=True))
    shards = io.shards if io is not None else None
    if shards is not None and io is not None and io.chunks is None:
        raise LayoutError(f"{node.name}: shards need an explicit chunk shape; got shards={shards} and no chunks. "
                          "Pass ZarrDataIO(..., chunks=..., shards=...).")
    return chunks, shards


def _compressors(node: ArrayNode, dtype: Any, io: ZarrDataIO | None) -> Any:
    choice = io.compressors if io is not None else None
    if choice is False:
        return None
    if choice is None or choice is True:
        return defaults.frame_compressor(dtype) if node.role == "frames" and dtype is not None else "auto"
    return choice


def _fill(arr: zarr.Array, value: Any) -> None:
    if isinstance(value, da.Array):
        unit = tuple(arr.shards) if arr.shards else tuple(arr.chunks)
        # one dask chunk per stored chunk/shard: no two tasks touch the same object, so no lock
        da.store(value.rechunk(unit), arr, lock=False, compute=True)
    else:
        arr[...] = value
