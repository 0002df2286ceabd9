#!/usr/bin/env python3
"""New-flow rate of a NAT whose ports toward one destination run out.

    python bench/nat_exhaustion.py                          # 60,000 / 70,000 / 130,000 flows, 5 runs each
    python bench/nat_exhaustion.py --runs 1 --flows 60000 70000
    python bench/nat_exhaustion.py --tree /tmp/clickpy-before   # another built copy of the tree

Every packet is a new UDP flow to 1.2.3.4:53 (flow k comes from
10.0.0.(1 + k // 60000), source port 1024 + k % 60000), replayed once
through the shape of /work/shared/bench/c-nat-fromdump.click:

    FromDump -> Classifier -> Strip(14) -> CheckIPHeader
      -> IPRewriter(pattern 203.0.113.1 1024-65535 - - 0 1) -> Counter -> Discard

(the config below is that file, with the rewriter's mapping_failures added
to the line it prints). The pattern has 64,512 ports, so toward one
destination the first 64,512 flows are mapped and every later one is
dropped and counted in mapping_failures. Each run is `clickpy run` in a
fresh process; the time is the config's own (DriverManager: from the
driver's start to FromDump's end, parsing and set-up excluded).

The table gives, per flow count, the best elapsed time of the runs (noise
only adds to a run's time, and these are tens of milliseconds), the
mappings and failures, and the rate of new flows: overall, and for the
flows beyond the first row's count ("marginal": from 60,000 to 130,000
flows, 4,512 flows that still find a port and 65,488 that are dropped, so
this is the exhausted rate). The goal is an exhausted rate within 2x of
the free-ports rate (the first row's).

--tree DIR runs the clickpy of another copy of this tree, with its
extensions built (e.g. a copy made before a change, or `git worktree add`
then `python setup.py build_ext --inplace` there), so one sitting measures
before and after on the same machine. These machines are shared and noisy:
compare figures from one sitting.
"""
from __future__ import annotations

import argparse
import re
import struct
import subprocess
import sys
import tempfile
from pathlib import Path

CONFIG = """\
define($FILE flows.pcap, $PASSES 1);
fd :: FromDump($FILE, END_CALL loop.run, MMAP true);
loop :: Script(TYPE PASSIVE, init n 0, set n $(add $n 1), goto done $(ge $n $PASSES),
               write fd.filepos 24, write fd.active true, return, label done, stop);
fd -> cl :: Classifier(12/0800, -);
cl[1] -> Discard;
cl[0] -> Strip(14) -> CheckIPHeader
  -> rw :: IPRewriter(pattern 203.0.113.1 1024-65535 - - 0 1);
rw[0] -> c :: Counter -> Discard;
rw[1] -> Discard;

DriverManager(set t0 $(now), pause, set t1 $(now),
              print "CLICKBENCH elapsed $(sub $t1 $t0) count $(c.count) mappings $(rw.nmappings) failures $(rw.mapping_failures)", stop);
"""

RESULT = re.compile(r"CLICKBENCH elapsed (\S+) count (\d+) mappings (\d+) failures (\d+)")

# Run clickpy's CLI, from another tree if argv[1] is not empty: the editable
# install finds clickpy through a path mapping, which is pointed elsewhere.
BOOT = """\
import sys
tree = sys.argv[1]
if tree:
    import __editable___clickpy_0_1_0_finder as finder
    finder.MAPPING.update({"clickpy": tree + "/clickpy", "clickpy.elements": tree + "/elements",
                           "clickpy.netmap_shim": tree + "/netmap_shim"})
from clickpy.cli.main import main
sys.exit(main(sys.argv[2:]))
"""


# --- the pcap (as /work/shared/bench/gen_pcap.py writes it: 64-byte Ethernet frames) ---------------

def _csum(b: bytes) -> int:
    s = sum(struct.unpack(f"!{len(b) // 2}H", b))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def _frame(src: int, sport: int, dst: int, dport: int) -> bytes:
    ip_len = 64 - 14
    h = struct.pack("!BBHHHBBH4s4s", 0x45, 0, ip_len, 0, 0, 64, 17, 0, src.to_bytes(4, "big"), dst.to_bytes(4, "big"))
    h = h[:10] + struct.pack("!H", _csum(h)) + h[12:]
    udp = struct.pack("!HHHH", sport, dport, ip_len - 20, 0)
    return bytes.fromhex("001122334455" "0066778899aa" "0800") + h + udp + bytes(ip_len - 28)


def write_pcap(path: Path, nflows: int) -> None:
    """nflows new UDP flows, one packet each, all to 1.2.3.4:53."""
    dst = 0x01020304
    with open(path, "wb", buffering=1 << 22) as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for k in range(nflows):
            data = _frame(0x0A000001 + k // 60000, 1024 + k % 60000, dst, 53)
            f.write(struct.pack("<IIII", 1_000_000_000 + k // 1_000_000, k % 1_000_000, len(data), len(data)))
            f.write(data)


# --- runs ------------------------------------------------------------------------------------------

def run_once(config: Path, pcap: Path, tree: str, timeout: float) -> tuple[float, int, int, int]:
    res = subprocess.run([sys.executable, "-c", BOOT, tree, "run", str(config), f"FILE={pcap}", "PASSES=1"],
                         capture_output=True, text=True, timeout=timeout)
    m = RESULT.search(res.stdout)
    if res.returncode != 0 or m is None:
        raise RuntimeError(f"clickpy run failed ({res.returncode}):\n{res.stdout}\n{res.stderr}")
    return float(m.group(1)), int(m.group(2)), int(m.group(3)), int(m.group(4))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--flows", type=int, nargs="+", default=[60000, 70000, 130000],
                    help="flow counts to run; the first is the free-ports reference (default: %(default)s)")
    ap.add_argument("--runs", type=int, default=5, help="runs per flow count; the best is shown (default: 5)")
    ap.add_argument("--tree", default="", help="run the clickpy of this built tree instead of the installed one")
    ap.add_argument("--dir", help="folder for the pcaps and config (default: a temporary one)")
    ap.add_argument("--timeout", type=float, default=1800, help="seconds a run may take (default: 1800)")
    args = ap.parse_args(argv)
    if args.tree and not (Path(args.tree) / "elements" / "rewriter").is_dir():
        ap.error(f"--tree {args.tree}: no elements/rewriter there")

    with tempfile.TemporaryDirectory(prefix="nat_exhaustion.") as tmp:
        folder = Path(args.dir or tmp)
        folder.mkdir(parents=True, exist_ok=True)
        config = folder / "c-nat-fromdump.click"
        config.write_text(CONFIG)
        rows = []
        for n in args.flows:
            pcap = folder / f"one-destination-{n}.pcap"
            if not pcap.exists():
                write_pcap(pcap, n)
            results = [run_once(config, pcap, args.tree, args.timeout) for _ in range(args.runs)]
            secs = min(r[0] for r in results)
            _, count, mappings, failures = results[0]
            rows.append((n, secs, count, mappings, failures))

    print(f"clickpy: {args.tree or 'installed tree'}; best of {args.runs} run(s); "
          f"IPRewriter(pattern 203.0.113.1 1024-65535 - - 0 1), every flow to 1.2.3.4:53")
    print(f"{'flows':>8} {'elapsed s':>10} {'mapped':>7} {'dropped':>8} {'flows/s':>10} {'marginal flows/s':>17}")
    n0, t0 = rows[0][0], rows[0][1]
    for n, secs, count, mappings, failures in rows:
        rate = n / secs if secs > 0 else float("inf")
        if n > n0 and secs > t0:
            marginal = f"{(n - n0) / (secs - t0):>17,.0f}"
        else:
            marginal = f"{'':>17}"
        print(f"{n:>8,} {secs:>10.4f} {mappings:>7,} {failures:>8,} {rate:>10,.0f} {marginal}")
    if len(rows) > 1 and rows[-1][0] > n0:
        free = n0 / t0
        if rows[-1][1] > t0:
            exhausted = (rows[-1][0] - n0) / (rows[-1][1] - t0)
            print(f"free-ports rate {free:,.0f} flows/s; beyond {n0:,} flows {exhausted:,.0f} flows/s "
                  f"(ratio {free / exhausted:.2f}; goal <= 2)")
        else:
            # The larger run took no longer: the extra flows cost less than the
            # timing noise, and no rate can be derived from the difference.
            print(f"free-ports rate {free:,.0f} flows/s; beyond {n0:,} flows: within timing noise "
                  f"(the {rows[-1][0]:,}-flow run was not slower; try more flows or --runs)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
