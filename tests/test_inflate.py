"""gzip / zlib chunks decode through zlib-ng when it is installed (the [hdf5] extra): the same bytes as zlib, the
same bound on what a chunk may decode into."""

from __future__ import annotations

import zlib

import numpy as np
import pytest
from numcodecs import GZip, Zlib

from nwbzarr_image.errors import CorruptDataError
from nwbzarr_image.storage.bounded import DEFLATE, bounded_decode


def test_zlib_ng_is_used_when_installed() -> None:
    from zlib_ng import zlib_ng

    assert DEFLATE is zlib_ng


@pytest.mark.parametrize("codec", [Zlib(level=4), GZip(level=6)])
def test_inflate_equals_zlib_and_keeps_the_bound(codec) -> None:
    values = np.random.default_rng(3).integers(0, 300, 200_000, dtype=np.uint16).tobytes()
    encoded = codec.encode(values)
    assert bytes(bounded_decode(codec, encoded, len(values), "x")) == values
    if isinstance(codec, GZip):  # several members, as gzip allows
        assert bytes(bounded_decode(codec, encoded + codec.encode(b"tail"), len(values) + 4, "x")) == values + b"tail"
    with pytest.raises(CorruptDataError, match="decodes to more than"):
        bounded_decode(codec, encoded, len(values) - 1, "x")
    with pytest.raises(CorruptDataError, match="cannot be decoded"):
        bounded_decode(codec, encoded[:10] + bytes(50), len(values), "x")
    assert zlib.decompress(encoded, 47) == values
