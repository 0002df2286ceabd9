"""HostEtherFilter, EtherRewrite and MarkMACHeader."""
import pytest
from harness import inject
from scapy.all import Ether
from support import run_config

from clickpy.runtime.packet import PacketObject

HOST, BROADCAST, MULTICAST, OTHERHOST, OUTGOING = 0, 1, 2, 3, 4


# --- HostEtherFilter ------------------------------------------------------------------------

ME = "00:01:02:03:04:05"


def frame(dst, src="00:aa:bb:cc:dd:ee"):
    return bytes(Ether(dst=dst, src=src) / b"payload")


def test_hostetherfilter_types_and_outputs():
    pk = [frame(ME), frame("ff:ff:ff:ff:ff:ff"), frame("01:00:5e:00:00:01"), frame("00:09:09:09:09:09"),
          frame(ME, src=ME)]
    r, rec = inject(f"HostEtherFilter({ME})", [PacketObject.make(x) for x in pk], noutputs=2)
    assert [x.port for x in rec.log] == [0, 0, 0, 1, 0]
    r, rec = inject(f"HostEtherFilter({ME}, true, false)", [PacketObject.make(x) for x in pk], noutputs=2)
    assert [x.port for x in rec.log] == [0, 0, 0, 0, 1]


def test_hostetherfilter_packet_type_annotation():
    # Every packet arrives marked OUTGOING, so each type must come from the filter.
    frames = [frame(ME), frame("ff:ff:ff:ff:ff:ff"), frame("01:00:5e:00:00:01"), frame("00:09:09:09:09:09")]
    packets = []
    for f in frames:
        p = PacketObject.make(f)
        p.packet_type = OUTGOING
        packets.append(p)
    r, rec = inject(f"HostEtherFilter({ME})", packets, noutputs=2)
    assert [(x.port, x.packet_type) for x in rec.log] == [(0, HOST), (0, BROADCAST), (0, MULTICAST),
                                                          (1, OTHERHOST)]


def test_hostetherfilter_offset_and_short():
    pk = [b"\x00\x00" + frame(ME), b"\x00\x00" + frame(ME)[:13], b"", b"\x00" * 16]
    r, rec = inject(f"HostEtherFilter({ME}, OFFSET 2)", [PacketObject.make(x) for x in pk], noutputs=2)
    assert [x.port for x in rec.log] == [0, 1]
    r.write("e.ether", "00:09:09:09:09:09")
    assert r.read("e.ether").lower().replace("-", ":") == "00:09:09:09:09:09"


@pytest.mark.parametrize("n", range(0, 16))
def test_hostetherfilter_truncated(n):
    r, rec = inject(f"HostEtherFilter({ME})", [PacketObject.make(frame(ME)[:n])])
    assert len(rec.log) == (1 if n >= 14 else 0)


# --- EtherRewrite and MarkMACHeader -------------------------------------------------------------


def test_etherrewrite_after_markmacheader():
    f = frame(ME) + b"rest"
    r, rec = inject("MarkMACHeader -> EtherRewrite(00:0a:0a:0a:0a:0a, 00:0b:0b:0b:0b:0b)",
                    [PacketObject.make(f)])
    out = Ether(rec.log[0].data)
    assert out.src == "00:0a:0a:0a:0a:0a" and out.dst == "00:0b:0b:0b:0b:0b"
    assert rec.log[0].data[12:] == f[12:]
    assert r.read("e.src").lower().replace("-", ":") == "00:0a:0a:0a:0a:0a"


def test_etherrewrite_handlers_and_no_mac_header():
    r, rec = inject("EtherRewrite(00:0a:0a:0a:0a:0a, 00:0b:0b:0b:0b:0b)", [PacketObject.make(frame(ME))])
    assert rec.log == []                            # no MAC header: dropped, not a crash
    out = run_config(
        f"InfiniteSource(DATA \\<{frame(ME).hex()}>, LIMIT 1, STOP true) -> MarkMACHeader"
        " -> e :: EtherRewrite(00:0a:0a:0a:0a:0a, 00:0b:0b:0b:0b:0b) -> Print(x) -> Discard;"
        " Script(write e.dst 00:0c:0c:0c:0c:0c)", "-h", "e.dst")
    assert out.returncode == 0, out.stderr
    assert "00-0C-0C-0C-0C-0C" in out.stdout.upper().replace(":", "-")


def test_markmacheader_offset_length():
    f = b"\x00" * 4 + frame(ME)
    r, rec = inject("MarkMACHeader(4, 14)", [PacketObject.make(f), PacketObject.make(b"\x00")])
    assert rec.log[0].mac == 4 and rec.log[0].net == 18
    assert len(rec.log) == 1                        # offset beyond the data: dropped


@pytest.mark.parametrize("n", range(0, 14))
def test_etherrewrite_truncated(n):
    r, rec = inject("MarkMACHeader -> EtherRewrite(00:0a:0a:0a:0a:0a, 00:0b:0b:0b:0b:0b)",
                    [PacketObject.make(frame(ME)[:n])])
    assert len(rec.log) == (1 if n >= 12 else 0)
