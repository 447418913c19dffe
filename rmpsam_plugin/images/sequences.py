"""Image sequences: parse a pattern, find its frames on disk, and check them before any work.

Accepted forms (all through `fileseq`):
- `shot.####.exr`, `shot.%04d.exr`, `shot.$F4.exr`: four-digit padding (Nuke, printf, Houdini);
- `shot.@.exr`, `shot.#.exr`, `shot.%d.exr`, `shot.$F.exr`: unpadded frame numbers;
- `shot.1001-1100#.exr`, `shot.1001-1050,1060-1100####.exr`: an explicit frame range (fileseq
  syntax); frames of the range that are absent are *missing*;
- a directory holding exactly one image sequence;
- one numbered file (`shot.1001.exr`): a one-frame sequence;
- one file without a frame number (`plate.exr`): a still, frame 1.

Padding follows Nuke, i.e. fileseq's `PAD_STYLE_HASH1`: every `#` or `@` is one digit of minimum
width, so `####` is four digits and `@` is unpadded. (fileseq's own default reads `#` as four
digits, which would make `####` sixteen.) A file belongs to a sequence only when formatting its
frame number with the pattern gives back exactly its name: `shot.0001.exr` is not frame 1 of
`shot.@.exr`, and `shot.10000.exr` is frame 10000 of `shot.####.exr`.

`inspect_sequence` opens every frame and returns a `SequenceReport` of missing frames, mixed
resolutions, mixed file formats (a PNG renamed `.exr` among EXRs, which OpenImageIO would read
silently by its content), unreadable files and unknown layers, so a job fails in seconds rather than after
hours of inference on the frame before the hole.
"""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import fileseq
import OpenImageIO as oiio

from rmpsam_plugin.errors import InputError, PlateError, SequenceError
from rmpsam_plugin.images.reader import (
    DEFAULT_LAYER,
    PlateHeader,
    read_header,
    read_plate,
)
from rmpsam_plugin.printable import printable

PAD_STYLE = fileseq.PAD_STYLE_HASH1
# A file without a frame number is a still: frame 1, the range Nuke gives a Read of a still.
STILL_FRAME = 1


def _image_extensions() -> frozenset[str]:
    """Every extension OpenImageIO can read ('openexr:exr,sxr;tiff:tif,...'), with the dot."""
    listing = oiio.get_string_attribute("extension_list")
    return frozenset("." + ext.lower() for entry in listing.split(";") for ext in entry.partition(":")[2].split(","))


IMAGE_EXTENSIONS = _image_extensions()


@dataclass(frozen=True)
class Sequence:
    """Frames of one image sequence: the ones asked for and the ones on disk."""

    pattern: str  # with Nuke-style padding and no range, e.g. '/plates/shot.####.exr'
    requested: tuple[int, ...]  # the explicit range, or every frame from the first to the last found
    present: tuple[int, ...]  # frames whose file exists
    _template: fileseq.FileSequence = field(repr=False, compare=False)

    @property
    def first(self) -> int:
        return self.requested[0]

    @property
    def last(self) -> int:
        return self.requested[-1]

    @property
    def missing(self) -> tuple[int, ...]:
        present = set(self.present)
        return tuple(frame for frame in self.requested if frame not in present)

    @property
    def gaps(self) -> list[tuple[int, int]]:
        """Runs of missing frames as inclusive (first, last) pairs."""
        runs: list[tuple[int, int]] = []
        for frame in self.missing:
            if runs and frame == runs[-1][1] + 1:
                runs[-1] = (runs[-1][0], frame)
            else:
                runs.append((frame, frame))
        return runs

    def path(self, frame: int) -> Path:
        return Path(self._template.frame(frame))


def _pattern_text(template: fileseq.FileSequence) -> str:
    """One spelling per sequence, Nuke's: `shot.%04d.exr` and `shot.$F4.exr` read `shot.####.exr`."""
    return f"{template.dirname()}{template.basename()}{'#' * template.zfill()}{template.extension()}"


def _from_template(template: fileseq.FileSequence, requested: list[int], present: list[int]) -> Sequence:
    return Sequence(_pattern_text(template), tuple(sorted(requested)), tuple(sorted(present)), template)


def _contiguous(frames: list[int]) -> list[int]:
    return list(range(min(frames), max(frames) + 1))


def _scan_directory(directory: Path) -> Sequence:
    """The one image sequence in `directory`; several or none is an error naming what was found."""
    found = [candidate for candidate in fileseq.findSequencesOnDisk(str(directory), pad_style=PAD_STYLE)
             if candidate.frameSet() is not None and candidate.extension().lower() in IMAGE_EXTENSIONS]
    if not found:
        raise SequenceError(f"no image sequence in directory {directory}", path=directory)
    if len(found) > 1:
        names = ", ".join(sorted(str(candidate) for candidate in found))
        raise SequenceError(f"several image sequences in directory {directory}: {names}; name one", path=directory)
    frames = list(found[0].frameSet())
    return _from_template(found[0], _contiguous(frames), frames)


def find_sequence(spec: str | Path) -> Sequence:
    """Parse a pattern, explicit range, directory or numbered file and look for its frames."""
    spec_path = Path(spec)
    if spec_path.is_dir():
        return _scan_directory(spec_path)
    template = fileseq.FileSequence(str(spec), pad_style=PAD_STYLE)
    if not template.padding():
        if not spec_path.is_file():
            raise SequenceError(f"no such file or directory, and no frame padding (####, %04d, $F4, @): '{spec}'",
                                path=spec)
        return _from_template(template, [STILL_FRAME], [STILL_FRAME])
    explicit = template.frameSet()
    if explicit is not None:
        requested = list(explicit)
        present = [frame for frame in requested if Path(template.frame(frame)).is_file()]
        return _from_template(template, requested, present)
    try:
        on_disk = fileseq.findSequenceOnDisk(str(spec), strictPadding=True, pad_style=PAD_STYLE)
    except fileseq.FileSeqException:
        raise SequenceError(f"no frames on disk match '{spec}'", path=spec) from None
    frames = list(on_disk.frameSet() or [])
    if not frames:
        raise SequenceError(f"no frames on disk match '{spec}'", path=spec)
    return _from_template(template, _contiguous(frames), frames)


@dataclass
class SequenceReport:
    """Everything `inspect_sequence` learnt, problems first-frame-first.

    `problems` are the exceptions a job would raise, each naming its frame and file; `raise_first`
    raises the earliest so a one-line error points at the first frame to fix.
    """

    sequence: Sequence
    layer: str
    headers: dict[int, PlateHeader]
    problems: list[InputError]
    nonfinite_counts: dict[int, int]  # frames whose pixels held NaN/Inf, with the count replaced

    @property
    def ok(self) -> bool:
        return not self.problems

    def raise_first(self) -> None:
        if self.problems:
            raise self.problems[0]


def _check_frame(sequence: Sequence, frame: int, layer: str, read_pixels: bool) -> tuple[PlateHeader, int]:
    """Header of a frame and its NaN/Inf count, reading the layer's pixels when asked."""
    path = sequence.path(frame)
    if read_pixels:
        plate = read_plate(path, layer, frame=frame)
        return plate.header, plate.nonfinite_count
    header = read_header(path, frame)
    header.layer(layer, frame)
    return header, 0


def inspect_sequence(sequence: Sequence, layer: str = DEFAULT_LAYER, *, allow_gaps: bool = False,
                     read_pixels: bool = True, workers: int = 4) -> SequenceReport:
    """Check every frame: present (unless `allow_gaps`), readable, holding `layer`, one resolution.

    With `read_pixels` every frame's layer is decoded, which is what catches a truncated file
    (its header is intact); without it only headers are read. Frames are checked on a few threads
    because OpenImageIO decodes without holding the GIL.
    """
    problems: list[InputError] = []
    if not allow_gaps:
        problems += [SequenceError(f"frame {frame} is missing: {sequence.path(frame)}",
                                   path=sequence.path(frame), frame=frame) for frame in sequence.missing]
    headers: dict[int, PlateHeader] = {}
    nonfinite: dict[int, int] = {}

    def check(frame: int) -> tuple[int, PlateHeader | None, int, InputError | None]:
        try:
            return (frame, *_check_frame(sequence, frame, layer, read_pixels), None)
        except PlateError as error:
            return frame, None, 0, error

    with ThreadPoolExecutor(max_workers=workers) as pool:
        for frame, header, count, error in pool.map(check, sequence.present):
            if error is not None:
                problems.append(error)
                continue
            headers[frame] = header
            if count:
                nonfinite[frame] = count
    problems += _mixed_geometry(headers) + _mixed_formats(headers)
    problems.sort(key=lambda problem: problem.frame if problem.frame is not None else sequence.first)
    return SequenceReport(sequence, layer, headers, problems, nonfinite)


def _mixed_geometry(headers: dict[int, PlateHeader]) -> list[InputError]:
    """Frames whose display window or pixel aspect differ from the first frame's.

    Data windows may change per frame (renders crop to the bounding box); the frame may not.
    """
    if not headers:
        return []
    first_frame = min(headers)
    reference = headers[first_frame]
    expected = (reference.display_window.width, reference.display_window.height, reference.pixel_aspect)
    problems: list[InputError] = []
    for frame, header in sorted(headers.items()):
        found = (header.display_window.width, header.display_window.height, header.pixel_aspect)
        if found != expected:
            problems.append(SequenceError(
                f"mixed resolutions: frame {frame} is {found[0]}x{found[1]} (pixel aspect {found[2]:g}) "
                f"but frame {first_frame} is {expected[0]}x{expected[1]} (pixel aspect {expected[2]:g}): {header.path}",
                path=header.path, frame=frame))
    return problems


def _mixed_formats(headers: dict[int, PlateHeader]) -> list[InputError]:
    """Frames whose file format (by content, not name) differs from most of the sequence's: a PNG
    renamed `.exr` would otherwise be read as a PNG, display-referred and 8-bit, without a word."""
    counts = Counter(header.format_name for header in headers.values())
    if len(counts) < 2:
        return []
    expected = counts.most_common(1)[0][0]
    return [
        SequenceError(
            f"frame {frame} holds {header.format_name} data, but the rest of the sequence is {expected}: "
            f"{printable(header.path)} (renamed from another format?)",
            path=header.path, frame=frame)
        for frame, header in sorted(headers.items()) if header.format_name != expected
    ]
