"""EtherEncap: the header it writes, header offsets, shared buffers, handlers, errors."""
import pytest
from harness import inject, run_router
from scapy.layers.inet import IP, UDP
from scapy.layers.l2 import Ether
from support import build_router

from clickpy.errors import ConfigError
from clickpy.runtime.handlers import HandlerError
from clickpy.runtime.packet import PacketObject

PAYLOAD = bytes(IP(src="10.0.0.1", dst="10.0.0.2") / UDP(sport=1, dport=2) / b"hello")


@pytest.mark.parametrize("headroom", [48, 14, 3, 0])
def test_prepends_the_configured_header(headroom):
    _, rec = inject("EtherEncap(0x0800, 1:1:1:1:1:1, 2:2:2:2:2:2)",
                    [{"data": PAYLOAD, "headroom": headroom}, {"data": b"", "headroom": headroom}])
    eth = Ether(rec.log[0].data)
    assert (eth.dst, eth.src, eth.type) == ("02:02:02:02:02:02", "01:01:01:01:01:01", 0x0800)
    assert bytes(eth.payload) == PAYLOAD
    assert eth[IP].dst == "10.0.0.2"
    assert (rec.log[0].mac, rec.log[0].net) == (0, 14)
    assert rec.log[1].data == bytes.fromhex("020202020202 010101010101 0800")


def test_shared_buffers_are_not_written():
    r = run_router("""InfiniteSource(DATA \\<0102030405>, LIMIT 2, STOP true) -> t :: Tee;
               rec :: HarnessRecord;
               t[0] -> EtherEncap(0x86DD, 0:1:2:3:4:5, 6:7:8:9:a:b) -> [0] rec;
               t[1] -> [1] rec;""")
    log = r.element("rec").log
    assert [x.port for x in log] == [0, 1, 0, 1]
    assert log[0].data == bytes.fromhex("060708090a0b 000102030405 86dd 0102030405")
    assert log[1].data == bytes.fromhex("0102030405")


def test_batches_give_the_per_packet_result():
    r = run_router("""InfiniteSource(DATA \\<aabb>, LIMIT 40, BURST 16, STOP true)
               -> EtherEncap(0x0800, 1:1:1:1:1:1, 2:2:2:2:2:2) -> rec :: HarnessRecord;""")
    log = r.element("rec").log
    assert len(log) == 40
    assert {x.data for x in log} == {bytes.fromhex("020202020202 010101010101 0800 aabb")}


def test_handlers_read_and_reconfigure():
    r = build_router("Idle -> e :: EtherEncap(0x0800, 1:1:1:1:1:1, 2:2:2:2:2:2)"
                     " -> rec :: HarnessRecord")
    assert r.read("e.src") == "01-01-01-01-01-01"
    assert r.read("e.dst") == "02-02-02-02-02-02"
    assert r.read("e.ethertype") == "2048"
    r.write("e.ethertype", "0x0801")
    assert r.read("e.ethertype") == "2049"
    assert r.read("e.config") == "0x0801, 1:1:1:1:1:1, 2:2:2:2:2:2"
    r.write("e.src", "00:1b:21:44:04:f0")
    r.write("e.dst", "ff:ff:ff:ff:ff:ff")
    assert r.read("e.src") == "00-1B-21-44-04-F0"
    assert r.read("e.config") == "0x0801, 00:1b:21:44:04:f0, ff:ff:ff:ff:ff:ff"
    with pytest.raises(HandlerError, match="ETHERTYPE"):
        r.write("e.ethertype", "0x10000")
    with pytest.raises(HandlerError, match="SRC"):
        r.write("e.src", "not-an-address")
    assert r.read("e.ethertype") == "2049"
    r.write("e.config", "0x0806, 3:3:3:3:3:3, 4:4:4:4:4:4")
    r.element("e").push_packet(0, PacketObject.make(b"x"))
    assert r.element("rec").log[0].data == bytes.fromhex("040404040404 030303030303 0806") + b"x"


def test_address_info_names():
    r = build_router("AddressInfo(me 00:1b:21:44:04:f0, you 00:12:c0:80:00:6d);"
                     "Idle -> e :: EtherEncap(0x0800, me, you) -> Discard")
    assert (r.read("e.src"), r.read("e.dst")) == ("00-1B-21-44-04-F0", "00-12-C0-80-00-6D")


@pytest.mark.parametrize("config, message", [
    ("", "missing"),
    ("0x0800, 1:1:1:1:1:1", "DST.*missing|missing.*DST"),
    ("0x10000, 1:1:1:1:1:1, 2:2:2:2:2:2", "ETHERTYPE: out of range"),
    ("IP, 1:1:1:1:1:1, 2:2:2:2:2:2", "ETHERTYPE: expected integer"),
    ("0x0800, 1:1:1:1:1, 2:2:2:2:2:2", "SRC: expected Ethernet address"),
    ("0x0800, 1:1:1:1:1:1, 2:2:2:2:2:2, 4", "too many arguments"),
])
def test_configuration_errors(config, message):
    with pytest.raises(ConfigError, match=message):
        build_router(f"Idle -> EtherEncap({config}) -> Discard")
