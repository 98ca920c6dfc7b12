"""Declared sizes, chunk contents and nesting beyond the limits are our errors, with bounded memory.

Every attack is a file built here; read, compute, info, validate and preview run on it in a child process with
an address-space limit (tests/bounded_run.py), whose peak resident memory must stay under 500 MB.
"""

from __future__ import annotations

import json
import pickle
import shutil
import struct
import zlib
from collections.abc import Callable
from pathlib import Path

import numcodecs
import numpy as np
import pytest
from bounded_run import PEAK_TARGET, bounded_run
from builders import full_file

import nwbzarr_image as nzi
from nwbzarr_image.limits import Limits, get_limits, raised, set_limits
from nwbzarr_image.storage.safe_pickle import decode_pickled_references

FIXTURES = Path(__file__).parent / "fixtures" / "legacy_v2"
LIMITS = Limits()

ATTACK = """
import sys, io, contextlib, warnings
import nwbzarr_image as nzi
from nwbzarr_image.cli import main
warnings.simplefilter("ignore")
url, expression, series, out = sys.argv[1:5]
try:
    nwb = nzi.read(url)
    value = eval(expression)
    value = value.compute() if hasattr(value, "compute") else value
    print("read OK", type(value).__name__)
except nzi.NWBZarrImageError as err:
    print("read", type(err).__name__, str(err).splitlines()[0])
for command in (["info", url], ["validate", url], ["validate", "--deep", url], ["preview", url, series, "--out", out]):
    errors = io.StringIO()
    with contextlib.redirect_stderr(errors), contextlib.redirect_stdout(io.StringIO()) as shown:
        code = main(command)
    print(" ".join(command[:2] if command[1] == "--deep" else command[:1]), code,
          (errors.getvalue() or shown.getvalue()).strip().replace(chr(10), " | ")[:2000])
"""


def _v3(tmp_path: Path) -> Path:
    path = tmp_path / "f.nwb.zarr"
    nzi.write(full_file(), str(path))
    return path


def _edit(path: Path, key: str, change: Callable[[dict], None]) -> None:
    """Change a node's zarr.json and its copy in the root's consolidated metadata (no zarr involved)."""
    own = path / key / "zarr.json"
    meta = json.loads(own.read_text())
    change(meta)
    own.write_text(json.dumps(meta))
    root = json.loads((path / "zarr.json").read_text())
    root["consolidated_metadata"]["metadata"][key] = meta
    (path / "zarr.json").write_text(json.dumps(root))


def _chunks(path: Path, key: str) -> list[Path]:
    return sorted(p for p in (path / key).rglob("c*") if p.is_file())


def _shape(*shape: int, chunks: tuple[int, ...] | None = None) -> Callable[[dict], None]:
    def change(meta: dict) -> None:
        meta["shape"] = list(shape)
        meta["chunk_grid"]["configuration"]["chunk_shape"] = list(chunks or (1,) * len(shape))
        meta["dimension_names"] = None
    return change


def frames_1e12(tmp_path: Path) -> Path:
    path = _v3(tmp_path)
    _edit(path, "acquisition/vid/data", lambda m: m.update(shape=[10**12, 5, 4]))
    return path


def shape_2p63(tmp_path: Path) -> Path:
    path = _v3(tmp_path)
    _edit(path, "acquisition/vid/data", _shape(2**63 - 1, 2**63 - 1, 16, chunks=(1, 1, 16)))
    return path


def dims_64(tmp_path: Path) -> Path:
    path = _v3(tmp_path)
    _edit(path, "acquisition/vid/data", _shape(*([2] * 64)))
    return path


def _codecs(path: Path, key: str, codecs: list[dict], chunk: bytes) -> None:
    _edit(path, key, lambda m: m.update(codecs=codecs))
    for file in _chunks(path, key):
        file.write_bytes(chunk)


BYTES = {"name": "bytes", "configuration": {"endian": "little"}}


def zstd_4gib(tmp_path: Path) -> Path:
    path = _v3(tmp_path)
    frame = bytearray(numcodecs.Zstd().encode(np.zeros(4096, np.uint8)))
    claim = b"\x28\xb5\x2f\xfd" + bytes([0xE0]) + struct.pack("<Q", 4 * 2**30)  # 8-byte content size: 4 GiB
    _codecs(path, "acquisition/vid/data", [BYTES, {"name": "zstd", "configuration": {"level": 0,
                                                                                     "checksum": False}}],
            claim + bytes(frame[6:]) + b"\x00" * 4000)
    return path


def blosc_2gb(tmp_path: Path) -> Path:
    path = _v3(tmp_path)
    frame = bytearray(numcodecs.Blosc().encode(np.zeros(4096, np.uint8)))
    frame[4:8] = struct.pack("<I", 2 * 10**9)  # the header's uncompressed size
    _codecs(path, "acquisition/vid/data", [BYTES, {"name": "blosc", "configuration": {
        "cname": "lz4", "clevel": 5, "shuffle": "noshuffle", "typesize": 1, "blocksize": 0}}],
        bytes(frame) + b"\x00" * 4000)
    return path


def gzip_bomb(tmp_path: Path) -> Path:
    """A real gzip stream of 1 GiB of zeros (about 1 MB) as a 120-byte chunk."""
    path = _v3(tmp_path)
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    block = bytes(2**24)
    bomb = b"".join(packer.compress(block) for _ in range(64)) + packer.flush()
    _codecs(path, "acquisition/vid/data", [BYTES, {"name": "gzip", "configuration": {"level": 9}}], bomb)
    return path


def vlen_v3(tmp_path: Path) -> Path:
    path = _v3(tmp_path)
    _codecs(path, "acquisition/ext/external_file", [{"name": "vlen-utf8", "configuration": {}}],
            struct.pack("<I", 2**31 - 1) + b"\x00" * 64)
    return path


def order_1e9(tmp_path: Path) -> Path:
    path = _v3(tmp_path)
    _edit(path, "stimulus/templates/templates/order_of_images",
          lambda m: m["chunk_grid"]["configuration"].update(chunk_shape=[10**9]))
    return path


def groups_4000(tmp_path: Path) -> Path:
    path = _v3(tmp_path)
    root = json.loads((path / "zarr.json").read_text())
    key = "acquisition/deep"
    for _ in range(4000):
        root["consolidated_metadata"]["metadata"][key] = {"zarr_format": 3, "node_type": "group", "attributes": {}}
        key += "/g"
    (path / "zarr.json").write_text(json.dumps(root))
    return path


def json_100k(tmp_path: Path) -> Path:
    path = _v3(tmp_path)
    for document in (path / "acquisition" / "vid" / "zarr.json", path / "zarr.json"):
        meta = json.loads(document.read_text())
        target = meta["consolidated_metadata"]["metadata"]["acquisition/vid"] if document.parent == path else meta
        target["attributes"]["deep"] = "@DEEP@"
        document.write_text(json.dumps(meta).replace('"@DEEP@"', "[" * 100_000 + "]" * 100_000))
    return path


def _v2(tmp_path: Path) -> Path:
    path = tmp_path / "v2.nwb.zarr"
    shutil.copytree(FIXTURES / "images_json.nwb.zarr", path)
    return path


def _edit_v2(path: Path, key: str, change: Callable[[dict], None]) -> None:
    own = path / key / ".zarray"
    meta = json.loads(own.read_text())
    change(meta)
    own.write_text(json.dumps(meta))
    consolidated = json.loads((path / ".zmetadata").read_text())
    consolidated["metadata"][f"{key}/.zarray"] = meta
    (path / ".zmetadata").write_text(json.dumps(consolidated))


def strings_1e10_v2(tmp_path: Path) -> Path:
    path = _v2(tmp_path)
    _edit_v2(path, "acquisition/external_video/external_file", lambda m: m.update(shape=[10**10], chunks=[10**10]))
    return path


def vlen_v2(tmp_path: Path) -> Path:
    path = _v2(tmp_path)
    key = "acquisition/external_video/external_file"
    _edit_v2(path, key, lambda m: m.update(compressor=None, filters=[{"id": "vlen-utf8"}]))
    (path / key / "0").write_bytes(struct.pack("<I", 2**31 - 1) + b"\x00" * 64)
    return path


def _assemble(entries: int, aliases: int) -> bytes:
    """numpy's own pickle of an object array, its element list replaced by memo aliases of one dict."""
    sample = np.empty(2, dtype=object)
    sample[0], sample[1] = {"@": "A"}, {"@": "A"}
    raw = pickle.dumps(sample, protocol=2)
    start, stop = raw.index(b"]"), raw.rindex(b"e") + 1  # the element list: EMPTY_LIST ... APPENDS
    memo = b"r" + struct.pack("<I", 10**6)
    pairs = b"".join(b"X" + struct.pack("<I", len(k)) + k + b"X\x01\x00\x00\x00v"
                     for k in (f"k{i}".encode() for i in range(entries)))
    element = b"}" + memo + b"(" + pairs + b"u"
    alias = b"j" + struct.pack("<I", 10**6)
    batches, rest = divmod(aliases - 1, 1000)  # APPENDS in batches of 1000, as pickle writes lists
    listing = b"]" + b"(" + element + b"e" + (b"(" + alias * 1000 + b"e") * batches + (
        b"(" + alias * rest + b"e" if rest else b"")
    shape = raw[raw.index(b"K\x02\x85"):raw.index(b"K\x02\x85") + 3]
    return raw[:start].replace(shape, b"J" + struct.pack("<i", aliases) + b"\x85") + listing + raw[stop:]


def pickle_bomb_v2(tmp_path: Path) -> Path:
    path = tmp_path / "v2.nwb.zarr"
    shutil.copytree(FIXTURES / "images_pickle.nwb.zarr", path)
    key = "stimulus/templates/template_images/order_of_images"
    aliases = 100_000
    _edit_v2(path, key, lambda m: m.update(shape=[aliases], chunks=[aliases], compressor=None))
    (path / key / "0").write_bytes(_assemble(1000, aliases))
    return path


ATTACKS = {
    "frames-1e12": (frames_1e12, 'nwb.acquisition["vid"].data', "vid", "max_chunks"),
    "shape-2^63": (shape_2p63, 'nwb.acquisition["vid"].data', "vid", "max_elements"),
    "64-dimensions": (dims_64, 'nwb.acquisition["vid"].data', "vid", "max_ndim=32"),
    "zstd-4GiB": (zstd_4gib, 'nwb.acquisition["vid"].data', "vid", "zstd data claims 4294967296 decoded bytes"),
    "blosc-2GB": (blosc_2gb, 'nwb.acquisition["vid"].data', "vid", "2000000000"),
    "gzip-1GiB": (gzip_bomb, 'nwb.acquisition["vid"].data', "vid", "gzip data decodes to more than 120 bytes"),
    "vlen-header-v3": (vlen_v3, 'nwb.acquisition["ext"].external_file', "vid", "claims 2147483647 items"),
    "order-chunks-1e9": (order_1e9, 'nwb.stimulus_template["templates"].order_of_images', "templates",
                         "max_chunk_bytes"),
    "groups-4000-deep": (groups_4000, "nwb", "vid", "nests groups 4001 deep; expected at most max_group_depth"),
    "json-100000-deep": (json_100k, "nwb", "vid", "max_json_depth"),
    "strings-1e10-v2": (strings_1e10_v2, 'nwb.acquisition["external_video"].external_file', "behavior_video",
                        "max_chunk_bytes"),
    "vlen-header-v2": (vlen_v2, 'nwb.acquisition["external_video"].external_file', "behavior_video",
                       "claims 2147483647 items"),
    "pickle-aliases-v2": (pickle_bomb_v2, 'nwb.stimulus_template["template_images"].order_of_images',
                          "template_images", "max_reference_entries"),
}


@pytest.mark.parametrize("attack", list(ATTACKS))
def test_attacks_are_our_errors_with_bounded_memory(tmp_path: Path, attack: str) -> None:
    build, expression, series, fragment = ATTACKS[attack]
    url = str(build(tmp_path))
    run = bounded_run([url, expression, series, str(tmp_path / "x.png")], code=ATTACK)
    assert run.returncode == 0 and "Traceback" not in run.stderr, run.stderr[-3000:]
    lines = {line.split(" ", 1)[0] + (" --deep" if " --deep " in line[:20] else ""): line for line in run.lines}
    assert lines["read"].startswith(("read LayoutError", "read CorruptDataError", "read UnsafePickleError")), lines
    assert fragment in lines["read"], lines["read"]
    for command in ("info", "validate", "preview"):
        line = next(v for k, v in lines.items() if k.startswith(command))
        assert "Error" not in line.split(" ")[1] and "Traceback" not in line, line
    assert 0 < run.peak_bytes < PEAK_TARGET, f"peak {run.peak_bytes / 2**20:.0f} MB"


def test_memo_aliases_share_one_dict_instead_of_copies() -> None:
    stream = _assemble(4, 200_000)
    values = decode_pickled_references(stream, max_items=200_000)
    assert values.shape == (200_000,) and values[0] == {"k0": "v", "k1": "v", "k2": "v", "k3": "v"}
    assert values[0] is values[-1]  # one fresh dict, shared: not 200,000 copies
    with pytest.raises(nzi.LayoutError, match="max_reference_entries=64"):
        decode_pickled_references(_assemble(65, 2), max_items=2)
    with pytest.raises(nzi.LayoutError, match="array of 200000 elements in a chunk of 1000"):
        decode_pickled_references(stream, max_items=1000)


def test_limits_are_raised_for_one_block_or_by_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = order_1e9(tmp_path)
    nwb = nzi.read(str(path))
    with pytest.raises(nzi.LayoutError, match=r"order_of_images: declares chunks \(1000000000,\) of 8000000000 "
                                              r"bytes; expected at most max_chunk_bytes=268435456"):
        nwb.stimulus_template["templates"].order_of_images  # noqa: B018
    with raised(max_chunk_bytes=8 * 10**9):
        assert get_limits().max_chunk_bytes == 8 * 10**9
    assert get_limits() == LIMITS
    previous = set_limits(max_json_depth=500)
    assert previous == LIMITS and get_limits().max_json_depth == 500
    set_limits(**{"max_json_depth": previous.max_json_depth})
    with pytest.raises(nzi.ArgumentTypeError, match="no limit named 'max_bananas'"):
        set_limits(max_bananas=1)
    with pytest.raises(nzi.ArgumentTypeError, match="must be a positive integer; got 0"):
        set_limits(max_chunks=0)
    monkeypatch.setenv("NWBZARR_IMAGE_MAX_GROUP_DEPTH", "5000")
    run = bounded_run([str(groups_4000(tmp_path / "deep"))], code="""
        import sys, warnings
        import nwbzarr_image as nzi
        from nwbzarr_image.limits import get_limits
        warnings.simplefilter("ignore")
        print(get_limits().max_group_depth)
        try:
            nzi.read(sys.argv[1])
            print("read")
        except nzi.NWBZarrImageError as err:
            print(type(err).__name__, err)
        """)
    assert run.lines[0] == "5000", run.stderr


def test_real_files_stay_within_the_default_limits(tmp_path: Path) -> None:
    path = _v3(tmp_path)
    nwb = nzi.read(str(path))
    np.testing.assert_array_equal(nwb.acquisition["vid"].data.compute(), full_file().acquisition["vid"].data)
    for fixture in sorted(FIXTURES.glob("*.nwb.zarr")):
        if fixture.name != "hostile_pickle.nwb.zarr":
            legacy = nzi.read(str(fixture)) if "no_consolidated" not in fixture.name else None
            assert legacy is None or legacy.acquisition


@pytest.mark.parametrize("codec", [numcodecs.Zstd(), numcodecs.Blosc(), numcodecs.LZ4(), numcodecs.Zlib(),
                                   numcodecs.GZip(), numcodecs.BZ2(), numcodecs.LZMA()], ids=lambda c: c.codec_id)
def test_every_compressor_decodes_at_most_the_bound(codec: numcodecs.abc.Codec) -> None:
    from nwbzarr_image.storage.bounded import bounded_decode

    data = np.arange(2**20, dtype=np.uint32).tobytes()
    encoded = codec.encode(data)
    assert bytes(bounded_decode(codec, encoded, len(data), "/x")) == data
    with pytest.raises(nzi.CorruptDataError, match=rf"/x: a chunk's {codec.codec_id} data (claims {len(data)} "
                                                   rf"decoded bytes|decodes to more than 1000 bytes)"):
        bounded_decode(codec, encoded, 1000, "/x")
