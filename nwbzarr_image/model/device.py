"""Device: the instrument that captured data (``core/nwb.device.yaml``)."""

from __future__ import annotations

from nwbzarr_image.errors import NWBDeprecationWarning, warn
from nwbzarr_image.model.core import Container, field
from nwbzarr_image.model.parse import parse_str

_DEPRECATED = {
    "model_number": "DeviceModel.model_number",
    "manufacturer": "DeviceModel.manufacturer",
    "model_name": "DeviceModel.name",
}


class Device(Container):
    """A device used to capture images or video.

    Parameters
    ----------
    name : str
        Name of the device, unique in ``NWBFile.devices``.
    description : str, optional
        Description of the device.
    manufacturer, model_number, model_name : str, optional
        Deprecated by NWB 2.11 (use a DeviceModel); accepted with a DeprecationWarning.
    serial_number : str, optional
        Serial number of the device.
    """

    neurodata_type = "Device"
    description = field()
    manufacturer = field()
    model_number = field()
    model_name = field()
    serial_number = field()

    def __init__(
        self,
        name: str,
        description: str | None = None,
        manufacturer: str | None = None,
        model_number: str | None = None,
        model_name: str | None = None,
        serial_number: str | None = None,
    ) -> None:
        self._init_container(name)
        where = self.where
        self.description = parse_str(where, "description", description)
        self.manufacturer = parse_str(where, "manufacturer", manufacturer)
        self.model_number = parse_str(where, "model_number", model_number)
        self.model_name = parse_str(where, "model_name", model_name)
        self.serial_number = parse_str(where, "serial_number", serial_number)
        for arg in ("model_number", "manufacturer", "model_name"):
            if getattr(self, arg) is not None:
                warn(
                    NWBDeprecationWarning(
                        f"The '{arg}' field is deprecated. Instead, use {_DEPRECATED[arg]} and link to that "
                        "DeviceModel from this Device."
                    )
                )
        self._seal()
