"""The ``nwbzarr-image`` command: convert movies to NWB on Zarr, and describe NWB Zarr files."""

from __future__ import annotations

import argparse
import sys
import warnings
from collections.abc import Sequence

from nwbzarr_image.cli.convert import add_convert_parser
from nwbzarr_image.cli.info import add_info_parser
from nwbzarr_image.cli.preview import add_preview_parser
from nwbzarr_image.cli.validate import add_validate_parser
from nwbzarr_image.cli.view import add_view_parser
from nwbzarr_image.errors import NWBZarrImageError, NWBZarrImageWarning

EXIT_USAGE = 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="nwbzarr-image", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    add_convert_parser(commands)
    add_info_parser(commands)
    add_validate_parser(commands)
    add_preview_parser(commands)
    add_view_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; errors print one line and exit with status 2."""
    parser = build_parser()
    args = parser.parse_args(argv)

    def one_line(message: Warning | str, category: type[Warning], *_: object, **__: object) -> None:
        print(f"nwbzarr-image {args.command}: warning: {str(message).splitlines()[0]}", file=sys.stderr)

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("default", NWBZarrImageWarning)  # shown (once each), whatever the filters
            warnings.showwarning = one_line
            return int(args.run(args) or 0)
    except (NWBZarrImageError, OSError, ValueError, TypeError, KeyError) as err:
        message = str(err).splitlines()[0] if str(err) else type(err).__name__
        print(f"nwbzarr-image {args.command}: error: {message}", file=sys.stderr)
        return EXIT_USAGE
    except MemoryError as err:
        print(f"nwbzarr-image {args.command}: error: not enough memory ({type(err).__name__}: {err}); expected "
              "options that fit this machine. Use smaller chunks or shards.", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print(f"nwbzarr-image {args.command}: interrupted; nothing was written", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
