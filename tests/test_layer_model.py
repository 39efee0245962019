"""The layer's bit-true model and the compiler: independent checks and error bounds."""

import numpy as np
import pytest

from circnn.compiler import compile_layer, dequantize_outputs, pack_weight_spectra, quantize_inputs
from circnn.errors import CircnnError, ParameterError
from circnn.bundle import Layer
from circnn.config import EngineConfig
from circnn.sim.model.layer import LayerProgram, layer_forward, spectrum_mac
from circnn.sim.model.float_network import layer_forward as float_layer_forward
from circnn.sim.model.real_fft import unpack_spectrum

from layer_cases import random_float_layer

#: Documented bound (docs/width-plan.md): the golden model's relative RMS
#: error against the float layer, 16-bit activations and weights, formats
#: from calibration data.  Measured 0.06 % .. 0.36 % over random layers.
GOLDEN_RELATIVE_RMS_BOUND = 5e-3


def test_spectrum_mac_equals_complex_products_of_unpacked_bins(seed):
    rng = np.random.default_rng(seed)
    k, p, q, n = 8, 3, 4, 5
    x_re, x_im = rng.integers(-300, 300, (n, q, k // 2)), rng.integers(-300, 300, (n, q, k // 2))
    w_re, w_im = rng.integers(-300, 300, (p, q, k // 2)), rng.integers(-300, 300, (p, q, k // 2))
    acc = spectrum_mac((x_re, x_im), w_re, w_im)
    X = unpack_spectrum((x_re, x_im), k)            # (n, q, k/2+1) complex bins
    W = unpack_spectrum((w_re, w_im), k)            # (p, q, k/2+1)
    ref = np.einsum("ijf,njf->nif", W, X)           # bin-wise complex MAC
    got = unpack_spectrum(acc, k)
    assert np.array_equal(got, ref)


def test_pack_weight_spectra_by_hand():
    # w = [1, 0, 0, 0] (the identity circulant): spectrum 1 at every bin
    re, im = pack_weight_spectra(np.array([[[1.0, 0, 0, 0]]]))
    assert re.tolist() == [[[1.0, 1.0]]] and im.tolist() == [[[1.0, 0.0]]]
    # w = [0, 1, 0, 0] (a cyclic shift): W[f] = exp(-2 pi j f / 4) -> 1, -j, -1
    re, im = pack_weight_spectra(np.array([[[0.0, 1, 0, 0]]]))
    assert np.allclose(re, [[[1.0, 0.0]]]) and np.allclose(im, [[[-1.0, -1.0]]])


@pytest.mark.parametrize("k,p,q,activation", [(8, 3, 4, "relu"), (16, 2, 2, "none"), (4, 5, 1, "relu"),
                                              (32, 1, 3, "none")])
def test_golden_within_documented_bound_of_float(k, p, q, activation, seed):
    rng = np.random.default_rng(seed)
    eng = EngineConfig(k=k, pes=2, max_q=q, max_p=p)
    layer = random_float_layer(rng, p, q, k, activation)
    calib = rng.uniform(-1, 1, (200, q * k))
    prog = compile_layer(layer, eng, calibration=calib)
    x = rng.uniform(-1, 1, (100, q * k))
    y = dequantize_outputs(layer_forward(quantize_inputs(x, prog.in_frac, eng, q), prog, eng),
                           prog.out_frac)
    ref = float_layer_forward(layer, x)
    rel = np.sqrt(np.mean((y - ref) ** 2) / np.mean(ref ** 2))
    print(f"relative RMS error {rel:.2e}; report {prog.report}")
    assert rel < GOLDEN_RELATIVE_RMS_BOUND
    assert prog.report["relative_rms_error"] < GOLDEN_RELATIVE_RMS_BOUND
    assert prog.report["acc_saturations"] == 0


def test_compiler_reports_formats(seed):
    rng = np.random.default_rng(seed)
    eng = EngineConfig(k=8, max_q=2, max_p=2)
    calib = rng.uniform(-0.9, 0.9, (50, 16))
    prog = compile_layer(random_float_layer(rng, 2, 2, 8), eng, calibration=calib)
    for key in ("input_format", "weight_format", "accumulator_shift", "bias_format", "output_format",
                "output_shift", "rms_error", "max_abs_error"):
        assert key in prog.report
    assert prog.report["input_format"] == "sQ0.15"   # |x| < 0.9: 15 fraction bits fit
    assert prog.out_shift == (prog.in_frac + prog.weight_frac - prog.acc_shift - 1 - 3) - prog.out_frac


def test_compiler_without_calibration_uses_bounds(seed):
    rng = np.random.default_rng(seed)
    eng = EngineConfig(k=8, max_q=2, max_p=2)
    prog = compile_layer(random_float_layer(rng, 2, 2, 8), eng)
    assert prog.report["formats_from"] == "weight and bias ranges"
    x = quantize_inputs(rng.uniform(-1, 1, (20, 16)), prog.in_frac, eng, 2)
    _, trace = layer_forward(x, prog, eng, trace=True)
    assert trace.acc_saturations == 0  # the bound is conservative


def test_bad_layers_are_refused_with_the_value(seed):
    rng = np.random.default_rng(seed)
    eng = EngineConfig(k=8, max_q=2, max_p=2)
    layer = random_float_layer(rng, 2, 2, 8)
    with pytest.raises(CircnnError, match="block size k=8 does not match the engine's k=16"):
        compile_layer(layer, EngineConfig(k=16, max_q=2, max_p=2))
    with pytest.raises(CircnnError, match="q=2 input blocks exceed the engine's max_q=1"):
        compile_layer(layer, EngineConfig(k=8, max_q=1, max_p=2))
    with pytest.raises(CircnnError, match="p=2 output blocks exceed the engine's max_p=1"):
        compile_layer(layer, EngineConfig(k=8, max_q=2, max_p=1))
    bad = Layer.__new__(Layer)
    object.__setattr__(bad, "__dict__", dict(layer.__dict__))
    bad.weight = layer.weight.copy()
    bad.weight[1, 0, 3] = np.inf
    with pytest.raises(CircnnError, match=r"layer 0 weight: value inf at index \(1, 0, 3\)"):
        compile_layer(bad, eng)
    calib = rng.uniform(-1, 1, (4, 16))
    calib[2, 5] = np.nan
    with pytest.raises(CircnnError, match=r"calibration inputs: value nan at index \(2, 5\)"):
        compile_layer(layer, eng, calibration=calib)
    with pytest.raises(CircnnError, match="rows have 17 values"):
        quantize_inputs(np.zeros((1, 17)), 15, eng, 2)


@pytest.mark.parametrize("kwargs,name", [(dict(k=6), "k"), (dict(act_width=18), "act_width"),
                                         (dict(weight_width=19), "weight_width"),
                                         (dict(pes=0), "pes"), (dict(batch=0), "batch"),
                                         (dict(ifft_width=18), "ifft_width")])
def test_engine_config_rejects_bad_parameters(kwargs, name):
    with pytest.raises(ParameterError, match=name):
        EngineConfig(**kwargs)


def test_program_check_names_the_problem():
    eng = EngineConfig(k=4, max_q=1, max_p=1, weight_width=8)
    ok = dict(weight_re=np.zeros((1, 1, 2), dtype=np.int64), weight_im=np.zeros((1, 1, 2), dtype=np.int64),
              bias=np.zeros(4, dtype=np.int64), acc_shift=0, out_shift=0, relu=False)
    LayerProgram(**ok).check(eng)
    bad = dict(ok, weight_re=np.full((1, 1, 2), 200))
    with pytest.raises(ParameterError, match="weight codes outside 8 bits"):
        LayerProgram(**bad).check(eng)
    with pytest.raises(ParameterError, match="acc_shift=99"):
        LayerProgram(**dict(ok, acc_shift=99)).check(eng)
