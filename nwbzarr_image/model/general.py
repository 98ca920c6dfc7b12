"""The general metadata of an NWBFile (``/general``): pynwb 4.2's arguments, their kinds and checks."""

from __future__ import annotations

from typing import Any, Literal

import numpy as np

from nwbzarr_image.errors import ArgumentTypeError, SchemaError
from nwbzarr_image.model.parse import Deferred, parse_str

Kind = Literal["text", "texts", "array"]

# pynwb 4.2's NWBFile arguments of the general metadata, in its order (external_resources, which sits between
# notes and pharmacology, is not one: it is a HERD table), with how each is given:
#   text  - a str
#   texts - a str or a list/tuple of str (a str is kept as a 1-tuple, as pynwb does)
#   array - array data of text (list, tuple or numpy array; was_generated_by is (n, 2): name, version)
GENERAL_FIELDS: dict[str, Kind] = {
    "experimenter": "texts",
    "experiment_description": "text",
    "session_id": "text",
    "institution": "text",
    "keywords": "array",
    "notes": "text",
    "pharmacology": "text",
    "protocol": "text",
    "related_publications": "texts",
    "slices": "text",
    "source_script": "text",
    "source_script_file_name": "text",
    "was_generated_by": "array",
    "data_collection": "text",
    "surgery": "text",
    "virus": "text",
    "stimulus_notes": "text",
    "lab": "text",
}


def parse_general(where: str, values: dict[str, Any]) -> dict[str, Any]:
    """Check the general metadata arguments (None for those not given); returns the values to keep."""
    out: dict[str, Any] = {}
    for arg, kind in GENERAL_FIELDS.items():
        value = values.get(arg)
        if value is None:
            out[arg] = None
        elif kind == "text":
            out[arg] = parse_str(where, arg, value)
        elif kind == "texts":
            out[arg] = _texts(where, arg, value)
        else:
            out[arg] = _text_array(where, arg, value)
    if out["source_script"] is None and out["source_script_file_name"] is not None:
        raise SchemaError(f"{where}: 'source_script' cannot be None when 'source_script_file_name' is set; got "
                          f"source_script_file_name={out['source_script_file_name']!r} alone. Pass the script "
                          "text (or a description of it) as source_script.")
    return out


def _texts(where: str, arg: str, value: Any) -> tuple[str, ...] | list[str]:
    if isinstance(value, (str, np.str_)):
        return (str(value),)
    if not isinstance(value, (list, tuple)):
        raise ArgumentTypeError(f"{where}: '{arg}' must be a str or a list or tuple of str; got "
                                f"{type(value).__name__} {value!r:.60}. Pass e.g. {arg}=['...'].")
    for item in value:
        parse_str(where, f"{arg}[...]", item, allow_none=False)
    return value


def _text_array(where: str, arg: str, value: Any) -> Any:
    if isinstance(value, Deferred):
        return value
    if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple, np.ndarray)):
        raise ArgumentTypeError(f"{where}: '{arg}' must be array data of text (a list, tuple or numpy array); got "
                                f"{type(value).__name__} {value!r:.60}. Pass e.g. {arg}=['...'].")
    for item in np.asarray(value, dtype=object).ravel().tolist():
        parse_str(where, f"{arg}[...]", item, allow_none=False)
    return value
