"""Compiled programs in files (``.npz``), for the cocotb benches.

The benches run in a simulator process of their own: the test writes the
engine configuration, the program and the stimulus with ``save_*`` and the
bench reads them back with ``load_*``.
"""

from __future__ import annotations

import json

import numpy as np

from circnn.config import DenseConfig, EngineConfig
from circnn.sim.model.dense import DenseProgram
from circnn.sim.model.layer import LayerProgram

__all__ = ["save_program", "load_program", "save_dense_program", "load_dense_program"]


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


def save_dense_program(path, cfg: DenseConfig, prog: DenseProgram, **arrays) -> None:
    meta = dict(out_shift=int(prog.out_shift), relu=bool(prog.relu), in_frac=int(prog.in_frac),
                out_frac=int(prog.out_frac), weight_frac=int(prog.weight_frac))
    np.savez(path, weight=np.asarray(prog.weight, dtype=np.int64),
             bias=np.asarray(prog.bias, dtype=np.int64), meta=json.dumps(meta),
             config=json.dumps(cfg.to_dict()), **arrays)


def load_dense_program(path):
    """Returns (config, program, other arrays)."""
    with np.load(path, allow_pickle=False) as z:
        meta = json.loads(str(z["meta"]))
        cfg = DenseConfig(**json.loads(str(z["config"])))
        prog = DenseProgram(weight=z["weight"], bias=z["bias"], **meta)
        rest = {k: z[k] for k in z.files if k not in ("weight", "bias", "meta", "config")}
    return cfg, prog, rest
