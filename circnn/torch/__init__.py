"""The PyTorch front end: block-circulant modules, export to the model bundle,
projection of trained dense layers (``docs/pytorch.md``).

Needs the optional extra ``circnn[torch]``.  Modules run on PyTorch's
channel-first maps (N, C, H, W); the bundle they export to is channel-last
(N, H, W, C), and :class:`FlattenHWC` flattens maps in the bundle's order.
"""

from .conv import BlockCirculantConv2d
from .export import export_bundle
from .flatten import FlattenHWC
from .linear import BlockCirculantLinear
from .projection import from_dense

__all__ = ["BlockCirculantLinear", "BlockCirculantConv2d", "FlattenHWC", "export_bundle",
           "from_dense"]
