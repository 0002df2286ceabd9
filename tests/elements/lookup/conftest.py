"""Helpers for the route lookup tests: an address source and a recording sink.

The two Python elements are registered under names no library element uses:

* ``LookupTestSource(ADDR...)`` pushes one 20-byte packet per argument with
  that destination IP annotation, all in one task run, then stops the
  driver; ``LookupTestSource(LATER, ADDR...)`` stops it a simulated second
  later instead, so that queues downstream can drain;
* ``LookupTestRecord`` records (input port, destination IP annotation) for
  every packet pushed to any of its inputs.
"""
import pytest

import support

from clickpy.runtime.element import Element
from clickpy.runtime.packet import PacketObject, live_packets
from clickpy.runtime.scheduler import Task, Timer


class LookupTestSource(Element):
    port_count = "0/1"
    processing = "h"
    arguments = None

    def configure(self, conf, errh):
        self.addrs = [a.strip() for a in conf]
        self.later = bool(self.addrs) and self.addrs[0] == "LATER"
        if self.later:
            self.addrs.pop(0)

    def initialize(self, errh):
        self.task = Task(self)
        self.task.initialize(self.router.scheduler, True)
        self.timer = Timer(self)
        self.timer.initialize(self.router.scheduler)

    def run_task(self, task):
        for a in self.addrs:
            p = PacketObject.make(bytes(20))
            p.dst_ip = a
            self.output_push_packet(0, p)
        if self.later:
            self.timer.schedule_after(1)
        else:
            self.router.please_stop_driver()
        return True

    def run_timer(self, timer):
        self.router.please_stop_driver()


class LookupTestRecord(Element):
    port_count = "1-/0"
    processing = "h"
    arguments = None

    def configure(self, conf, errh):
        self.log = []

    def push(self, port, packet):
        self.log.append((port, packet.dst_ip))


@pytest.fixture(autouse=True)
def no_leaks():
    import gc

    before = live_packets()
    yield
    support.clean_up_routers()
    gc.collect()
    assert live_packets() <= before, "a test leaked packet descriptors"
