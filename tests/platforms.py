"""Elaborating one component for a given platform inside a design for another.

``OnPlatform(component, platform)`` elaborates ``component`` as if for
``platform`` (None: generic), whatever the enclosing design is elaborated
for: the tests that check both targets give the same words put a generic
and an ECP5 instance side by side in one simulation.
"""

from amaranth.hdl import Elaboratable

__all__ = ["OnPlatform"]


class OnPlatform(Elaboratable):
    def __init__(self, component, platform):
        self.component = component
        self.platform = platform

    def elaborate(self, platform):
        return self.component.elaborate(self.platform)
