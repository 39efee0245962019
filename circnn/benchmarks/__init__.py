"""The benchmark harnesses: commands that measure the engines, not tests.

``circnn bench`` (:mod:`.sweep`) sets the circulant engine against the dense
baseline over a sweep of layers; ``circnn perf-layer`` (:mod:`.layer_perf`)
measures the PE array of the ``layer`` design.  Both take cycles from RTL
simulation and ECP5 figures from ``circnn synth`` run in a child process
(:mod:`circnn.synth.synth_job`).
"""
