"""``nwbzarr-image convert in.nwb out.nwb.zarr``: an NWB HDF5 file into NWB Zarr, out of core, with a progress bar.

Every object is carried over (the modelled ones and, as stored, the groups and datasets the library does not
model); frame arrays are read by HDF5 chunk byte ranges, decoded, and re-encoded in whole frame-aligned chunks
by dask tasks, so memory stays at a few blocks whatever the movie length.
"""

from __future__ import annotations

import argparse
import os
from typing import Any

from dask.callbacks import Callback

from nwbzarr_image import io
from nwbzarr_image.errors import ArgumentTypeError
from nwbzarr_image.hdf5.opener import has_signature, looks_like_hdf5_name


def is_nwb_hdf5(path: str) -> bool:
    """Whether ``path`` is an HDF5 file (by its signature; a URL by its name)."""
    if "://" in path or "::" in path:
        return looks_like_hdf5_name(path)
    if not os.path.isfile(path):
        return False
    with open(path, "rb") as fh:
        return has_signature(fh.read(4096))


class TaskBar(Callback):
    """A tqdm bar over the dask tasks that copy the frames (one update per finished task)."""

    def __init__(self, description: str) -> None:
        super().__init__()
        self.description = description
        self.bar: Any = None

    def _start_state(self, dsk: Any, state: dict[str, Any]) -> None:
        from tqdm.auto import tqdm

        total = sum(len(state[k]) for k in ("ready", "waiting", "running", "finished") if k in state)
        if self.bar is None:
            self.bar = tqdm(total=total, desc=self.description, unit="task")
        else:
            self.bar.total += total
            self.bar.refresh()

    def _posttask(self, key: Any, result: Any, dsk: Any, state: Any, worker_id: Any) -> None:
        if self.bar is not None:
            self.bar.update(1)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def run_convert_nwb(args: argparse.Namespace) -> int:
    options = (("--frames-per-chunk", args.frames_per_chunk), ("--shards", args.shards), ("--rate", args.rate),
               ("--name", args.name), ("--external", args.external or None), ("--session-start", args.session_start))
    given = [flag for flag, value in options if value is not None]
    if given:
        raise ArgumentTypeError(f"convert: {', '.join(given)} apply to movies; got them with the NWB HDF5 file "
                                f"{args.input!r}, whose series, names and timing are copied as they are. Drop them.")
    nwbfile = io.read(args.input, strict=args.strict)
    bar = TaskBar(os.path.basename(args.input.rstrip("/")))
    try:
        if args.no_progress:
            io.write(nwbfile, args.output, mode="w" if args.overwrite else "w-")
        else:
            with bar:
                io.write(nwbfile, args.output, mode="w" if args.overwrite else "w-")
    finally:
        bar.close()
    count = len(nwbfile.objects)
    print(f"converted {args.input} ({count} objects) to {args.output}")
    return 0
