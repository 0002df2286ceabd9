"""Information elements: AddressInfo, PortInfo, ScheduleInfo, AlignmentInfo, RandomSeed;
and SetTimestamp, SetTimestampDelta."""
import os
import struct

import pytest
from harness import run_router
from support import build_router, run_config

from clickpy.errors import ConfigError
from clickpy.runtime.args import unparse_ip
from clickpy.runtime.handlers import HandlerError

# --- AddressInfo ----------------------------------------------------------------


def address_info(router, name, kind, context=None):
    """router.address_info with IPv4 addresses (ints inside) shown dotted, for readable expectations."""
    v = router.address_info(name, kind, context)
    if kind == "ip" and v is not None:
        return unparse_ip(v)
    if kind == "ipprefix" and v is not None:
        return unparse_ip(v[0]), unparse_ip(v[1])
    return v


def test_address_info_names_and_suffixes():
    r = build_router("AddressInfo(foo 1.2.3.4/20, bar 00:01:02:03:04:05 10.0.0.1, net 10.0.0.0/8,"
                     " six fe80::1/64, both 1.1.1.1 2.2.2.2); Idle -> Discard")
    cases = {
        ("foo", "ip"): "1.2.3.4",
        ("foo", "ipprefix"): ("1.2.3.4", "255.255.240.0"),       # the name's prefix (an IPPrefix argument
                                                                 # allowing bare addresses takes the address)
        ("foo:ipnet", "ipprefix"): ("1.2.3.4", "255.255.240.0"),
        ("foo:net", "ipprefix"): ("1.2.3.4", "255.255.240.0"),
        ("foo:ip", "ip"): "1.2.3.4",
        ("foo:bcast", "ip"): "1.2.15.255",
        ("foo:gw", "ip"): "1.2.0.1",
        ("foo/16", "ipprefix"): ("1.2.3.4", "255.255.0.0"),
        ("bar", "ether"): b"\x00\x01\x02\x03\x04\x05",
        ("bar:eth", "ether"): b"\x00\x01\x02\x03\x04\x05",
        ("bar", "ip"): "10.0.0.1",
        ("net", "ip"): None,                                     # a prefix without host bits
        ("net", "ipprefix"): ("10.0.0.0", "255.0.0.0"),
        ("six", "ip6"): "fe80::1",
        ("six:ip6net", "ip6prefix"): ("fe80::1", 64),
        ("both", "ip"): "2.2.2.2",                               # as Click: each one-kind word redefines
        ("foo:nonsense", "ip"): None,
        ("nobody", "ip"): None,
    }
    for (name, kind), want in cases.items():
        assert address_info(r, name, kind) == want, (name, kind)


def test_address_info_names_work_in_other_elements_arguments():
    r = run_config("AddressInfo(src 1.0.0.1, dst 1.0.0.2);"
                   " InfiniteSource(LIMIT 1, STOP true) -> UDPIPEncap(src, 1, dst:ip, 2) -> Print(MAXLENGTH 20) -> Discard")
    assert r.returncode == 0, r.stderr
    assert "01000001 01000002" in r.stderr


def test_address_info_is_local_to_compounds():
    r = build_router("AddressInfo(x 1.1.1.1, y 3.3.3.3); c :: { AddressInfo(x 2.2.2.2); input -> output };"
                     " Idle -> c -> Discard")
    inner = r.element("c/AddressInfo@1") or next(e for e in r.elements if e.name.startswith("c/"))
    outer = r.elements[0]
    assert address_info(r, "x", "ip", inner) == "2.2.2.2"
    assert address_info(r, "y", "ip", inner) == "3.3.3.3"
    assert address_info(r, "x", "ip", outer) == "1.1.1.1"


def test_address_info_interfaces_of_this_host():
    r = build_router("AddressInfo(me lo); Idle -> Discard")
    if not os.path.exists("/sys/class/net/lo"):
        pytest.skip("no loopback interface")
    assert address_info(r, "lo", "ip") == "127.0.0.1"
    assert address_info(r, "lo:ipnet", "ipprefix") == ("127.0.0.1", "255.0.0.0")
    assert address_info(r, "me", "ip") == "127.0.0.1"


def test_address_info_errors():
    with pytest.raises(ConfigError) as e:
        build_router("AddressInfo(foo, bar 1.2.3, baz 1.2.3.4); Idle -> Discard")
    text = str(e.value)
    assert "expected 'NAME [ADDRS]'" in text and "'1.2.3' is not a recognizable address" in text


def test_address_info_is_configured_first():
    # The user comes before the definition in the file.
    r = build_router("Idle -> SetIPAddress(gw) -> Discard; AddressInfo(gw 9.9.9.9)")
    assert address_info(r, "gw", "ip") == "9.9.9.9"


# --- PortInfo -----------------------------------------------------------------------


def test_port_info_names_protocols_and_comments():
    from clickpy.elements.standard.port_info import lookup_port

    r = build_router("PortInfo(foo 79/udp # ssh 25/udp comment, # ssh 26/udp comment, bar 8080 baz,"
                     " q 5/sctp, w 7/nonsense); Idle -> Discard")
    e = r.elements[0]
    assert lookup_port("foo", "udp", e) == 79 and lookup_port("foo", "tcp", e) is None
    assert lookup_port("ssh", "udp", e) == 22                 # the comment did not define it
    assert lookup_port("bar", "tcp", e) == 8080 and lookup_port("baz", "udp", e) == 8080
    assert lookup_port("q", 132, e) == 5
    assert lookup_port("w", "udp", e) is None                  # unknown protocol: ignored
    assert lookup_port("www", "tcp", e) == 80                  # Click's table
    assert lookup_port("1234", "tcp", e) == 1234
    assert lookup_port("70000", "tcp", e) is None


def test_port_info_local_to_compounds_in_udpipencap():
    # Click's UDPIPEncap-01, printed instead of dumped.
    r = run_config("""InfiniteSource(LIMIT 3, STOP true)
  -> r :: RoundRobinSwitch
  -> UDPIPEncap(1.0.0.1, foo, 1.0.0.1, ssh)
  -> p :: Print(MAXLENGTH 24) -> Discard;
r[1] -> UDPIPEncap(1.0.0.2, 20, 1.0.0.2, 30) -> p;
r[2] -> { input -> UDPIPEncap(1.0.0.3, foo, 1.0.0.3, ssh) -> output;
    PortInfo(foo 80/udp ssh) } -> p;
PortInfo(foo 79/udp # ssh 25/udp comment, # ssh 26/udp comment, )""")
    assert r.returncode == 0, r.stderr
    ports = [l.split()[-1] for l in r.stderr.splitlines() if "|" in l]
    assert ports == ["004f0016", "0014001e", "00500050"]


def test_port_info_errors():
    with pytest.raises(ConfigError) as e:
        build_router("PortInfo(foo, bar x); Idle -> Discard")
    assert str(e.value).count("expected 'NAME PORT/PROTO'") == 2


# --- ScheduleInfo ----------------------------------------------------------------------


def test_schedule_info_sets_tickets_relative_to_compounds():
    r = build_router("elementclass C { i :: InfiniteSource -> output; ScheduleInfo(i 0.5) }"
                     " c :: C -> Discard; d :: C -> Discard; e :: C -> Discard;"
                     " u :: Unqueue; Idle -> q :: Queue -> u -> Discard;"
                     " ScheduleInfo(c 4, d 4, d/i 10.5); ScheduleInfo(u 2)")
    tickets = {n: r.element(n).task.tickets for n in ("c/i", "d/i", "e/i", "u")}
    assert tickets == {"c/i": 2048, "d/i": 10752, "e/i": 512, "u": 2048}
    for n in tickets:
        r.element(n).task.unschedule()


def test_schedule_info_caps_and_errors():
    r = build_router("u :: Unqueue; Idle -> q :: Queue -> u -> Discard; ScheduleInfo(u 100)")
    assert r.element("u").task.tickets == 32768
    r.element("u").task.unschedule()
    with pytest.raises(ConfigError) as e:
        build_router("Idle -> Discard; ScheduleInfo(u, v 1 2, w x, y inf, z nan, t -1)")
    assert str(e.value).count("expected 'ELEMENTNAME PARAM'") == 6


def test_schedule_info_changes_shares():
    r = run_config("a :: InfiniteSource(LIMIT 3000, STOP true) -> ca :: Counter -> Discard;"
                   " b :: InfiniteSource -> cb :: Counter -> Discard;"
                   " ScheduleInfo(a 3)", "--simtime", "-h", "ca.count", "-h", "cb.count")
    counts = [int(x) for x in r.stdout.split() if x.isdigit()]
    assert len(counts) == 2 and 2.5 < counts[0] / counts[1] < 3.5


# --- AlignmentInfo -----------------------------------------------------------------------


def test_alignment_info_pools_and_answers():
    from clickpy.elements.standard.alignment_info import AlignmentInfo

    r = build_router("AlignmentInfo(src 8 2); AlignmentInfo(dst 4 0 8 1, nosuch 4 2);"
                     " src :: Idle -> [0] dst :: Idle; Idle -> [1] dst; dst -> Discard; dst[1] -> Discard")
    assert AlignmentInfo.query(r.element("src"), 0) == (8, 2)
    assert AlignmentInfo.query(r.element("dst"), 1) == (8, 1)
    assert AlignmentInfo.query(r.element("dst"), 2) is None
    assert AlignmentInfo.query(r.elements[-1], 0) is None


def test_alignment_info_errors():
    with pytest.raises(ConfigError) as e:
        build_router("AlignmentInfo(src 8 2); AlignmentInfo(src 4 2); src :: Idle")
    assert "conflicting AlignmentInfo for 'src'" in str(e.value)
    with pytest.raises(ConfigError) as e:
        build_router("AlignmentInfo(src 8, src x 1); src :: Idle")
    assert "expected 'ELEMENTNAME CHUNK OFFSET [CHUNK OFFSET...]'" in str(e.value) and "expected CHUNK" in str(e.value)


# --- RandomSeed --------------------------------------------------------------------------


def test_random_seed_makes_the_shared_generator_repeat():
    from clickpy.elements.standard import random_seed

    r = build_router("RandomSeed(42)")
    first = [random_seed.random_u32() for _ in range(5)] + [random_seed.rng.randint(1, 6) for _ in range(5)]
    build_router("RandomSeed(42)")
    again = [random_seed.random_u32() for _ in range(5)] + [random_seed.rng.randint(1, 6) for _ in range(5)]
    assert first == again
    assert r.read("RandomSeed@1.seed") == "42"
    r.write("RandomSeed@1.seed", "7")
    a = random_seed.rng.random()
    r.write("RandomSeed@1.seed", "7")
    assert random_seed.rng.random() == a and 0 <= a < 1
    r.write("RandomSeed@1.seed", "")
    assert r.read("RandomSeed@1.seed") == ""
    with pytest.raises(HandlerError):
        r.write("RandomSeed@1.seed", "x")
    with pytest.raises(ConfigError):
        build_router("RandomSeed(-3)")


def test_random_values_are_spread():
    from clickpy.elements.standard import random_seed

    random_seed.seed(1)
    rolls = [random_seed.rng.randrange(4) for _ in range(4000)]
    assert all(800 < rolls.count(k) < 1200 for k in range(4))


# --- SetTimestamp / SetTimestampDelta ------------------------------------------------------

START = 1_000_000_000 * 10**9    # --simtime starts here


def first_timestamp(anno):
    return struct.unpack_from("<q", anno, 32)[0]


def test_set_timestamp_now_fixed_and_first():
    r = run_router("HarnessFeed(01, 02@5) -> SetTimestamp -> rec :: HarnessRecord(2)")
    assert [x.ts for x in r.element("rec").log] == [START, START]
    r = run_router("HarnessFeed(01) -> SetTimestamp(12.5) -> rec :: HarnessRecord(1)")
    assert r.element("rec").log[0].ts == 12_500_000_000
    r = run_router("HarnessFeed(01@3) -> SetTimestamp(2, FIRST true) -> rec :: HarnessRecord(1)")
    assert r.element("rec").log[0].ts == 3 * 10**9 and first_timestamp(r.element("rec").log[0].anno) == 2 * 10**9


def test_set_timestamp_errors():
    with pytest.raises(ConfigError) as e:
        build_router("Idle -> SetTimestamp(DELTA true) -> Discard")
    assert "SetTimestamp(DELTA) is deprecated" in str(e.value)
    with pytest.raises(ConfigError):
        build_router("Idle -> SetTimestamp(yesterday) -> Discard")


def test_set_timestamp_delta_range():
    r = run_router("HarnessFeed(01, 02@5, 03@7.5, 04@4) -> d :: SetTimestampDelta -> rec :: HarnessRecord(4)")
    # Zero timestamps pass unchanged; others become differences from the first nonzero.
    assert [x.ts for x in r.element("rec").log] == [0, 0, 2_500_000_000, -1_000_000_000]
    assert r.read("d.first") == "5.000000"
    r.write("d.reset", "")
    assert r.read("d.first") == "0.000000"


def test_set_timestamp_delta_first_and_now():
    r = run_router("HarnessFeed(01@3) -> SetTimestamp(1, FIRST true) -> SetTimestamp(4)"
                   " -> SetTimestampDelta(TYPE FIRST) -> rec :: HarnessRecord(1)")
    assert r.element("rec").log[0].ts == 3 * 10**9
    r = run_router(f"HarnessFeed(01@{START // 10**9 - 2}) -> SetTimestampDelta(TYPE NOW) -> rec :: HarnessRecord(1)")
    assert r.element("rec").log[0].ts == 2 * 10**9
    with pytest.raises(ConfigError) as e:
        build_router("Idle -> SetTimestampDelta(TYPE LATER) -> Discard")
    assert "bad TYPE" in str(e.value)
