"""RadixIPLookup: the trie at every level boundary, table order, flush, big tables."""
import ipaddress
import random

import pytest
from support import build_router

from clickpy.errors import ConfigError
from clickpy.runtime.handlers import HandlerError


def ip(a: str) -> int:
    return int(ipaddress.IPv4Address(a))


def unip(v: int) -> str:
    return str(ipaddress.IPv4Address(v))


def mask_of(plen: int) -> int:
    return 0 if plen == 0 else (0xFFFFFFFF << (32 - plen)) & 0xFFFFFFFF


def reference(routes):
    """A fast exact longest-prefix match over {(addr, plen): port} (tries /32 down to /0)."""
    def lookup(a):
        for plen in range(32, -1, -1):
            port = routes.get((a & mask_of(plen), plen))
            if port is not None:
                return port
        return -1
    return lookup


def radix(routes="", noutputs=4):
    outs = "".join(f"rt[{i}] -> Discard;\n" for i in range(noutputs))
    return build_router(f"Idle -> rt :: RadixIPLookup({routes});\n{outs}")


def test_every_prefix_length_nests_on_one_address():
    """Routes of all 33 lengths on one address; removing them from the longest
    (and then from the shortest) must uncover each shorter one in turn."""
    target = ip("172.31.200.77")
    r = radix(noutputs=33)
    rt = r.element("rt")
    for plen in range(33):
        r.write("rt.add", f"{unip(target & mask_of(plen))}/{plen} {plen}")
    for plen in range(33):
        # The address that shares exactly plen leading bits with the target.
        probe = target ^ (1 << (31 - plen)) if plen < 32 else target
        assert rt.lookup(probe)[0] == plen, plen
    for plen in range(32, 0, -1):
        r.write("rt.remove", f"{unip(target & mask_of(plen))}/{plen}")
        assert rt.lookup(target)[0] == plen - 1
    for plen in range(1, 33):
        r.write("rt.add", f"{unip(target & mask_of(plen))}/{plen} {plen}")
    for plen in range(0, 32):
        r.write("rt.remove", f"{unip(target & mask_of(plen))}/{plen}")
        assert rt.lookup(target)[0] == 32
        assert rt.lookup(target ^ 1)[0] == (31 if plen < 31 else -1)


def test_set_replaces_and_reuses_slots_in_clicks_order():
    r = radix("1.0.0.0/8 0, 2.0.0.0/8 1, 3.0.0.0/8 2")
    r.write("rt.set", "2.0.0.0/8 9.9.9.9 1")
    # The new version takes a fresh slot; the old slot is free for the next route.
    assert r.read("rt.table").splitlines() == [
        "1.0.0.0/8\t\t-\t\t0", "3.0.0.0/8\t\t-\t\t2", "2.0.0.0/8\t\t9.9.9.9\t\t1"]
    r.write("rt.add", "4.0.0.0/8 3")
    assert r.read("rt.table").splitlines() == [
        "1.0.0.0/8\t\t-\t\t0", "4.0.0.0/8\t\t-\t\t3", "3.0.0.0/8\t\t-\t\t2",
        "2.0.0.0/8\t\t9.9.9.9\t\t1"]
    assert r.read("rt.lookup", param="2.1.1.1") == "1 9.9.9.9"


def test_default_route_survives_a_big_ctrl():
    """Click's iplookups-02: a default route must stay through many adds."""
    rng = random.Random(3)
    r = radix("0.0.0.0/0 16", noutputs=17)
    lines = []
    for i in range(2000):
        plen = rng.choice([8, 9, 16, 20, 22, 23, 24, 24, 27, 32])
        a = (ip("4.0.0.0") + rng.getrandbits(26)) & mask_of(plen)  # inside 4.0.0.0/6
        lines.append(f"set {unip(a)}/{plen} {rng.randrange(8)}")
    r.write("rt.ctrl", "\n".join(lines) + "\n")
    assert r.read("rt.lookup", param="11.12.12.1") == "16"
    assert r.read("rt.lookup", param="200.1.1.1") == "16"


def test_flush_empties_the_table():
    r = radix("0/0 1, 10.0.0.0/8 0, 10.1.2.3/32 2")
    r.write("rt.flush", "")
    assert r.read("rt.table") == ""
    assert r.read("rt.lookup", param="10.1.2.3") == "-1"
    r.write("rt.add", "10.0.0.0/8 3")
    assert r.read("rt.lookup", param="10.1.2.3") == "3"


def test_non_prefix_masks_are_refused():
    with pytest.raises(ConfigError, match=r"needs a prefix mask"):
        radix("1.2.3.4/255.0.255.0 0")
    r = radix()
    message = r"route '1.0.3.0/255.0.255.0 - 0': RadixIPLookup needs a prefix mask"
    with pytest.raises(HandlerError, match=message):
        r.write("rt.add", "1.2.3.4/255.0.255.0 0")
    with pytest.raises(HandlerError, match="not found"):
        r.write("rt.remove", "1.2.3.4/255.0.255.0")


@pytest.mark.slow
def test_hundred_thousand_routes():
    """A BGP-sized table: configured, then checked against an exact reference."""
    rng = random.Random(11)
    routes = {}
    while len(routes) < 100_000:
        plen = rng.choice([8, 12, 16, 18, 19, 20, 21, 22, 23, 24, 24, 24, 24, 24, 24,
                           25, 26, 28, 30, 32])
        a = rng.getrandbits(32) & mask_of(plen)
        routes[(a, plen)] = rng.randrange(8)
    args = ", ".join(f"{unip(a)}/{plen} {port}" for (a, plen), port in routes.items())
    r = radix(args, noutputs=8)
    rt = r.element("rt")
    ref = reference(routes)
    keys = list(routes)
    for i in range(50_000):
        if i % 2:
            a = rng.getrandbits(32)
        else:
            base, plen = keys[rng.randrange(len(keys))]
            a = base + rng.randrange(1 << (32 - plen))
        assert rt.lookup(a)[0] == ref(a), unip(a)
    assert len(r.read("rt.table").splitlines()) == 100_000
    # Removing half the routes through one ctrl write keeps the rest exact.
    gone = keys[::2]
    r.write("rt.ctrl", "\n".join(f"remove {unip(a)}/{plen}" for a, plen in gone))
    for k in gone:
        del routes[k]
    for i in range(20_000):
        a = rng.getrandbits(32) if i % 2 else keys[rng.randrange(len(keys))][0]
        assert rt.lookup(a)[0] == ref(a), unip(a)
