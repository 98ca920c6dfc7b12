"""No stale scalars (issue 12, item 8): a scalar dataset of our file that another Zarr writer rewrites in place
reads back the new value, and a file whose scalars were not rewritten still opens, scalars included, with one
request."""

from __future__ import annotations

import json
import warnings
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import zarr
from counting import CountingStore
from hdmf_zarr.nwb import NWBZarrIO
from zarr.storage import LocalStore

import nwbzarr_image as nzi
from nwbzarr_image.storage.consolidate import mark_chunkless_scalars
from nwbzarr_image.storage.reader import VALUE_IN_FILL

START = datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)
SCALARS = ("identifier", "session_description", "session_start_time", "timestamps_reference_time",
           "acquisition/movie/starting_time", "acquisition/ext/format", "acquisition/ext/num_samples")


def _file() -> nzi.NWBFile:
    f = nzi.NWBFile("fresh scalars", "fresh-1", START)
    f.add_acquisition(nzi.ImageSeries("movie", np.arange(24, dtype=np.uint8).reshape(4, 3, 2), "n.a.", rate=5.0,
                                      starting_time=2.5))
    f.add_acquisition(nzi.ImageSeries("ext", external_file=["a.avi"], starting_frame=[0], format="external",
                                      rate=30.0, num_samples=90))
    return f


@pytest.fixture
def ours(tmp_path: Path) -> Path:
    path = tmp_path / "ours.nwb.zarr"
    nzi.write(_file(), path)
    return path


def _consolidated(path: Path) -> dict[str, Any]:
    return json.loads((path / "zarr.json").read_text())["consolidated_metadata"]["metadata"]


def _values(nwb: nzi.NWBFile) -> dict[str, Any]:
    movie, ext = nwb.acquisition["movie"], nwb.acquisition["ext"]
    return {"identifier": nwb.identifier, "session_description": nwb.session_description,
            "session_start_time": nwb.session_start_time, "starting_time": movie.starting_time,
            "format": ext.format, "num_samples": ext.num_samples}


def _counted_read(path: Path) -> tuple[dict[str, Any], CountingStore]:
    store = CountingStore(LocalStore(str(path), read_only=True))
    return _values(nzi.read(store)), store


def test_unrewritten_scalars_come_from_the_metadata_with_one_request(ours: Path) -> None:
    entries = _consolidated(ours)
    for path in SCALARS:
        assert VALUE_IN_FILL in entries[path], path
        assert not (ours / path / "c").exists()
        assert VALUE_IN_FILL not in json.loads((ours / path / "zarr.json").read_text())  # never in the array's own
    values, store = _counted_read(ours)
    assert values == {"identifier": "fresh-1", "session_description": "fresh scalars", "session_start_time": START,
                      "starting_time": 2.5, "format": "external", "num_samples": 90}
    assert store.reads == {"zarr.json": 1}


def _rewrite_with_zarr(path: Path, changes: dict[str, Any]) -> None:
    for key, value in changes.items():
        zarr.open_array(str(path), path=key, mode="r+")[...] = value


def test_rewritten_by_zarr_python_and_reconsolidated_reads_the_new_values(ours: Path) -> None:
    _rewrite_with_zarr(ours, {"session_description": "edited by zarr", "acquisition/movie/starting_time": 7.25,
                              "acquisition/ext/num_samples": 91})
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Consolidated metadata is currently not part")
        zarr.consolidate_metadata(str(ours))
    entries = _consolidated(ours)
    assert not any(VALUE_IN_FILL in entries[p] for p in SCALARS)  # zarr rebuilt it from the arrays' own zarr.json
    values, store = _counted_read(ours)
    assert values["session_description"] == "edited by zarr"
    assert values["starting_time"] == 7.25 and values["num_samples"] == 91
    assert values["identifier"] == "fresh-1" and values["format"] == "external"  # not rewritten: the fill value
    # every scalar is now read from the store: the rewritten ones from their chunk, the others find none
    assert store.reads["zarr.json"] == 1 and store.reads["session_description/c"] == 1
    assert store.reads["acquisition/movie/starting_time/c"] == 1


def test_nzi_consolidate_compares_the_store_and_marks_only_chunkless_scalars(ours: Path) -> None:
    _rewrite_with_zarr(ours, {"identifier": "edited-2"})
    nzi.consolidate(ours)
    entries = _consolidated(ours)
    assert VALUE_IN_FILL not in entries["identifier"]
    assert all(VALUE_IN_FILL in entries[p] for p in SCALARS if p != "identifier")
    values, store = _counted_read(ours)
    assert values["identifier"] == "edited-2" and values["session_description"] == "fresh scalars"
    assert store.chunk_reads() == {"identifier/c": 1}  # only the scalar with a stored chunk is read


def test_rewritten_through_hdmf_zarr_reads_the_new_value(ours: Path) -> None:
    """hdmf-zarr 0.14 in append mode: a scalar changed through its zarr group, then a write, which re-consolidates
    the file (as every hdmf-zarr write does)."""
    import pynwb.image

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        io = NWBZarrIO(str(ours), mode="a")
        f = io.read()
        io._file["session_description"][...] = "edited by hdmf-zarr"  # its zarr group (no public accessor)
        f.add_acquisition(pynwb.image.ImageSeries(name="added", data=np.ones((2, 3, 2), np.uint8), unit="n.a.",
                                                  rate=1.0))
        io.write(f)
        io.close()
    back = nzi.read(ours)
    assert back.session_description == "edited by hdmf-zarr"
    assert back.identifier == "fresh-1" and back.acquisition["movie"].starting_time == 2.5
    np.testing.assert_array_equal(back.acquisition["added"].data.compute(), np.ones((2, 3, 2), np.uint8))
    with NWBZarrIO(str(ours), mode="r") as io2:
        assert io2.read().session_description == "edited by hdmf-zarr"


def test_without_consolidated_metadata_every_scalar_is_read_from_the_store(ours: Path) -> None:
    _rewrite_with_zarr(ours, {"session_description": "edited, not consolidated"})
    meta = json.loads((ours / "zarr.json").read_text())
    meta.pop("consolidated_metadata")
    (ours / "zarr.json").write_text(json.dumps(meta))
    with pytest.warns(nzi.PerformanceWarning, match="no consolidated metadata"):
        nwb = nzi.read(ours)
    assert nwb.session_description == "edited, not consolidated" and nwb.identifier == "fresh-1"


def test_appending_keeps_the_marks_of_untouched_scalars(ours: Path) -> None:
    with nzi.open(ours, "a") as f:
        f.add_acquisition(nzi.ImageSeries("more", np.ones((2, 3, 2), np.uint8), "n.a.", rate=1.0,
                                          starting_time=4.0))
    entries = _consolidated(ours)
    assert all(VALUE_IN_FILL in entries[p] for p in (*SCALARS, "acquisition/more/starting_time"))
    values, store = _counted_read(ours)
    assert values["starting_time"] == 2.5 and store.reads == {"zarr.json": 1}


def test_pynwb_file_scalars_are_read_from_their_chunks(tmp_path: Path) -> None:
    """hdmf-zarr stores every scalar in a chunk with the default fill value: nothing to mark, each is read."""
    import pynwb

    path = tmp_path / "pynwb.nwb.zarr"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with NWBZarrIO(str(path), mode="w") as io:
            io.write(pynwb.NWBFile("theirs", "theirs-1", START))
    assert mark_chunkless_scalars(LocalStore(str(path))) == []
    store = CountingStore(LocalStore(str(path), read_only=True))
    nwb = nzi.read(store)
    assert nwb.identifier == "theirs-1" and store.chunk_reads() == {"identifier/c": 1}


@pytest.mark.parametrize("where", ["local", "memory"])
def test_a_chunk_stored_without_reconsolidating_is_seen_where_looking_is_free(where: str, tmp_path: Path) -> None:
    """On a local disk or in memory the reader checks that a marked scalar still has no chunk (no request)."""
    url = str(tmp_path / "f.nwb.zarr") if where == "local" else f"memory://{tmp_path.name}/f.nwb.zarr"
    nzi.write(_file(), url)
    group = zarr.open_group(url, mode="r+")
    group["session_description"][...] = "edited in place"
    group["acquisition/movie/starting_time"][...] = 9.5
    back = nzi.read(url)
    assert back.session_description == "edited in place" and back.acquisition["movie"].starting_time == 9.5
    assert back.identifier == "fresh-1"
    if where == "memory":
        import fsspec

        fsspec.filesystem("memory").rm(f"/{tmp_path.name}", recursive=True)


def test_remote_reader_trusts_the_marks_one_request_in_all(tmp_path: Path) -> None:
    """Over HTTP nothing is listed: a file whose scalars no one rewrote opens, scalars included, in one request."""
    from servers import http_server

    path = tmp_path / "f.nwb.zarr"
    nzi.write(_file(), path)
    with http_server(tmp_path) as server:
        values = _values(nzi.read(f"{server.url}/f.nwb.zarr"))
        assert values["session_description"] == "fresh scalars" and values["num_samples"] == 90
        assert dict(server.requests) == {("GET", "/f.nwb.zarr/zarr.json"): 1}
