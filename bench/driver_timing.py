"""Time a router's driver loop under pytest-benchmark (the in-memory benches share it).

Building the router is setup; only ``router.run()`` is timed, until the
configuration stops itself after LIMIT packets, counted by element ``c``.
"""
from clickpy import pipeline

LIMIT = 2_000_000


def driver_loop_mpps(benchmark, text: str, filename: str, burst: int, label: str) -> float | None:
    """Run config text (which uses $BURST and $LIMIT) for 3 rounds; returns Mpps (median),
    or None when benchmarks are disabled (one round then only checks the count)."""
    from clickpy.runtime.router import Router

    source = pipeline.Source(text, filename)
    defs = {"BURST": str(burst), "LIMIT": str(LIMIT)}

    def setup():
        return (Router.from_plan(pipeline.plan(source, defs)),), {}

    def run(router):
        router.run()
        return router

    router = benchmark.pedantic(run, setup=setup, rounds=3, iterations=1)
    assert int(router.read("c.count")) == LIMIT
    if benchmark.stats is None:
        return None
    mpps = LIMIT / benchmark.stats.stats.median / 1e6
    benchmark.extra_info["mpps"] = round(mpps, 2)
    print(f"\n{label}, BURST {burst}: {mpps:.2f} Mpps")
    return mpps
