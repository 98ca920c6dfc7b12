"""NWBFile and ProcessingModule: the root of a file and its named collections."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, MutableMapping
from datetime import datetime
from typing import Any, TypeVar

from nwbzarr_image.errors import ArgumentTypeError, NodeNotFoundError, NWBRuleWarning, SchemaError, warn
from nwbzarr_image.model.core import Container, field
from nwbzarr_image.model.device import Device
from nwbzarr_image.model.parse import parse_str
from nwbzarr_image.model.subject import Subject

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

    def add(self, obj: Any) -> Any:
        if not isinstance(obj, Container):
            raise ArgumentTypeError(f"{self._label}: can only hold NWB objects; got {type(obj).__name__}.")
        if obj.name in self._items and self._items[obj.name] is not obj:
            raise SchemaError(f"{self._label}: an object named {obj.name!r} already exists; got another "
                              f"{type(obj).__name__} with that name. Give it a unique name.")
        self._items[obj.name] = obj  # type: ignore[assignment]
        if self._owner is not None and obj.parent is None:
            obj.parent = self._owner
        return obj

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
    data_interfaces : iterable of objects, optional
        Series, Images or other objects to add.
    """

    neurodata_type = "ProcessingModule"
    description = field()

    def __init__(self, name: str, description: str, data_interfaces: Iterable[Any] | None = None) -> None:
        self._init_container(name)
        self.description = parse_str(self.where, "description", description, allow_none=False)
        self.data_interfaces: Collection[Any] = Collection(f"{self.where} data_interfaces", self)
        for obj in data_interfaces or ():
            self.add(obj)
        self._seal()

    def add(self, obj: Any) -> Any:
        """Add a series, Images or other object to the module."""
        return self.data_interfaces.add(obj)

    def __getitem__(self, name: str) -> Any:
        return self.data_interfaces[name]

    def get(self, name: str) -> Any:
        return self.data_interfaces[name]


def _parse_datetime(where: str, arg: str, value: Any) -> datetime:
    if not isinstance(value, datetime):
        raise ArgumentTypeError(f"{where}: '{arg}' must be a datetime; got {type(value).__name__} {value!r:.40}.")
    if value.tzinfo is None:
        warn(NWBRuleWarning(f"{where}: '{arg}' has no time zone; the local time zone is assumed. "
                            "Pass a datetime with tzinfo."))
        value = value.astimezone()
    return value


class NWBFile(Container):
    """The root of an NWB file.

    Parameters
    ----------
    session_description : str
        Description of the recording session.
    identifier : str
        Unique identifier of the file.
    session_start_time : datetime
        Start of the session (with a time zone; a naive datetime gets the local one, with a warning).
    file_create_date : datetime or list of datetime, optional
        When the file was created and modified; default now.
    timestamps_reference_time : datetime, optional
        Time zero of all timestamps; default ``session_start_time``.
    acquisition, stimulus, stimulus_template, devices, processing : iterable, optional
        Objects to add to each collection.
    subject : Subject, optional
        The subject of the session (``/general/subject``).
    """

    neurodata_type = "NWBFile"
    session_description = field()
    identifier = field()
    session_start_time = field()
    timestamps_reference_time = field()
    file_create_date = field()
    subject = field()

    def __init__(
        self,
        session_description: str,
        identifier: str,
        session_start_time: datetime,
        file_create_date: datetime | list[datetime] | None = None,
        timestamps_reference_time: datetime | None = None,
        *,
        acquisition: Iterable[Any] | None = None,
        stimulus: Iterable[Any] | None = None,
        stimulus_template: Iterable[Any] | None = None,
        devices: Iterable[Device] | None = None,
        processing: Iterable[ProcessingModule] | None = None,
        subject: Subject | None = None,
    ) -> None:
        self._init_container("root")
        self._init_collections()
        w = "NWBFile"
        self.session_description = parse_str(w, "session_description", session_description, allow_none=False)
        self.identifier = parse_str(w, "identifier", identifier, allow_none=False)
        self.session_start_time = _parse_datetime(w, "session_start_time", session_start_time)
        ref = timestamps_reference_time if timestamps_reference_time is not None else self.session_start_time
        self.timestamps_reference_time = _parse_datetime(w, "timestamps_reference_time", ref)
        if file_create_date is None:
            file_create_date = [datetime.now().astimezone()]
        elif isinstance(file_create_date, datetime):
            file_create_date = [file_create_date]
        self.file_create_date = [_parse_datetime(w, "file_create_date", d) for d in file_create_date]
        for obj in acquisition or ():
            self.add_acquisition(obj)
        for obj in stimulus or ():
            self.add_stimulus(obj)
        for obj in stimulus_template or ():
            self.add_stimulus_template(obj)
        for device in devices or ():
            self.add_device(device)
        for module in processing or ():
            self.add_processing_module(module)
        if subject is not None and not isinstance(subject, Subject):
            raise ArgumentTypeError(f"NWBFile: 'subject' must be a Subject; got {type(subject).__name__}.")
        self.subject = subject
        self._seal()

    def _init_collections(self) -> None:
        self.acquisition: Collection[Any] = Collection("NWBFile.acquisition", self)
        self.stimulus: Collection[Any] = Collection("NWBFile.stimulus", self)
        self.stimulus_template: Collection[Any] = Collection("NWBFile.stimulus_template", self)
        self.devices: Collection[Device] = Collection("NWBFile.devices", self)
        self.processing: Collection[ProcessingModule] = Collection("NWBFile.processing", self)
        self.analysis: Collection[Any] = Collection("NWBFile.analysis", self)
        # groups and datasets of the file that this library does not model, by absolute path
        self.extra_nodes: dict[str, Any] = {}

    def add_acquisition(self, obj: Any) -> Any:
        """Add a series or other object to ``/acquisition``."""
        return self.acquisition.add(obj)

    def add_stimulus(self, obj: Any) -> Any:
        """Add a presented stimulus to ``/stimulus/presentation``."""
        return self.stimulus.add(obj)

    def add_stimulus_template(self, obj: Any) -> Any:
        """Add a stimulus template (an ImageSeries or Images) to ``/stimulus/templates``."""
        return self.stimulus_template.add(obj)

    def add_analysis(self, obj: Any) -> Any:
        """Add an object to ``/analysis``."""
        return self.analysis.add(obj)

    def add_device(self, device: Device) -> Device:
        """Add a Device to ``/general/devices``."""
        if not isinstance(device, Device):
            raise ArgumentTypeError(f"NWBFile.add_device: expected a Device; got {type(device).__name__}.")
        return self.devices.add(device)

    def create_device(self, name: str, description: str | None = None, manufacturer: str | None = None,
                      model_number: str | None = None, model_name: str | None = None,
                      serial_number: str | None = None) -> Device:
        """Create a Device and add it to ``/general/devices``."""
        return self.add_device(Device(name, description, manufacturer, model_number, model_name, serial_number))

    def add_processing_module(self, module: ProcessingModule) -> ProcessingModule:
        """Add a ProcessingModule to ``/processing``."""
        if not isinstance(module, ProcessingModule):
            raise ArgumentTypeError(f"NWBFile.add_processing_module: expected a ProcessingModule; got "
                                    f"{type(module).__name__}.")
        return self.processing.add(module)

    def create_processing_module(self, name: str, description: str) -> ProcessingModule:
        """Create a ProcessingModule and add it to ``/processing``."""
        return self.add_processing_module(ProcessingModule(name, description))

    def get_acquisition(self, name: str) -> Any:
        return self.acquisition[name]

    def get_stimulus(self, name: str) -> Any:
        return self.stimulus[name]

    def get_stimulus_template(self, name: str) -> Any:
        return self.stimulus_template[name]

    def get_device(self, name: str) -> Device:
        return self.devices[name]

    def get_processing_module(self, name: str) -> ProcessingModule:
        return self.processing[name]

    def objects(self) -> Iterator[Container]:
        """Every modelled object of the file (devices, series, images, modules)."""
        for coll in (self.devices, self.acquisition, self.stimulus, self.stimulus_template, self.analysis):
            yield from coll.values()
        for module in self.processing.values():
            yield module
            yield from module.data_interfaces.values()

    def __repr__(self) -> str:
        return (f"<NWBFile {self.identifier!r}: acquisition {sorted(self.acquisition)}, stimulus "
                f"{sorted(self.stimulus)}, stimulus_template {sorted(self.stimulus_template)}, processing "
                f"{sorted(self.processing)}>")
