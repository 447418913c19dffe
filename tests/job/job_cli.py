"""Running the real `rmpsam-matte` executable from tests.

A module with a unique name (not `conftest`), so test files in any folder can import it without
colliding with the other folders' conftest modules.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from shot_fixtures import FIRST_FRAME  # noqa: F401  (re-exported for the job tests)

EXECUTABLE = Path(sys.executable).parent / "rmpsam-matte"


def run_cli(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([str(EXECUTABLE), *map(str, args)], capture_output=True, text=True, timeout=timeout)
