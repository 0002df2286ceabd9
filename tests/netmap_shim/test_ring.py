"""The ring API: port names, head/cur/tail rules, syncs, buffer swaps.

The rules are checked on an in-process pipe (both ends in this process),
the one backend whose rings need no kernel feature; test_pipe.py and
test_pcap.py cover the backends themselves.
"""
import itertools
import select

import pytest

from clickpy.netmap_shim.ring import PortError, backends, open_port, split_port_options
from clickpy.runtime import packet
from clickpy.runtime.packet import PacketObject

NS_BUF_CHANGED = 0x1
NR_SHARED_BUFFERS = 0x1000
_names = itertools.count()


def census():
    """(free, held, foreign) buffers of this process's small pool."""
    return packet.small_pool_census()


@pytest.fixture
def pipe():
    """Both ends of a fresh in-process pipe with 8 slots per direction."""
    name = f"ringtest{next(_names)}"
    before = census()
    a = open_port(f"pipe:{name}{{0?slots=8")
    b = open_port(f"pipe:{name}}}0")
    yield a, b
    a.close()
    b.close()
    assert census() == before, "the pipe gave back every buffer it took"


# --- port names ---------------------------------------------------------------------


@pytest.mark.parametrize("name, expected", [
    ("nosuchkind:eth0", "unknown port kind 'nosuchkind'"),
    ("pipe:", "pipe:NAME{N"),
    ("pipe:abc", "expected pipe:NAME{N (master end) or pipe:NAME}N (slave end)"),
    ("pipe:abc{", "the pipe number '' is not a number"),
    ("pipe:abc{x1", "the pipe number 'x1' is not a number"),
    ("pipe:{0", "the pipe needs a NAME"),
    ("pipe:abc{0?slots=1", "slots must be 2 to 65536, not 1"),
    ("pipe:abc{0?slots=many", "option 'slots' takes an integer, not 'many'"),
    ("pipe:abc{0?color=red", "unknown option 'color' (known: slots)"),
    ("pcap:", "expected pcap:FILE (read) or pcap:FILE?w (write)"),
    ("pcap:/nonexistent/dir/x.pcap", "No such file or directory"),
    ("pcap:/tmp/x.pcap?mode=rw", "mode must be r or w, not 'rw'"),
    ("pcap:/tmp/x.pcap?w&loop=2", "option 'loop' is for reading only"),
    ("pcap:/tmp/x.pcap?snaplen=9", "option 'snaplen' is for writing only"),
])
def test_bad_port_names_say_what_was_expected(name, expected):
    with pytest.raises(PortError) as info:
        open_port(name)
    message = str(info.value)
    assert expected in message
    assert message.startswith(name.split("?")[0][:5])  # the message names the port


def test_unknown_kind_lists_the_known_ones():
    with pytest.raises(PortError) as info:
        open_port("vale:sw0")
    for kind in ("pipe", "pcap", "afpacket", "afxdp", "tap"):
        assert kind in str(info.value)


def test_every_backend_registers():
    with pytest.raises(PortError):
        open_port("nosuchkind:x")         # loads the backends
    assert {"pipe", "pcap", "afpacket", "afxdp", "tap"} <= set(backends())


def test_split_port_options_merges_keywords_over_the_name():
    base, opts = split_port_options("pcap:f?w&snaplen=96", "f?w&snaplen=96", {"snaplen": 128},
                                    {"w": bool, "snaplen": int})
    assert base == "f" and opts == {"w": True, "snaplen": 128}
    base, opts = split_port_options("x", "a?b=0x10&c=off", {}, {"b": int, "c": bool})
    assert base == "a" and opts == {"b": 16, "c": False}


def test_a_pipe_end_cannot_be_opened_twice(pipe):
    a, _ = pipe
    with pytest.raises(PortError, match="already open in this process"):
        open_port(a.name)


# --- head / cur / tail -----------------------------------------------------------------


def test_fresh_rings(pipe):
    a, b = pipe
    for port in pipe:
        assert len(port.rx_rings) == 1 and len(port.tx_rings) == 1
        tx, rx = port.tx_rings[0], port.rx_rings[0]
        assert tx.num_slots == rx.num_slots == 8
        assert (tx.head, tx.cur, tx.tail) == (0, 0, 7)      # one slot always stays with the backend
        assert tx.space == 7
        assert (rx.head, rx.cur, rx.tail) == (0, 0, 0)      # nothing received
        assert rx.space == 0
        assert tx.flags & NR_SHARED_BUFFERS and rx.flags & NR_SHARED_BUFFERS
        assert port.fd >= 0
    assert a.rx_sync() == 0 and a.tx_sync() == 0


def test_txsync_publishes_slots_up_to_head_only(pipe):
    a, b = pipe
    tx, rx = a.tx_rings[0], b.rx_rings[0]
    for i in range(3):
        tx.write(i, bytes([i]) * (10 + i))
    tx.head = tx.cur = 2                  # slot 2 is written but not handed over
    assert a.tx_sync() >= 0
    assert b.rx_sync() == 2
    assert (rx.head, rx.tail) == (0, 2)
    assert [rx.read(i) for i in range(2)] == [b"\0" * 10, b"\1" * 11]
    tx.head = tx.cur = 3
    a.tx_sync()
    assert b.rx_sync() == 3               # head did not move: all three are the user's
    assert rx.read(2) == b"\2" * 12


def test_tx_full_empty_and_release(pipe):
    a, b = pipe
    tx, rx = a.tx_rings[0], b.rx_rings[0]
    assert a.send([b"f%d" % i for i in range(20)]) == 7     # 7 of 8 slots: then the ring is full
    assert tx.space == 0 and tx.head == tx.tail == 7
    assert a.tx_sync() == 0                                   # nothing completed yet
    assert b.rx_sync() == 7
    rx.head = rx.cur = 3                                      # release three
    assert b.rx_sync() == 4
    assert a.tx_sync() == 3                                   # three slots came back
    assert tx.space == 3
    assert b.recv() == [b"f3", b"f4", b"f5", b"f6"]
    assert b.rx_rings[0].space == 0 and a.tx_sync() == 4 and tx.space == 7


def test_wrap_around_keeps_order(pipe):
    a, b = pipe
    sent, got = [], []
    for round_ in range(10):              # 10 x 5 frames through 8 slots: indices wrap many times
        frames = [b"r%02dk%d" % (round_, k) for k in range(5)]
        assert a.send(frames) == 5
        sent += frames
        got += b.recv()
    assert got == sent
    assert a.tx_rings[0].head == 50 % 8 and b.rx_rings[0].head == 50 % 8


def test_recv_max_leaves_the_rest(pipe):
    a, b = pipe
    a.send([b"1", b"2", b"3"])
    assert b.recv(max=2) == [b"1", b"2"]
    assert b.recv() == [b"3"]


@pytest.mark.parametrize("which, head, cur", [
    ("rx", 5, 5),       # head past tail (2)
    ("rx", 0, 5),       # cur past tail
    ("rx", 1, 0),       # cur before head
    ("tx", 1, 1),       # head moved back over published slots
    ("tx", 2, 1),       # cur before head
])
def test_sync_rejects_head_or_cur_outside_the_users_slots(pipe, which, head, cur):
    a, b = pipe
    assert a.send([b"x", b"y"]) == 2      # tx: head 2, tail 7
    assert b.rx_sync() == 2               # rx: head 0, tail 2
    port = b if which == "rx" else a
    ring = port.rx_rings[0] if which == "rx" else port.tx_rings[0]
    sync = port.rx_sync if which == "rx" else port.tx_sync
    good = ring.head
    ring.head, ring.cur = head, cur
    assert sync() == -1
    assert "head or cur" in port.error_state()
    if which == "rx":
        with pytest.raises(PortError, match="rxsync failed: head or cur"):
            port.recv()
    ring.head = ring.cur = good           # put things back: the ring works again
    assert sync() >= 0 and port.error_state() is None
    if which == "rx":
        assert b.recv() == [b"x", b"y"]


def test_cur_ahead_of_head_is_allowed(pipe):
    a, b = pipe
    a.send([b"1", b"2", b"3"])
    rx = b.rx_rings[0]
    b.rx_sync()
    rx.cur = 2                            # wake me after more than slot 2 (netmap's use of cur)
    assert b.rx_sync() == 3 and rx.head == 0


def test_poll_readable_only_when_frames_wait(pipe):
    a, b = pipe
    assert b.rx_sync() == 0               # arms the wake-up
    assert select.select([b.fd], [], [], 0)[0] == []
    a.send([b"ping"])
    assert select.select([b.fd], [], [], 1.0)[0] == [b.fd]
    assert b.wait(timeout=1.0)
    assert b.recv() == [b"ping"]
    assert b.rx_sync() == 0
    assert select.select([b.fd], [], [], 0)[0] == []


def test_poll_writable_only_when_tx_slots_free(pipe):
    a, b = pipe
    a.send([b"x"] * 7)
    assert a.tx_sync() == 0               # full: arms the wake-up, fd stops being writable
    assert select.select([], [a.fd], [], 0)[1] == []
    assert not a.wait(timeout=0.05, write=True)
    b.recv(max=1)                         # release a slot: the receiver wakes the sender
    assert select.select([], [a.fd], [], 1.0)[1] == [a.fd]
    assert a.tx_sync() == 1


def test_closed_port_and_rings_raise_instead_of_touching_memory(pipe):
    a, b = pipe
    ring = a.tx_rings[0]
    a.close()
    with pytest.raises(ValueError, match="closed"):
        ring.head
    with pytest.raises(PortError, match="closed"):
        a.send([b"x"])
    assert a.error_state() == "port closed"
    a.close()                             # twice is fine


# --- buffer swaps (NS_BUF_CHANGED) and ownership ----------------------------------------


def test_zero_copy_put_swaps_buffers_and_counts_balance(pipe):
    a, b = pipe
    tx = a.tx_rings[0]
    pkt = PacketObject.make(b"zero-copy frame")
    free0, held0, foreign0 = census()
    assert held0 >= 1
    old_buf = tx.slot(0)[0]
    assert tx.put_packet(0, pkt, zero_copy=True)
    buf, length, offset, flags = tx.slot(0)
    assert buf != old_buf and flags & NS_BUF_CHANGED and length == 15
    assert tx.read(0) == b"zero-copy frame"
    # the packet's buffer went into the shared slot, the slot's old one is now free here
    assert census() == (free0 + 1, held0 - 1, foreign0)
    with pytest.raises(Exception):
        len(pkt)                          # the object is spent
    tx.head = tx.cur = 1
    a.tx_sync()
    assert b.rx_sync() == 1
    rx = b.rx_rings[0]
    got = rx.take_packet(0, zero_copy=True)
    assert bytes(got.data) == b"zero-copy frame"
    assert rx.slot(0)[0] != buf and rx.slot(0)[3] & NS_BUF_CHANGED
    # the slot's buffer is now the packet's; the slot got one of ours
    assert census() == (free0, held0, foreign0)
    del got
    assert census() == (free0 + 1, held0 - 1, foreign0)


def test_copying_put_and_take_leave_slot_buffers_in_place(pipe):
    a, b = pipe
    tx = a.tx_rings[0]
    pkt = PacketObject.make(b"copied")
    before = census()
    buf0 = tx.slot(0)[0]
    assert tx.put_packet(0, pkt, zero_copy=False)
    assert tx.slot(0)[0] == buf0 and not tx.slot(0)[3] & NS_BUF_CHANGED
    assert census() == (before[0] + 1, before[1] - 1, before[2])     # the packet was freed
    tx.head = tx.cur = 1
    a.tx_sync()
    b.rx_sync()
    rx = b.rx_rings[0]
    got = rx.take_packet(0, zero_copy=False)
    assert bytes(got.data) == b"copied" and rx.slot(0)[0] == buf0
    del got


def test_clone_is_copied_not_swapped(pipe):
    a, _ = pipe
    tx = a.tx_rings[0]
    pkt = PacketObject.make(b"shared data")
    clone = pkt.clone()
    buf0 = tx.slot(0)[0]
    assert tx.put_packet(0, pkt, zero_copy=True)
    assert tx.slot(0)[0] == buf0          # a shared buffer cannot leave: copied
    assert bytes(clone.data) == b"shared data"


def test_take_refuses_a_buffer_this_process_holds(pipe, tmp_path):
    """On a shared ring a slot may only name a buffer marked foreign here:
    a slot forged to name one of this process's buffers, or one outside the
    pool, gives no packet (no double ownership, no double free)."""
    a, b = pipe
    a.send([b"frame"])
    b.rx_sync()
    rx = b.rx_rings[0]
    real = rx.slot(0)[0]
    private = open_port(f"pcap:{tmp_path / 'x.pcap'}?w")   # a private ring: its buffers are ours
    mine = private.tx_rings[0].slot(0)[0]
    before = census()
    rx.set_slot(0, buf_idx=mine)
    assert rx.take_packet(0) is None and rx.take_packet(0, zero_copy=False) is None
    rx.set_slot(0, buf_idx=packet.small_pool().nbuffers + 5)
    assert rx.take_packet(0) is None
    with pytest.raises(ValueError, match="outside the pool"):
        rx.read(0)
    rx.set_slot(0, buf_idx=real)
    assert census() == before
    assert bytes(rx.take_packet(0).data) == b"frame"
    private.close()


def test_put_refuses_a_frame_longer_than_a_buffer(pipe):
    a, _ = pipe
    tx = a.tx_rings[0]
    big = PacketObject.make(b"x" * (tx.buf_size + 1))
    before = census()
    assert not tx.put_packet(0, big, zero_copy=False)
    assert len(big) == tx.buf_size + 1    # not consumed: still the caller's
    assert census() == before
    with pytest.raises(ValueError, match="does not fit"):
        a.send([b"x" * (tx.buf_size + 1)])


def test_many_swaps_leak_nothing(pipe):
    a, b = pipe
    before = census()
    tx, rx = a.tx_rings[0], b.rx_rings[0]
    for k in range(200):
        pkt = PacketObject.make(b"%d" % k)
        a.tx_sync()
        assert tx.space > 0
        assert tx.put_packet(tx.head, pkt, zero_copy=k % 2 == 0)
        tx.head = tx.cur = (tx.head + 1) % tx.num_slots
        a.tx_sync()
        assert b.rx_sync() == 1
        got = rx.take_packet(rx.head, zero_copy=k % 3 == 0)
        assert bytes(got.data) == b"%d" % k
        del got
        rx.head = rx.cur = (rx.head + 1) % rx.num_slots
        b.rx_sync()
    a.tx_sync()
    assert census() == before
