"""Helpers of test_interop.py: build the same NWB content with nwbzarr_image or with pynwb, and compare files.

A *lib* is ``Lib("ours")`` or ``Lib("pynwb")``; builders take one and return an NWBFile of that library.
``compare_files(expected, got)`` walks both files (either library) and returns the list of mismatches,
so that a failing test lists every differing field at once.
"""

from __future__ import annotations

import warnings
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from uuid import uuid4

import numpy as np
import pytest

import nwbzarr_image as nzi

TZ = timezone(timedelta(hours=-5))
SESSION_START = datetime(2024, 3, 4, 9, 30, 15, 250000, tzinfo=TZ)
REFERENCE_TIME = datetime(2024, 3, 4, 9, 0, 0, tzinfo=TZ)
CREATE_DATES = [datetime(2024, 3, 5, 12, 0, 0, tzinfo=TZ), datetime(2024, 3, 6, 8, 15, 30, 125000, tzinfo=UTC)]
EXTERNAL_FILES = ["videos/session_part_a.avi", "videos/session_part_b.avi"]

SUBJECT_BIRTH = datetime(2023, 10, 4, tzinfo=UTC)
TYPE_NAMES = ("NWBFile", "Device", "TimeSeries", "ImageSeries", "IndexSeries", "ImageMaskSeries", "OpticalSeries",
              "Image", "GrayscaleImage", "RGBImage", "RGBAImage", "Images", "ImageReferences", "ProcessingModule",
              "Subject")
COLLECTIONS = {"acquisition": "/acquisition", "analysis": "/analysis", "stimulus": "/stimulus/presentation",
               "stimulus_template": "/stimulus/templates", "devices": "/general/devices", "processing": "/processing"}


class Lib:
    """The classes of one library under the same names."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        if kind == "ours":
            self.ns = {n: getattr(nzi, n) for n in TYPE_NAMES}
        else:
            import pynwb
            import pynwb.base
            import pynwb.device
            import pynwb.file
            import pynwb.image

            self.ns = {n: getattr(pynwb.image, n, None) or getattr(pynwb.base, n, None) or getattr(pynwb, n, None)
                       or getattr(pynwb.file, n, None) or getattr(pynwb.device, n) for n in TYPE_NAMES}

    def new(self, type_name: str, **kw: Any) -> Any:
        return self.ns[type_name](**kw)

    def new_deprecated(self, type_name: str, **kw: Any) -> Any:
        """ImageMaskSeries, and IndexSeries with indexed_timeseries: ours warns; pynwb 4.2 only in construct mode."""
        cls = self.ns[type_name]
        if self.kind == "ours":
            with pytest.warns(DeprecationWarning):
                return cls(**kw)
        obj = cls.__new__(cls, container_source=None, parent=None, object_id=str(uuid4()), in_construct_mode=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            obj.__init__(**kw)
        obj._in_construct_mode = False
        return obj

    def new_file(self) -> Any:
        subject = self.new("Subject", subject_id="mouse-7", species="Mus musculus", sex="F", age="P90D",
                           description="head-fixed mouse", strain="C57BL/6J", weight="21 g",
                           date_of_birth=SUBJECT_BIRTH)
        return self.new("NWBFile", session_description="Interop test session: a mouse views natural images",
                        identifier="nwbzarr-image-interop-0001", session_start_time=SESSION_START,
                        file_create_date=list(CREATE_DATES), timestamps_reference_time=REFERENCE_TIME,
                        subject=subject)


def _rng() -> np.random.Generator:
    return np.random.default_rng(1234)


def frames(shape: tuple[int, ...], dtype: Any) -> np.ndarray:
    rng = _rng()
    if np.dtype(dtype).kind == "f":
        return rng.random(shape).astype(dtype)
    return rng.integers(0, np.iinfo(dtype).max, size=shape, endpoint=True).astype(dtype)


# -- builders -----------------------------------------------------------------------------------------------------

def add_camera(lib: Lib, f: Any) -> Any:
    camera = lib.new("Device", name="camera", description="Monochrome CMOS camera above the arena",
                     serial_number="SN-4471")
    f.add_device(camera)
    return camera


def add_movies(lib: Lib, f: Any, camera: Any) -> dict[str, Any]:
    vid = lib.new("ImageSeries", name="vid", data=frames((10, 6, 5), np.uint8), unit="n.a.", format="raw",
                  dimension=[6, 5], resolution=1.0, conversion=0.5, offset=0.25, starting_time=1.5, rate=30.0,
                  comments="8-bit frames of the behaviour camera", description="Behaviour video of the mouse",
                  control=np.array([0, 0, 1, 1, 1, 0, 0, 1, 1, 0], dtype=np.uint8),
                  control_description=["lights off", "lights on"], device=camera)
    vid16 = lib.new("ImageSeries", name="vid16", data=frames((8, 4, 3, 2), np.uint16), unit="photons",
                    timestamps=np.array([0.0, 0.1, 0.25, 0.4, 0.52, 0.61, 0.8, 0.95]),
                    description="Two-plane 16-bit volume series (frame, x, y, z)", device=camera)
    vid_f32 = lib.new("ImageSeries", name="vid_f32", data=frames((8, 5, 4), np.float32), unit="dF/F",
                      timestamps=vid16, description="Normalised fluorescence frames, timed like vid16")
    ext = lib.new("ImageSeries", name="ext", external_file=list(EXTERNAL_FILES), starting_frame=[0, 100],
                  format="external", num_samples=250, rate=25.0, dimension=[640, 480],
                  description="Raw behaviour video kept in external AVI files", device=camera)
    mask = lib.new_deprecated("ImageMaskSeries", name="mask", masked_imageseries=vid,
                              data=frames((10, 6, 5), np.uint8), unit="n.a.", rate=30.0, starting_time=1.5,
                              description="Alpha mask applied to the behaviour video")
    index_ts = lib.new_deprecated("IndexSeries", name="index_ts", data=np.array([0, 3, 5, 9], dtype=np.uint32),
                                  unit="N/A", indexed_timeseries=vid, rate=2.0,
                                  description="Frames of vid shown as a slide show (deprecated target)")
    for obj in (vid, vid16, vid_f32, ext, mask, index_ts):
        f.add_acquisition(obj)
    return {"vid": vid, "vid16": vid16}


def add_images(lib: Lib, f: Any) -> Any:
    gray = lib.new("GrayscaleImage", name="gray", data=frames((6, 5), np.uint8), resolution=2.5,
                   description="Grayscale natural scene")
    rgb = lib.new("RGBImage", name="rgb", data=frames((6, 5, 3), np.uint8), description="Colour natural scene")
    rgba = lib.new("RGBAImage", name="rgba", data=frames((6, 5, 4), np.float32), resolution=1.0,
                   description="Colour scene with transparency")
    plain = lib.new("Image", name="plain", data=frames((4, 3), np.uint16), description="Plain image")
    order = lib.new("ImageReferences", name="order_of_images", data=[rgb, gray, rgba, plain])
    images = lib.new("Images", name="images", images=[gray, rgb, rgba, plain],
                     description="Natural scenes presented to the mouse", order_of_images=order)
    f.add_stimulus_template(images)
    return images


def add_index(lib: Lib, f: Any, images: Any) -> None:
    f.add_stimulus(lib.new("IndexSeries", name="index", data=np.array([2, 0, 1, 3, 1, 0], dtype=np.uint32),
                           unit="N/A", indexed_images=images,
                           timestamps=np.array([0.0, 0.5, 1.7, 2.0, 3.1, 4.0]),
                           description="Order in which the natural scenes were shown",
                           comments="indices into images.order_of_images"))


def add_optical(lib: Lib, f: Any, camera: Any) -> None:
    f.add_stimulus(lib.new("OpticalSeries", name="optical", distance=0.7, field_of_view=[0.2, 0.1],
                           orientation="lower left is (0, 0)", data=frames((6, 4, 3, 3), np.uint8), unit="n.a.",
                           rate=10.0, description="RGB movie shown on the monitor"))
    f.add_stimulus(lib.new("OpticalSeries", name="optical3", distance=1.25, field_of_view=[0.3, 0.2, 0.05],
                           orientation="upper left is (0, 0)", data=frames((6, 5, 4), np.float32), unit="n.a.",
                           timestamps=np.array([0.0, 1.0, 2.5, 3.0, 4.5, 5.0]), device=camera,
                           description="Grayscale movie of the imaged volume", conversion=2.0))


def add_processing(lib: Lib, f: Any, vid: Any, vid16: Any) -> None:
    module = lib.new("ProcessingModule", name="behavior", description="Processed behaviour video")
    f.add_processing_module(module)
    module.add(lib.new("ImageSeries", name="vid_smooth", data=frames((8, 6, 5), np.float32), unit="n.a.",
                       timestamps=vid16, description="Temporally smoothed frames", comments="box filter"))
    # a data link stores no attributes of its own: unit/conversion/offset/resolution are read from the target
    module.add(lib.new("ImageSeries", name="vid_alias", data=vid, unit="n.a.", resolution=1.0, conversion=0.5,
                       offset=0.25, rate=30.0, starting_time=1.5,
                       description="The behaviour video again, stored as a link to its data"))
    # the deepest chunk keys of the file: a 4-D series inside a processing module (DANDI limits the tree depth)
    module.add(lib.new("ImageSeries", name="vid_volume", data=frames((4, 4, 3, 2), np.uint16), unit="photons",
                       timestamps=np.array([0.0, 0.5, 1.0, 1.5]), description="Registered two-plane volume"))


def build_rich(lib: Lib) -> Any:
    """One file with every type and optional field."""
    f = lib.new_file()
    camera = add_camera(lib, f)
    movies = add_movies(lib, f, camera)
    images = add_images(lib, f)
    add_index(lib, f, images)
    add_optical(lib, f, camera)
    add_processing(lib, f, movies["vid"], movies["vid16"])
    return f


def _single_image_series(lib: Lib, f: Any) -> None:
    f.add_acquisition(lib.new("ImageSeries", name="s", data=frames((6, 4, 3), np.uint16), unit="n.a.", rate=10.0,
                              description="16-bit frames"))


def _single_external(lib: Lib, f: Any) -> None:
    f.add_acquisition(lib.new("ImageSeries", name="s", external_file=[EXTERNAL_FILES[0]], format="external",
                              timestamps=np.arange(5) / 4.0, description="Frames in one external file"))


def _single_optical(lib: Lib, f: Any) -> None:
    f.add_stimulus(lib.new("OpticalSeries", name="s", distance=0.5, field_of_view=[0.1, 0.1],
                           orientation="up is up", data=frames((5, 4, 3, 3), np.uint8), unit="n.a.", rate=5.0,
                           description="RGB stimulus"))


def _single_mask(lib: Lib, f: Any) -> None:
    base = lib.new("ImageSeries", name="base", data=frames((5, 4, 3), np.uint8), unit="n.a.",
                   timestamps=[0.0, 0.2, 0.4, 0.7, 0.8], description="Masked movie")
    f.add_stimulus(base)
    f.add_stimulus(lib.new_deprecated("ImageMaskSeries", name="s", masked_imageseries=base,
                                      data=frames((5, 4, 3), np.uint8), unit="n.a.", timestamps=base,
                                      description="Mask"))


def _single_index_images(lib: Lib, f: Any) -> None:
    add_index(lib, f, add_images(lib, f))


def _single_index_timeseries(lib: Lib, f: Any) -> None:
    base = lib.new("ImageSeries", name="base", data=frames((5, 4, 3), np.uint8), unit="n.a.", rate=5.0,
                   description="Template movie")
    f.add_stimulus_template(base)
    f.add_stimulus(lib.new_deprecated("IndexSeries", name="s", data=[4, 0, 2], unit="N/A", indexed_timeseries=base,
                                      timestamps=[0.0, 1.0, 2.0], description="Frames of the template"))


def _single_module(lib: Lib, f: Any) -> None:
    module = lib.new("ProcessingModule", name="mod", description="A module")
    f.add_processing_module(module)
    module.add(lib.new("ImageSeries", name="s", data=frames((4, 3, 2), np.float32), unit="n.a.",
                       timestamps=[0.0, 0.1, 0.2, 0.3], description="Processed frames"))


def _single_camera(lib: Lib, f: Any) -> None:
    camera = add_camera(lib, f)
    f.add_acquisition(lib.new("ImageSeries", name="s", data=frames((4, 3, 2), np.uint8), unit="n.a.", rate=1.0,
                              device=camera, description="Camera frames"))


SINGLE_BUILDERS = {
    "ImageSeries": _single_image_series,
    "ImageSeries-external": _single_external,
    "ImageSeries-device": _single_camera,
    "OpticalSeries": _single_optical,
    "ImageMaskSeries": _single_mask,
    "IndexSeries-images": _single_index_images,
    "IndexSeries-timeseries": _single_index_timeseries,
    "ProcessingModule": _single_module,
}


def build_single(lib: Lib, kind: str) -> Any:
    f = lib.new_file()
    SINGLE_BUILDERS[kind](lib, f)
    return f


# -- reading values of either library -------------------------------------------------------------------------------

def is_pynwb(obj: Any) -> bool:
    return hasattr(obj, "fields") and hasattr(obj, "container_source")


def raw_link(obj: Any, name: str) -> Any:
    """The series that ``data``/``timestamps`` links to, or None."""
    if is_pynwb(obj):
        value = obj.fields.get(name)
        return value if type(value).__name__ in SERIES_TYPES else None
    return obj.data_link_target if name == "data" else obj.timestamps_link_target


def explicit_num_samples(obj: Any) -> Any:
    return obj._num_samples if is_pynwb(obj) else obj.explicit_num_samples


def materialize(value: Any) -> Any:
    """numpy / python values from dask, zarr, lists, numpy scalars, bytes."""
    if value is None:
        return None
    if hasattr(value, "compute"):
        value = value.compute()
    if isinstance(value, bytes):
        return value.decode("utf-8")
    if isinstance(value, (str, datetime, bool)):
        return value
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (int, float)):
        return value
    if not isinstance(value, np.ndarray) and hasattr(value, "shape") and hasattr(value, "dtype"):
        value = value[...]  # zarr array
    arr = np.asarray(value)
    if arr.dtype.kind in "OUST" or "String" in type(arr.dtype).__name__:
        return [materialize(v) for v in arr.ravel().tolist()]
    return arr


def same(a: Any, b: Any) -> bool:
    a, b = materialize(a), materialize(b)
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return (isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and a.shape == b.shape
                and np.array_equal(a, b, equal_nan=a.dtype.kind == "f"))
    if isinstance(a, datetime) and isinstance(b, datetime):
        return a == b and a.utcoffset() == b.utcoffset()
    if isinstance(a, float) or isinstance(b, float):
        return a is not None and b is not None and float(a) == float(b)
    return a == b


def dtype_of(value: Any) -> Any:
    dtype = getattr(value, "dtype", None)
    return np.dtype(dtype) if dtype is not None else np.asarray(value).dtype


def datetimes(value: Any) -> list[datetime]:
    items = value if isinstance(value, (list, tuple)) else materialize(value)
    if isinstance(items, np.ndarray):
        items = items.tolist()
    return [d if isinstance(d, datetime) else datetime.fromisoformat(str(materialize(d))) for d in items]


SERIES_TYPES = {"TimeSeries", "ImageSeries", "ImageMaskSeries", "OpticalSeries", "IndexSeries"}
IMAGE_TYPES = {"Image", "GrayscaleImage", "RGBImage", "RGBAImage"}
SERIES_FIELDS = ("description", "comments", "unit", "conversion", "offset", "resolution", "rate", "starting_time",
                 "control", "control_description")
IMAGE_SERIES_FIELDS = ("format", "external_file", "starting_frame", "dimension", "bits_per_pixel")
OPTICAL_FIELDS = ("distance", "field_of_view", "orientation")
LINK_FIELDS = {"ImageSeries": ("device",), "OpticalSeries": ("device",), "ImageMaskSeries": ("device",
               "masked_imageseries"), "IndexSeries": ("indexed_images", "indexed_timeseries")}


def object_paths(f: Any) -> dict[str, Any]:
    """Absolute path -> object for every object of a file of either library."""
    out: dict[str, Any] = {}

    def place(obj: Any, path: str) -> None:
        out[path] = obj
        if type(obj).__name__ == "Images":
            for name, image in obj.images.items():
                out[f"{path}/{name}"] = image
        if type(obj).__name__ == "ProcessingModule":
            for name, child in obj.data_interfaces.items():
                place(child, f"{path}/{name}")

    for attr, base in COLLECTIONS.items():
        for name, obj in getattr(f, attr).items():
            place(obj, f"{base}/{name}")
    return out


class Comparison:
    def __init__(self, expected: Any, got: Any) -> None:
        self.exp_file, self.got_file = expected, got
        self.exp_paths, self.got_paths = object_paths(expected), object_paths(got)
        self.exp_where = {id(o): p for p, o in self.exp_paths.items()}
        self.got_where = {id(o): p for p, o in self.got_paths.items()}
        self.errors: list[str] = []

    def fail(self, path: str, what: str, exp: Any, got: Any) -> None:
        self.errors.append(f"{path} {what}: expected {_short(exp)}, got {_short(got)}")

    def value(self, path: str, what: str, exp: Any, got: Any, *, dtype: bool = False) -> None:
        if not same(exp, got):
            self.fail(path, what, materialize(exp), materialize(got))
        elif dtype and exp is not None and not isinstance(exp, (list, tuple)) and dtype_of(exp) != dtype_of(got):
            # a list has no dtype of its own: the writer's rule decides (test_same_zarr_layout_as_hdmf_zarr)
            self.fail(path, f"{what}.dtype", dtype_of(exp), dtype_of(got))

    def link(self, path: str, what: str, exp: Any, got: Any) -> None:
        """``got`` must be the very object of the read file at the path where ``exp`` is in the written one."""
        if exp is None or got is None:
            if exp is not got:
                self.fail(path, what, exp, got)
            return
        exp_path = self.exp_where.get(id(exp), f"<not in file: {exp!r}>")
        got_path = self.got_where.get(id(got), f"<not an object of the read file: {got!r}>")
        if exp_path != got_path:
            self.fail(path, f"{what} (link target)", exp_path, got_path)
        elif self.got_paths[got_path] is not got:
            self.fail(path, f"{what} (identity)", "the read object", "a copy")

    def run(self) -> list[str]:
        self.root()
        if sorted(self.exp_paths) != sorted(self.got_paths):
            self.fail("/", "object paths", sorted(self.exp_paths), sorted(self.got_paths))
        for path, exp in self.exp_paths.items():
            got = self.got_paths.get(path)
            if got is None:
                continue
            kind = type(exp).__name__
            if type(got).__name__ != kind:
                self.fail(path, "type", kind, type(got).__name__)
                continue
            if got.name != exp.name:
                self.fail(path, "name", exp.name, got.name)
            if got.object_id != exp.object_id:
                self.fail(path, "object_id", exp.object_id, got.object_id)
            if kind in SERIES_TYPES:
                self.series(path, exp, got)
            elif kind in IMAGE_TYPES:
                self.image(path, exp, got)
            elif kind == "Images":
                self.images(path, exp, got)
            elif kind == "Device":
                for attr in ("description", "serial_number", "manufacturer", "model_number", "model_name"):
                    self.value(path, attr, getattr(exp, attr, None), getattr(got, attr, None))
            elif kind == "ProcessingModule":
                self.value(path, "description", exp.description, got.description)
        return self.errors

    def root(self) -> None:
        e, g = self.exp_file, self.got_file
        for attr in ("identifier", "session_description", "session_start_time", "timestamps_reference_time"):
            self.value("/", attr, getattr(e, attr), getattr(g, attr))
        exp_dates, got_dates = datetimes(e.file_create_date), datetimes(g.file_create_date)
        if len(exp_dates) != len(got_dates) or not all(same(a, b) for a, b in zip(exp_dates, got_dates, strict=False)):
            self.fail("/", "file_create_date", exp_dates, got_dates)
        if g.object_id != e.object_id:
            self.fail("/", "object_id", e.object_id, g.object_id)
        for attr in ("subject_id", "species", "sex", "age", "age__reference", "description", "strain", "weight",
                     "date_of_birth", "object_id"):
            self.value("/general/subject", attr, getattr(e.subject, attr), getattr(g.subject, attr))

    def series(self, path: str, exp: Any, got: Any) -> None:
        kind = type(exp).__name__
        fields = SERIES_FIELDS
        if kind in ("ImageSeries", "ImageMaskSeries", "OpticalSeries"):
            fields += IMAGE_SERIES_FIELDS
        if kind == "OpticalSeries":
            fields += OPTICAL_FIELDS
        for attr in fields:
            self.value(path, attr, getattr(exp, attr), getattr(got, attr), dtype=attr == "control")
        if kind != "IndexSeries" and kind != "TimeSeries":
            self.value(path, "num_samples (explicit)", explicit_num_samples(exp), explicit_num_samples(got))
        for attr in ("timestamps_unit", "interval", "starting_time_unit"):
            if getattr(exp, attr, None) is not None:
                self.value(path, attr, getattr(exp, attr), getattr(got, attr, None))
        for member in ("data", "timestamps"):
            exp_link, got_link = raw_link(exp, member), raw_link(got, member)
            if exp_link is not None or got_link is not None:
                self.link(path, f"{member} link", exp_link, got_link)
            self.value(path, member, getattr(exp, member), getattr(got, member), dtype=True)
        for attr in LINK_FIELDS.get(kind, ()):
            self.link(path, attr, getattr(exp, attr), getattr(got, attr))

    def image(self, path: str, exp: Any, got: Any) -> None:
        self.value(path, "data", exp.data, got.data, dtype=True)
        self.value(path, "resolution", exp.resolution, got.resolution)
        self.value(path, "description", exp.description, got.description)

    def images(self, path: str, exp: Any, got: Any) -> None:
        self.value(path, "description", exp.description, got.description)
        e_order, g_order = exp.order_of_images, got.order_of_images
        if e_order is None or g_order is None:
            if e_order is not g_order:
                self.fail(path, "order_of_images", e_order, g_order)
            return
        if g_order.object_id != e_order.object_id:
            self.fail(path, "order_of_images.object_id", e_order.object_id, g_order.object_id)
        if g_order.name != "order_of_images":
            self.fail(path, "order_of_images.name", "order_of_images", g_order.name)
        e_items, g_items = list(e_order.data), list(g_order.data)
        if len(e_items) != len(g_items):
            self.fail(path, "len(order_of_images)", len(e_items), len(g_items))
        for i, (a, b) in enumerate(zip(e_items, g_items, strict=False)):
            self.link(path, f"order_of_images[{i}]", a, b)


def compare_files(expected: Any, got: Any) -> list[str]:
    return Comparison(expected, got).run()


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 160 else text[:157] + "..."
