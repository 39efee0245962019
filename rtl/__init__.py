"""Amaranth components of the circnn accelerator (importable as ``circnn.rtl``)."""
