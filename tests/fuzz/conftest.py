"""Fuzzing profiles, and a summary of inputs tried per target."""
import os

from fuzzing import TALLY
from hypothesis import settings

# CI: a bounded number of inputs per test. 'long' (HYPOTHESIS_PROFILE=long, or
# CLICKPY_FUZZ_SECONDS for a time budget) tries many more per round.
settings.register_profile("ci", max_examples=150)
settings.register_profile("long", max_examples=5000)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


def pytest_terminal_summary(terminalreporter):
    if TALLY:
        terminalreporter.section("fuzz targets")
        for target, (tried, failed) in sorted(TALLY.items()):
            terminalreporter.write_line(f"{target}: {tried} inputs tried, {failed} failed")
