"""Helpers for the Ethernet element tests: push frames through one element, record what leaves.

``EtherTestRecord`` (a Python element, named so no library element clashes)
records, per packet pushed to any of its inputs: the input port, the data,
the VLAN TCI annotation (host order; Click keeps it in network order at
offset 20) and the MAC and network header offsets from the data start.
"""
import pytest
import support
from support import build_router

from clickpy.runtime.element import Element
from clickpy.runtime.packet import PacketObject, live_packets

VLAN_TCI_ANNO_OFFSET = 20


class EtherTestRecord(Element):
    port_count = "1-/0"
    processing = "h"
    arguments = None

    def configure(self, conf, errh):
        self.log = []

    def push(self, port, packet):
        anno = packet.anno
        tci = int.from_bytes(anno[VLAN_TCI_ANNO_OFFSET:VLAN_TCI_ANNO_OFFSET + 2], "big")
        self.log.append(dict(port=port, data=packet.data, tci=tci, anno=anno,
                             mac=packet.mac_offset, network=packet.network_offset))


def frame(data: bytes, tci: int | None = None, headroom: int = 48) -> PacketObject:
    p = PacketObject.make(data, headroom=headroom)
    if tci is not None:
        p.set_anno(VLAN_TCI_ANNO_OFFSET, tci.to_bytes(2, "big"))
    return p


@pytest.fixture
def through():
    """through(DECLARATION, frames, noutputs=1) -> (router, log).

    Builds 'Idle -> e :: DECLARATION', wires its outputs to a recorder and
    pushes each frame (bytes, or (bytes, vlan_tci_anno)) into it.
    """
    def run(declaration, frames, noutputs=1, headroom=48):
        outs = "".join(f"e[{i}] -> [{i}] rec;\n" for i in range(noutputs))
        r = build_router(f"Idle -> e :: {declaration};\nrec :: EtherTestRecord;\n{outs}")
        e = r.element("e")
        for f in frames:
            data, tci = (f, None) if isinstance(f, (bytes, bytearray)) else f
            e.push_packet(0, frame(bytes(data), tci, headroom))
        return r, r.element("rec").log
    return run


@pytest.fixture
def run():
    """run(config): build a router, run it to the end, return it."""
    def run(config):
        r = build_router(config, simulated=True)
        r.run()
        return r
    return run


@pytest.fixture(autouse=True)
def no_leaks():
    import gc

    before = live_packets()
    yield
    support.clean_up_routers()
    gc.collect()
    assert live_packets() <= before, "a test leaked packet descriptors"
