"""StripEtherVLANHeader: 802.1Q and plain headers removed, native VLAN, second output."""
import pytest
from harness import inject, run_router
from scapy.layers.inet import IP
from scapy.layers.l2 import Dot1Q, Ether
from support import build_router

from clickpy.errors import ConfigError

IPPKT = bytes(IP(dst="1.2.3.4"))
ETH = Ether(dst="02:02:02:02:02:02", src="01:01:01:01:01:01")
PLAIN = bytes(ETH / IPPKT)
TAGGED = bytes(ETH / Dot1Q(vlan=33, prio=5) / IPPKT)


def test_strips_headers_and_sets_the_annotation():
    _, rec = inject("StripEtherVLANHeader", [TAGGED, PLAIN])
    assert [(x.data, x.vlan_tci) for x in rec.log] == [(IPPKT, (5 << 13) | 33), (IPPKT, 0)]
    _, rec = inject("StripEtherVLANHeader(12)", [PLAIN])
    assert (rec.log[0].data, rec.log[0].vlan_tci) == (IPPKT, 12)


def test_negative_native_vlan_sends_untagged_frames_to_output_1():
    _, rec = inject("StripEtherVLANHeader(-1)", [TAGGED, PLAIN], noutputs=2)
    assert [(x.port, x.data) for x in rec.log] == [(0, IPPKT), (1, PLAIN)]
    r, rec = inject("StripEtherVLANHeader(-1)", [PLAIN])
    assert rec.log == []   # no output 1: dropped


def test_short_frames_are_dropped_and_counted():
    r, rec = inject("StripEtherVLANHeader(-1)",
                    [b"", bytes(13), bytes.fromhex("000000000000 000000000000 8100 000102"),
                      bytes(18)], noutputs=2)
    assert [(x.port, x.data) for x in rec.log] == [(1, bytes(18))]
    assert r.element("e").dropped == 3


def test_pull_path():
    r = run_router(f"""InfiniteSource(DATA \\<{TAGGED.hex()}>, LIMIT 3, STOP true)
                   -> StripEtherVLANHeader -> Unqueue -> rec :: HarnessRecord""")
    assert [(x.data, x.vlan_tci) for x in r.element("rec").log] == [(IPPKT, (5 << 13) | 33)] * 3


@pytest.mark.parametrize("args", ["4096", "x", "1, 2"])
def test_configuration_errors(args):
    with pytest.raises(ConfigError):
        build_router(f"Idle -> StripEtherVLANHeader({args}) -> Discard")
