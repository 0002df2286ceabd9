"""Shared fixtures: where the read-only reference material lives; routers
built in-process are cleaned up after each test."""
from pathlib import Path

import pytest
import support
from support import find_shared


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    path = find_shared()
    if path is None:
        pytest.fail("shared reference folder not found: set CLICKPY_SHARED to the folder holding conformance/")
    return path


@pytest.fixture(autouse=True)
def _clean_up_routers():
    yield
    support.clean_up_routers()
