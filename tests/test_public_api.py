"""The public names are pinned; importing the library never imports pynwb or hdmf."""

from __future__ import annotations

import json
import subprocess
import sys

import nwbzarr_image as nzi

PUBLIC = {
    "AccessDeniedError", "ArgumentTypeError", "BaseImage", "CorruptDataError", "DataChunkIterator", "Device",
    "ExternalFileError", "ExternalFileNotFoundError", "ExternalImage", "ExternalImageError", "ExternalPathError",
    "ExternalVideo", "ExternalVideoError", "GenericDataChunkIterator", "GrayscaleImage", "Image", "ImageMaskSeries",
    "ImageReferences", "ImageSeries", "Images", "IndexSeries", "InvalidFileWarning", "LayoutError",
    "MissingChunkWarning", "MissingDependencyError", "NWBDeprecationWarning", "NWBFile", "NWBRuleWarning",
    "NWBZarrImageError", "NWBZarrImageWarning", "NameRequiredError", "NodeNotFoundError", "OpticalSeries",
    "PerformanceWarning", "ProcessingModule", "RGBAImage", "RGBImage", "ReadOnlyError", "SchemaError",
    "StoreExistsError", "StoreNotFoundError", "StoreUnreachableError", "Subject", "TimeSeries", "ZarrDataIO",
    "__version__", "consolidate", "open", "play", "read", "rechunk_series", "resolve_external", "write",
}


def test_all_is_pinned() -> None:
    assert set(nzi.__all__) == PUBLIC
    for name in nzi.__all__:
        assert getattr(nzi, name) is not None


def test_import_does_not_load_pynwb_or_hdmf() -> None:
    code = ("import json, sys, nwbzarr_image; "
            "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in "
            "('pynwb', 'hdmf', 'hdmf_zarr'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == []


def test_errors_subclass_the_builtins_users_catch() -> None:
    assert issubclass(nzi.SchemaError, ValueError) and issubclass(nzi.SchemaError, nzi.NWBZarrImageError)
    assert issubclass(nzi.ArgumentTypeError, TypeError)
    assert issubclass(nzi.NodeNotFoundError, KeyError)
    assert issubclass(nzi.NameRequiredError, ValueError)
    assert issubclass(nzi.ExternalImageError, ValueError)
    assert issubclass(nzi.StoreExistsError, FileExistsError)
    assert issubclass(nzi.StoreNotFoundError, FileNotFoundError)
    assert issubclass(nzi.ReadOnlyError, PermissionError)
    assert issubclass(nzi.NWBDeprecationWarning, DeprecationWarning)
    assert issubclass(nzi.InvalidFileWarning, nzi.NWBZarrImageWarning)
