"""Argument types of the command line: a bad value is argparse's one-line usage error, before any work."""

from __future__ import annotations

import argparse
import math


def positive_rate(text: str) -> float:
    """A frame rate in Hz: a finite number above 0."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"expected a finite frame rate above 0 in Hz, such as 30; got {text!r}")
    return value


def positive_int(text: str) -> int:
    """A count of frames: an int of at least 1."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1; got {text!r}")
    return value


def port(text: str) -> int:
    """A TCP port: 0 (any free port) to 65535."""
    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"expected a port from 0 (any free port) to 65535; got {text!r}")
    return value
