# amaranth: UnusedElaboratable=no
"""``MapWriter`` (Amaranth simulator): a convolution's output pairs, in the core's
order (batches of B rows, pass by pass, vector by vector), under bursty stalls,
land in a model of the destination buffer exactly where
:func:`circnn.sim.model.conv.maxpool` of the channel-last map puts them.

The buffer model returns garbage for a read of a word written in the same
clock (the block RAM does not define it) and starts full of garbage, so a
missed write, a read-modify-write that overtakes an earlier write of its word
(short rows: k = 4, C_out of 1 to 3, overlapping windows) or a write outside
the map shows up in the comparison of every map value, or in the count of
writes outside it."""

import random

import numpy as np
import pytest
from amaranth.hdl import Value, signed
from amaranth.sim import Simulator

from circnn.config import EngineConfig, NetworkConfig, PatchConfig
from circnn.rtl.activation_buffer import BufferAddress
from circnn.rtl.map_writer import MapWriter, map_pair_layout
from circnn.sim.model.conv import maxpool

from component_support import pack
from streams import StallPattern, check_stream, send

WIDTH = 8

#: (C_out, out_h, out_w, pool ((kh, kw), (sh, sw)) or None, batch)
CASES = [
    (1, 4, 4, ((2, 2), (2, 2)), 1),
    (2, 5, 4, ((2, 2), (1, 1)), 1),       # overlapping windows, a row every 2 clocks
    (3, 5, 5, ((3, 3), (2, 2)), 2),
    (5, 4, 6, ((2, 3), (2, 2)), 2),
    (8, 3, 3, None, 2),
    (3, 4, 3, None, 1),                   # odd C_out: pairs straddle words
    (6, 6, 5, ((3, 2), (2, 1)), 2),
]


def _net(batch):
    return NetworkConfig(EngineConfig(k=4, batch=batch, max_q=4, max_p=2), max_map=256,
                         patch=PatchConfig(max_side=8, max_channels=8, max_kernel=3,
                                           max_stride=2, max_padding=1))


def _shape(c_out, oh, ow, pool, images):
    ph = pw = 0
    (pkh, pkw), (psh, psw) = pool if pool else ((1, 1), (1, 1))
    if pool:
        ph, pw = (oh - pkh) // psh + 1, (ow - pkw) // psw + 1
    return {"conv": 1, "c_out": c_out, "out_h": oh, "out_w": ow, "rows": oh * ow,
            "pool": int(bool(pool)), "pool_kh": pkh, "pool_kw": pkw, "pool_sh": psh,
            "pool_sw": psw, "pool_h": ph, "pool_w": pw, "pool_row": pw * c_out}


def _pairs(net, y, images, c_out):
    """The core's output order for maps ``y`` (images, pixels, p*k channels)."""
    eng = net.engine
    k, B = eng.k, eng.batch
    rows = y.reshape(-1, y.shape[-1])            # image after image
    p = -(-c_out // k)
    out = []
    for batch in range(len(rows) // B):
        for block in range(p):
            for v in range(B):
                for n in range(k // 2):
                    ch = block * k + 2 * n
                    out.append(dict(y0=int(rows[batch * B + v, ch]),
                                    y1=int(rows[batch * B + v, ch + 1]), vector=v, channel=ch,
                                    batch_last=0, layer_last=0))
        out[-1]["batch_last"] = 1
    out[-1]["layer_last"] = 1
    return out


@pytest.mark.parametrize("latency", [2, 3])
@pytest.mark.parametrize("case", range(len(CASES)))
def test_map_writer_places_every_value(case, latency, seed):
    c_out, oh, ow, pool, B = CASES[case]
    rng = random.Random(seed * 97 + case)
    nrng = np.random.default_rng(rng.getrandbits(32))
    net = _net(B)
    k = net.engine.k
    value = signed(WIDTH)
    images = B
    lo, hi = -(1 << (WIDTH - 1)), (1 << (WIDTH - 1)) - 1
    p = -(-c_out // k)
    # channels beyond C_out are garbage the writer must drop
    y = nrng.integers(lo, hi + 1, size=(images, oh * ow, p * k))
    maps = y[:, :, :c_out].reshape(images, oh, ow, c_out)
    expected = maxpool(maps, *pool) if pool else maps
    expected = expected.reshape(images, -1)

    dut = MapWriter(net, value, latency)
    bits = BufferAddress(net)

    def address(word, image):
        return (image << bits.word_bits | word) if bits.image_bits else word
    sim = Simulator(dut)
    sim.add_clock(1e-8)
    rules = check_stream(sim, dut.i, "i")
    memory = {}                     # (address, half) -> value, garbage when unwritten
    result = {"done": [], "written": set(), "last_write": -1, "last_taken": -1, "clock": 0}

    def stored(addr, half):
        return memory.setdefault((addr, half), rng.randint(lo, hi))

    async def buffer(ctx):
        reads = []
        async for _, _, rd_addr, wr_addr, wr_en, wr_data, done, valid, ready in \
                ctx.tick().sample(dut.rd_addr, dut.wr_addr, dut.wr_en, Value.cast(dut.wr_data),
                                  dut.done, dut.i.valid, dut.i.ready):
            if valid and ready:
                result["last_taken"] = result["clock"]
            word = []
            for h in range(2):
                clash = (wr_en >> h) & 1 and wr_addr == rd_addr
                word.append(rng.randint(lo, hi) if clash else stored(rd_addr, h))
            reads.append(word)
            for h in range(2):
                if (wr_en >> h) & 1:
                    raw = (wr_data >> (h * WIDTH)) & ((1 << WIDTH) - 1)
                    memory[(wr_addr, h)] = raw - (1 << WIDTH) if raw >> (WIDTH - 1) else raw
                    result["written"].add((wr_addr, h))
                    result["last_write"] = result["clock"]
            if done:
                result["done"].append(result["clock"])
            result["clock"] += 1
            # the word read at clock t is there during clock t + latency
            if len(reads) >= latency:
                d = reads[len(reads) - latency]
                ctx.set(dut.rd_data, [d[0], d[1]])

    async def drive(ctx):
        for key, v in _shape(c_out, oh, ow, pool, images).items():
            ctx.set(getattr(dut.shape, key), v)
        ctx.set(dut.start, 1)
        await ctx.tick()
        ctx.set(dut.start, 0)
        layout = map_pair_layout(net, value)
        await send(ctx, dut.i, [pack(layout, w) for w in _pairs(net, y, images, c_out)],
                   StallPattern(0.3, 3, rng=random.Random(rng.random())))
        for _ in range(400):
            await ctx.tick()

    sim.add_testbench(buffer, background=True)
    sim.add_testbench(drive)
    sim.run()
    rules.check()

    got = np.array([[memory.get((address(v // 2, b), v % 2)) for v in range(expected.shape[1])]
                    for b in range(images)], dtype=object)
    bad = np.argwhere(got != expected)
    assert not len(bad), (f"{len(bad)} of {expected.size} values wrong, first at image "
                          f"{bad[0][0]} value {bad[0][1]}: {got[tuple(bad[0])]} != "
                          f"{expected[tuple(bad[0])]}")
    # every write lands inside the map (none to a value beyond it)
    inside = {(address(v // 2, b), v % 2) for b in range(images)
              for v in range(expected.shape[1])}
    outside = result["written"] - inside
    assert not outside, f"{len(outside)} writes outside the map, e.g. {sorted(outside)[0]}"
    # done once, after the last write and the last pair taken (a layer may end with
    # pairs that write nothing), and soon after
    done, end = result["done"], max(result["last_write"], result["last_taken"])
    assert len(done) == 1 and end < done[0] <= end + 40, \
        f"done at {done}, last write at {result['last_write']}, last pair taken at " \
        f"{result['last_taken']}"
