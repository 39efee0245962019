"""Running the generated Verilog: the cocotb runner and the simulation entry points.

:func:`circnn.sim.harness.runner.run_bench` elaborates a component, builds it
with Icarus Verilog and runs a bench of :mod:`circnn.sim.benches` on it;
:mod:`.layer`, :mod:`.dense` and :mod:`.accelerator` simulate compiled
programs and return the RTL's outputs and cycle counts.
"""
