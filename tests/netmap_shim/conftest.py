"""The ring tests count the packet pool's buffers before and after: whatever
an earlier test in this process left to the garbage collector is freed
before each test, not in the middle of one."""
import gc

import pytest


@pytest.fixture(autouse=True)
def _collect_earlier_garbage():
    gc.collect()
