# amaranth: UnusedElaboratable=no
"""``circnn.config``: every parameter checked once, the register maps as documented,
the design registry's parameters derived from the configuration, and the
target chosen through Amaranth's platform."""

import dataclasses

import pytest
from amaranth.hdl import Fragment
from amaranth.vendor import LatticeECP5Platform

from circnn.config import (DESCRIPTOR_FIELDS, MAX_LEFT_SHIFT, STATUS_LAYOUT, BlockRAMConfig, Buffer,
                           DenseConfig, DenseField, DenseRegisters, ECP5Target, EngineConfig,
                           ErrorCode, FFTConfig, HostRegister, LayerField, LayerKind, LayerRegisters,
                           LoadTarget, MultiplierConfig, NetworkConfig, RealFFTConfig,
                           RealIFFTConfig, Region, RequantizerConfig, decode_status,
                           descriptor_address, limits_of, platform_for, region_address,
                           uses_ecp5_primitives)
from circnn.designs import all_designs, get_design
from circnn.errors import ParameterError
from circnn.rtl.multiplier import Multiplier

CONFIGS = [FFTConfig, RealFFTConfig, RealIFFTConfig, EngineConfig, DenseConfig, MultiplierConfig,
           BlockRAMConfig, RequantizerConfig]


@pytest.mark.parametrize("cls", CONFIGS, ids=lambda c: c.__name__)
def test_every_declared_range_is_enforced_at_both_ends(cls):
    for name, (default, limit) in limits_of(cls).items():
        if limit.choices is not None:
            with pytest.raises(ParameterError, match=name):
                cls(**{name: "no-such-choice"})
            continue
        for bad in (limit.lo - 1, limit.hi + 1):
            with pytest.raises(ParameterError, match=name):
                cls(**{name: bad})
        with pytest.raises(ParameterError, match=name):
            cls(**{name: True})          # a bool is not an integer parameter


def test_power_of_two_parameters_refuse_other_values():
    with pytest.raises(ParameterError, match="k must be a power of two in 4..256, not 12"):
        EngineConfig(k=12)
    with pytest.raises(ParameterError, match="points"):
        FFTConfig(points=24)


def test_width_limits_follow_the_multiplier():
    # a multiplier operand is at most 18 bits: 17-bit activations (spectra of 18)
    assert limits_of(EngineConfig)["act_width"][1].hi == 17
    assert limits_of(RealFFTConfig)["width"][1].hi == 18
    assert limits_of(RealIFFTConfig)["width"][1].hi == 17
    assert limits_of(MultiplierConfig)["a_width"][1].hi == 18


def test_twiddle_multiplier_is_chosen_per_stage():
    # auto: adders where a stage's twiddles have at most 3 distinct non-trivial magnitudes
    assert [FFTConfig(64).uses_shift_add(s) for s in range(6)] == [False, False, True, True,
                                                                  False, False]
    assert [FFTConfig(64, twiddle_multiplier="shift_add").uses_shift_add(s)
            for s in range(6)] == [True] * 4 + [False] * 2      # D <= 2: no multiplier at all
    assert not any(FFTConfig(16, twiddle_multiplier="dsp").uses_shift_add(s) for s in range(4))
    assert [RealFFTConfig(k).split_uses_shift_add for k in (4, 8, 16, 32)] == [True] * 3 + [False]
    assert RealIFFTConfig(32, twiddle_multiplier="shift_add").split_uses_shift_add
    # the real transforms' cores follow the same choice; the engine's transforms take "auto"
    assert RealIFFTConfig(16, twiddle_multiplier="dsp").core.twiddle_multiplier == "dsp"
    assert EngineConfig().fft_config.twiddle_multiplier == "auto"
    with pytest.raises(ParameterError,
                       match="twiddle_multiplier must be one of auto, dsp, shift_add, not 'mac'"):
        RealFFTConfig(twiddle_multiplier="mac")
    assert get_design("real_fft").resolve({"twiddle_multiplier": "dsp"})["twiddle_multiplier"] == "dsp"


def test_width_plan_by_hand():
    eng = EngineConfig(k=16, act_width=16, weight_width=16, ifft_width=16, max_q=16)
    assert eng.width_plan() == {"input": 16, "spectrum": 17, "weight": 16, "product": 34,
                                "accumulator": 38, "ifft_in": 16, "ifft_out": 18, "bias": 20,
                                "output": 16}
    assert eng.out_shift_range == (-MAX_LEFT_SHIFT, 20) and eng.acc_shift_range == (0, 37)
    dense = DenseConfig(act_width=16, weight_width=16, max_in=256)
    assert (dense.acc_width, dense.sum_width, dense.out_shift_range) == (40, 41, (-8, 40))


def test_layer_registers_are_checked_against_the_engine():
    eng = EngineConfig(k=8, max_q=4, max_p=3)
    LayerRegisters(q=4, p=3, acc_shift=0, out_shift=-8, out_features=24).check(eng)
    for bad, name in ((dict(q=5, p=1), "q=5"), (dict(q=1, p=0), "p=0"),
                      (dict(q=1, p=1, out_shift=-9), "out_shift=-9"),
                      (dict(q=1, p=1, acc_shift=eng.acc_width), "acc_shift"),
                      (dict(q=1, p=1, out_features=9), "out_features=9")):
        with pytest.raises(ParameterError, match=name):
            LayerRegisters(**bad).check(eng)
    assert LayerRegisters(q=2, p=3).values(eng)["out_features"] == 24
    with pytest.raises(ParameterError, match="m=9"):
        DenseRegisters(n=1, m=9).check(DenseConfig(max_out=8))


def test_register_map_is_the_documented_one():
    # docs/registers.md, written out by hand
    assert [f.key for f in LayerField] == ["q", "p", "acc_shift", "out_shift", "relu",
                                           "out_features", "w_base", "b_base", "src", "dst"]
    assert DESCRIPTOR_FIELDS == tuple(f.key for f in LayerField) + (
        "kind", "in_h", "in_w", "in_c", "kernel_h", "kernel_w", "stride_h", "stride_w", "pad_h",
        "pad_w", "pool", "pool_h", "pool_w", "pool_stride_h", "pool_stride_w", "in_values")
    assert (LayerKind.DENSE, LayerKind.CONV2D) == (0, 1)
    assert (HostRegister.CTRL, HostRegister.STATUS, HostRegister.N_LAYERS, HostRegister.N_BATCHES,
            HostRegister.INFERENCES, HostRegister.CYCLES, HostRegister.ACC_SATURATIONS,
            HostRegister.OUT_SATURATIONS, HostRegister.LAYER_CYCLES,
            HostRegister.DESCRIPTORS) == (0, 1, 2, 3, 4, 5, 6, 7, 0x40, 0x100)
    assert (Buffer.IN, Buffer.A, Buffer.B, Buffer.OUT) == (0, 1, 2, 3)
    assert (LoadTarget.WEIGHTS, LoadTarget.BIASES, LoadTarget.REGISTERS) == (0, 1, 2)
    assert [int(c) for c in ErrorCode] == list(range(13))
    assert all(c.meaning for c in ErrorCode)
    assert {f.key: int(f) for f in DenseField} == {"n": 0, "m": 1, "out_shift": 3, "relu": 4}
    assert descriptor_address(2, "dst") == 0x100 + 32 * 2 + 9
    assert descriptor_address(1, "in_values") == 0x100 + 32 + 25
    assert region_address(Region.BIASES, 5) == (2 << 22) | 5


def test_status_word_by_hand():
    word = 1 | (1 << 2) | (1 << 4) | (3 << 8) | (int(ErrorCode.BUFFER_CHAIN) << 16)
    assert decode_status(word) == {"busy": 1, "done": 0, "error": 1, "start_ignored": 0,
                                   "write_ignored": 1, "error_layer": 3, "error_code": 6}
    assert STATUS_LAYOUT.size == 20


def test_network_config_reserves_a_power_of_two_per_vector():
    net = NetworkConfig(EngineConfig(k=8, max_q=5, max_p=3), max_layers=2, max_map=2)
    assert net.stride == 32          # 5 blocks x 4 words = 20 -> 32
    # a feature map of 300 values: 150 words -> 256
    assert NetworkConfig(EngineConfig(k=8, max_q=5, max_p=3), max_map=300).stride == 256
    with pytest.raises(ParameterError, match="max_layers"):
        NetworkConfig(EngineConfig(), max_layers=65)
    with pytest.raises(TypeError):
        NetworkConfig(engine=16)


def test_requantizer_shift_must_fit_the_word():
    with pytest.raises(ParameterError, match="max_shift must be below in_width=12"):
        RequantizerConfig(in_width=12, max_shift=12)


@pytest.mark.parametrize("name", sorted(all_designs()))
def test_design_parameters_come_from_the_configuration(name):
    design = get_design(name)
    values = design.resolve({})
    config = design.configure(values)
    flat = dataclasses.asdict(config)
    for nested in ("engine", "patch"):
        flat.update(flat.pop(nested, {}))
    for param in design.params:
        assert param.check(values[param.name]) == values[param.name]
        assert flat[param.name] == values[param.name], param.name
        # the range printed by `circnn designs -v` is the configuration's
        assert param.describe().startswith(f"{param.name}={param.default} (")


def test_a_design_may_narrow_a_range_but_says_so():
    fft = {p.name: p for p in get_design("fft").params}
    assert fft["points"].limit.lo == 4 and limits_of(FFTConfig)["points"][1].lo == 2
    with pytest.raises(ParameterError, match="points must be a power of two in 4..256"):
        get_design("fft").resolve({"points": "2"})


class ULX3SLike(LatticeECP5Platform):
    device, package, speed = "LFE5U-85F", "BG381", "6"
    resources, connectors = [], []


def test_the_target_is_chosen_through_the_platform():
    assert platform_for("generic") is None
    assert isinstance(platform_for("ecp5"), ECP5Target)
    with pytest.raises(ParameterError, match="target"):
        platform_for("ice40")
    assert not uses_ecp5_primitives(None)
    assert uses_ecp5_primitives(ECP5Target()) and uses_ecp5_primitives(ULX3SLike())

    def instances(platform):
        fragment = Fragment.get(Multiplier(9, 9), platform)
        return [type(f).__name__ for f, _, _ in fragment.subfragments]

    assert "Instance" not in instances(None)
    assert "Instance" in instances(ECP5Target())
    assert "Instance" in instances(ULX3SLike())      # a board's platform counts as ECP5


def test_engine_twiddle_multiplier_reaches_both_real_transforms():
    from circnn.config import EngineConfig
    for choice in ("auto", "dsp", "shift_add"):
        eng = EngineConfig(k=16, twiddle_multiplier=choice)
        assert eng.fft_config.twiddle_multiplier == choice
        assert eng.ifft_config.twiddle_multiplier == choice
        assert eng.to_dict()["twiddle_multiplier"] == choice
    with pytest.raises(ParameterError, match="twiddle_multiplier must be one of auto, dsp, "
                                              "shift_add, not 'fast'"):
        EngineConfig(twiddle_multiplier="fast")
