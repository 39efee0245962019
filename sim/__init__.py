"""Simulation: the NumPy golden models, and running the RTL against them.

* :mod:`circnn.sim.model` -- bit-true and float NumPy models, one per hardware block;
* :mod:`circnn.sim.harness` -- the cocotb runner and the entry points that simulate
  the generated Verilog (one layer, the dense engine, the whole accelerator);
* :mod:`circnn.sim.benches` -- the cocotb test modules and their stream drivers,
  patterns and protocol monitor;
* ``sim/primitives/`` -- behavioural Verilog of the ECP5 primitives, for simulating
  ``ecp5`` designs.
"""
