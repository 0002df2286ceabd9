"""Throughput measurement: run a router and report packets per second.

Named workloads are the ones DESIGN.md sets targets for; any configuration
file can be measured too. Setup (parsing, configuring) is not timed: only
the driver loop, from its start until the configuration stops itself.
"""
from __future__ import annotations

import statistics
import time
from dataclasses import dataclass

from clickpy import pipeline

# One 64-byte Ethernet/IPv4/UDP frame, 10.1.2.3:12345 -> 192.168.1.10:8080,
# valid IP checksum (the frame Click's benchmark configurations use).
UDP_FRAME = ("0011223344550066778899aa080045000032000000004011ad050a010203c0a8010a"
             "30391f90001e000000000000000000000000000000000000000000000000")

WORKLOADS = {
    "infsrc": (
        "InfiniteSource(LENGTH 64, LIMIT $LIMIT, BURST $BURST, STOP true) -> c :: Counter -> Discard;",
        "InfiniteSource(LENGTH 64) -> Counter -> Discard",
    ),
    "classify": (
        f"InfiniteSource(DATA \\<{UDP_FRAME}>, LIMIT $LIMIT, BURST $BURST, STOP true)"
        " -> cl :: Classifier(12/0800, -) -> Strip(14) -> CheckIPHeader -> c :: Counter -> Discard;"
        " cl[1] -> Discard;",
        "64 B UDP frame -> Classifier(12/0800, -) -> Strip(14) -> CheckIPHeader -> Counter -> Discard",
    ),
}


class BenchError(Exception):
    """A workload cannot be measured as asked; the message says why."""


@dataclass
class Measurement:
    name: str
    packets: int
    seconds: list[float]

    @property
    def mpps(self) -> float:
        return self.packets / statistics.median(self.seconds) / 1e6

    def line(self) -> str:
        rates = ", ".join(f"{self.packets / s / 1e6:.2f}" for s in self.seconds)
        return (f"{self.name}: {self.mpps:.2f} Mpps median of {len(self.seconds)} "
                f"({self.packets} packets per run; runs: {rates})")


def run_once(source: pipeline.Source, definitions: dict[str, str], counter: str,
             specialized: bool = False) -> tuple[int, float]:
    """Build, run and time one router (with its specialised module installed
    first when specialized: clickpy.spec_cache, built if need be); returns
    (packets counted, seconds running)."""
    from clickpy.runtime.router import Router

    router = Router.from_plan(pipeline.plan(source, definitions))
    try:
        if specialized:
            from clickpy import spec_cache

            spec_cache.specialize_now(router)
        e = router.element(counter)
        if e is None or router.handler(e, "count") is None:
            counters = [x.name for x in router.elements if router.handler(x, "count") is not None]
            hint = (f"; its counters: {', '.join(counters)}" if counters
                    else "; it has no element with a 'count' handler")
            raise BenchError(f"{source.filename}: no counter named '{counter}' to report (choose one with "
                             f"--counter NAME{hint})")
        start = time.perf_counter()
        router.run()
        elapsed = time.perf_counter() - start
        count = int(router.read(f"{counter}.count"))
    finally:
        router.cleanup()
    return count, elapsed


def measure(workload: str, *, burst: int = 32, limit: int = 10_000_000, rounds: int = 3,
            definitions: dict[str, str] | None = None, counter: str = "c") -> Measurement:
    """Measure a named workload or a configuration file."""
    if workload in WORKLOADS:
        text, description = WORKLOADS[workload]
        source = pipeline.Source(text, workload)
        name = f"{workload} [{description}, BURST {burst}]"
    else:
        source = pipeline.read_source(workload)
        name = workload
    defs = {"BURST": str(burst), "LIMIT": str(limit), **(definitions or {})}
    seconds, packets = [], 0
    for _ in range(rounds):
        packets, elapsed = run_once(source, defs, counter)
        seconds.append(elapsed)
    return Measurement(name, packets, seconds)
