"""Shared pieces of the single-component tests (``test_dense_*.py``, ``test_layer_controller.py``,
``test_network_controller.py``).

* :func:`pack` / :func:`unpack`: a layout's payload as the raw integer that
  :mod:`streams` sends and records, and back;
* :func:`wrap_signed`: two's-complement wrap of a Python int;
* :func:`dense_loop_nest`: the dense engine's documented schedule (``rtl/dense.py``,
  ``rtl/dense_scheduler.py``), enumerated step by step;
* :func:`run_products`: a free-running product pipeline (the complex
  multipliers) fed a new operand every clock, each result checked exactly
  ``latency`` clocks later;
* :class:`BankPairModel`: the ownership rules of two ping-pong banks, restated
  in plain Python from the protocol described in ``rtl/bank_pair.py`` (free ->
  claimed -> ready -> free, pointers toggling on commit, landing and release,
  every effect visible on the next clock).  A test plays the side(s) of the
  pair that the component under test does not, and the model records every
  protocol violation the component commits (a commit while the bank is not
  free, a release of a bank that is not ready, ...).
"""

from amaranth.hdl import Const
from amaranth.sim import Simulator

__all__ = ["pack", "unpack", "wrap_signed", "dense_loop_nest", "run_products", "BankPairModel"]


def pack(layout, value) -> int:
    """``value`` (a dict for a struct, a list for an array) as the layout's raw bits."""
    return Const.cast(layout.const(value)).value


def unpack(layout, word: int):
    """The raw bits ``word`` as a constant view of ``layout`` (fields read as ints)."""
    return layout.from_bits(int(word))


def wrap_signed(value: int, bits: int) -> int:
    value &= (1 << bits) - 1
    return value - (1 << bits) if value >> (bits - 1) else value


def dense_loop_nest(mults: int, batch: int, m: int, n: int, n_batches: int, first_bank: int = 0):
    """Every pass of ``n_batches`` batches as ``(batch, g, bank, steps)``.

    For each batch, ``for g < ceil(m/M): for j < n: for b < B``: the input pair
    ``b * ceil(n/2) + j // 2`` (lane ``j % 2``), weight word ``g*n + j``,
    ``first`` at ``j = 0``, ``last`` at ``j = n - 1``, ``end_of_pass`` on the
    pass's final step, ``active = min(M, m - g*M)`` multipliers; passes
    alternate between the two banks of finished sums.
    """
    n_pairs = -(-n // 2)
    passes, bank = [], first_bank
    for b_index in range(n_batches):
        for g in range(-(-m // mults)):
            steps = [{"x_addr": b * n_pairs + j // 2, "lane": j % 2, "w_addr": g * n + j,
                      "first": int(j == 0), "last": int(j == n - 1),
                      "end_of_pass": int(j == n - 1 and b == batch - 1), "b": b, "bank": bank,
                      "active": min(mults, m - g * mults)}
                     for j in range(n) for b in range(batch)]
            passes.append((b_index, g, bank, steps))
            bank ^= 1
    return passes


def run_products(dut, operands, latency: int, drive, expected) -> list:
    """Feed ``operands`` (one per clock: ``drive(ctx, operand)`` sets the inputs) and
    compare ``(p.re, p.im)`` ``latency`` clocks later with ``expected(operand)``.
    Returns the mismatches as ``(n, operand, got, expected)``."""
    sim = Simulator(dut)
    sim.add_clock(1e-8)
    bad, checked = [], []

    async def bench(ctx):
        for clock in range(len(operands) + latency - 1):
            if clock < len(operands):
                drive(ctx, operands[clock])
            await ctx.tick()
            n = clock + 1 - latency     # operands whose product is due now
            if n >= 0:
                want = expected(operands[n])
                got = (ctx.get(dut.p.re), ctx.get(dut.p.im))
                checked.append(n)
                if got != want:
                    bad.append((n, operands[n], got, want))
    sim.add_testbench(bench)
    sim.run()
    assert len(checked) == len(operands)
    return bad


class BankPairModel:
    """Two banks used in turn by a writer and a reader (``landing``: with the claimed state)."""

    def __init__(self, name: str, *, landing: bool):
        self.name = name
        self.landing = landing
        self.w_bank = self.r_bank = self.land_bank = 0
        self.claimed = [False, False]   # committed, last data maybe still landing
        self.ready = [False, False]     # the reader owns it
        self.violations: list[str] = []
        self.commits = self.lands = self.releases = 0

    # --- what the two sides see ------------------------------------------------
    @property
    def free(self) -> bool:
        """The writer may use bank ``w_bank``."""
        return not (self.claimed[self.w_bank] or self.ready[self.w_bank])

    @property
    def reader_ready(self) -> bool:
        return self.ready[self.r_bank]

    @property
    def reader_ready_next(self) -> bool:
        return self.ready[1 - self.r_bank]

    def writable(self, bank: int) -> bool:
        """A bank the writer owns (free or claimed, never the reader's)."""
        return not self.ready[bank]

    def drive_writer(self, ctx, port) -> None:
        ctx.set(port.bank, self.w_bank)
        ctx.set(port.free, int(self.free))

    def drive_reader(self, ctx, port) -> None:
        ctx.set(port.bank, self.r_bank)
        ctx.set(port.ready, int(self.reader_ready))
        ctx.set(port.ready_next, int(self.reader_ready_next))

    # --- one clock edge --------------------------------------------------------
    def step(self, clock: int, *, commit=False, land=False, release=False) -> None:
        """Apply the events seen at one clock edge (registered: visible next clock)."""
        commit, land, release = bool(commit), bool(land), bool(release)
        if commit and not self.free:
            self._violate(clock, f"commit of bank {self.w_bank}, which is not free")
        if release and not self.reader_ready:
            self._violate(clock, f"release of bank {self.r_bank}, which is not ready")
        if land:
            if not self.landing:
                self._violate(clock, "land on a pair without landing")
            elif not (self.claimed[self.land_bank] or (commit and self.w_bank == self.land_bank)):
                self._violate(clock, f"land of bank {self.land_bank}, which is not claimed")
        w, r, lb = self.w_bank, self.r_bank, self.land_bank
        if commit:
            self.commits += 1
            if self.landing:
                self.claimed[w] = True
            else:
                self.ready[w] = True
            self.w_bank = 1 - w
        if land and self.landing:
            self.lands += 1
            self.claimed[lb] = False
            self.ready[lb] = True
            self.land_bank = 1 - lb
        if release:
            self.releases += 1
            self.ready[r] = False
            self.claimed[r] = False
            self.r_bank = 1 - r

    def _violate(self, clock, what):
        if len(self.violations) < 20:
            self.violations.append(f"{self.name}, clock {clock}: {what}")

    def check(self) -> None:
        assert not self.violations, "; ".join(self.violations[:5])
