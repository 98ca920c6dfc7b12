"""The nwbzarr-image command: convert (video, TIFF, .npy) and info; errors are one line, exit 2, no output."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import zarr

import nwbzarr_image as nzi
from nwbzarr_image.cli import main

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def sample_video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("video") / "sample.mp4"
    subprocess.run([sys.executable, str(ROOT / "examples/make_sample_video.py"), str(path), "--frames", "40"],
                   check=True, capture_output=True)
    return path


def _decode_all(path: Path) -> np.ndarray:
    import av

    with av.open(str(path)) as container:
        return np.stack([f.to_ndarray(format="rgb24") for f in container.decode(video=0)])


def test_convert_video_then_info(tmp_path: Path, sample_video: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out.nwb.zarr"
    assert main(["convert", str(sample_video), str(out), "--name", "behavior", "--description", "mouse cam",
                 "--no-progress"]) == 0
    series = nzi.read(str(out)).acquisition["behavior"]
    assert (series.neurodata_type, series.rate, series.unit, series.description) == (
        "ImageSeries", 30.0, "n.a.", "mouse cam")
    np.testing.assert_array_equal(series.data.compute(), _decode_all(sample_video))
    capsys.readouterr()
    assert main(["info", str(out), "--full"]) == 0
    text = capsys.readouterr().out
    assert "/acquisition/behavior  ImageSeries" in text
    assert "shape (40, 240, 320, 3), dtype uint8" in text
    assert "codec blosc(cname=zstd,clevel=3,shuffle=bitshuffle)" in text
    assert "rate 30 Hz" in text and "40 samples, duration 1.300 s" in text
    ratio = float(text.split("compression ")[1].split("x")[0])
    arr = zarr.open_array(str(out / "acquisition/behavior/data"), mode="r")
    assert ratio == pytest.approx(arr.nbytes / arr.nbytes_stored(), abs=0.01) and ratio > 1


def test_convert_options(tmp_path: Path, sample_video: Path) -> None:
    out = tmp_path / "o.nwb.zarr"
    assert main(["convert", str(sample_video), str(out), "--as", "optical", "--frames-per-chunk", "4", "--shards",
                 "20", "--compressor", "zstd:7", "--rate", "25", "--unit", "a.u.", "--no-progress"]) == 0
    series = nzi.read(str(out)).acquisition["sample"]
    assert series.neurodata_type == "OpticalSeries" and series.rate == 25.0 and series.unit == "a.u."
    arr = zarr.open_array(str(out / "acquisition/sample/data"), mode="r")
    assert arr.chunks == (4, 240, 320, 3) and arr.shards == (20, 240, 320, 3)
    assert arr.compressors[0].to_dict() == {"name": "zstd", "configuration": {"level": 7, "checksum": False}}


def test_convert_tiff_and_npy(tmp_path: Path) -> None:
    import tifffile

    movie = np.arange(12 * 8 * 6, dtype=np.uint16).reshape(12, 8, 6)
    tifffile.imwrite(tmp_path / "stack.tif", movie)
    np.save(tmp_path / "movie.npy", movie)
    for name in ("stack.tif", "movie.npy"):
        out = tmp_path / f"{name}.nwb.zarr"
        assert main(["convert", str(tmp_path / name), str(out), "--rate", "15", "--no-progress"]) == 0
        series = nzi.read(str(out)).acquisition[Path(name).stem]
        np.testing.assert_array_equal(series.data.compute(), movie)
        assert series.rate == 15.0


@pytest.mark.parametrize(("args", "fragment"), [
    (["convert", "{tmp}/missing.mp4", "{tmp}/o.nwb.zarr"], "does not exist"),
    (["convert", "{tmp}/bad.mp4", "{tmp}/o.nwb.zarr"], "cannot open the file"),
    (["convert", "{video}", "{tmp}/o.nwb.zarr", "--compressor", "brotli"], "unknown codec 'brotli'"),
    (["convert", "{video}", "{tmp}/exists.nwb.zarr"], "already exists"),
    (["convert", "{tmp}/movie.npy", "{tmp}/o.nwb.zarr"], "has no frame rate; pass --rate"),
    (["convert", "{tmp}/notes.txt", "{tmp}/o.nwb.zarr"], "expected a video"),
    (["convert", "{video}", "{tmp}/o.nwb.zarr", "--frames-per-chunk", "4", "--shards", "6"], "multiple of"),
    (["info", "{tmp}/nothing.nwb.zarr"], "no Zarr group at"),
], ids=["missing", "undecodable", "codec", "exists", "no-rate", "suffix", "shards", "info-missing"])
def test_bad_input_is_one_line_exit_2_and_no_output(tmp_path: Path, sample_video: Path, args: list[str],
                                                     fragment: str) -> None:
    (tmp_path / "bad.mp4").write_text("not a video")
    (tmp_path / "notes.txt").write_text("hello")
    np.save(tmp_path / "movie.npy", np.zeros((3, 4, 4), np.uint8))
    (tmp_path / "exists.nwb.zarr").mkdir()
    before = sorted(p.name for p in tmp_path.iterdir())
    argv = [a.format(tmp=tmp_path, video=sample_video) for a in args]
    extra = ["--no-progress"] if args[0] == "convert" else []
    result = subprocess.run([str(Path(sys.executable).parent / "nwbzarr-image"), *argv, *extra], capture_output=True,
                            text=True)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"nwbzarr-image {args[0]}: error:") and fragment in lines[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_console_script_is_installed() -> None:
    exe = Path(sys.executable).parent / "nwbzarr-image"
    result = subprocess.run([str(exe), "--help"], capture_output=True, text=True, check=True)
    assert "convert" in result.stdout and "info" in result.stdout
