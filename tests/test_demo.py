# amaranth: UnusedElaboratable=no
"""``circnn demo``: the pipeline on a tiny configuration (RTL included, no synthesis),
the MNIST path on tiny IDX files, and bad input refused on one line with exit status 2."""

import gzip
import json

import numpy as np
import pytest

from circnn.bundle import load_bundle
from circnn.cli import main
from circnn.datasets import load_digits_split
from circnn.demo.report import REQUIRED_KEYS

from references import dense_reference

TINY = ["--network", "mlp", "--epochs", "2", "--hidden", "32", "--limit", "12", "--skip-synth",
        "--quiet"]
#: a small CNN (8x8x1 -> conv 3x3x4 -> maxpool 2x2 -> dense 10) at k = 4
TINY_CNN = ["--cnn", "conv3x3x4,pool2,dense10", "--k", "4", "--epochs", "1", "--limit", "12",
            "--skip-synth", "--quiet"]


def write_idx(path, array, magic=None):
    """An unsigned-byte IDX file (magic 0x000008NN, big-endian sizes, data)."""
    array = np.asarray(array, dtype=np.uint8)
    magic = 0x0800 | array.ndim if magic is None else magic
    header = magic.to_bytes(4, "big") + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    data = header + array.tobytes()
    if str(path).endswith(".gz"):
        with gzip.open(path, "wb") as f:
            f.write(data)
    else:
        path.write_bytes(data)


def tiny_mnist(folder, n_train=60, n_test=12, side=8, seed=3):
    """Four IDX files with side x side 'images' whose class sets one bright row."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for split, n in (("train", n_train), ("t10k", n_test)):
        labels = np.arange(n) % 10
        images = rng.integers(0, 40, size=(n, side, side))
        for i, c in enumerate(labels):
            images[i, c % side, :] = 250
        write_idx(folder / f"{split}-images-idx3-ubyte", images)
        write_idx(folder / f"{split}-labels-idx1-ubyte.gz" if split == "t10k"
                  else folder / f"{split}-labels-idx1-ubyte", labels)
    return folder


@pytest.fixture
def build(tmp_path, monkeypatch):
    monkeypatch.setenv("CIRCNN_BUILD", str(tmp_path / "build"))
    return tmp_path


def check_report(out):
    report = json.loads((out / "report.json").read_text())
    missing = [key for key in REQUIRED_KEYS if key not in report]
    assert not missing, f"report.json lacks {missing}"
    n = report["n_test"]
    for key in ("accuracy_dense_float", "accuracy_float", "accuracy_golden"):
        # a count of correct rows over the test rows
        assert round(report[key] * n) == pytest.approx(report[key] * n, abs=1e-9), (key, report)
    assert (out / "report.md").is_file() and (out / "model.npz").is_file()
    assert (out / "accuracy_vs_k.png").stat().st_size > 1000
    return report


def test_demo_pipeline_digits_rtl(build, capsys):
    """Train, export, compile, float/golden/RTL on 12 test rows; RTL equals golden word for word."""
    out = build / "demo"
    assert main(["demo", "--out", str(out), *TINY, "--simulator", "icarus"]) == 0
    report = check_report(out)
    # the exported model, run by an independent float reference on the same rows
    _, _, x_test, y_test = load_digits_split(seed=0)
    logits = dense_reference(load_bundle(out / "model.npz").layers, x_test[:12])
    assert report["accuracy_float"] == np.mean(np.argmax(logits, axis=1) == y_test[:12])
    assert report["rtl_golden_mismatches"] == 0 and report["simulator"] == "icarus"
    assert report["rtl_output_words"] == 12 * 16           # 10 classes padded to p*k = 16
    assert report["accuracy_rtl"] == report["accuracy_golden"]
    assert report["k"] == 8 and report["n_test"] == 12 and report["rtl_rows"] == 12
    assert report["compression_ratio"] == report["compression_ratio_padded"] == 8.0
    assert report["compression_ratio_vs_dense_baseline"] == (64 * 32 + 32 * 10) / 320
    # 64 -> 32 -> 10 at k = 8: (4*8 + 2*4) blocks of 8 values, 16 bits each
    assert report["weights_circulant"] == 320 and report["weight_bits"] == 320 * 16
    assert report["weight_bits_dense"] == (64 * 32 + 32 * 10) * 16
    assert report["cycles_per_inference"] >= report["ideal_cycles_per_inference"] > 0
    # 64 -> 32 at P = 4, k = 8: 1 pass x 8 blocks x 4 words; 32 -> 10: 1 x 4 x 4 (by hand)
    assert report["mac_bound_cycles"] == 8 * 4 + 4 * 4 == report["ideal_cycles_per_inference"]
    assert [s["k"] for s in report["sweep"]] == [4, 8, 16]
    assert report["rtl_golden_mismatches"] == 0
    assert report["rtl_method"].startswith("accelerator")    # one whole-network simulation
    assert report["network"] == "64 -> 32 -> 10" and report["network_kind"] == "mlp"
    assert report["fmax_mhz"] is None and report["inferences_per_second"] is None
    assert (out / "confusion_rtl.png").stat().st_size > 1000
    assert np.sum(report["confusion_rtl"]) == 12
    printed = capsys.readouterr().out
    assert "accuracy, RTL" in printed and "compression ratio" in printed


def test_demo_cnn_digits_rtl(build, capsys):
    """The default network kind, a CNN, end to end on 12 test images: RTL equal to golden
    word for word, the per-layer cycles and MAC bounds, the three pictures."""
    out = build / "demo"
    assert main(["demo", "--out", str(out), *TINY_CNN, "--simulator", "icarus"]) == 0
    report = check_report(out)
    assert report["network_kind"] == "cnn"
    assert report["network"] == "8x8x1 -> conv 3x3x4 -> maxpool 2x2 -> dense 10"
    assert report["rtl_golden_mismatches"] == 0 and report["rtl_output_words"] == 12 * 12
    assert report["accuracy_rtl"] == report["accuracy_golden"]
    # conv: 64 pixels x ceil(1/4) x q=3 x 2; dense: 1 x ceil(3/4) x q=16 x 2 (by hand)
    assert report["layer_mac_bound_cycles"] == [64 * 3 * 2, 16 * 2]
    assert report["mac_bound_cycles"] == 64 * 3 * 2 + 16 * 2
    assert len(report["layer_cycles"]) == 2 and report["layer_cycles"][0] >= 64 * 3 * 2
    assert report["cycles_per_inference"] >= sum(report["layer_cycles"])
    # stored weights: conv 1 x 3 x 4, dense 3 x 16 x 4; dense CNN: 9*4 + 64*10
    assert report["weights_circulant"] == 12 + 192 and report["weights_dense"] == 36 + 640
    assert [s["k"] for s in report["sweep"]] == [4, 8, 16]
    for picture in ("confusion_rtl.png", "layer_cycles.png"):
        assert (out / picture).stat().st_size > 1000
    assert "accuracy, RTL" in capsys.readouterr().out


def test_demo_mnist_idx(build):
    """The MNIST path end to end on tiny IDX files (one labels file gzipped), RTL included."""
    data = tiny_mnist(build / "mnist")
    out = build / "demo-mnist"
    assert main(["demo", "--network", "mlp", "--mnist", str(data), "--out", str(out), "--k", "4",
                 "--hidden", "16",
                 "--epochs", "3", "--skip-synth", "--quiet", "--simulator", "icarus"]) == 0
    report = check_report(out)
    assert report["simulator"] == "icarus"
    assert report["dataset"] == "mnist" and report["n_train"] == 60 and report["n_test"] == 12
    assert report["network"] == "64 -> 16 -> 10" and report["k"] == 4
    assert report["rtl_rows"] == 12 and report["rtl_golden_mismatches"] == 0
    assert report["accuracy_rtl"] == report["accuracy_golden"]
    assert [s["k"] for s in report["sweep"]] == [4, 8, 16]


def test_demo_skip_rtl(build):
    """--skip-rtl: float and golden only; the RTL keys are present and null."""
    out = build / "demo"
    assert main(["demo", "--out", str(out), "--network", "mlp", "--epochs", "1", "--limit", "30",
                 "--skip-rtl", "--skip-synth", "--quiet"]) == 0
    report = check_report(out)
    assert report["accuracy_rtl"] is None and report["rtl_golden_mismatches"] is None
    assert report["cycles_per_inference"] is None and not (out / "confusion_rtl.png").exists()


def demo_error(capsys, *argv):
    """Run a demo that must fail on its input: exit 2, one line on stderr, nothing written."""
    code = main(["demo", *argv, "--skip-synth", "--quiet"])
    err = capsys.readouterr().err.strip()
    assert code == 2, err
    assert err.count("\n") == 0 and err.startswith("circnn demo: error: "), err
    return err


@pytest.mark.parametrize("argv, needle", [
    (["--k", "6"], "--k 6"),
    (["--k", "2"], "--k 2"),
    (["--network", "mlp", "--k", "128"], "--k 128: block size larger than the layer widths allow"),
    (["--network", "mlp", "--k", "16", "--hidden", "8"],
     "--k 16: block size larger than the layer widths allow"),
    (["--cnn", "conv3x3x4,pool2"], "the last layer must be denseN"),
    (["--cnn", "conv3x3,dense10"], "'conv3x3' is not convKxKxC"),
    (["--epochs", "0"], "--epochs"),
    (["--pes", "0"], "--pes"),
    (["--limit", "0"], "--limit"),
])
def test_bad_parameters(build, capsys, argv, needle):
    out = build / "out"
    err = demo_error(capsys, "--out", str(out), *argv)
    assert needle in err
    assert not out.exists()


def test_bad_mnist_directory(build, capsys):
    out = build / "out"
    missing = build / "no-such-dir"
    assert str(missing) in demo_error(capsys, "--mnist", str(missing), "--out", str(out))
    a_file = build / "file.txt"
    a_file.write_text("x")
    assert "not a directory" in demo_error(capsys, "--mnist", str(a_file), "--out", str(out))
    empty = build / "empty"
    empty.mkdir()
    err = demo_error(capsys, "--mnist", str(empty), "--out", str(out))
    assert "train-images-idx3-ubyte" in err and "missing" in err
    assert not out.exists()


@pytest.mark.parametrize("damage", ["magic", "truncated", "labels_range", "gzip"])
def test_bad_idx_files(build, capsys, damage):
    data = tiny_mnist(build / "mnist")
    if damage == "magic":
        bad = data / "train-images-idx3-ubyte"
        raw = bytearray(bad.read_bytes())
        raw[2:4] = b"\x09\x03"
        bad.write_bytes(bytes(raw))
        needle = "wrong magic"
    elif damage == "truncated":
        bad = data / "train-images-idx3-ubyte"
        bad.write_bytes(bad.read_bytes()[:-7])
        needle = "truncated"
    elif damage == "labels_range":
        bad = data / "train-labels-idx1-ubyte"
        write_idx(bad, np.full(60, 12))
        needle = "label 12"
    else:
        bad = data / "t10k-labels-idx1-ubyte.gz"
        bad.write_bytes(b"\x1f\x8b not really gzip")
        needle = "cannot read"
    out = build / "out"
    err = demo_error(capsys, "--mnist", str(data), "--out", str(out))
    assert str(bad) in err and needle in err, err
    assert not out.exists()


def test_synthesis_design_is_sized_for_the_network():
    """The design the demo synthesises, the network-level accelerator, accepts the
    parameters it is given and holds every layer of the compiled network."""
    from circnn.compiler import compile_network
    from circnn.demo.pipeline import SYNTH_DESIGN, synthesis_params
    from circnn.designs import get_design
    from circnn.sim.model.layer import EngineConfig
    from circnn.training import circulant_network, to_bundle

    bundle = to_bundle(circulant_network([64, 128, 10], 8, seed=1))
    eng = EngineConfig(k=8, pes=4, batch=1, max_q=16, max_p=16)
    programs = compile_network(bundle, eng)
    params = synthesis_params(eng, programs)
    assert SYNTH_DESIGN == "accelerator"
    resolved = get_design(SYNTH_DESIGN).resolve({k: str(v) for k, v in params.items()})
    assert resolved["k"] == 8 and resolved["pes"] == 4 and resolved["max_q"] == 16
    assert resolved["max_layers"] == 2
    assert resolved["weight_depth"] == 4 * 8 * 4 + 1 * 16 * 4   # ceil(p/P) * q * k/2
    assert resolved["bias_depth"] == 16 * 4 + 2 * 4               # p * k/2 pairs


# --------------------------------------------------------------------------
# --out: a run replaces the folder only when it is complete

QUICK = ["--network", "mlp", "--epochs", "1", "--hidden", "32", "--limit", "12", "--skip-rtl",
         "--skip-synth", "--quiet"]


def previous_output(folder):
    """A stand-in for an earlier run's folder, its files recognisable by their bytes."""
    folder.mkdir()
    (folder / "model.npz").write_bytes(b"earlier model")
    (folder / "report.json").write_text('{"earlier": "report"}')
    (folder / "confusion_rtl.png").write_bytes(b"earlier picture")
    (folder / "synth").mkdir()
    (folder / "synth" / "accelerator.json").write_text("{}")
    return {p.relative_to(folder): (p.read_bytes() if p.is_file() else "dir")
            for p in sorted(folder.rglob("*"))}


def contents(folder):
    return {p.relative_to(folder): (p.read_bytes() if p.is_file() else "dir")
            for p in sorted(folder.rglob("*"))}


@pytest.mark.parametrize("failure", [RuntimeError("plotting failed"), KeyboardInterrupt()])
def test_demo_failure_leaves_the_previous_output(build, monkeypatch, failure):
    """The run fails after model.npz is written (at the pictures): the previous folder is
    untouched and no temporary folder is left beside it."""
    out = build / "demo"
    before = previous_output(out)
    written = []

    def plot_fails(path, *args, **kwargs):
        written.append(sorted(p.name for p in path.parent.iterdir()))
        raise failure
    monkeypatch.setattr("circnn.demo.pipeline.plot_sweep", plot_fails)
    try:
        code = main(["demo", "--out", str(out), *QUICK])
    except (RuntimeError, KeyboardInterrupt) as exc:
        assert exc is failure
        code = None
    assert code in (None, 130)                       # 130: main reports the interrupt
    assert written == [["model.npz"]]                # the new bundle was in the staging folder
    assert contents(out) == before
    assert sorted(p.name for p in build.iterdir()) == ["demo"]


def test_demo_replaces_the_previous_output_whole(build):
    out = build / "demo"
    previous_output(out)
    assert main(["demo", "--out", str(out), *QUICK]) == 0
    # nothing of the earlier run is left: its picture and ECP5 build belonged to another model
    assert sorted(p.name for p in out.iterdir()) == ["accuracy_vs_k.png", "model.npz",
                                                      "report.json", "report.md"]
    report = check_report(out)
    _, _, x_test, y_test = load_digits_split(seed=0)
    logits = dense_reference(load_bundle(out / "model.npz").layers, x_test[:12])
    assert report["accuracy_float"] == np.mean(np.argmax(logits, axis=1) == y_test[:12])
    assert sorted(p.name for p in build.iterdir()) == ["demo"]


def test_demo_refuses_an_out_folder_with_other_files(build, capsys):
    out = build / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("the user's")
    (out / "report.json").write_text("{}")
    err = demo_error(capsys, "--out", str(out))
    assert err == (f"circnn demo: error: --out {str(out)!r}: holds files circnn demo did not "
                   f"write (notes.txt); a run replaces the whole folder, so name a new or empty "
                   f"folder or a previous demo output")
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt", "report.json"]
    (build / "plain").write_text("x")
    err = demo_error(capsys, "--out", str(build / "plain"))
    assert "is a regular file; expected a new folder or an existing directory" in err


def test_demo_creates_missing_parents_of_out(build, capsys):
    """The default --out, build/demo, in a fresh clone: its parent is made, after the checks."""
    out = build / "new" / "deeper" / "demo"
    err = demo_error(capsys, "--out", str(out), "--k", "6")
    assert "--k 6" in err and not (build / "new").exists()          # refused: nothing made
    (build / "plain").write_text("x")
    err = demo_error(capsys, "--out", str(build / "plain" / "a" / "demo"))
    assert "is a regular file, not a folder" in err
    assert main(["demo", "--out", str(out), *QUICK]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["accuracy_vs_k.png", "model.npz",
                                                      "report.json", "report.md"]
    assert sorted(p.name for p in (build / "new" / "deeper").iterdir()) == ["demo"]
