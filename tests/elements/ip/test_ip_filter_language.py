"""IPFilter / IPClassifier: each part of the filter language on chosen
packets, the actions, the exact error messages, and the size of the
compiled decision tree (shared tests, bounded growth)."""
import pytest
from scapy.layers.inet import ICMP, IP, TCP, UDP, IPOption_NOP
from scapy.layers.l2 import Ether
from scapy.packet import Raw

from clickpy.elements.ip.ip_filter_language import compile_rules

M1, M2 = "00:01:02:03:04:05", "0a:0b:0c:0d:0e:0f"


def frame(l3, src_mac=M1, dst_mac=M2):
    return bytes(Ether(src=src_mac, dst=dst_mac) / l3)


def ip(**kw):
    kw.setdefault("src", "10.0.0.1")
    kw.setdefault("dst", "192.168.1.10")
    return IP(**kw)


# Named packets the cases below refer to.
P = {
    "tcp80": frame(ip() / TCP(sport=1025, dport=80, flags="S", window=512) / Raw(b"x" * 8)),
    "tcp22": frame(ip(src="192.168.1.10", dst="10.0.0.1") / TCP(sport=22, dport=5000, flags="SA")),
    "tcp443ack": frame(ip(tos=0xB8) / TCP(sport=443, dport=443, flags="A")),
    "tcpfinack": frame(ip(ttl=1) / TCP(sport=80, dport=1025, flags="FA")),
    "tcprst": frame(ip(src="18.26.4.44", dst="18.26.4.44") / TCP(sport=7, dport=7, flags="R")),
    "udp53": frame(ip(src="172.16.5.4", dst="10.1.2.3", tos=0x01) / UDP(sport=5353, dport=53)),
    "udp8080": frame(ip(src="10.1.2.3", tos=0x03) / UDP(sport=12345, dport=8080) / Raw(b"y" * 22)),
    "udp137": frame(ip(dst="255.255.255.255", ttl=255) / UDP(sport=137, dport=137)),
    "echo": frame(ip() / ICMP(type=8) / Raw(b"ping")),
    "echoreply": frame(ip(src="192.168.1.10", dst="10.0.0.1") / ICMP(type=0)),
    "unreach": frame(ip(ttl=64) / ICMP(type=3, code=3) / Raw(b"\0" * 28)),
    "timeexc": frame(ip(ttl=63) / ICMP(type=11) / Raw(b"\0" * 28)),
    "gre": frame(ip(proto=47, options=[IPOption_NOP()] * 4) / Raw(b"\0" * 8)),
    # a non-first fragment of a TCP packet: its bytes at the transport header
    # are data, so ports and flags never match it
    "frag2": frame(ip(proto=6, frag=185) / Raw(b"\x00\x50\x00\x50" + b"\0" * 12)),
    "frag1": frame(ip(flags="MF") / TCP(sport=80, dport=80, flags="")),
    # IP options move the transport header
    "tcpopts": frame(ip(options=[IPOption_NOP()] * 8) / TCP(sport=80, dport=6000, flags="P")),
    # cut inside the TCP header: the ports are there, the flags are not
    "short": frame(ip() / TCP(sport=80, dport=80, flags="S"))[:14 + 20 + 6],
}

ALL = set(P)


def only(*names):
    return {n: n in names for n in ALL}


def except_(*names):
    return {n: n not in names for n in ALL}


TCP_ALL = {"tcp80", "tcp22", "tcp443ack", "tcpfinack", "tcprst", "frag1", "tcpopts", "frag2", "short"}
TCP_FIRST = TCP_ALL - {"frag2"}
UDP_ALL = {"udp53", "udp8080", "udp137"}
ICMP_ALL = {"echo", "echoreply", "unreach", "timeexc"}

CASES = [
    # protocols
    ("tcp", only(*TCP_ALL)),
    ("ip proto tcp", only(*TCP_ALL)),
    ("ip proto 6", only(*TCP_ALL)),
    ("proto udp", only(*UDP_ALL)),
    ("icmp", only(*ICMP_ALL)),
    ("ip proto 47", only("gre")),
    ("ip proto gre", only("gre")),
    ("tcpudp", only(*(TCP_ALL | UDP_ALL))),
    ("ip proto != tcpudp", only(*(ICMP_ALL | {"gre"}))),
    ("ip proto > 6", only(*(UDP_ALL | {"gre"}))),
    ("ip proto <= 6", only(*(TCP_ALL | ICMP_ALL))),
    # hosts and nets, src / dst / src or dst / src and dst
    ("host 10.0.0.1", except_("udp53", "tcprst", "udp8080")),
    ("src host 10.0.0.1", except_("udp53", "tcprst", "tcp22", "echoreply", "udp8080")),
    ("dst host 10.0.0.1", only("tcp22", "echoreply")),
    ("src or dst host 10.0.0.1", except_("udp53", "tcprst", "udp8080")),
    ("src and dst host 18.26.4.44", only("tcprst")),
    ("src and dst net 18.0.0.0/8", only("tcprst")),
    ("host != 10.0.0.1", only("udp53", "tcprst", "udp8080")),
    ("src net 10.0.0.0/8", except_("tcp22", "echoreply", "udp53", "tcprst")),
    ("dst net 192.168.0.0 mask 255.255.0.0", except_("tcp22", "echoreply", "udp53", "tcprst", "udp137")),
    ("src 172.16.0.0/12", only("udp53")),
    ("dst 255.255.255.255", only("udp137")),
    ("10.1.2.3", only("udp53", "udp8080")),
    ("net 10.1.0.0/16", only("udp53", "udp8080")),
    # ports, by number and by name, with and without the protocol
    ("port 80", only("tcp80", "tcpfinack", "frag1", "tcpopts", "short")),
    ("tcp port www", only("tcp80", "tcpfinack", "frag1", "tcpopts", "short")),
    ("src port http", only("tcpfinack", "frag1", "tcpopts", "short")),
    ("dst port 80", only("tcp80", "frag1", "short")),
    ("src and dst port 80", only("frag1", "short")),
    ("udp port domain", only("udp53")),
    ("port 53", only("udp53")),
    ("tcp port domain", only()),
    ("ssh", only("tcp22")),
    ("src tcp port ssh", only("tcp22")),
    ("port https", only("tcp443ack")),
    ("udp port netbios-ns", only("udp137")),
    ("dst port 1025 or dst port 53", only("tcpfinack", "udp53")),
    ("src port 80 or 81 or 22", only("tcpfinack", "frag1", "tcpopts", "short", "tcp22")),
    ("port != 80", only("tcp22", "tcp443ack", "tcprst", *UDP_ALL)),
    ("dst port >= 5000 && dst port <= 8080", only("tcp22", "udp8080", "tcpopts")),
    ("dst port > 8079", only("udp8080")),
    ("dst port < 23", only("tcprst")),
    ("udp dst port & 0xFF00 == 0x1F00", only("udp8080")),
    # TCP flags
    ("tcp opt syn", only("tcp80", "tcp22")),
    ("syn", only("tcp80", "tcp22")),
    ("tcp flags ack", only("tcp22", "tcp443ack", "tcpfinack")),
    ("syn and ack", only("tcp22")),
    ("syn && not ack", only("tcp80")),
    ("fin ack", only("tcpfinack")),
    ("rst || psh", only("tcprst", "tcpopts")),
    ("tcp win 512", only("tcp80")),
    # ICMP types
    ("icmp type echo", only("echo")),
    ("icmp type 8", only("echo")),
    ("icmp type echo-reply", only("echoreply")),
    ("icmp type unreachable", only("unreach")),
    ("icmp type timeexceeded", only("timeexc")),
    ("icmp type != echo", only("echoreply", "unreach", "timeexc")),
    ("icmp type > 2", only("echo", "unreach", "timeexc")),
    # fragments
    ("ip frag", only("frag2", "frag1")),
    ("frag", only("frag2", "frag1")),
    ("ip unfrag", except_("frag2", "frag1")),
    ("unfrag and tcp", only(*(TCP_ALL - {"frag1", "frag2"}))),
    # IP header fields
    ("ip tos 0xb8", only("tcp443ack")),
    ("ip dscp 46", only("tcp443ack")),
    ("ip ttl 1", only("tcpfinack")),
    ("ip ttl > 63", except_("tcpfinack", "timeexc")),
    ("ip ttl >= 255", only("udp137")),
    ("ip ect", only("udp53", "udp8080")),
    ("ect", only("udp53", "udp8080")),
    ("ip ce", only("udp8080")),
    ("ip hl > 5", only("gre", "tcpopts")),
    ("ip vers 4", except_()),
    ("ip id 1", except_()),
    ("ip len < 40", only("udp53", "udp137", "echoreply", "echo", "frag2", "gre")),
    # byte offsets with masks
    ("ip[9] 17", only(*UDP_ALL)),
    ("ip[9:1] == 1", only(*ICMP_ALL)),
    ("ip[12:4] = 0x0a010203", only("udp8080")),
    ("ip[8] & 0xF0 == 0x30", only("timeexc")),
    ("ip[1] & 3 != 0", only("udp53", "udp8080")),
    ("transp[0:2] 80", only("tcpfinack", "frag1", "tcpopts", "short")),   # first fragments only
    ("tcp[0:2] 80", only("tcpfinack", "frag1", "tcpopts", "short")),
    ("transp[13] & 2 != 0", only("tcp80", "tcp22")),
    ("tcp[13] & 0x12 == 0x12", only("tcp22")),
    ("udp[2:2] > 8079", only("udp8080")),
    ("icmp[0] 11", only("timeexc")),
    # Ethernet addresses
    ("ether host 00:01:02:03:04:05", except_()),
    ("src ether host 0a:0b:0c:0d:0e:0f", only()),
    ("dst ether host 0a:0b:0c:0d:0e:0f", except_()),
    # connectives
    ("tcp and port 80", only("tcp80", "tcpfinack", "frag1", "tcpopts", "short")),
    ("tcp && src host 18.26.4.44", only("tcprst")),
    ("udp or icmp", only(*(UDP_ALL | ICMP_ALL))),
    ("udp || icmp", only(*(UDP_ALL | ICMP_ALL))),
    ("not tcp", except_(*TCP_ALL)),
    ("! tcp", except_(*TCP_ALL)),
    ("!tcp", except_(*TCP_ALL)),
    ("tcp src port 80", only("tcpfinack", "frag1", "tcpopts", "short")),
    ("tcp syn dst port 80", only("tcp80")),
    ("(udp or icmp) and dst net 10.0.0.0/8", only("udp53", "echoreply")),
    ("udp or icmp and dst net 10.0.0.0/8", only(*UDP_ALL, "echoreply")),
    ("not (tcp or udp) and not icmp", only("gre")),
    ("tcp ? syn : udp", only("tcp80", "tcp22", *UDP_ALL)),
    ("((tcp))", only(*TCP_ALL)),
    # constants
    ("true", except_()),
    ("false", only()),
    ("-", except_()),
    ("any", except_()),
    ("all", except_()),
    ("not false", except_()),
    # a short packet: a test whose bytes are missing is false, 'not' flips it
    ("tcp opt syn and src port 80", only()),
    ("not (tcp opt syn) and src port 80", only("tcpfinack", "frag1", "tcpopts", "short")),
]


def _run_cases(ipf, cases):
    names = sorted(P)
    router = ipf.filter_router([(f"IPClassifier({_quote(rule)})", 1) for rule, _ in cases])
    packets = ipf.marked_packets([P[n] for n in names])
    results = []
    for i, (rule, want) in enumerate(cases):
        f = router.find(f"f{i}")
        got = {n: f.match_packet(p) == 0 for n, p in zip(names, packets)}
        results.append((rule, got, want))
    del packets
    return results


def _quote(rule):
    return f'"{rule}"' if "," in rule else rule


def test_language_cases(ipf):
    wrong = []
    for rule, got, want in _run_cases(ipf, CASES):
        diff = sorted(n for n in P if got[n] != want[n])
        if diff:
            wrong.append(f"{rule!r}: wrong for {diff} (matched {sorted(n for n in P if got[n])})")
    assert not wrong, "\n".join(wrong)


def test_short_packet_semantics(ipf):
    """'short' ends after the TCP ports: 'tcp opt syn' cannot see the flags
    (false); negated it is true; the ports are there."""
    router = ipf.filter_router([("IPClassifier(syn, not syn, src port 80, not ack)", 4)])
    (p,) = ipf.marked_packets([P["short"]])
    assert router.find("f0").match_packet(p) == 1
    del p


# --- actions ----------------------------------------------------------------------------

def test_actions(ipf):
    names = ["tcp80", "udp53", "echo", "gre", "tcp22"]
    body = ("IPFilter(deny src host 172.16.5.4, allow tcp dst port 80, 2 icmp, drop ip proto 47, "
            "1 tcp, deny all)")
    got, _, _ = ipf.outputs(body, [P[n] for n in names], noutputs=3)
    assert got == [0, None, 2, None, 1]


@pytest.mark.parametrize("rules,want", [
    ("allow", [0, 0, 0]),
    ("allow -", [0, 0, 0]),
    ("1 any", [1, 1, 1]),
    ("deny tcp, 1 all", [None, 1, 1]),
    ("drop udp, allow true", [0, None, 0]),
    ("allow false, 1 icmp", [None, None, 1]),
    ("0 tcp, 1 udp", [0, 1, None]),                 # no rule matches: dropped
])
def test_action_forms(ipf, rules, want):
    got, _, _ = ipf.outputs(f"IPFilter({rules})", [P["tcp80"], P["udp53"], P["echo"]], noutputs=2)
    assert got == want


def test_port_info_and_address_info_names(ipf):
    config = ("AddressInfo(inside 10.0.0.0/8, server 192.168.1.10);\n"
              "PortInfo(myweb 80/tcp);\n")
    got, _, r = ipf.outputs("IPClassifier(src net inside and dst server and tcp port myweb, -)",
                            [P["tcp80"], P["tcp22"], P["udp8080"]], noutputs=2, prefix=config)
    assert got == [0, 1, 1]


# --- errors -------------------------------------------------------------------------------

ERRORS = [
    ("IPFilter(allow tcp port htp)",
     'rule 0 "allow tcp port htp", column 16: unknown port name \'htp\''),
    ("IPFilter(allow tcp, deny ip proto foo)",
     'rule 1 "deny ip proto foo", column 15: unknown IP protocol \'foo\''),
    ("IPFilter(allow icmp type bogus)",
     'rule 0 "allow icmp type bogus", column 17: unknown ICMP type \'bogus\''),
    ("IPFilter(allow tcp opt syx)",
     'rule 0 "allow tcp opt syx", column 15: unknown TCP flag \'syx\''),
    ("IPFilter(allow tcp opt syn and frog)",
     'rule 0 "allow tcp opt syn and frog", column 23: unknown name \'frog\''),
    ("IPFilter(allow ip[0:5] 3)",
     'rule 0 "allow ip[0:5] 3", column 10: LEN in \'[POS:LEN]\' out of range, should be between 1 and 4'),
    ("IPFilter(allow ip ttl 300)",
     'rule 0 "allow ip ttl 300", column 14: \'ip ttl\': out of range, bound 255'),
    ("IPFilter(bogus tcp)",
     'rule 0 "bogus tcp", column 1: unknown action \'bogus\' (expected \'allow\', \'deny\', \'drop\' or an output number)'),
    ("IPFilter(5 tcp)", 'rule 0 "5 tcp", column 1: output 5 out of range (the element has 1)'),
    ("IPFilter(allow (tcp or udp)",
     None),     # unbalanced parenthesis: the configuration string itself is bad
    ("IPFilter(allow tcp and)",
     'rule 0 "allow tcp and", column 14: missing expression after \'and\''),
    ("IPFilter(allow (tcp or udp) and (icmp)))", None),
    ("IPFilter(allow tcp and and udp)",
     'rule 0 "allow tcp and and udp", column 15: missing expression after \'and\''),
    ("IPFilter(allow && tcp)", 'rule 0 "allow && tcp", column 7: missing expression before \'&&\''),
    ("IPFilter(\"allow tcp )\")", 'rule 0 "allow tcp )", column 11: garbage after expression at \')\''),
    ("IPFilter(allow tcp ? udp)", 'rule 0 "allow tcp ? udp", column 16: missing \':\' in ternary expression'),
    ("IPFilter(allow ip ttl & 0 5)", 'rule 0 "allow ip ttl & 0 5", column 16: zero mask'),
    ("IPFilter(\"allow (tcp or udp\")", 'rule 0 "allow (tcp or udp", column 18: missing \')\''),
    ("IPFilter(allow src port 80 or 81 garbage)",
     'rule 0 "allow src port 80 or 81 garbage", column 25: unknown name \'garbage\''),
    # a qualifier ('udp') starts a new primitive, so '53' has no field to belong to
    ("IPFilter(allow src port 80 udp 53)",
     'rule 0 "allow src port 80 udp 53", column 23: specify header field or \'port\''),
    ("IPClassifier(tcp, udp port bogus)",
     'pattern 1 "udp port bogus", column 10: unknown port name \'bogus\''),
    ("IPClassifier(tcp, ip proto 300)",
     'pattern 1 "ip proto 300", column 10: \'proto\': out of range, bound 255'),
]


@pytest.mark.parametrize("body,message", ERRORS)
def test_error_messages(body, message):
    from support import run_config

    n = body.count(",") + 1 if body.startswith("IPClassifier") else 1
    config = f"Idle -> f :: {body};\n" + "".join(f"f[{i}] -> Discard;\n" for i in range(n))
    res = run_config(config, "-q")
    assert res.returncode != 0
    if message is not None:
        assert "While configuring 'f :: " in res.stderr
        lines = [l.strip() for l in res.stderr.splitlines()]
        assert message in lines, res.stderr


def test_every_bad_rule_is_reported():
    class Errh:
        nerrors = 0

        def __init__(self):
            self.messages = []

        def error(self, m):
            self.nerrors += 1
            self.messages.append(m)
            return False

        def warning(self, m):
            self.messages.append("warning: " + m)

    errh = Errh()
    assert compile_rules(["allow tcp port nope", "allow udp", "deny proto zz", "1 tcp"], 1, None, errh) is None
    assert [m.split(",")[0] for m in errh.messages] == ['rule 0 "allow tcp port nope"',
                                                       'rule 2 "deny proto zz"', 'rule 3 "1 tcp"']


# --- the decision tree --------------------------------------------------------------------

def _steps(compiled):
    z = compiled.program.words
    steps, i = [], 0
    while i < len(z):
        nv = z[i] >> 17
        steps.append((z[i] & 0xFFFF, nv))
        i += 4 + nv
    return steps


class _Quiet:
    nerrors = 0

    def error(self, m):
        raise AssertionError(m)

    def warning(self, m):
        pass


@pytest.mark.parametrize("rules,bound", [
    ([f"deny src host 10.0.{i // 256}.{i % 256}" for i in range(500)] + ["allow all"], 8),
    ([f"allow tcp dst port {1000 + i}" for i in range(200)] + ["deny all"], 16),
    ([f"deny dst host 192.168.{i}.{i}" for i in range(200)] + ["allow all"], 210),
    ([f"{i % 3} udp dst port {i} && src net 10.{i}.0.0/16" for i in range(100)] + ["deny all"], 210),
])
def test_tree_size_is_bounded(rules, bound):
    compiled = compile_rules(rules, 3, None, _Quiet())
    assert len(_steps(compiled)) <= bound


def test_protocol_tests_are_shared():
    """Rules that all test 'tcp' and 'first fragment' test them once."""
    rules = [f"allow tcp dst port {p} && dst net 192.168.{p % 256}.0/24" for p in range(20, 60)] + ["deny all"]
    steps = _steps(compile_rules(rules, 1, None, _Quiet()))
    assert sum(1 for off, _ in steps if off == 256 + 8) == 1       # ip proto
    assert sum(1 for off, _ in steps if off == 256 + 4) == 1       # fragment offset
    assert len(steps) <= 2 * len(rules)


def test_value_lists_are_binary_searched(ipf):
    """Many values of one word become one step with a sorted value list."""
    rules = [f"allow dst host 192.168.{i}.{i}" for i in range(100)] + ["deny all"]
    steps = _steps(compile_rules(rules, 1, None, _Quiet()))
    assert max(nv for _, nv in steps) >= 50
    hosts = [frame(ip(dst=f"192.168.{i}.{j}") / UDP()) for i in range(0, 100, 7) for j in (i, i + 1)]
    got, _, _ = ipf.outputs("IPFilter(" + ", ".join(rules) + ")", hosts, noutputs=1)
    assert got == [0 if k % 2 == 0 else None for k in range(len(hosts))]


# --- the fast walk's program -------------------------------------------------------------

FIREWALL = [
    "deny src net 10.99.0.0/16", "deny dst net 172.16.0.0/12", "deny ip proto 47",
    "deny tcp dst port 23", "deny tcp dst port 445", "deny udp dst port 53 && not src net 10.0.0.0/8",
    "allow tcp dst port 80 && dst net 192.168.1.0/24", "allow tcp dst port 443 && dst net 192.168.1.0/24",
    "deny src host 10.1.2.4", "deny udp dst port 1900", "deny udp dst port 5353", "allow icmp type echo",
    "deny icmp", "deny src net 192.0.2.0/24", "deny src net 198.51.100.0/24", "deny dst net 203.0.113.0/24",
    "allow udp && dst port >= 5000 && dst port <= 5100 && src net 10.2.0.0/16", "deny ip frag",
    "allow udp dst port 8080 && src net 10.1.0.0/16 && dst net 192.168.0.0/16", "allow tcp src port 22",
    "deny all",
]


def _paths(prog):
    """Every path from the first step: the list of (step, answer) along it."""
    out = []

    def walk(i, path):
        for answer in (0, 1):
            j = prog.insns[i].j[answer]
            if j > 0:
                walk(j, path + [(i, answer)])
            else:
                out.append(path + [(i, answer)])

    walk(0, [])
    return out


def test_specialized_program_never_retests():
    """No path of the fast walk's program asks what its earlier steps decided,
    and the program stays within its size bound."""
    from clickpy.elements.ip import ip_filter_language as language

    rules = language.parse_rules(FIREWALL, 1, None, _Quiet())
    prog = language.build_program(rules)
    fast = language.specialize(prog)
    assert len(fast.insns) <= language.SPECIALIZE_GROWTH * len(prog.insns)
    for path in _paths(fast):
        facts = ()
        for i, answer in path:
            e = fast.insns[i]
            assert language._decide(facts, e) is None, f"step {i} is decided on {path}"
            facts += ((e.offset, e.mask, e.value, bool(answer)),)
    # the benchmark's packet takes fewer steps than in Click's program
    frame_words = bytes.fromhex("45000032000000004011ad050a010203c0a8010a30391f90001e0000")

    def steps_taken(p):
        n, i = 0, 0
        while True:
            e = p.insns[i]
            base = 0 if e.offset < 512 else 20
            off = e.offset - (256 if e.offset < 512 else 512) + base
            w = int.from_bytes(frame_words[off:off + 4], "big")
            i = e.j[(w & e.mask) == e.value]
            n += 1
            if i <= 0:
                return n, -i

    (n_fast, out_fast), (n_click, out_click) = steps_taken(fast), steps_taken(prog)
    assert out_fast == out_click == 0
    assert n_fast < n_click


def test_specialize_gives_up_when_too_big():
    from clickpy.elements.ip import ip_filter_language as language

    rules = language.parse_rules(FIREWALL, 1, None, _Quiet())
    prog = language.build_program(rules)
    assert language.specialize(prog, max_insns=1) is prog


@pytest.mark.parametrize("rules,allowed", [
    ("allow tcp", 0),
    ("allow not tcp", 3),
    ("allow all", 3),
    ("deny src host 1.2.3.4, allow true", 3),
    ("allow ether host 00:01:02:03:04:05", 0),     # no MAC header annotation either
    ("allow not ether host 00:01:02:03:04:05", 3),
])
def test_packets_without_ip_header_annotation(rules, allowed):
    """Without MarkIPHeader no region is there: every test is false (and its
    negation true); nothing reads outside the packet."""
    from support import build_router

    r = build_router(f"InfiniteSource(DATA \\<4500002800000000400600000a0000010a000002>, LIMIT 3, STOP true)"
                     f" -> IPFilter({rules}) -> c :: Counter -> Discard")
    r.run()
    assert r.read("c.count") == str(allowed)
