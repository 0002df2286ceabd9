"""Random and mangled packets through every rewriter: nothing crashes, every packet is accounted for."""
import random

import pytest
from harness import run_router
from rewriter_helpers import icmp, make_feed, tcp, udp


def mangled(seed, n=400):
    rng = random.Random(seed)
    base = [udp("10.0.0.1", 1111, "8.8.8.8", 53), tcp("10.0.0.1", 2222, "8.8.8.8", 21, flags="PA",
                                                      payload=b"PORT 10,0,0,1,4,1\r\n"),
            icmp("10.0.0.1", "8.8.8.8", type=8, id=3), icmp("8.8.8.8", "10.0.0.1", type=11, payload=bytes(28))]
    out = []
    for _ in range(n):
        p = bytearray(rng.choice(base))
        for _ in range(rng.randrange(4)):
            p[rng.randrange(len(p))] = rng.randrange(256)
        if rng.random() < 0.3:
            p = p[:rng.randrange(len(p) + 1)]
        if rng.random() < 0.1:
            p = bytearray(rng.randbytes(rng.randrange(60)))
        out.append(bytes(p))
    return out


ELEMENTS = [
    "IPRewriter(pattern 203.0.113.1 1024-1030 - - 0 1, pass 1)",
    "TCPRewriter(pattern 203.0.113.1 1024-1030# - - 0 1, drop)",
    "UDPRewriter(pattern 203.0.113.1 1024-1030? - - 0 1, keep 1 0)",
    "IPAddrRewriter(pattern 203.0.113.1-203.0.113.3 - 0 1, drop)",
    "IPAddrPairRewriter(pattern 203.0.113.1-203.0.113.3# - 0 1, pass 0)",
    "ICMPPingRewriter(pattern 203.0.113.1 - 0-3 0 1, drop)",
]


@pytest.mark.parametrize("decl", ELEMENTS)
@pytest.mark.parametrize("burst", [1, 32])
def test_mangled_packets_never_crash(decl, burst):
    pkts = mangled(ELEMENTS.index(decl))
    cfg = (f"f :: HarnessFeed({make_feed(pkts)}); q :: Queue(1000); rw :: {decl}; rec :: HarnessRecord;"
           f"f -> q -> Unqueue(BURST {burst}) -> [0]rw; Idle -> [1]rw; rw[0] -> [0]rec; rw[1] -> [1]rec;")
    r = run_router(cfg, 5)
    rw = r.find("rw")
    assert len(r.find("rec").log) + rw.dropped <= len(pkts)
    int(r.read("rw.nmappings"))
    r.read("rw.table" if "IPRewriter(" not in decl else "rw.udp_table")


def test_mangled_icmp_errors_and_ftp_commands_never_crash():
    pkts = mangled(7)
    cfg = (f"f :: HarnessFeed({make_feed(pkts)}); t :: Tee;"
           "rw :: IPRewriter(pattern 203.0.113.1 1024-65535 - - 0 1, drop);"
           "ctl :: TCPRewriter(pattern 203.0.113.1 2000-2010 - - 0 1);"
           "ftp :: FTPPortMapper(ctl, rw, 0); rec :: HarnessRecord;"
           "f -> t; t[0] -> [0]rw; Idle -> [1]rw; rw[0] -> [0]rec; rw[1] -> [1]rec;"
           "t[1] -> ICMPRewriter(rw) -> [2]rec; t[2] -> ftp -> ctl -> [3]rec; ctl[1] -> [4]rec;")
    r = run_router(cfg, 5)
    assert len(r.find("rec").log) <= 3 * len(pkts)
