"""CheckTCPHeader, CheckUDPHeader, CheckICMPHeader: good packets pass
unchanged; every bad-header reason is dropped (or sent to output 1) and
counted, in ``drops`` and per reason in ``drop_details`` (DETAILS true); the
first bad packet prints a message, VERBOSE prints one per bad packet."""
import pytest
from scapy.layers.inet import ICMP, IP, TCP, UDP
from scapy.packet import Raw


def tcp(payload=b"hello", **kw):
    return bytes(IP(src="10.0.0.1", dst="10.0.0.2") / TCP(sport=1234, dport=80, **kw) / Raw(payload))


def udp(payload=b"hello", **kw):
    return bytes(IP(src="10.0.0.1", dst="10.0.0.2") / UDP(sport=53, dport=5353, **kw) / Raw(payload))


def icmp(payload=b"abcdefgh", **kw):
    return bytes(IP(src="10.0.0.1", dst="10.0.0.2") / ICMP(**kw) / Raw(payload))


def corrupt(data, offset, value):
    b = bytearray(data)
    b[offset] = value
    return bytes(b)


def set_ip_len(data, n):
    """data with IP total length n and a fixed-up IP checksum."""
    ip = IP(data)
    ip.len = n
    del ip.chksum
    return bytes(ip)[:len(data)] if n >= len(data) else bytes(IP(bytes(ip)))[:len(data)]


# --- TCP -----------------------------------------------------------------------------------

TCP_BAD = {
    "not TCP": [udp(), icmp()],
    "bad packet length": [
        tcp()[:30],                                  # cut inside the TCP header
        corrupt(tcp(), 32, 0x40),                    # data offset 4 words: under 20 bytes
        corrupt(tcp(), 32, 0xF0),                    # data offset 60 bytes: past the segment
        tcp(payload=b"x" * 40)[:50],                 # IP length says more than is there
    ],
    "bad TCP checksum": [corrupt(tcp(), 36, 0x00) if tcp()[36] else corrupt(tcp(), 36, 1),
                         tcp()[:-1] + bytes([tcp()[-1] ^ 0xFF])],
}


def _details(text):
    return {reason: int(n) for n, reason in (line.split("\t") for line in text.splitlines())}


@pytest.mark.parametrize("element,good,bad,proto", [
    ("CheckTCPHeader", [tcp(), tcp(b""), tcp(b"x" * 1000, flags="SA", options=[("MSS", 1460)])], TCP_BAD, "TCP"),
])
def test_tcp_good_pass_bad_counted(tu, capsys, element, good, bad, proto):
    packets = list(good) + [p for ps in bad.values() for p in ps]
    r, (out,) = tu.through(f"{element}(DETAILS true)", packets)
    assert out == list(good)
    nbad = sum(len(v) for v in bad.values())
    assert r.read("e.drops") == str(nbad)
    assert _details(r.read("e.drop_details")) == {k: len(v) for k, v in bad.items()}
    err = capsys.readouterr().err
    # one message only without VERBOSE: the first bad packet's
    assert err.count(f"header check failed") == 1
    assert f"e: {proto} header check failed: not {proto}" in err


def test_tcp_verbose_and_second_output(tu, capsys):
    bad = [p for ps in TCP_BAD.values() for p in ps]
    r, (good_out, bad_out) = tu.through("CheckTCPHeader(VERBOSE true)", [tcp()] + bad, 2)
    assert good_out == [tcp()]
    assert bad_out == bad                  # bad packets leave unchanged on output 1
    assert r.read("e.drops") == str(len(bad))
    lines = [l for l in capsys.readouterr().err.splitlines() if "header check failed" in l]
    want = [f"e: TCP header check failed: {reason}" for reason, ps in TCP_BAD.items() for _ in ps]
    assert lines == want
    # drop_details exists only with DETAILS
    with pytest.raises(Exception):
        r.read("e.drop_details")


def test_tcp_no_network_header(tu):
    # without MarkIPHeader, the packet has no IP header annotation: not TCP
    from support import build_router

    r = build_router("InfiniteSource(DATA \\<4500>, LIMIT 3, STOP true) -> e :: CheckTCPHeader(DETAILS true) -> Discard")
    r.run()
    assert r.read("e.drops") == "3"
    assert _details(r.read("e.drop_details"))["not TCP"] == 3


# --- UDP -----------------------------------------------------------------------------------

UDP_BAD = {
    "not UDP": [tcp(), icmp()],
    "bad packet length": [
        udp()[:25],                                  # cut inside the UDP header
        corrupt(udp(), 25, 4),                       # UDP length 4: under the header
        corrupt(udp(), 25, 200),                     # UDP length past the packet
        udp(payload=b"x" * 40)[:40],                 # IP length says more than is there
    ],
    "bad UDP checksum": [udp()[:-1] + bytes([udp()[-1] ^ 0xFF])],
}


def test_udp_good_pass_bad_counted(tu, capsys):
    good = [udp(), udp(b""), udp(b"y" * 999), udp(chksum=0)]   # checksum 0: none, accepted
    packets = good + [p for ps in UDP_BAD.values() for p in ps]
    r, (out,) = tu.through("CheckUDPHeader(DETAILS true)", packets)
    assert out == good
    assert r.read("e.drops") == str(sum(len(v) for v in UDP_BAD.values()))
    assert _details(r.read("e.drop_details")) == {k: len(v) for k, v in UDP_BAD.items()}
    err = capsys.readouterr().err
    assert err.count("header check failed") == 1
    # Click's CheckUDPHeader does not name itself in the message
    assert err.splitlines() == ["UDP header check failed: not UDP"]


def test_udp_verbose_and_second_output(tu, capsys):
    bad = [p for ps in UDP_BAD.values() for p in ps]
    r, (good_out, bad_out) = tu.through("CheckUDPHeader(VERBOSE true)", [udp()] + bad, 2)
    assert good_out == [udp()]
    assert bad_out == bad
    lines = [l for l in capsys.readouterr().err.splitlines() if "header check failed" in l]
    assert lines == [f"UDP header check failed: {reason}" for reason, ps in UDP_BAD.items() for _ in ps]


# --- ICMP ----------------------------------------------------------------------------------

def _icmp_err(type_, inner=28):
    return icmp(payload=b"q" * inner, type=type_, code=0)


ICMP_BAD = {
    "not ICMP": [tcp(), udp()],
    "bad packet length": [
        icmp()[:25],                                 # under the 8-byte ICMP header
        _icmp_err(3, 27),                            # unreachable needs IP header + 8 bytes
        _icmp_err(11, 10),                           # time exceeded, likewise
        icmp(payload=b"x" * 13, type=13),            # timestamp: exactly 20 bytes
        icmp(payload=b"x", type=15),                 # information request: exactly 8
    ],
    "bad ICMP checksum": [icmp()[:-1] + bytes([icmp()[-1] ^ 0x55])],
}


def test_icmp_good_pass_bad_counted(tu, capsys):
    good = [icmp(), icmp(type=0), _icmp_err(3), _icmp_err(11, 100), _icmp_err(5),
            icmp(payload=b"", type=14), icmp(payload=b"", type=16)]
    packets = good + [p for ps in ICMP_BAD.values() for p in ps]
    r, (out,) = tu.through("CheckICMPHeader(DETAILS true)", packets)
    assert out == good
    assert r.read("e.drops") == str(sum(len(v) for v in ICMP_BAD.values()))
    assert _details(r.read("e.drop_details")) == {k: len(v) for k, v in ICMP_BAD.items()}
    err = capsys.readouterr().err
    assert err.count("header check failed") == 1
    assert "e: ICMP header check failed: not ICMP" in err


def test_icmp_verbose_and_second_output(tu, capsys):
    bad = [p for ps in ICMP_BAD.values() for p in ps]
    r, (good_out, bad_out) = tu.through("CheckICMPHeader(VERBOSE true)", [icmp()] + bad, 2)
    assert good_out == [icmp()]
    assert bad_out == bad
    lines = [l for l in capsys.readouterr().err.splitlines() if "header check failed" in l]
    assert lines == [f"e: ICMP header check failed: {reason}" for reason, ps in ICMP_BAD.items() for _ in ps]


@pytest.mark.parametrize("element", ["CheckTCPHeader", "CheckUDPHeader", "CheckICMPHeader"])
def test_random_garbage_never_crashes(tu, element):
    import random

    rng = random.Random(7)
    packets = []
    for _ in range(300):
        base = rng.choice([tcp(), udp(), icmp(), _icmp_err(3)])
        b = bytearray(base[:rng.randrange(20, len(base) + 1)])
        for _ in range(rng.randrange(4)):
            b[rng.randrange(len(b))] = rng.randrange(256)
        b[0] = 0x45 if rng.random() < 0.8 else b[0]
        packets.append(bytes(b))
    r, (good, bad) = tu.through(element, packets, 2)
    assert len(good) + len(bad) == len(packets)
    assert r.read("e.drops") == str(len(bad))


@pytest.mark.parametrize("args,error", [
    ("VERBOSE maybe", "VERBOSE"),
    ("FOO true", "FOO"),
])
@pytest.mark.parametrize("element", ["CheckTCPHeader", "CheckUDPHeader", "CheckICMPHeader"])
def test_bad_configuration(element, args, error):
    from support import run_config

    res = run_config(f"Idle -> {element}({args}) -> Discard", "-q")
    assert res.returncode != 0
    assert error in res.stderr
