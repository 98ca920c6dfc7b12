"""Write a synthetic imaging movie as NWB on Zarr, then read it back lazily and compute with dask.

Run:  python examples/write_and_read.py [OUTPUT]   (default: ./example.nwb.zarr, replaced if present)
"""

from __future__ import annotations

import sys
import time
from datetime import UTC, datetime

import numpy as np

import nwbzarr_image as nzi


def synthetic_movie(frames: int = 300, height: int = 256, width: int = 256) -> np.ndarray:
    """A uint16 two-photon-like movie: static anatomy, blinking cells, shot noise."""
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:height, 0:width]
    anatomy = 400 + 300 * np.exp(-((yy - height / 2) ** 2 + (xx - width / 2) ** 2) / (2 * (height / 3) ** 2))
    cells = [(rng.integers(8, height - 8), rng.integers(8, width - 8)) for _ in range(40)]
    footprints = np.stack([np.exp(-((yy - y) ** 2 + (xx - x) ** 2) / 18.0) for y, x in cells])
    activity = (rng.random((frames, len(cells))) < 0.03).astype(float)
    kernel = np.exp(-np.arange(20) / 5.0)
    activity = np.stack([np.convolve(a, kernel)[:frames] for a in activity.T], axis=1) * 800
    signal = anatomy + np.tensordot(activity, footprints, axes=1)
    return rng.poisson(signal).astype(np.uint16)


def main(output: str) -> None:
    movie = synthetic_movie()
    nwb = nzi.NWBFile("synthetic two-photon session", "example-0001", datetime(2024, 1, 2, 9, 0, tzinfo=UTC))
    scope = nwb.create_device("microscope", description="two-photon microscope")
    nwb.add_acquisition(nzi.ImageSeries("imaging", movie, "a.u.", rate=30.0, device=scope,
                                        description="synthetic 256x256 imaging movie"))
    started = time.perf_counter()
    nzi.write(nwb, output, mode="w")
    wrote = time.perf_counter() - started

    started = time.perf_counter()
    back = nzi.read(output)
    series = back.acquisition["imaging"]
    opened = time.perf_counter() - started
    mean = series.data.mean(axis=0).compute()
    assert np.array_equal(series.data[123].compute(), movie[123])
    print(f"wrote {movie.nbytes / 1e6:.1f} MB to {output} in {wrote:.2f} s; opened in {opened * 1e3:.1f} ms")
    print(f"{series.neurodata_type} '{series.name}': shape {series.data.shape}, dtype {series.data.dtype}, "
          f"dask chunks {series.data.chunksize}, {series.rate} Hz, {series.get_duration():.2f} s, "
          f"device '{series.device.name}'")
    print(f"mean projection: min {mean.min():.1f}, max {mean.max():.1f}; frame 123 read back equal")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "example.nwb.zarr")
