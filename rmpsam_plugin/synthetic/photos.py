"""Photographic textures for the plate style: crops of the sample photographs scikit-image ships.

Procedural textures (`textures.py`) have none of the statistics of real plates: no natural edges,
no objects in the background that look like foreground, no fur, foliage or specular detail. The
plate style textures backgrounds and objects with random crops of real photographs instead. They
come from scikit-image's bundled samples: files inside its wheel, verified against the hashes it
records, so no download is ever needed and a seed always gives the same crop. scikit-image is an
optional extra (`pip install "rmpsam-matte[train]"`), needed only to *generate* plate-style shots.

Photographs are display-referred 8-bit sRGB; they are linearised with the same 2.2 power the
procedural palettes use (`textures.random_palette`), so both kinds of texture live in the same
scene-linear range.
"""

from __future__ import annotations

import functools

import cv2
import numpy as np

PHOTO_NAMES: tuple[str, ...] = (
    "astronaut", "coffee", "chelsea", "rocket", "camera", "brick", "grass", "gravel", "coins", "moon",
    "stereo_motorcycle",
)
"""scikit-image sample loaders whose files ship inside the wheel (no download): photographs, not
diagrams or micrographs. Order matters: a seed picks a photograph by its index here."""

INSTALL_HINT = 'pip install "rmpsam-matte[train]"'


class PlateStyleUnavailable(ImportError):
    """The plate style was asked for but scikit-image (its photographs) is not installed."""


@functools.lru_cache(maxsize=1)
def load_photos() -> tuple[np.ndarray, ...]:
    """The sample photographs as uint8 (H, W, 3) display sRGB arrays, loaded once per process.

    Greyscale samples are repeated to three channels (the colour jitter tints them).
    """
    try:
        from skimage import data
    except ImportError as error:
        raise PlateStyleUnavailable(
            f'style="plate" draws textures from scikit-image\'s sample photographs, and scikit-image is not '
            f"installed: {INSTALL_HINT}"
        ) from error
    photos = []
    for name in PHOTO_NAMES:
        image = getattr(data, name)()
        if isinstance(image, tuple):  # stereo_motorcycle: (left, right, disparity)
            image = image[0]
        image = np.asarray(image, np.uint8)
        if image.ndim == 2:
            image = np.repeat(image[..., None], 3, axis=2)
        photos.append(np.ascontiguousarray(image[..., :3]))
    return tuple(photos)


def random_photo_texture(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """A float32 (height, width, 3) scene-linear texture: a photograph cropped, scaled, flipped and jittered.

    The scale (output pixels per photo pixel) is drawn log-uniformly over a factor of three above
    the least that covers the output, so crops range from most of the photograph to a close-up.
    """
    photos = load_photos()
    photo = photos[int(rng.integers(len(photos)))]
    rows, cols = photo.shape[:2]
    least = max(height / rows, width / cols)
    scale = least * float(np.exp(rng.uniform(0.0, np.log(3.0)))) * 1.01
    size = (max(int(np.ceil(cols * scale)), width), max(int(np.ceil(rows * scale)), height))
    interpolation = cv2.INTER_AREA if scale < 1.0 else cv2.INTER_LINEAR
    resized = cv2.resize(photo, size, interpolation=interpolation)
    top = int(rng.integers(0, resized.shape[0] - height + 1))
    left = int(rng.integers(0, resized.shape[1] - width + 1))
    crop = resized[top : top + height, left : left + width]
    if rng.random() < 0.5:
        crop = crop[:, ::-1]
    if rng.random() < 0.2:
        crop = crop[::-1]
    return _jittered_linear(rng, crop.astype(np.float32) / 255.0)


def _jittered_linear(rng: np.random.Generator, display: np.ndarray) -> np.ndarray:
    """Random saturation, white balance and exposure in display space, then linearised (2.2 power).

    Greyscale photographs get most of their colour here: a tint of up to +-25% per channel.
    """
    grey = display.mean(axis=2, keepdims=True)
    saturation = rng.uniform(0.5, 1.3)
    tint = rng.uniform(0.75, 1.25, 3).astype(np.float32)
    exposure = rng.uniform(0.6, 1.15)
    jittered = (grey + saturation * (display - grey)) * tint * exposure
    return np.ascontiguousarray(np.clip(jittered, 0.0, 1.0) ** 2.2, np.float32)
