"""The propagation cache: any instance name fits a file name, and a write that fails is a named error."""

from __future__ import annotations

import resource

import pytest
import torch

from rmpsam_plugin.errors import OutputError
from rmpsam_plugin.propagation.keyframe_decode import InstanceState
from rmpsam_plugin.propagation.pass_cache import PassCache


def a_state(seed: int) -> InstanceState:
    generator = torch.Generator().manual_seed(seed)
    logits = torch.randn(1, 6, 10, generator=generator)
    return InstanceState(torch.randn(1, 8, generator=generator), torch.tensor([True]), logits, logits[0], 0.25 + seed)


def assert_same_state(ours: InstanceState, theirs: InstanceState) -> None:
    for field in ("queries", "is_positive", "prompt_logits", "logits"):
        assert torch.equal(getattr(ours, field), getattr(theirs, field)), field
    assert ours.iou == theirs.iou


def test_a_230_character_name_round_trips(tmp_path):
    cache = PassCache(tmp_path)
    name = "very long instance name " * 10 + "x" * (230 - 240 % 230)
    cache.save("forward", name, 1001, a_state(1))
    assert_same_state(cache.load("forward", name, 1001), a_state(1))
    assert all(len(path.name) < 100 for path in tmp_path.iterdir())


def test_names_differing_only_in_unsafe_characters_do_not_share_files(tmp_path):
    cache = PassCache(tmp_path)
    cache.save("forward", "car/left", 7, a_state(1))
    cache.save("forward", "car left", 7, a_state(2))
    assert_same_state(cache.load("forward", "car/left", 7), a_state(1))
    assert_same_state(cache.load("forward", "car left", 7), a_state(2))


def test_an_unreadable_entry_is_recomputed_not_fatal(tmp_path):
    cache = PassCache(tmp_path)
    cache.save("backward", "car", 3, a_state(1))
    (path,) = tmp_path.iterdir()
    path.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json")
    assert cache.load("backward", "car", 3) is None


def test_a_failed_write_names_the_cache_and_leaves_no_temporary(tmp_path):
    cache = PassCache(tmp_path)
    limit = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (64, limit[1]))  # Python ignores SIGXFSZ: writes fail with EFBIG
    try:
        with pytest.raises(OutputError, match=r"cannot write the propagation cache in .* \(frame 12\): .*File too large"):
            cache.save("forward", "car", 12, a_state(1))
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, limit)
    assert list(tmp_path.iterdir()) == []
