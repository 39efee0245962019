"""``circnn train-cnn``: a convolutional network trained block-circulant, and its dense
baseline, on scikit-learn's 8x8 digits (or MNIST IDX files), exported as a
format-2 bundle and checked in the 16-bit bit-true model.

Three networks of the same shape (``--cnn``, default
:data:`~circnn.cnn_training.CNN_SPEC`), trained with the same optimiser,
epochs and seed:

1. the dense CNN (the baseline);
2. the block-circulant CNN (block size ``--k``) trained from scratch
   (``model.npz``);
3. the dense CNN projected onto the nearest block-circulant one (CircConv's
   second route) and re-trained (``model_from_dense.npz``).

Then the bit-true model of the engine (16-bit datapath, formats from 512
training images) classifies the test split with model 2.  Writes
``model.npz``, ``model_from_dense.npz`` and ``report.json`` to ``--out``
and prints a summary.
"""

from __future__ import annotations

import json
import time

import numpy as np

from .errors import CircnnError

__all__ = ["run_train_cnn", "CALIBRATION_ROWS"]

#: training images the compiler chooses the fixed-point formats from
CALIBRATION_ROWS = 512


def _data(mnist):
    from .datasets import load_digits_split, load_mnist_idx
    if mnist is None:
        xtr, ytr, xte, yte = load_digits_split(seed=0)
        return xtr, ytr, xte, yte, (8, 8, 1), "scikit-learn digits (8x8), load_digits_split(seed=0)"
    xtr, ytr, xte, yte = load_mnist_idx(mnist)
    side = int(round(np.sqrt(xtr.shape[1])))
    if side * side != xtr.shape[1] or xte.shape[1] != xtr.shape[1]:
        raise CircnnError(f"{mnist}: images of {xtr.shape[1]} pixels (test {xte.shape[1]}) are "
                          f"not square single-channel images of one size")
    for name, y in (("train", ytr), ("test", yte)):
        if len(y) == 0 or y.max() > 9:
            raise CircnnError(f"{mnist}: the {name} labels must be 0..9 and not empty")
    return xtr, ytr, xte, yte, (side, side, 1), f"MNIST IDX files in {mnist}"


def _weights(network) -> tuple[int, int]:
    """(stored weights, weights of the dense layers of the same shapes)."""
    stored = dense = 0
    for layer in network.layers:
        linear = getattr(layer, "linear", layer)
        if not hasattr(linear, "weight"):
            continue
        stored += linear.weight.size
        dense += linear.in_features * linear.out_features
    return stored, dense


def run_train_cnn(args, say=print) -> int:
    from .cnn_training import circulant_cnn_from_dense, cnn_network, cnn_to_bundle, parse_cnn_spec
    from .bundle import save_bundle
    from .config import check_int, check_power_of_two
    from .files import check_output_dir
    from .infer import engine_for, infer_golden
    from .training import accuracy, train

    spec = parse_cnn_spec(args.cnn)
    k = check_power_of_two("--k", args.k, 2, 64)
    epochs = check_int("--epochs", args.epochs, 1, 1000)
    if not 0 < args.lr <= 1:
        raise CircnnError(f"--lr {args.lr}: must be in (0, 1]")
    out = check_output_dir(args.out, "--out")
    xtr, ytr, xte, yte, in_shape, data_name = _data(args.mnist)
    say(f"data: {data_name}: {len(xtr)} training and {len(xte)} test images {in_shape}")

    def fit(net, label, seed):
        def progress(epoch, hist):
            say(f"{label}: epoch {epoch}/{epochs} loss {hist.loss[-1]:.4f} test "
                f"{100 * hist.test_accuracy[-1]:.2f}%")
        t0 = time.monotonic()
        train(net, xtr, ytr, epochs=epochs, batch_size=32, lr=args.lr, seed=seed, x_test=xte,
              y_test=yte, callback=progress)
        return round(time.monotonic() - t0, 1)

    times = {}
    dense = cnn_network(in_shape, spec, None, seed=args.seed)
    times["dense"] = fit(dense, "dense CNN", args.seed)
    circ = cnn_network(in_shape, spec, k, seed=args.seed)
    times["circulant"] = fit(circ, f"block-circulant CNN (k = {k})", args.seed)
    projected = circulant_cnn_from_dense(dense, k)
    projected_accuracy = accuracy(projected, xte, yte)
    times["from_dense"] = fit(projected, "projected from the dense CNN, re-trained", args.seed)

    bundle = cnn_to_bundle(circ)
    eng = engine_for(bundle, {})
    calibration = xtr[:CALIBRATION_ROWS]
    say(f"bit-true model: 16-bit engine, formats from {len(calibration)} training images")
    golden = infer_golden(bundle, eng, xte, calibration)
    stored, dense_weights = _weights(circ)
    report = {
        "dataset": data_name, "n_train": int(len(xtr)), "n_test": int(len(xte)),
        "in_shape": list(in_shape), "cnn": args.cnn, "k": k, "epochs": epochs, "lr": args.lr,
        "seed": args.seed,
        "layers": [f"{layer.kind} {layer.in_shape or layer.n_in} -> "
                   f"{layer.out_shape or layer.n_out}" for layer in bundle.layers],
        "accuracy_dense_float": accuracy(dense, xte, yte),
        "accuracy_float": accuracy(circ, xte, yte),
        "accuracy_from_dense_projected": projected_accuracy,
        "accuracy_from_dense_float": accuracy(projected, xte, yte),
        "accuracy_golden": float(np.mean(np.argmax(golden.y, axis=1) == yte)),
        "weights_circulant": stored, "weights_dense": dense_weights,
        "compression_ratio": round(dense_weights / stored, 2),
        "compiler": {f"layer {i}": rep for i, rep in enumerate(golden.compiler)},
        "training_seconds": times,
    }
    out.mkdir(exist_ok=True)
    save_bundle(out / "model.npz", bundle)
    save_bundle(out / "model_from_dense.npz", cnn_to_bundle(projected))
    (out / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    rows = [("layers", "; ".join(report["layers"])),
            ("accuracy, dense CNN (float)", f"{100 * report['accuracy_dense_float']:.2f} %"),
            (f"accuracy, block-circulant k = {k} (float)", f"{100 * report['accuracy_float']:.2f} %"),
            ("accuracy, 16-bit golden model", f"{100 * report['accuracy_golden']:.2f} %"),
            ("accuracy, projected from dense (before / after re-training)",
             f"{100 * projected_accuracy:.2f} % / {100 * report['accuracy_from_dense_float']:.2f} %"),
            ("weights: dense / block-circulant",
             f"{dense_weights} / {stored} ({report['compression_ratio']}x)"),
            ("training (s): dense / circulant / from dense",
             f"{times['dense']} / {times['circulant']} / {times['from_dense']}")]
    width = max(len(a) for a, _ in rows)
    print(f"circnn train-cnn: {data_name}")
    for a, b in rows:
        print(f"  {a:<{width}}  {b}")
    print(f"written: {out / 'model.npz'}, {out / 'model_from_dense.npz'}, {out / 'report.json'}")
    return 0
