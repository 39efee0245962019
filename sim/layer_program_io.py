"""Save and load compiled layer programs and engine configurations (``.npz``).

The cocotb benches run in a simulator process of their own: the test writes
the program there with :func:`save_program` and the bench reads it back.
"""

from __future__ import annotations

import json

import numpy as np

from .layer_model import EngineConfig, LayerProgram

__all__ = ["save_program", "load_program"]


def save_program(path, eng: EngineConfig, prog: LayerProgram, **arrays) -> None:
    meta = dict(acc_shift=prog.acc_shift, out_shift=prog.out_shift, relu=prog.relu,
                in_frac=prog.in_frac, out_frac=prog.out_frac, weight_frac=prog.weight_frac,
                in_features=prog.in_features, out_features=prog.out_features)
    np.savez(path, weight_re=prog.weight_re, weight_im=prog.weight_im, bias=prog.bias,
             meta=json.dumps(meta), engine=json.dumps(eng.to_dict()), **arrays)


def load_program(path):
    """Returns (engine, program, other arrays)."""
    with np.load(path, allow_pickle=False) as z:
        meta = json.loads(str(z["meta"]))
        eng = EngineConfig(**json.loads(str(z["engine"])))
        prog = LayerProgram(weight_re=z["weight_re"], weight_im=z["weight_im"], bias=z["bias"], **meta)
        rest = {k: z[k] for k in z.files if k not in ("weight_re", "weight_im", "bias", "meta", "engine")}
    return eng, prog, rest
