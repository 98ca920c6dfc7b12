"""Exception and warning classes of nwbzarr_image.

Every error subclasses the builtin a caller would catch (``ValueError``, ``TypeError``,
``KeyError``, ...) and :class:`NWBZarrImageError`, so ``except ValueError`` and
``except NWBZarrImageError`` both work.
"""

from __future__ import annotations


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
