"""Where an external file is: a stored path resolved against the NWB file's directory, within allowed roots.

A relative path (``video.mp4``, ``videos/a.mp4``) resolves against the directory that holds the NWB file
(``/data/session.nwb.zarr`` -> ``/data``), on the NWB file's own file system (local disk, ``memory://``,
``s3://``, ``https://``, ...), as NWB and nwbinspector read it. Absolute paths and URLs, and relative paths
that climb out of that directory (``../x.mp4``, or a symlink pointing elsewhere), are refused with
:class:`ExternalPathError` unless they lie under one of ``allowed_roots`` or ``allow_outside=True``.
"""

from __future__ import annotations

import os
import posixpath
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import PureWindowsPath
from typing import Any
from urllib.parse import unquote

import fsspec
from fsspec.implementations.local import LocalFileSystem

from nwbzarr_image.external.errors import ExternalFileError, ExternalPathError


def _protocols(fs: Any) -> frozenset[str]:
    proto = fs.protocol
    names = set(proto) if isinstance(proto, (tuple, list)) else {proto}
    return frozenset("file" if p in ("file", "local") else p for p in names)


def _split_url(path: str) -> tuple[str, str]:
    """``("https://host", "/dir/f")`` for URL-shaped paths (HTTP file systems), ``("", path)`` otherwise."""
    scheme, sep, rest = path.partition("://")
    if not sep:
        return "", path
    host, slash, body = rest.partition("/")
    return f"{scheme}://{host}", slash + body


def _normalize(fs: Any, path: str) -> str:
    """A comparable form of ``path`` on ``fs``: normalized, no trailing slash; local paths without symlinks."""
    if isinstance(fs, LocalFileSystem):
        return os.path.realpath(path)
    prefix, body = _split_url(path)
    body = posixpath.normpath(body) if body else ""
    return prefix + ("" if body == "." else body)


def _is_under(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


@dataclass(frozen=True)
class ExternalBase:
    """The directory relative external paths resolve against (the NWB file's parent), on its file system.

    ``label`` is the URL shown in messages; ``storage_options`` are reused for absolute URLs of the same
    protocol.
    """

    fs: Any
    directory: str
    label: str
    storage_options: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def of_file(cls, fs: Any, path: str, storage_options: dict[str, Any] | None = None) -> ExternalBase:
        """The base of the NWB file at ``path`` on ``fs``: its parent directory."""
        prefix, body = _split_url(path.rstrip("/"))
        directory = prefix + (posixpath.dirname(body) or ("/" if body.startswith("/") else ""))
        if isinstance(fs, LocalFileSystem):
            directory = os.path.dirname(os.path.abspath(path.rstrip("/")))
        label = directory if isinstance(fs, LocalFileSystem) else fs.unstrip_protocol(directory)
        return cls(fs, directory, label, dict(storage_options or {}))

    @classmethod
    def of_url(cls, url: str, storage_options: dict[str, Any] | None = None) -> ExternalBase:
        """The base of the NWB file at ``url`` (a local path or any fsspec URL)."""
        fs, path = fsspec.core.url_to_fs(url, **dict(storage_options or {}))
        return cls.of_file(fs, path, storage_options)

    @classmethod
    def cwd(cls) -> ExternalBase:
        """The current working directory (for series not read from a file)."""
        directory = os.getcwd()
        return cls(fsspec.filesystem("file"), directory, directory)


@dataclass(frozen=True)
class ExternalTarget:
    """One resolved external file: the path as stored, its file system and the path in it."""

    text: str
    fs: Any
    path: str

    @property
    def is_local(self) -> bool:
        return isinstance(self.fs, LocalFileSystem)

    @property
    def url(self) -> str:
        return self.path if self.is_local else self.fs.unstrip_protocol(self.path)


def _decoded(text: str) -> str:
    """``text`` percent-decoded until nothing changes (a server decodes ``%2e%2e`` as ``..``, ``%252e`` twice)."""
    for _ in range(8):
        decoded = unquote(text)
        if decoded == text:
            break
        text = decoded
    return text


def _is_absolute(text: str) -> bool:
    return any("://" in form or "::" in form or form.startswith("/") or PureWindowsPath(form).is_absolute()
               for form in (text, _decoded(text)))


def _root_key(root: str | os.PathLike[str], options: dict[str, Any]) -> tuple[frozenset[str], str]:
    text = os.fspath(root)
    fs, path = fsspec.core.url_to_fs(text, **options) if "://" in text else (fsspec.filesystem("file"),
                                                                              os.path.abspath(text))
    return _protocols(fs), _normalize(fs, path)


def _within_roots(target: ExternalTarget, roots: Iterable[str | os.PathLike[str]], base: ExternalBase) -> bool:
    key = (_protocols(target.fs), _normalize(target.fs, target.path))
    for root in roots:
        options = base.storage_options if "://" in os.fspath(root) else {}
        protocols, path = _root_key(root, options)
        if protocols & key[0] and _is_under(key[1], path):
            return True
    return False


def _absolute_target(text: str, base: ExternalBase) -> ExternalTarget:
    if "://" not in text and "::" not in text:
        return ExternalTarget(text, fsspec.filesystem("file"), os.path.abspath(text))
    protocol = fsspec.core.split_protocol(text)[0] or "file"
    same = protocol in _protocols(base.fs) or (protocol == "http" and "https" in _protocols(base.fs))
    fs, path = fsspec.core.url_to_fs(text, **(base.storage_options if same else {}))
    return ExternalTarget(text, fs, path)


def _join(base: ExternalBase, relative: str) -> str:
    if isinstance(base.fs, LocalFileSystem):
        return os.path.normpath(os.path.join(base.directory, relative))
    prefix, body = _split_url(base.directory)
    return prefix + posixpath.normpath(posixpath.join(body or "/", relative) if prefix
                                       else posixpath.join(body, relative))


def resolve_external(base: ExternalBase | None, path: str, *, allow_outside: bool = False,
                     allowed_roots: Iterable[str | os.PathLike[str]] = (), where: str = "ImageSeries"
                     ) -> ExternalTarget:
    """Resolve one stored ``external_file`` entry.

    Parameters
    ----------
    base : ExternalBase or None
        The NWB file's directory (see :meth:`ExternalBase.of_url`); None when the file has no location
        (read from a zarr store object): then relative paths cannot be resolved.
    path : str
        The entry as stored: a path relative to the NWB file (recommended), an absolute path, or a URL.
    allow_outside : bool
        Accept absolute paths, URLs and relative paths that climb out of the base directory.
    allowed_roots : iterable of str or os.PathLike
        Directories or URL prefixes outside the base directory whose files are accepted.
    where : str
        The object named in error messages.

    Returns
    -------
    ExternalTarget

    Raises
    ------
    ExternalPathError
        The path is absolute or climbs out of the base directory, not under ``allowed_roots``, and
        ``allow_outside`` is False (a PermissionError).
    ExternalFileError
        The path is empty, or relative with no base to resolve it against.
    """
    text = str(path)
    if not text.strip() or "\x00" in text:
        raise ExternalFileError(f"{where}: an external_file entry is empty or holds a NUL character; expected a "
                                f"path relative to the NWB file or a URL, got {text!r}. Fix the stored external_file.")
    roots = list(allowed_roots)
    fix = ("Pass allowed_roots=[<directory or URL prefix holding the files>] to allow that place, or "
           "allow_outside=True if you trust the file.")
    if _is_absolute(text):
        if base is None:
            base = ExternalBase.cwd()
        target = _absolute_target(text, base)
        if allow_outside or _within_roots(target, roots, base):
            return target
        raise ExternalPathError(f"{where}: external file {text!r} is an absolute path or URL; expected a path "
                                f"relative to the NWB file's directory {base.label}, or one under allowed_roots "
                                f"{[os.fspath(r) for r in roots]}. {fix}")
    if base is None:
        raise ExternalFileError(f"{where}: external file {text!r} is relative, but the NWB file was read from a "
                                "zarr store object, which has no location to resolve it against; expected a file "
                                "read by URL. Read it with nzi.read(url), or pass an absolute path.")
    joined = _join(base, text.replace("\\", "/"))
    target = ExternalTarget(text, base.fs, joined)
    # inside both as written and percent-decoded: a server decodes %2e%2e/ into ../ after we looked
    inside = all(_is_under(_normalize(base.fs, path), _normalize(base.fs, base.directory))
                 for path in (joined, _join(base, _decoded(text).replace("\\", "/"))))
    if inside or allow_outside or _within_roots(target, roots, base):
        return target
    raise ExternalPathError(f"{where}: external file {text!r} resolves to {target.url}, outside the NWB file's "
                            f"directory {base.label}; expected a path that stays inside it. {fix}")
