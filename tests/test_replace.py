"""Replacing a file (``write(mode='w')``, ``convert --overwrite``) is crash-safe: killed after any step, the
path holds the complete old file or the complete new one, or nothing while a backup waits that the next
``read``, ``open`` or ``write`` puts back; the hidden siblings of dead writers are removed, those of live
writers are not."""

from __future__ import annotations

import os
import shutil
import textwrap
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from builders import movie
from kill_steps import GO, drive, kill_after

import nwbzarr_image as nzi

CONVERT = textwrap.dedent("""
    from nwbzarr_image.cli import main
    sys.exit(main(["convert", sys.argv[1], sys.argv[2], "--overwrite", "--rate", "5", "--frames-per-chunk", "2",
                   "--name", "m", "--no-progress"]))
""")

WRITE = textwrap.dedent("""
    from datetime import UTC, datetime
    import numpy as np
    import nwbzarr_image as nzi
    nwb = nzi.NWBFile("s", "id", datetime(2024, 1, 1, tzinfo=UTC))
    nwb.add_acquisition(nzi.ImageSeries("m", np.load(sys.argv[1]), "n.a.", rate=5.0))
    nzi.write(nwb, sys.argv[2], mode="w")
""")

OLD = movie((6, 8, 8), np.uint16, 1)
NEW = movie((8, 8, 8), np.uint16, 2)
SWAP = ["old file moved aside", "new file in place", "old file in the trash", "old file removed"]


def _file(frames: np.ndarray, name: str = "m") -> nzi.NWBFile:
    nwb = nzi.NWBFile("s", "id", datetime(2024, 1, 1, tzinfo=UTC))
    nwb.add_acquisition(nzi.ImageSeries(name, frames, "n.a.", rate=1.0))
    return nwb


@pytest.fixture
def pristine(tmp_path: Path) -> Path:
    """The old file, kept aside to copy over the target before each run; the new movie as .npy next to it."""
    path = tmp_path / "pristine" / "old.nwb.zarr"
    nzi.write(_file(OLD), str(path))
    np.save(tmp_path / "pristine" / "movie.npy", NEW)
    return path


def _fresh(pristine: Path, run: str) -> Path:
    target = pristine.parent.parent / run / "out.nwb.zarr"
    shutil.copytree(pristine, target)
    return target


def _hidden(target: Path) -> list[str]:
    return sorted(p for p in os.listdir(target.parent) if p.startswith(f".{target.name}."))


def _values(target: Path) -> np.ndarray:
    return nzi.read(str(target)).acquisition["m"].data.compute()


def _next_operation(how: str, target: Path) -> None:
    """The first operation on the path after the kill; each of them puts back or removes the leftovers."""
    if how == "read":
        nzi.read(str(target))
    elif how == "open":
        with nzi.open(str(target), "r"):
            pass
    else:  # a write: it must find a file at the path (the old or the new one) and refuse to replace it
        with pytest.raises(nzi.StoreExistsError):
            nzi.write(_file(OLD[:1], "other"), str(target))


def test_convert_overwrite_killed_after_every_step_keeps_the_old_or_the_new_file(pristine: Path) -> None:
    npy = str(pristine.parent / "movie.npy")
    steps, _ = drive(CONVERT, [npy, str(_fresh(pristine, "complete"))])
    assert steps == ["partial created", "skeleton written", "chunks written", "shape committed",
                     "streams consolidated", "new file complete", *SWAP], steps
    for k in range(1, len(steps) + 1):
        target = _fresh(pristine, f"kill{k}")
        seen, killed = drive(CONVERT, [npy, str(target)], kill_after(k))
        assert killed and seen == steps[:k]
        if seen[-1] == "old file moved aside":  # the one moment the path is empty: the backup waits
            assert not target.exists() and [p.split("-")[0] for p in _hidden(target)] == [
                ".out.nwb.zarr.old", ".out.nwb.zarr.partial"]
        _next_operation(("read", "open", "write")[k % 3], target)
        expected = NEW if "new file in place" in seen else OLD
        np.testing.assert_array_equal(_values(target), expected)  # complete: every frame, nothing else
        assert _hidden(target) == [], (k, seen[-1])
        series = nzi.read(str(target)).acquisition["m"]
        assert series.rate == (5.0 if expected is NEW else 1.0)


def test_write_mode_w_killed_while_swapping_is_recovered_by_open(pristine: Path) -> None:
    """The same steps without streams; the kills that leave a backup (every other step is the convert test's)."""
    npy = str(pristine.parent / "movie.npy")
    steps, _ = drive(WRITE, [npy, str(_fresh(pristine, "complete"))])
    assert steps == ["partial created", "skeleton written", "new file complete", *SWAP], steps
    for k in (steps.index("old file moved aside") + 1, steps.index("new file in place") + 1):
        target = _fresh(pristine, f"kill{k}")
        seen, _ = drive(WRITE, [npy, str(target)], kill_after(k))
        with nzi.open(str(target), "a") as nwb:
            np.testing.assert_array_equal(nwb.acquisition["m"].data.compute(),
                                          NEW if seen[-1] == "new file in place" else OLD)
        assert _hidden(target) == []


def test_siblings_of_a_live_writer_are_left_alone(pristine: Path) -> None:
    """A reader running while another process replaces the file sees the old or the new file and removes
    nothing the writer still uses; the writer finishes and leaves nothing behind."""
    npy = str(pristine.parent / "movie.npy")
    target = _fresh(pristine, "live")
    looked: dict[str, tuple[list[str], np.ndarray]] = {}

    def look(_k: int, name: str) -> str:
        if name in ("skeleton written", "new file in place", "old file in the trash"):
            values = _values(target)  # read() recovers: it must not touch the live writer's siblings
            looked[name] = ([p.split("-")[0] for p in _hidden(target)], values)
        return GO

    drive(WRITE, [npy, str(target)], look)
    partial, old, trash = ".out.nwb.zarr.partial", ".out.nwb.zarr.old", ".out.nwb.zarr.trash"
    assert looked["skeleton written"][0] == [partial]
    np.testing.assert_array_equal(looked["skeleton written"][1], OLD)
    assert looked["new file in place"][0] == [old]
    np.testing.assert_array_equal(looked["new file in place"][1], NEW)
    assert looked["old file in the trash"][0] == [trash]
    np.testing.assert_array_equal(_values(target), NEW)
    assert _hidden(target) == []


def test_a_new_file_killed_before_it_is_in_place_leaves_nothing(tmp_path: Path) -> None:
    np.save(tmp_path / "movie.npy", NEW)
    target = tmp_path / "new.nwb.zarr"
    seen, _ = drive(WRITE, [str(tmp_path / "movie.npy"), str(target)], kill_after(2))
    assert seen == ["partial created", "skeleton written"]
    assert not target.exists() and len(_hidden(target)) == 1
    with pytest.raises(nzi.StoreNotFoundError):
        nzi.read(str(target))
    assert _hidden(target) == []


def test_two_writers_replacing_one_path_take_turns(pristine: Path) -> None:
    """Both writers complete their new file; then A moves the old one aside and B goes to its swap at once,
    so that B may find the path empty while A is between its two renames (then B waits for A) or find A's
    new file (then B replaces it). Either way the path ends with the complete file of the writer that
    swapped last, both writers succeed, and nothing is left behind."""
    other = movie((5, 8, 8), np.uint16, 3)
    np.save(pristine.parent / "other.npy", other)
    target = _fresh(pristine, "two")
    order: list[tuple[str, str]] = []
    a_aside, b_complete = threading.Event(), threading.Event()

    def a_step(_k: int, name: str) -> str:
        order.append(("a", name))
        if name == "new file complete":
            assert b_complete.wait(120)
        if name == "old file moved aside":
            a_aside.set()
        return GO

    def b_step(_k: int, name: str) -> str:
        order.append(("b", name))
        if name == "new file complete":
            b_complete.set()
            assert a_aside.wait(120)
        return GO

    with ThreadPoolExecutor(2) as pool:
        a = pool.submit(drive, WRITE, [str(pristine.parent / "movie.npy"), str(target)], a_step)
        b = pool.submit(drive, WRITE, [str(pristine.parent / "other.npy"), str(target)], b_step)
        a_steps, b_steps = a.result()[0], b.result()[0]
    assert a_steps[-1] == b_steps[-1] == "old file removed"
    last = [who for who, name in order if name == "new file in place"][-1]
    np.testing.assert_array_equal(_values(target), NEW if last == "a" else other)
    assert _hidden(target) == []


def test_leftovers_of_dead_writers_go_and_those_held_by_a_live_one_stay(pristine: Path) -> None:
    """Every kind of hidden sibling; one of them locked by this (live) process, the rest by nobody."""
    from nwbzarr_image.storage import siblings

    target = _fresh(pristine, "leftovers")
    for kind in ("partial", "old", "trash", "rechunk"):
        (target.parent / f".{target.name}.{kind}-0000000{len(kind)}").mkdir()
    (target.parent / f".{target.name}.old-00000003" / "zarr.json").write_text("{}")
    live = target.parent / f".{target.name}.rechunk-11111111"
    live.mkdir()
    unrelated = target.parent / f".{target.name}.partial-not-ours"
    unrelated.mkdir()
    held = siblings.lock(str(live), wait=False)
    assert held is not None
    try:
        np.testing.assert_array_equal(_values(target), OLD)  # the path holds a file: the backups are stale
        assert _hidden(target) == sorted([live.name, unrelated.name])
    finally:
        held.release()
    nzi.read(str(target))
    assert _hidden(target) == [unrelated.name]


def test_a_file_that_appears_at_the_path_while_writing_is_kept(tmp_path: Path) -> None:
    from nwbzarr_image.storage import steps

    target = tmp_path / "new.nwb.zarr"

    def someone_else_writes(name: str) -> None:
        if name == "skeleton written":
            target.mkdir()
            (target / "theirs.txt").write_text("theirs")

    previous = steps.set_hook(someone_else_writes)
    try:
        with pytest.raises(nzi.StoreExistsError, match="appeared while this file was written"):
            nzi.write(_file(NEW), str(target))
    finally:
        steps.set_hook(previous)
    assert (target / "theirs.txt").read_text() == "theirs" and _hidden(target) == []
