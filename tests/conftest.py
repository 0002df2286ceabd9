"""Shared fixtures: where the read-only reference material lives."""
from pathlib import Path

import pytest
from support import find_shared


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    path = find_shared()
    if path is None:
        pytest.fail("shared reference folder not found: set CLICKPY_SHARED to the folder holding conformance/")
    return path
