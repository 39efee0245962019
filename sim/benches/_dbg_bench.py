import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, ReadOnly, RisingEdge
from circnn.sim.cocotb_runner import bench_config
@cocotb.test()
async def probe(dut):
    names = bench_config()["names"]
    cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
    dut.rst.value = 1; dut.i__valid.value = 0; dut.o__ready.value = 1; dut.load.value = 0
    await ClockCycles(dut.clk, 3); dut.rst.value = 0
    for t in range(6):
        await ReadOnly()
        vals = []
        for n in names:
            h = dut
            try:
                for part in n.split("."):
                    h = getattr(h, part)
                vals.append(f"{n}={h.value}")
            except AttributeError:
                vals.append(f"{n}=?")
        dut._log.info("PROBE " + " ".join(vals))
        await RisingEdge(dut.clk)
