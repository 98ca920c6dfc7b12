"""nwbzarr-image preview: frames, projections and contact sheets as PNG, checked pixel by pixel against numpy."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from preview_helpers import auto, decode_png, expected, write_external, write_gray_avi, write_movies
from zarr.storage import LocalStore

import nwbzarr_image as nzi
from nwbzarr_image.cli import main
from nwbzarr_image.errors import ArgumentTypeError, OutOfRangeError
from nwbzarr_image.preview import Contrast, encode_png, grid_layout, parse_contrast, preview, to_uint8


@pytest.fixture(scope="module")
def movie_file(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, object]:
    path = tmp_path_factory.mktemp("preview") / "m.nwb.zarr"
    return path, write_movies(path)


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("shape", [(7, 5), (7, 5, 3), (7, 5, 4), (1, 1)], ids=["gray", "rgb", "rgba", "one-pixel"])
def test_png_encoder_round_trips_through_pillow(shape: tuple[int, ...]) -> None:
    pixels = np.random.default_rng(1).integers(0, 256, shape, dtype=np.uint8)
    np.testing.assert_array_equal(decode_png(encode_png(pixels)), pixels)


@pytest.mark.parametrize("pixels", [np.zeros((4, 4), np.uint16), np.zeros((4, 4, 2), np.uint8),
                                    np.zeros((4,), np.uint8), np.zeros((0, 4), np.uint8)],
                         ids=["uint16", "two-channels", "1-D", "empty"])
def test_png_encoder_refuses_what_png_previews_do_not_hold(pixels: np.ndarray) -> None:
    with pytest.raises(ArgumentTypeError, match=r"expected|got"):
        encode_png(pixels)


@pytest.mark.parametrize(("text", "want"), [
    ("auto", Contrast()), (None, Contrast()), ("none", Contrast("none")), ("10,250.5", Contrast("fixed", 10, 250.5)),
    ("auto:2,98", Contrast("auto", 2, 98)), ("-5,5", Contrast("fixed", -5, 5))],
    ids=["auto", "default", "none", "fixed", "percentiles", "negative"])
def test_contrast_forms(text: str | None, want: Contrast) -> None:
    assert parse_contrast(text) == want
    assert parse_contrast(str(want)) == want


@pytest.mark.parametrize("text", ["5,1", "1,1", "a,b", "1,2,3", "auto:5,101", "bright", "nan,1"],
                         ids=["reversed", "equal", "words", "three", "percentile>100", "word", "nan"])
def test_bad_contrast_is_our_error(text: str) -> None:
    with pytest.raises(ArgumentTypeError, match="expected 'auto'"):
        parse_contrast(text)


def test_one_frame_with_auto_contrast(movie_file, tmp_path: Path, capsys) -> None:
    path, m = movie_file
    out = tmp_path / "f.png"
    code, text, _ = run(["preview", str(path), "gray", "--frame", "5", "--out", str(out)], capsys)
    assert code == 0 and text.startswith(f"wrote {out}: frame 5 of /acquisition/gray (14x10 gray")
    frame = m.gray[5]
    np.testing.assert_array_equal(decode_png(out), expected(frame, *auto(frame)))
    assert decode_png(out).max() == 255 and decode_png(out)[0, 0] == 255  # the hot pixel saturates


@pytest.mark.parametrize(("contrast", "limits"), [("none", (0, 65535)), ("100,3000", (100, 3000))],
                         ids=["none", "fixed"])
def test_one_frame_with_given_contrast(movie_file, tmp_path: Path, capsys, contrast: str, limits) -> None:
    path, m = movie_file
    out = tmp_path / "f.png"
    assert run(["preview", str(path), "/acquisition/gray", "--frame", "-1", "--contrast", contrast,
                "--out", str(out)], capsys)[0] == 0
    np.testing.assert_array_equal(decode_png(out), expected(m.gray[-1], *limits))


def test_uint8_with_no_contrast_is_the_stored_frame(movie_file) -> None:
    path, m = movie_file
    image = preview(str(path), "rgb", frame=3, contrast="none")
    assert image.color == "rgb" and image.frames == (3,)
    np.testing.assert_array_equal(decode_png(image.png()), m.rgb[3])


def test_rgb_channels_share_one_contrast(movie_file) -> None:
    path, m = movie_file
    frame = m.rgb[2]
    np.testing.assert_array_equal(decode_png(preview(str(path), "rgb", frame=2).png()), expected(frame, *auto(frame)))


def test_rgba_keeps_its_alpha(movie_file) -> None:
    path, m = movie_file
    frame = m.rgba[4]
    pixels = decode_png(preview(str(path), "rgba", frame=4).png())
    assert pixels.shape == (10, 14, 4)
    np.testing.assert_array_equal(pixels[..., :3], expected(frame[..., :3], *auto(frame[..., :3])))
    np.testing.assert_array_equal(pixels[..., 3], frame[..., 3])


@pytest.mark.parametrize("kind", ["mean", "max", "std"])
def test_projection_over_a_range(movie_file, tmp_path: Path, capsys, kind: str) -> None:
    path, m = movie_file
    out = tmp_path / "p.png"
    assert run(["preview", str(path), "gray", "--projection", kind, "--start", "2", "--stop", "9",
                "--out", str(out)], capsys)[0] == 0
    stack = m.gray[2:9].astype(np.float64)
    values = {"mean": stack.mean(axis=0), "max": stack.max(axis=0), "std": stack.std(axis=0)}[kind]
    np.testing.assert_array_equal(decode_png(out), expected(values, *auto(values)))


def test_projection_reads_only_the_chunks_of_its_range(movie_file) -> None:
    from counting import CountingStore

    path, m = movie_file
    store = CountingStore(LocalStore(str(path), read_only=True))
    image = preview(store, "gray", projection="max", start=4, stop=8, contrast="none")
    assert store.chunk_reads() == {"acquisition/gray/data/c.1.0.0": 1}  # frames 4..7: chunk 1 only, once
    np.testing.assert_array_equal(image.pixels, expected(m.gray[4:8].max(axis=0), 0, 65535))


def test_projection_of_rgb_and_float_with_nan(movie_file) -> None:
    path, m = movie_file
    mean = m.rgb.astype(np.float64).mean(axis=0)
    np.testing.assert_array_equal(preview(str(path), "rgb", projection="mean").pixels, expected(mean, *auto(mean)))
    pixels = preview(str(path), "floats", projection="max", contrast="none").pixels
    np.testing.assert_array_equal(pixels, expected(m.floats.max(axis=0), 0, 1))
    assert pixels[1, 1] == 0  # the max over a NaN is NaN, shown black


def test_contact_sheet(movie_file, tmp_path: Path, capsys) -> None:
    path, m = movie_file
    out = tmp_path / "g.png"
    code, text, _ = run(["preview", str(path), "gray", "--grid", "4", "--out", str(out)], capsys)
    assert code == 0 and "(0, 4, 7, 11)" in text
    indices = [0, 4, 7, 11]  # evenly spaced, first and last included
    low, high = auto(m.gray[indices])  # one contrast for the whole sheet
    sheet = decode_png(out)
    assert grid_layout(4) == (2, 2) and sheet.shape == (2 * 10 + 2, 2 * 14 + 2)
    for k, i in enumerate(indices):
        top, left = (k // 2) * 12, (k % 2) * 16
        np.testing.assert_array_equal(sheet[top:top + 10, left:left + 14], expected(m.gray[i], low, high))
    assert not sheet[10:12].any() and not sheet[:, 14:16].any()  # the gaps are black


def test_grid_layouts() -> None:
    assert [grid_layout(n) for n in (1, 2, 3, 5, 9, 10)] == [(1, 1), (1, 2), (2, 2), (2, 3), (3, 3), (3, 4)]


def test_images_collection_as_a_sheet_of_mixed_color(movie_file) -> None:
    path, m = movie_file
    image = preview(str(path), "stack", grid=3, contrast="none")
    sheet = image.pixels
    assert image.color == "rgba" and sheet.shape == (2 * 10 + 2, 2 * 14 + 2, 4)  # 2 x 2 cells of 10 x 14
    np.testing.assert_array_equal(sheet[:10, :14, :3], np.repeat(m.images["a_gray"][..., None], 3, axis=-1))
    np.testing.assert_array_equal(sheet[:10, :14, 3], 255)
    np.testing.assert_array_equal(sheet[:10, 16:, :3], m.images["b_rgb"])
    np.testing.assert_array_equal(sheet[12:20, :9], m.images["c_rgba"])
    assert not sheet[20:].any() and not sheet[12:, 9:].any()  # a smaller image sits top-left in its cell


@pytest.mark.parametrize(("name", "key"), [("stack/a_gray", "a_gray"), ("/stimulus/templates/stack/b_rgb", "b_rgb"),
                                           ("c_rgba", "c_rgba")], ids=["gray", "rgb", "rgba"])
def test_single_images(movie_file, name: str, key: str) -> None:
    path, m = movie_file
    image = preview(str(path), name, contrast="none")
    np.testing.assert_array_equal(decode_png(image.png()), m.images[key])


def test_index_series_shows_the_indexed_image(movie_file) -> None:
    path, m = movie_file
    for frame in (0, 1, 4):
        key = ["a_gray", "b_rgb", "c_rgba"][m.index[frame]]
        np.testing.assert_array_equal(preview(str(path), "shown", frame=frame, contrast="none").pixels,
                                      m.images[key])


def test_mask_series_and_volume_plane(movie_file) -> None:
    path, m = movie_file
    np.testing.assert_array_equal(preview(str(path), "mask", frame=2, contrast="none").pixels, m.mask[2])
    from nwbzarr_image.preview import find, frame_image, open_source

    nwb = nzi.read(str(path))
    source = open_source(*find(nwb, "volume"), plane=3)
    np.testing.assert_array_equal(frame_image(source, 1, "none").pixels, m.volume[1, :, :, 3])
    assert preview(str(path), "volume", frame=1, contrast="none").pixels.tolist() == m.volume[1, :, :, 0].tolist()


def test_remote_preview_reads_one_chunk(tmp_path: Path, capsys) -> None:
    from servers import http_server

    m = write_movies(tmp_path / "r.nwb.zarr")
    out = tmp_path / "r.png"
    with http_server(tmp_path) as server:
        code, _, _ = run(["preview", f"{server.url}/r.nwb.zarr", "gray", "--frame", "9", "--contrast", "none",
                          "--out", str(out)], capsys)
        chunks = {path for _, path in server.requests if "/c." in path}
    assert code == 0 and chunks == {"/r.nwb.zarr/acquisition/gray/data/c.2.0.0"}
    np.testing.assert_array_equal(decode_png(out), expected(m.gray[9], 0, 65535))


def test_external_file_series(tmp_path: Path) -> None:
    frames = write_gray_avi(tmp_path / "v.avi")
    write_external(tmp_path / "e.nwb.zarr", "v.avi", 6)
    np.testing.assert_array_equal(preview(str(tmp_path / "e.nwb.zarr"), "cam", frame=4, contrast="none").pixels,
                                  frames[4])  # ffv1 is lossless
    sheet = preview(str(tmp_path / "e.nwb.zarr"), "cam", grid=2, contrast="none").pixels
    np.testing.assert_array_equal(sheet[:, :32], frames[0])
    np.testing.assert_array_equal(sheet[:, 34:], frames[5])


def test_bool_masks_show_black_and_white() -> None:
    mask = np.zeros((4, 5), bool)
    mask[1:3, 2:4] = True
    for contrast in ("auto", "none", "0,1"):
        np.testing.assert_array_equal(to_uint8(mask, contrast, color="gray")[0], mask.astype(np.uint8) * 255)


ERRORS = [
    (["nothere"], "no series or image 'nothere' in the file; expected one of: /acquisition/gray"),
    (["gray", "--frame", "12"], "no frame 12; expected 0 to 11 (12 frames)"),
    (["gray", "--projection", "max", "--start", "5", "--stop", "5"], "expected 0 <= start < stop <= 12"),
    (["gray", "--projection", "max", "--stop", "40"], "expected 0 <= start < stop <= 12"),
    (["gray", "--grid", "13"], "a contact sheet of 13 frames; expected 1 to 12"),
    (["gray", "--grid", "0"], "a contact sheet of 0 frames"),
    (["gray", "--start", "2"], "start/stop choose the frames of a projection or a grid"),
    (["gray", "--contrast", "9,3"], "contrast: cannot read '9,3'"),
    (["trace"], "no series or image 'trace'"),
    (["stack", "--projection", "mean"], "differ in shape"),
    (["volume", "--plane", "5"], "no z plane 5; expected 0 to 4"),
    (["shown", "--frame", "-6"], "no frame -6"),
]


@pytest.mark.parametrize(("args", "message"), ERRORS, ids=[" ".join(a) for a, _ in ERRORS])
def test_errors_are_one_line_and_exit_2(movie_file, tmp_path: Path, capsys, args: list[str], message: str) -> None:
    path, _ = movie_file
    out = tmp_path / "x.png"
    code, _, err = run(["preview", str(path), *args, "--out", str(out)], capsys)
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1, err
    assert not out.exists()


def test_missing_file_and_missing_output_folder(tmp_path: Path, capsys) -> None:
    code, _, err = run(["preview", str(tmp_path / "none.nwb.zarr"), "gray", "--out", str(tmp_path / "x.png")], capsys)
    assert code == 2 and "error:" in err and len(err.strip().splitlines()) == 1
    code, _, err = run(["preview", str(tmp_path), "gray", "--out", str(tmp_path / "no" / "x.png")], capsys)
    assert code == 2 and "does not exist" in err


def test_out_of_range_is_an_index_error(movie_file) -> None:
    path, _ = movie_file
    with pytest.raises(IndexError) as info:
        preview(str(path), "rgb", frame=6)
    assert isinstance(info.value, OutOfRangeError) and isinstance(info.value, nzi.NWBZarrImageError)
