"""NWB HDF5 files written by pynwb's NWBHDF5IO in the tests: every image type, storage layouts, odd files."""

from __future__ import annotations

import contextlib
import uuid
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import h5py
import numpy as np
from hdmf.backends.hdf5 import H5DataIO
from hdmf.build.warnings import DtypeConversionWarning
from interop_helpers import Lib, frames
from pynwb import NWBHDF5IO

PYNWB = Lib("pynwb")
MOVIE = frames((50, 64, 48), np.uint16)
TIMES = np.arange(50) / 20.0
# name -> H5DataIO arguments (None: a plain ndarray, which h5py stores contiguous and unfiltered)
LAYOUTS: dict[str, dict[str, Any] | None] = {
    "gzip_shuffle": {"chunks": (10, 64, 48), "compression": "gzip", "shuffle": True},
    "contiguous": None,
    "fletcher32": {"chunks": (7, 30, 20), "compression": "gzip", "fletcher32": True},
    "tiny": {"chunks": (13, 5, 7), "compression": "gzip", "compression_opts": 2},  # hdmf's proportional style
    "lzf": {"chunks": (10, 32, 48), "compression": "lzf"},  # h5py's own filter: numcodecs has none
}


def write_h5(nwbfile: Any, path: Path) -> Path:
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=DtypeConversionWarning)
        with NWBHDF5IO(str(path), mode="w") as io:
            io.write(nwbfile)
    return path


@contextlib.contextmanager
def pynwb_h5(path: Path) -> Iterator[Any]:
    io = NWBHDF5IO(str(path), mode="r")
    try:
        yield io.read()
    finally:
        io.close()


def layouts_file(path: Path) -> Path:
    """One ImageSeries per layout of LAYOUTS (+ timestamps chunked like the data), and one compact dataset."""
    f = PYNWB.new_file()
    for name, kw in LAYOUTS.items():
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="lzf compression may not be available")
            data = MOVIE if kw is None else H5DataIO(MOVIE, **kw)
        stamps = TIMES if kw is None else H5DataIO(TIMES, chunks=(8,), compression="gzip")
        f.add_acquisition(PYNWB.new("ImageSeries", name=name, data=data, unit="n.a.", timestamps=stamps,
                                    description=f"movie stored {name}", comments=name))
    f.add_acquisition(PYNWB.new("ImageSeries", name="compact", data=MOVIE[:4, :10, :10], unit="n.a.", rate=20.0,
                                description="a small movie rewritten below as a compact dataset"))
    write_h5(f, path)
    with h5py.File(path, "r+") as h:
        make_compact(h, "acquisition/compact/data")
    return path


def make_compact(h: h5py.File, path: str) -> None:
    """Rewrite a dataset with HDF5's compact layout (its values in the object header); pynwb has no option."""
    ds = h[path]
    values, attrs = ds[()], dict(ds.attrs)
    parent = ds.parent
    name = path.rsplit("/", 1)[-1]
    del parent[name]
    dcpl = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
    dcpl.set_layout(h5py.h5d.COMPACT)
    dsid = h5py.h5d.create(parent.id, name.encode(), h5py.h5t.py_create(values.dtype),
                           h5py.h5s.create_simple(values.shape), dcpl=dcpl)
    dsid.write(h5py.h5s.ALL, h5py.h5s.ALL, np.ascontiguousarray(values))
    for key, value in attrs.items():
        parent[name].attrs[key] = value


def add_raw_dataset(h: h5py.File, group: str, name: str, values: np.ndarray, chunks: tuple[int, ...],
                    filters: list[tuple[int, tuple[int, ...]]], chunk_bytes: Any, masks: Any = None) -> None:
    """A chunked dataset whose pipeline is ``filters`` (code, values) and whose chunks are written as given by
    ``chunk_bytes(index, block)`` with ``masks(index)`` (write_direct_chunk: no filter needs to be available)."""
    dcpl = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
    dcpl.set_chunk(chunks)
    for code, opts in filters:
        # HDF5 refuses a mandatory filter it does not have; an optional one is recorded all the same
        dcpl.set_filter(code, h5py.h5z.FLAG_MANDATORY if h5py.h5z.filter_avail(code) else h5py.h5z.FLAG_OPTIONAL,
                        opts)
    dsid = h5py.h5d.create(h[group].id, name.encode(), h5py.h5t.py_create(values.dtype),
                           h5py.h5s.create_simple(values.shape), dcpl=dcpl)
    index = 0
    for start in range(0, values.shape[0], chunks[0]):
        block = np.zeros(chunks, dtype=values.dtype)
        part = values[start:start + chunks[0]]
        block[:len(part)] = part
        offsets = (start, *([0] * (values.ndim - 1)))
        dsid.write_direct_chunk(offsets, chunk_bytes(index, block), masks(index) if masks else 0)
        index += 1


def image_series_group(h: h5py.File, path: str, data_name: str = "data") -> h5py.Group:
    """A bare typed ImageSeries group, for datasets made with h5py's low-level API."""
    g = h.create_group(path)
    g.attrs.update({"neurodata_type": "ImageSeries", "namespace": "core", "object_id": str(uuid.uuid4()),
                    "description": "made with h5py", "comments": "no comments"})
    return g
