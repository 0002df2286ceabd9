"""Shared fixtures: where the read-only reference material lives; routers
built in-process are cleaned up after each test.

``--specialize off|on|wait`` is the mode every ``clickpy run`` a test starts
uses (CLICKPY_SPECIALIZE; default off, so that a run of the suite does not
compile a module for each configuration it tries); with ``wait``, routers
the tests build in-process (support.build_router) get their specialised
module too. ``pytest tests/elements --specialize wait`` shows specialised
graphs behave the same (slowly: a module per configuration); CI runs
Click's clicktests both ways. Modules go to a folder of the session's own.
"""
import os
import shutil
import tempfile
from pathlib import Path

import pytest
import support
from support import find_shared


def pytest_addoption(parser):
    parser.addoption("--specialize", choices=("off", "on", "wait"), default="off",
                     help="the --specialize mode of every 'clickpy run' the tests start")


def pytest_configure(config):
    os.environ["CLICKPY_SPECIALIZE"] = config.getoption("--specialize")
    if "CLICKPY_CACHE_DIR" not in os.environ:     # (xdist workers inherit the controller's)
        config._clickpy_cache_dir = os.environ["CLICKPY_CACHE_DIR"] = tempfile.mkdtemp(prefix="clickpy-spec-")


def pytest_unconfigure(config):
    made = getattr(config, "_clickpy_cache_dir", None)
    if made is not None:
        shutil.rmtree(made, ignore_errors=True)


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
