# amaranth: UnusedElaboratable=no
"""``NetworkController`` (rtl/network_controller.py) alone in the Amaranth simulator.

The testbench plays the host (descriptor table, ``n_layers``, ``n_batches``,
``start``) and the layer controller (``in_full`` raised a random time after
the controller starts accepting input and dropped a random time after layer
0 starts; ``layer_done`` pulsed a random time after each ``layer_start``).

Reference: :func:`verdict`, a plain-Python restatement of the checks that
``docs/registers.md`` (error codes, descriptor fields) and
``docs/controller.md`` document and :class:`circnn.config.ErrorCode` names:
``n_layers`` in ``1..max_layers``; per layer, in table order, ``q`` in
``1..max_q``, ``p`` in ``1..max_p``, ``acc_shift`` and ``out_shift`` in the
engine's ranges, ``w_base + ceil(p/P) * q * k/2 <= weight words``,
``b_base + p * k/2 <= bias pairs``, ``q`` equal to the previous layer's
``p`` and ``in_values`` (at least 1, at most q*k) equal to its ``out_features``, buffers that chain (layer 0 reads IN, each layer reads what the
previous one wrote, a middle layer writes A or B other than its source,
only the last writes OUT), ``1 <= out_features <= p*k``.  A bad table must
stop the controller with ``error``, the code (one of the codes the first
bad layer violates) and the layer, never start a layer nor accept input,
and never hang.  A good table must run layer after layer, batch after
batch, with ``layer_start`` pulses, ``config``/``src``/``dst`` equal to the
descriptor, layer 0 only once IN is full, and the counters (inferences,
busy clocks, each layer's clocks from its start pulse to its done pulse)
equal to what the testbench counted.  A ``start`` while busy changes
nothing but ``start_ignored``.
"""

import random

import pytest
from amaranth.hdl import Value
from amaranth.sim import Simulator

from circnn.config import Buffer, EngineConfig, ErrorCode, NetworkConfig
from circnn.rtl.layer import layer_config_layout
from circnn.rtl.network_controller import NetworkController

from component_support import unpack

# k = 4 (2 pairs a block), P = 2, B = 2; max_q = max_p = 3
ENGINE = EngineConfig(k=4, pes=2, batch=2, max_q=3, max_p=3, act_width=8, weight_width=8,
                      ifft_width=8, twiddle_width=8, weight_depth=18, bias_depth=14)
NET = NetworkConfig(ENGINE, max_layers=4)
CONFIG_FIELDS = ("q", "p", "acc_shift", "out_shift", "relu", "out_features", "w_base", "b_base")


def desc(q, p, src, dst, *, w_base=0, b_base=0, acc_shift=0, out_shift=0, relu=0,
         out_features=None):
    return {"q": q, "p": p, "acc_shift": acc_shift, "out_shift": out_shift, "relu": relu,
            "out_features": p * ENGINE.k if out_features is None else out_features,
            "w_base": w_base, "b_base": b_base, "src": src, "dst": dst}


def chained(table):
    """Dense descriptors reading what the layer before wrote: ``in_values`` is the
    previous layer's ``out_features`` (layer 0: its q*k)."""
    out, prev = [], None
    for d in table:
        out.append(dict(d, in_values=d["q"] * ENGINE.k if prev is None else prev["out_features"]))
        prev = d
    return out


def base_table():
    """A good three-layer table that uses the weight banks (18 words) and the
    bias memory (14 pairs) exactly to their ends, with shifts at their limits."""
    return chained([
        desc(2, 3, Buffer.IN, Buffer.A, w_base=0, b_base=0, acc_shift=19, out_shift=-8,
             out_features=12),
        desc(3, 1, Buffer.A, Buffer.B, w_base=8, b_base=6, out_shift=12, relu=1, out_features=1),
        desc(1, 3, Buffer.B, Buffer.OUT, w_base=14, b_base=8, acc_shift=0, out_features=10),
        # an unused slot: never checked
        desc(0, 0, Buffer.OUT, Buffer.IN, w_base=999, out_features=0),
    ])


def four_table():
    """A good table that fills all four slots."""
    return chained([desc(1, 1, Buffer.IN, Buffer.A, w_base=0, b_base=0),
                    desc(1, 2, Buffer.A, Buffer.B, w_base=2, b_base=2, relu=1),
                    desc(2, 1, Buffer.B, Buffer.A, w_base=4, b_base=6, out_shift=-3),
                    desc(1, 3, Buffer.A, Buffer.OUT, w_base=8, b_base=8, out_features=7)])


def verdict(eng, max_layers, table, n_layers):
    """``None`` for a good table, else ``(layer, {codes the layer violates})``."""
    if not 1 <= n_layers <= max_layers:
        return 0, {ErrorCode.LAYER_COUNT}
    N, P = eng.k // 2, eng.pes
    prev = None
    for layer in range(n_layers):
        d = table[layer]
        bad = set()
        q_ok = 1 <= d["q"] <= eng.max_q
        p_ok = 1 <= d["p"] <= eng.max_p
        if not q_ok:
            bad.add(ErrorCode.Q_RANGE)
        if not p_ok:
            bad.add(ErrorCode.P_RANGE)
        acc_lo, acc_hi = eng.acc_shift_range
        out_lo, out_hi = eng.out_shift_range
        if not (acc_lo <= d["acc_shift"] <= acc_hi and out_lo <= d["out_shift"] <= out_hi):
            bad.add(ErrorCode.SHIFT_RANGE)
        if d["in_values"] == 0:
            bad.add(ErrorCode.GEOMETRY_RANGE)
        if bad:     # ranges are checked first; the sums below assume them
            return layer, bad
        if d["w_base"] + -(-d["p"] // P) * d["q"] * N > eng.weight_words:
            bad.add(ErrorCode.WEIGHTS_OVERFLOW)
        if d["b_base"] + d["p"] * N > eng.bias_words:
            bad.add(ErrorCode.BIASES_OVERFLOW)
        if (prev is not None and (d["q"] != prev["p"] or d["in_values"] != prev["out_features"])) \
                or d["in_values"] > d["q"] * eng.k:
            bad.add(ErrorCode.SHAPE_CHAIN)
        last = layer == n_layers - 1
        src_ok = d["src"] == (Buffer.IN if prev is None else prev["dst"])
        dst_ok = d["dst"] == Buffer.OUT if last else (d["dst"] in (Buffer.A, Buffer.B)
                                                      and d["dst"] != d["src"])
        if not (src_ok and dst_ok):
            bad.add(ErrorCode.BUFFER_CHAIN)
        if not 1 <= d["out_features"] <= d["p"] * eng.k:
            bad.add(ErrorCode.OUT_FEATURES_RANGE)
        if bad:
            return layer, bad
        prev = d
    return None


class Harness:
    """One simulation; :meth:`run` starts a table and follows it to the end."""

    def __init__(self, seed, net=NET):
        self.net, self.eng = net, net.engine
        self.rng = random.Random(seed)
        self.dut = NetworkController(net)
        self.sim = Simulator(self.dut)
        self.sim.add_clock(1e-8)
        self.problems = []
        self.inferences = 0         # expected: since reset

    def go(self, script):
        async def bench(ctx):
            await script(ctx, self)
        self.sim.add_testbench(bench)
        self.sim.run()
        assert not self.problems, self.problems[:3]

    async def run(self, ctx, table, n_layers, n_batches, *, starts_while_busy=(),
                  fill=(0, 12), release=(1, 6), layer_time=(1, 15), timeout=3000):
        dut, eng, rng, L = self.dut, self.eng, self.rng, self.net.max_layers
        problems = self.problems
        for i in range(L):
            ctx.set(dut.descriptors[i], table[i])
        ctx.set(dut.n_layers, n_layers)
        ctx.set(dut.n_batches, n_batches)
        expect = verdict(eng, L, table, n_layers)
        layout = layer_config_layout(eng)
        # the start pulse
        ctx.set(dut.start, 1)
        await ctx.tick()
        ctx.set(dut.start, 0)
        in_full, fill_at, drop_at, done_at = 0, None, None, None
        starts, dones, busy_clocks, running_seen = [], [], 0, False
        for clock in range(timeout):
            ctx.set(dut.in_full, in_full)
            ctx.set(dut.layer_done, int(done_at == clock))
            ctx.set(dut.start, int(clock in starts_while_busy))
            _, _, busy, done, running, layer_start, src, dst, cfg, in_pairs = \
                await ctx.tick().sample(dut.busy, dut.done, dut.running, dut.layer_start,
                                        dut.src, dut.dst, Value.cast(dut.config), dut.in_pairs)
            busy_clocks += busy
            if clock in starts_while_busy and not busy:
                problems.append(f"clock {clock}: the testbench's extra start came while idle")
            if done_at == clock:
                dones.append(clock)
            if running and not busy:
                problems.append(f"clock {clock}: running while not busy")
            if layer_start and not running:
                problems.append(f"clock {clock}: a layer start while not running")
            if running:
                running_seen = True
                if in_pairs != table[0]["q"] * eng.half:
                    problems.append(f"clock {clock}: in_pairs {in_pairs} while running")
                if not in_full and fill_at is None and drop_at is None:
                    fill_at = clock + rng.randint(*fill)
            if fill_at == clock:
                in_full, fill_at = 1, None
            if drop_at == clock:
                in_full, drop_at = 0, None
            if layer_start:
                cfg = unpack(layout, cfg)
                starts.append((clock, {f: int(cfg[f]) for f in CONFIG_FIELDS}, Buffer(src),
                               Buffer(dst), in_full))
                if done_at is not None and done_at >= clock:
                    problems.append(f"clock {clock}: a layer start before the last one was done")
                done_at = clock + rng.randint(*layer_time)
                if len(starts) % n_layers == 1 or n_layers == 1:
                    # the layer controller has read IN (always before layer 0 is done)
                    drop_at = clock + rng.randint(*release)
                    done_at = max(done_at, drop_at + 1)
            if not busy:
                break
        else:
            problems.append(f"hang: still busy after {timeout} clocks (verdict {expect})")
            return
        status = {name: ctx.get(getattr(dut, name)) for name in
                  ("busy", "done", "error", "start_ignored", "error_code", "error_layer",
                   "inferences", "cycles")}
        layer_cycles = [ctx.get(dut.layer_cycles[i]) for i in range(L)]
        if status["done"] != 1 or status["busy"] != 0:
            problems.append(f"finished with status {status}")
        ignored = int(bool(starts_while_busy))
        if status["start_ignored"] != ignored:
            problems.append(f"start_ignored is {status['start_ignored']}, expected {ignored}")
        if expect is not None:
            layer, codes = expect
            if not status["error"] or ErrorCode(status["error_code"]) not in codes \
                    or (ErrorCode.LAYER_COUNT not in codes and status["error_layer"] != layer):
                problems.append(f"bad table: got error={status['error']} "
                                f"code={ErrorCode(status['error_code']).name} "
                                f"layer={status['error_layer']}, expected one of "
                                f"{sorted(c.name for c in codes)} at layer {layer}")
            if starts or running_seen:
                problems.append(f"bad table: {len(starts)} layers started, "
                                f"running seen: {running_seen}")
            if status["inferences"] != self.inferences:
                problems.append(f"bad table: inferences {status['inferences']}")
        else:
            self.inferences += n_batches * eng.batch
            if status["error"] or status["error_code"] != ErrorCode.NONE:
                problems.append(f"good table refused: code "
                                f"{ErrorCode(status['error_code']).name} layer "
                                f"{status['error_layer']}")
            order = [(b, l) for b in range(n_batches) for l in range(n_layers)]
            if len(starts) != len(order) or len(dones) != len(order):
                problems.append(f"{len(starts)} layer starts, {len(dones)} dones for "
                                f"{len(order)} layers")
            for (clock, cfg, src, dst, full), (b, l) in zip(starts, order):
                want = {f: int(table[l][f]) for f in CONFIG_FIELDS}
                if cfg != want or src != table[l]["src"] or dst != table[l]["dst"]:
                    problems.append(f"batch {b} layer {l}: config {cfg} {src.name}->{dst.name}, "
                                    f"descriptor {want} {table[l]['src'].name}->"
                                    f"{table[l]['dst'].name}")
                if l == 0 and not full:
                    problems.append(f"batch {b}: layer 0 started at clock {clock} before IN was full")
            if status["inferences"] != self.inferences:
                problems.append(f"inferences {status['inferences']}, expected {self.inferences}")
            if status["cycles"] != busy_clocks:
                problems.append(f"cycles {status['cycles']}, busy for {busy_clocks} clocks")
            last_batch = len(order) - n_layers
            for l in range(n_layers):
                if len(starts) == len(order) and len(dones) == len(order):
                    want = dones[last_batch + l] - starts[last_batch + l][0] + 1
                    if layer_cycles[l] != want:
                        problems.append(f"layer_cycles[{l}] = {layer_cycles[l]}, the layer took "
                                        f"{want} clocks (start to done)")
        for _ in range(2):
            await ctx.tick()


def mutated(layer, **changes):
    table = base_table()
    table[layer] = dict(table[layer], **changes)
    return table


BAD_TABLES = [  # (name, table, n_layers, the one code expected, layer)
    ("q zero", mutated(0, q=0), 3, ErrorCode.Q_RANGE, 0),
    ("q above max", mutated(0, q=4), 3, ErrorCode.Q_RANGE, 0),        # 0 in the core's 2 bits
    ("p zero", mutated(2, p=0, out_features=1), 3, None, 2),          # also out_features > p*k
    ("p above max", mutated(0, p=4), 3, ErrorCode.P_RANGE, 0),        # 0 in the core's 2 bits
    ("acc_shift", mutated(1, acc_shift=20), 3, ErrorCode.SHIFT_RANGE, 1),
    ("out_shift high", mutated(2, out_shift=13), 3, ErrorCode.SHIFT_RANGE, 2),
    ("out_shift low", mutated(0, out_shift=-9), 3, ErrorCode.SHIFT_RANGE, 0),
    ("weights one past", mutated(2, w_base=15), 3, ErrorCode.WEIGHTS_OVERFLOW, 2),
    ("w_base wraps in the core", mutated(1, w_base=32), 3, ErrorCode.WEIGHTS_OVERFLOW, 1),
    ("biases one past", mutated(2, b_base=9), 3, ErrorCode.BIASES_OVERFLOW, 2),
    ("b_base wraps in the core", mutated(0, b_base=16), 3, ErrorCode.BIASES_OVERFLOW, 0),
    ("shape", mutated(1, q=2), 3, ErrorCode.SHAPE_CHAIN, 1),
    ("layer 0 reads A", mutated(0, src=Buffer.A), 3, ErrorCode.BUFFER_CHAIN, 0),
    ("reads what was not written", mutated(1, src=Buffer.B, dst=Buffer.A), 3,
     ErrorCode.BUFFER_CHAIN, 1),
    ("middle layer writes OUT", mutated(1, dst=Buffer.OUT), 3, ErrorCode.BUFFER_CHAIN, 1),
    ("middle layer writes IN", mutated(1, dst=Buffer.IN), 3, ErrorCode.BUFFER_CHAIN, 1),
    ("middle layer writes its source", mutated(1, dst=Buffer.A), 3, ErrorCode.BUFFER_CHAIN, 1),
    ("last layer writes B", mutated(2, dst=Buffer.A), 3, ErrorCode.BUFFER_CHAIN, 2),
    ("last of two writes B", base_table(), 2, ErrorCode.BUFFER_CHAIN, 1),
    ("out_features zero", mutated(1, out_features=0), 3, ErrorCode.OUT_FEATURES_RANGE, 1),
    ("out_features past p*k", mutated(2, out_features=13), 3, ErrorCode.OUT_FEATURES_RANGE, 2),
    ("last slot", [*four_table()[:3], dict(four_table()[3], out_features=0)], 4,
     ErrorCode.OUT_FEATURES_RANGE, 3),
    ("no layers", base_table(), 0, ErrorCode.LAYER_COUNT, 0),
    ("more layers than slots", base_table(), 5, ErrorCode.LAYER_COUNT, 0),
    ("n_layers wraps", base_table(), 0x103, ErrorCode.LAYER_COUNT, 0),
]


@pytest.mark.parametrize("name,table,n_layers,code,layer", BAD_TABLES,
                         ids=[case[0] for case in BAD_TABLES])
def test_bad_table_is_refused_then_a_good_one_runs(name, table, n_layers, code, layer, seed):
    # the reference agrees that exactly this code is violated (the case is what its name says)
    if code is not None:
        assert verdict(ENGINE, NET.max_layers, table, n_layers) == (layer, {code})
    else:
        assert verdict(ENGINE, NET.max_layers, table, n_layers)[0] == layer
    assert verdict(ENGINE, NET.max_layers, base_table(), 3) is None

    async def script(ctx, h):
        await h.run(ctx, table, n_layers, 2)
        await h.run(ctx, base_table(), 3, 1)       # error cleared, the engine still works
    Harness(seed).go(script)


def test_first_bad_layer_is_reported(seed):
    table = mutated(1, q=2)
    table[2] = dict(table[2], w_base=16)      # layer 2 is bad too
    assert verdict(ENGINE, NET.max_layers, table, 3) == (1, {ErrorCode.SHAPE_CHAIN})

    async def script(ctx, h):
        await h.run(ctx, table, 3, 1)
    Harness(seed).go(script)


def test_good_table_runs_layer_after_layer(seed):
    async def script(ctx, h):
        await h.run(ctx, base_table(), 3, 3)
        await h.run(ctx, base_table(), 3, 2, fill=(20, 40), layer_time=(30, 60))   # slow host
        table = base_table()
        table[1] = dict(table[1], dst=Buffer.OUT)
        await h.run(ctx, table, 2, 2)     # n_layers < table: the rest is not looked at
        await h.run(ctx, chained([desc(3, 3, Buffer.IN, Buffer.OUT)] + base_table()[1:]), 1, 2)
        assert verdict(ENGINE, NET.max_layers, four_table(), 4) is None
        await h.run(ctx, four_table(), 4, 2)      # every slot of the table
    Harness(seed).go(script)


def random_chain(rng, eng, n_layers):
    """A good random table: a q/p chain, A/B ping-pong, weights and biases packed."""
    N, P = eng.half, eng.pes
    while True:
        shapes = [rng.randint(1, eng.max_q)] + [rng.randint(1, eng.max_p) for _ in range(n_layers)]
        w_need = sum(-(-p // P) * q * N for q, p in zip(shapes, shapes[1:]))
        b_need = sum(p * N for p in shapes[1:])
        if w_need <= eng.weight_words and b_need <= eng.bias_words:
            break
    table, w, b = [], rng.randint(0, eng.weight_words - w_need), rng.randint(0, eng.bias_words - b_need)
    src = Buffer.IN
    for layer, (q, p) in enumerate(zip(shapes, shapes[1:])):
        dst = Buffer.OUT if layer == n_layers - 1 else (Buffer.A if src != Buffer.A else Buffer.B)
        table.append(desc(q, p, src, dst, w_base=w, b_base=b,
                          acc_shift=rng.randint(*eng.acc_shift_range),
                          out_shift=rng.randint(*eng.out_shift_range), relu=rng.randint(0, 1),
                          out_features=rng.randint(1, p * eng.k)))
        w += -(-p // P) * q * N
        b += p * N
        src = dst
    return chained(table)


def test_random_tables(seed):
    """Random good tables and random single-field corruptions, one after the other."""
    rng = random.Random(seed)
    fields = {"q": [0, 4, 9], "p": [0, 4, 7], "acc_shift": [20, 255], "out_shift": [-9, 13, 127],
              "w_base": [18, 40], "b_base": [14, 200], "out_features": [0, 13],
              "src": list(Buffer), "dst": list(Buffer)}
    cases = []
    for _ in range(14):
        n_layers = rng.randint(1, NET.max_layers)
        table = random_chain(rng, ENGINE, n_layers)
        table += [desc(0, 0, Buffer.IN, Buffer.IN)] * (NET.max_layers - n_layers)
        if rng.random() < 0.6:
            layer = rng.randrange(n_layers)
            field = rng.choice(sorted(fields))
            table[layer] = dict(table[layer], **{field: rng.choice(fields[field])})
        cases.append((table, n_layers))

    async def script(ctx, h):
        for table, n_layers in cases:
            await h.run(ctx, table, n_layers, rng.randint(1, 2), layer_time=(1, 8))
    Harness(seed).go(script)


@pytest.mark.parametrize("when", ["checking", "running"])
def test_start_while_busy_only_sets_start_ignored(when, seed):
    async def script(ctx, h):
        # clocks 1, 2 are inside the table checks; 60, 100 inside the run (>= 150 clocks)
        busy_starts = (1, 2) if when == "checking" else (60, 100)
        await h.run(ctx, base_table(), 3, 2, starts_while_busy=busy_starts, fill=(5, 10),
                    layer_time=(20, 40))
        await h.run(ctx, base_table(), 3, 1)       # a new start clears the flag
    Harness(seed).go(script)
