"""Interoperability with pynwb 4.2 + hdmf-zarr 0.14: each library reads the other's files, field by field.

The content is built twice, once with nwbzarr_image and once with pynwb (tests/interop_helpers.py), so that
the object read back by one library can be compared with the object written by the other.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dask.array as da
import numpy as np
import nwbinspector
import pytest
import zarr
from hdmf.build.warnings import DtypeConversionWarning
from hdmf_zarr.nwb import NWBZarrIO
from interop_helpers import EXTERNAL_FILES, SINGLE_BUILDERS, Lib, build_rich, build_single, compare_files

import nwbzarr_image as nzi

OURS, PYNWB = Lib("ours"), Lib("pynwb")


def write_ours(nwbfile: Any, path: Path) -> Path:
    with warnings.catch_warnings():
        # the external files of the interop content do not exist, so num_samples cannot be derived from them
        warnings.filterwarnings("ignore", message=".*num_samples is not written", category=nzi.NWBRuleWarning)
        nzi.write(nwbfile, str(path))
    return path


def write_pynwb(nwbfile: Any, path: Path) -> Path:
    with warnings.catch_warnings():
        # hdmf warns when it stores a list of ints as the unsigned dtype of the spec (IndexSeries.data)
        warnings.filterwarnings("ignore", category=DtypeConversionWarning)
        with NWBZarrIO(str(path), mode="w") as io:
            io.write(nwbfile)
    return path


@contextlib.contextmanager
def pynwb_read(path: Path) -> Iterator[Any]:
    io = NWBZarrIO(str(path), mode="r")
    try:
        yield io.read()
    finally:
        io.close()


def listing(errors: list[str]) -> str:
    return f"{len(errors)} field(s) differ:\n" + "\n".join(errors)


@pytest.fixture(scope="module")
def ours_rich(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Path]:
    """The rich file built and written by nwbzarr_image, with its external video files next to it."""
    folder = tmp_path_factory.mktemp("ours")
    for name in EXTERNAL_FILES:
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(b"RIFF")
    nwbfile = build_rich(OURS)
    return nwbfile, write_ours(nwbfile, folder / "ours.nwb.zarr")


@pytest.fixture(scope="module")
def pynwb_rich(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Path]:
    nwbfile = build_rich(PYNWB)
    return nwbfile, write_pynwb(nwbfile, tmp_path_factory.mktemp("pynwb") / "pynwb.nwb.zarr")


# -- 1. ours -> pynwb ---------------------------------------------------------------------------------------------

def test_pynwb_reads_every_field_we_write(ours_rich: tuple[Any, Path]) -> None:
    ours, path = ours_rich
    with pynwb_read(path) as pyf:
        errors = compare_files(ours, pyf)
        assert not errors, listing(errors)

        acq = pyf.acquisition
        assert type(pyf).__module__.startswith("pynwb")
        assert acq["mask"].masked_imageseries is acq["vid"]
        assert acq["index_ts"].indexed_timeseries is acq["vid"]
        assert pyf.stimulus["index"].indexed_images is pyf.stimulus_template["images"]
        assert acq["vid"].device is pyf.devices["camera"]
        assert acq["vid_f32"].fields["timestamps"] is acq["vid16"]
        assert pyf.processing["behavior"]["vid_smooth"].fields["timestamps"] is acq["vid16"]
        assert pyf.processing["behavior"]["vid_alias"].fields["data"] is acq["vid"]
        order = pyf.stimulus_template["images"].order_of_images
        assert [img.name for img in order.data] == ["rgb", "gray", "rgba", "plain"]
        assert order.data[0] is pyf.stimulus_template["images"].images["rgb"]
        assert acq["vid"].data.dtype == np.uint8
        assert acq["vid16"].data.dtype == np.uint16 and acq["vid16"].data.shape == (8, 4, 3, 2)
        assert acq["vid_f32"].data.dtype == np.float32
        assert pyf.stimulus["index"].data.dtype == np.uint32
        assert acq["ext"].num_samples == 250
        assert list(acq["ext"].external_file[:]) == EXTERNAL_FILES
        assert list(acq["ext"].starting_frame) == [0, 100]
        np.testing.assert_array_equal(pyf.stimulus["optical3"].field_of_view[:], [0.3, 0.2, 0.05])
        assert pyf.object_id == ours.object_id
        assert pyf.identifier == "nwbzarr-image-interop-0001"


# -- 2. pynwb -> ours ---------------------------------------------------------------------------------------------

def test_we_read_every_field_pynwb_writes(pynwb_rich: tuple[Any, Path]) -> None:
    pynwb_file, path = pynwb_rich
    got = nzi.read(str(path))
    errors = compare_files(pynwb_file, got)
    assert not errors, listing(errors)

    acq = got.acquisition
    assert isinstance(got, nzi.NWBFile)
    for series in (acq["vid"], acq["vid16"], acq["vid_f32"], acq["mask"], got.stimulus["optical"]):
        assert isinstance(series.data, da.Array)
    assert isinstance(acq["vid16"].timestamps, da.Array)
    assert acq["vid16"].data.dtype == np.uint16
    np.testing.assert_array_equal(acq["vid16"].data.compute(), pynwb_file.acquisition["vid16"].data)
    assert acq["mask"].masked_imageseries is acq["vid"]
    assert acq["index_ts"].indexed_timeseries is acq["vid"]
    assert got.stimulus["index"].indexed_images is got.stimulus_template["images"]
    assert acq["vid_f32"].timestamps_link_target is acq["vid16"]
    assert got.processing["behavior"]["vid_alias"].data_link_target is acq["vid"]
    assert acq["ext"].explicit_num_samples == 250
    assert got.object_id == pynwb_file.object_id
    assert got.stimulus_template["images"].order_of_images.object_id == \
        pynwb_file.stimulus_template["images"].order_of_images.object_id


# -- 3. nwbinspector ----------------------------------------------------------------------------------------------

INSPECTOR_IGNORE = [
    # nwbinspector 0.7 reads `array.compressor`, which zarr 3 raises on for every v3 array (pynwb's files too)
    "check_large_dataset_compression",
    "check_small_dataset_compression",
]


def test_nwbinspector_finds_nothing_critical(ours_rich: tuple[Any, Path]) -> None:
    _, path = ours_rich
    with pynwb_read(path) as pyf:
        messages = [m for m in nwbinspector.inspect_nwbfile_object(pyf, ignore=INSPECTOR_IGNORE) if m is not None]
    assert pyf.acquisition is not None and len(pyf.acquisition) == 6
    critical = [m for m in messages if m.importance == nwbinspector.Importance.CRITICAL]
    assert not critical, "\n".join(f"{m.check_function_name} at {m.location}: {m.message}" for m in messages)
    crashed = [m for m in messages if m.importance == nwbinspector.Importance.ERROR]
    assert not crashed, "\n".join(f"{m.check_function_name} at {m.location}: {m.message[:300]}" for m in crashed)
    # the inspector did look at our objects: the deprecated IndexSeries target is reported, as for pynwb's files
    flagged = {(m.check_function_name, m.location) for m in messages}
    assert ("check_index_series_points_to_image", "/acquisition/index_ts") in flagged, flagged


# -- 4. one small file per type, both directions ------------------------------------------------------------------

@pytest.mark.parametrize("kind", sorted(SINGLE_BUILDERS))
def test_round_trip_ours_to_pynwb(kind: str, tmp_path: Path) -> None:
    ours = build_single(OURS, kind)
    path = write_ours(ours, tmp_path / "ours.nwb.zarr")
    with pynwb_read(path) as pyf:
        errors = compare_files(ours, pyf)
        assert not errors, listing(errors)
        assert len(list(pyf.objects.values())) > 1


@pytest.mark.parametrize("kind", sorted(SINGLE_BUILDERS))
def test_round_trip_pynwb_to_ours(kind: str, tmp_path: Path) -> None:
    pynwb_file = build_single(PYNWB, kind)
    got = nzi.read(str(write_pynwb(pynwb_file, tmp_path / "pynwb.nwb.zarr")))
    errors = compare_files(pynwb_file, got)
    assert not errors, listing(errors)
    assert got.identifier == pynwb_file.identifier


# -- 5. the same bytes-level layout as hdmf-zarr 0.14 -------------------------------------------------------------

def zarr_tree(path: Path) -> dict[str, Any]:
    """Every node below the root: array dtype, shape, values and attributes.

    Left out: object ids (random), the spec cache (not written by nwbzarr_image), the order of ``_LINKS``
    entries, and empty groups without attributes (e.g. ``/general/devices`` of a file without devices,
    which pynwb omits and we write; harmless to readers).
    """
    root = zarr.open_group(str(path), mode="r")
    out: dict[str, Any] = {"/": {k: v for k, v in root.attrs.items() if k not in ("object_id", ".specloc")}}
    for name, node in root.members(max_depth=None):
        if name == "specifications" or name.startswith("specifications/"):
            continue
        attrs = {k: v for k, v in node.attrs.items() if k != "object_id"}
        if "_LINKS" in attrs:
            attrs["_LINKS"] = sorted(attrs["_LINKS"], key=lambda link: link["name"])
        if isinstance(node, zarr.Array):
            values = node[...]
            if name in ("file_create_date",) or name.endswith("order_of_images"):
                values = np.asarray(values, dtype=object)
            out[name] = ("array", str(node.dtype), node.shape, attrs, np.asarray(values).tolist())
        else:
            out[name] = ("group", attrs)
    for name in sorted(out, key=lambda n: -n.count("/")):  # deepest first, so that empty parents go too
        if out[name] == ("group", {}) and not any(other.startswith(name + "/") for other in out):
            del out[name]
    return out


@pytest.mark.parametrize("kind", ["rich", *sorted(SINGLE_BUILDERS)])
def test_same_zarr_layout_as_hdmf_zarr(kind: str, tmp_path: Path) -> None:
    def build(lib: Lib) -> Any:
        return build_rich(lib) if kind == "rich" else build_single(lib, kind)

    ours = zarr_tree(write_ours(build(OURS), tmp_path / "ours.nwb.zarr"))
    theirs = zarr_tree(write_pynwb(build(PYNWB), tmp_path / "pynwb.nwb.zarr"))
    differences = [f"{name}:\n    ours  {ours.get(name)!r:.300}\n    pynwb {theirs.get(name)!r:.300}"
                   for name in sorted(set(ours) | set(theirs)) if ours.get(name) != theirs.get(name)]
    assert not differences, listing(differences)
    typed = [name for name, node in ours.items() if name != "/" and node[0] == "group" and "neurodata_type" in node[1]]
    assert typed, "no typed group was written"
