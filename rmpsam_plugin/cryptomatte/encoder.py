"""Encode per-instance soft mattes as a Cryptomatte (specification 1.2).

A Cryptomatte stores, per pixel, the IDs of the objects covering it ranked by coverage, as
(id, coverage) pairs: `<layer>00.R` id of rank 0, `.G` its coverage, `.B`/`.A` rank 1, then
`<layer>01` for ranks 2 and 3, and so on. Compositors rebuild any object's matte by summing the
coverage of the ranks whose id matches, so one file carries every instance's matte.

Our mattes come from a segmentation model, not a renderer's pixel filter, so soft edges of
different instances may overlap and add up to more than one. Coverage is a share of the pixel, so
where the coverages of a pixel sum above 1 they are divided by that sum (shares keep their ratios,
the pixel's total becomes exactly 1); where they sum to 1 or less they are stored unchanged. When
more instances cover a pixel than there are ranks, the smallest coverages are dropped, as a
renderer would drop them.

A network's soft matte is never exactly zero (a sigmoid's tail), so coverage below
`COVERAGE_FLOOR` is treated as none. Otherwise every pixel of the frame would carry every
instance's ID at coverage 1e-9: clicking the background with Nuke's Cryptomatte picker would
select an instance, and the file would grow and slow to write for values no comp can show.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import OpenImageIO as oiio

from rmpsam_plugin.cryptomatte.ids import (
    CONVERSION_NAME,
    HASH_NAME,
    CryptomatteId,
    layer_key,
    name_to_id,
)
from rmpsam_plugin.images.half_float import to_float
from rmpsam_plugin.images.nuke_channels import nuke_channel_name

DEFAULT_LEVELS = 6
COVERAGE_FLOOR = 1.0 / 2048  # about 0.05%: invisible in a comp, and inside a 1e-3 decode tolerance
RANKS_PER_LAYER = 2

_FLOAT_BITS = {np.dtype(np.float16): np.uint16, np.dtype(np.float32): np.uint32}
_NUMPY_FORMAT_NAMES = {np.dtype(np.float16): "half", np.dtype(np.float32): "float"}
_LOSSLESS_EXR_COMPRESSIONS = frozenset({"none", "rle", "zips", "zip", "piz"})


@dataclass(frozen=True)
class CryptomatteLayers:
    """The channels and header metadata of one Cryptomatte, ready for an EXR writer.

    `channels` is ordered as the file should list it (`<layer>00.R, .G, .B, .A, <layer>01.R ...`),
    each an HxW float32 plane. `metadata` holds the `cryptomatte/<key>/...` header attributes.
    """

    channels: dict[str, np.ndarray]
    metadata: dict[str, str]


def encode(
    mattes: Mapping[str, np.ndarray], layer_name: str = "CryptoObject", levels: int = DEFAULT_LEVELS
) -> CryptomatteLayers:
    """Encode instance name -> HxW coverage in [0, 1] into `levels` ranks (`levels / 2` layers).

    Coverage outside [0, 1] is clipped (resampled soft mattes overshoot slightly), coverage below
    `COVERAGE_FLOOR` is zero, and overlapping coverage is normalised (module docstring). Pixels
    nobody covers get id 0 and coverage 0 in every rank, as do ranks beyond the number of
    objects covering a pixel.
    """
    _check_layer_name(layer_name)
    _check_levels(levels)
    names = list(mattes)
    ids = [name_to_id(name) for name in names]
    _refuse_id_collisions(names, ids)
    height, width = _common_shape(mattes)
    # A pixel holds at most one rank per instance: the ranks beyond are empty everywhere and share
    # one read-only zero plane, which the EXR writer then scans and compresses once.
    used = min(levels, len(names))
    rank_ids = np.zeros((used, height, width), dtype=np.float32)
    rank_coverage = np.zeros_like(rank_ids)
    box = _covered_box(mattes)
    if box is not None:  # outside it every rank is id 0, coverage 0: nothing to work out
        coverage = _normalised_coverage({name: np.asarray(matte)[box] for name, matte in mattes.items()})
        covered = (slice(None), *box)
        rank_ids[covered], rank_coverage[covered] = _rank(coverage, np.array([cid.value for cid in ids], np.float32), used)
    empty = np.zeros((height, width), dtype=np.float32)
    empty.flags.writeable = False
    ids_of_rank = [*rank_ids, *[empty] * (levels - used)]
    coverage_of_rank = [*rank_coverage, *[empty] * (levels - used)]
    channels: dict[str, np.ndarray] = {}
    for layer_index in range(levels // RANKS_PER_LAYER):
        prefix = f"{layer_name}{layer_index:02d}"
        first, second = RANKS_PER_LAYER * layer_index, RANKS_PER_LAYER * layer_index + 1
        channels[f"{prefix}.R"] = ids_of_rank[first]
        channels[f"{prefix}.G"] = coverage_of_rank[first]
        channels[f"{prefix}.B"] = ids_of_rank[second]
        channels[f"{prefix}.A"] = coverage_of_rank[second]
    return CryptomatteLayers(channels=channels, metadata=_metadata(layer_name, names, ids))


def validate_output_format(channel_format: object, compression: str) -> None:
    """Raise ValueError unless Cryptomatte channels would be stored bit-exactly.

    IDs are hash bits in a float32: half float rounds them to other values, and lossy EXR
    compressions (pxr24, b44, dwa) alter the bits, so no pixel would match the manifest again.
    `channel_format` is an OpenImageIO TypeDesc, its name (`"float"`, `"half"`) or a numpy dtype;
    `compression` is an OpenImageIO EXR compression name, optionally with a level (`"zip:4"`).
    """
    if _format_name(channel_format) != "float":
        raise ValueError(
            f"Cryptomatte channels must be 32-bit float, not {channel_format!r}: "
            "IDs are hash bits and any other format changes them, so no matte could be extracted"
        )
    method = compression.split(":", 1)[0].strip().lower()
    if method not in _LOSSLESS_EXR_COMPRESSIONS:
        raise ValueError(
            f"Cryptomatte channels need lossless EXR compression, not {compression!r}: lossy "
            f"compression changes the ID bits; use one of {sorted(_LOSSLESS_EXR_COMPRESSIONS)}"
        )


def _check_layer_name(layer_name: str) -> None:
    """Nuke renames layers with other characters, and its Cryptomatte node then finds nothing."""
    first_layer = f"{layer_name}00"
    if nuke_channel_name(f"{first_layer}.R") != (first_layer, "red"):
        raise ValueError(
            f"Cryptomatte layer name {layer_name!r} would be renamed by Nuke: "
            "use ASCII letters, digits and underscores, starting with a letter"
        )


def _check_levels(levels: int) -> None:
    if levels < RANKS_PER_LAYER or levels % RANKS_PER_LAYER:
        raise ValueError(f"levels must be a positive even number (two ranks per EXR layer), got {levels}")


def _refuse_id_collisions(names: list[str], ids: list[CryptomatteId]) -> None:
    """Two names with one ID would be indistinguishable in every compositor: refuse, don't merge."""
    by_hash: dict[int, str] = {}
    for name, cid in zip(names, ids):
        if cid.hash in by_hash:
            raise ValueError(
                f"instance names {by_hash[cid.hash]!r} and {name!r} share Cryptomatte ID {cid.hex}"
            )
        by_hash[cid.hash] = name


def _common_shape(mattes: Mapping[str, np.ndarray]) -> tuple[int, int]:
    if not mattes:
        raise ValueError("no mattes to encode: the Cryptomatte's size comes from its mattes")
    shapes = {name: np.shape(matte) for name, matte in mattes.items()}
    if len(set(shapes.values())) != 1 or len(next(iter(shapes.values()))) != 2:
        raise ValueError(f"mattes must all be HxW planes of one size, got {shapes}")
    return next(iter(shapes.values()))


def _covered_box(mattes: Mapping[str, np.ndarray]) -> tuple[slice, slice] | None:
    """The rows and columns where any matte has coverage of `COVERAGE_FLOOR` or more, NaN included
    (so the checks on the coverage still see it); None where no matte has any. A matte frame is
    mostly empty: the ranking then works on the objects' box, not the whole 2K frame."""
    rows = columns = None
    for matte in mattes.values():
        values = np.asarray(matte)
        if values.dtype not in _FLOAT_BITS:  # compared as `_normalised_coverage` will store them
            values = values.astype(np.float32)
        # On the bits: for floats of one sign their order is the values' order, NaN lies above
        # every number, and a negative value (clipped to 0 later) only widens the box. Comparing
        # half floats as numbers would be emulated, element by element, and take ten times longer.
        bits = _FLOAT_BITS[values.dtype]
        present = values.view(bits) >= np.asarray(COVERAGE_FLOOR, values.dtype).view(bits)
        matte_rows, matte_columns = present.any(axis=1), present.any(axis=0)
        rows = matte_rows if rows is None else rows | matte_rows
        columns = matte_columns if columns is None else columns | matte_columns
    if not rows.any():
        return None
    row_indices, column_indices = np.flatnonzero(rows), np.flatnonzero(columns)
    return slice(row_indices[0], row_indices[-1] + 1), slice(column_indices[0], column_indices[-1] + 1)


def _normalised_coverage(mattes: Mapping[str, np.ndarray]) -> np.ndarray:
    """Stack mattes (HxW planes of one size) as (N, H, W) float32 in [0, 1] with per-pixel sums of at most 1."""
    planes = [np.asarray(matte) for matte in mattes.values()]
    coverage = np.empty((len(planes), *planes[0].shape), dtype=np.float32)
    for stored, plane in zip(coverage, planes):
        if plane.dtype == np.float16 and plane.ndim == 2 and plane.strides[-1] == plane.itemsize:
            to_float(plane, out=stored)  # half mattes as the writer stores them (`half_float`)
        else:
            stored[...] = plane
    if not np.isfinite(coverage).all():
        raise ValueError("mattes contain NaN or infinite coverage")
    np.clip(coverage, 0.0, 1.0, out=coverage)
    coverage[coverage < COVERAGE_FLOOR] = 0.0
    total = coverage.sum(axis=0)
    np.divide(coverage, total, out=coverage, where=total > 1.0)
    return coverage


def _rank(coverage: np.ndarray, id_values: np.ndarray, levels: int) -> tuple[np.ndarray, np.ndarray]:
    """Per pixel, the `levels` largest coverages (descending) and their IDs, as (levels, H, W).

    Rank 0 is taken over the whole frame in a few vectorised passes (the largest coverage, then
    its ID). Ranks beyond it exist only where two or more mattes overlap, in practice along
    edges, so they are worked out on those pixels alone, from each matte's place in the order
    (`_places`) with elementwise passes only: no per-pixel sorting, no fancy indexing per rank.
    Ties go to the matte given first.
    """
    count, height, width = coverage.shape
    rank_ids = np.zeros((levels, height, width), dtype=np.float32)
    rank_coverage = np.zeros_like(rank_ids)
    np.max(coverage, axis=0, out=rank_coverage[0])
    for index in reversed(range(count)):  # the first matte's ID wins ties: it is written last
        np.copyto(rank_ids[0], id_values[index], where=coverage[index] == rank_coverage[0])
    np.copyto(rank_ids[0], 0.0, where=rank_coverage[0] == 0.0)
    if min(levels, count) < 2:
        return rank_ids, rank_coverage

    flat = coverage.reshape(count, -1)
    pixels = np.flatnonzero(np.sum(flat > 0.0, axis=0, dtype=np.uint16) > 1)  # faster than count_nonzero(axis=0)
    overlapping = flat[:, pixels]  # (instances, pixels): one contiguous row per matte
    places = _places(overlapping)
    present_ids = np.where(overlapping > 0.0, id_values[:, None], np.float32(0.0))
    flat_ids, flat_coverage = rank_ids.reshape(levels, -1), rank_coverage.reshape(levels, -1)
    for rank in range(1, min(levels, count)):
        at_rank = places == rank  # exactly one matte per pixel: the sums below add zeros only
        flat_coverage[rank, pixels] = np.where(at_rank, overlapping, np.float32(0.0)).sum(axis=0)
        flat_ids[rank, pixels] = np.where(at_rank, present_ids, np.float32(0.0)).sum(axis=0)
    return rank_ids, rank_coverage


def _places(coverage: np.ndarray) -> np.ndarray:
    """(instances, pixels) -> each matte's place in its pixel's descending order, 0 for the largest;
    equal coverages keep the order the mattes were given in, so places are a permutation."""
    count = coverage.shape[0]
    places = np.zeros(coverage.shape, dtype=np.uint16)
    for i in range(count):
        for j in range(i + 1, count):
            later_wins = coverage[j] > coverage[i]  # a tie goes to i, given first
            places[i] += later_wins
            places[j] += ~later_wins
    return places


def _metadata(layer_name: str, names: list[str], ids: list[CryptomatteId]) -> dict[str, str]:
    prefix = f"cryptomatte/{layer_key(layer_name)}"
    manifest = {name: cid.hex for name, cid in zip(names, ids)}
    return {
        f"{prefix}/name": layer_name,
        f"{prefix}/hash": HASH_NAME,
        f"{prefix}/conversion": CONVERSION_NAME,
        f"{prefix}/manifest": json.dumps(manifest, ensure_ascii=False, separators=(",", ":")),
    }


def _format_name(channel_format: object) -> str:
    """OpenImageIO's name for a channel format given as TypeDesc, BASETYPE, name or numpy dtype."""
    if isinstance(channel_format, (np.dtype, type)):
        dtype = np.dtype(channel_format)
        return _NUMPY_FORMAT_NAMES.get(dtype, dtype.name)
    return str(oiio.TypeDesc(channel_format))
