"""pcap:FILE (read) and pcap:FILE?w (write) through the ring API, checked
against scapy's reader and writer; damaged files give errors naming the
file and the byte offset."""
import select
import struct

import pytest
from scapy.all import IP, UDP, Ether, rdpcap, wrpcap
from scapy.utils import PcapNgWriter

from clickpy.netmap_shim.ring import PortError, open_port
from clickpy.runtime import packet
from clickpy.runtime.packet import PacketObject

T0 = 1_700_000_000


def frames(n=20):
    out = []
    for i in range(n):
        p = (Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")
             / IP(src="10.0.0.1", dst=f"10.0.{i // 200}.{i % 200}")
             / UDP(sport=1000 + i, dport=53) / (b"%03d" % i * (i * 7 % 60)))
        p.time = T0 + i + (i * 1371 % 1_000_000) / 1e6
        out.append(p)
    return out


def ns(p):
    return int(round(p.time * 1e6)) * 1000


@pytest.fixture
def no_leak():
    before = packet.small_pool_census()
    yield
    assert packet.small_pool_census() == before


def write_through_ring(path, pkts, zero_copy=False, **options):
    port = open_port(f"pcap:{path}?w", **options)
    tx = port.tx_rings[0]
    for p in pkts:
        if tx.space == 0:
            port.tx_sync()
        i = tx.head
        if zero_copy:
            obj = PacketObject.make(bytes(p))
            assert tx.put_packet(i, obj, zero_copy=True)
        else:
            tx.write(i, bytes(p), 48)
        tx.set_timestamp(i, ns(p))
        tx.head = tx.cur = (i + 1) % tx.num_slots
    assert port.tx_sync() >= 0
    port.close()


@pytest.mark.parametrize("zero_copy", [False, True])
def test_written_file_is_byte_identical_to_scapys(tmp_path, no_leak, zero_copy):
    pkts = frames(300)                     # more than the 256 slots: the ring wraps
    write_through_ring(tmp_path / "mine.pcap", pkts, zero_copy=zero_copy)
    wrpcap(str(tmp_path / "scapy.pcap"), pkts)
    assert (tmp_path / "mine.pcap").read_bytes() == (tmp_path / "scapy.pcap").read_bytes()
    back = rdpcap(str(tmp_path / "mine.pcap"))
    assert [bytes(p) for p in back] == [bytes(p) for p in pkts]


def test_read_gives_scapys_frames_and_times(tmp_path, no_leak):
    pkts = frames(300)
    wrpcap(str(tmp_path / "in.pcap"), pkts)
    port = open_port(f"pcap:{tmp_path / 'in.pcap'}")
    assert (port.format, port.linktype, port.snaplen) == ("pcap", 1, 65535)
    got = []
    while True:
        batch = port.recv(timestamps=True)
        if not batch:
            break
        got += batch
    assert [f for f, _ in got] == [bytes(p) for p in pkts]
    assert [t for _, t in got] == [ns(p) for p in pkts]
    assert port.frames == 300 and port.error_state() is None and port.error_offset is None
    port.close()


def test_read_then_write_round_trip(tmp_path, no_leak):
    pkts = frames(50)
    wrpcap(str(tmp_path / "in.pcap"), pkts)
    src = open_port(f"pcap:{tmp_path / 'in.pcap'}")
    dst = open_port(f"pcap:{tmp_path / 'out.pcap'}?w")
    rx, tx = src.rx_rings[0], dst.tx_rings[0]
    while src.rx_sync() > 0:
        while rx.head != rx.tail:
            if tx.space == 0:
                dst.tx_sync()
            p = rx.take_packet(rx.head, zero_copy=True)     # buffer swap out of the read ring
            assert tx.put_packet(tx.head, p, zero_copy=True)  # and into the write ring
            tx.set_timestamp(tx.head, rx.timestamp(rx.head))
            tx.head = tx.cur = (tx.head + 1) % tx.num_slots
            rx.head = rx.cur = (rx.head + 1) % rx.num_slots
    dst.tx_sync()
    src.close()
    dst.close()
    assert (tmp_path / "out.pcap").read_bytes() == (tmp_path / "in.pcap").read_bytes()


def test_nanosecond_snaplen_and_linktype_on_write(tmp_path, no_leak):
    pkts = frames(5)
    write_through_ring(tmp_path / "ns.pcap", pkts, ns=True, snaplen=40, linktype=101)
    data = (tmp_path / "ns.pcap").read_bytes()
    magic, _, _, _, _, snaplen, linktype = struct.unpack("<IHHiIII", data[:24])
    assert (magic, snaplen, linktype) == (0xa1b23c4d, 40, 101)
    back = rdpcap(str(tmp_path / "ns.pcap"))
    assert [bytes(p) for p in back] == [bytes(p)[:40] for p in pkts]
    assert [p.wirelen for p in back] == [len(p) for p in pkts]
    port = open_port(f"pcap:{tmp_path / 'ns.pcap'}")
    got = port.recv(timestamps=True)
    assert [t for _, t in got] == [ns(p) for p in pkts]
    assert [port.rx_rings[0].slot_ptr(i) for i in range(5)] == [len(p) for p in pkts]   # wire length
    port.close()


def test_reads_pcapng(tmp_path, no_leak):
    pkts = frames(10)
    with PcapNgWriter(str(tmp_path / "in.pcapng")) as w:
        for p in pkts:
            w.write(p)
    port = open_port(f"pcap:{tmp_path / 'in.pcapng'}")
    assert port.format == "pcapng" and port.linktype == 1
    got = port.recv(timestamps=True)
    assert [f for f, _ in got] == [bytes(p) for p in pkts]
    assert [t // 1000 for _, t in got] == [ns(p) // 1000 for p in pkts]
    port.close()


def test_big_endian_pcap(tmp_path, no_leak):
    pkts = frames(3)
    body = struct.pack(">IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1)
    for p in pkts:
        raw = bytes(p)
        body += struct.pack(">IIII", int(p.time), ns(p) // 1000 % 1_000_000, len(raw), len(raw)) + raw
    (tmp_path / "be.pcap").write_bytes(body)
    port = open_port(f"pcap:{tmp_path / 'be.pcap'}")
    assert [f for f, _ in port.recv(timestamps=True)] == [bytes(p) for p in pkts]
    port.close()


def test_loop_plays_the_file_again(tmp_path, no_leak):
    pkts = frames(4)
    wrpcap(str(tmp_path / "in.pcap"), pkts)
    port = open_port(f"pcap:{tmp_path / 'in.pcap'}?loop=3")
    got = []
    while (batch := port.recv()):
        got += batch
    assert got == [bytes(p) for p in pkts] * 3
    port.close()


def test_descriptor_readable_until_the_end(tmp_path, no_leak):
    wrpcap(str(tmp_path / "in.pcap"), frames(3))
    port = open_port(f"pcap:{tmp_path / 'in.pcap'}")
    assert select.select([port.fd], [], [], 1)[0] == [port.fd]
    assert len(port.recv()) == 3
    assert port.rx_sync() == 0
    assert select.select([port.fd], [], [], 0.05)[0] == []    # nothing more will come
    port.close()


def test_oversize_frames_are_counted_and_skipped(tmp_path, no_leak):
    big = Ether() / IP() / UDP() / (b"x" * 3000)             # more than a 2048-byte buffer
    small = frames(2)
    wrpcap(str(tmp_path / "in.pcap"), [small[0], big, small[1]])
    port = open_port(f"pcap:{tmp_path / 'in.pcap'}")
    assert port.recv() == [bytes(small[0]), bytes(small[1])]
    assert port.oversize == 1 and port.rx_rings[0].drops == 1
    port.close()


# --- damaged files ---------------------------------------------------------------------


def good_file(tmp_path, n=3):
    path = tmp_path / "good.pcap"
    wrpcap(str(path), frames(n))
    return path.read_bytes()


def record_offsets(data):
    off, out = 24, []
    while off < len(data):
        out.append(off)
        off += 16 + struct.unpack_from("<I", data, off + 8)[0]
    return out


@pytest.mark.parametrize("content, message", [
    (b"", "not a pcap file (it is empty)"),
    (b"\xd4\xc3", "not a pcap file (only 2 bytes)"),
    (b"hello, world, not a capture at all", "not a pcap or pcapng file (magic 0x6c6c6568 at offset 0)"),
    (struct.pack("<IHH", 0xa1b2c3d4, 2, 4), "the pcap file header is truncated (8 of 24 bytes, offset 0)"),
    (b"\x0a\x0d\x0d\x0a" + b"\0" * 8, "a pcapng file whose section header is damaged (offset 0)"),
])
def test_bad_file_headers(tmp_path, content, message, no_leak):
    path = tmp_path / "bad.pcap"
    path.write_bytes(content)
    with pytest.raises(PortError) as info:
        open_port(f"pcap:{path}")
    assert str(info.value) == f"pcap:{path}: {message}"


def read_all(port):
    got = []
    while True:
        batch = port.recv()
        if not batch:
            return got
        got += batch


@pytest.mark.parametrize("damage", ["cut-data", "cut-header", "huge-caplen"])
def test_damaged_record_gives_file_and_offset(tmp_path, damage, no_leak):
    data = good_file(tmp_path, 3)
    offs = record_offsets(data)
    third = offs[2]
    if damage == "cut-data":
        bad, want = data[:-5], "truncated record: %d captured bytes claimed, %d left in the file" % (
            struct.unpack_from("<I", data, third + 8)[0], len(data) - 5 - third - 16)
    elif damage == "cut-header":
        bad, want = data[:third + 10], "truncated record header (10 bytes left, a header takes 16)"
    else:
        bad = data[:third + 8] + struct.pack("<I", 0x7fffffff) + data[third + 12:]
        want = "record claims 2147483647 captured bytes"
    path = tmp_path / "bad.pcap"
    path.write_bytes(bad)
    port = open_port(f"pcap:{path}")
    got = port.recv()
    assert got == [bytes(p) for p in frames(3)[:2]]          # what came before the damage
    with pytest.raises(PortError) as info:
        port.recv()
    message = str(info.value)
    assert message.startswith(f"pcap:{path}: rxsync failed: {path}: ")
    assert want in message and message.endswith(f"at offset {third}")
    assert port.error_offset == third and port.bad_records == 1
    assert select.select([port.fd], [], [], 0)[0] == [port.fd]  # a poller comes to see the error
    port.close()


def test_damaged_pcapng_block_gives_offset(tmp_path, no_leak):
    with PcapNgWriter(str(tmp_path / "in.pcapng")) as w:
        for p in frames(3):
            w.write(p)
    data = (tmp_path / "in.pcapng").read_bytes()
    path = tmp_path / "bad.pcapng"
    path.write_bytes(data[:-7])
    port = open_port(f"pcap:{path}")
    with pytest.raises(PortError) as info:
        read_all(port)
    assert f"{path}: pcapng block with impossible length" in str(info.value)
    assert "at offset" in str(info.value) and port.error_offset is not None
    port.close()


def test_damaged_file_is_not_looped(tmp_path, no_leak):
    data = good_file(tmp_path, 3)
    path = tmp_path / "bad.pcap"
    path.write_bytes(data[:-5])
    port = open_port(f"pcap:{path}?loop=0")
    assert len(port.recv()) == 2
    with pytest.raises(PortError, match="truncated record"):
        port.recv()
    port.close()


def test_write_to_an_impossible_place(tmp_path):
    with pytest.raises(PortError, match=r"pcap:/nonexistent/x.pcap\?w: No such file or directory"):
        open_port("pcap:/nonexistent/x.pcap?w")
    with pytest.raises(PortError, match="snaplen must be 1 to"):
        open_port(f"pcap:{tmp_path / 'x.pcap'}?w&snaplen=0")
    with pytest.raises(PortError, match="linktype must be 0 to 65535"):
        open_port(f"pcap:{tmp_path / 'x.pcap'}?w&linktype=70000")


def test_wrong_direction_syncs_fail(tmp_path, no_leak):
    wrpcap(str(tmp_path / "in.pcap"), frames(1))
    r = open_port(f"pcap:{tmp_path / 'in.pcap'}")
    w = open_port(f"pcap:{tmp_path / 'out.pcap'}?w")
    assert r.tx_rings == [] and w.rx_rings == []
    assert r.tx_sync() == -1 and w.rx_sync() == -1
    r.close()
    w.close()


def test_sync_rejects_head_outside_the_users_slots(tmp_path, no_leak):
    wrpcap(str(tmp_path / "in.pcap"), frames(3))
    port = open_port(f"pcap:{tmp_path / 'in.pcap'}")
    assert port.rx_sync() == 3
    rx = port.rx_rings[0]
    rx.head = rx.cur = 5                      # past tail (3)
    assert port.rx_sync() == -1
    assert "head or cur" in port.error_state()
    rx.head = rx.cur = 0
    assert port.rx_sync() == 3 and port.error_state() is None
    port.close()
    w = open_port(f"pcap:{tmp_path / 'out.pcap'}?w")
    tx = w.tx_rings[0]
    tx.head, tx.cur = 2, 1                    # cur behind head
    assert w.tx_sync() == -1 and "head or cur" in w.error_state()
    tx.head = tx.cur = 0
    assert w.tx_sync() == 0
    sent = frames(1)[0]
    tx.write(0, bytes(sent), 48)
    tx.head = tx.cur = 1
    assert w.tx_sync() >= 0 and w.error_state() is None
    w.close()
    # the refused sync wrote nothing; the port still writes afterwards
    assert [bytes(p) for p in rdpcap(str(tmp_path / "out.pcap"))] == [bytes(sent)]
