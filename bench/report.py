"""Print benchmark figures.

    python bench/report.py frontend     # parse + elaborate + check, elements/s
"""
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from configs import large_config  # noqa: E402

from clickpy import pipeline  # noqa: E402


def frontend(rounds: int = 5) -> None:
    text = large_config(10_000)
    times = {"parse": [], "elaborate": [], "check": [], "total": []}
    from clickpy.errors import Diagnostics
    from clickpy.graph.check import check
    from clickpy.graph.elaborate import elaborate
    from clickpy.lang.parser import parse

    n = 0
    for _ in range(rounds):
        d = Diagnostics()
        t0 = time.perf_counter()
        program = parse(text, "bench.click", d)
        t1 = time.perf_counter()
        graph = elaborate(program, d)
        t2 = time.perf_counter()
        check(graph, d)
        t3 = time.perf_counter()
        n = len(graph.elements)
        for k, v in zip(times, (t1 - t0, t2 - t1, t3 - t2, t3 - t0)):
            times[k].append(v)
    print(f"front end on a generated config: {n} elements, {len(text):,} bytes, median of {rounds}")
    for k, v in times.items():
        med = statistics.median(v)
        print(f"  {k:<10} {med * 1000:8.1f} ms   {n / med:12,.0f} elements/s")


if __name__ == "__main__":
    which = sys.argv[1] if len(sys.argv) > 1 else "frontend"
    {"frontend": frontend}[which]()
