"""VLANDecap: tags removed, TCI annotation, other tag types, shared and short frames."""
import pytest
from harness import inject, run_router
from scapy.layers.inet import IP
from scapy.layers.l2 import Dot1AD, Dot1Q, Ether
from support import build_router

ETH = Ether(dst="02:02:02:02:02:02", src="01:01:01:01:01:01")
PLAIN = bytes(ETH / IP(dst="1.2.3.4"))
TAGGED = bytes(ETH / Dot1Q(vlan=33, prio=5) / IP(dst="1.2.3.4"))
QINQ = bytes(ETH / Dot1AD(vlan=7) / Dot1Q(vlan=33) / IP(dst="1.2.3.4"))


def test_strips_the_tag_and_sets_the_annotation():
    _, rec = inject("VLANDecap", [{"data": TAGGED, "vlan_tci": 0x1111}, {"data": PLAIN, "vlan_tci": 0x1111}])
    assert rec.log[0].data == PLAIN and rec.log[0].vlan_tci == (5 << 13) | 33
    assert rec.log[1].data == PLAIN and rec.log[1].vlan_tci == 0
    assert all((x.mac, x.net) == (0, 14) for x in rec.log)


def test_anno_false_leaves_the_annotation():
    _, rec = inject("VLANDecap(false)", [{"data": TAGGED, "vlan_tci": 0x1111}])
    assert rec.log[0].data == PLAIN and rec.log[0].vlan_tci == 0x1111


def test_service_tags():
    _, rec = inject("VLANDecap(ETHERTYPE 0x88a8)", [QINQ, TAGGED])
    assert Ether(rec.log[0].data)[Dot1Q].vlan == 33 and rec.log[0].vlan_tci == 7
    assert rec.log[1].data == TAGGED and rec.log[1].vlan_tci == 0


def test_shared_frames_are_copied():
    r = run_router(f"""InfiniteSource(DATA \\<{TAGGED.hex()}>, LIMIT 2, STOP true) -> t :: Tee;
                   rec :: HarnessRecord; t[0] -> VLANDecap -> [0] rec; t[1] -> [1] rec;""")
    log = r.element("rec").log
    assert [(x.port, x.data) for x in log] == [(0, PLAIN), (1, TAGGED)] * 2


def test_short_frames_are_dropped_and_counted():
    r, rec = inject("VLANDecap", [b"", bytes(13),
                                   bytes.fromhex("000000000000 000000000000 8100 00"),
                                   bytes.fromhex("000000000000 000000000000 8100 0001"), bytes(14)])
    assert [x.data for x in rec.log] == [bytes(14)]
    assert r.element("e").dropped == 4


def test_bad_configuration():
    from clickpy.errors import ConfigError

    with pytest.raises(ConfigError, match="ANNO"):
        build_router("Idle -> VLANDecap(maybe) -> Discard")
