"""Write, then read (local directory and memory://): every type and optional field comes back equal."""

from __future__ import annotations

import numpy as np
import pytest
from builders import assert_same_image, assert_same_series, full_file, movie

import nwbzarr_image as nzi


def test_full_file_round_trip(url: str) -> None:
    nwb = full_file()
    nzi.write(nwb, url)
    back = nzi.read(url)
    assert (back.identifier, back.session_description) == (nwb.identifier, nwb.session_description)
    assert back.session_start_time == nwb.session_start_time
    assert back.timestamps_reference_time == nwb.timestamps_reference_time
    assert back.file_create_date == nwb.file_create_date
    assert back.object_id == nwb.object_id
    subject = back.subject
    assert (subject.age, subject.age__reference, subject.species, subject.subject_id, subject.sex) == (
        "P30D", "birth", "Mus musculus", "m1", "M")
    assert subject.date_of_birth == nwb.subject.date_of_birth and subject.object_id == nwb.subject.object_id
    for attr in ("acquisition", "stimulus"):
        ours, theirs = getattr(nwb, attr), getattr(back, attr)
        assert sorted(ours) == sorted(theirs)
        for name in ours:
            assert_same_series(ours[name], theirs[name])
    device = back.devices["cam"]
    assert (device.description, device.serial_number, device.object_id) == (
        "behaviour camera", "SN-1", nwb.devices["cam"].object_id)
    assert back.acquisition["vid"].device is device  # links resolve to the one object
    assert back.acquisition["mask"].masked_imageseries is back.acquisition["vid"]
    assert back.acquisition["dff"].timestamps_link_target is back.acquisition["stack"]
    np.testing.assert_array_equal(back.acquisition["dff"].timestamps.compute(), [0.0, 0.5, 1.25])
    images, written = back.stimulus_template["templates"], nwb.stimulus_template["templates"]
    assert images.description == "stimulus images" and sorted(images.images) == ["gray", "rgb", "rgba"]
    for name in written.images:
        assert_same_image(written.images[name], images.images[name])
    assert [i.name for i in images.order_of_images.data] == ["rgba", "gray", "rgb"]
    assert images.order_of_images.data[0] is images.images["rgba"]
    assert back.stimulus["shown"].indexed_images is images
    assert back.stimulus["shown_frames"].indexed_timeseries is back.acquisition["vid"]
    mean = back.processing["ophys"]["mean"]
    assert back.processing["ophys"].description == "processed movies"
    assert_same_series(nwb.processing["ophys"]["mean"], mean)


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float32], ids=["uint8", "uint16", "float32"])
@pytest.mark.parametrize("shape", [(7, 6, 5), (4, 6, 5, 3)], ids=["3d", "4d"])
def test_frames_keep_values_and_dtype(url: str, start_time, dtype: type, shape: tuple[int, ...]) -> None:
    frames = movie(shape, dtype)
    nwb = nzi.NWBFile("s", "id", start_time)
    nwb.add_acquisition(nzi.ImageSeries("m", frames, "n.a.", rate=10.0))
    nzi.write(nwb, url)
    data = nzi.read(url).acquisition["m"].data
    assert data.dtype == np.dtype(dtype) and data.shape == shape
    np.testing.assert_array_equal(data.compute(), frames)


@pytest.mark.parametrize("kind", ["series", "optical", "mask"])
def test_external_file_with_starting_frame(url: str, start_time, kind: str) -> None:
    nwb = nzi.NWBFile("s", "id", start_time)
    common = dict(external_file=["a.mp4", "b.mp4", "c.mp4"], starting_frame=[0, 5, 9], rate=25.0, num_samples=12)
    if kind == "series":
        series = nzi.ImageSeries("ext", **common)
    elif kind == "optical":
        series = nzi.OpticalSeries("ext", 2.0, [0.1, 0.1], "up", **common)
    else:
        target = nwb.add_acquisition(nzi.ImageSeries("target", movie((2, 3, 3), np.uint8), "n.a.", rate=1.0))
        with pytest.warns(nzi.NWBDeprecationWarning):
            series = nzi.ImageMaskSeries("ext", target, **common)
    nwb.add_acquisition(series)
    nzi.write(nwb, url)
    back = nzi.read(url).acquisition["ext"]
    assert back.external_file == ["a.mp4", "b.mp4", "c.mp4"]
    np.testing.assert_array_equal(back.starting_frame, [0, 5, 9])
    assert (back.format, back.num_samples, back.rate, back.starting_time) == ("external", 12, 25.0, 0.0)
    assert back.data.shape == (0, 0, 0) and back.unit == "unknown"


def test_single_external_file_gets_starting_frame_zero(url: str, start_time) -> None:
    nwb = nzi.NWBFile("s", "id", start_time)
    nwb.add_acquisition(nzi.ImageSeries("ext", external_file=["only.mp4"], timestamps=[0.0, 0.1, 0.2]))
    with pytest.warns(nzi.NWBRuleWarning, match="num_samples is not written"):  # only.mp4 does not exist
        nzi.write(nwb, url)
    back = nzi.read(url).acquisition["ext"]
    np.testing.assert_array_equal(back.starting_frame, [0])
    assert back.num_samples == 3 and back.explicit_num_samples is None


def test_index_series_ints_are_stored_unsigned(url: str, start_time) -> None:
    nwb = nzi.NWBFile("s", "id", start_time)
    images = nwb.add_stimulus_template(nzi.Images("imgs", [nzi.GrayscaleImage("a", np.zeros((2, 2), np.uint8))],
                                                  order_of_images=[]))
    nwb.add_stimulus(nzi.IndexSeries("idx", [0, 0, 0], "N/A", indexed_images=images, rate=2.0))
    nwb.add_stimulus(nzi.IndexSeries("idx32", np.array([0, 0], np.int32), "N/A", indexed_images=images, rate=2.0))
    nzi.write(nwb, url)
    back = nzi.read(url)
    assert back.stimulus["idx"].data.dtype == np.uint64  # as hdmf: int64 -> uint64
    assert back.stimulus["idx32"].data.dtype == np.uint32
    np.testing.assert_array_equal(back.stimulus["idx"].data.compute(), [0, 0, 0])
    assert back.stimulus_template["imgs"].order_of_images.data == []


def test_negative_index_is_refused_before_writing(url: str, start_time) -> None:
    nwb = nzi.NWBFile("s", "id", start_time)
    images = nwb.add_stimulus_template(nzi.Images("imgs", [nzi.GrayscaleImage("a", np.zeros((2, 2), np.uint8))]))
    nwb.add_stimulus(nzi.IndexSeries("idx", np.array([0, -1]), "N/A", indexed_images=images, rate=2.0))
    with pytest.raises(nzi.SchemaError, match="'data' must hold non-negative integers"):
        nzi.write(nwb, url)
    with pytest.raises(nzi.StoreNotFoundError):
        nzi.read(url)


def test_timeseries_and_data_link(url: str, start_time) -> None:
    nwb = nzi.NWBFile("s", "id", start_time)
    speed = nwb.add_acquisition(nzi.TimeSeries("speed", np.arange(5.0), "m/s", rate=5.0, continuity="continuous"))
    nwb.add_acquisition(nzi.TimeSeries("speed_copy", speed, "m/s", timestamps=np.arange(5.0)))
    nzi.write(nwb, url)
    back = nzi.read(url).acquisition
    assert back["speed"].continuity == "continuous" and back["speed"].unit == "m/s"
    assert back["speed_copy"].data_link_target is back["speed"]
    np.testing.assert_array_equal(back["speed_copy"].data.compute(), np.arange(5.0))
    assert back["speed"].data_link == {back["speed_copy"]}


def test_write_does_not_change_the_objects(url: str, start_time) -> None:
    frames = movie((3, 4, 4), np.uint8)
    nwb = nzi.NWBFile("s", "id", start_time)
    series = nwb.add_acquisition(nzi.ImageSeries("m", frames, "n.a.", rate=1.0))
    nzi.write(nwb, url)
    assert series.data is frames


def test_read_file_can_be_written_again(url: str, tmp_path, start_time) -> None:
    nzi.write(full_file(), url)
    first = nzi.read(url)
    copy = str(tmp_path / "copy.nwb.zarr")
    nzi.write(first, copy)
    second = nzi.read(copy)
    for name in first.acquisition:
        assert_same_series(first.acquisition[name], second.acquisition[name])
    assert [i.name for i in second.stimulus_template["templates"].order_of_images.data] == ["rgba", "gray", "rgb"]
