"""Training RMP-SAM: losses, matching, prompt simulation and a resumable, config-driven loop.

Imports torch, numpy and SciPy (for the Hungarian assignment) only. Data arrives through a
`DataSource` callable (`batch.py`); synthetic shots and a studio's plates and mattes are turned
into batches by `rmpsam_plugin.training_data`, so this package knows nothing of files.
"""

from rmpsam_model.training.batch import DataSource, TrainingBatch
from rmpsam_model.training.config import NETWORK_PRESETS, SMALL_NETWORK, TrainingConfig
from rmpsam_model.training.export import save_weights
from rmpsam_model.training.trainer import ResumeMismatchError, Trainer, TrainingResult

__all__ = [
    "NETWORK_PRESETS",
    "SMALL_NETWORK",
    "DataSource",
    "ResumeMismatchError",
    "Trainer",
    "TrainingBatch",
    "TrainingConfig",
    "TrainingResult",
    "save_weights",
]
