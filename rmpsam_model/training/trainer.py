"""The training loop: config in, checkpoints and a JSON-lines loss log out, resumable exactly.

One step: `data_source(step)` -> forward both query paths (`objectives.training_losses`) ->
backward -> clip the gradient norm -> AdamW -> scheduler. Every `checkpoint_every` steps (and at
the end) the full state is saved under `out_dir/checkpoints/`; `resume=True` continues from the
newest one and reproduces the uninterrupted run. Losses, averaged over `log_every` steps, are
appended to `out_dir/train_log.jsonl` for machines and shown on a tqdm bar for people.

BatchNorm (`TrainingConfig.batchnorm`): from scratch it normalises with batch statistics, which
is what lets a randomly initialised ResNet train at all (a batch of 8 images still gives
thousands of pixels per channel); when fine-tuning pretrained weights on small batches it stays
frozen in eval mode, the usual choice for detection fine-tuning, while its affine weights learn.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch
from torch import nn
from tqdm import tqdm

from rmpsam_model.network import RMPSAM
from rmpsam_model.shipped import config_to_metadata
from rmpsam_model.training.batch import DataSource
from rmpsam_model.training.checkpointing import latest_checkpoint, load_checkpoint_state, save_checkpoint
from rmpsam_model.training.config import BATCHNORM_FROZEN, TrainingConfig
from rmpsam_model.training.objectives import training_losses
from rmpsam_model.training.schedule import build_optimizer, build_scheduler

LOG_NAME = "train_log.jsonl"
CHECKPOINT_DIR = "checkpoints"
_SETTINGS_FREE_TO_CHANGE_ON_RESUME = {"device", "checkpoint_every", "log_every", "steps"}
"""`steps` may change so a run can be extended or cut short; its x0.1 milestones move with it."""
_STEP_SEED_STRIDE = 1_000_003


class ResumeMismatchError(ValueError):
    """A resumed run was given settings other than the ones its checkpoint was trained with."""


@dataclass
class TrainingResult:
    steps_done: int
    last_log: dict[str, float]


def set_training_mode(model: nn.Module, batchnorm: str) -> None:
    """Train mode for everything; BatchNorm layers back to eval when they are to stay frozen."""
    model.train()
    if batchnorm == BATCHNORM_FROZEN:
        for module in model.modules():
            if isinstance(module, nn.modules.batchnorm._BatchNorm):
                module.eval()


def step_generator(seed: int, step: int, device: torch.device) -> torch.Generator:
    """The random stream of one step, a function of (seed, step) only: resuming needs no state."""
    return torch.Generator(device=device).manual_seed(seed * _STEP_SEED_STRIDE + step)


class Trainer:
    """Trains `model` (with `class_table` (classes, prototypes, D) installed) on `data_source`."""

    def __init__(
        self,
        model: RMPSAM,
        class_table: torch.Tensor,
        data_source: DataSource,
        config: TrainingConfig,
        out_dir: str | Path,
        on_checkpoint: Callable[[int], None] | None = None,
        progress: bool = True,
    ) -> None:
        self.device = torch.device(config.device)
        self.model = model.to(self.device)
        self.class_table = class_table.to(self.device)
        self.model.set_class_embedding(self.class_table)
        self.data_source = data_source
        self.config = config
        self.out_dir = Path(out_dir)
        self.on_checkpoint = on_checkpoint
        self.progress = progress
        self.optimizer = build_optimizer(self.model, config)
        self.scheduler = build_scheduler(self.optimizer, config)
        self.step = 0

    @property
    def log_path(self) -> Path:
        return self.out_dir / LOG_NAME

    # ---- state ---------------------------------------------------------------------------
    def state(self) -> dict:
        return {
            "step": self.step,
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "torch_rng": torch.get_rng_state(),
            "training_config": self.config.to_json(),
            "network_config": config_to_metadata(self.model.config),
        }

    def save(self) -> Path:
        path = save_checkpoint(self.out_dir / CHECKPOINT_DIR, self.step, self.state())
        if self.on_checkpoint is not None:
            self.on_checkpoint(self.step)
        return path

    def resume(self) -> bool:
        """Continue from the newest checkpoint in `out_dir`; False when there is none."""
        path = latest_checkpoint(self.out_dir / CHECKPOINT_DIR)
        if path is None:
            return False
        state = load_checkpoint_state(path)
        self._check_same_run(state)
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        torch.set_rng_state(state["torch_rng"])
        self.step = int(state["step"])
        self._truncate_log_after(self.step)
        return True

    def _check_same_run(self, state: dict) -> None:
        if state["network_config"] != config_to_metadata(self.model.config):
            raise ResumeMismatchError(f"checkpoint network {state['network_config']} differs from "
                                      f"{config_to_metadata(self.model.config)}")
        # Through from_json, so settings added since the checkpoint was written read as their defaults.
        saved = json.loads(TrainingConfig.from_json(state["training_config"]).to_json())
        current = json.loads(self.config.to_json())
        changed = sorted(key for key in current
                         if key not in _SETTINGS_FREE_TO_CHANGE_ON_RESUME and saved.get(key) != current[key])
        if changed:
            raise ResumeMismatchError("cannot resume with different settings: " + ", ".join(
                f"{key} {saved.get(key)!r} -> {current[key]!r}" for key in changed))

    def _truncate_log_after(self, step: int) -> None:
        """Drop log lines a killed run wrote after its last checkpoint (they are about to be redone)."""
        if not self.log_path.is_file():
            return
        kept = [line for line in self.log_path.read_text().splitlines() if line and json.loads(line)["step"] <= step]
        self.log_path.write_text("".join(line + "\n" for line in kept))

    # ---- loop ----------------------------------------------------------------------------
    def train_step(self) -> dict[str, float]:
        """One optimisation step on `data_source(step)`; returns the step's loss values."""
        set_training_mode(self.model, self.config.batchnorm)
        batch = self.data_source(self.step).to(self.device)
        losses = training_losses(self.model, batch, self.config, step_generator(self.config.seed, self.step, self.device))
        total = losses.total
        self.optimizer.zero_grad(set_to_none=True)
        total.backward()
        grad_norm = nn.utils.clip_grad_norm_(self.model.parameters(), self.config.grad_clip_norm)
        self.optimizer.step()
        self.scheduler.step()
        self.step += 1
        values = {name: float(value.detach()) for name, value in losses.terms.items()}
        return {"loss": float(total.detach()), "grad_norm": float(grad_norm), **values, **losses.monitors}

    def run(self) -> TrainingResult:
        """Train until `config.steps`, checkpointing and logging on the way; ends in eval mode."""
        self.out_dir.mkdir(parents=True, exist_ok=True)
        window: list[dict[str, float]] = []
        last_log: dict[str, float] = {}
        started = time.monotonic()
        bar = tqdm(total=self.config.steps, initial=self.step, disable=not self.progress, unit="step", dynamic_ncols=True)
        with bar, self.log_path.open("a") as log:
            while self.step < self.config.steps:
                window.append(self.train_step())
                bar.update(1)
                if self.step % self.config.log_every == 0 or self.step == self.config.steps:
                    last_log = self._log_window(window, log, time.monotonic() - started)
                    bar.set_postfix(loss=f"{last_log['loss']:.3f}", lr=f"{last_log['lr']:.1e}")
                    window = []
                if self.step % self.config.checkpoint_every == 0 or self.step == self.config.steps:
                    self.save()
        self.model.eval()
        return TrainingResult(self.step, last_log)

    def _log_window(self, window: list[dict[str, float]], log, elapsed: float) -> dict[str, float]:
        keys = sorted({key for entry in window for key in entry})
        means = {key: sum(e[key] for e in window if key in e) / sum(key in e for e in window) for key in keys}
        record = {"step": self.step, "lr": self.optimizer.param_groups[-1]["lr"], "elapsed_s": round(elapsed, 1),
                  **{key: round(value, 5) for key, value in means.items()}}
        log.write(json.dumps(record) + "\n")
        log.flush()
        return record
