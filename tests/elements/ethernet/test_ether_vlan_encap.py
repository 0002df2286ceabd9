"""EtherVLANEncap: 802.1Q headers from arguments or the annotation, native VLAN, handlers."""
import pytest
from harness import inject
from scapy.layers.inet import IP
from scapy.layers.l2 import Dot1Q, Ether
from support import build_router

from clickpy.errors import ConfigError
from clickpy.runtime.handlers import HandlerError

PAYLOAD = bytes(IP(src="10.0.0.1", dst="10.0.0.2"))
E = "EtherVLANEncap(0x0800, 00:00:00:00:00:01, 00:00:00:00:00:02"


@pytest.mark.parametrize("args, vlan, prio", [
    ("1", 1, 0),
    ("0x6123", 0x123, 3),
    ("5, 7", 5, 7),
    ("VLAN_ID 100, VLAN_PCP 2", 100, 2),
    ("VLAN_ID 4095", 4095, 0),
])
def test_tagged_header(args, vlan, prio):
    _, rec = inject(f"{E}, {args})", [PAYLOAD])
    eth = Ether(rec.log[0].data)
    assert (eth.dst, eth.src, eth.type) == ("00:00:00:00:00:02", "00:00:00:00:00:01", 0x8100)
    assert (eth[Dot1Q].vlan, eth[Dot1Q].prio, eth[Dot1Q].type) == (vlan, prio, 0x0800)
    assert bytes(eth[Dot1Q].payload) == PAYLOAD
    assert (rec.log[0].mac, rec.log[0].net) == (0, 18)


def test_anno_mode_takes_each_packets_tci():
    _, rec = inject(f"{E}, ANNO)", [{"data": PAYLOAD, "vlan_tci": tci} for tci in (0x2005, 0x0FFF, 0)])
    assert [Ether(x.data)[Dot1Q].vlan for x in rec.log[:2]] == [5, 0xFFF]
    assert Ether(rec.log[0].data)[Dot1Q].prio == 1
    # VLAN 0 is the native VLAN by default: a plain Ethernet header.
    assert rec.log[2].data == bytes.fromhex("000000000002 000000000001 0800") + PAYLOAD
    assert (rec.log[2].mac, rec.log[2].net) == (0, 14)


def test_native_vlan():
    _, rec = inject(f"{E}, VLAN_ID 7, NATIVE_VLAN 7)", [PAYLOAD])
    assert Ether(rec.log[0].data).type == 0x0800 and len(rec.log[0].data) == 14 + len(PAYLOAD)
    _, rec = inject(f"{E}, VLAN_ID 0, NATIVE_VLAN -1)", [PAYLOAD])
    assert Ether(rec.log[0].data)[Dot1Q].vlan == 0
    _, rec = inject(f"{E}, ANNO, NATIVE_VLAN 2)", [{"data": b"", "vlan_tci": tci} for tci in (0xE002, 0xE003)])
    assert [x.data.hex() for x in rec.log] == [
        "000000000002000000000001" "0800",
        "000000000002000000000001" "8100e003" "0800"]


def test_handlers():
    r = build_router(f"Idle -> e :: {E}, 0x2064, NATIVE_VLAN 3) -> rec :: HarnessRecord")
    assert r.read("e.src") == "00-00-00-00-00-01"
    assert r.read("e.dst") == "00-00-00-00-00-02"
    assert r.read("e.ethertype") == "2048"
    assert r.read("e.vlan_tci") == str(0x2064)
    assert r.read("e.native_vlan") == "3"
    assert r.read("e.vlan_id") == ""  # as configured: not given
    assert r.read("e.config") == ("2048, 00-00-00-00-00-01, 00-00-00-00-00-02, "
                                  "VLAN_ID 100, VLAN_PCP 1, NATIVE_VLAN 3")
    r.write("e.ethertype", "0x86dd")
    r.write("e.src", "0:0:0:0:0:9")
    with pytest.raises(HandlerError, match="expected uint16_t"):
        r.write("e.ethertype", "70000")
    with pytest.raises(HandlerError, match="expected Ethernet address"):
        r.write("e.dst", "bogus")
    r.write("e.vlan_tci", "ANNO")
    assert r.read("e.vlan_tci") == "ANNO"
    r.write("e.vlan_pcp", "5")
    assert r.read("e.vlan_pcp") == "5"
    with pytest.raises(HandlerError, match="VLAN_PCP"):
        r.write("e.vlan_pcp", "8")
    assert r.read("e.vlan_pcp") == "5"
    # Writing vlan_tci reconfigured from the configuration: ETHERTYPE and SRC come back.
    assert r.read("e.ethertype") == "2048"
    from clickpy.runtime.packet import PacketObject

    p = PacketObject.make(b"")
    p.set_anno(20, bytes([0x00, 0x09]))
    r.element("e").push_packet(0, p)
    assert r.element("rec").log[0].data.hex() == "000000000002000000000001" "8100" "0009" "0800"


def test_vlan_tci_may_be_left_out():
    # Click's code (not its documentation) lets VLAN_TCI and VLAN_ID both go: VLAN 0.
    _, rec = inject(f"{E}, NATIVE_VLAN -1)", [b""])
    assert rec.log[0].data.hex() == "000000000002000000000001" "8100" "0000" "0800"


def test_missing_address():
    with pytest.raises(ConfigError, match="DST"):
        build_router("Idle -> EtherVLANEncap(0x0800, 00:00:00:00:00:01) -> Discard")


@pytest.mark.parametrize("args, message", [
    (", 0x10000", "VLAN_TCI"),
    (", ANNOX", "VLAN_TCI"),
    (", 1, 8", "VLAN_PCP"),
    (", VLAN_ID 4096", "VLAN_ID"),
    (", 1, NATIVE_VLAN -2", "NATIVE_VLAN"),
])
def test_configuration_errors(args, message):
    with pytest.raises(ConfigError, match=message):
        build_router(f"Idle -> {E}{args}) -> Discard")
