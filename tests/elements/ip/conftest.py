"""Helpers for the IP elements' tests: a packet feed and a recording sink.

* ``IPTestFeed(KEY)`` pushes the packets the test put in ``FEEDS[KEY]``, all
  in one task run, then stops. A packet is bytes, or a dict with ``data``
  and optionally ``ts`` (seconds), ``net`` (network header offset; the
  header length comes from the IP header), ``dst`` (destination IP
  annotation, dotted quad), ``paint``.
* ``IPTestRecord([N])`` records every packet pushed to any of its inputs and
  stops the driver after N.

``Queue(100000) -> Unqueue(BURST k)`` after the feed hands packets on in
batches of k: BURST 1 is the per-packet path, BURST 32 the batch path.
"""
import itertools

import pytest
import support
from support import build_router, run_for

from clickpy.runtime.args import Arg, Int, String
from clickpy.runtime.element import Element
from clickpy.runtime.packet import PacketObject, live_packets
from clickpy.runtime.scheduler import Task

FEEDS = {}
_keys = itertools.count()


def make_feed(packets):
    """Register packets for an IPTestFeed; returns its key."""
    key = f"feed{next(_keys)}"
    FEEDS[key] = list(packets)
    return key


class IPTestFeed(Element):
    port_count = "0/1"
    processing = "h"
    arguments = (Arg("KEY", String, None, positional=True, mandatory=True),)

    def initialize(self, errh):
        self.task = Task(self)
        self.task.initialize(self.router.scheduler, True)

    def run_task(self, task):
        for item in FEEDS.pop(self.key, []):
            if not isinstance(item, dict):
                item = {"data": item}
            p = PacketObject.make(bytes(item["data"]))
            if "ts" in item:
                p.timestamp = int(round(item["ts"] * 1e9))
            if "net" in item:
                off = item["net"]
                p.set_network_header(off, (p.data[off] & 0x0F) * 4)
            if "dst" in item:
                p.dst_ip = item["dst"]
            if "paint" in item:
                p.paint = item["paint"]
            self.output_push_packet(0, p)
        return False


class Rec:
    __slots__ = ("port", "data", "net", "transport", "anno", "ts", "dst_ip", "paint")

    def __init__(self, port, p):
        self.port = port
        self.data = p.data
        self.net = p.network_offset
        self.transport = p.transport_offset
        self.anno = p.anno
        self.ts = p.timestamp
        self.dst_ip = p.dst_ip
        self.paint = p.paint

    def __repr__(self):
        return f"<Rec port {self.port} {self.data.hex()}>"


class IPTestRecord(Element):
    port_count = "1-/0"
    processing = "h"
    arguments = (Arg("N", Int, -1, positional=True),)

    def configure(self, conf, errh):
        self.log = []
        return Element.configure(self, conf, errh)

    def push(self, port, packet):
        self.log.append(Rec(port, packet))
        if len(self.log) == self.n:
            self.router.please_stop_driver()

    def on(self, port):
        return [r for r in self.log if r.port == port]


def run_router(config, seconds=1000.0):
    """Build config in simulated time and run it until it is idle (a timer
    `seconds` ahead stops the driver; simulated time jumps there at once)."""
    return run_for(build_router(config, simulated=True), seconds)


@pytest.fixture
def feed():
    """feed(packets) -> the KEY argument of an IPTestFeed that pushes them."""
    return make_feed


@pytest.fixture
def run():
    """run(config): build a router in simulated time, run it until idle, return it."""
    return run_router


@pytest.fixture(autouse=True)
def no_leaks():
    """Every test leaves as many packet descriptors in use as it found."""
    import gc

    before = live_packets()
    yield
    support.clean_up_routers()
    gc.collect()
    assert live_packets() <= before, "a test leaked packet descriptors"
