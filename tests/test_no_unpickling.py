"""A file's declared codecs never reach an unpickling decoder, whatever numcodecs' and zarr's opt-ins say."""

from __future__ import annotations

import json
import os
import pickle
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import zarr

import nwbzarr_image as nzi

FIXTURES = Path(__file__).parent / "fixtures" / "legacy_v2"
OPT_INS = {"NUMCODECS_ALLOW_UNSAFE_PICKLE_DECODE": "1", "ZARR_ARRAY__ALLOW_UNSAFE_PICKLE_DECODE": "True"}


class _Touch:
    """Unpickling this creates the marker file: the proof that a file's bytes were unpickled."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def _edit_v2(store: Path, key: str, change) -> None:
    """Change the .zarray of ``key`` and its copy in the consolidated metadata."""
    path = store / key / ".zarray"
    meta = json.loads(path.read_text())
    change(meta)
    path.write_text(json.dumps(meta))
    consolidated = json.loads((store / ".zmetadata").read_text())
    consolidated["metadata"][f"{key}/.zarray"] = meta
    (store / ".zmetadata").write_text(json.dumps(consolidated))


def hostile_v2(tmp_path: Path, marker: Path) -> Path:
    """A legacy file whose frames, references and text declare pickle as compressor or filter."""
    store = tmp_path / "pickled.nwb.zarr"
    shutil.copytree(FIXTURES / "images_json.nwb.zarr", store)
    payload = pickle.dumps(_Touch(marker))
    frames = "acquisition/behavior_video/data"
    _edit_v2(store, frames, lambda m: m.update(compressor={"id": "pickle"}))
    for chunk in (store / frames).glob("[0-9]*"):
        chunk.write_bytes(payload)
    order = "stimulus/templates/template_images/order_of_images"
    _edit_v2(store, order, lambda m: m.update(compressor={"id": "pickle", "protocol": 5}))
    (store / order / "0").write_bytes(payload)
    other = "acquisition/two_photon/data"
    _edit_v2(store, other, lambda m: m.update(filters=[{"id": "pickle"}]))
    for chunk in (store / other).glob("[0-9]*"):
        chunk.write_bytes(payload)
    return store


CLI = "import sys; from nwbzarr_image.cli import main; sys.exit(main(sys.argv[1:]))"
SCRIPT = textwrap.dedent("""
    import sys, warnings
    from pathlib import Path
    import numcodecs.pickles, zarr
    import nwbzarr_image as nzi
    from nwbzarr_image.preview import preview
    from nwbzarr_image.viewer.app import ViewerApp
    assert numcodecs.pickles.ALLOW_UNSAFE_PICKLE_DECODE and zarr.config.get("array.allow_unsafe_pickle_decode")
    warnings.simplefilter("ignore")
    url, marker = sys.argv[1], Path(sys.argv[2])
    nwb = nzi.read(url)
    attempts = {
        "compute": lambda: nwb.acquisition["behavior_video"].data.compute(),
        "filter": lambda: nwb.acquisition["two_photon"].data.compute(),
        "references": lambda: nwb.stimulus_template["template_images"].order_of_images,
        "preview": lambda: preview(url, "behavior_video"),
        "viewer": lambda: ViewerApp(nwb, url).frame("/acquisition/behavior_video", 0),
    }
    for name, attempt in attempts.items():
        try:
            attempt()
            print(name, "DECODED")
        except nzi.LayoutError as err:
            print(name, type(err).__name__, err)
        assert not marker.exists(), name
""")


def test_pickle_codecs_of_a_v2_file_never_run_even_with_the_opt_ins(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    marker = tmp_path / "marker"
    store = hostile_v2(tmp_path, marker)
    for name, value in OPT_INS.items():
        monkeypatch.setenv(name, value)
    run = subprocess.run([sys.executable, "-c", SCRIPT, str(store), str(marker)], capture_output=True, text=True,
                         timeout=300, env=os.environ)
    assert run.returncode == 0, run.stderr
    lines = dict(line.split(" ", 1) for line in run.stdout.splitlines())
    assert set(lines) == {"compute", "filter", "references", "preview", "viewer"}
    for name, node in (("compute", "/acquisition/behavior_video/data"), ("filter", "/acquisition/two_photon/data"),
                       ("references", "/stimulus/templates/template_images/order_of_images"),
                       ("preview", "/acquisition/behavior_video/data")):
        assert lines[name].startswith("LayoutError ") and node in lines[name], lines[name]
        assert "'pickle', which unpickles" in lines[name]
    assert "unpickles" in lines["viewer"]
    for command in (["info", str(store)], ["validate", str(store)],
                    ["preview", str(store), "behavior_video", "--out", str(tmp_path / "x.png")]):
        cli = subprocess.run([sys.executable, "-c", CLI, *command], capture_output=True, text=True, timeout=300,
                             env=os.environ)
        assert cli.returncode in (0, 1, 2) and "Traceback" not in cli.stderr, cli.stderr
        assert not marker.exists(), command
        if command[0] == "preview":
            assert cli.returncode == 2 and "'pickle', which unpickles" in cli.stderr, cli.stderr
    assert not marker.exists() and not (tmp_path / "x.png").exists()


def test_the_rest_of_the_v2_file_reads(tmp_path: Path) -> None:
    store = hostile_v2(tmp_path, tmp_path / "marker")
    nwb = nzi.read(str(store))
    assert nwb.acquisition["running_speed"].data.compute().size > 0
    with pytest.raises(nzi.LayoutError, match=r"/acquisition/behavior_video/data: declares the codec 'pickle'"):
        nwb.acquisition["behavior_video"].data.compute()


class _PickleV3(zarr.abc.codec.ArrayBytesCodec):
    """A v3 codec that unpickles, as a package could register it under ``numcodecs.pickle``."""

    is_fixed_size = False

    @classmethod
    def from_dict(cls, data):
        return cls()

    def to_dict(self):
        return {"name": "numcodecs.pickle"}

    def compute_encoded_size(self, input_byte_length, chunk_spec):
        raise NotImplementedError

    async def _decode_single(self, chunk_bytes, chunk_spec):
        value = pickle.loads(chunk_bytes.to_bytes())
        return chunk_spec.prototype.nd_buffer.from_numpy_array(np.asarray(value, dtype=object))

    async def _encode_single(self, chunk_array, chunk_spec):
        return chunk_spec.prototype.buffer.from_bytes(pickle.dumps(chunk_array.as_numpy_array()))


def test_a_v3_codec_that_unpickles_is_refused_when_zarr_can_make_it(tmp_path: Path, good: Path) -> None:
    from zarr.registry import register_codec

    register_codec("numcodecs.pickle", _PickleV3)
    marker = tmp_path / "marker"
    meta_path = good / "acquisition/vid/data/zarr.json"
    meta = json.loads(meta_path.read_text())
    meta["codecs"] = [{"name": "numcodecs.pickle"}]
    meta_path.write_text(json.dumps(meta))
    for chunk in (good / "acquisition/vid/data").rglob("c*"):
        if chunk.is_file():
            chunk.write_bytes(pickle.dumps(_Touch(marker)))
    nzi.consolidate(str(good))
    nwb = nzi.read(str(good))
    with pytest.raises(nzi.LayoutError, match=r"/acquisition/vid/data: declares the codec 'numcodecs.pickle'"):
        nwb.acquisition["vid"].data.compute()
    assert not marker.exists()
    assert nwb.acquisition["stack"].data.compute().shape == (3, 4, 5, 2)
