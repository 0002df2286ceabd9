"""The switch's packet classifier: tenants, guest keys, both directions of a flow, bad frames.

Besides cases written out, frames (real ones mutated, and random bytes) are
checked against ``model``, a plain Python reading of the rules keys.pyx
documents, and the Packet path against the bytes path.
"""
import json
import struct

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from scapy.all import ARP, GRE, ICMP, IP, TCP, UDP, Dot1Q, Ether, Raw

from clickpy.runtime.args import prefix_mask
from clickpy.runtime.packet import PacketObject
from clickpy.switch.keys import FRAGMENT, MALFORMED, NO_TENANT, KeyClassifier
from clickpy.switch.policy import PolicyError, parse_policy

CLIENT, SERVER = "02:00:00:00:00:01", "02:00:00:00:00:02"
POLICY = """
[switch]
default = "{default}"

[[tenant]]
name = "red"
image = "fw.guest"
match = ["vlan 10", "mac 02:00:00:00:0a:0a"]
priority = 2

[[tenant]]
name = "blue"
image = "nat.guest"
match = ["vlan 20", "ip 10.0.2.0/24 proto udp"]
per = "flow"
priority = 1

[[tenant]]
name = "web"
image = "web.guest"
match = ["ip 10.0.0.0/8 port 80"]
per = "flow"
priority = 3

[[tenant]]
name = "rest"
image = "rest.guest"
match = ["ip 192.168.0.0/16"]

[[tenant]]
name = "green"
image = "green.guest"
match = ["ip 172.16.0.0/12"]

[[tenant]]
name = "other"
image = "other.guest"
match = ["vlan 4000", "proto 47", "ip 0.0.0.0/0 port 9"]
priority = -1
"""
RED, BLUE, WEB, REST, GREEN, OTHER = range(6)


def classifier(default="drop", seed=7):
    return KeyClassifier(parse_policy(POLICY.format(default=default)), seed=seed)


@pytest.fixture(scope="module")
def keys():
    return classifier()


def frame(*layers, src=CLIENT, dst=SERVER, vlan=None) -> bytes:
    eth = Ether(src=src, dst=dst) / Dot1Q(vlan=vlan) if vlan is not None else Ether(src=src, dst=dst)
    out = eth
    for layer in layers:
        out = out / layer
    return bytes(out)


def reply(data: bytes) -> bytes:
    """The same flow the other way: addresses and ports swapped (echo: request <-> reply)."""
    p = Ether(data)
    p.src, p.dst = p.dst, p.src
    ip = p[IP]
    ip.src, ip.dst = ip.dst, ip.src
    if TCP in p or UDP in p:
        t = p[TCP] if TCP in p else p[UDP]
        t.sport, t.dport = t.dport, t.sport
    elif ICMP in p:
        p[ICMP].type = 0 if p[ICMP].type == 8 else 8
    del ip.chksum
    return bytes(p)


def test_per_tenant_key_is_the_tenant(keys):
    data = frame(IP(src="1.2.3.4", dst="5.6.7.8") / UDP(), vlan=10)
    assert keys.classify(data) == (RED, RED)
    assert keys.classify(reply(data)) == (RED, RED)
    assert keys.key_hash(data) == keys.key_hash(reply(data))


@pytest.mark.parametrize("layers", [
    IP(src="10.0.2.5", dst="8.8.8.8") / UDP(sport=5353, dport=53),
    IP(src="10.0.9.9", dst="10.0.2.5") / TCP(sport=40000, dport=80),
    IP(src="10.1.2.3", dst="172.16.0.1") / TCP(sport=80, dport=80),      # equal ports: addresses order
    IP(src="10.0.2.5", dst="10.0.2.5") / UDP(sport=7, dport=9),          # equal addresses: ports order
], ids=["udp", "tcp", "same-ports", "same-addresses"])
def test_both_directions_of_a_flow_have_one_key(keys, layers):
    there = frame(layers)
    back = reply(there)
    tenant, key = keys.classify(there)
    assert tenant in (BLUE, WEB) and keys.classify(back) == (tenant, key)
    assert keys.key_hash(there) == keys.key_hash(back)
    proto, (a, pa), (b, pb) = key
    assert proto == layers.proto and (a, pa) <= (b, pb)


def test_flow_key_fields(keys):
    tenant, key = keys.classify(frame(IP(src="10.0.2.5", dst="8.8.8.8") / UDP(sport=5353, dport=53)))
    assert (tenant, key) == (BLUE, (17, (0x08080808, 53), (0x0A000205, 5353)))


def test_other_flows_have_other_keys(keys):
    base = IP(src="10.0.2.5", dst="8.8.8.8") / UDP(sport=5353, dport=53)
    variants = [base, IP(src="10.0.2.6", dst="8.8.8.8") / UDP(sport=5353, dport=53),
                IP(src="10.0.2.5", dst="8.8.8.8") / UDP(sport=5354, dport=53),
                IP(src="10.0.2.5", dst="8.8.4.4") / UDP(sport=5353, dport=53)]
    found = [keys.classify(frame(v)) for v in variants]
    assert len(set(found)) == len(found) and {t for t, _ in found} == {BLUE}
    assert len({keys.key_hash(frame(v)) for v in variants}) == len(variants)


def test_hash_depends_on_the_seed():
    data = frame(IP(src="10.0.2.5", dst="8.8.8.8") / UDP(sport=5353, dport=53))
    assert classifier(seed=1).key_hash(data) != classifier(seed=2).key_hash(data)
    assert classifier(seed=1).key_hash(data) == classifier(seed=1).key_hash(data)


def test_icmp_echo_and_errors_join_their_flow(keys):
    ping = frame(IP(src="10.0.2.5", dst="8.8.8.8") / ICMP(type=8, id=77))
    # 'ip 10.0.2.0/24 proto udp' does not hold for ICMP: no tenant
    assert keys.classify(ping) == (NO_TENANT, None)
    flows = classifier("pass blue")
    tenant, key = flows.classify(ping)
    assert (tenant, key) == (BLUE, (1, (0x08080808, 77), (0x0A000205, 77)))
    assert flows.classify(reply(ping)) == (tenant, key)
    flow = IP(src="10.0.2.5", dst="8.8.8.8") / UDP(sport=5353, dport=53)
    error = frame(IP(src="192.0.2.1", dst="10.0.2.5") / ICMP(type=3, code=3) / bytes(flow)[:28])
    assert keys.classify(error) == keys.classify(frame(flow))
    about_ping = frame(IP(src="192.0.2.1", dst="10.0.2.5") / ICMP(type=11) / bytes(IP(src="10.0.2.5", dst="8.8.8.8")
                                                                            / ICMP(type=8, id=77))[:28])
    assert flows.classify(about_ping) == (tenant, key)


def test_vlan_tagged_and_untagged(keys):
    udp = IP(src="1.1.1.1", dst="2.2.2.2") / UDP()
    assert keys.classify(frame(udp, vlan=10))[0] == RED
    assert keys.classify(frame(udp, vlan=20))[0] == BLUE
    assert keys.classify(frame(udp, vlan=11)) == (NO_TENANT, None)
    assert keys.classify(frame(udp)) == (NO_TENANT, None)
    assert keys.classify(frame(udp, vlan=0)) == (NO_TENANT, None)    # priority tag only
    tagged = frame(IP(src="10.0.2.1", dst="2.2.2.2") / UDP(), vlan=99)
    assert keys.classify(tagged)[0] == BLUE                          # the IP match looks past the tag


def test_mac_matches_either_end(keys):
    udp = IP(src="1.1.1.1", dst="2.2.2.2") / UDP()
    assert keys.classify(frame(udp, src="02:00:00:00:0a:0a"))[0] == RED
    assert keys.classify(frame(udp, dst="02:00:00:00:0a:0a"))[0] == RED
    assert keys.classify(frame(ARP(), src="02:00:00:00:0a:0a", dst="ff:ff:ff:ff:ff:ff"))[0] == RED


def test_non_ip_frame_of_a_per_flow_tenant(keys):
    tenant, key = keys.classify(frame(ARP(), vlan=20))
    assert (tenant, key) == (BLUE, (0, (0, 0), (0, 0)))


def test_priority_and_port_terms(keys):
    web = IP(src="10.0.2.7", dst="8.8.8.8") / UDP(sport=3000, dport=80)
    assert keys.classify(frame(web))[0] == WEB                    # priority 1 before blue
    assert keys.classify(frame(IP(src="10.0.2.7", dst="8.8.8.8") / UDP(sport=3000, dport=81)))[0] == BLUE
    assert keys.classify(frame(IP(src="10.0.2.7", dst="8.8.8.8") / ICMP()))[0] == NO_TENANT


def test_two_tenants_ends_go_by_priority_then_order(keys):
    # 192.168.1.1 is rest's, 10.0.2.2 blue's: blue has the higher priority
    between = frame(IP(src="192.168.1.1", dst="10.0.2.2") / UDP(sport=1, dport=2))
    assert keys.classify(between)[0] == BLUE and keys.classify(reply(between))[0] == BLUE
    # 172.16.0.1 is green's: same priority as rest, which is written first
    between = frame(IP(src="172.16.0.1", dst="192.168.1.1") / UDP(sport=1, dport=2))
    assert keys.classify(between)[0] == REST and keys.classify(reply(between))[0] == REST


def test_default(keys):
    stray = frame(IP(src="1.1.1.1", dst="2.2.2.2") / TCP())
    assert keys.classify(stray) == (NO_TENANT, None)
    assert classifier("pass other").classify(stray) == (OTHER, OTHER)


def test_fragments(keys):
    first = IP(src="10.0.2.5", dst="8.8.8.8", flags="MF", id=9) / UDP(sport=1, dport=2) / Raw(b"x" * 32)
    later = IP(src="10.0.2.5", dst="8.8.8.8", frag=5, id=9, proto=17) / Raw(b"y" * 16)
    assert keys.classify(frame(first)) == (FRAGMENT, None)       # per-flow: needs reassembly
    assert keys.classify(frame(later)) == (FRAGMENT, None)
    web_later = IP(src="10.1.0.5", dst="8.8.8.8", frag=5, proto=6) / Raw(b"y" * 16)
    assert keys.classify(frame(web_later)) == (FRAGMENT, None)   # a port term cannot be decided
    rest = IP(src="192.168.0.5", dst="8.8.8.8", frag=5, proto=17) / Raw(b"y" * 16)
    assert keys.classify(frame(rest)) == (REST, REST)            # per tenant, no port: as usual
    elsewhere = IP(src="1.1.1.1", dst="8.8.8.8", frag=5, proto=17) / Raw(b"y" * 16)
    assert keys.classify(frame(elsewhere, vlan=10)) == (RED, RED)


def test_truncated_frames_are_malformed(keys):
    for data in (frame(IP(src="10.0.2.5", dst="8.8.8.8") / TCP(sport=1, dport=80) / Raw(b"abc")),
                 frame(IP(src="192.168.0.5", dst="8.8.8.8") / UDP(), vlan=20),
                 frame(IP(src="192.168.0.1", dst="2.2.2.2") / ICMP(type=3) / bytes(IP(src="192.168.0.1") / UDP())[:28])):
        whole = keys.classify(data)
        assert whole[0] >= 0
        for cut in range(len(data)):
            assert keys.classify(data[:cut]) == (MALFORMED, None), cut
        assert keys.classify(data + b"\0" * 20) == whole            # Ethernet padding


@pytest.mark.parametrize("mangle", [
    lambda ip: bytes([0x65]) + ip[1:],                            # version 6
    lambda ip: bytes([0x44]) + ip[1:],                            # IHL 4 words
    lambda ip: bytes([0x4F]) + ip[1:],                            # IHL beyond the packet
    lambda ip: ip[:2] + struct.pack("!H", 19) + ip[4:],          # total length below the header
    lambda ip: ip[:2] + struct.pack("!H", len(ip) + 1) + ip[4:],  # total length beyond the frame
    lambda ip: ip[:32] + bytes([0x40]) + ip[33:],                 # TCP data offset 4 words
], ids=["version", "ihl-short", "ihl-long", "len-short", "len-long", "tcp-offset"])
def test_bad_headers_are_malformed(keys, mangle):
    ip = bytes(IP(src="192.168.0.5", dst="8.8.8.8") / TCP())
    assert keys.classify(bytes(Ether(src=CLIENT, dst=SERVER, type=0x0800)) + ip)[0] == REST
    assert keys.classify(bytes(Ether(src=CLIENT, dst=SERVER, type=0x0800)) + mangle(ip)) == (MALFORMED, None)


def test_empty_and_tiny(keys):
    for n in range(18):
        assert keys.classify(bytes(n)) == (MALFORMED if n < 14 else NO_TENANT, None)
    assert keys.classify(b"\0" * 12 + b"\x81\x00" + b"\0") == (MALFORMED, None)


def test_packet_path_agrees(keys):
    for data in (frame(IP(src="10.0.2.5", dst="8.8.8.8") / UDP(sport=5353, dport=53)),
                 frame(IP() / UDP(), vlan=10), b"\x01" * 20, b""):
        assert keys.classify_packet(PacketObject.make(data)) == keys.classify(data)


def test_repeat_gives_what_classify_gives(keys):
    data = frame(IP(src="10.0.2.5", dst="8.8.8.8") / UDP(sport=5353, dport=53))
    packet = PacketObject.make(data)
    assert keys.classify_repeat(packet, 1000) == BLUE
    assert keys.classify_repeat(PacketObject.make(data[:30]), 10) == MALFORMED


# --- a model of the documented rules, and frames checked against it -------------------------------

def model(policy, data: bytes):
    """(tenant, key) as keys.pyx's docstring describes it, in plain Python."""
    u16 = lambda b, i: int.from_bytes(b[i:i + 2], "big")          # noqa: E731
    u32 = lambda b, i: int.from_bytes(b[i:i + 4], "big")          # noqa: E731
    if len(data) < 14:
        return MALFORMED, None
    ethertype, off, vlan = u16(data, 12), 14, 0
    if ethertype == 0x8100:
        if len(data) < 18:
            return MALFORMED, None
        vlan, ethertype, off = u16(data, 14) & 0xFFF, u16(data, 16), 18
    ip = None
    if ethertype == 0x0800:
        h = data[off:]
        if len(h) < 20 or h[0] >> 4 != 4 or not 20 <= (h[0] & 15) * 4 <= u16(h, 2) <= len(h):
            return MALFORMED, None
        hl, total = (h[0] & 15) * 4, u16(h, 2)
        src, dst, proto, frag = u32(h, 12), u32(h, 16), h[9], u16(h, 6) & 0x3FFF
        ports = None
        t = h[hl:total]
        if not frag & 0x1FFF:
            quoted = False
            while True:
                if proto in (6, 17):
                    if len(t) < (8 if quoted or proto == 17 else 20) or \
                            (proto == 6 and not quoted and t[12] >> 4 < 5):
                        return MALFORMED, None
                    ports = (u16(t, 0), u16(t, 2))
                elif proto == 1:
                    if len(t) < 8:
                        return MALFORMED, None
                    if t[0] in (0, 8):
                        ports = (u16(t, 4), u16(t, 4))
                    elif t[0] in (3, 4, 5, 11, 12) and not quoted:
                        q = t[8:]
                        if len(q) < 20 or q[0] >> 4 != 4 or not 20 <= (q[0] & 15) * 4 <= len(q) - 8:
                            return MALFORMED, None
                        src, dst, proto, quoted = u32(q, 12), u32(q, 16), q[9], True
                        if u16(q, 6) & 0x1FFF:
                            break
                        t = q[(q[0] & 15) * 4:]
                        continue
                break
        ip = (src, dst, proto, frag, ports)
    for i in policy.match_order():
        tenant = policy.tenants[i]
        for m in tenant.matches:
            if m.vlan is not None and vlan != m.vlan:
                continue
            if m.mac is not None and m.mac not in (data[0:6], data[6:12]):
                continue
            if ip is None and (m.addr is not None or m.proto is not None or m.port is not None):
                continue
            if m.addr is not None and all(a & prefix_mask(m.prefix_len) != m.addr for a in ip[:2]):
                continue
            if m.proto is not None and ip[2] != m.proto:
                continue
            if m.port is not None:
                if ip[2] not in (6, 17):
                    continue
                if ip[3]:
                    return FRAGMENT, None
                if m.port not in (ip[4] or (0, 0)):
                    continue
            return result(tenant, i, ip)
    d = policy.default_index
    return (NO_TENANT, None) if d < 0 else result(policy.tenants[d], d, ip)


def result(tenant, i, ip):
    if not tenant.per_flow:
        return i, i
    if ip is None:
        return i, (0, (0, 0), (0, 0))
    src, dst, proto, frag, ports = ip
    if frag:
        return FRAGMENT, None
    ports = ports or (0, 0)
    a, b = sorted([(src, ports[0]), (dst, ports[1])])
    return i, (proto, a, b)


SEEDS = [
    frame(IP(src="10.0.2.5", dst="8.8.8.8") / UDP(sport=5353, dport=53)),
    frame(IP(src="10.1.2.5", dst="8.8.8.8") / TCP(sport=5353, dport=80) / Raw(b"GET /")),
    frame(IP(src="192.168.3.3", dst="10.0.2.1") / ICMP(type=8, id=3), vlan=20),
    frame(IP(src="192.0.2.1", dst="10.0.2.5") / ICMP(type=3) / bytes(IP(src="10.0.2.5") / UDP(dport=80))[:28]),
    frame(IP(src="10.0.2.5", dst="8.8.8.8", flags="MF") / UDP() / Raw(b"z" * 20), vlan=10),
    frame(ARP(), src="02:00:00:00:0a:0a"),
    frame(IP(src="192.168.1.1", dst="10.1.1.1") / GRE()),
    frame(IP(src="172.16.1.1", dst="10.0.2.1") / UDP(sport=9, dport=99), vlan=4000),
]


@settings(deadline=None, max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(SEEDS), st.lists(st.tuples(st.integers(0, 80), st.integers(0, 255)), max_size=4),
       st.integers(0, 120), st.sampled_from(["drop", "pass blue", "pass other"]))
def test_mutated_frames_follow_the_model(seed, edits, cut, default):
    keys = classifier(default)
    data = bytearray(seed)
    for pos, value in edits:
        data[pos % len(data)] = value
    data = bytes(data[:cut] if cut < len(data) else data)
    assert keys.classify(data) == model(keys.policy, data)


@settings(deadline=None, max_examples=300)
@given(st.binary(max_size=200))
def test_random_bytes_never_crash_and_follow_the_model(data):
    keys = classifier("pass blue")
    assert keys.classify(data) == model(keys.policy, data)
    assert keys.classify_packet(PacketObject.make(data)) == keys.classify(data)


TERMS = ["vlan 10", "vlan 20", "mac 02:00:00:00:0a:0a", "mac 02:00:00:00:00:02", "ip 10.0.0.0/8", "ip 10.0.2.0/24",
         "ip 192.168.0.0/16", "ip 10.0.2.5", "ip 0.0.0.0/0", "proto udp", "proto icmp", "port 53", "port 80",
         "ip 10.0.0.0/8 port 53", "vlan 20 proto udp", "mac 02:00:00:00:00:01 ip 8.0.0.0/8"]


@settings(deadline=None, max_examples=300, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(st.lists(st.tuples(st.lists(st.sampled_from(TERMS), min_size=1, max_size=3), st.booleans(),
                          st.integers(0, 2)), min_size=1, max_size=6),
       st.booleans(), st.sampled_from(SEEDS), st.lists(st.tuples(st.integers(0, 80), st.integers(0, 255)), max_size=3))
def test_random_policies_follow_the_model(tenants, spread, seed, edits):
    """Random policies (priorities all different, or few and equal where the
    policy allows it), mutated frames: the compiled table decides as the model."""
    text = "".join(f'[[tenant]]\nname = "t{i}"\nimage = "x"\nmatch = {json.dumps(matches)}\n'
                   f'per = "{"flow" if flow else "tenant"}"\npriority = {i if spread else tie}\n'
                   for i, (matches, flow, tie) in enumerate(tenants))
    try:
        policy = parse_policy(text)
    except PolicyError:
        assume(False)
    keys = KeyClassifier(policy, seed=5)
    data = bytearray(seed)
    for pos, value in edits:
        data[pos % len(data)] = value
    assert keys.classify(bytes(data)) == model(policy, bytes(data))
