"""VLANDecap: tags removed, TCI annotation, other tag types, shared and short frames."""
import pytest
from scapy.layers.inet import IP
from scapy.layers.l2 import Dot1AD, Dot1Q, Ether
from support import build_router

ETH = Ether(dst="02:02:02:02:02:02", src="01:01:01:01:01:01")
PLAIN = bytes(ETH / IP(dst="1.2.3.4"))
TAGGED = bytes(ETH / Dot1Q(vlan=33, prio=5) / IP(dst="1.2.3.4"))
QINQ = bytes(ETH / Dot1AD(vlan=7) / Dot1Q(vlan=33) / IP(dst="1.2.3.4"))


def test_strips_the_tag_and_sets_the_annotation(through):
    _, log = through("VLANDecap", [(TAGGED, 0x1111), (PLAIN, 0x1111)])
    assert log[0]["data"] == PLAIN and log[0]["tci"] == (5 << 13) | 33
    assert log[1]["data"] == PLAIN and log[1]["tci"] == 0
    assert all((x["mac"], x["network"]) == (0, 14) for x in log)


def test_anno_false_leaves_the_annotation(through):
    _, log = through("VLANDecap(false)", [(TAGGED, 0x1111)])
    assert log[0]["data"] == PLAIN and log[0]["tci"] == 0x1111


def test_service_tags(through):
    _, log = through("VLANDecap(ETHERTYPE 0x88a8)", [QINQ, TAGGED])
    assert Ether(log[0]["data"])[Dot1Q].vlan == 33 and log[0]["tci"] == 7
    assert log[1]["data"] == TAGGED and log[1]["tci"] == 0


def test_shared_frames_are_copied(run):
    r = run(f"""InfiniteSource(DATA \\<{TAGGED.hex()}>, LIMIT 2, STOP true) -> t :: Tee;
                rec :: EtherTestRecord; t[0] -> VLANDecap -> [0] rec; t[1] -> [1] rec;""")
    log = r.element("rec").log
    assert [(x["port"], x["data"]) for x in log] == [(0, PLAIN), (1, TAGGED)] * 2


def test_short_frames_are_dropped_and_counted(through):
    r, log = through("VLANDecap", [b"", bytes(13),
                                   bytes.fromhex("000000000000 000000000000 8100 00"),
                                   bytes.fromhex("000000000000 000000000000 8100 0001"), bytes(14)])
    assert [x["data"] for x in log] == [bytes(14)]
    assert r.element("e").dropped == 4


def test_bad_configuration():
    from clickpy.errors import ConfigError

    with pytest.raises(ConfigError, match="ANNO"):
        build_router("Idle -> VLANDecap(maybe) -> Discard")
