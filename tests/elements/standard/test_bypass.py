"""Bypass: a switchable detour, push and pull; and the Null elements."""
import pytest
from harness import run_router
from support import build_router, run_config

from clickpy.errors import ConfigError
from clickpy.runtime.handlers import HandlerError

PUSH = """InfiniteSource(\\<11>, LIMIT 4, STOP true)
-> Counter(COUNT_CALL 3 b.active true)
-> b :: Bypass
-> Print(A)
-> Discard;
b[1] -> Print(B) -> [1]b;"""

PULL = """InfiniteSource(\\<11>, LIMIT 4, STOP true)
-> PullNull
-> Counter(COUNT_CALL 3 b.active true)
-> b :: Bypass
-> Print(C)
-> Discard;
b[1] -> Print(D) -> [1]b;"""


def labels(stderr):
    return [line.split(":")[0] for line in stderr.splitlines() if "|" in line]


def test_push_bypass_takes_the_detour_when_active():
    # Click's Bypass-01: the third packet goes out of output 1 and back in input 1.
    r = run_config(PUSH, "--simtime")
    assert r.returncode == 0 and labels(r.stderr) == ["A", "A", "B", "A", "B", "A"]


def test_pull_bypass_pulls_through_the_detour_when_active():
    r = run_config(PULL, "--simtime")
    assert r.returncode == 0 and labels(r.stderr) == ["C", "C", "C", "D", "C"]


def test_bypass_with_one_output_and_one_input_is_a_null():
    r = run_router("HarnessFeed(01, 02) -> b :: Bypass(true) -> rec :: HarnessRecord(2)")
    assert [x.data for x in r.element("rec").log] == [b"\x01", b"\x02"]


@pytest.mark.parametrize("burst", [1, 32])
def test_bypass_batches_go_the_same_way(burst):
    r = run_router(f"HarnessFeed(01, 02, 03) -> q :: Queue -> Unqueue(BURST {burst}) -> b :: Bypass(true)"
                   " -> [0] rec :: HarnessRecord(3); b[1] -> [1] rec")
    assert [(x.port, x.data) for x in r.element("rec").log] == [(1, b"\x01"), (1, b"\x02"), (1, b"\x03")]


def test_bypass_active_handler():
    r = build_router("Idle -> b :: Bypass(INLINE true) -> Discard; b[1] -> [1] b")
    assert r.read("b.active") == "false"
    r.write("b.active", "true")
    assert r.read("b.active") == "true"
    with pytest.raises(HandlerError, match="syntax error"):
        r.write("b.active", "perhaps")
    with pytest.raises(ConfigError) as e:
        build_router("Idle -> Bypass(maybe) -> Discard")
    assert "ACTIVE: expected boolean" in str(e.value)


@pytest.mark.parametrize("element", ["Null", "PushNull"])
@pytest.mark.parametrize("burst", [1, 32])
def test_push_nulls_pass_packets_unchanged(element, burst):
    r = run_router(f"HarnessFeed(01/3, 0202/4) -> q :: Queue -> Unqueue(BURST {burst}) -> {element}"
                   " -> rec :: HarnessRecord(2)")
    assert [(x.data, x.paint) for x in r.element("rec").log] == [(b"\x01", 3), (b"\x02\x02", 4)]


@pytest.mark.parametrize("element", ["Null", "PullNull"])
@pytest.mark.parametrize("burst", [1, 32])
def test_pull_nulls_pass_packets_unchanged(element, burst):
    r = run_router(f"HarnessFeed(01/3, 0202/4) -> q :: Queue -> {element} -> Unqueue(BURST {burst})"
                   " -> rec :: HarnessRecord(2)")
    assert [(x.data, x.paint) for x in r.element("rec").log] == [(b"\x01", 3), (b"\x02\x02", 4)]


def test_push_null_and_pull_null_force_their_context():
    with pytest.raises(ConfigError):
        build_router("q :: Queue -> PushNull -> Discard; Idle -> q")
    with pytest.raises(ConfigError):
        build_router("Idle -> PullNull -> Queue -> Discard")
    build_router("Idle -> PullNull -> Discard")
