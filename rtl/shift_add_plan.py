"""``ShiftAddPlan``: the adders of a :class:`~circnn.rtl.constant_mult.ConstantComplexMultiplier`.

Pure Python, worked out at elaboration from the operand width and the
constant set; the component turns it into registers and adders, and
:meth:`ShiftAddPlan.evaluate` runs the same network on Python integers (the
tests check every constant set the FFTs use that way).

**Products as coefficients.** Every register of the network holds
``c * lane`` for an integer coefficient ``c`` and one of two lanes, ``X``
and ``Y``: the operand's parts, swapped for a constant whose imaginary part
is the larger (``X = a.im``, ``Y = a.re``), so that with

    no swap:  p.re = cr * X - ci * Y      p.im = ci * X + cr * Y
    swap:     p.re = -ci * X + cr * Y     p.im = cr * X + ci * Y

each output takes one product of each lane, the larger magnitude of the pair
from ``X`` for ``p.re`` and from ``Y`` for ``p.im``.  A rotation set then
selects between fewer products per output (cos/sin of multiples of pi/8:
two, not three).  Registers of equal coefficient, lane and level are one
register, so the magnitudes share their partial sums.

**Product trees.**  Each distinct magnitude ``m`` of a lane is recoded in
canonical signed digits (:func:`csd_digits`: ``m = sum d_k 2^s_k``, no two
neighbouring digits non-zero; at most 8 digits for every twiddle of 8..18
bits) and summed in a balanced tree of exactly three levels: level 1 adds
neighbouring digits' terms, level 2 neighbouring level-1 sums, level 3 the
rest (a lone term is registered through).  A sum keeps the low bits of its
lower-shifted operand as they are and adds only above them, so an adder
spans about the operand width, not the product's.  A register may hold its
partial sum or the negation: ``lo + hi`` and ``lo - hi`` keep the low bits,
``hi - lo`` spans the full width, ``-lo - hi`` is not one adder, so a tree
whose digits are all positive cannot hold ``-m * lane``; each digit form with
one digit ``d 2^s`` written ``d 2^(s+1) - d 2^s`` is a candidate too
(:func:`_representations`).  :func:`_tree_signs` prices each sign of each
candidate in carry-chain bits, counting the registers already built as free;
a lane's trees are built one after the other (every order for up to four
magnitudes, :func:`_orders`) and the cheapest lane kept.

**Final sum.**  An output is ``(A ^ sA) + (B ^ sB) + (sA | sB)``: two
selected tree roots, each inverted per constant, and the carry in; one
adder, with a 2:1 multiplexer and the inversion in the LUT in front of it
for up to two roots per selection.  It cannot negate both operands, so the
roots' signs are chosen (2-satisfiability, :func:`_solve_signs`) such that
no constant needs ``-A - B``; every twiddle and split/merge set of the FFT
configurations has such a choice (the tests check them all), an arbitrary
set may not (``ValueError``).  Zero parts select a constant 0; a power of
two is a tree of no adders.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

__all__ = ["ShiftAddPlan", "csd_digits", "TREE_LEVELS", "MAX_DIGITS", "SLOTS"]

#: adder levels of a product tree (registers R1 -> R2 -> R3 -> R4)
TREE_LEVELS = 3
#: the most non-zero digits a magnitude may have
MAX_DIGITS = 2 ** TREE_LEVELS
#: the four selected products: (output, lane) of each
SLOTS = ("re_a", "re_b", "im_a", "im_b")
_SLOT_LANE = {"re_a": 0, "re_b": 1, "im_a": 0, "im_b": 1}


def csd_digits(m: int) -> list[tuple[int, int]]:
    """Canonical signed digits of ``m > 0``: ``[(shift, +-1)]``, lowest shift first."""
    if m <= 0:
        raise ValueError(f"csd_digits needs a positive integer, not {m}")
    digits, shift = [], 0
    while m:
        if m & 1:
            d = 2 - (m & 3)             # +1 when m = 1 mod 4, -1 when m = 3 mod 4
            digits.append((shift, d))
            m -= d
        m >>= 1
        shift += 1
    return digits


def signed_bits(lo: int, hi: int) -> int:
    """Width of a two's-complement register holding every integer in ``lo..hi``."""
    return max(max(hi, 0).bit_length(), (-min(lo, 0) - 1).bit_length()) + 1


@dataclass(frozen=True)
class _Term:
    """A node of a product tree: ``true * 2^shift * lane`` (``true`` = its digits' sum),
    registered at ``level`` (0: the lane register, for a digit)."""

    shift: int
    true: int
    level: int = 0
    children: tuple = ()            # (): a digit; (A,): registered through; (A, B): a sum


@dataclass(frozen=True)
class Register:
    """One register of the network: ``coef * lane`` at ``level`` (0: the lane register).

    ``op``: ``lane``; ``delay`` (``lo`` one clock later); ``add``
    (``lo + sign * (hi << shift)``, the low ``shift`` bits of ``lo`` passed on);
    ``rsub`` (``(hi << shift) - lo``).
    """

    lane: int
    coef: int
    level: int
    width: int
    op: str
    lo: tuple | None = None
    hi: tuple | None = None
    shift: int = 0
    sign: int = 1

    @property
    def key(self) -> tuple[int, int, int]:
        return (self.lane, self.coef, self.level)


def _representations(m: int):
    """Signed-digit forms of ``m``: its canonical one, and each with one digit ``d 2^s``
    written ``d 2^(s+1) - d 2^s`` (one digit more, but a digit of the other sign, so
    that the tree can hold ``-m * lane`` too: a magnitude of positive digits only
    cannot)."""
    digits = csd_digits(m)
    yield digits
    for i, (s, d) in enumerate(digits):     # s + 1 is free: canonical digits never touch
        yield digits[:i] + [(s, -d), (s + 1, d)] + digits[i + 1:]


def _build_tree(digits) -> _Term:
    """The balanced tree of ``TREE_LEVELS`` levels over ``digits`` (lowest shift first)."""
    terms = [_Term(s, d) for s, d in digits]
    for level in range(1, TREE_LEVELS + 1):
        nxt = []
        for i in range(0, len(terms) - 1, 2):
            a, b = terms[i], terms[i + 1]
            nxt.append(_Term(a.shift, a.true + (b.true << (b.shift - a.shift)), level, (a, b)))
        if len(terms) % 2:
            nxt.append(_Term(terms[-1].shift, terms[-1].true, level, (terms[-1],)))
        terms = nxt
    return terms[0]


def _trees(m: int) -> list[_Term]:
    """The candidate trees of magnitude ``m``, one per signed-digit form that fits."""
    count = len(csd_digits(m))
    if count > MAX_DIGITS:
        raise ValueError(f"{m} has {count} non-zero signed digits; a product tree of "
                         f"{TREE_LEVELS} levels sums at most {MAX_DIGITS}")
    return [_build_tree(d) for d in _representations(m) if len(d) <= MAX_DIGITS]


def _tree_signs(term: _Term, lane: int, width_of, built, memo=None) -> dict[int, tuple[int, tuple]]:
    """``{sign: (adder bits, child signs)}``: the signs the register of ``term`` can hold
    (it holds ``sign * true * lane``) and the cheapest way to each, counting the
    registers in ``built`` (keys ``(lane, coef, level)``) as free.  ``memo`` keeps
    the answers for subtrees while ``built`` does not change."""
    if not term.children:
        return {term.true: (0, ())}                     # a digit: the lane itself
    memo = {} if memo is None else memo
    if id(term) in memo:
        return memo[id(term)][1]
    out = {}
    memo[id(term)] = (term, out)                        # the term kept alive with its id
    for sign in (1, -1):
        if (lane, sign * term.true, term.level) in built:
            out[sign] = (0, None)
    opts = [_tree_signs(c, lane, width_of, built, memo) for c in term.children]
    if len(opts) == 1:
        for s, (cost, _) in opts[0].items():
            out.setdefault(s, (cost, (s,)))
        return out
    (a, b), (opt_a, opt_b) = term.children, opts
    d = b.shift - a.shift
    for sign in (1, -1):
        if sign in out:
            continue
        width = width_of(sign * term.true)
        for sa, (ca, _) in opt_a.items():
            for sb, (cb, _) in opt_b.items():
                ea, eb = sign * sa, sign * sb
                if ea < 0 and eb < 0:
                    continue                            # -lo - hi: not one adder
                cost = ca + cb + (width - d if ea > 0 else width)
                if sign not in out or cost < out[sign][0]:
                    out[sign] = (cost, (sa, sb))
    return out


def _cheapest(trees, lane, width_of, built) -> dict[int, tuple[int, _Term]]:
    """``{sign: (adder bits, tree)}``: the cheapest of ``trees`` for each reachable sign."""
    best, memo = {}, {}
    for tree in trees:
        for sign, (cost, _) in _tree_signs(tree, lane, width_of, built, memo).items():
            if sign not in best or cost < best[sign][0]:
                best[sign] = (cost, tree)
    return best


def _solve_signs(options: dict, clauses: list) -> dict:
    """A value per variable from its ``options`` (``{value: cost}``), cheapest first,
    such that every clause ``((var, value), (var, value))`` has a true literal.

    Two-literal clauses: assigning a variable and following what it forces
    either succeeds or shows the other value is needed (2-satisfiability), so
    one retry per variable decides."""
    by_var = {}
    for lit_a, lit_b in clauses:
        by_var.setdefault(lit_a[0], []).append((lit_a[1], lit_b))
        by_var.setdefault(lit_b[0], []).append((lit_b[1], lit_a))

    def force(var, value, trial) -> bool:
        todo = [(var, value)]
        while todo:
            v, x = todo.pop()
            if v in trial:
                if trial[v] != x:
                    return False
                continue
            if x not in options[v]:
                return False
            trial[v] = x
            for want, other in by_var.get(v, ()):
                if want != x:
                    todo.append(other)
        return True

    chosen = {}
    for var in sorted(options):
        if var in chosen:
            continue
        for value in sorted(options[var], key=options[var].get):
            trial = dict(chosen)
            if force(var, value, trial):
                chosen = trial
                break
        else:
            raise ValueError("no choice of product signs lets every constant's outputs "
                             "be formed by one adder")
    return chosen


def _orders(mags: list[int]):
    """The orders in which to try building a lane's trees: all of them for up to four
    magnitudes, a few for up to eight (most digits first, fewest first, by size), one
    beyond (large sets are not worth adders anyway: ``SHIFT_ADD_MAX_MAGNITUDES``)."""
    if len(mags) <= 4:
        yield from itertools.permutations(mags)
        return
    weight = lambda m: len(csd_digits(m))
    yield sorted(mags, key=weight, reverse=True)
    if len(mags) <= 8:
        yield from (sorted(mags, key=weight), mags, mags[::-1])


def _adder_bits(regs) -> int:
    """Carry-chain bits of a set of registers: the part above the bits an adder passes on."""
    return sum(r.width - (r.shift if r.op == "add" else 0) for r in regs.values()
               if r.op in ("add", "rsub"))


def _count_digits(term: _Term) -> int:
    return sum(_count_digits(c) for c in term.children) if term.children else 1


def _sign(v: int) -> int:
    return (v > 0) - (v < 0)


class ShiftAddPlan:
    """Registers and selections that multiply an ``a_width``-bit complex operand by any
    of ``constants`` (``(re, im)`` integers) exactly."""

    def __init__(self, a_width: int, constants):
        self.a_width = a_width
        self.constants = [(int(re), int(im)) for re, im in constants]
        self.lo, self.hi = -(1 << (a_width - 1)), (1 << (a_width - 1)) - 1
        self._widths = {}
        self.swaps = [abs(re) < abs(im) for re, im in self.constants]
        #: per constant, per slot: the coefficient of that slot's lane
        self.coefs = [self._slot_coefs(c, s) for c, s in zip(self.constants, self.swaps)]
        mags = {(lane, abs(k)) for ks in self.coefs for slot, k in ks.items()
                for lane in (_SLOT_LANE[slot],) if k}
        candidates = {var: _trees(var[1]) for var in sorted(mags)}
        options = {var: {s: cost for s, (cost, _) in
                         _cheapest(trees, var[0], self._width_of, ()).items()}
                   for var, trees in candidates.items()}
        clauses = []
        for ks in self.coefs:
            for a, b in (("re_a", "re_b"), ("im_a", "im_b")):
                if ks[a] and ks[b]:
                    clauses.append((((0, abs(ks[a])), _sign(ks[a])), ((1, abs(ks[b])), _sign(ks[b]))))
        #: the sign of every tree's root register (it holds ``sign * m * lane >> shift``)
        self.tree_sign = _solve_signs(options, clauses)
        #: every register, operands before their sums
        self.registers: dict[tuple, Register] = {}
        #: (lane, m) -> its tree (of the digit forms, the cheapest given the trees before)
        self.trees = {}
        #: (lane, m) -> key of its root register (level 3)
        self.roots = {}
        for lane in (0, 1):
            mags = [m for (ln, m) in sorted(self.tree_sign) if ln == lane]
            best = None
            for order in _orders(mags):
                regs, trees, roots = self._emit_lane(lane, order, candidates)
                if best is None or _adder_bits(regs) < _adder_bits(best[0]):
                    best = regs, trees, roots
            self.registers.update(best[0])
            self.trees.update(best[1])
            self.roots.update(best[2])
        self.sources = {slot: [] for slot in SLOTS}     # per slot: (lane, m) or None
        #: per constant: {slot: (source index, invert)}
        self.selects = []
        self._sums, self._values = {}, {}
        for ks in self.coefs:
            sel = {}
            for slot in SLOTS:
                k = ks[slot]
                src = (_SLOT_LANE[slot], abs(k)) if k else None
                if src not in self.sources[slot]:
                    self.sources[slot].append(src)
                invert = bool(k) and _sign(k) * self.tree_sign[src] < 0
                sel[slot] = (self.sources[slot].index(src), invert)
            self.selects.append(sel)

    def _registers_for(self, x: int, y: int) -> dict:
        """Every register's value for lanes ``x``, ``y`` (checked against its width)."""
        values = {}
        for key, reg in self.registers.items():      # operands come first
            if reg.op == "lane":
                v = (x, y)[reg.lane]
            elif reg.op == "delay":
                v = values[reg.lo]
            elif reg.op == "add":
                lo = values[reg.lo]
                v = (lo & ((1 << reg.shift) - 1)) + (((lo >> reg.shift) + reg.sign * values[reg.hi])
                                                      << reg.shift)
            else:
                v = (values[reg.hi] << reg.shift) - values[reg.lo]
            if not -(1 << (reg.width - 1)) <= v < (1 << (reg.width - 1)):
                raise AssertionError(f"register {key} overflows {reg.width} bits with {v}")
            values[key] = v
        return values

    @staticmethod
    def _slot_coefs(c, swap) -> dict[str, int]:
        re, im = c
        if swap:
            return {"re_a": -im, "re_b": re, "im_a": re, "im_b": im}
        return {"re_a": re, "re_b": -im, "im_a": im, "im_b": re}

    def _width_of(self, coef: int) -> int:
        if coef not in self._widths:
            ends = (coef * self.lo, coef * self.hi)
            self._widths[coef] = signed_bits(min(ends), max(ends))
        return self._widths[coef]

    def _emit_lane(self, lane, order, candidates):
        """The registers of one lane's trees, built in ``order`` (later trees reuse
        earlier registers); returns them, the trees and their roots."""
        regs = {(lane, 1, 0): Register(lane, 1, 0, self.a_width, "lane")}
        trees, roots = {}, {}
        for m in order:
            var = (lane, m)
            sign = self.tree_sign[var]
            _, trees[var] = _cheapest(candidates[var], lane, self._width_of, regs)[sign]
            roots[var] = self._emit(regs, lane, trees[var], sign)
        return regs, trees, roots

    def _emit(self, regs, lane, term, sign) -> tuple:
        """Registers of ``term`` holding ``sign * true * lane``; returns the top one's key.

        The lower child is built first; the upper one's sign is then chosen again,
        counting what the lower one built as free."""
        coef = sign * term.true
        key = (lane, coef, term.level)
        if key in regs:
            return key
        _, child_signs = _tree_signs(term, lane, self._width_of, regs)[sign]
        width = self._width_of(coef)
        if len(term.children) == 1:
            sub = self._emit(regs, lane, term.children[0], child_signs[0])
            regs[key] = Register(lane, coef, term.level, width, "delay", lo=sub)
            return key
        a, b = term.children
        sa = child_signs[0]
        lo = self._emit(regs, lane, a, sa)
        options = _tree_signs(b, lane, self._width_of, regs)
        sb = min((s for s in options if sign * sa > 0 or sign * s > 0), key=lambda s: options[s][0])
        hi = self._emit(regs, lane, b, sb)
        d = b.shift - a.shift
        if sign * sa > 0:
            regs[key] = Register(lane, coef, term.level, width, "add", lo, hi, d, sign * sb)
        else:
            regs[key] = Register(lane, coef, term.level, width, "rsub", lo, hi, d)
        return key

    # --- what the component and the tests read -------------------------------------
    def root(self, source) -> tuple[Register, int]:
        """The level-3 register of a source ``(lane, m)`` and the shift of its value."""
        key = self.roots[source]
        return self.registers[key], self.trees[source].shift

    @property
    def swap_varies(self) -> bool:
        return len(set(self.swaps)) > 1

    def sum_bits(self, slots) -> tuple[int, int]:
        """``(low, width)`` of an output's final sum: its low bits, zero in every
        selectable root, and the width above them that holds every product."""
        if slots not in self._sums:
            self._sums[slots] = self._sum_bits(slots)
        return self._sums[slots]

    def _sum_bits(self, slots) -> tuple[int, int]:
        shifts = [self.trees[src].shift for slot in slots for src in self.sources[slot] if src]
        low = min(shifts, default=0)
        bound = max((abs(re) + abs(im) for re, im in self.constants), default=0) << (self.a_width - 1)
        return low, max(signed_bits(-bound, bound) - low, 1)

    def adders(self) -> list[Register]:
        return [r for r in self.registers.values() if r.op in ("add", "rsub")]

    def adder_bits(self) -> int:
        return _adder_bits(self.registers)

    def digits(self) -> dict[tuple[int, int], int]:
        """``{(lane, magnitude): signed digits its tree sums}``."""
        return {var: _count_digits(t) for var, t in self.trees.items()}

    def evaluate(self, re: int, im: int, index: int) -> tuple[int, int]:
        """The product the hardware forms for operand ``(re, im)`` and constant ``index``:
        the same registers, widths and final sums, on Python integers."""
        x, y = (im, re) if self.swaps[index] else (re, im)
        if (x, y) not in self._values:
            if len(self._values) > 64:
                self._values.clear()
            self._values[(x, y)] = self._registers_for(x, y)
        values = self._values[(x, y)]
        out = []
        for slots in (("re_a", "re_b"), ("im_a", "im_b")):
            low, width = self.sum_bits(slots)
            total = 0
            for slot in slots:
                src_index, invert = self.selects[index][slot]
                src = self.sources[slot][src_index]
                v = 0 if src is None else values[self.roots[src]] << (self.trees[src].shift - low)
                total += ~v if invert else v
            inverts = [self.selects[index][s][1] for s in slots]
            assert not all(inverts), "both operands inverted"
            total += any(inverts)
            if not -(1 << (width - 1)) <= total < (1 << (width - 1)):
                raise AssertionError(f"the sum {total} overflows {width} bits")
            out.append(total << low)
        return out[0], out[1]
