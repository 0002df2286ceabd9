"""Helpers for the rewriters' tests: a timed packet feed and a recording sink.

* ``RWFeed(KEY)`` pushes the packets the test registered under KEY. Each item
  is bytes (an IP packet, network header at offset 0) or a dict with ``data``,
  ``at`` (seconds after the router starts; items are pushed in time order,
  those with the same time together), ``port`` (which output of the feed;
  the feed has as many outputs as the config connects); or a dict with
  ``at`` and ``call``, a function called with the router at that time (to
  read handlers while the router runs).
* ``RWRecord`` records every packet pushed to any of its inputs, with the
  input port and the router time.

Routers run in simulated time (``run_router``), so a feed item at 600 s
arrives 600 simulated seconds after the start, at once.
"""
import itertools

import pytest
from scapy.all import ICMP, IP, TCP, UDP, raw
from support import build_router, run_for

from clickpy.runtime.args import Arg, String
from clickpy.runtime.element import Element
from clickpy.runtime.packet import PacketObject
from clickpy.runtime.scheduler import Timer

FEEDS = {}
_keys = itertools.count()


def make_feed(packets):
    key = f"rwfeed{next(_keys)}"
    FEEDS[key] = list(packets)
    return key


class RWFeed(Element):
    port_count = "0/1-"
    processing = "h"
    arguments = (Arg("KEY", String, None, positional=True, mandatory=True),)

    def initialize(self, errh):
        items = [it if isinstance(it, dict) else {"data": it} for it in FEEDS.pop(self.key, [])]
        groups = {}
        for it in items:
            groups.setdefault(float(it.get("at", 0.0)), []).append(it)
        self.timers = []
        for at in sorted(groups):
            t = Timer(callback=self._fire(groups[at]))
            t.initialize(self.router.scheduler)
            t.schedule_after(at)
            self.timers.append(t)

    def _fire(self, items):
        def fire(timer):
            for it in items:
                if "call" in it:
                    it["call"](self.router)
                    continue
                p = PacketObject.make(bytes(it["data"]))
                if p.length:
                    # as CheckIPHeader would set it, even when the header is bogus
                    p.set_network_header(0, min((p.data[0] & 0x0F) * 4, p.length))
                self.output_push_packet(it.get("port", 0), p)
        return fire

    def cleanup(self, stage):
        for t in getattr(self, "timers", ()):
            t.unschedule()


class Out:
    __slots__ = ("port", "data", "time", "dst_ip", "paint")

    def __init__(self, port, p, now):
        self.port = port
        self.data = bytes(p.data)
        self.time = now
        self.dst_ip = p.dst_ip
        self.paint = p.paint

    @property
    def ip(self):
        return IP(self.data)

    def __repr__(self):
        return f"<Out port {self.port} {IP(self.data).summary()}>"


class RWRecord(Element):
    port_count = "1-/0"
    processing = "h"
    arguments = ()

    def configure(self, conf, errh):
        self.log = []
        return Element.configure(self, conf, errh)

    def push(self, port, packet):
        self.log.append(Out(port, packet, self.router.scheduler.now() / 1e9))

    def on(self, port):
        return [r for r in self.log if r.port == port]


def run_router(config, seconds=100000.0):
    """Build config in simulated time and run it until `seconds` (simulated) have passed."""
    return run_for(build_router(config, simulated=True), seconds)


def udp(src, sport, dst, dport, payload=b"hello", **ip):
    return raw(IP(src=src, dst=dst, **ip) / UDP(sport=sport, dport=dport) / payload)


def tcp(src, sport, dst, dport, flags="A", payload=b"", seq=1000, ack=0, **ip):
    return raw(IP(src=src, dst=dst, **ip) / TCP(sport=sport, dport=dport, flags=flags, seq=seq, ack=ack) / payload)


def icmp(src, dst, type=8, code=0, id=0, seq=0, payload=b"", **ip):
    return raw(IP(src=src, dst=dst, **ip) / ICMP(type=type, code=code, id=id, seq=seq) / payload)


def snap(log, *handlers):
    """A feed item's ``call``: append the values of handlers ("e.h") to log."""
    return lambda router: log.append(tuple(router.read(h) for h in handlers))


def checksums_ok(data):
    """True if the IP and transport checksums of the packet bytes are right (scapy recomputes them)."""
    pkt = IP(data)
    fixed = pkt.copy()
    del fixed.chksum
    layer = None
    for cls in (TCP, UDP, ICMP):
        if cls in fixed:
            layer = cls
            break
    if layer is not None and not (layer is UDP and pkt[UDP].chksum == 0):
        del fixed[layer].chksum
    again = IP(raw(fixed))
    if again.chksum != pkt.chksum:
        return False
    if layer is not None and not (layer is UDP and pkt[UDP].chksum == 0):
        return again[layer].chksum == pkt[layer].chksum
    return True


@pytest.fixture
def feed():
    return make_feed


@pytest.fixture
def run():
    return run_router


def wire(element_decl, ninputs, noutputs, key, extra=""):
    """Config text: RWFeed outputs 0..ninputs-1 into rw's inputs, rw's outputs into RWRecord."""
    lines = [f"f :: RWFeed({key});", f"rw :: {element_decl};", "rec :: RWRecord;", extra]
    lines += [f"f[{i}] -> [{i}]rw;" for i in range(ninputs)]
    lines += [f"rw[{i}] -> [{i}]rec;" for i in range(noutputs)]
    return "\n".join(lines)


def rewrite(element_decl, ninputs, noutputs, packets, seconds=10.0, extra=""):
    """Run packets through a rewriter in simulated time; returns (router, records)."""
    r = run_router(wire(element_decl, ninputs, noutputs, make_feed(packets), extra), seconds)
    return r, r.find("rec").log


def write_flows_pcap(path, nflows, passes=1, first_src=0x0A000000, first_dst=0xC6120000, dst_step=1):
    """A pcap (Ethernet, 64-byte frames) of nflows distinct UDP flows, each one
    packet per pass: flow i is (first_src + i, 2000 + i % 50000) -> (first_dst + i * dst_step, 53)
    (dst_step 0: all to one destination). Built with numpy so a million flows take a moment."""
    import numpy as np

    rec = np.zeros((nflows, 16 + 64), dtype=np.uint8)
    i = np.arange(nflows, dtype=np.uint64)

    def put_be(col, values, nbytes):
        v = values.astype(np.uint64)
        for k in range(nbytes):
            rec[:, col + k] = ((v >> np.uint64(8 * (nbytes - 1 - k))) & np.uint64(0xFF)).astype(np.uint8)

    def put_le(col, value, nbytes):
        for k in range(nbytes):
            rec[:, col + k] = (value >> (8 * k)) & 0xFF

    put_le(8, 64, 4)                        # caplen
    put_le(12, 64, 4)                       # len
    eth = 16
    rec[:, eth:eth + 12] = np.frombuffer(bytes.fromhex("001122334455" "0066778899aa"), dtype=np.uint8)
    rec[:, eth + 12] = 0x08
    ipo = eth + 14
    src = np.uint64(first_src) + i
    dst = np.uint64(first_dst) + i * np.uint64(dst_step)
    rec[:, ipo] = 0x45
    rec[:, ipo + 3] = 50                    # total length 50
    rec[:, ipo + 8] = 64                    # ttl
    rec[:, ipo + 9] = 17
    put_be(ipo + 12, src, 4)
    put_be(ipo + 16, dst, 4)
    # header checksum: the constant words plus the addresses' halfwords
    s = (np.uint64(0x4500 + 50 + 0x4011) + (src >> np.uint64(16)) + (src & np.uint64(0xFFFF))
         + (dst >> np.uint64(16)) + (dst & np.uint64(0xFFFF)))
    s = (s & np.uint64(0xFFFF)) + (s >> np.uint64(16))
    s = (s & np.uint64(0xFFFF)) + (s >> np.uint64(16))
    put_be(ipo + 10, (~s) & np.uint64(0xFFFF), 2)
    udpo = ipo + 20
    put_be(udpo, np.uint64(2000) + i % np.uint64(50000), 2)
    put_be(udpo + 2, np.full(nflows, 53, dtype=np.uint64), 2)
    rec[:, udpo + 5] = 30                   # UDP length; checksum 0 (none)
    header = (0xA1B2C3D4).to_bytes(4, "little") + (2).to_bytes(2, "little") + (4).to_bytes(2, "little") \
        + bytes(8) + (65535).to_bytes(4, "little") + (1).to_bytes(4, "little")
    body = rec.tobytes()
    with open(path, "wb") as f:
        f.write(header)
        for _ in range(passes):
            f.write(body)
