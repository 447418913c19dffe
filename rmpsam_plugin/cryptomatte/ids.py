"""Cryptomatte IDs and layer keys (Cryptomatte specification 1.2, "ID Generation").

An ID is the MurmurHash3_x86_32 (seed 0) of a name's UTF-8 bytes, stored in a float32 pixel by
copying its bits. Compositors, filters and half-float paths mangle NaN, infinity and denormal
floats, so the specification flips the lowest exponent bit when the exponent is all zeros or all
ones; every ID is then a normal, finite float. The manifest stores the *fixed* bits as 8 lowercase
hex digits, so a decoder can compare pixel bits against it directly.
"""

from __future__ import annotations

from typing import NamedTuple

import mmh3
import numpy as np

HASH_NAME = "MurmurHash3_32"
CONVERSION_NAME = "uint32_to_float32"

_EXPONENT_SHIFT = 23
_EXPONENT_MASK = 0xFF
_LAYER_KEY_LENGTH = 7


class CryptomatteId(NamedTuple):
    """One name's ID in the three forms a Cryptomatte uses.

    `value` goes in the rank channels, `hash` is the same 32 bits as an unsigned integer (after
    the exponent fix-up), `hex` is what the manifest stores.
    """

    value: np.float32
    hash: int
    hex: str


def murmur3_32(text: str) -> int:
    """MurmurHash3_x86_32, seed 0, of the UTF-8 bytes: the bytes, not code points, are hashed."""
    return mmh3.hash(text.encode("utf-8"), 0, signed=False)


def name_to_id(name: str) -> CryptomatteId:
    """The Cryptomatte ID of an object name, exponent fixed so the float is normal and finite."""
    bits = murmur3_32(name)
    exponent = (bits >> _EXPONENT_SHIFT) & _EXPONENT_MASK
    if exponent in (0, _EXPONENT_MASK):
        bits ^= 1 << _EXPONENT_SHIFT
    value = np.array(bits, dtype=np.uint32).view(np.float32)[()]
    return CryptomatteId(value=value, hash=bits, hex=f"{bits:08x}")


def layer_key(layer_name: str) -> str:
    """The 7-character metadata key of a Cryptomatte layer (`cryptomatte/<key>/...`).

    The specification only suggests "a hash of the type name, first seven characters"; renderers
    use the raw MurmurHash3 hex, so keys stay stable from frame to frame and match theirs.
    """
    return f"{murmur3_32(layer_name):08x}"[:_LAYER_KEY_LENGTH]
