"""The PyTorch example end to end: a digits CNN trained in PyTorch for a few
epochs, exported, and classified by ``circnn infer`` on the float, golden and
rtl backends; the RTL's outputs are the golden model's, word for word."""

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "pytorch_digits.py"
RTL_ROWS = 48


def load_example():
    spec = importlib.util.spec_from_file_location("pytorch_digits", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.long
def test_a_digits_cnn_from_pytorch_runs_on_golden_and_rtl(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("CIRCNN_BUILD", str(tmp_path / "build"))
    out = tmp_path / "out"
    summary = load_example().run(["--out", str(out), "--epochs", "6",
                                  "--backends", "float,golden,rtl", "--rtl-rows", str(RTL_ROWS)])
    assert summary == json.loads((out / "summary.json").read_text())
    assert summary["train_s"] < 30 and summary["accuracy_torch"] > 0.85
    logits = np.load(out / "logits_torch.npy")                       # PyTorch, float32
    y_float, y_golden, y_rtl = (np.load(out / f"y_{b}.npy") for b in ("float", "golden", "rtl"))
    np.testing.assert_allclose(y_float, logits, rtol=1e-4, atol=1e-4)
    assert np.mean(y_golden.argmax(1) == logits.argmax(1)) > 0.99
    # the RTL classified the first RTL_ROWS images, with the golden model's formats
    assert y_rtl.shape == (RTL_ROWS, 10)
    np.testing.assert_array_equal(y_rtl, y_golden[:RTL_ROWS])
    report = json.loads((out / "rtl.json").read_text())
    assert summary["rtl_golden_mismatches"] == report["rtl_golden_mismatches"] == 0
    assert "rtl: 0 output words differ from golden" in capsys.readouterr().out
