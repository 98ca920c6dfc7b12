"""Which NWB type a type extends: a built-in table for the core, and the schema cached in a file."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any

from nwbzarr_image.layout.nodes import ArrayNode, GroupNode
from nwbzarr_image.layout.values import to_text

# the core types this library knows, and the core types defined elsewhere that extend ImageSeries
CORE_PARENTS = {
    "TwoPhotonSeries": "ImageSeries", "OnePhotonSeries": "ImageSeries", "ImageMaskSeries": "ImageSeries",
    "OpticalSeries": "ImageSeries", "IndexSeries": "TimeSeries", "ImageSeries": "TimeSeries",
    "TimeSeries": "NWBDataInterface", "NWBDataInterface": "NWBContainer",
}
ROOT_TYPES = {"NWBContainer", "NWBData", "Container", "Data"}


def type_parents(spec_sources: Iterable[str]) -> dict[str, str]:
    """``neurodata_type_def -> neurodata_type_inc`` from the JSON text of cached spec sources."""
    parents: dict[str, str] = {}

    def visit(specs: list[dict[str, Any]]) -> None:
        for spec in specs:
            if not isinstance(spec, dict):
                continue
            kind, parent = spec.get("neurodata_type_def"), spec.get("neurodata_type_inc")
            if isinstance(kind, str) and isinstance(parent, str):
                parents[kind] = parent
            visit(spec.get("groups", []) or [])
            visit(spec.get("datasets", []) or [])

    for text in spec_sources:
        try:
            document = json.loads(text)
        except (TypeError, ValueError):
            continue
        if isinstance(document, dict):
            visit(document.get("groups", []) or [])
            visit(document.get("datasets", []) or [])
    return parents


class Ancestry:
    """The chain of types a type extends; the file's cached schema is read only if a type is unknown."""

    def __init__(self, load_sources: Callable[[], Iterable[str]] | None = None) -> None:
        self._load = load_sources
        self._parents: dict[str, str] | None = None

    def __call__(self, kind: str) -> list[str]:
        chain: list[str] = []
        current = kind
        while len(chain) < 32 and current not in ROOT_TYPES:
            parent = CORE_PARENTS.get(current) or self._file_parents().get(current)
            if parent is None or parent in chain:
                break
            chain.append(parent)
            current = parent
        return chain

    def _file_parents(self) -> dict[str, str]:
        if self._parents is None:
            self._parents = type_parents(self._load()) if self._load is not None else {}
        return self._parents


def cached_spec_texts(root: GroupNode) -> list[str]:
    """The JSON texts of the schema cached in the file (read on first use only)."""
    location = str(root.attrs.get(".specloc", "specifications")).strip("/")
    specs = root.children.get(location)
    texts = []
    for _, node in specs.walk() if isinstance(specs, GroupNode) else ():
        if isinstance(node, ArrayNode) and node.name != "namespace":
            try:
                texts.append(to_text(node.value.load()))
            except Exception:
                continue
    return texts
