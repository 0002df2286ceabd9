"""Helpers for the ARP, ICMP and router element tests.

``ArpIcmpRecord`` (a Python element, named so no library element clashes)
records each packet pushed to any of its inputs: the input port, the data,
the annotations and the header offsets. ``through`` pushes frames into one
element and returns that record.
"""
import pytest
from support import build_router

from clickpy.runtime.element import Element
from clickpy.runtime.packet import PacketObject


class ArpIcmpRecord(Element):
    port_count = "1-/0"
    processing = "h"
    arguments = None

    def configure(self, conf, errh):
        self.log = []

    def push(self, port, packet):
        self.log.append(dict(port=port, data=packet.data, anno=packet.anno, dst_ip=packet.dst_ip,
                             paint=packet.paint, ts=packet.timestamp,
                             mac=packet.mac_offset, network=packet.network_offset))


def make_packet(data: bytes, *, dst_ip=None, network=None, paint=None, ts=None, headroom=64):
    p = PacketObject.make(bytes(data), headroom=headroom)
    if dst_ip is not None:
        p.dst_ip = dst_ip
    if network is not None:
        off, length = network
        p.set_network_header(off, length)
    if paint is not None:
        p.paint = paint
    if ts is not None:
        p.timestamp = ts
    return p


@pytest.fixture
def through():
    """through(DECLARATION, packets, noutputs=1, extra="", ninputs=None) -> (router, log).

    Builds 'e :: DECLARATION' with Idle on each input (two for ARPQuerier, else
    one), wires each output i to recorder input i and pushes each packet
    (bytes, PacketObject, or (port, bytes/PacketObject)) into e. A chain
    'A -> B' names A 'pre0' (packets go into it) and B 'e'. Each PacketObject
    is handed on: never pass the same one twice.
    """
    def run(declaration, packets, noutputs=1, extra="", simulated=False, ninputs=None):
        if ninputs is None:
            ninputs = 2 if declaration.startswith("ARPQuerier") else 1
        # 'A -> B': packets go into A (named 'pre'), B is 'e'
        *before, last = declaration.split(" -> ")
        chain = "".join(f"pre{i} :: {d} -> " for i, d in enumerate(before))
        ins = "".join(f"Idle -> [{i}] {'pre0' if before else 'e'};\n" for i in range(ninputs))
        outs = "".join(f"e[{i}] -> [{i}] rec;\n" for i in range(noutputs))
        r = build_router(f"{chain}e :: {last};\nrec :: ArpIcmpRecord;\n{ins}{outs}{extra}",
                         simulated=simulated)
        e = r.element("pre0" if before else "e")
        for item in packets:
            port, pk = (0, item) if not isinstance(item, tuple) else item
            if not isinstance(pk, PacketObject):
                pk = make_packet(pk)
            e.push_packet(port, pk)
        return r, r.element("rec").log
    return run
