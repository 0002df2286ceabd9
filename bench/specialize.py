"""The specialize stage: build time of each config's own module, and
throughput generic vs specialised, in one sitting.

    python bench/specialize.py                     # shared/bench configs and mazu-nat.click
    python bench/specialize.py --rounds 5 --limit 5000000 --json

Build: seconds to generate and compile a config's module into an empty
cache, then to load it again (a cache hit). mazu-nat.click's ToHost and
ToHostSniffers (Linux-kernel elements) are built as Discard. Issue 14's goal: at most 10 s,
and 0 s the second time. Throughput: the self-timing shared/bench configs
(InfiniteSource, so no trace to make) at BURST 1 and 32, Mpps as the median
of the rounds, generic and specialised, and their ratio (goal at BURST 1:
specialised at least 1.5 times generic).
"""
from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent.parent / "tests"))

from support import find_shared  # noqa: E402

from clickpy import bench, pipeline  # noqa: E402

BUILDS = [("bench/a-infsrc-discard.click", {}), ("bench/b-fw-infsrc.click", {}),
          ("bench/c-nat-fromdump.click", {"FILE": "x.pcap"}), ("bench/d-fw-fromdump.click", {"FILE": "x.pcap"}),
          ("conformance/configs/mazu-nat.click", {})]
THROUGHPUT = ["bench/a-infsrc-discard.click", "bench/b-fw-infsrc.click"]


def build_times(shared: Path) -> list[dict]:
    from clickpy import spec_cache

    rows = []
    for name, definitions in BUILDS:
        path = shared / name
        text = path.read_text()
        if path.name == "mazu-nat.click":      # (Linux-kernel sinks clickpy lacks: the rest is what counts)
            text = re.sub(r"ToHost(Sniffers)?(\(\$device\))?", "Discard", text)
        plan = pipeline.plan(pipeline.Source(text, str(path)), definitions)
        t0 = time.perf_counter()
        module = spec_cache.load(plan)
        cold = time.perf_counter() - t0
        t0 = time.perf_counter()
        spec_cache.lookup(plan.content_hash)
        warm = time.perf_counter() - t0
        rows.append({"config": Path(name).name, "walks": len(module.WALKS) if module else 0,
                     "cold_s": cold, "again_s": warm})
    return rows


def throughput(shared: Path, limit: int, rounds: int) -> list[dict]:
    rows = []
    for name in THROUGHPUT:
        source = pipeline.read_source(str(shared / name))
        for burst in (1, 32):
            mpps = {}
            for specialized in (False, True):
                runs = []
                for _ in range(rounds):
                    packets, seconds = bench.run_once(source, {"BURST": str(burst), "LIMIT": str(limit)}, "c",
                                                      specialized=specialized)
                    runs.append(packets / seconds / 1e6)
                mpps["specialised" if specialized else "generic"] = statistics.median(runs)
            rows.append({"config": Path(name).name, "burst": burst, **mpps,
                         "ratio": mpps["specialised"] / mpps["generic"]})
    return rows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--limit", type=int, default=5_000_000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--json", action="store_true")
    ns = ap.parse_args()
    shared = find_shared()
    if shared is None:
        print("shared folder not found (set CLICKPY_SHARED)", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory() as cache:
        os.environ["CLICKPY_CACHE_DIR"] = cache          # empty: every first build is cold
        builds = build_times(shared)
        rates = throughput(shared, ns.limit, ns.rounds)
    if ns.json:
        print(json.dumps({"builds": builds, "throughput": rates}, indent=1))
        return 0
    print(f"build of the specialised module (load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")
    print(f"{'config':32} {'walks':>5} {'first s':>8} {'again s':>8}")
    for r in builds:
        print(f"{r['config']:32} {r['walks']:5} {r['cold_s']:8.2f} {r['again_s']:8.4f}")
    print(f"\nthroughput, Mpps, median of {ns.rounds} runs of {ns.limit} packets")
    print(f"{'config':32} {'burst':>5} {'generic':>8} {'special':>8} {'ratio':>6}")
    for r in rates:
        print(f"{r['config']:32} {r['burst']:5} {r['generic']:8.2f} {r['specialised']:8.2f} {r['ratio']:6.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
