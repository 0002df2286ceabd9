"""The switch's policy file: the shipped examples, the defaults, and every error's place and wording."""
import re
import textwrap
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support import REPO

from clickpy import pipeline
from clickpy.guest.image import build
from clickpy.switch.policy import (DEFAULTS, MAX_POLICY_CHARS, MAX_TENANTS, Match, PolicyError, load_policy,
                                   overlap, overlapping, parse_match, parse_policy, parse_size, time_text)

EXAMPLES = sorted((REPO / "configs" / "switch").glob("*.toml"))


def errors(text: str, path="p.toml") -> list[str]:
    with pytest.raises(PolicyError) as info:
        parse_policy(text, path)
    return str(info.value).splitlines()


def one_error(text: str) -> str:
    lines = errors(text)
    assert len(lines) == 1, lines
    return lines[0]


TENANT = '[[tenant]]\nname = "a"\nimage = "a.guest"\nmatch = ["vlan 10"]\n'


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_examples_parse_and_describe(path):
    policy = parse_policy(path.read_text(), path)
    assert policy.tenants
    text = policy.describe()
    for t in policy.tenants:
        assert f"tenant {t.name}: per {t.per}" in text
        assert t.image.is_absolute() or t.image.parent == path.parent
    for m in (m for t in policy.tenants for m in t.matches):
        assert parse_match(str(m)) == Match(str(m), m.vlan, m.mac, m.addr, m.prefix_len, m.proto, m.port)


def test_the_documented_example_parses():
    from clickpy.switch import policy as module

    example = textwrap.dedent(module.__doc__.split("::\n", 1)[1].split("\nTimes are written", 1)[0])
    policy = parse_policy(example, "/etc/clickpy/switch.toml")
    assert [t.name for t in policy.tenants] == ["alpha", "beta"]
    assert policy.tenants[0].image == Path("/etc/clickpy/guests/firewall.guest")
    assert policy.match_order() == [1, 0] and policy.tenants[1].max_guests == 100


def test_two_tenant_example():
    policy = parse_policy((REPO / "configs/switch/two-tenants.toml").read_text(), "/etc/sw/two.toml")
    red, blue = policy.tenants
    assert (red.name, red.image, red.matches[0].vlan, red.per, red.max_guests) == \
        ("red", Path("/etc/sw/firewall.guest"), 10, "tenant", 1)
    assert blue.parameters == {"SERVER_IP": "10.0.2.1"}
    assert (red.memory, blue.memory) == (64 << 20, 32 << 20)
    assert policy.settings.max_guests == 16 and policy.default_index == -1


def test_defaults_and_order():
    policy = parse_policy(
        TENANT + '[[tenant]]\nname = "b"\nimage = "/b.guest"\nmatch = "ip 10.0.0.0/8"\nper = "flow"\n'
        'priority = 5\n[[tenant]]\nname = "c"\nimage = "c.guest"\n[switch]\ndefault = "pass c"\n'
        'memory = 1048576\n', "/x/p.toml")
    s = policy.settings
    assert (s.idle_timeout, s.backlog, s.backoff_initial, s.backoff_max) == \
        (DEFAULTS["idle_timeout"], 64, DEFAULTS["backoff_initial"], DEFAULTS["backoff_max"])
    assert s.memory == 1 << 20 and policy.tenants[0].memory == 1 << 20
    assert policy.tenants[1].max_guests == s.max_guests and policy.tenants[1].per_flow
    assert policy.match_order() == [1, 0, 2]
    assert policy.default_index == 2 and policy.tenants[2].matches == ()
    assert "unmatched traffic: pass to c" in policy.describe()
    assert s.fast_cgroup_moves and "fast cgroup moves off" not in policy.describe()


def test_fast_cgroup_moves_can_be_turned_off():
    policy = parse_policy("[switch]\nfast_cgroup_moves = false\n" + TENANT)
    assert not policy.settings.fast_cgroup_moves
    assert "fast cgroup moves off" in policy.describe()


def test_times_and_sizes():
    policy = parse_policy('[switch]\nidle_timeout = "500ms"\nrestart_backoff = { initial = "1ms", max = "2min" }\n'
                          + TENANT)
    s = policy.settings
    assert (s.idle_timeout, s.backoff_initial, s.backoff_max) == (500_000_000, 1_000_000, 120 * 10**9)
    assert [time_text(t) for t in (s.idle_timeout, s.backoff_max)] == ["500ms", "2min"]
    assert [parse_size(x) for x in ("64M", "512k", "1G", "4096", 4096)] == [64 << 20, 512 << 10, 1 << 30, 4096, 4096]
    for bad in ("0", "64Q", "-1", True, 0, "1T"):
        with pytest.raises(ValueError):
            parse_size(bad)


def test_match_terms():
    m = parse_match("ip 10.1.0.0/16 proto tcp port 443")
    assert (m.addr, m.prefix_len, m.proto, m.port, m.vlan, m.mac) == (0x0A010000, 16, 6, 443, None, None)
    assert parse_match("ip 10.0.0.7").prefix_len == 32
    assert parse_match("mac 02-00-00-00-0A-01").mac == bytes.fromhex("02000000 0a01")
    assert parse_match("vlan 4094 proto 47").proto == 47
    assert str(parse_match("port 53  vlan 3")) == "vlan 3 port 53"


@pytest.mark.parametrize("a, b, overlapping", [
    ("ip 10.0.0.0/8", "ip 10.1.0.0/16", True),
    ("ip 10.0.0.0/16", "ip 10.1.0.0/16", False),
    ("vlan 10", "vlan 11", False),
    ("vlan 10", "ip 10.0.0.0/8", True),                # a VLAN-10 packet from 10.x matches both
    ("ip 10.0.0.0/8 proto tcp", "ip 10.0.0.0/8 proto udp", False),
    ("ip 10.0.0.0/8 port 53", "ip 10.0.0.0/8 proto icmp", False),
    ("ip 10.0.0.0/8 port 53", "ip 10.0.0.0/8 proto udp", True),
    ("port 53", "port 80", False),
    ("mac 02:00:00:00:00:01", "mac 02:00:00:00:00:02", False),
    ("ip 0.0.0.0/0", "ip 192.168.1.1", True),
])
def test_overlap(a, b, overlapping):
    assert overlap(parse_match(a), parse_match(b)) is overlapping
    assert overlap(parse_match(b), parse_match(a)) is overlapping


MATCH_TEXTS = ["vlan 1", "vlan 2", "mac 02:00:00:00:00:01", "mac 02:00:00:00:00:02", "ip 10.0.0.0/8",
               "ip 10.1.0.0/16", "ip 10.1.2.0/24", "ip 10.2.0.0/16", "ip 0.0.0.0/0", "ip 10.1.2.3", "proto tcp",
               "port 53", "proto udp port 53", "proto icmp", "vlan 1 ip 10.1.0.0/16", "vlan 2 mac 02:00:00:00:00:01",
               "mac 02:00:00:00:00:02 ip 10.2.0.0/16 proto tcp", "vlan 1 port 80"]


@settings(deadline=None, max_examples=300)
@given(st.lists(st.sampled_from(MATCH_TEXTS), max_size=12))
def test_overlapping_finds_every_overlapping_pair(texts):
    matches = [parse_match(t) for t in texts]
    every = {(x, y) for x in range(len(matches)) for y in range(x + 1, len(matches))
             if overlap(matches[x], matches[y])}
    found = list(overlapping(matches))
    assert len(found) == len(set(found)) and set(found) == every


def test_four_thousand_tenants_without_overlaps():
    # 4,096 tenants on disjoint /24s, or VLANs and MACs: pairs that cannot overlap are not compared
    def match(i):
        return f"ip 10.{i // 256}.{i % 256}.0/24" if i % 2 else f"vlan {i // 2 + 1} mac 02:00:00:00:{i // 256:02x}:01"
    text = "".join(f'[[tenant]]\nname = "t{i}"\nimage = "t.guest"\nmatch = ["{match(i)}"]\nper = "flow"\n'
                   f"priority = {i % 2}\n" for i in range(4096))
    assert len(parse_policy(text).tenants) == 4096


def test_overlaps_listed_are_bounded():
    text = "".join(f'[[tenant]]\nname = "t{i}"\nimage = "t.guest"\nmatch = ["proto tcp"]\n' for i in range(100))
    assert len(errors(text)) == 20


def test_too_many_tenants():
    text = "".join(f'[[tenant]]\nname = "t{i}"\nimage = "t.guest"\nmatch = ["vlan {i % 4094 + 1}"]\npriority = {i}\n'
                   for i in range(MAX_TENANTS + 1))
    assert one_error(text) == f'p.toml:1: tenant: expected at most {MAX_TENANTS} tenants, not {MAX_TENANTS + 1}'


def test_too_long():
    assert one_error("#" * (MAX_POLICY_CHARS + 1)) == f"p.toml: policy longer than {MAX_POLICY_CHARS} characters"


# Each error: the text, the line it must name, and what the message must say.
ERRORS = [
    ('[[tenant]]\nname = "a"\nimage = "a.guest"\nmatch = ["vlan 10"]\nimgae = "x"\n',
     5, r'tenant "a": imgae: unknown key \(expected one of name, image, .*\); did you mean "image"\?'),
    ('[switch]\nidel_timeout = "3s"\n' + TENANT,
     2, r'\[switch\] idel_timeout: unknown key .*did you mean "idle_timeout"\?'),
    ('[swtich]\nmemory = "1M"\n' + TENANT, 1, r'swtich: unknown key \(expected one of switch, tenant\)'),
    ('[switch]\nidle_timeout = 30\n' + TENANT, 2, r'\[switch\] idle_timeout: expected a time such as "30s"'),
    ('[switch]\nidle_timeout = "0s"\n' + TENANT, 2, r'idle_timeout: expected a time such as .*, not "0s"'),
    ('[switch]\nmax_guests = true\n' + TENANT, 2, r'max_guests: expected an integer from 1 to \d+, not true'),
    ('[switch]\nbacklog = -1\n' + TENANT, 2, r'backlog: expected an integer from 0 to 65536, not -1'),
    ('[switch]\nfast_cgroup_moves = "yes"\n' + TENANT, 2, r'fast_cgroup_moves: expected true or false, not "yes"'),
    ('[switch]\nmemory = "lots"\n' + TENANT, 2, r'memory: expected a memory size such as "64M", not "lots"'),
    ('[switch]\nrestart_backoff = { initial = "2s", max = "1s" }\n' + TENANT,
     2, r'restart_backoff: expected initial \(2s\) no longer than max \(1s\)'),
    ('[switch]\n[switch.restart_backoff]\ninitial = "5s"\nmax = "1s"\n' + TENANT,
     2, r'restart_backoff: expected initial \(5s\) no longer than max \(1s\)'),
    ('[switch]\nrestart_backoff = { start = "2s" }\n' + TENANT,
     2, r'restart_backoff: unknown key "start" \(expected initial, max\)'),
    ('[switch]\nrestart_backoff = "1s"\n' + TENANT, 2, r'restart_backoff: expected a table such as'),
    ('[switch]\ndefault = "pass nobody"\n' + TENANT, 2, r'default: .*there is no tenant "nobody"'),
    ('[switch]\ndefault = "forward"\n' + TENANT, 2, r'default: expected "drop" or "pass NAME", not "forward"'),
    ('[tenant]\nname = "a"\n', 1, r'tenant: expected \[\[tenant\]\] tables'),
    ('[[tenant]]\nimage = "a.guest"\nmatch = ["vlan 1"]\n', 1, r'tenant #1: expected a name'),
    ('[[tenant]]\nname = "a b"\nimage = "a.guest"\nmatch = ["vlan 1"]\n',
     2, r'tenant #1: name: expected letters, digits'),
    ('[[tenant]]\nname = "a"\nmatch = ["vlan 1"]\n', 1, r'tenant "a": expected an image'),
    ('[[tenant]]\nname = "a"\nimage = ""\nmatch = ["vlan 1"]\n', 3, r'tenant "a": image: expected a path'),
    (TENANT + 'per = "flows"\n', 5, r'tenant "a": per: expected "tenant" or "flow", not "flows"'),
    (TENANT + 'max_guests = 2\n', 5, r'tenant "a": max_guests: expected 1 \(per = "tenant" runs one guest\)'),
    (TENANT + 'per = "flow"\nmax_guests = 0\n', 6, r'max_guests: expected an integer from 1'),
    (TENANT + 'memory = "12X"\n', 5, r'tenant "a": memory: expected a memory size'),
    (TENANT + 'priority = 1.5\n', 5, r'tenant "a": priority: expected an integer'),
    (TENANT + 'parameters = { N = 5 }\n', 5, r'tenant "a": parameters: N: expected a string \(quote it\), not 5'),
    (TENANT + 'parameters = { "a-b" = "x" }\n', 5, r'parameters: expected a parameter name .*, not "a-b"'),
    (TENANT + 'parameters = ["N=1"]\n', 5, r'parameters: expected a table such as'),
    ('[[tenant]]\nname = "a"\nimage = "a.guest"\nmatch = [\n  "vlan 1",\n  "vlan 5000",\n]\n',
     6, r'tenant "a": match: "vlan 5000": expected a VLAN ID from 1 to 4094'),
    ('[[tenant]]\nname = "a"\nimage = "a.guest"\nmatch = ["mac 02:00"]\n', 4, r'match: "mac 02:00": expected a MAC'),
    ('[[tenant]]\nname = "a"\nimage = "a.guest"\nmatch = ["ip 10.0.0.1/8"]\n',
     4, r"expected a prefix without host bits: '10.0.0.1/8' would be 10.0.0.0/8"),
    ('[[tenant]]\nname = "a"\nimage = "a.guest"\nmatch = ["ip 10.0.0.0/33"]\n', 4, r"expected an IPv4 prefix"),
    ('[[tenant]]\nname = "a"\nimage = "a.guest"\nmatch = ["proto gre"]\n', 4, r"expected tcp, udp, icmp or a protocol"),
    ('[[tenant]]\nname = "a"\nimage = "a.guest"\nmatch = ["port 0"]\n', 4, r"expected a port from 1 to 65535"),
    ('[[tenant]]\nname = "a"\nimage = "a.guest"\nmatch = ["proto icmp port 7"]\n',
     4, r"expected 'port' only with proto tcp or udp"),
    ('[[tenant]]\nname = "a"\nimage = "a.guest"\nmatch = ["vlan 1 vlan 2"]\n', 4, r"expected 'vlan' once"),
    ('[[tenant]]\nname = "a"\nimage = "a.guest"\nmatch = ["vlan"]\n', 4, r"expected a value after 'vlan'"),
    ('[[tenant]]\nname = "a"\nimage = "a.guest"\nmatch = ["host 1.2.3.4"]\n',
     4, r"expected vlan, mac, ip, proto or port, not 'host'"),
    ('[[tenant]]\nname = "a"\nimage = "a.guest"\nmatch = [""]\n', 4, r"match: \"\": expected terms such as"),
    ('[[tenant]]\nname = "a"\nimage = "a.guest"\nmatch = [10]\n', 4, r"match: expected a list of strings"),
    ('[[tenant]]\nname = "a"\nimage = "a.guest"\n', 1,
     r'tenant "a": expected matches .* or to be the switch\'s default .*no traffic reaches it'),
    ('[[tenant]]\nname = "a"\nimage = "a.guest"\nmatch = []\n', 4, r'tenant "a": match: expected matches'),
    (TENANT + TENANT.replace("vlan 10", "vlan 11"), 6, r'tenant "a": name: expected a name no other tenant has \(tenant #1 has it\)'),
    (TENANT + '[[tenant]]\nname = "b"\nimage = "b.guest"\nmatch = ["ip 10.0.0.0/8 vlan 11", "vlan 10 proto tcp"]\n',
     8, r'tenant "b": match: "vlan 10 proto tcp" overlaps tenant "a"\'s "vlan 10" \(line 4\); '
        r'expected a different priority'),
    ('a = [1,\n', 1, r'not valid TOML: '),
    ('[switch]\nx = 1\nx = 2\n', 3, r'not valid TOML: '),
]


@pytest.mark.parametrize("text, line, expected", ERRORS, ids=[f"error{i}" for i in range(len(ERRORS))])
def test_error_names_file_line_tenant_and_expectation(text, line, expected):
    message = one_error(text)
    assert re.match(rf"p\.toml:{line}(:\d+)?: ", message), message
    assert re.search(expected, message), message


def test_every_error_in_one_pass():
    lines = errors('[switch]\nbacklog = "x"\nmemory = 0\n[[tenant]]\nname = "a"\nimage = 1\nmatch = ["vlan 0"]\n')
    assert [line.split(":")[1] for line in lines] == ["2", "3", "6", "7"]


def test_priority_orders_an_overlap():
    text = TENANT + '[[tenant]]\nname = "b"\nimage = "b.guest"\nmatch = ["vlan 10 proto tcp"]\npriority = 1\n'
    policy = parse_policy(text)
    assert policy.match_order() == [1, 0]


def test_inline_tenants_are_found_too():
    message = one_error('tenant = [{ name = "a", image = "a.guest", match = ["vlan 99999"] }]\n')
    assert message.startswith("p.toml:1: tenant \"a\": match: \"vlan 99999\"")


def test_load_policy_checks_images(tmp_path):
    image = build(pipeline.plan(pipeline.Source("Idle -> Discard;", "g.click")))
    (tmp_path / "firewall.guest").write_bytes(image.pack())
    text = (REPO / "configs/switch/two-tenants.toml").read_text()
    (tmp_path / "p.toml").write_text(text)
    with pytest.raises(PolicyError) as info:
        load_policy(tmp_path / "p.toml")
    message = str(info.value)
    assert message.count("\n") == 0 and f"{tmp_path}/p.toml:20: tenant \"blue\": image: expected a guest image" in message
    assert message.endswith(f"but {tmp_path}/nat.guest does not exist")
    (tmp_path / "nat.guest").mkdir()
    with pytest.raises(PolicyError, match=r"nat.guest is not a file$"):
        load_policy(tmp_path / "p.toml")
    (tmp_path / "nat.guest").rmdir()
    (tmp_path / "nat.guest").write_bytes(image.pack())
    policy = load_policy(tmp_path / "p.toml")
    assert policy.tenants[1].image == tmp_path / "nat.guest"


def test_load_policy_unreadable_or_not_text(tmp_path):
    with pytest.raises(PolicyError, match=r"missing\.toml: cannot read policy"):
        load_policy(tmp_path / "missing.toml")
    (tmp_path / "bin.toml").write_bytes(b"# ok\n\xff\xfe")
    with pytest.raises(PolicyError, match=r"bin\.toml:2: policy is not UTF-8 text"):
        load_policy(tmp_path / "bin.toml")
