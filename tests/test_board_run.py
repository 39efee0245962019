# amaranth: UnusedElaboratable=no
"""``circnn run``: the host driver against a board played in Python (``fake_board.py``)
on a pseudo-terminal, its outputs from the golden model computed here.  A run equals
the golden model word for word (a dense network and a CNN, rows that do not fill the
last batch); a corrupted reply and a corrupted request are retried and recovered;
a board of another build, a missing port, a silent board, a reply that stays
corrupt, inputs of the wrong shape and a build without ``--board``: one line, exit
status 2, no output written.  And the pieces: the session's verdicts, the output
words placed by their tags in any order the accelerator may give."""

import json
from pathlib import Path

import numpy as np
import pytest

from circnn.board_driver import line_rows_per_second, pack_inputs, place_outputs
from circnn.bundle import load_bundle, save_bundle
from circnn.cli import main
from circnn.compiler import compile_cnn, compile_network, dequantize_outputs, network_config_for
from circnn.compiler import quantize_inputs
from circnn.config import EngineConfig, LinkStatus
from circnn.sim.model.accelerator import build_image, host_writes
from circnn.sim.model.cnn import cnn_forward
from circnn.sim.model.fixedpoint import FixedFormat
from circnn.sim.model.host_link import (Frame, HostSession, ReplyError, Verdict, encode_reply)
from circnn.sim.model.network import network_forward

from cnn_cases import conv_spec, random_cnn
from fake_board import FakeBoard, PtyBoard, flip_a_bit
from network_cases import random_bundle

ENGINE = dict(k=4, pes=2, batch=2, act_width=8, weight_width=8, ifft_width=8, twiddle_width=8)
FLAGS = [w for name, value in ENGINE.items() for w in (f"--{name.replace('_', '-')}", str(value))]


def make_case(folder: Path, seed: int, cnn: bool) -> dict:
    """A bundle, calibration rows and input rows; the build folder (--board ulx3s, no
    synthesis); and the golden model's view: the network compiled here, its host
    writes, its input codes' forward pass and the expected output values."""
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
    cal = rng.uniform(-1, 1, (24, *shape))
    x = rng.uniform(-1, 1, (5, *shape))             # 5 rows: the last batch is padded
    np.save(folder / "cal.npy", cal)
    np.save(folder / "x.npy", x)
    out = folder / "build"
    assert main(["build", "--model", str(folder / "net.npz"), "--calibration",
                 str(folder / "cal.npy"), "--out", str(out), *FLAGS, "--board", "ulx3s",
                 "--quiet"]) == 0
    bundle = load_bundle(folder / "net.npz")
    eng = EngineConfig(**ENGINE, max_q=max(l.q for l in bundle.layers if l.kind != "maxpool2d"),
                       max_p=max(l.p for l in bundle.layers if l.kind != "maxpool2d"))
    if cnn:
        programs = compile_cnn(bundle, eng, cal.reshape(cal.shape[0], -1))
        in_frac = next(s.program for s in programs if s.program is not None).in_frac
        codes = FixedFormat(eng.act_width, in_frac).quantize(x.reshape(x.shape[0], -1),
                                                             "half_even")
        forward = lambda c: cnn_forward(c, programs, eng)
        out_frac = [s.program for s in programs if s.program is not None][-1].out_frac
        y_codes = forward(codes)
        expected = (y_codes * 2.0 ** -out_frac).reshape(-1, bundle.layers[-1].n_out) \
            if bundle.layers[-1].out_shape is None else None
        p_last = [s.program for s in programs if s.program is not None][-1].p
    else:
        programs = compile_network(bundle, eng, calibration=cal)
        codes = quantize_inputs(x, programs[0].in_frac, eng, programs[0].q)
        forward = lambda c: network_forward(c, programs, eng)
        y_codes = forward(codes)
        expected = dequantize_outputs(y_codes, programs[-1].out_frac, bundle.layers[-1].n_out)
        p_last = programs[-1].p
    net = network_config_for(programs, eng)
    writes = host_writes(build_image(programs, net), weights=True, n_batches=1)
    meta = json.loads((out / "build.json").read_text())
    return dict(folder=folder, build=out, x=folder / "x.npy", net=net, forward=forward,
                writes=writes, expected=expected, y_codes=y_codes, values_in=codes.shape[1],
                p_last=p_last, build_id=meta["board"]["build_id"], meta=meta)


@pytest.fixture(scope="module")
def dense(tmp_path_factory):
    return make_case(tmp_path_factory.mktemp("dense"), 21, cnn=False)


@pytest.fixture(scope="module")
def cnn(tmp_path_factory):
    return make_case(tmp_path_factory.mktemp("cnn"), 22, cnn=True)


def fake(case, **kwargs) -> FakeBoard:
    options = dict(build_id=case["build_id"], expected_writes=case["writes"],
                   values_in=case["values_in"], p_last=case["p_last"])
    options.update(kwargs)
    return FakeBoard(case["net"], case["forward"], **options)


def run_argv(case, port, out, *extra):
    return ["run", "--build", str(case["build"]), "--port", port, "--inputs", str(case["x"]),
            "--out", str(out), *extra]


@pytest.mark.parametrize("which", ["dense", "cnn"])
def test_a_run_equals_the_golden_model(which, request, tmp_path, capsys):
    case = request.getfixturevalue(which)
    board = fake(case)
    with PtyBoard(board) as pty:
        assert main(run_argv(case, pty.name, tmp_path / "y.npy")) == 0
    assert board.problems == []
    y = np.load(tmp_path / "y.npy")
    if case["expected"] is not None:
        assert y.shape == case["expected"].shape
        assert np.array_equal(y, case["expected"])      # every value, exactly
    # the same as the golden backend on the build (circnn infer --build)
    assert main(["infer", "--build", str(case["build"]), "--inputs", str(case["x"]),
                 "--backend", "golden", "--out", str(tmp_path / "g.npy"), "--quiet"]) == 0
    assert np.array_equal(y, np.load(tmp_path / "g.npy"))
    out = capsys.readouterr().out
    assert "board vs golden: 0 output words differ" in out, out
    assert "inferences/s" in out and "rows/s" in out and "0 retries" in out, out
    assert board.inferences == 6                    # 5 rows, padded to whole batches of 2


def test_corrupt_replies_and_requests_are_sent_again(dense, tmp_path, capsys):
    """The 3rd reply (a register read) and the 9th (a pull) come with a flipped bit,
    the 6th is lost: each is asked again (same sequence number) and answered from the
    board's memory of its last request; the run is still the golden model's."""
    hit = []

    def fault(index, command, reply):
        if index in (3, 9):
            hit.append(index)
            return flip_a_bit(reply)
        if index == 6:
            hit.append(index)
            return None
        return reply
    board = fake(dense, fault=fault)
    with PtyBoard(board) as pty:
        assert main(run_argv(dense, pty.name, tmp_path / "y.npy", "--timeout", "0.3")) == 0
    assert hit == [3, 6, 9] and board.problems == []
    assert np.array_equal(np.load(tmp_path / "y.npy"), dense["expected"])
    out = capsys.readouterr().out
    assert "3 retries" in out and "a reply with a wrong CRC" in out and "no reply" in out, out


def test_a_corrupt_request_is_answered_bad_crc_and_sent_again(dense, tmp_path, monkeypatch):
    """The board sees a request with a flipped bit (as if the line had spoilt it),
    answers BAD_CRC, and the driver sends the frame again."""
    board = fake(dense)
    received = board.receive
    spoilt = []

    def receive(data):
        if len(spoilt) == 0 and len(data) > 40:       # the first WRITE frame
            spoilt.append(len(data))
            data = data[:20] + bytes([data[20] ^ 1]) + data[21:]
        return received(data)
    board.receive = receive
    with PtyBoard(board) as pty:
        assert main(run_argv(dense, pty.name, tmp_path / "y.npy")) == 0
    assert spoilt and board.errors == 1 and board.problems == []
    assert np.array_equal(np.load(tmp_path / "y.npy"), dense["expected"])


def refused(argv, tmp_path, capsys, fragments):
    before = sorted(p.name for p in tmp_path.iterdir())
    assert main(argv + ["--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("circnn run: error: "), err
    for fragment in fragments:
        assert fragment in err, err
    assert sorted(p.name for p in tmp_path.iterdir()) == before     # no output written


def test_a_board_of_another_build_is_refused(dense, tmp_path, capsys):
    board = fake(dense, build_id=dense["build_id"] ^ 0x5A5A)
    with PtyBoard(board) as pty:
        refused(run_argv(dense, pty.name, tmp_path / "y.npy"), tmp_path, capsys,
                ["does not run the build", f"{dense['build_id']:#010x}"])
    assert board.writes == []                       # nothing was loaded


def test_a_missing_port_is_refused(dense, tmp_path, capsys):
    refused(run_argv(dense, str(tmp_path / "ttyUSB9"), tmp_path / "y.npy"), tmp_path, capsys,
            ["--port", "ttyUSB9", "cannot open it"])


def test_a_silent_board_times_out(dense, tmp_path, capsys):
    board = fake(dense, fault=lambda index, command, reply: None)
    with PtyBoard(board) as pty:
        refused(run_argv(dense, pty.name, tmp_path / "y.npy", "--timeout", "0.2", "--retries",
                         "2"), tmp_path, capsys, ["did not answer IDENTIFY", "3 tries"])
    assert board.replies == 3


def test_a_reply_that_stays_corrupt_is_refused(dense, tmp_path, capsys):
    board = fake(dense, fault=lambda index, command, reply:
                 flip_a_bit(reply) if command == 0x05 else reply)       # every PULL reply
    with PtyBoard(board) as pty:
        refused(run_argv(dense, pty.name, tmp_path / "y.npy", "--retries", "2"), tmp_path,
                capsys, ["PULL", "wrong CRC", "3 tries"])


@pytest.mark.parametrize("what", ["shape", "no_board", "retries"])
def test_bad_input_is_refused(what, dense, tmp_path, capsys):
    argv = run_argv(dense, "/dev/null", tmp_path / "y.npy")
    if what == "shape":
        np.save(tmp_path / "wide.npy", np.zeros((3, 11)))
        argv[argv.index("--inputs") + 1] = str(tmp_path / "wide.npy")
        fragments = ["inputs", "11 values", "takes 10"]
    elif what == "retries":
        argv += ["--retries", "99"]
        fragments = ["--retries must be in 0..20"]
    else:
        build = tmp_path / "plain"
        assert main(["build", "--model", str(dense["folder"] / "net.npz"), "--calibration",
                     str(dense["folder"] / "cal.npy"), "--out", str(build), *FLAGS,
                     "--quiet"]) == 0
        argv[argv.index("--build") + 1] = str(build)
        fragments = ["built without --board"]
    refused(argv, tmp_path, capsys, fragments)


# --- the pieces ---------------------------------------------------------------------------

def test_the_session_numbers_requests_and_judges_replies():
    session = HostSession(sequence=254)
    first, second = session.request(0x01), session.request(0x05, b"\x04\x00")
    assert (first.sequence, second.sequence) == (255, 0)        # modulo 256
    reply = lambda status, seq=0, command=0x05, crc=True: Frame(command, seq, status, b"", crc)
    assert session.judge(second, reply(LinkStatus.OK)) == Verdict.ACCEPT
    assert session.judge(second, None) == Verdict.RETRY and session.reason == "no reply"
    assert session.judge(second, reply(LinkStatus.OK, crc=False)) == Verdict.RETRY
    for status in (LinkStatus.BAD_CRC, LinkStatus.TIMEOUT, LinkStatus.OVERFLOW):
        assert session.judge(second, reply(status, seq=99)) == Verdict.RETRY
    assert session.judge(second, reply(LinkStatus.OK, seq=255)) == Verdict.SKIP
    with pytest.raises(ReplyError, match="BAD_LENGTH"):
        session.judge(second, reply(LinkStatus.BAD_LENGTH))
    assert encode_reply(0x05, 0, 0)[0] == 0x5A


def test_output_words_are_placed_by_their_tags(seed):
    """Words made here in the documented order (core batches; per PE pass, per image,
    the pass's blocks) for random codes: placed back, they are those codes; a word
    lost is refused."""
    rng = np.random.default_rng(seed)
    k, batch, pes, p, rows = 8, 2, 2, 3, 6
    layout = {"y0": (0, 10), "y1": (10, 10), "block": (20, 2), "vector": (22, 1),
              "last": (23, 1)}
    fields = {name: [lo, lo + w - 1] for name, (lo, w) in layout.items()}
    y = rng.integers(-512, 512, (rows, p * k))
    words = []
    for core in range(rows // batch):
        for g in range(-(-p // pes)):
            for b in range(batch):
                for block in range(g * pes, min(p, (g + 1) * pes)):
                    for n in range(k // 2):
                        v = {"y0": y[core * batch + b, block * k + 2 * n],
                             "y1": y[core * batch + b, block * k + 2 * n + 1],
                             "block": block, "vector": b, "last": int(n == k // 2 - 1)}
                        words.append(sum((int(v[f]) & ((1 << w) - 1)) << lo
                                         for f, (lo, w) in layout.items()))
    assert np.array_equal(place_outputs(words, fields, k=k, batch=batch, p=p, rows=rows), y)
    from circnn.board_driver import LinkError
    with pytest.raises(LinkError):
        place_outputs(words[:-1], fields, k=k, batch=batch, p=p, rows=rows)
    packed = pack_inputs(np.array([[1, -1, 3]]), {"x0": [0, 7], "x1": [8, 15]})
    assert packed == [0xFF01, 0x0003]


def test_the_line_rate_of_the_docs_example():
    """docs/host-link.md: the digits CNN (32 input words of 4 bytes, 8 output words of 5
    bytes) at 3 Mbaud with 1 ms turnaround a frame: about 1,360 rows a second."""
    rate = line_rows_per_second(baud=3_000_000, in_words=32, in_bytes=4, out_words=8,
                                out_bytes=5, turnaround_s=1e-3)
    assert 1300 < rate < 1420, rate
