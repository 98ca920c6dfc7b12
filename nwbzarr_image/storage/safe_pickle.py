"""Restricted decoder for the numcodecs ``pickle`` filter of legacy (hdmf-zarr <= 0.13) object references.

Nothing is unpickled: :func:`pickletools.genops` only parses the opcodes, and this module interprets a whitelisted
subset (a numpy object array of ``ZarrReference`` dicts, dicts, str or None); anything else is refused.
"""

from __future__ import annotations

import math
import pickletools
from dataclasses import dataclass
from typing import Any

import numpy as np

from nwbzarr_image.errors import LayoutError
from nwbzarr_image.limits import get_limits

__all__ = ["MAX_PICKLE_BYTES", "UnsafePickleError", "decode_pickled_references", "is_pickle_filter"]

MAX_PICKLE_BYTES = 64 * 1024 * 1024
_MAX_STACK, _MAX_MARKS, _MAX_NDIM = 4096, 8, 32
_FIX = "re-write the file with hdmf-zarr's JSON object codec, or nwbzarr_image"
_RECONSTRUCT = frozenset({"numpy._core.multiarray._reconstruct", "numpy.core.multiarray._reconstruct"})
_NDARRAY, _DTYPE, _REFERENCE = "numpy.ndarray", "numpy.dtype", "hdmf_zarr.utils.ZarrReference"
_ENCODE = "_codecs.encode"  # protocol 2 spells bytes as _codecs.encode(str, 'latin1'); emulated, never called
_GLOBALS = _RECONSTRUCT | {_NDARRAY, _DTYPE, _REFERENCE, _ENCODE}
_PUSH_ARG = frozenset("SHORT_BINUNICODE BINUNICODE BINUNICODE8 SHORT_BINBYTES BINBYTES BININT BININT1 BININT2".split())
_CONSTANTS: dict[str, Any] = {"NONE": None, "NEWTRUE": True, "NEWFALSE": False}
_TUPLE_N = {"EMPTY_TUPLE": 0, "TUPLE1": 1, "TUPLE2": 2, "TUPLE3": 3}


class UnsafePickleError(LayoutError):
    """A pickled object-reference chunk holds something other than the whitelisted reference array."""


@dataclass(frozen=True)
class _Global:
    name: str


@dataclass(eq=False)
class _Pending:
    kind: str  # "dtype" or "array": made by REDUCE, completed once by BUILD
    built: bool = False
    value: np.ndarray | None = None


def _refuse(reason: str) -> UnsafePickleError:
    return UnsafePickleError(f"refused pickled object references: {reason} (the stream is never unpickled; {_FIX})")


def is_pickle_filter(filters: list[dict] | None) -> bool:
    """Tell whether a Zarr v2 ``filters`` list contains the numcodecs ``pickle`` filter.

    Parameters
    ----------
    filters : list of dict or None
        The ``filters`` entry of a ``.zarray``.

    Returns
    -------
    bool
        True if any filter has ``"id": "pickle"``.
    """
    return any(isinstance(f, dict) and f.get("id") == "pickle" for f in filters or ())


class _Machine:
    """Stack machine for the whitelisted opcodes; it never imports or calls anything named in the stream."""

    def __init__(self, max_items: int | None) -> None:
        self.max_items = max_items
        self.max_entries = get_limits().max_reference_entries
        self.stack: list[Any] = []
        self.marks: list[int] = []
        self.memo: dict[int, Any] = {}

    def push(self, value: Any) -> None:
        if len(self.stack) >= _MAX_STACK:
            raise _refuse(f"stack deeper than {_MAX_STACK}")
        self.stack.append(value)

    def pop(self, keep: bool = False) -> Any:
        if len(self.stack) <= (self.marks[-1] if self.marks else 0):
            raise _refuse("stack underflow")
        return self.stack[-1] if keep else self.stack.pop()

    def pop_mark(self) -> list[Any]:
        if not self.marks:
            raise _refuse("no MARK on the stack")
        start = self.marks.pop()
        items, self.stack = self.stack[start:], self.stack[:start]
        return items

    def step(self, name: str, arg: Any) -> None:
        if name in _PUSH_ARG:
            self.push(arg)
        elif name in _CONSTANTS:
            self.push(_CONSTANTS[name])
        elif name in _TUPLE_N or name == "TUPLE":
            items = self.pop_mark() if name == "TUPLE" else [self.pop() for _ in range(_TUPLE_N[name])][::-1]
            if any(isinstance(i, tuple) and any(isinstance(j, tuple | list | dict) for j in i) for i in items):
                raise _refuse("tuples nested too deep")
            self.push(tuple(items))
        elif name in ("EMPTY_LIST", "EMPTY_DICT"):
            self.push([] if name == "EMPTY_LIST" else {})
        elif name == "MARK":
            if len(self.marks) >= _MAX_MARKS:
                raise _refuse(f"MARKs nested deeper than {_MAX_MARKS}")
            self.marks.append(len(self.stack))
        elif name in ("MEMOIZE", "BINPUT", "LONG_BINPUT"):
            self.memo[len(self.memo) if name == "MEMOIZE" else arg] = self.pop(keep=True)
        elif name in ("BINGET", "LONG_BINGET"):
            if arg not in self.memo:
                raise _refuse(f"memo entry {arg} is undefined")
            self.push(self.memo[arg])
        elif name in ("GLOBAL", "STACK_GLOBAL"):
            module, attr = str(arg).partition(" ")[::2] if name == "GLOBAL" else reversed((self.pop(), self.pop()))
            qualified = f"{module}.{attr}" if isinstance(module, str) and isinstance(attr, str) else "<non-str>"
            if qualified not in _GLOBALS:
                raise _refuse(f"global {qualified!r} is not allowed")
            self.push(_Global(qualified))
        elif name in ("APPEND", "APPENDS"):
            items = [self.pop()] if name == "APPEND" else self.pop_mark()
            target = self.pop(keep=True)
            bad = next((type(i).__name__ for i in items if not (i is None or isinstance(i, str | dict))), None)
            if not isinstance(target, list) or bad:
                raise _refuse(f"{name} of a {bad or 'value'} onto a {type(target).__name__} (only reference dicts, "
                              "str or None are array elements; no nested containers)")
            target.extend(items)
        elif name in ("SETITEM", "SETITEMS"):
            items = [self.pop(), self.pop()][::-1] if name == "SETITEM" else self.pop_mark()
            target = self.pop(keep=True)
            if not isinstance(target, dict) or len(items) % 2:
                raise _refuse(f"{name} on a {type(target).__name__} or with an odd number of items")
            for key, value in zip(items[::2], items[1::2], strict=True):
                if not isinstance(key, str) or not (value is None or isinstance(value, str)):
                    raise _refuse(f"reference entry {type(key).__name__}: {type(value).__name__} (only str: str/None)")
                target[key] = value
            if len(target) > self.max_entries:
                raise _refuse(f"a reference with more than max_reference_entries={self.max_entries} entries")
        elif name in ("REDUCE", "NEWOBJ"):
            args, func = self.pop(), self.pop()
            if name == "NEWOBJ" and (func != _Global(_REFERENCE) or args != ()):
                raise _refuse(f"NEWOBJ is only allowed as {_REFERENCE}() with no arguments")
            self.push({} if name == "NEWOBJ" else _reduce(func, args))
        elif name == "BUILD":
            state = self.pop()
            _build(self.pop(keep=True), state, self.max_items)
        else:
            raise _refuse(f"opcode {name} is not allowed")


def _reduce(func: Any, args: Any) -> Any:
    if not isinstance(args, tuple):
        raise _refuse("REDUCE arguments are not a tuple")
    if isinstance(func, _Global) and func.name in _RECONSTRUCT:
        if len(args) != 3 or args[0] != _Global(_NDARRAY) or args[1] != (0,) or not isinstance(args[2], bytes):
            raise _refuse("_reconstruct arguments are not (numpy.ndarray, (0,), bytes)")
        return _Pending("array")
    if func == _Global(_DTYPE):
        if len(args) != 3 or args[1:] != (False, True) or not isinstance(args[0], str):
            raise _refuse("numpy.dtype arguments are not (str, False, True)")
        if args[0] not in ("O8", "O4"):
            raise _refuse(f"dtype {args[0]!r} is not allowed: only object ('O') arrays hold references")
        return _Pending("dtype")
    if func == _Global(_ENCODE) and len(args) == 2 and args[1] == "latin1" and isinstance(args[0], str):
        if any(ord(c) > 255 for c in args[0]):
            raise _refuse("_codecs.encode argument is not latin-1")
        return args[0].encode("latin-1")
    raise _refuse(f"REDUCE on {func.name if isinstance(func, _Global) else type(func).__name__} is not allowed")


def _build(target: Any, state: Any, max_items: int | None = None) -> None:
    if not isinstance(target, _Pending) or target.built:
        raise _refuse(f"BUILD on a {type(target).__name__} is not allowed")
    target.built = True
    if target.kind == "dtype":
        if not (isinstance(state, tuple) and len(state) == 8 and state[:5] == (3, "|", None, None, None)
                and state[5:7] == (-1, -1) and type(state[7]) is int):
            raise _refuse("BUILD state of numpy.dtype is not the object-dtype form")
        return
    if not (isinstance(state, tuple) and len(state) == 5 and state[0] == 1 and isinstance(state[1], tuple)
            and isinstance(state[2], _Pending) and state[2].kind == "dtype" and state[2].built
            and isinstance(state[3], bool) and isinstance(state[4], list)):
        raise _refuse("BUILD state of numpy.ndarray is not (1, shape, object dtype, fortran, list)")
    shape, items = state[1], state[4]  # the list is in C order whatever the fortran flag (numpy's _getlist_pkl)
    if len(shape) > _MAX_NDIM or not all(type(n) is int and n >= 0 for n in shape):
        raise _refuse("array shape is not a tuple of non-negative ints")
    if len(items) != math.prod(shape):
        raise _refuse(f"array of shape {shape} holds {len(items)} elements")
    if max_items is not None and len(items) > max_items:
        raise _refuse(f"array of {len(items)} elements in a chunk of {max_items}")
    out = np.empty(len(items), dtype=object)
    copies: dict[int, dict] = {}  # one fresh dict per distinct one: memo aliases share it, never multiply it
    for i, item in enumerate(items):  # fresh plain dicts: later memo mutations cannot reach the result
        if isinstance(item, dict):
            item = copies[id(item)] if id(item) in copies else copies.setdefault(id(item), dict(item))
        out[i] = item
    target.value = out.reshape(shape, order="C")


def decode_pickled_references(data: bytes, max_items: int | None = None) -> np.ndarray:
    """Decode a numcodecs ``pickle`` chunk of object references without unpickling it.

    Parameters
    ----------
    data : bytes
        The pickle stream (the chunk after decompression, before the pickle filter).
    max_items : int, optional
        The most elements the array may hold (the chunk's size); each reference holds at most
        ``max_reference_entries`` entries (:mod:`nwbzarr_image.limits`), so the decoded size is bounded.

    Returns
    -------
    numpy.ndarray
        Object array with the pickled shape; each element is a plain ``dict`` (str keys, str/None values),
        a str or None. ``ZarrReference`` objects become plain dicts.

    Raises
    ------
    UnsafePickleError
        If the stream is malformed, too large, or uses any global, opcode or form outside the whitelist.
    """
    try:
        raw = memoryview(data).tobytes()
    except TypeError:
        raise _refuse(f"expected bytes, got {type(data).__name__}") from None
    if len(raw) > MAX_PICKLE_BYTES:
        raise _refuse(f"stream of {len(raw)} bytes exceeds {MAX_PICKLE_BYTES}")
    machine, ops, stop = _Machine(max_items), pickletools.genops(raw), None
    while stop is None:
        try:
            opcode, arg, pos = next(ops)
        except StopIteration:
            raise _refuse("stream ends without STOP") from None
        except Exception as exc:  # genops only parses; any failure means a malformed stream
            raise _refuse(f"malformed stream ({type(exc).__name__}: {exc})") from exc
        if opcode.name == "PROTO":
            if pos != 0 or arg not in (2, 3, 4, 5):
                raise _refuse(f"PROTO {arg} at offset {pos} (only protocol 2-5, first)")
        elif pos == 0:
            raise _refuse("stream does not start with PROTO")
        elif opcode.name == "STOP":
            stop = pos
        elif opcode.name != "FRAME":
            machine.step(opcode.name, arg)
    if stop + 1 != len(raw):
        raise _refuse(f"{len(raw) - stop - 1} trailing bytes after STOP")
    if machine.marks or len(machine.stack) != 1:
        raise _refuse("stack is not a single object at STOP")
    result = machine.stack[0]
    if not isinstance(result, _Pending) or result.value is None:
        raise _refuse(f"top-level object is a {type(result).__name__}, not a built numpy object array")
    return result.value
