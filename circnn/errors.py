"""User-facing errors.

A :class:`CircnnError` is bad input that the user can fix (an unknown
design, an out-of-range parameter, a malformed bundle).  The CLI prints its
message on one line and exits with status 2; anything else is a bug and
keeps its traceback.
"""


class CircnnError(Exception):
    """Bad input, reported to the user as one line, exit status 2."""


class ParameterError(CircnnError, ValueError):
    """A design or engine parameter outside its allowed range."""


class BundleError(CircnnError, ValueError):
    """A model bundle that breaks the format (names the offending key)."""


class ModelError(CircnnError, ValueError):
    """A PyTorch model that circnn cannot take (names the module and the rule broken)."""
