"""``nwbzarr-image validate URL``: check a file against the rules of the image types."""

from __future__ import annotations

import argparse
from typing import Any

from nwbzarr_image.validate import errors, report, validate

EXIT_INVALID = 1


def add_validate_parser(commands: Any) -> None:
    p = commands.add_parser("validate", help="check a file against the rules of the NWB image types",
                            description="Check required fields, shapes, links and references, and that every "
                                        "chunk is present; exit 1 when a problem is found.")
    p.add_argument("url", help="path or fsspec URL of an NWB Zarr file")
    p.add_argument("--deep", action="store_true", help="also decode every chunk of every frame array")
    p.add_argument("--strict", action="store_true", help="count warnings (e.g. chunks not stored) as errors")
    p.set_defaults(run=run_validate)


def run_validate(args: argparse.Namespace) -> int:
    problems = validate(args.url, deep=args.deep)
    print(report(problems, args.strict))
    return EXIT_INVALID if errors(problems, args.strict) else 0
