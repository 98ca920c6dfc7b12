"""Crash safety: a writer killed after each step it reports, and readers running while another process appends."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from kill_steps import drive, kill_after

import nwbzarr_image as nzi

WRITE = textwrap.dedent("""
    from datetime import UTC, datetime
    import numpy as np
    import nwbzarr_image as nzi
    import nwbzarr_image.storage.stream as stream
    stream.BATCH_BYTES = 2 * 8 * 8 * 2  # a flushed batch is one chunk of 2 frames
    nwb = nzi.NWBFile("s", "id", datetime(2024, 1, 1, tzinfo=UTC))
    cam = nwb.create_device("cam")
    nwb.add_acquisition(nzi.ImageSeries("still", np.arange(4 * 8 * 8, dtype=np.uint8).reshape(4, 8, 8), "n.a.",
                                        rate=1.0, device=cam))
    frames = (np.full((8, 8), i, np.uint16) for i in range(8))
    it = nzi.DataChunkIterator(frames, dtype=np.uint16, buffer_size=2)
    nwb.add_acquisition(nzi.ImageSeries("m", nzi.ZarrDataIO(it, chunks=(2, 8, 8)), "a.u.", rate=10.0))
    nzi.write(nwb, sys.argv[1])
    with nzi.open(sys.argv[1], "a") as f:
        for k in range(2):
            n = f.acquisition["m"].data.shape[0]
            f.acquisition["m"].append(np.stack([np.full((8, 8), n + j, np.uint16) for j in range(3)]))
""")
WRITE_STEPS = ["partial created", "skeleton written", "new file in place",
               *["chunks written", "shape committed"] * 4, "streams consolidated",
               "chunks written", "chunks written", "append committed",  # frames 8-9, then 10 (a partial chunk)
               "chunks written", "append committed"]                      # frames 11-13, one write


def _check_every_node_reads(path: Path) -> int:
    nwb = nzi.read(str(path))
    np.testing.assert_array_equal(nwb.acquisition["still"].data.compute(),
                                  np.arange(4 * 8 * 8, dtype=np.uint8).reshape(4, 8, 8))
    assert nwb.acquisition["still"].device is nwb.devices["cam"]
    data = nwb.acquisition["m"].data
    n = data.shape[0]
    np.testing.assert_array_equal(data[:, 4, 4].compute(), np.arange(n))  # exactly the frames flushed, in order
    return n


def test_sigkill_after_every_step_leaves_no_file_or_a_readable_one(tmp_path: Path) -> None:
    """The writer reports each step (kill_steps) and is killed right after step k, for every k: before the
    skeleton is in place there is no file; after, every node reads and the series holds exactly the frames
    committed (2 per flushed batch, 3 per append), and an append resumes it."""
    steps, _ = drive(WRITE, [str(tmp_path / "complete.nwb.zarr")])
    assert steps == WRITE_STEPS, steps
    assert _check_every_node_reads(tmp_path / "complete.nwb.zarr") == 8 + 2 * 3
    for k in range(1, len(steps) + 1):
        path = tmp_path / f"f{k}.nwb.zarr"
        seen, killed = drive(WRITE, [str(path)], kill_after(k))
        assert killed and seen == steps[:k]
        if "new file in place" not in seen:
            with pytest.raises(nzi.StoreNotFoundError):
                nzi.read(str(path))
            assert not [p for p in os.listdir(tmp_path) if p.startswith(f".{path.name}.")]  # the partial is gone
            continue
        n = _check_every_node_reads(path)
        assert n == 2 * seen.count("shape committed") + 3 * seen.count("append committed"), (k, seen[-1])
        with nzi.open(str(path), "a") as f:  # an interrupted write or append resumes
            f.acquisition["m"].append(np.full((1, 8, 8), n, np.uint16))
        assert _check_every_node_reads(path) == n + 1


APPENDER = textwrap.dedent("""
    import sys
    import numpy as np
    import nwbzarr_image as nzi
    for k in range(40):
        with nzi.open(sys.argv[1], "a") as f:
            series = f.acquisition["m"]
            n = series.data.shape[0]
            series.append(np.stack([np.full((16, 16), n + j, np.uint16) for j in range(5)]),
                          timestamps=(n + np.arange(5)) / 10.0)
""")


def test_readers_see_a_consistent_prefix_while_another_process_appends(tmp_path: Path, start_time) -> None:
    from concurrent.futures import ThreadPoolExecutor

    path = tmp_path / "f.nwb.zarr"
    nwb = nzi.NWBFile("s", "id", start_time)
    first = np.stack([np.full((16, 16), i, np.uint16) for i in range(7)])
    nwb.add_acquisition(nzi.ImageSeries("m", nzi.ZarrDataIO(first, chunks=(4, 16, 16)), "a.u.",
                                        timestamps=np.arange(7) / 10.0))
    nzi.write(nwb, str(path))
    appender = subprocess.Popen([sys.executable, "-c", APPENDER, str(path)])

    def read_until_done(_: int) -> list[int]:
        seen = []
        while True:
            done = appender.poll() is not None
            series = nzi.read(str(path)).acquisition["m"]
            values = series.data[:, 8, 8].compute()
            times = series.timestamps.compute()
            n = len(values)
            assert len(times) == n and n >= 7
            np.testing.assert_array_equal(values, np.arange(n))  # never a garbage or missing frame
            np.testing.assert_allclose(times, np.arange(n) / 10.0)
            seen.append(n)
            if done:
                return seen

    with ThreadPoolExecutor(2) as pool:
        seen = [n for result in pool.map(read_until_done, range(2)) for n in result]
    assert appender.wait() == 0
    assert max(seen) == 7 + 40 * 5 and len(set(seen)) > 2
    reader = subprocess.run([sys.executable, "-c", "import sys, nwbzarr_image as nzi; "
                             "d = nzi.read(sys.argv[1]).acquisition['m'].data; print(d.shape[0], int(d[-1, 0, 0]))",
                             str(path)], capture_output=True, text=True, check=True)
    assert reader.stdout.split() == ["207", "206"]
