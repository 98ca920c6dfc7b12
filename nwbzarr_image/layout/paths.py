"""Where each object of an NWBFile lives in the file."""

from __future__ import annotations

from typing import Any

ROOT_DATASETS = ("identifier", "session_description", "session_start_time", "timestamps_reference_time",
                 "file_create_date")
# collection attribute of NWBFile -> group path
COLLECTIONS = {
    "acquisition": "/acquisition",
    "analysis": "/analysis",
    "stimulus": "/stimulus/presentation",
    "stimulus_template": "/stimulus/templates",
    "devices": "/general/devices",
    "processing": "/processing",
}
FIXED_GROUPS = ("/acquisition", "/analysis", "/general", "/general/devices", "/processing", "/stimulus",
                "/stimulus/presentation", "/stimulus/templates")


def object_paths(nwbfile: Any) -> dict[int, str]:
    """``id(obj) -> absolute path`` for every object of the file, images inside Images included."""
    paths: dict[int, str] = {}

    def place(obj: Any, path: str) -> None:
        paths[id(obj)] = path
        for image in getattr(obj, "images", {}).values() if hasattr(obj, "add_image") else ():
            paths[id(image)] = f"{path}/{image.name}"
        interfaces = getattr(obj, "data_interfaces", None)
        if interfaces is not None:
            for child in interfaces.values():
                place(child, f"{path}/{child.name}")

    for attr, base in COLLECTIONS.items():
        for obj in getattr(nwbfile, attr).values():
            place(obj, f"{base}/{obj.name}")
    return paths


def join(parent: str, name: str) -> str:
    return f"{parent.rstrip('/')}/{name}"
