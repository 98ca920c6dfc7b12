"""``nwbzarr-image preview URL SERIES --out x.png``: one frame, a projection or a contact sheet as a PNG."""

from __future__ import annotations

import argparse
import os
from typing import Any

from nwbzarr_image.errors import StoreNotFoundError
from nwbzarr_image.preview import PROJECTIONS, parse_contrast, preview


def add_preview_parser(commands: Any) -> None:
    p = commands.add_parser("preview", help="write a PNG of a frame, a projection or a contact sheet of a series",
                            description="Write a PNG of one frame (default: frame 0), a projection over frames, or a "
                                        "contact sheet of evenly spaced frames. Only the chunks needed are read.")
    p.add_argument("url", help="path or fsspec URL of an NWB Zarr file")
    p.add_argument("series", help="path (/acquisition/cam) or unique name (cam) of a series, Images or image")
    p.add_argument("--out", required=True, help="the PNG file to write")
    what = p.add_mutually_exclusive_group()
    what.add_argument("--frame", type=int, help="the frame to show (default 0; negative counts from the end)")
    what.add_argument("--projection", choices=PROJECTIONS, help="show the mean, max or std over --start:--stop")
    what.add_argument("--grid", type=int, metavar="N", help="show N evenly spaced frames of --start:--stop")
    p.add_argument("--start", type=int, help="first frame of the projection or grid (default 0)")
    p.add_argument("--stop", type=int, help="frame after the last of the projection or grid (default: the end)")
    p.add_argument("--contrast", default="auto", metavar="auto|none|LO,HI",
                   help="auto: percentiles 1 and 99.5 of the values shown (default; auto:P1,P2 for others); "
                        "none: the dtype's range (uint8 as is); LO,HI: these stored values as black and white")
    p.add_argument("--plane", type=int, default=0, help="z plane of volumetric (frames, x, y, z) data (default 0)")
    p.add_argument("--allow-outside", action="store_true",
                   help="for external-file series: accept files outside the NWB file's directory")
    p.set_defaults(run=run_preview)


def run_preview(args: argparse.Namespace) -> int:
    contrast = parse_contrast(args.contrast)  # bad options fail before the file is opened
    folder = os.path.dirname(os.path.abspath(args.out))
    if not os.path.isdir(folder):
        raise StoreNotFoundError(f"preview: the folder of --out {args.out!r} does not exist; expected an existing "
                                 "folder. Create it first.")
    image = preview(args.url, args.series, frame=args.frame, projection=args.projection, grid=args.grid,
                    start=args.start, stop=args.stop, contrast=contrast, allow_outside=args.allow_outside,
                    plane=args.plane)
    image.save(args.out)
    print(f"wrote {args.out}: {image.describe()}")
    return 0
