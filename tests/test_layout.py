"""The NWB Zarr convention as a pure translation: decode(encode(x)) == x, with no store at all."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import dask.array as da
import numpy as np
import pytest
from builders import assert_same_series, full_file
from hypothesis import given, settings
from hypothesis import strategies as st

import nwbzarr_image as nzi
from nwbzarr_image.layout import ArrayNode, GroupNode, decode_file, encode_file


class MemoryArray:
    """A StoredArray backed by a numpy array (what the reader would hand over)."""

    def __init__(self, values: object, path: str) -> None:
        text = isinstance(values, str) or (isinstance(values, list) and values and isinstance(values[0], str))
        self.values = np.asarray(values, dtype=object if text else None)  # numpy's "<U" would drop trailing NULs
        self.shape = self.values.shape
        self.dtype = self.values.dtype
        self.path = path

    def load(self) -> object:
        return self.values[()] if self.values.ndim == 0 else self.values

    def lazy(self) -> da.Array:
        return da.from_array(self.values, chunks=self.values.shape or ())


def stored(node: GroupNode, prefix: str = "") -> GroupNode:
    """The tree as a reader would see it: every array value becomes a StoredArray."""
    out = GroupNode(node.name, dict(node.attrs), list(node.links))
    for name, child in node.children.items():
        if isinstance(child, GroupNode):
            out.children[name] = stored(child, f"{prefix}/{name}")
        else:
            value = child.value.data if isinstance(child.value, nzi.ZarrDataIO) else child.value
            out.children[name] = ArrayNode(name, MemoryArray(value, f"{prefix}/{name}"), child.dtype,
                                           dict(child.attrs))
    return out


def test_full_file_survives_encode_then_decode() -> None:
    nwb = full_file()
    tree = encode_file(nwb)
    assert tree.attrs["neurodata_type"] == "NWBFile" and tree.attrs["namespace"] == "core"
    assert {"acquisition", "analysis", "general", "processing", "stimulus"} <= set(tree.children)
    vid = tree.children["acquisition"].children["vid"]
    assert [link.to_json() for link in vid.links] == [
        {"source": ".", "path": "/general/devices/cam", "name": "device"}]
    assert vid.children["data"].attrs["_ARRAY_DIMENSIONS"] == ["frame", "x", "y"]
    order = tree.children["stimulus"].children["templates"].children["templates"].children["order_of_images"]
    assert order.dtype == "object_reference"
    assert order.value == ["/stimulus/templates/templates/rgba", "/stimulus/templates/templates/gray",
                           "/stimulus/templates/templates/rgb"]
    back = decode_file(stored(tree))
    for name in nwb.acquisition:
        assert_same_series(nwb.acquisition[name], back.acquisition[name])
    for name in nwb.stimulus:
        assert_same_series(nwb.stimulus[name], back.stimulus[name])


frames = st.tuples(st.integers(0, 4), st.integers(1, 4), st.integers(1, 4))
dtypes = st.sampled_from([np.uint8, np.uint16, np.int32, np.float32, np.float64])
texts = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=30)
floats = st.floats(allow_nan=False, allow_infinity=False, width=32)


@settings(max_examples=150, deadline=None)
@given(shape=frames, dtype=dtypes, unit=texts, description=texts, comments=texts, conversion=floats,
       offset=floats, timed=st.sampled_from(["rate", "timestamps"]), rate=st.floats(0.5, 1e4),
       start=floats, name=st.from_regex(r"[A-Za-z0-9_ .\-]{1,40}", fullmatch=True).filter(
           lambda n: n not in (".", "..") and not n.startswith("__")))
def test_any_image_series_round_trips(shape, dtype, unit, description, comments, conversion, offset, timed, rate,
                                      start, name) -> None:
    data = np.arange(np.prod(shape), dtype=dtype).reshape(shape)
    timing = {"rate": rate, "starting_time": start} if timed == "rate" else {"timestamps": np.arange(shape[0]) / 3}
    nwb = nzi.NWBFile("s", "id", datetime(2020, 1, 1, tzinfo=UTC))
    series = nwb.add_acquisition(nzi.ImageSeries(name, data, unit, conversion=conversion, offset=offset,
                                                 comments=comments, description=description, **timing))
    back = decode_file(stored(encode_file(nwb))).acquisition[name]
    assert_same_series(series, back)


class HandMadeImage(nzi.BaseImage):
    """A BaseImage that is neither an Image nor an ExternalImage: it has no NWB layout."""

    def __init__(self, name: str) -> None:
        self._init_container(name)


def test_an_image_without_a_layout_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    nwbfile = nzi.NWBFile("s", "id", datetime(2024, 1, 1, tzinfo=UTC))
    pixels = nzi.GrayscaleImage("g", np.zeros((4, 4), np.uint8))
    nwbfile.add_acquisition(nzi.Images("imgs", [pixels, HandMadeImage("odd")]))
    with pytest.raises(nzi.LayoutError, match=r"Images 'imgs': HandMadeImage 'odd' has no NWB layout; expected an "
                                              r"Image .* or an ExternalImage, got HandMadeImage\."):
        encode_file(nwbfile)
    with pytest.raises(nzi.LayoutError):
        nzi.write(nwbfile, str(tmp_path / "x.nwb.zarr"))
    assert list(tmp_path.iterdir()) == []
