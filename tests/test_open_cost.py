"""Opening costs one request, whatever the file holds: the pynwb-written reference file with an external-file
series (whose format and num_samples are read when used, not at open), and a file of 10,000 images and 1,000
series (whose node tree is built from the root's consolidated JSON; no zarr object per node at open)."""

from __future__ import annotations

import warnings
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
import zarr
from hdmf_zarr.nwb import NWBZarrIO
from pynwb import NWBFile
from pynwb.image import ImageSeries
from servers import http_server

import nwbzarr_image as nzi
from nwbzarr_image.validate import validate

START = datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)
IMAGES, SERIES = 10_000, 1_000


def write_reference(path: Path) -> Path:
    """pynwb + hdmf-zarr 0.14: an external-file ImageSeries (format, num_samples, starting_frame stored) and one
    with its frames in the file."""
    nwb = NWBFile(session_description="reference", identifier="ref-1", session_start_time=START)
    nwb.add_acquisition(ImageSeries(name="behavior", external_file=["behavior.mp4"], format="external",
                                    starting_frame=[0], rate=30.0, num_samples=900, unit="n.a."))
    nwb.add_acquisition(ImageSeries(name="stack", data=np.arange(4 * 8 * 8, dtype=np.uint8).reshape(4, 8, 8),
                                    unit="n.a.", rate=10.0))
    with NWBZarrIO(str(path), mode="w") as io:
        io.write(nwb)
    return path


def test_the_pynwb_reference_file_opens_over_http_in_one_request(tmp_path: Path) -> None:
    write_reference(tmp_path / "ref.nwb.zarr")
    assert (tmp_path / "ref.nwb.zarr/acquisition/behavior/format/c").is_file()  # pynwb stores scalars in chunks
    with http_server(tmp_path) as server:
        nwb = nzi.read(f"{server.url}/ref.nwb.zarr")
        assert dict(server.requests) == {("GET", "/ref.nwb.zarr/zarr.json"): 1}
        behavior = nwb.acquisition["behavior"]
        assert (behavior.format, behavior.num_samples, behavior.rate) == ("external", 900, 30.0)
        assert list(behavior.external_file) == ["behavior.mp4"] and list(behavior.starting_frame) == [0]
        assert {path for _, path in server.requests} >= {"/ref.nwb.zarr/acquisition/behavior/format/c",
                                                          "/ref.nwb.zarr/acquisition/behavior/num_samples/c"}
        np.testing.assert_array_equal(nwb.acquisition["stack"].data[3].compute(),
                                      np.arange(3 * 64, 4 * 64, dtype=np.uint8).reshape(8, 8))


def test_a_stored_format_that_breaks_the_rule_is_reported_by_validate(tmp_path: Path) -> None:
    path = write_reference(tmp_path / "ref.nwb.zarr")
    zarr.open_array(str(path / "acquisition/behavior/format"), mode="r+")[...] = "raw"
    nwb = nzi.read(str(path))  # not read to open the file: no warning yet
    assert nwb.acquisition["behavior"].format == "raw"
    problems = [str(p) for p in validate(str(path))]
    assert problems == ["/acquisition/behavior: Format must be 'external' when external_file is specified; got "
                        "'raw'. Pass format='external' or leave format unset."]


@pytest.fixture(scope="module")
def many(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """10,000 GrayscaleImages in one Images with order_of_images over all of them, and 1,000 ImageSeries."""
    folder = tmp_path_factory.mktemp("many")
    nwb = nzi.NWBFile("many objects", "many-1", START)
    pictures = [nzi.GrayscaleImage(f"img_{i:05d}", np.full((4, 4), i % 251, np.uint8)) for i in range(IMAGES)]
    nwb.add_stimulus_template(nzi.Images("stack", images=pictures, description="many images",
                                         order_of_images=nzi.ImageReferences("order_of_images", pictures[::-1])))
    for i in range(SERIES):
        nwb.add_acquisition(nzi.ImageSeries(f"s_{i:04d}", np.full((2, 3, 3), i % 251, np.uint8), "n.a.",
                                            rate=30.0, starting_time=float(i)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", nzi.PerformanceWarning)
        nzi.write(nwb, str(folder / "many.nwb.zarr"))
    return folder


def test_10000_images_and_1000_series_open_over_http_in_one_request(many: Path) -> None:
    with http_server(many) as server:
        nwb = nzi.read(f"{server.url}/many.nwb.zarr")
        assert dict(server.requests) == {("GET", "/many.nwb.zarr/zarr.json"): 1}
        stack = nwb.stimulus_template["stack"]
        assert len(stack.images) == IMAGES and len(nwb.acquisition) == SERIES
        assert nwb.acquisition["s_0999"].starting_time == 999.0 and nwb.acquisition["s_0999"].rate == 30.0
        assert server.total() == 1  # names, shapes, dtypes and scalars held in the metadata cost nothing
        np.testing.assert_array_equal(stack.images["img_01234"].data.compute(), np.full((4, 4), 1234 % 251))
        np.testing.assert_array_equal(nwb.acquisition["s_0500"].data[1].compute(), np.full((3, 3), 500 % 251))
        assert server.total() == 3  # one request per array read
        order = stack.order_of_images.data  # one more: the references, resolved to the file's own images
        assert len(order) == IMAGES and order[0] is stack.images["img_09999"] and order[-1] is stack.images[
            "img_00000"]
        assert server.total() == 4
