"""Contrast: which stored values map to black and white when a frame becomes an 8-bit image."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from nwbzarr_image.errors import ArgumentTypeError, SchemaError

AUTO_LOW, AUTO_HIGH = 1.0, 99.5
CONTRAST_FORMS = "'auto' (percentiles 1 and 99.5), 'auto:P1,P2' (other percentiles), 'none', or 'LOW,HIGH'"


@dataclass(frozen=True)
class Contrast:
    """How values map to 0..255.

    Attributes
    ----------
    mode : {'auto', 'none', 'fixed'}
        ``auto``: ``low``/``high`` are percentiles of the image's values; ``none``: the natural range of the
        stored dtype (uint8 as is, other integers their full range, floats 0..1, bools 0..1); ``fixed``:
        ``low``/``high`` are values in stored units.
    low, high : float
        Percentiles (auto) or values (fixed); unused for ``none``.
    """

    mode: Literal["auto", "none", "fixed"] = "auto"
    low: float = AUTO_LOW
    high: float = AUTO_HIGH

    def __str__(self) -> str:
        if self.mode == "none":
            return "none"
        pair = f"{self.low:g},{self.high:g}"
        return pair if self.mode == "fixed" else ("auto" if (self.low, self.high) == (AUTO_LOW, AUTO_HIGH)
                                                  else f"auto:{pair}")


def parse_contrast(text: str | Contrast | None) -> Contrast:
    """``'auto'``, ``'auto:P1,P2'``, ``'none'`` or ``'LOW,HIGH'`` (None is ``'auto'``) as a :class:`Contrast`."""
    if isinstance(text, Contrast):
        return text
    if text is None or text.strip() == "auto":
        return Contrast()
    text = text.strip()
    if text == "none":
        return Contrast("none")
    mode: Literal["auto", "fixed"] = "auto" if text.startswith("auto:") else "fixed"
    parts = text.removeprefix("auto:").split(",")
    try:
        low, high = (float(p) for p in parts)
    except ValueError:
        low = high = float("nan")
    ok = np.isfinite([low, high]).all() and low < high and (mode == "fixed" or 0 <= low < high <= 100)
    if not ok:
        raise ArgumentTypeError(f"contrast: cannot read {text!r}; expected {CONTRAST_FORMS}, with LOW < HIGH "
                                "(percentiles within 0..100), e.g. 100,4000 or auto:2,98.")
    return Contrast(mode, low, high)


def natural_range(dtype: np.dtype) -> tuple[float, float]:
    """The values shown as black and white with contrast ``none``."""
    dtype = np.dtype(dtype)
    if dtype == np.bool_:
        return 0.0, 1.0
    if np.issubdtype(dtype, np.integer):
        info = np.iinfo(dtype)
        return float(info.min), float(info.max)
    if np.issubdtype(dtype, np.floating):
        return 0.0, 1.0
    raise SchemaError(f"preview: pixel values must be numbers; expected an integer, float or bool dtype, got "
                      f"{dtype}. Only numeric image data can be shown.")


def limits(values: np.ndarray, contrast: Contrast, dtype: np.dtype) -> tuple[float, float]:
    """The (black, white) values for ``values`` (the color channels of the image or images shown).

    ``dtype`` is the stored dtype (for a projection, the dtype of the frames it was computed from).
    """
    if contrast.mode == "fixed":
        return contrast.low, contrast.high
    if contrast.mode == "none" or values.size == 0:
        return natural_range(dtype)
    values = values.astype(np.uint8) if values.dtype == np.bool_ else values
    finite = values[np.isfinite(values)] if np.issubdtype(values.dtype, np.floating) else values
    if finite.size == 0:
        return natural_range(dtype)
    low, high = np.percentile(finite, [contrast.low, contrast.high])
    if not high > low:  # a flat image: fall back to the dtype's range, so it shows at its true brightness
        return natural_range(dtype)
    return float(low), float(high)


def scale(values: np.ndarray, low: float, high: float) -> np.ndarray:
    """``round((values - low) / (high - low) * 255)`` clipped to 0..255, as uint8 (NaN is 0)."""
    out = (np.asarray(values, dtype=np.float64) - low) * (255.0 / (high - low))
    return np.clip(np.rint(np.nan_to_num(out, nan=0.0)), 0, 255).astype(np.uint8)


def to_uint8(image: np.ndarray, contrast: Contrast | str | None, *, color: str, dtype: np.dtype | None = None,
             pool: np.ndarray | None = None) -> tuple[np.ndarray, tuple[float, float]]:
    """Map an image to uint8 with ``contrast``; returns the pixels and the (black, white) values used.

    Parameters
    ----------
    image : numpy.ndarray
        (rows, columns) for ``color='gray'``, (rows, columns, 3) for ``'rgb'``, (rows, columns, 4) for ``'rgba'``.
    contrast : Contrast or str or None
        See :func:`parse_contrast`.
    color : {'gray', 'rgb', 'rgba'}
        Color channels are scaled together (one black and white for all, keeping the color balance); the
        alpha channel of RGBA is mapped with the natural range of ``dtype``, never stretched.
    dtype : numpy dtype, optional
        The stored dtype; default ``image.dtype``.
    pool : numpy.ndarray, optional
        Values to take percentiles of (e.g. all frames of a contact sheet); default the image's color channels.
    """
    contrast = parse_contrast(contrast)
    dtype = np.dtype(dtype if dtype is not None else image.dtype)
    colors = image[..., :3] if color == "rgba" else image
    low, high = limits(colors if pool is None else pool, contrast, dtype)
    if color != "rgba":
        return scale(image, low, high), (low, high)
    out = np.empty(image.shape, np.uint8)
    out[..., :3] = scale(colors, low, high)
    out[..., 3] = scale(image[..., 3], *natural_range(dtype))
    return out, (low, high)
