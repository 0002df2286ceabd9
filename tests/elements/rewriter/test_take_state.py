"""take_state of the rewriters: a reload's new rewriter carries on every
mapping of the old one (so a connection through a NAT keeps its addresses
and ports both ways), allocates new flows around them, keeps expiring them,
and gives them back on rollback."""
import pytest
from harness import inject, make_packet
from rewriter_helpers import icmp, tcp, udp
from scapy.all import ICMP, IP, TCP, UDP

from clickpy.runtime.error_handler import ElementErrors

NAT = "pattern 198.51.100.1 1024-2047# - - 0 1"


class RW:
    """A rewriter 'e' with two inputs and two outputs, in simulated time; push() returns what came out."""

    def __init__(self, decl, ninputs=2, noutputs=2):
        self.router, self.rec = inject(decl, [], noutputs=noutputs, ninputs=ninputs, simulated=True)
        self.e = self.router.element("e")

    def push(self, data, port=0):
        n = len(self.rec.log)
        self.e.push_packet(port, make_packet({"data": data, "net": 0}))
        out = self.rec.log[n:]
        return (out[0].port, out[0].data) if out else None

    def read(self, handler):
        return self.router.read(f"e.{handler}")

    def run(self, seconds):
        from support import run_for
        run_for(self.router, seconds)


def take(new, old):
    errh = ElementErrors()
    carried = new.e.take_state(old.e, errh)
    return carried, [text for _, text in errh.items]


def ports(data):
    pkt = IP(data)
    layer = pkt[TCP] if TCP in pkt else pkt[UDP]
    return pkt.src, layer.sport, pkt.dst, layer.dport


def test_nat_flows_keep_their_mapping_both_ways_and_new_flows_avoid_their_ports():
    old = RW(f"IPRewriter({NAT}, drop)")
    syn = tcp("10.0.0.1", 1234, "192.0.2.1", 80, flags="S")
    query = udp("10.0.0.2", 5000, "192.0.2.1", 53)
    tcp_out, udp_out = old.push(syn), old.push(query)
    assert ports(tcp_out[1])[:2] == ("198.51.100.1", 1024)
    new = RW(f"IPRewriter({NAT}, drop, TCP_TIMEOUT 7200)")
    carried, messages = take(new, old)
    assert carried == {"mappings": 2} and messages == []
    assert (old.read("nmappings"), new.read("nmappings")) == ("0", "2")
    assert old.e.lookup(0x0A000001, 1234, 0xC0000201, 80) is None
    # Replies find their way back (input 1 would drop a packet without mapping).
    reply = new.push(tcp("192.0.2.1", 80, "198.51.100.1", 1024, flags="SA"), port=1)
    assert reply[0] == 1 and ports(reply[1]) == ("192.0.2.1", 80, "10.0.0.1", 1234)
    nat_port = ports(udp_out[1])[1]
    reply = new.push(udp("192.0.2.1", 53, "198.51.100.1", nat_port), port=1)
    assert reply[0] == 1 and ports(reply[1]) == ("192.0.2.1", 53, "10.0.0.2", 5000)
    # A new connection to the same server does not get the carried flow's port.
    other = new.push(tcp("10.0.0.3", 1234, "192.0.2.1", 80, flags="S"))
    assert ports(other[1])[:2] == ("198.51.100.1", 1025)
    # Forward: the same rewrite as before.
    assert new.push(syn) == tcp_out
    assert new.push(query) == udp_out
    assert new.read("nmappings") == "3"


def test_rollback_gives_the_mappings_back():
    old = RW(f"IPRewriter({NAT}, drop)")
    syn = tcp("10.0.0.1", 1234, "192.0.2.1", 80, flags="S")
    first = old.push(syn)
    new = RW(f"IPRewriter({NAT}, drop, TCP_TIMEOUT 7200)")
    take(new, old)
    new.push(tcp("10.0.0.3", 1, "192.0.2.1", 80, flags="S"))   # made by new before the rollback
    errh = ElementErrors()
    assert old.e.take_state(new.e, errh) == {"mappings": 2}
    assert errh.items == []
    assert (old.read("nmappings"), new.read("nmappings")) == ("2", "0")
    assert old.push(syn) == first
    assert new.e.lookup(0x0A000001, 1234, 0xC0000201, 80) is None
    # And forward again: the tables move back and forth.
    assert take(new, old)[0] == {"mappings": 2}
    assert new.push(syn) == first


def test_old_cleanup_leaves_the_carried_mappings_alone():
    old = RW(f"IPRewriter({NAT}, drop)")
    syn = tcp("10.0.0.1", 1234, "192.0.2.1", 80, flags="S")
    first = old.push(syn)
    new = RW(f"IPRewriter({NAT}, drop, TCP_TIMEOUT 7200)")
    take(new, old)
    old.e.cleanup(0)
    assert new.read("nmappings") == "1"
    assert new.push(syn) == first


def test_a_new_pool_serves_new_flows_while_old_flows_keep_theirs():
    old = RW(f"IPRewriter({NAT}, drop)")
    syn = tcp("10.0.0.1", 1234, "192.0.2.1", 80, flags="S")
    first = old.push(syn)
    new = RW("IPRewriter(pattern 203.0.113.9 1024-2047# - - 0 1, drop)")
    assert take(new, old)[0] == {"mappings": 1}
    assert new.push(syn) == first
    reply = new.push(tcp("192.0.2.1", 80, "198.51.100.1", 1024, flags="SA"), port=1)
    assert ports(reply[1])[2:] == ("10.0.0.1", 1234)
    assert ports(new.push(tcp("10.0.0.3", 1, "192.0.2.1", 80, flags="S"))[1])[0] == "203.0.113.9"


def test_flows_the_new_configuration_cannot_serve_are_dropped_and_reported():
    old = RW(f"TCPRewriter({NAT}, keep 0 1)")
    old.push(tcp("10.0.0.1", 1234, "192.0.2.1", 80, flags="S"))
    old.push(tcp("10.0.0.5", 1, "192.0.2.1", 80, flags="S"), port=1)
    # One input, one output: input 1's flow and output 1 are gone.
    new = RW("TCPRewriter(pattern 198.51.100.1 1024-2047# - - 0 0)", ninputs=1, noutputs=1)
    carried, messages = take(new, old)
    assert carried is None
    assert messages == ["2 mappings dropped: their input or output is not in the new configuration"]
    assert old.read("nmappings") == "0"


def test_mappings_over_the_new_capacity_are_dropped_and_reported():
    old = RW(f"UDPRewriter({NAT}, drop, GUARANTEE 0)")
    for i in range(5):
        old.push(udp("10.0.0.1", 1000 + i, "192.0.2.1", 53))
    new = RW(f"UDPRewriter({NAT}, drop, GUARANTEE 0, MAPPING_CAPACITY 3)")
    carried, messages = take(new, old)
    assert carried == {"mappings": 3}
    assert messages == ["2 mappings dropped: over capacity 3"]
    assert new.read("capacity") == "3"
    # Rollback: the old capacity comes back with the flows.
    assert old.e.take_state(new.e, ElementErrors()) == {"mappings": 3}
    assert old.read("capacity") != "3"


def test_carried_mappings_keep_expiring_in_the_new_element():
    old = RW(f"UDPRewriter({NAT}, drop, TIMEOUT 10, GUARANTEE 0, REAP_INTERVAL 1)")
    old.push(udp("10.0.0.1", 1000, "192.0.2.1", 53))
    new = RW(f"UDPRewriter({NAT}, drop, TIMEOUT 10, GUARANTEE 0, REAP_INTERVAL 2)")
    take(new, old)
    new.run(5)
    assert new.read("nmappings") == "1"
    new.run(10)
    assert new.read("nmappings") == "0"


CLASSES = [
    ("TCPRewriter", NAT, tcp("10.0.0.1", 1234, "192.0.2.1", 80, flags="S"),
     tcp("10.0.0.2", 1234, "192.0.2.1", 80, flags="S")),
    ("UDPRewriter", NAT, udp("10.0.0.1", 1234, "192.0.2.1", 53), udp("10.0.0.2", 1234, "192.0.2.1", 53)),
    ("IPAddrRewriter", "pattern 198.51.100.10-198.51.100.20# - 0 1", udp("10.0.0.1", 1234, "192.0.2.1", 53),
     udp("10.0.0.2", 1234, "192.0.2.1", 53)),
    ("IPAddrPairRewriter", "pattern 198.51.100.10-198.51.100.20# - 0 1", udp("10.0.0.1", 1, "192.0.2.1", 53),
     udp("10.0.0.2", 1, "192.0.2.1", 53)),
    # (no other flow first: ICMPPingRewriter's search for a free identifier
    # does not see identifiers in use, only where its sequence left off; its
    # carried flow is shown by the reply test below)
    ("ICMPPingRewriter", "pattern 203.0.113.1 - 0-65535# 0 1", icmp("10.0.0.1", "8.8.8.8", id=77, seq=1), None),
]


@pytest.mark.parametrize("cls, spec, packet, other", CLASSES, ids=[c[0] for c in CLASSES])
def test_every_rewriter_carries_its_mappings(cls, spec, packet, other):
    old = RW(f"{cls}({spec}, drop)")
    first = old.push(packet)
    assert first[0] == 0
    new = RW(f"{cls}({spec}, drop, TIMEOUT 99)")
    assert take(new, old) == ({"mappings": 1}, [])
    # Another flow first: had the mapping not come over, the old flow would now
    # get the next value of the range, not the one it had.
    if other is not None:
        assert new.push(other)[1] != first[1]
    assert new.push(packet) == first
    carried = old.e.take_state(new.e, ElementErrors())
    assert carried == {"mappings": 1 if other is None else 2}
    assert old.push(packet) == first


def test_a_rewriter_takes_nothing_from_another_class():
    old = RW(f"TCPRewriter({NAT}, drop)")
    old.push(tcp("10.0.0.1", 1234, "192.0.2.1", 80, flags="S"))
    new = RW(f"IPRewriter({NAT}, drop)")
    assert take(new, old) == (None, [])
    assert old.read("nmappings") == "1"


def test_icmp_ping_rewriter_reply_after_reload():
    old = RW("ICMPPingRewriter(pattern 203.0.113.1 - 0-65535# 0 1, drop)")
    out = old.push(icmp("10.0.0.1", "8.8.8.8", id=77, seq=1))
    ident = IP(out[1])[ICMP].id
    new = RW("ICMPPingRewriter(pattern 203.0.113.2 - 0-65535# 0 1, drop)")
    take(new, old)
    back = new.push(icmp("8.8.8.8", "203.0.113.1", type=0, id=ident, seq=1), port=1)
    assert back[0] == 1
    assert (IP(back[1]).dst, IP(back[1])[ICMP].id) == ("10.0.0.1", 77)


def test_rewriters_sharing_a_flow_set_hand_over_their_places_in_it():
    # b is replaced by c; both share a's flow set (MAPPING_CAPACITY), as a
    # reload that keeps a makes them.
    from support import build_router
    spec = f"{NAT}, drop, MAPPING_CAPACITY a"
    r = build_router(f"a :: UDPRewriter({NAT}, drop); b :: UDPRewriter({spec}); c :: UDPRewriter({spec});"
                     "rec :: HarnessRecord;"
                     + "".join(f"Idle -> [{i}]{x}; {x}[{i}] -> [{i}]rec;" for x in "abc" for i in (0, 1)),
                     simulated=True)
    rec, b, c = r.element("rec"), r.element("b"), r.element("c")

    def push(e, data):
        e.push_packet(0, make_packet({"data": data, "net": 0}))
        return rec.log[-1].data

    query = udp("10.0.0.1", 1000, "192.0.2.1", 53)
    first = push(b, query)
    push(r.element("a"), udp("10.0.0.9", 1, "192.0.2.9", 53))
    errh = ElementErrors()
    assert c.take_state(b, errh) == {"mappings": 1} and errh.items == []
    assert (r.read("b.nmappings"), r.read("c.nmappings"), r.read("a.nmappings")) == ("0", "1", "1")
    b.cleanup(0)                # only b's own flows (none now) go; the set stays
    assert (r.read("c.nmappings"), r.read("a.nmappings")) == ("1", "1")
    assert push(c, query) == first
