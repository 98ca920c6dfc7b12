"""Decoding only the Blosc blocks a selection needs: values byte for byte those of a full decode, for every
Blosc codec, shuffle, item size and block size; a frame of a multi-frame chunk decodes (and, on a local disk,
reads) only its blocks; a block table that does not hold together is left to the full decode."""

from __future__ import annotations

import itertools
import struct
from pathlib import Path
from typing import Any

import numcodecs
import numpy as np
import pytest
import zarr
from builders import movie
from numcodecs.blosc import Blosc
from servers import http_server
from zarr.codecs import BloscCodec

import nwbzarr_image as nzi
from nwbzarr_image.storage import blosc_blocks, chunk_reader

SPANS_PER_CASE = 6


def _decode_part(chunk: bytes, nbytes: int, start: int, stop: int) -> np.ndarray | None:
    """The decoded bytes ``[start, stop)`` through a sub chunk, or None when the whole chunk is needed."""
    part = blosc_blocks.sub_chunk_of(chunk, nbytes, start, stop)
    if part is None:
        return None
    sub, at = part
    out = np.zeros(nbytes, dtype=np.uint8)
    numcodecs.blosc.decompress(sub, out[at:at + blosc_blocks.decoded_size(sub)])
    return out[start:stop]


@pytest.mark.parametrize("cname", ["zstd", "lz4", "lz4hc", "zlib", "blosclz"])
def test_sub_chunks_decode_to_the_bytes_of_the_full_decode(cname: str) -> None:
    rng = np.random.default_rng(7)
    partial = 0
    for shuffle, dtype, blocksize, n in itertools.product((0, 1, 2), ("u1", "<u2", "<f4", "<i8"),
                                                          (0, 1000, 4096, 65536), (7, 1000, 100_003)):
        values = (rng.integers(0, 60, n) + np.arange(n)).astype(dtype)
        chunk = Blosc(cname=cname, clevel=5, shuffle=shuffle, blocksize=blocksize).encode(values)
        full = np.frombuffer(Blosc().decode(chunk), dtype=np.uint8)
        for _ in range(SPANS_PER_CASE):
            a = int(rng.integers(0, n))
            b = int(rng.integers(a, n)) + 1
            start, stop = a * values.itemsize, b * values.itemsize
            got = _decode_part(chunk, values.nbytes, start, stop)
            if got is not None:
                partial += 1
                assert got.tobytes() == full[start:stop].tobytes(), (shuffle, dtype, blocksize, n, a, b)
    assert partial > 100  # most spans of multi-block chunks are decoded in part


def test_a_span_of_the_short_last_block_takes_the_block_before() -> None:
    values = np.arange(10_000, dtype="<u2")  # 20,000 bytes in blocks of 4096: the last holds 3,616
    chunk = Blosc(cname="zstd", blocksize=4096).encode(values)
    sub, at = blosc_blocks.sub_chunk_of(chunk, values.nbytes, 19_000, 20_000)  # type: ignore[misc]
    assert at == 3 * 4096 and blosc_blocks.decoded_size(sub) == 4096 + 3616
    got = _decode_part(chunk, values.nbytes, 19_000, 20_000)
    assert got is not None and got.tobytes() == values.view(np.uint8)[19_000:].tobytes()


def test_chunks_not_decoded_in_parts_are_left_to_the_full_decode() -> None:
    values = np.arange(50_000, dtype="<u2")
    chunk = Blosc(cname="zstd", blocksize=4096).encode(values)
    assert blosc_blocks.sub_chunk_of(chunk, values.nbytes, 0, values.nbytes) is None  # every block needed
    assert blosc_blocks.sub_chunk_of(chunk, values.nbytes + 2, 0, 10) is None  # declares another size
    assert blosc_blocks.sub_chunk_of(chunk[:-1], values.nbytes, 0, 10) is None  # truncated
    nblocks = -(-values.nbytes // 4096)
    for bad_start in (0, len(chunk), 2**32 - 1):  # inside the header/table, past the end
        table = bytearray(chunk)
        struct.pack_into("<I", table, 16 + 4 * 3, bad_start)
        assert blosc_blocks.sub_chunk_of(bytes(table), values.nbytes, 3 * 4096, 3 * 4096 + 10) is None
    duplicated = bytearray(chunk)
    duplicated[16 + 4:16 + 8] = duplicated[16:16 + 4]
    assert blosc_blocks.sub_chunk_of(bytes(duplicated), values.nbytes, 0, 10) is None
    stored = Blosc(cname="zstd").encode(np.random.default_rng(1).integers(0, 255, 70_000, dtype=np.uint8))
    assert stored[2] & blosc_blocks.MEMCPYED  # incompressible: stored as is, no blocks
    assert blosc_blocks.sub_chunk_of(stored, 70_000, 0, 10) is None
    assert nblocks > 3


# -- through the reader ------------------------------------------------------------------------------------------

SELECTIONS: list[Any] = [(17,), (slice(3, 5),), (slice(3, 29), slice(2, 14), 5), (Ellipsis, 3), (5, 63, slice(None)),
                         (slice(None), 10, 10), (39, slice(30, 34)), (slice(8, 16),)]


def _frames(shape: tuple[int, ...]) -> np.ndarray:
    """Compressible frames (random ones would be stored as is, with no blocks)."""
    return (movie(shape, np.uint16) % 97).astype(np.uint16)


def _write(path: Path, start_time: Any, frames: np.ndarray, chunks: tuple[int, ...],
           shards: tuple[int, ...] | None = None, blocksize: int = 4096) -> None:
    nwb = nzi.NWBFile("s", "id", start_time)
    codec = BloscCodec(cname="zstd", clevel=3, shuffle="shuffle", blocksize=blocksize)
    nwb.add_acquisition(nzi.ImageSeries("m", nzi.ZarrDataIO(frames, chunks=chunks, shards=shards, compressors=codec),
                                        "n.a.", rate=5.0))
    nzi.write(nwb, str(path))


@pytest.mark.parametrize("layout", ["frames-on-block-edges", "frames-across-blocks", "sharded"])
def test_every_selection_reads_zarrs_bytes(tmp_path: Path, start_time: Any, layout: str) -> None:
    width = 32 if layout == "frames-on-block-edges" else 48  # a 64 x 32 uint16 frame is one 4096-byte block
    frames = _frames((40, 64, width))
    path = tmp_path / "f.nwb.zarr"
    if layout == "sharded":
        _write(path, start_time, frames, (4, 64, width), (8, 64, width))
    else:
        _write(path, start_time, frames, (8, 64, width))
    stored = zarr.open_array(str(path / "acquisition/m/data"), mode="r")
    if layout != "sharded":  # the chunks have blocks to pick from
        blob = (path / "acquisition/m/data" / stored.metadata.chunk_key_encoding.encode_chunk_key((0, 0, 0))
                ).read_bytes()
        head = blosc_blocks.header(blob, 8 * 64 * width * 2, len(blob))
        assert head is not None and head.nblocks >= 8
    with http_server(tmp_path, ranges=True) as server:
        for url in (str(path), f"{server.url}/f.nwb.zarr"):
            data = nzi.read(url).acquisition["m"].data
            for key in SELECTIONS:
                expected = np.ascontiguousarray(stored[key])
                got = np.asarray(data[key])
                assert got.shape == expected.shape and got.tobytes() == expected.tobytes(), (url, key)


def test_one_frame_decodes_and_reads_only_its_blocks(tmp_path: Path, start_time: Any,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    frames = _frames((40, 64, 32))  # frames of 4096 bytes: one Blosc block each
    path = tmp_path / "f.nwb.zarr"
    _write(path, start_time, frames, (8, 64, 32))
    decoded: list[int] = []
    read: list[int] = []
    real_decompress, real_pread = numcodecs.blosc.decompress, chunk_reader.os.pread

    def counting_decompress(source: Any, dest: Any = None) -> Any:
        decoded.append(np.asarray(dest).nbytes)
        return real_decompress(source, dest)

    def counting_pread(fd: int, count: int, offset: int) -> bytes:
        data = real_pread(fd, count, offset)
        read.append(len(data))
        return data

    monkeypatch.setattr(chunk_reader.numcodecs.blosc, "decompress", counting_decompress)
    monkeypatch.setattr(chunk_reader.os, "pread", counting_pread)
    data = nzi.read(str(path)).acquisition["m"].data
    key = zarr.open_array(str(path / "acquisition/m/data"), mode="r").metadata.chunk_key_encoding.encode_chunk_key(
        (1, 0, 0))
    chunk_file = path / "acquisition/m/data" / key
    assert np.asarray(data[11]).tobytes() == frames[11].tobytes()
    assert decoded == [4096]  # one block of the chunk's eight, straight into the frame
    blob = chunk_file.read_bytes()
    starts = np.frombuffer(blob, dtype="<u4", count=8, offset=16)
    ends = np.append(np.sort(starts)[1:], len(blob))[np.argsort(np.argsort(starts))]
    assert read == [min(len(blob), chunk_reader.PART_HEAD_BYTES), int(ends[3] - starts[3])] or \
        read == [min(len(blob), chunk_reader.PART_HEAD_BYTES)]  # the block was within the first read
    decoded.clear()
    assert np.asarray(data[8:16]).tobytes() == frames[8:16].tobytes()
    assert decoded == [8 * 4096]  # a whole chunk: one full decode


def test_a_chunk_splits_into_parts_that_decode_to_its_bytes() -> None:
    rng = np.random.default_rng(3)
    for n, blocksize in ((100_003, 4096), (65_536, 4096), (50_000, 8192)):
        values = (rng.integers(0, 40, n) + np.arange(n)).astype("<u2")
        chunk = Blosc(cname="zstd", shuffle=Blosc.SHUFFLE, blocksize=blocksize).encode(values)
        for parts in (2, 3, 7):
            split = blosc_blocks.split(chunk, values.nbytes, parts, 4096)
            assert split is not None and 2 <= len(split) <= parts
            out = np.zeros(values.nbytes, dtype=np.uint8)
            covered = 0
            for sub, at in split:
                assert at == covered  # consecutive parts, no gap and no overlap
                size = blosc_blocks.decoded_size(sub)
                numcodecs.blosc.decompress(sub, out[at:at + size])
                covered += size
            assert covered == values.nbytes and out.tobytes() == values.tobytes()
            assert all(blosc_blocks.decoded_size(sub) > values.nbytes % blocksize for sub, _ in split)
    small = Blosc(cname="zstd", blocksize=4096).encode(np.arange(3000, dtype="<u2"))  # 6,000 bytes, 2 blocks
    assert blosc_blocks.split(small, 6000, 2, 4096) is None  # a part would hold fewer than 4096 bytes
    assert blosc_blocks.split(small, 6000, 1, 1) is None  # one core: nothing to split


def test_a_frame_read_alone_is_decoded_in_parts_on_the_pool(tmp_path: Path, start_time: Any,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    frames = _frames((16, 256, 256))  # 128 KiB frames in chunks of 4: a frame is 4 blocks of 32 KiB
    path = tmp_path / "f.nwb.zarr"
    _write(path, start_time, frames, (4, 256, 256), blocksize=32768)
    monkeypatch.setattr(chunk_reader, "SPLIT_PART_BYTES", 32768)
    monkeypatch.setattr(chunk_reader.os, "cpu_count", lambda: 2)
    threads: list[str] = []
    real = numcodecs.blosc.decompress

    def recording(source: Any, dest: Any = None) -> Any:
        threads.append(chunk_reader.threading.current_thread().name.split("_")[0])
        return real(source, dest)

    monkeypatch.setattr(chunk_reader.numcodecs.blosc, "decompress", recording)
    data = nzi.read(str(path)).acquisition["m"].data
    assert np.asarray(data[6]).tobytes() == frames[6].tobytes()
    assert sorted(threads) == ["MainThread", "nwbzarr-decode"]  # two halves of the frame's blocks
    threads.clear()
    assert np.asarray(data[4:8]).tobytes() == frames[4:8].tobytes()  # a whole chunk alone: in parts too
    assert len(threads) == 2
    threads.clear()
    assert np.asarray(data[2:6]).tobytes() == frames[2:6].tobytes()  # two chunks: one decode each, in the pool
    assert len(threads) == 2 and "MainThread" not in threads
