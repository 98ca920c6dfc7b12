"""Node descriptions: what a Zarr group or array of an NWB file holds, independent of any store."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

# How the writer lays out an array:
#  frames  - image frames (whole frames per chunk, the library's compressor)
#  series  - 1-D per-sample arrays (timestamps, control, index data), chunked along time
#  small   - everything else, one chunk
#  scalar  - 0-d arrays
Role = Literal["frames", "series", "small", "scalar"]
NWB_VERSION = "2.11.0"


class StoredArray(Protocol):
    """What the reader hands to the decoder for each array: metadata now, values on demand."""

    shape: tuple[int, ...]
    dtype: Any
    path: str

    def load(self) -> Any:
        """All values as a numpy array (or a Python scalar for 0-d arrays)."""

    def lazy(self) -> Any:
        """A dask array aligned with the stored chunks (shards when sharded)."""


@dataclass
class Link:
    """A soft link: the entry ``{"source", "path", "name"}`` of a group's ``_LINKS`` attribute."""

    name: str
    path: str
    source: str = "."

    def to_json(self) -> dict[str, str]:
        return {"source": self.source, "path": self.path, "name": self.name}


@dataclass
class ArrayNode:
    """An array: its values (or a StoredArray when read), the ``_DTYPE`` name and its attributes."""

    name: str
    value: Any
    dtype: str
    attrs: dict[str, Any] = field(default_factory=dict)
    role: Role = "small"
    existing: bool = False


@dataclass
class GroupNode:
    """A group: attributes, links (kept apart from attrs) and children by name."""

    name: str
    attrs: dict[str, Any] = field(default_factory=dict)
    links: list[Link] = field(default_factory=list)
    children: dict[str, GroupNode | ArrayNode] = field(default_factory=dict)
    existing: bool = False

    def add(self, node: GroupNode | ArrayNode) -> GroupNode | ArrayNode:
        self.children[node.name] = node
        return node

    def group(self, name: str) -> GroupNode:
        """The child group ``name``, created (untyped) when missing."""
        child = self.children.get(name)
        if not isinstance(child, GroupNode):
            child = GroupNode(name)
            self.children[name] = child
        return child

    def walk(self, prefix: str = "") -> Any:
        """Yield ``(path, node)`` for this group and everything below it."""
        yield prefix or "/", self
        for name, child in self.children.items():
            path = f"{prefix}/{name}"
            if isinstance(child, GroupNode):
                yield from child.walk(path)
            else:
                yield path, child
