"""`dandi validate` (dandi-cli 0.81, in a venv of its own: tests/dandi_cli.py) on dandisets laid out in a temporary
directory: a video converted by `nwbzarr-image convert` and a file holding every type pass, but for TensorStore's
refusal of Zarr v3 string arrays (dandi-cli #1918: no string encoding is readable by both TensorStore and
pynwb + hdmf-zarr 0.14; see the README)."""

from __future__ import annotations

import json
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import zarr
from dandi_cli import dandi_validate, dandi_venv
from hdmf.build.errors import ConstructError
from hdmf_zarr.nwb import NWBZarrIO
from interop_helpers import Lib, build_rich

import nwbzarr_image as nzi

ROOT = Path(__file__).resolve().parent.parent
DANDISET_YAML = """identifier: DANDI:000000
name: nwbzarr-image test dandiset
description: A converted behaviour video and a file holding every NWB image type, written by nwbzarr-image.
"""
STRING_ERROR = "zarr.tensorstore_cannot_open"


def asset(dandiset: Path, subject: str) -> Path:
    folder = dandiset / f"sub-{subject}"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"sub-{subject}_ses-1_behavior.nwb.zarr"


def converted_video(dandiset: Path, scratch: Path) -> Path:
    video = scratch / "cam.mp4"
    subprocess.run([sys.executable, str(ROOT / "examples/make_sample_video.py"), str(video), "--frames", "40"],
                   check=True, capture_output=True)
    out = asset(dandiset, "cam01")
    subprocess.run([str(Path(sys.executable).parent / "nwbzarr-image"), "convert", str(video), str(out),
                    "--no-progress"], check=True, capture_output=True)
    return out


def every_type_ours(dandiset: Path) -> Path:
    out = asset(dandiset, "mouse7")
    with warnings.catch_warnings():
        # its external files are not in the dandiset: num_samples is given, nothing to count
        warnings.filterwarnings("ignore", message=".*num_samples is not written", category=nzi.NWBRuleWarning)
        nzi.write(build_rich(Lib("ours")), str(out))
    return out


def every_type_pynwb(dandiset: Path) -> Path:
    out = asset(dandiset, "mouse7")
    with NWBZarrIO(str(out), mode="w") as io:
        io.write(build_rich(Lib("pynwb")))
    return out


def dandiset(folder: Path) -> Path:
    folder.mkdir(parents=True)
    (folder / "dandiset.yaml").write_text(DANDISET_YAML)
    return folder


@pytest.fixture(scope="module")
def validated(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Two dandisets, ours and the same content written by pynwb + hdmf-zarr 0.14, validated in one run."""
    base = tmp_path_factory.mktemp("dandi")
    ours, theirs = dandiset(base / "ours"), dandiset(base / "pynwb")
    files = {"video": converted_video(ours, base), "every_type": every_type_ours(ours),
             "pynwb": every_type_pynwb(theirs)}
    code, results = dandi_validate([ours, theirs], base / "home")
    return {"code": code, "results": results, "files": files, "ours": ours, "pynwb": theirs}


def string_arrays(store: Path) -> set[Path]:
    found = set()
    for meta in store.rglob("zarr.json"):
        node = json.loads(meta.read_text())
        if node.get("node_type") == "array" and node.get("data_type") == "string":
            found.add(meta.parent)
    return found


def within(results: list[dict[str, Any]], folder: Path) -> list[dict[str, Any]]:
    return [r for r in results if Path(r["path"]).is_relative_to(folder)]


def errors(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in results if r["severity"] in ("ERROR", "CRITICAL")]


@pytest.mark.parametrize("name", ["video", "every_type"])
def test_dandi_validate_reports_no_error_but_tensorstore_s_on_string_arrays(validated: dict, name: str) -> None:
    store = validated["files"][name]
    found = errors(within(validated["results"], store))
    others = [f"{r['id']} {r['path']}: {r['message']}" for r in found if r["id"] != STRING_ERROR]
    assert not others, "\n".join(others)
    refused = {Path(r["path"]) for r in found}
    # exactly the string arrays: every numeric and boolean array opened in TensorStore, every string one did not
    assert refused == string_arrays(store)
    assert {store / "identifier", store / "session_start_time"} <= refused


def test_nothing_else_in_our_dandiset_is_an_error(validated: dict) -> None:
    found = errors(within(validated["results"], validated["ours"]))
    assert {r["id"] for r in found} == {STRING_ERROR}
    assert validated["code"] == 1  # dandi exits non-zero for the string arrays (and the pynwb file)


def test_the_same_content_written_by_pynwb_is_too_deep_for_dandi(validated: dict) -> None:
    """The control: hdmf-zarr 0.14 writes zarr-python's "/" keys, and dandi's depth check fires on them."""
    found = errors(within(validated["results"], validated["pynwb"]))
    depth = [r for r in found if r["id"] == "dandi_zarr.tree_depth_exceeded"]
    assert [Path(r["path"]) for r in depth] == [validated["files"]["pynwb"]]
    assert (validated["files"]["pynwb"] / "processing/behavior/vid_volume/data/c/0/0/0/0").is_file()


# -- no string encoding both TensorStore and pynwb read as text ---------------------------------------------------

TEXT = "a session description"
ENCODED = TEXT.encode()
CANDIDATES: dict[str, tuple[Any, Any]] = {  # zarr v3 data_type name -> (numpy dtype, stored value)
    "string": (str, np.array(TEXT)),
    "null_terminated_bytes": (f"S{len(ENCODED)}", np.array(ENCODED)),
    "fixed_length_utf32": (f"U{len(TEXT)}", np.array(TEXT, f"U{len(TEXT)}")),
    "raw_bytes": (f"V{len(ENCODED)}", np.frombuffer(ENCODED, f"V{len(ENCODED)}").reshape(())),
    "uint8": (np.uint8, np.frombuffer(ENCODED, np.uint8)),
}
TENSORSTORE_OPEN = """
import json, sys
import tensorstore as ts
out = {}
for path in sys.argv[1:]:
    try:
        ts.open({"driver": "zarr3", "kvstore": {"driver": "file", "path": path}}, read=True).result()
        out[path] = True
    except Exception:
        out[path] = False
print(json.dumps(out))
"""


def _with_session_description(path: Path, dtype: Any, value: np.ndarray, start_time: Any) -> Path:
    nzi.write(nzi.NWBFile(TEXT, "strings-1", start_time), str(path))
    root = zarr.open_group(str(path), mode="r+", use_consolidated=False)
    array = root.create_array("session_description", shape=value.shape, dtype=dtype, overwrite=True,
                              attributes={"_DTYPE": "text"})
    array[...] = value
    zarr.consolidate_metadata(str(path))
    return path / "session_description"


def _pynwb_reads_text(path: Path) -> bool:
    try:
        with NWBZarrIO(str(path), mode="r") as io:
            return io.read().session_description == TEXT
    except ConstructError:  # NWBFile.__init__: incorrect type for 'session_description' (got 'void', ...)
        return False


# zarr-python: S, U and V have no Zarr v3 data type spec yet (zarr-extensions), it warns on every use
@pytest.mark.filterwarnings("ignore::zarr.errors.UnstableSpecificationWarning")
def test_no_string_encoding_is_read_by_both_tensorstore_and_pynwb(tmp_path: Path, start_time) -> None:
    arrays = {name: _with_session_description(tmp_path / f"{name}.nwb.zarr", dtype, value, start_time)
              for name, (dtype, value) in CANDIDATES.items()}
    for name, array in arrays.items():
        stored = json.loads((array / "zarr.json").read_text())["data_type"]
        assert (stored if isinstance(stored, str) else stored["name"]) == name
    result = subprocess.run([str(dandi_venv() / "bin/python"), "-c", TENSORSTORE_OPEN, *map(str, arrays.values())],
                            capture_output=True, text=True, check=True)
    tensorstore = {name: json.loads(result.stdout)[str(array)] for name, array in arrays.items()}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # hdmf: no cached namespaces, inferred dtypes
        pynwb = {name: _pynwb_reads_text(array.parent) for name, array in arrays.items()}
    assert tensorstore == {"string": False, "null_terminated_bytes": False, "fixed_length_utf32": False,
                           "raw_bytes": True, "uint8": True}
    assert pynwb == {"string": True, "null_terminated_bytes": False, "fixed_length_utf32": True,
                     "raw_bytes": False, "uint8": False}
    assert not any(tensorstore[name] and pynwb[name] for name in CANDIDATES)
