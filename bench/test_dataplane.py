"""Data-path throughput of the workloads DESIGN.md sets targets for.

Run:  pytest bench/test_dataplane.py --benchmark-enable
or:   clickpy bench infsrc classify [--burst 1]
Only the driver loop is timed; building the router is setup.
"""
import sys
from pathlib import Path

import pytest

from clickpy import bench

sys.path.insert(0, str(Path(__file__).parent))

from driver_timing import driver_loop_mpps  # noqa: E402


@pytest.mark.parametrize("workload", ["infsrc", "classify"])
@pytest.mark.parametrize("burst", [1, 32])
def test_workload(benchmark, workload, burst):
    text, description = bench.WORKLOADS[workload]
    driver_loop_mpps(benchmark, text, workload, burst, description)
