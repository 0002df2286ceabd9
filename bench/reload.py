#!/usr/bin/env python3
"""Hot reload: the pause, and the packets lost.

    python bench/reload.py                      # in memory at 1 Mpps offered; 10 vs 1,000 elements
    sudo .venv/bin/python bench/reload.py --veth  # also on veth: a lab NAT reloaded by 'clickpy reload'
    python bench/reload.py --reloads 20         # fewer reloads (default 100)
    pytest bench/reload.py --benchmark-enable   # the same cases through pytest-benchmark

Every case reloads a running router 100 times, alternating two configurations
that differ in one IPFilter rule the traffic passes (only the filter is
replaced), and reports per reload:

* pause: the swap, from the old graph's last batch to the new graph's first
  (the ReloadReport's pause_us);
* slice: in memory, the longest single step of building the new graph
  beside the running one (the diff, then each of Reload.steps()):
  ``clickpy run -R`` and ``clickpy reload`` run these steps between
  batches, so each stops the data path for that long, and the swap for the
  pause;
* stall: in memory, all of it at once, as Router.reload does in the timer
  callback that makes it here: no packet moves meanwhile;
* lost: packets sent that were neither received nor still queued (0 is the
  goal), and the reports' own count of packets the reloads destroyed.

Cases:

(a) memory, 10 elements: tests/support.py sized_graph(10) in real time,
    RatedSource at 1 Mpps -> MarkIPHeader -> Queue -> Unqueue -> IPFilter ->
    Counter -> Discard; a Timer reloads it every 20 ms, between batches.
    "offered" is the rate the source achieved (it cannot send faster than the
    driver runs it).
(b) veth (root, --veth): configs/nat-firewall.click in a clickpy lab, a UDP
    flow with sequence numbers from client to server at --veth-rate, and 100
    reloads of BLOCKED_PORT through 'clickpy reload' (its code, called in this
    process to save an interpreter start per reload); the pause is read from
    the reload's report; lost counts sequence numbers that never arrived.
    What the traffic saw: the longest gap between arrivals at the server
    (the kernel's receive timestamps) in each reload's window (from the
    'clickpy reload' call to 50 ms after it returned), against the same in
    windows as long without a reload (a second before the first); at
    --veth-rate 10,000 a gap under 1 ms is noise of the sender.
(c) memory, 1,000 elements: as (a), with 993 more elements (side chains with
    tasks, timers and notifiers, and idle ones); the ratio of the p50 pauses
    of (c) and (a) is what a reload's cost owes to the graph's size.

The goal (issue 12): p99 pause <= 1 ms, 0 lost, 1,000 elements within 2x of 10.
These machines are shared and noisy: compare figures from one sitting.
"""
from __future__ import annotations

import argparse
import contextlib
import io
import json
import math
import os
import re
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

from support import sized_graph  # noqa: E402

RULES = ("deny dst port 23", "deny dst port 2323")   # the flow goes to port 5678: both pass it
INTERVAL = 0.02                                      # seconds between reloads in memory


@dataclass
class Result:
    case: str
    pauses: list[float] = field(default_factory=list)   # microseconds
    slices: list[float] = field(default_factory=list)   # microseconds
    stalls: list[float] = field(default_factory=list)   # microseconds
    offered_pps: float = 0.0
    sent: int = 0
    lost: int = 0
    reported_lost: int = 0
    gaps: list[float] = field(default_factory=list)       # veth: longest arrival gap per reload, us
    quiet_gaps: list[float] = field(default_factory=list)  # the same in windows without a reload

    def line(self) -> str:
        def dist(v):
            return f"{pct(v, 50):8.0f} {pct(v, 99):8.0f} {max(v):8.0f}" if v else f"{'-':>8} {'-':>8} {'-':>8}"
        return (f"{self.case:<24} {len(self.pauses):>7} {dist(self.pauses)}   {dist(self.slices)}"
                f"   {dist(self.stalls)}"
                f" {self.offered_pps / 1e6:8.3f} {self.sent:>10} {self.lost:>6} {self.reported_lost:>6}")


HEADER = (f"{'case':<24} {'reloads':>7} {'pause us: p50':>13} {'p99':>8} {'max':>8}   "
          f"{'slice us: p50':>13} {'p99':>8} {'max':>8}   "
          f"{'stall us: p50':>13} {'p99':>8} {'max':>8} {'Mpps':>8} {'sent':>10} {'lost':>6} {'report':>6}")


def pct(values, p: float) -> float:
    """The p-th percentile, nearest rank."""
    v = sorted(values)
    return v[max(0, min(len(v) - 1, math.ceil(p / 100 * len(v)) - 1))]


def in_memory(n: int, reloads: int, rate: int = 1_000_000) -> Result:
    """Reload a running n-element graph `reloads` times from a Timer, in real time."""
    from clickpy import pipeline
    from clickpy.reload.swap import Reload
    from clickpy.runtime.router import Router
    from clickpy.runtime.scheduler import Timer

    plans = [pipeline.plan(pipeline.Source(sized_graph(n, rule, rate), f"graph{n}.click")) for rule in RULES]
    router = Router.from_plan(plans[0])
    result = Result(f"memory, {n} elements")
    done = []

    def reload_next(timer):
        k = len(result.pauses)
        if k == reloads:
            done.append(time.perf_counter())
            router.please_stop_driver()
            return
        # Router.reload(plan), a step at a time to time each.
        start = time.perf_counter_ns()
        reload = Reload(router, plans[(k + 1) % 2])       # the diff
        last = time.perf_counter_ns()
        longest = last - start
        for _ in reload.steps():
            now = time.perf_counter_ns()
            longest, last = max(longest, now - last), now
        longest = max(longest, time.perf_counter_ns() - last)
        report = reload.commit()
        result.stalls.append((time.perf_counter_ns() - start) / 1000)
        result.slices.append(longest / 1000)
        assert report.replaced == ["f"], report.format()
        result.pauses.append(report.pause_us)
        result.reported_lost += report.lost
        timer.schedule_after(INTERVAL)

    timer = Timer(callback=reload_next)
    timer.initialize(router.scheduler)
    timer.schedule_after(0.2)            # a warm-up before the first
    begin = time.perf_counter()
    try:
        router.run()
        elapsed = done[0] - begin
        result.sent = int(router.read("src.count"))
        received, queued = int(router.read("out.count")), int(router.read("q.length"))
        result.lost = result.sent - received - queued
        result.offered_pps = result.sent / elapsed
    finally:
        router.cleanup()
    return result


def on_veth(reloads: int, rate: int) -> Result:
    """Reload a lab NAT under a UDP flow `reloads` times with 'clickpy reload'."""
    from lab.conftest import UDP_SEQ_RECEIVER, UDP_SEQ_SENDER

    from clickpy.cli.main import main as clickpy
    from clickpy.lab import PLAN, Lab

    config = REPO / "configs" / "nat-firewall.click"
    lab = Lab(f"clkb{os.getpid()}", f"/tmp/clickpy-bench-reload-{os.getpid()}")
    result = Result("veth, NAT + firewall")
    procs = []

    def start(role, code, *args):
        p = lab.popen(role, [sys.executable, "-u", "-c", code, *map(str, args)], stdin=subprocess.PIPE,
                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        procs.append(p)
        return p

    try:
        lab.up(str(config), {}, run_args=["-R"])
        server = PLAN["SERVER_HOST"]
        receiver = start("server", UDP_SEQ_RECEIVER, server, 9000, "times")
        assert receiver.stdout.readline().strip() == "listening", receiver.stderr.read()
        sender = start("client", UDP_SEQ_SENDER, server, 9000, rate)
        assert sender.stdout.readline().strip() == "sending", sender.stderr.read()
        began = time.perf_counter()
        time.sleep(0.2)
        quiet = (time.time(), time.time() + 1.0)
        time.sleep(1.0)
        windows = []
        for k in range(reloads):
            t0 = time.time()
            out = io.StringIO()
            with contextlib.redirect_stdout(out):
                status = clickpy(["reload", str(lab.control), str(config), f"BLOCKED_PORT={(23, 2323)[(k + 1) % 2]}"])
            report = out.getvalue()
            m = re.search(r"pause (\d+) us, packets lost (\d+)", report)
            assert status in (0, None) and m and "replaced 1 (fw)" in report, report
            windows.append((t0, time.time() + 0.05))
            result.pauses.append(float(m.group(1)))
            result.reported_lost += int(m.group(2))
        time.sleep(0.5)
        sender.stdin.write("stop\n")
        sender.stdin.flush()
        result.sent = int(sender.stdout.readline())
        result.offered_pps = result.sent / (time.perf_counter() - began)
        received = json.loads(receiver.stdout.readline())
        result.lost = len(set(range(result.sent)) - set(received["seen"]))
        times = received["times"]
        result.gaps = [_longest_gap(times, *w) for w in windows]
        length = statistics.median(b - a for a, b in windows)
        result.quiet_gaps = [_longest_gap(times, t, t + length)
                             for t in _frange(quiet[0], quiet[1] - length, length)]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
            p.communicate()
        lab.down(quiet=True)
    return result


def _longest_gap(times: list[float], start: float, end: float) -> float:
    """The longest time between two arrivals in [start, end] (counting the
    last one before start), in microseconds."""
    import bisect

    i = max(0, bisect.bisect_left(times, start) - 1)
    j = bisect.bisect_right(times, end)
    window = times[i:j]
    return max((b - a for a, b in zip(window, window[1:])), default=end - start) * 1e6


def _frange(start: float, stop: float, step: float):
    while start <= stop:
        yield start
        start += step


def run(reloads: int, veth: bool, veth_rate: int) -> list[Result]:
    results = [in_memory(10, reloads)]
    if veth:
        results.append(on_veth(reloads, veth_rate))
    results.append(in_memory(1000, reloads))
    return results


def report(results: list[Result]) -> str:
    lines = [HEADER, *(r.line() for r in results)]
    for r in results:
        if r.gaps:
            lines.append(f"{r.case}: longest gap between arrivals at the server per reload p50 "
                         f"{pct(r.gaps, 50):.0f} p99 {pct(r.gaps, 99):.0f} max {max(r.gaps):.0f} us; "
                         f"in as long without a reload p50 {pct(r.quiet_gaps, 50):.0f} "
                         f"max {max(r.quiet_gaps):.0f} us")
    small, large = results[0], results[-1]
    ratio = statistics.median(large.pauses) / statistics.median(small.pauses)
    lines.append(f"pause p50, 1,000 elements / 10 elements: {ratio:.1f}x (goal: within 2x)")
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description="Hot reload: pause distribution and packets lost.")
    p.add_argument("--reloads", type=int, default=100, help="reloads per case (default 100)")
    p.add_argument("--veth", action="store_true", help="also on veth in a lab (root)")
    p.add_argument("--veth-rate", type=int, default=10_000, help="UDP packets/s offered on veth (10000)")
    ns = p.parse_args(argv)
    if ns.veth and os.geteuid() != 0:
        print("bench/reload.py --veth: needs root (network namespaces)", file=sys.stderr)
        return 1
    results = run(ns.reloads, ns.veth, ns.veth_rate)
    print(report(results))
    return 1 if any(r.lost for r in results) else 0


# --- pytest-benchmark ----------------------------------------------------------------


def _bench(benchmark, measure):
    result = benchmark.pedantic(measure, rounds=1, iterations=1)
    benchmark.extra_info.update(pause_p50_us=pct(result.pauses, 50), pause_p99_us=pct(result.pauses, 99),
                                pause_max_us=max(result.pauses), lost=result.lost)
    print("\n" + HEADER + "\n" + result.line())
    assert result.lost == 0 and result.reported_lost == 0
    return result


def _reloads(benchmark) -> int:
    return 100 if benchmark.enabled else 10


def test_reload_in_memory_10_elements(benchmark):
    _bench(benchmark, lambda: in_memory(10, _reloads(benchmark)))


def test_reload_in_memory_1000_elements(benchmark):
    _bench(benchmark, lambda: in_memory(1000, _reloads(benchmark)))


def test_reload_on_veth(benchmark):
    import pytest

    if os.geteuid() != 0:
        pytest.skip("needs root (network namespaces)")
    _bench(benchmark, lambda: on_veth(_reloads(benchmark), 10_000))


if __name__ == "__main__":
    sys.exit(main())
