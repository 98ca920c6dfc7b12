"""Argument parsing shared by the model classes: types, shapes and names.

Each ``parse_*`` function takes ``where`` (e.g. ``"ImageSeries 'cam'"``) and the argument name, so
every message reads ``"{where}: {what}; expected {X}, got {Y}. {fix}"``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from nwbzarr_image.errors import ArgumentTypeError, SchemaError

Shape = tuple[int | None, ...]
MAX_NAME_BYTES = 255


class Deferred:
    """A stored value that is read from the store on first use (see :class:`field`)."""

    __slots__ = ("dtype", "load", "shape")

    def __init__(self, load: Any, shape: tuple[int, ...], dtype: Any = None) -> None:
        self.load = load
        self.shape = shape
        self.dtype = dtype

    def __repr__(self) -> str:
        return f"<stored value, shape {self.shape}>"


def type_label(value: Any) -> str:
    return type(value).__name__


def parse_name(where: str, name: Any) -> str:
    """Check an object name: a non-empty str without '/' or ':' that is a safe path element."""
    if not isinstance(name, str):
        raise ArgumentTypeError(
            f"{where}: 'name' must be a str; got {type_label(name)} {name!r}. Pass the name as text."
        )
    if name == "" or name in (".", ".."):
        raise SchemaError(f"{where}: 'name' must be a non-empty name other than '.' or '..'; got {name!r}.")
    if "/" in name or ":" in name:
        raise SchemaError(
            f"{where}: name {name!r} cannot contain a '/' or ':'; got {name!r}. "
            "Use another separator such as '_'."
        )
    if name.startswith("__"):
        raise SchemaError(
            f"{where}: name {name!r} cannot start with '__' (reserved by Zarr); got {name!r}. Rename the object."
        )
    if any(ord(c) < 32 or ord(c) == 127 for c in name):
        raise SchemaError(f"{where}: name must be printable text; got {name!r}, which holds control characters. "
                          "Remove them.")
    if len(name.encode("utf-8")) > MAX_NAME_BYTES:
        raise SchemaError(f"{where}: name must be at most {MAX_NAME_BYTES} bytes; got "
                          f"{len(name.encode('utf-8'))} bytes. Use a shorter name.")
    return name


def parse_str(where: str, arg: str, value: Any, *, allow_none: bool = True) -> str | None:
    """Check a text argument."""
    if value is None and allow_none:
        return None
    if isinstance(value, np.str_):
        return str(value)
    if not isinstance(value, str):
        expected = "str or None" if allow_none else "str"
        raise ArgumentTypeError(f"{where}: '{arg}' must be {expected}; got {type_label(value)} {value!r}.")
    return value


def parse_float(where: str, arg: str, value: Any, *, allow_none: bool = True) -> float | None:
    """Check a float argument; Python and numpy integers are accepted when exactly representable."""
    if value is None and allow_none:
        return None
    if isinstance(value, (bool, np.bool_)):
        raise ArgumentTypeError(f"{where}: '{arg}' must be a float; got bool {value!r}.")
    if isinstance(value, (float, np.floating)):
        return float(value)
    if isinstance(value, (int, np.integer)):
        as_float = float(value)
        if int(as_float) != int(value):
            raise SchemaError(
                f"{where}: '{arg}' must be a float; got the int {value!r}, which a float cannot hold exactly. "
                "Pass a float."
            )
        return as_float
    raise ArgumentTypeError(f"{where}: '{arg}' must be a float; got {type_label(value)} {value!r}.")


def parse_int(where: str, arg: str, value: Any, *, allow_none: bool = True) -> int | None:
    """Check an integer argument (Python int, numpy integer or bool, as pynwb accepts)."""
    if value is None and allow_none:
        return None
    if isinstance(value, (int, np.integer, np.bool_)):
        return int(value)
    raise ArgumentTypeError(f"{where}: '{arg}' must be an int; got {type_label(value)} {value!r}.")


def shape_of(value: Any) -> tuple[int, ...] | None:
    """The shape of array-like data without reading it; ``None`` when it cannot be known."""
    if value is None:
        return None
    maxshape = getattr(value, "maxshape", None)
    if isinstance(value, Deferred):
        return value.shape
    shape = getattr(value, "shape", None)
    if shape is not None and not callable(shape):
        try:
            return tuple(int(n) for n in shape)
        except TypeError:  # a shape with unknown (None/nan) entries
            return None
    if maxshape is not None:
        return tuple(maxshape)
    if isinstance(value, (list, tuple)):
        return _nested_shape(value)
    return None


def _nested_shape(value: Sequence[Any]) -> tuple[int, ...]:
    shape = [len(value)]
    if len(value) and isinstance(value[0], (list, tuple)):
        shape.extend(_nested_shape(value[0]))
    elif len(value) and isinstance(value[0], np.ndarray):
        shape.extend(value[0].shape)
    return tuple(shape)


def length_of(value: Any) -> int | None:
    """``len(value)`` along the first axis when it is known without reading the data."""
    shape = shape_of(value)
    if shape is None or len(shape) == 0 or shape[0] is None:
        return None
    return int(shape[0])


def format_shapes(shapes: Sequence[Shape]) -> str:
    def one(shape: Shape) -> str:
        inner = ", ".join("*" if n is None else str(n) for n in shape)
        return f"({inner},)" if len(shape) == 1 else f"({inner})"

    return " or ".join(one(s) for s in shapes)


def shape_matches(shape: tuple[int, ...], allowed: Shape) -> bool:
    return len(shape) == len(allowed) and all(a is None or a == n for n, a in zip(shape, allowed, strict=True))


def is_array_like(value: Any) -> bool:
    """True for the values NWB accepts as array data (not str, bytes, dict, set or scalars)."""
    if isinstance(value, (str, bytes, dict, set, frozenset)):
        return False
    if isinstance(value, (list, tuple, np.ndarray, Deferred)):
        return True
    if hasattr(value, "__next__") or hasattr(value, "maxshape"):  # data-chunk iterators
        return True
    shape = getattr(value, "shape", None)
    return shape is not None and hasattr(value, "dtype") and len(tuple(shape)) > 0


def parse_array(
    where: str,
    arg: str,
    value: Any,
    *,
    shapes: Sequence[Shape] | None = None,
    allow_none: bool = True,
    fix: str = "",
) -> Any:
    """Check array-like data and, when ``shapes`` is given, its shape. The value is kept as given."""
    if value is None and allow_none:
        return None
    if not is_array_like(value):
        raise ArgumentTypeError(
            f"{where}: '{arg}' must be array-like (numpy array, list, tuple, zarr/dask array, ZarrDataIO "
            f"or data-chunk iterator); got {type_label(value)} {value!r:.60}."
        )
    if shapes is not None:
        shape = shape_of(value)
        if shape is not None and not any(shape_matches(shape, s) for s in shapes):
            raise SchemaError(
                f"{where}: incorrect shape for {arg}; expected {format_shapes(shapes)}, got {shape}."
                + (f" {fix}" if fix else "")
            )
    return value
