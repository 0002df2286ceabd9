"""IPFilter's data path: the 21-rule firewall of the reference benchmarks.

Run:  pytest bench/test_ipfilter.py --benchmark-enable -s

* ``test_ipfilter_walk``: the decision walk alone (``IPFilter.match_loop``,
  C, no element calls) on the benchmark's UDP packet, which falls through
  18 rules to rule 19; ns per packet, with the per-path specialized
  program and with Click's optimized program as it is.
* ``test_fw_chain``: InfiniteSource -> Classifier -> Strip -> CheckIPHeader
  -> IPFilter -> Counter -> Discard in this process, BURST 1 and 32; Mpps.
* ``test_reference_config``: ``clickpy run`` on ``b-fw-infsrc.click`` and
  ``d-fw-fromdump.click`` from the shared bench folder, unmodified; Mpps
  from the CLICKBENCH line they print (Click's C++ driver: 6.6 / 7.0 Mpps
  for b at BURST 1 / 32, 6.1 Mpps for d).

Timings are noisy on a shared machine: compare figures from one sitting.
"""
import re
import subprocess
import sys
from pathlib import Path

import pytest

from clickpy.bench import UDP_FRAME

sys.path.insert(0, str(Path(__file__).parent))

from driver_timing import driver_loop_mpps  # noqa: E402

SHARED = Path("/work/shared/bench")
RULES = """
    deny src net 10.99.0.0/16,
    deny dst net 172.16.0.0/12,
    deny ip proto 47,
    deny tcp dst port 23,
    deny tcp dst port 445,
    deny udp dst port 53 && not src net 10.0.0.0/8,
    allow tcp dst port 80 && dst net 192.168.1.0/24,
    allow tcp dst port 443 && dst net 192.168.1.0/24,
    deny src host 10.1.2.4,
    deny udp dst port 1900,
    deny udp dst port 5353,
    allow icmp type echo,
    deny icmp,
    deny src net 192.0.2.0/24,
    deny src net 198.51.100.0/24,
    deny dst net 203.0.113.0/24,
    allow udp && dst port >= 5000 && dst port <= 5100 && src net 10.2.0.0/16,
    deny ip frag,
    allow udp dst port 8080 && src net 10.1.0.0/16 && dst net 192.168.0.0/16,
    allow tcp src port 22,
    deny all"""
WALKS = 2_000_000


def _filter(specialized):
    from support import build_router

    from clickpy.elements.ip import ip_filter_language as language

    saved = language.SPECIALIZE_MAX_INSNS
    if not specialized:
        language.SPECIALIZE_MAX_INSNS = 0
    try:
        return build_router(f"Idle -> fw :: IPFilter({RULES}) -> Discard")
    finally:
        language.SPECIALIZE_MAX_INSNS = saved


@pytest.mark.parametrize("specialized", [True, False], ids=["specialized", "click-program"])
def test_ipfilter_walk(benchmark, specialized):
    from clickpy.runtime.packet import PacketObject

    router = _filter(specialized)
    fw = router.find("fw")
    packet = PacketObject.make(bytes.fromhex(UDP_FRAME)[14:])
    packet.set_network_header(0, 20)
    out = benchmark.pedantic(fw.match_loop, args=(packet, WALKS), rounds=5, iterations=1)
    assert out == 0
    if benchmark.stats is not None:
        ns = benchmark.stats.stats.min / WALKS * 1e9
        benchmark.extra_info["ns_per_packet"] = round(ns, 1)
        print(f"\nIPFilter walk ({'specialized' if specialized else 'Click program'}): {ns:.1f} ns/packet")


CHAIN = (
    f"InfiniteSource(DATA \\<{UDP_FRAME}>, BURST $BURST, LIMIT $LIMIT, STOP true)"
    " -> cl :: Classifier(12/0800, -) -> Strip(14) -> CheckIPHeader"
    f" -> fw :: IPFilter({RULES}) -> c :: Counter -> Discard;"
    " cl[1] -> Discard;"
)


@pytest.mark.parametrize("burst", [32, 1])
def test_fw_chain(benchmark, burst):
    driver_loop_mpps(benchmark, CHAIN, "bench-ipfilter.click", burst,
                     "... -> CheckIPHeader -> IPFilter(21 rules)")


def _clickbench(args, cwd):
    res = subprocess.run([sys.executable, "-m", "clickpy", "run", *args], capture_output=True,
                         text=True, cwd=cwd, timeout=600)
    m = re.search(r"CLICKBENCH elapsed ([0-9.]+) count ([0-9]+)", res.stdout + res.stderr)
    assert m, res.stdout + res.stderr
    return int(m.group(2)) / float(m.group(1)) / 1e6


@pytest.fixture(scope="module")
def fw_pcap(tmp_path_factory):
    path = tmp_path_factory.mktemp("ipfilter") / "fw-1m.pcap"
    subprocess.run([sys.executable, str(SHARED / "gen_pcap.py"), "fw", str(path), "1000000"], check=True)
    return path


@pytest.mark.skipif(not SHARED.is_dir(), reason="needs the shared bench folder")
@pytest.mark.parametrize("case", ["b BURST=1", "b BURST=32", "d PASSES=5"])
def test_reference_config(benchmark, case, request, tmp_path):
    name, arg = case.split()
    if name == "b":
        args = [str(SHARED / "b-fw-infsrc.click"), arg, "LIMIT=10000000"]
    else:
        args = [str(SHARED / "d-fw-fromdump.click"), f"FILE={request.getfixturevalue('fw_pcap')}", arg]
    rates = []

    def run():
        rates.append(_clickbench(args, tmp_path))

    benchmark.pedantic(run, rounds=3, iterations=1)
    if benchmark.stats is not None:
        rates.sort()
        benchmark.extra_info["mpps_best"] = round(rates[-1], 2)
        benchmark.extra_info["mpps_median"] = round(rates[len(rates) // 2], 2)
        print(f"\n{case}: best {rates[-1]:.2f} Mpps, median {rates[len(rates) // 2]:.2f} Mpps"
              " (as the config prints it; Click: b 6.6 / 7.0, d 6.1)")
