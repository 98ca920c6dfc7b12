"""Corrupt and hostile files: a warning naming the problem and path (or our error); strict=True raises;
links never leave the file, link cycles do not hang, names from a file never escape the store."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from builders import edit_metadata, full_file, movie

import nwbzarr_image as nzi


def _attrs(**updates) -> Callable[[dict], None]:
    return lambda meta: meta["attributes"].update(updates)


def _links(*links: dict) -> Callable[[dict], None]:
    return lambda meta: meta["attributes"].update(_LINKS=list(links))


CASES = [
    ("acquisition/vid/starting_time", _attrs(rate="fast"), "/acquisition/vid/starting_time",
     "attribute 'rate' must be a number; got 'fast'"),
    ("acquisition/vid/data", _attrs(conversion=[1, 2]), "/acquisition/vid/data", "attribute 'conversion' must be"),
    ("acquisition/ext/external_file", _attrs(starting_frame="zero"), "/acquisition/ext/external_file",
     "'starting_frame' attribute is not a list of integers"),
    ("acquisition/vid", _links({"source": "../other.nwb.zarr", "path": "/general/devices/cam", "name": "device"}),
     "/acquisition/vid", "points to '/general/devices/cam' in another file ('../other.nwb.zarr'); links outside "
     "this file are not followed"),
    ("acquisition/vid", _links({"source": ".", "path": "/../../general/devices/nothing", "name": "device"}),
     "/acquisition/vid", "link 'device' points to '/general/devices/nothing', which is not in this file"),
    ("acquisition/vid/data", lambda m: m["attributes"].pop("unit"), "/acquisition/vid", "data has no 'unit'"),
    ("acquisition/vid/starting_time", _attrs(rate=-1.0), "/acquisition/vid", "rate must not be a negative value"),
]


@pytest.mark.parametrize(("key", "change", "path", "fragment"), CASES,
                         ids=["rate-text", "conversion-list", "starting-frame-text", "link-other-file",
                              "link-climbs", "no-unit", "negative-rate"])
def test_bad_values_warn_with_the_path_and_strict_raises(good: Path, key, change, path, fragment) -> None:
    edit_metadata(good, key, change)
    with pytest.warns(nzi.InvalidFileWarning) as caught:
        nwb = nzi.read(str(good))
    messages = [str(w.message) for w in caught if isinstance(w.message, nzi.InvalidFileWarning)]
    assert any(fragment in m and f"(at {path})" in m for m in messages), messages
    np.testing.assert_array_equal(nwb.acquisition["stack"].data.compute(), full_file().acquisition["stack"].data)
    with pytest.raises(nzi.SchemaError, match=f"{fragment[:25]}.*at {path}".replace("(", r"\(").replace(")", r"\)")):
        nzi.read(str(good), strict=True)


def test_the_other_store_of_an_outside_link_is_never_opened(good: Path, tmp_path: Path) -> None:
    other = tmp_path / "other.nwb.zarr"
    edit_metadata(good, "acquisition/vid", _links({"source": "../other.nwb.zarr", "path": "/general/devices/cam",
                                           "name": "device"}))
    with pytest.warns(nzi.InvalidFileWarning):
        nwb = nzi.read(str(good))
    assert nwb.acquisition["vid"].device is None and not other.exists()


CYCLE = textwrap.dedent("""
    import json, sys, warnings
    from pathlib import Path
    import nwbzarr_image as nzi
    path = Path(sys.argv[1])
    for name, other in (("a", "b"), ("b", "a")):
        meta = json.loads((path / "acquisition" / name / "zarr.json").read_text())
        meta["attributes"]["_LINKS"] = [{"source": ".", "path": f"/acquisition/{other}/{sys.argv[2]}",
                                         "name": sys.argv[2]}]
        (path / "acquisition" / name / "zarr.json").write_text(json.dumps(meta))
    nzi.consolidate(str(path))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        nwb = nzi.read(str(path))
        print(nwb.acquisition["a"].data.shape, nwb.acquisition["b"].timestamps is not None)
    print(sum("makes a cycle of links" in str(w.message) for w in caught))
""")


@pytest.mark.parametrize("member", ["data", "timestamps"])
def test_a_link_cycle_does_not_hang(tmp_path: Path, start_time, member: str) -> None:
    path = tmp_path / "f.nwb.zarr"
    nwb = nzi.NWBFile("s", "id", start_time)
    for name in ("a", "b"):
        nwb.add_acquisition(nzi.ImageSeries(name, movie((2, 3, 3), np.uint8), "n.a.", timestamps=[0.0, 1.0]))
    nzi.write(nwb, str(path))
    for name in ("a", "b"):  # drop the member the cycle replaces
        target = path / "acquisition" / name / member
        for child in sorted(target.rglob("*"), reverse=True):
            child.unlink() if child.is_file() else child.rmdir()
        target.rmdir()
    result = subprocess.run([sys.executable, "-c", CYCLE, str(path), member], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == "1"  # one of the two links closes the cycle and is dropped


def test_invalid_root_metadata_is_our_error(good: Path) -> None:
    (good / "zarr.json").write_text('{"zarr_format": 3, "node_type": "group", "attributes": {')
    with pytest.raises(nzi.LayoutError, match=r"the Zarr metadata is not valid .*The file is damaged"):
        nzi.read(str(good))


def test_a_reference_into_another_file_is_left_out(tmp_path: Path) -> None:
    import shutil

    fixtures = Path(__file__).parent / "fixtures" / "legacy_v2"
    copy = tmp_path / "v2.nwb.zarr"
    shutil.copytree(fixtures / "images_json.nwb.zarr", copy)
    key = copy / "stimulus/templates/template_images/order_of_images/0"
    import numcodecs

    meta = json.loads((copy / "stimulus/templates/template_images/order_of_images/.zarray").read_text())
    codec = numcodecs.get_codec(meta["compressor"])
    refs = numcodecs.JSON().decode(codec.decode(key.read_bytes()))
    refs[0] = {**refs[0], "source": "../elsewhere.nwb.zarr"}
    key.write_bytes(codec.encode(numcodecs.JSON().encode(np.asarray(refs, dtype=object))))
    images = nzi.read(str(copy)).stimulus_template["template_images"]
    with pytest.warns(nzi.InvalidFileWarning, match="points into another file; it is left out"):
        order = images.order_of_images
    assert [i.name for i in order.data] == ["gray", "rgb"]


def test_names_that_would_escape_the_store_are_refused(good: Path, tmp_path: Path) -> None:
    import shutil

    meta = json.loads((good / "zarr.json").read_text())
    meta["consolidated_metadata"]["metadata"]["acquisition/.."] = meta["consolidated_metadata"]["metadata"][
        "acquisition/vid"]
    (good / "zarr.json").write_text(json.dumps(meta))
    with pytest.raises(nzi.LayoutError, match=r"asks for the key 'acquisition/\.\.', which leaves the store"):
        nzi.read(str(good))
    legacy = tmp_path / "v2.nwb.zarr"  # legacy metadata is parsed by us: refused the same way
    shutil.copytree(Path(__file__).parent / "fixtures" / "legacy_v2" / "images_json.nwb.zarr", legacy)
    zmeta = json.loads((legacy / ".zmetadata").read_text())
    for key in [k for k in zmeta["metadata"] if k.startswith("acquisition/rate_video/")]:
        zmeta["metadata"][key.replace("acquisition/rate_video", "acquisition/..")] = zmeta["metadata"][key]
    (legacy / ".zmetadata").write_text(json.dumps(zmeta))
    with pytest.raises(nzi.LayoutError, match=r"asks for the key 'acquisition/\.\./.*', which leaves the store"):
        nzi.read(str(legacy))
    out = tmp_path / "sub" / "copy.nwb.zarr"
    assert not out.exists()


def test_a_missing_chunk_warns_with_its_path_and_strict_raises(good: Path) -> None:
    (good / "acquisition/vid/data/c.0.0.0").unlink()
    data = nzi.read(str(good)).acquisition["vid"].data
    with pytest.warns(nzi.MissingChunkWarning, match=r"/acquisition/vid/data: chunk\(s\) c\.0\.0\.0 are not stored"):
        values = data.compute()
    assert not values.any()  # the fill value
    strict = nzi.read(str(good), strict=True).acquisition["vid"].data
    with pytest.raises(nzi.CorruptDataError, match=r"/acquisition/vid/data: chunk\(s\) c\.0\.0\.0 are not stored"):
        strict.compute()


def test_a_truncated_chunk_is_our_error_naming_the_path(good: Path) -> None:
    chunk = good / "acquisition/vid/data/c.0.0.0"
    chunk.write_bytes(chunk.read_bytes()[:12])
    data = nzi.read(str(good)).acquisition["vid"].data
    with pytest.raises(nzi.CorruptDataError, match=r"/acquisition/vid/data: the stored values .* cannot be decoded"):
        data.compute()
    assert nzi.read(str(good)).acquisition["stack"].data.compute().shape == (3, 4, 5, 2)  # the rest reads


def test_every_chunk_is_stored_even_when_it_equals_the_fill_value(tmp_path: Path, start_time) -> None:
    nwb = nzi.NWBFile("s", "id", start_time)
    nwb.add_acquisition(nzi.ImageSeries("z", nzi.ZarrDataIO(np.zeros((6, 4, 4), np.uint8), chunks=(2, 4, 4)), "n.a.",
                                        rate=1.0))
    nzi.write(nwb, str(tmp_path / "f.nwb.zarr"))
    chunks = (tmp_path / "f.nwb.zarr/acquisition/z/data").glob("c.*")
    assert sorted(p.name for p in chunks) == ["c.0.0.0", "c.1.0.0", "c.2.0.0"]


@pytest.mark.parametrize("dtype", ["object_reference", 5, None, "str"], ids=["ref", "int", "null", "str"])
def test_a_wrong_dtype_attribute_does_not_break_reading(good: Path, dtype) -> None:
    edit_metadata(good, "acquisition/vid/data", _attrs(_DTYPE=dtype))
    data = nzi.read(str(good)).acquisition["vid"].data
    np.testing.assert_array_equal(data.compute(), full_file().acquisition["vid"].data)


def test_shape_metadata_larger_than_the_data_warns_for_the_missing_frames(good: Path) -> None:
    def grow(meta: dict) -> None:
        meta["shape"][0] = 12  # 6 frames were written, in one chunk of 6

    edit_metadata(good, "acquisition/vid/data", grow)
    data = nzi.read(str(good)).acquisition["vid"].data  # timed by rate: no length to compare with
    with pytest.warns(nzi.MissingChunkWarning, match=r"/acquisition/vid/data: chunk\(s\) c\.1\.0\.0 are not stored"):
        values = data.compute()
    np.testing.assert_array_equal(values[:6], full_file().acquisition["vid"].data)
    assert not values[6:].any()
