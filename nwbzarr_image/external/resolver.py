"""The object behind ``ImageSeries.external_video``: it knows where the NWB file is."""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any

import numpy as np

from nwbzarr_image.external.decoder import VideoFile
from nwbzarr_image.external.errors import ExternalFileError
from nwbzarr_image.external.frames import ExternalVideo
from nwbzarr_image.external.paths import ExternalBase, ExternalTarget, resolve_external


class ExternalResolver:
    """Resolves and opens the external files of series against one base directory.

    ``nzi.read`` and ``nzi.open`` attach one to every ImageSeries (and to the NWBFile), with the directory
    that holds the file; series that were not read from a file use the current working directory.

    Parameters
    ----------
    base : ExternalBase or None
        The NWB file's directory; None when it has none (read from a zarr store object).
    """

    def __init__(self, base: ExternalBase | None, *, cwd: bool = False) -> None:
        self._base = base
        self._cwd = cwd

    @property
    def base(self) -> ExternalBase | None:
        """The directory relative paths resolve against (the current one, looked up now, for ``cwd``)."""
        return ExternalBase.cwd() if self._cwd else self._base

    @classmethod
    def cwd(cls) -> ExternalResolver:
        """A resolver against the current working directory at the time of each use."""
        return cls(None, cwd=True)

    def targets(self, series: Any, *, allow_outside: bool = False,
                allowed_roots: Iterable[str | os.PathLike[str]] = ()) -> list[ExternalTarget]:
        """The resolved ``external_file`` entries of ``series``."""
        roots = list(allowed_roots)
        return [resolve_external(self.base, str(text), allow_outside=allow_outside, allowed_roots=roots,
                                 where=series.where) for text in external_texts(series)]

    def video(self, series: Any, *, allow_outside: bool = False,
              allowed_roots: Iterable[str | os.PathLike[str]] = (), color: bool | None = None) -> ExternalVideo:
        """Open every external file of ``series`` (headers only) and check their frame counts."""
        files = [VideoFile(target, color=color, where=series.where)
                 for target in self.targets(series, allow_outside=allow_outside, allowed_roots=allowed_roots)]
        return ExternalVideo(files, series.starting_frame, series.explicit_num_samples, where=series.where)


    def image(self, image: Any, *, lazy: bool = False, allow_outside: bool = False,
              allowed_roots: Iterable[str | os.PathLike[str]] = ()) -> Any:
        """The pixels of an ExternalImage's file (a numpy array, or a one-chunk dask array when ``lazy``), its
        path resolved against this resolver's directory."""
        from nwbzarr_image.external.image import decode_external_image, lazy_external_image  # Pillow when used

        read = lazy_external_image if lazy else decode_external_image
        return read(image, self.base, allow_outside=allow_outside, allowed_roots=allowed_roots)


def external_texts(series: Any) -> list[str]:
    """The stored ``external_file`` entries as str (bytes decoded as UTF-8)."""
    values = np.asarray(series.external_file).ravel().tolist()
    return [v.decode("utf-8") if isinstance(v, bytes) else str(v) for v in values]


def describe_files(series: Any) -> list[tuple[str, int, VideoFile | None, str]]:
    """``(path as stored, starting frame, opened file or None, why not)`` for each external file of ``series``.

    Paths are resolved as :meth:`ImageSeries.external_video` does by default (nothing outside the NWB file's
    directory is opened); a file that cannot be used gets None and the first sentence of the error.
    """
    resolver = series.external_files()
    texts = external_texts(series)
    starts = np.asarray(series.starting_frame if series.starting_frame is not None else [0]).ravel().tolist()
    rows: list[tuple[str, int, VideoFile | None, str]] = []
    for i, text in enumerate(texts):
        start = int(starts[i]) if i < len(starts) else -1
        try:
            target = resolve_external(resolver.base, text, where=series.where)
            rows.append((text, start, VideoFile(target, where=series.where), ""))
        except ExternalFileError as err:
            reason = str(err).removeprefix(f"{series.where}: ").split("; expected")[0]
            rows.append((text, start, None, f"{type(err).__name__}: {reason}"))
    return rows
