"""Fuzz the switch's policy parser: any text is a Policy or a PolicyError, never another exception.

A Policy that comes out must be usable: it describes itself, compiles into
a KeyClassifier, and that classifies frames. Inputs are the example
policies mutated byte by byte, documents assembled from the format's own
keys and values (to get past the TOML reader into the checks), and any text.
"""
import pytest
from fuzzing import corpus, edits_strategy, explore, mutate, run_target
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support import REPO

from clickpy.switch.keys import KeyClassifier
from clickpy.switch.policy import Policy, PolicyError, parse_policy

SEEDS = [p.read_bytes() for p in sorted((REPO / "configs" / "switch").glob("*.toml"))]
PIECES = [b"[[tenant]]\n", b"[switch]\n", b'match = ["', b'", "', b"vlan 7", b"mac 02:00:00:00:00:01",
          b"ip 10.0.0.0/8", b" proto udp", b" port 53", b"priority = 2\n", b'per = "flow"\n', b"[", b"]",
          b"{", b"}", b"=", b'"', b"'", b"\n", b"\\", b"\xff", b'default = "pass ', b"#", b"."]
FRAMES = [bytes.fromhex("020000000002 020000000001 0800 4500001c0001000040110000 0a000001 0a000002"
                        "1f4000350008 0000"),
          bytes.fromhex("020000000002 020000000001 8100 0007 0806") + bytes(28),
          bytes(60)]

# Documents of the right shape, so that many get past the TOML reader and
# the value checks into the overlap check and the classifier: half of them
# with good values only (the first of each list below is good, the rest mostly
# not), distinct names and priorities; the other half with anything.
GOOD_MATCHES = ["vlan 1", "vlan 2", "mac 02:00:00:00:00:01", "ip 10.0.0.0/8", "ip 10.1.0.0/16 proto tcp",
                "ip 192.168.0.0/16 port 53", "ip 0.0.0.0/0", "proto icmp", "port 80", "vlan 2 proto udp"]
BAD_MATCHES = ["vlan 4095", "ip 10.0.0.1/8", "port 0", "vlan"]
SWITCH_VALUES = {
    "idle_timeout": ['"500ms"', '"0s"', "30"], "max_guests": ["64", "0", "true"],
    "backlog": ["0", "-1"], "memory": ['"64M"', '"x"'],
    "restart_backoff": ['{ initial = "1s", max = "2s" }', '{ initial = "3s" }', '"1s"'],
    "default": ['"pass t0"', '"pass t9"', '"pass"'],
    "fast_cgroup_moves": ["true", "false", '"yes"', "1"],
}
TENANT_VALUES = {
    "per": ['"flow"', '"flows"'], "max_guests": ["1", "5"], "memory": ['"32M"', "0"],
    "parameters": ['{ X = "1" }', '{ X = 1 }', "[]"], "imgae": ['"x"'],
}


@st.composite
def documents(draw) -> str:
    clean = draw(st.booleans())

    def value(options):
        return options[0] if clean else draw(st.sampled_from(options))

    lines = ["[switch]"]
    for key in draw(st.sets(st.sampled_from(sorted(SWITCH_VALUES)))):
        lines.append(f"{key} = {value(SWITCH_VALUES[key])}")
    for i in range(draw(st.integers(0, 6))):
        matches = draw(st.lists(st.sampled_from(GOOD_MATCHES if clean else GOOD_MATCHES + BAD_MATCHES),
                                min_size=int(clean), max_size=3))
        lines += ["[[tenant]]", f'name = "t{i if clean else draw(st.integers(0, 3))}"', 'image = "x.guest"',
                  "match = [" + ", ".join(f'"{m}"' for m in matches) + "]",
                  f"priority = {i if clean else draw(st.integers(0, 2))}"]
        keys = sorted(k for k in TENANT_VALUES if not clean or k != "imgae")
        for key in draw(st.sets(st.sampled_from(keys), max_size=2)):
            lines.append(f"{key} = {value(TENANT_VALUES[key])}")
    return "\n".join(lines) + "\n"


def read_policy(data: bytes) -> None:
    try:
        policy = parse_policy(data.decode("utf-8", "replace"), "/fuzz/policy.toml")
    except PolicyError as e:
        assert str(e).startswith("/fuzz/policy.toml"), str(e)
        return
    assert isinstance(policy, Policy)
    text = policy.describe()
    assert all(f"tenant {t.name}:" in text for t in policy.tenants)
    keys = KeyClassifier(policy, seed=3)
    for frame in FRAMES:
        tenant, _ = keys.classify(frame)
        assert -3 <= tenant < len(policy.tenants)


FUZZ_SETTINGS = settings(deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.mark.parametrize("path", corpus("switch_policy"), ids=lambda p: p.name)
def test_corpus_switch_policy(path):
    run_target("switch_policy", read_policy, path.read_bytes(), ".toml", keep=False)


def test_mutated_policies():
    @FUZZ_SETTINGS
    @given(st.sampled_from(SEEDS), edits_strategy(8))
    def one(seed, edits):
        run_target("switch_policy", read_policy, mutate(seed, edits, PIECES), ".toml")

    explore(one)


def test_assembled_policies():
    @FUZZ_SETTINGS
    @given(documents())
    def one(text):
        run_target("switch_policy", read_policy, text.encode(), ".toml")

    explore(one)


def test_any_text():
    @FUZZ_SETTINGS
    @given(st.text(max_size=300))
    def one(text):
        run_target("switch_policy", read_policy, text.encode("utf-8", "surrogatepass"), ".toml")

    explore(one)
