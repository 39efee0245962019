"""The compiler: from a trained float network to what the engines store.

For each layer it chooses the fixed-point formats (from calibration inputs
when given, else from weight and bias ranges), quantises weights and biases,
derives the requantisation shifts and measures the error the quantisation
introduces (``docs/width-plan.md``); it also sizes an accelerator for a
network.
"""

from .cnn import compile_cnn
from .dense import compile_dense, measure_dense_error, quantize_dense_inputs
from .formats import check_finite, dequantize_outputs, frac_for_range, quantize_inputs
from .layer import compile_layer, compile_network, measure_error, pack_weight_spectra
from .sizing import network_config_for

__all__ = ["compile_layer", "compile_network", "compile_cnn", "measure_error", "pack_weight_spectra",
           "compile_dense", "measure_dense_error", "quantize_dense_inputs",
           "check_finite", "dequantize_outputs", "frac_for_range", "quantize_inputs",
           "network_config_for"]
