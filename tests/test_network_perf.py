# amaranth: UnusedElaboratable=no
"""``circnn perf-network``: its networks, its goal verdicts and its table.

The simulations themselves are the accelerator's (``tests/test_layer_batches.py``
and the accelerator tests check them word for word); here one quick point runs
for real on the smallest network, and the verdict logic runs on canned figures.
"""

import json

import numpy as np
import pytest

from circnn.benchmarks import network_perf
from circnn.cli import main


def test_networks_have_the_shapes_the_goals_name():
    shapes = {}
    for case in network_perf.NETWORKS:
        bundle = case.bundle(seed=0)
        shapes[case.name] = [(l.kind, l.n_in, l.n_out) for l in bundle.layers]
    assert shapes["digits MLP 64-128-10"] == [("dense", 64, 128), ("dense", 128, 10)]
    assert [s[1:] for s in shapes["MLP 64-256-128-10"]] == [(64, 256), (256, 128), (128, 10)]
    assert [s[0] for s in shapes["digits CNN"]] == ["conv2d", "conv2d", "maxpool2d", "dense",
                                                     "dense"]
    assert shapes["digits CNN"][-1][2] == 10


def _point(name, m, fraction, mismatches=0):
    case = next(c for c in network_perf.NETWORKS if c.name == name)
    return {"network": name, "k": case.k, "pes": 4, "batch": case.batch, "layer_batches": m,
            "cycles_per_inference": 100 / fraction, "mac_bound_cycles": 100,
            "fraction_of_mac_bound": fraction, "goal": case.goal,
            "rtl_golden_mismatches": mismatches,
            "layers": [{"layer": "layer 0 (dense)", "cycles_per_inference": 100 / fraction,
                        "mac_bound_cycles": 100, "overhead_cycles": 100 / fraction - 100,
                        "pe_utilisation": 0.5}]}


@pytest.mark.parametrize("fraction,failed", [(0.90, False), (0.79, True)])
def test_the_goal_is_judged_at_the_larger_network_batch(tmp_path, monkeypatch, capsys,
                                                         fraction, failed):
    def fake(case, m, **kw):
        # one batch a layer is far from the goal, and that is not a failure
        return _point(case.name, m, fraction if m == case.layer_batches[-1] else 0.5)
    monkeypatch.setattr(network_perf, "measure", fake)
    code = main(["perf-network", "--out", str(tmp_path / "p"), "--quiet"])
    out = capsys.readouterr().out
    assert code == (1 if failed else 0)
    result = json.loads((tmp_path / "p" / "network.json").read_text())
    assert len(result["points"]) == 6
    assert len(result["failures"]) == (3 if failed else 0)
    assert ("FAILED: digits CNN" in out) == failed and ("every goal met" in out) != failed
    assert "| digits CNN (k=16, P=4) | 2 | 2 |" in out


def test_a_mismatch_is_a_failure(tmp_path, monkeypatch):
    monkeypatch.setattr(network_perf, "measure",
                        lambda case, m, **kw: _point(case.name, m, 0.95, mismatches=1))
    result = network_perf.run_perf_network(out=tmp_path, quick=True)
    assert len(result["points"]) == 3
    assert [f.split(":")[1].strip() for f in result["failures"]] == \
        ["1 output words differ from golden"] * 3


@pytest.mark.long
def test_one_real_point_per_layer(tmp_path):
    """The digits MLP at layer_batches 8 on the RTL: the figures add up."""
    case = network_perf.NETWORKS[0]
    p = network_perf.measure(case, 8, seed=0, simulator="verilator", say=lambda m: None)
    assert p["rtl_golden_mismatches"] == 0
    assert p["mac_bound_cycles"] == 128 + 64                # ceil(p/P) q k/2, by hand
    assert [l["mac_bound_cycles"] for l in p["layers"]] == [128, 64]
    cycles = [l["cycles_per_inference"] for l in p["layers"]]
    assert all(c > b for c, b in zip(cycles, (128, 64)))
    # useful MACs by hand: p q k/2 = 16*8*4 and 2*16*4, over P = 4 and the cycles
    np.testing.assert_allclose([l["pe_utilisation"] for l in p["layers"]],
                               [512 / (4 * cycles[0]), 128 / (4 * cycles[1])], atol=1e-4)
