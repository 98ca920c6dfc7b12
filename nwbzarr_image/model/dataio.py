"""ZarrDataIO: per-dataset storage choices, with hdmf-zarr 0.14's argument names."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from nwbzarr_image.errors import ArgumentTypeError, SchemaError
from nwbzarr_image.model.parse import is_array_like, shape_of


class ZarrDataIO:
    """Wrap data to choose how it is stored.

    Parameters
    ----------
    data : array-like
        The values: numpy/dask/zarr array, list, or a data-chunk iterator.
    chunks : sequence of int, optional
        Chunk shape (the inner chunk shape when ``shards`` is given). Default: whole frames,
        several frames per chunk (see :mod:`nwbzarr_image.storage.defaults`).
    fillvalue : scalar, optional
        Value of never-written elements.
    compressors : zarr codec, sequence of codecs or bool, optional
        ``None`` or ``True``: the library default; ``False``: no compression; otherwise the
        ``zarr.codecs`` bytes-to-bytes codec(s) to use, e.g. ``zarr.codecs.ZstdCodec(level=3)``.
    filters : sequence of codecs, optional
        Array-to-array codecs applied before serialisation.
    serializer : codec, optional
        The array-to-bytes codec; zarr's default for the dtype when not given.
    shards : sequence of int, optional
        Shard shape (Zarr v3 sharding); a multiple of ``chunks`` along every axis.
    """

    def __init__(
        self,
        data: Any,
        chunks: Sequence[int] | None = None,
        fillvalue: Any = None,
        compressors: Any = None,
        filters: Sequence[Any] | None = None,
        serializer: Any = None,
        shards: Sequence[int] | None = None,
    ) -> None:
        if isinstance(data, ZarrDataIO) or not is_array_like(data):
            raise ArgumentTypeError(
                f"ZarrDataIO: 'data' must be array-like (numpy/dask/zarr array, list, data-chunk iterator); "
                f"got {type(data).__name__}."
            )
        self.data = data
        self.chunks = _parse_shape("chunks", chunks)
        self.shards = _parse_shape("shards", shards)
        self.fillvalue = fillvalue
        self.compressors = compressors
        self.filters = list(filters) if filters is not None else None
        self.serializer = serializer
        shape = shape_of(data)
        for arg, value in (("chunks", self.chunks), ("shards", self.shards)):
            if value is not None and shape is not None and len(value) != len(shape):
                raise SchemaError(
                    f"ZarrDataIO: '{arg}' must have one entry per dimension of data; expected {len(shape)} "
                    f"entries, got {value}. Give a {arg} shape with {len(shape)} entries."
                )
        if self.chunks is not None and self.shards is not None:
            if any(s % c for s, c in zip(self.shards, self.chunks, strict=True)):
                raise SchemaError(
                    f"ZarrDataIO: 'shards' must be a multiple of 'chunks' along every axis; got shards "
                    f"{self.shards} and chunks {self.chunks}. Use e.g. shards={tuple(c * 4 for c in self.chunks)}."
                )

    # As hdmf's DataIO, the wrapper stands for its data: len, iteration, indexing, shape, dtype, np.asarray.

    @property
    def shape(self) -> tuple[int, ...] | None:
        return shape_of(self.data)

    @property
    def dtype(self) -> Any:
        dtype = getattr(self.data, "dtype", None)
        if dtype is None and isinstance(self.data, (list, tuple)):
            return np.asarray(self.data).dtype
        return dtype

    @property
    def ndim(self) -> int | None:
        shape = self.shape
        return None if shape is None else len(shape)

    @property
    def size(self) -> int | None:
        shape = self.shape
        return None if shape is None else int(np.prod(shape, dtype=np.int64))

    def __len__(self) -> int:
        shape = self.shape
        if not shape or shape[0] is None:
            raise ArgumentTypeError("ZarrDataIO: the length of the wrapped data is not known (a data-chunk iterator "
                                    "of unknown length, or a scalar); expected sized data. Give the iterator a "
                                    "maxshape.")
        return int(shape[0])

    def __bool__(self) -> bool:
        return _is_iterator(self.data) or len(self) > 0

    def __getitem__(self, item: Any) -> Any:
        if _is_iterator(self.data):
            raise ArgumentTypeError(f"ZarrDataIO: cannot index a {type(self.data).__name__}, whose values are only "
                                    "read when the file is written; expected array data. Write the file, then index "
                                    "the series read back.")
        return self.data[item]

    def __iter__(self) -> Iterator[Any]:
        return iter(self.data)

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        if _is_iterator(self.data):
            raise ArgumentTypeError(f"ZarrDataIO: cannot convert a {type(self.data).__name__} to an array: its "
                                    "values are only read when the file is written; expected array data.")
        array = np.asarray(self.data, dtype=dtype)
        return array.copy() if copy else array

    def __repr__(self) -> str:
        return f"ZarrDataIO(shape={self.shape}, chunks={self.chunks}, shards={self.shards})"


def _parse_shape(arg: str, value: Sequence[int] | None) -> tuple[int, ...] | None:
    if value is None:
        return None
    if isinstance(value, (str, bytes)) or not all(isinstance(n, int) and n > 0 for n in value):
        raise ArgumentTypeError(
            f"ZarrDataIO: '{arg}' must be a sequence of positive ints; got {value!r}. E.g. {arg}=(16, 512, 512)."
        )
    return tuple(int(n) for n in value)


def _is_iterator(data: Any) -> bool:
    return hasattr(data, "__next__") and not hasattr(data, "__array__")


def unwrap(data: Any) -> Any:
    """The values behind a ZarrDataIO (or the data itself)."""
    return data.data if isinstance(data, ZarrDataIO) else data
