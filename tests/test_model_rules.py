"""Constructor rules of the NWB image types (spec ``nwb-image-spec.md`` sections 1, 2, 4 and 6).

Each rule is tested against our model. Where we deliberately differ from pynwb 4.2 the test pins OUR
behaviour: ``SchemaError``/``ArgumentTypeError`` instead of ValueError/TypeError, warnings instead of
errors for ImageMaskSeries, an IndexSeries unit other than 'N/A' and ``indexed_timeseries``, Python ints
accepted for float arguments, positional arguments without a FutureWarning, and stricter names.
Row ids (``T-b``, ``IS-9``, ``X-3`` ...) refer to the tables of spec section 2; ``[I17]`` etc. to probe cases.
"""

from __future__ import annotations

import inspect
import math
import re
import warnings
from typing import Any

import numpy as np
import pytest

import nwbzarr_image as nzi

# -- builders ---------------------------------------------------------------------------------------


def frames(n: int = 3, *rest: int) -> np.ndarray:
    return np.zeros((n, *(rest or (4, 5))), dtype=np.uint8)


def time_series(**kw: Any) -> nzi.TimeSeries:
    args: dict[str, Any] = {"name": "ts", "data": [1.0, 2.0, 3.0], "unit": "V", "rate": 1.0}
    args.update(kw)
    return nzi.TimeSeries(**args)


def image_series(**kw: Any) -> nzi.ImageSeries:
    args: dict[str, Any] = {"name": "cam", "data": frames(), "unit": "n.a.", "rate": 30.0}
    args.update(kw)
    return nzi.ImageSeries(**args)


def external_series(**kw: Any) -> nzi.ImageSeries:
    args: dict[str, Any] = {"name": "cam", "external_file": ["a.mp4"], "rate": 30.0, "num_samples": 900}
    args.update(kw)
    return nzi.ImageSeries(**args)


def optical_series(**kw: Any) -> nzi.OpticalSeries:
    args: dict[str, Any] = {"name": "os", "data": frames(), "unit": "n.a.", "rate": 30.0}
    args.update(kw)
    return nzi.OpticalSeries(**args)


def image_stack() -> nzi.Images:
    a = nzi.GrayscaleImage(name="a", data=np.zeros((2, 2)))
    b = nzi.RGBImage(name="b", data=np.zeros((2, 2, 3)))
    order = nzi.ImageReferences(name="order_of_images", data=[b, a])
    return nzi.Images(name="stack", images=[a, b], order_of_images=order)


def index_series(**kw: Any) -> nzi.IndexSeries:
    args: dict[str, Any] = {"name": "idx", "data": [0, 1, 0], "unit": "N/A", "indexed_images": image_stack(),
                            "rate": 1.0}
    args.update(kw)
    return nzi.IndexSeries(**args)


def raises(cls: type[BaseException], fragment: str) -> Any:
    """``pytest.raises`` with a literal message fragment."""
    return pytest.raises(cls, match=re.escape(fragment))


class UnknownLength:
    """Array-like data whose length is unknown without reading (a data-chunk iterator)."""

    def __iter__(self) -> UnknownLength:
        return self

    def __next__(self) -> Any:
        raise StopIteration


class ShapeOnly:
    """Data that has a shape but must not be read."""

    shape = (7,)
    dtype = np.dtype("float64")

    def __getitem__(self, item: Any) -> Any:
        raise AssertionError("data was read")

    def __array__(self, *args: Any, **kwargs: Any) -> Any:
        raise AssertionError("data was read")


# -- 0.2 names (T-a and our stricter rules), for every type ------------------------------------------

NAMED = {
    "TimeSeries": lambda n: time_series(name=n),
    "ImageSeries": lambda n: image_series(name=n),
    "OpticalSeries": lambda n: optical_series(name=n),
    "IndexSeries": lambda n: index_series(name=n),
    "Image": lambda n: nzi.Image(name=n, data=np.zeros((2, 2))),
    "GrayscaleImage": lambda n: nzi.GrayscaleImage(name=n, data=np.zeros((2, 2))),
    "RGBImage": lambda n: nzi.RGBImage(name=n, data=np.zeros((2, 2, 3))),
    "RGBAImage": lambda n: nzi.RGBAImage(name=n, data=np.zeros((2, 2, 4))),
    "ImageReferences": lambda n: nzi.ImageReferences(name=n, data=[]),
    "Images": lambda n: nzi.Images(name=n),
    "Device": lambda n: nzi.Device(name=n),
}

BAD_NAMES = [
    pytest.param("a/b", nzi.SchemaError, "name 'a/b' cannot contain a '/' or ':'", id="T-a-slash"),
    pytest.param("a:b", nzi.SchemaError, "name 'a:b' cannot contain a '/' or ':'", id="T-a-colon"),
    pytest.param("", nzi.SchemaError, "'name' must be a non-empty name other than '.' or '..'; got ''", id="empty"),
    pytest.param(".", nzi.SchemaError, "non-empty name other than '.' or '..'; got '.'", id="dot"),
    pytest.param("..", nzi.SchemaError, "non-empty name other than '.' or '..'; got '..'", id="dotdot"),
    pytest.param("__zarr", nzi.SchemaError, "name '__zarr' cannot start with '__'", id="dunder"),
    pytest.param("x" * 256, nzi.SchemaError, "at most 255 bytes; got 256 bytes", id="256-bytes"),
    pytest.param("é" * 128, nzi.SchemaError, "at most 255 bytes; got 256 bytes", id="256-utf8"),
    pytest.param("a\x00b", nzi.SchemaError, "which holds control characters", id="control-char"),
    pytest.param(5, nzi.ArgumentTypeError, "'name' must be a str; got int 5", id="not-str"),
    pytest.param(None, nzi.ArgumentTypeError, "'name' must be a str; got NoneType", id="none"),
]


@pytest.mark.parametrize("kind", list(NAMED))
@pytest.mark.parametrize(("name", "error", "fragment"), BAD_NAMES)
def test_bad_name_is_rejected(kind: str, name: Any, error: type[Exception], fragment: str) -> None:
    with raises(error, fragment):
        NAMED[kind](name)


@pytest.mark.parametrize("kind", list(NAMED))
@pytest.mark.parametrize("name", ["x" * 255, "a.b", "a b", "_x", "..a", "é" * 127],
                         ids=["255-bytes", "dot-inside", "space", "one-underscore", "dotdot-prefix", "254-utf8-bytes"])
def test_good_name_is_kept(kind: str, name: str) -> None:
    obj = NAMED[kind](name)
    assert obj.name == name
    assert obj.neurodata_type == kind


def test_name_message_names_the_type() -> None:
    with raises(nzi.SchemaError, "ImageSeries 'a/b': name 'a/b' cannot contain"):
        image_series(name="a/b")


# -- 1.1 / 2.1 TimeSeries --------------------------------------------------------------------------

TIMESERIES_ERRORS = [
    pytest.param({"timestamps": [0.0, 1.0, 2.0], "rate": 1.0}, nzi.SchemaError,
                 "TimeSeries 'ts': specifying rate and timestamps is not supported; got both", id="T-b"),
    pytest.param({"timestamps": [0.0, 1.0, 2.0], "rate": None, "starting_time": 1.0}, nzi.SchemaError,
                 "TimeSeries 'ts': specifying starting_time and timestamps is not supported; got both", id="T-c"),
    pytest.param({"timestamps": [0.0, 1.0, 2.0], "rate": 1.0, "starting_time": 1.0}, nzi.SchemaError,
                 "specifying rate and timestamps is not supported", id="T-c-all-three-raises-T-b"),
    pytest.param({"rate": -1.0}, nzi.SchemaError,
                 "TimeSeries 'ts': rate must not be a negative value; got -1.0", id="T-e"),
    pytest.param({"rate": None}, nzi.ArgumentTypeError,
                 "TimeSeries 'ts': either 'timestamps' or 'rate' must be specified; got neither", id="T-i"),
    pytest.param({"rate": None, "starting_time": 0.0}, nzi.ArgumentTypeError,
                 "either 'timestamps' or 'rate' must be specified", id="T-i-starting-time-alone"),
    pytest.param({"rate": None, "timestamps": [0.0, 1.0, 2.0, 3.0]}, nzi.SchemaError,
                 "TimeSeries 'ts': Length of data does not match length of timestamps; expected 3 timestamps, got 4",
                 id="T-j"),
    pytest.param({"rate": None, "timestamps": [0.0, 1.0]}, nzi.SchemaError,
                 "Time should be on the 0th dimension", id="T-j-shorter"),
    pytest.param({"data": None}, nzi.ArgumentTypeError, "TimeSeries 'ts': 'data' is required; got None",
                 id="data-none"),
    pytest.param({"unit": None}, nzi.ArgumentTypeError, "TimeSeries 'ts': 'unit' is required; got None",
                 id="unit-none"),
    pytest.param({"data": "abc"}, nzi.ArgumentTypeError, "'data' must be array-like", id="data-bare-str"),
    pytest.param({"data": 5}, nzi.ArgumentTypeError, "'data' must be array-like", id="data-scalar"),
    pytest.param({"unit": 3}, nzi.ArgumentTypeError, "'unit' must be str or None; got int 3", id="unit-int"),
    pytest.param({"rate": None, "timestamps": "0 1 2"}, nzi.ArgumentTypeError, "'timestamps' must be array-like",
                 id="timestamps-str"),
    pytest.param({"rate": None, "timestamps": np.zeros((3, 1))}, nzi.SchemaError,
                 "incorrect shape for timestamps; expected (*,), got (3, 1)", id="timestamps-2d"),
    pytest.param({"continuity": "bad"}, nzi.SchemaError,
                 "forbidden value for 'continuity'; expected one of ['continuous', 'instantaneous', 'step'], "
                 "got 'bad'", id="continuity-enum"),
    pytest.param({"continuity": 1}, nzi.ArgumentTypeError, "'continuity' must be str or None; got int",
                 id="continuity-type"),
    pytest.param({"comments": None}, nzi.ArgumentTypeError, "'comments' must be str; got NoneType",
                 id="comments-none"),
    pytest.param({"description": None}, nzi.ArgumentTypeError, "'description' must be str; got NoneType",
                 id="description-none"),
    pytest.param({"description": 7}, nzi.ArgumentTypeError, "'description' must be str; got int 7",
                 id="description-int"),
    pytest.param({"control": "abc"}, nzi.ArgumentTypeError, "'control' must be array-like", id="control-str"),
]


@pytest.mark.parametrize(("kwargs", "error", "fragment"), TIMESERIES_ERRORS)
def test_timeseries_rule_raises(kwargs: dict[str, Any], error: type[Exception], fragment: str) -> None:
    with raises(error, fragment):
        time_series(**kwargs)


@pytest.mark.parametrize(("kwargs", "missing"), [
    pytest.param({"name": "ts", "data": [1.0], "rate": 1.0}, "unit", id="unit"),
    pytest.param({"name": "ts", "unit": "V", "rate": 1.0}, "data", id="data"),
    pytest.param({"data": [1.0], "unit": "V", "rate": 1.0}, "name", id="name"),
])
def test_timeseries_missing_argument_is_type_error(kwargs: dict[str, Any], missing: str) -> None:
    with pytest.raises(TypeError, match=f"'{missing}'"):
        nzi.TimeSeries(**kwargs)


def test_timeseries_defaults_and_identity() -> None:
    data, ts = np.arange(5.0), np.linspace(0.0, 1.0, 5)
    s = nzi.TimeSeries(name="ts", data=data, unit="V", timestamps=ts)
    assert s.data is data and s.timestamps is ts
    assert (s.resolution, s.conversion, s.offset) == (-1.0, 1.0, 0.0)
    assert (s.comments, s.description) == ("no comments", "no description")
    assert (s.continuity, s.rate, s.starting_time, s.control, s.control_description) == (None,) * 5
    assert s.parent is None
    assert s.num_samples == 5
    assert s.data_link == set() and s.timestamp_link == set()
    assert s.neurodata_type == "TimeSeries" and s.namespace == "core"


def test_timeseries_class_constants() -> None:
    assert nzi.TimeSeries.DEFAULT_DATA.shape == (0,) and nzi.TimeSeries.DEFAULT_DATA.dtype == np.uint8
    assert nzi.TimeSeries.DEFAULT_UNIT == "unknown"
    assert nzi.TimeSeries.DEFAULT_RESOLUTION == -1.0
    assert nzi.TimeSeries.DEFAULT_CONVERSION == 1.0
    assert nzi.TimeSeries.DEFAULT_OFFSET == 0.0


def test_timestamps_derive_unit_and_interval() -> None:  # T-d
    s = time_series(rate=None, timestamps=[0.0, 1.0, 2.0])
    assert (s.timestamps_unit, s.interval, s.time_unit) == ("seconds", 1, "seconds")
    assert s.starting_time is None and s.starting_time_unit is None and s.rate is None


def test_rate_derives_starting_time_and_unit() -> None:  # T-g, T-h
    s = time_series(rate=2.0)
    assert s.starting_time == 0.0 and s.starting_time_unit == "seconds"
    assert s.timestamps is None and s.timestamps_unit is None and s.interval is None
    assert s.time_unit == "seconds"


def test_rate_keeps_given_starting_time() -> None:
    s = time_series(rate=2.0, starting_time=5)
    assert s.starting_time == 5.0 and type(s.starting_time) is float


def test_rate_zero_with_several_samples_warns() -> None:  # T-f
    with pytest.warns(nzi.NWBRuleWarning, match=re.escape("Timeseries has a rate of 0.0 Hz, but the length of "
                                                           "the data is greater than 1.")):
        s = time_series(rate=0.0)
    assert s.rate == 0.0 and s.starting_time == 0.0


@pytest.mark.parametrize("data", [[1.0], []], ids=["one-sample", "empty"])
def test_rate_zero_with_at_most_one_sample_is_silent(data: list[float]) -> None:
    assert time_series(data=data, rate=0.0).rate == 0.0


@pytest.mark.parametrize("continuity", ["continuous", "instantaneous", "step"])
def test_continuity_values_are_kept(continuity: str) -> None:
    assert time_series(continuity=continuity).continuity == continuity


def test_length_check_skipped_when_length_unknown() -> None:  # T-j only when both lengths are known
    s = time_series(data=UnknownLength(), rate=None, timestamps=[0.0, 1.0, 2.0, 3.0, 4.0])
    assert len(s.timestamps) == 5


# -- floats accept ints losslessly; bool and text are rejected -----------------------------------------

FLOAT_ARGS = [
    pytest.param(lambda v: time_series(rate=v), "rate", "TimeSeries 'ts'", id="TimeSeries-rate"),
    pytest.param(lambda v: time_series(starting_time=v), "starting_time", "TimeSeries 'ts'",
                 id="TimeSeries-starting_time"),
    pytest.param(lambda v: time_series(conversion=v), "conversion", "TimeSeries 'ts'", id="TimeSeries-conversion"),
    pytest.param(lambda v: time_series(resolution=v), "resolution", "TimeSeries 'ts'", id="TimeSeries-resolution"),
    pytest.param(lambda v: time_series(offset=v), "offset", "TimeSeries 'ts'", id="TimeSeries-offset"),
    pytest.param(lambda v: image_series(rate=v), "rate", "ImageSeries 'cam'", id="ImageSeries-rate"),
    pytest.param(lambda v: image_series(conversion=v), "conversion", "ImageSeries 'cam'",
                 id="ImageSeries-conversion"),
    pytest.param(lambda v: optical_series(distance=v), "distance", "OpticalSeries 'os'", id="OpticalSeries-distance"),
    pytest.param(lambda v: nzi.Image(name="img", data=np.zeros((2, 2)), resolution=v), "resolution", "Image 'img'",
                 id="Image-resolution"),
    pytest.param(lambda v: nzi.RGBImage(name="img", data=np.zeros((2, 2, 3)), resolution=v), "resolution",
                 "RGBImage 'img'", id="RGBImage-resolution"),
]


@pytest.mark.parametrize(("make", "arg", "where"), FLOAT_ARGS)
@pytest.mark.parametrize("value", [2, np.int64(2), np.float32(2.0), 2.0], ids=["int", "np.int64", "np.float32",
                                                                               "float"])
def test_float_argument_accepts_ints_as_float(make: Any, arg: str, where: str, value: Any) -> None:
    stored = getattr(make(value), arg)
    assert stored == 2.0 and type(stored) is float


@pytest.mark.parametrize(("make", "arg", "where"), FLOAT_ARGS)
@pytest.mark.parametrize(("value", "error", "got"), [
    pytest.param(True, nzi.ArgumentTypeError, "got bool True", id="bool"),
    pytest.param(np.bool_(True), nzi.ArgumentTypeError, "got bool", id="np.bool"),
    pytest.param("2.0", nzi.ArgumentTypeError, "got str '2.0'", id="str"),
    pytest.param([2.0], nzi.ArgumentTypeError, "got list [2.0]", id="list"),
    pytest.param(2**53 + 1, nzi.SchemaError, "got the int 9007199254740993, which a float cannot hold exactly",
                 id="int-not-exact"),
])
def test_float_argument_rejects(make: Any, arg: str, where: str, value: Any, error: type[Exception],
                                got: str) -> None:
    with raises(error, f"{where}: '{arg}' must be a float; {got}"):
        make(value)


# -- 1.1 num_samples and the get_* methods ---------------------------------------------------------

@pytest.mark.parametrize(("data", "expected"), [
    pytest.param([1, 2, 3], 3, id="list"),
    pytest.param((1, 2), 2, id="tuple"),
    pytest.param(np.zeros((4, 2)), 4, id="ndarray-2d"),
    pytest.param(nzi.ZarrDataIO([1, 2, 3]), 3, id="ZarrDataIO-list"),
    pytest.param(ShapeOnly(), 7, id="shape-without-reading"),
    pytest.param([], 0, id="empty"),
])
def test_num_samples_is_len_of_data(data: Any, expected: int) -> None:
    assert time_series(data=data).num_samples == expected


def test_num_samples_falls_back_to_timestamps_with_warning() -> None:
    s = time_series(data=UnknownLength(), rate=None, timestamps=[0.0, 1.0])
    with pytest.warns(nzi.NWBRuleWarning) as record:
        assert s.num_samples == 2
    assert [str(w.message) for w in record] == [
        "The length of the data attribute on this TimeSeries (named: ts) could not be determined"]


def test_num_samples_unknown_warns_for_data_and_timestamps() -> None:
    s = time_series(data=UnknownLength(), rate=None, timestamps=UnknownLength())
    with pytest.warns(nzi.NWBRuleWarning) as record:
        assert s.num_samples is None
    assert [str(w.message) for w in record] == [
        "The length of the data attribute on this TimeSeries (named: ts) could not be determined",
        "The length of the timestamps attribute on this TimeSeries (named: ts) could not be determined"]


def test_num_samples_unknown_with_rate_warns_once() -> None:
    s = time_series(data=UnknownLength(), rate=10.0)
    with pytest.warns(nzi.NWBRuleWarning) as record:
        assert s.num_samples is None
    assert len(record) == 1 and "data attribute" in str(record[0].message)


def test_get_timestamps_from_rate() -> None:
    s = time_series(rate=40.0, starting_time=30.0)
    np.testing.assert_allclose(s.get_timestamps(), [30.0, 30.0 + 1 / 40, 30.0 + 2 / 40])


def test_get_timestamps_returns_stored() -> None:
    s = time_series(rate=None, timestamps=[3.0, 1.0, 2.0])
    np.testing.assert_array_equal(s.get_timestamps(), [3.0, 1.0, 2.0])


def test_get_timestamps_unknown_length_raises() -> None:
    s = time_series(data=UnknownLength(), rate=10.0)
    with raises(nzi.SchemaError, "TimeSeries 'ts': Cannot generate timestamps because the number of samples in "
                                 "data could not be determined."):
        s.get_timestamps()


@pytest.mark.parametrize(("kwargs", "expected"), [
    pytest.param({"rate": 10.0, "starting_time": 2.5}, 2.5, id="starting-time"),
    pytest.param({"rate": 10.0}, 0.0, id="rate-default-start"),
    pytest.param({"rate": None, "timestamps": [4.0, 5.0, 6.0]}, 4.0, id="first-timestamp"),
    pytest.param({"rate": None, "data": [], "timestamps": []}, None, id="no-samples"),
])
def test_get_starting_time(kwargs: dict[str, Any], expected: float | None) -> None:
    assert time_series(**kwargs).get_starting_time() == expected


@pytest.mark.parametrize(("kwargs", "expected"), [
    pytest.param({"data": [], "rate": None, "timestamps": []}, None, id="T41-no-samples-timestamps"),
    pytest.param({"data": [], "rate": 10.0}, 0.0, id="T42-no-samples-rate"),
    pytest.param({"data": [1.0], "rate": 10.0}, 0.0, id="T43-one-sample"),
    pytest.param({"data": [1.0, 2.0, 3.0], "rate": None, "timestamps": [1.0, 3.0, 7.0]}, 6.0, id="T44-timestamps"),
    pytest.param({"data": [1.0] * 5, "rate": 10.0}, 0.4, id="rate"),
])
def test_get_duration(kwargs: dict[str, Any], expected: float | None) -> None:
    duration = time_series(**kwargs).get_duration()
    assert duration == pytest.approx(expected) if expected is not None else duration is None


@pytest.mark.parametrize(("kwargs", "expected"), [
    pytest.param({"external_file": ["a.mp4"], "rate": None, "timestamps": [0.0, 1.0], "num_samples": 7}, 1.0,
                 id="external-more-samples-than-timestamps"),
    pytest.param({"data": frames(3), "rate": None, "timestamps": [0.0, 1.0, 2.0], "num_samples": 8}, 2.0,
                 id="internal-more-samples-than-timestamps"),
    pytest.param({"data": frames(3), "rate": None, "timestamps": [0.0, 1.0, 2.0], "num_samples": 2}, 2.0,
                 id="fewer-samples-than-timestamps"),
    pytest.param({"data": frames(3), "rate": None, "timestamps": [0.0, 1.0, 2.0], "num_samples": 0}, None,
                 id="zero-samples"),
])
def test_imageseries_duration_with_timestamps_is_last_minus_first(kwargs: dict[str, Any],
                                                                   expected: float | None) -> None:
    # pynwb 4.2: timestamps[-1] - timestamps[0] whenever num_samples > 1, whatever num_samples says
    args: dict[str, Any] = {"name": "cam", "unit": "n.a."}
    args.update(kwargs)
    assert nzi.ImageSeries(**args).get_duration() == expected


def test_get_data_in_units() -> None:  # T28
    s = time_series(data=[1, 2, 3], conversion=2.0, offset=3.0)
    np.testing.assert_array_equal(s.get_data_in_units(), [5.0, 7.0, 9.0])


# -- T-k links ------------------------------------------------------------------------------------

def test_data_link() -> None:
    a = time_series(name="a")
    b = time_series(name="b", data=a)
    assert b.data is a.data and b.data_link_target is a
    assert a.data_link == {b} and b.data_link == set()
    assert b.num_samples == 3


def test_data_link_chain_follows_to_owner() -> None:
    a = time_series(name="a")
    b = time_series(name="b", data=a)
    c = time_series(name="c", data=b)
    assert c.data is a.data and c.data_link_target is b and b.data_link == {c}


def test_timestamps_link() -> None:
    a = time_series(name="a", rate=None, timestamps=[0.0, 1.0, 2.0])
    b = time_series(name="b", rate=None, timestamps=a)
    assert b.timestamps is a.timestamps and b.timestamps_link_target is a
    assert a.timestamp_link == {b} and b.timestamp_link == set()
    assert (b.timestamps_unit, b.interval) == ("seconds", 1)


def test_timestamps_link_length_is_checked() -> None:
    a = time_series(name="a", data=[1.0, 2.0], rate=None, timestamps=[0.0, 1.0])
    with raises(nzi.SchemaError, "TimeSeries 'b': Length of data does not match length of timestamps"):
        time_series(name="b", rate=None, timestamps=a)


# -- 0.3 write-once fields -------------------------------------------------------------------------

@pytest.mark.parametrize(("make", "attr", "value"), [
    pytest.param(lambda: time_series(), "rate", 2.0, id="TimeSeries-rate"),
    pytest.param(lambda: time_series(), "unit", "mV", id="TimeSeries-unit"),
    pytest.param(lambda: external_series(), "format", "raw", id="ImageSeries-format-T53"),
    pytest.param(lambda: external_series(), "starting_frame", [1], id="ImageSeries-starting_frame"),
    pytest.param(lambda: nzi.Image(name="i", data=np.zeros((2, 2)), description="d"), "description", "e",
                 id="Image-description"),
    pytest.param(lambda: nzi.Device(name="d", description="x"), "description", "y", id="Device-description"),
    pytest.param(lambda: optical_series(distance=1.0), "distance", 2.0, id="OpticalSeries-distance"),
])
def test_write_once_field_raises_when_already_set(make: Any, attr: str, value: Any) -> None:
    obj = make()
    before = getattr(obj, attr)
    with raises(AttributeError, f"can't set attribute '{attr}' -- already set"):
        setattr(obj, attr, value)
    assert getattr(obj, attr) == before


@pytest.mark.parametrize(("make", "attr", "value"), [
    pytest.param(lambda: image_series(), "format", "png", id="ImageSeries-format-I76"),
    pytest.param(lambda: time_series(), "continuity", "step", id="TimeSeries-continuity"),
    pytest.param(lambda: image_series(), "dimension", [4, 5], id="ImageSeries-dimension"),
    pytest.param(lambda: nzi.Image(name="i", data=np.zeros((2, 2))), "description", "d", id="Image-description"),
    pytest.param(lambda: nzi.Device(name="d"), "serial_number", "42", id="Device-serial_number"),
])
def test_field_still_none_can_be_set_once(make: Any, attr: str, value: Any) -> None:
    obj = make()
    assert getattr(obj, attr) is None
    setattr(obj, attr, value)
    assert getattr(obj, attr) == value
    with raises(AttributeError, f"can't set attribute '{attr}' -- already set"):
        setattr(obj, attr, value)


def test_assigning_none_does_nothing() -> None:
    s = time_series(rate=5.0)
    s.rate = None
    assert s.rate == 5.0


# -- 2.2 ImageSeries -------------------------------------------------------------------------------

IMAGESERIES_ERRORS = [
    pytest.param({"data": np.zeros((3, 4))}, nzi.SchemaError,
                 "ImageSeries 'cam': incorrect shape for data; expected (*, *, *) or (*, *, *, *), got (3, 4)",
                 id="IS-1-2d"),
    pytest.param({"data": []}, nzi.SchemaError, "incorrect shape for data; expected (*, *, *) or (*, *, *, *), "
                 "got (0,)", id="IS-1-empty-list-I06"),
    pytest.param({"data": np.zeros((1, 2, 3, 4, 5))}, nzi.SchemaError, "got (1, 2, 3, 4, 5)", id="IS-1-5d"),
    pytest.param({"data": "frames"}, nzi.ArgumentTypeError, "ImageSeries 'cam': 'data' must be array-like",
                 id="IS-1-data-str"),
    pytest.param({"data": None, "unit": None, "external_file": "a.mp4"}, nzi.ArgumentTypeError,
                 "'external_file' must be array-like", id="IS-1-external_file-str-I33"),
    pytest.param({"data": None, "unit": None, "external_file": 3}, nzi.ArgumentTypeError,
                 "'external_file' must be array-like", id="IS-1-external_file-int"),
    pytest.param({"starting_frame": 0}, nzi.ArgumentTypeError, "'starting_frame' must be array-like",
                 id="IS-1-starting_frame-int-I53"),
    pytest.param({"dimension": "4x5"}, nzi.ArgumentTypeError, "'dimension' must be array-like",
                 id="IS-1-dimension-str-I55"),
    pytest.param({"device": "cam"}, nzi.ArgumentTypeError, "ImageSeries 'cam': 'device' must be a Device; got str",
                 id="IS-1-device-I71"),
    pytest.param({"num_samples": 900.0}, nzi.ArgumentTypeError,
                 "ImageSeries 'cam': 'num_samples' must be an int; got float 900.0", id="IS-1-num_samples-float-I21"),
    pytest.param({"num_samples": "900"}, nzi.ArgumentTypeError, "'num_samples' must be an int; got str",
                 id="IS-1-num_samples-str"),
    pytest.param({"bits_per_pixel": "8"}, nzi.ArgumentTypeError, "'bits_per_pixel' must be an int; got str",
                 id="IS-1-bits_per_pixel-str"),
    pytest.param({"format": 1}, nzi.ArgumentTypeError, "'format' must be str or None; got int", id="IS-1-format"),
    pytest.param({"unit": None}, nzi.SchemaError,
                 "ImageSeries 'cam': Must supply 'unit' argument when supplying 'data' to ImageSeries 'cam'",
                 id="IS-2-I08"),
    pytest.param({"data": None, "unit": None}, nzi.SchemaError,
                 "ImageSeries 'cam': Must supply either external_file or data to ImageSeries 'cam'", id="IS-3-I09"),
    pytest.param({"data": None, "unit": "n.a."}, nzi.SchemaError, "Must supply either external_file or data",
                 id="IS-3-unit-only-I10"),
    pytest.param({"data": None, "unit": None, "rate": None, "bits_per_pixel": 8}, nzi.SchemaError,
                 "Must supply either external_file or data", id="IS-3-before-bpp-and-timing-I70"),
    pytest.param({"rate": None}, nzi.ArgumentTypeError,
                 "ImageSeries 'cam': either 'timestamps' or 'rate' must be specified", id="IS-7-T-i-I11"),
    pytest.param({"rate": 30.0, "timestamps": [0.0, 1.0, 2.0]}, nzi.SchemaError,
                 "specifying rate and timestamps is not supported", id="IS-7-T-b"),
    pytest.param({"rate": -30.0}, nzi.SchemaError, "rate must not be a negative value", id="IS-7-T-e"),
    pytest.param({"bits_per_pixel": 8}, nzi.SchemaError, "ImageSeries 'cam': bits_per_pixel is deprecated; got 8",
                 id="IS-bpp-I48"),
    pytest.param({"bits_per_pixel": 8, "rate": None}, nzi.ArgumentTypeError,
                 "either 'timestamps' or 'rate' must be specified", id="IS-bpp-after-timing-I79"),
    pytest.param({"bits_per_pixel": 8, "rate": None, "timestamps": [0.0]}, nzi.SchemaError,
                 "bits_per_pixel is deprecated", id="IS-bpp-before-IS-8-I78"),
    pytest.param({"rate": None, "timestamps": [0.0, 1.0, 2.0, 3.0]}, nzi.SchemaError,
                 "ImageSeries 'cam': Length of data does not match length of timestamps; expected 3 timestamps, "
                 "got 4", id="IS-8-I12"),
]


@pytest.mark.parametrize(("kwargs", "error", "fragment"), IMAGESERIES_ERRORS)
def test_imageseries_rule_raises(kwargs: dict[str, Any], error: type[Exception], fragment: str) -> None:
    with raises(error, fragment):
        image_series(**kwargs)


EXTERNAL_ERRORS = [
    pytest.param({"external_file": ["a.mp4", "b.mp4"]}, nzi.SchemaError,
                 "ImageSeries 'cam': The number of frame indices in 'starting_frame' should have the same length as "
                 "'external_file'; expected 2 entries, got None", id="IS-6-IS-9-two-files-no-starting_frame"),
    pytest.param({"external_file": []}, nzi.SchemaError, "expected 0 entries, got None",
                 id="IS-6-IS-9-zero-files-no-starting_frame"),
    pytest.param({"external_file": ["a.mp4", "b.mp4"], "starting_frame": [0, 5, 9]}, nzi.SchemaError,
                 "should have the same length as 'external_file'; expected 2 entries, got 3", id="IS-9-I26"),
    pytest.param({"external_file": ["a.mp4", "b.mp4"], "starting_frame": [0], "format": "png", "data": frames(),
                  "unit": "n.a.", "num_samples": None}, nzi.SchemaError,
                 "The number of frame indices in 'starting_frame'", id="IS-9-checked-first-I67"),
    pytest.param({"format": "raw"}, nzi.SchemaError,
                 "ImageSeries 'cam': Format must be 'external' when external_file is specified; got 'raw'",
                 id="IS-10-I35"),
    pytest.param({"format": "tiff", "data": frames(), "unit": "n.a."}, nzi.SchemaError,
                 "Format must be 'external' when external_file is specified; got 'tiff'", id="IS-10-before-IS-11"),
    pytest.param({"data": frames(), "unit": "n.a."}, nzi.SchemaError,
                 "Format must be 'external' when external_file is specified; got None",
                 id="IS-fmt-nonempty-data-gives-format-error-I38"),
    pytest.param({"format": "external", "data": np.ones((3, 3, 3)), "unit": "n.a."}, nzi.SchemaError,
                 "ImageSeries 'cam': Either external_file or data must be specified (not None), but not both",
                 id="IS-11-I39"),
    pytest.param({"format": "external", "data": np.ones((3, 3, 3)), "unit": "n.a.", "num_samples": None},
                 nzi.SchemaError, "but not both", id="IS-11-before-IS-12"),
    pytest.param({"num_samples": None}, nzi.SchemaError,
                 "ImageSeries 'cam': num_samples should be set when format='external' and rate is used for timing, "
                 "because data is empty and its length cannot be used to determine the number of frames",
                 id="IS-12-I17"),
    pytest.param({"num_samples": None, "bits_per_pixel": 8}, nzi.SchemaError, "bits_per_pixel is deprecated",
                 id="IS-bpp-before-IS-12"),
]


@pytest.mark.parametrize(("kwargs", "error", "fragment"), EXTERNAL_ERRORS)
def test_external_file_rule_raises(kwargs: dict[str, Any], error: type[Exception], fragment: str) -> None:
    with raises(error, fragment):
        external_series(**kwargs)


def test_external_file_defaults() -> None:  # IS-4, IS-5, IS-6, IS-fmt [I16]
    s = external_series()
    assert s.data is nzi.ImageSeries.DEFAULT_DATA
    assert s.data.shape == (0, 0, 0) and s.data.dtype == np.uint8
    assert s.unit == "unknown" == nzi.ImageSeries.DEFAULT_UNIT
    assert s.starting_frame == [0]
    assert s.format == "external"
    assert s.num_samples == 900 and s.explicit_num_samples == 900


def test_internal_data_leaves_format_none() -> None:  # checklist 1 [I01]
    s = image_series()
    assert s.format is None and s.external_file is None and s.starting_frame is None
    assert s.dimension is None and s.device is None and s.bits_per_pixel is None
    assert s.num_samples == 3 and s.explicit_num_samples is None


def test_imageseries_class_constants() -> None:
    assert nzi.ImageSeries.DEFAULT_DATA.shape == (0, 0, 0) and nzi.ImageSeries.DEFAULT_DATA.dtype == np.uint8
    assert nzi.ImageSeries.DEFAULT_UNIT == "unknown"
    assert nzi.IndexSeries.DEFAULT_UNIT == "unknown"


def test_external_file_with_empty_data_gets_external_format() -> None:  # IS-fmt with explicit empty data
    s = external_series(data=np.zeros((0, 4, 5)), unit="n.a.")
    assert s.format == "external" and s.unit == "n.a."


@pytest.mark.parametrize("starting_frame", [[0, 15, 30], [5, 2, 1], [3, 3, 3]], ids=["sorted", "decreasing",
                                                                                    "not-zero-based"])
def test_starting_frame_values_are_not_checked(starting_frame: list[int]) -> None:  # [I29, I30]
    s = external_series(external_file=["a", "b", "c"], starting_frame=starting_frame)
    assert s.starting_frame == starting_frame and s.format == "external"


def test_external_files_as_numpy_arrays() -> None:  # [I34]
    files, starts = np.array(["a.mp4", "b.mp4"]), np.array([0, 10])
    s = external_series(external_file=files, starting_frame=starts)
    assert s.external_file is files and s.starting_frame is starts


def test_zero_external_files_with_zero_starting_frames() -> None:  # [I32]
    s = external_series(external_file=[], starting_frame=[], rate=None, num_samples=None, timestamps=[])
    assert s.format == "external" and s.num_samples == 0


def test_external_file_timestamps_of_any_length() -> None:  # checklist 5 [I43]
    s = external_series(rate=None, num_samples=None, timestamps=[0.0, 1.0, 2.0, 3.0])
    assert s.num_samples == 4 and s.explicit_num_samples is None


@pytest.mark.parametrize(("kwargs", "expected"), [
    pytest.param({"data": frames(10)}, 10, id="len-data"),
    pytest.param({"data": frames(10), "num_samples": 3}, 3, id="explicit-beats-data-I13"),
    pytest.param({"data": frames(3), "rate": None, "timestamps": [0.0, 1.0, 2.0], "num_samples": 8}, 8,
                 id="explicit-beats-timestamps-I25"),
    pytest.param({"num_samples": 0}, 0, id="zero-I19"),
    pytest.param({"num_samples": -1}, -1, id="negative-I20"),
    pytest.param({"num_samples": np.int64(7)}, 7, id="np.int64"),
    pytest.param({"num_samples": np.uint32(7)}, 7, id="np.uint32"),
    pytest.param({"num_samples": True}, 1, id="bool"),
])
def test_imageseries_num_samples_precedence(kwargs: dict[str, Any], expected: int) -> None:
    assert image_series(**kwargs).num_samples == expected


def test_external_with_timestamps_and_num_samples_uses_explicit() -> None:
    s = external_series(rate=None, timestamps=[0.0, 1.0], num_samples=7)
    assert s.num_samples == 7


def test_external_rate_quirk_get_timestamps_empty_duration_from_num_samples() -> None:  # checklist 12 [I18, I63]
    s = external_series(rate=30.0, num_samples=900)
    assert s.get_timestamps().shape == (0,)
    assert s.get_duration() == pytest.approx(899 / 30)
    assert s.get_starting_time() == 0.0


@pytest.mark.parametrize(("kwargs", "attr", "expected"), [
    pytest.param({"format": "external"}, "format", "external", id="format-external-internal-data-I44"),
    pytest.param({"format": "png"}, "format", "png", id="format-free-text-I45"),
    pytest.param({"format": "raw"}, "format", "raw", id="format-raw"),
    pytest.param({"starting_frame": [0]}, "starting_frame", [0], id="starting_frame-without-file-I51"),
    pytest.param({"dimension": [1, 2, 3, 4, 5]}, "dimension", [1, 2, 3, 4, 5], id="dimension-any-length-I52"),
    pytest.param({"dimension": [640, 480]}, "dimension", [640, 480], id="dimension-not-compared"),
    pytest.param({"data": frames(2, 4, 5, 7)}, "unit", "n.a.", id="4d-any-last-dim-O24"),
])
def test_imageseries_accepts_without_complaint(kwargs: dict[str, Any], attr: str, expected: Any) -> None:
    assert getattr(image_series(**kwargs), attr) == expected


def test_starting_frame_without_file_keeps_format_none() -> None:
    assert image_series(starting_frame=[0]).format is None


def test_imageseries_device_is_kept() -> None:
    cam = nzi.Device(name="cam0")
    assert image_series(device=cam).device is cam


def test_imageseries_data_link_to_imageseries() -> None:  # [I56]
    a = image_series(name="a")
    b = image_series(name="b", data=a)
    assert b.data is a.data and a.data_link == {b} and b.num_samples == 3


def test_imageseries_data_link_shape_is_checked() -> None:  # [I57]
    flat = time_series(name="flat")
    with raises(nzi.SchemaError, "ImageSeries 'cam': incorrect shape for data; expected (*, *, *) or (*, *, *, *), "
                                 "got (3,)"):
        image_series(data=flat)


@pytest.mark.parametrize("cls", [nzi.ImageSeries, nzi.OpticalSeries, nzi.IndexSeries])
def test_continuity_is_not_an_argument(cls: type) -> None:  # checklist 10 [I60, X25]
    assert "continuity" not in inspect.signature(cls).parameters
    with pytest.raises(TypeError, match="continuity"):
        cls(name="x", data=frames(), unit="n.a.", rate=1.0, continuity="step")


# -- section 4: dtypes and values are not validated -------------------------------------------------

@pytest.mark.parametrize("data", [np.zeros((2, 3, 3), dtype=bool), np.full((2, 2, 2), "a"),
                                  np.zeros((2, 3, 3), dtype=np.float16), np.zeros((2, 3, 3), dtype=np.int64)],
                         ids=["bool-I14", "str-I15", "float16", "int64"])
def test_imageseries_any_dtype(data: np.ndarray) -> None:
    assert image_series(data=data).data is data


@pytest.mark.parametrize(("kwargs", "attr", "expected"), [
    pytest.param({"rate": None, "timestamps": [3.0, 1.0, 2.0]}, "timestamps", [3.0, 1.0, 2.0],
                 id="timestamps-not-monotonic-T18"),
    pytest.param({"rate": None, "timestamps": [-3.0, -2.0, -1.0]}, "timestamps", [-3.0, -2.0, -1.0],
                 id="timestamps-negative-T19"),
    pytest.param({"rate": None, "timestamps": [0, 1, 2]}, "timestamps", [0, 1, 2], id="timestamps-int-kept"),
    pytest.param({"unit": ""}, "unit", "", id="unit-empty"),
    pytest.param({"control": [0, 1]}, "control", [0, 1], id="control-length-not-compared"),
    pytest.param({"control": [-1, 300, 2.5]}, "control", [-1, 300, 2.5], id="control-dtype-and-range"),
    pytest.param({"control": [0, 1, 0]}, "control_description", None, id="control-without-description"),
    pytest.param({"control_description": ["a"]}, "control", None, id="description-without-control"),
    pytest.param({"control": [0, 1, 2], "control_description": ["a"]}, "control_description", ["a"],
                 id="control-description-length-not-compared"),
    pytest.param({"data": np.array(["a", "b", "c"])}, "unit", "V", id="str-data"),
])
def test_timeseries_does_not_over_validate(kwargs: dict[str, Any], attr: str, expected: Any) -> None:
    assert getattr(time_series(**kwargs), attr) == expected


def test_rate_nan_is_accepted() -> None:
    s = time_series(rate=math.nan)
    assert math.isnan(s.rate) and s.starting_time == 0.0


def test_integer_timestamps_are_kept_as_given() -> None:
    ts = np.array([0, 1, 2])
    s = time_series(rate=None, timestamps=ts)
    assert s.timestamps is ts and s.timestamps.dtype == ts.dtype


# -- 2.3 ImageMaskSeries (ours: deprecation warning, not an error) -----------------------------------

DEPRECATED_MASK = "The ImageMaskSeries neurodata type is deprecated"


def test_imagemaskseries_constructs_with_deprecation_warning() -> None:
    cam = image_series()
    with pytest.warns(nzi.NWBDeprecationWarning, match=DEPRECATED_MASK):
        mask = nzi.ImageMaskSeries(name="mask", masked_imageseries=cam, data=frames(), unit="n.a.", rate=30.0)
    assert isinstance(nzi.NWBDeprecationWarning("x"), DeprecationWarning)
    assert mask.masked_imageseries is cam
    assert mask.neurodata_type == "ImageMaskSeries" and isinstance(mask, nzi.ImageSeries)
    assert mask.num_samples == 3


def test_imagemaskseries_accepts_num_samples() -> None:
    with pytest.warns(nzi.NWBDeprecationWarning, match=DEPRECATED_MASK):
        mask = nzi.ImageMaskSeries(name="mask", masked_imageseries=image_series(), external_file=["m.mp4"],
                                   rate=30.0, num_samples=12)
    assert mask.num_samples == 12 and mask.format == "external" and mask.starting_frame == [0]


@pytest.mark.parametrize(("kwargs", "error", "fragment"), [
    pytest.param({"unit": None}, nzi.SchemaError, "ImageMaskSeries 'mask': Must supply 'unit' argument", id="IS-2"),
    pytest.param({"data": None, "unit": None}, nzi.SchemaError, "Must supply either external_file or data",
                 id="IS-3"),
    pytest.param({"rate": None}, nzi.ArgumentTypeError, "either 'timestamps' or 'rate' must be specified",
                 id="T-i"),
    pytest.param({"data": np.zeros((3, 4))}, nzi.SchemaError, "incorrect shape for data", id="IS-1"),
    pytest.param({"bits_per_pixel": 8}, nzi.SchemaError, "bits_per_pixel is deprecated", id="IS-bpp"),
    pytest.param({"data": None, "unit": None, "external_file": ["m.mp4"]}, nzi.SchemaError,
                 "num_samples should be set", id="IS-12"),
])
def test_imagemaskseries_follows_imageseries_rules(kwargs: dict[str, Any], error: type[Exception],
                                                   fragment: str) -> None:
    args = {"name": "mask", "masked_imageseries": image_series(), "data": frames(), "unit": "n.a.", "rate": 30.0}
    args.update(kwargs)
    with pytest.warns(nzi.NWBDeprecationWarning, match=DEPRECATED_MASK), raises(error, fragment):
        nzi.ImageMaskSeries(**args)


def test_imagemaskseries_missing_masked_imageseries_raises_before_warning() -> None:  # [M02]
    with pytest.raises(TypeError, match="masked_imageseries"):
        nzi.ImageMaskSeries(name="mask", data=frames(), unit="n.a.", rate=30.0)


def test_imagemaskseries_masked_must_be_imageseries() -> None:
    with raises(nzi.ArgumentTypeError, "ImageMaskSeries 'mask': 'masked_imageseries' must be an ImageSeries; got "
                                       "TimeSeries"):
        nzi.ImageMaskSeries(name="mask", masked_imageseries=time_series(), data=frames(), unit="n.a.", rate=30.0)


# -- 2.4 OpticalSeries -----------------------------------------------------------------------------

OPTICAL_ERRORS = [
    pytest.param({"data": frames(2, 4, 5, 4)}, nzi.SchemaError,
                 "OpticalSeries 'os': incorrect shape for data; expected (*, *, *) or (*, *, *, 3), got (2, 4, 5, 4)",
                 id="data-4d-last-not-3-O03"),
    pytest.param({"data": np.zeros((3, 4))}, nzi.SchemaError, "got (3, 4)", id="data-2d"),
    pytest.param({"field_of_view": [1.0, 2.0, 3.0, 4.0]}, nzi.SchemaError,
                 "OpticalSeries 'os': incorrect shape for field_of_view; expected (2,) or (3,), got (4,)",
                 id="fov-len4-O07"),
    pytest.param({"field_of_view": [1.0]}, nzi.SchemaError, "expected (2,) or (3,), got (1,)", id="fov-len1-O08"),
    pytest.param({"field_of_view": np.zeros((2, 2))}, nzi.SchemaError, "expected (2,) or (3,), got (2, 2)",
                 id="fov-2d-O09"),
    pytest.param({"field_of_view": 4.0}, nzi.ArgumentTypeError, "'field_of_view' must be array-like",
                 id="fov-scalar-O11"),
    pytest.param({"field_of_view": "4x5"}, nzi.ArgumentTypeError, "'field_of_view' must be array-like",
                 id="fov-str"),
    pytest.param({"distance": "far"}, nzi.ArgumentTypeError, "OpticalSeries 'os': 'distance' must be a float; got str",
                 id="distance-str"),
    pytest.param({"orientation": 1}, nzi.ArgumentTypeError, "'orientation' must be str or None; got int",
                 id="orientation-type-O15"),
    pytest.param({"unit": None}, nzi.SchemaError,
                 "OpticalSeries 'os': Must supply 'unit' argument when supplying 'data' to OpticalSeries 'os'",
                 id="IS-2-O20"),
    pytest.param({"data": None, "unit": None}, nzi.SchemaError,
                 "Must supply either external_file or data to OpticalSeries 'os'", id="IS-3-O21"),
    pytest.param({"bits_per_pixel": 8}, nzi.SchemaError, "OpticalSeries 'os': bits_per_pixel is deprecated",
                 id="IS-bpp-O22"),
    pytest.param({"data": None, "unit": None, "external_file": ["a.mp4"]}, nzi.SchemaError,
                 "OpticalSeries 'os': num_samples should be set when format='external'", id="IS-12-O18"),
    pytest.param({"rate": None, "timestamps": [0.0]}, nzi.SchemaError,
                 "OpticalSeries 'os': Length of data does not match length of timestamps", id="IS-8"),
]


@pytest.mark.parametrize(("kwargs", "error", "fragment"), OPTICAL_ERRORS)
def test_opticalseries_rule_raises(kwargs: dict[str, Any], error: type[Exception], fragment: str) -> None:
    with raises(error, fragment):
        optical_series(**kwargs)


def test_opticalseries_data_cannot_be_a_link() -> None:  # [O16]
    with raises(nzi.ArgumentTypeError, "OpticalSeries 'os': 'data' of an OpticalSeries cannot be a link"):
        optical_series(data=image_series())


def test_opticalseries_field_of_view_timeseries_is_rejected() -> None:  # [O12]
    with pytest.raises((nzi.ArgumentTypeError, nzi.SchemaError), match="field_of_view"):
        optical_series(field_of_view=time_series())


def test_opticalseries_optional_fields_default_to_none() -> None:  # [O01]
    s = optical_series()
    assert (s.distance, s.field_of_view, s.orientation) == (None, None, None)
    assert s.neurodata_type == "OpticalSeries" and isinstance(s, nzi.ImageSeries)


def test_opticalseries_fields_are_kept() -> None:  # [O10, O14]
    fov = (4, 5)
    s = optical_series(distance=-1.5, field_of_view=fov, orientation="upper left", data=frames(2, 3, 3, 3))
    assert s.distance == -1.5 and s.field_of_view is fov and s.orientation == "upper left"


@pytest.mark.parametrize("fov", [[4.0, 5.0], [4.0, 5.0, 6.0], np.array([0.1, 0.2])], ids=["2", "3", "ndarray"])
def test_opticalseries_field_of_view_length_2_or_3(fov: Any) -> None:
    assert optical_series(field_of_view=fov).field_of_view is fov


def test_opticalseries_external_file() -> None:  # [O17]
    s = optical_series(data=None, unit=None, external_file=["a.mp4"], num_samples=900, distance=1.0)
    assert s.unit == "unknown" and s.format == "external" and s.num_samples == 900 and s.distance == 1.0


# -- 2.5 IndexSeries -------------------------------------------------------------------------------

INDEX_ERRORS = [
    pytest.param({"data": np.zeros((2, 1))}, nzi.SchemaError,
                 "IndexSeries 'idx': incorrect shape for data; expected (*,), got (2, 1)", id="X-1-shape-X16"),
    pytest.param({"data": None}, nzi.ArgumentTypeError, "IndexSeries 'idx': 'data' is required; got None",
                 id="X-1-data-none"),
    pytest.param({"unit": None}, nzi.ArgumentTypeError, "IndexSeries 'idx': 'unit' must be str; got NoneType",
                 id="X-1-unit-none"),
    pytest.param({"indexed_images": nzi.Image(name="i", data=np.zeros((2, 2)))}, nzi.ArgumentTypeError,
                 "IndexSeries 'idx': 'indexed_images' must be an Images collection; got Image", id="X-1-images-X10"),
    pytest.param({"indexed_images": None, "indexed_timeseries": "cam"}, nzi.ArgumentTypeError,
                 "'indexed_timeseries' must be a TimeSeries; got str", id="X-1-indexed_timeseries-type"),
    pytest.param({"indexed_images": None}, nzi.SchemaError,
                 "IndexSeries 'idx': Either indexed_timeseries or indexed_images must be provided when creating an "
                 "IndexSeries", id="X-3-X05"),
    pytest.param({"rate": None}, nzi.ArgumentTypeError, "IndexSeries 'idx': either 'timestamps' or 'rate' must be",
                 id="X-6-T-i-X20"),
    pytest.param({"rate": None, "timestamps": [0.0, 1.0]}, nzi.SchemaError,
                 "IndexSeries 'idx': Length of data does not match length of timestamps", id="X-6-T-j-X21"),
    pytest.param({"rate": 1.0, "timestamps": [0.0, 1.0, 2.0]}, nzi.SchemaError,
                 "specifying rate and timestamps is not supported", id="X-6-T-b-X19"),
]


@pytest.mark.parametrize(("kwargs", "error", "fragment"), INDEX_ERRORS)
def test_indexseries_rule_raises(kwargs: dict[str, Any], error: type[Exception], fragment: str) -> None:
    with raises(error, fragment):
        index_series(**kwargs)


def test_indexseries_missing_unit_is_type_error() -> None:  # X-1 [X02]
    with pytest.raises(TypeError, match="'unit'"):
        nzi.IndexSeries(name="idx", data=[0], indexed_images=image_stack(), rate=1.0)


def test_indexseries_valid() -> None:  # [X01]
    stack = image_stack()
    s = index_series(indexed_images=stack)
    assert s.indexed_images is stack and s.indexed_timeseries is None
    assert s.unit == "N/A" and s.neurodata_type == "IndexSeries"
    assert (s.conversion, s.resolution, s.offset) == (1.0, -1.0, 0.0)


@pytest.mark.parametrize("unit", ["na", "n.a.", "unknown"])
def test_indexseries_other_unit_warns_and_stores_na(unit: str) -> None:  # X-2, X-5 [X03]
    with pytest.warns(nzi.NWBRuleWarning, match=re.escape(
            f"IndexSeries 'idx': The 'unit' field of IndexSeries is fixed to the value 'N/A'; got {unit!r}")):
        s = index_series(unit=unit)
    assert s.unit == "N/A"


def test_indexseries_empty_unit_is_silent() -> None:  # X-2 [X04]
    assert index_series(unit="").unit == "N/A"


@pytest.mark.parametrize("with_images", [False, True], ids=["alone-X06", "with-indexed_images-X07"])
def test_indexed_timeseries_is_deprecated_but_kept(with_images: bool) -> None:
    target = time_series(name="any")  # any TimeSeries is accepted [X09]
    with pytest.warns(nzi.NWBDeprecationWarning, match=re.escape(
            "The indexed_timeseries field of IndexSeries is deprecated. Use the indexed_images field instead.")):
        s = index_series(indexed_timeseries=target, indexed_images=image_stack() if with_images else None)
    assert s.indexed_timeseries is target
    assert (s.indexed_images is not None) is with_images


@pytest.mark.parametrize(("attr", "value"), [("conversion", 5.0), ("resolution", 1.0), ("offset", 1.0),
                                             ("conversion", 2)],
                         ids=["X-7-conversion-X11", "X-8-resolution-X12", "X-9-offset-X13", "X-7-int"])
def test_indexseries_unused_attribute_warns_and_keeps(attr: str, value: float) -> None:
    with pytest.warns(nzi.NWBRuleWarning, match=re.escape(f"The {attr} attribute is not used by IndexSeries")):
        s = index_series(**{attr: value})
    assert getattr(s, attr) == float(value)


@pytest.mark.parametrize(("attr", "value"), [("conversion", 0.0), ("resolution", 0.0), ("offset", 0.0),
                                             ("conversion", 1.0), ("resolution", -1.0)],
                         ids=["conversion-0", "resolution-0", "offset-0", "conversion-default",
                              "resolution-default"])
def test_indexseries_falsy_or_default_attribute_is_silent(attr: str, value: float) -> None:  # [X14]
    assert getattr(index_series(**{attr: value}), attr) == value


@pytest.mark.parametrize("data", [[-1, 5, 99], [0.5, 1.5, 2.5], np.array([0, 1, 2], dtype=np.int8)],
                         ids=["negative-out-of-range-X17", "float-X18", "int8"])
def test_indexseries_index_values_not_checked(data: Any) -> None:
    assert index_series(data=data).data is data


def test_indexseries_images_without_order_of_images() -> None:
    stack = nzi.Images(name="plain", images=[nzi.GrayscaleImage(name="g", data=np.zeros((2, 2)))])
    assert index_series(indexed_images=stack).indexed_images.order_of_images is None


def test_indexseries_data_link() -> None:
    a = index_series(name="a")
    b = index_series(name="b", data=a)
    assert b.data is a.data and a.data_link == {b}


def test_indexseries_data_link_shape_is_checked() -> None:
    with raises(nzi.SchemaError, "IndexSeries 'idx': incorrect shape for data; expected (*,), got (3, 4, 5)"):
        index_series(data=image_series())


# -- 1.3 / 1.4 Image family ------------------------------------------------------------------------

IMAGE_SHAPE_ERRORS = [
    pytest.param(nzi.Image, (4, 5, 2), "Image 'img': incorrect shape for data; expected (*, *) or (*, *, 3) or "
                 "(*, *, 4), got (4, 5, 2)", id="Image-G01"),
    pytest.param(nzi.Image, (4,), "got (4,)", id="Image-1d"),
    pytest.param(nzi.Image, (2, 4, 5, 3), "got (2, 4, 5, 3)", id="Image-4d"),
    pytest.param(nzi.GrayscaleImage, (4, 5, 3), "GrayscaleImage 'img': incorrect shape for data; expected (*, *), "
                 "got (4, 5, 3)", id="Grayscale-rgb"),
    pytest.param(nzi.GrayscaleImage, (4, 5, 1), "expected (*, *), got (4, 5, 1)", id="Grayscale-xy1-G14"),
    pytest.param(nzi.RGBImage, (4, 5, 4), "RGBImage 'img': incorrect shape for data; expected (*, *, 3), "
                 "got (4, 5, 4)", id="RGB-rgba"),
    pytest.param(nzi.RGBImage, (4, 5), "expected (*, *, 3), got (4, 5)", id="RGB-2d"),
    pytest.param(nzi.RGBAImage, (4, 5, 3), "RGBAImage 'img': incorrect shape for data; expected (*, *, 4), "
                 "got (4, 5, 3)", id="RGBA-rgb"),
]


@pytest.mark.parametrize(("cls", "shape", "fragment"), IMAGE_SHAPE_ERRORS)
def test_image_shape_rule(cls: type, shape: tuple[int, ...], fragment: str) -> None:
    with raises(nzi.SchemaError, fragment):
        cls(name="img", data=np.zeros(shape))


@pytest.mark.parametrize(("cls", "data", "shape"), [
    pytest.param(nzi.Image, np.zeros((4, 5)), (4, 5), id="Image-gray"),
    pytest.param(nzi.Image, np.zeros((4, 5, 3)), (4, 5, 3), id="Image-rgb"),
    pytest.param(nzi.Image, np.zeros((4, 5, 4)), (4, 5, 4), id="Image-rgba"),
    pytest.param(nzi.Image, np.zeros((0, 0)), (0, 0), id="Image-empty"),
    pytest.param(nzi.GrayscaleImage, np.zeros((0, 0)), (0, 0), id="Grayscale-empty-G23"),
    pytest.param(nzi.GrayscaleImage, [[1, 2], [3, 4]], (2, 2), id="Grayscale-nested-G21"),
    pytest.param(nzi.RGBImage, [[[1, 2, 3], [4, 5, 6]]], (1, 2, 3), id="RGB-nested"),
    pytest.param(nzi.RGBAImage, np.zeros((2, 2, 4)), (2, 2, 4), id="RGBA"),
    pytest.param(nzi.GrayscaleImage, np.zeros((2, 2), dtype=bool), (2, 2), id="bool-dtype-G09"),
    pytest.param(nzi.GrayscaleImage, np.full((2, 2), "a"), (2, 2), id="str-dtype"),
])
def test_image_accepted(cls: type, data: Any, shape: tuple[int, ...]) -> None:
    img = cls(name="img", data=data)
    assert img.data is data and np.shape(img.data) == shape
    assert img.neurodata_type == cls.__name__  # [G25]
    assert img.resolution is None and img.description is None


@pytest.mark.parametrize(("kwargs", "error", "fragment"), [
    pytest.param({"data": "pixels"}, nzi.ArgumentTypeError, "Image 'img': 'data' must be array-like", id="data-str"),
    pytest.param({"data": None}, nzi.ArgumentTypeError, "'data' must be array-like", id="data-none"),
    pytest.param({"data": 3}, nzi.ArgumentTypeError, "'data' must be array-like", id="data-scalar"),
    pytest.param({"description": 5}, nzi.ArgumentTypeError, "'description' must be str or None; got int",
                 id="description-int"),
    pytest.param({"resolution": "2"}, nzi.ArgumentTypeError, "'resolution' must be a float; got str",
                 id="resolution-str"),
])
def test_image_argument_errors(kwargs: dict[str, Any], error: type[Exception], fragment: str) -> None:
    args = {"name": "img", "data": np.zeros((2, 2))}
    args.update(kwargs)
    with raises(error, fragment):
        nzi.Image(**args)


def test_image_fields_are_kept() -> None:
    img = nzi.RGBImage(name="img", data=np.zeros((2, 2, 3)), resolution=2.5, description="a picture")
    assert (img.resolution, img.description) == (2.5, "a picture")
    assert isinstance(img, nzi.Image)


# -- 1.5 ImageReferences and Images ----------------------------------------------------------------

def test_image_references_keeps_order() -> None:
    a = nzi.GrayscaleImage(name="a", data=np.zeros((2, 2)))
    b = nzi.Image(name="b", data=np.zeros((2, 2)))
    refs = nzi.ImageReferences(name="order_of_images", data=[b, a, b])
    assert len(refs) == 3 and refs[0] is b and refs[1] is a and refs[2] is b
    assert refs.neurodata_type == "ImageReferences"


@pytest.mark.parametrize(("data", "fragment"), [
    pytest.param([1], "ImageReferences 'order_of_images': images used in ImageReferences must be Image objects; "
                 "got int 1", id="int-element-S05"),
    pytest.param(["a"], "must be Image objects; got str", id="str-element"),
    pytest.param("abc", "ImageReferences 'order_of_images': 'data' must be a list of images; got str", id="str"),
    pytest.param(5, "'data' must be a list of images; got int", id="int"),
])
def test_image_references_rejects_non_images(data: Any, fragment: str) -> None:
    with raises(nzi.ArgumentTypeError, fragment):
        nzi.ImageReferences(name="order_of_images", data=data)


def test_images_valid() -> None:  # test_images
    stack = image_stack()
    a, b = stack.images["a"], stack.images["b"]
    assert stack.images == {"a": a, "b": b}
    assert stack.order_of_images[0] is b and stack.order_of_images[1] is a
    assert stack.description == "no description" and len(stack) == 2
    assert a.parent is stack and b.parent is stack
    assert stack.neurodata_type == "Images"


def test_images_empty_is_allowed() -> None:  # [S01, S12]
    stack = nzi.Images(name="empty")
    assert stack.images == {} and len(stack) == 0 and stack.order_of_images is None


def test_images_name_is_required() -> None:
    with pytest.raises(TypeError, match="'name'"):
        nzi.Images()


@pytest.mark.parametrize(("kwargs", "error", "fragment"), [
    pytest.param({"order_of_images": nzi.ImageReferences(name="order", data=[])}, nzi.SchemaError,
                 "Images 'stack': Field 'order_of_images' on Images must be named 'order_of_images'; got 'order'",
                 id="order-name-S04"),
    pytest.param({"images": [nzi.Image(name="d", data=np.zeros((2, 2))),
                             nzi.GrayscaleImage(name="d", data=np.zeros((2, 2)))]},
                 nzi.SchemaError, "Images 'stack': cannot add GrayscaleImage 'd': an image with that name already "
                 "exists", id="duplicate-name-S06"),
    pytest.param({"images": [1]}, nzi.ArgumentTypeError, "Images 'stack': images must be Image objects "
                 "(GrayscaleImage, RGBImage, RGBAImage); got int", id="non-image-S07"),
    pytest.param({"images": nzi.Image(name="d", data=np.zeros((2, 2)))}, nzi.ArgumentTypeError,
                 "'images' must be a list of Image objects; got Image", id="single-image-not-list"),
    pytest.param({"images": "abc"}, nzi.ArgumentTypeError, "'images' must be a list of Image objects; got str",
                 id="images-str"),
    pytest.param({"description": None}, nzi.ArgumentTypeError, "Images 'stack': 'description' must be str; got "
                 "NoneType", id="description-none-S11"),
    pytest.param({"order_of_images": [1]}, nzi.ArgumentTypeError, "must be Image objects; got int",
                 id="order-list-non-image"),
])
def test_images_rule_raises(kwargs: dict[str, Any], error: type[Exception], fragment: str) -> None:
    with raises(error, fragment):
        nzi.Images(name="stack", **kwargs)


def test_images_order_is_not_checked_against_contents() -> None:  # [S08, S09]
    inside = nzi.Image(name="in", data=np.zeros((2, 2)))
    outside = nzi.Image(name="out", data=np.zeros((2, 2)))
    order = nzi.ImageReferences(name="order_of_images", data=[outside, outside, inside])
    stack = nzi.Images(name="stack", images=[inside], order_of_images=order)
    assert stack.order_of_images is order and len(stack.order_of_images) == 3 and len(stack) == 1


def test_images_order_as_plain_list_is_wrapped() -> None:
    a = nzi.Image(name="a", data=np.zeros((2, 2)))
    stack = nzi.Images(name="stack", images=[a], order_of_images=[a])
    assert isinstance(stack.order_of_images, nzi.ImageReferences)
    assert stack.order_of_images.name == "order_of_images" and stack.order_of_images[0] is a


def test_images_add_get_create() -> None:
    stack = nzi.Images(name="stack", description="templates")
    g = stack.add_image(nzi.GrayscaleImage(name="g", data=np.zeros((2, 2))))
    c = stack.create_image(name="c", data=np.zeros((3, 3, 3)), resolution=2.0, description="made here")
    assert stack.get_image("g") is g and stack["c"] is c
    assert type(c) is nzi.Image and (c.resolution, c.description) == (2.0, "made here") and c.parent is stack
    assert list(stack.images) == ["g", "c"] and [i.name for i in stack] == ["g", "c"]
    with raises(nzi.SchemaError, "cannot add Image 'g': an image with that name already exists"):
        stack.create_image(name="g", data=np.zeros((2, 2)))
    with raises(nzi.ArgumentTypeError, "images must be Image objects"):
        stack.add_image("g")


def test_images_get_missing_image() -> None:
    stack = image_stack()
    with pytest.raises(nzi.NodeNotFoundError, match=re.escape("Images 'stack': no image named 'zz'; the images are "
                                                              "['a', 'b']")):
        stack.get_image("zz")
    assert issubclass(nzi.NodeNotFoundError, KeyError)


def test_create_image_checks_shape() -> None:
    with raises(nzi.SchemaError, "Image 'bad': incorrect shape for data"):
        nzi.Images(name="stack").create_image(name="bad", data=np.zeros((4,)))


# -- 1.2 Device ------------------------------------------------------------------------------------

def test_device_deprecated_fields_warn_in_order() -> None:  # [V02]
    with pytest.warns(nzi.NWBDeprecationWarning) as record:
        dev = nzi.Device(name="cam", manufacturer="Acme", model_number="X1", model_name="M")
    assert [str(w.message) for w in record] == [
        "The 'model_number' field is deprecated. Instead, use DeviceModel.model_number and link to that DeviceModel "
        "from this Device.",
        "The 'manufacturer' field is deprecated. Instead, use DeviceModel.manufacturer and link to that DeviceModel "
        "from this Device.",
        "The 'model_name' field is deprecated. Instead, use DeviceModel.name and link to that DeviceModel from this "
        "Device.",
    ]
    assert (dev.manufacturer, dev.model_number, dev.model_name) == ("Acme", "X1", "M")


@pytest.mark.parametrize("arg", ["model_number", "manufacturer", "model_name"])
def test_device_each_deprecated_field_warns(arg: str) -> None:
    with pytest.warns(nzi.NWBDeprecationWarning, match=f"The '{arg}' field is deprecated") as record:
        dev = nzi.Device(name="cam", **{arg: "v"})
    assert len(record) == 1 and getattr(dev, arg) == "v"


def test_device_plain_fields_are_silent() -> None:
    dev = nzi.Device(name="cam", description="a camera", serial_number="123")
    assert (dev.description, dev.serial_number) == ("a camera", "123")
    assert (dev.manufacturer, dev.model_number, dev.model_name) == (None, None, None)
    assert dev.neurodata_type == "Device"


@pytest.mark.parametrize("arg", ["description", "serial_number", "manufacturer"])
def test_device_text_fields_reject_other_types(arg: str) -> None:
    with raises(nzi.ArgumentTypeError, f"Device 'cam': '{arg}' must be str or None; got int 5"):
        nzi.Device(name="cam", **{arg: 5})


# -- positional arguments in the seed's order, without warnings --------------------------------------

def _no_warnings(make: Any) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return make()


def test_timeseries_positional() -> None:
    s = _no_warnings(lambda: nzi.TimeSeries("ts", [1.0, 2.0], "V", 0.5, 2.0, 3.0, None, 1.5, 10.0, "c", "d",
                                            [0, 1], ["zero", "one"], "step"))
    assert (s.name, s.data, s.unit, s.resolution, s.conversion, s.offset) == ("ts", [1.0, 2.0], "V", 0.5, 2.0, 3.0)
    assert (s.starting_time, s.rate, s.comments, s.description) == (1.5, 10.0, "c", "d")
    assert (s.control, s.control_description, s.continuity) == ([0, 1], ["zero", "one"], "step")


def test_imageseries_positional() -> None:
    dev = nzi.Device(name="d")
    s = _no_warnings(lambda: nzi.ImageSeries("cam", frames(2), "n.a.", "png", None, [0], None, [4, 5], 0.5, 2.0,
                                             [0.0, 1.0], None, None, "c", "desc", [1, 2], ["a", "b"], 3.0, dev))
    assert (s.name, s.unit, s.format, s.starting_frame, s.dimension) == ("cam", "n.a.", "png", [0], [4, 5])
    assert (s.resolution, s.conversion, s.timestamps, s.comments, s.description) == (0.5, 2.0, [0.0, 1.0], "c",
                                                                                     "desc")
    assert (s.control, s.control_description, s.offset, s.device) == ([1, 2], ["a", "b"], 3.0, dev)


def test_opticalseries_positional_starts_with_optics() -> None:  # checklist 11
    s = _no_warnings(lambda: nzi.OpticalSeries("os", 1.0, [4.0, 5.0], "up", frames(2), "n.a.", "raw", None, None,
                                               None, None, -1.0, 1.0, None, None, 30.0, "c", "d", None, None,
                                               nzi.Device(name="d"), 2.0))
    assert (s.distance, s.field_of_view, s.orientation, s.unit, s.format) == (1.0, [4.0, 5.0], "up", "n.a.", "raw")
    assert (s.rate, s.comments, s.description, s.device.name, s.offset) == (30.0, "c", "d", "d", 2.0)
    assert s.data.shape == (2, 4, 5)


def test_indexseries_positional() -> None:
    stack = image_stack()
    s = _no_warnings(lambda: nzi.IndexSeries("idx", [0, 1], "N/A", None, stack, -1.0, 1.0, None, 2.0, 5.0,
                                             "c", "d", None, None, 0.0))
    assert (s.indexed_images, s.starting_time, s.rate, s.comments, s.description) == (stack, 2.0, 5.0, "c", "d")


def test_imagemaskseries_positional() -> None:
    cam = image_series()
    with pytest.warns(nzi.NWBDeprecationWarning) as record:
        m = nzi.ImageMaskSeries("mask", cam, frames(), "n.a.", "raw", None, None, None, None, -1.0, 1.0, None,
                                None, 30.0)
    assert len(record) == 1
    assert (m.masked_imageseries, m.unit, m.format, m.rate) == (cam, "n.a.", "raw", 30.0)


@pytest.mark.parametrize(("make", "attrs"), [
    pytest.param(lambda: nzi.Image("i", np.zeros((2, 2)), 2.0, "d"), ("i", 2.0, "d"), id="Image"),
    pytest.param(lambda: nzi.RGBAImage("i", np.zeros((2, 2, 4)), 2.0, "d"), ("i", 2.0, "d"), id="RGBAImage"),
])
def test_image_positional(make: Any, attrs: tuple[Any, ...]) -> None:
    img = _no_warnings(make)
    assert (img.name, img.resolution, img.description) == attrs


def test_images_and_device_positional() -> None:
    a = nzi.Image(name="a", data=np.zeros((2, 2)))
    stack = _no_warnings(lambda: nzi.Images("s", [a], "desc", nzi.ImageReferences("order_of_images", [a])))
    assert (stack.description, stack.order_of_images[0]) == ("desc", a)
    dev = _no_warnings(lambda: nzi.Device("d", "desc", None, None, None, "sn"))
    assert (dev.description, dev.serial_number) == ("desc", "sn")


@pytest.mark.parametrize("cls", [nzi.ImageSeries, nzi.OpticalSeries, nzi.ImageMaskSeries])
def test_num_samples_is_keyword_only(cls: type) -> None:
    param = inspect.signature(cls).parameters["num_samples"]
    assert param.kind is inspect.Parameter.KEYWORD_ONLY and param.default is None


@pytest.mark.parametrize("cls", [nzi.TimeSeries, nzi.IndexSeries])
def test_num_samples_is_not_a_timeseries_argument(cls: type) -> None:
    assert "num_samples" not in inspect.signature(cls).parameters


def test_imageseries_rejects_extra_positional() -> None:
    args = ["cam", frames(), "n.a."] + [None] * 5 + [-1.0, 1.0, None, None, 30.0, "c", "d", None, None, 0.0, None]
    with pytest.raises(TypeError, match="positional"):
        nzi.ImageSeries(*args, 900)


@pytest.mark.parametrize(("cls", "order"), [
    pytest.param(nzi.TimeSeries, ["name", "data", "unit", "resolution", "conversion", "offset", "timestamps",
                                  "starting_time", "rate", "comments", "description", "control",
                                  "control_description", "continuity"], id="TimeSeries"),
    pytest.param(nzi.ImageSeries, ["name", "data", "unit", "format", "external_file", "starting_frame",
                                   "bits_per_pixel", "dimension", "resolution", "conversion", "timestamps",
                                   "starting_time", "rate", "comments", "description", "control",
                                   "control_description", "offset", "device"], id="ImageSeries"),
    pytest.param(nzi.ImageMaskSeries, ["name", "masked_imageseries", "data", "unit", "format", "external_file",
                                       "starting_frame", "bits_per_pixel", "dimension", "resolution", "conversion",
                                       "timestamps", "starting_time", "rate", "comments", "description", "control",
                                       "control_description", "offset", "device"], id="ImageMaskSeries"),
    pytest.param(nzi.OpticalSeries, ["name", "distance", "field_of_view", "orientation", "data", "unit", "format",
                                     "external_file", "starting_frame", "bits_per_pixel", "dimension", "resolution",
                                     "conversion", "timestamps", "starting_time", "rate", "comments", "description",
                                     "control", "control_description", "device", "offset"], id="OpticalSeries"),
    pytest.param(nzi.IndexSeries, ["name", "data", "unit", "indexed_timeseries", "indexed_images", "resolution",
                                   "conversion", "timestamps", "starting_time", "rate", "comments", "description",
                                   "control", "control_description", "offset"], id="IndexSeries"),
    pytest.param(nzi.Image, ["name", "data", "resolution", "description"], id="Image"),
    pytest.param(nzi.GrayscaleImage, ["name", "data", "resolution", "description"], id="GrayscaleImage"),
    pytest.param(nzi.Images, ["name", "images", "description", "order_of_images"], id="Images"),
    pytest.param(nzi.ImageReferences, ["name", "data"], id="ImageReferences"),
    pytest.param(nzi.Device, ["name", "description", "manufacturer", "model_number", "model_name",
                              "serial_number"], id="Device"),
])
def test_positional_order_matches_seed(cls: type, order: list[str]) -> None:
    params = inspect.signature(cls).parameters.values()
    positional = [p.name for p in params if p.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD]
    assert positional == order


@pytest.mark.parametrize(("cls", "defaults"), [
    pytest.param(nzi.TimeSeries, {"resolution": -1.0, "conversion": 1.0, "offset": 0.0, "comments": "no comments",
                                  "description": "no description"}, id="TimeSeries"),
    pytest.param(nzi.ImageSeries, {"data": None, "unit": None, "format": None, "resolution": -1.0,
                                   "conversion": 1.0, "offset": 0.0}, id="ImageSeries"),
    pytest.param(nzi.OpticalSeries, {"distance": None, "field_of_view": None, "orientation": None},
                 id="OpticalSeries"),
    pytest.param(nzi.Images, {"images": None, "description": "no description", "order_of_images": None},
                 id="Images"),
    pytest.param(nzi.Image, {"resolution": None, "description": None}, id="Image"),
])
def test_signature_defaults(cls: type, defaults: dict[str, Any]) -> None:
    params = inspect.signature(cls).parameters
    assert {k: params[k].default for k in defaults} == defaults
