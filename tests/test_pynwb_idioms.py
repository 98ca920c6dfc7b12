"""pynwb 4.2 idioms that port with an import change (issue 12): each test builds the same content with pynwb
and with nwbzarr_image and compares them field by field.

NWBFile general metadata arguments, ``nwb.objects``, the ProcessingModule mapping API, ``get_*()`` without a
name, ZarrDataIO and DataChunk as array-likes, Subject's weight/age conversions, ExternalImage's constructor,
and ``os.PathLike`` paths.
"""

from __future__ import annotations

import inspect
import warnings
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pynwb
import pynwb.base
import pynwb.file
import pytest
from hdmf.data_utils import DataChunk as HdmfDataChunk
from hdmf.utils import get_docval
from hdmf_zarr.utils import ZarrDataIO as HdmfZarrDataIO
from interop_helpers import Lib, build_rich, same

import nwbzarr_image as nzi
from nwbzarr_image.iterators.data_chunk import DataChunk

OURS, PYNWB = Lib("ours"), Lib("pynwb")
START = datetime(2024, 3, 4, 9, 30, tzinfo=UTC)

GENERAL = {
    "experimenter": ["Doe, Jane", "Roe, Rick"],
    "experiment_description": "Mice view natural scenes",
    "session_id": "sess-042",
    "institution": "University of Somewhere",
    "keywords": ["vision", "two-photon"],
    "notes": "Second session of the day",
    "pharmacology": "none",
    "protocol": "IACUC 2024-17",
    "related_publications": "doi:10.1000/xyz123",
    "slices": "no slices",
    "source_script": "import pynwb",
    "source_script_file_name": "make_file.py",
    "was_generated_by": [["nwbzarr-image", "0.1.0"], ["acquisition-rig", "3.2"]],
    "data_collection": "ScanImage 2023",
    "surgery": "Cranial window over V1",
    "virus": "AAV1-syn-GCaMP6f",
    "stimulus_notes": "Natural scenes on a gamma-corrected monitor",
    "lab": "Vision lab",
}


def new_file(lib: Lib, **kw: Any) -> Any:
    return lib.new("NWBFile", session_description="idioms", identifier="idioms-1", session_start_time=START, **kw)


# -- 1. NWBFile's general metadata arguments --------------------------------------------------------------------

def test_nwbfile_takes_pynwbs_arguments_in_pynwbs_order_with_its_defaults() -> None:
    theirs = [d["name"] for d in get_docval(pynwb.NWBFile.__init__)]
    ours = list(inspect.signature(nzi.NWBFile.__init__).parameters)[1:]
    positional = [p.name for p in inspect.signature(nzi.NWBFile.__init__).parameters.values()
                  if p.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD][1:]
    # the same names in the same order, up to the collections this library holds
    assert positional == theirs[:len(positional)]
    assert positional[-1] == "stimulus_template" and "lab" in positional
    for name in GENERAL:
        assert name in ours
        theirs_default = next(d for d in get_docval(pynwb.NWBFile.__init__) if d["name"] == name)["default"]
        assert inspect.signature(nzi.NWBFile.__init__).parameters[name].default == theirs_default is None
    for name in ("processing", "devices", "subject"):
        assert name in theirs and name in ours


@pytest.mark.parametrize("how", ["keywords", "positional"])
def test_nwbfile_general_metadata_is_kept_as_pynwb_keeps_it(how: str) -> None:
    if how == "keywords":
        files = [new_file(lib, **GENERAL) for lib in (OURS, PYNWB)]
    else:
        order = [d["name"] for d in get_docval(pynwb.NWBFile.__init__)][3:24]
        args = ["idioms", "idioms-1", START, None, None] + [GENERAL.get(n) for n in order[2:]]
        files = [nzi.NWBFile(*args)]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            files.append(pynwb.NWBFile(*args))
    ours, theirs = files
    for name in GENERAL:
        assert same(getattr(ours, name), getattr(theirs, name)), name
        assert type(getattr(ours, name)) is type(getattr(theirs, name)), name
    assert ours.experimenter == theirs.experimenter == GENERAL["experimenter"]
    assert ours.related_publications == theirs.related_publications == ("doi:10.1000/xyz123",)


def test_nwbfile_single_experimenter_becomes_a_tuple_as_in_pynwb() -> None:
    ours, theirs = (new_file(lib, experimenter="Doe, Jane") for lib in (OURS, PYNWB))
    assert ours.experimenter == theirs.experimenter == ("Doe, Jane",)


@pytest.mark.parametrize(("kw", "ours_error", "their_error", "fragment"), [
    pytest.param({"source_script_file_name": "a.py"}, nzi.SchemaError, ValueError,
                 "'source_script' cannot be None when 'source_script_file_name' is set", id="file-name-alone"),
    pytest.param({"lab": 5}, nzi.ArgumentTypeError, TypeError, "'lab' must be str", id="lab-int"),
    pytest.param({"experimenter": 5}, nzi.ArgumentTypeError, TypeError, "'experimenter' must be a str or a list",
                 id="experimenter-int"),
    pytest.param({"keywords": "vision"}, nzi.ArgumentTypeError, TypeError, "'keywords' must be array data",
                 id="keywords-str"),
])
def test_nwbfile_bad_general_metadata(kw: dict[str, Any], ours_error: type, their_error: type,
                                      fragment: str) -> None:
    with pytest.raises(their_error):
        new_file(PYNWB, **kw)
    with pytest.raises(ours_error, match=fragment) as info:
        new_file(OURS, **kw)
    assert isinstance(info.value, their_error)


def test_nwbfile_external_resources_holds_its_place_but_must_be_none() -> None:
    assert list(inspect.signature(nzi.NWBFile.__init__).parameters).index("external_resources") == \
        [d["name"] for d in get_docval(pynwb.NWBFile.__init__)].index("external_resources") + 1
    with pytest.raises(nzi.ArgumentTypeError, match=r"'external_resources' .* not supported"):
        new_file(OURS, external_resources=object())


# -- 2. nwb.objects -------------------------------------------------------------------------------------------------

def _kinds(objects: dict[str, Any]) -> Counter[tuple[str, str]]:
    return Counter((type(obj).__name__, obj.name) for obj in objects.values())


def test_objects_maps_object_id_to_every_object_as_in_pynwb() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        ours, theirs = build_rich(OURS), build_rich(PYNWB)
    assert all(key == obj.object_id for key, obj in ours.objects.items())
    assert _kinds(ours.objects) == _kinds(theirs.objects)
    assert ours.objects[ours.subject.object_id] is ours.subject
    image = ours.stimulus_template["images"].images["gray"]
    assert ours.objects[image.object_id] is image
    module = ours.processing["behavior"]
    assert ours.objects[module["vid_smooth"].object_id] is module["vid_smooth"]


@pytest.mark.parametrize("writer", ["ours", "pynwb"])
def test_objects_of_a_read_file_are_pynwbs(writer: str, tmp_path: Path) -> None:
    from test_interop import pynwb_read, write_ours, write_pynwb

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        built = build_rich(OURS if writer == "ours" else PYNWB)
    path = (write_ours if writer == "ours" else write_pynwb)(built, tmp_path / "f.nwb.zarr")
    ours = nzi.read(path)
    with pynwb_read(path) as theirs:
        assert {k: (type(o).__name__, o.name) for k, o in ours.objects.items()} == \
            {k: (type(o).__name__, o.name) for k, o in theirs.objects.items()}


def test_objects_follows_later_additions() -> None:
    f = new_file(OURS)
    assert list(f.objects.values()) == [f]
    device = f.create_device("cam")
    assert f.objects[device.object_id] is device


# -- 3. ProcessingModule and get_* without a name -------------------------------------------------------------------

def _module(lib: Lib) -> tuple[Any, Any, Any]:
    a = lib.new("ImageSeries", name="a", data=np.zeros((2, 3, 4), np.uint8), unit="n.a.", rate=1.0)
    b = lib.new("ImageSeries", name="b", data=np.ones((2, 3, 4), np.uint8), unit="n.a.", rate=2.0)
    return lib.new("ProcessingModule", name="behavior", description="processed"), a, b


@pytest.mark.parametrize("lib", [OURS, PYNWB], ids=["ours", "pynwb"])
def test_processing_module_is_a_mapping_of_its_objects(lib: Lib) -> None:
    module, a, b = _module(lib)
    assert len(module) == 0
    with pytest.raises(ValueError, match="empty"):
        module.get()
    assert module.add(a) is a
    assert module.get() is a and module.get("a") is a and module["a"] is a
    module.add([b])
    assert len(module) == 2 and list(module.keys()) == ["a", "b"]
    assert list(module.values()) == [a, b] and list(module.items()) == [("a", a), ("b", b)]
    assert dict(module.containers) == {"a": a, "b": b} and module.containers is module.data_interfaces
    with pytest.raises(ValueError, match=r"[Mm]ore than one|holds 2 objects"):
        module.get()
    with pytest.raises(KeyError):
        module.get("c")
    with pytest.raises(KeyError):
        module["c"]


def test_processing_module_takes_a_dict_or_list_of_objects() -> None:
    for lib in (OURS, PYNWB):
        _, a, b = _module(lib)
        by_dict = lib.new("ProcessingModule", name="m", description="d", data_interfaces={"a": a, "b": b})
        assert list(by_dict.keys()) == ["a", "b"]


@pytest.mark.parametrize("getter", ["get_acquisition", "get_stimulus", "get_stimulus_template", "get_device",
                                    "get_processing_module", "get_analysis"])
def test_getters_without_a_name_return_the_only_element_or_raise_pynwbs_error(getter: str) -> None:
    results = {}
    for lib in (OURS, PYNWB):
        f = new_file(lib)
        with pytest.raises(ValueError, match="empty") as empty:
            getattr(f, getter)()
        made = []
        for name in ("x", "y"):
            made.append(_add_for(lib, f, getter, name))
            if name == "x":
                assert getattr(f, getter)() is made[0]
        with pytest.raises(ValueError, match=r"[Mm]ore than one|holds 2 objects") as several:
            getattr(f, getter)()
        with pytest.raises(KeyError):
            getattr(f, getter)("z")
        results[lib.kind] = (empty.value, several.value)
    for error in results["ours"]:
        assert isinstance(error, nzi.NameRequiredError) and f"{getter}(" in str(error)


def _add_for(lib: Lib, f: Any, getter: str, name: str) -> Any:
    series = lib.new("ImageSeries", name=name, data=np.zeros((2, 3, 4), np.uint8), unit="n.a.", rate=1.0)
    if getter == "get_device":
        return f.add_device(lib.new("Device", name=name)) or f.devices[name]
    if getter == "get_processing_module":
        module = lib.new("ProcessingModule", name=name, description="d")
        f.add_processing_module(module)
        return module
    adder = {"get_acquisition": f.add_acquisition, "get_stimulus": f.add_stimulus,
             "get_stimulus_template": f.add_stimulus_template, "get_analysis": f.add_analysis}[getter]
    adder(series)
    return series


# -- 4. ZarrDataIO and DataChunk stand for their data ---------------------------------------------------------------

def test_zarr_dataio_stands_for_its_data_as_hdmfs() -> None:
    frames = np.arange(4 * 3 * 2, dtype=np.uint16).reshape(4, 3, 2)
    wrapped = {"ours": nzi.ZarrDataIO(frames, chunks=(2, 3, 2)), "hdmf": HdmfZarrDataIO(frames, chunks=(2, 3, 2))}
    series = {kind: lib.new("ImageSeries", name="s", data=wrapped[k], unit="n.a.", rate=1.0)
              for kind, lib, k in (("ours", OURS, "ours"), ("pynwb", PYNWB, "hdmf"))}
    for data in (series["ours"].data, series["pynwb"].data):
        assert len(data) == 4 and data.shape == (4, 3, 2) and data.dtype == np.uint16
        np.testing.assert_array_equal(data[0:2], frames[0:2])
        np.testing.assert_array_equal(np.asarray(data), frames)
        np.testing.assert_array_equal(np.stack(list(data)), frames)
    assert series["ours"].data.ndim == 3 and series["ours"].data.size == frames.size
    np.testing.assert_array_equal(series["ours"].data[1, :, 0], series["pynwb"].data[1, :, 0])


def test_zarr_dataio_over_an_iterator_cannot_be_indexed() -> None:
    io = nzi.ZarrDataIO(nzi.DataChunkIterator(iter([np.zeros((3, 2))] * 4)))
    assert bool(io)
    with pytest.raises(nzi.ArgumentTypeError, match="only read when the file is written"):
        io[0]
    with pytest.raises(nzi.ArgumentTypeError, match="cannot convert"):
        np.asarray(io)


def test_data_chunk_is_array_like_as_hdmfs() -> None:
    block = np.zeros((2, 3), np.float32)
    ours = DataChunk(block, (slice(0, 2), slice(0, 3)))
    theirs = HdmfDataChunk(data=block, selection=(slice(0, 2), slice(0, 3)))
    for chunk in (ours, theirs):
        assert np.allclose(chunk, 0) and len(chunk) == 2
        assert chunk.shape == (2, 3) and chunk.dtype == np.float32 and chunk.ndim == 2
        assert chunk.get_min_bounds() == (2, 3)
        assert chunk.astype(np.float64).dtype == np.float64
    np.testing.assert_array_equal(np.asarray(ours), np.asarray(theirs))
    assert len(DataChunk()) == len(HdmfDataChunk()) == 0


# -- 5. Subject ------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("age", [timedelta(days=90), timedelta(days=90, hours=3), timedelta(seconds=1.5),
                                 timedelta(microseconds=100), timedelta(0), timedelta(days=-1, seconds=5),
                                 timedelta(days=400, hours=23, minutes=59, seconds=59, microseconds=999999), "P90D"],
                         ids=str)
def test_subject_age_timedelta_is_the_iso_duration_pynwb_writes(age: Any) -> None:
    ours, theirs = OURS.new("Subject", age=age), PYNWB.new("Subject", age=age)
    assert ours.age == theirs.age
    assert ours.age__reference == theirs.age__reference == "birth"


@pytest.mark.parametrize("weight", [0.02, 1e-07, 3.0, 1e20, np.float64(2.5), "21 g"], ids=str)
def test_subject_weight_number_is_kilograms_as_in_pynwb(weight: Any) -> None:
    assert OURS.new("Subject", weight=weight).weight == PYNWB.new("Subject", weight=weight).weight


def test_subject_weight_int_is_taken_as_a_float() -> None:
    with pytest.raises(TypeError):
        PYNWB.new("Subject", weight=3)  # pynwb: only float or str (our deliberate difference: ints hold floats)
    assert OURS.new("Subject", weight=3).weight == PYNWB.new("Subject", weight=3.0).weight == "3.0 kg"
    with pytest.raises(nzi.ArgumentTypeError, match="bool"):
        OURS.new("Subject", weight=True)


@pytest.mark.parametrize("reference", ["birth", "gestational", "unknown"])
def test_subject_age_reference(reference: str) -> None:
    if reference == "unknown":
        with pytest.raises(ValueError):
            PYNWB.new("Subject", age="P1D", age__reference=reference)
        with pytest.raises(nzi.SchemaError, match="age__reference"):
            OURS.new("Subject", age="P1D", age__reference=reference)
        return
    ours, theirs = (lib.new("Subject", age="P1D", age__reference=reference) for lib in (OURS, PYNWB))
    assert ours.age__reference == theirs.age__reference == reference


def test_subject_naive_date_of_birth_gets_the_local_zone_as_in_pynwb() -> None:
    born = datetime(2023, 10, 4, 8, 0)
    with pytest.warns(UserWarning):
        theirs = PYNWB.new("Subject", date_of_birth=born)
    with pytest.warns(nzi.NWBRuleWarning, match="date_of_birth"):
        ours = OURS.new("Subject", date_of_birth=born)
    assert ours.date_of_birth == theirs.date_of_birth
    assert ours.date_of_birth.utcoffset() == theirs.date_of_birth.utcoffset()


# -- 6. ExternalImage: constructor -----------------------------------------------------------------------------------

def test_external_image_takes_pynwbs_arguments() -> None:
    theirs = [d["name"] for d in get_docval(pynwb.base.ExternalImage.__init__)]
    assert list(inspect.signature(nzi.ExternalImage.__init__).parameters)[1:] == theirs
    kw = {"name": "scene", "data": "images/scene.png", "image_format": "PNG", "description": "a scene",
          "image_mode": "RGB"}
    ours, pyn = nzi.ExternalImage(**kw), pynwb.base.ExternalImage(**kw)
    for attr in kw:
        assert getattr(ours, attr) == getattr(pyn, attr), attr
    assert isinstance(ours, nzi.BaseImage) and not isinstance(ours, nzi.Image)
    images = nzi.Images("imgs", images=[ours], order_of_images=[ours])
    assert images["scene"] is ours and images.order_of_images[0] is ours


@pytest.mark.parametrize(("kw", "ours_error", "their_error"), [
    pytest.param({"image_format": "TIFF"}, nzi.SchemaError, ValueError, id="tiff"),
    pytest.param({"image_format": "png"}, nzi.SchemaError, ValueError, id="lowercase"),
    pytest.param({"data": 5}, nzi.ArgumentTypeError, TypeError, id="data-int"),
    pytest.param({"image_mode": 3}, nzi.ArgumentTypeError, TypeError, id="mode-int"),
])
def test_external_image_bad_arguments(kw: dict[str, Any], ours_error: type, their_error: type) -> None:
    args = {"name": "x", "data": "a.png", "image_format": "PNG", **kw}
    with pytest.raises(their_error):
        pynwb.base.ExternalImage(**args)
    with pytest.raises(ours_error):
        nzi.ExternalImage(**args)


# -- 7. os.PathLike paths ----------------------------------------------------------------------------------------------

def test_pathlike_paths_work_everywhere_a_path_string_does(tmp_path: Path) -> None:
    path = tmp_path / "session.nwb.zarr"
    f = new_file(OURS)
    frames = np.arange(6 * 4 * 4, dtype=np.uint16).reshape(6, 4, 4)
    f.add_acquisition(nzi.ImageSeries("movie", frames, "n.a.", rate=10.0))
    nzi.write(f, path)
    np.testing.assert_array_equal(nzi.read(path).acquisition["movie"].data.compute(), frames)
    with nzi.open(path, "a") as bound:
        bound.add_acquisition(nzi.ImageSeries("more", frames[:2], "n.a.", rate=10.0))
    nzi.consolidate(path)
    back = nzi.read(path)
    np.testing.assert_array_equal(back.acquisition["more"].data.compute(), frames[:2])
    copy = nzi.rechunk_series(back.acquisition["movie"], path, "traces", tile=(2, 2))
    np.testing.assert_array_equal(copy.data.compute(), frames)
    assert sorted(nzi.read(path).processing["rechunked"].keys()) == ["traces"]
