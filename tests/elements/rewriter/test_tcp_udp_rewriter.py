"""TCPRewriter and UDPRewriter: their own tables, protocols, timeouts and handlers."""
import pytest
from rewriter_helpers import checksums_ok, icmp, rewrite, snap, tcp, udp
from scapy.all import IP, TCP, UDP, raw


# --- TCPRewriter ----------------------------------------------------------------------------------

def test_tcp_rewriter_maps_tcp_and_replies():
    pkts = [tcp("10.0.0.1", 1234, "192.0.2.1", 80, flags="S", seq=100),
            {"at": 1, "port": 1, "data": tcp("192.0.2.1", 80, "198.51.100.1", 1024, flags="SA", seq=5000, ack=101)}]
    r, out = rewrite("TCPRewriter(pattern 198.51.100.1 1024-2047# - - 0 1, drop)", 2, 2, pkts)
    assert [o.port for o in out] == [0, 1]
    assert (IP(out[0].data).src, IP(out[0].data)[TCP].sport) == ("198.51.100.1", 1024)
    assert (IP(out[1].data).dst, IP(out[1].data)[TCP].dport) == ("10.0.0.1", 1234)
    # no sequence number change without FTPPortMapper
    assert IP(out[0].data)[TCP].seq == 100 and IP(out[1].data)[TCP].ack == 101
    assert all(checksums_ok(o.data) for o in out)


def test_tcp_rewriter_drops_udp_unless_pass():
    r, out = rewrite("TCPRewriter(pattern 198.51.100.1 1024-2047# - - 0 1, pass 1)", 2, 2,
                     [udp("10.0.0.1", 1, "8.8.8.8", 53), {"port": 1, "data": udp("10.0.0.1", 1, "8.8.8.8", 53)}])
    assert [o.port for o in out] == [1]
    assert r.read("rw.nmappings") == "0"


def test_tcp_rewriter_lookup_and_table_handlers():
    log = []
    pkts = [tcp("10.0.0.1", 1234, "192.0.2.1", 80, flags="S"),
            {"at": 1, "call": lambda r: log.append(r.read("rw.lookup", param="10.0.0.1 1234 192.0.2.1 80"))},
            {"at": 1, "call": snap(log, "rw.table", "rw.mappings", "rw.table_size")}]
    rewrite("TCPRewriter(pattern 198.51.100.1 1024-2047# - - 0 1)", 1, 2, pkts)
    assert log[0].strip() == "198.51.100.1 1024 192.0.2.1 80"
    table, mappings, size = log[1]
    assert table == mappings and table.count("\n") == 2 and size == "1"
    assert "(10.0.0.1, 1234, 192.0.2.1, 80) => (198.51.100.1, 1024, 192.0.2.1, 80) [*0 1] i0" in table


def test_tcp_rewriter_rst_shortens_timeout():
    log = []
    kw = "TCP_DONE_TIMEOUT 5, TCP_NODATA_TIMEOUT 50, TCP_GUARANTEE 0, REAP_INTERVAL 1"
    pkts = [tcp("10.0.0.1", 1, "192.0.2.1", 80, flags="S"), tcp("10.0.0.2", 1, "192.0.2.1", 80, flags="S"),
            {"at": 2, "data": tcp("10.0.0.1", 1, "192.0.2.1", 80, flags="R")},
            {"at": 10, "call": snap(log, "rw.nmappings")},
            {"at": 60, "call": snap(log, "rw.nmappings")}]
    rewrite(f"TCPRewriter(pattern 198.51.100.1 1024-2047# - - 0 1, {kw})", 1, 2, pkts, seconds=70)
    assert log == [("1",), ("0",)]


def test_tcp_data_after_fin_reopens_direction():
    # As Click: a SYN or payload after a FIN clears that direction's 'done' mark.
    log = []
    kw = "TCP_DONE_TIMEOUT 5, TCP_NODATA_TIMEOUT 50, TCP_GUARANTEE 0, REAP_INTERVAL 1"
    pkts = [tcp("10.0.0.1", 1, "192.0.2.1", 80, flags="FA"),
            {"at": 0.1, "port": 1, "data": tcp("192.0.2.1", 80, "198.51.100.1", 1024, flags="FA")},
            {"at": 1, "data": tcp("10.0.0.1", 1, "192.0.2.1", 80, flags="PA", payload=b"more")},
            {"at": 10, "call": snap(log, "rw.nmappings")}]
    rewrite(f"TCPRewriter(pattern 198.51.100.1 1024-2047# - - 0 1, drop, {kw})", 2, 2, pkts, seconds=20)
    assert log == [("1",)]


# --- UDPRewriter ----------------------------------------------------------------------------------

def test_udp_rewriter_rewrites_tcp_and_udp_in_one_table():
    pkts = [udp("10.0.0.1", 1111, "8.8.8.8", 53), tcp("10.0.0.1", 2222, "8.8.8.8", 80, flags="S"),
            {"at": 1, "port": 1, "data": tcp("8.8.8.8", 80, "198.51.100.1", 1025, flags="SA")},
            {"at": 1, "port": 1, "data": udp("8.8.8.8", 53, "198.51.100.1", 1024)}]
    r, out = rewrite("UDPRewriter(pattern 198.51.100.1 1024-2047# - - 0 1, drop)", 2, 2, pkts)
    assert [(o.port, IP(o.data).dst) for o in out] == [(0, "8.8.8.8"), (0, "8.8.8.8"), (1, "10.0.0.1"), (1, "10.0.0.1")]
    assert IP(out[2].data)[TCP].dport == 2222 and IP(out[3].data)[UDP].dport == 1111
    assert all(checksums_ok(o.data) for o in out)
    assert r.read("rw.nmappings") == "2"


def test_udp_rewriter_drops_icmp_and_fragments_unless_pass():
    frag = raw(IP(src="10.0.0.1", dst="8.8.8.8", proto=17, frag=10) / (b"a" * 20))
    r, out = rewrite("UDPRewriter(pattern 198.51.100.1 1024-2047# - - 0 1, pass 1)", 2, 2,
                     [icmp("10.0.0.1", "8.8.8.8"), frag,
                      {"port": 1, "data": icmp("10.0.0.1", "8.8.8.8")}, {"port": 1, "data": frag}])
    assert [o.port for o in out] == [1, 1]


def test_udp_rewriter_timeouts():
    log = []
    kw = "TIMEOUT 10, STREAMING_TIMEOUT 100, GUARANTEE 0, REAP_INTERVAL 1"
    pkts = [udp("10.0.0.1", 1111, "8.8.8.8", 53),
            {"at": 0.1, "port": 1, "data": udp("8.8.8.8", 53, "198.51.100.1", 1024)},
            {"at": 0.2, "data": udp("10.0.0.1", 1111, "8.8.8.8", 53)},
            udp("10.0.0.2", 1111, "8.8.8.8", 53),
            {"at": 30, "call": snap(log, "rw.nmappings")},
            {"at": 120, "call": snap(log, "rw.nmappings")}]
    rewrite(f"UDPRewriter(pattern 198.51.100.1 1024-2047# - - 0 1, drop, {kw})", 2, 2, pkts, seconds=130)
    assert log == [("1",), ("0",)]


def test_udp_rewriter_reply_anno():
    from rewriter_helpers import make_feed, run_router
    pkts = [udp("10.0.0.1", 1111, "8.8.8.8", 53),
            {"at": 1, "port": 1, "data": udp("8.8.8.8", 53, "198.51.100.1", 1024)}]
    cfg = (f"f :: HarnessFeed({make_feed(pkts)}); rw :: UDPRewriter(pattern 198.51.100.1 1024-2047# - - 0 1, drop,"
           " REPLY_ANNO PAINT); rec :: HarnessRecord; f[0] -> Paint(7) -> [0]rw; f[1] -> Paint(3) -> [1]rw;"
           "rw[0] -> [0]rec; rw[1] -> [1]rec;")
    r = run_router(cfg, 3)
    # the reply gets the paint its flow's first packet had
    assert [(o.port, o.paint) for o in r.find("rec").log] == [(0, 7), (1, 7)]


# --- batches ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("cls", ["IPRewriter", "TCPRewriter", "UDPRewriter"])
def test_batch_path_gives_per_packet_results(cls):
    from rewriter_helpers import make_feed, run_router
    pkts = []
    for i in range(150):
        if i % 3 == 0:
            pkts.append(udp(f"10.0.0.{i % 11 + 1}", 2000 + i % 7, "8.8.8.8", 53))
        elif i % 3 == 1:
            pkts.append(tcp(f"10.0.0.{i % 11 + 1}", 3000 + i % 7, "8.8.8.8", 80, flags="A", payload=b"x"))
        else:
            pkts.append(icmp(f"10.0.0.{i % 11 + 1}", "8.8.8.8") if i % 2 else b"\x45" + bytes(12))
    pkts += [{"at": 1, "data": udp("8.8.8.8", 53, "198.51.100.1", 2000 + i % 7)} for i in range(20)]
    pkts += [{"at": 1, "data": tcp("8.8.8.8", 80, "198.51.100.1", 3000 + i % 7, flags="A")} for i in range(20)]
    results = []
    for burst in (1, 32):
        cfg = (f"f :: HarnessFeed({make_feed(pkts)}); rw :: {cls}(pattern 198.51.100.1 1024-65535# - - 0 1);"
               f"rec :: HarnessRecord; f -> Queue(1000) -> Unqueue(BURST {burst}) -> rw; rw[0] -> [0]rec; rw[1] -> [1]rec;")
        r = run_router(cfg, 5)
        results.append(([(o.port, o.data) for o in r.find("rec").log], r.read("rw.nmappings")))
    assert results[0] == results[1]
    assert len(results[0][0]) >= 70
