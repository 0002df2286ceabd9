"""take_state of AggregateIPFlows: a reload's new element carries on the old
one's flows and numbering, and gives them back on rollback."""
import sys

from harness import inject, make_packet
from scapy.all import IP, TCP, UDP

from clickpy.runtime.error_handler import ElementErrors

AGGREGATE, PAINT = 20, 16       # annotation offsets


def pkt(src, sport, dst, dport, proto=TCP, ts=1000.0, **kw):
    return make_packet({"data": bytes(IP(src=src, dst=dst) / proto(sport=sport, dport=dport, **kw)),
                        "net": 0, "ts": ts})


def push(router, rec, packet):
    router.element("e").push_packet(0, packet)
    return flow_of(rec.log[-1])


def flow_of(record):
    return int.from_bytes(record.anno[AGGREGATE:AGGREGATE + 4], sys.byteorder), record.anno[PAINT]


def test_flows_keep_their_numbers_and_new_flows_go_on_from_the_old_count():
    old, old_rec = inject("AggregateIPFlows", [], noutputs=2)
    assert push(old, old_rec, pkt("1.0.0.1", 1000, "2.0.0.2", 80, flags="S")) == (1, 0)
    assert push(old, old_rec, pkt("1.0.0.1", 53, "2.0.0.2", 53, proto=UDP)) == (2, 0)
    new, rec = inject("AggregateIPFlows(UDP_TIMEOUT 120)", [], noutputs=2)
    errh = ElementErrors()
    assert new.element("e").take_state(old.element("e"), errh) == {"flows": 2}
    assert errh.items == []
    # The reply belongs to flow 1 (paint 1: the reverse direction); a new flow is 3.
    assert push(new, rec, pkt("2.0.0.2", 80, "1.0.0.1", 1000, flags="SA", ts=1001.0)) == (1, 1)
    assert push(new, rec, pkt("2.0.0.2", 53, "1.0.0.1", 53, proto=UDP, ts=1001.0)) == (2, 1)
    assert push(new, rec, pkt("1.0.0.1", 1001, "2.0.0.2", 80, flags="S", ts=1002.0)) == (3, 0)
    # Rollback: old gets all three flows and the count back; new starts afresh.
    assert old.element("e").take_state(new.element("e"), ElementErrors()) == {"flows": 3}
    assert push(old, old_rec, pkt("1.0.0.1", 1001, "2.0.0.2", 80, ts=1003.0)) == (3, 0)
    assert push(old, old_rec, pkt("1.0.0.9", 1, "2.0.0.2", 80, flags="S", ts=1003.0)) == (4, 0)
    assert push(new, rec, pkt("1.0.0.9", 1, "2.0.0.2", 80, flags="S", ts=1003.0)) == (1, 0)


def test_an_empty_element_carries_nothing():
    old, _ = inject("AggregateIPFlows", [], noutputs=2)
    new, _ = inject("AggregateIPFlows", [], noutputs=2)
    assert new.element("e").take_state(old.element("e"), ElementErrors()) is None


def test_held_fragments_come_along():
    from scapy.all import Raw
    old, old_rec = inject("AggregateIPFlows", [], noutputs=2)
    later = bytes(IP(src="1.0.0.1", dst="2.0.0.2", proto=17, frag=3) / Raw(b"y" * 16))
    old.element("e").push_packet(0, make_packet({"data": later, "net": 0, "ts": 1000.0}))
    assert old_rec.log == []                        # held until its first fragment comes
    new, rec = inject("AggregateIPFlows", [], noutputs=2)
    assert new.element("e").take_state(old.element("e"), ElementErrors()) == {"packets": 1}
    first = bytes(IP(src="1.0.0.1", dst="2.0.0.2", proto=17, flags="MF") / UDP(sport=5, dport=6) / Raw(b"x" * 16))
    new.element("e").push_packet(0, make_packet({"data": first, "net": 0, "ts": 1000.5}))
    new.write("e.clear", "")                        # emits what is held, with its flow's number
    assert sorted(r.data for r in rec.log) == sorted([first, later])
    assert {flow_of(r) for r in rec.log} == {(1, 0)}
