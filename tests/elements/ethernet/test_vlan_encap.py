"""VLANEncap: tags inserted into Ethernet frames; short frames dropped."""
import pytest
from harness import inject
from scapy.layers.inet import IP
from scapy.layers.l2 import Dot1AD, Dot1Q, Ether
from support import build_router

from clickpy.errors import ConfigError

FRAME = bytes(Ether(dst="02:02:02:02:02:02", src="01:01:01:01:01:01") / IP(dst="1.2.3.4"))


def test_inserts_an_8021q_tag():
    _, rec = inject("VLANEncap(VLAN_ID 42, VLAN_PCP 6)", [FRAME])
    eth = Ether(rec.log[0].data)
    assert (eth.dst, eth.src, eth.type) == ("02:02:02:02:02:02", "01:01:01:01:01:01", 0x8100)
    assert (eth[Dot1Q].vlan, eth[Dot1Q].prio, eth[Dot1Q].type) == (42, 6, 0x0800)
    assert eth[IP].dst == "1.2.3.4"
    assert (rec.log[0].mac, rec.log[0].net) == (0, 18)


@pytest.mark.parametrize("headroom", [48, 2, 0])
def test_service_tag_and_anno(headroom):
    _, rec = inject("VLANEncap(ANNO, ETHERTYPE 0x88a8)",
                    [{"data": FRAME, "vlan_tci": 0x3123, "headroom": headroom}])
    eth = Ether(rec.log[0].data)
    assert eth.type == 0x88A8
    assert (eth[Dot1AD].vlan, eth[Dot1AD].prio) == (0x123, 1)
    assert rec.log[0].data[16:] == FRAME[12:]


def test_native_vlan_passes_untagged():
    _, rec = inject("VLANEncap(ANNO, NATIVE_VLAN 9)",
                    [{"data": FRAME, "vlan_tci": 9}, {"data": FRAME, "vlan_tci": 10}])
    assert rec.log[0].data == FRAME and (rec.log[0].mac, rec.log[0].net) == (0, 14)
    assert Ether(rec.log[1].data)[Dot1Q].vlan == 10


def test_short_frames_are_dropped_and_counted():
    r, rec = inject("VLANEncap(5)", [b"", bytes(13), bytes(14)])
    assert [len(x.data) for x in rec.log] == [18]
    assert r.element("e").dropped == 2


def test_handlers():
    r = build_router("Idle -> e :: VLANEncap(0x2005) -> Discard")
    assert r.read("e.vlan_tci") == str(0x2005)
    assert r.read("e.ethertype") == ""
    assert r.read("e.config") == "VLAN_ID 5, VLAN_PCP 1"
    r.write("e.ethertype", "0x9100")
    r.write("e.native_vlan", "-1")
    assert (r.read("e.ethertype"), r.read("e.native_vlan")) == ("0x9100", "-1")
    assert r.read("e.config") == "VLAN_ID 5, VLAN_PCP 1, NATIVE_VLAN -1, ETHERTYPE 0x9100"
    r.write("e.vlan_tci", "ANNO")
    assert r.read("e.vlan_tci") == "ANNO"


@pytest.mark.parametrize("args", ["0x10000", "1, 8", "VLAN_ID 5000", "ETHERTYPE 0x10000",
                                  "NATIVE_VLAN 4096"])
def test_configuration_errors(args):
    with pytest.raises(ConfigError):
        build_router(f"Idle -> VLANEncap({args}) -> Discard")
