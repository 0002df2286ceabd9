"""A flow table holds a million mappings and still maps correctly (rates are in bench/test_rewriter.py)."""
import pytest
from rewriter_helpers import write_flows_pcap

from support import build_router

N = 1_000_000
NAT_ADDRESS = 0xCB007101       # 203.0.113.1


@pytest.mark.slow
def test_a_million_flows(tmp_path):
    pcap = tmp_path / "flows.pcap"
    write_flows_pcap(pcap, N, passes=2)
    r = build_router(f"""
        FromDump({pcap}, STOP true, MMAP true)
          -> Strip(14) -> CheckIPHeader
          -> rw :: IPRewriter(pattern 203.0.113.1 1024-65535 - - 0 1);
        rw[0] -> c :: Counter -> Discard;
        rw[1] -> Discard;
    """)
    r.run()
    rw = r.find("rw")
    # every flow made one mapping on the first pass; the second pass found them all
    assert r.read("c.count") == str(2 * N)
    assert r.read("rw.nmappings") == str(N)
    assert r.read("rw.size") == str(N)
    assert r.read("rw.mapping_failures") == "0"
    for i in (0, 1, 4242, 77777, 500000, N - 1):
        src, sport, dst = 0x0A000000 + i, 2000 + i % 50000, 0xC6120000 + i
        got = rw.lookup(src, sport, dst, 53, 1)
        assert got is not None, i
        (nsrc, nsport, ndst, ndport), out = got
        assert (nsrc, ndst, ndport, out) == (NAT_ADDRESS, dst, 53, 0)
        # the source port is kept: no other mapping uses it toward this destination
        assert nsport == sport
        # and the reply entry maps back
        back = rw.lookup(dst, 53, NAT_ADDRESS, nsport, 1)
        assert back == ((dst, 53, src, sport), 1)
    assert rw.lookup(0x0A000000 + N, 2000, 0xC6120000 + N, 53, 1) is None
