"""Pieces every per-type codec uses: typed attributes, scalars, text arrays, dtypes, value conversions.

Conversions never change their input: a ``ZarrDataIO`` whose values must be converted is copied.
"""

from __future__ import annotations

import copy
from datetime import datetime
from typing import Any

import numpy as np

from nwbzarr_image.errors import SchemaError
from nwbzarr_image.layout.nodes import ArrayNode
from nwbzarr_image.model.core import Container
from nwbzarr_image.model.dataio import ZarrDataIO, unwrap

TYPE_ATTRS = frozenset({"namespace", "neurodata_type", "object_id"})


def iso(value: datetime) -> str:
    return value.isoformat()


def typed_attrs(obj: Container) -> dict[str, Any]:
    """The attributes of a typed node: kept extras, then namespace, neurodata_type and object_id."""
    attrs = dict(obj.extra_attrs)
    attrs.update({"namespace": obj.namespace, "neurodata_type": obj.neurodata_type, "object_id": obj.object_id})
    return attrs


def extra_attrs(attrs: dict[str, Any], known: set[str] | frozenset[str]) -> dict[str, Any]:
    """Attributes a codec does not model (kept and written back)."""
    return {k: v for k, v in attrs.items() if k not in TYPE_ATTRS and k not in known}


def scalar(name: str, value: Any, dtype: str, attrs: dict[str, Any] | None = None) -> ArrayNode:
    return ArrayNode(name, value, dtype, dict(attrs or {}), role="scalar", existing=False)


def text_array(name: str, values: Any, dims: list[str] | None = None, attrs: dict[str, Any] | None = None
               ) -> ArrayNode:
    out = dict(attrs or {})
    if dims:
        out["_ARRAY_DIMENSIONS"] = dims
    return ArrayNode(name, [str(v) for v in np.asarray(unwrap(values)).ravel().tolist()], "str", out)


def dtype_name(value: Any) -> str:
    dtype = getattr(unwrap(value), "dtype", None)
    if dtype is None:
        values: np.ndarray = np.asarray(unwrap(value))
        return values.dtype.name
    return np.dtype(dtype).name if not str(dtype).startswith(("<U", "|S", "<S", "StringDType")) else "str"


def _rewrap(value: Any, converted: Any) -> Any:
    """``converted`` in place of ``value``'s data: a copy of a ZarrDataIO (the caller's stays as it was)."""
    if isinstance(value, ZarrDataIO):
        out = copy.copy(value)
        out.data = converted
        return out
    return converted


def as_unsigned(where: str, arg: str, value: Any, minimum: type) -> Any:
    """hdmf's rule for unsigned spec dtypes: signed ints become unsigned of at least the same size."""
    data = unwrap(value)
    if isinstance(data, (list, tuple)):
        data = np.asarray(data)
    dtype = getattr(data, "dtype", None)
    if dtype is None or np.dtype(dtype).kind != "i" or not hasattr(data, "astype"):
        return _rewrap(value, data) if data is not unwrap(value) else value
    if isinstance(data, np.ndarray) and data.size and data.min() < 0:
        raise SchemaError(f"{where}: '{arg}' must hold non-negative integers (stored as unsigned); got minimum "
                          f"{data.min()}. Fix the negative values.")
    target = np.dtype(f"u{max(np.dtype(dtype).itemsize, np.dtype(minimum).itemsize)}")
    return _rewrap(value, data.astype(target))


def as_float64(value: Any) -> Any:
    data = unwrap(value)
    if isinstance(data, (list, tuple)):
        return _rewrap(value, np.asarray(data, dtype=np.float64))
    if hasattr(data, "astype") and np.dtype(data.dtype) != np.float64:
        return _rewrap(value, data.astype(np.float64))
    return value


def as_array(value: Any) -> Any:
    data = unwrap(value)
    if isinstance(data, (list, tuple)):
        return _rewrap(value, np.asarray(data))
    return value
