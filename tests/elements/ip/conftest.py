"""Helpers for the IP elements' tests (IPFilter / IPClassifier: random
packets built with scapy, and a run of a configuration over them). Every
test of this folder leaves no packet descriptor in use.

* ``outputs(config_body, frames, burst)`` runs
  ``HarnessFeed -> MarkMACHeader -> MarkIPHeader(14) -> Queue -> Unqueue(BURST
  burst) -> BODY`` where BODY is an IPFilter/IPClassifier named ``f`` whose
  outputs go to ``rec``; returns the output each frame took (None: dropped).
  Each frame carries its index in annotation bytes 40-43. BURST 1 is the
  per-packet path, BURST 32 the batch path.
"""
import random
import struct

import pytest
from harness import feed, no_leaks, run_router  # noqa: F401  (no_leaks: an autouse fixture)
from support import build_router

INDEX_ANNO = 40


def outputs(body, frames, burst=32, noutputs=None, prefix=""):
    """The output each frame leaves f by (None if dropped), and the router.
    prefix is configuration text put first (AddressInfo, PortInfo, ...)."""
    key = feed({"data": f, "anno": {INDEX_ANNO: struct.pack("<I", i)}} for i, f in enumerate(frames))
    config = prefix + (f"HarnessFeed({key}) -> MarkMACHeader -> MarkIPHeader(14) -> Queue(100000) "
                       f"-> Unqueue(BURST {burst}) -> f :: {body};\n rec :: HarnessRecord;\n")
    n = noutputs
    if n is None:
        n = body.count(",") + 1
    config += "".join(f"f[{i}] -> [{i}]rec;\n" for i in range(n))
    r = run_router(config)
    got = [None] * len(frames)
    order = []
    for rec in r.find("rec").log:
        index = struct.unpack("<I", rec.anno[INDEX_ANNO:INDEX_ANNO + 4])[0]
        got[index] = rec.port
        order.append(index)
    return got, order, r


def marked_packets(frames):
    """The frames as packets with MAC and IP header annotations (mac at 0, IP at 14)."""
    r = run_router(f"HarnessFeed({feed(frames)}) -> MarkMACHeader -> MarkIPHeader(14) -> h :: HarnessHold")
    return r.find("h").packets


def filter_router(bodies):
    """A router holding f0 :: BODY0, f1 :: BODY1, ... (their outputs to Discard)."""
    config = []
    for i, (body, n) in enumerate(bodies):
        config.append(f"Idle -> f{i} :: {body};")
        config += [f"f{i}[{k}] -> Discard;" for k in range(n)]
    return build_router("\n".join(config))


# --- random packets ------------------------------------------------------------------------

ADDRS = ["10.0.0.1", "10.0.0.2", "10.1.2.3", "192.168.1.10", "192.168.7.1", "18.26.4.44",
         "172.16.5.4", "255.255.255.255"]
MACS = ["00:01:02:03:04:05", "0a:0b:0c:0d:0e:0f", "10:20:30:40:50:60", "ff:ff:ff:ff:ff:ff"]
PORTS = [0, 7, 22, 23, 53, 80, 137, 443, 1023, 1024, 1025, 5000, 5100, 8080, 65535]
PROTOS = [1, 6, 17, 2, 47, 50]


def random_frame(rng):
    """An Ethernet frame with a random IPv4 packet: any protocol, fragments,
    IP and TCP options, odd header fields, and sometimes cut short."""
    from scapy.layers.inet import ICMP, IP, TCP, UDP, IPOption_NOP, IPOption_RR
    from scapy.layers.l2 import Ether
    from scapy.packet import Raw

    ip = IP(src=rng.choice(ADDRS), dst=rng.choice(ADDRS), ttl=rng.choice([0, 1, 5, 64, 128, 255]),
            tos=rng.choice([0, 1, 2, 3, 0x10, 0xb8, 0xff, rng.randrange(256)]),
            id=rng.choice([0, 1, 0x1234, 0xffff, rng.randrange(65536)]))
    r = rng.random()
    if r < 0.15:
        ip.flags = "MF"
    elif r < 0.25:
        ip.frag = rng.choice([1, 2, 185, 0x1fff])
        ip.flags = rng.choice([0, 1])
    if rng.random() < 0.2:
        ip.options = rng.choice([[IPOption_NOP()] * 4, [IPOption_RR(routers=["1.2.3.4"])],
                                 [IPOption_NOP(), IPOption_RR(routers=["1.2.3.4", "5.6.7.8"])]])
    proto = rng.choice(PROTOS)
    payload = Raw(bytes(rng.randrange(256) for _ in range(rng.choice([0, 1, 4, 20]))))
    if proto == 6:
        flags = rng.choice(["S", "SA", "A", "F", "FA", "R", "P", "PA", "U", "", "SAFRPU"])
        opts = rng.choice([[], [("MSS", 1460)], [("NOP", None), ("NOP", None), ("Timestamp", (1, 2))]])
        l4 = TCP(sport=rng.choice(PORTS), dport=rng.choice(PORTS), flags=flags,
                 window=rng.choice([0, 512, 1024, 65535]), options=opts) / payload
    elif proto == 17:
        l4 = UDP(sport=rng.choice(PORTS), dport=rng.choice(PORTS)) / payload
    elif proto == 1:
        l4 = ICMP(type=rng.choice([0, 3, 8, 11, 13, 42]), code=rng.choice([0, 1, 3])) / payload
    else:
        l4 = payload
        ip.proto = proto
    pkt = Ether(src=rng.choice(MACS), dst=rng.choice(MACS)) / ip / l4
    frame = bytes(pkt)
    r = rng.random()
    if r < 0.25:
        # cut anywhere after the Ethernet header (and the IP header's first byte)
        frame = frame[:rng.randrange(15, len(frame) + 1)]
    return frame


@pytest.fixture
def rng():
    return random.Random(0x1b7e7)


_FRAMES = []


@pytest.fixture
def frames():
    """A few hundred random frames (made once per session: scapy is slow)."""
    if not _FRAMES:
        rng = random.Random(0xf1173)
        _FRAMES.extend(random_frame(rng) for _ in range(400))
    return list(_FRAMES)


@pytest.fixture
def ipf():
    """The helpers above, for test modules (conftest cannot be imported by name)."""
    import types

    return types.SimpleNamespace(outputs=outputs, filter_router=filter_router,
                                 marked_packets=marked_packets,
                                 random_frame=random_frame, MACS=MACS, PORTS=PORTS)
