"""Synthetic shots on disk, as a pipeline would deliver them: linear EXR sequences plus ground truth.

Per frame N (from `first_frame`):
    <name>.NNNN.exr     plate, half RGBA (A = 1), scene-linear Rec.709
    <name>_gt.NNNN.exr  ground truth, one half channel `<instance>.A` per instance
and <name>.json describing the instances.

Both files share their windows. With overscan the data window extends `overscan` stored pixels
beyond the display window (the frame) on every side and holds real picture, re-rendered from the
shot's scene on a larger canvas. With a pixel aspect other than 1 the header says so and the
stored image is the desqueezed render squeezed horizontally, as an anamorphic scan would be.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import OpenImageIO as oiio

from .anamorphic import squeeze, squeezed_width
from .render import render_shot
from .shot import SyntheticShot
from .sprites import Canvas

COLOUR_SPACE = "lin_rec709_scene"


@dataclass(frozen=True)
class WrittenShot:
    """Paths of a written shot, frame-ordered."""

    plate: tuple[Path, ...]
    ground_truth: tuple[Path, ...]
    sidecar: Path


def write_shot(
    shot: SyntheticShot,
    directory: str | Path,
    name: str,
    first_frame: int = 1001,
    overscan: int = 0,
    pixel_aspect: float = 1.0,
) -> WrittenShot:
    """Write `shot` as EXR sequences and a JSON sidecar into `directory` (created if missing).

    `overscan` is in stored pixels. The display window is the shot's frame, `squeezed_width(width,
    pixel_aspect)` wide; the data window adds `overscan` on every side.
    """
    if overscan < 0:
        raise ValueError(f"overscan must be >= 0, got {overscan}")
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    frames, mattes = _render_for_storage(shot, overscan, pixel_aspect)
    display_width = squeezed_width(shot.width, pixel_aspect)
    plate_paths, truth_paths = [], []
    for index in range(shot.num_frames):
        frame_number = first_frame + index
        opaque = np.ones(frames.shape[1:3] + (1,), np.float32)
        plate_path = directory / f"{name}.{frame_number:04d}.exr"
        truth_path = directory / f"{name}_gt.{frame_number:04d}.exr"
        _write_exr(
            plate_path,
            np.concatenate([frames[index], opaque], axis=2),
            ("R", "G", "B", "A"),
            overscan,
            display_width,
            shot.height,
            pixel_aspect,
            {"oiio:ColorSpace": COLOUR_SPACE},
        )
        _write_exr(
            truth_path,
            np.ascontiguousarray(np.moveaxis(mattes[index], 0, -1)),
            tuple(f"{instance}.A" for instance in shot.names),
            overscan,
            display_width,
            shot.height,
            pixel_aspect,
            {},
        )
        plate_paths.append(plate_path)
        truth_paths.append(truth_path)
    sidecar = directory / f"{name}.json"
    sidecar.write_text(json.dumps(_describe(shot, name, first_frame, overscan, pixel_aspect, display_width), indent=2))
    return WrittenShot(tuple(plate_paths), tuple(truth_paths), sidecar)


def _render_for_storage(shot: SyntheticShot, overscan: int, pixel_aspect: float) -> tuple[np.ndarray, np.ndarray]:
    """Frames (T, h, w, 3) and mattes (T, K, h, w) covering the data window, squeezed if anamorphic."""
    if overscan:
        overscan_x = int(round(overscan * pixel_aspect))  # desqueezed columns per stored overscan column
        canvas = Canvas(-overscan_x, -overscan, shot.width + 2 * overscan_x, shot.height + 2 * overscan)
        frames, mattes, _ = render_shot(shot.scene, canvas, shot.shutter, shot.blur_samples)
    else:
        frames, mattes = shot.frames, shot.mattes
    stored_width = squeezed_width(shot.width, pixel_aspect) + 2 * overscan
    if stored_width != frames.shape[2]:
        frames = np.stack([squeeze(frame, stored_width) for frame in frames])
        mattes = np.stack([np.moveaxis(squeeze(np.moveaxis(m, 0, -1), stored_width), -1, 0) for m in mattes])
    return frames, mattes


def _write_exr(
    path: Path,
    pixels: np.ndarray,
    channel_names: tuple[str, ...],
    overscan: int,
    display_width: int,
    display_height: int,
    pixel_aspect: float,
    attributes: dict[str, str],
) -> None:
    height, width, channels = pixels.shape
    spec = oiio.ImageSpec(width, height, channels, oiio.HALF)
    spec.x, spec.y = -overscan, -overscan
    spec.full_x, spec.full_y = 0, 0
    spec.full_width, spec.full_height = display_width, display_height
    spec.channelnames = channel_names
    spec.attribute("PixelAspectRatio", float(pixel_aspect))
    spec.attribute("compression", "zip")
    for key, value in attributes.items():
        spec.attribute(key, value)
    output = oiio.ImageOutput.create(str(path))
    if output is None or not output.open(str(path), spec):
        raise OSError(f"cannot open {path} for writing: {oiio.geterror()}")
    try:
        if not output.write_image(pixels.astype(np.float32, copy=False)):
            raise OSError(f"cannot write {path}: {output.geterror()}")
    finally:
        output.close()


def _describe(
    shot: SyntheticShot, name: str, first_frame: int, overscan: int, pixel_aspect: float, display_width: int
) -> dict:
    depth_rank = {k: rank for rank, k in enumerate(shot.scene.front_to_back)}
    return {
        "name": name,
        "seed": shot.seed,
        "plate": f"{name}.####.exr",
        "ground_truth": f"{name}_gt.####.exr",
        "first_frame": first_frame,
        "last_frame": first_frame + shot.num_frames - 1,
        "display_size": [display_width, shot.height],
        "overscan": overscan,
        "pixel_aspect": pixel_aspect,
        "colour_space": COLOUR_SPACE,
        "instances": [
            {
                "name": instance,
                "id": int(shot.ids[k]),
                "class": shot.classes[k],
                "class_id": int(shot.class_ids[k]),
                "channel": f"{instance}.A",
                "depth_rank": depth_rank[k],
                "frames_visible": [first_frame + int(i) for i in np.flatnonzero(shot.visible[:, k])],
            }
            for k, instance in enumerate(shot.names)
        ],
    }
