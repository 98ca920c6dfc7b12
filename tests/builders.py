"""Objects of every type with every optional field, and a field-by-field comparison."""

from __future__ import annotations

import warnings
from datetime import UTC, datetime
from typing import Any

import numpy as np

import nwbzarr_image as nzi

START = datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)
SERIES_FIELDS = ("unit", "resolution", "conversion", "offset", "starting_time", "rate", "comments", "description",
                 "control", "control_description", "timestamps_unit", "interval", "starting_time_unit")
IMAGE_SERIES_FIELDS = ("format", "external_file", "starting_frame", "dimension", "explicit_num_samples")
OPTICAL_FIELDS = ("distance", "field_of_view", "orientation")


def movie(shape: tuple[int, ...], dtype: Any, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if np.dtype(dtype).kind == "f":
        return rng.random(shape, dtype=np.float32).astype(dtype)
    return rng.integers(0, np.iinfo(dtype).max, size=shape, dtype=dtype)


def full_file() -> nzi.NWBFile:
    """One file holding every type and every optional field."""
    nwb = nzi.NWBFile("every image type", "full-1", START, file_create_date=[START, datetime(2025, 5, 6, tzinfo=UTC)],
                      timestamps_reference_time=datetime(2024, 1, 2, 3, 0, 0, tzinfo=UTC),
                      subject=nzi.Subject(age="P30D", species="Mus musculus", subject_id="m1", sex="M",
                                          date_of_birth=datetime(2023, 12, 1, tzinfo=UTC)))
    cam = nwb.create_device("cam", description="behaviour camera", serial_number="SN-1")
    vid = nzi.ImageSeries("vid", movie((6, 5, 4), np.uint8), "n.a.", rate=30.0, starting_time=2.5, device=cam,
                          control=np.array([0, 1, 0, 1, 2, 2], np.uint8), control_description=["off", "on", "dim"],
                          dimension=[5, 4], comments="c", description="grayscale video", conversion=2.0,
                          offset=1.0, resolution=0.5, format="raw", num_samples=6)
    nwb.add_acquisition(vid)
    nwb.add_acquisition(nzi.ImageSeries("stack", movie((3, 4, 5, 2), np.uint16), "a.u.",
                                        timestamps=np.array([0.0, 0.5, 1.25]), description="4-D volume"))
    nwb.add_acquisition(nzi.ImageSeries("dff", movie((3, 3, 3), np.float32), "a.u.",
                                        timestamps=nwb.acquisition["stack"], description="timestamps linked to stack"))
    nwb.add_acquisition(nzi.ImageSeries("ext", external_file=["a.mp4", "sub/b.avi"], starting_frame=[0, 10],
                                        rate=30.0, num_samples=25, format="external", device=cam,
                                        description="external video"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", nzi.NWBDeprecationWarning)
        nwb.add_acquisition(nzi.ImageMaskSeries("mask", vid, movie((6, 5, 4), np.uint8, 1), "n.a.", rate=30.0,
                                                device=cam, description="mask of vid"))
    gray = nzi.GrayscaleImage("gray", movie((5, 4), np.uint8), resolution=2.0, description="a gray image")
    rgb = nzi.RGBImage("rgb", movie((5, 4, 3), np.uint8), description="a color image")
    rgba = nzi.RGBAImage("rgba", movie((5, 4, 4), np.uint16))
    images = nzi.Images("templates", images=[gray, rgb, rgba], description="stimulus images",
                        order_of_images=nzi.ImageReferences("order_of_images", [rgba, gray, rgb]))
    nwb.add_stimulus_template(images)
    nwb.add_stimulus(nzi.IndexSeries("shown", np.array([0, 2, 1, 1], np.uint32), "N/A", indexed_images=images,
                                     timestamps=[0.0, 1.0, 2.0, 3.0], description="which template"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", nzi.NWBDeprecationWarning)
        nwb.add_stimulus(nzi.IndexSeries("shown_frames", np.array([1, 0], np.uint32), "N/A",
                                         indexed_timeseries=vid, rate=1.0, description="frames of vid"))
    nwb.add_stimulus(nzi.OpticalSeries("screen", 0.7, [0.3, 0.2, 0.1], "up is dorsal",
                                       movie((2, 4, 5, 3), np.uint8), "n.a.", rate=60.0, device=cam))
    nwb.add_stimulus(nzi.OpticalSeries("screen2d", 1.0, (0.3, 0.2), "up", movie((2, 4, 5), np.uint8), "n.a.",
                                       rate=60.0))
    module = nwb.create_processing_module("ophys", "processed movies")
    module.add(nzi.ImageSeries("mean", movie((1, 5, 4), np.float32), "a.u.", rate=1.0, description="projection"))
    return nwb


def value(x: Any) -> Any:
    if x is None or isinstance(x, (str, int, float, nzi.Device)):
        return x
    if hasattr(x, "compute"):
        x = x.compute()
    return np.asarray(x.data if isinstance(x, nzi.ZarrDataIO) else x)


def assert_equal_field(a: Any, b: Any, where: str) -> None:
    va, vb = value(a), value(b)
    if isinstance(va, np.ndarray) or isinstance(vb, np.ndarray):
        va, vb = np.asarray(va), np.asarray(vb)
        if va.dtype.kind in "UO" or vb.dtype.kind in "UOT":
            assert va.astype(str).tolist() == vb.astype(str).tolist(), where
        else:
            np.testing.assert_array_equal(va, vb, err_msg=where)
        return
    if isinstance(va, nzi.Device) or isinstance(vb, nzi.Device):
        assert va.name == vb.name and va.object_id == vb.object_id, where
        return
    assert va == vb, f"{where}: {va!r} != {vb!r}"


def assert_same_series(a: nzi.TimeSeries, b: nzi.TimeSeries) -> None:
    """Every field of two series is equal (values and dtypes), links by name and object_id."""
    assert type(a) is type(b)
    assert (a.name, a.object_id) == (b.name, b.object_id)
    data_a, data_b = value(a.data), value(b.data)
    np.testing.assert_array_equal(data_a, data_b, err_msg=f"{a.name}.data")
    assert data_a.dtype == data_b.dtype, f"{a.name}.data dtype {data_a.dtype} != {data_b.dtype}"
    if a.timestamps is not None or b.timestamps is not None:
        ta, tb = value(a.timestamps), value(b.timestamps)
        np.testing.assert_array_equal(ta, tb, err_msg=f"{a.name}.timestamps")
        assert tb.dtype == np.float64
    fields = list(SERIES_FIELDS)
    if isinstance(a, nzi.ImageSeries):
        fields += (*IMAGE_SERIES_FIELDS, "num_samples")
        for link in ("device",):
            assert_equal_field(getattr(a, link), getattr(b, link), f"{a.name}.{link}")
    if isinstance(a, nzi.OpticalSeries):
        fields += OPTICAL_FIELDS
    for name in fields:
        assert_equal_field(getattr(a, name), getattr(b, name), f"{a.name}.{name}")
    for link in ("masked_imageseries", "indexed_timeseries", "indexed_images", "timestamps_link_target"):
        la, lb = getattr(a, link, None), getattr(b, link, None)
        assert (la is None) == (lb is None), f"{a.name}.{link}"
        if la is not None:
            assert (la.name, la.object_id) == (lb.name, lb.object_id), f"{a.name}.{link}"


def assert_same_image(a: nzi.Image, b: nzi.Image) -> None:
    assert type(a) is type(b) and (a.name, a.object_id) == (b.name, b.object_id)
    da, db = value(a.data), value(b.data)
    np.testing.assert_array_equal(da, db)
    assert da.dtype == db.dtype
    assert (a.resolution, a.description) == (b.resolution, b.description)


def edit_metadata(path: Any, key: str, change: Any) -> None:
    """Change the ``zarr.json`` of node ``key`` of a stored file in place, then re-consolidate (tests of damage)."""
    import json
    from pathlib import Path

    meta_path = Path(path) / key / "zarr.json"
    meta = json.loads(meta_path.read_text())
    change(meta)
    meta_path.write_text(json.dumps(meta))
    nzi.consolidate(str(path))
