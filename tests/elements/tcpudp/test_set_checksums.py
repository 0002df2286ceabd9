"""SetTCPChecksum and SetUDPChecksum against scapy's checksums; bad lengths
and fragments are dropped (or, for SetUDPChecksum, sent to output 1)."""
import random

import pytest
from scapy.layers.inet import IP, TCP, UDP
from scapy.packet import Raw


def _packets(kind, rng, n=60):
    out = []
    for _ in range(n):
        payload = Raw(bytes(rng.randrange(256) for _ in range(rng.choice([0, 1, 2, 3, 17, 100, 1001]))))
        ip = IP(src=f"10.{rng.randrange(256)}.0.1", dst=f"192.168.{rng.randrange(256)}.2",
                options=rng.choice([[], [b"\x01\x01\x01\x01"]]))
        if kind == "tcp":
            l4 = TCP(sport=rng.randrange(65536), dport=rng.randrange(65536), flags="PA",
                     seq=rng.randrange(1 << 32), options=rng.choice([[], [("MSS", 1400)]]))
        else:
            l4 = UDP(sport=rng.randrange(65536), dport=rng.randrange(65536))
        out.append(bytes(ip / l4 / payload))
    return out


def _with_bad_checksum(data, kind):
    """data with its transport checksum replaced by garbage; scapy's checksum."""
    ip = IP(data)
    l4 = ip[TCP] if kind == "tcp" else ip[UDP]
    right = l4.chksum
    l4.chksum = (right + 0x1234) & 0xFFFF
    return bytes(ip), right


@pytest.mark.parametrize("kind,element", [("tcp", "SetTCPChecksum"), ("udp", "SetUDPChecksum")])
def test_checksums_match_scapy(tu, kind, element):
    rng = random.Random(kind)
    good = _packets(kind, rng)
    damaged = [_with_bad_checksum(p, kind)[0] for p in good]
    r, (out,) = tu.through(element, damaged)
    assert len(out) == len(good)
    for want, got in zip(good, out):
        # scapy computed the right checksum when it built 'want'
        assert got == want, IP(got).show(dump=True)


def test_checksums_verified_by_check_elements(tu):
    rng = random.Random(3)
    damaged = [_with_bad_checksum(p, "tcp")[0] for p in _packets("tcp", rng, 20)]
    r, (out,) = tu.through("CheckTCPHeader", damaged, before="SetTCPChecksum")
    assert len(out) == 20 and r.read("e.drops") == "0"
    damaged = [_with_bad_checksum(p, "udp")[0] for p in _packets("udp", rng, 20)]
    r, (out,) = tu.through("CheckUDPHeader", damaged, before="SetUDPChecksum")
    assert len(out) == 20 and r.read("e.drops") == "0"


def _ones_sum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(int.from_bytes(data[i:i + 2], "big") for i in range(0, len(data), 2))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return s


def test_udp_zero_checksum_is_sent_as_ffff(tu):
    # pick the source port that makes the checksum compute to 0, which UDP
    # sends as 0xFFFF (0 means 'no checksum')
    p = bytearray(bytes(IP(src="1.2.3.4", dst="5.6.7.8") / UDP(sport=0, dport=9) / Raw(b"ab")))
    pseudo = p[12:20] + b"\0\x11" + p[24:26]
    p[26:28] = b"\0\0"
    s = _ones_sum(bytes(pseudo) + bytes(p[20:]))
    sport = 0xFFFF - s                     # the sum becomes 0xFFFF, its complement 0
    p[20:22] = sport.to_bytes(2, "big")
    assert IP(bytes(IP(bytes(p))))[UDP].chksum in (0, 0xFFFF)
    p[26:28] = b"\x12\x34"
    r, (out,) = tu.through("SetUDPChecksum", [bytes(p)])
    assert out[0][26:28] == b"\xff\xff"


def test_set_tcp_checksum_bad_lengths(tu, capsys):
    good = bytes(IP() / TCP() / Raw(b"xyz"))
    short = good[:30]                                   # IP length says 43 bytes
    tiny = bytes(IP(bytes(IP(len=30) / Raw(b"\0" * 10))))   # segment under a TCP header
    r, (out,) = tu.through("SetTCPChecksum", [short, good, tiny])
    assert out == [good]
    assert capsys.readouterr().err.count("SetTCPChecksum: bad lengths") == 2


def test_set_tcp_checksum_fixoff(tu):
    base = IP(bytes(IP() / TCP() / Raw(b"x" * 12)))
    low = bytearray(bytes(base))
    low[32] = 0x30                                      # data offset 12 bytes: under 20
    high = bytearray(bytes(base))
    high[32] = 0xF0                                     # 60 bytes: past the 32-byte segment
    r, (out,) = tu.through("SetTCPChecksum(true)", [bytes(low), bytes(high)])
    assert out[0][32] >> 4 == 5
    assert out[1][32] >> 4 == 8
    for o in out:
        # the checksum verifies (scapy would reparse the 'x' bytes as options)
        pseudo = o[12:20] + b"\0\x06" + (len(o) - 20).to_bytes(2, "big")
        assert _ones_sum(pseudo + o[20:]) == 0xFFFF
    r, (out,) = tu.through("SetTCPChecksum", [bytes(low)])
    assert out[0][32] >> 4 == 3                         # unchanged without FIXOFF


def test_set_udp_checksum_fragments_and_short(tu, capsys):
    good = bytes(IP() / UDP() / Raw(b"hello"))
    frag = bytes(IP(flags="MF") / UDP() / Raw(b"hello"))
    short = good[:25]
    lying = bytearray(good)
    lying[25] = 200                                     # UDP length past the packet
    bad = [frag, short, bytes(lying)]
    r, (out, rejected) = tu.through("SetUDPChecksum", [good] + bad, 2)
    assert out == [good]
    assert rejected == bad                              # output 1: untouched, no message
    assert "fragment or short packet" not in capsys.readouterr().err
    r, (out,) = tu.through("SetUDPChecksum", [good] + bad)
    assert out == [good]
    assert capsys.readouterr().err.count("e: fragment or short packet") == 1
