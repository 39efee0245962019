"""Train a block-circulant CNN on the 8x8 digits in PyTorch, export it as a circnn
model bundle, and classify the test split with ``circnn infer``.

    .venv/bin/python examples/pytorch_digits.py                  # golden model only
    .venv/bin/python examples/pytorch_digits.py --backends golden,rtl --rtl-rows 40

Writes to ``--out`` (default ``build/pytorch-digits``): ``model.npz`` (the
bundle), ``x_test.npy`` (the test images channel-last, (N, 8, 8, 1), as
circnn reads them), ``y_<backend>.npy`` and ``<backend>.json`` (the logits
and report of each ``circnn infer`` run) and ``summary.json`` (accuracies,
and the RTL's output words that differ from the golden model).  Needs the
``circnn[torch]`` extra (``docs/pytorch.md``).
"""

from __future__ import annotations

import argparse
import json
import shlex
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from circnn.cli import main as circnn_main
from circnn.datasets import load_digits_split
from circnn.torch import BlockCirculantConv2d, BlockCirculantLinear, FlattenHWC, export_bundle


def digits_cnn(k: int, channels: int) -> nn.Sequential:
    """8x8x1 -> conv 3x3 (padding 1) -> ReLU -> max-pool 2x2 -> dense 10."""
    return nn.Sequential(
        BlockCirculantConv2d(1, channels, 3, k, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        FlattenHWC(), BlockCirculantLinear(4 * 4 * channels, 10, k))


def as_maps(rows: np.ndarray) -> torch.Tensor:
    """Digits rows (N, 64) as PyTorch maps (N, 1, 8, 8), float32."""
    return torch.tensor(rows, dtype=torch.float32).reshape(-1, 1, 8, 8)


def train(model: nn.Module, x: torch.Tensor, y: torch.Tensor, epochs: int, seed: int) -> None:
    """Adam on the cross-entropy, mini-batches of 32 in a seeded order."""
    generator = torch.Generator().manual_seed(seed)
    optimiser = torch.optim.Adam(model.parameters(), lr=0.01)
    loss_of = nn.CrossEntropyLoss()
    model.train()
    for _ in range(epochs):
        for batch in torch.randperm(len(x), generator=generator).split(32):
            optimiser.zero_grad()
            loss_of(model(x[batch]), y[batch]).backward()
            optimiser.step()
    model.eval()


def infer(out: Path, backend: str, rows: int | None, simulator: str) -> tuple[np.ndarray, dict]:
    """``circnn infer`` of the exported bundle on the first ``rows`` test images, with
    fixed-point formats calibrated on the whole test split (so that every backend
    computes the same codes and the RTL's outputs are the golden model's rows)."""
    inputs = out / "x_test.npy"
    if rows is not None:
        inputs = out / f"x_test_{rows}.npy"
        np.save(inputs, np.load(out / "x_test.npy")[:rows])
    argv = ["infer", "--model", str(out / "model.npz"), "--inputs", str(inputs),
            "--backend", backend, "--out", str(out / f"y_{backend}.npy"),
            "--report", str(out / f"{backend}.json"), "--quiet"]
    if backend != "float":
        argv += ["--calibration", str(out / "x_test.npy")]
    if backend == "rtl":
        argv += ["--simulator", simulator]
    print("circnn " + shlex.join(argv), flush=True)
    if circnn_main(argv) != 0:
        raise SystemExit(f"circnn infer --backend {backend} failed")
    return np.load(out / f"y_{backend}.npy"), json.loads((out / f"{backend}.json").read_text())


def run(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path("build/pytorch-digits"))
    ap.add_argument("--k", type=int, default=4)
    ap.add_argument("--channels", type=int, default=8)
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--backends", default="golden", help="comma-separated: float,golden,rtl")
    ap.add_argument("--rtl-rows", type=int, default=None,
                    help="test images the rtl backend classifies (default: all 450)")
    ap.add_argument("--simulator", default="verilator", choices=["verilator", "icarus"])
    args = ap.parse_args(argv)

    # one thread: these tensors are small, and PyTorch's worker threads slow down
    # many times over (seconds become minutes) when other jobs share the cores
    torch.set_num_threads(1)
    torch.manual_seed(args.seed)
    x_train, y_train, x_test, y_test = load_digits_split()
    model = digits_cnn(args.k, args.channels)
    t0 = time.perf_counter()
    train(model, as_maps(x_train), torch.tensor(y_train), args.epochs, args.seed)
    with torch.no_grad():
        logits = model(as_maps(x_test)).numpy()
    summary = {"train_s": round(time.perf_counter() - t0, 2),
               "accuracy_torch": float(np.mean(logits.argmax(1) == y_test))}
    print(f"trained {args.epochs} epochs in {summary['train_s']} s: "
          f"test accuracy {100 * summary['accuracy_torch']:.2f} % (PyTorch, float32)")

    args.out.mkdir(parents=True, exist_ok=True)
    export_bundle(model, args.out / "model.npz", input_shape=(1, 8, 8))
    # PyTorch's (N, C, H, W) is circnn's (N, H, W, C)
    np.save(args.out / "x_test.npy", as_maps(x_test).permute(0, 2, 3, 1).numpy().astype(np.float64))
    np.save(args.out / "logits_torch.npy", logits)
    for backend in args.backends.split(","):
        rows = args.rtl_rows if backend == "rtl" else None
        y, report = infer(args.out, backend, rows, args.simulator)
        summary[f"accuracy_{backend}"] = float(np.mean(y.argmax(1) == y_test[:len(y)]))
        print(f"{backend}: test accuracy {100 * summary[f'accuracy_{backend}']:.2f} % "
              f"on {len(y)} images")
        if backend == "rtl":
            summary["rtl_golden_mismatches"] = report["rtl_golden_mismatches"]
            print(f"rtl: {report['rtl_golden_mismatches']} output words differ from golden")
    (args.out / "summary.json").write_text(json.dumps(summary, indent=1))
    return summary


if __name__ == "__main__":
    run()
