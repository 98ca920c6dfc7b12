"""A small file with every kind of thing the preview and the viewer show, and the expected pixels, in numpy."""

from __future__ import annotations

import io
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import numpy as np
from PIL import Image as PILImage

import nwbzarr_image as nzi

START = datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)
ROWS, COLUMNS = 10, 14


@dataclass(frozen=True)
class Movies:
    """The arrays written into the file, by series or image name."""

    gray: np.ndarray      # (12, 10, 14) uint16, 4 frames per chunk, rate 20 Hz
    rgb: np.ndarray       # (6, 10, 14, 3) uint8 OpticalSeries, timestamps
    rgba: np.ndarray      # (5, 10, 14, 4) uint8 ImageSeries
    volume: np.ndarray    # (4, 10, 14, 5) uint8 (frames, x, y, z)
    floats: np.ndarray    # (3, 10, 14) float32 with a NaN
    mask: np.ndarray      # (4, 10, 14) uint8 ImageMaskSeries
    images: dict[str, np.ndarray]  # the Images 'stack': gray 10x14, rgb 10x14, rgba 8x9
    index: np.ndarray     # IndexSeries 'shown' indices into the stack
    times: np.ndarray     # timestamps of 'rgb'


def make_movies(seed: int = 7) -> Movies:
    rng = np.random.default_rng(seed)
    gray = rng.integers(100, 4000, (12, ROWS, COLUMNS)).astype(np.uint16)
    gray[:, 0, 0] = 60000  # a hot pixel: auto contrast ignores it, "none" does not
    floats = rng.random((3, ROWS, COLUMNS)).astype(np.float32)
    floats[0, 1, 1] = np.nan
    images = {"a_gray": rng.integers(0, 256, (ROWS, COLUMNS), dtype=np.uint8),
              "b_rgb": rng.integers(0, 256, (ROWS, COLUMNS, 3), dtype=np.uint8),
              "c_rgba": rng.integers(0, 256, (8, 9, 4), dtype=np.uint8)}
    return Movies(gray=gray, rgb=rng.integers(0, 256, (6, ROWS, COLUMNS, 3), dtype=np.uint8),
                  rgba=rng.integers(0, 256, (5, ROWS, COLUMNS, 4), dtype=np.uint8),
                  volume=rng.integers(0, 256, (4, ROWS, COLUMNS, 5), dtype=np.uint8), floats=floats,
                  mask=rng.integers(0, 2, (4, ROWS, COLUMNS), dtype=np.uint8) * 255, images=images,
                  index=np.array([2, 0, 1, 1, 0]), times=np.array([0.0, 0.1, 0.25, 0.5, 1.0, 2.0]))


def write_movies(path: Path | str, movies: Movies | None = None) -> Movies:
    """Write the file at ``path`` and return what it holds."""
    m = movies or make_movies()
    nwb = nzi.NWBFile("preview test", "preview-id", START)
    gray = nzi.ImageSeries("gray", nzi.ZarrDataIO(m.gray, chunks=(4, ROWS, COLUMNS)), "a.u.", rate=20.0,
                           starting_time=1.5)
    nwb.add_acquisition(gray)
    nwb.add_acquisition(nzi.OpticalSeries("rgb", data=m.rgb, unit="n.a.", timestamps=m.times))
    nwb.add_acquisition(nzi.ImageSeries("rgba", m.rgba, "n.a.", rate=5.0))
    nwb.add_acquisition(nzi.ImageSeries("volume", m.volume, "n.a.", rate=2.0))
    nwb.add_acquisition(nzi.TimeSeries("trace", np.arange(10.0), "V", rate=1.0))
    module = nwb.create_processing_module("ophys", "processed")
    module.add(nzi.ImageSeries("floats", m.floats, "dF/F", rate=1.0))
    stack = nzi.Images("stack", [nzi.GrayscaleImage("a_gray", m.images["a_gray"]),
                                 nzi.RGBImage("b_rgb", m.images["b_rgb"]),
                                 nzi.RGBAImage("c_rgba", m.images["c_rgba"])])
    nwb.add_stimulus_template(stack)
    nwb.add_stimulus(nzi.IndexSeries("shown", m.index, "N/A", indexed_images=stack, rate=1.0))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", nzi.NWBDeprecationWarning)  # ImageMaskSeries is deprecated, still valid
        nwb.add_stimulus(nzi.ImageMaskSeries("mask", gray, m.mask, "n.a.", rate=20.0))
    nzi.write(nwb, str(path))
    return m


def write_gray_avi(path: Path, count: int = 6) -> np.ndarray:
    """A lossless (FFV1) gray video of ``count`` 16x32 frames at 25 fps; returns its frames."""
    import av

    frames = np.stack([np.full((16, 32), 7 * i % 220, np.uint8) + np.arange(32, dtype=np.uint8) for i in range(count)])
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("ffv1", rate=25)
        stream.width, stream.height, stream.pix_fmt = 32, 16, "gray"
        for image in frames:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(image, format="gray")))
        container.mux(stream.encode())
    return frames


def write_external(path: Path, video: str, count: int) -> None:
    """An NWB file at ``path`` whose series 'cam' has its ``count`` frames in ``video`` (format 'external')."""
    nwb = nzi.NWBFile("ext", "ext-id", START)
    nwb.add_acquisition(nzi.ImageSeries("cam", external_file=[video], starting_frame=[0], format="external",
                                        rate=25.0, num_samples=count))
    nzi.write(nwb, str(path))


def decode_png(data: bytes | Path) -> np.ndarray:
    """Pixels of a PNG, decoded by Pillow (an independent decoder)."""
    raw = data.read_bytes() if isinstance(data, Path) else data
    with PILImage.open(io.BytesIO(raw)) as image:
        assert image.format == "PNG"
        return np.asarray(image)


def expected(values: np.ndarray, low: float, high: float) -> np.ndarray:
    """The documented mapping: round((v - low) * 255 / (high - low)), clipped to 0..255; NaN is 0."""
    out = (np.asarray(values, np.float64) - low) * (255.0 / (high - low))
    return np.clip(np.rint(np.nan_to_num(out, nan=0.0)), 0, 255).astype(np.uint8)


def auto(values: np.ndarray) -> tuple[float, float]:
    """Default contrast: percentiles 1 and 99.5 of the finite values."""
    finite = values[np.isfinite(values)]
    low, high = np.percentile(finite, [1.0, 99.5])
    return float(low), float(high)


# -- driving the viewer page (Playwright) ---------------------------------------------------------------------


@contextmanager
def page_on(browser: Any, server: Any, hash_: str = "") -> Iterator[tuple[Any, list[tuple[str, int]]]]:
    """A new page at the viewer; yields it and the (series path, frame) of every frame it asked for, in order."""
    context = browser.new_context(viewport={"width": 1100, "height": 700})
    page = context.new_page()
    asked: list[tuple[str, int]] = []

    def record(req: Any) -> None:
        parts = urlsplit(req.url)
        if parts.path == "/api/frame":
            query = parse_qs(parts.query)
            asked.append((query["path"][0], int(query["frame"][0])))

    page.on("request", record)
    page.set_default_timeout(15_000)
    page.goto(server.url + hash_)
    try:
        yield page, asked
    finally:
        context.close()


def wait_shown(page: Any, path: str, frame: int, contrast: str | None = None) -> None:
    page.wait_for_function("([p, f, c]) => document.body.dataset.shown === `${p}#${f}` && "
                           "document.body.dataset.loading === 'false' && (c === null || "
                           "document.getElementById('canvas').dataset.contrast === c)", arg=[path, frame, contrast])


def canvas_pixels(page: Any) -> np.ndarray:
    """The canvas's pixels as drawn, (rows, columns, RGBA), read back with getImageData."""
    got = page.evaluate("() => { const c = document.getElementById('canvas'); const d = c.getContext('2d')"
                        ".getImageData(0, 0, c.width, c.height); return [c.height, c.width, Array.from(d.data)]; }")
    return np.array(got[2], np.uint8).reshape(got[0], got[1], 4)


def as_rgba(gray_or_rgb: np.ndarray) -> np.ndarray:
    rgb = np.repeat(gray_or_rgb[..., None], 3, -1) if gray_or_rgb.ndim == 2 else gray_or_rgb
    return np.concatenate([rgb, np.full((*rgb.shape[:2], 1), 255, np.uint8)], axis=-1)
