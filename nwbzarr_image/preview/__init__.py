"""Previews of a file's movies and images: one frame, a projection or a contact sheet, as an 8-bit PNG.

>>> from nwbzarr_image.preview import preview
>>> preview("session.nwb.zarr", "cam", projection="max").save("cam-max.png")  # doctest: +SKIP
"""

from nwbzarr_image.preview.contrast import Contrast, natural_range, parse_contrast, to_uint8
from nwbzarr_image.preview.png import encode_png
from nwbzarr_image.preview.render import (
    PROJECTIONS,
    Preview,
    frame_image,
    grid_image,
    grid_indices,
    grid_layout,
    preview,
    projection_image,
    render,
)
from nwbzarr_image.preview.sources import FrameSource, find, open_source, showable, walk

__all__ = [
    "PROJECTIONS", "Contrast", "FrameSource", "Preview", "encode_png", "find", "frame_image", "grid_image",
    "grid_indices", "grid_layout", "natural_range", "open_source", "parse_contrast", "preview", "projection_image",
    "render", "showable", "to_uint8", "walk",
]
