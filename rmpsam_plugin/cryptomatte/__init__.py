"""Cryptomatte (specification 1.2) for rmpsam-matte: the one module other code imports.

The work is split by job: `cryptomatte_hash` (IDs and layer keys), `cryptomatte_encoder`
(mattes -> rank channels and metadata, output-format rules) and `cryptomatte_reader` (finding
Cryptomattes in files and extracting mattes). Writers and tools import from here so that the
split can change without touching them.
"""

from rmpsam_plugin.cryptomatte.encoder import (
    COVERAGE_FLOOR,
    CryptomatteLayers,
    encode,
    validate_output_format,
)
from rmpsam_plugin.cryptomatte.ids import CryptomatteId, layer_key, name_to_id
from rmpsam_plugin.cryptomatte.reader import CryptomatteInfo, extract_matte, find_layers

__all__ = [
    "COVERAGE_FLOOR",
    "CryptomatteId",
    "CryptomatteInfo",
    "CryptomatteLayers",
    "encode",
    "extract_matte",
    "find_layers",
    "layer_key",
    "name_to_id",
    "validate_output_format",
]
