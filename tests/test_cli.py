"""The circnn command line: one-line errors with exit status 2, nothing half-written."""

import json

import pytest

from circnn.cli import main


def run(args, capsys):
    code = main(args)
    out, err = capsys.readouterr()
    return code, out, err


def test_designs_lists_every_design(capsys):
    code, out, _ = run(["designs", "-v"], capsys)
    assert code == 0
    for name in ("fft", "real_fft", "real_ifft", "layer", "multiplier", "requantize"):
        assert f"{name}:" in out
    assert "points=16 (4..256, power of two)" in out


def test_generate_writes_verilog_with_provenance_header(tmp_path, capsys):
    out_dir = tmp_path / "fft"
    code, out, _ = run(["generate", "fft", "--set", "points=8", "--set", "width=12",
                        "--target", "generic", "--out", str(out_dir)], capsys)
    assert code == 0
    text = (out_dir / "fft.v").read_text()
    assert text.startswith("// circnn ")
    assert "//   points = 8" in text and "//   width = 12" in text and "// target: generic" in text
    assert "module fft(" in text
    meta = json.loads((out_dir / "params.json").read_text())
    assert meta["params"]["points"] == 8 and meta["target"] == "generic"


def test_generate_ecp5_instantiates_mult18x18d(tmp_path, capsys):
    code, _, _ = run(["generate", "fft", "--set", "points=16", "--target", "ecp5", "--out",
                      str(tmp_path / "e")], capsys)
    assert code == 0
    assert "MULT18X18D" in (tmp_path / "e" / "fft.v").read_text()
    code, _, _ = run(["generate", "fft", "--set", "points=16", "--target", "generic", "--out",
                      str(tmp_path / "g")], capsys)
    assert "MULT18X18D" not in (tmp_path / "g" / "fft.v").read_text()


@pytest.mark.parametrize("args,message", [
    (["generate", "nosuch", "--out", "X"], "unknown design 'nosuch'"),
    (["generate", "fft", "--set", "points=12", "--out", "X"], "points must be a power of two in 4..256, not 12"),
    (["generate", "fft", "--set", "points=512", "--out", "X"], "points must be a power of two in 4..256"),
    (["generate", "fft", "--set", "width=19", "--out", "X"], "width must be in 8..18, not 19"),
    (["generate", "fft", "--set", "twiddle_width=7", "--out", "X"], "twiddle_width must be in 8..18"),
    (["generate", "fft", "--set", "bogus=1", "--out", "X"], "design fft has no parameter bogus"),
    (["generate", "fft", "--set", "points", "--out", "X"], "--set expects name=value"),
    (["generate", "fft", "--set", "points=x", "--out", "X"], "points must be an integer"),
    (["generate", "layer", "--set", "act_width=18", "--out", "X"], "act_width must be in 8..17"),
    (["synth", "fft", "--device", "LFE5U-12F", "--report", "X/r.json"], "--device must be one of"),
    (["synth", "fft", "--speed", "9", "--report", "X/r.json"], "--speed must be one of"),
    (["synth", "nosuch", "--report", "X/r.json"], "unknown design"),
])
def test_bad_input_is_one_line_exit_2_and_leaves_nothing(args, message, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, out, err = run(args, capsys)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], err
    assert not (tmp_path / "X").exists()
    assert list(tmp_path.iterdir()) == []
