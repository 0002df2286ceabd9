"""Data-path throughput of the workloads DESIGN.md sets targets for.

Run:  pytest bench/test_dataplane.py --benchmark-enable
or:   clickpy bench infsrc classify [--burst 1]
Only the driver loop is timed; building the router is setup.
"""
import pytest

from clickpy import bench, pipeline

LIMIT = 2_000_000


@pytest.mark.parametrize("workload", ["infsrc", "classify"])
@pytest.mark.parametrize("burst", [1, 32])
def test_workload(benchmark, workload, burst):
    from clickpy.runtime.router import Router

    text, _ = bench.WORKLOADS[workload]
    source = pipeline.Source(text, workload)
    defs = {"BURST": str(burst), "LIMIT": str(LIMIT)}

    def setup():
        return (Router.build(source, defs),), {}

    def run(router):
        router.run()
        return router

    router = benchmark.pedantic(run, setup=setup, rounds=3, iterations=1)
    assert int(router.read("c.count")) == LIMIT
    if benchmark.stats is not None:
        mpps = LIMIT / benchmark.stats.stats.median / 1e6
        benchmark.extra_info["mpps"] = round(mpps, 2)
        print(f"\n{workload} BURST {burst}: {mpps:.2f} Mpps")
