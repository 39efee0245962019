# amaranth: UnusedElaboratable=no
"""``circnn prove``: every fast property holds on its component and fails on its mutation
(so none holds vacuously or by its harness alone); the specs the harnesses compare
with are the model's arithmetic; the command's table, summary and exit status.

The slow properties (full widths, larger instances) and the covers' mutants
run under ``circnn prove --all --mutants``, not here: the suite's formal work
is kept to about a minute of CPU.
"""

import json
import random

import numpy as np
import pytest
from amaranth.hdl import Module, Signal, signed
from amaranth.sim import Simulator

from circnn.cli import main
from circnn.formal import all_properties
from circnn.formal import fixed_spec as spec
from circnn.formal.properties import FormalProperty
from circnn.formal.sby import run_sby
from circnn.sim.model.fixedpoint import round_shift, wrap

FAST = [p for p in all_properties() if not p.slow]
SUMMARY_KEYS = {"name", "component", "params", "mode", "depth", "result", "seconds"}


@pytest.mark.parametrize("prop", FAST, ids=lambda p: p.name)
def test_property_holds_and_its_mutation_breaks_it(prop, tmp_path):
    good = run_sby(prop.build(), mode=prop.mode, depth=prop.depth, workdir=tmp_path / "good")
    assert good.verdict == "PASS", f"{prop.name}: {good.verdict}, see {good.workdir}"
    if prop.mode == "cover":
        # a cover's mutant must exhaust its depth to fail (the dearest runs): under
        # `circnn prove --mutants`, not here
        return
    bad = run_sby(prop.build(prop.mutation), mode=prop.mode, depth=prop.depth,
                  workdir=tmp_path / "mutant")
    # prove: a counterexample (FAIL) or a broken induction (UNKNOWN); bmc and cover: FAIL
    allowed = ("FAIL", "UNKNOWN") if prop.mode == "prove" else ("FAIL",)
    assert bad.verdict in allowed, \
        f"{prop.name}: mutation {prop.mutation!r} not caught ({bad.verdict})"


def test_catalogue_covers_each_component_with_a_cover():
    props = all_properties()
    by_component = {}
    for p in props:
        by_component.setdefault(p.component, set()).add(p.mode)
        assert p.mode in ("prove", "bmc", "cover") and p.depth >= 1 and p.mutation
    for component in ("CreditQueue", "StreamRegister", "delay", "BankPair", "ButterflyStage",
                      "TwiddleStage", "NetworkController"):
        assert "cover" in by_component[component], component
    assert {"CreditQueue", "StreamRegister", "delay", "BankPair", "NetworkController",
            "TwiddleStage"} <= {p.component for p in props if p.mode == "prove"}


def _evaluate(expr_of, values):
    """``expr_of(x)`` for each ``x`` (a 12-bit signed input), by simulation."""
    m = Module()
    x = Signal(signed(12))
    out = expr_of(x)
    y = Signal(signed(len(out) + 1))
    m.d.comb += y.eq(out)
    got = []

    async def bench(ctx):
        for v in values:
            ctx.set(x, int(v))
            got.append(ctx.get(y))

    sim = Simulator(m)
    sim.add_testbench(bench)
    sim.run()
    return np.array(got, dtype=np.int64)


@pytest.mark.parametrize("rounding", ["half_up", "half_even", "truncate"])
def test_spec_round_shift_and_wrap_are_the_models(rounding, seed):
    values = np.arange(-2048, 2048)
    for shift in (0, 1, 3, 7):
        got = _evaluate(lambda x: spec.round_shift(x, shift, rounding), values)
        assert (got == round_shift(values, shift, rounding)).all(), (rounding, shift)
    rng = random.Random(seed)
    bits = rng.choice([5, 8, 11])
    got = _evaluate(lambda x: spec.wrap(x, bits), values)
    assert (got == wrap(values, bits)).all(), bits
    got = _evaluate(lambda x: spec.fits(x, bits), values)
    lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    assert (got == ((values >= lo) & (values <= hi))).all(), bits


def test_prove_command_writes_the_summary(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)          # a relative --out (the tools run in other folders)
    out = tmp_path / "formal"
    assert main(["prove", "--only", "stream_register.hold", "--out", "formal"]) == 0
    table = capsys.readouterr().out
    assert "stream_register.hold" in table and "1 of 1 properties hold" in table
    entries = json.loads((out / "summary.json").read_text())["properties"]
    assert [e["name"] for e in entries] == ["stream_register.hold"]
    for e in entries:
        assert set(e) == SUMMARY_KEYS and e["result"] == "pass" and e["seconds"] > 0
        assert e["mode"] == "prove" and isinstance(e["params"], dict)


def test_prove_command_fails_on_a_failing_property(tmp_path, monkeypatch, capsys):
    good = next(p for p in FAST if p.name == "stream_register.hold")
    broken = FormalProperty(name="broken.hold", component=good.component, params=good.params,
                            mode=good.mode, depth=good.depth,
                            harness=lambda mutation=None: good.build(good.mutation),
                            mutation=good.mutation, what="a mutant, as if it were the design")
    monkeypatch.setattr("circnn.formal.all_properties", lambda: [good, broken])
    out = tmp_path / "formal"
    assert main(["prove", "--only", "broken", "--out", str(out)]) == 1
    entries = json.loads((out / "summary.json").read_text())["properties"]
    assert [(e["name"], e["result"]) for e in entries] == [("broken.hold", "fail")]


def test_prove_command_refuses_bad_input(tmp_path, capsys):
    assert main(["prove", "--only", "no_such_component"]) == 2
    assert "no such property" in capsys.readouterr().err
    blocker = tmp_path / "file"
    blocker.write_text("")
    assert main(["prove", "--only", "bank_pair.cover", "--out", str(blocker)]) == 2
