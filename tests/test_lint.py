"""Lint gate: every registered design, small parameters, both targets."""

import pytest

from circnn.designs import all_designs
from circnn.generate import write_design
from circnn.sim.harness.runner import build_root
from circnn.synth.lint import ecp5_hierarchy_check, verilator_lint

DESIGNS = sorted(all_designs())


def test_registry_is_not_empty():
    assert {"requantize", "multiplier"} <= set(DESIGNS)


@pytest.mark.parametrize("name", DESIGNS)
def test_generic_verilog_passes_verilator_wall(name):
    design = all_designs()[name]
    out = build_root() / "lint" / f"{name}-generic"
    out.parent.mkdir(parents=True, exist_ok=True)       # --out's parent must exist
    meta = write_design(name, design.lint_params, "generic", out, top="top")
    clean, log = verilator_lint(out / "top.v")
    assert clean, f"verilator -Wall on {name}:\n{log}"
    assert meta["params"] == design.resolve(design.lint_params, from_text=False)


@pytest.mark.parametrize("name", DESIGNS)
def test_ecp5_verilog_resolves_against_cell_library(name):
    design = all_designs()[name]
    out = build_root() / "lint" / f"{name}-ecp5"
    out.parent.mkdir(parents=True, exist_ok=True)
    write_design(name, design.lint_params, "ecp5", out, top="top")
    ok, log = ecp5_hierarchy_check(out / "top.v", out / "hierarchy.log")
    assert ok, f"yosys hierarchy -check on {name} (ecp5):\n{log[-3000:]}"
    assert "ERROR" not in log


def test_lint_gate_catches_a_real_warning(tmp_path):
    # A module with an undriven output must fail the gate: the gate can fail.
    bad = tmp_path / "top.v"
    bad.write_text("module top(input wire a, output wire [1:0] y);\n"
                   "  assign y[0] = a;\nendmodule\n")
    clean, log = verilator_lint(bad)
    assert not clean and "UNDRIVEN" in log


def test_ecp5_check_catches_an_unknown_cell(tmp_path):
    bad = tmp_path / "top.v"
    bad.write_text("module top(input wire a, output wire y);\n"
                   "  NOT_A_CELL u(.A(a), .Z(y));\nendmodule\n")
    ok, log = ecp5_hierarchy_check(bad, tmp_path / "h.log")
    assert not ok
