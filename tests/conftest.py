import os
import random

import pytest


@pytest.fixture
def seed(request):
    """A per-test random seed: ``CIRCNN_SEED`` if set, else fresh; always printed."""
    value = int(os.environ.get("CIRCNN_SEED", random.SystemRandom().randrange(1 << 31)))
    print(f"seed={value} (rerun with CIRCNN_SEED={value})")
    return value


def pytest_collection_modifyitems(config, items):
    # the long simulations first: with several workers (pytest -n) they then
    # run beside the many short tests instead of alone at the end
    items.sort(key=lambda item: item.get_closest_marker("long") is None)
