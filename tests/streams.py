"""``amaranth.lib.stream`` drivers and the protocol checker for Amaranth-simulator tests.

* :func:`check_stream` adds a background testbench that feeds every clock
  edge of a stream to :class:`circnn.sim.benches.monitor.StreamRules` (the
  rules the cocotb benches check too) and returns it: call ``.check()``
  after the run, and ``.words`` are the transferred payloads in order;
* :func:`send` offers words on a stream (idle clocks from a
  :class:`~circnn.sim.benches.patterns.StallPattern`), holding each until
  it is accepted; :func:`receive` takes ``count`` words, stalling as its
  pattern says.

Payloads are raw integers (the layout's bits, LSB first).
"""

from amaranth.hdl import Value

from circnn.sim.benches.monitor import StreamRules
from circnn.sim.benches.patterns import StallPattern

__all__ = ["check_stream", "send", "receive", "StallPattern"]


def check_stream(sim, stream, name: str) -> StreamRules:
    rules = StreamRules(name)

    async def watch(ctx):
        async for _, rst, valid, ready, payload in ctx.tick().sample(
                stream.valid, stream.ready, Value.cast(stream.payload)):
            if not rst:
                rules.observe(int(valid), int(ready), int(payload))
    sim.add_testbench(watch, background=True)
    return rules


async def send(ctx, stream, words, pattern: StallPattern | None = None) -> None:
    """Offer each word (an int) until it is accepted; idle clocks as ``pattern`` says."""
    payload = Value.cast(stream.payload)
    for word in words:
        while pattern is not None and pattern.next():
            ctx.set(stream.valid, 0)
            await ctx.tick()
        ctx.set(stream.valid, 1)
        ctx.set(payload, int(word))
        while True:
            _, _, ready = await ctx.tick().sample(stream.ready)
            if ready:
                break
    ctx.set(stream.valid, 0)


async def receive(ctx, stream, count: int, pattern: StallPattern | None = None,
                  timeout: int = 100_000) -> list[int]:
    """Take ``count`` words (ints), ``ready`` low on the clocks ``pattern`` stalls."""
    payload = Value.cast(stream.payload)
    words = []
    for _ in range(timeout):
        if len(words) == count:
            break
        ctx.set(stream.ready, 0 if pattern is not None and pattern.next() else 1)
        _, _, valid, ready, value = await ctx.tick().sample(stream.valid, stream.ready, payload)
        if valid and ready:
            words.append(value)
    else:
        raise AssertionError(f"received {len(words)} of {count} words in {timeout} clocks")
    ctx.set(stream.ready, 0)
    return words
