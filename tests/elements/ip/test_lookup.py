"""DirectIPLookup, RangeIPLookup and LookupIPRouteMP against LinearIPLookup."""
import random

import pytest
from harness import inject
from scapy.all import IP, UDP
from support import build_router, refused, run_config

from clickpy.runtime.packet import PacketObject


def ip(a):
    return ".".join(str((a >> s) & 255) for s in (24, 16, 8, 0))


def random_routes(rng, n, nout):
    routes, seen = [], set()
    while len(routes) < n:
        plen = rng.choice([0, 1, 7, 8, 12, 16, 17, 20, 23, 24, 25, 28, 30, 31, 32])
        mask = (0xFFFFFFFF << (32 - plen)) & 0xFFFFFFFF
        dst = rng.getrandbits(32) & mask
        if (dst, plen) in seen:
            continue
        seen.add((dst, plen))
        gw = f" {ip(rng.getrandbits(32))}" if rng.random() < 0.3 else ""
        routes.append(f"{ip(dst)}/{plen}{gw} {rng.randrange(nout)}")
    return routes


def probe_addresses(rng, routes, n):
    out = [rng.getrandbits(32) for _ in range(n)]
    for r in routes:                       # addresses near every route's edges
        dst, plen = r.split()[0].split("/")
        base = sum(int(x) << s for x, s in zip(dst.split("."), (24, 16, 8, 0)))
        size = 1 << (32 - int(plen))
        out += [base, (base + size - 1) & 0xFFFFFFFF, (base - 1) & 0xFFFFFFFF, (base + size) & 0xFFFFFFFF]
    return [ip(a) for a in out]


def lookups(r, name, addrs):
    return [r.read(f"{name}.lookup", param=a) for a in addrs]


@pytest.mark.parametrize("cls", ["DirectIPLookup", "RangeIPLookup"])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_same_answers_as_linear(cls, seed):
    rng = random.Random(seed)
    routes = random_routes(rng, 60, 4)
    outs = "".join(f"e[{i}] -> Discard; lin[{i}] -> Discard;" for i in range(4))
    conf = ", ".join(routes)
    r = build_router(f"Idle -> e :: {cls}({conf}); Idle -> lin :: LinearIPLookup({conf}); {outs}")
    addrs = probe_addresses(rng, routes, 400)
    assert lookups(r, "e", addrs) == lookups(r, "lin", addrs)
    # remove a third of the routes, add new ones, on both
    for route in routes[::3]:
        r.write("e.remove", route)
        r.write("lin.remove", route)
    for route in random_routes(rng, 20, 4):
        try:
            r.write("lin.add", route)
        except Exception:
            with pytest.raises(Exception):
                r.write("e.add", route)
            continue
        r.write("e.add", route)
    assert lookups(r, "e", addrs) == lookups(r, "lin", addrs)
    # set replaces an existing route, or adds it
    for route in routes[1:10]:
        dst = route.split()[0]
        r.write("e.set", f"{dst} 3")
        r.write("lin.set", f"{dst} 3")
    assert lookups(r, "e", addrs) == lookups(r, "lin", addrs)


@pytest.mark.parametrize("cls", ["DirectIPLookup", "RangeIPLookup", "LookupIPRouteMP", "LinearIPLookup"])
def test_packets_routed_with_gateway_annotation(cls):
    pk = []
    for dst in ("10.1.2.3", "10.1.9.9", "10.2.0.1", "192.168.1.1"):
        p = PacketObject.make(bytes(IP(dst=dst) / UDP()), headroom=64)
        p.dst_ip = dst
        pk.append(p)
    r, rec = inject(f"{cls}(10.1.2.0/24 1, 10.1.0.0/16 10.9.9.9 0, 10.0.0.0/8 2)", pk, noutputs=3)
    assert [(x.port, x.dst_ip) for x in rec.log] == [
        (1, "10.1.2.3"), (0, "10.9.9.9"), (2, "10.2.0.1")]       # no route: dropped


@pytest.mark.parametrize("cls", ["DirectIPLookup", "RangeIPLookup"])
def test_table_and_flush(cls):
    r = build_router(f"Idle -> e :: {cls}(10.0.0.0/8 0, 1.2.3.4/32 5.6.7.8 1); e[0] -> Discard; e[1] -> Discard;")
    table = r.read("e.table")
    assert "10.0.0.0/8" in table and "1.2.3.4/32" in table and "5.6.7.8" in table
    assert r.read("e.lookup", param="10.4.4.4") == "0"
    assert r.read("e.lookup", param="1.2.3.4") == "1 5.6.7.8"
    r.write("e.flush", "")
    assert r.read("e.lookup", param="10.4.4.4") == "-1"
    with pytest.raises(Exception):
        r.write("e.remove", "10.0.0.0/8 0")
    with pytest.raises(Exception):
        r.write("e.add", "bogus")
    r.write("e.add", "0.0.0.0/0 1")
    assert r.read("e.lookup", param="200.1.1.1") == "1"


@pytest.mark.parametrize("cls", ["DirectIPLookup", "RangeIPLookup", "LookupIPRouteMP"])
def test_bad_configs(cls):
    for conf in ("10.0.0.0/8", "bogus 0", "10.0.0.0/8 0, 11.0.0.0/8 5"):
        out = run_config(f"Idle -> {cls}({conf}) -> Discard", "-q")
        assert refused(out, cls), (conf, out.stderr)


@pytest.mark.parametrize("cls", ["DirectIPLookup", "RangeIPLookup", "LookupIPRouteMP"])
def test_empty_and_short_packets(cls):
    pk = []
    for n in range(0, 24):
        p = PacketObject.make(bytes(IP(dst="10.1.1.1"))[:n], headroom=64)
        p.dst_ip = "10.1.1.1"
        pk.append(p)
    r, rec = inject(f"{cls}(10.0.0.0/8 0)", pk)
    assert len(rec.log) == 24                  # routing reads only the annotation


def test_directiplookup_many_routes_same_as_linear():
    rng = random.Random(99)
    routes = random_routes(rng, 1500, 8)
    conf = ", ".join(routes)
    outs = "".join(f"e[{i}] -> Discard; lin[{i}] -> Discard;" for i in range(8))
    r = build_router(f"Idle -> e :: DirectIPLookup({conf}); Idle -> lin :: RadixIPLookup({conf}); {outs}")
    addrs = probe_addresses(rng, routes[:200], 1000)
    assert lookups(r, "e", addrs) == lookups(r, "lin", addrs)
