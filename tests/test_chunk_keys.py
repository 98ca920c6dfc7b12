"""Chunk keys: zarr v3's default encoding with the "." separator (``data/c.0.0.0``), so that no key of a file is
deeper than DANDI accepts; appends keep each stored array's own encoding (ours ".", pynwb's "/")."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import zarr
from hdmf_zarr.nwb import NWBZarrIO
from interop_helpers import EXTERNAL_FILES, Lib, build_rich

import nwbzarr_image as nzi

# dandi-cli 0.81 (dandi/files/zarr.py, ZarrAsset._is_too_deep): a file whose path inside the Zarr has
# MAX_ZARR_DEPTH + 1 = 8 parts or more is the ERROR dandi_zarr.tree_depth_exceeded
DANDI_MAX_PARTS = 7


def stored_keys(path: Path) -> list[str]:
    return sorted(p.relative_to(path).as_posix() for p in path.rglob("*") if p.is_file())


def arrays(path: Path) -> dict[str, zarr.Array]:
    root = zarr.open_group(str(path), mode="r", use_consolidated=False)
    return {name: node for name, node in root.members(max_depth=None) if isinstance(node, zarr.Array)}


def separators(path: Path) -> dict[str, str]:
    return {name: a.metadata.chunk_key_encoding.separator for name, a in arrays(path).items()}


def write_rich(tmp_path: Path) -> Path:
    for name in EXTERNAL_FILES:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"RIFF")
    path = tmp_path / "rich.nwb.zarr"
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*num_samples is not written", category=nzi.NWBRuleWarning)
        nzi.write(build_rich(Lib("ours")), str(path))
    return path


def test_no_stored_key_of_a_file_with_every_type_is_deeper_than_dandi_allows(tmp_path: Path) -> None:
    path = write_rich(tmp_path)
    keys = stored_keys(path)
    assert "processing/behavior/vid_volume/data/c.0.0.0.0" in keys  # the 4-D series in the module
    assert max(len(k.split("/")) for k in keys) == 5  # 4 directories: module, series, array
    assert all(len(k.split("/")) <= DANDI_MAX_PARTS for k in keys), [k for k in keys if k.count("/") >= 7]
    # with zarr-python's "/" this key would have had 9 parts: processing/behavior/vid_volume/data/c/0/0/0/0
    assert set(separators(path).values()) == {"."}
    chunk_keys = [k for k in keys if not k.endswith("zarr.json")]
    assert chunk_keys and all(k.rsplit("/", 1)[1].startswith("c.") for k in chunk_keys), chunk_keys
    np.testing.assert_array_equal(nzi.read(str(path)).processing["behavior"]["vid_volume"].data.compute(),
                                  build_rich(Lib("ours")).processing["behavior"]["vid_volume"].data)


def test_pynwb_reads_the_dotted_keys(tmp_path: Path) -> None:
    path = write_rich(tmp_path)
    expected = build_rich(Lib("ours"))
    with NWBZarrIO(str(path), mode="r") as io:
        pyf = io.read()
        volume = pyf.processing["behavior"]["vid_volume"]
        np.testing.assert_array_equal(volume.data[:], expected.processing["behavior"]["vid_volume"].data)
        np.testing.assert_array_equal(volume.timestamps[:], [0.0, 0.5, 1.0, 1.5])
        np.testing.assert_array_equal(pyf.acquisition["vid16"].data[:], expected.acquisition["vid16"].data)


def _append_everywhere(path: Path, frames: np.ndarray) -> None:
    with nzi.open(str(path), "a") as f:
        f.processing["behavior"]["vid_volume"].append(frames, timestamps=[2.0, 2.5])
        f.processing["behavior"].add(nzi.ImageSeries("added", frames, "photons", rate=2.0))


@pytest.mark.parametrize("writer", ["ours", "pynwb"])
def test_appending_keeps_each_stored_array_s_own_encoding(writer: str, tmp_path: Path) -> None:
    if writer == "ours":
        path, separator = write_rich(tmp_path), "."
    else:
        path, separator = tmp_path / "pynwb.nwb.zarr", "/"
        with NWBZarrIO(str(path), mode="w") as io:
            io.write(build_rich(Lib("pynwb")))
    before = separators(path)
    assert set(before.values()) == {separator}
    frames = np.arange(2 * 4 * 3 * 2, dtype=np.uint16).reshape(2, 4, 3, 2)
    _append_everywhere(path, frames)
    after = separators(path)
    assert {name: after[name] for name in before} == before  # every stored array keeps its encoding
    new = {name: sep for name, sep in after.items() if name not in before}
    assert set(new) == {"processing/behavior/added/data", "processing/behavior/added/starting_time"}
    assert set(new.values()) == {"."}
    # the appended frames went into chunks named with the stored array's own separator
    volume = arrays(path)["processing/behavior/vid_volume/data"]
    last = volume.metadata.chunk_key_encoding.encode_chunk_key(((volume.shape[0] - 1) // volume.chunks[0], 0, 0, 0))
    assert (path / "processing/behavior/vid_volume/data" / last).is_file()
    assert ("/c/" in f"/{last}") == (separator == "/")
    got: Any = nzi.read(str(path))
    np.testing.assert_array_equal(got.processing["behavior"]["vid_volume"].data[-2:].compute(), frames)
    np.testing.assert_array_equal(got.processing["behavior"]["added"].data.compute(), frames)
    with NWBZarrIO(str(path), mode="r") as io:
        pyf = io.read()
        np.testing.assert_array_equal(pyf.processing["behavior"]["vid_volume"].data[-2:], frames)
        np.testing.assert_array_equal(pyf.processing["behavior"]["added"].data[:], frames)
