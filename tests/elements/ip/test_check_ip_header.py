"""CheckIPHeader: valid headers pass marked and trimmed; each kind of bad one is counted."""
import pytest
from harness import feed, run_router
from scapy.all import IP, UDP, Ether, Raw
from support import build_router, run_config

from clickpy.errors import ConfigError


def ip_bytes(**kw):
    return bytes(IP(src=kw.pop("src", "10.0.0.1"), dst=kw.pop("dst", "10.0.0.2"), **kw)
                 / UDP(sport=1000, dport=2000) / Raw(b"payload!"))


GOOD = ip_bytes()


def with_checksum_fixed(data):
    """Recompute the header checksum of (possibly damaged) header bytes."""
    hl = (data[0] & 0x0F) * 4
    h = bytearray(data)
    h[10:12] = b"\0\0"
    s = sum(int.from_bytes(h[i:i + 2], "big") for i in range(0, hl, 2))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    h[10:12] = (~s & 0xFFFF).to_bytes(2, "big")
    return bytes(h)


@pytest.mark.parametrize("burst", [1, 32])
def test_valid_packets_are_marked_trimmed_and_annotated(burst):
    padded = GOOD + b"\xee" * 10      # Ethernet-style padding past the IP length
    key = feed([GOOD, padded])
    r = run_router(f"HarnessFeed({key}) -> Queue(100) -> Unqueue(BURST {burst}) -> c :: CheckIPHeader -> rec :: HarnessRecord")
    log = r.element("rec").log
    assert [x.data for x in log] == [GOOD, GOOD]
    assert all(x.net == 0 and x.transport == 20 and x.dst_ip == "10.0.0.2" for x in log)
    assert r.read("c.drops") == "0"


def test_offset_and_options():
    pkt = bytes(IP(src="1.2.3.4", dst="5.6.7.8", options=b"\x01\x01\x01\x00") / UDP() / Raw(b"x"))
    frame = bytes(Ether()) + pkt
    key = feed([frame])
    r = run_router(f"HarnessFeed({key}) -> CheckIPHeader(14) -> rec :: HarnessRecord")
    [x] = r.element("rec").log
    assert (x.net, x.transport, x.dst_ip) == (14, 14 + 24, "5.6.7.8")
    key = feed([frame])
    r = run_router(f"HarnessFeed({key}) -> CheckIPHeader(OFFSET 14) -> rec :: HarnessRecord")
    assert len(r.element("rec").log) == 1


def bad_packets():
    good = bytearray(GOOD)
    bad_version = with_checksum_fixed(bytes([0x65]) + GOOD[1:])
    bad_hlen = with_checksum_fixed(bytes([0x44]) + GOOD[1:])
    too_long = with_checksum_fixed(GOOD[:2] + (len(GOOD) + 1).to_bytes(2, "big") + GOOD[4:])
    too_short = with_checksum_fixed(GOOD[:2] + (19).to_bytes(2, "big") + GOOD[4:])
    bad_sum = bytes(good[:10]) + bytes([good[10] ^ 0xFF, good[11]]) + bytes(good[12:])
    return {
        "tiny packet": [b"", GOOD[:19]],
        "bad IP version": [bad_version],
        "bad IP header length": [bad_hlen],
        "bad IP length": [too_long, too_short],
        "bad IP checksum": [bad_sum],
    }


@pytest.mark.parametrize("burst", [1, 32])
def test_bad_packets_are_counted_by_reason_and_dropped(burst):
    bad = bad_packets()
    packets = [p for ps in bad.values() for p in ps]
    key = feed([GOOD] + packets + [GOOD])
    r = run_router(f"HarnessFeed({key}) -> Queue(100) -> Unqueue(BURST {burst}) -> c :: CheckIPHeader(DETAILS true)"
                   " -> rec :: HarnessRecord")
    assert [x.data for x in r.element("rec").log] == [GOOD, GOOD]
    assert r.read("c.drops") == str(len(packets))
    details = dict(line.split("\t")[::-1] for line in r.read("c.drop_details").splitlines())
    for reason, ps in bad.items():
        assert details[reason] == str(len(ps)), reason
    assert details["bad source address"] == "0"


def test_bad_packets_go_to_output_1_when_connected():
    bad = [p for ps in bad_packets().values() for p in ps]
    key = feed(bad + [GOOD])
    r = run_router(f"HarnessFeed({key}) -> c :: CheckIPHeader -> [0] rec :: HarnessRecord; c[1] -> [1] rec")
    rec = r.element("rec")
    assert [x.data for x in rec.on(1)] == bad
    assert [x.data for x in rec.on(0)] == [GOOD]


def test_first_bad_packet_prints_once_unless_verbose():
    data = "\\<" + (bytes([0x65]) + GOOD[1:]).hex() + ">"
    r = run_config(f"InfiniteSource(DATA {data}, LIMIT 3, STOP true) -> c :: CheckIPHeader -> Discard")
    assert r.stderr.count("c: IP header check failed: bad IP version") == 1
    r = run_config(f"InfiniteSource(DATA {data}, LIMIT 3, STOP true) -> c :: CheckIPHeader(VERBOSE true) -> Discard")
    assert r.stderr.count("c: IP header check failed: bad IP version") == 3


def test_checksum_false_skips_the_checksum():
    bad_sum = GOOD[:10] + b"\0\0" + GOOD[12:]
    key = feed([bad_sum])
    r = run_router(f"HarnessFeed({key}) -> c :: CheckIPHeader(CHECKSUM false) -> rec :: HarnessRecord")
    assert len(r.element("rec").log) == 1


def test_source_address_checks():
    pkts = [ip_bytes(src="18.26.4.255", dst="1.1.1.1"),     # broadcast source: bad
            ip_bytes(src="0.0.0.0", dst="1.1.1.1"),         # bad
            ip_bytes(src="255.255.255.255", dst="1.1.1.1"),  # bad
            ip_bytes(src="18.26.4.255", dst="18.26.4.9"),   # to us: allowed
            ip_bytes(src="18.26.4.7", dst="1.1.1.1")]        # fine
    key = feed(pkts)
    r = run_router(f"HarnessFeed({key}) -> c :: CheckIPHeader(INTERFACES 18.26.4.9/24 18.32.9.44/28, DETAILS true)"
                   " -> rec :: HarnessRecord")
    assert [x.data for x in r.element("rec").log] == pkts[3:]
    assert "3\tbad source address" in r.read("c.drop_details")
    key = feed(pkts)
    r = run_router(f"HarnessFeed({key}) -> c :: CheckIPHeader(BADSRC 18.26.4.7, GOODDST 1.1.1.1) -> rec :: HarnessRecord")
    assert len(r.element("rec").log) == 5       # the bad source is going to a good destination
    key = feed(pkts)
    r = run_router(f"HarnessFeed({key}) -> c :: CheckIPHeader(BADSRC 18.26.4.7) -> rec :: HarnessRecord")
    assert len(r.element("rec").log) == 4


def test_no_drop_details_handler_without_details():
    r = build_router("Idle -> c :: CheckIPHeader -> Idle")
    with pytest.raises(Exception):
        r.read("c.drop_details")


@pytest.mark.parametrize("config", ["CheckIPHeader(x)", "CheckIPHeader(1, 2)", "CheckIPHeader(OFFSET -1)",
                                    "CheckIPHeader(BADSRC foo)", "CheckIPHeader(FOO 1)"])
def test_bad_configurations(config):
    with pytest.raises(ConfigError):
        build_router(f"Idle -> {config} -> Idle")
