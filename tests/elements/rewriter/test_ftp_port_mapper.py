"""FTPPortMapper: PORT commands rewritten, data mappings made, sequence numbers shifted."""
from harness import run_router
from rewriter_helpers import checksums_ok, make_feed, tcp
from scapy.all import IP, TCP

from support import run_config

CFG = """
f :: HarnessFeed({key});
ctl :: TCPRewriter(pattern 203.0.113.1 40000-40010# - - 0 1, drop);
data :: IPRewriter(pattern 203.0.113.1 50000-50010# - - 0 1, drop);
ftp :: FTPPortMapper(ctl, data, 0);
rec :: HarnessRecord;
f[0] -> ftp -> [0]ctl; f[1] -> [1]ctl; ctl[0] -> [0]rec; ctl[1] -> [1]rec;
f[2] -> [0]data; f[3] -> [1]data; data[0] -> [2]rec; data[1] -> [3]rec;
"""

CLIENT, SERVER = "10.0.0.5", "192.0.2.21"


def c2s(payload=b"", flags="PA", seq=101, ack=901, at=0.0):
    return {"at": at, "port": 0, "data": tcp(CLIENT, 3000, SERVER, 21, flags=flags, seq=seq, ack=ack, payload=payload)}


def s2c(payload=b"", flags="A", seq=901, ack=101, at=0.0):
    return {"at": at, "port": 1, "data": tcp(SERVER, 21, "203.0.113.1", 40000, flags=flags, seq=seq, ack=ack,
                                             payload=payload)}


def run(pkts):
    r = run_router(CFG.format(key=make_feed(pkts)), 10)
    return r, r.find("rec")


def handshake():
    return [c2s(flags="S", seq=100, ack=0), s2c(flags="SA", seq=900, ack=101, at=0.1)]


def test_port_command_is_rewritten_and_data_mapping_made():
    port_cmd = b"PORT 10,0,0,5,19,137\r\n"
    pkts = handshake() + [
        c2s(port_cmd, seq=101, at=1),
        c2s(b"LIST\r\n", seq=101 + len(port_cmd), at=2),
        s2c(b"200 ok\r\n", seq=901, ack=101 + len(port_cmd) + 3 + 6, at=3),     # the server saw 3 more bytes
        {"at": 4, "port": 3, "data": tcp(SERVER, 20, "203.0.113.1", 50000, flags="S", seq=7000)},
    ]
    r, rec = run(pkts)
    fwd = [IP(o.data) for o in rec.on(0)]
    assert len(fwd) == 3
    cmd = fwd[1]
    assert bytes(cmd[TCP].payload) == b"PORT 203,0,113,1,195,80\r\n"
    assert cmd.len == 20 + 20 + 25
    assert (cmd.src, cmd[TCP].sport, cmd[TCP].seq) == ("203.0.113.1", 40000, 101)
    # the next segment's sequence number moves by the 3 bytes added
    assert fwd[2][TCP].seq == 101 + len(port_cmd) + 3
    # and the server's acknowledgement comes back without them
    back = [IP(o.data) for o in rec.on(1)]
    assert back[-1][TCP].ack == 101 + len(port_cmd) + 6
    assert back[-1].dst == CLIENT
    assert all(checksums_ok(o.data) for o in rec.log)
    # the server's data connection reaches the client's announced address and port
    data_in = rec.on(3)
    assert len(data_in) == 1
    assert (IP(data_in[0].data).dst, IP(data_in[0].data)[TCP].dport, IP(data_in[0].data)[TCP].sport) == (CLIENT, 5001, 20)
    assert r.read("data.nmappings") == "1"


def test_shorter_replacement_moves_sequence_numbers_back():
    # a long-winded PORT (leading zeros) is replaced by a shorter one
    port_cmd = b"PORT 010,000,000,005,019,137\r\n"
    pkts = handshake() + [c2s(port_cmd, seq=101, at=1), c2s(b"NOOP\r\n", seq=101 + len(port_cmd), at=2)]
    r, rec = run(pkts)
    fwd = [IP(o.data) for o in rec.on(0)]
    new = b"PORT 203,0,113,1,195,80\r\n"
    assert bytes(fwd[1][TCP].payload) == new
    assert fwd[2][TCP].seq == 101 + len(new)
    assert all(checksums_ok(o.data) for o in rec.log)


def test_other_commands_and_bad_port_commands_pass_unchanged():
    bad = [b"USER anonymous\r\n", b"PORT 1,2,3\r\n", b"PORT 300,0,0,1,2,3\r\n", b"PORT 1,2,3,4,5,6",
           b"PORT 1,2,3,4,5,x\r\n", b"PORT"]
    pkts = handshake()
    seq = 101
    for i, cmd in enumerate(bad):
        pkts.append(c2s(cmd, seq=seq, at=1 + i))
        seq += len(cmd)
    r, rec = run(pkts)
    fwd = [IP(o.data) for o in rec.on(0)][1:]
    assert [bytes(p[TCP].payload) for p in fwd] == bad
    assert [p[TCP].seq for p in fwd] == [101 + sum(len(c) for c in bad[:i]) for i in range(len(bad))]
    assert r.read("data.nmappings") == "0"


def test_port_command_without_control_mapping_is_left_alone():
    # no earlier packet made the control mapping: FTPPortMapper leaves the command
    # alone (the control rewriter then maps the packet as a new flow)
    r, rec = run([c2s(b"PORT 10,0,0,5,19,137\r\n", flags="PA")])
    assert [bytes(IP(o.data)[TCP].payload) for o in rec.on(0)] == [b"PORT 10,0,0,5,19,137\r\n"]
    assert r.read("data.nmappings") == "0"


def test_truncated_tcp_header_is_dropped():
    from scapy.all import raw
    short = raw(IP(src=CLIENT, dst=SERVER, proto=6) / b"\x0b\xb8\x00\x15")
    bogus_off = bytearray(tcp(CLIENT, 3000, SERVER, 21, payload=b"PORT 1,2,3,4,5,6\r\n"))
    bogus_off[32] = 0xF0                 # data offset 60 bytes, past the end
    r, rec = run(handshake() + [{"at": 1, "data": short}, {"at": 1, "data": bytes(bogus_off)}])
    assert len(rec.on(0)) == 1
    assert r.find("ftp").dropped == 2


def test_arguments_are_checked():
    res = run_config("InfiniteSource(LIMIT 1) -> FTPPortMapper(nosuch, nosuch, 0) -> Discard")
    assert res.returncode != 0 and "FTPPortMapper" in res.stderr
    res = run_config("c :: Counter; InfiniteSource(LIMIT 1) -> FTPPortMapper(c, c, 0) -> c -> Discard")
    assert res.returncode != 0
