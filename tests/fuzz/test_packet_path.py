"""Fuzz the data path: malformed frames through firewall, NAT and router chains.

Each input is a list of frames, written to a pcap file and replayed by
FromDump through a configuration. The router must finish, every element's
read handlers must still answer, and where a configuration counts every exit
(the shipped firewall; the header-check chain) every frame must be counted
exactly once, at an exit or in an element's drop count: a bad frame is
dropped and counted, never lost or crashed on. Each configuration runs on
the generic path and specialised (fused chains, batches of up to 32 frames)
with the same counts.
"""
import struct

import pytest
from fuzzing import corpus, edits_strategy, explore, mutate, run_target
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support import REPO

from clickpy import pipeline, spec_cache, specialize
from clickpy.runtime.router import Router


def seed_frames() -> list[bytes]:
    from scapy.all import ARP, ICMP, IP, TCP, UDP, Dot1Q, Ether, IPOption_RR, Raw

    eth = Ether(src="02:00:0a:00:01:02", dst="02:00:0a:00:01:01")
    frames = [
        eth / IP(src="10.0.1.2", dst="10.0.2.2") / TCP(sport=40000, dport=80, flags="S"),
        eth / IP(src="10.0.1.2", dst="10.0.2.2") / TCP(sport=40000, dport=21, flags="PA") / Raw(b"PORT 10,0,1,2,4,1\r\n"),
        eth / IP(src="10.0.1.2", dst="10.0.2.2") / UDP(sport=5353, dport=53) / Raw(b"x" * 30),
        eth / IP(src="10.0.1.2", dst="10.0.2.2", ttl=1) / ICMP(type=8, id=7, seq=1) / Raw(b"ping"),
        eth / IP(src="10.0.2.2", dst="10.0.1.2") / ICMP(type=3, code=3) / IP(src="10.0.1.2", dst="10.0.2.2") / UDP(),
        eth / IP(src="10.0.1.2", dst="10.0.2.2", flags="MF", frag=0) / UDP(sport=1, dport=2) / Raw(b"y" * 40),
        eth / IP(src="10.0.1.2", dst="10.0.2.2", options=[IPOption_RR()]) / UDP() / Raw(b"z" * 8),
        Ether(dst="ff:ff:ff:ff:ff:ff", src="02:00:0a:00:01:02") / ARP(op=1, psrc="10.0.1.2", pdst="10.0.1.1"),
        eth / Dot1Q(vlan=5) / IP(src="10.0.1.2", dst="10.0.2.2") / UDP(),
        eth / IP(src="10.0.1.2", dst="10.0.2.2") / Raw(b"\x01" * 1400),
    ]
    return [bytes(f) for f in frames]


SEEDS = seed_frames()


def write_pcap(path, frames) -> None:
    out = [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)]
    for i, f in enumerate(frames):
        out.append(struct.pack("<IIII", 1000 + i, 0, len(f), len(f)) + f)
    path.write_bytes(b"".join(out))


def read_all_handlers(router) -> None:
    for e in router.elements:
        for name, h in router.element_handlers(e).items():
            if h.readable and not h.read_param and name not in ("ports",):
                try:
                    router.call_read(e, h)
                except Exception as exc:
                    assert type(exc).__name__ == "HandlerError", f"{e.name}.{name}: {exc!r}"


def run_config(text, definitions, tmp_path, specialised=False):
    router = Router.from_plan(pipeline.plan(pipeline.Source(text, "fuzz.click"), definitions))
    try:
        if specialised:     # the module is built once per configuration, then cached
            assert specialize.install(router, spec_cache.load(router.plan)).get("chains")
        router.run()
        read_all_handlers(router)
        return {e.name: e for e in router.elements}, router
    finally:
        router.cleanup()


def run_both_ways(text, definitions, tmp_path):
    """run_config on the generic path and specialised (fused chains): every
    count and drop must be the same."""
    generic, _ = run_config(text, definitions, tmp_path)
    fused, _ = run_config(text, definitions, tmp_path, specialised=True)
    counts = lambda el: {name: (getattr(e, "count", None), e.dropped) for name, e in el.items()}  # noqa: E731
    assert counts(fused) == counts(generic)
    return generic


HEADER_CHECKS = """
ip :: CheckIPHeader(VERBOSE false);
x_other :: Counter -> Discard;
src :: FromDump($IN, STOP true) -> read :: Counter -> cl :: Classifier(12/0800, 12/8100, -);
cl[1] -> VLANDecap -> cl2 :: Classifier(12/0800, -) -> Strip(14) -> ip;
cl2[1] -> x_other;
cl[2] -> x_other;
cl[0] -> Strip(14) -> ip -> p :: IPClassifier(tcp, udp, icmp, -);
ip[1] -> x_bad_ip :: Counter -> Discard;
p[0] -> tcp :: CheckTCPHeader -> x_tcp :: Counter -> Discard;  tcp[1] -> x_bad :: Counter -> Discard;
p[1] -> udp :: CheckUDPHeader -> x_udp :: Counter -> Discard;  udp[1] -> x_bad;
p[2] -> icmp :: CheckICMPHeader -> x_icmp :: Counter -> Discard; icmp[1] -> x_bad;
p[3] -> x_ip_other :: Counter -> Discard;
"""

ROUTER_CHAIN = """
src :: FromDump($IN, STOP true) -> read :: Counter -> cl :: Classifier(12/0806 20/0001, 12/0806 20/0002, 12/0800, -);
cl[0] -> ARPResponder(10.0.1.1 02:00:0a:00:01:01) -> out :: Counter -> Discard;
arpq :: ARPQuerier(10.0.2.1, 02:00:0a:00:02:01) -> out;
cl[1] -> [1]arpq;
cl[3] -> Discard;
cl[2] -> Strip(14) -> CheckIPHeader -> gw :: IPGWOptions(10.0.1.1) -> FixIPSrc(10.0.1.1)
  -> rt :: RadixIPLookup(10.0.2.0/24 0, 10.0.1.0/24 1, 0.0.0.0/0 10.0.2.254 0)
  -> ttl :: DecIPTTL -> frag :: IPFragmenter(300) -> filt :: IPFilter(allow tcp, allow udp, allow icmp, deny all)
  -> rw :: IPRewriter(pattern 203.0.113.1 1024-1100 - - 0 1);
rt[1] -> reasm :: IPReassembler -> ping :: ICMPPingResponder -> [0]arpq;
ping[1] -> Discard;
gw[1] -> ICMPError(10.0.1.1, parameterproblem) -> [0]arpq;
ttl[1] -> ICMPError(10.0.1.1, timeexceeded) -> [0]arpq;
frag[1] -> ICMPError(10.0.1.1, unreachable, needfrag) -> [0]arpq;
rw[0] -> AggregateIPFlows -> [0]arpq;
rw[1] -> ICMPRewriter(rw) -> [0]arpq;
"""


def check_frames(tmp_path):
    def check(data: bytes) -> None:
        frames = decode_frames(data)
        pcap = tmp_path / "in.pcap"
        write_pcap(pcap, frames)
        n = len(frames)
        el = run_both_ways(HEADER_CHECKS, {"IN": str(pcap)}, tmp_path)
        exits = ["x_other", "x_bad_ip", "x_tcp", "x_udp", "x_icmp", "x_bad", "x_ip_other"]
        assert int(el["read"].count) == n
        counted = sum(int(el[x].count) for x in exits)
        dropped = {name: e.dropped for name, e in el.items() if e.dropped}
        assert counted + sum(dropped.values()) == n, \
            f"{n} frames in, {counted} counted at the exits, drops {dropped}"
        el = run_both_ways((REPO / "configs" / "firewall.click").read_text(),
                           {"IN": str(pcap), "OUT": str(tmp_path / "out.pcap")}, tmp_path)
        fw_exits = ["accepted", "drop_by_rule/count", "drop_bad_header/count", "drop_other/count"]
        assert int(el["read"].count) == n
        assert sum(int(el[x].count) for x in fw_exits) == n
        el = run_both_ways(ROUTER_CHAIN, {"IN": str(pcap)}, tmp_path)
        assert int(el["read"].count) == n
    return check


def encode_frames(frames: list[bytes]) -> bytes:
    return b"".join(struct.pack("<H", len(f)) + f for f in frames)


def decode_frames(data: bytes) -> list[bytes]:
    frames, i = [], 0
    while i + 2 <= len(data):
        (n,) = struct.unpack_from("<H", data, i)
        frames.append(data[i + 2:i + 2 + n])
        i += 2 + n
    return [f for f in frames if f]


FUZZ_SETTINGS = settings(deadline=None, database=None, max_examples=60,
                         suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


@pytest.mark.parametrize("path", corpus("packets"), ids=lambda p: p.name)
def test_corpus_frames(tmp_path, path):
    run_target("packets", check_frames(tmp_path), path.read_bytes(), ".frames", keep=False)


def test_mutated_frames(tmp_path):
    frame = st.tuples(st.sampled_from(SEEDS), edits_strategy(6)).map(
        lambda t: mutate(t[0], t[1], [b"\x00", b"\xff" * 4, b"\x45", b"\x08\x00", b"\x06", b"\x11"]))

    @FUZZ_SETTINGS
    @given(st.lists(frame, min_size=1, max_size=48))
    def one(frames):
        run_target("packets", check_frames(tmp_path), encode_frames([f[:65535] for f in frames]), ".frames")

    explore(one)


def test_random_frames(tmp_path):
    @FUZZ_SETTINGS
    @given(st.lists(st.binary(min_size=1, max_size=120), min_size=1, max_size=32))
    def one(frames):
        run_target("packets", check_frames(tmp_path), encode_frames(frames), ".frames")

    explore(one)
