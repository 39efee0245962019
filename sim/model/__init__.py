"""The golden models: NumPy functions that compute what the hardware computes.

Named after the RTL they define (``rtl/fft.py`` <-> :mod:`circnn.sim.model.fft`,
``rtl/layer.py`` <-> :mod:`circnn.sim.model.layer`, ...); the bit-true models
predict every output word, the float ones (:mod:`.circulant`,
:mod:`.float_network`) are the references for error bounds.  They import
:mod:`circnn.config` and each other, never the RTL.
"""
