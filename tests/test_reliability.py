"""Crash safety under random kill points, and readers running while another process appends."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np

import nwbzarr_image as nzi

WRITE = textwrap.dedent("""
    import sys, time
    from datetime import UTC, datetime
    import numpy as np
    import nwbzarr_image as nzi
    import nwbzarr_image.storage.stream as stream
    stream.BATCH_BYTES = 2 * 8 * 8 * 2
    def frames(n):
        for i in range(n):
            time.sleep(0.002)
            yield np.full((8, 8), i, np.uint16)
    nwb = nzi.NWBFile("s", "id", datetime(2024, 1, 1, tzinfo=UTC))
    cam = nwb.create_device("cam")
    nwb.add_acquisition(nzi.ImageSeries("still", np.arange(4 * 8 * 8, dtype=np.uint8).reshape(4, 8, 8), "n.a.",
                                        rate=1.0, device=cam))
    it = nzi.DataChunkIterator(frames(400), dtype=np.uint16, buffer_size=3)
    nwb.add_acquisition(nzi.ImageSeries("m", nzi.ZarrDataIO(it, chunks=(2, 8, 8)), "a.u.", rate=10.0))
    nzi.write(nwb, sys.argv[1])
    if len(sys.argv) > 2:
        with nzi.open(sys.argv[1], "a") as f:
            for k in range(200):
                n = f.acquisition["m"].data.shape[0]
                f.acquisition["m"].append(np.stack([np.full((8, 8), n + j, np.uint16) for j in range(3)]))
""")


def _check_every_node_reads(path: Path) -> int:
    nwb = nzi.read(str(path))
    np.testing.assert_array_equal(nwb.acquisition["still"].data.compute(),
                                  np.arange(4 * 8 * 8, dtype=np.uint8).reshape(4, 8, 8))
    assert nwb.acquisition["still"].device is nwb.devices["cam"]
    data = nwb.acquisition["m"].data
    n = data.shape[0]
    np.testing.assert_array_equal(data[:, 4, 4].compute(), np.arange(n))  # exactly the frames flushed, in order
    return n


def test_sigkill_at_random_points_leaves_no_file_or_a_readable_one(tmp_path: Path) -> None:
    rng = random.Random(20261125)
    outcomes = {"none": 0, "readable": 0}
    lengths = []
    for run in range(24):
        path = tmp_path / f"f{run}.nwb.zarr"
        append = run % 2 == 1
        child = subprocess.Popen([sys.executable, "-c", WRITE, str(path), *(["append"] if append else [])])
        time.sleep(rng.uniform(0.3, 2.5))
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
        if not path.exists():
            outcomes["none"] += 1
            continue
        lengths.append(_check_every_node_reads(path))
        outcomes["readable"] += 1
        if append:  # an interrupted append resumes
            with nzi.open(str(path), "a") as f:
                n = f.acquisition["m"].data.shape[0]
                f.acquisition["m"].append(np.full((1, 8, 8), n, np.uint16))
            assert _check_every_node_reads(path) == n + 1
    assert outcomes["readable"] >= 10, outcomes
    assert len(set(lengths)) > 3, lengths  # the kills did land at different points


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
