"""The 64-byte frame path: Classifier -> Strip -> CheckIPHeader -> Counter -> Discard.

Run:  pytest bench/test_classify.py --benchmark-enable
Reports Mpps (median of the rounds). Only the driver loop is timed;
building the router is setup. BURST 32 moves batches (Classifier splits
them per output); BURST 1 moves one packet at a time.
"""
import pytest

from clickpy import pipeline

LIMIT = 2_000_000

# 10.1.2.3:12345 -> 192.168.1.10:8080, valid IP checksum, UDP checksum 0.
UDP_FRAME = ("0011223344550066778899aa080045000032000000004011ad050a010203c0a8010a"
             "30391f90001e000000000000000000000000000000000000000000000000")

CONFIG = (
    f"InfiniteSource(DATA \\<{UDP_FRAME}>, BURST $BURST, LIMIT $LIMIT, STOP true)"
    " -> cl :: Classifier(12/0800, -) -> Strip(14) -> CheckIPHeader -> c :: Counter -> Discard;"
    " cl[1] -> Discard;"
)


@pytest.mark.parametrize("burst", [32, 1])
def test_classify_64b(benchmark, burst):
    from clickpy.runtime.router import Router

    source = pipeline.Source(CONFIG, "bench-classify.click")
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
        print(f"\nClassifier -> Strip -> CheckIPHeader, BURST {burst}: {mpps:.2f} Mpps")
