"""Formal proofs of circnn's components (SymbiYosys, ``circnn prove``).

One harness file per proved component, each with its ``PROPERTIES`` (a
list of :class:`~.properties.FormalProperty`) and the ``MUTATIONS`` its
properties must catch; :func:`all_properties` is the catalogue, in the
order ``circnn prove`` runs it.  ``docs/verification.md`` lists what is
proved and how.
"""

from __future__ import annotations

__all__ = ["all_properties"]


def all_properties() -> list:
    from . import bank_pair, butterfly, credit_queue, delay, network_controller, \
        stream_register, twiddle
    props = []
    for module in (credit_queue, stream_register, delay, bank_pair, butterfly, twiddle,
                   network_controller):
        props += module.PROPERTIES
    names = [p.name for p in props]
    assert len(names) == len(set(names)), "property names must be unique"
    return props
