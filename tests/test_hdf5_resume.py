"""A killed HDF5 -> NWB Zarr conversion resumes: run again with the same input and output, it keeps every chunk
and shard a killed run stored, writes only the others, and ends with the file an uninterrupted run writes.

The conversions run in a child process (``kill_steps.drive``) that reports each step, one per chunk or shard
file stored (``chunk written KEY``), and is SIGKILLed right after a chosen one. Raw mode: a movie in
frame-aligned gzip chunks copied into shards of two chunks; recode mode: a movie in hdmf-style tiny chunks
re-encoded into chunks of 3 frames, one dask task each.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pytest
import zarr
from hdf5_helpers import MOVIE, PYNWB, write_h5
from hdmf.backends.hdf5 import H5DataIO
from hdmf_zarr.nwb import NWBZarrIO
from kill_steps import GO, KILL, drive

import nwbzarr_image as nzi
from nwbzarr_image.cli import main
from nwbzarr_image.errors import ArgumentTypeError, StoreExistsError
from nwbzarr_image.hdf5 import blocks, rawcopy
from nwbzarr_image.storage import resume_store, steps

FRAME = int(np.prod(MOVIE.shape[1:])) * MOVIE.dtype.itemsize
SHARD_BYTES = 2 * 5 * FRAME  # raw: shards of two HDF5 chunks of 5 frames (5 shards)
MAX_ROW_BYTES, BLOCK_BYTES = 5 * FRAME, 3 * FRAME  # recode: dask tasks of 3 frames, one output chunk each (17)
PATCHES = f"""
from nwbzarr_image.hdf5 import blocks, rawcopy
rawcopy.SHARD_BYTES, blocks.MAX_ROW_BYTES, blocks.BLOCK_BYTES = {SHARD_BYTES}, {MAX_ROW_BYTES}, {BLOCK_BYTES}
"""
CONVERT = PATCHES + """
import sys
from nwbzarr_image.cli import main
sys.exit(main(["convert", sys.argv[1], sys.argv[2], "--no-progress", *sys.argv[3:]]))
"""
RAW, TINY = "acquisition/raw/data", "acquisition/tiny/data"


def _source(path: Path, movie: np.ndarray = MOVIE) -> Path:
    f = PYNWB.new_file()
    f.add_acquisition(PYNWB.new("ImageSeries", name="raw", unit="n.a.", rate=20.0, description="frame chunks",
                                data=H5DataIO(movie, chunks=(5, 64, 48), compression="gzip", shuffle=True)))
    f.add_acquisition(PYNWB.new("ImageSeries", name="tiny", unit="n.a.", rate=20.0, description="tiny chunks",
                                data=H5DataIO(movie, chunks=(13, 5, 7), compression="gzip", compression_opts=2)))
    return write_h5(f, path)


def _written(seen: list[str]) -> list[str]:
    """The chunk and shard files a run reported stored."""
    return [name.split(" ", 2)[2] for name in seen if name.startswith("chunk written ")]


def _stored(work: Path) -> set[str]:
    """The chunk and shard files in a work directory (metadata, the record and temporaries left out)."""
    return {str(p.relative_to(work)) for p in work.rglob("*") if p.is_file() and p.name not in
            ("zarr.json", "resume.json") and not resume_store.TEMPORARY.fullmatch(p.name)}


def _work(out: Path) -> list[Path]:
    return sorted(out.parent.glob(out.name + ".resume-*"))


def _kill_at(prefix: str, n: int) -> Callable[[int, str], str]:
    """Kill after the n-th step named ``prefix`` or reporting a chunk file under ``prefix``."""
    count = 0

    def decide(_index: int, name: str) -> str:
        nonlocal count
        if name == prefix or name.startswith(f"chunk written {prefix}"):
            count += 1
        return KILL if count == n else GO

    return decide


def _documents_equal(a: Path, b: Path) -> None:
    files = {str(p.relative_to(a)) for p in a.rglob("*") if p.is_file()}
    assert files == {str(p.relative_to(b)) for p in b.rglob("*") if p.is_file()}
    for name in files:
        left, right = (a / name).read_bytes(), (b / name).read_bytes()
        if name.endswith("zarr.json"):  # the order of the consolidated entries follows directory listings
            assert json.dumps(json.loads(left), sort_keys=True) == json.dumps(json.loads(right), sort_keys=True)
        else:
            assert left == right, name


def _values_equal(out: Path, source: Path) -> None:
    with h5py.File(source, "r") as h:
        for path in (RAW, TINY):
            np.testing.assert_array_equal(zarr.open_array(str(out), path=path, mode="r")[...], h[path][()])


@pytest.fixture(scope="module")
def converted(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, set[str]]:
    """The source, its uninterrupted conversion and the chunk files that conversion wrote."""
    folder = tmp_path_factory.mktemp("resume")
    source = _source(folder / "source.nwb")
    reference = folder / "reference.nwb.zarr"
    seen, killed = drive(CONVERT, [str(source), str(reference)])
    assert not killed and not _work(reference)
    written = _written(seen)
    assert len(written) == len(set(written))
    assert {w for w in written if w.startswith(RAW)} == {f"{RAW}/c.{i}.0.0" for i in range(5)}
    assert {w for w in written if w.startswith(TINY)} == {f"{TINY}/c.{i}.0.0" for i in range(17)}
    array = zarr.open_array(str(reference), path=RAW, mode="r")
    assert array.shards == (10, 64, 48) and [type(c).__name__ for c in array.compressors] == ["Shuffle", "Zlib"]
    assert zarr.open_array(str(reference), path=TINY, mode="r").chunks == (3, 64, 48)
    _values_equal(reference, source)
    return source, reference, set(written)


@pytest.mark.parametrize(("prefix", "n"), [
    ("resume record written", 1),  # nothing written yet
    (RAW, 1), (RAW, 4),  # raw mode: shards copied
    (TINY, 1), (TINY, 9),  # recode mode: chunks re-encoded
    ("resume work complete", 1),  # all written, not yet renamed
    ("resume record removed", 1),  # the last step before the rename
])
def test_a_conversion_killed_after_any_chunk_resumes_writing_only_the_rest(
        tmp_path: Path, converted: tuple[Path, Path, set[str]], prefix: str, n: int) -> None:
    source, reference, everything = converted
    out = tmp_path / "out.nwb.zarr"
    first, killed = drive(CONVERT, [str(source), str(out)], _kill_at(prefix, n))
    assert killed and not out.exists()
    [work] = _work(out)
    kept = _stored(work)
    assert set(_written(first)) <= kept <= everything  # every file reported is there whole; nothing unknown
    if prefix in (RAW, TINY):
        assert len({k for k in kept if k.startswith(prefix)}) >= n
    # a temporary file a killed writer left half-written is never taken for a chunk
    (work / TINY).mkdir(parents=True, exist_ok=True)
    (work / TINY / "c.16.0.0123456789abcdef0123456789abcdef.partial").write_bytes(b"half a chunk")

    second, killed = drive(CONVERT, [str(source), str(out)])
    assert not killed
    again = _written(second)
    assert len(again) == len(set(again)) and set(again) == everything - kept  # only what was missing
    assert not _work(out) and sorted(os.listdir(tmp_path)) == ["out.nwb.zarr"]
    _documents_equal(out, reference)
    _values_equal(out, source)


SHARDED = PATCHES + f"""
import sys
import nwbzarr_image as nzi
from nwbzarr_image.storage import dask_store
blocks.BLOCK_BYTES, dask_store.TARGET_CHUNK_BYTES = {2 * BLOCK_BYTES}, {BLOCK_BYTES}  # tasks of 6 frames, chunks of 3
nzi.write(nzi.read(sys.argv[1]), sys.argv[2], resumable=True, shard_above=1)  # every task one shard
"""


def test_recoded_shards_resume_through_the_python_entry_point(tmp_path: Path,
                                                              converted: tuple[Path, Path, set[str]]) -> None:
    """Recode mode into shards (one a dask task, written through zarr): a resumed run computes only the tasks
    whose shard is missing."""
    source, _, _ = converted
    reference = tmp_path / "reference.nwb.zarr"
    seen, _ = drive(SHARDED, [str(source), str(reference)])
    everything = set(_written(seen))
    array = zarr.open_array(str(reference), path=TINY, mode="r")
    assert array.chunks == (3, 64, 48) and array.shards == (6, 64, 48)
    assert {w for w in everything if w.startswith(TINY)} == {f"{TINY}/c.{i}.0.0" for i in range(9)}
    out = tmp_path / "out.nwb.zarr"
    _, killed = drive(SHARDED, [str(source), str(out)], _kill_at(TINY, 4))
    assert killed
    [work] = _work(out)
    kept = _stored(work)
    assert len({k for k in kept if k.startswith(TINY)}) >= 4 and kept <= everything
    second, _ = drive(SHARDED, [str(source), str(out)])
    assert set(_written(second)) == everything - kept
    _documents_equal(out, reference)
    _values_equal(out, source)


def _patch(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rawcopy, "SHARD_BYTES", SHARD_BYTES)
    monkeypatch.setattr(blocks, "MAX_ROW_BYTES", MAX_ROW_BYTES)
    monkeypatch.setattr(blocks, "BLOCK_BYTES", BLOCK_BYTES)


@contextlib.contextmanager
def _steps_seen() -> Iterator[list[str]]:
    seen: list[str] = []
    previous = steps.set_hook(seen.append)
    try:
        yield seen
    finally:
        steps.set_hook(previous)


def test_the_cli_says_it_resumes_and_pynwb_reads_the_result(tmp_path: Path, converted: tuple[Path, Path, set[str]],
                                                            monkeypatch: pytest.MonkeyPatch,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    source, reference, everything = converted
    _patch(monkeypatch)
    out = tmp_path / "out.nwb.zarr"
    drive(CONVERT, [str(source), str(out)], _kill_at(TINY, 5))
    [work] = _work(out)
    kept = _stored(work)
    capsys.readouterr()
    with _steps_seen() as seen:
        assert main(["convert", str(source), str(out), "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert f"resuming: {len(kept)} chunk/shard files already written in {work}" in printed
    assert f"resumed: kept {len(kept)} of {len(everything)} chunk/shard files, wrote {len(everything) - len(kept)}" \
        in printed
    assert set(_written(seen)) == everything - kept
    _documents_equal(out, reference)
    with NWBZarrIO(str(out), mode="r") as io:
        read = io.read()
        for name in ("raw", "tiny"):
            np.testing.assert_array_equal(read.acquisition[name].data[:], MOVIE)
            assert read.acquisition[name].rate == 20.0


def test_a_changed_input_or_restart_starts_over(tmp_path: Path, converted: tuple[Path, Path, set[str]],
                                                monkeypatch: pytest.MonkeyPatch,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    _, _, everything = converted
    _patch(monkeypatch)
    source = _source(tmp_path / "source.nwb")
    out = tmp_path / "out.nwb.zarr"
    drive(CONVERT, [str(source), str(out)], _kill_at(TINY, 6))
    [stale] = _work(out)
    assert _stored(stale)
    changed = MOVIE[::-1].copy()
    _source(source, changed)  # rewritten: another size or mtime
    capsys.readouterr()
    with _steps_seen() as seen:
        assert main(["convert", str(source), str(out), "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert f"starting over: {source} changed since the interrupted conversion" in printed
    assert "resuming" not in printed
    assert set(_written(seen)) == everything  # every chunk written anew: nothing of the stale work kept
    assert not _work(out) and sorted(os.listdir(tmp_path)) == ["out.nwb.zarr", "source.nwb"]
    _values_equal(out, source)
    np.testing.assert_array_equal(zarr.open_array(str(out), path=TINY, mode="r")[...], changed)

    shutil.rmtree(out)
    drive(CONVERT, [str(source), str(out)], _kill_at(RAW, 3))
    [work] = _work(out)
    with _steps_seen() as seen:
        assert main(["convert", str(source), str(out), "--no-progress", "--restart"]) == 0
    assert f"starting over (restart): removed the work of an interrupted conversion in {work}" in \
        capsys.readouterr().out
    assert set(_written(seen)) == everything and not _work(out)
    _values_equal(out, source)


def test_a_second_writer_is_refused_while_the_first_works(tmp_path: Path, converted: tuple[Path, Path, set[str]],
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    source, reference, _ = converted
    out = tmp_path / "out.nwb.zarr"
    attempts: list[Any] = []

    def meanwhile(_index: int, name: str) -> str:
        if name.startswith(f"chunk written {TINY}") and not attempts:  # the first writer waits, holding its work
            attempts.append(main(["convert", str(source), str(out), "--no-progress"]))
            attempts.append(capsys.readouterr().err)
            with pytest.raises(StoreExistsError, match="is being written by another process"):
                nzi.write(nzi.read(str(source)), str(out), resumable=True)
            attempts.append(_stored(_work(out)[0]))
        return GO

    _, killed = drive(CONVERT, [str(source), str(out)], meanwhile)
    assert not killed
    code, err, stored = attempts
    assert code == 2 and "is being written by another process, which holds" in err and f"{out}.resume-" in err
    assert stored  # the first writer's work was there, and kept
    _documents_equal(out, reference)
    assert not _work(out)


def test_an_output_that_appears_meanwhile_is_kept_and_overwrite_resumes_over_it(
        tmp_path: Path, converted: tuple[Path, Path, set[str]], monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    source, reference, everything = converted
    _patch(monkeypatch)
    out = tmp_path / "out.nwb.zarr"

    def appear(name: str) -> None:
        if name == "resume work complete":  # another writer's file appears before ours is renamed into place
            out.mkdir()
            (out / "theirs.txt").write_text("another writer's file")

    previous = steps.set_hook(appear)
    try:
        assert main(["convert", str(source), str(out), "--no-progress"]) == 2
    finally:
        steps.set_hook(previous)
    assert "appeared while this file was written" in capsys.readouterr().err
    assert os.listdir(out) == ["theirs.txt"]  # mode w-: never replaced
    [work] = _work(out)
    assert _stored(work) == everything  # and the work is kept: replacing it costs no chunk
    with _steps_seen() as seen:
        assert main(["convert", str(source), str(out), "--no-progress", "--overwrite"]) == 0
    assert f"resuming: {len(everything)} chunk/shard files already written" in capsys.readouterr().out
    assert _written(seen) == []
    _documents_equal(out, reference)
    assert sorted(os.listdir(tmp_path)) == ["out.nwb.zarr"]


def test_ctrl_c_keeps_the_work_and_says_how_to_resume(tmp_path: Path, converted: tuple[Path, Path, set[str]],
                                                      monkeypatch: pytest.MonkeyPatch,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    source, reference, everything = converted
    _patch(monkeypatch)
    out = tmp_path / "out.nwb.zarr"

    def interrupt(name: str) -> None:
        if name == f"chunk written {RAW}/c.1.0.0":  # raw shards are written by the converting thread
            raise KeyboardInterrupt

    previous = steps.set_hook(interrupt)
    try:
        assert main(["convert", str(source), str(out), "--no-progress"]) == 130
    finally:
        steps.set_hook(previous)
    assert "interrupted; the work so far is kept in" in capsys.readouterr().err
    [work] = _work(out)
    kept = _stored(work)
    assert {f"{RAW}/c.0.0.0", f"{RAW}/c.1.0.0"} <= kept and not out.exists()
    with _steps_seen() as seen:
        assert main(["convert", str(source), str(out), "--no-progress"]) == 0
    assert set(_written(seen)) == everything - kept
    _documents_equal(out, reference)


def test_resumable_needs_a_local_source_file(tmp_path: Path) -> None:
    nwbfile = nzi.NWBFile("built in memory", "id-1", PYNWB.new_file().session_start_time)
    out = tmp_path / "out.nwb.zarr"
    with pytest.raises(ArgumentTypeError, match="resumable=True needs an NWBFile read from a local file"):
        nzi.write(nwbfile, str(out), resumable=True)
    assert os.listdir(tmp_path) == []
