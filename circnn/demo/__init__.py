"""``circnn demo``: the main job, end to end, on a real data set.

1. **Train** (NumPy, seeded, reproducible) on scikit-learn's 8x8 digits (the
   fixed split of :func:`circnn.datasets.load_digits_split`) or on MNIST
   (``--mnist DIR``, :func:`circnn.datasets.load_mnist_idx`): the dense
   baseline ``n_in -> hidden -> 10`` and the block-circulant network of the
   same shape (block size ``k``, default 8), with the same recipe (Adam, lr
   5e-3, mini-batches of 32, 20 epochs on digits).  A cheap sweep trains the
   circulant network again at k in {4, 8, 16} for the accuracy-vs-block-size
   plot.
2. **Export and compile**: the circulant network becomes a model bundle
   (``model.npz``, format ``circnn-bundle/1``), compiled for one engine
   (:class:`~circnn.sim.model.layer.EngineConfig`: k, 16-bit datapath, P
   PEs, batch B, ``max_q``/``max_p`` of the largest layer) with formats
   calibrated on a slice of the training set.
3. **Evaluate** the test split three ways: ``float`` (double-precision
   forward pass of the bundle), ``golden`` (the bit-true model:
   quantise, :func:`~circnn.sim.model.network.network_forward`, dequantise,
   arg-max) and ``rtl`` (:func:`circnn.demo.rtl.run_network_rtl`: the
   generated Verilog under cocotb on Verilator or Icarus).  ``rtl_golden_mismatches``
   counts the output words on which RTL and golden model differ.
4. **Synthesise** the accelerator for LFE5U-85F-6 (yosys + nextpnr): the
   network-level design ``accelerator``, its memories sized for the
   network, in a child process started after the compile (it runs beside
   steps 3 and the sweep).  ``inferences_per_second = fmax * 1e6 / cycles_per_inference``.
5. **Report**: a summary table on stdout; ``report.json``, ``report.md`` and
   two pictures (accuracy vs block size, confusion matrix of the RTL run)
   in ``--out``.

Every step longer than a few seconds shows progress on stderr (tqdm) and its
elapsed time; ``--quiet`` silences both.  Bad input (a missing or malformed
data directory or IDX file, an impossible block size or parameter) is one
line naming the file or parameter, exit status 2, before anything is
written.

The parts: :mod:`.config` (defaults and option checks), :mod:`.data`,
:mod:`.progress`, :mod:`.pipeline` (the steps, :func:`run_demo`),
:mod:`.rtl` (the RTL run), :mod:`.report` and :mod:`.plots`.
"""

from .pipeline import run_demo

__all__ = ["run_demo"]
