"""Helpers for the IPFilter / IPClassifier tests: a packet feed, a recorder,
random packets built with scapy, and a run of a configuration over them.

* ``FilterFeed(KEY)`` pushes the packets registered under KEY (Ethernet
  frames; each carries its index in annotation bytes 40-43), all in one task
  run. ``FilterRecord`` records (input port, index) for every packet it gets.
* ``outputs(config_body, frames, burst)`` runs
  ``FilterFeed -> MarkMACHeader -> MarkIPHeader(14) -> Queue -> Unqueue(BURST
  burst) -> BODY`` where BODY is an IPFilter/IPClassifier named ``f`` whose
  outputs go to ``rec``; returns the output each frame took (None: dropped).
  BURST 1 is the per-packet path, BURST 32 the batch path.
"""
import itertools
import random
import struct

import pytest
import support
from support import build_router, run_for

from clickpy.runtime.args import Arg, String
from clickpy.runtime.element import Element
from clickpy.runtime.packet import PacketObject, live_packets
from clickpy.runtime.scheduler import Task

FEEDS = {}
_keys = itertools.count()


class FilterFeed(Element):
    port_count = "0/1"
    processing = "h"
    arguments = (Arg("KEY", String, None, positional=True, mandatory=True),)

    def initialize(self, errh):
        self.task = Task(self)
        self.task.initialize(self.router.scheduler, True)

    def run_task(self, task):
        for i, frame in enumerate(FEEDS.pop(self.key, [])):
            p = PacketObject.make(bytes(frame))
            p.set_anno(40, struct.pack("<I", i))
            self.output_push_packet(0, p)
        return False


class FilterHold(Element):
    """Keeps every packet it gets (as PacketObjects, in arrival order)."""
    port_count = "1/0"
    processing = "h"
    arguments = ()

    def configure(self, conf, errh):
        self.packets = []
        return True

    def push(self, port, packet):
        self.packets.append(packet)


class FilterRecord(Element):
    port_count = "1-/0"
    processing = "h"
    arguments = ()

    def configure(self, conf, errh):
        self.log = []
        return True

    def push(self, port, packet):
        self.log.append((port, struct.unpack("<I", packet.anno[40:44])[0]))


def run_until_idle(config, seconds=1000.0):
    return run_for(build_router(config, simulated=True), seconds)


def outputs(body, frames, burst=32, noutputs=None, prefix=""):
    """The output each frame leaves f by (None if dropped), and the router.
    prefix is configuration text put first (AddressInfo, PortInfo, ...)."""
    key = f"ipf{next(_keys)}"
    FEEDS[key] = list(frames)
    config = prefix + (f"FilterFeed({key}) -> MarkMACHeader -> MarkIPHeader(14) -> Queue(100000) "
              f"-> Unqueue(BURST {burst}) -> f :: {body};\n rec :: FilterRecord;\n")
    n = noutputs
    if n is None:
        n = body.count(",") + 1
    config += "".join(f"f[{i}] -> [{i}]rec;\n" for i in range(n))
    r = run_until_idle(config)
    got = [None] * len(frames)
    order = []
    for port, index in r.find("rec").log:
        got[index] = port
        order.append(index)
    return got, order, r


def marked_packets(frames):
    """The frames as packets with MAC and IP header annotations (mac at 0, IP at 14)."""
    key = f"ipf{next(_keys)}"
    FEEDS[key] = list(frames)
    r = run_until_idle(f"FilterFeed({key}) -> MarkMACHeader -> MarkIPHeader(14) -> h :: FilterHold")
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
                                 marked_packets=marked_packets, run_until_idle=run_until_idle,
                                 random_frame=random_frame, MACS=MACS, PORTS=PORTS)


@pytest.fixture(autouse=True)
def no_leaks():
    """Every test leaves as many packet descriptors in use as it found."""
    import gc

    before = live_packets()
    yield
    support.clean_up_routers()
    gc.collect()
    assert live_packets() <= before, "a test leaked packet descriptors"
