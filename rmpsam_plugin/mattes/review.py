"""Pictures of written mattes for people without a compositing package: dailies and contact sheets.

Each frame is the plate through the display transform the network sees (`images.colour`: display
sRGB, no tone mapping), each instance tinted in its own colour (`TINT_OPACITY` of the colour over
the plate, weighted by the matte, so soft edges show as soft) and outlined where its matte crosses
0.5 (the threshold J and F are scored at), its name in the middle of its matte, the frame number in
the corner and, on the keyframes of a prompt file, a marker and the names of the instances keyed
there. Anamorphic frames are desqueezed to square pixels, as a viewer shows them.

Which plate: `plate` if given (a pattern as `run` takes it), else the frame each matte file was made
from (its `rmpsam/sourceFrame` header attribute) while that file still exists, else mid grey.
Keyframes are not in the matte files (their header has the prompts' digest only), so they come
from the prompt file when one is given; the review checks that it is the one the mattes were made
with, by that digest.

Output: an mp4 (OpenCV's MPEG-4 Part 2 encoder, `mp4v`: the one opencv-python-headless ships that
needs no system codec; frames padded to even sizes, which it requires) or a contact sheet PNG
(frames in rows, each scaled to `tile_width`).
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import OpenImageIO as oiio

from rmpsam_plugin.errors import InputError, OutputError
from rmpsam_plugin.images.colour import to_network_rgb
from rmpsam_plugin.images.reader import PlateHeader, read_header, read_plate
from rmpsam_plugin.images.sequences import Sequence, find_sequence
from rmpsam_plugin.prompts import PromptFileError, UnknownInstanceError, load_prompts, prompts_digest

TINT_OPACITY = 0.5
PALETTE = (  # sRGB, 0..255: distinct hues that stay readable over a plate (Tableau 10)
    (31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189),
    (140, 86, 75), (227, 119, 194), (127, 127, 127), (188, 189, 34), (23, 190, 207),
)
MARKER = (255, 215, 0)  # keyframe marker, gold
GREY = 0.18 ** (1 / 2.2)  # display value of a mid-grey card, the background without a plate
VIDEO_FOURCC = "mp4v"
_FONT = cv2.FONT_HERSHEY_SIMPLEX


class ReviewInputError(InputError):
    """Matte files this review cannot read: not rmpsam-matte output, a missing layer, a foreign prompt file."""


@dataclass(frozen=True)
class ReviewFrame:
    """One frame to draw: the display-sRGB plate (H, W, 3) float32 in 0..1 and the mattes by instance."""

    frame: int
    plate: np.ndarray
    mattes: dict[str, np.ndarray]
    pixel_aspect: float


def instance_colour(index: int) -> tuple[int, int, int]:
    """The sRGB colour of the `index`-th instance of the matte files (their header's order)."""
    return PALETTE[index % len(PALETTE)]


def tint(plate: np.ndarray, mattes: Iterable[np.ndarray]) -> np.ndarray:
    """The plate (H, W, 3 display sRGB, 0..1) with each matte's colour laid over it, in instance
    order, as uint8 sRGB: `out = plate + opacity * matte * (colour - out)` per instance."""
    out = np.clip(plate, 0.0, 1.0).astype(np.float32) * 255.0
    for index, matte in enumerate(mattes):
        weight = (TINT_OPACITY * np.clip(matte, 0.0, 1.0))[..., None]
        out += weight * (np.asarray(instance_colour(index), np.float32) - out)
    return np.rint(out).astype(np.uint8)


class MatteSequence:
    """Written matte files: instance layers (`rmpsam/layers` in each header) read frame by frame."""

    def __init__(self, pattern: str | Path, plate: str | Path | None = None, colour_space: str | None = None) -> None:
        self.sequence: Sequence = find_sequence(str(pattern))
        if self.sequence.missing:
            raise ReviewInputError(f"{self.sequence.pattern}: frames {_ranges(self.sequence.missing)} are missing")
        attributes = read_header(self.sequence.path(self.sequence.first)).attributes
        if "rmpsam/layers" not in attributes:
            raise ReviewInputError(f"{self.sequence.path(self.sequence.first)} is not rmpsam-matte output "
                                   "(no rmpsam/layers in its header)")
        self.layers: dict[str, str] = json.loads(attributes["rmpsam/layers"])
        self.prompts_digest = attributes.get("rmpsam/promptsDigest")
        self.plates = find_sequence(str(plate)) if plate is not None else None
        self.colour_space = colour_space

    @property
    def names(self) -> list[str]:
        return list(self.layers)

    @property
    def frames(self) -> list[int]:
        return list(self.sequence.present)

    def read(self, frame: int) -> ReviewFrame:
        path = self.sequence.path(frame)
        header = read_header(path, frame)
        buffer = oiio.ImageBuf(str(path))
        spec = buffer.spec()
        display = oiio.ROI(spec.full_x, spec.full_x + spec.full_width, spec.full_y, spec.full_y + spec.full_height,
                           0, 1, 0, spec.nchannels)
        pixels = buffer.get_pixels(oiio.FLOAT, display).reshape(spec.full_height, spec.full_width, spec.nchannels)
        channels = list(spec.channelnames)
        missing = [f"{layer}.A" for layer in self.layers.values() if f"{layer}.A" not in channels]
        if missing:
            raise ReviewInputError(f"frame {frame}: {path} has no {', '.join(missing)}", path=path, frame=frame)
        mattes = {name: pixels[..., channels.index(f"{layer}.A")] for name, layer in self.layers.items()}
        plate = self._plate(frame, header)
        if plate is None:
            plate = np.full((spec.full_height, spec.full_width, 3), GREY, np.float32)
        elif plate.shape[:2] != (spec.full_height, spec.full_width):
            raise ReviewInputError(f"frame {frame}: plate is {plate.shape[1]}x{plate.shape[0]}, mattes "
                                   f"{spec.full_width}x{spec.full_height}", path=path, frame=frame)
        return ReviewFrame(frame, plate, mattes, header.pixel_aspect)

    def _plate(self, frame: int, header: PlateHeader) -> np.ndarray | None:
        if self.plates is not None:
            if frame not in self.plates.present:
                raise ReviewInputError(f"frame {frame} of the mattes has no plate in {self.plates.pattern}", frame=frame)
            return to_network_rgb(read_plate(self.plates.path(frame), "rgba", frame=frame), self.colour_space)
        source = header.attributes.get("rmpsam/sourceFrame")
        if source and os.path.isfile(source):
            return to_network_rgb(read_plate(source, "rgba", frame=frame), self.colour_space)
        if "rgba" in header.layers:  # written with --passthrough
            return to_network_rgb(read_plate(header.path, "rgba", frame=frame), self.colour_space)
        return None


def keyframes_from_prompts(path: str | Path, mattes: MatteSequence) -> dict[int, list[str]]:
    """Frame -> instances keyed on it, from the prompt file the mattes were made with."""
    try:
        prompts = load_prompts(Path(path)).subset(mattes.names)  # a run may have matted some instances only
    except (PromptFileError, UnknownInstanceError) as error:
        raise ReviewInputError(f"{path}: {error}", path=path) from None
    if mattes.prompts_digest and prompts_digest(prompts) != mattes.prompts_digest:
        raise ReviewInputError(f"{path} is not the prompt file these mattes were made with (digest differs)", path=path)
    keyed: dict[int, list[str]] = {}
    for track in prompts.instances:
        for frame in track.keyframes:
            keyed.setdefault(frame, []).append(track.name)
    return keyed


def draw_frame(frame: ReviewFrame, names: list[str], keyed: list[str], width: int | None = None) -> np.ndarray:
    """The annotated frame (module docstring) as uint8 BGR, desqueezed, `width` wide if given (a
    contact sheet's tile: lines and names are drawn at the size they are seen)."""
    rgb = tint(frame.plate, [frame.mattes[name] for name in names])
    stored_height, stored_width = rgb.shape[:2]
    shown_width = max(1, round(stored_width * frame.pixel_aspect))
    height = stored_height if width is None else max(1, round(stored_height * width / shown_width))
    shown_width = width or shown_width
    masks = {name: frame.mattes[name] > 0.5 for name in names}
    if (height, shown_width) != (stored_height, stored_width):
        rgb = cv2.resize(rgb, (shown_width, height), interpolation=cv2.INTER_AREA)
        masks = {name: cv2.resize(mask.astype(np.uint8), (shown_width, height), interpolation=cv2.INTER_NEAREST) > 0
                 for name, mask in masks.items()}
    bgr = np.ascontiguousarray(rgb[..., ::-1])
    scale = max(0.4, height / 600)
    for index, name in enumerate(names):
        colour = instance_colour(index)[::-1]
        contours, _ = cv2.findContours(masks[name].astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
        cv2.drawContours(bgr, contours, -1, colour, max(1, round(2 * scale)), lineType=cv2.LINE_AA)
        rows, columns = np.nonzero(masks[name])
        if rows.size:  # the name centred on the matte's pixel nearest its centre of mass, kept inside the frame
            nearest = np.argmin((rows - rows.mean()) ** 2 + (columns - columns.mean()) ** 2)
            label = f"{name} (key)" if name in keyed else name
            (text_width, text_height), _ = cv2.getTextSize(label, _FONT, scale, 1)
            x = min(max(int(columns[nearest]) - text_width // 2, 2), max(2, shown_width - text_width - 2))
            y = min(max(int(rows[nearest]) + text_height // 2, text_height + 2), height - 3)
            _text(bgr, label, (x, y), scale, colour)
    _text(bgr, str(frame.frame), (int(8 * scale), int(26 * scale)), scale * 1.3, (255, 255, 255))
    if keyed:
        x = int(8 * scale) + cv2.getTextSize(str(frame.frame), _FONT, scale * 1.3, 1)[0][0] + int(10 * scale)
        radius = int(8 * scale) + 2
        centre = (x + radius, int(26 * scale) - radius + 2)
        diamond = np.array([(centre[0], centre[1] - radius), (centre[0] + radius, centre[1]),
                            (centre[0], centre[1] + radius), (centre[0] - radius, centre[1])], np.int32)
        cv2.fillConvexPoly(bgr, diamond, MARKER[::-1], lineType=cv2.LINE_AA)
        _text(bgr, "KEY", (x + 2 * radius + int(6 * scale), int(26 * scale)), scale, MARKER[::-1])
    return bgr


def _text(image: np.ndarray, text: str, origin: tuple[int, int], scale: float, colour: tuple[int, int, int]) -> None:
    """Text with a dark outline, readable over any plate (Hershey fonts: ASCII only, others shown as '?')."""
    text = text.encode("ascii", "replace").decode()
    thickness = max(1, round(scale * 1.5))
    cv2.putText(image, text, origin, _FONT, scale, (0, 0, 0), thickness + 2, cv2.LINE_AA)
    cv2.putText(image, text, origin, _FONT, scale, colour, thickness, cv2.LINE_AA)


def write_review(mattes: MatteSequence, output: str | Path, *, frames: list[int] | None = None,
                 keyframes: dict[int, list[str]] | None = None, fps: float = 24.0, tile_width: int = 320,
                 columns: int = 4, on_frame: Callable[[int], None] | None = None) -> Path:
    """Draw `frames` (default: all) into `output`, an .mp4 or a contact-sheet .png; returns its path.
    `on_frame(frame)` after each frame is drawn (the command's progress bar)."""
    output = Path(output)
    kind = output.suffix.lower()
    if kind not in (".mp4", ".png"):
        raise ValueError(f"review output must end in .mp4 or .png, not {output.name!r}")
    chosen = frames if frames is not None else mattes.frames
    if not chosen:
        raise ReviewInputError("no frames to review")
    tile = tile_width if kind == ".png" else None
    drawn = (_drawn(mattes, frame, keyframes or {}, tile, on_frame) for frame in chosen)
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise OutputError(f"cannot create {output.parent}: {error.strerror or error}", path=output) from None
    if kind == ".mp4":
        _write_video(drawn, output, fps)
    else:
        _write_sheet(list(drawn), output, tile_width, columns)
    return output


def _drawn(mattes: MatteSequence, frame: int, keyframes: dict[int, list[str]], width: int | None,
           on_frame) -> np.ndarray:
    image = draw_frame(mattes.read(frame), mattes.names, keyframes.get(frame, []), width)
    if on_frame:
        on_frame(frame)
    return image


def _write_video(images: Iterable[np.ndarray], output: Path, fps: float) -> None:
    writer = None
    try:
        for image in images:
            height, width = image.shape[:2]
            even = np.zeros((height + height % 2, width + width % 2, 3), np.uint8)
            even[:height, :width] = image
            if writer is None:
                writer = cv2.VideoWriter(str(output), cv2.VideoWriter_fourcc(*VIDEO_FOURCC), fps, even.shape[1::-1])
                if not writer.isOpened():
                    raise OutputError(f"cannot write {output}: OpenCV's {VIDEO_FOURCC} writer did not open", path=output)
            writer.write(even)
    finally:
        if writer is not None:
            writer.release()


def _write_sheet(images: list[np.ndarray], output: Path, tile_width: int, columns: int) -> None:
    """Tiles of `tile_width` (the frames are drawn at that width) in rows of `columns`."""
    tile_height = images[0].shape[0]
    columns = min(columns, len(images))
    rows = math.ceil(len(images) / columns)
    sheet = np.zeros((rows * tile_height, columns * tile_width, 3), np.uint8)
    for index, image in enumerate(images):
        row, column = divmod(index, columns)
        sheet[row * tile_height:(row + 1) * tile_height, column * tile_width:(column + 1) * tile_width] = image
    if not cv2.imwrite(str(output), sheet, [cv2.IMWRITE_PNG_COMPRESSION, 9]):
        raise OutputError(f"cannot write {output}", path=output)


def _ranges(frames: Iterable[int]) -> str:
    return ", ".join(map(str, frames))
