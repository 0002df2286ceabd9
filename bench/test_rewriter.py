"""IPRewriter's flow table: insertion and lookup rates with 1,000 and 1,000,000 flows.

Run:  python bench/test_rewriter.py            (prints a report)
or:   pytest bench/test_rewriter.py --benchmark-enable -s

Each figure is packets per second through
    FromDump(MMAP true) -> Strip(14) -> CheckIPHeader -> IPRewriter -> Counter -> Discard
with 64-byte UDP frames, one packet per flow per pass:

* insert: every packet makes a new mapping (a pass over N new flows, the
  table growing from 0 to N; for N = 1k the pass is repeated after a 'clear');
* lookup: every packet finds its mapping (the same flows again);
* baseline: the same chain without the rewriter, so the rewriter's own cost
  per packet is 1/rate - 1/baseline.

Only router.run() is timed; building the router and writing the pcap are not.
The 1k figures rewind FromDump between passes, which adds a scheduler start
per 1,000 packets (small, and in both the insert and the lookup figure).
"""
from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "elements" / "rewriter"))

from rewriter_helpers import write_flows_pcap  # noqa: E402
from support import build_router  # noqa: E402

REWRITER = "rw :: IPRewriter(pattern 203.0.113.1 1024-65535 - - 0 1); rw[1] -> Discard;"
BASELINE = "rw :: Null;"


def _router(pcap, element):
    return build_router(f"""
        {element}
        fd :: FromDump({pcap}, STOP true, MMAP true);
        fd -> Strip(14) -> CheckIPHeader -> rw;
        rw[0] -> c :: Counter -> Discard;
    """)


def _rewind(r):
    r.write("fd.filepos", "24")
    r.write("fd.active", "true")


def _timed_passes(r, passes, clear):
    """Run `passes` passes over the file; returns (seconds, packets)."""
    total = 0.0
    before = int(r.read("c.count"))
    for i in range(passes):
        if i:
            _rewind(r)
        if clear:
            r.write("rw.clear", "")
        # FromDump's STOP left the runcount at 0; Router.run() does not reset it
        r.scheduler.set_runcount(1)
        t0 = time.perf_counter()
        r.run()
        total += time.perf_counter() - t0
    return total, int(r.read("c.count")) - before


def measure(nflows, passes, tmpdir):
    """{'insert': pps, 'lookup': pps, 'baseline': pps} for a table of nflows."""
    pcap = Path(tmpdir) / f"flows-{nflows}.pcap"
    if not pcap.exists():
        write_flows_pcap(pcap, nflows)
    out = {}
    r = _router(pcap, REWRITER)
    secs, n = _timed_passes(r, passes, clear=True)
    out["insert"] = n / secs
    assert r.read("rw.nmappings") == str(nflows)
    _rewind(r)
    secs, n = _timed_passes(r, passes, clear=False)
    out["lookup"] = n / secs
    assert r.read("rw.nmappings") == str(nflows)
    b = _router(pcap, BASELINE)
    secs, n = _timed_passes(b, passes, clear=False)
    out["baseline"] = n / secs
    return out


CASES = [(1_000, 1_000), (1_000_000, 1)]


@pytest.fixture(scope="module")
def tmpdir_module():
    with tempfile.TemporaryDirectory() as d:
        yield d


@pytest.mark.parametrize("nflows,passes", CASES)
def test_flow_table_rates(benchmark, nflows, passes, tmpdir_module):
    result = benchmark.pedantic(measure, args=(nflows, passes, tmpdir_module), rounds=1, iterations=1)
    for k, v in result.items():
        benchmark.extra_info[f"{k}_mpps"] = round(v / 1e6, 3)
    print(f"\n{nflows} flows: " + ", ".join(f"{k} {v / 1e6:.2f} Mpps" for k, v in result.items()))


def main():
    with tempfile.TemporaryDirectory() as d:
        rows = []
        for nflows, passes in CASES:
            res = measure(nflows, passes, d)
            rows.append((nflows, res))
        print(f"{'flows':>10} {'insert/s':>12} {'lookup/s':>12} {'baseline/s':>12} {'insert ns':>10} {'lookup ns':>10}")
        for nflows, res in rows:
            ins_ns = (1 / res["insert"] - 1 / res["baseline"]) * 1e9
            look_ns = (1 / res["lookup"] - 1 / res["baseline"]) * 1e9
            print(f"{nflows:>10} {res['insert']:>12,.0f} {res['lookup']:>12,.0f} {res['baseline']:>12,.0f} "
                  f"{ins_ns:>10.0f} {look_ns:>10.0f}")
        print("(insert/lookup ns: the rewriter's own time per packet, over the baseline chain)")


if __name__ == "__main__":
    main()
