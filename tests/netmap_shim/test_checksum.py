"""Finishing TCP/UDP checksums that a sender left to offload (netmap_shim/backends/checksum.pxd)."""
import random

import pytest
from scapy.all import IP, TCP, UDP, Dot1Q, Ether, IPv6, Raw

from clickpy.netmap_shim.backends.common import finish_checksum


def frames():
    eth = Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")
    rng = random.Random(7)
    for i in range(40):
        payload = Raw(bytes(rng.randrange(256) for _ in range(rng.randrange(0, 300))))
        l4 = TCP(sport=rng.randrange(65536), dport=80, seq=rng.randrange(1 << 32), flags="PA") if i % 2 \
            else UDP(sport=rng.randrange(65536), dport=53)
        l3 = IP(src="10.0.0.1", dst=f"10.0.{i}.2") if i % 4 < 2 else IPv6(src="fd00::1", dst=f"fd00::{i + 2:x}")
        head = eth / Dot1Q(vlan=7) if i % 5 == 0 else eth
        yield head / l3 / l4 / payload


def offset_of_checksum(frame) -> int:
    l4 = frame[TCP] if TCP in frame else frame[UDP]
    return len(frame) - len(l4) + (16 if TCP in frame else 6)


def partial(frame) -> bytes:
    """What a sender leaves with checksum offload: the folded sum of the
    pseudo-header (addresses, protocol, length), not inverted."""
    import ipaddress

    l4 = bytes(frame[TCP] if TCP in frame else frame[UDP])
    if IP in frame:
        addrs = ipaddress.ip_address(frame[IP].src).packed + ipaddress.ip_address(frame[IP].dst).packed
    else:
        addrs = ipaddress.ip_address(frame[IPv6].src).packed + ipaddress.ip_address(frame[IPv6].dst).packed
    total = sum(int.from_bytes(addrs[i:i + 2], "big") for i in range(0, len(addrs), 2))
    total += (6 if TCP in frame else 17) + len(l4)
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    raw = bytearray(bytes(frame))
    at = offset_of_checksum(frame)
    raw[at:at + 2] = total.to_bytes(2, "big")
    return bytes(raw)


@pytest.mark.parametrize("frame", list(frames()), ids=lambda f: f.summary()[:60])
def test_partial_checksums_are_finished_and_right_ones_kept(frame):
    right = bytes(frame)
    # a frame with a right checksum is never changed, whatever the mode
    assert finish_checksum(right, True)[0] == right
    assert finish_checksum(right, False)[0] == right
    # a partial one is finished to exactly the right checksum (both modes)
    half = partial(frame)
    assert half != right
    assert finish_checksum(half, True) == (right, True)
    assert finish_checksum(half, False) == (right, True)
    # a wrong checksum that is not a pseudo-header sum is left for the router to judge
    bad = bytearray(right)
    at = offset_of_checksum(frame)
    bad[at] ^= 0x5A
    if bytes(bad) != half:
        assert finish_checksum(bytes(bad), True) == (bytes(bad), False)


def test_what_offload_never_leaves_partial_is_left_alone():
    eth = Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")
    fragment = bytes(eth / IP(src="10.0.0.1", dst="10.0.0.2", flags="MF") / UDP() / Raw(b"x" * 40))
    assert finish_checksum(fragment, False) == (fragment, False)
    icmp_like = bytes(eth / IP(src="10.0.0.1", dst="10.0.0.2", proto=1) / Raw(b"y" * 20))
    assert finish_checksum(icmp_like, False) == (icmp_like, False)
    whole = bytes(eth / IP(src="10.0.0.1", dst="10.0.0.2") / UDP() / Raw(b"z" * 20))
    for n in range(len(whole)):  # a frame shorter than its IP header says: nothing written
        assert finish_checksum(whole[:n], False) == (whole[:n], False)
    assert finish_checksum(whole, False) == (whole, True)
