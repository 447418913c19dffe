"""Where the weights file is: an explicit path, else `RMPSAM_WEIGHTS`, else the user's config file.

The tool never downloads anything (render-farm nodes often have no internet, and a silent
download would make a job's result depend on the network). A missing file is therefore an error
that says where the released weights come from and the three ways to point the tool at them.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from rmpsam_model.checkpoint_errors import WeightsConfigError, WeightsNotFoundError

ENVIRONMENT_VARIABLE = "RMPSAM_WEIGHTS"
CONFIG_KEY = "weights"
RELEASED_WEIGHTS_NAME = "rapsam_r50_12e.pth"

WHERE_TO_GET_WEIGHTS = (
    f"download {RELEASED_WEIGHTS_NAME} from the authors' RAP-SAM release (https://github.com/xushilin1/RAP-SAM), "
    f"then pass its path, set {ENVIRONMENT_VARIABLE}=/path/to/{RELEASED_WEIGHTS_NAME}, "
    f'or put {{"{CONFIG_KEY}": "/path/to/{RELEASED_WEIGHTS_NAME}"}} in ~/.config/rmpsam/config.json'
)


def config_file_path() -> Path:
    """`$XDG_CONFIG_HOME/rmpsam/config.json`, which is `~/.config/rmpsam/config.json` by default."""
    config_home = os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config"
    return Path(config_home) / "rmpsam" / "config.json"


def _weights_from_config_file(config_file: Path) -> Path | None:
    """The config file's `weights` entry; a relative path is relative to the config file's folder."""
    if not config_file.is_file():
        return None
    try:
        settings = json.loads(config_file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise WeightsConfigError(f"{config_file}: cannot be read as JSON ({error})") from error
    if not isinstance(settings, dict):
        raise WeightsConfigError(f"{config_file}: expected a JSON object such as {{\"{CONFIG_KEY}\": \"/path\"}}")
    value = settings.get(CONFIG_KEY)
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        raise WeightsConfigError(f"{config_file}: '{CONFIG_KEY}' must be a path string, not {value!r}")
    return config_file.parent / Path(value).expanduser()


def _prefer_safetensors(path: Path) -> Path:
    """A converted `<name>.safetensors` beside `<name>.pth` loads faster and without any pickle, so
    `rmpsam-matte weights convert` once makes every later run use it."""
    converted = path.with_suffix(".safetensors")
    return converted if path.suffix != ".safetensors" and converted.is_file() else path


def resolve_weights_path(explicit: str | Path | None = None) -> Path:
    """The weights file to load: `explicit` if given, else `$RMPSAM_WEIGHTS`, else the config file.

    A `.safetensors` conversion beside the chosen file is preferred. Raises `WeightsNotFoundError`
    naming where the path came from when the file is missing, or when no source names one.
    """
    if explicit is not None:
        return _existing(Path(explicit).expanduser(), "given explicitly")
    from_environment = os.environ.get(ENVIRONMENT_VARIABLE)
    if from_environment:
        return _existing(Path(from_environment).expanduser(), f"from ${ENVIRONMENT_VARIABLE}")
    config_file = config_file_path()
    configured = _weights_from_config_file(config_file)
    if configured is not None:
        return _existing(configured, f"from {config_file}")
    raise WeightsNotFoundError(f"no weights file given: {WHERE_TO_GET_WEIGHTS}")


def _existing(path: Path, origin: str) -> Path:
    if not path.is_file():
        raise WeightsNotFoundError(f"weights file not found: {path} ({origin}); {WHERE_TO_GET_WEIGHTS}")
    return _prefer_safetensors(path)
