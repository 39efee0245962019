"""``circnn run``: input rows through a board that runs a build, over its serial port.

Everything is checked before the port is opened: the build folder (whole
and unchanged, made with ``--board``), the bundle and calibration rows it
names (compiled again exactly as the build did, and checked write for write
against ``program.bin``), the inputs' shape, the output path.  Then
:mod:`circnn.board_driver` talks to the board: identify (this build's id
and widths), load, stream, pull.  The input rows are quantised and the
output codes dequantised as ``circnn infer --build`` does (the same
functions), and the golden model runs on the same codes: every output word
of the board is compared with it (``board_golden_mismatches``, a warning
when any differs).  ``--out`` is written only when the run is complete.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np

from .errors import CircnnError, ParameterError

__all__ = ["run_board", "MAX_RETRIES"]

#: --retries' range
MAX_RETRIES = 20


def _checked_build(folder):
    from .build_folder import PROGRAM_JSON, _check_hash, load_build
    build = load_build(folder)
    board = build.meta.get("board")
    if not isinstance(board, dict) or not isinstance(board.get("build_id"), int):
        raise CircnnError(f"--build {str(folder)!r}: built without --board (no board in "
                          f"build.json); build it with --board ulx3s --synth and load its "
                          f"bitstream")
    name = build.meta["files"].get("program_description", PROGRAM_JSON)
    _check_hash(build.folder, build.meta, name)
    run = json.loads((build.folder / name).read_text())["run"]
    return build, board, run


def _rows(bundle, path):
    """The input rows as ``circnn infer`` takes them, and whether one row was given."""
    from .infer import check_rows, cnn_rows, first_layer_name, load_rows
    raw = load_rows(path, "inputs", max_ndim=2 if bundle.in_shape is None else 4)
    if bundle.in_shape is not None:
        return cnn_rows(raw, bundle, f"inputs {str(path)!r}")
    return (check_rows(raw, bundle.n_in, f"inputs {str(path)!r}", first_layer_name(bundle)),
            raw.ndim == 1)


def run_board(args, progress=None) -> int:
    """``circnn run`` with parsed ``args``; ``progress(msg)`` gets progress lines."""
    from .board_driver import (BoardLink, LinkError, check_identity, line_rows_per_second,
                               open_port, pack_inputs, place_outputs, run_words)
    from .bundle import load_bundle
    from .compiler import dequantize_outputs
    from .files import check_output_file, write_npy_atomic
    from .infer import (InferResult, _cnn_result, _saturations, compile_bundle, golden_codes,
                        load_calibration)

    say = progress or (lambda msg: None)
    quiet = getattr(args, "quiet", False)
    # -- everything checked before the port is opened ----------------------------------
    if not args.timeout > 0 or args.timeout > 600:
        raise ParameterError(f"--timeout must be in (0, 600] seconds, not {args.timeout:g}")
    if not 0 <= args.retries <= MAX_RETRIES:
        raise ParameterError(f"--retries must be in 0..{MAX_RETRIES}, not {args.retries}")
    build, board, run = _checked_build(args.build)
    model_path, calibration_path = build.check_inputs(None, None)
    out = check_output_file(Path(args.out), "--out",
                            inputs=[("--inputs", args.inputs), *build.files()])
    bundle = load_bundle(model_path)
    x, single = _rows(bundle, args.inputs)
    calibration = None if calibration_path is None else \
        load_calibration(calibration_path, bundle)
    net = build.net
    eng = net.engine
    compiled = compile_bundle(bundle, eng, calibration)
    build.check_program(compiled)
    cnn, codes, clipped, expected, traces = golden_codes(bundle, eng, x, compiled)
    rows = codes.shape[0]
    images = net.images
    padded = -(-rows // images) * images
    padded_codes = np.concatenate([codes, np.zeros((padded - rows, codes.shape[1]),
                                                   dtype=np.int64)]) if padded != rows else codes
    in_fields, out_fields = run["input"]["payload_bits"], run["output"]["payload_bits"]
    in_words = pack_inputs(padded_codes, in_fields)
    p_last = run["output"]["values_per_image"] // eng.k
    n_out = padded * run["output"]["words_per_image"]
    in_bits = max(msb for _, msb in in_fields.values()) + 1
    out_bits = max(msb for _, msb in out_fields.values()) + 1

    # -- the board -----------------------------------------------------------------------
    import serial
    port = open_port(args.port, board["baud"])
    try:
        link = BoardLink(port, baud=board["baud"], timeout_s=args.timeout,
                         retries=args.retries, timeout_bytes=board.get("timeout_bytes", 32),
                         say=say)
        t0 = time.monotonic()
        identity = link.identify()
        check_identity(identity, build_id=board["build_id"], data_bits=net.data_width,
                       in_bits=in_bits, out_bits=out_bits, folder=str(build.folder))
        say(f"the board runs the build {build.folder} (build id {board['build_id_hex']})")
        words, timing = run_words(link, writes=build.program.writes, n_batches=padded // images,
                                  in_words=in_words, n_out=n_out, say=say)
        wall = time.monotonic() - t0
        link_status = link.link_status()
    except (serial.SerialException, OSError) as exc:
        raise LinkError(f"--port {args.port!r}: {exc}") from None
    finally:
        port.close()
    y_codes = place_outputs(words, out_fields, k=eng.k, batch=eng.batch, p=p_last,
                            rows=padded)[:rows]
    mismatches = int(np.count_nonzero(y_codes != expected))
    if cnn:
        result = _cnn_result(bundle, compiled, y_codes, traces, clipped)
    else:
        result = InferResult(
            dequantize_outputs(y_codes, compiled[-1].out_frac, bundle.layers[-1].n_out),
            [p.report for p in compiled],
            _saturations(clipped, [(t.acc_saturations, t.out_saturations) for t in traces]))
    y = result.y[0] if single else result.y
    write_npy_atomic(out, y)

    if not quiet:
        w = link.widths
        stream = timing["stream_s"]
        line = line_rows_per_second(
            baud=board["baud"], in_words=len(in_words) // padded, in_bytes=w.in_bytes,
            out_words=n_out // padded, out_bytes=w.out_bytes)
        c = timing["counters"]
        engine = (f"; the engine: {c['batch_cycles'] / images:.1f} cycles per inference "
                  f"(BATCH_CYCLES), {board['clk_hz'] * images / c['batch_cycles']:,.0f} "
                  f"inferences/s at {board['clock_mhz']} MHz" if c.get("batch_cycles") else "")
        print(f"run on {board['board']} ({args.port}, {board['baud']} baud): {rows} rows -> "
              f"{out} shape {tuple(np.shape(y))}"
              + (f" (+{padded - rows} zero rows to fill the batch)" if padded != rows else ""))
        print(f"loaded {len(build.program.writes)} writes ({timing['load_bytes']} bytes) in "
              f"{timing['load_s']:.2f} s; streamed {padded} rows in {stream:.3f} s: "
              f"{padded / max(stream, 1e-9):,.1f} inferences/s, "
              f"{rows / max(wall, 1e-9):,.1f} rows/s over the whole run ({wall:.2f} s)")
        print(f"the line at {board['baud']} baud carries at most {line:,.0f} rows/s "
              f"({len(in_words) // padded} input and {n_out // padded} output words a row)"
              + engine)
        print(f"link: {link.stats.frames} frames, {link.stats.bytes_sent} bytes sent, "
              f"{link.stats.bytes_received} received, {link.stats.retries} retries"
              + (f" ({'; '.join(link.stats.reasons[:3])})" if link.stats.reasons else "")
              + f"; the board counted {link_status['errors']} error replies, "
                f"{link_status['lost_bytes']} lost bytes")
        print(f"board vs golden: {mismatches} output words differ (every word compared)")
    if mismatches:
        print(f"circnn run: warning: {mismatches} output words of the board differ from the "
              f"bit-true model", file=sys.stderr)
    return 0
