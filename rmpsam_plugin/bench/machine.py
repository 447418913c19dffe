"""Which CPU a bench ran on, printed above every bench table.

Figures from an AVX2 machine and an AVX-512 VNNI one differ by 1.5x or more for the same network
(int8 kernels most of all: without VNNI they fall back to slower instruction sequences), so a
table that does not name its machine invites comparisons that mean nothing."""

from __future__ import annotations

import os
import platform
from dataclasses import dataclass
from pathlib import Path

import torch

from rmpsam_model.bfloat16 import cpuinfo_flags

# The instruction sets that change which kernels float32 and int8 inference get, in the names
# Linux's /proc/cpuinfo uses; "amx" stands for any of amx_tile, amx_int8, amx_bf16.
INSTRUCTION_SETS = ("avx2", "avx512f", "avx512_vnni", "avx512_bf16", "amx")


@dataclass(frozen=True)
class Machine:
    model: str
    instruction_sets: tuple[str, ...]  # those of INSTRUCTION_SETS this CPU has, in that order
    cores: int  # logical CPUs this process may run on
    torch_threads: int

    def line(self) -> str:
        sets = " ".join(self.instruction_sets) or "none of " + " ".join(INSTRUCTION_SETS)
        return f"machine: {self.model}; {sets}; {self.cores} cores; torch {self.torch_threads} threads"


def parse_cpuinfo(text: str) -> tuple[str, tuple[str, ...]]:
    """CPU model and the instruction sets of INSTRUCTION_SETS found in /proc/cpuinfo's text."""
    model = next((value.strip() for key, _, value in (line.partition(":") for line in text.splitlines())
                  if key.strip() == "model name"), "")
    flags = cpuinfo_flags(text)
    if any(flag.startswith("amx") for flag in flags):
        flags.add("amx")
    return model, tuple(name for name in INSTRUCTION_SETS if name in flags)


def this_machine() -> Machine:
    """The machine this process runs on; on systems without /proc/cpuinfo the sets are left empty
    rather than guessed."""
    cpuinfo = Path("/proc/cpuinfo")
    model, sets = parse_cpuinfo(cpuinfo.read_text()) if cpuinfo.exists() else ("", ())
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return Machine(model or platform.processor() or platform.machine(), sets, cores, torch.get_num_threads())
