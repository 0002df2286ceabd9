"""The switch's packet classifier (clickpy/switch/keys.pyx): ns per packet.

Run:  pytest bench/test_switch_keys.py --benchmark-enable -s

``classify_repeat`` classifies one packet many times in C, through the
Packet path the switch uses: Ethernet and IPv4 headers read, rules scanned
looked up by anchor, key filled and hashed. The cases are the first
tenant's rule, the last of 300, and no rule at all: with the anchor index
all three should cost about the same (a linear scan would not).

Timings are noisy on a shared machine: compare figures from one sitting.
"""
import pytest
from scapy.all import IP, UDP, Dot1Q, Ether

from clickpy.runtime.packet import PacketObject
from clickpy.switch.keys import NO_TENANT, KeyClassifier
from clickpy.switch.policy import parse_policy

TENANTS = 300
LOOPS = 2_000_000


def policy(per: str, match) -> str:
    return "".join(f'[[tenant]]\nname = "t{i}"\nimage = "t.guest"\nper = "{per}"\nmatch = ["{match(i)}"]\n'
                   for i in range(TENANTS))


POLICIES = {
    "vlan": policy("tenant", lambda i: f"vlan {i + 1}"),
    "prefix": policy("flow", lambda i: f"ip 10.{i // 256}.{i % 256}.0/24"),
}


def frame(vlan=None, src="192.0.2.1", dst="10.0.0.9") -> bytes:
    eth = Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")
    if vlan is not None:
        eth = eth / Dot1Q(vlan=vlan)
    return bytes(eth / IP(src=src, dst=dst) / UDP(sport=40000, dport=53) / (b"x" * 18))


CASES = {
    "vlan, per tenant, first of 300": ("vlan", frame(vlan=1), 0),
    "vlan, per tenant, last of 300": ("vlan", frame(vlan=TENANTS), TENANTS - 1),
    "vlan, none of 300": ("vlan", frame(), NO_TENANT),
    "prefix, per flow, first of 300": ("prefix", frame(dst="10.0.0.9"), 0),
    "prefix, per flow, last of 300": ("prefix", frame(dst=f"10.{(TENANTS - 1) // 256}.{(TENANTS - 1) % 256}.9"),
                                      TENANTS - 1),
    "prefix, none of 300": ("prefix", frame(dst="172.16.0.1"), NO_TENANT),
}


@pytest.mark.parametrize("case", list(CASES))
def test_classify(benchmark, case):
    kind, data, expected = CASES[case]
    keys = KeyClassifier(parse_policy(POLICIES[kind]), seed=1)
    packet = PacketObject.make(data)
    out = benchmark.pedantic(keys.classify_repeat, args=(packet, LOOPS), rounds=5, iterations=1)
    assert out == expected
    if benchmark.stats is not None:
        ns = benchmark.stats.stats.min / LOOPS * 1e9
        benchmark.extra_info["ns_per_packet"] = round(ns, 1)
        print(f"\nswitch keys, {case}: {ns:.1f} ns/packet")
