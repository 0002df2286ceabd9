"""ARPQuerier, ARPResponder, ARPTable and ARPPrint: behaviour against Click's."""
import re

import pytest
from harness import inject
from scapy.all import ARP, IP, UDP, Ether
from support import refused, run_config

from clickpy.runtime.packet import PacketObject


def querier(declaration, packets, **kw):
    """inject into an ARPQuerier: input 0 takes IP packets, input 1 ARP replies."""
    return inject(declaration, packets, ninputs=2, **kw)


def make_packet(data, *, dst_ip=None, ts=None, network=None):
    p = PacketObject.make(bytes(data), headroom=64)
    if dst_ip is not None:
        p.dst_ip = dst_ip
    if ts is not None:
        p.timestamp = ts
    if network is not None:
        p.set_network_header(*network)
    return p

ME_IP, ME_MAC = "10.0.0.1", "00:01:02:03:04:05"
PEER_IP, PEER_MAC = "10.0.0.2", "00:0a:0b:0c:0d:0e"


def ip_packet(dst=PEER_IP, src=ME_IP, payload=b"hello"):
    return bytes(IP(src=src, dst=dst) / UDP(sport=1, dport=2) / payload)


def reply(spa=PEER_IP, sha=PEER_MAC, tpa=ME_IP, tha=ME_MAC, op=2):
    return bytes(Ether(dst=tha, src=sha) / ARP(op=op, hwsrc=sha, psrc=spa, hwdst=tha, pdst=tpa))


def request(tpa, spa=PEER_IP, sha=PEER_MAC):
    return bytes(Ether(dst="ff:ff:ff:ff:ff:ff", src=sha) / ARP(op=1, hwsrc=sha, psrc=spa, pdst=tpa))


# --- ARPQuerier ------------------------------------------------------------------


def test_querier_queries_then_sends_queued_packets_after_reply():
    q = f"ARPQuerier({ME_IP}, {ME_MAC})"
    pk = [make_packet(ip_packet(payload=b"one"), dst_ip=PEER_IP),
          make_packet(ip_packet(payload=b"two"), dst_ip=PEER_IP),
          (1, reply())]
    r, rec = querier(q, pk, noutputs=1)
    assert len(rec.log) == 3
    query = Ether(rec.log[0].data)
    assert query.dst == "ff:ff:ff:ff:ff:ff" and query.src == ME_MAC and query.type == 0x0806
    assert query[ARP].op == 1 and query[ARP].psrc == ME_IP and query[ARP].pdst == PEER_IP
    assert query[ARP].hwsrc == ME_MAC and query[ARP].hwdst == "00:00:00:00:00:00"
    # the waiting packets leave in arrival order, Ethernet-encapsulated
    for entry, payload in zip(rec.log[1:], (b"one", b"two")):
        f = Ether(entry.data)
        assert f.dst == PEER_MAC and f.src == ME_MAC and f.type == 0x0800
        assert bytes(f[UDP].payload) == payload
    assert r.read("e.queries") == "1"
    assert r.read("e.responses") == "1"
    assert r.read("e.count") == "1"
    assert r.read("e.length") == "0"
    assert PEER_IP in r.read("e.table") and PEER_MAC.upper().replace(":", "-") in r.read("e.table")
    # now known: the next packet goes straight out
    r.element("e").push_packet(0, make_packet(ip_packet(payload=b"3"), dst_ip=PEER_IP))
    assert Ether(rec.log[3].data).dst == PEER_MAC and r.read("e.queries") == "1"


def test_querier_two_outputs_queries_on_output_1():
    r, rec = querier(f"ARPQuerier({ME_IP}, {ME_MAC})",
                     [make_packet(ip_packet(), dst_ip=PEER_IP), (1, reply())], noutputs=2)
    assert [x.port for x in rec.log] == [1, 0]


def test_querier_broadcast_multicast_and_zero():
    pk = [make_packet(ip_packet(dst="255.255.255.255"), dst_ip="255.255.255.255"),
          make_packet(ip_packet(dst="10.0.0.255"), dst_ip="10.0.0.255"),
          make_packet(ip_packet(dst="224.1.2.3"), dst_ip="239.129.2.3"),
          make_packet(ip_packet(), dst_ip="0.0.0.0"),     # no destination annotation
          make_packet(ip_packet())]
    r, rec = querier(f"ARPQuerier({ME_IP}/24, {ME_MAC})", pk)
    assert [Ether(x.data).dst for x in rec.log] == [
        "ff:ff:ff:ff:ff:ff", "ff:ff:ff:ff:ff:ff", "01:00:5e:01:02:03"]
    assert r.read("e.drops") == "2"
    assert r.read("e.queries") == "0"


def test_querier_broadcast_keyword():
    pk = [make_packet(ip_packet(dst="10.9.9.9"), dst_ip="10.9.9.9"),
          make_packet(ip_packet(dst="10.0.0.255"), dst_ip="10.0.0.255")]
    r, rec = querier(f"ARPQuerier({ME_IP}/24, {ME_MAC}, BROADCAST 10.9.9.9)", pk)
    assert Ether(rec.log[0].data).dst == "ff:ff:ff:ff:ff:ff"
    assert Ether(rec.log[0].data).type == 0x0800
    assert Ether(rec.log[1].data).type == 0x0806       # 10.0.0.255 is not broadcast now: queried
    assert r.read("e.broadcast") == "10.9.9.9"
    r.write("e.broadcast", "10.0.0.255")
    r.element("e").push_packet(0, make_packet(ip_packet(dst="10.0.0.255"), dst_ip="10.0.0.255"))
    assert Ether(rec.log[2].data).type == 0x0800


def test_querier_entry_packet_capacity_drops():
    pk = [make_packet(ip_packet(payload=bytes([i])), dst_ip=PEER_IP) for i in range(6)]
    r, rec = querier(f"ARPQuerier({ME_IP}, {ME_MAC}, ENTRY_PACKET_CAPACITY 2)", pk + [(1, reply())])
    assert len(rec.log) == 1 + 2
    assert [bytes(Ether(x.data)[UDP].payload) for x in rec.log[1:]] == [b"\x00", b"\x01"]
    assert "4 packets killed" in r.read("e.stats")


def test_querier_capacity_slims_oldest():
    pk = [make_packet(ip_packet(dst=f"10.0.1.{i}"), dst_ip=f"10.0.1.{i}") for i in range(1, 11)]
    r, rec = querier(f"ARPQuerier({ME_IP}, {ME_MAC}, CAPACITY 4)", pk)
    assert int(r.read("e.length")) <= 4
    assert int(r.read("e.queries")) == 10


def test_querier_responses_ignore_bad_frames():
    bad = [b"", b"\x00" * 10, reply()[:41],
           reply(op=1),                               # a request, not a reply
           reply(sha="01:00:5e:00:00:01"),            # multicast sender
           bytes(Ether(dst=ME_MAC, src=PEER_MAC, type=0x0800) / (b"\x00" * 28))]
    r, rec = querier(f"ARPQuerier({ME_IP}, {ME_MAC})", [(1, b) for b in bad])
    assert rec.log == []
    assert r.read("e.count") == "0"


@pytest.mark.parametrize("n", range(0, 60, 3))
def test_querier_short_ip_packets_never_crash(n):
    data = ip_packet()[:n]
    r, rec = querier(f"ARPQuerier({ME_IP}, {ME_MAC})",
                     [make_packet(data, dst_ip=PEER_IP), (1, reply()), (1, reply()[:n])])
    assert len(rec.log) == 2
    assert Ether(rec.log[1].data).dst == PEER_MAC and rec.log[1].data[14:] == data


def test_querier_insert_delete_clear_handlers():
    r, rec = querier(f"ARPQuerier({ME_IP}, {ME_MAC})", [])
    r.write("e.insert", f"{PEER_IP} {PEER_MAC}")
    r.element("e").push_packet(0, make_packet(ip_packet(), dst_ip=PEER_IP))
    assert Ether(rec.log[0].data).dst == PEER_MAC
    r.write("e.delete", PEER_IP)
    r.element("e").push_packet(0, make_packet(ip_packet(), dst_ip=PEER_IP))
    assert Ether(rec.log[1].data).type == 0x0806
    r.write("e.clear", "")
    assert r.read("e.queries") == "0" and r.read("e.length") == "0"
    with pytest.raises(Exception):
        r.write("e.insert", "bogus")


def test_querier_table_shared_with_arptable():
    r, rec = querier(f"ARPQuerier({ME_IP}, {ME_MAC}, TABLE t)", [], extra="t :: ARPTable;")
    r.write("t.insert", f"{PEER_IP} {PEER_MAC}")
    r.element("e").push_packet(0, make_packet(ip_packet(), dst_ip=PEER_IP))
    assert Ether(rec.log[0].data).dst == PEER_MAC
    # The same entries; the last column is each entry's age, which moves on
    # between the two reads of a router running in real time.
    from_querier, table = (r.read(h).splitlines() for h in ("e.table", "t.table"))
    assert [line.rsplit(" ", 1)[0] for line in from_querier] == [line.rsplit(" ", 1)[0] for line in table]
    assert from_querier and all(float(line.rsplit(" ", 1)[1]) < 5 for line in from_querier + table)


def test_querier_retries_are_rate_limited_simtime():
    # One packet every 30 ms for 3 s: at most one query per 100 ms (at 0,
    # 0.12, ..., 1.08 s), then after ten unanswered queries one per 2 s.
    out = run_config(
        f"TimedSource(0.03, \\<{ip_packet().hex()}>, LIMIT 100, STOP true) -> SetIPAddress({PEER_IP})"
        f" -> a :: ARPQuerier({ME_IP}, {ME_MAC}) -> Discard; Idle -> [1]a;",
        "--simtime", "-h", "a.queries", "-h", "a.length")
    assert out.returncode == 0, out.stderr
    queries, length = re.findall(r"^(\d+)$", out.stdout, re.M)
    assert int(queries) == 10
    assert int(length) == 100


def test_querier_poll_timeout_repolls_known_entry_unicast():
    out = run_config(
        f"TimedSource(1, \\<{ip_packet().hex()}>, LIMIT 5, STOP true) -> SetIPAddress({PEER_IP})"
        f" -> a :: ARPQuerier({ME_IP}, {ME_MAC}, POLL_TIMEOUT 2) -> c :: Classifier(12/0806, -);"
        f" c[0] -> Print(q, 6) -> Discard; c[1] -> Discard; Idle -> [1]a;"
        f" Script(write a.insert {PEER_IP} {PEER_MAC})",
        "--simtime", "-h", "a.queries")
    assert out.returncode == 0, out.stderr
    # Packets at 1..5 s; the entry (made at 0 s, never refreshed) is polled
    # by each packet from 2 s on, while the packets still leave.
    polls = [l for l in out.stderr.splitlines() if l.startswith("q:")]
    assert len(polls) == 4
    assert out.stdout.strip().endswith("4")
    assert all("000a0b0c 0d0e" in l for l in polls)        # unicast to the known address


def test_querier_entry_timeout_simtime():
    out = run_config(
        f"a :: ARPQuerier({ME_IP}, {ME_MAC}, TIMEOUT 2); Idle -> a -> Discard; Idle -> [1]a;"
        f" Script(write a.insert {PEER_IP} {PEER_MAC}, print $(a.table), wait 3, print $(a.table), stop)",
        "--simtime")
    assert out.returncode == 0, out.stderr
    first, second = out.stdout.splitlines()[:2]
    assert first.startswith(f"{PEER_IP} 1 00-0A-0B-0C-0D-0E")
    assert second.startswith(f"{PEER_IP} 0 00-0A-0B-0C-0D-0E")      # expired after 2 s


def test_querier_bad_configs():
    for conf in ("", "10.0.0.1", "10.0.0.1, bogus", "bogus, 00:01:02:03:04:05",
                 "10.0.0.1, 00:01:02:03:04:05, CAPACITY_SLIM_FACTOR 0",
                 "10.0.0.1, 00:01:02:03:04:05, FOO 1"):
        out = run_config(f"Idle -> a :: ARPQuerier({conf}) -> Discard; Idle -> [1]a;", "-q")
        assert out.returncode != 0, conf
        assert "ARPQuerier" in out.stderr


def test_querier_table_element_is_not_arptable():
    out = run_config(f"Idle -> a :: ARPQuerier({ME_IP}, {ME_MAC}, TABLE d) -> d :: Discard; Idle -> [1]a;")
    assert refused(out, "ARPQuerier"), out.stderr


# --- ARPResponder -------------------------------------------------------------------


def test_responder_answers_multiple_entries_and_prefixes():
    decl = ("ARPResponder(10.0.0.1 10.0.0.9 00:0a:0b:0c:0d:01, 18.26.7.0/24 00:0a:0b:0c:0d:02,"
            " 18.26.7.5 00:0a:0b:0c:0d:03)")
    pk = [request(t) for t in ("10.0.0.1", "10.0.0.9", "18.26.7.77", "18.26.7.5", "10.0.0.2")]
    r, rec = inject(decl, pk, noutputs=2)
    assert [x.port for x in rec.log] == [0, 0, 0, 0, 1]
    answers = [Ether(x.data) for x in rec.log[:4]]
    assert [a[ARP].hwsrc for a in answers] == [
        "00:0a:0b:0c:0d:01", "00:0a:0b:0c:0d:01", "00:0a:0b:0c:0d:02", "00:0a:0b:0c:0d:03"]
    for a, t in zip(answers, ("10.0.0.1", "10.0.0.9", "18.26.7.77", "18.26.7.5")):
        assert a.dst == PEER_MAC and a.src == a[ARP].hwsrc and a.type == 0x0806
        assert a[ARP].op == 2 and a[ARP].psrc == t and a[ARP].pdst == PEER_IP
        assert a[ARP].hwdst == PEER_MAC
    assert r.read("e.lookup", param="18.26.7.200").strip().lower() in ("00-0a-0b-0c-0d-02", "00:0a:0b:0c:0d:02")


def test_responder_ignores_non_requests_and_bad_frames():
    good = request("10.0.0.1")
    bad = [reply(tpa="10.0.0.1"), good[:41], b"", good[:14],
           good[:12] + b"\x08\x00" + good[14:],             # wrong ethertype
           good[:14] + b"\x00\x06" + good[16:],             # wrong hardware type
           good[:16] + b"\x86\xdd" + good[18:]]             # wrong protocol
    r, rec = inject("ARPResponder(10.0.0.1 00:0a:0b:0c:0d:01)", bad + [good], noutputs=2)
    assert [x.port for x in rec.log] == [1] * len(bad) + [0]
    assert [x.data for x in rec.log[:-1]] == bad


@pytest.mark.parametrize("n", range(0, 43))
def test_responder_truncated_one_output(n):
    r, rec = inject("ARPResponder(10.0.0.1 00:0a:0b:0c:0d:01)", [request("10.0.0.1")[:n]])
    assert len(rec.log) == (1 if n == 42 else 0)


def test_responder_add_remove_handlers():
    r, rec = inject("ARPResponder(10.0.0.1 00:0a:0b:0c:0d:01)", [])
    r.write("e.add", "10.1.0.0/16 00:0a:0b:0c:0d:07")
    assert "10.1.0.0/16" in r.read("e.table")
    r.element("e").push_packet(0, make_packet(request("10.1.2.3")))
    assert Ether(rec.log[0].data)[ARP].hwsrc == "00:0a:0b:0c:0d:07"
    r.write("e.remove", "10.1.0.0/16")
    assert "10.1.0.0/16" not in r.read("e.table")
    with pytest.raises(Exception):
        r.write("e.remove", "10.1.0.0/16")


def test_responder_bad_config():
    for conf in ("10.0.0.1", "bogus 00:01:02:03:04:05", "10.0.0.1 00:01:02:03:04:05 00:01:02:03:04:06"):
        out = run_config(f"Idle -> ARPResponder({conf}) -> Discard", "-q")
        assert refused(out, "ARPResponder"), (conf, out.stderr)


# --- ARPTable ------------------------------------------------------------------------


def test_arptable_handlers():
    out = run_config(
        "t :: ARPTable(TIMEOUT 10);"
        f" Script(write t.insert {PEER_IP} {PEER_MAC}, write t.insert 10.0.0.3 00:00:00:00:00:03,"
        " print $(t.count), print $(t.table), write t.delete 10.0.0.3, print $(t.count),"
        " wait 11, print $(t.table), write t.clear, print $(t.count), stop)", "--simtime")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0] == "2"
    assert any(PEER_IP in l and "00-0A-0B-0C-0D-0E" in l for l in lines)
    # delete, as Click's, makes the entry an invalid broadcast one
    assert any(l.startswith("10.0.0.3 0 FF-FF-FF-FF-FF-FF") for l in lines)
    assert lines[-1] == "0"


def test_arptable_entry_timeout_simtime():
    out = run_config(
        "t :: ARPTable(TIMEOUT 5);"
        f" Script(write t.insert {PEER_IP} {PEER_MAC}, wait 3, print $(t.table), wait 3, print $(t.table), stop)",
        "--simtime")
    assert out.returncode == 0, out.stderr
    first, second = out.stdout.split("\n\n")[:2] if "\n\n" in out.stdout else (out.stdout, "")
    assert re.search(r"10\.0\.0\.2 1 00-0A-0B-0C-0D-0E", out.stdout)     # valid at 3 s
    assert re.search(r"10\.0\.0\.2 0 00-0A-0B-0C-0D-0E", out.stdout)     # expired at 6 s


def test_arptable_bad_insert():
    out = run_config("t :: ARPTable; Script(write t.insert 10.0.0.1, stop)", "--simtime")
    assert "t.insert" in out.stderr or "error" in out.stderr.lower()


# --- ARPPrint ------------------------------------------------------------------------


def test_arpprint_output(capfd):
    pk = [make_packet(request("10.0.0.1")[14:], network=(0, 28)),
          make_packet(reply()[14:], network=(0, 28)),
          make_packet(b"\x00\x01", network=(0, 0)),
          make_packet(b"\x00\x01")]                   # no network header: not printed
    r, rec = inject("ARPPrint(lbl, TIMESTAMP false)", pk)
    assert len(rec.log) == 4
    err = capfd.readouterr().err.splitlines()
    assert err[0] == "lbl: arp who-has 10.0.0.1 tell 10.0.0.2"
    assert err[1] == "lbl: arp reply 10.0.0.2 is-at 00-0A-0B-0C-0D-0E"
    assert err[2] == "lbl: truncated-arp (2)"
    assert len(err) == 3


def test_arpprint_timestamp_and_ether(capfd):
    frame = request("10.0.0.1")
    p = make_packet(frame, ts=1_000_000_000_500_000_000, network=(14, 28))
    r, rec = inject("ARPPrint(x, ETHER true)", [p])
    err = capfd.readouterr().err
    assert err == ("x: 1000000000.500000: 00-0A-0B-0C-0D-0E > FF-FF-FF-FF-FF-FF:"
                   " arp who-has 10.0.0.1 tell 10.0.0.2\n")
