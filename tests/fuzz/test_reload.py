"""Fuzz hot reload: any new configuration text is swapped in whole or refused with nothing changed.

A router runs one of a few seed configurations (queues holding packets,
filters, counters, a driver script) for a few milliseconds of real time
(in simulated time a puller polling an empty rate-limited source would hold
the clock still: not a reload's fault); each input is a
mutation of another seed, handed to ``Router.reload``. It must return a
report or raise ConfigError with located errors; when refused, the router
has the same elements and still forwards; either way it runs on without an
exception, and once cleaned up it leaves no packet behind.
"""
import gc
import re

import pytest
from fuzzing import corpus, edits_strategy, explore, mutate, run_target
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support import run_for

from clickpy import pipeline
from clickpy.errors import ConfigError
from clickpy.runtime.packet import live_packets
from clickpy.runtime.router import Router

SEEDS = [
    b"src :: RatedSource(RATE 1000, LIMIT -1) -> c :: Counter -> q :: Queue(50) -> u :: Unqueue"
    b" -> f :: IPFilter(allow all) -> out :: Counter -> Discard;",
    b"src :: RatedSource(RATE 1000, LIMIT -1) -> c :: Counter -> q :: FrontDropQueue(20) -> u :: RatedUnqueue(500)"
    b" -> MarkIPHeader(14) -> f :: IPFilter(allow udp, deny all) -> out :: Counter -> Discard;",
    b"src :: RatedSource(RATE 1000, LIMIT -1) -> t :: Tee(2) -> q :: Queue(10) -> Unqueue -> Discard;"
    b" t[1] -> k :: Classifier(12/0800, -) -> Discard; k[1] -> Counter -> Discard;",
    b"src :: RatedSource(RATE 1000, LIMIT -1) -> c :: Counter -> q :: Queue(100) -> Idle;"
    b" DriverManager(wait 100s, stop)",
]
PIECES = [t.encode() for t in [
    "Queue", "Queue(5)", "SimpleQueue", "Counter", "Discard", "Idle", "Unqueue", "Tee", "Paint(2)", "Null",
    "RatedUnqueue(10)", "IPFilter(deny all)", "Classifier(-)", "DriverManager(stop)", "Script(wait 1s, stop)",
    "->", "::", ";", "[1]", "(", ")", ",", "q", "c", "f", "src", "x", "0", "-1", "99999999999",
]]
_LANDMARK = re.compile(r"^.+:\d+(:\d+)?: |^[^:\n]*While ")


def reload_check(data: bytes) -> None:
    base, _, new = data.partition(b"\0")
    before = live_packets()
    r = Router.from_plan(pipeline.plan(pipeline.Source(base.decode("latin-1"), "base.click")))
    try:
        _reload_and_run(r, new)
    finally:
        r.cleanup()
    del r
    gc.collect()
    assert live_packets() <= before, "a reload leaked packets"


def _reload_and_run(r, new: bytes) -> None:
    run_for(r, 0.005)
    elements = list(r.elements)
    try:
        report = r.reload(new.decode("latin-1"))
    except ConfigError as e:
        for d in e.diagnostics.errors:
            assert _LANDMARK.match(str(d)), f"error without a place: {d}"
        assert r.elements == elements, "a refused reload changed the graph"
    else:
        assert report.pause_us >= 0 and report.lost >= 0
    run_for(r, 0.005)


@pytest.mark.parametrize("path", corpus("reload"), ids=lambda p: p.name)
def test_corpus_reload(path):
    run_target("reload", reload_check, path.read_bytes(), ".txt", keep=False)


FUZZ_SETTINGS = settings(deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow],
                         max_examples=60)


def test_mutated_configurations_reload_whole_or_not_at_all():
    @FUZZ_SETTINGS
    @given(st.sampled_from(SEEDS), st.sampled_from(SEEDS), edits_strategy(6))
    def one(base, seed, edits):
        run_target("reload", reload_check, base + b"\0" + mutate(seed, edits, PIECES), ".txt")

    explore(one)
