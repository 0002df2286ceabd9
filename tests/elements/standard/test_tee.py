"""Tee, PullTee and Hub: copies of packets on several outputs."""
import pytest
from harness import run_router
from support import build_router, run_config

from clickpy.errors import ConfigError

PACKETS = "HarnessFeed(01, 0202, 030303) -> q :: Queue -> Unqueue(BURST {burst})"


@pytest.mark.parametrize("burst", [1, 32])
def test_tee_sends_every_packet_to_every_output_in_packet_order(burst):
    r = run_router(PACKETS.format(burst=burst) + " -> t :: Tee; t[0] -> [0] rec :: HarnessRecord(9);"
                   " t[1] -> [1] rec; t[2] -> [2] rec")
    # One packet reaches every output before the next packet reaches any.
    assert [(x.port, x.data) for x in r.element("rec").log] == [
        (0, b"\x01"), (1, b"\x01"), (2, b"\x01"),
        (0, b"\x02\x02"), (1, b"\x02\x02"), (2, b"\x02\x02"),
        (0, b"\x03\x03\x03"), (1, b"\x03\x03\x03"), (2, b"\x03\x03\x03"),
    ]


def test_tee_clones_share_the_buffer_until_written():
    # The copies are clones: writing one (Paint writes only the annotation,
    # Unstrip after Strip reads back the shared bytes) leaves the other intact.
    r = run_config("InfiniteSource(DATA \\<0102030405>, LIMIT 1, STOP true) -> t :: Tee;"
                   "t[0] -> Strip(2) -> Unstrip(2) -> Print(a) -> Discard;"
                   "t[1] -> Paint(7) -> Print(b) -> Discard")
    assert r.returncode == 0
    assert [l for l in r.stderr.splitlines() if l[:2] in ("a:", "b:")] == [
        "a:    5 | 01020304 05", "b:    5 | 01020304 05"]


def test_tee_n_must_match_the_outputs():
    with pytest.raises(ConfigError) as e:
        build_router("Idle -> t :: Tee(3); t[0] -> Discard; t[1] -> Discard")
    assert "2 outputs implies 2 arms" in str(e.value)
    build_router("Idle -> t :: Tee(2); t[0] -> Discard; t[1] -> Discard")


def test_tee_bad_n_is_a_configure_error():
    with pytest.raises(ConfigError) as e:
        build_router("Idle -> t :: Tee(x) -> Discard")
    assert "While configuring 't :: Tee'" in str(e.value) and "N:" in str(e.value)


def test_pull_tee_returns_the_packet_and_pushes_clones():
    r = run_router("HarnessFeed(aa, bb) -> q :: Queue -> t :: PullTee -> Unqueue -> [0] rec :: HarnessRecord(6);"
                   " t[1] -> [1] rec; t[2] -> [2] rec")
    assert [(x.port, x.data) for x in r.element("rec").log] == [
        (1, b"\xaa"), (2, b"\xaa"), (0, b"\xaa"), (1, b"\xbb"), (2, b"\xbb"), (0, b"\xbb")]


def test_pull_tee_batch_pull_gives_the_same_order():
    r = run_router("HarnessFeed(aa, bb) -> q :: Queue -> t :: PullTee -> Unqueue(BURST 32) -> [0] rec :: HarnessRecord(4);"
                   " t[1] -> [1] rec")
    # as one packet at a time: each packet right after its copy
    assert [(x.port, x.data) for x in r.element("rec").log] == [
        (1, b"\xaa"), (0, b"\xaa"), (1, b"\xbb"), (0, b"\xbb")]


@pytest.mark.parametrize("burst", [1, 32])
def test_hub_sends_to_every_other_port(burst):
    r = run_router(f"a :: HarnessFeed(01, 02) -> qa :: Queue -> Unqueue(BURST {burst}) -> [0] h :: Hub;"
                   f" b :: HarnessFeed(0b) -> qb :: Queue -> Unqueue(BURST {burst}) -> [1] h;"
                   " Idle -> [2] h;"
                   " h[0] -> [0] rec :: HarnessRecord(6); h[1] -> [1] rec; h[2] -> [2] rec")
    got = sorted((x.port, x.data) for x in r.element("rec").log)
    assert got == sorted([(1, b"\x01"), (2, b"\x01"), (1, b"\x02"), (2, b"\x02"), (0, b"\x0b"), (2, b"\x0b")])


def test_hub_with_one_port_drops():
    # One port: no other port to send to, so nothing leaves the Hub.
    r = run_router("HarnessFeed(01, 02, 03) -> c :: Counter -> h :: Hub -> rec :: HarnessRecord")
    assert r.read("c.count") == "3"
    assert r.element("rec").log == []
