"""Base pieces of the model: containers, write-once fields, and rule reporting."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any, ClassVar, Literal, Self

from nwbzarr_image.errors import InvalidFileWarning, SchemaError, warn
from nwbzarr_image.model.parse import Deferred, parse_name
from nwbzarr_image.model.record import StorageRecord


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


def set_raw(obj: Any, name: str, value: Any) -> None:
    """Set a field as the read path does: a :class:`Deferred` or a decoded value, before the object is sealed."""
    obj.__dict__["_field_" + name] = value


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
    extra_attrs: dict[str, Any]
    #: Where the object was read from (set by the reader); None for objects made in this process.
    stored: StorageRecord | None
    #: Members of a read object that this library does not model, kept and written back as they were.
    extra_children: dict[str, Any]
    #: Links of a read object that this library does not model (name -> target path), kept and written back.
    extra_links: dict[str, str]

    def _init_container(self, name: Any) -> None:
        self.name = parse_name(f"{type(self).__name__} {name!r}", name)
        self.object_id = str(uuid.uuid4())
        self._init_state()

    def _init_state(self) -> None:
        self.parent = None
        self.extra_attrs = {}
        self.stored = None
        self.extra_children = {}
        self.extra_links = {}

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
        obj._init_state()
        return obj

    def file_source(self) -> Any:
        """The :class:`~nwbzarr_image.model.ports.FileSource` of the file this object was read from, or None."""
        owner: Any = self
        while owner is not None:
            source = getattr(owner, "source", None)
            if source is not None:
                return source
            owner = owner.parent
        return None

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"
