"""Property tests of the pure layers: any valid object round-trips exactly; any invalid constructor input
raises our ValueError/TypeError subclasses with a message, never another exception."""

from __future__ import annotations

import warnings
from datetime import UTC, datetime
from typing import Any

import numpy as np
from builders import assert_same_image, assert_same_series
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_layout import stored

import nwbzarr_image as nzi
from nwbzarr_image.layout import decode_file, encode_file

START = datetime(2024, 1, 2, tzinfo=UTC)
names = st.from_regex(r"[A-Za-z0-9_ .\-]{1,30}", fullmatch=True).filter(
    lambda n: n not in (".", "..") and not n.startswith("__"))
texts = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=20)
floats = st.floats(allow_nan=False, allow_infinity=False, width=32)
dtypes = st.sampled_from([np.uint8, np.uint16, np.int16, np.float32, np.float64])


@st.composite
def frames(draw: Any, ndim: int | None = None, last: int | None = None) -> np.ndarray:
    n = draw(st.integers(1, 4))
    shape = [n, draw(st.integers(1, 4)), draw(st.integers(1, 4))]
    if ndim == 4 or (ndim is None and draw(st.booleans())):
        shape.append(last or draw(st.integers(1, 3)))
    return np.arange(np.prod(shape)).reshape(shape).astype(draw(dtypes))


@st.composite
def timing(draw: Any, n: int) -> dict[str, Any]:
    if draw(st.booleans()):
        return {"rate": draw(st.floats(0.1, 1e4)), "starting_time": draw(floats)}
    return {"timestamps": np.cumsum(draw(st.lists(st.floats(0, 10), min_size=n, max_size=n)))}


@st.composite
def valid_files(draw: Any) -> nzi.NWBFile:
    nwb = nzi.NWBFile(draw(texts), draw(texts), START)
    device = nwb.create_device(draw(names), description=draw(st.none() | texts))
    movie = draw(frames())
    common = {"comments": draw(texts), "description": draw(texts), "conversion": draw(floats),
              "offset": draw(floats), "resolution": draw(floats)}
    series = nwb.add_acquisition(nzi.ImageSeries("series", movie, draw(texts), device=device, **common,
                                                 **draw(timing(len(movie))),
                                                 dimension=draw(st.none() | st.just([3, 4]))))
    if draw(st.booleans()):
        nwb.add_acquisition(nzi.ImageSeries("ext", external_file=["a.mp4", "b.avi"], starting_frame=[0, 5],
                                            num_samples=draw(st.integers(0, 2**31)), **draw(timing(2))))
    optical = draw(frames(last=3))
    nwb.add_stimulus(nzi.OpticalSeries("optical", draw(st.none() | floats), draw(st.none() | st.lists(
        floats, min_size=2, max_size=3)), draw(st.none() | texts), optical, "n.a.", **draw(timing(len(optical)))))
    gray = nzi.GrayscaleImage("g", draw(frames(ndim=3))[0], resolution=draw(st.none() | floats))
    rgb = nzi.RGBImage("c", draw(frames(ndim=4, last=3))[0], description=draw(st.none() | texts))
    images = nwb.add_stimulus_template(nzi.Images("imgs", [gray, rgb], draw(texts),
                                                  order_of_images=draw(st.permutations([gray, rgb]))))
    index = np.asarray(draw(st.lists(st.integers(0, 1), min_size=1, max_size=5)), dtype=np.uint32)
    nwb.add_stimulus(nzi.IndexSeries("index", index, "N/A", indexed_images=images, **draw(timing(len(index)))))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", nzi.NWBDeprecationWarning)
        nwb.add_acquisition(nzi.ImageMaskSeries("mask", series, draw(frames()), "n.a.", rate=1.0))
    return nwb


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(nwb=valid_files())
def test_any_valid_file_round_trips_exactly(nwb: nzi.NWBFile) -> None:
    back = decode_file(stored(encode_file(nwb)))
    for collection in ("acquisition", "stimulus"):
        for name, series in getattr(nwb, collection).items():
            assert_same_series(series, getattr(back, collection)[name])
    imgs, got = nwb.stimulus_template["imgs"], back.stimulus_template["imgs"]
    for name in imgs.images:
        assert_same_image(imgs.images[name], got.images[name])
    assert [i.name for i in got.order_of_images.data] == [i.name for i in imgs.order_of_images.data]
    assert got.description == imgs.description and back.devices.keys() == nwb.devices.keys()


BAD_NAMES = st.sampled_from(["", ".", "..", "a/b", "a:b", "__x", "x" * 256, "a\x00b"]) | st.integers() | st.none()
BAD_ARRAYS = st.sampled_from(["frames", b"bytes", 3, 2.5, {"a": 1}, {1, 2}])
BAD_FLOATS = st.sampled_from(["1.0", [1.0], True, None, 2**60 + 1, object()])
BAD_TEXTS = st.sampled_from([1, 1.0, b"x", ["a"], object()])


def _image_series(**kwargs: Any) -> nzi.ImageSeries:
    base = {"name": "s", "data": np.zeros((2, 3, 3), np.uint8), "unit": "n.a.", "rate": 1.0}
    return nzi.ImageSeries(**(base | kwargs))


@st.composite
def invalid_calls(draw: Any) -> tuple[str, Any]:
    """One constructor call with exactly one rule broken."""
    case = draw(st.sampled_from([
        "name", "data-shape", "data-type", "float", "text", "rate-and-timestamps", "negative-rate", "no-timing",
        "timestamps-length", "external-and-data", "external-starting-frame", "external-format", "external-rate",
        "optical-shape", "optical-fov", "image-shape", "index-shape", "index-target", "device", "images",
        "order-name", "num-samples", "bits-per-pixel"]))
    if case == "name":
        kind = draw(st.sampled_from(["ImageSeries", "Images", "Device", "GrayscaleImage"]))
        bad = draw(BAD_NAMES)
        calls = {"ImageSeries": lambda: _image_series(name=bad), "Images": lambda: nzi.Images(bad),
                 "Device": lambda: nzi.Device(bad), "GrayscaleImage": lambda: nzi.GrayscaleImage(bad, [[1]])}
        return case, calls[kind]
    if case == "data-shape":
        shape = draw(st.lists(st.integers(1, 3), min_size=1, max_size=5).filter(lambda s: len(s) not in (3, 4)))
        return case, lambda: _image_series(data=np.zeros(shape))
    if case == "data-type":
        return case, lambda: _image_series(data=draw(BAD_ARRAYS))
    if case == "float":
        arg = draw(st.sampled_from(["rate", "conversion", "offset", "resolution", "starting_time"]))
        return case, lambda: _image_series(**{arg: draw(BAD_FLOATS.filter(lambda v: v is not None or arg in (
            "conversion", "offset", "resolution")))})
    if case == "text":
        arg = draw(st.sampled_from(["unit", "comments", "description", "format"]))
        return case, lambda: _image_series(**{arg: draw(BAD_TEXTS)})
    if case == "rate-and-timestamps":
        return case, lambda: _image_series(timestamps=[0.0, 1.0])
    if case == "negative-rate":
        return case, lambda: _image_series(rate=-draw(st.floats(0.001, 1e6)))
    if case == "no-timing":
        return case, lambda: _image_series(rate=None)
    if case == "timestamps-length":
        n = draw(st.integers(0, 6).filter(lambda k: k != 2))
        return case, lambda: _image_series(rate=None, timestamps=np.arange(float(n)))
    if case == "external-and-data":
        return case, lambda: _image_series(external_file=["a.mp4"], format="external", num_samples=2)
    if case == "external-starting-frame":
        k = draw(st.integers(0, 4).filter(lambda v: v != 2))
        return case, lambda: nzi.ImageSeries("s", external_file=["a", "b"], starting_frame=list(range(k)),
                                             timestamps=[0.0])
    if case == "external-format":
        fmt = draw(st.sampled_from(["raw", "png", "tiff", ""]))
        return case, lambda: nzi.ImageSeries("s", external_file=["a"], format=fmt, timestamps=[0.0])
    if case == "external-rate":
        return case, lambda: nzi.ImageSeries("s", external_file=["a"], rate=draw(st.floats(0.1, 100)))
    if case == "optical-shape":
        last = draw(st.integers(1, 6).filter(lambda v: v != 3))
        return case, lambda: nzi.OpticalSeries("o", data=np.zeros((2, 3, 3, last)), unit="n.a.", rate=1.0)
    if case == "optical-fov":
        size = draw(st.integers(0, 6).filter(lambda v: v not in (2, 3)))
        return case, lambda: nzi.OpticalSeries("o", field_of_view=[0.1] * size, data=np.zeros((2, 3, 3)),
                                               unit="n.a.", rate=1.0)
    if case == "image-shape":
        cls = draw(st.sampled_from([nzi.GrayscaleImage, nzi.RGBImage, nzi.RGBAImage, nzi.Image]))
        shape = draw(st.sampled_from([(2,), (2, 2, 2), (2, 2, 5), (2, 2, 2, 2), (2, 2, 1)]))
        return case, lambda: cls("i", np.zeros(shape))
    if case == "index-shape":
        return case, lambda: nzi.IndexSeries("x", np.zeros((2, 2), np.uint32), "N/A", indexed_images=nzi.Images(
            "imgs"), rate=1.0)
    if case == "index-target":
        return case, lambda: nzi.IndexSeries("x", np.zeros(2, np.uint32), "N/A", rate=1.0,
                                             indexed_images=draw(st.sampled_from([None, "imgs", 3])))
    if case == "device":
        return case, lambda: _image_series(device=draw(st.sampled_from(["cam", 1, object()])))
    if case == "images":
        return case, lambda: nzi.Images("imgs", images=draw(st.sampled_from([[1], ["a"], "abc", 3])))
    if case == "order-name":
        image = nzi.GrayscaleImage("g", np.zeros((2, 2)))
        return case, lambda: nzi.Images("imgs", [image], order_of_images=nzi.ImageReferences(draw(names.filter(
            lambda n: n != "order_of_images")), [image]))
    if case == "num-samples":
        return case, lambda: _image_series(num_samples=draw(st.sampled_from([1.5, "3", [3]])))
    return case, lambda: _image_series(bits_per_pixel=draw(st.integers(1, 64)))


@settings(max_examples=700, deadline=None)
@given(call=invalid_calls())
def test_any_invalid_input_raises_our_error_with_a_message(call: tuple[str, Any]) -> None:
    case, make = call
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", nzi.NWBZarrImageWarning)
            make()
    except (nzi.SchemaError, nzi.ArgumentTypeError) as err:
        assert isinstance(err, (ValueError, TypeError)) and isinstance(err, nzi.NWBZarrImageError)
        assert len(str(err)) > 20, case
        return
    raise AssertionError(f"{case}: no error raised")
