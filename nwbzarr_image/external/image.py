"""Decoding the file of an ExternalImage with Pillow, resolved with the rules of external video files."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

from nwbzarr_image.errors import MissingDependencyError
from nwbzarr_image.external.errors import ExternalFileNotFoundError, ExternalImageError
from nwbzarr_image.external.paths import ExternalBase, ExternalTarget, resolve_external
from nwbzarr_image.limits import get_limits

# Pillow's format names for NWB's image_format values
PIL_FORMATS = {"PNG": {"PNG"}, "JPEG": {"JPEG", "MPO"}, "GIF": {"GIF"}}


def _import_pil() -> Any:
    try:
        from PIL import Image
    except ImportError as err:
        raise MissingDependencyError('ExternalImage.pixels needs Pillow; expected it installed, got none. Install '
                                     'it with pip install "nwbzarr-image[image]".') from err
    return Image


def _check_size(image: Any, target: ExternalTarget, picture: Any) -> None:
    """Our ExternalImageError naming the file and the limit if the header declares more pixels than the limit
    (checked before any pixel is decoded: a small file can declare a huge image)."""
    width, height = picture.size
    limit = get_limits().max_video_frame_pixels
    if width * height > limit:
        raise ExternalImageError(f"{image.where}: external image {target.text!r} ({target.url}) has {width} x "
                                 f"{height} pixels; expected at most max_video_frame_pixels={limit}. The file is "
                                 "damaged or hostile; if it is real, raise the limit (nwbzarr_image.limits."
                                 "set_limits or NWBZARR_IMAGE_MAX_VIDEO_FRAME_PIXELS).")


def resolve_image(image: Any, base: ExternalBase | None, *, allow_outside: bool = False,
                  allowed_roots: Iterable[str | os.PathLike[str]] = ()) -> ExternalTarget:
    """Where the file of ``image`` is (relative to ``base``), refused outside it unless allowed."""
    return resolve_external(base, str(image.data), allow_outside=allow_outside, allowed_roots=list(allowed_roots),
                            where=image.where)


@contextmanager
def _picture(image: Any, base: ExternalBase | None, allow_outside: bool,
             allowed_roots: Iterable[str | os.PathLike[str]]) -> Iterator[Any]:
    """The image's file opened with Pillow (header read, size checked), with our errors for what goes wrong."""
    pil = _import_pil()
    target = resolve_image(image, base, allow_outside=allow_outside, allowed_roots=allowed_roots)
    try:
        with target.fs.open(target.path, "rb") as handle, pil.open(handle) as picture:
            _check_size(image, target, picture)
            yield picture
    except FileNotFoundError as err:
        raise ExternalFileNotFoundError(f"{image.where}: external image {target.text!r} not found at {target.url}; "
                                        "expected an image file there. Check the path (relative paths start at "
                                        "the NWB file's directory).") from err
    except (pil.UnidentifiedImageError, OSError, ValueError, SyntaxError) as err:
        raise ExternalImageError(f"{image.where}: cannot decode external image {target.text!r} ({target.url}); "
                                 f"expected a {image.image_format} file, got {type(err).__name__}: {err}. Check "
                                 "that the file is a complete image.") from err


def decode_external_image(image: Any, base: ExternalBase | None, *, allow_outside: bool = False,
                          allowed_roots: Iterable[str | os.PathLike[str]] = ()) -> np.ndarray:
    """The pixels of the file of ``image`` (see :meth:`nwbzarr_image.ExternalImage.pixels`), its path resolved
    against ``base``."""
    with _picture(image, base, allow_outside, allowed_roots) as picture:
        found = picture.format
        picture.seek(0)
        picture.load()
        pixels = _as_array(picture)
    if found not in PIL_FORMATS.get(str(image.image_format), {str(image.image_format)}):
        raise ExternalImageError(f"{image.where}: external image {image.data!r} is a {found} file; expected "
                                 f"{image.image_format}, its image_format. Fix image_format or the file.")
    return pixels


def header_of(image: Any, base: ExternalBase | None, *, allow_outside: bool = False,
              allowed_roots: Iterable[str | os.PathLike[str]] = ()) -> tuple[tuple[int, ...], np.dtype]:
    """The shape and dtype :func:`decode_external_image` gives, from the file's header (no pixel is decoded)."""
    with _picture(image, base, allow_outside, allowed_roots) as picture:
        width, height = picture.size
        mode = picture.mode
        if mode == "P":
            mode = "RGBA" if "transparency" in picture.info else "RGB"
    bands = {"PA": 4, "CMYK": 3, "YCbCr": 3, "LAB": 3, "HSV": 3}.get(mode, len(mode) if mode in (
        "RGB", "RGBA", "LA", "RGBX", "RGBa", "La") else 1)
    dtype = np.dtype(np.uint16 if mode.startswith("I;16") else np.int32 if mode == "I" else np.float32
                     if mode == "F" else bool if mode == "1" else np.uint8)
    return ((height, width) if bands == 1 else (height, width, bands)), dtype


def lazy_external_image(image: Any, base: ExternalBase | None, *, allow_outside: bool = False,
                        allowed_roots: Iterable[str | os.PathLike[str]] = ()) -> Any:
    """The pixels of ``image`` as a one-chunk dask array: the header is read now, the pixels on compute."""
    import dask
    import dask.array as da

    roots = list(allowed_roots)
    shape, dtype = header_of(image, base, allow_outside=allow_outside, allowed_roots=roots)
    # not pure: tokenizing the image would hash the whole file it belongs to
    task = dask.delayed(decode_external_image, pure=False)(image, base, allow_outside=allow_outside,
                                                           allowed_roots=roots)
    return da.from_delayed(task, shape=shape, dtype=dtype)


def _as_array(picture: Any) -> np.ndarray:
    mode = picture.mode
    if mode == "P":
        picture = picture.convert("RGBA" if "transparency" in picture.info else "RGB")
    elif mode == "PA":
        picture = picture.convert("RGBA")
    elif mode in ("CMYK", "YCbCr", "LAB", "HSV"):
        picture = picture.convert("RGB")
    elif mode.startswith("I;16"):
        return np.asarray(picture, dtype=np.uint16)
    return np.asarray(picture)
