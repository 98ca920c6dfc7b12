"""A resumable conversion of a local source file: killed at any point and run again with the same source and
target, it keeps every chunk and shard already stored and writes only the rest.

The file is written into ``OUT.resume-<hash>`` next to the target, the hash naming the source (real path, size,
mtime) and the target, with ``resume.json`` recording the same. It is not a sibling that
:func:`siblings.recover` removes: it outlives its writer, which holds its ``flock`` while it works (a second
writer is refused). Work for another source (or the same source since changed) is removed, and said so. Once
complete, the directory is renamed into place (``mode='w-'``: an output that appeared meanwhile is kept, and so
is the work) or swapped in over the old file (``mode='w'``), and nothing is left behind.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import uuid
import warnings
from typing import Any

from nwbzarr_image.errors import NWBZarrImageError, StoreExistsError
from nwbzarr_image.layout import GroupNode
from nwbzarr_image.storage import siblings, stores
from nwbzarr_image.storage.resume_store import Tally, chunk_files, remove_temporaries, resuming
from nwbzarr_image.storage.steps import step
from nwbzarr_image.storage.transaction import WriteMode, place
from nwbzarr_image.storage.write_stream import stream, write_skeleton

FORMAT = 1  # of the work directory; a new one never resumes an old one's work
RECORD = "resume.json"
log = logging.getLogger(__name__)


def source_identity(source: str) -> dict[str, Any]:
    """What a source file is resumed by: its real path, size and modification time, and :data:`FORMAT`."""
    stat = os.stat(source)
    return {"format": FORMAT, "source": os.path.realpath(source), "size": stat.st_size,
            "mtime_ns": stat.st_mtime_ns}


def work_path(location: stores.Location, identity: dict[str, Any]) -> str:
    """The directory a resumable write of the source ``identity`` to ``location`` works in."""
    target = os.path.abspath(location.path.rstrip("/"))
    digest = hashlib.sha256(json.dumps([identity, target], sort_keys=True).encode()).hexdigest()[:16]
    return f"{target}.resume-{digest}"


def write_resumable(location: stores.Location, tree: GroupNode, source: str, mode: WriteMode, *,
                    restart: bool = False) -> Tally:
    """Write ``tree`` (read from the local file ``source``) as the file at the local ``location``, resuming the
    work of a killed run for the same source and target; returns the chunk files kept and written."""
    identity = source_identity(source)
    path = work_path(location, identity)
    held = _claim(location, path, identity, restart)
    try:
        with resuming(path) as tally:
            try:
                store = stores.open_store(location, read_only=False, path=path)
                with warnings.catch_warnings():  # zarr lists the record as an unknown object when consolidating
                    warnings.filterwarnings("ignore", message=f"Object at {RECORD} is not recognized")
                    jobs = write_skeleton(store, tree, keep=True)
                if jobs:
                    stream(store, jobs)
                store.close()
            except NWBZarrImageError:
                siblings.delete(path)  # bad input: running again would fail the same way
                raise
        step("resume work complete")
        os.unlink(os.path.join(path, RECORD))
        step("resume record removed")
        try:
            place(location, path, held, mode)
        except BaseException:
            if os.path.isdir(path):
                _write_record(path, identity)  # kept for a run with mode='w' (it resumes with nothing to do)
            raise
        total = tally.kept + tally.written
        if tally.kept:
            log.info("resumed: kept %d of %d chunk/shard files, wrote %d", tally.kept, total, tally.written)
    finally:
        held.release()
    return tally


def _claim(location: stores.Location, path: str, identity: dict[str, Any], restart: bool) -> siblings.Held:
    """Lock the work directory (made when missing), its record checked; other work for the target removed."""
    for other in _other_work(path):
        _remove_stale(location, other, identity)
    if restart and os.path.lexists(path):
        _remove(location, path)
        log.info("starting over (restart): removed the work of an interrupted conversion in %s", path)
    try:
        os.mkdir(path)
        fresh = True
    except FileExistsError:
        fresh = False
    held = _try_lock(path)
    if held is None:
        raise _busy(location, path)
    try:
        record = _read_record(path)
        # the directory's name hashes the identity: without a record (killed just before the rename), it is ours
        if not fresh and (record == identity or not os.path.lexists(os.path.join(path, RECORD))):
            remove_temporaries(path)
            _write_record(path, identity)
            log.info("resuming: %d chunk/shard files already written in %s", chunk_files(path), path)
        else:
            if not fresh:
                log.info("starting over: %s has no valid record of its source", path)
                for entry in os.listdir(path):
                    siblings.delete(os.path.join(path, entry))
            _write_record(path, identity)
            step("resume record written")
    except BaseException:
        held.release()
        raise
    return held


def _other_work(path: str) -> list[str]:
    parent, name = os.path.split(path)
    pattern = re.compile(re.escape(name.rsplit(".resume-", 1)[0]) + r"\.resume-[0-9a-f]{16}")
    return sorted(os.path.join(parent, entry) for entry in os.listdir(parent or ".")
                  if pattern.fullmatch(entry) and entry != name)


def _remove_stale(location: stores.Location, other: str, identity: dict[str, Any]) -> None:
    record = _read_record(other) or {}
    _remove(location, other)
    if record.get("source") == identity["source"]:
        log.info("starting over: %s changed since the interrupted conversion (size %s -> %s, mtime_ns %s -> %s); "
                 "removed its work in %s", identity["source"], record.get("size"), identity["size"],
                 record.get("mtime_ns"), identity["mtime_ns"], other)
    else:
        log.info("removed the work of an interrupted conversion of %s into %s (%s)", record.get("source"),
                 location.url, other)


def _try_lock(path: str) -> siblings.Held | None:
    """The lock of ``path``; None when a live writer holds it (without flock, as on Windows: never)."""
    return siblings.lock(path, wait=False) if siblings.fcntl is not None else siblings.Held(None)


def _remove(location: stores.Location, path: str) -> None:
    held = _try_lock(path)
    if held is None:
        if os.path.lexists(path):
            raise _busy(location, path)
        return
    siblings.discard(path, held)


def _busy(location: stores.Location, path: str) -> StoreExistsError:
    return StoreExistsError(f"write: {location.url} is being written by another process, which holds {path}; "
                            "expected one writer at a time. Wait for it to finish, or write to another path.")


def _read_record(path: str) -> dict[str, Any] | None:
    try:
        with open(os.path.join(path, RECORD), "rb") as fh:
            record = json.loads(fh.read(1 << 16))
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def _write_record(path: str, identity: dict[str, Any]) -> None:
    temp = os.path.join(path, f".resume.{uuid.uuid4().hex[:8]}.partial")
    with open(temp, "w") as fh:
        json.dump(identity, fh)
    os.replace(temp, os.path.join(path, RECORD))
