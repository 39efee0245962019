# amaranth: UnusedElaboratable=no
"""The foundation's cocotb bench: Requantizer RTL == fixed-point toolkit, word for word."""

import pytest

from circnn.errors import ParameterError
from circnn.rtl.requantize import Requantizer
from circnn.sim.cocotb_runner import run_bench


@pytest.mark.parametrize("in_width,out_width,shift", [(16, 8, 4), (24, 16, 7), (12, 12, 0), (10, 4, 1)])
@pytest.mark.parametrize("rounding", ["truncate", "half_up", "half_even"])
def test_requantizer_matches_model(in_width, out_width, shift, rounding, seed):
    cfg = dict(in_width=in_width, out_width=out_width, shift=shift, rounding=rounding,
               seed=seed, count=600, idle=0.3, stall=0.3)
    run_bench(Requantizer(in_width, out_width, shift, rounding),
              name=f"requantize_{in_width}_{out_width}_{shift}_{rounding}",
              test_module="circnn.sim.benches.requantize_bench", config=cfg)


@pytest.mark.parametrize("kwargs,name", [
    (dict(in_width=1, out_width=8, shift=0), "in_width"),
    (dict(in_width=16, out_width=99, shift=0), "out_width"),
    (dict(in_width=16, out_width=8, shift=16), "shift"),
    (dict(in_width=16, out_width=8, shift=2, rounding="nearest"), "rounding"),
])
def test_requantizer_rejects_bad_parameters(kwargs, name):
    with pytest.raises(ParameterError, match=name):
        Requantizer(**kwargs)
