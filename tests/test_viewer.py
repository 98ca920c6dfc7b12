"""nwbzarr-image view: the server (listing, frames, errors, counts of chunks read) and the page in headless Chromium."""

from __future__ import annotations

import asyncio
import http.client
import json
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from counting import CountingStore
from preview_helpers import (
    as_rgba,
    auto,
    canvas_pixels,
    decode_png,
    expected,
    page_on,
    wait_shown,
    write_external,
    write_gray_avi,
    write_movies,
)
from zarr.storage import LocalStore

import nwbzarr_image as nzi
from nwbzarr_image.cli import main
from nwbzarr_image.viewer import ViewerApp, ViewerServer

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
GRAY_CHUNK = "acquisition/gray/data/c.{}.0.0"  # 4 frames per chunk


@pytest.fixture(scope="module")
def movie_file(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Any]:
    path = tmp_path_factory.mktemp("viewer") / "m.nwb.zarr"
    return path, write_movies(path)


class GatedStore(CountingStore):
    """Counts reads; while ``gate`` is clear, reads of frame chunks wait for it (``waiting`` tells one does)."""

    def __init__(self, store: Any) -> None:
        super().__init__(store)
        self.gate, self.waiting = threading.Event(), threading.Event()
        self.gate.set()

    async def get(self, key: str, prototype: Any, byte_range: Any = None) -> Any:
        if "/data/c." in key and not self.gate.is_set():
            self.waiting.set()
            await asyncio.to_thread(self.gate.wait, 30)
        return await super().get(key, prototype, byte_range)


@contextmanager
def serving(path: Path) -> Iterator[tuple[ViewerServer, GatedStore]]:
    store = GatedStore(LocalStore(str(path), read_only=True))
    server = ViewerServer(ViewerApp(nzi.read(store), "m.nwb.zarr"))
    server.start()
    try:
        yield server, store
    finally:
        store.gate.set()
        server.stop()


def request(server: ViewerServer, target: str, *, method: str = "GET", host: str | None = None
            ) -> tuple[int, dict[str, str], bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", server.server_address[1], timeout=30)
    headers = {"Host": host} if host else {}
    connection.request(method, target, headers=headers)
    response = connection.getresponse()
    result = response.status, dict(response.getheaders()), response.read()
    connection.close()
    return result


def test_listing_reads_no_frame(movie_file) -> None:
    path, _ = movie_file
    with serving(path) as (server, store):
        assert store.reads == {"zarr.json": 1}
        status, headers, body = request(server, "/api/file")
        listing = json.loads(body)
        assert status == 200 and headers["Content-Type"] == "application/json"
        assert store.chunk_reads() == {}  # everything listed comes from the consolidated metadata
    items = {item["path"]: item for item in listing["items"]}
    assert list(items) == ["/acquisition/gray", "/acquisition/rgb", "/acquisition/rgba", "/acquisition/volume",
                           "/stimulus/presentation/mask", "/stimulus/presentation/shown", "/stimulus/templates/stack",
                           "/stimulus/templates/stack/a_gray", "/stimulus/templates/stack/b_rgb",
                           "/stimulus/templates/stack/c_rgba", "/processing/ophys/floats"]
    gray = items["/acquisition/gray"]
    assert (gray["frames"], gray["shape"], gray["dtype"], gray["color"], gray["rate"]) == (
        12, [10, 14], "uint16", "gray", 20.0)
    assert (items["/acquisition/rgb"]["timestamps"], items["/acquisition/rgb"]["color"]) == (True, "rgb")
    assert (items["/stimulus/templates/stack"]["kind"], items["/stimulus/templates/stack"]["frames"]) == ("images", 3)
    assert items["/stimulus/templates/stack/c_rgba"]["kind"] == "image"
    assert listing["file"]["identifier"] == "preview-id"


def test_each_frame_reads_only_the_chunk_it_touches(movie_file) -> None:
    path, m = movie_file
    with serving(path) as (server, store):
        status, headers, body = request(server, "/api/frame?path=/acquisition/gray&frame=5")
        assert status == 200 and headers["Content-Type"] == "image/png"
        assert store.chunk_reads() == {GRAY_CHUNK.format(1): 1}
        np.testing.assert_array_equal(decode_png(body), expected(m.gray[5], *auto(m.gray[5])))
        assert (headers["X-Frame"], headers["X-Frame-Count"], float(headers["X-Frame-Time"])) == ("5", "12", 1.75)
        assert (float(headers["X-Contrast-Low"]), float(headers["X-Contrast-High"])) == auto(m.gray[5])
        for frame in (6, 11, 0):
            request(server, f"/api/frame?path=/acquisition/gray&frame={frame}&contrast=none")
        assert store.chunk_reads() == {GRAY_CHUNK.format(0): 1, GRAY_CHUNK.format(1): 2, GRAY_CHUNK.format(2): 1}
        _, headers, body = request(server, "/api/frame?path=/acquisition/rgb&frame=4&contrast=none")
        np.testing.assert_array_equal(decode_png(body), m.rgb[4])
        assert float(headers["X-Frame-Time"]) == 1.0  # from the timestamps
        _, headers, body = request(server, "/api/frame?path=/stimulus/templates/stack/c_rgba&frame=0&contrast=none")
        np.testing.assert_array_equal(decode_png(body), m.images["c_rgba"])
        assert headers["X-Frame-Time"] == ""
        status, headers, body = request(server, "/api/frame?path=/acquisition/gray&frame=1", method="HEAD")
        assert status == 200 and body == b"" and int(headers["Content-Length"]) > 0


def test_remote_file_one_request_per_frame(tmp_path: Path) -> None:
    from servers import http_server

    m = write_movies(tmp_path / "r.nwb.zarr")
    with http_server(tmp_path) as files:
        viewer = ViewerServer(ViewerApp.open(f"{files.url}/r.nwb.zarr"))
        viewer.start()
        try:
            files.reset()
            request(viewer, "/api/file")
            assert files.total() == 0
            _, _, body = request(viewer, "/api/frame?path=/acquisition/gray&frame=9&contrast=none")
            assert dict(files.requests) == {("GET", "/r.nwb.zarr/acquisition/gray/data/c.2.0.0"): 1}
            files.reset()
            request(viewer, "/api/frame?path=/acquisition/gray&frame=3&contrast=none")
            assert dict(files.requests) == {("GET", "/r.nwb.zarr/acquisition/gray/data/c.0.0.0"): 1}
        finally:
            viewer.stop()
    np.testing.assert_array_equal(decode_png(body), expected(m.gray[9], 0, 65535))


ERRORS = [
    ("/api/frame?path=/acquisition/nope&frame=0", 404, "no series or image '/acquisition/nope' in m.nwb.zarr"),
    ("/api/frame?path=/acquisition/gray&frame=12", 404, "no frame 12; expected 0 to 11 (12 frames)"),
    ("/api/frame?path=/acquisition/gray&frame=-13", 404, "no frame -13"),
    ("/api/frame?path=/acquisition/gray&frame=x", 400, "frame must be a whole number; got 'x'"),
    ("/api/frame?path=/acquisition/gray", 400, "the parameter 'frame' is missing"),
    ("/api/frame?frame=1", 400, "the parameter 'path' is missing"),
    ("/api/frame?path=/acquisition/gray&frame=0&contrast=9,1", 400, "contrast: cannot read '9,1'"),
    ("/api/frame?path=/acquisition/trace&frame=0", 404, "no series or image '/acquisition/trace'"),
    ("/api/nothing", 404, "no page at '/api/nothing'"),
    ("/../../etc/passwd", 404, "no page at"),
    ("/static/index.html", 404, "no page at"),
    ("/m.nwb.zarr/zarr.json", 404, "no page at"),
    ("/acquisition/gray/data/c.0.0.0", 404, "no page at"),
    ("/zarr.json", 404, "no page at"),
    ("//etc/passwd", 404, "no page at"),
]


@pytest.mark.parametrize(("target", "status", "message"), ERRORS, ids=[t for t, _, _ in ERRORS])
def test_bad_requests_get_a_clear_4xx(movie_file, target: str, status: int, message: str) -> None:
    path, _ = movie_file
    with serving(path) as (server, store):
        got, headers, body = request(server, target)
        assert store.chunk_reads() == {}
    text = body.decode()
    assert got == status and message in text and "Traceback" not in text, text
    if target.startswith("/api/"):
        assert json.loads(text) == {"error": json.loads(text)["error"], "status": status}
    else:
        assert headers["Content-Type"].startswith("text/html")


@pytest.mark.parametrize(("method", "host", "status", "message"), [
    ("POST", None, 405, "is not allowed; this server is read-only"), ("PUT", None, 405, "read-only"),
    ("DELETE", None, 405, "read-only"), ("GET", "evil.example:80", 403, "host 'evil.example:80' is not served")],
    ids=["POST", "PUT", "DELETE", "foreign-host"])
def test_read_only_and_loopback_names_only(movie_file, method: str, host: str | None, status: int,
                                            message: str) -> None:
    path, _ = movie_file
    with serving(path) as (server, _store):
        got, _, body = request(server, "/api/file", method=method, host=host)
        ok, headers, page = request(server, "/", host=f"localhost:{server.server_address[1]}")
    assert got == status and message in body.decode()
    assert ok == 200 and b"nwbzarr-image viewer" in page and "default-src 'none'" in headers["Content-Security-Policy"]
    assert server.server_address[0] == "127.0.0.1"


def test_external_series_frames_and_missing_file(tmp_path: Path) -> None:
    frames = write_gray_avi(tmp_path / "v.avi", 40)
    write_external(tmp_path / "e.nwb.zarr", "v.avi", 40)
    write_external(tmp_path / "gone.nwb.zarr", "gone.avi", 6)
    server, missing = ViewerServer(ViewerApp.open(str(tmp_path / "e.nwb.zarr"))), ViewerServer(
        ViewerApp.open(str(tmp_path / "gone.nwb.zarr")))
    server.start(), missing.start()
    try:
        for frame in (3, 4, 35):
            _, _, body = request(server, f"/api/frame?path=/acquisition/cam&frame={frame}&contrast=none")
            np.testing.assert_array_equal(decode_png(body), frames[frame])
        blocks = list(server.app.cache.blocks)
        item = json.loads(request(missing, "/api/file")[2])["items"][0]
        status, _, body = request(missing, "/api/frame?path=/acquisition/cam&frame=0")
    finally:
        server.stop(), missing.stop()
    assert blocks == [("/acquisition/cam", 0), ("/acquisition/cam", 32)]  # frames 3 and 4: one block, decoded once
    assert item["path"] == "/acquisition/cam" and item["frames"] == 0 and "gone.avi" in item["error"]
    assert status == 404 and "gone.avi" in json.loads(body)["error"]


def test_view_command_serves_until_interrupted(movie_file) -> None:
    path, _ = movie_file
    exe = Path(sys.executable).parent / "nwbzarr-image"
    proc = subprocess.Popen([str(exe), "view", str(path)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        assert line.startswith(f"viewing {path} (11 series and images) at http://127.0.0.1:"), line
        port = int(line.split("http://127.0.0.1:")[1].split("/")[0])
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        connection.request("GET", "/api/file")
        assert connection.getresponse().status == 200
        connection.close()
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0 and "stopped" in out and err == ""


def test_view_of_a_missing_file_is_one_line(tmp_path: Path, capsys) -> None:
    assert main(["view", str(tmp_path / "missing.nwb.zarr")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("nwbzarr-image view: error: read: no Zarr group at") and len(err.splitlines()) == 1


# -- the page in a real browser -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Headless Debian Chromium driven by Playwright; missing Chromium fails (never skips) the browser tests."""
    if not CHROMIUM.exists():
        pytest.fail(f"the viewer's browser tests need Chromium at {CHROMIUM}; expected Debian's package, got no such "
                    "file. Install it: apt-get update && apt-get install -y chromium (.ci/run does).")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def test_page_picks_a_series_moves_the_slider_and_shows_the_stored_frame(browser, movie_file) -> None:
    path, m = movie_file
    with serving(path) as (server, store), page_on(browser, server) as (page, asked):
        wait_shown(page, "/acquisition/gray", 0)  # the first series is shown at once, auto contrast
        np.testing.assert_array_equal(canvas_pixels(page), as_rgba(expected(m.gray[0], *auto(m.gray[0]))))
        assert page.inner_text("#time") == "t = 1.5 s"
        names = page.locator("#items button .name").all_inner_texts()
        assert names[:2] == ["gray", "rgb"] and "templates/stack/b_rgb" in names
        page.click("button[data-path='/acquisition/rgb']")
        wait_shown(page, "/acquisition/rgb", 0)
        page.select_option("#contrast-mode", "none")
        wait_shown(page, "/acquisition/rgb", 0, "none")
        page.locator("#slider").fill("4")  # move the slider
        wait_shown(page, "/acquisition/rgb", 4, "none")
        np.testing.assert_array_equal(canvas_pixels(page), as_rgba(m.rgb[4]))  # exactly the stored frame
        assert page.inner_text("#time") == "t = 1 s"  # from the timestamps
        page.focus("#slider")
        page.keyboard.press("ArrowRight")
        wait_shown(page, "/acquisition/rgb", 5, "none")
        np.testing.assert_array_equal(canvas_pixels(page), as_rgba(m.rgb[5]))
        assert page.inner_text("#time") == "t = 2 s"
        page.fill("#frame-number", "2")
        page.press("#frame-number", "Enter")
        wait_shown(page, "/acquisition/rgb", 2, "none")
        np.testing.assert_array_equal(canvas_pixels(page), as_rgba(m.rgb[2]))
        page.click("button[data-path='/stimulus/templates/stack/b_rgb']")
        wait_shown(page, "/stimulus/templates/stack/b_rgb", 0, "none")
        np.testing.assert_array_equal(canvas_pixels(page), as_rgba(m.images["b_rgb"]))
        assert page.is_disabled("#slider") and page.is_disabled("#play")
        reads = store.chunk_reads()
    frames = [frame for series, frame in asked if series == "/acquisition/rgb"]
    assert frames == [0, 0, 4, 5, 2] and asked[0] == ("/acquisition/gray", 0) and len(asked) == 7
    assert reads == {GRAY_CHUNK.format(0): 1, "acquisition/rgb/data/c.0.0.0.0": 5,  # one chunk per frame shown
                     "acquisition/rgb/timestamps/c.0": 1,  # the timestamps, once for the series
                     "stimulus/templates/stack/b_rgb/c.0.0.0": 1}


def test_page_drops_stale_frames_and_stays_responsive(browser, movie_file) -> None:
    path, m = movie_file
    with serving(path) as (server, store), page_on(browser, server) as (page, asked):
        wait_shown(page, "/acquisition/gray", 0)
        store.gate.clear()  # frame chunks now wait until the gate opens
        page.locator("#slider").fill("9")
        assert store.waiting.wait(30)  # frame 9 is being read
        for frame in ("10", "11"):
            page.locator("#slider").fill(frame)
        # the page answers while frame 9 loads: the controls already show frame 11, and the time of frame 11
        assert page.input_value("#frame-number") == "11" and page.inner_text("#status") == "loading frame 9…"
        assert page.inner_text("#time") == "t = 2.05 s" and page.evaluate("() => document.body.dataset.shown") == (
            "/acquisition/gray#0")
        store.gate.set()
        wait_shown(page, "/acquisition/gray", 11)
        np.testing.assert_array_equal(canvas_pixels(page), as_rgba(expected(m.gray[11], *auto(m.gray[11]))))
        reads = store.chunk_reads()
    assert asked == [("/acquisition/gray", 0), ("/acquisition/gray", 9), ("/acquisition/gray", 11)]  # 10 dropped
    assert reads == {GRAY_CHUNK.format(0): 1, GRAY_CHUNK.format(2): 2}


def test_play_shows_every_frame_in_order(browser, movie_file) -> None:
    path, m = movie_file
    with serving(path) as (server, _store), page_on(browser, server) as (page, asked):
        wait_shown(page, "/acquisition/gray", 0)
        page.fill("#fps", "60")
        page.click("#play")
        page.wait_for_function("() => Number(document.getElementById('canvas').dataset.frame) >= 4")
        page.click("#play")  # pause
        page.wait_for_function("() => document.body.dataset.loading === 'false'")
        shown = int(page.evaluate("() => document.getElementById('canvas').dataset.frame"))
        np.testing.assert_array_equal(canvas_pixels(page), as_rgba(expected(m.gray[shown], *auto(m.gray[shown]))))
        assert page.inner_text("#play") == "▶ Play"
    assert [frame for _, frame in asked] == list(range(shown + 1))  # each frame once, none skipped


def test_contrast_controls(browser, movie_file) -> None:
    path, m = movie_file
    with serving(path) as (server, _store), page_on(browser, server, "#path=/acquisition/gray&frame=3") as (page, _):
        wait_shown(page, "/acquisition/gray", 3)
        low, high = auto(m.gray[3])
        shown = page.inner_text("#limits").replace(",", "").split()  # "black LOW, white HIGH"
        assert (shown[0], shown[2]) == ("black", "white")
        assert (float(shown[1]), float(shown[3])) == pytest.approx((low, high), abs=1e-4)
        page.select_option("#contrast-mode", "fixed")
        page.fill("#low", "100")
        page.fill("#high", "3000")
        page.press("#high", "Enter")
        wait_shown(page, "/acquisition/gray", 3, "100,3000")
        np.testing.assert_array_equal(canvas_pixels(page), as_rgba(expected(m.gray[3], 100, 3000)))
        page.select_option("#contrast-mode", "auto")
        wait_shown(page, "/acquisition/gray", 3, "auto")
        page.click("#hold")  # keep this frame's black and white for the next frames
        assert page.input_value("#contrast-mode") == "fixed"
        held = f"{page.input_value('#low')},{page.input_value('#high')}"
        wait_shown(page, "/acquisition/gray", 3, held)
        page.locator("#slider").fill("4")
        wait_shown(page, "/acquisition/gray", 4, held)
        lo, hi = (float(v) for v in held.split(","))
        assert (lo, hi) == (low, high)
        np.testing.assert_array_equal(canvas_pixels(page), as_rgba(expected(m.gray[4], lo, hi)))


def test_errors_show_in_the_page_with_their_status(browser, movie_file) -> None:
    path, _ = movie_file
    with serving(path) as (server, _store), page_on(browser, server, "#path=/acquisition/nope&frame=0") as (page, _):
        page.wait_for_function("() => document.body.dataset.error")
        assert page.inner_text("#message") == ("404: no series or image '/acquisition/nope' in m.nwb.zarr; expected "
                                               "one of: " + ", ".join(ViewerApp(nzi.read(str(path)), "").objects)
                                               + ". Pick one from the list.")
        page.click("button[data-path='/acquisition/gray']")
        wait_shown(page, "/acquisition/gray", 0)
        assert page.is_hidden("#message")
        with page.expect_response(lambda r: "/api/frame" in r.url and "frame=40" in r.url) as response:
            page.fill("#frame-number", "40")
            page.press("#frame-number", "Enter")
        assert response.value.status == 404
        page.wait_for_function("() => document.body.dataset.error")
        assert page.inner_text("#message") == ("404: ImageSeries '/acquisition/gray': no frame 40; expected 0 to 11 "
                                               "(12 frames). Pick a frame in that range.")
        answer = page.goto(server.url + "nothing/here")
        assert answer.status == 404 and "no page at '/nothing/here'" in page.inner_text("#error")
