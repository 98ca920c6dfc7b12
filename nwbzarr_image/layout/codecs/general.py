"""The general metadata of an NWBFile under ``/general`` (experimenter, lab, keywords, ...), stored where and how
pynwb 4.2 + hdmf-zarr 0.14 store them: one text dataset each, 0-d for single texts, 1-D for lists,
``was_generated_by`` (n, 2); ``stimulus_notes`` is ``/general/stimulus``; ``source_script_file_name`` is the
``file_name`` attribute of ``/general/source_script``."""

from __future__ import annotations

from typing import Any

import numpy as np

from nwbzarr_image.layout.codecs.common import scalar
from nwbzarr_image.layout.nodes import ArrayNode, GroupNode
from nwbzarr_image.layout.values import deferred, to_text, to_texts
from nwbzarr_image.model import NWBFile
from nwbzarr_image.model.core import set_raw
from nwbzarr_image.model.dataio import unwrap
from nwbzarr_image.model.general import GENERAL_FIELDS

# argument -> dataset under /general (source_script_file_name is an attribute, see above)
DATASETS = {name: ("stimulus" if name == "stimulus_notes" else name) for name in GENERAL_FIELDS
            if name != "source_script_file_name"}
# 1-D and 2-D text datasets and their dimension names (hdmf-zarr's _ARRAY_DIMENSIONS)
DIMS = {"experimenter": ["num_experimenters"], "keywords": ["num_keywords"],
        "related_publications": ["num_publications"], "was_generated_by": ["num_sources", "name, version"]}


def encode_general(f: NWBFile, general: GroupNode) -> None:
    """Add the general metadata datasets of ``f`` to its ``/general`` node."""
    for arg, name in DATASETS.items():
        value = getattr(f, arg)
        if value is None:
            continue
        if arg not in DIMS:
            attrs = {"file_name": f.source_script_file_name} if arg == "source_script" and \
                f.source_script_file_name is not None else {}
            general.add(scalar(name, str(value), "str", attrs))
            continue
        texts = np.asarray(unwrap(value), dtype=object)
        if texts.ndim == 0:
            texts = texts.reshape(1)
        values = np.vectorize(str, otypes=[object])(texts) if texts.size else texts
        general.add(ArrayNode(name, values.astype(str), "str", {"_ARRAY_DIMENSIONS": DIMS[arg][:texts.ndim]}))


def _texts_tuple(value: Any) -> tuple[str, ...]:
    return tuple(to_texts(value))


def _text_array(value: Any) -> np.ndarray:
    texts: np.ndarray = np.vectorize(to_text, otypes=[object])(np.asarray(value, dtype=object))
    return texts


def decode_general(f: NWBFile, general: GroupNode | None) -> set[str]:
    """Set the general metadata of ``f`` from ``/general``; returns the names of the datasets it used."""
    used: set[str] = set()
    if general is None:
        return used
    for arg, name in DATASETS.items():
        node = general.children.get(name)
        if not isinstance(node, ArrayNode):
            continue
        used.add(name)
        if arg in ("experimenter", "related_publications"):
            convert: Any = _texts_tuple
        elif arg in DIMS:
            convert = _text_array
        else:
            convert = to_text
        set_raw(f, arg, deferred(node, convert))
        if arg == "source_script" and node.attrs.get("file_name") is not None:
            set_raw(f, "source_script_file_name", str(node.attrs["file_name"]))
    return used
