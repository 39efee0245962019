"""Proofs of ``NetworkController`` (``rtl/network_controller.py``): the network level.

The harness gives the controller any descriptor table, layer count and
batch count (``AnyConst``: the host does not write them during a run; the
batch count at most ``max_batches``, since a run's length grows with it)
and plays the layer level: ``in_full`` and ``layer_done`` come on any clock
they may (``AnySeq``), the IN buffer fills at most ``RESPONSE`` clocks
after the controller starts waiting for it and a layer ends at most
``RESPONSE`` clocks after its start (``Assume``).

* ``terminates`` (bmc): after a start, ``busy`` falls, with ``done`` or
  ``error`` set, within ``bound`` clocks (the checks of every layer, then
  every batch's layers), whatever the table: the controller neither hangs
  on a bad descriptor nor runs one;
* ``start_while_busy`` (prove): two controllers see the same table, the same
  layer level and the same starts, and one of them more starts, each on a
  clock it is busy: every register but ``start_ignored`` (so every output
  but that flag) stays equal in the two, and ``start_ignored`` rises after
  each extra start (the registers of both copies, their submodules'
  included, are found with :meth:`~.internals.Opened.registers`);
* ``cover``: a run that ends done without error, one that ends in error,
  and an ignored start.
"""

from __future__ import annotations

from amaranth.hdl import Assert, Assume, Cover, Module, Signal
from amaranth.lib import wiring

from circnn.config import EngineConfig, NetworkConfig, PatchConfig
from circnn.rtl.network_controller import NetworkController

from .harness import AnyConst, AnySeq, no_reset
from .internals import Opened
from .properties import FormalProperty

__all__ = ["PROPERTIES", "MUTATIONS", "formal_network"]

RESPONSE = 3

MUTATIONS = {
    "size_loop_hangs": "the weight-size loop of the checks never ends (its compare stuck high)",
    "start_rechecks": "a start while busy sets the checking flag, as a start does",
    "stuck_in_idle": "the state register never leaves IDLE (a start sets busy, no more)",
}


def formal_network(convolution: bool, max_layers: int) -> NetworkConfig:
    """A small accelerator: the controller's logic is the same at every size, its
    counts and compares only narrower (and a convolution's geometry, counted in
    loops as long as the map's side, shorter)."""
    eng = EngineConfig(k=4, pes=2, batch=1, max_q=2, max_p=2, weight_depth=8, bias_depth=4,
                       act_width=8, weight_width=8, ifft_width=8, twiddle_width=8)
    patch = PatchConfig(max_side=2, max_channels=2, max_kernel=2, max_stride=2, max_padding=0)
    return NetworkConfig(eng, max_layers=max_layers, max_map=8, convolution=convolution,
                         patch=patch)


def _controller(net, mutation):
    dut = NetworkController(net)
    opened = Opened(dut)
    if mutation == "size_loop_hangs":
        opened.module.d.sync += opened.signal("more_passes").eq(1)
    elif mutation == "start_rechecks":
        checking = opened.signal("checking")      # (looked up outside the If's body)
        with opened.module.If(dut.start & dut.busy):
            opened.module.d.sync += checking.eq(1)
    elif mutation == "stuck_in_idle":
        opened.module.d.sync += [opened.signal("state_idle").eq(1),
                                 opened.signal("state_start").eq(0)]
    elif mutation is not None:
        raise ValueError(f"unknown mutation {mutation!r}")
    return dut, opened


def _layer_level(m, dut, in_full, layer_done):
    """The layer level's answers (shared by every copy that behaves as ``dut``)."""
    waiting_input = Signal(range(RESPONSE + 1), name="waiting_input")
    layer_on = Signal(name="layer_on")
    layer_age = Signal(range(RESPONSE + 1), name="layer_age")
    m.d.comb += [in_full.eq(AnySeq(1)), layer_done.eq(AnySeq(1))]
    with m.If(dut.running & ~in_full):
        m.d.sync += waiting_input.eq(waiting_input + (waiting_input < RESPONSE))
    with m.Else():
        m.d.sync += waiting_input.eq(0)
    with m.If(dut.layer_start):
        m.d.sync += [layer_on.eq(1), layer_age.eq(0)]
    with m.Elif(layer_on):
        m.d.sync += layer_age.eq(layer_age + (layer_age < RESPONSE))
        with m.If(layer_done):
            m.d.sync += layer_on.eq(0)
    m.d.comb += [
        Assume(~layer_done | (layer_on & ~dut.layer_start)),     # done only for a started layer
        Assume(~(layer_on & (layer_age == RESPONSE)) | layer_done),
        Assume(~(waiting_input == RESPONSE) | in_full),
    ]


def _table(m, dut, max_batches):
    m.d.comb += [dut.descriptors.as_value().eq(AnyConst(len(dut.descriptors.as_value()))),
                 dut.n_layers.eq(AnyConst(16)), dut.n_batches.eq(AnyConst(32))]
    m.d.comb += Assume(dut.n_batches <= max_batches)


def _one_controller(net, max_batches, mutation):
    """A harness with one controller (its variant ``mutation``), out of reset, on any
    table, with a layer level that answers in time."""
    m = Module()
    dut, opened = _controller(net, mutation)
    m.submodules.dut = opened.module
    no_reset(m)
    _table(m, dut, max_batches)
    _layer_level(m, dut, dut.in_full, dut.layer_done)
    return m, dut


def terminates(net, bound, max_batches, mutation=None):
    m, dut = _one_controller(net, max_batches, mutation)
    first = Signal(init=1, name="first_clock")
    m.d.sync += first.eq(0)
    m.d.comb += dut.start.eq(first)                 # one start, on the first clock
    clocks = Signal(range(bound + 2), name="clocks")
    with m.If(clocks <= bound):
        m.d.sync += clocks.eq(clocks + 1)
    m.d.comb += [
        Assert(~(clocks > bound) | ~dut.busy, f"not busy {bound} clocks after the start"),
        Assert(~(clocks > bound) | dut.done, "done (with or without error)"),
    ]
    return m


def start_while_busy(net, max_batches, mutation=None):
    m = Module()
    a, oa = _controller(net, None)
    b, ob = _controller(net, mutation)
    m.submodules.a, m.submodules.b = oa.module, ob.module
    no_reset(m)
    _table(m, a, max_batches)
    m.d.comb += [b.descriptors.eq(a.descriptors), b.n_layers.eq(a.n_layers),
                 b.n_batches.eq(a.n_batches)]
    _layer_level(m, a, a.in_full, a.layer_done)
    m.d.comb += [b.in_full.eq(a.in_full), b.layer_done.eq(a.layer_done)]
    start, extra = AnySeq(1), AnySeq(1)
    m.d.comb += [a.start.eq(start), b.start.eq(start | (extra & b.busy))]
    extra_taken = Signal(name="extra_start")
    m.d.sync += extra_taken.eq(extra & b.busy)
    flag_a, flag_b = a.start_ignored, b.start_ignored
    for ra, rb in zip(oa.registers(), ob.registers(), strict=True):
        if ra is not flag_a:
            assert rb is not flag_b and ra.name == rb.name
            m.d.comb += Assert(ra == rb, f"register {ra.name} as without the extra starts")
    for name, member in a.signature.members.items():
        if member.flow is wiring.Out and name != "start_ignored":
            va = getattr(a, name)
            vb = getattr(b, name)
            va = va.as_value() if hasattr(va, "as_value") else va
            vb = vb.as_value() if hasattr(vb, "as_value") else vb
            m.d.comb += Assert(va == vb, f"{name} as without the extra starts")
    m.d.comb += Assert(~extra_taken | b.start_ignored, "an extra start raises start_ignored")
    # the induction's helpers: the state register is one-hot (OneHotFSM's flags), a
    # start acts in IDLE only, and the controller is busy exactly outside IDLE
    flags = [r for r in oa.registers() if r.name.startswith("state_")]
    m.d.comb += [Assert(sum(flags) == 1, "one state at a time"),
                 Assert(a.busy == ~oa.signal("state_idle"), "busy exactly outside IDLE"),
                 Assert(~a.running | a.busy, "running only while busy")]
    return m


def cover(net, max_batches, mutation=None):
    m, dut = _one_controller(net, max_batches, mutation)
    m.d.comb += dut.start.eq(AnySeq(1))
    ran = Signal(name="ran")
    with m.If(dut.layer_start):
        m.d.sync += ran.eq(1)
    m.d.comb += [Cover(dut.done & ~dut.error & ran & (dut.inferences == net.images)),
                 Cover(dut.done & dut.error),
                 Cover(dut.start_ignored)]
    return m


def _props(convolution, max_layers, slow, bound, depths, max_batches):
    net = formal_network(convolution, max_layers)
    params = {"max_layers": net.max_layers, "convolution": convolution,
              "max_batches": max_batches, "response": RESPONSE, "k": net.engine.k,
              "pes": net.engine.pes, "max_q": net.engine.max_q, "max_p": net.engine.max_p}
    suffix = f"_l{max_layers}" + ("_conv" if convolution else "")

    def p(what, mode, depth, harness, mutation, doc):
        return FormalProperty(name=f"network_controller.{what}{suffix}",
                              component="NetworkController", params=params, mode=mode,
                              depth=depth, harness=harness, mutation=mutation, what=doc,
                              slow=slow)
    return [
        p("terminates", "bmc", bound + 2,
          lambda mutation=None: terminates(net, bound, max_batches, mutation), "size_loop_hangs",
          f"from any table: done or error within {bound} clocks of the start"),
        p("start_while_busy", "prove", depths["miter"],
          lambda mutation=None: start_while_busy(net, max_batches, mutation),
          "start_rechecks",
          "a start while busy changes no output but start_ignored (which rises)"),
        # (a cover's mutant must make a cover unreachable, which the solver shows
        # only by exhausting the depth: with the machine held in IDLE each step is
        # decided at once, where `size_loop_hangs` took 110 s on two layers and
        # over 25 minutes on a convolution layer, and `done` held low ran the
        # solver out of memory at step 97)
        p("cover", "cover", depths["cover"], lambda mutation=None: cover(net, max_batches, mutation),
          "stuck_in_idle", "covered: a run done without error, a run ending in error, "
          "an ignored start"),
    ]


PROPERTIES = (
    _props(False, 1, slow=False, bound=40, depths=dict(miter=2, cover=34), max_batches=1)
    + _props(False, 2, slow=True, bound=100, depths=dict(miter=2, cover=60), max_batches=2)
    # a convolution's geometry is counted in loops (twice per layer: checks, run); two
    # layers at depth 182 ran the solver out of memory (docs/verification.md)
    + _props(True, 1, slow=True, bound=100, depths=dict(miter=2, cover=100), max_batches=1)
)
