"""What a frame's mattes do where several instances claim one pixel (`run --overlap`).

`independent` (each instance's matte as the network gave it) leaves overlapping soft edges, and
two instances that both claim a pixel at full strength, summing to more than one. `exclusive`
shares such a pixel among its claimants so that a frame's mattes sum to at most one.

The share follows the network's own evidence, as a softmax over the instances' logits with a
background logit of 0: each claimant gets `odds_i / (1 + sum of odds)`, with `odds = p / (1 - p)`
from its refined matte `p`. Why this rule and not plain normalisation (`p_i / sum p`, what the
Cryptomatte encoder does to overlaps):
- each instance's sigmoid is the network saying "this instance, not background"; the softmax is
  the one joint reading of those binary answers that keeps background as a class, and for a
  single claimant it is the sigmoid itself (`odds / (1 + odds) = p`);
- it follows confidence, not just ratios: an occluder at 0.99 over a hidden object at 0.3 keeps
  0.986 and leaves the other 0.004 (normalisation would hand the hidden object 0.23); two equal,
  confident claims split a pixel evenly, and two weak ones leave background its share.

Guarantees, which tests check on written files:
- a pixel claimed by one instance alone keeps that instance's matte unchanged (clipped to 0..1,
  as the writer stores it);
- coverage below the Cryptomatte's floor (`cryptomatte.COVERAGE_FLOOR`, 1/2048, invisible in a
  comp) is zero, as the Cryptomatte stores it;
- shared pixels are rounded down to half precision, which either matte type stores exactly, so the
  stored mattes of a pixel sum to at most 1 in any order of float32 additions (half values are
  multiples of 2**-24, and so is every partial sum, which is exact up to 1);
together these mean the Cryptomatte encoder neither floors nor normalises anything, and a matte
picked from it equals the instance's layer bit for bit wherever at most as many instances cover a
pixel as the Cryptomatte has ranks (six).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from rmpsam_plugin.cryptomatte import COVERAGE_FLOOR

OVERLAPS = ("independent", "exclusive")
DEFAULT_OVERLAP = "independent"  # measured: README, Overlaps
_CERTAIN = 1.0 - 2.0**-24  # a matte of exactly 1 has infinite odds: as certain as float32 can say short of it


def resolve_overlaps(mattes: Mapping[str, np.ndarray], overlap: str) -> dict[str, np.ndarray]:
    """The frame's mattes (instance -> HxW float32, all one size) under the `overlap` rule."""
    if overlap not in OVERLAPS:
        raise ValueError(f"overlap must be one of {', '.join(OVERLAPS)}, not {overlap!r}")
    if overlap == "independent" or not mattes:
        return dict(mattes)
    names = list(mattes)
    stack = np.clip(np.stack([np.asarray(mattes[name], dtype=np.float32) for name in names]), 0.0, 1.0)
    stack[stack < COVERAGE_FLOOR] = 0.0
    shared = np.flatnonzero(np.count_nonzero(stack.reshape(len(names), -1), axis=0) > 1)
    if shared.size:
        claims = stack.reshape(len(names), -1)[:, shared].astype(np.float64)
        odds = claims / (1.0 - np.minimum(claims, _CERTAIN))
        shares = odds / (1.0 + odds.sum(axis=0))
        shares[shares < COVERAGE_FLOOR] = 0.0
        stack.reshape(len(names), -1)[:, shared] = _floor_to_half(shares)
    return {name: stack[index] for index, name in enumerate(names)}


def _floor_to_half(values: np.ndarray) -> np.ndarray:
    """The largest half-precision value at or below each value, as float32 (exact: half fits in it)."""
    rounded = values.astype(np.float16)
    above = rounded.astype(np.float64) > values
    rounded[above] = np.nextafter(rounded[above], np.float16(0))
    return rounded.astype(np.float32)
