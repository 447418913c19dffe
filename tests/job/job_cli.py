"""Running the real `rmpsam-matte` executable from tests, and the synthetic prompt dict as a file's.

A module with a unique name (not `conftest`), so test files in any folder can import it without
colliding with the other folders' conftest modules.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from rmpsam_plugin.prompts import from_dict

EXECUTABLE = Path(sys.executable).parent / "rmpsam-matte"
FIRST_FRAME = 1001


def run_cli(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([str(EXECUTABLE), *map(str, args)], capture_output=True, text=True, timeout=timeout)


def prompt_set_from_synthetic(prompts: dict, plate=None):
    """The synthetic generator's prompt dict -> a checked PromptSet (field names of the file)."""
    return from_dict(
        {name: {frame: {"positive_clicks": p["positive"], "negative_clicks": p["negative"], "boxes": p["boxes"]}
                for frame, p in frames.items()} for name, frames in prompts.items()},
        plate=plate,
    )
