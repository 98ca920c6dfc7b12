"""Every user error of the command line is one line on stderr and exit 2 (argparse's usage lines aside),
printed before any progress bar and leaving nothing behind; convert never destroys its input; info,
validate, preview and view open legacy Zarr v2 files. Each bad input is built here."""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import json
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import nwbzarr_image as nzi
from nwbzarr_image.cli import main

LEGACY = Path(__file__).parent / "fixtures" / "legacy_v2"


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _error_line(capsys: pytest.CaptureFixture[str], command: str) -> str:
    """The one error line; argparse's usage lines before it are allowed, nothing else (no progress bar)."""
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    if lines and lines[0].startswith("usage:"):
        lines = [line for line in lines if not (line.startswith("usage:") or line.startswith(" "))]
    assert len(lines) == 1 and lines[0].startswith(f"nwbzarr-image {command}: error:"), captured.err
    assert captured.out == ""
    return lines[0]


def _run(argv: list[str]) -> int:
    try:
        return main(argv)
    except SystemExit as exit_:  # argparse's usage errors
        return int(exit_.code or 0)


# -- convert never destroys its input -----------------------------------------------------------------


@pytest.mark.parametrize(("output", "relation"), [
    ("{tmp}/movie.npy", "is the input"),
    ("{tmp}", "contains the input"),
    ("{tmp}/movie.npy/out.nwb.zarr", "lies inside the input"),
    ("{tmp}/link.npy", "is the input"),  # a symlink to the input
], ids=["same", "contains", "inside", "symlink"])
@pytest.mark.parametrize("external", [False, True], ids=["copy", "external"])
def test_convert_refuses_an_output_that_is_contains_or_lies_inside_the_input(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], output: str, relation: str, external: bool) -> None:
    source = tmp_path / ("movie.mp4" if external else "movie.npy")
    if external:
        source.write_bytes(b"not read: the paths are checked first")
    else:
        np.save(source, np.arange(4 * 3 * 3, dtype=np.uint8).reshape(4, 3, 3))
    (tmp_path / "link.npy").symlink_to(source)
    before, listing = _digest(source), sorted(p.name for p in tmp_path.iterdir())
    target = output.format(tmp=tmp_path).replace("movie.npy", source.name)
    argv = ["convert", str(source), target, "--overwrite", "--rate", "5", *(["--external"] if external else [])]
    assert _run(argv) == 2
    line = _error_line(capsys, "convert")
    assert relation in line and "Choose another OUTPUT" in line
    assert _digest(source) == before and sorted(p.name for p in tmp_path.iterdir()) == listing


# -- one line, exit 2 ---------------------------------------------------------------------------------


def _bad_inputs(tmp: Path) -> None:
    import tifffile

    rng = np.random.default_rng(7)
    (tmp / "noise.tif").write_bytes(rng.integers(0, 256, 3000, dtype=np.uint8).tobytes())
    (tmp / "no_pages.tif").write_bytes(b"II*\x00garbage")  # a TIFF header whose first page is past the end
    tifffile.imwrite(tmp / "stack.tif", np.zeros((20, 32, 32), np.uint16), photometric="minisblack")
    whole = (tmp / "stack.tif").read_bytes()
    (tmp / "truncated.tif").write_bytes(whole[:len(whole) // 2])
    with tifffile.TiffWriter(tmp / "shapes.tif") as tif:
        for shape in ((4, 4), (4, 4), (5, 4), (4, 4)):
            tif.write(np.zeros(shape, np.uint8))
    with tifffile.TiffWriter(tmp / "dtypes.tif") as tif:
        for dtype in (np.uint8, np.uint8, np.uint8, np.uint16):
            tif.write(np.zeros((4, 4), dtype))
    np.save(tmp / "movie.npy", np.zeros((4, 3, 3), np.uint8))
    with open(tmp / "huge.npy", "wb") as file:  # a header declaring 36 * 10^24 bytes, then 36 bytes
        np.lib.format.write_array_header_1_0(file, {"descr": "|u1", "fortran_order": False,
                                                    "shape": (4000000000000, 3000000000000, 3)})
        file.write(bytes(36))


@pytest.mark.parametrize(("args", "fragment"), [
    (["convert", "{tmp}/noise.tif", "{tmp}/o.nwb.zarr", "--rate", "5"], "expected a TIFF file"),
    (["convert", "{tmp}/no_pages.tif", "{tmp}/o.nwb.zarr", "--rate", "5"], "no image in the file"),
    (["convert", "{tmp}/truncated.tif", "{tmp}/o.nwb.zarr", "--rate", "5"], "The file is truncated"),
    (["convert", "{tmp}/shapes.tif", "{tmp}/o.nwb.zarr", "--rate", "5"],
     "page 2 has shape (5, 4) and dtype uint8; expected every page like page 0, shape (4, 4) dtype uint8"),
    (["convert", "{tmp}/dtypes.tif", "{tmp}/o.nwb.zarr", "--rate", "5"],
     "page 3 has shape (4, 4) and dtype uint16; expected every page like page 0, shape (4, 4) dtype uint8"),
    (["convert", "{tmp}/huge.npy", "{tmp}/o.nwb.zarr", "--rate", "5"],
     "the header declares shape (4000000000000, 3000000000000, 3)"),
    (["convert", "{tmp}/movie.npy", "{tmp}/o.nwb.zarr", "--rate", "5", "--frames-per-chunk", "1000000000000"],
     "--frames-per-chunk: the input has 4 frames; expected at most 4"),
    (["convert", "{tmp}/movie.npy", "{tmp}/o.nwb.zarr", "--rate", "5", "--frames-per-chunk", "2", "--shards",
      "1000000000000"], "--shards: the input has 4 frames; expected at most 4 frames a shard"),
    (["convert", "{tmp}/movie.npy", "{tmp}/o.nwb.zarr", "--rate", "5", "--frames-per-chunk", "0"],
     "argument --frames-per-chunk: expected a whole number of at least 1"),
    (["convert", "{tmp}/movie.npy", "{tmp}/o.nwb.zarr", "--rate", "nan"], "argument --rate: expected a finite"),
    (["convert", "{tmp}/movie.npy", "{tmp}/o.nwb.zarr", "--rate", "inf"], "argument --rate: expected a finite"),
    (["convert", "{tmp}/movie.npy", "{tmp}/o.nwb.zarr", "--rate", "0"], "argument --rate: expected a finite"),
    (["convert", "{tmp}/movie.npy", "{tmp}/o.nwb.zarr", "--rate", "-30"], "argument --rate: expected a finite"),
    (["convert", "{tmp}/movie.npy", "{tmp}/o.nwb.zarr"], "has no frame rate; pass --rate"),
    (["convert", "{tmp}/movie.npy", "{tmp}/exists.nwb.zarr", "--rate", "5"], "already exists"),
    (["view", "{tmp}/o.nwb.zarr", "--port", "70000"], "argument --port: expected a port from 0"),
    (["view", "{tmp}/o.nwb.zarr", "--port", "-1"], "argument --port: expected a port from 0"),
], ids=["tiff-noise", "tiff-no-pages", "tiff-truncated", "tiff-shapes", "tiff-dtypes", "npy-huge-header",
        "chunk-huge", "shards-huge", "chunk-zero", "rate-nan", "rate-inf", "rate-zero", "rate-negative",
        "rate-missing", "output-exists", "port-high", "port-negative"])
def test_user_errors_are_one_line_exit_2_before_any_progress_bar(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], fragment: str) -> None:
    _bad_inputs(tmp_path)
    (tmp_path / "exists.nwb.zarr").mkdir()
    listing = sorted(p.name for p in tmp_path.iterdir())
    assert _run([a.format(tmp=tmp_path) for a in args]) == 2  # progress bars on: none may show
    assert fragment in _error_line(capsys, args[0])
    assert sorted(p.name for p in tmp_path.iterdir()) == listing


def test_pages_of_one_shape_written_one_by_one_are_the_frames(tmp_path: Path) -> None:
    import tifffile

    with tifffile.TiffWriter(tmp_path / "pages.tif") as tif:  # tifffile reads this as 5 series of one page
        for i in range(5):
            tif.write(np.full((4, 3), i, np.uint8))
    out = tmp_path / "pages.nwb.zarr"
    assert main(["convert", str(tmp_path / "pages.tif"), str(out), "--rate", "5", "--no-progress"]) == 0
    np.testing.assert_array_equal(nzi.read(str(out)).acquisition["pages"].data.compute(),
                                  np.arange(5, dtype=np.uint8)[:, None, None] * np.ones((5, 4, 3), np.uint8))


# -- legacy Zarr v2 files -----------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "series"), [("images_json.nwb.zarr", "behavior_video"),
                                              ("no_consolidated.nwb.zarr", "small_video")])
def test_info_validate_and_preview_open_legacy_v2_files(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                       name: str, series: str) -> None:
    path = str(LEGACY / name)
    with pytest.warns(nzi.PerformanceWarning) if name.startswith("no_") else contextlib.nullcontext():
        nwb = nzi.read(path)
    for full in ([], ["--full"]):
        assert main(["info", *full, path]) == 0
        out = capsys.readouterr().out
        for key, obj in nwb.acquisition.items():
            assert f"/acquisition/{key}  {obj.neurodata_type}" in out
            if obj.neurodata_type == "ImageSeries" and obj.data.shape[0] > 1:
                assert f"data: shape {tuple(obj.data.shape)}, dtype {obj.data.dtype}" in out
        assert "storage: chunks" in out and "codec blosc(" in out and "cname=lz4" in out
        assert ("compression" in out) == bool(full)
    assert main(["validate", path]) == 0
    assert capsys.readouterr().out.splitlines()[-1].startswith("valid")
    png = tmp_path / "frame.png"
    assert main(["preview", path, series, "--frame", "1", "--contrast", "none", "--out", str(png)]) == 0
    from PIL import Image

    np.testing.assert_array_equal(np.asarray(Image.open(png)), nwb.acquisition[series].data[1].compute())


def test_view_opens_a_legacy_v2_file() -> None:
    path = LEGACY / "images_json.nwb.zarr"
    exe = Path(sys.executable).parent / "nwbzarr-image"
    proc = subprocess.Popen([str(exe), "view", str(path)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        assert line.startswith(f"viewing {path} ("), line
        port = int(line.split("http://127.0.0.1:")[1].split("/")[0])
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        connection.request("GET", "/api/file")
        response = connection.getresponse()
        listing = json.loads(response.read())
        connection.close()
    finally:
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=30)
    assert response.status == 200
    assert "/acquisition/behavior_video" in json.dumps(listing)
