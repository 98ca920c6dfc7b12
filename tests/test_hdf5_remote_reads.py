"""Frame reads of NWB HDF5 files over HTTP, counted on the loopback server: no chunk byte fetched twice, none the
open already fetched, kept chunks within ``max_cached_bytes``, chunk index nodes read at about their size."""

from __future__ import annotations

import itertools
from pathlib import Path

import h5py
import numpy as np
import pytest
from hdf5_helpers import PYNWB, write_h5
from hdmf.backends.hdf5 import H5DataIO
from interop_helpers import frames
from servers import http_server

import nwbzarr_image as nzi
from nwbzarr_image.hdf5 import Hdf5Store
from nwbzarr_image.hdf5.index import list_chunks
from nwbzarr_image.hdf5.ranges import HEAD_BLOCK, UNIT, BlockFile
from nwbzarr_image.limits import raised

FRAMED = frames((40, 128, 128), np.uint16)  # chunks (4, 128, 128): 131 KB of noise each, some past the first MB
TINY = frames((64, 128, 128), np.uint16)  # chunks (16, 8, 8): 1,024 chunks, a frame touches 256 of them


pytestmark = pytest.mark.usefixtures("hdf5_cache")  # each test with its own cache of remote views


@pytest.fixture(scope="module")
def www(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("www")
    f = PYNWB.new_file()
    f.add_acquisition(PYNWB.new("ImageSeries", name="framed", unit="n.a.", rate=30.0, description="frame chunks",
                                data=H5DataIO(FRAMED, chunks=(4, 128, 128), compression="gzip", shuffle=True)))
    f.add_acquisition(PYNWB.new("ImageSeries", name="tiny", unit="n.a.", rate=30.0, description="tiny chunks",
                                data=H5DataIO(TINY, chunks=(16, 8, 8), compression="gzip")))
    write_h5(f, root / "session.nwb")
    return root


def chunk_spans(path: Path, name: str) -> list[tuple[int, int]]:
    """``(start, end)`` byte spans of every stored chunk of ``/acquisition/{name}/data``."""
    spans: list[tuple[int, int]] = []
    with h5py.File(path, "r") as f:
        f[f"/acquisition/{name}/data"].id.chunk_iter(
            lambda info: spans.append((info.byte_offset, info.byte_offset + info.size)) and None)
    return sorted(spans)


def asked(server) -> list[tuple[int, int]]:
    """The byte spans the server was asked for since its last reset."""
    out = []
    for _, header in server.ranges_asked:
        if header and header.startswith("bytes="):
            first, _, last = header[len("bytes="):].partition("-")
            out.append((int(first), int(last) + 1))
    return sorted(out)


def test_frames_fetch_each_chunk_byte_once_and_none_the_open_fetched(www: Path) -> None:
    spans = chunk_spans(www / "session.nwb", "framed")
    assert spans[0][0] < HEAD_BLOCK < spans[-1][1]  # the first megabyte holds chunks: the open fetched them
    with http_server(www, ranges=True) as server:
        data = nzi.read(f"{server.url}/session.nwb").acquisition["framed"].data
        opened = asked(server)
        server.reset()
        for i in [37, 2, 21, 3, 39, 0, 17, 38, 9]:
            np.testing.assert_array_equal(data[i].compute(), FRAMED[i])
        frames_asked = asked(server)
    fetched = sorted(opened + frames_asked)
    for (_, end), (start, _) in itertools.pairwise(fetched):
        assert end <= start, f"a byte was fetched twice: {fetched}"
    wanted = sorted({i // 4 for i in [37, 2, 21, 3, 39, 0, 17, 38, 9]})
    for start, end in (spans[c] for c in wanted):  # each chunk read lies in what was fetched
        covered = sum(max(0, min(end, b) - max(start, a)) for a, b in fetched)
        assert covered == end - start
    assert all(start >= HEAD_BLOCK for start, _ in frames_asked)
    assert server.bytes_sent < sum(end - start for start, end in (spans[c] for c in wanted))


def test_revisited_frames_cost_no_request_within_max_cached_bytes(www: Path) -> None:
    order = list(range(40))
    with http_server(www, ranges=True) as server:
        data = nzi.read(f"{server.url}/session.nwb").acquisition["framed"].data
        server.reset()
        for i in order:
            np.testing.assert_array_equal(data[i].compute(), FRAMED[i])
        first_pass = server.total()
        server.reset()
        for i in order[::-1]:
            np.testing.assert_array_equal(data[i].compute(), FRAMED[i])
        assert server.total() == 0
        assert first_pass >= 2  # the chunks past the first megabyte

        small = nzi.read(f"{server.url}/session.nwb").acquisition["framed"].data  # the cached view: no walk
        with raised(max_cached_bytes=4 * 140_000):  # 4 chunks: a pass over all frames evicts the first ones
            server.reset()
            for i in order:
                np.testing.assert_array_equal(small[i].compute(), FRAMED[i])
            again = server.total()
            server.reset()
            for i in order:
                np.testing.assert_array_equal(small[i].compute(), FRAMED[i])
            assert server.total() == again == 10  # one request a chunk, every pass


def test_a_tiny_chunk_frame_reads_only_the_index_nodes_above_its_chunks(www: Path) -> None:
    """The first frame of a tiny-chunk movie (256 of 1,024 chunks) looks up its chunks in the B-tree: the leaves
    above them and the chunks, in at most 3 requests (the leaves with the chunks between them, then the rest of
    the chunks); the other leaves are never read. A second session finds those chunks in the cache."""
    with h5py.File(www / "session.nwb", "r") as f:
        dset = f["/acquisition/tiny/data"]
        mine = [dset.id.get_chunk_info_by_coord((0, j * 8, k * 8)) for j in range(16) for k in range(16)]
    frame_chunks = sorted((c.byte_offset, c.byte_offset + c.size) for c in mine)
    with http_server(www, ranges=True) as server:
        data = nzi.read(f"{server.url}/session.nwb").acquisition["tiny"].data
        server.reset()
        np.testing.assert_array_equal(data[0].compute(), TINY[0])
        got = asked(server)
        assert server.total() <= 3
        nodes = 4 * 2 * UNIT  # the leaves above frame 0's chunks (a few KB each)
        assert server.bytes_sent <= sum(b - a for a, b in frame_chunks) + nodes
        for a, b in got:  # nothing past frame 0's chunks: the leaves of the other frames are not read
            assert a < frame_chunks[-1][1] and b <= frame_chunks[-1][1] + nodes
        np.testing.assert_array_equal(data[15].compute(), TINY[15])  # the same chunks: nothing to fetch
        assert server.total() <= 3

        again = nzi.read(f"{server.url}/session.nwb").acquisition["tiny"].data  # from the cache
        server.reset()
        np.testing.assert_array_equal(again[3].compute(), TINY[3])
        assert server.total() <= 3  # chunk requests only: the looked-up chunks came from the cache
        assert server.bytes_sent <= sum(b - a for a, b in frame_chunks) + nodes  # (merged over the leaves)


def test_chunks_looked_up_over_http_equal_the_listed_index(tmp_path: Path) -> None:
    """Every chunk of every chunked layout (gzip + shuffle, fletcher32, tiny proportional, 1-D timestamps), looked
    up through the B-tree nodes over HTTP, equals h5py's chunk_iter listing; the values equal pynwb's."""
    from hdf5_helpers import LAYOUTS, MOVIE, TIMES, layouts_file

    root = tmp_path / "www"
    root.mkdir()
    path = layouts_file(root / "layouts.nwb")
    with http_server(root, ranges=True) as server:
        got = nzi.read(f"{server.url}/layouts.nwb")
        store = got.source.store
        checked = 0
        for key, source in store.view.sources.items():
            if source.kind != "chunked":
                continue
            coords = [tuple(int(x) for x in c) for c in np.ndindex(*source.grid)]
            located = store.locate(source, coords)
            with h5py.File(path, "r") as f:
                listed = list_chunks(f["/" + key], source.grid, source.chunks)
            assert located == [listed.lookup(i) for i in range(len(coords))], key
            assert store._roots[key] is not None  # found by our B-tree walk, not by h5py's lookups
            checked += 1
        assert checked == 3 and not store.tables  # gzip_shuffle, fletcher32, tiny: looked up, never listed
        for name, kw in LAYOUTS.items():
            if kw is not None and name != "lzf":
                series = got.acquisition[name]
                np.testing.assert_array_equal(series.data.compute(), MOVIE)
                np.testing.assert_array_equal(series.timestamps.compute(), TIMES)


def test_index_nodes_under_a_node_are_fetched_in_one_batch(www: Path) -> None:
    """While a chunk index is listed, the children of an internal B-tree node are fetched by one concurrent batch
    (one round trip), not one request after the other as h5py walks them."""
    path = www / "session.nwb"
    size = path.stat().st_size
    single: list[tuple[int, int]] = []
    batches: list[list[tuple[int, int]]] = []
    with path.open("rb") as handle:
        def read(offset: int, n: int) -> bytes:
            single.append((offset, n))
            handle.seek(offset)
            return handle.read(n)

        def read_many(ranges) -> list[bytes]:
            batches.append(list(ranges))
            return [read(o, n) for o, n in ranges]

        blocks = BlockFile(read, size, read_many=read_many)
        with h5py.File(blocks, "r") as f:
            dset = f["/acquisition/tiny/data"]
            blocks.fresh = UNIT
            blocks.index_rank = 3
            before = len(single)
            table = list_chunks(dset, (4, 16, 16), (16, 8, 8))
    assert len(batches) == 1 and len(batches[0]) >= 10  # 1,024 chunks: tens of leaves under one root
    assert len(single) - before - len(batches[0]) <= 2  # besides the batch: the root node (and its piece)
    expected = chunk_spans(path, "tiny")
    got = sorted((int(o), int(o) + int(n)) for o, n in zip(table.table["offset"], table.table["size"], strict=True))
    assert got == expected


def test_frames_of_one_chunk_decode_it_once(www: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Frames read one at a time from a frame-chunked movie: zarr gets (and decodes) each chunk once; the next
    frames of a chunk come from the decoded chunk kept (within max_cached_bytes / 4)."""
    gets: list[str] = []
    original = Hdf5Store.get

    async def counting_get(self, key, prototype, byte_range=None):
        if "/c/" in key:
            gets.append(key)
        return await original(self, key, prototype, byte_range)

    monkeypatch.setattr(Hdf5Store, "get", counting_get)
    with http_server(www, ranges=True) as server:
        data = nzi.read(f"{server.url}/session.nwb").acquisition["framed"].data
        for i in [5, 4, 6, 7, 13, 12, 5, 39]:
            np.testing.assert_array_equal(data[i].compute(), FRAMED[i])
        np.testing.assert_array_equal(data[3:6].compute(), FRAMED[3:6])  # across two chunks: read as before
    assert sorted(set(gets)) == [f"acquisition/framed/data/c/{c}/0/0" for c in (0, 1, 3, 9)]
    assert len(gets) == 3 + 2  # chunks 1, 3, 9 once each; the slice 3:6 gets chunks 0 and 1


def test_reading_most_of_a_remote_dataset_lists_its_index_once(www: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Chunks looked up one by one take a dict entry each: past ``LOOKUPS`` (and an eighth of the chunks) the
    whole index is listed instead (12 bytes a chunk), once."""
    from nwbzarr_image.hdf5 import store as store_module

    monkeypatch.setattr(store_module, "LOOKUPS", 200)
    with http_server(www, ranges=True) as server:
        got = nzi.read(f"{server.url}/session.nwb")
        data = got.acquisition["tiny"].data
        store = got.source.store
        np.testing.assert_array_equal(data[0].compute(), TINY[0])  # 256 chunks of 1,024: more than 200
        assert "acquisition/tiny/data" in store.tables and "acquisition/tiny/data" not in store.looked_up
        server.reset()
        np.testing.assert_array_equal(data[40].compute(), TINY[40])
        asked_now = asked(server)
    assert store.listings == 1
    assert all(b - a > 2 * UNIT for a, b in asked_now)  # chunk bytes only: no index node read again


def test_h5py_calls_run_without_cyclic_garbage_collection() -> None:
    """h5py holds its lock while it reads through our file object, which waits for fsspec's loop: a collection
    there freeing an h5py object would wait for that lock (a deadlock seen in the remote tests). Every call in the
    h5py thread runs with the collector off, and it is on again after."""
    import gc

    from nwbzarr_image.hdf5.thread import run_h5

    assert gc.isenabled()
    assert run_h5(gc.isenabled) is False
    assert run_h5(lambda: run_h5(gc.isenabled)) is False  # nested calls run in place
    assert gc.isenabled()


def test_other_chunk_index_types_are_listed_once_with_chunk_iter(tmp_path: Path) -> None:
    """A file written with libver="latest" (superblock 3, chunk indexes other than the version-1 B-tree): our
    B-tree walk declines it and the whole index is listed once with h5py's chunk_iter (never one
    get_chunk_info call per chunk); the entries and values are the same."""
    from pynwb import NWBHDF5IO

    root = tmp_path / "www"
    root.mkdir()
    f = PYNWB.new_file()
    f.add_acquisition(PYNWB.new("ImageSeries", name="tiny", unit="n.a.", rate=30.0, description="tiny chunks",
                                data=H5DataIO(TINY, chunks=(16, 8, 8), compression="gzip")))
    with h5py.File(root / "latest.nwb", "w", libver="latest") as handle, NWBHDF5IO(file=handle, mode="w") as io:
        io.write(f)
    assert (root / "latest.nwb").read_bytes()[8] == 3  # superblock version 3
    with http_server(root, ranges=True) as server:
        got = nzi.read(f"{server.url}/latest.nwb")
        np.testing.assert_array_equal(got.acquisition["tiny"].data[33].compute(), TINY[33])
        store = got.source.store
        source = store.view.sources["acquisition/tiny/data"]
        assert store._roots["acquisition/tiny/data"] is None  # not a version-1 B-tree
        assert store.listings == 1 and "acquisition/tiny/data" in store.tables  # listed whole, once
        np.testing.assert_array_equal(got.acquisition["tiny"].data[2:40:5].compute(), TINY[2:40:5])
        coords = [tuple(int(x) for x in c) for c in np.ndindex(*source.grid)]
        located = store.locate(source, coords)
        assert store.listings == 1
    with h5py.File(root / "latest.nwb", "r") as handle:
        listed = list_chunks(handle["/acquisition/tiny/data"], source.grid, source.chunks)
    assert located == [listed.lookup(i) for i in range(len(coords))]
