"""Converting stored values to Python values, lazily (the read path of the layout)."""

from __future__ import annotations

import json
import posixpath
from datetime import datetime
from typing import Any

import numpy as np

from nwbzarr_image.layout.nodes import ArrayNode, StoredArray
from nwbzarr_image.model.parse import Deferred


def deferred(node: ArrayNode, convert: Any = None) -> Deferred:
    stored: StoredArray = node.value

    def load() -> Any:
        value = stored.load()
        return convert(value) if convert is not None else value

    return Deferred(load, tuple(stored.shape), getattr(stored, "dtype", None))


def to_text(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8")
    if isinstance(value, np.ndarray):
        return to_text(value.reshape(-1)[0] if value.size else "")
    return str(value)


def to_texts(value: Any) -> list[str]:
    return [to_text(v) for v in np.asarray(value, dtype=object).ravel()]


def to_datetime(value: Any) -> datetime:
    return datetime.fromisoformat(to_text(value))


def to_number(value: Any) -> Any:
    item = np.asarray(value).reshape(-1)[0] if np.ndim(value) else np.asarray(value)[()]
    return item.item() if hasattr(item, "item") else item


def ref_path(ref: Any) -> str:
    """A reference as stored by hdmf-zarr: a plain path (0.14), or a dict / JSON dict text (<= 0.13)."""
    if isinstance(ref, bytes):
        ref = ref.decode("utf-8")
    if isinstance(ref, str) and ref.lstrip().startswith("{"):
        ref = json.loads(ref)
    if isinstance(ref, dict):
        ref = ref.get("path", "")
    return "/" + posixpath.normpath("/" + str(ref).strip()).strip("/")
