"""The RMP-SAM network in plain PyTorch.

This package holds the network and nothing else: modules, checkpoint loading, pre/post-processing,
the inference API and training code. It imports torch and numpy only and knows nothing of files
on disk beyond checkpoints, image sequences, EXR or hosts (DESIGN.md section 2).
"""
