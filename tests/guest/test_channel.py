"""The control channel: msgpack maps over a Unix stream socket, descriptors alongside, hostile peers refused."""
import os
import socket

import msgpack
import pytest

from clickpy.guest.channel import MAX_MESSAGE, Channel, ChannelError


@pytest.fixture
def pair():
    a, b = Channel.pair()
    yield a, Channel(b)
    a.close()


def test_messages_arrive_whole_and_in_order(pair):
    a, b = pair
    for i in range(100):
        a.send({"op": "n", "i": i, "blob": bytes(i * 37)})
    assert a.wants_write, "more than the socket holds waits in the outbox"
    got = []
    for _ in range(10000):
        a.flush()
        got += b.receive()
        if len(got) == 100:
            break
    assert not a.wants_write
    assert [m["i"] for m in got] == list(range(100))
    assert got[99]["blob"] == bytes(99 * 37)


def test_a_message_split_across_writes_is_put_back_together(pair):
    a, b = pair
    data = msgpack.packb({"op": "x", "v": "y" * 1000})
    for i in range(0, len(data), 7):
        a.sock.send(data[i:i + 7])
        if i + 7 < len(data):
            assert b.receive() == []
    assert b.wait(5) == {"op": "x", "v": "y" * 1000}


def test_descriptors_travel_with_their_message(pair, tmp_path):
    a, b = pair
    path = tmp_path / "f"
    path.write_text("hello")
    fd = os.open(path, os.O_RDONLY)
    try:
        a.send({"op": "first"})
        a.send({"op": "take", "x": 1}, [fd, fd])
    finally:
        os.close(fd)
    first = b.wait(5)
    assert first == {"op": "first"}
    m = b.wait(5)
    assert m["op"] == "take" and m["nfds"] == 2 and len(m["fds"]) == 2
    for got in m["fds"]:
        assert os.pread(got, 5, 0) == b"hello"
        os.close(got)


@pytest.mark.parametrize("raw, why", [
    (msgpack.packb([1, 2, 3]), "expected a map"),
    (msgpack.packb({"op": "x", "nfds": 2}), "claims descriptors"),
    (b"\xc1", "not msgpack"),
])
def test_hostile_bytes_are_a_channel_error(pair, raw, why):
    a, b = pair
    a.sock.send(raw)
    with pytest.raises(ChannelError, match=why):
        b.wait(5)


def test_a_message_larger_than_the_limit_is_refused_before_it_is_buffered(pair):
    a, b = pair
    header = b"\xc6" + (MAX_MESSAGE + 1).to_bytes(4, "big")   # bin32 of more than the limit
    a.sock.setblocking(True)
    a.sock.send(header + bytes(1 << 16))
    with pytest.raises(ChannelError):
        for _ in range(10000):
            b.receive()
            a.sock.send(bytes(1 << 16))


def test_a_peer_that_hangs_up_is_reported_after_its_last_message(pair):
    a, b = pair
    a.send({"op": "bye"})
    a.close()
    assert b.wait(5) == {"op": "bye"}
    with pytest.raises(ChannelError, match="hung up"):
        b.wait(5)


def test_a_peer_that_floods_descriptors_is_cut_off(pair):
    a, b = pair
    fds = [os.dup(0) for _ in range(16)]
    try:
        for _ in range(6):
            socket.send_fds(a.sock, [b"\x80"], fds)    # empty maps, claiming nothing
    finally:
        for fd in fds:
            os.close(fd)
    with pytest.raises(ChannelError, match="descriptors no message claims"):
        for _ in range(10):
            b.receive()
