"""Nodes of types this library does not model, kept so that reading and re-writing never loses them."""

from __future__ import annotations

from typing import Any

from nwbzarr_image.model.core import Container


class GenericDataset(Container):
    """An array of a type (or role) not modelled here: its attributes and lazy values are kept."""

    def __init__(self, name: str, data: Any, attrs: dict[str, Any] | None = None) -> None:
        self._init_container(name)
        self.data = data
        self.attrs: dict[str, Any] = dict(attrs or {})

    @property
    def neurodata_type_name(self) -> str | None:
        return self.attrs.get("neurodata_type")


class GenericGroup(Container):
    """A group of a type not modelled here (e.g. a TwoPhotonSeries' extras, a Subject, a DynamicTable).

    ``attrs`` are the group's attributes (neurodata_type, namespace, ...), ``links`` maps link names
    to absolute paths, ``children`` holds sub-groups and datasets.
    """

    def __init__(self, name: str, attrs: dict[str, Any] | None = None) -> None:
        self._init_container(name)
        self.attrs: dict[str, Any] = dict(attrs or {})
        self.links: dict[str, str] = {}
        self.children: dict[str, GenericGroup | GenericDataset | Container] = {}

    @property
    def neurodata_type_name(self) -> str | None:
        return self.attrs.get("neurodata_type")

    def __getitem__(self, name: str) -> Any:
        return self.children[name]

    def __repr__(self) -> str:
        kind = self.attrs.get("neurodata_type", "group")
        return f"<GenericGroup {self.name!r} ({kind}), children {sorted(self.children)}>"
