"""The demo's configuration: its defaults, its fixed choices, and the checks of its options.

:func:`config_from_args` turns the command-line options into a
:class:`DemoConfig` and refuses a bad one (one line naming the option)
before anything is written, ``--out`` included (:func:`check_output_folder`);
:func:`check_block_size` does the same for the block size once the data
set's input width is known.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

from circnn.config import check_int
from circnn.errors import CircnnError, ParameterError
from circnn.files import check_output_dir, write_error

__all__ = ["DemoConfig", "config_from_args", "check_block_size", "check_output_folder",
           "make_parents", "DEFAULTS", "N_CLASSES", "WIDTH", "DEVICE", "PACKAGE", "SPEED",
           "OUTPUT_NAMES"]

#: Training recipe shared by the dense baseline, the circulant network and the sweep
#: (block size, epochs and learning rate: per network, :mod:`.networks`).
DEFAULTS = dict(network="cnn", hidden=128, seed=0, batch_size=32, optimizer="adam",
                pes=4, freq=160.0, calibration_rows=256, rtl_rows_mnist_icarus=200)

N_CLASSES = 10
WIDTH = 16          # activations, weight spectra, IFFT input, twiddles
DEVICE, PACKAGE, SPEED = "LFE5U-85F", "CABGA381", 6

#: What a run writes to ``--out``: the bundle, the reports, the pictures and the
#: ECP5 build's folder.  A run replaces the whole folder.
OUTPUT_NAMES = frozenset({"model.npz", "report.json", "report.md", "accuracy_vs_k.png",
                          "confusion_rtl.png", "layer_cycles.png", "synth"})


@dataclass
class DemoConfig:
    out: Path
    mnist: Path | None
    network: str
    cnn: str
    k: int
    hidden: int
    epochs: int
    lr: float
    seed: int
    pes: int
    batch: int
    layer_batches: int
    freq: float
    skip_synth: bool
    skip_rtl: bool
    quiet: bool
    limit: int | None
    rtl_rows: int | None
    simulator: str

    @property
    def dataset(self) -> str:
        return "mnist" if self.mnist is not None else "digits"


def _get(args, name, default=None):
    value = getattr(args, name, None)
    return default if value is None else value


def config_from_args(args) -> DemoConfig:
    """Validate the command-line options that do not depend on the data."""
    from circnn.cnn_training import CNN_SPEC
    from .networks import NETWORKS
    mnist = _get(args, "mnist")
    network = _get(args, "network", DEFAULTS["network"])
    if network not in NETWORKS:
        raise ParameterError(f"--network must be one of {', '.join(NETWORKS)}, not {network!r}")
    family = NETWORKS[network]
    epochs = _get(args, "epochs", family.epochs_mnist if mnist else family.epochs_digits)
    cfg = DemoConfig(
        out=Path(_get(args, "out", "build/demo")),
        mnist=None if mnist is None else Path(mnist),
        network=network,
        cnn=_get(args, "cnn", CNN_SPEC),
        k=_get(args, "k", family.k),
        hidden=_get(args, "hidden", DEFAULTS["hidden"]),
        epochs=epochs,
        lr=float(_get(args, "lr", family.lr)),
        seed=_get(args, "seed", DEFAULTS["seed"]),
        pes=_get(args, "pes", DEFAULTS["pes"]),
        batch=_get(args, "batch", family.batch),
        layer_batches=_get(args, "layer_batches", family.layer_batches),
        freq=float(_get(args, "freq", DEFAULTS["freq"])),
        skip_synth=bool(_get(args, "skip_synth", False)),
        skip_rtl=bool(_get(args, "skip_rtl", False)),
        quiet=bool(_get(args, "quiet", False)),
        limit=_get(args, "limit"),
        rtl_rows=_get(args, "rtl_rows"),
        simulator=_get(args, "simulator", "verilator"),
    )
    check_int("--epochs", cfg.epochs, 1, 10_000)
    check_int("--hidden", cfg.hidden, 4, 4096)
    check_int("--seed", cfg.seed, 0, 2**32 - 1)
    check_int("--pes", cfg.pes, 1, 64)
    check_int("--batch", cfg.batch, 1, 64)
    check_int("--layer-batches", cfg.layer_batches, 1, 64)
    if not (math.isfinite(cfg.lr) and 0 < cfg.lr <= 1):
        raise ParameterError(f"--lr must be in (0, 1], not {cfg.lr}")
    if not 1 <= cfg.freq <= 1000:
        raise ParameterError(f"--freq must be in 1..1000 MHz, not {cfg.freq}")
    if cfg.limit is not None:
        check_int("--limit", cfg.limit, 1)
    if cfg.rtl_rows is not None:
        check_int("--rtl-rows", cfg.rtl_rows, 1)
    if not cfg.skip_rtl:
        from circnn.sim.harness.simulators import require_simulator
        require_simulator(cfg.simulator)
    k = check_int("--k", cfg.k)
    if k < 4 or k > 256 or k & (k - 1):
        raise ParameterError(f"--k {k}: the accelerator runs block sizes that are powers of two "
                             f"in 4..256")
    check_output_folder(cfg.out)
    if cfg.mnist is not None:
        if not cfg.mnist.exists():
            raise CircnnError(f"{cfg.mnist}: MNIST directory does not exist (--mnist)")
        if not cfg.mnist.is_dir():
            raise CircnnError(f"{cfg.mnist}: not a directory (--mnist needs the directory "
                              f"holding the four MNIST IDX files)")
    return cfg


def check_output_folder(out: Path) -> None:
    """``--out`` is replaced as a whole at the end of a run, so it must be a new
    folder, an empty one, or a previous demo output (nothing but :data:`OUTPUT_NAMES`).

    Unlike other commands' output folders, its parents may be missing (the default,
    ``build/demo``, in a fresh clone): then the first of them must be creatable,
    and :func:`make_parents` creates them once the run's input has been checked.
    """
    missing = Path(os.path.abspath(out))
    while not os.path.lexists(missing.parent):
        missing = missing.parent
    if missing != Path(os.path.abspath(out)):
        check_output_dir(missing, "--out")
        return
    check_output_dir(out, "--out", whole=True)
    if not out.is_dir():
        return
    foreign = sorted(name for name in os.listdir(out) if name not in OUTPUT_NAMES)
    if foreign:
        listed = ", ".join(foreign[:3]) + (", ..." if len(foreign) > 3 else "")
        raise CircnnError(f"--out {str(out)!r}: holds files circnn demo did not write ({listed}); "
                          f"a run replaces the whole folder, so name a new or empty folder or a "
                          f"previous demo output")


def make_parents(out: Path) -> None:
    """Create the missing parent folders of ``--out``."""
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise write_error(out.parent, exc) from None


def check_block_size(cfg: DemoConfig, n_in: int) -> None:
    """The network must fit the data: an MLP's k at most the input and hidden widths, a
    CNN's images square."""
    from .networks import NETWORKS
    NETWORKS[cfg.network](cfg).check(n_in)
