"""The state one encoding or decoding pass shares between the per-type codecs."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

from nwbzarr_image.errors import InvalidFileWarning, LayoutError
from nwbzarr_image.layout.nodes import ArrayNode, GroupNode
from nwbzarr_image.layout.paths import join, object_paths
from nwbzarr_image.layout.specs import Ancestry
from nwbzarr_image.model.core import Checker, Container
from nwbzarr_image.model.record import ArrayRecord, StorageRecord

Node = GroupNode | ArrayNode


class EncodeContext:
    """Where every object of the file being encoded lives, and the dispatch to the codec of each type."""

    def __init__(self, nwbfile: Any, encode: Callable[[Any, EncodeContext], Node]) -> None:
        self.nwbfile = nwbfile
        self.paths = object_paths(nwbfile)
        self._encode = encode

    def encode(self, obj: Any) -> Node:
        """The node of ``obj`` (of any type), marked as existing when it was read from the store."""
        node = self._encode(obj, self)
        return keep(obj, node)

    def path_of(self, owner: Container, arg: str, target: Container) -> str:
        """The absolute path of ``target``, which ``owner.arg`` refers to."""
        try:
            return self.paths[id(target)]
        except KeyError:
            raise LayoutError(
                f"{owner.where}: '{arg}' points to {target.where}, which is not in this NWBFile; add it first "
                "(nwbfile.add_device / add_acquisition / add_stimulus / add_stimulus_template)."
            ) from None


def keep(obj: Any, node: Node) -> Node:
    """Mark the node of an object that already is in the store, so that appending skips it."""
    node.existing = getattr(obj, "stored", None) is not None
    if node.existing and isinstance(node, GroupNode):
        for child in node.children.values():
            if isinstance(child, ArrayNode):
                child.existing = True
    return node


class DecodeContext:
    """What a decoding pass knows: the objects decoded so far by path, links to resolve, checks to run."""

    def __init__(self, strict: bool, ancestry: Ancestry, decode: Callable[[Node, str, DecodeContext], Any], *,
                 zarr_format: int = 3, source: str = "") -> None:
        self.strict = strict
        self.ancestry = ancestry
        self.zarr_format = zarr_format
        self.source = source
        self.by_path: dict[str, Any] = {}
        self.pending_links: list[tuple[Container, str, str, str]] = []
        self.to_check: list[tuple[Container, str]] = []
        self._decode = decode

    def decode(self, node: Node, path: str) -> Any:
        """The object of ``node`` (of any type), with its storage record."""
        return self._decode(node, path, self)

    def checker(self, path: str) -> Checker:
        return Checker("read", self.strict, path)

    def problem(self, message: str, path: str) -> None:
        self.checker(path).problem(message)

    def number(self, attrs: dict[str, Any], key: str, default: float | None, path: str) -> float | None:
        """A float attribute; a value of another type is reported and the default used."""
        value = attrs.get(key, default)
        if value is None or (isinstance(value, (int, float)) and not isinstance(value, bool)):
            return None if value is None else float(value)
        self.problem(f"attribute '{key}' must be a number; got {value!r:.60}; {default} is used", path)
        return default

    def place(self, obj: Container, node: Node, path: str, *, register: bool = True) -> None:
        """Record where ``obj`` was read from (its declared ``stored`` record) and index it by path."""
        obj.stored = StorageRecord(path, self.zarr_format, _array_records(node), self.source)
        if register:
            self.by_path[path] = obj
        else:
            self.by_path.setdefault(path, obj)

    def keep_children(self, obj: Container, node: GroupNode, path: str, known: set[str]) -> None:
        """Children that ``obj``'s type does not model, kept as generic nodes."""
        obj.extra_children = {name: self.decode_generic(child, join(path, name))
                              for name, child in node.children.items() if name not in known}

    def decode_generic(self, node: Node, path: str) -> Any:
        from nwbzarr_image.layout.codecs.generic import decode_generic

        return decode_generic(node, path, self)

    def check_later(self, obj: Container, path: str) -> None:
        self.to_check.append((obj, path))

    def run_checks(self) -> None:
        for obj, path in self.to_check:
            checker = self.checker(path)
            with warnings.catch_warnings():
                warnings.simplefilter("always", InvalidFileWarning)
                obj._check_read(checker)  # type: ignore[attr-defined]
            obj._seal()
        self.to_check = []


def _array_records(node: Node) -> dict[str, ArrayRecord]:
    if isinstance(node, ArrayNode):
        record = _record(node)
        return {"": record} if record is not None else {}
    records = {}
    for name, child in node.children.items():
        if isinstance(child, ArrayNode):
            record = _record(child)
            if record is not None:
                records[name] = record
    return records


def _record(node: ArrayNode) -> ArrayRecord | None:
    describe = getattr(node.value, "record", None)
    return describe() if callable(describe) else None
