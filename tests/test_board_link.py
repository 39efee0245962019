# amaranth: UnusedElaboratable=no
"""The board's top level: a small network run through its UART by the host's framing
code (cocotb, ``sim/benches/board_bench.py``), every output word equal to the golden
model, a corrupted frame and a frame with a dropped byte answered with errors and
recovered from; and the ULX3S form's pins and PLL."""

import json

import numpy as np
import pytest

from circnn.config import MAX_PAYLOAD, PROTOCOL_VERSION, LinkConfig, ParameterError
from circnn.rtl.accelerator import Accelerator
from circnn.rtl.board_top import BoardTop
from circnn.rtl.host_bus import ADDR_WIDTH
from circnn.sim.harness.runner import build_root, run_bench
from circnn.verilog import verilog_ports

from network_cases import NET, network_case

#: 100 MHz (the benches' 10 ns clock), 8 clocks a bit: a byte every 80 clocks
LINK = LinkConfig(clk_hz=100_000_000, baud=12_500_000, build_id=0x0B0A_12D5, timeout_bytes=4)


@pytest.mark.long
def test_board_runs_a_network_through_its_uart(seed):
    rng = np.random.default_rng(seed)
    _, programs, _, x, expected, writes = network_case(rng, NET, [2, 3, 2], ["relu", "none"],
                                                       vectors=4)
    top = BoardTop(NET, LINK, sim=True)
    acc = Accelerator(NET)          # for its ports' widths
    work = build_root() / "programs"
    work.mkdir(parents=True, exist_ok=True)
    data = work / "board_link.npz"
    np.savez(data, writes=writes, x=x, expected=expected)
    stats = work / "board_link.stats.json"
    identity = {"build_id": LINK.build_id, "version": PROTOCOL_VERSION, "addr_bits": ADDR_WIDTH,
                "data_bits": NET.data_width, "in_bits": len(acc.i.payload.as_value()),
                "out_bits": len(acc.o.payload.as_value()), "max_payload": MAX_PAYLOAD}
    eng = NET.engine
    run = run_bench(top, name="board_link", test_module="circnn.sim.benches.board_bench",
                    prefer="verilator",
                    config=dict(data=str(data), baud=LINK.baud, identity=identity, k=eng.k,
                                batch=eng.batch, p=programs[-1].p, max_p=eng.max_p,
                                act_width=eng.act_width, seed=seed, stats=str(stats)))
    result = json.loads(stats.read_text())
    print(run, result)
    assert result["outputs"] == expected.size
    assert result["errors"] == ["BAD_CRC", "TIMEOUT"]


def test_simulation_form_has_plain_ports():
    ports = verilog_ports(BoardTop(NET, LINK, sim=True))
    assert {name: len(value) for name, (value, _) in ports.items()} == \
        {"clk": 1, "rst": 1, "uart_rx": 1, "uart_tx": 1}


def test_ulx3s_form_uses_the_oscillator_the_uart_and_the_pll():
    from amaranth_boards.ulx3s import ULX3S_85F_Platform
    platform = ULX3S_85F_Platform()
    link = LinkConfig(clk_hz=125_000_000, baud=3_000_000)
    top = BoardTop(NET, link)
    assert (top.pll.clki_div, top.pll.clkfb_div, top.pll.clkop_div) == (1, 5, 5)
    plan = platform.build(top, name="board", do_build=False)
    assert {("clk25", 0), ("uart", 0), ("uart_tx_enable", 0)} <= set(platform._requested)
    lpf = plan.files["board.lpf"]
    for pin in ("G2", "M1", "L4", "L3"):        # clk25, uart rx and tx, uart_tx_enable
        assert f'SITE "{pin}"' in lpf
    rtlil = plan.files["board.il"]
    assert "EHXPLLL" in rtlil and "CLKFB_DIV" in rtlil


def test_board_clock_must_be_one_the_pll_makes():
    with pytest.raises(ParameterError, match=r"^clk_hz must be a frequency the PLL makes"):
        BoardTop(NET, LinkConfig(clk_hz=152_800_000, baud=3_000_000))
    with pytest.raises(ParameterError, match=r"^clk_hz must be 25000000 with the PLL bypassed"):
        BoardTop(NET, LinkConfig(clk_hz=100_000_000, baud=3_000_000), pll_bypass=True)
