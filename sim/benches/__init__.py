"""cocotb test modules (run on Icarus Verilog by :mod:`circnn.sim.cocotb_runner`)."""
