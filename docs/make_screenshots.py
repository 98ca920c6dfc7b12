"""Make the README's pictures of ``nwbzarr-image preview`` and ``nwbzarr-image view`` (deterministic data).

Run:  .venv/bin/python docs/make_screenshots.py   (needs Debian's /usr/bin/chromium and the test extra's playwright)

Writes docs/demo.nwb.zarr (removed at the end), docs/viewer-behavior.png, docs/viewer-imaging.png,
docs/preview-grid.png and docs/preview-max.png.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

import nwbzarr_image as nzi
from nwbzarr_image.viewer import ViewerApp, ViewerServer

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
CHROMIUM_ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


def behavior_frames() -> np.ndarray:
    """The README's sample behaviour video, 90 frames 240x320 RGB, straight from its generator."""
    spec = importlib.util.spec_from_file_location("make_sample_video", ROOT / "examples/make_sample_video.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return np.stack(list(module.frames(90, 240, 320, gray=False)))


def imaging_frames(count: int = 200, size: int = 192) -> np.ndarray:
    """A two-photon-like uint16 movie: 40 cells that flash at random times over shot noise."""
    rng = np.random.default_rng(3)
    yy, xx = np.mgrid[0:size, 0:size]
    centers = rng.uniform(12, size - 12, (40, 2))
    cells = np.stack([np.exp(-((yy - y) ** 2 + (xx - x) ** 2) / (2 * rng.uniform(3, 6) ** 2)) for y, x in centers])
    spikes = (rng.random((count, 40)) < 0.03).astype(np.float64)
    kernel = np.exp(-np.arange(20) / 5.0)
    activity = np.stack([np.convolve(spikes[:, k], kernel)[:count] for k in range(40)], axis=1)
    signal = 300 + 900 * cells.sum(axis=0)[None] * 0.3 + np.tensordot(activity, cells, axes=(1, 0)) * 2500
    return rng.poisson(signal).astype(np.uint16)


def write_demo(path: Path) -> None:
    nwb = nzi.NWBFile("mouse on a treadmill: behaviour camera and two-photon imaging", "demo-001",
                      datetime(2024, 5, 6, 10, 30, tzinfo=UTC))
    cam = nwb.create_device("behavior camera")
    nwb.add_acquisition(nzi.ImageSeries("behavior", behavior_frames(), "n.a.", rate=30.0, device=cam,
                                        description="side view"))
    movie = imaging_frames()
    nwb.add_acquisition(nzi.ImageSeries("imaging", nzi.ZarrDataIO(movie, chunks=(8, 192, 192)), "a.u.", rate=15.0,
                                        description="GCaMP, 920 nm"))
    summary = nzi.Images("summary", [nzi.GrayscaleImage("mean", movie.mean(axis=0).astype(np.float32)),
                                     nzi.GrayscaleImage("max", movie.max(axis=0))], description="projections")
    module = nwb.create_processing_module("ophys", "summary images")
    module.add(summary)
    nzi.write(nwb, str(path), mode="w")


def screenshot(server: ViewerServer, browser: object, hash_: str, out: Path, contrast: str | None = None) -> None:
    page = browser.new_page(viewport={"width": 1180, "height": 760})
    page.goto(server.url + hash_)
    page.wait_for_function("() => document.body.dataset.shown && document.body.dataset.loading === 'false'")
    if contrast:
        page.select_option("#contrast-mode", "fixed")
        low, high = contrast.split(",")
        page.fill("#low", low)
        page.fill("#high", high)
        page.press("#high", "Enter")
        page.locator("#high").blur()
        page.wait_for_function(f"() => document.getElementById('canvas').dataset.contrast === '{contrast}' && "
                               "document.body.dataset.loading === 'false'")
    page.screenshot(path=str(out))
    page.close()


def main() -> int:
    from playwright.sync_api import sync_playwright

    os.chdir(DOCS)  # the pictures show the file as "demo.nwb.zarr"
    demo = Path("demo.nwb.zarr")
    write_demo(demo)
    cli = [str(Path(sys.executable).parent / "nwbzarr-image"), "preview", str(demo)]
    subprocess.run([*cli, "behavior", "--grid", "9", "--out", "preview-grid.png"], check=True)
    subprocess.run([*cli, "imaging", "--projection", "max", "--out", "preview-max.png"], check=True)
    server = ViewerServer(ViewerApp.open(str(demo)))
    server.start()
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
            screenshot(server, browser, "#path=/acquisition/behavior&frame=40", Path("viewer-behavior.png"))
            screenshot(server, browser, "#path=/acquisition/imaging&frame=57", Path("viewer-imaging.png"),
                       contrast="250,1400")
            browser.close()
    finally:
        server.stop()
        shutil.rmtree(demo)
    return 0


if __name__ == "__main__":
    sys.exit(main())
