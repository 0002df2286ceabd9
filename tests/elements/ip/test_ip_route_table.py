"""What every route lookup element shares (Click's IPRouteTable): route syntax,
longest-prefix match against a brute-force reference, the data path, handlers
and their messages, configuration errors."""
import ipaddress
import random

import pytest
from harness import feed, run_router
from support import build_router, run_config

from clickpy.errors import ConfigError
from clickpy.runtime.handlers import HandlerError

DYNAMIC = ["RadixIPLookup", "LinearIPLookup"]
ALL = DYNAMIC + ["StaticIPLookup"]


# --- reference model ----------------------------------------------------------------------


def ip(a: str) -> int:
    return int(ipaddress.IPv4Address(a))


def unip(v: int) -> str:
    return str(ipaddress.IPv4Address(v))


def mask_of(plen: int) -> int:
    return 0 if plen == 0 else (0xFFFFFFFF << (32 - plen)) & 0xFFFFFFFF


def brute_force_lpm(routes, addr: int):
    """routes: {(addr, plen): (gw, port)} -> (port, gw) of the longest match, or (-1, 0)."""
    best = None
    for (a, plen), (gw, port) in routes.items():
        if addr & mask_of(plen) == a and (best is None or plen > best[0]):
            best = (plen, port, gw)
    return (-1, 0) if best is None else (best[1], best[2])


def random_table(rng: random.Random, n: int, noutputs: int, default=True):
    """n distinct prefixes clustered around a few roots, so they nest and overlap."""
    roots = [rng.getrandbits(32) for _ in range(max(1, n // 25))]
    lengths = [1, 3, 8, 8, 12, 15, 16, 16, 17, 19, 20, 21, 22, 23, 24, 24, 24,
               25, 26, 27, 28, 29, 30, 31, 32, 32]
    routes = {}
    if default:
        routes[(0, 0)] = (0, rng.randrange(noutputs))
    while len(routes) < n:
        plen = rng.choice(lengths)
        base = rng.choice(roots)
        if rng.random() < 0.6:
            base ^= rng.getrandbits(max(1, 32 - max(plen - 6, 0)))
        gw = rng.choice([0, rng.getrandbits(32) | 1])
        routes[(base & mask_of(plen), plen)] = (gw, rng.randrange(noutputs))
    return routes


def probe_addresses(rng: random.Random, routes, n: int):
    """Addresses inside, on the edges of and just past the routes, and random ones."""
    keys = list(routes)
    out = []
    for _ in range(n):
        a, plen = rng.choice(keys)
        span = 1 << (32 - plen)
        r = rng.random()
        if r < 0.4:
            out.append(a + rng.randrange(span))
        elif r < 0.55:
            out.append(a)
        elif r < 0.7:
            out.append(a + span - 1)
        elif r < 0.85:
            out.append((a + span) & 0xFFFFFFFF)
        else:
            out.append(rng.getrandbits(32))
    return out


def route_line(a: int, plen: int, gw: int, port: int) -> str:
    return f"{unip(a)}/{plen} {unip(gw) if gw else '-'} {port}"


def outputs(n: int, name="rt") -> str:
    return "rec :: HarnessRecord;\n" + "".join(f"{name}[{i}] -> [{i}] rec;\n" for i in range(n))


def table_config(cls: str, routes, noutputs: int) -> str:
    args = ",\n  ".join(route_line(a, plen, gw, port) for (a, plen), (gw, port) in routes.items())
    return f"Idle -> rt :: {cls}(\n  {args});\n" + outputs(noutputs)


def table_lines(r) -> set[str]:
    return set(r.read("rt.table").splitlines())


# --- longest-prefix match ----------------------------------------------------------------------


@pytest.mark.parametrize("cls", ALL)
@pytest.mark.parametrize("seed", range(3))
def test_random_overlapping_table_matches_brute_force(cls, seed):
    rng = random.Random(seed * 7919 + len(cls))
    routes = random_table(rng, 250, 5, default=seed != 1)
    r = build_router(table_config(cls, routes, 5))
    rt = r.element("rt")
    for a in probe_addresses(rng, routes, 2500):
        assert rt.lookup(a) == brute_force_lpm(routes, a), unip(a)


@pytest.mark.parametrize("cls", ALL)
@pytest.mark.parametrize("batch", [False, True])
def test_packets_follow_their_routes_and_take_the_gateway(cls, batch):
    rng = random.Random(42)
    routes = {k: v for k, v in random_table(rng, 120, 4, default=False).items() if k[1] >= 8}
    addrs = probe_addresses(rng, routes, 300)
    args = ",\n  ".join(route_line(a, plen, gw, port) for (a, plen), (gw, port) in routes.items())
    # Through a queue, packets reach the table in batches of up to 32.
    middle = "-> Queue(1000) -> Unqueue(BURST 32)" if batch else ""
    key = feed({"data": bytes(20), "dst": unip(a)} for a in addrs)
    config = (f"HarnessFeed({key}) {middle}\n"
              f"  -> rt :: {cls}(\n  {args});\n" + outputs(4))
    r = run_router(config)
    expected = []
    unrouted = 0
    for a in addrs:
        port, gw = brute_force_lpm(routes, a)
        if port < 0:
            unrouted += 1
        else:
            expected.append((port, unip(gw) if gw else unip(a)))
    assert [(x.port, x.dst_ip) for x in r.element("rec").log] == expected
    assert r.element("rt").no_route == unrouted
    assert unrouted > 0  # the probes include addresses outside every route


@pytest.mark.parametrize("cls", ALL)
def test_lookup_handler_format(cls):
    r = build_router(f"Idle -> rt :: {cls}(18.26.4.24/32 0, 18.26.4/24 1, 0/0 18.26.4.1 1, "
                     f"10.0.0.0/8 2);\n" + outputs(3))
    assert r.read("rt.lookup", param="18.26.4.24") == "0"
    assert r.read("rt.lookup", param="18.26.4.25") == "1"
    assert r.read("rt.lookup", param="1.2.3.4") == "1 18.26.4.1"
    for bad in ("", "18.26.4", "fish", "1.2.3.4.5"):
        with pytest.raises(HandlerError, match="expected IP address"):
            r.read("rt.lookup", param=bad)


@pytest.mark.parametrize("cls", ALL)
def test_lookup_without_any_route_is_minus_one(cls):
    r = build_router(f"Idle -> rt :: {cls}(10.0.0.0/8 0) -> Discard")
    assert r.read("rt.lookup", param="11.0.0.1") == "-1"
    assert r.read("rt.lookup", param="10.255.255.255") == "0"


@pytest.mark.parametrize("cls", ALL)
def test_route_syntax_forms(cls):
    r = build_router(f"""Idle -> rt :: {cls}(
        18.26/16 0,                     // short address
        18.26.4.9 1,                    // bare address: /32
        18.26.5.0/255.255.255.0 - 2,    // dotted mask, explicit null gateway
        0/0 1.2.3.4 3,                  // default route with gateway
        18.26.7.99/24 4);               // host bits are cleared
        """ + outputs(5))
    assert table_lines(r) == {
        "18.26.0.0/16\t\t-\t\t0",
        "18.26.4.9/32\t\t-\t\t1",
        "18.26.5.0/24\t\t-\t\t2",
        "0.0.0.0/0\t\t1.2.3.4\t\t3",
        "18.26.7.0/24\t\t-\t\t4",
    }
    rt = r.element("rt")
    assert rt.lookup(ip("18.26.7.1")) == (4, 0)
    assert rt.lookup(ip("18.26.4.9")) == (1, 0)
    assert rt.lookup(ip("18.27.0.1")) == (3, ip("1.2.3.4"))


@pytest.mark.parametrize("cls", ALL)
def test_table_columns_are_tab_aligned_as_clicks(cls):
    r = build_router(f"Idle -> rt :: {cls}(192.168.100.0/24 192.168.100.254 1, 1.2.3.4/32 0);\n"
                     + outputs(2))
    # A column gets a second tab when it is shorter than 17 (prefix) or 9 (gateway) characters.
    assert table_lines(r) == {"192.168.100.0/24\t192.168.100.254\t1", "1.2.3.4/32\t\t-\t\t0"}


@pytest.mark.parametrize("cls", ALL)
def test_address_info_names(cls):
    r = build_router(f"""AddressInfo(foo 1.2.3.4/20, gw 9.9.9.9);
        Idle -> rt :: {cls}(foo 0, foo:ipnet 1, foo:bcast gw 2);
        """ + outputs(3))
    assert table_lines(r) == {"1.2.3.4/32\t\t-\t\t0", "1.2.0.0/20\t\t-\t\t1",
                              "1.2.15.255/32\t\t9.9.9.9\t\t2"}
    assert r.read("rt.lookup", param="foo") == "0"
    assert r.read("rt.lookup", param="1.2.8.8") == "1"


# --- configuration errors ------------------------------------------------------------------------


@pytest.mark.parametrize("cls", ALL)
def test_bad_routes_are_configuration_errors(cls):
    with pytest.raises(ConfigError) as e:
        build_router(f"Idle -> rt :: {cls}(1.0.0.0/8 0, 1.0.0.0/8, 2.0.0.0/40 0, 18.26/24 0, "
                     "3.0.0.0/8 1.2.3.4 0 extra, nonsense 0, 4.0.0.0/8 2, "
                     "5.0.0.0/8 -1);\n" + outputs(2))
    text = str(e.value)
    for n in (2, 3, 4, 5, 6):
        assert f"argument {n} should be 'ADDR/MASK [GATEWAY] OUTPUT'" in text
    assert "argument 7 bad OUTPUT" in text
    assert "argument 8 bad OUTPUT" in text
    assert "argument 1 " not in text


@pytest.mark.parametrize("cls", ALL)
def test_duplicate_prefix_warns_and_keeps_the_first(cls):
    p = run_config(f"Idle -> rt :: {cls}(1.0.0.0/8 0, 1.0.0.0/8 1, 1.0.0.0/8 1, 2.0.0.0/8 1)"
                   " -> Discard; rt[1] -> Discard", "-q", "-h", "rt.table")
    assert p.returncode == 0, p.stderr
    assert "2 routes replaced by later versions" in p.stderr
    assert p.stdout.splitlines()[0] == "1.0.0.0/8\t\t-\t\t0"


def test_unrouted_packets_are_reported_and_dropped():
    p = run_config("InfiniteSource(LIMIT 3, STOP true) -> rt :: RadixIPLookup(10.0.0.0/8 0)"
                   " -> c :: Counter -> Discard", "-h", "c.count")
    assert p.returncode == 0
    assert p.stdout.strip() == "0"
    assert "IPRouteTable: no route for 0.0.0.0" in p.stderr
    p = run_config("InfiniteSource(LIMIT 9, STOP true)"
                   " -> rt :: LinearIPLookup(10.0.0.0/8 0) -> Discard")
    assert p.stderr.count("LinearIPLookup: no route for 0.0.0.0") == 5  # only the first five


# --- update handlers ---------------------------------------------------------------------------


@pytest.mark.parametrize("cls", DYNAMIC)
def test_add_set_remove_messages(cls):
    r = build_router(f"Idle -> rt :: {cls}(18.26.0.0/16 1.0.0.1 0);\n" + outputs(3))
    r.write("rt.add", "18.26.0/18 2.0.0.2 1")
    assert r.read("rt.lookup", param="18.26.4.9") == "1 2.0.0.2"
    with pytest.raises(HandlerError) as e:
        r.write("rt.add", "18.26.0.0/18 3.0.0.3 2")
    assert str(e.value) == "conflict with existing route '18.26.0.0/18 2.0.0.2 1'"
    r.write("rt.set", "18.26.0.0/18 3.0.0.3 2")
    assert r.read("rt.lookup", param="18.26.4.9") == "2 3.0.0.3"
    # A removal names the route exactly, or the prefix alone.
    with pytest.raises(HandlerError) as e:
        r.write("rt.remove", "18.26.0.0/18 2.0.0.2 1")
    assert str(e.value) == "route '18.26.0.0/18 2.0.0.2 1' not found"
    r.write("rt.remove", "18.26.0.0/18")
    assert r.read("rt.lookup", param="18.26.4.9") == "0 1.0.0.1"
    with pytest.raises(HandlerError, match=r"^route '18.26.0.0/18 - -1' not found$"):
        r.write("rt.remove", "18.26.0.0/18")
    with pytest.raises(HandlerError, match=r"^expected 'ADDR/MASK \[GATEWAY\] OUTPUT'$"):
        r.write("rt.add", "18.27.0.0/16 1.2.3.4")
    with pytest.raises(HandlerError, match=r"^expected 'ADDR/MASK \[GATEWAY OUTPUT\]'$"):
        r.write("rt.remove", "what/ever")
    with pytest.raises(HandlerError, match=r"^bad OUTPUT$"):
        r.write("rt.add", "18.27.0.0/16 3")
    with pytest.raises(HandlerError, match=r"^bad OUTPUT$"):
        r.write("rt.set", "18.27.0.0/16 -1")
    assert table_lines(r) == {"18.26.0.0/16\t\t1.0.0.1\t\t0"}


@pytest.mark.parametrize("cls", DYNAMIC)
def test_ctrl_is_all_or_nothing(cls):
    r = build_router(f"Idle -> rt :: {cls}(1.0.0.0/8 0, 2.0.0.0/8 1, 0/0 9.9.9.9 1);\n"
                     + outputs(2))
    before = table_lines(r)
    with pytest.raises(HandlerError, match=r"conflict with existing route '3.0.0.0/8 - 0'"):
        r.write("rt.ctrl", "add 3.0.0.0/8 0\n"
                           "set 1.0.0.0/8 5.5.5.5 1\n"
                           "remove 2.0.0.0/8\n"
                           "set 0.0.0.0/0 0\n"
                           "add 4.0.0.0/8 1\n"
                           "add 3.0.0.0/8 1\n")
    assert table_lines(r) == before
    assert r.read("rt.lookup", param="3.1.1.1") == "1 9.9.9.9"
    assert r.read("rt.lookup", param="4.1.1.1") == "1 9.9.9.9"
    with pytest.raises(HandlerError, match=r"^bad command 'frob'$"):
        r.write("rt.ctrl", "add 3.0.0.0/8 0\nfrob 1.0.0.0/8")
    assert table_lines(r) == before
    # Blank lines and comments are fine; everything applies.
    r.write("rt.ctrl", "\n// a comment\nadd 3.0.0.0/8 0\n\n"
                       "  set 1.0.0.0/8 5.5.5.5 1  \nremove 2.0.0.0/8 - 1\n")
    assert table_lines(r) == {"1.0.0.0/8\t\t5.5.5.5\t\t1", "3.0.0.0/8\t\t-\t\t0",
                              "0.0.0.0/0\t\t9.9.9.9\t\t1"}


@pytest.mark.parametrize("cls", DYNAMIC)
@pytest.mark.parametrize("seed", range(2))
def test_random_updates_match_a_model(cls, seed):
    rng = random.Random(1000 + seed)
    pool = list(random_table(rng, 120, 1))  # prefixes to draw from, so commands collide
    model = {}
    r = build_router(f"Idle -> rt :: {cls};\n" + outputs(4))
    rt = r.element("rt")
    for step in range(700):
        a, plen = rng.choice(pool)
        gw = rng.choice([0, rng.getrandbits(32) | 1])
        port = rng.randrange(4)
        op = rng.random()
        if op < 0.45:
            line = route_line(a, plen, gw, port)
            if (a, plen) in model:
                with pytest.raises(HandlerError, match="conflict with existing route"):
                    r.write("rt.add", line)
            else:
                r.write("rt.add", line)
                model[(a, plen)] = (gw, port)
        elif op < 0.65:
            r.write("rt.set", route_line(a, plen, gw, port))
            model[(a, plen)] = (gw, port)
        elif op < 0.75 and (a, plen) in model:
            # Naming the wrong gateway/port does not remove the route.
            g, p = model[(a, plen)]
            with pytest.raises(HandlerError, match="not found"):
                r.write("rt.remove", route_line(a, plen, g ^ 1, p))
            r.write("rt.remove", route_line(a, plen, g, p))
            del model[(a, plen)]
        else:
            if (a, plen) in model:
                r.write("rt.remove", f"{unip(a)}/{plen}")
                del model[(a, plen)]
            else:
                with pytest.raises(HandlerError, match="not found"):
                    r.write("rt.remove", f"{unip(a)}/{plen}")
        if step % 50 == 49:
            prefixes = {line.split("\t")[0] for line in table_lines(r)}
            assert prefixes == {f"{unip(a)}/{p}" for a, p in model}
            if model:
                for probe in probe_addresses(rng, model, 300):
                    assert rt.lookup(probe) == brute_force_lpm(model, probe), unip(probe)


def test_iplookups_01_sequence():
    """Click's iplookups-01 script, as handler calls, for each lookup element."""
    steps = [
        ("add", "18.26/16 1.0.0.1 0", "0 1.0.0.1"),
        ("add", "18.26.0/18 2.0.0.2 1", "1 2.0.0.2"),
        ("add", "18.26.0/17 3.0.0.3 2", "1 2.0.0.2"),
        ("remove", "18.26.0/18 2.0.0.2 1", "2 3.0.0.3"),
        ("remove", "18.26.0/16 1.0.0.1 0", "2 3.0.0.3"),
        ("add", "18.26.0/12 4.0.0.4 0", "2 3.0.0.3"),
        ("remove", "18.26.0/17 3.0.0.3 2", "0 4.0.0.4"),
        ("add", "0.0.0.0/32 99.99.99.99 0", None),
        ("add", "18.26.4.9/32 5.0.0.5 0", "0 5.0.0.5"),
        ("remove", "18.26.4.9/32 5.0.0.5 0", "0 4.0.0.4"),
        ("add!", "18.26.0/12 6.0.0.6 0", "0 4.0.0.4"),
        ("set", "18.26.0/12 7.0.0.7 0", "0 7.0.0.7"),
        ("remove", "18.26.0/12 7.0.0.7 0", "-1"),
    ]
    for cls in DYNAMIC:
        r = build_router(f"i :: Idle -> r :: {cls} -> i; r[1] -> i; r[2] -> i;")
        for op, arg, expect in steps:
            if op == "add!":
                conflict = r"conflict with existing route '18.16.0.0/12 4.0.0.4 0'"
                with pytest.raises(HandlerError, match=conflict):
                    r.write("r.add", arg)
            else:
                r.write(f"r.{op}", arg)
            if expect is not None:
                assert r.read("r.lookup", param="18.26.4.9") == expect, (cls, op, arg)
        assert r.read("r.lookup", param="0.0.0.0") == "0 99.99.99.99"
