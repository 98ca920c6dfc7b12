"""NWBFile and ProcessingModule: the root of a file and its named collections."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

from nwbzarr_image.errors import ArgumentTypeError, NWBRuleWarning, warn
from nwbzarr_image.model.core import Container, field, raw
from nwbzarr_image.model.device import Device
from nwbzarr_image.model.general import GENERAL_FIELDS, parse_general
from nwbzarr_image.model.module import Collection, ProcessingModule
from nwbzarr_image.model.parse import Deferred, parse_str
from nwbzarr_image.model.ports import FileSource
from nwbzarr_image.model.subject import Subject

__all__ = ["GENERAL_FIELDS", "Collection", "NWBFile", "ProcessingModule"]


def _parse_datetime(where: str, arg: str, value: Any) -> datetime:
    if not isinstance(value, datetime):
        raise ArgumentTypeError(f"{where}: '{arg}' must be a datetime; got {type(value).__name__} {value!r:.40}.")
    if value.tzinfo is None:
        warn(NWBRuleWarning(f"{where}: '{arg}' has no time zone; the local time zone is assumed. "
                            "Pass a datetime with tzinfo."))
        return value.astimezone()
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
    experimenter : str or list of str, optional
        Who performed the experiment (a str is kept as a 1-tuple).
    experiment_description, session_id, institution : str, optional
        General description of the experiment; lab-specific session ID; institution(s).
    keywords : list or array of str, optional
        Terms to search over.
    notes : str, optional
        Notes about the experiment.
    external_resources : None
        pynwb's HERD table; not supported here, must be None (it holds its place in the argument order).
    pharmacology, protocol : str, optional
        Drugs used; experimental protocol (e.g. IACUC).
    related_publications : str or list of str, optional
        PMID, DOI, URL, ... (a str is kept as a 1-tuple).
    slices : str, optional
        Description of slices.
    source_script, source_script_file_name : str, optional
        The script that created the file and its file name (which needs ``source_script``).
    was_generated_by : array of str, optional
        Software that generated the file, one ``[name, version]`` row each.
    data_collection, surgery, virus, stimulus_notes, lab : str, optional
        Notes about data collection; surgery; viruses used; stimuli; the lab.
    acquisition, analysis, stimulus, stimulus_template, processing, devices : iterable, optional
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
    experimenter = field()
    experiment_description = field()
    session_id = field()
    institution = field()
    keywords = field()
    notes = field()
    pharmacology = field()
    protocol = field()
    related_publications = field()
    slices = field()
    source_script = field()
    source_script_file_name = field()
    was_generated_by = field()
    data_collection = field()
    surgery = field()
    virus = field()
    stimulus_notes = field()
    lab = field()
    subject = field()

    def __init__(
        self,
        session_description: str,
        identifier: str,
        session_start_time: datetime,
        file_create_date: datetime | list[datetime] | None = None,
        timestamps_reference_time: datetime | None = None,
        experimenter: str | list[str] | tuple[str, ...] | None = None,
        experiment_description: str | None = None,
        session_id: str | None = None,
        institution: str | None = None,
        keywords: Any = None,
        notes: str | None = None,
        external_resources: None = None,
        pharmacology: str | None = None,
        protocol: str | None = None,
        related_publications: str | list[str] | tuple[str, ...] | None = None,
        slices: str | None = None,
        source_script: str | None = None,
        source_script_file_name: str | None = None,
        was_generated_by: Any = None,
        data_collection: str | None = None,
        surgery: str | None = None,
        virus: str | None = None,
        stimulus_notes: str | None = None,
        lab: str | None = None,
        acquisition: Iterable[Any] | None = None,
        analysis: Iterable[Any] | None = None,
        stimulus: Iterable[Any] | None = None,
        stimulus_template: Iterable[Any] | None = None,
        *,
        processing: Iterable[ProcessingModule] | None = None,
        devices: Iterable[Device] | None = None,
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
        if external_resources is not None:
            raise ArgumentTypeError(f"NWBFile: 'external_resources' (a HERD table) is not supported; expected None, "
                                    f"got {type(external_resources).__name__}. Leave it out.")
        general = parse_general(w, {
            "experimenter": experimenter, "experiment_description": experiment_description,
            "session_id": session_id, "institution": institution, "keywords": keywords, "notes": notes,
            "pharmacology": pharmacology, "protocol": protocol, "related_publications": related_publications,
            "slices": slices, "source_script": source_script, "source_script_file_name": source_script_file_name,
            "was_generated_by": was_generated_by, "data_collection": data_collection, "surgery": surgery,
            "virus": virus, "stimulus_notes": stimulus_notes, "lab": lab})
        for key, value in general.items():
            setattr(self, key, value)
        for obj in acquisition or ():
            self.add_acquisition(obj)
        for obj in analysis or ():
            self.add_analysis(obj)
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
        if subject is not None and subject.parent is None:
            subject.parent = self
        self._seal()

    def _init_state(self) -> None:
        super()._init_state()
        #: The store this file was read from (set by ``nzi.read``/``nzi.open``); None for a new file.
        self.source: FileSource | None = None
        #: The ``nwb_version`` of the file it was read from; None for a new file.
        self.nwb_version: str | None = None

    @property
    def zarr_format(self) -> int | None:
        """The Zarr format of the file it was read from (2 for hdmf-zarr <= 0.13 files), or None."""
        return self.stored.zarr_format if self.stored is not None else None

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

    def get_acquisition(self, name: str | None = None) -> Any:
        """The object of ``/acquisition`` called ``name``; without a name, the only one."""
        return self.acquisition.lookup("get_acquisition", name)

    def get_analysis(self, name: str | None = None) -> Any:
        """The object of ``/analysis`` called ``name``; without a name, the only one."""
        return self.analysis.lookup("get_analysis", name)

    def get_stimulus(self, name: str | None = None) -> Any:
        """The presented stimulus called ``name``; without a name, the only one."""
        return self.stimulus.lookup("get_stimulus", name)

    def get_stimulus_template(self, name: str | None = None) -> Any:
        """The stimulus template called ``name``; without a name, the only one."""
        return self.stimulus_template.lookup("get_stimulus_template", name)

    def get_device(self, name: str | None = None) -> Device:
        """The device called ``name``; without a name, the only one."""
        return self.devices.lookup("get_device", name)

    def get_processing_module(self, name: str | None = None) -> ProcessingModule:
        """The processing module called ``name``; without a name, the only one."""
        return self.processing.lookup("get_processing_module", name)

    @property
    def objects(self) -> dict[str, Container]:
        """Every object of the file by ``object_id``, as pynwb's ``NWBFile.objects``: the file itself, the
        subject, devices, series, Images with their images and ``order_of_images``, processing modules and
        their contents, and the typed objects of other kinds kept from a read file. Computed on each access."""
        return {obj.object_id: obj for obj in self.walk_objects(load=True)}

    def walk_objects(self, *, load: bool = False) -> Iterator[Container]:
        """Every object of the file, parents before children.

        With ``load=False`` values not read yet stay in the store (an unread ``order_of_images`` is skipped),
        so walking a file just opened costs no request.
        """
        yield from _walk(self, load)

    def __repr__(self) -> str:
        return (f"<NWBFile {self.identifier!r}: acquisition {sorted(self.acquisition)}, stimulus "
                f"{sorted(self.stimulus)}, stimulus_template {sorted(self.stimulus_template)}, processing "
                f"{sorted(self.processing)}>")


def _children(obj: Any, load: bool) -> list[Any]:
    """The objects directly held by ``obj`` (typed or not)."""
    kids: list[Any] = []
    if isinstance(obj, NWBFile):
        if obj.subject is not None:
            kids.append(obj.subject)
        for attr in ("devices", "acquisition", "analysis", "stimulus", "stimulus_template", "processing"):
            kids.extend(getattr(obj, attr).values())
        kids.extend(obj.extra_nodes.values())
    elif isinstance(obj, ProcessingModule):
        kids.extend(obj.data_interfaces.values())
    images = obj.__dict__.get("images")
    if isinstance(images, dict) and hasattr(obj, "add_image"):
        kids.extend(images.values())
        order = raw(obj, "_order")
        if order is not None and (load or not isinstance(order, Deferred)):
            kids.append(obj.order_of_images)
    children = obj.__dict__.get("children")
    if isinstance(children, dict):
        kids.extend(children.values())
    kids.extend(obj.__dict__.get("extra_children", {}).values())
    return kids


def _walk(root: Container, load: bool) -> Iterator[Container]:
    stack: list[Any] = [root]
    seen: set[int] = set()
    while stack:
        obj = stack.pop(0)
        if id(obj) in seen or not isinstance(obj, Container):
            continue
        seen.add(id(obj))
        attrs = obj.__dict__.get("attrs")
        if not isinstance(attrs, dict) or "object_id" in attrs:  # untyped kept groups are walked, not listed
            yield obj
        stack[:0] = _children(obj, load)
