"""A small PNG encoder (8-bit gray, RGB and RGBA) on zlib, so previews need no imaging library."""

from __future__ import annotations

import struct
import zlib

import numpy as np

from nwbzarr_image.errors import ArgumentTypeError

SIGNATURE = b"\x89PNG\r\n\x1a\n"
COLOR_TYPES = {1: 0, 3: 2, 4: 6}  # channels -> PNG color type (gray, truecolor, truecolor with alpha)
FILTER_UP = 2


def _chunk(tag: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + tag + payload + struct.pack(">I", zlib.crc32(tag + payload))


def encode_png(pixels: np.ndarray, *, level: int = 6) -> bytes:
    """Encode an 8-bit image as PNG bytes.

    Parameters
    ----------
    pixels : numpy.ndarray
        uint8, shape (rows, columns) for gray, (rows, columns, 3) for RGB or (rows, columns, 4) for RGBA.
    level : int
        zlib compression level, 0 (none) to 9 (smallest).

    Returns
    -------
    bytes
        A complete PNG file: IHDR, one IDAT (every row with the "Up" filter), IEND. No gamma or color-space
        chunk, so browsers draw the values as stored.
    """
    pixels = np.asarray(pixels)
    channels = 1 if pixels.ndim == 2 else (pixels.shape[-1] if pixels.ndim == 3 else 0)
    if pixels.dtype != np.uint8 or channels not in COLOR_TYPES or 0 in pixels.shape:
        raise ArgumentTypeError(f"encode_png: pixels must be a non-empty uint8 array of shape (rows, columns), "
                                f"(rows, columns, 3) or (rows, columns, 4); got {pixels.dtype} {pixels.shape}. "
                                "Map the values to 0..255 first (nwbzarr_image.preview.to_uint8).")
    rows, columns = pixels.shape[:2]
    flat = np.ascontiguousarray(pixels).reshape(rows, columns * channels)
    filtered = np.empty((rows, columns * channels + 1), np.uint8)
    filtered[:, 0] = FILTER_UP
    filtered[0, 1:] = flat[0]
    filtered[1:, 1:] = flat[1:] - flat[:-1]  # uint8 arithmetic wraps modulo 256, as the filter specifies
    header = struct.pack(">IIBBBBB", columns, rows, 8, COLOR_TYPES[channels], 0, 0, 0)
    return (SIGNATURE + _chunk(b"IHDR", header) + _chunk(b"IDAT", zlib.compress(filtered.tobytes(), level))
            + _chunk(b"IEND", b""))
