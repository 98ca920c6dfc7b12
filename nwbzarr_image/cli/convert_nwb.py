"""``nwbzarr-image convert in.nwb out.nwb.zarr``: an NWB HDF5 file into NWB Zarr, out of core, with a progress bar.

Every object is carried over (the modelled ones and, as stored, the groups and datasets the library does not
model); frame arrays are read by HDF5 chunk byte ranges, decoded, and re-encoded in whole frame-aligned chunks
by dask tasks, so memory stays at a few blocks whatever the movie length. A local file converted to a local path
is resumable (``storage/resume.py``): run again after a kill or Ctrl-C, it keeps the chunks already written.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys
from collections.abc import Iterator
from typing import Any

from dask.callbacks import Callback

from nwbzarr_image import io
from nwbzarr_image.errors import ArgumentTypeError
from nwbzarr_image.hdf5.opener import has_signature, looks_like_hdf5_name
from nwbzarr_image.storage.transaction import WriteMode


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
    resumable = _is_local(args.input) and _is_local(args.output)
    if args.restart and not resumable:
        raise ArgumentTypeError(f"convert: --restart applies to resumable conversions, from a local file to a local "
                                f"path; got {args.input!r} to {args.output!r}, which always start over. Drop "
                                "--restart.")
    nwbfile = io.read(args.input, strict=args.strict)
    bar = TaskBar(os.path.basename(args.input.rstrip("/")))
    mode: WriteMode = "w" if args.overwrite else "w-"
    try:
        with _resume_messages():
            if args.no_progress:
                io.write(nwbfile, args.output, mode=mode, resumable=resumable, restart=args.restart)
            else:
                with bar:
                    io.write(nwbfile, args.output, mode=mode, resumable=resumable, restart=args.restart)
    except KeyboardInterrupt:
        if not resumable:
            raise
        print(f"nwbzarr-image convert: interrupted; the work so far is kept in {args.output}.resume-*: run the same "
              "command again to resume, or add --restart to start over", file=sys.stderr)
        return 130
    finally:
        bar.close()
    count = len(nwbfile.objects)
    print(f"converted {args.input} ({count} objects) to {args.output}")
    return 0


def _is_local(path: str) -> bool:
    return path.startswith("file://") or ("://" not in path and "::" not in path)


@contextlib.contextmanager
def _resume_messages() -> Iterator[None]:
    """The resumable write's messages (resuming, starting over) printed on stdout, one line each."""
    log = logging.getLogger("nwbzarr_image.storage.resume")
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(logging.Formatter("%(message)s"))
    level, propagate = log.level, log.propagate
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False
    try:
        yield
    finally:
        log.removeHandler(handler)
        log.setLevel(level)
        log.propagate = propagate
