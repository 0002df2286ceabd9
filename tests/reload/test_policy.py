"""policy_diff against brute force: both configurations run on random packets.

Every packet is classified by the real elements (IPFilter / IPClassifier's
match_packet, Classifier's compiled program); a packet whose output
differs must lie in exactly one reported region with exactly those old and
new outputs, and a packet whose output is the same in none. The packets are
biased toward the values the rules name (and cut short now and then), so
that most regions are hit.
"""
import random

import pytest
from support import build_router

from clickpy.elements.analysis.ipsummary_format import in_cksum
from clickpy.reload.policy import DROPPED, PolicyError, format_change, format_diff, policy_diff
from clickpy.runtime.packet import PacketObject

# --- running the real elements -------------------------------------------------------------


def ip_element(class_name, config, noutputs):
    body = "\n".join(f"f[{k}] -> Discard;" for k in range(noutputs))
    return build_router(f"Idle -> f :: {class_name}({config});\n{body}").find("f")


def ip_output(element, data):
    """The output element sends a packet with data to (DROPPED for none), the IP
    header at the data start and the transport header after it, as MarkIPHeader marks."""
    p = PacketObject.make(data)
    p.set_network_header(0, (data[0] & 0x0F) * 4 if data else 0)
    out = element.match_packet(p)
    return DROPPED if out is None else out


def classifier_program(config):
    from clickpy.elements.standard.classifier import CompiledProgram, parse_patterns
    from clickpy.lang.confstring import split_args
    from clickpy.runtime.error_handler import ElementErrors

    errh = ElementErrors()
    prog = parse_patterns(split_args(config), errh)
    assert not errh.nerrors, errh.text()
    return CompiledProgram.build(prog)


def classifier_output(program, noutputs, data):
    out = program.match_bytes(data)
    return out if 0 <= out < noutputs else DROPPED


# --- random packets ----------------------------------------------------------------------------

ADDRS = ["10.0.0.1", "10.0.0.2", "10.1.2.3", "10.255.0.9", "192.168.1.10", "192.168.7.1",
         "18.26.4.44", "172.16.5.4", "255.255.255.255", "0.0.0.0"]
PORTS = [0, 22, 53, 80, 443, 999, 1000, 1001, 1023, 1024, 1499, 1500, 1501, 1535, 1536, 2000, 2001,
         2047, 2048, 8079, 8080, 8081, 65535]


def hints_of(*configs):
    """The addresses and numbers the rules name (and their neighbours), to aim packets at."""
    import re

    text = " ".join(configs)
    addrs = re.findall(r"\d+\.\d+\.\d+\.\d+", text)
    numbers = {int(n) + d for n in re.findall(r"(?<![.\d])\d+(?![.\d])", text) for d in (-1, 0, 1)}
    return addrs or ADDRS, sorted(n for n in numbers if 0 <= n < 65536) or PORTS


def random_ip_packet(rng, hints=(ADDRS, PORTS)):
    """An IPv4 packet: TCP, UDP, ICMP or another protocol, options, fragments,
    odd header lengths now and then, and one in five cut short anywhere. Its
    addresses and ports are often the hints' (see hints_of)."""
    def pick(hinted, usual):
        return rng.choice(hinted) if rng.random() < 0.6 else rng.choice(usual)

    addrs, ports = hints
    hl = rng.choice([5] * 12 + [6, 8, 15, 4, 0])
    proto = rng.choice([6, 6, 6, 6, 17, 17, 1, 47, rng.randrange(256)])
    frag = rng.choice([0, 0, 0, 0, 0x4000, 0x2000, 0x2001, 0x0001, 0x1FFF, rng.randrange(65536)])
    ttl = rng.choice([64, 1, 0, 255])
    src = bytes(int(x) for x in pick(addrs, ADDRS).split("."))
    dst = bytes(int(x) for x in pick(addrs, ADDRS).split("."))
    if rng.random() < 0.2:
        src = bytes(rng.randrange(256) for _ in range(4))
    options = bytes(rng.randrange(256) if rng.random() < 0.3 else 1 for _ in range(max(0, hl * 4 - 20)))
    if proto == 1:
        transport = bytes([rng.choice([0, 3, 8, 11, rng.randrange(256)]), rng.choice([0, 1]), 0, 0, 0, 1, 0, 1])
    else:
        sport = pick(ports, PORTS) if rng.random() < 0.8 else rng.randrange(65536)
        dport = pick(ports, PORTS) if rng.random() < 0.8 else rng.randrange(65536)
        flags = rng.choice([0x02, 0x12, 0x10, 0x01, 0x11, 0x04, 0x18, 0x00, 0x3F, rng.randrange(256)])
        transport = (sport.to_bytes(2, "big") + dport.to_bytes(2, "big") + bytes(8)
                     + bytes([0x50, flags]) + bytes(6))
    payload = bytes(rng.randrange(256) for _ in range(rng.choice([0, 0, 4, 20])))
    total = max(hl * 4, 20) + len(transport) + len(payload)
    header = bytearray([0x40 | hl, rng.choice([0, 0x10, 0xB8]), total >> 8, total & 0xFF, 0x12, 0x34,
                        frag >> 8, frag & 0xFF, ttl, proto, 0, 0]) + src + dst + options
    header[10:12] = in_cksum(bytes(header)).to_bytes(2, "big")
    data = bytes(header) + transport + payload
    if hl < 5:
        data = bytes(header[:hl * 4]) + data[hl * 4:] if hl else data
    if rng.random() < 0.2:
        data = data[:rng.randrange(1, len(data) + 1)]
    return data


def random_data_packet(rng, hints):
    """Random bytes, usually holding one of hints' (offset, bytes) values."""
    data = bytearray(rng.randrange(256) for _ in range(rng.choice([60, 60, 60, rng.randrange(0, 61)])))
    for offset, choices in hints:
        if rng.random() < 0.8:
            value = rng.choice(choices)
            data[offset:offset + len(value)] = value
    return bytes(data[:rng.choice([len(data)] * 4 + [rng.randrange(0, len(data) + 1)])])


# --- brute force ---------------------------------------------------------------------------------

def check_against_brute_force(changes, packets, old_output, new_output):
    """Every differing packet in exactly one region with its ports; no other
    packet in any region. Returns how many packets differed."""
    differing = 0
    for data in packets:
        old, new = old_output(data), new_output(data)
        inside = [c for c in changes if c.matches(data)]
        if old != new:
            differing += 1
            assert len(inside) == 1, f"{data.hex()}: {old} -> {new}, in {[format_change(c) for c in inside]}"
            assert (inside[0].old_port, inside[0].new_port) == (old, new), \
                f"{data.hex()}: {old} -> {new}, region says {format_change(inside[0])}"
        else:
            assert not inside, f"{data.hex()}: stays at {old} but lies in {format_change(inside[0])}"
    return differing


def check_examples(changes, old_output, new_output, checked=False):
    for c in changes:
        if checked:
            # what CheckIPHeader lets through, checksum and all (unless the region tests it)
            assert passes_check_ip_header(c.example), format_change(c)
            assert "csum" in c.region or in_cksum(c.example[:(c.example[0] & 0x0F) * 4]) == 0, format_change(c)
        assert c.example is not None, format_change(c)
        assert c.matches(c.example), format_change(c)
        assert (old_output(c.example), new_output(c.example)) == (c.old_port, c.new_port), \
            f"{format_change(c)}: example {c.example.hex()}"


IP_CASES = [
    ("IPFilter", 1, "allow tcp dst port 8080, allow all",
     "deny src net 10.0.0.0/8 and tcp dst port 8080, allow all"),
    ("IPFilter", 1, "allow tcp dst port 80 or 443, allow udp port 53, deny all",
     "allow tcp dst port 80, allow udp port 53 and src net 192.168.0.0/16, allow icmp type echo, deny all"),
    ("IPFilter", 2, "allow tcp dst port >= 1000 and dst port <= 2000, 1 udp",
     "allow tcp dst port > 1500, 1 udp src port < 1024, deny all"),
    ("IPFilter", 1, "allow tcp syn and not ack, deny tcp, allow all",
     "allow tcp syn, deny tcp rst, allow not tcp"),
    ("IPFilter", 2, "allow unfrag and src host 10.0.0.1, 1 frag",
     "allow src host 10.0.0.1, 1 frag and dst net 10.0.0.0/8, deny all"),
    ("IPFilter", 3, "allow not (tcp port 80 or src net 10.0.0.0/8), 1 ip ttl < 2, 2 all",
     "2 icmp type echo, allow not tcp port 80, 1 ip ttl 0, drop all"),
    ("IPClassifier", 3, "tcp port 80, udp, -", "udp or tcp dst port 80, icmp, src net 192.168.0.0/16"),
    ("IPClassifier", 2, "tcp opt syn && dst 10.0.0.2, ip[9] = 17", "tcp[13] & 2 != 0 && dst 10.0.0.2, ip hl > 5"),
]


def passes_check_ip_header(data):
    return len(data) >= 20 and data[0] >> 4 == 4 and 5 <= data[0] & 0x0F and (data[0] & 0x0F) * 4 <= len(data)


@pytest.mark.parametrize("checked", [True, False], ids=["checked", "any-packet"])
@pytest.mark.parametrize("case", range(len(IP_CASES)))
def test_ip_filters_agree_with_brute_force(case, checked):
    """checked: packets as CheckIPHeader passes them (the default), else any packet."""
    class_name, noutputs, old_config, new_config = IP_CASES[case]
    changes = policy_diff(class_name, old_config, new_config, limit=None, noutputs=noutputs, checked=checked)
    old_el = ip_element(class_name, old_config, noutputs)
    new_el = ip_element(class_name, new_config, noutputs)
    rng = random.Random(case)
    hints = hints_of(old_config, new_config)
    packets = [random_ip_packet(rng, hints) for _ in range(3000)]
    if checked:
        packets = [p for p in packets if passes_check_ip_header(p)]
    differing = check_against_brute_force(changes, packets, lambda d: ip_output(old_el, d),
                                          lambda d: ip_output(new_el, d))
    assert changes and differing >= 30, (differing, format_diff(changes))
    check_examples(changes, lambda d: ip_output(old_el, d), lambda d: ip_output(new_el, d), checked)


CLASSIFIER_CASES = [
    (2, "12/0800, -", "12/0800 23/06, -", [(12, [b"\x08\x00", b"\x08\x06"]), (23, [b"\x06", b"\x11"])]),
    (4, "12/0806 20/0001, 12/0806 20/0002, 12/0800, -",
     "12/0800, 12/0806 20/0001, 12/0806 !20/0001, -",
     [(12, [b"\x08\x00", b"\x08\x06"]), (20, [b"\x00\x01", b"\x00\x02", b"\x01\x01"])]),
    (3, "0/45%f0 9/11, 0/40%f0, -", "9/06, 0/4?, 30/0102%ff0f",
     [(0, [b"\x45", b"\x46", b"\x60"]), (9, [b"\x06", b"\x11"]), (30, [b"\x01\x02", b"\x01\x32"])]),
]


@pytest.mark.parametrize("case", range(len(CLASSIFIER_CASES)))
def test_classifier_agrees_with_brute_force(case):
    noutputs, old_config, new_config, hints = CLASSIFIER_CASES[case]
    changes = policy_diff("Classifier", old_config, new_config, limit=None)
    old_prog, new_prog = classifier_program(old_config), classifier_program(new_config)
    rng = random.Random(100 + case)
    packets = [random_data_packet(rng, hints) for _ in range(3000)]

    def old(d):
        return classifier_output(old_prog, noutputs, d)

    def new(d):
        return classifier_output(new_prog, noutputs, d)

    differing = check_against_brute_force(changes, packets, old, new)
    assert changes and differing >= 30, (differing, format_diff(changes))
    check_examples(changes, old, new)


# --- no change, and readable lines -----------------------------------------------------------------

@pytest.mark.parametrize("class_name, old, new", [
    ("IPFilter", "allow tcp dst port 80, deny all", "allow tcp dst port 80, deny all"),
    ("IPFilter", "allow tcp dst port 80, deny udp, allow icmp", "allow icmp, deny udp, allow tcp dst port 80"),
    ("IPFilter", "allow src net 10.0.0.0/8, deny all", "allow src net 10.0.0.0/8, drop all"),
    ("IPClassifier", "tcp, udp, -", "ip proto 6, ip proto udp, all"),
    ("Classifier", "12/0800, 12/0806, -", "12/08 13/00, 12/08%ff 13/06, -"),
])
def test_same_policy_gives_nothing(class_name, old, new):
    assert policy_diff(class_name, old, new) == []


def test_reordering_overlapping_rules_is_reported():
    changes = policy_diff("IPFilter", "allow tcp, deny src net 10.0.0.0/8", "deny src net 10.0.0.0/8, allow tcp")
    assert [format_change(c) for c in changes] == ["tcp 10.0.0.0/8 -> any  was output 0 (allow), now dropped (deny)"]


def test_the_issue_example_line():
    changes = policy_diff("IPFilter", "allow tcp dst port 8080, allow all",
                          "deny src net 10.0.0.0/8 and tcp dst port 8080, allow all")
    assert [format_change(c) for c in changes] == [
        "tcp 10.0.0.0/8 -> any:8080  was output 0 (allow), now dropped (deny)",
    ]
    changes = policy_diff("IPFilter", "allow tcp dst port 8080, allow all",
                          "1 src net 10.0.0.0/8 and tcp dst port 8080, allow all", noutputs=2)
    assert [format_change(c) for c in changes] == ["tcp 10.0.0.0/8 -> any:8080  was output 0 (allow), now output 1"]


def test_readable_ranges_protocols_and_flags():
    lines = format_diff(policy_diff("IPFilter", "allow tcp dst port >= 1000 and dst port <= 2000",
                                    "allow tcp dst port >= 1000 and dst port <= 1200"))
    assert lines == ["tcp any -> any:1201-2000  was output 0 (allow), now dropped (no match)"]
    lines = format_diff(policy_diff("IPFilter", "allow udp, allow icmp type echo", "allow udp"))
    assert lines == ["icmp any -> any icmp type 8  was output 0 (allow), now dropped (no match)"]
    lines = format_diff(policy_diff("IPFilter", "allow tcp syn", "allow tcp syn and not ack"))
    assert lines == ["tcp any -> any flags syn ack  was output 0 (allow), now dropped (no match)"]
    lines = format_diff(policy_diff("Classifier", "12/0800, -", "12/0800 23/06, -"))
    assert lines == ["12/0800 (packet 14-23 bytes)  was output 0, now output 1",
                     "12/0800 !23/06  was output 0, now output 1"]


def test_fragment_tests_by_name():
    lines = format_diff(policy_diff("IPFilter", "allow src host 10.0.0.1", "allow src host 10.0.0.1 and unfrag"))
    assert lines == ["ip 10.0.0.1 -> any frag  was output 0 (allow), now dropped (no match)"]
    # only the first fragments of fragmented packets reach the port rule
    lines = format_diff(policy_diff("IPFilter", "allow tcp", "allow tcp and not frag, deny tcp port 80, allow tcp"))
    assert lines == ["tcp any:80 -> any MF offset 0  was output 0 (allow), now dropped (deny)",
                     "tcp any:!80 -> any:80 MF offset 0  was output 0 (allow), now dropped (deny)"]
    lines = format_diff(policy_diff("IPFilter", "allow udp", "deny udp port 53, allow udp"))
    assert lines == ["udp any:53 -> any  was output 0 (allow), now dropped (deny)",
                     "udp any:!53 -> any:53  was output 0 (allow), now dropped (deny)"]


def test_too_large_a_diff_is_an_error_not_a_guess():
    old = ", ".join(f"allow src host 10.0.0.{i} and tcp dst port {i}" for i in range(1, 30))
    with pytest.raises(PolicyError, match="too many ways"):
        policy_diff("IPFilter", old, "deny all", budget=50)


def test_walk_stops_where_the_rule_lists_agree_again():
    """Past a change, both walks stand at the same remaining rules and stop,
    and a rule no packet of the path can match is passed in one step: a
    change near the top of a long list costs steps in proportion to the
    list (for the packets one list decides and the other must be read to
    its end for), not to its square."""
    rules = [f"allow tcp src net 10.{i}.0.0/16 and dst port {1000 + i}" for i in range(200)]
    assert policy_diff("IPFilter", ", ".join(rules), ", ".join(rules), budget=0) == []
    new = rules[:2] + ["deny tcp dst port 1002"] + rules[2:]
    changes = policy_diff("IPFilter", ", ".join(rules), ", ".join(new), budget=20 * len(rules))
    assert [format_change(c) for c in changes] == [
        "tcp 10.2.0.0/16 -> any:1002  was output 0 (allow), now dropped (deny)"]
    # packets the new first rule drops: the old list must be read to its end for them
    new = ["deny udp port 53"] + rules[:3] + ["deny tcp dst port 1002"] + rules[3:]
    assert policy_diff("IPFilter", ", ".join(rules), ", ".join(new), budget=40 * len(rules)) == []


def test_limit_says_how_many_more():
    old = ", ".join(f"allow dst host 10.0.0.{i} and tcp dst port {1000 + 7 * i}" for i in range(1, 8))
    changes = policy_diff("IPFilter", old, "deny all", limit=3)
    assert len(changes) == 3 and changes.more == 4
    assert format_diff(changes)[-1] == "... and 4 more regions"
    assert len(policy_diff("IPFilter", old, "deny all", limit=None)) == 7


def test_what_is_not_analysed():
    assert policy_diff("Counter", "", "") is None
    assert policy_diff("IPFilter", "allow ether host 00:01:02:03:04:05", "deny all") is None
    with pytest.raises(PolicyError, match="unknown port"):
        policy_diff("IPFilter", "allow tcp port htp", "deny all")


# --- rewriters -------------------------------------------------------------------------------------

def test_rewriter_input_specs():
    old = "pattern 1.0.0.1 1024-65535 - - 0 1, drop, TIMEOUT 60"
    new = "drop, drop, pass 1, TIMEOUT 30"
    changes = policy_diff("IPRewriter", old, new)
    assert [format_change(c) for c in changes] == [
        "input 0 (all traffic on it)  was pattern 1.0.0.1 1024-65535 - - 0 1, now drop",
        "input 2 (all traffic on it)  was (no such input), now pass 1",
    ]
    assert [(c.input, c.old_port, c.new_port) for c in changes] == [(0, 0, DROPPED), (2, DROPPED, 1)]
    assert all(c.matches(b"anything") and c.example == b"" for c in changes)
    # spellings of one spec, and keywords, are no change
    assert policy_diff("TCPRewriter", "pattern 1.0.0.1 1024-65535 - - 0 1, discard, nochange",
                       "pattern  1.0.0.1  1024-65535 - - 0 1, drop, passthrough 0, MAPPING_CAPACITY 10") == []
    assert policy_diff("IPAddrRewriter", "pattern 1.0.0.1 - 0 1", "pattern 1.0.0.2 - 0 1")[0].input == 0
