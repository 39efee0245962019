import os
import random

import pytest


@pytest.fixture
def seed(request):
    """A per-test random seed: ``CIRCNN_SEED`` if set, else fresh; always printed."""
    value = int(os.environ.get("CIRCNN_SEED", random.SystemRandom().randrange(1 << 31)))
    print(f"seed={value} (rerun with CIRCNN_SEED={value})")
    return value


def pytest_collection_modifyitems(config, items):
    # the long simulations first: with several workers (pytest -n) they then
    # run beside the many short tests instead of alone at the end
    items.sort(key=lambda item: item.get_closest_marker("long") is None)


# --- simulated clocks ----------------------------------------------------------------
# Every cocotb run appends its figures to one file (circnn.sim.harness.runner's
# CIRCNN_SIM_STATS); at the end the suite prints what it simulated, per simulator,
# and writes the totals to build/test-simulation.json.

def _is_controller(config) -> bool:
    return not hasattr(config, "workerinput")


def pytest_configure(config):
    from circnn.sim.harness.runner import STATS_ENV, build_root
    if _is_controller(config) and not os.environ.get(STATS_ENV):
        path = build_root() / f"test-simulation-{os.getpid()}.jsonl"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.unlink(missing_ok=True)
        os.environ[STATS_ENV] = str(path)       # inherited by the xdist workers
        config._circnn_sim_stats = path


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    import json
    path = getattr(config, "_circnn_sim_stats", None)
    if path is None or not path.exists():
        return
    runs = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    path.unlink()
    totals = {}
    for run in runs:
        t = totals.setdefault(run["simulator"], dict(runs=0, clocks=0, sim_s=0.0, builds=0,
                                                     build_s=0.0, cached=0))
        t["runs"] += 1
        t["clocks"] += run["clocks"]
        t["sim_s"] += run["sim_s"]
        t["cached"] += run["build_cached"]
        t["builds"] += not run["build_cached"]
        t["build_s"] += run["build_s"]
    terminalreporter.section("simulation")
    for name, t in sorted(totals.items()):
        terminalreporter.write_line(
            f"{name}: {t['runs']} runs, {t['clocks']:,} simulated clocks in {t['sim_s']:.1f} s "
            f"({t['clocks'] / max(t['sim_s'], 1e-9):,.0f} clocks/s); {t['builds']} builds "
            f"({t['build_s']:.1f} s), {t['cached']} cached")
    clocks = sum(t["clocks"] for t in totals.values())
    terminalreporter.write_line(f"total: {clocks:,} simulated clocks")
    summary = path.with_name("test-simulation.json")
    summary.write_text(json.dumps({"totals": totals, "clocks": clocks, "runs": runs}, indent=1))
