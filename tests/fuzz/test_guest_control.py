"""Fuzz the guest control channel and the guest's answers to requests.

- guest_channel: any bytes on a channel are messages (maps) or a ChannelError, never another exception;
- guest_request: any msgpack map sent to a guest's agent gets a reply map, never an exception,
  and the guest's router forwards on afterwards.
"""
import msgpack
import pytest
from fuzzing import corpus, edits_strategy, explore, mutate, run_target
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clickpy import pipeline
from clickpy.guest.agent import Agent
from clickpy.guest.channel import Channel, ChannelError
from clickpy.runtime.router import Router

SEEDS = [msgpack.packb(m) for m in (
    {"op": "stats", "seq": 1},
    {"op": "read", "handler": "c.count", "seq": 2},
    {"op": "write", "handler": "c.reset", "value": "", "seq": 3},
    {"op": "reload", "plan": b"\x93\x02\x90\x90", "seq": 4},
    {"op": "start", "plan": b"", "ports": ["a"], "nfds": 1},
)]
PIECES = [b"\x00", b"\xff", b"\xc1", b"\x80", b"\x81", b"\x91", b"\xa2op", b"\xa4read", b"\xdf\xff\xff\xff\xff",
          b"\xc6\x7f\xff\xff\xff", b"\xa5nfds\x10"]


def read_channel(data: bytes) -> None:
    a, b = Channel.pair()
    chan = Channel(b)
    try:
        a.sock.send(data)
        a.close()
        for _ in range(len(data) + 2):
            try:
                for m in chan.receive():
                    assert isinstance(m, dict)
            except ChannelError:
                return
        raise AssertionError("a closed channel was never reported")
    finally:
        chan.close()


@pytest.mark.parametrize("path", corpus("guest_channel"), ids=lambda p: p.name)
def test_corpus_guest_channel(path):
    run_target("guest_channel", read_channel, path.read_bytes(), ".bin", keep=False)


def test_mutated_channel_bytes():
    @settings(deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
    @given(st.lists(st.sampled_from(SEEDS), min_size=1, max_size=3), edits_strategy(6))
    def one(seeds, edits):
        run_target("guest_channel", read_channel, mutate(b"".join(seeds), edits, PIECES), ".bin")

    explore(one)


_ROUTER = None


def _agent() -> Agent:
    global _ROUTER
    if _ROUTER is None:
        text = "InfiniteSource(LIMIT 0) -> c :: Counter -> q :: Queue(10) -> Discard;"
        _ROUTER = Router.from_plan(pipeline.plan(pipeline.Source(text, "fuzz.click")))
    return Agent(None, _ROUTER, exports=["c.count", "c.reset", "q.capacity"])


def answer(data: bytes) -> None:
    try:
        m = msgpack.unpackb(data, raw=False, strict_map_key=True)
    except (ValueError, msgpack.UnpackException):
        return
    if not isinstance(m, dict):
        return
    reply = _agent().answer(m)
    assert isinstance(reply, dict) and isinstance(reply.get("op"), str)
    msgpack.packb(reply)             # the reply can be sent
    assert _ROUTER.read("c.count") is not None


@pytest.mark.parametrize("path", corpus("guest_request"), ids=lambda p: p.name)
def test_corpus_guest_request(path):
    run_target("guest_request", answer, path.read_bytes(), ".msgpack", keep=False)


def test_mutated_requests_get_answers():
    @settings(deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
    @given(st.sampled_from(SEEDS[:4]), edits_strategy(4))
    def one(seed, edits):
        run_target("guest_request", answer, mutate(seed, edits, PIECES), ".msgpack")

    explore(one)


def test_generated_requests_get_answers():
    scalars = (st.none() | st.booleans() | st.integers(-2**63, 2**64 - 1)     # what msgpack can carry
               | st.text(max_size=20) | st.binary(max_size=20))
    values = st.recursive(scalars,
                          lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner,
                                                                                       max_size=3), max_leaves=6)

    @settings(deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
    @given(st.sampled_from(["stats", "read", "write", "reload", "stop", "start", "x"]),
           st.dictionaries(st.sampled_from(["handler", "value", "plan", "seq", "ports"]), values, max_size=4))
    def one(op, fields):
        run_target("guest_request", answer, msgpack.packb({"op": op, **fields}), ".msgpack")

    explore(one)
