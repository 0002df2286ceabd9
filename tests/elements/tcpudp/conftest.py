"""Helpers for the TCP/UDP/ICMP header tests: push raw IP packets (made with
scapy) through an element in this process and collect what comes out.

``through(body, packets, noutputs)`` runs ``TcpudpFeed -> MarkIPHeader ->
e :: BODY`` with each output of ``e`` going to a ``TcpudpHold``; it returns
the router and, per output, the list of packet bytes that left there.
``before`` is a chain put in front of ``e``.
"""
import itertools

import pytest
import support
from support import build_router

from clickpy.runtime.args import Arg, String
from clickpy.runtime.element import Element
from clickpy.runtime.packet import PacketObject, live_packets
from clickpy.runtime.scheduler import Task

FEEDS = {}
_keys = itertools.count()


class TcpudpFeed(Element):
    port_count = "0/1"
    processing = "h"
    arguments = (Arg("KEY", String, None, positional=True, mandatory=True),)

    def initialize(self, errh):
        self.task = Task(self)
        self.task.initialize(self.router.scheduler, True)

    def run_task(self, task):
        for data in FEEDS.pop(self.key, []):
            self.output_push_packet(0, PacketObject.make(bytes(data)))
        self.router.please_stop_driver()
        return False


class TcpudpHold(Element):
    """Keeps the bytes of every packet it gets."""
    port_count = "1/0"
    processing = "h"
    arguments = ()

    def configure(self, conf, errh):
        self.got = []
        return True

    def push(self, port, packet):
        self.got.append(bytes(packet.data))


def through(body, packets, noutputs=1, before=""):
    key = f"tu{next(_keys)}"
    FEEDS[key] = [bytes(p) for p in packets]
    config = f"TcpudpFeed({key}) -> MarkIPHeader -> {before + ' -> ' if before else ''}e :: {body};\n"
    config += "".join(f"e[{i}] -> h{i} :: TcpudpHold;\n" for i in range(noutputs))
    r = build_router(config)
    r.run()
    return r, [r.find(f"h{i}").got for i in range(noutputs)]


@pytest.fixture
def tu():
    import types

    return types.SimpleNamespace(through=through)


@pytest.fixture(autouse=True)
def no_leaks():
    import gc

    before = live_packets()
    yield
    support.clean_up_routers()
    gc.collect()
    assert live_packets() <= before, "a test leaked packet descriptors"
