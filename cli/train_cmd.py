"""`rmpsam-matte train`: train a small network from scratch on synthetic shots, or fine-tune
released-format weights on a studio's plates and matte EXRs.

Both write under `--out`: `checkpoints/` (full training state, for `--resume`), `train_log.jsonl`
(losses every `--log-every` steps), `training.json` (the settings) and `weights.safetensors`, a
self-describing file (config, class names and class table inside) refreshed at every checkpoint,
so a run stopped at any time leaves usable weights.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import click
import torch

from rmpsam_cli.exit_codes import BAD_INPUT, USAGE_ERROR
from rmpsam_model.checkpoint import load_class_embedding, load_state_dict
from rmpsam_model.checkpoint_architecture import infer_config_fields
from rmpsam_model.checkpoint_errors import CheckpointError
from rmpsam_model.config import RMPSAMConfig
from rmpsam_model.network import RMPSAM
from rmpsam_model.preprocess import InferenceSize
from rmpsam_model.training import (
    NETWORK_PRESETS,
    ResumeMismatchError,
    Trainer,
    TrainingConfig,
    save_weights,
)
from rmpsam_model.vocabulary import load_vocabulary
from rmpsam_plugin.errors import InputError
from rmpsam_plugin.synthetic.photos import PlateStyleUnavailable, load_photos
from rmpsam_plugin.training_data import (
    DATA_STYLES,
    RepeatedBatch,
    StudioSource,
    SyntheticImageSource,
    random_class_table,
    synthetic_class_names,
    synthetic_seed_offset,
)

WEIGHTS_NAME = "weights.safetensors"
SETTINGS_NAME = "training.json"


class BadInput(click.ClickException):
    """Unusable weights, sequences or resume settings: the farm's 'bad input' exit code."""

    exit_code = BAD_INPUT


class MissingExtra(click.ClickException):
    """An optional dependency of the asked-for option is not installed: a usage problem of this install."""

    exit_code = USAGE_ERROR


def _common_options(function):
    options = [
        click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
                     help="Folder for checkpoints, the loss log and weights.safetensors."),
        click.option("--steps", type=click.IntRange(min=1), help="Optimisation steps in all."),
        click.option("--batch-size", type=click.IntRange(min=1), help="Images per step."),
        click.option("--lr", "learning_rate", type=float, help="Base learning rate of AdamW."),
        click.option("--checkpoint-every", type=click.IntRange(min=1), default=100, show_default=True),
        click.option("--log-every", type=click.IntRange(min=1), default=10, show_default=True),
        click.option("--device", default="cpu", show_default=True, help="'cpu', 'cuda' or 'cuda:N'."),
        click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True,
                     help="Random stream of prompts and matching; for synthetic runs also which shots are drawn."),
        click.option("--threads", type=click.IntRange(min=1), help="CPU threads for torch."),
        click.option("--half", is_flag=True, help="Store weights.safetensors as float16 (half the size)."),
        click.option("--resume", is_flag=True, help="Continue from the newest checkpoint in --out."),
        click.option("--quiet", is_flag=True, help="No progress bar (the JSON-lines log is still written)."),
    ]
    for option in reversed(options):
        function = option(function)
    return function


@click.group()
def train() -> None:
    """Train RMP-SAM weights (synthetic from scratch, or fine-tune on a studio's mattes)."""


@train.command()
@_common_options
@click.option("--size", type=click.IntRange(min=64), default=192, show_default=True,
              help="Training image size (square synthetic frames); also the inference size stored in the weights.")
@click.option("--config", "preset", type=click.Choice(sorted(NETWORK_PRESETS)), default="small", show_default=True,
              help="Network sizes.")
@click.option("--init", "init_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Start from these weights (a weights.safetensors of an earlier run) instead of random ones.")
@click.option("--overfit-batch", is_flag=True,
              help="Train on one fixed batch (the overfitting check: can the model and losses fit it?).")
@click.option("--data", "data_style", type=click.Choice(DATA_STYLES), default="procedural", show_default=True,
              help="Synthetic shots: procedural, plate (photographs, camera motion, defocus, grain, thin and holed "
                   "shapes; needs the 'train' extra) or mixed (half each).")
@click.option("--union-weight", type=click.FloatRange(min=0.0), default=0.0, show_default=True,
              help="Prompt each instance with a box and a click and train their union (the matte a keyframe's "
                   "prompts make) at this weight; 0 trains each prompt alone.")
@click.option("--clip-weight", type=click.FloatRange(min=0.0), default=0.0, show_default=True,
              help="Train the clip tracker's decode (keyframe prompts over the keyframe and a later frame of the "
                   "same shot, stacked) at this weight; images then come in pairs of frames.")
@click.option("--clip-gap", type=click.IntRange(min=1), default=8, show_default=True,
              help="Most frames between the two frames of a --clip-weight pair.")
@click.option("--leave-fraction", type=click.FloatRange(0.0, 1.0), default=0.0, show_default=True,
              help="With --clip-weight: this fraction of the frame pairs shows an instance in the keyframe and wholly "
                   "outside the other frame (it left the shot), so the tracker learns to claim nothing there.")
@click.option("--aspect", "aspects", type=click.FloatRange(min=1.0), multiple=True,
              help="Frame width-to-height ratio, short side --size; repeat it to take them in turn, one per step "
                   "(e.g. --aspect 1 --aspect 1.78 --aspect 1.78). Default: square frames only.")
@click.option("--scale", "scales", type=click.FloatRange(min=0.25, max=4.0), multiple=True,
              help="Multiply the short side by this; repeat it to take them in turn, one per step, independently of "
                   "--aspect (e.g. --scale 1 --scale 1.33). The weights keep --size as their inference size. "
                   "Default: --size only.")
def synthetic(out_dir, steps, batch_size, learning_rate, checkpoint_every, log_every, device, seed, threads, half,
              resume, quiet, size, preset, init_path, overfit_batch, data_style, union_weight, clip_weight,
              clip_gap, leave_fraction, aspects, scales) -> None:
    """Train a network from scratch (or on from --init) on freshly generated synthetic shots."""
    if data_style != "procedural":
        try:
            load_photos()
        except PlateStyleUnavailable as error:
            raise MissingExtra(f"--data {data_style}: {error}") from error
    names = synthetic_class_names()
    network = replace(NETWORK_PRESETS[preset], num_classes=len(names))
    config = TrainingConfig.from_scratch(**_overrides(steps, batch_size, learning_rate, checkpoint_every, log_every,
                                                       device, seed), union_weight=union_weight, clip_weight=clip_weight)
    if init_path is not None:
        model, table = _initial_weights(init_path)
    else:
        model = RMPSAM(network)
        table = random_class_table(len(names), network.text_dim, seed)
    offset = synthetic_seed_offset(seed, continued=init_path is not None)
    source = SyntheticImageSource(config.batch_size, size, seed_offset=offset, style=data_style,
                                  clip_gap=clip_gap if clip_weight > 0 else 0, aspects=tuple(aspects) or (1.0,),
                                  leave_fraction=leave_fraction if clip_weight > 0 else 0.0, scales=tuple(scales) or (1.0,))
    if overfit_batch:
        source = RepeatedBatch(source)
    _run(model, table, names, source, config, out_dir, InferenceSize(size, 4 * size), threads, half, resume, quiet,
         {"source": "synthetic", "image_size": size, "preset": preset,
          **({"init": str(init_path)} if init_path else {}), **({"overfit_batch": True} if overfit_batch else {}),
          **({"data": data_style} if data_style != "procedural" else {}),
          **({"clip_gap": clip_gap} if clip_weight > 0 else {}), **({"aspects": list(aspects)} if aspects else {}),
          **({"leave_fraction": leave_fraction} if clip_weight > 0 and leave_fraction else {}),
          **({"scales": list(scales)} if scales else {})})


def _initial_weights(path: Path) -> tuple[RMPSAM, torch.Tensor]:
    """A self-describing weights file -> its model and class table, to train on."""
    from safetensors import safe_open

    from rmpsam_model.shipped import CLASS_EMBEDDING_KEY, load_weights_file

    try:
        model, _ = load_weights_file(path)
    except CheckpointError as error:
        raise BadInput(str(error)) from error
    with safe_open(str(path), framework="pt") as handle:
        table = handle.get_tensor(CLASS_EMBEDDING_KEY).float()
    return model, table


@train.command()
@_common_options
@click.option("--weights", "weights_path", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Released-format weights to start from (.pth or .safetensors).")
@click.option("--class-embedding", "class_embedding_path", required=True,
              type=click.Path(dir_okay=False, path_type=Path), help="The (classes, prototypes, D) table (.pth).")
@click.option("--plates", required=True, help="Plate sequence, e.g. 'plates/shot.####.exr'.")
@click.option("--mattes", required=True, help="Matte EXR sequence, one layer per instance (e.g. 'car.A').")
@click.option("--size", type=click.IntRange(min=64), default=576, show_default=True, help="Short side at training.")
@click.option("--colour-space", help="The plates' colour space (default: from the file, see `rmpsam-matte info`).")
def finetune(out_dir, steps, batch_size, learning_rate, checkpoint_every, log_every, device, seed, threads, half,
             resume, quiet, weights_path, class_embedding_path, plates, mattes, size, colour_space) -> None:
    """Fine-tune released-format weights on plates plus matte EXRs (BatchNorm frozen, backbone lr x0.1).
    Layers named after a vocabulary class ('car', 'car_2') also train the class branch."""
    try:
        state_dict = load_state_dict(weights_path)
        table = load_class_embedding(class_embedding_path)
    except CheckpointError as error:
        raise BadInput(str(error)) from error
    fields = {k: v for k, v in infer_config_fields({k: tuple(t.shape) for k, t in state_dict.items()}).items() if v is not None}
    network = RMPSAMConfig(**fields, num_classes=table.shape[0])
    model = RMPSAM(network)
    model.load_state_dict(state_dict)
    names = [entry.name for entry in load_vocabulary()] if table.shape[0] == len(load_vocabulary()) else []
    config = TrainingConfig.finetune(**_overrides(steps or 200, batch_size or 2, learning_rate, checkpoint_every,
                                                  log_every, device, seed))
    try:
        source = StudioSource(plates, mattes, names, config.batch_size, size, seed, colour_space)
    except (InputError, ValueError) as error:
        raise BadInput(str(error)) from error
    _run(model, table, names, source, config, out_dir, InferenceSize(size, 4 * size), threads, half, resume, quiet,
         {"source": "studio", "weights": str(weights_path), "plates": plates, "mattes": mattes})


def _overrides(steps, batch_size, learning_rate, checkpoint_every, log_every, device, seed) -> dict:
    given = {"steps": steps, "batch_size": batch_size, "learning_rate": learning_rate}
    return {**{k: v for k, v in given.items() if v is not None}, "checkpoint_every": checkpoint_every,
            "log_every": log_every, "device": device, "seed": seed}


def _run(model, table, names, source, config, out_dir: Path, size: InferenceSize, threads, half, resume, quiet,
         provenance: dict) -> None:
    if threads:
        torch.set_num_threads(threads)
    out_dir.mkdir(parents=True, exist_ok=True)
    metadata = {"training_config": config.to_json(), "provenance": json.dumps(provenance, sort_keys=True)}

    def export(step: int) -> None:
        save_weights(model, table, names, out_dir / WEIGHTS_NAME, size, {**metadata, "steps": str(step)}, half=half)

    trainer = Trainer(model, table, source, config, out_dir, on_checkpoint=export, progress=not quiet)
    if resume:
        try:
            resumed = trainer.resume()
        except ResumeMismatchError as error:
            raise BadInput(str(error)) from error
        click.echo(f"resumed at step {trainer.step}" if resumed else "no checkpoint to resume from; starting afresh",
                   err=True)
    (out_dir / SETTINGS_NAME).write_text(json.dumps({"training": json.loads(config.to_json()), **provenance},
                                                    indent=2, sort_keys=True))
    result = trainer.run()
    click.echo(json.dumps({"steps": result.steps_done, "weights": str(out_dir / WEIGHTS_NAME), **result.last_log}))

