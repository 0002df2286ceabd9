"""take_state of ARPQuerier and ARPTable: a reload's new element carries on
the old one's entries and the packets waiting for an answer, and gives them
back on rollback."""
from harness import inject
from scapy.all import UDP, Ether
from support import build_router

from clickpy.runtime.error_handler import ElementErrors
from clickpy.runtime.packet import PacketObject

ME_IP, ME_MAC = "10.0.0.1", "00:01:02:03:04:05"
PEER_IP, PEER_MAC = "10.0.0.2", "00:0a:0b:0c:0d:0e"


def ip_to(dst, payload):
    from scapy.all import IP
    p = PacketObject.make(bytes(IP(src=ME_IP, dst=dst) / UDP(sport=1, dport=2) / payload), headroom=64)
    p.dst_ip = dst
    return p


def arp_reply(spa, sha):
    from scapy.all import ARP
    return PacketObject.make(bytes(Ether(dst=ME_MAC, src=sha) / ARP(op=2, hwsrc=sha, psrc=spa, hwdst=ME_MAC,
                                                                    pdst=ME_IP)), headroom=64)


def querier(config="", packets=()):
    return inject(f"ARPQuerier({ME_IP}, {ME_MAC}{config})", list(packets), ninputs=2, noutputs=1)


def payloads(rec, start=0):
    return [bytes(Ether(x.data)[UDP].payload) for x in rec.log[start:] if Ether(x.data).type == 0x0800]


def test_querier_carries_entries_and_waiting_packets_and_gives_them_back():
    # Old: PEER is known; 10.0.0.9 has two packets waiting for an answer.
    old, old_rec = querier(packets=[(1, arp_reply(PEER_IP, PEER_MAC)), ip_to("10.0.0.9", b"a"),
                                    ip_to("10.0.0.9", b"b")])
    new, rec = querier(", TIMEOUT 600")
    errh = ElementErrors()
    carried = new.element("e").take_state(old.element("e"), errh)
    assert carried == {"entries": 2, "packets": 2, "counts": 1} and errh.items == []
    assert (old.read("e.count"), old.read("e.length")) == ("0", "0")
    assert (new.read("e.count"), new.read("e.length"), new.read("e.queries")) == ("2", "2", "1")
    # The known entry answers at once: no query.
    new.element("e").push_packet(0, ip_to(PEER_IP, b"known"))
    assert Ether(rec.log[-1].data).dst == PEER_MAC and new.read("e.queries") == "1"
    # The answer the old element asked for releases the packets that waited there.
    new.element("e").push_packet(1, arp_reply("10.0.0.9", "00:00:00:00:00:09"))
    assert payloads(rec) == [b"known", b"a", b"b"]
    # Rollback: both entries (PEER, and 10.0.0.9 now answered) and the counters go back.
    errh = ElementErrors()
    assert old.element("e").take_state(new.element("e"), errh) == {"entries": 2, "counts": 1}
    assert (old.read("e.count"), new.read("e.count"), old.read("e.responses")) == ("2", "0", "2")


def test_querier_keeps_nothing_when_its_addresses_change():
    old, _ = querier(packets=[(1, arp_reply(PEER_IP, PEER_MAC))])
    new, _ = inject(f"ARPQuerier(10.0.0.100, {ME_MAC})", [], ninputs=2, noutputs=1)
    assert new.element("e").take_state(old.element("e"), ElementErrors()) is None
    assert old.read("e.count") == "1"


def test_waiting_packets_over_the_new_capacity_are_dropped_and_reported():
    old, _ = querier(packets=[ip_to(f"10.0.1.{i}", bytes([i])) for i in range(1, 7)])
    assert old.read("e.length") == "6"
    new, _ = querier(", CAPACITY 4")
    errh = ElementErrors()
    carried = new.element("e").take_state(old.element("e"), errh)
    assert carried["dropped"] == 6 - int(new.read("e.length")) > 0
    assert carried["packets"] == int(new.read("e.length"))
    assert errh.items[0][0] == "warning"


def test_querier_that_already_has_entries_refuses():
    old, _ = querier(packets=[(1, arp_reply(PEER_IP, PEER_MAC))])
    new, _ = querier(packets=[(1, arp_reply("10.0.0.3", PEER_MAC))])
    errh = ElementErrors()
    new.element("e").take_state(old.element("e"), errh)
    assert errh.nerrors == 1 and old.read("e.count") == "1"


def test_arptable_carries_its_entries():
    old = build_router("t :: ARPTable")
    old.write("t.insert", f"{PEER_IP} {PEER_MAC}")
    new = build_router("t :: ARPTable(TIMEOUT 60)")
    errh = ElementErrors()
    assert new.element("t").take_state(old.element("t"), errh) == {"entries": 1}
    assert PEER_IP in new.read("t.table") and old.read("t.count") == "0"
    assert old.element("t").take_state(new.element("t"), ElementErrors()) == {"entries": 1}
    assert PEER_IP in old.read("t.table") and new.read("t.count") == "0"
