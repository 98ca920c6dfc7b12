"""/general metadata, Subject and ExternalImage with pynwb 4.2 + hdmf-zarr 0.14 (issue 12, items 1, 5, 6): the
same content built with both libraries, written by each, read by the other, compared field by field and node by
node."""

from __future__ import annotations

import json
import shutil
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from interop_helpers import Lib, same
from PIL import Image as PILImage
from test_interop import listing, pynwb_read, write_ours, write_pynwb, zarr_tree
from test_pynwb_idioms import GENERAL, START
from test_pynwb_idioms import new_file as _new_file

import nwbzarr_image as nzi

OURS, PYNWB = Lib("ours"), Lib("pynwb")
SUBJECT = {"age": timedelta(days=90, hours=3), "age__reference": "gestational", "weight": 0.0215,
           "subject_id": "mouse-7", "species": "Mus musculus", "sex": "F"}


def new_file(lib: Lib, **kw: Any) -> Any:
    return _new_file(lib, file_create_date=[START], **kw)


def _ext_image(lib: Lib, **kw: Any) -> Any:
    if lib.kind == "ours":
        return nzi.ExternalImage(**kw)
    import pynwb.base

    return pynwb.base.ExternalImage(**kw)


def build_general(lib: Lib) -> Any:
    return new_file(lib, **GENERAL, subject=lib.new("Subject", **SUBJECT))


def build_external_images(lib: Lib) -> Any:
    f = new_file(lib)
    scene = _ext_image(lib, name="scene", data="images/scene.png", image_format="PNG", description="a scene",
                       image_mode="RGB")
    photo = _ext_image(lib, name="photo", data="images/photo.jpg", image_format="JPEG")
    gray = lib.new("GrayscaleImage", name="gray", data=np.arange(12, dtype=np.uint8).reshape(4, 3))
    order = lib.new("ImageReferences", name="order_of_images", data=[photo, gray, scene])
    f.add_stimulus_template(lib.new("Images", name="scenes", images=[scene, gray, photo], description="scenes",
                                    order_of_images=order))
    return f


BUILDERS = {"general": build_general, "external-images": build_external_images}


def compare_general(expected: Any, got: Any) -> list[str]:
    errors = [f"{name}: expected {getattr(expected, name)!r}, got {getattr(got, name)!r}"
              for name in GENERAL if not same(getattr(expected, name), getattr(got, name))]
    for name in ("age", "age__reference", "weight", "subject_id", "species", "sex", "object_id"):
        if not same(getattr(expected.subject, name), getattr(got.subject, name)):
            errors.append(f"subject.{name}: expected {getattr(expected.subject, name)!r}, got "
                          f"{getattr(got.subject, name)!r}")
    return errors


def compare_images(expected: Any, got: Any) -> list[str]:
    errors = []
    e_imgs, g_imgs = expected.stimulus_template["scenes"], got.stimulus_template["scenes"]
    if sorted(e_imgs.images) != sorted(g_imgs.images):
        return [f"images: expected {sorted(e_imgs.images)}, got {sorted(g_imgs.images)}"]
    for name, e in e_imgs.images.items():
        g = g_imgs.images[name]
        if type(e).__name__ != type(g).__name__:
            errors.append(f"{name} type: expected {type(e).__name__}, got {type(g).__name__}")
        for attr in ("data", "description", "image_format", "image_mode", "object_id"):
            if not same(getattr(e, attr, None), getattr(g, attr, None)):
                errors.append(f"{name}.{attr}: expected {getattr(e, attr, None)!r}, got {getattr(g, attr, None)!r}")
    order = [img.name for img in g_imgs.order_of_images.data]
    if order != [img.name for img in e_imgs.order_of_images.data]:
        errors.append(f"order_of_images: got {order}")
    if any(img is not g_imgs.images[img.name] for img in g_imgs.order_of_images.data):
        errors.append("order_of_images does not hold the file's own images")
    return errors


COMPARE = {"general": compare_general, "external-images": compare_images}


@pytest.mark.parametrize("kind", sorted(BUILDERS))
def test_pynwb_reads_what_we_write(kind: str, tmp_path: Path) -> None:
    ours = BUILDERS[kind](OURS)
    with pynwb_read(write_ours(ours, tmp_path / "ours.nwb.zarr")) as pyf:
        errors = COMPARE[kind](ours, pyf)
        assert not errors, listing(errors)
        assert type(pyf).__module__.startswith("pynwb")


@pytest.mark.parametrize("kind", sorted(BUILDERS))
def test_we_read_what_pynwb_writes(kind: str, tmp_path: Path) -> None:
    theirs = BUILDERS[kind](PYNWB)
    got = nzi.read(write_pynwb(theirs, tmp_path / "pynwb.nwb.zarr"))
    errors = COMPARE[kind](theirs, got)
    assert not errors, listing(errors)
    unmodelled = [p for p in got.extra_nodes if p.startswith("/general")]
    assert not unmodelled, unmodelled  # nothing of /general is left unmodelled


@pytest.mark.parametrize("kind", sorted(BUILDERS))
def test_stored_where_and_how_hdmf_zarr_stores_them(kind: str, tmp_path: Path) -> None:
    ours = zarr_tree(write_ours(BUILDERS[kind](OURS), tmp_path / "ours.nwb.zarr"))
    theirs = zarr_tree(write_pynwb(BUILDERS[kind](PYNWB), tmp_path / "pynwb.nwb.zarr"))
    differences = [f"{name}:\n    ours  {ours.get(name)!r:.300}\n    pynwb {theirs.get(name)!r:.300}"
                   for name in sorted(set(ours) | set(theirs)) if ours.get(name) != theirs.get(name)]
    assert not differences, listing(differences)


def test_our_file_read_back_by_us_keeps_every_general_field(tmp_path: Path) -> None:
    ours = build_general(OURS)
    back = nzi.read(write_ours(ours, tmp_path / "ours.nwb.zarr"))
    errors = compare_general(ours, back)
    assert not errors, listing(errors)
    assert back.experimenter == ("Doe, Jane", "Roe, Rick") and back.related_publications == ("doi:10.1000/xyz123",)
    assert back.source_script_file_name == "make_file.py"
    # and written again from what was read: the same content
    again = nzi.read(write_ours(back, tmp_path / "again.nwb.zarr"))
    assert not compare_general(ours, again)


# -- Subject's age__reference ------------------------------------------------------------------------------------

def test_subject_without_age_reads_back_birth_both_ways(tmp_path: Path) -> None:
    for lib, write in ((OURS, write_ours), (PYNWB, write_pynwb)):
        f = new_file(lib, subject=lib.new("Subject", subject_id="m1"))
        path = write(f, tmp_path / f"{lib.kind}.nwb.zarr")
        with pynwb_read(path) as pyf:
            assert pyf.subject.age__reference == "birth"
        assert nzi.read(path).subject.age__reference == "birth"


def _drop_age_reference(path: Path, nwb_version: str | None) -> None:
    """Remove the age's 'reference' attribute (and set the file's nwb_version), as files before NWB 2.6 have."""
    for doc in (path / "general/subject/age/zarr.json", path / "zarr.json"):
        meta = json.loads(doc.read_text())
        if doc.parent.name == "age":
            meta["attributes"].pop("reference")
        else:
            if nwb_version is not None:
                meta["attributes"]["nwb_version"] = nwb_version
            entry = meta["consolidated_metadata"]["metadata"]["general/subject/age"]
            entry["attributes"].pop("reference")
        doc.write_text(json.dumps(meta))


@pytest.mark.parametrize(("nwb_version", "expected"), [("2.5.0", None), (None, "birth")],
                         ids=["nwb-2.5", "nwb-2.11"])
@pytest.mark.parametrize("writer", ["ours", "pynwb"])
def test_age_without_reference_reads_as_pynwb_reads_it(writer: str, nwb_version: str | None, expected: Any,
                                                       tmp_path: Path) -> None:
    lib, write = (OURS, write_ours) if writer == "ours" else (PYNWB, write_pynwb)
    path = write(new_file(lib, subject=lib.new("Subject", age="P90D")), tmp_path / "f.nwb.zarr")
    _drop_age_reference(path, nwb_version)
    with pynwb_read(path) as pyf:
        assert pyf.subject.age__reference == expected
        assert pyf.subject.age == "P90D"
    got = nzi.read(path).subject
    assert got.age__reference == expected and got.age == "P90D"


# -- ExternalImage pixels ------------------------------------------------------------------------------------------

def _write_images(folder: Path) -> dict[str, np.ndarray]:
    (folder / "images").mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(7)
    scene = rng.integers(0, 255, size=(5, 4, 3), dtype=np.uint8)
    PILImage.fromarray(scene, "RGB").save(folder / "images/scene.png")
    photo = np.full((6, 8, 3), 128, np.uint8)
    PILImage.fromarray(photo, "RGB").save(folder / "images/photo.jpg", quality=95)
    return {"scene": scene, "photo": photo}


@pytest.mark.parametrize("writer", ["ours", "pynwb"])
def test_external_image_pixels_are_decoded_on_request(writer: str, tmp_path: Path) -> None:
    lib, write = (OURS, write_ours) if writer == "ours" else (PYNWB, write_pynwb)
    path = write(build_external_images(lib), tmp_path / "session.nwb.zarr")
    images = nzi.read(path).stimulus_template["scenes"]  # the image files do not exist yet: nothing is opened
    with pytest.raises(nzi.ExternalFileNotFoundError, match=r"images/scene\.png"):
        images["scene"].pixels()
    pixels = _write_images(tmp_path)
    np.testing.assert_array_equal(images["scene"].pixels(), pixels["scene"])
    photo = images["photo"].pixels()
    assert photo.shape == (6, 8, 3) and abs(int(photo.astype(int).mean()) - 128) <= 1


@pytest.mark.parametrize(("data", "error", "fragment"), [
    pytest.param("../outside.png", nzi.ExternalPathError, "outside the NWB file's directory", id="climbs-out"),
    pytest.param("/etc/hostname", nzi.ExternalPathError, "absolute path or URL", id="absolute"),
    pytest.param("https://example.org/a.png", nzi.ExternalPathError, "absolute path or URL", id="url"),
    pytest.param("images/missing.png", nzi.ExternalFileNotFoundError, "not found", id="missing"),
    pytest.param("images/not-an-image.png", nzi.ExternalImageError, "cannot decode", id="garbage"),
    pytest.param("images/scene.gif", nzi.ExternalImageError, "is a GIF file; expected PNG", id="wrong-format"),
])
def test_external_image_path_rules(data: str, error: type, fragment: str, tmp_path: Path) -> None:
    folder = tmp_path / "session"
    folder.mkdir()
    (folder / "images").mkdir()
    (folder / "images/not-an-image.png").write_bytes(b"not an image at all")
    PILImage.fromarray(np.zeros((3, 3), np.uint8), "L").save(folder / "images/scene.gif")
    PILImage.fromarray(np.zeros((3, 3), np.uint8), "L").save(tmp_path / "outside.png")
    f = new_file(OURS)
    f.add_stimulus_template(nzi.Images("imgs", images=[nzi.ExternalImage("x", data, "PNG")]))
    image = nzi.read(write_ours(f, folder / "f.nwb.zarr")).stimulus_template["imgs"]["x"]
    with pytest.raises(error, match=fragment):
        image.pixels()


def test_external_image_outside_is_read_when_allowed(tmp_path: Path) -> None:
    pixels = _write_images(tmp_path / "shared")
    folder = tmp_path / "session"
    folder.mkdir()
    f = new_file(OURS)
    f.add_stimulus_template(nzi.Images("imgs", images=[
        nzi.ExternalImage("up", "../shared/images/scene.png", "PNG"),
        nzi.ExternalImage("abs", str(tmp_path / "shared/images/scene.png"), "PNG")]))
    imgs = nzi.read(write_ours(f, folder / "f.nwb.zarr")).stimulus_template["imgs"]
    for name in ("up", "abs"):
        np.testing.assert_array_equal(imgs[name].pixels(allowed_roots=[tmp_path / "shared"]), pixels["scene"])
        np.testing.assert_array_equal(imgs[name].pixels(allow_outside=True), pixels["scene"])


def test_external_image_over_memory_fs_resolves_against_the_file(tmp_path: Path) -> None:
    import fsspec

    fs = fsspec.filesystem("memory")
    root = f"/{tmp_path.name}"
    pixels = _write_images(tmp_path)
    fs.pipe(f"{root}/images/scene.png", (tmp_path / "images/scene.png").read_bytes())
    try:
        f = new_file(OURS)
        f.add_stimulus_template(nzi.Images("imgs", images=[nzi.ExternalImage("x", "images/scene.png", "PNG")]))
        nzi.write(f, f"memory://{root}/f.nwb.zarr")
        image = nzi.read(f"memory://{root}/f.nwb.zarr").stimulus_template["imgs"]["x"]
        np.testing.assert_array_equal(image.pixels(), pixels["scene"])
    finally:
        fs.rm(root, recursive=True)
    shutil.rmtree(tmp_path / "images")


# -- preview and view show ExternalImage ------------------------------------------------------------------------------

def test_preview_and_view_show_external_images(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from preview_helpers import decode_png
    from test_viewer import request

    from nwbzarr_image.cli import main
    from nwbzarr_image.preview import preview
    from nwbzarr_image.viewer import ViewerApp, ViewerServer

    pixels = _write_images(tmp_path)
    path = write_ours(build_external_images(OURS), tmp_path / "session.nwb.zarr")
    shown = preview(str(path), "scenes/scene", contrast="none")
    np.testing.assert_array_equal(shown.pixels, pixels["scene"])
    # the collection in order_of_images (photo, gray, scene): the external scene is frame 2
    np.testing.assert_array_equal(preview(str(path), "scenes", frame=2, contrast="none").pixels, pixels["scene"])
    out = tmp_path / "scene.png"
    assert main(["preview", str(path), "scene", "--out", str(out), "--contrast", "none"]) == 0
    np.testing.assert_array_equal(decode_png(out), pixels["scene"])
    capsys.readouterr()
    server = ViewerServer(ViewerApp.open(str(path)))
    server.start()
    try:
        items = {item["path"]: item for item in json.loads(request(server, "/api/file")[2])["items"]}
        status, _, body = request(server, "/api/frame?path=/stimulus/templates/scenes/scene&frame=0&contrast=none")
    finally:
        server.stop()
    assert "/stimulus/templates/scenes/scene" in items and items["/stimulus/templates/scenes"]["frames"] == 3
    assert status == 200
    np.testing.assert_array_equal(decode_png(body), pixels["scene"])


def test_external_image_without_pillow_names_the_extra(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    _write_images(tmp_path)
    images = nzi.read(write_ours(build_external_images(OURS), tmp_path / "f.nwb.zarr")).stimulus_template["scenes"]
    monkeypatch.setitem(sys.modules, "PIL", None)  # import PIL now raises ImportError, as when not installed
    for call in (images["scene"].pixels, images["scene"].to_dask):
        with pytest.raises(nzi.MissingDependencyError, match=r'pip install "nwbzarr-image\[image\]"'):
            call()


def test_validate_checks_external_images_without_opening_them(tmp_path: Path) -> None:
    from builders import edit_metadata

    from nwbzarr_image.validate import validate

    path = write_ours(build_external_images(OURS), tmp_path / "f.nwb.zarr")  # the image files do not exist
    assert [p for p in validate(str(path), deep=True) if p.severity == "error"] == []
    edit_metadata(path, "stimulus/templates/scenes/scene",
                  lambda meta: meta["attributes"].update(image_format="TIFF"))
    problems = validate(str(path))
    assert [(p.path, p.severity) for p in problems if "image_format" in p.message and p.severity == "error"] == [
        ("/stimulus/templates/scenes/scene", "error")]
    with pytest.warns(nzi.InvalidFileWarning, match=r"'image_format' must be one of \['PNG', 'JPEG', 'GIF'\]"):
        image = nzi.read(path).stimulus_template["scenes"]["scene"]
    assert image.image_format == "TIFF"  # kept as stored
    with pytest.raises(nzi.SchemaError, match="image_format"):
        nzi.read(path, strict=True)
