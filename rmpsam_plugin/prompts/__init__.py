"""Prompt files: which instances to matte, prompted how, on which keyframes.

The CLI, the Nuke bridge and the Qt editor all read and write this one JSON format, defined by
the published schema `prompts.schema.json` (draft 2020-12) beside this file:

    {"schema": "rmpsam-prompts", "version": 1,
     "plate": {"pattern": ..., "first_frame": 1001, "last_frame": 1100,
               "width": 2048, "height": 1080, "pixel_aspect": 1.0},          # optional
     "instances": [
       {"name": "car", "class": "vehicle",                                   # class optional
        "keyframes": [
          {"frame": 1012,
           "positive_clicks": [[x, y], ...], "negative_clicks": [[x, y], ...],
           "boxes": [[x1, y1, x2, y2], ...],
           "mask": "masks/car.1012.exr", "mask_channel": "A"}]}]}           # mask optional

Coordinates are display-window pixels (origin top-left, y down, floats). `load_prompts` checks the
schema and then the prompts against the plate, and reports every problem at once
(`PromptFileError.issues`); `save_prompts` writes canonical text; `prompts_digest` fingerprints
the prompts for output headers; `PromptSet.segments()` cuts the shot at keyframes for the farm.
"""

from rmpsam_plugin.images.layer_names import exr_layer_name

from .dict_form import from_dict, to_dict
from .digest import prompts_digest
from .errors import PromptFileError, PromptIssue, UnknownInstanceError
from .io import load_prompts, save_prompts
from .masks import MaskError, load_mask
from .model import InstanceTrack, Keyframe, PlateInfo, PromptSet
from .schema import SCHEMA_PATH
from .segments import Segment

__all__ = [
    "SCHEMA_PATH",
    "InstanceTrack",
    "Keyframe",
    "MaskError",
    "PlateInfo",
    "PromptFileError",
    "PromptIssue",
    "PromptSet",
    "Segment",
    "UnknownInstanceError",
    "exr_layer_name",
    "from_dict",
    "load_mask",
    "load_prompts",
    "prompts_digest",
    "save_prompts",
    "to_dict",
]
