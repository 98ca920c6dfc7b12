"""Named collections of objects (``NWBFile.acquisition``, ...) and ProcessingModule (``core/nwb.base.yaml``)."""

from __future__ import annotations

from collections.abc import Callable, ItemsView, Iterable, Iterator, KeysView, MutableMapping, ValuesView
from typing import Any, TypeVar

from nwbzarr_image.errors import ArgumentTypeError, NameRequiredError, NodeNotFoundError, SchemaError
from nwbzarr_image.model.core import Container, field
from nwbzarr_image.model.parse import parse_str

T = TypeVar("T")


class Collection[T](MutableMapping[str, T]):
    """A dict of named objects; a missing name raises a NodeNotFoundError listing what exists."""

    def __init__(self, label: str, owner: Container | None = None) -> None:
        self._label = label
        self._owner = owner
        self._items: dict[str, T] = {}
        # set by the reader: looks a name up in the store when the file's consolidated metadata lacks it
        self.find_missing: Callable[[str], T | None] | None = None

    def __getitem__(self, name: str) -> T:
        if name not in self._items and self.find_missing is not None:
            found = self.find_missing(name)
            if found is not None:
                self._items[name] = found
        try:
            return self._items[name]
        except KeyError:
            raise NodeNotFoundError(f"{self._label}: no object named {name!r}; it holds {sorted(self._items)}."
                                    ) from None

    def __setitem__(self, name: str, value: T) -> None:
        self._items[name] = value

    def __delitem__(self, name: str) -> None:
        del self._items[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def add(self, obj: T) -> T:
        if not isinstance(obj, Container):
            raise ArgumentTypeError(f"{self._label}: can only hold NWB objects; got {type(obj).__name__}.")
        if obj.name in self._items and self._items[obj.name] is not obj:
            raise SchemaError(f"{self._label}: an object named {obj.name!r} already exists; got another "
                              f"{type(obj).__name__} with that name. Give it a unique name.")
        self._items[obj.name] = obj
        if self._owner is not None and obj.parent is None:
            obj.parent = self._owner
        return obj

    def add_many(self, objs: Any) -> Any:
        """Add one object, or each of a list, tuple or dict of objects (as pynwb's ``add_*``); returns ``objs``."""
        items = objs.values() if isinstance(objs, dict) else objs if isinstance(objs, (list, tuple)) else [objs]
        for obj in items:
            self.add(obj)
        return objs

    def lookup(self, getter: str, name: str | None) -> T:
        """``self[name]``; without a name, the only object (as pynwb's ``get_*`` methods)."""
        if name is not None:
            return self[name]
        if len(self._items) == 1:
            return next(iter(self._items.values()))
        held = f"holds {len(self._items)} objects {sorted(self._items)}" if self._items else "is empty"
        fix = f"Pass the name, e.g. {getter}({sorted(self._items)[0]!r})." if self._items else "Add an object first."
        raise NameRequiredError(f"{self._label}: {getter}() was called without a name and the collection {held}; "
                                f"expected exactly one object. {fix}")

    def __repr__(self) -> str:
        return f"{self._label}({sorted(self._items)})"


class ProcessingModule(Container):
    """A named group of processed data (``/processing/<name>``).

    Parameters
    ----------
    name : str
        Name of the module, e.g. 'ophys'.
    description : str
        Description of the processing.
    data_interfaces : list, tuple or dict of objects, optional
        Series, Images or other objects to add.

    Notes
    -----
    As in pynwb, the module is a mapping of its objects: ``module[name]``, ``len(module)``, ``keys()``,
    ``values()``, ``items()``, ``containers`` (the ``data_interfaces`` dict), ``add``, and ``get(name=None)``
    (without a name: the only object, else a :class:`~nwbzarr_image.NameRequiredError`).
    """

    neurodata_type = "ProcessingModule"
    description = field()

    def __init__(self, name: str, description: str, data_interfaces: Iterable[Any] | dict[str, Any] | None = None
                 ) -> None:
        self._init_container(name)
        self.description = parse_str(self.where, "description", description, allow_none=False)
        self.data_interfaces: Collection[Any] = Collection(f"{self.where} data_interfaces", self)
        if data_interfaces is not None:
            self.add(data_interfaces if isinstance(data_interfaces, (dict, list, tuple)) else list(data_interfaces))
        self._seal()

    @property
    def containers(self) -> Collection[Any]:
        """The objects of the module by name (``data_interfaces``)."""
        return self.data_interfaces

    def add(self, data_interfaces: Any) -> Any:
        """Add a series, Images or other object (or a list, tuple or dict of them); returns what was given."""
        return self.data_interfaces.add_many(data_interfaces)

    def get(self, name: str | None = None) -> Any:
        """The object called ``name``; without a name, the only object of the module."""
        return self.data_interfaces.lookup("get", name)

    def __getitem__(self, name: str) -> Any:
        return self.data_interfaces[name]

    def __len__(self) -> int:
        return len(self.data_interfaces)

    def keys(self) -> KeysView[str]:
        """The names of the module's objects."""
        return self.data_interfaces.keys()

    def values(self) -> ValuesView[Any]:
        """The module's objects."""
        return self.data_interfaces.values()

    def items(self) -> ItemsView[str, Any]:
        """``(name, object)`` pairs."""
        return self.data_interfaces.items()
