"""The gated kernel update (K-Net's "KernelUpdator") that refreshes query kernels from pooled features.

Each query kernel K and the feature f pooled under its current mask produce two gates; the new
kernel is a gated mix of the (normalised) feature and kernel projections. The decoder stages use it
to move kernels towards what their masks currently cover, and the object adapter uses the same block
once more with its own weights (docs/network.md, Decoder).
"""

from __future__ import annotations

import torch
from torch import nn


class KernelUpdate(nn.Module):
    """`K_new = relu(LN(fc(sigmoid(gate_up) * LN(p_out) + sigmoid(gate_in) * LN(q_out))))`."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.width = width
        self.dynamic_layer = nn.Linear(width, 2 * width)
        self.input_layer = nn.Linear(width, 2 * width)
        self.input_gate = nn.Linear(width, width)
        self.update_gate = nn.Linear(width, width)
        self.norm_in = nn.LayerNorm(width)
        self.norm_out = nn.LayerNorm(width)
        self.input_norm_in = nn.LayerNorm(width)
        self.input_norm_out = nn.LayerNorm(width)
        self.fc_layer = nn.Linear(width, width)
        self.fc_norm = nn.LayerNorm(width)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, pooled: torch.Tensor, kernels: torch.Tensor) -> torch.Tensor:
        """pooled, kernels: (B, N, width) -> updated kernels (B, N, width)."""
        feature_in, feature_out = self.dynamic_layer(pooled).split(self.width, dim=-1)
        kernel_in, kernel_out = self.input_layer(kernels).split(self.width, dim=-1)
        gate_features = kernel_in * feature_in
        kernel_gate = self.input_norm_in(self.input_gate(gate_features)).sigmoid()
        feature_gate = self.norm_in(self.update_gate(gate_features)).sigmoid()
        mixed = feature_gate * self.norm_out(feature_out) + kernel_gate * self.input_norm_out(kernel_out)
        return self.relu(self.fc_norm(self.fc_layer(mixed)))
