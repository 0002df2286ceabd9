"""Packets: buffers by index, copy-on-write clones, headroom and tailroom."""
import pytest

from clickpy.runtime.packet import PacketObject, large_pool, live_packets, small_pool


@pytest.fixture(autouse=True)
def no_leaks():
    before = live_packets()
    yield
    assert live_packets() == before, "a test leaked packet descriptors"


def test_make_holds_data_with_default_headroom():
    p = PacketObject.make(b"hello")
    assert p.data == b"hello" and len(p) == 5
    assert p.headroom == 64
    assert p.tailroom == small_pool().buffer_size - 64 - 5


def test_clone_shares_until_written():
    p = PacketObject.make(b"abcdef")
    c = p.clone()
    assert p.shared and c.shared
    c.write(0, b"X")
    assert (p.data, c.data) == (b"abcdef", b"Xbcdef")
    assert not p.shared and not c.shared


def test_clone_shares_the_buffer_not_a_copy():
    p = PacketObject.make(b"x" * 100)
    used = small_pool().in_use
    clones = [p.clone() for _ in range(10)]
    assert small_pool().in_use == used
    del clones


def test_push_and_pull_headers():
    p = PacketObject.make(b"payload")
    p.push(4)
    p.write(0, b"HDR:")
    assert p.data == b"HDR:payload" and p.headroom == 60
    p.pull(4)
    assert p.data == b"payload"
    p.take(3)
    assert p.data == b"payl"


def test_push_beyond_headroom_moves_the_data():
    p = PacketObject.make(b"data", headroom=2)
    p.push(10)
    p.write(0, b"0123456789")
    assert p.data == b"0123456789data"


def test_push_on_a_clone_leaves_the_original_alone():
    p = PacketObject.make(b"data")
    c = p.clone()
    c.push(2)
    c.write(0, b"!!")
    assert p.data == b"data" and c.data == b"!!data"


def test_put_grows_into_a_large_buffer():
    p = PacketObject.make(b"a" * 1000)
    before = large_pool().in_use
    p.put(30000)
    assert len(p) == 31000 and p.data[:1000] == b"a" * 1000
    assert large_pool().in_use == before + 1
    del p
    assert large_pool().in_use == before


def test_set_data_shrinks_and_grows():
    p = PacketObject.make(b"0123456789")
    p.set_data(b"abc")
    assert p.data == b"abc"
    p.set_data(b"x" * 50)
    assert p.data == b"x" * 50


def test_annotations():
    p = PacketObject.make(b"x")
    assert p.anno == bytes(48)
    p.paint = 7
    p.dst_ip = "10.1.2.3"
    assert p.paint == 7 and p.dst_ip == "10.1.2.3"
    assert p.anno[16] == 7 and p.anno[0:4] == bytes([10, 1, 2, 3])
    c = p.clone()
    assert c.paint == 7  # a clone copies annotations
    p.timestamp = 1_500_000_000
    assert p.timestamp == 1_500_000_000


def test_network_header_offsets_follow_moves():
    p = PacketObject.make(b"E" * 14 + b"IPHDR" * 4)
    p.set_network_header(14, 20)
    assert (p.network_offset, p.transport_offset) == (14, 34)
    p.push(100)  # moves the data to a new buffer
    assert (p.network_offset, p.transport_offset) == (114, 134)


def test_released_packet_is_an_error_not_a_crash():
    p = PacketObject.make(b"x")
    p.kill()
    with pytest.raises(ValueError):
        p.data
    with pytest.raises(IndexError):
        PacketObject.make(b"ab").write(1, b"xyz")


def test_pool_is_shareable_memory():
    assert small_pool().fd >= 0  # a memfd other processes can map
