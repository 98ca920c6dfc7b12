"""The restricted decoder of pickled object references: real legacy chunks, hostile payloads, fuzzing."""

from __future__ import annotations

import ast
import builtins
import json
import os
import pickle
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from unittest import mock

import numcodecs
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nwbzarr_image.errors import LayoutError
from nwbzarr_image.storage import safe_pickle
from nwbzarr_image.storage.safe_pickle import UnsafePickleError, decode_pickled_references, is_pickle_filter

LEGACY = Path(__file__).parent / "fixtures" / "legacy_v2"
EXPECTED = json.loads((LEGACY / "expected.json").read_text())
IMAGES = "/stimulus/templates/template_images"
ORDER = "stimulus/templates/template_images/order_of_images"
FIX_HINT = "re-write the file with hdmf-zarr's JSON object codec, or nwbzarr_image"
FUZZ = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _chunk(store: str, array: str = ORDER, key: str = "0") -> bytes:
    """Read one chunk of a legacy array and undo its compressor only (the pickle filter stays applied)."""
    zarray = json.loads((LEGACY / store / array / ".zarray").read_text())
    assert is_pickle_filter(zarray["filters"])
    return bytes(numcodecs.get_codec(zarray["compressor"]).decode((LEGACY / store / array / key).read_bytes()))


REAL = _chunk("images_pickle.nwb.zarr")


def _forbidden(*args: Any, **kwargs: Any) -> None:
    raise AssertionError("the decoder must never unpickle")


@contextmanager
def _no_unpickling() -> Iterator[None]:
    """Make every unpickling entry point fail loudly while the decoder runs."""
    import _pickle

    with (mock.patch.object(pickle, "loads", _forbidden), mock.patch.object(pickle, "load", _forbidden),
          mock.patch.object(pickle, "Unpickler", _forbidden), mock.patch.object(_pickle, "loads", _forbidden),
          mock.patch.object(_pickle, "load", _forbidden), mock.patch.object(_pickle, "Unpickler", _forbidden)):
        yield


def decode(data: Any) -> np.ndarray:
    with _no_unpickling():
        return decode_pickled_references(data)


def _assert_valid(result: np.ndarray) -> None:
    assert isinstance(result, np.ndarray) and result.dtype == object
    for item in result.flat:
        if type(item) is dict:
            assert all(type(k) is str and (v is None or type(v) is str) for k, v in item.items())
        else:
            assert item is None or type(item) is str


def _decodes_or_refuses(data: bytes) -> None:
    try:
        result = decode(data)
    except UnsafePickleError:
        return
    _assert_valid(result)


class _Reducer:
    def __init__(self, func: Any, *args: Any) -> None:
        self.func, self.args = func, args

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        return self.func, self.args


class ForeignRef(dict):
    """A dict subclass from a module other than hdmf_zarr.utils."""


def _in_array(obj: Any) -> np.ndarray:
    out = np.empty(1, dtype=object)
    out[0] = obj
    return out


# --- real legacy files ---------------------------------------------------------------------------------------------


def test_real_order_of_images_matches_expected() -> None:
    result = decode(REAL)
    expected = EXPECTED["stores"]["images_pickle.nwb.zarr"]["objects"][IMAGES]["order_of_images"]["targets"]
    _assert_valid(result)
    assert result.shape == (3,)
    assert [ref["path"] for ref in result] == expected
    root_id = EXPECTED["stores"]["images_pickle.nwb.zarr"]["root"]["object_id"]
    for ref in result:
        assert type(ref) is dict  # ZarrReference became a plain dict
        assert ref == {"source": ".", "path": ref["path"], "object_id": None, "source_object_id": root_id}


def test_hostile_chunk_is_refused_without_side_effect() -> None:
    hostile = EXPECTED["stores"]["hostile_pickle.nwb.zarr"]["objects"][IMAGES]["order_of_images"]["hostile"]
    sentinel = Path(hostile["sentinel_file"])
    data = _chunk("hostile_pickle.nwb.zarr", key=hostile["chunk_key"].rsplit("/", 1)[1])
    assert data == bytes.fromhex(hostile["payload_pickle_hex"])
    assert not sentinel.exists()
    with pytest.raises(UnsafePickleError, match=r"global 'posix\.system' is not allowed") as info:
        decode(data)
    assert FIX_HINT in str(info.value)
    assert isinstance(info.value, LayoutError) and isinstance(info.value, ValueError)
    assert hostile["payload_globals"] == ["posix.system"]
    assert not sentinel.exists()


def test_is_pickle_filter() -> None:
    assert is_pickle_filter([{"id": "pickle", "protocol": 5}])
    assert is_pickle_filter([{"id": "vlen-utf8"}, {"id": "pickle"}])
    assert not is_pickle_filter([{"id": "json2"}])
    assert not is_pickle_filter([])
    assert not is_pickle_filter(None)


def test_module_never_imports_an_unpickler() -> None:
    tree = ast.parse(Path(safe_pickle.__file__).read_text())
    imported = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    imported |= {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert not imported & {"pickle", "_pickle", "numcodecs", "dill", "cloudpickle", "importlib", "hdmf", "pynwb"}
    names = {n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute)}
    names |= {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
    assert not names & {"loads", "load", "Unpickler", "eval", "exec", "__import__", "import_module", "getattr"}


# --- accepted streams ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("protocol", [2, 3, 4, 5])
def test_plain_object_array_is_accepted(protocol: int) -> None:
    array = np.array([{"path": "/a", "source": "."}], dtype=object)
    result = decode(pickle.dumps(array, protocol=protocol))
    assert result.shape == (1,) and result.dtype == object
    assert result[0] == {"path": "/a", "source": "."} and type(result[0]) is dict


@pytest.mark.parametrize("protocol", [2, 5])
def test_shapes_and_mixed_elements_are_accepted(protocol: int) -> None:
    many = np.array([{"path": f"/p{i}", "object_id": None} for i in range(2500)], dtype=object)  # several APPENDS
    mixed = np.asfortranarray(np.array([["a", None, {"p": "q"}], ["d", "e", "f"]], dtype=object))
    scalar = np.empty((), dtype=object)
    scalar[()] = {"path": "/x"}
    for array in (many, mixed, scalar, np.empty((0, 3), dtype=object)):
        result = decode(pickle.dumps(array, protocol=protocol))
        _assert_valid(result)
        assert result.shape == array.shape and result.tolist() == array.tolist()


def test_numpy_1_module_name_is_accepted() -> None:
    data = pickle.dumps(np.array([{"path": "/a"}], dtype=object), protocol=2)
    old = data.replace(b"numpy._core.multiarray\n_reconstruct", b"numpy.core.multiarray\n_reconstruct")
    assert old != data
    assert decode(old)[0] == {"path": "/a"}


def test_bytes_like_input_is_accepted() -> None:
    assert decode(bytearray(REAL)).tolist() == decode(memoryview(REAL)).tolist() == decode(REAL).tolist()


# --- refused streams -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("wrap", [lambda x: x, _in_array], ids=["top", "in_array"])
@pytest.mark.parametrize(
    ("make", "refused"),
    [
        (lambda p: _Reducer(os.system, f"touch {p}"), f"global '{os.system.__module__}.system'"),
        (lambda p: _Reducer(builtins.eval, f"open({str(p)!r}, 'w')"), r"global '(builtins|__builtin__)\.eval'"),
        (lambda p: _Reducer(builtins.getattr, str(p), "upper"), r"global '(builtins|__builtin__)\.getattr'"),
        (lambda p: _Reducer(builtins.exec, f"open({str(p)!r}, 'w')"), r"global '(builtins|__builtin__)\.exec'"),
        (lambda p: ForeignRef(path=str(p)), r"ForeignRef' is not allowed"),
    ],
    ids=["os.system", "eval", "getattr", "exec", "foreign_dict_subclass"],
)
def test_hostile_globals_are_refused(tmp_path: Path, make: Any, refused: str, wrap: Any) -> None:
    sentinel = tmp_path / "pwned"
    for protocol in (2, 5):
        with pytest.raises(UnsafePickleError, match=refused) as info:
            decode(pickle.dumps(wrap(make(sentinel)), protocol=protocol))
        assert FIX_HINT in str(info.value)
    assert not sentinel.exists()


def _deep(depth: int, leaf: Any, wrap: Any) -> Any:
    for _ in range(depth):
        leaf = wrap(leaf)
    return leaf


def _deep_pickle(obj: Any) -> bytes:
    """Pickle a deeply nested object with the pure-Python pickler (the C one stops near 1000 levels)."""
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 20000))
    try:
        return pickle._dumps(obj, protocol=5)  # type: ignore[attr-defined]
    finally:
        sys.setrecursionlimit(limit)


@pytest.mark.parametrize(
    ("data", "refused"),
    [
        (pickle.dumps(np.arange(3), protocol=4), "dtype 'i8' is not allowed"),
        (pickle.dumps(np.arange(3), protocol=5), "is not allowed"),
        (pickle.dumps(np.array(["a"]), protocol=4), "dtype 'U1' is not allowed"),
        (pickle.dumps(b"abc", protocol=5), "top-level object is a bytes"),
        (pickle.dumps("abc", protocol=5), "top-level object is a str"),
        (pickle.dumps({"path": "/a"}, protocol=5), "top-level object is a dict"),
        (pickle.dumps(1.5, protocol=5), "opcode BINFLOAT is not allowed"),
        (pickle.dumps(np.array([{"path": "/a"}], dtype=object), protocol=0), "does not start with PROTO"),
        (pickle.dumps(np.array([{1: "a"}], dtype=object), protocol=5), "reference entry int: str"),
        (pickle.dumps(np.array([{"a": 1}], dtype=object), protocol=5), "reference entry str: int"),
        (pickle.dumps(np.array([{"a": {"b": "c"}}], dtype=object), protocol=5), "reference entry str: dict"),
        (pickle.dumps(np.array([1, "a"], dtype=object), protocol=5), "APPENDS of a int"),
        (_deep_pickle(_deep(1000, [], lambda x: [x])), "APPEND of a list onto a list"),
        (_deep_pickle(_in_array(_deep(1000, [], lambda x: [x]))), "APPEND of a list onto a list"),
        (_deep_pickle(_deep(1000, (), lambda x: (x,))), "tuples nested too deep"),
        (REAL + b".", "1 trailing bytes after STOP"),
        (REAL[:-1], "stream ends without STOP|malformed"),
        (REAL.replace(b"K\x01K\x03\x85", b"K\x01K\x04\x85"), r"array of shape \(4,\) holds 3 elements"),
        (REAL.replace(b"\x8c\x01|", b"\x8c\x01<"), "BUILD state of numpy.dtype"),
        (REAL.replace(b"K\x01K\x03", b"K\x02K\x03"), "BUILD state of numpy.ndarray"),
        (b"\x80\x02chdmf_zarr.utils\nZarrReference\n)R.", "REDUCE on hdmf_zarr.utils.ZarrReference"),
        (b"\x80\x02chdmf_zarr.utils\nZarrReference\nN\x85\x81.", "NEWOBJ is only allowed"),
        (b"\x80\x02cnumpy\nndarray\n)\x81.", "NEWOBJ is only allowed"),
        (b"\x80\x02chdmf_zarr.utils\nZarrReference\n)\x81}b.", "BUILD on a dict"),
        (b"\x80\x02c_codecs\nencode\nX\x01\x00\x00\x00aX\x05\x00\x00\x00utf_8\x86R.", "REDUCE on _codecs.encode"),
        (b"\x80\x02cnumpy\ndtype\nX\x02\x00\x00\x00O8\x88\x89\x87R.", r"numpy.dtype arguments"),
        (b"\x80\x02h\x05.", "memo entry 5 is undefined"),
        (b"\x80\x02R.", "stack underflow"),
        (b"\x80\x02(N(R.", "stack underflow"),
        (b"\x80\x02" + b"(" * 9, "MARKs nested deeper"),
        (b"\x80\x02" + b"]" * 5000 + b".", "stack deeper"),
        (b"\x80\x02\x80\x02N.", "PROTO 2 at offset 2"),
        (b"\x80\x06N.", "PROTO 6 at offset 0|malformed"),
        (b"\x80\x05N", "stream ends without STOP|malformed"),
        (b"", "malformed|without STOP"),
        (b"\x80\x05\x8c\x05\xff\xfe\xfd\xfc\xfb.", "malformed stream"),
    ],
)
def test_crafted_streams_are_refused(data: bytes, refused: str) -> None:
    with pytest.raises(UnsafePickleError, match=refused) as info:
        decode(data)
    assert FIX_HINT in str(info.value)


def test_oversized_stream_is_refused() -> None:
    with pytest.raises(UnsafePickleError, match="exceeds"):
        decode(b"\x80\x05" + b"N" * safe_pickle.MAX_PICKLE_BYTES + b".")


def test_non_bytes_is_refused() -> None:
    with pytest.raises(UnsafePickleError, match="expected bytes, got str"):
        decode("\x80\x05N.")


# --- fuzzing: every input decodes to a valid result or raises UnsafePickleError ----------------------------------


@FUZZ
@given(st.binary(max_size=1024))
def test_fuzz_random_bytes(data: bytes) -> None:
    _decodes_or_refuses(data)
    _decodes_or_refuses(b"\x80\x05" + data)


_SNIPPETS = [b"(", b"t", b"\x85", b"\x86", b"\x87", b")", b"]", b"}", b"N", b"\x88", b"\x89", b"K\x01", b"K\x00",
             b"J\xff\xff\xff\xff", b"\x94", b"h\x00", b"h\x01", b"h\x02", b"h\x03", b"q\x00", b"R", b"\x81", b"b",
             b"a", b"e", b"s", b"u", b"\x93", b"C\x01b", b"\x8c\x01|", b"\x8c\x02O8", b"\x8c\x04path", b"\x8c\x01.",
             b"\x8c\x05numpy", b"\x8c\x07ndarray", b"\x8c\x05dtype", b"\x8c\x16numpy._core.multiarray",
             b"\x8c\x0c_reconstruct", b"\x8c\x0fhdmf_zarr.utils", b"\x8c\x0dZarrReference", b"."]


@FUZZ
@given(st.lists(st.sampled_from(_SNIPPETS), max_size=80))
def test_fuzz_opcode_soup(snippets: list[bytes]) -> None:
    _decodes_or_refuses(b"\x80\x05" + b"".join(snippets))
    _decodes_or_refuses(b"\x80\x05" + b"".join(snippets) + b".")


@FUZZ
@given(
    flips=st.lists(st.tuples(st.integers(0, len(REAL) - 1), st.integers(0, 7)), max_size=6),
    cut=st.integers(0, len(REAL)),
    splice=st.tuples(st.integers(0, len(REAL)), st.integers(0, 16), st.binary(max_size=16)),
)
def test_fuzz_mutated_real_payload(flips: list[tuple[int, int]], cut: int, splice: tuple[int, int, bytes]) -> None:
    data = bytearray(REAL)
    for index, bit in flips:
        data[index] ^= 1 << bit
    _decodes_or_refuses(bytes(data))
    _decodes_or_refuses(bytes(data[:cut]))
    start, length, insert = splice
    _decodes_or_refuses(bytes(data[:start] + insert + data[start + length:]))
