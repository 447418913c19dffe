"""rmpsam-matte's pipeline: sequences, colour, prompts, propagation, mattes, EXR/Cryptomatte, the
job, the preview server and the Qt editor. Imports `rmpsam_model`, never a host.

The public Python API (README "Python API"), importable from here:

    from rmpsam_plugin import VideoSession, load_model, run_job

- `run_job(plate=..., prompts=..., output=..., on_progress=...)`: the whole job as
  `rmpsam-matte run` runs it (same options, same progress events as dicts); raises
  `InputError` / `OutputError`, whose `exit_code` is the command's.
- `VideoSession.open(pattern)` or `VideoSession.from_arrays(frames)`: prompts in display-window
  pixels (`set_prompts`, `add_prompts`), then `propagate()` or `write()`.
- `load_model(weights=None, device="cpu")`: the network, loaded once and shared.
- Precision: `run_job(..., precision="int8")` and `VideoSession.open(..., precision="int8")` run
  the backbone in int8 on the CPU (ONNX Runtime, the `int8` extra), as `run --precision int8`;
  `precision="int8-bf16"` adds bfloat16 products on CPUs with bfloat16 units; default float32.
  To share one int8 network, `with_precision(load_model(), "int8")` and pass it as `model=` with
  the same `precision`.

Names are imported on first use (PEP 562), so `import rmpsam_plugin.prompts` stays light.
"""

from importlib import import_module

__version__ = "0.1.0"

_EXPORTS = {
    "VideoSession": "rmpsam_plugin.session",
    "PromptError": "rmpsam_plugin.session",
    "run_job": "rmpsam_plugin.job.run",
    "job_settings": "rmpsam_plugin.job.run",
    "JobResult": "rmpsam_plugin.job.run",
    "RunSettings": "rmpsam_plugin.job.settings",
    "load_model": "rmpsam_model",
    "LoadedModel": "rmpsam_model",
    "with_precision": "rmpsam_plugin.job.precision",
    "MatteToolError": "rmpsam_plugin.errors",
    "InputError": "rmpsam_plugin.errors",
    "OutputError": "rmpsam_plugin.errors",
    "WeightsError": "rmpsam_plugin.errors",
}

__all__ = sorted(_EXPORTS) + ["__version__"]


def __getattr__(name: str) -> object:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'rmpsam_plugin' has no attribute {name!r}")
    value = getattr(import_module(_EXPORTS[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
