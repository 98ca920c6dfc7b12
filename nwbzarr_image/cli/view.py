"""``nwbzarr-image view URL``: a local web page to look at the file's movies and images, frame by frame."""

from __future__ import annotations

import argparse
import webbrowser
from typing import Any

from nwbzarr_image.cli.arguments import port
from nwbzarr_image.viewer import ViewerApp, ViewerServer

LOOPBACK = ("127.0.0.1", "localhost", "::1")


def add_view_parser(commands: Any) -> None:
    p = commands.add_parser("view", help="look at the file's movies and images in a web browser",
                            description="Serve a read-only web page on this machine listing the file's image series "
                                        "and images; the page fetches one frame at a time.")
    p.add_argument("url", help="path or fsspec URL of an NWB Zarr file")
    p.add_argument("--port", type=port, default=0, help="port to serve on, 0-65535 (default 0: a free port)")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to serve on (default 127.0.0.1: only this machine can connect)")
    p.add_argument("--open", action="store_true", help="open the page in the default web browser")
    p.add_argument("--allow-outside", action="store_true",
                   help="for external-file series: accept files outside the NWB file's directory")
    p.add_argument("--verbose", action="store_true", help="log every request")
    p.set_defaults(run=run_view)


def run_view(args: argparse.Namespace) -> int:
    app = ViewerApp.open(args.url, allow_outside=args.allow_outside)  # a bad URL fails here, before serving
    server = ViewerServer(app, args.host, args.port, verbose=args.verbose)
    shown = sum(1 for _ in app.objects)
    print(f"viewing {args.url} ({shown} series and images) at {server.url}  (read-only; Ctrl-C to stop)",
          flush=True)
    if args.host not in LOOPBACK:
        print(f"note: serving on {args.host}: anyone who can reach this address can read the file's frames",
              flush=True)
    if args.open:
        webbrowser.open(server.url)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        print("stopped", flush=True)
    finally:
        server.server_close()
    return 0
