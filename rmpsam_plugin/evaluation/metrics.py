"""Matte quality against ground truth: DAVIS J (region) and F (boundary), and dtSSD (stability).

J and F follow the DAVIS 2016/2017 evaluation code exactly (Perazzi et al., CVPR 2016):
- J is the IoU of the binary masks, 1 when both are empty;
- F is the F-measure of boundary precision and recall, a boundary pixel counting as matched when
  the other mask's boundary lies within `bound_th * image diagonal` pixels (bound_th = 0.008,
  rounded up), dilation with a disk; boundaries are DAVIS's `seg2bmap` (a pixel differing from its
  right, lower or lower-right neighbour).
dtSSD (Erofeev et al., "Perceptually motivated benchmark for video matting", 2015, as computed in
common video-matting evaluations) compares the frame-to-frame change of the soft matte with that of
the truth: per pair of consecutive frames the root-mean-square of (d alpha_pred - d alpha_true),
averaged over pairs, times 100. A prediction that flickers where the truth is still scores high; a
static perfect one scores 0.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

DAVIS_BOUNDARY_THRESHOLD = 0.008
"""Boundary tolerance as a share of the image diagonal (DAVIS `bound_th`)."""


def region_similarity(prediction: np.ndarray, truth: np.ndarray) -> float:
    """DAVIS J: IoU of two bool (H, W) masks; 1.0 when both are empty."""
    prediction, truth = prediction.astype(bool), truth.astype(bool)
    union = np.count_nonzero(prediction | truth)
    return 1.0 if union == 0 else np.count_nonzero(prediction & truth) / union


def boundary_map(mask: np.ndarray) -> np.ndarray:
    """DAVIS `seg2bmap` at the mask's own size: pixels whose right, lower or lower-right neighbour
    differs (the last row compares to the right only, the last column downward only)."""
    mask = mask.astype(bool)
    east = np.zeros_like(mask)
    south = np.zeros_like(mask)
    south_east = np.zeros_like(mask)
    east[:, :-1] = mask[:, 1:]
    south[:-1, :] = mask[1:, :]
    south_east[:-1, :-1] = mask[1:, 1:]
    boundary = (mask ^ east) | (mask ^ south) | (mask ^ south_east)
    boundary[-1, :] = mask[-1, :] ^ east[-1, :]
    boundary[:, -1] = mask[:, -1] ^ south[:, -1]
    boundary[-1, -1] = False
    return boundary


def disk(radius: int) -> np.ndarray:
    """uint8 structuring element of the pixels within `radius` of the centre (skimage's `disk`)."""
    offsets = np.arange(-radius, radius + 1)
    return (offsets[:, None] ** 2 + offsets[None, :] ** 2 <= radius**2).astype(np.uint8)


def boundary_tolerance_px(height: int, width: int, bound_th: float = DAVIS_BOUNDARY_THRESHOLD) -> int:
    """DAVIS: `bound_th` itself when >= 1 (pixels), else ceil(bound_th * diagonal)."""
    return int(bound_th) if bound_th >= 1 else int(math.ceil(bound_th * math.hypot(height, width)))


def boundary_f_measure(prediction: np.ndarray, truth: np.ndarray, bound_th: float = DAVIS_BOUNDARY_THRESHOLD) -> float:
    """DAVIS F for two bool (H, W) masks (module docstring)."""
    radius = boundary_tolerance_px(*truth.shape, bound_th)
    predicted_boundary = boundary_map(prediction)
    true_boundary = boundary_map(truth)
    element = disk(radius)
    predicted_dilated = cv2.dilate(predicted_boundary.astype(np.uint8), element).astype(bool)
    true_dilated = cv2.dilate(true_boundary.astype(np.uint8), element).astype(bool)
    num_predicted = np.count_nonzero(predicted_boundary)
    num_true = np.count_nonzero(true_boundary)
    if num_predicted == 0 and num_true == 0:
        precision = recall = 1.0
    elif num_predicted == 0:
        precision, recall = 1.0, 0.0
    elif num_true == 0:
        precision, recall = 0.0, 1.0
    else:
        precision = np.count_nonzero(predicted_boundary & true_dilated) / num_predicted
        recall = np.count_nonzero(true_boundary & predicted_dilated) / num_true
    return 0.0 if precision + recall == 0 else 2.0 * precision * recall / (precision + recall)


def dtssd(predicted_mattes: np.ndarray, true_mattes: np.ndarray) -> float:
    """Temporal stability of soft mattes (T, H, W) in [0, 1] (module docstring); 0 for T < 2."""
    if predicted_mattes.shape != true_mattes.shape:
        raise ValueError(f"shapes differ: {predicted_mattes.shape} vs {true_mattes.shape}")
    if predicted_mattes.shape[0] < 2:
        return 0.0
    difference = np.diff(predicted_mattes.astype(np.float64), axis=0) - np.diff(true_mattes.astype(np.float64), axis=0)
    per_pair = np.sqrt((difference**2).reshape(difference.shape[0], -1).mean(axis=1))
    return float(per_pair.mean() * 100.0)
