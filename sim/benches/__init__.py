"""cocotb test modules (run on Icarus Verilog by :mod:`circnn.sim.harness.runner`)."""
