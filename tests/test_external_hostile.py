"""External files open only plain media: no playlists or lists, no climbing by percent-encoding, no frame bombs."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
from bounded_run import PEAK_TARGET, bounded_run
from preview_helpers import write_external, write_gray_avi
from servers import http_server

import nwbzarr_image as nzi
from nwbzarr_image.limits import get_limits, raised


def _series_file(path: Path, video: str, count: int) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", nzi.NWBRuleWarning)  # the header of a refused file cannot be read
        write_external(path, video, count)


@pytest.mark.parametrize("kind", ["hls", "concat"])
def test_a_playlist_or_concat_list_is_our_error_and_opens_nothing(tmp_path: Path, kind: str) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    write_gray_avi(outside / "secret.avi", 6)
    folder = tmp_path / "nwb"
    folder.mkdir()
    if kind == "hls":
        name = "list.m3u8"
        (folder / name).write_text(f"#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXTINF:1,\n{outside / 'secret.avi'}\n"
                                   "#EXT-X-ENDLIST\n")
    else:
        name = "list.txt"
        (folder / name).write_text(f"ffconcat version 1.0\nfile '{outside / 'secret.avi'}'\n")
    _series_file(folder / "s.nwb.zarr", name, 6)
    series = nzi.read(str(folder / "s.nwb.zarr")).acquisition["cam"]
    with pytest.raises(nzi.ExternalVideoError, match=rf"external file '{name}'.*playlists \(HLS \.m3u8\), concat"):
        series.external_frames()
    from nwbzarr_image.preview import preview

    with pytest.raises(nzi.ExternalVideoError, match="playlists"):
        preview(str(folder / "s.nwb.zarr"), "cam")


@pytest.mark.parametrize("entry", ["%2e%2e/outside.avi", "%2E%2E/outside.avi", "..%2foutside.avi",
                                   "%252e%252e/outside.avi", "%2fetc/outside.avi"])
def test_percent_encoded_climbs_are_refused_over_http_and_locally(tmp_path: Path, entry: str) -> None:
    site = tmp_path / "site"
    (site / "nwb").mkdir(parents=True)
    write_gray_avi(site / "outside.avi", 6)
    _series_file(site / "nwb" / "s.nwb.zarr", entry, 6)
    with http_server(site) as server:
        series = nzi.read(f"{server.url}/nwb/s.nwb.zarr").acquisition["cam"]
        with pytest.raises(nzi.ExternalPathError, match=r"outside the NWB file.s directory|absolute path or URL"):
            series.external_frames()
        assert not [path for _, path in server.requests if "outside" in path], server.requests
    with pytest.raises(nzi.ExternalPathError):
        nzi.read(str(site / "nwb" / "s.nwb.zarr")).acquisition["cam"].external_frames()


def _bomb(path: Path) -> None:
    """Two frames of 8192 x 8192 pixels in a small mp4 (black frames compress to almost nothing)."""
    import av

    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = 8192, 8192, "yuv420p"
        frame = av.VideoFrame.from_ndarray(np.zeros((8192, 8192), np.uint8), format="gray")
        for _ in range(2):
            container.mux(stream.encode(frame))
        container.mux(stream.encode())


BOMB = """
import sys, warnings
import nwbzarr_image as nzi
from nwbzarr_image.preview import preview
from nwbzarr_image.viewer.app import ViewerApp
warnings.simplefilter("ignore")
url = sys.argv[1]
nwb = nzi.read(url)
for name, attempt in {"external_frames": lambda: nwb.acquisition["cam"].external_frames()[0].compute(),
                      "preview": lambda: preview(url, "cam"),
                      "viewer": lambda: ViewerApp(nwb, url).frame("/acquisition/cam", 0)}.items():
    try:
        attempt()
        print(name, "DECODED")
    except nzi.NWBZarrImageError as err:
        print(name, type(err).__name__, str(err).splitlines()[0])
"""


def test_a_frame_bomb_is_refused_before_decoding_with_bounded_memory(tmp_path: Path) -> None:
    video = tmp_path / "bomb.mp4"
    _bomb(video)
    assert video.stat().st_size < 200_000
    _series_file(tmp_path / "s.nwb.zarr", "bomb.mp4", 2)
    run = bounded_run([str(tmp_path / "s.nwb.zarr")], code=BOMB)
    assert run.returncode == 0, run.stderr
    answers = dict(line.split(" ", 1) for line in run.lines)
    assert set(answers) == {"external_frames", "preview", "viewer"}
    for answer in answers.values():
        assert answer.startswith("ExternalVideoError ") and "'bomb.mp4'" in answer and "8192 x 8192" in answer
        assert f"max_video_frame_pixels={get_limits().max_video_frame_pixels}" in answer
    assert 0 < run.peak_bytes < PEAK_TARGET, run.peak_bytes
    cli = bounded_run(["preview", str(tmp_path / "s.nwb.zarr"), "cam", "--out", str(tmp_path / "x.png")])
    assert cli.returncode == 2 and "max_video_frame_pixels" in cli.stderr and "Traceback" not in cli.stderr
    assert 0 < cli.peak_bytes < PEAK_TARGET and not (tmp_path / "x.png").exists()


def test_chunks_of_external_frames_fit_the_read_limit(tmp_path: Path) -> None:
    frames = write_gray_avi(tmp_path / "v.avi", 12)  # 16 x 32 gray: 512 bytes a frame
    _series_file(tmp_path / "s.nwb.zarr", "v.avi", 12)
    series = nzi.read(str(tmp_path / "s.nwb.zarr")).acquisition["cam"]
    with raised(max_video_read_bytes=5 * 512):
        lazy = series.external_frames(frames_per_chunk=32)
        assert lazy.chunks[0] == (5, 5, 2)
        np.testing.assert_array_equal(lazy.compute(), frames)
        video = series.external_video()
        with pytest.raises(nzi.ExternalVideoError, match=r"reading 12 frames of external file 'v.avi'.*"
                                                         r"max_video_read_bytes=2560. Read at most 5 frames"):
            video.read(0, 12)


def test_an_image_bomb_is_refused_from_its_header(tmp_path: Path) -> None:
    from builders import START
    from PIL import Image as PILImage

    PILImage.fromarray(np.zeros((8192, 8192), np.uint8), "L").save(tmp_path / "bomb.png", optimize=True)
    assert (tmp_path / "bomb.png").stat().st_size < 500_000
    nwb = nzi.NWBFile("bomb", "bomb-1", START)
    nwb.add_stimulus_template(nzi.Images("imgs", images=[nzi.ExternalImage("x", "bomb.png", "PNG")]))
    nzi.write(nwb, str(tmp_path / "f.nwb.zarr"))
    image = nzi.read(str(tmp_path / "f.nwb.zarr")).stimulus_template["imgs"]["x"]
    message = r"external image 'bomb.png' .* has 8192 x 8192 pixels; expected at most max_video_frame_pixels="
    with pytest.raises(nzi.ExternalImageError, match=message):
        image.pixels()
    with raised(max_video_frame_pixels=8192 * 8192):
        assert image.pixels().shape == (8192, 8192)
