"""``circnn prove``: run the formal properties, print a table, write ``summary.json``.

Without ``--all`` only the fast properties run (those the test suite runs
too); ``--all`` adds the slow ones (full widths, larger instances).
``--only NAME`` (repeatable) runs the properties whose name is NAME or
starts with ``NAME.`` (a component file: ``--only credit_queue``).
``--mutants`` also runs each selected property on its deliberately broken
variant and expects it to fail (``mutants.json``).

``DIR/summary.json`` (``--out``, default ``build/formal``) holds
``{"properties": [...]}``, one entry per property with exactly the keys
``name``, ``component``, ``params``, ``mode``, ``depth``, ``result``
(``pass``/``fail``) and ``seconds``; each run's SymbiYosys folder is
``DIR/<name>/``.  A run that ends without a verdict (a tool or solver that
fails) is reported on one line and counts as ``fail``.  Exit status 1 when
a property fails (or a mutant is not caught), 2 for bad input.
"""

from __future__ import annotations

import sys
from pathlib import Path

from .errors import CircnnError
from .files import check_output_dir, write_json_atomic

__all__ = ["select", "run_prove", "summary_entry", "DEFAULT_OUT"]

DEFAULT_OUT = "build/formal"


def select(props, *, everything: bool, only: list[str] | None):
    """The properties to run, in catalogue order."""
    if only:
        chosen = []
        for name in only:
            hits = [p for p in props if p.name == name or p.name.startswith(name + ".")]
            if not hits:
                raise CircnnError(f"--only {name}: no such property or component; "
                                  f"`circnn prove --list` names them")
            chosen += [p for p in hits if p not in chosen]
        return [p for p in props if p in chosen]
    return [p for p in props if everything or not p.slow]


def summary_entry(prop, result: str, seconds: float) -> dict:
    return {"name": prop.name, "component": prop.component, "params": dict(prop.params),
            "mode": prop.mode, "depth": prop.depth, "result": result,
            "seconds": round(seconds, 2)}


def _row(cells, widths):
    return "  ".join(str(c).ljust(w) for c, w in zip(cells, widths)).rstrip()


def run_prove(args) -> int:
    from .formal import all_properties
    from .formal.sby import FormalToolError

    props = all_properties()
    if args.list:
        for p in props:
            print(f"{p.name}  [{p.mode} {p.depth}{', slow' if p.slow else ''}]  {p.what}")
        return 0
    chosen = select(props, everything=args.all, only=args.only)
    out = Path(args.out)
    if args.out == DEFAULT_OUT:
        out.parent.mkdir(parents=True, exist_ok=True)
    check_output_dir(out, "--out")
    out.mkdir(parents=True, exist_ok=True)
    widths = (max(len(p.name) for p in chosen), 6, 5, 6, 8)
    print(_row(("property", "mode", "depth", "result", "seconds"), widths))
    entries, mutants = [], []

    def save():
        """The summary so far (after each property: an interrupted run keeps its results)."""
        write_json_atomic(out / "summary.json", {"properties": entries})
        if args.mutants:
            write_json_atomic(out / "mutants.json", {"mutants": mutants})

    try:
        failed = _run_all(chosen, out, args.mutants, widths, entries, mutants, save)
    except FormalToolError as exc:          # a mutant's run without a verdict
        print(f"circnn prove: {exc}", file=sys.stderr)
        return 1
    total = sum(e["seconds"] for e in entries)
    passed = sum(e["result"] == "pass" for e in entries)
    print(f"{passed} of {len(entries)} properties hold ({total:.0f} s); summary: "
          f"{out / 'summary.json'}", file=sys.stderr if failed else sys.stdout)
    return 1 if failed else 0


def _run_all(chosen, out, with_mutants, widths, entries, mutants, save) -> int:
    from .formal.sby import FormalToolError, run_sby
    failed = 0
    for p in chosen:
        try:
            r = run_sby(p.build(), mode=p.mode, depth=p.depth, workdir=out / p.name)
            passed, seconds = r.passed, r.seconds
        except FormalToolError as exc:      # no verdict (a solver that died): not proved
            print(f"{p.name}: {exc}", file=sys.stderr)
            passed, seconds = False, 0.0
        result = "pass" if passed else "fail"
        failed += not passed
        entries.append(summary_entry(p, result, seconds))
        print(_row((p.name, p.mode, p.depth, result, f"{seconds:.1f}"), widths), flush=True)
        if with_mutants:
            rm = run_sby(p.build(p.mutation), mode=p.mode, depth=p.depth,
                         workdir=out / "mutants" / p.name)
            caught = not rm.passed
            failed += not caught
            mutants.append({"name": p.name, "mutation": p.mutation,
                            "verdict": rm.verdict.lower(), "caught": caught,
                            "seconds": round(rm.seconds, 2)})
            print(_row((f"  mutant {p.mutation}", "", "", "caught" if caught else "MISSED",
                        f"{rm.seconds:.1f}"), widths), flush=True)
        save()
    return failed
