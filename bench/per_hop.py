"""What one hop between elements costs: a chain of N Null elements between a
source and a sink, N = 0, 1, 5, 10, 20, at BURST 1 and 32, on the generic
path and specialised (the chain fused into one function: clickpy.specialize).

    python bench/per_hop.py                  # median of 3 rounds of 5M packets per point
    python bench/per_hop.py --limit 2000000 --rounds 5 --json

For each burst it prints ns per packet at every chain length and the cost of
one hop: the slope of a least-squares line through those points (so the
source, the counter and the sink, the same at every length, drop out).
Issue 14's goal for a specialised graph: at most 1 ns per hop at BURST 32,
at most 5 ns at BURST 1.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys

from clickpy import bench, pipeline

LENGTHS = (0, 1, 5, 10, 20)
BURSTS = (1, 32)


def chain(hops: int) -> str:
    """The configuration text of a chain of hops Null elements ($LIMIT and $BURST left to fill)."""
    nulls = "".join(" -> Null" for _ in range(hops))
    return (f"InfiniteSource(LENGTH 64, LIMIT $LIMIT, BURST $BURST, STOP true){nulls}"
            " -> c :: Counter -> Discard;")


def ns_per_packet(hops: int, burst: int, limit: int, rounds: int, specialized: bool) -> float:
    """Median over rounds of the driver loop's ns per packet."""
    source = pipeline.Source(chain(hops), f"chain-{hops}")
    times = []
    for _ in range(rounds):
        packets, seconds = bench.run_once(source, {"LIMIT": str(limit), "BURST": str(burst)}, "c",
                                          specialized=specialized)
        if packets != limit:
            raise SystemExit(f"chain of {hops}: counted {packets} packets, not {limit}")
        times.append(seconds / packets * 1e9)
    return sorted(times)[len(times) // 2]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--limit", type=int, default=5_000_000, help="packets per run (default 5M)")
    p.add_argument("--rounds", type=int, default=3, help="runs per point; the median counts (default 3)")
    p.add_argument("--json", action="store_true", help="print the figures as JSON")
    ns = p.parse_args(argv)
    figures = {}
    for mode in ("generic", "specialised"):
        for burst in BURSTS:
            points = [ns_per_packet(h, burst, ns.limit, ns.rounds, mode == "specialised") for h in LENGTHS]
            figures[mode, burst] = {"ns_per_packet": dict(zip(LENGTHS, points)),
                                    "ns_per_hop": statistics.linear_regression(LENGTHS, points).slope}
    if ns.json:
        print(json.dumps({f"{m}_burst_{b}": f for (m, b), f in figures.items()}, indent=2))
        return 0
    load = os.getloadavg()[0]
    print(f"per-hop cost, chains of Null, {ns.limit} packets, median of {ns.rounds}, "
          f"load average {load:.1f} on {os.cpu_count()} cores")
    print("path         burst  " + "  ".join(f"{h:>3} hops" for h in LENGTHS) + "   ns/hop")
    for (mode, burst), f in figures.items():
        row = "  ".join(f"{f['ns_per_packet'][h]:8.2f}" for h in LENGTHS)
        print(f"{mode:<11}  {burst:>5}  {row}   {f['ns_per_hop']:6.2f}")
    print("(ns per packet at each chain length; ns/hop is the slope)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
