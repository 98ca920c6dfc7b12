"""What the viewer serves, without HTTP: the listing of a file and its frames as PNG."""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from nwbzarr_image.errors import NodeNotFoundError, NWBZarrImageError
from nwbzarr_image.preview import FrameSource, frame_image, open_source, parse_contrast, walk
from nwbzarr_image.preview.contrast import CONTRAST_FORMS

CACHE_BYTES = 256 * 2**20


@dataclass
class BlockCache:
    """Decoded blocks of frames (e.g. a chunk of an external video), least recently used dropped first."""

    max_bytes: int = CACHE_BYTES
    blocks: OrderedDict[tuple[str, int], np.ndarray] = field(default_factory=OrderedDict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def get(self, key: tuple[str, int]) -> np.ndarray | None:
        with self.lock:
            block = self.blocks.get(key)
            if block is not None:
                self.blocks.move_to_end(key)
            return block

    def put(self, key: tuple[str, int], block: np.ndarray) -> None:
        if block.nbytes > self.max_bytes:
            return
        with self.lock:
            self.blocks[key] = block
            while sum(b.nbytes for b in self.blocks.values()) > self.max_bytes:
                self.blocks.popitem(last=False)


class ViewerApp:
    """The objects of one opened NWB file that can be shown, and their frames.

    Parameters
    ----------
    nwbfile : NWBFile
        The file, as returned by :func:`nwbzarr_image.read`.
    url : str
        How the file was named (shown in the page).
    allow_outside : bool
        For external-file series: accept files outside the NWB file's directory.
    """

    def __init__(self, nwbfile: Any, url: str, *, allow_outside: bool = False) -> None:
        self.nwbfile, self.url, self.allow_outside = nwbfile, url, allow_outside
        self.objects = dict(walk(nwbfile))
        self.sources: dict[str, FrameSource] = {}
        self.problems: dict[str, NWBZarrImageError | OSError] = {}
        self.lock = threading.Lock()
        self.cache = BlockCache()

    @classmethod
    def open(cls, url: Any, storage_options: dict[str, Any] | None = None, *, allow_outside: bool = False
             ) -> ViewerApp:
        """Read the file at ``url`` (one request for a consolidated file; no frame is read)."""
        from nwbzarr_image import io

        return cls(io.read(url, storage_options), url if isinstance(url, str) else repr(url),
                   allow_outside=allow_outside)

    def source(self, path: str) -> FrameSource:
        """The frames of the object at ``path``; opened once (external files: headers only)."""
        with self.lock:
            if path in self.sources:
                return self.sources[path]
            if path in self.problems:
                raise self.problems[path]
            if path not in self.objects:
                listing = ", ".join(self.objects) or "none"
                raise NodeNotFoundError(f"no series or image {path!r} in {self.url}; expected one of: {listing}. "
                                        "Pick one from the list.")
            try:
                source = open_source(path, self.objects[path], allow_outside=self.allow_outside)
            except (NWBZarrImageError, OSError) as err:
                self.problems[path] = err
                raise
            self.sources[path] = source
            return source

    def listing(self) -> dict[str, Any]:
        """The file and everything in it that can be shown (read from the metadata; no frame is read)."""
        nwb = self.nwbfile
        items = [self._entry(path, obj) for path, obj in self.objects.items()]
        return {"file": {"url": self.url, "identifier": nwb.identifier, "session_description":
                         nwb.session_description, "session_start_time": str(nwb.session_start_time)},
                "items": items, "contrast": CONTRAST_FORMS}

    def _entry(self, path: str, obj: Any) -> dict[str, Any]:
        entry: dict[str, Any] = {"path": path, "name": path.rsplit("/", 1)[-1],
                                 "type": getattr(obj, "neurodata_type", type(obj).__name__),
                                 "description": getattr(obj, "description", None)}
        for attr in ("rate", "unit"):  # not starting_time: it may cost a request; frames carry their time
            entry[attr] = getattr(obj, attr, None)
        entry["timestamps"] = getattr(obj, "timestamps", None) is not None
        try:
            source = self.source(path)
        except (NWBZarrImageError, OSError) as err:
            return {**entry, "kind": "series", "frames": 0, "error": one_line(err)}
        return {**entry, "kind": source.kind, "frames": source.count, "shape": list(source.frame_shape),
                "dtype": str(source.dtype), "color": source.color, "error": None}

    def frame(self, path: str, index: int, contrast: str | None = None) -> tuple[bytes, dict[str, str]]:
        """Frame ``index`` of ``path`` as PNG bytes, and headers telling its number, time and contrast.

        Reads only the chunks the frame touches (external videos: the decoded block holding it, kept in a
        bounded cache so that playing decodes each frame once).
        """
        contrast_value = parse_contrast(contrast)
        source = self.source(path)
        index = source.index(index)
        start, stop = source.block(index)
        array = None
        if stop - start > 1:
            block = self.cache.get((path, start))
            if block is None:
                block = np.asarray(source.frames(start, stop).compute())
                self.cache.put((path, start), block)
            array = block[index - start]
        image = frame_image(source, index, contrast_value, array=array)
        time = source.time(index)
        headers = {"X-Frame": str(index), "X-Frame-Count": str(source.count),
                   "X-Frame-Time": "" if time is None else repr(time),
                   "X-Contrast-Low": repr(float(image.limits[0])), "X-Contrast-High": repr(float(image.limits[1]))}
        return image.png(level=1), headers  # on this machine's loopback, speed matters more than size


def one_line(err: BaseException) -> str:
    """The first line of an error's message (its type when it has none)."""
    text = str(err)
    return text.splitlines()[0] if text else type(err).__name__
