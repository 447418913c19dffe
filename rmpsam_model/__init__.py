"""The RMP-SAM network in plain PyTorch.

This package holds the network and nothing else: modules, checkpoint loading, pre/post-processing,
the inference API and training code. It imports torch and numpy only and knows nothing of files
on disk beyond checkpoints, image sequences, EXR or hosts (docs/architecture.md, Packages and layers).

`load_model` (in `loading`) is the entry point: `from rmpsam_model import load_model`.
"""

__all__ = ["LoadedModel", "load_model"]


def __getattr__(name: str) -> object:
    """Imported on first use (PEP 562): `import rmpsam_model.config` does not load the network."""
    if name in __all__:
        from rmpsam_model import loading

        return getattr(loading, name)
    raise AttributeError(f"module 'rmpsam_model' has no attribute {name!r}")
