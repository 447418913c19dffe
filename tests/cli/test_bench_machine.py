"""Every bench table opens with the machine it was measured on (model, instruction sets, cores, threads)."""

from __future__ import annotations

import torch

from rmpsam_plugin.bench.machine import parse_cpuinfo, this_machine
from rmpsam_plugin.bench.table import format_table

# Abridged /proc/cpuinfo of a two-CPU AVX-512 VNNI + AMX machine: the first processor's fields count.
SAPPHIRE_RAPIDS = """processor\t: 0
vendor_id\t: GenuineIntel
model name\t: Intel(R) Xeon(R) Platinum 8488C
flags\t\t: fpu sse2 avx avx2 fma avx512f avx512dq avx512_vnni avx512_bf16 amx_bf16 amx_tile amx_int8
processor\t: 1
model name\t: Something Else
flags\t\t: fpu sse2
"""

AVX2_ONLY = "model name\t: AMD EPYC 7R32\nflags\t\t: fpu sse2 avx avx2 fma\n"


def test_cpuinfo_names_the_model_and_only_the_instruction_sets_that_matter():
    assert parse_cpuinfo(SAPPHIRE_RAPIDS) == ("Intel(R) Xeon(R) Platinum 8488C",
                                              ("avx2", "avx512f", "avx512_vnni", "avx512_bf16", "amx"))
    assert parse_cpuinfo(AVX2_ONLY) == ("AMD EPYC 7R32", ("avx2",))
    assert parse_cpuinfo("") == ("", ())


def test_every_table_opens_with_this_machine_and_torch_threads():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        lines = format_table(["step", "ms"], [["read", "3.0"]]).splitlines()
        machine = this_machine()
    finally:
        torch.set_num_threads(threads)
    assert lines[0] == machine.line()
    assert lines[0].endswith("torch 1 threads") and f"; {machine.cores} cores;" in lines[0]
    assert lines[1].split() == ["step", "ms"] and lines[3].split() == ["read", "3.0"]
