"""Helpers for the basic elements' tests: a packet list source and a recording sink.

Both are Python elements (the slow path), registered under names no library
element uses:

* ``BasicTestSource(HEX...)`` pushes one packet per argument (hex data,
  optionally ``/PAINT`` and ``@SECONDS``, the timestamp), all in one task
  run, then stops;
* ``BasicTestRecord([N])`` records every packet pushed to any of its inputs
  (input port, data, paint annotation, timestamp; also the annotation bytes
  and the headroom) and stops the driver once it has N of them.

Put a ``Queue -> Unqueue(BURST k)`` after the source to hand the packets on
in batches of k: BURST 1 gives the per-packet path, BURST 32 the batch path.
"""
import pytest
import support
from support import build_router

from clickpy.runtime.args import Arg, Int
from clickpy.runtime.element import Element
from clickpy.runtime.packet import PacketObject, live_packets
from clickpy.runtime.scheduler import Task


class BasicTestSource(Element):
    port_count = "0/1"
    processing = "h"
    arguments = None

    def configure(self, conf, errh):
        self.packets = []
        for arg in conf:
            arg, _, when = arg.strip().partition("@")
            data, _, paint = arg.partition("/")
            self.packets.append((bytes.fromhex(data), int(paint) if paint else None,
                                 int(float(when) * 1e9) if when else 0))

    def initialize(self, errh):
        self.task = Task(self)
        self.task.initialize(self.router.scheduler, True)

    def run_task(self, task):
        for data, paint, when in self.packets:
            p = PacketObject.make(data)
            if paint is not None:
                p.paint = paint
            p.timestamp = when
            self.output_push_packet(0, p)
        return True


class BasicTestRecord(Element):
    port_count = "1-/0"
    processing = "h"
    arguments = (Arg("N", Int, -1, positional=True),)

    def configure(self, conf, errh):
        self.log = []        # (input port, data, paint, timestamp) per packet
        self.annos = []      # the 48 annotation bytes per packet
        self.headrooms = []  # the headroom (data offset in its buffer) per packet
        return Element.configure(self, conf, errh)

    def push(self, port, packet):
        self.log.append((port, packet.data, packet.paint, packet.timestamp))
        self.annos.append(packet.anno)
        self.headrooms.append(packet.headroom)
        if len(self.log) == self.n:
            self.router.please_stop_driver()


@pytest.fixture
def run():
    """run(config): build a router (simulated time), run it to the end, return it."""
    routers = []

    def run(config, simulated=True):
        r = build_router(config, simulated=simulated)
        routers.append(r)
        r.run()
        return r
    yield run
    # A task still scheduled is referenced from the scheduler's C heap, which
    # the garbage collector cannot see: unschedule them so routers go away.
    for r in routers:
        for e in r.elements:
            task = getattr(e, "task", None)
            if task is not None:
                task.unschedule()
    routers.clear()   # pytest keeps the fixture value until after the leak check


@pytest.fixture(autouse=True)
def no_leaks():
    """Every test leaves as many packet descriptors in use as it found."""
    import gc

    before = live_packets()
    yield
    support.clean_up_routers()
    gc.collect()
    assert live_packets() <= before, "a test leaked packet descriptors"


