"""take_state of the rate limiters: a reload's new RatedSplitter, RatedUnqueue,
RatedSource or Shaper carries on the old one's bucket (or place in its
second), so a reload grants no burst; tokens are carried as tokens, at most
the new capacity; a rollback restores them."""
import pytest

from clickpy.runtime.error_handler import ElementErrors

SPLIT = "Idle -> rs :: {} -> c :: Counter -> Discard; rs[1] -> d :: Counter -> Discard"


def splitter(sim, args, cls="RatedSplitter"):
    """A splitter idle until 1 s (its bucket untouched: full at the first packet)."""
    return sim(SPLIT.format(f"{cls}({args})")).run(1.0)


def offer(s, n, size=10):
    """Push n packets at once; returns how many passed."""
    before = int(s.read("c.count"))
    for _ in range(n):
        s.push("rs", b"x" * size)
    return int(s.read("c.count")) - before


@pytest.mark.parametrize("cls, size", [("RatedSplitter", 10), ("BandwidthRatedSplitter", 100)])
def test_splitter_carries_its_drained_bucket(sim, cls, size):
    rate = "RATE 10, BURST_SIZE 20" if cls == "RatedSplitter" else "RATE 1000Bps, BURST_BYTES 2000"
    old = splitter(sim, rate, cls)
    drained = offer(old, 30, size)
    assert drained > 0
    fresh = splitter(sim, rate, cls)
    new = splitter(sim, rate, cls)
    errh = ElementErrors()
    assert new["rs"].take_state(old["rs"], errh) == {"counts": 1}
    assert errh.items == []
    assert offer(fresh, 30, size) == drained         # without take_state: a full bucket, a burst
    assert offer(new, 30, size) == 0                 # with it: still drained
    new.run(0.5)                                     # half a second refills at the rate
    assert offer(new, 30, size) in (4, 5)            # (5 less Click's fixed-point rounding)


def test_splitter_rollback_restores_the_bucket(sim):
    old = splitter(sim, "RATE 10, BURST_SIZE 20")
    offer(old, 15)                                   # 5 tokens left
    new = splitter(sim, "RATE 10, BURST_SIZE 20")
    new["rs"].take_state(old["rs"], ElementErrors())
    assert old["rs"].take_state(new["rs"], ElementErrors()) == {"counts": 1}
    assert offer(old, 30) == 5


@pytest.mark.parametrize("new_args, passed", [
    ("RATE 100, BURST_SIZE 5", 5),       # a smaller bucket: the tokens that fit
    ("RATE 10, BURST_SIZE 40", 19),      # a larger one: the tokens old had, no more
])
def test_splitter_with_a_new_rate_gets_the_old_tokens_at_most_its_capacity(sim, new_args, passed):
    old = splitter(sim, "RATE 10, BURST_SIZE 20")
    offer(old, 1)                                    # 19 tokens left
    new = splitter(sim, new_args)
    new["rs"].take_state(old["rs"], ElementErrors())
    assert offer(new, 50) == passed


def test_rated_unqueue_carries_its_bucket_and_counts(sim):
    config = "Idle -> q :: Queue(1000) -> ru :: RatedUnqueue(RATE 10, BURST_SIZE 20) -> c :: Counter -> Discard"
    old = sim(config).run(1.0)
    for _ in range(40):
        old.push("q", b"x" * 10)
    old.run(0.0001)
    assert old.read("c.count") == "20"              # the first burst
    old_calls = old.read("ru.calls")
    new = sim(config).run(1.0001)
    assert new["ru"].take_state(old["ru"], ElementErrors()) == {"counts": 1}
    assert new.read("ru.calls").startswith(old_calls.split("\n")[0])
    for _ in range(40):
        new.push("q", b"x" * 10)
    new.run(0.5)
    # No second burst: half a second at 10 per second.
    assert new.read("c.count") in ("4", "5")
    assert old["ru"].take_state(new["ru"], ElementErrors()) == {"counts": 1}


def test_rated_source_carries_its_bucket_and_count(sim):
    old = sim("s :: RatedSource(RATE 10, LIMIT 8) -> c :: Counter -> Discard").run(0.5)
    made = int(old.read("s.count"))
    assert 0 < made < 8
    new = sim("s :: RatedSource(RATE 10, LIMIT 8, ACTIVE false) -> c :: Counter -> Discard").run(0.5)
    assert new["s"].take_state(old["s"], ElementErrors()) == {"counts": 1}
    assert new.read("s.count") == str(made)
    new.write("s.active", "true")
    new.run(5)
    # LIMIT counts the packets old made: only the rest come from new.
    assert new.read("c.count") == str(8 - made)


def test_shaper_keeps_its_place_in_the_second(sim):
    config = "Idle -> q :: Queue -> s :: Shaper(1) -> Idle"
    old = sim(config).run(1.0005)
    for _ in range(3):
        old.push("q", b"x")
    assert old["s"].pull_packet(0) is not None      # the second's one packet
    assert old["s"].pull_packet(0) is None
    fresh, new = sim(config).run(1.0005), sim(config).run(1.0005)
    assert new["s"].take_state(old["s"], ElementErrors()) == {"counts": 1}
    for s in (fresh, new):
        s.push("q", b"x")
    assert fresh["s"].pull_packet(0) is not None    # a fresh shaper would send at once
    assert new["s"].pull_packet(0) is None          # the carried one has used this second's
    new.run(1.0)
    assert new["s"].pull_packet(0) is not None


def test_rate_elements_take_nothing_from_the_bandwidth_kind(sim):
    s = sim("Idle -> a :: RatedSplitter(10) -> Discard; Idle -> b :: BandwidthRatedSplitter(10Bps) -> Discard;"
            "a[1] -> Discard; b[1] -> Discard")
    assert s["a"].take_state(s["b"], ElementErrors()) is None
