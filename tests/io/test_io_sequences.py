"""Sequence patterns, discovery on disk, and the checks that run before any work."""

import pytest
from plate_files import truncate, write_sequence

from rmpsam_plugin.errors import LayerNotFoundError, PlateError, SequenceError
from rmpsam_plugin.images.sequences import STILL_FRAME, find_sequence, inspect_sequence


@pytest.mark.parametrize("pattern", ["shot.####.exr", "shot.%04d.exr", "shot.$F4.exr"])
def test_padded_patterns_find_the_same_frames(tmp_path, pattern):
    write_sequence(tmp_path, [1001, 1002, 1003])
    sequence = find_sequence(tmp_path / pattern)
    assert sequence.present == (1001, 1002, 1003)
    assert (sequence.first, sequence.last, sequence.missing) == (1001, 1003, ())
    assert sequence.path(1002) == tmp_path / "shot.1002.exr"
    assert sequence.pattern == str(tmp_path / "shot.####.exr")


@pytest.mark.parametrize("pattern", ["shot.@.exr", "shot.#.exr", "shot.%d.exr", "shot.$F.exr"])
def test_unpadded_patterns_match_only_unpadded_names(tmp_path, pattern):
    write_sequence(tmp_path, [8, 9, 10], padding=1)
    write_sequence(tmp_path, [1, 2], padding=4)  # shot.0001.exr is not frame 1 of an unpadded pattern
    sequence = find_sequence(tmp_path / pattern)
    assert sequence.present == (8, 9, 10)
    assert sequence.path(9) == tmp_path / "shot.9.exr"


def test_four_digit_padding_is_a_minimum_width(tmp_path):
    write_sequence(tmp_path, [9999, 10000])
    sequence = find_sequence(tmp_path / "shot.####.exr")
    assert sequence.present == (9999, 10000)
    assert sequence.path(10000).name == "shot.10000.exr"


def test_explicit_range_reports_missing_frames_and_gaps(tmp_path):
    write_sequence(tmp_path, [1001, 1002, 1004, 1008])
    sequence = find_sequence(tmp_path / "shot.1001-1010#.exr")
    assert sequence.requested == tuple(range(1001, 1011))
    assert sequence.present == (1001, 1002, 1004, 1008)
    assert sequence.missing == (1003, 1005, 1006, 1007, 1009, 1010)
    assert sequence.gaps == [(1003, 1003), (1005, 1007), (1009, 1010)]


def test_explicit_range_with_commas_ignores_frames_outside_it(tmp_path):
    write_sequence(tmp_path, [1001, 1002, 1003, 1005, 1006])
    sequence = find_sequence(tmp_path / "shot.1001-1002,1005####.exr")
    assert sequence.requested == (1001, 1002, 1005)
    assert sequence.present == (1001, 1002, 1005)


def test_directory_scan_finds_the_one_sequence(tmp_path):
    write_sequence(tmp_path, [5, 6, 8])
    (tmp_path / "notes.txt").write_text("not an image")
    sequence = find_sequence(tmp_path)
    assert sequence.present == (5, 6, 8)
    assert sequence.missing == (7,)
    assert sequence.pattern == str(tmp_path / "shot.####.exr")


def test_directory_with_two_sequences_names_both(tmp_path):
    write_sequence(tmp_path, [1, 2], name="plate")
    write_sequence(tmp_path, [1, 2], name="clean")
    with pytest.raises(SequenceError, match=r"several image sequences.*clean.*plate"):
        find_sequence(tmp_path)


def test_directory_without_images_is_an_error(tmp_path):
    (tmp_path / "readme.txt").write_text("hello")
    with pytest.raises(SequenceError, match="no image sequence in directory"):
        find_sequence(tmp_path)


def test_pattern_matching_nothing_is_an_error(tmp_path):
    with pytest.raises(SequenceError, match="no frames on disk match"):
        find_sequence(tmp_path / "shot.####.exr")


def test_numbered_file_is_a_one_frame_sequence_and_a_still_is_frame_one(tmp_path):
    [path] = write_sequence(tmp_path, [1042])
    assert find_sequence(path).present == (1042,)
    still = path.rename(tmp_path / "plate.exr")
    sequence = find_sequence(still)
    assert sequence.present == (STILL_FRAME,) and sequence.path(STILL_FRAME) == still


def test_inspect_names_the_missing_frame_and_its_file(tmp_path):
    write_sequence(tmp_path, [1001, 1002, 1004])
    report = inspect_sequence(find_sequence(tmp_path / "shot.####.exr"))
    assert not report.ok
    [problem] = report.problems
    assert isinstance(problem, SequenceError)
    assert problem.frame == 1003 and problem.path == tmp_path / "shot.1003.exr"
    assert str(problem) == f"frame 1003 is missing: {tmp_path / 'shot.1003.exr'}"
    with pytest.raises(SequenceError, match="frame 1003 is missing"):
        report.raise_first()
    assert inspect_sequence(find_sequence(tmp_path / "shot.####.exr"), allow_gaps=True).ok


def test_inspect_detects_mixed_resolutions_but_allows_varying_data_windows(tmp_path):
    write_sequence(tmp_path, [1, 2], width=32, height=16)
    write_sequence(tmp_path, [3], width=40, height=16)
    report = inspect_sequence(find_sequence(tmp_path / "shot.####.exr"))
    [problem] = report.problems
    assert problem.frame == 3 and problem.path == tmp_path / "shot.0003.exr"
    assert "mixed resolutions: frame 3 is 40x16" in str(problem) and "frame 1 is 32x16" in str(problem)


def test_inspect_detects_a_changed_pixel_aspect(tmp_path):
    write_sequence(tmp_path, [1, 2])
    write_sequence(tmp_path, [3], pixel_aspect=2.0)
    [problem] = inspect_sequence(find_sequence(tmp_path / "shot.####.exr")).problems
    assert problem.frame == 3 and "pixel aspect 2" in str(problem)


def test_inspect_reads_pixels_to_catch_a_truncated_frame(tmp_path):
    paths = write_sequence(tmp_path, [1, 2, 3], width=64, height=64)
    truncate(paths[1])
    sequence = find_sequence(tmp_path / "shot.####.exr")
    [problem] = inspect_sequence(sequence).problems
    assert isinstance(problem, PlateError) and problem.frame == 2 and problem.path == paths[1]
    assert "truncated or corrupt" in str(problem) and str(paths[1]) in str(problem)
    assert inspect_sequence(sequence, read_pixels=False).ok  # the header alone looks fine


def test_inspect_reports_a_missing_layer_per_frame_with_the_layers_present(tmp_path):
    write_sequence(tmp_path, [1, 2])
    report = inspect_sequence(find_sequence(tmp_path / "shot.####.exr"), layer="beauty")
    assert [problem.frame for problem in report.problems] == [1, 2]
    assert all(isinstance(problem, LayerNotFoundError) for problem in report.problems)
    assert report.problems[0].available == ["rgba"]


def test_inspect_counts_nan_and_inf_per_frame(tmp_path):
    import numpy as np
    from plate_files import write_exr

    write_sequence(tmp_path, [1, 2])
    pixels = np.zeros((16, 32, 4), np.float32)
    pixels[0, :3, 0] = [np.nan, np.inf, -np.inf]
    write_exr(tmp_path / "shot.0003.exr", pixels)
    report = inspect_sequence(find_sequence(tmp_path / "shot.####.exr"))
    assert report.ok and report.nonfinite_counts == {3: 3}
