# amaranth: UnusedElaboratable=no
"""``LayerController`` (rtl/layer_controller.py) alone in the Amaranth simulator.

The testbench plays the host (a batch of B input vectors on ``host_i`` per
inference, results taken from ``host_o``, both with per-clock or bursty
stalls), the network controller (``accept_input``, ``in_pairs``, then per
layer ``src``/``dst``/``q``/``p`` with a ``start`` pulse, the next layer
after ``done``) and a stand-in core: it takes the layer's ``q*k/2`` pairs of
every vector from ``core_i`` (with back-pressure) and, as soon as a vector
is complete, offers that vector's outputs on ``core_o`` in the real core's
order (for each pass g of P blocks, for each vector b, blocks g*P.., k/2
pairs each, tagged ``block``/``vector``/``last``), each output pair a known
function :func:`f` of the vector's input pairs.

Reference: plain Python, from the host's inputs alone: IN holds the batch;
a layer's input stream is its source buffer's vectors in order (pairs
``0 .. q*k/2 - 1``); its output pair (block i, pair n) of vector b lands at
``(b, i*k/2 + n)`` of the destination buffer, which the next layer reads,
or goes to ``host_o`` unchanged (same order) when the destination is OUT.
Also checked: the stream rules on all four streams; ``done`` once per layer,
on the clock after the layer's last output moved; no input accepted before
``accept_input`` nor while IN is full; ``in_full`` up after a batch's last
input word and down (IN released) before layer 0 is done.
"""

import random

import pytest
from amaranth.sim import Simulator

from circnn.config import Buffer, EngineConfig, NetworkConfig
from circnn.rtl.layer_controller import LayerController
from circnn.rtl.output_stage import layer_output_layout
from circnn.rtl.real_fft import real_input_layout

from component_support import pack, unpack, wrap_signed
from streams import StallPattern, check_stream, receive, send

E_B2 = EngineConfig(k=4, pes=2, batch=2, max_q=3, max_p=3, act_width=8, weight_width=8,
                    ifft_width=8, twiddle_width=8)
E_B1 = EngineConfig(k=8, pes=3, batch=1, max_q=3, max_p=3, act_width=10, weight_width=8,
                    ifft_width=10, twiddle_width=10)
E_B3 = EngineConfig(k=4, pes=1, batch=3, max_q=4, max_p=4, act_width=8, weight_width=8,
                    ifft_width=8, twiddle_width=8)


def f(eng, layer, vector, block, n):
    """The stand-in core's output pair (block, n) of a vector (a list of input pairs)."""
    N, bits = eng.half, eng.act_width
    a = vector[(block * N + n) % len(vector)]
    c = vector[(block * N + n + 1) % len(vector)]
    return (wrap_signed(3 * a[0] + 5 * block + layer + 1, bits),
            wrap_signed(c[1] - 7 * n + 2 * layer, bits))


def core_order(eng, p):
    """(g, b, block, n) in the order the core emits a layer's outputs."""
    P, N = eng.pes, eng.half
    for g in range(-(-p // P)):
        for b in range(eng.batch):
            for block in range(g * P, min(p, g * P + P)):
                for n in range(N):
                    yield b, block, n


def reference(eng, chain, inputs):
    """Per batch and layer: the expected core input pairs; the host output words."""
    N, B = eng.half, eng.batch
    out_layout = layer_output_layout(eng)
    core_in, host_out = [], []
    for batch in inputs:
        buffers = {Buffer.IN: [list(v) for v in batch]}
        per_layer = []
        for layer, (q, p, src, dst) in enumerate(chain):
            data = [buffers[src][b][:q * N] for b in range(B)]
            per_layer.append([pair for vector in data for pair in vector])
            written = [[None] * (p * N) for _ in range(B)]
            for b, block, n in core_order(eng, p):
                y = f(eng, layer, data[b], block, n)
                written[b][block * N + n] = y
                if dst == Buffer.OUT:
                    host_out.append(pack(out_layout, {"y0": y[0], "y1": y[1], "block": block,
                                                      "vector": b, "last": int(n == N - 1)}))
            buffers[dst] = written
        core_in.append(per_layer)
    return core_in, host_out


def run_controller(eng, chain, n_batches, seed, *, host=(0.3, 1), core=(0.3, 1)):
    rng = random.Random(seed)
    net = NetworkConfig(eng, max_layers=4)
    N, B = eng.half, eng.batch
    lo, hi = -(1 << (eng.act_width - 1)), (1 << (eng.act_width - 1)) - 1
    q0 = chain[0][0]
    inputs = [[[(rng.randint(lo, hi), rng.randint(lo, hi)) for _ in range(q0 * N)]
               for _ in range(B)] for _ in range(n_batches)]
    core_in, host_out = reference(eng, chain, inputs)
    in_layout = real_input_layout(eng.fft_config)
    out_layout = layer_output_layout(eng)

    dut = LayerController(net)
    sim = Simulator(dut)
    sim.add_clock(1e-8)
    streams = {name: check_stream(sim, getattr(dut, name), name)
               for name in ("host_i", "host_o", "core_i", "core_o")}
    problems = []
    received = {}           # (batch, layer) -> pairs the stand-in core took
    events = {"host_i": [], "host_o": [], "core_o": [], "done": [], "start": [], "in_full": []}
    result = {}

    def pattern(rate_burst):
        return StallPattern(*rate_burst, rng=random.Random(rng.random()))

    async def monitor(ctx):
        clock = 0
        async for _, _, hv, hr, cv, cr, done, start, full, accept, ov, orr in ctx.tick().sample(
                dut.host_i.valid, dut.host_i.ready, dut.core_o.valid, dut.core_o.ready,
                dut.done, dut.start, dut.in_full, dut.accept_input, dut.host_o.valid,
                dut.host_o.ready):
            if ov and orr:
                events["host_o"].append(clock)
            if hv and hr:
                events["host_i"].append(clock)
                if full or not accept:
                    problems.append(f"clock {clock}: input word taken (in_full={full}, "
                                    f"accept_input={accept})")
            if cv and cr:
                events["core_o"].append(clock)
            if done:
                events["done"].append(clock)
            if start:
                events["start"].append(clock)
            events["in_full"].append(full)
            clock += 1

    async def host_in(ctx):
        idle = pattern(host)
        for batch in inputs:
            await send(ctx, dut.host_i, [pack(in_layout, {"x0": x0, "x1": x1})
                                         for vector in batch for x0, x1 in vector], idle)

    async def host_out_(ctx):
        result["host"] = await receive(ctx, dut.host_o, len(host_out), pattern(host),
                                       timeout=8000)

    async def core_rx(ctx):
        stall = pattern(core)
        for batch in range(n_batches):
            for layer, (q, *_) in enumerate(chain):
                got = received[(batch, layer)] = []
                for _ in range(B * q * N):
                    word, = await receive(ctx, dut.core_i, 1, stall)
                    pair = unpack(in_layout, word)
                    got.append((int(pair.x0), int(pair.x1)))

    async def core_tx(ctx):
        idle = pattern(core)
        for batch in range(n_batches):
            for layer, (q, p, _, _) in enumerate(chain):
                for b, block, n in core_order(eng, p):
                    while len(received.get((batch, layer), ())) < (b + 1) * q * N:
                        await ctx.tick()
                    vector = received[(batch, layer)][b * q * N:(b + 1) * q * N]
                    y = f(eng, layer, vector, block, n)
                    await send(ctx, dut.core_o, [pack(out_layout, {
                        "y0": y[0], "y1": y[1], "block": block, "vector": b,
                        "last": int(n == N - 1)})], idle)

    async def network(ctx):
        ctx.set(dut.in_pairs, q0 * N)
        ctx.set(dut.accept_input, 0)
        for _ in range(6):              # input waits for the network to run
            await ctx.tick()
        ctx.set(dut.accept_input, 1)
        for batch in range(n_batches):
            for _ in range(5000):
                _, _, full = await ctx.tick().sample(dut.in_full)
                if full:
                    break
            else:
                problems.append(f"batch {batch}: IN never full")
                return
            for layer, (q, p, src, dst) in enumerate(chain):
                ctx.set(dut.src, src)
                ctx.set(dut.dst, dst)
                ctx.set(dut.q, q)
                ctx.set(dut.p, p)
                # a dense layer: one row per vector, all q*k values read
                ctx.set(dut.shape.in_values, q * eng.k)
                ctx.set(dut.shape.rows, 1)
                ctx.set(dut.start, 1)
                await ctx.tick()
                ctx.set(dut.start, 0)
                for _ in range(5000):
                    _, _, done = await ctx.tick().sample(dut.done)
                    if done:
                        break
                else:
                    problems.append(f"batch {batch} layer {layer}: never done")
                    return
        for _ in range(10):         # nothing more comes out
            await ctx.tick()

    sim.add_testbench(monitor, background=True)
    for bench in (host_in, core_rx, core_tx):
        sim.add_testbench(bench, background=True)
    sim.add_testbench(host_out_)
    sim.add_testbench(network)
    sim.run()

    assert not problems, problems[:3]
    for rules in streams.values():
        rules.check()
    # every layer's input stream, pair by pair
    for batch in range(n_batches):
        for layer in range(len(chain)):
            assert received.get((batch, layer)) == core_in[batch][layer], \
                f"batch {batch} layer {layer}: the core's input differs from the reference"
    assert result["host"] == host_out
    streams["host_o"].check_words(host_out)
    # done: once per layer, three clocks after the core's last output was taken (it
    # passes the input register slice, its buffer write is registered, then done
    # is registered), or, for the last layer, two clocks after the host took its
    # last output
    n_layers = len(chain)
    assert len(events["done"]) == n_batches * n_layers, events["done"]
    assert len(events["start"]) == n_batches * n_layers
    at = host_at = 0
    for i in range(n_batches * n_layers):
        p, dst = chain[i % n_layers][1], chain[i % n_layers][3]
        at += B * p * N
        last = events["core_o"][at - 1] + 1
        if dst == Buffer.OUT:
            host_at += B * p * N
            last = max(last, events["host_o"][host_at - 1])
        assert events["done"][i] == last + 2, \
            f"layer {i}: done at clock {events['done'][i]}, last output placed at {last}"
    assert len(events["core_o"]) == at
    # IN: full after each batch's last word, released before layer 0 is done
    words = B * q0 * N
    assert len(events["host_i"]) == n_batches * words
    full = events["in_full"]
    for batch in range(n_batches):
        last_word = events["host_i"][(batch + 1) * words - 1]
        assert full[last_word + 1] == 1, f"batch {batch}: IN not full after its last word"
        start, done = events["start"][batch * n_layers], events["done"][batch * n_layers]
        assert 0 in full[start:done], f"batch {batch}: IN still full when layer 0 was done"
    return events


CHAINS = [  # engine, chain of (q, p, src, dst), batches
    (E_B2, [(2, 3, Buffer.IN, Buffer.A), (3, 2, Buffer.A, Buffer.OUT)], 3),
    (E_B2, [(3, 1, Buffer.IN, Buffer.A), (1, 3, Buffer.A, Buffer.B), (3, 3, Buffer.B, Buffer.OUT)], 2),
    (E_B2, [(1, 1, Buffer.IN, Buffer.OUT)], 3),
    (E_B1, [(2, 3, Buffer.IN, Buffer.B), (3, 2, Buffer.B, Buffer.OUT)], 3),
    (E_B3, [(2, 4, Buffer.IN, Buffer.A), (4, 1, Buffer.A, Buffer.OUT)], 2),
    (E_B3, [(4, 2, Buffer.IN, Buffer.B), (2, 4, Buffer.B, Buffer.OUT)], 2),   # vectors fill the stride
]


@pytest.mark.parametrize("eng,chain,n_batches", CHAINS, ids=["IN-A-OUT", "IN-A-B-OUT", "IN-OUT",
                                                              "B1", "B3", "B3-full-stride"])
@pytest.mark.parametrize("burst", [1, 4])
def test_layers_move_through_the_buffers(eng, chain, n_batches, burst, seed):
    run_controller(eng, chain, n_batches, seed, host=(0.3, burst), core=(0.3, burst))


def test_long_stalls_on_every_stream(seed):
    run_controller(E_B2, CHAINS[0][1], 2, seed, host=(0.6, 10), core=(0.5, 8))


def test_next_input_streams_in_while_the_batch_computes(seed):
    """With an eager host, batch n+1's input is taken before batch n's last layer ends."""
    chain = [(2, 3, Buffer.IN, Buffer.A), (3, 2, Buffer.A, Buffer.OUT)]
    events = run_controller(E_B2, chain, 3, seed, host=(0.0, 1), core=(0.2, 1))
    words = E_B2.batch * 2 * E_B2.half
    for batch in range(2):
        first_next = events["host_i"][(batch + 1) * words]
        assert first_next < events["done"][2 * batch + 1], \
            f"batch {batch + 1}'s input waited for batch {batch} to finish"
