"""SetVLANAnno: the annotation (network byte order), on both data paths; handlers."""
import pytest
from harness import inject, run_router
from support import build_router

from clickpy.errors import ConfigError


@pytest.mark.parametrize("args, tci", [("0x1234", 0x1234), ("2, 1", 0x2002),
                                       ("VLAN_ID 4095, VLAN_PCP 7", 0xEFFF), ("", 0)])
def test_sets_the_annotation(args, tci):
    _, rec = inject(f"SetVLANAnno({args})", [b"abc"])
    assert rec.log[0].vlan_tci == tci
    assert rec.log[0].anno[20:22] == tci.to_bytes(2, "big")
    assert rec.log[0].data == b"abc"


def test_batches_give_the_per_packet_result():
    r = run_router("""InfiniteSource(LIMIT 50, BURST 32, STOP true) -> SetVLANAnno(VLAN_ID 3)
               -> rec :: HarnessRecord""")
    assert [x.vlan_tci for x in r.element("rec").log] == [3] * 50


def test_handlers():
    r = build_router("Idle -> e :: SetVLANAnno(2, 1) -> Discard")
    assert (r.read("e.vlan_tci"), r.read("e.config")) == ("8194", "VLAN_ID 2, VLAN_PCP 1")
    r.write("e.vlan_tci", "7")   # added as a keyword, which wins over the positional one
    assert (r.read("e.vlan_tci"), r.read("e.config")) == (str(7 | 1 << 13), "VLAN_ID 7, VLAN_PCP 1")
    r.write("e.config", "VLAN_ID 9")
    assert r.read("e.vlan_tci") == "9" and r.read("e.vlan_id") == "9"


@pytest.mark.parametrize("args", ["70000", "1, 8", "VLAN_ID 4096", "ANNO"])
def test_configuration_errors(args):
    with pytest.raises(ConfigError):
        build_router(f"Idle -> SetVLANAnno({args}) -> Discard")
