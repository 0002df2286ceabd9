"""Front-end throughput: parse + elaborate + check of a 10,000-element config.

Run: pytest bench/test_frontend.py --benchmark-enable
or:  python bench/report.py frontend
"""
import pytest

from clickpy import pipeline
from configs import large_config

TEXT = large_config(10_000)


@pytest.fixture(scope="module")
def nelements():
    result = pipeline.load(pipeline.Source(TEXT, "bench.click"))
    return len(result.graph.elements)


def test_parse_elaborate_check_10k(benchmark, nelements):
    result = benchmark.pedantic(
        pipeline.load, args=(pipeline.Source(TEXT, "bench.click"),), rounds=5, iterations=1
    )
    assert len(result.graph.elements) == nelements >= 10_000
    if benchmark.stats is not None:
        rate = nelements / benchmark.stats.stats.median
        benchmark.extra_info["elements_per_second"] = round(rate)
        print(f"\nfront end: {nelements} elements, {rate:,.0f} elements/s (median of 5)")
