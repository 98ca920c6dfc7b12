"""The write-then-stream protocol: every group and array is written first (the skeleton, consolidated with
its streamed arrays committed empty), then the iterators' frames are streamed in, the committed shape
advancing after each flushed batch, and the file is consolidated again with the final shapes."""

from __future__ import annotations

import zarr
from zarr.abc.store import Store

from nwbzarr_image.errors import SchemaError
from nwbzarr_image.layout import GroupNode
from nwbzarr_image.storage.consolidate import consolidate
from nwbzarr_image.storage.resume_store import KeepingGroup
from nwbzarr_image.storage.steps import step
from nwbzarr_image.storage.stream import FrameStream, StreamJob, commit_shapes
from nwbzarr_image.storage.writer import group_attrs, write_tree


def write_store(store: Store, tree: GroupNode) -> None:
    """Write ``tree`` as a new file into an empty ``store``: the skeleton, then the streams."""
    stream(store, write_skeleton(store, tree))


def write_skeleton(store: Store, tree: GroupNode, *, keep: bool = False) -> list[StreamJob]:
    """Every group and array, all values but those of iterators; consolidated with 0-length streams.

    ``keep`` (a resumed write, see ``resume_store``): the store may hold a killed run's work; the nodes stored
    as they would be written are kept with their chunks, the others written anew.
    """
    if keep:
        root: zarr.Group = KeepingGroup.root(store, group_attrs(tree))
    else:
        root = zarr.open_group(store, mode="w-", zarr_format=3, attributes=group_attrs(tree))
    jobs = write_tree(root, tree)
    consolidate(store)
    commit_empty(store, jobs)
    return jobs


def add_new_nodes(store: Store, tree: GroupNode) -> None:
    """Write the nodes of ``tree`` the stored file lacks (stored ones are kept as they are), then stream."""
    root = zarr.open_group(store, mode="r+", use_consolidated=False)
    created: list[str] = []
    jobs = write_tree(root, tree, skip_existing=True, created=created)
    if not created:
        return  # nothing new: the file stays byte for byte as it was (appends commit their own shapes)
    consolidate(store)
    commit_empty(store, jobs)
    stream(store, jobs)


def commit_empty(store: Store, jobs: list[StreamJob]) -> None:
    """Streamed arrays are created with their capacity; readers see them empty until frames are written."""
    if jobs:
        commit_shapes(store, {job.path: (0, *zarr.open_array(store, path=job.path, mode="r").shape[1:])
                              for job in jobs})


def stream(store: Store, jobs: list[StreamJob]) -> None:
    """Fill the streamed arrays, then trim them to what was written and consolidate."""
    for job in jobs:
        array = zarr.open_array(store, path=job.path, mode="r+").with_config({"write_empty_chunks": True})
        rest = tuple(array.shape[1:])

        def commit(end: int, path: str = job.path, rest: tuple[int, ...] = rest) -> None:
            _commit(store, {path: (end, *rest)})

        job.written = FrameStream(array, job, commit).run()
        if array.shape[0] != job.written:
            array.resize((job.written, *rest))
        if job.known_length is not None and job.written != job.known_length:
            raise SchemaError(f"{job.path}: the iterator gave {job.written} elements along the first axis; "
                              f"expected {job.known_length} from its maxshape. Fix maxshape or the source.")
    consolidate(store)
    step("streams consolidated")


def _commit(store: Store, shapes: dict[str, tuple[int, ...]]) -> None:
    commit_shapes(store, shapes)
    step("shape committed")
