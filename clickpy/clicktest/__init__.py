"""Conformance runner for Click's `.clicktest` regression tests.

Click's own test files run here with clickpy standing in for ``click``,
``click-flatten`` and ``click-buildtool``: :func:`parse_clicktest` reads a
test, :func:`run_tests` runs files and directories of them.
"""

from clickpy.clicktest.format import parse_clicktest
from clickpy.clicktest.runner import run_tests

__all__ = ["parse_clicktest", "run_tests"]
