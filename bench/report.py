"""Print benchmark figures.

    python bench/report.py frontend
        parse + elaborate + check of a generated 10,000-element config (elements/s)

    python bench/report.py dataplane
        clickpy's named workloads (clickpy bench), BURST 1 and 32

    python bench/report.py compare --click PATH/TO/click [--fastclick PATH] [--shared DIR] [--rounds 3]
        the self-timing configurations in shared/bench/, run under Click's own
        driver (and FastClick's), and under clickpy on the generic path and
        specialised, in the same sitting, with the ratios of medians (Click and
        FastClick are built separately from their sources; nothing of them is
        in this repo)
"""
from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parent.parent / "tests"))

from configs import large_config  # noqa: E402

CLICKBENCH = re.compile(r"CLICKBENCH elapsed (\S+) count (\d+)")

# (config file, NAME=value arguments, traffic to generate first or None)
COMPARE = [
    ("a-infsrc-discard.click", ["BURST=1"], None),
    ("a-infsrc-discard.click", ["BURST=32"], None),
    ("b-fw-infsrc.click", ["BURST=1"], None),
    ("b-fw-infsrc.click", ["BURST=32"], None),
    ("c-nat-fromdump.click", ["FILE=flows-10k.pcap", "PASSES=15"], ("flows", "flows-10k.pcap", "10000", "1000000")),
    ("c-nat-fromdump.click", ["FILE=flows-1m.pcap", "PASSES=2"], ("flows", "flows-1m.pcap", "1000000", "3000000")),
    ("d-fw-fromdump.click", ["FILE=fw-1m.pcap", "PASSES=10"], ("fw", "fw-1m.pcap", "1000000")),
    ("d-fw-fromdump-todump.click", ["FILE=fw-1m.pcap", "PASSES=5", "OUT=out.pcap"], ("fw", "fw-1m.pcap", "1000000")),
]


def frontend(rounds: int = 5) -> None:
    from clickpy.errors import Diagnostics
    from clickpy.graph.check import check
    from clickpy.graph.elaborate import elaborate
    from clickpy.lang.parser import parse

    text = large_config(10_000)
    times = {"parse": [], "elaborate": [], "check": [], "total": []}
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


def dataplane(rounds: int = 3, limit: int = 5_000_000) -> int:
    """Every named workload at BURST 1 and 32; the exit status is 1 if any failed."""
    from clickpy import bench

    failed = 0
    for name in bench.WORKLOADS:
        for burst in (1, 32):
            try:
                m = bench.measure(name, burst=burst, limit=limit if burst > 1 else max(1, limit * 2 // 5),
                                  rounds=rounds)
                print(m.line())
            except Exception as e:  # report it, and fail: a broken workload is a bug
                print(f"{name} BURST {burst}: FAILED: {str(e).splitlines()[0] if str(e) else type(e).__name__}")
                failed += 1
    return 1 if failed else 0


def _run_clickbench(cmd: list[str], cwd: str) -> float | None:
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=cwd, timeout=1800)
    m = CLICKBENCH.search(proc.stdout + proc.stderr)
    if proc.returncode != 0 or not m:
        return None
    return int(m.group(2)) / float(m.group(1)) / 1e6


def compare(click: str, shared: Path, rounds: int, only: list[str] | None = None,
            fastclick: str | None = None) -> int:
    bench_dir = shared / "bench"
    work = Path(tempfile.mkdtemp(prefix="clickpy-compare-"))
    clickpy = [sys.executable, "-m", "clickpy", "run"]
    drivers = [("Click", [click])] + ([("FastClick", [fastclick])] if fastclick else []) + [
        ("generic", clickpy + ["--specialize=off"]), ("specialised", clickpy + ["--specialize=wait"])]
    print(f"shared/bench configurations, median of {rounds}, Mpps; "
          "ratios: specialised clickpy / Click, / FastClick, / generic clickpy")
    failed = 0
    for config, args, traffic in COMPARE:
        if only and not any(config.startswith(o) for o in only):
            continue
        if traffic is not None and not (work / traffic[1]).exists():
            subprocess.run([sys.executable, str(bench_dir / "gen_pcap.py"), traffic[0],
                            str(work / traffic[1]), *traffic[2:]], check=True)
        results = {}
        for label, cmd in drivers:
            runs = [_run_clickbench(cmd + [str(bench_dir / config), *args], str(work)) for _ in range(rounds)]
            runs = [r for r in runs if r is not None]
            results[label] = statistics.median(runs) if runs else None
        spec = results["specialised"]
        failed += spec is None or results["generic"] is None
        show = lambda v: f"{v:6.2f}" if v else "   n/a"  # noqa: E731
        ratio = lambda base: f"{spec / base:5.2f}x" if base and spec else "  n/a"  # noqa: E731
        figures = "  ".join(f"{label} {show(v)}" for label, v in results.items())
        ratios = " ".join(ratio(results.get(b)) for b in ("Click", "FastClick", "generic") if b in results)
        print(f"  {config} {' '.join(args):<40} {figures}  ratios {ratios}")
    return 1 if failed else 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("which", choices=["frontend", "dataplane", "compare"], nargs="?", default="frontend")
    ap.add_argument("--click", help="Click's userlevel driver binary (for compare)")
    ap.add_argument("--fastclick", help="FastClick's userlevel driver binary (for compare, optional)")
    ap.add_argument("--shared", default=None, help="the shared folder (default: found like the tests do)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--limit", type=int, default=5_000_000, help="packets per dataplane run at BURST 32")
    ap.add_argument("--only", nargs="*", metavar="CONFIG", help="compare: only the configs whose names start so")
    ns = ap.parse_args(argv)
    if ns.which == "frontend":
        frontend()
    elif ns.which == "dataplane":
        return dataplane(ns.rounds, ns.limit)
    else:
        if not ns.click:
            ap.error("compare needs --click PATH")
        from support import find_shared

        shared = Path(ns.shared) if ns.shared else find_shared()
        return compare(ns.click, shared, ns.rounds, ns.only, ns.fastclick)
    return 0


if __name__ == "__main__":
    sys.exit(main())
