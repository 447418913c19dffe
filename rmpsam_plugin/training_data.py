"""Data sources for `rmpsam_model.training`: synthetic shots, and a studio's plates with mattes.

The trainer asks `source(step)` for a `TrainingBatch` of network-ready images and per-instance
soft mattes. Both sources here turn their pixels into what the network sees at inference through
the pipeline's own colour path (`colour.convert`, scene-linear -> display sRGB, clipped) and the
model's own `prepare_image`, so training and inference read plates the same way.

Seeds: synthetic training shots use seeds from `TRAIN_SEED_BASE` up; the quality benchmark uses
seeds below it, so evaluation shots are never trained on.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Sequence as TypingSequence

import numpy as np
import torch

from rmpsam_model.preprocess import InferenceGeometry, InferenceSize, prepare_image
from rmpsam_model.training import TrainingBatch
from rmpsam_plugin.images.colour import linear_to_network_rgb, to_network_rgb
from rmpsam_plugin.images.reader import read_header, read_plate
from rmpsam_plugin.images.sequences import find_sequence
from rmpsam_plugin.synthetic import CLASS_NAMES, generate_shot

TRAIN_SEED_BASE = 10_000_000
SEEDS_PER_RUN_SEED = 100_000_000
"""Shots of runs with different `--seed` lie this far apart."""
CONTINUED_RUN_OFFSET = 10_000_000
"""A run that starts from earlier weights (`--init`) draws its shots this far above a fresh run's
(room for 1.25 million steps of 8 images before the two would meet)."""

DATA_STYLES = ("procedural", "plate", "mixed")
"""What `SyntheticImageSource` draws: procedural shots, plate-style shots (photographs, camera motion,
defocus, grain, thin and holed shapes; needs the `train` extra), or the two alternating by seed."""
UNKNOWN_CLASS = -1
"""Class index of an instance whose name matches no class: trained through prompts only."""


def synthetic_seed_offset(seed: int, continued: bool) -> int:
    """Where a training run's shots start above `TRAIN_SEED_BASE`.

    Both `--seed` and `--init` move it, so a chain of runs (a fresh one, then runs that start from
    the previous one's weights, each with its own `--seed`) never trains on a shot twice. Seed 0
    keeps the offsets of the original recipe (0 fresh, `CONTINUED_RUN_OFFSET` continued)."""
    return seed * SEEDS_PER_RUN_SEED + (CONTINUED_RUN_OFFSET if continued else 0)


def random_class_table(num_classes: int, text_dim: int, seed: int = 0) -> torch.Tensor:
    """A fixed (classes, 1, D) table of random unit vectors standing in for text embeddings of
    class names the network has never read (synthetic shape families). In D >= 32 random unit
    vectors are nearly orthogonal, so each class gets its own direction."""
    generator = torch.Generator().manual_seed(seed)
    table = torch.randn(num_classes, 1, text_dim, generator=generator)
    return torch.nn.functional.normalize(table, dim=-1)


def _to_batch(images: list[np.ndarray], mattes: list[np.ndarray], classes: list[np.ndarray],
              size: InferenceSize) -> TrainingBatch:
    """Display RGB frames (H, W, 3) and mattes (K, H, W) -> resized, normalised, padded tensors."""
    height, width = images[0].shape[:2]
    geometry = InferenceGeometry.for_image(height, width, size)
    tensors = torch.stack([prepare_image(image, geometry) for image in images])
    return TrainingBatch(
        tensors,
        [_mattes_to_network(m, geometry) for m in mattes],
        [torch.as_tensor(c, dtype=torch.long) for c in classes],
        content_hw=geometry.resized_hw,
    )


def _mattes_to_network(mattes: np.ndarray, geometry: InferenceGeometry) -> torch.Tensor:
    """(K, H, W) mattes -> (K, Hp, Wp): resized like the image, zero in the padding."""
    tensor = torch.from_numpy(np.ascontiguousarray(mattes, np.float32))
    if geometry.resized_hw != geometry.original_hw and tensor.shape[0]:
        tensor = torch.nn.functional.interpolate(tensor[None], size=geometry.resized_hw, mode="bilinear",
                                                 align_corners=False, antialias=True)[0]
    padded = tensor.new_zeros(tensor.shape[0], *geometry.padded_hw)
    padded[:, : geometry.resized_hw[0], : geometry.resized_hw[1]] = tensor.clamp(0.0, 1.0)
    return padded


@dataclass(frozen=True)
class SyntheticImageSource:
    """Single motion-blurred frames of fresh synthetic shots, `batch_size` per step, each from its
    own seed `TRAIN_SEED_BASE + seed_offset + step * batch_size + index` (never repeated).

    `style` is one of DATA_STYLES; "mixed" draws plate-style shots from odd seeds and procedural
    ones from even seeds, so half of every batch of two or more is each.

    With `clip_gap` > 0 the images come in pairs, two frames of one shot 1 to `clip_gap` frames
    apart (the later one first in half of the pairs, as a shot's last keyframe is propagated
    backwards), listed in `TrainingBatch.pairs` for the clip loss; pair j's shot has seed
    `TRAIN_SEED_BASE + seed_offset + step * batch_size + j`.

    `aspects` are the frames' width-to-height ratios, one per step in turn (short side
    `image_size`): plates are wide, and a network trained on square frames alone segments 16:9
    frames far worse than square ones (MODEL_CARD.md).

    `scales` multiply the short side, one per step in turn (independently of `aspects`): a
    network trained at one short side only finds objects at that size. Weights trained at 192
    alone placed a box's mask far from the box when run at 256 or 288 (MODEL_CARD.md, "One size
    only"), because nothing made them learn position from anything but the distance to the
    image's borders at that one size.

    `leave_fraction` of the pairs (chosen by seed) come from shots where one instance leaves the
    frame and comes back (`generate_shot(leave_and_return=True)`, 2 * gap + 1 frames): the keyframe
    is an end of the shot, with the instance in frame, and the other frame the middle, with the
    instance wholly outside it. Why: a tracker decoding a keyframe's queries on a frame that no
    longer holds the instance must claim nothing there, and plain pairs never show that (the
    demo's `rectangle_2` kept a claim at the edge where it left)."""

    batch_size: int
    image_size: int = 192
    min_objects: int = 1
    max_objects: int = 5
    seed_offset: int = 0
    style: str = "procedural"
    clip_gap: int = 0
    aspects: tuple[float, ...] = (1.0,)
    leave_fraction: float = 0.0
    scales: tuple[float, ...] = (1.0,)

    def __post_init__(self) -> None:
        if self.style not in DATA_STYLES:
            raise ValueError(f"unknown synthetic data style {self.style!r}; known: {', '.join(DATA_STYLES)}")
        if self.clip_gap < 0:
            raise ValueError(f"clip_gap must be 0 (single frames) or more, got {self.clip_gap}")
        if not 0.0 <= self.leave_fraction <= 1.0:
            raise ValueError(f"leave_fraction must be within 0..1, got {self.leave_fraction}")
        if not self.aspects or min(self.aspects) < 1.0:
            raise ValueError(f"aspects must be width-to-height ratios of 1 or more, got {self.aspects}")
        if not self.scales or min(self.scales) <= 0.0:
            raise ValueError(f"scales must be positive multiples of the image size, got {self.scales}")

    def short_side(self, step: int) -> int:
        """The frames' short side at `step`: `image_size` times that step's scale."""
        return round(self.image_size * self.scales[step % len(self.scales)])

    def shot_style(self, seed: int) -> str:
        """The `generate_shot` style of the shot drawn from `seed`."""
        if self.style == "mixed":
            return "plate" if seed % 2 else "procedural"
        return self.style

    def __call__(self, step: int) -> TrainingBatch:
        first_seed = TRAIN_SEED_BASE + self.seed_offset + step * self.batch_size
        pair_count = self.batch_size // 2 if self.clip_gap else 0
        height = self.short_side(step)
        width = round(height * self.aspects[step % len(self.aspects)])
        images, mattes, classes, pairs = [], [], [], []
        for index in range(pair_count):
            shot = self._pair_shot(first_seed + index, height, width)
            pairs.append((len(images), len(images) + 1))
            for frame in range(2):
                images.append(linear_to_network_rgb(shot.frames[frame]))
                mattes.append(shot.mattes[frame])
                classes.append(shot.class_ids)
        for index in range(2 * pair_count, self.batch_size):
            shot = self._shot(first_seed + index, (0,), height, width)
            images.append(linear_to_network_rgb(shot.frames[0]))
            mattes.append(shot.mattes[0])
            classes.append(shot.class_ids)
        batch = _to_batch(images, mattes, classes, InferenceSize(height, 4 * height))
        batch.pairs = tuple(pairs)
        return batch

    def pair_leaves(self, seed: int) -> bool:
        """Whether the pair drawn from `seed` comes from a shot one instance leaves."""
        return bool(np.random.default_rng((seed, 2)).random() < self.leave_fraction)

    def pair_frames(self, seed: int) -> tuple[tuple[int, int], int]:
        """(keyframe, other frame) indices of a pair's shot and the shot's length, a function of its
        seed only. A leaving pair's other frame is the middle of its shot, where the instance is out,
        at least 2 frames from its keyframe: leaving in one frame blurs it to a smear under half
        coverage even in the keyframe."""
        rng = np.random.default_rng((seed, 1))
        gap = int(rng.integers(1, self.clip_gap + 1))
        reverse = rng.random() < 0.5
        if self.pair_leaves(seed):
            gap = max(gap, 2)
            return ((2 * gap, gap) if reverse else (0, gap)), 2 * gap + 1
        return ((gap, 0) if reverse else (0, gap)), gap + 1

    def _pair_shot(self, seed: int, height: int, width: int):
        frames, length = self.pair_frames(seed)
        return self._shot(seed, frames, height, width, length, leave_and_return=self.pair_leaves(seed))

    def _shot(self, seed: int, frames: tuple[int, ...], height: int, width: int, length: int | None = None,
              **options):
        num_objects = self.min_objects + seed % (self.max_objects - self.min_objects + 1)
        return generate_shot(seed, length or max(frames) + 1, height, width, num_objects,
                             style=self.shot_style(seed), render_only=frames, **options)


class RepeatedBatch:
    """The first batch of `source`, returned at every step (`train synthetic --overfit-batch`).

    The overfitting check: a model and losses that can learn reach a near-perfect IoU on one fixed
    batch within a few hundred steps (the prompts still vary, drawn per step). When they do, a
    full run that stalls is limited by data, capacity or schedule, not by a bug in the losses."""

    def __init__(self, source) -> None:
        self.source = source
        self._batch: TrainingBatch | None = None

    def __call__(self, step: int) -> TrainingBatch:
        if self._batch is None:
            self._batch = self.source(0)
        return self._batch


def synthetic_class_names() -> list[str]:
    return list(CLASS_NAMES)


def class_index_for_layer(layer_name: str, class_names: TypingSequence[str]) -> int:
    """'car', 'car_2', 'car2', 'Car.A' -> the index of 'car' in `class_names`, else UNKNOWN_CLASS."""
    stem = re.sub(r"[_\d]+$", "", layer_name.split(".")[0]).replace("_", " ").strip().lower()
    lowered = [name.lower() for name in class_names]
    return lowered.index(stem) if stem in lowered else UNKNOWN_CLASS


@dataclass
class StudioFrame:
    image: np.ndarray  # (H, W, 3) display sRGB 0..1
    mattes: np.ndarray  # (K, H, W)
    classes: np.ndarray  # (K,) class indices or UNKNOWN_CLASS


def instance_layers(matte_path) -> list[str]:
    """Layers of a matte EXR that hold one instance each: every layer but `rgba` with an alpha."""
    header = read_header(matte_path)
    return sorted(name for name, layer in header.layers.items()
                  if name != "rgba" and ("A" in layer.components or len(layer.components) == 1))


def read_studio_frame(plate_path, matte_path, class_names: TypingSequence[str],
                      colour_space: str | None = None) -> StudioFrame:
    plate = read_plate(plate_path)
    image = to_network_rgb(plate, colour_space)
    layers = instance_layers(matte_path)
    mattes = []
    for name in layers:
        matte = read_plate(matte_path, name)
        channel = matte.component("A")
        mattes.append(channel if channel is not None else matte.pixels[..., 0])
    stacked = np.stack(mattes) if mattes else np.zeros((0, *image.shape[:2]), np.float32)
    if stacked.shape[1:] != image.shape[:2]:
        raise ValueError(f"{matte_path}: mattes are {stacked.shape[1:]}, plate {plate_path} is {image.shape[:2]}")
    classes = np.array([class_index_for_layer(name, class_names) for name in layers], np.int64)
    return StudioFrame(image, np.clip(stacked, 0.0, 1.0), classes)


class StudioSource:
    """A studio's plates and matte EXRs (one layer per instance, e.g. `car.A`), frames paired by
    number, read once into memory; each step draws `batch_size` frames at random (seeded by the
    step, so a resumed run sees the same batches) and flips half of them left-right."""

    def __init__(self, plates: str, mattes: str, class_names: TypingSequence[str], batch_size: int,
                 image_size: int = 576, seed: int = 0, colour_space: str | None = None) -> None:
        plate_sequence, matte_sequence = find_sequence(plates), find_sequence(mattes)
        frames = sorted(set(plate_sequence.present) & set(matte_sequence.present))
        if not frames:
            raise ValueError(f"no frame number has both a plate ({plates}) and a matte ({mattes})")
        self.frames = [read_studio_frame(plate_sequence.path(f), matte_sequence.path(f), class_names, colour_space)
                       for f in frames]
        self.batch_size = batch_size
        self.size = InferenceSize(image_size, 4 * image_size)
        self.seed = seed

    def __call__(self, step: int) -> TrainingBatch:
        rng = np.random.default_rng((self.seed, step))
        chosen = [self.frames[i] for i in rng.integers(len(self.frames), size=self.batch_size)]
        flips = rng.random(self.batch_size) < 0.5
        images = [f.image[:, ::-1] if flip else f.image for f, flip in zip(chosen, flips)]
        mattes = [f.mattes[:, :, ::-1] if flip else f.mattes for f, flip in zip(chosen, flips)]
        return _to_batch(images, mattes, [f.classes for f in chosen], self.size)
