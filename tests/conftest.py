import os
import random

import pytest


@pytest.fixture
def seed(request):
    """A per-test random seed: ``CIRCNN_SEED`` if set, else fresh; always printed."""
    value = int(os.environ.get("CIRCNN_SEED", random.SystemRandom().randrange(1 << 31)))
    print(f"seed={value} (rerun with CIRCNN_SEED={value})")
    return value
