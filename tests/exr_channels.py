"""Every channel of an EXR read back through OpenImageIO, by name: how tests compare written files.

A module with a unique name (not `conftest`), so test files in any folder import the same helper.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import OpenImageIO as oiio


def read_channels(path: str | Path) -> dict[str, np.ndarray]:
    """{channel name: (height, width) float32 plane} of the file's first subimage."""
    image = oiio.ImageInput.open(str(path))
    spec = image.spec()
    pixels = image.read_image(oiio.FLOAT).reshape(spec.height, spec.width, spec.nchannels)
    image.close()
    return {name: pixels[..., index] for index, name in enumerate(spec.channelnames)}
