"""Exception and warning classes of nwbzarr_image, and :func:`warn`, which emits every warning of the library.

Every error subclasses the builtin a caller would catch (``ValueError``, ``TypeError``,
``KeyError``, ...) and :class:`NWBZarrImageError`, so ``except ValueError`` and
``except NWBZarrImageError`` both work.
"""

from __future__ import annotations

import sys
import threading
import warnings
from types import FrameType


class NWBZarrImageError(Exception):
    """Base class of every error raised by nwbzarr_image."""


class SchemaError(NWBZarrImageError, ValueError):
    """A value breaks a rule of the NWB schema (shape, missing field, forbidden combination)."""


class ArgumentTypeError(NWBZarrImageError, TypeError):
    """An argument has the wrong type or a required value is None.

    A missing or unknown argument is Python's own TypeError, raised by the explicit signatures."""


class LayoutError(NWBZarrImageError, ValueError):
    """A store does not follow the NWB Zarr layout (missing attribute, bad link, bad dtype)."""


class CorruptDataError(LayoutError):
    """Stored values cannot be read: a truncated or damaged chunk, or a chunk missing under ``strict=True``."""


class NodeNotFoundError(NWBZarrImageError, KeyError):
    """A path or name does not exist in the file or collection."""

    def __str__(self) -> str:  # KeyError quotes its message; keep it readable
        return str(self.args[0]) if self.args else ""


class NameRequiredError(NWBZarrImageError, ValueError):
    """A getter was called without a name on a collection that holds no object or several (pynwb: ValueError)."""


class StoreExistsError(NWBZarrImageError, FileExistsError):
    """The target of a write already exists and the mode forbids replacing it."""


class StoreNotFoundError(NWBZarrImageError, FileNotFoundError):
    """The location to read does not hold a Zarr store."""


class AccessDeniedError(NWBZarrImageError, PermissionError):
    """The storage refused the credentials or the permission for an operation."""


class StoreUnreachableError(NWBZarrImageError, ConnectionError):
    """The storage server could not be reached."""


class ReadOnlyError(NWBZarrImageError, PermissionError):
    """A write was attempted on a file opened read-only or on a read-only protocol."""


class MissingDependencyError(NWBZarrImageError, ImportError):
    """An optional dependency needed for this operation is not installed."""


class NWBZarrImageWarning(UserWarning):
    """Base class of every warning emitted by nwbzarr_image."""


class InvalidFileWarning(NWBZarrImageWarning):
    """A stored value breaks an NWB rule; it is kept as stored."""


class MissingChunkWarning(InvalidFileWarning):
    """A chunk is not stored, so its values read as the fill value (zarr leaves out chunks equal to it)."""


class NWBRuleWarning(NWBZarrImageWarning):
    """A new object uses a value NWB accepts but ignores or discourages."""


class PerformanceWarning(NWBZarrImageWarning):
    """An operation works but costs more than it needs to; the message says the fix."""


class NWBDeprecationWarning(NWBZarrImageWarning, DeprecationWarning):
    """A type or argument deprecated by the NWB schema is used."""


class OutOfRangeError(NWBZarrImageError, IndexError):
    """A frame number or frame range lies outside the frames a series holds."""


CREDENTIAL_ERRORS = {"NoCredentialsError", "PartialCredentialsError", "CredentialRetrievalError",
                     "InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken", "AccessDenied"}
CONNECTION_ERRORS = {"ClientConnectorError", "ServerDisconnectedError", "EndpointConnectionError",
                     "ConnectTimeoutError", "ClientConnectionError"}


def storage_error(err: BaseException, url: str, action: str) -> NWBZarrImageError | None:
    """Our error for ``err``, raised while trying to ``action`` ``url``, when the storage raised it; else None.

    Refused credentials or permissions give :class:`AccessDeniedError`, a missing location
    :class:`StoreNotFoundError`; the back-ends' connection errors (aiohttp, botocore), ``ConnectionError``,
    ``TimeoutError`` and any other ``OSError`` raised inside a zarr store give :class:`StoreUnreachableError`.
    An ``OSError`` raised elsewhere (a data iterator, a codec decoding a damaged chunk) is not the storage's.
    """
    if isinstance(err, NWBZarrImageError):
        return None
    if isinstance(err, PermissionError):
        return AccessDeniedError(f"{action} {url}: access denied ({err}); expected credentials allowed to {action} "
                                 "it. Check key/secret (or profile) in storage_options or the AWS_* environment "
                                 "variables.")
    if isinstance(err, FileNotFoundError):
        return StoreNotFoundError(f"{action} {url}: not found ({err}). Check the bucket and the path; a bucket must "
                                  "exist before writing into it.")
    names = {cls.__name__ for cls in type(err).__mro__}
    response = getattr(err, "response", None)
    code = str(response.get("Error", {}).get("Code", "")) if isinstance(response, dict) else ""
    if names & CREDENTIAL_ERRORS or code in CREDENTIAL_ERRORS:
        return AccessDeniedError(f"{action} {url}: the credentials were refused ({type(err).__name__}: {err}). "
                                 "Check key/secret in storage_options or the AWS_* environment variables.")
    if names & CONNECTION_ERRORS or isinstance(err, (ConnectionError, TimeoutError)):
        return StoreUnreachableError(f"{action} {url}: cannot reach the server ({type(err).__name__}: {err}). "
                                     "Check the URL and endpoint_url in storage_options.")
    if isinstance(err, OSError) and _raised_in_store(err):
        return StoreUnreachableError(f"{action} {url}: the storage failed ({type(err).__name__}: {err}); expected "
                                     "it to answer. Check the disk or the network, then retry.")
    return None


def _raised_in_store(err: BaseException) -> bool:
    """Whether ``err`` went through a method of a zarr store (``Store.get``, ``Store.set``...) on its way up."""
    tb = err.__traceback__
    while tb is not None:
        owner = tb.tb_frame.f_locals.get("self")
        if owner is not None and any(cls.__name__ == "Store" and cls.__module__.startswith("zarr.")
                                     for cls in type(owner).__mro__):
            return True
        tb = tb.tb_next
    return False

_PACKAGE = __name__.rpartition(".")[0]
# libraries that sit between a caller and the library (dask computing a task, numpy converting an array...):
# a warning raised below them is about the caller's line above them
_PASS_THROUGH = ("dask", "distributed", "zarr", "numcodecs", "numpy", "xarray", "toolz", "tlz", "asyncio",
                 "concurrent", "threading", "queue", "contextlib", "contextvars", "functools", "importlib")


def warn(warning: Warning) -> None:
    """Emit ``warning`` at the caller's line: the first frame outside nwbzarr_image (and the libraries it runs
    under, e.g. dask computing a task), the way ``warnings.warn(stacklevel=...)`` would with the right level.

    A warning raised in a worker thread (a dask task, the h5py thread) has no caller in its own stack; it then
    points at the line of the one other thread waiting for the library or for a dask computation, when there is
    exactly one (else at the worker's first frame outside nwbzarr_image).

    Parameters
    ----------
    warning : Warning
        The warning instance (one of the classes above).
    """
    frame = _caller(sys._getframe(1))
    if frame is None:
        warnings.warn(warning, stacklevel=2)
        return
    warnings.warn_explicit(warning, type(warning), frame.f_code.co_filename, frame.f_lineno,
                           frame.f_globals.get("__name__", "<string>"),
                           frame.f_globals.setdefault("__warningregistry__", {}))


def _module(frame: FrameType) -> str:
    return str(frame.f_globals.get("__name__", ""))


def _inside(name: str, packages: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in packages)


def _outside(frame: FrameType | None, packages: tuple[str, ...]) -> FrameType | None:
    while frame is not None and _inside(_module(frame), packages):
        frame = frame.f_back
    return frame


def _caller(frame: FrameType) -> FrameType | None:
    found = _outside(frame, (_PACKAGE, *_PASS_THROUGH))
    if found is not None:
        return found
    waiting = {_outside(top, (_PACKAGE, *_PASS_THROUGH)) for ident, top in sys._current_frames().items()
               if ident != threading.get_ident() and _waiting(top)}
    waiting.discard(None)
    if len(waiting) == 1:
        return waiting.pop()
    return _outside(frame, (_PACKAGE,))


def _waiting(frame: FrameType | None) -> bool:
    """Whether a thread's stack is inside the library or inside dask's local scheduler (waiting for tasks)."""
    while frame is not None:
        name = _module(frame)
        if _inside(name, (_PACKAGE,)) or (frame.f_code.co_name == "get_async" and name == "dask.local"):
            return True
        frame = frame.f_back
    return False
