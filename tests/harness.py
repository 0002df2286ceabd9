"""Test elements shared by the element tests: a feed, a recorder, a hold.

They are Python elements (the slow path) under names no library element uses.

* ``HarnessFeed(KEY)`` pushes the packets a test registered with
  ``feed(packets)`` (which returns KEY), all in one task run. A packet is
  bytes, or a dict with ``data`` and optionally ``ts`` (timestamp, seconds),
  ``net`` (network header offset; its length comes from the IP header),
  ``dst`` (destination IP annotation, dotted quad), ``paint``, ``vlan_tci``,
  ``anno`` ({offset: bytes} written into the annotation area), ``headroom``;
  ``port`` (which output of the feed) and ``at`` (seconds after the start:
  the packet waits for its time). An item ``{"at": T, "call": f}`` calls
  f(router) at T (to read handlers while the router runs).
* ``HarnessFeed(HEX[/PAINT][@SECONDS], ...)`` pushes packets written out in
  the configuration instead: hex data, a paint and a timestamp.
* ``HarnessRecord([N])`` records every packet pushed to any of its inputs
  (a ``Rec`` each), in arrival order across inputs, and stops the driver
  once it has N.
* ``HarnessHold`` keeps the packets themselves, for tests that hand them to
  an element's own methods.

The feed hands packets on one at a time. ``Queue(1000000) -> Unqueue(BURST
k)`` after it hands them on in batches of k: BURST 1 is the per-packet path,
BURST 32 the batch path. ``through`` builds that chain around a body.
``inject`` pushes packets straight into an element instead (any input port,
and more pushes later), for tests that drive an element by hand.

A conftest that imports ``no_leaks`` (``from harness import no_leaks``) checks
that every test of its folder leaves no packet descriptor in use.
"""
from __future__ import annotations

import gc
import itertools

import pytest
import support
from support import build_router, run_for

from clickpy.runtime.args import Arg, Int
from clickpy.runtime.element import Element
from clickpy.runtime.packet import PacketObject, live_packets
from clickpy.runtime.scheduler import Task, Timer

FEEDS: dict[str, list] = {}
DEFAULT_HEADROOM = 64     # PacketObject.make's
VLAN_TCI_ANNO = 20        # where the VLAN TCI annotation lives, in network byte order
_keys = itertools.count()


def feed(packets) -> str:
    """Register packets for a HarnessFeed; returns its KEY argument."""
    key = f"key{next(_keys)}"      # never hex: HarnessFeed tells the two apart
    FEEDS[key] = list(packets)
    return key


def make_packet(item) -> PacketObject:
    """A packet from bytes or from a dict as HarnessFeed takes it."""
    if not isinstance(item, dict):
        item = {"data": item}
    p = PacketObject.make(bytes(item["data"]), headroom=item.get("headroom", DEFAULT_HEADROOM))
    if "ts" in item:
        p.timestamp = int(round(item["ts"] * 1e9))
    if "net" in item and item["net"] < p.length:
        off = item["net"]     # the header length from the IP header, within the data
        p.set_network_header(off, min((p.data[off] & 0x0F) * 4, p.length - off))
    if "dst" in item:
        p.dst_ip = item["dst"]
    if "paint" in item:
        p.paint = item["paint"]
    if "vlan_tci" in item:
        p.set_anno(VLAN_TCI_ANNO, item["vlan_tci"].to_bytes(2, "big"))
    for offset, value in item.get("anno", {}).items():
        p.set_anno(offset, value)
    return p


def written_packet(text: str) -> dict:
    """A feed item from HEX[/PAINT][@SECONDS] (a packet written in a configuration)."""
    text, _, when = text.strip().partition("@")
    data, _, paint = text.partition("/")
    item = {"data": bytes.fromhex(data), "ts": float(when) if when else 0.0}
    if paint:
        item["paint"] = int(paint)
    return item


class HarnessFeed(Element):
    port_count = "0/1-"
    processing = "h"
    arguments = None      # KEY, or packets written out (see the module's docstring)

    def configure(self, conf, errh):
        args = [a.strip() for a in conf]
        self.key = args[0] if len(args) == 1 and args[0].startswith("key") else None
        self.written = [] if self.key else [written_packet(a) for a in args]

    def initialize(self, errh):
        items = FEEDS.pop(self.key, []) if self.key else self.written
        self.pending = [it for it in items if not (isinstance(it, dict) and "at" in it)]
        later: dict[float, list] = {}
        for it in items:
            if isinstance(it, dict) and "at" in it:
                later.setdefault(float(it["at"]), []).append(it)
        self.timers = []
        for at in sorted(later):
            timer = Timer(callback=lambda timer, items=later[at]: self.hand_on(items))
            timer.initialize(self.router.scheduler)
            timer.schedule_after(at)
            self.timers.append(timer)
        self.task = Task(self)
        self.task.initialize(self.router.scheduler, True)

    def run_task(self, task):
        items, self.pending = self.pending, []
        self.hand_on(items)
        return False

    def hand_on(self, items):
        for item in items:
            if isinstance(item, dict) and "call" in item:
                item["call"](self.router)
            else:
                port = item.get("port", 0) if isinstance(item, dict) else 0
                self.output_push_packet(port, make_packet(item))

    def cleanup(self, stage):
        for timer in getattr(self, "timers", ()):
            timer.unschedule()


class Rec:
    """What a HarnessRecord keeps of one packet."""
    __slots__ = ("port", "data", "mac", "net", "transport", "anno", "ts", "dst_ip", "paint",
                 "packet_type", "headroom", "arrived")

    def __init__(self, port, p, arrived):
        self.port = port
        self.arrived = arrived        # router time (ns) when it arrived
        self.data = p.data
        self.mac = p.mac_offset
        self.net = p.network_offset
        self.transport = p.transport_offset
        self.anno = p.anno
        self.ts = p.timestamp
        self.dst_ip = p.dst_ip
        self.paint = p.paint
        self.packet_type = p.packet_type
        self.headroom = p.headroom

    @property
    def vlan_tci(self) -> int:
        return int.from_bytes(self.anno[VLAN_TCI_ANNO:VLAN_TCI_ANNO + 2], "big")

    def key(self):
        """Everything a packet carries, for comparing two runs."""
        return (self.port, self.data, self.net, self.transport, self.anno, self.ts)

    def __repr__(self):
        return f"<Rec port {self.port} {self.data.hex()}>"


class HarnessRecord(Element):
    port_count = "1-/0"
    processing = "h"
    arguments = (Arg("N", Int, -1, positional=True),)

    def configure(self, conf, errh):
        self.log: list[Rec] = []
        return Element.configure(self, conf, errh)

    def push(self, port, packet):
        self.log.append(Rec(port, packet, self.router.now()))
        if len(self.log) == self.n:
            self.router.please_stop_driver()

    def on(self, port) -> list[Rec]:
        return [r for r in self.log if r.port == port]


class HarnessHold(Element):
    port_count = "1/0"
    processing = "h"
    arguments = ()

    def configure(self, conf, errh):
        self.packets: list[PacketObject] = []
        return Element.configure(self, conf, errh)

    def push(self, port, packet):
        self.packets.append(packet)


def run_router(config: str, seconds: float = 1000.0):
    """Build config in simulated time and run it until it is idle (a timer
    `seconds` ahead stops the driver; simulated time jumps there at once)."""
    return run_for(build_router(config, simulated=True), seconds)


def through(body: str, packets, noutputs: int = 1, burst: int = 32, before: str = "",
            seconds: float = 1000.0) -> HarnessRecord:
    """Run packets through body (an element expression with one input and
    noutputs outputs) in batches of burst; returns the recorder, whose input
    k took body's output k."""
    outs = "; ".join(f"b[{k}] -> [{k}]rec" for k in range(noutputs))
    config = (f"{before} HarnessFeed({feed(packets)}) -> Queue(1000000) -> Unqueue(BURST {burst}) "
              f"-> b :: {body}; rec :: HarnessRecord; {outs};")
    return run_router(config, seconds).find("rec")


def inject(declaration: str, packets, noutputs: int = 1, ninputs: int = 1, extra: str = "",
           simulated: bool = False):
    """Build 'Idle -> [i] e :: DECLARATION' (ninputs inputs), its outputs k to
    a HarnessRecord's input k, and push each packet into e; returns (router,
    recorder). A packet is a PacketObject, bytes or a dict as HarnessFeed
    takes, or (port, packet) for another input than 0. In a chain
    'A -> B', packets go into A (named 'pre0') and B is 'e'. A PacketObject
    is handed on: never pass the same one twice."""
    *before, last = declaration.split(" -> ")
    chain = "".join(f"pre{i} :: {d} -> " for i, d in enumerate(before))
    first = "pre0" if before else "e"
    ins = "".join(f"Idle -> [{i}] {first};\n" for i in range(ninputs))
    outs = "".join(f"e[{k}] -> [{k}] rec;\n" for k in range(noutputs))
    router = build_router(f"{chain}e :: {last};\nrec :: HarnessRecord;\n{ins}{outs}{extra}", simulated=simulated)
    element = router.element(first)
    for item in packets:
        port, packet = item if isinstance(item, tuple) else (0, item)
        element.push_packet(port, packet if isinstance(packet, PacketObject) else make_packet(packet))
    return router, router.element("rec")


@pytest.fixture(autouse=True)
def no_leaks():
    """Every test leaves as many packet descriptors in use as it found."""
    before = live_packets()
    yield
    support.clean_up_routers()
    gc.collect()
    assert live_packets() <= before, "a test leaked packet descriptors"
