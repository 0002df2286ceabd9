"""Every element of the library gives the same packets, in the same order on
every output and across outputs, whether it is handed them one at a time or
in batches (issue 11: batch and per-packet paths must not quietly differ).

Each class in CASES runs twice or more on one mixed packet sequence: behind
``Unqueue(BURST 1)`` (Click's packet-at-a-time order) and behind BURST 7 and
BURST 32. A single HarnessRecord takes every output (its input k is the
element's output k), so the record holds the order across outputs too; the
records must be identical, packet data and annotations included. Time is
simulated, so rate- and time-based elements see the same clock either way.

A class of the library that is neither in CASES nor in SKIPPED fails
test_every_class_is_covered: a new element is covered as soon as it exists.
"""
from __future__ import annotations

import random

import pytest
from harness import feed, run_router, through

from clickpy.runtime import registry

BURSTS = (7, 32)
ME, PEER = "02:00:00:00:00:01", "02:00:00:00:00:02"


# --- the packet sequence -------------------------------------------------------------------


def _frames() -> list[tuple[bytes, int]]:
    """(Ethernet frame, paint) pairs: good traffic with bad packets among it."""
    from scapy.layers.inet import ICMP, IP, TCP, UDP, IPOption_RR, fragment
    from scapy.layers.l2 import ARP, Dot1Q, Ether

    eth = Ether(src=PEER, dst=ME)
    bcast = Ether(src=PEER, dst="ff:ff:ff:ff:ff:ff")
    other = Ether(src=PEER, dst="02:00:00:00:00:77")

    def ip(dst="10.0.0.1", **kw):
        return IP(src="10.0.0.2", dst=dst, **kw)

    good = [
        eth / ip(id=1) / UDP(sport=1000, dport=9) / (b"u" * 18),
        eth / ip(id=2, dst="10.0.0.5") / UDP(sport=1001, dport=53) / (b"v" * 30),
        eth / ip(id=3) / TCP(sport=1000, dport=21, flags="S"),
        eth / ip(id=4, dst="192.168.1.9") / TCP(sport=1002, dport=80, flags="PA", seq=7) / b"GET /",
        eth / ip(id=5) / ICMP(type=8, id=7, seq=1) / (b"p" * 18),
        eth / ip(id=6) / ICMP(type=0, id=7, seq=2) / (b"q" * 18),
        eth / ip(id=7) / ICMP(type=3, code=1) / bytes(ip(id=99) / UDP(sport=5, dport=6)),
        eth / ip(id=8, dst="172.16.0.1") / UDP(sport=1003, dport=9) / (b"w" * 5),
        eth / ip(id=9, dst="10.0.0.9") / TCP(sport=1004, dport=22, flags="A") / (b"s" * 40),
        eth / ip(id=10, options=[IPOption_RR(pointer=4, routers=["0.0.0.0"] * 2)])
        / UDP(sport=1005, dport=9) / b"opt",
        Ether(src=PEER, dst=ME, type=0x0806) / ARP(op=2, hwsrc=PEER, psrc="10.0.0.2",
                                                    hwdst=ME, pdst="10.0.0.1"),
        bcast / ARP(op=1, hwsrc=PEER, psrc="10.0.0.2", pdst="10.0.0.1"),
        bcast / ip(id=11, dst="255.255.255.255") / UDP(sport=68, dport=67) / (b"d" * 10),
        Ether(src=PEER, dst="01:00:5e:00:00:01") / ip(id=12, dst="224.0.0.1") / UDP(dport=9) / b"m",
        other / ip(id=13) / UDP(sport=1006, dport=9) / b"not for me",
        eth / Dot1Q(vlan=5) / ip(id=14) / UDP(sport=1007, dport=9) / (b"t" * 12),
        eth / Dot1Q(vlan=6, prio=3) / ip(id=15) / ICMP(type=8, id=9, seq=3),
        eth / ip(id=16) / UDP(sport=1008, dport=9) / (b"L" * 600),
        eth / ip(id=17, tos=2) / UDP(sport=1014, dport=9) / b"ECN capable",
        eth / ip(id=18, tos=3) / TCP(sport=1015, dport=9, flags="A"),
    ]
    # fragments of one datagram, in order and one on its own
    frags = fragment(ip(id=20) / UDP(sport=1009, dport=9) / (b"F" * 120), fragsize=48)
    good += [eth / f for f in frags]
    good.append(eth / ip(id=21, flags="MF") / UDP(sport=1, dport=2) / (b"g" * 16))

    def raw_ip(pkt, edit):
        b = bytearray(bytes(pkt))
        edit(b)
        return bytes(b)

    udp = eth / ip(id=30) / UDP(sport=1010, dport=9) / (b"b" * 12)
    tcp = eth / ip(id=31) / TCP(sport=1011, dport=80, flags="S")
    ping = eth / ip(id=32) / ICMP(type=8, id=1, seq=1) / b"ping"

    def flip(at):
        return lambda b: b.__setitem__(at, b[at] ^ 0xFF)

    bad = [
        raw_ip(udp, flip(24)),                                  # bad IP checksum
        raw_ip(udp, flip(40)),                                  # bad UDP checksum
        raw_ip(tcp, flip(50)),                                  # bad TCP checksum
        raw_ip(ping, flip(36)),                                 # bad ICMP checksum
        bytes(udp)[:10],                                        # short frame
        bytes(udp)[:14 + 12],                                   # short IP header
        bytes(udp)[:14 + 24],                                   # truncated datagram
        raw_ip(udp, lambda b: b.__setitem__(14, 0x65)),         # IP version 6
        raw_ip(udp, lambda b: b.__setitem__(14, 0x43)),         # header length 12
        bytes(eth / ip(id=33, ttl=1) / UDP(sport=1012, dport=9) / b"ttl1"),
        bytes(eth / ip(id=34, ttl=0) / TCP(sport=1013, dport=9)),
        bytes(eth / ip(id=35, ttl=1) / ICMP(type=8) / b"ttl"),
        bytes(eth / IP(src="0.0.0.0", dst="10.0.0.1", id=36) / UDP(dport=9) / b"badsrc"),
        bytes(eth / IP(src="255.255.255.255", dst="10.0.0.1", id=37) / UDP(dport=9)),
        bytes(eth / ip(id=38, proto=200) / b"unknown protocol!!"),
        bytes(eth) + b"\x00" * 30,                              # not IP, zeros
    ]
    packets = [bytes(p) for p in good] + bad
    # Bad packets land between good ones, and some good ones twice in a row.
    random.Random(11).shuffle(packets)
    packets += [bytes(good[0]), bytes(good[2]), bad[0], bad[9], bytes(good[4]), bad[4]]
    # a minute later (see _ts), a fragment: IPReassembler gives up id 21 first
    packets.append(bytes(eth / ip(id=22, flags="MF") / UDP(sport=3, dport=4) / (b"h" * 16)))
    return [(p, (1, 2, 0)[i % 3]) for i, p in enumerate(packets)]


FRAMES = _frames()


def _ts(i):
    """Timestamps a millisecond apart; the last packet comes a minute later."""
    return 1000 + i * 0.001 + (60 if i == len(FRAMES) - 1 else 0)


def ether_packets():
    """Ethernet frames, painted 0, 1 or 2."""
    return [{"data": d, "paint": c, "ts": _ts(i)} for i, (d, c) in enumerate(FRAMES)]


def ip_packets():
    """The same traffic, Ethernet header stripped: the network header set
    where there is an IPv4 header, and the destination annotation."""
    out = []
    for i, (frame, paint) in enumerate(FRAMES):
        if frame[12:14] == b"\x81\x00":
            frame = frame[:12] + frame[16:]
        d = frame[14:]
        item = {"data": d, "paint": paint, "ts": _ts(i)}
        if len(d) >= 20 and d[0] >> 4 == 4 and (d[0] & 15) * 4 <= len(d):
            item["net"] = 0
            item["dst"] = ".".join(str(x) for x in d[16:20])
        out.append(item)
    return out


# --- one arrangement per class ----------------------------------------------------------------
#
# one(body, n): the packets go straight into body, whose n outputs are recorded.
# wired(config): a configuration where IN stands for the batched feed, UNQ for
# an Unqueue with the same burst, and [k]rec for recorder input k.

ETHER, IP = "ether", "ip"


class one:
    def __init__(self, body, n=1, kind=ETHER, before="", any_ip_id=False):
        self.body, self.n, self.kind, self.before = body, n, kind, before
        self.any_ip_id = any_ip_id

    def run(self, packets, burst):
        return through(self.body, packets, self.n, burst, before=self.before).log


class wired:
    """stop: the recorder stops the router once every packet came (an Unqueue
    behind a queue that does not say when it is empty polls without end)."""

    def __init__(self, config, kind=ETHER, any_ip_id=False, stop=False):
        self.config, self.kind, self.any_ip_id, self.stop = config, kind, any_ip_id, stop

    def run(self, packets, burst):
        config = (self.config.replace("IN", f"HarnessFeed({feed(packets)}) -> Queue(1000000) -> "
                                             f"Unqueue(BURST {burst})")
                  .replace("UNQ", f"Unqueue(BURST {burst})"))
        n = len(packets) if self.stop else -1
        return run_router(f"rec :: HarnessRecord({n}); " + config).find("rec").log


LOOKUP = "10.0.0.0/24 0, 10.0.0.5/32 10.0.0.9 1, 192.168.0.0/16 2, 0.0.0.0/0 1"
NAPT = "pattern 203.0.113.1 1024-65535# - - 0 1"
PULL1 = "IN -> Queue -> e :: {} -> UNQ -> [0]rec"

CASES = {
    "ARPPrint": one("ARPPrint"),
    "ARPQuerier": wired(f"IN -> e :: ARPQuerier(10.0.0.1, {ME}); Idle -> [1]e;"
                        "e[0] -> [0]rec; e[1] -> [1]rec", IP),
    "ARPResponder": one(f"ARPResponder(10.0.0.1 {ME})", 2),
    "AdjustTimestamp": one("AdjustTimestamp(1)"),
    "AggregateCounter": wired("IN -> AggregateIPFlows -> e :: AggregateCounter -> [0]rec", IP),
    "AggregateIPFlows": one("AggregateIPFlows", 2, IP),
    "Align": one("Align(4, 2)"),
    "AverageCounter": one("AverageCounter"),
    "BandwidthRatedSplitter": one("BandwidthRatedSplitter(2kBps)", 2),
    "BandwidthRatedUnqueue": wired(PULL1.replace("UNQ -> ", "").format("BandwidthRatedUnqueue(20kBps)")),
    "Bypass": one("Bypass", 1),
    "CheckICMPHeader": one("CheckICMPHeader", 2, IP),
    "CheckIPHeader": one("CheckIPHeader(INTERFACES 10.0.0.1/24)", 2, IP),
    "CheckPaint": one("CheckPaint(1)", 2),
    "CheckTCPHeader": one("CheckTCPHeader", 2, IP),
    "CheckUDPHeader": one("CheckUDPHeader", 2, IP),
    "Classifier": one("Classifier(12/0800 23/11, 12/0800 23/06, 12/0806, 0/ffffffffffff, -)", 5),
    "Clipboard": wired("IN -> e :: Clipboard(0/6); Idle -> [1]e; e[0] -> [0]rec; e[1] -> [1]rec"),
    "Counter": one("Counter"),
    "DecIPTTL": one("DecIPTTL", 2, IP),
    "DelayShaper": wired(PULL1.format("DelayShaper(2ms)")),
    "DelayUnqueue": wired("IN -> Queue -> e :: DelayUnqueue(2ms) -> [0]rec"),
    "DirectIPLookup": one(f"DirectIPLookup({LOOKUP})", 3, IP),
    "Discard": wired("IN -> t :: Tee -> Discard; t[1] -> [0]rec"),
    "DropBroadcasts": wired(f"IN -> HostEtherFilter({ME}, DROP_OWN false) -> e :: DropBroadcasts;"
                            "e[0] -> [0]rec; e[1] -> [1]rec"),
    "EtherEncap": one(f"EtherEncap(0x0800, {ME}, {PEER})", 1, IP),
    "EtherRewrite": wired(f"IN -> MarkMACHeader -> e :: EtherRewrite({ME}, {PEER}) -> [0]rec"),
    "EtherVLANEncap": one(f"EtherVLANEncap(0x0800, {ME}, {PEER}, VLAN_ID 5)", 1, IP),
    "FTPPortMapper": wired(f"IN -> e :: FTPPortMapper(ctl, data, 0) -> ctl :: TCPRewriter({NAPT});"
                           "ctl[0] -> [0]rec; ctl[1] -> [1]rec;"
                           f"Idle -> data :: TCPRewriter({NAPT}) -> Discard; data[1] -> Discard", IP),
    "FixIPSrc": one("FixIPSrc(10.0.0.7)", 1, IP),
    "FrontDropQueue": wired("IN -> e :: FrontDropQueue(1000) -> UNQ -> [0]rec"),
    "FullNoteQueue": wired("IN -> e :: FullNoteQueue(1000) -> UNQ -> [0]rec"),
    "GetIPAddress": one("GetIPAddress(16)", 1, IP),
    "HashSwitch": one("HashSwitch(26, 4)", 3),
    "InputSwitch": wired("IN -> [1]e :: InputSwitch(1); Idle -> [0]e; e -> [0]rec"),
    "HostEtherFilter": one(f"HostEtherFilter({ME})", 2),
    "Hub": wired("IN -> [0]e :: Hub; Idle -> [1]e; Idle -> [2]e; e[0] -> [0]rec; e[1] -> [1]rec;"
                 "e[2] -> [2]rec"),
    "ICMPError": one("ICMPError(10.0.0.1, timeexceeded)", 1, IP, any_ip_id=True),
    "ICMPIPEncap": one("ICMPIPEncap(10.0.0.1, 10.0.0.2, echo)", 1, IP),
    "ICMPPingResponder": one("ICMPPingResponder", 2, IP),
    "ICMPPingRewriter": wired("IN -> e :: ICMPPingRewriter(pattern 203.0.113.1 - 0-65535# 0 1, drop);"
                              "Idle -> [1]e; e[0] -> [0]rec; e[1] -> [1]rec", IP),
    # errors about packets rw rewrote, mapped back (ICMPError numbers its packets
    # across routers: IP ID and checksum are not compared)
    "ICMPRewriter": wired(f"IN -> rw :: IPRewriter({NAPT}) -> ICMPError(10.0.0.1, unreachable, host)"
                          "-> e :: ICMPRewriter(rw) -> [0]rec; rw[1] -> Discard", IP, any_ip_id=True),
    "IPAddrPairRewriter": one("IPAddrPairRewriter(pattern 203.0.113.1 - 0 1)", 2, IP),
    "IPAddrRewriter": one("IPAddrRewriter(pattern 203.0.113.1 - 0 1)", 2, IP),
    "IPClassifier": one("IPClassifier(udp, tcp dst port 80, icmp type echo, ip frag, -)", 5, IP),
    "IPEncap": one("IPEncap(4, 10.0.0.1, 10.0.0.2)", 1, IP),
    "IPFilter": one("IPFilter(0 udp, 1 tcp, deny icmp, allow dst net 10.0.0.0/24, 2 all)", 3, IP),
    "IPFragmenter": one("IPFragmenter(200)", 2, IP),
    "IPGWOptions": one("IPGWOptions(10.0.0.1)", 2, IP),
    "IPPrint": one("IPPrint", 1, IP),
    "IPReassembler": one("IPReassembler", 2, IP),
    "IPRewriter": one(f"IPRewriter({NAPT})", 2, IP),
    "LinearIPLookup": one(f"LinearIPLookup({LOOKUP})", 3, IP),
    "LinkUnqueue": wired("IN -> Queue -> e :: LinkUnqueue(1ms, 1Mbps) -> [0]rec"),
    "LookupIPRouteMP": one(f"LookupIPRouteMP({LOOKUP})", 3, IP),
    "MarkIPCE": one("MarkIPCE", 1, IP),
    "MarkIPHeader": one("MarkIPHeader(14)"),
    "MarkMACHeader": one("MarkMACHeader"),
    "MixedQueue": wired("IN -> [0]e :: MixedQueue(1000) -> UNQ -> [0]rec; Idle -> [1]e"),
    "NotifierQueue": wired("IN -> e :: NotifierQueue(1000) -> UNQ -> [0]rec"),
    "Null": one("Null"),
    "Pad": one("Pad(80)"),
    "Paint": one("Paint(3)"),
    "PaintSwitch": one("PaintSwitch", 3),
    "PaintTee": one("PaintTee(1)", 2),
    "Print": one("Print(MAXLENGTH 8)"),
    "PrioSched": wired("IN -> Queue -> e :: PrioSched -> UNQ -> [0]rec; Idle -> Queue -> [1]e"),
    "PullNull": wired(PULL1.format("PullNull")),
    "PullSwitch": wired("IN -> Queue -> e :: PullSwitch(0) -> UNQ -> [0]rec; Idle -> Queue -> [1]e"),
    "PullTee": wired("IN -> Queue -> e :: PullTee(2) -> UNQ -> [0]rec; e[1] -> [1]rec"),
    "PushNull": one("PushNull"),
    "Queue": wired("IN -> e :: Queue(1000) -> UNQ -> [0]rec"),
    "RadixIPLookup": one(f"RadixIPLookup({LOOKUP})", 3, IP),
    "RandomSample": one("RandomSample(0.5)", 2, before="RandomSeed(7);"),
    "RangeIPLookup": one(f"RangeIPLookup({LOOKUP})", 3, IP),
    "RatedSplitter": one("RatedSplitter(200)", 2),
    "RatedUnqueue": wired("IN -> Queue -> e :: RatedUnqueue(2000) -> [0]rec"),
    "Resize": one("Resize(-2, -4)"),
    "RoundRobinSched": wired("IN -> Queue -> e :: RoundRobinSched -> UNQ -> [0]rec;"
                             "Idle -> Queue -> [1]e"),
    "RoundRobinSwitch": one("RoundRobinSwitch", 3),
    "SetIPAddress": one("SetIPAddress(10.0.0.3)", 1, IP),
    "SetIPChecksum": one("SetIPChecksum", 1, IP),
    "SetIPDSCP": one("SetIPDSCP(10)", 1, IP),
    "SetTCPChecksum": one("SetTCPChecksum", 1, IP),
    "SetTimestamp": one("SetTimestamp(5.5)"),
    "SetTimestampDelta": one("SetTimestampDelta"),
    "SetUDPChecksum": one("SetUDPChecksum", 2, IP),
    "SetVLANAnno": one("SetVLANAnno(VLAN_ID 5)"),
    "SimplePullSwitch": wired("IN -> Queue -> e :: SimplePullSwitch(0) -> UNQ -> [0]rec;"
                              "Idle -> Queue -> [1]e"),
    "SimpleQueue": wired("IN -> e :: SimpleQueue(1000) -> UNQ -> [0]rec", stop=True),
    "StaticIPLookup": one(f"StaticIPLookup({LOOKUP})", 3, IP),
    "StaticSwitch": one("StaticSwitch(1)", 2),
    "StoreIPAddress": one("StoreIPAddress(dst)", 2, IP),
    "StrideSched": wired("IN -> Queue -> e :: StrideSched(1, 2) -> UNQ -> [0]rec;"
                         "Idle -> Queue -> [1]e"),
    "Strip": one("Strip(14)"),
    "StripEtherVLANHeader": one("StripEtherVLANHeader(-1)", 2),
    "StripIPHeader": one("StripIPHeader", 1, IP),
    "StripToNetworkHeader": one("StripToNetworkHeader", 1, IP),
    "Switch": one("Switch(1)", 2),
    "TCPRewriter": one(f"TCPRewriter({NAPT})", 2, IP),
    "Tee": one("Tee(3)", 3),
    "TimeFilter": one("TimeFilter(START 1000.01, END 1000.03)", 2),
    "TimeSortedSched": wired("IN -> Queue -> e :: TimeSortedSched -> UNQ -> [0]rec;"
                             "Idle -> Queue -> [1]e"),
    "TimedSink": wired("IN -> t :: Tee -> Queue -> e :: TimedSink(1ms); t[1] -> [0]rec"),
    "ToDump": wired("IN -> t :: Tee -> ToDump(/dev/null); t[1] -> [0]rec"),
    "ToIPSummaryDump": wired("IN -> t :: Tee -> ToIPSummaryDump(/dev/null); t[1] -> [0]rec", IP),
    "Truncate": one("Truncate(40)"),
    "UDPIPEncap": one("UDPIPEncap(10.0.0.1, 1000, 10.0.0.2, 9)", 1, IP),
    "UDPRewriter": one(f"UDPRewriter({NAPT})", 2, IP),
    "Unqueue": wired("IN -> Queue -> e :: Unqueue -> [0]rec"),
    "Unstrip": wired("IN -> Strip(14) -> e :: Unstrip(10) -> [0]rec"),   # no bytes Strip left out
    "UnstripIPHeader": one("UnstripIPHeader", 1, IP),
    "VLANDecap": one("VLANDecap"),
    "VLANEncap": one("VLANEncap(VLAN_ID 5)"),
}

NO_PORTS = "has no ports: carries no packets"
SOURCE = "a source (no input): its output does not depend on how packets are batched upstream"
POLLED = ("a pull element that does not say when it has nothing: the Unqueue behind it polls "
          "without end, so simulated time never moves on")
SKIPPED = {
    "BandwidthShaper": POLLED,
    "Shaper": POLLED,
    "ARPTable": NO_PORTS,
    "AddressInfo": NO_PORTS,
    "AlignmentInfo": NO_PORTS,
    "ControlSocket": NO_PORTS,
    "IPRewriterPatterns": NO_PORTS,
    "Message": NO_PORTS,
    "PortInfo": NO_PORTS,
    "RandomSeed": NO_PORTS + " (seeds RandomSample's case here)",
    "RoundRobinIPMapper": NO_PORTS,
    "ScheduleInfo": NO_PORTS,
    "Script": NO_PORTS + " (its ports only pass packets through to run a script)",
    "DriverManager": NO_PORTS,
    "Idle": "sends nothing and discards everything",
    "FromDevice": SOURCE + "; needs a device or a pcap file",
    "FromDump": SOURCE + "; needs a pcap file",
    "FromHost": SOURCE + "; needs root and /dev/net/tun",
    "FromIPSummaryDump": SOURCE + "; needs a summary file",
    "InfiniteSource": SOURCE,
    "RatedSource": SOURCE,
    "TimedSource": SOURCE,
    "ToDevice": "needs a device, or writes a file (ToDump's case covers the pcap path)",
    "ToHost": "needs root and /dev/net/tun",
    "GuestSwitch": "sends packets through sandboxed guests it starts; tests/switch check each key's order",
}


def _library_classes() -> dict[str, type]:
    return {name: cls for name, cls in registry.element_classes().items()
            if cls.__module__.startswith("clickpy.elements.")}


def test_every_class_is_covered():
    classes = _library_classes()
    missing = sorted(set(classes) - set(CASES) - set(SKIPPED))
    assert not missing, f"element classes neither in CASES nor in SKIPPED: {missing}"
    stale = sorted((set(CASES) | set(SKIPPED)) - set(classes))
    assert not stale, f"CASES or SKIPPED name classes that no longer exist: {stale}"
    assert not set(CASES) & set(SKIPPED)


def _key(rec, any_ip_id):
    """What is compared of a recorded packet. ICMPError numbers the packets
    it makes from a counter shared by every router of the process, as
    Click's does: with any_ip_id, the IP ID and checksum are left out."""
    key = rec.key()
    if any_ip_id:
        data = key[1][:4] + key[1][6:10] + key[1][12:]
        key = (key[0], data) + key[2:]
    return key


def _differences(a, b, limit=4):
    out = []
    for i, (x, y) in enumerate(zip(a, b)):
        if x.key() != y.key():
            out.append(f"#{i}: per packet {x!r}, batched {y!r}")
            if len(out) == limit:
                break
    if len(a) != len(b):
        out.append(f"{len(a)} packets per packet, {len(b)} batched")
    return "; ".join(out)


@pytest.mark.parametrize("name", sorted(CASES))
def test_batch_gives_per_packet_order(name):
    case = CASES[name]
    packets = ether_packets() if case.kind == ETHER else ip_packets()
    single = case.run(packets, 1)
    assert single, f"{name}: no packet came out: the arrangement tests nothing"
    for burst in BURSTS:
        batched = case.run(packets, burst)
        assert ([_key(r, case.any_ip_id) for r in batched]
                == [_key(r, case.any_ip_id) for r in single]), \
            f"{name} with BURST {burst}: {_differences(single, batched)}"
