"""Base pieces of the model: containers, write-once fields, and rule reporting."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any, ClassVar, Literal, Self

from nwbzarr_image.errors import InvalidFileWarning, SchemaError, warn
from nwbzarr_image.model.parse import Deferred, parse_name


class field:  # noqa: N801 - used like ``property``
    """A write-once data field. A :class:`Deferred` value is loaded from the store on first read."""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name
        self.slot = "_field_" + name

    def __get__(self, obj: Any, owner: type | None = None) -> Any:
        if obj is None:
            return self
        value = obj.__dict__.get(self.slot)
        if isinstance(value, Deferred):
            value = value.load()
            obj.__dict__[self.slot] = value
        return value

    def __set__(self, obj: Any, value: Any) -> None:
        if value is None:
            return
        if obj.__dict__.get(self.slot) is not None and obj.__dict__.get("_sealed", False):
            raise AttributeError(f"can't set attribute '{self.name}' -- already set")
        obj.__dict__[self.slot] = value


def raw(obj: Any, name: str) -> Any:
    """The stored form of a field (a :class:`Deferred` stays unloaded)."""
    return obj.__dict__.get("_field_" + name)


@dataclass
class Checker:
    """Where a rule is broken: raise for new objects; warn (or stay silent) for objects read from a file.

    ``strict=True`` makes reading raise as well.
    """

    mode: Literal["new", "read"] = "new"
    strict: bool = False
    path: str = ""

    @property
    def new(self) -> bool:
        return self.mode == "new"

    def problem(self, message: str, *, on_read: Literal["warn", "silent", "raise"] = "warn") -> None:
        if self.new or self.strict or on_read == "raise":
            raise SchemaError(message + (f" (at {self.path})" if self.path and not self.new else ""))
        if on_read == "warn":
            location = f" (at {self.path})" if self.path else ""
            warn(InvalidFileWarning(message + location))


class Container:
    """A named NWB object: a Zarr group or dataset with ``neurodata_type``, ``namespace`` and ``object_id``."""

    neurodata_type: ClassVar[str] = "NWBContainer"
    namespace: ClassVar[str] = "core"
    name: str
    object_id: str
    parent: Container | None

    def _init_container(self, name: Any) -> None:
        self.name = parse_name(f"{type(self).__name__} {name!r}", name)
        self.object_id = str(uuid.uuid4())
        self.parent = None
        self.extra_attrs: dict[str, Any] = {}

    @property
    def where(self) -> str:
        return f"{type(self).__name__} '{self.name}'"

    def _seal(self) -> None:
        self.__dict__["_sealed"] = True

    @classmethod
    def _blank(cls, name: str, object_id: str | None) -> Self:
        """An empty instance for the read path; the reader fills the fields and then checks them."""
        obj = cls.__new__(cls)
        obj.name = name
        obj.object_id = object_id or str(uuid.uuid4())
        obj.parent = None
        obj.extra_attrs = {}
        return obj

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"
